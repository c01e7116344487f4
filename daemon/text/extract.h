// Visible text of a page, with its block structure: HTML through a streaming
// extractor that follows the HTML5 parsing rules where they matter for text
// (gumbo, an HTML5-conformant parser that never fails, is the reference and
// takes the pages the streaming pass does not model), plain text split into
// lines.
// The blocks feed sentence segmentation, repeat detection, boilerplate
// learning and the diffs; the canonical text is the non-chrome blocks.
//
//   ExtractedText t = ExtractHtml("<title>T</title><nav>Home</nav><p>Hello&nbsp;world</p>");
//   // t.title == "T"; t.blocks == {{"Home", chrome}, {"Hello\u00A0world"}}
//
// Thread-safety: pure functions (per-thread scratch buffers; gumbo keeps no
// global state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dedupd::text {

// One visible block (paragraph / line): valid UTF-8, trimmed, inner spacing
// kept as in the source (for display and diffs; HTML collapses runs of ASCII
// whitespace outside <pre> as a browser does). chrome = inside <nav>,
// <header>, <footer>, <aside> (page chrome: shown, not fingerprinted, not part
// of the canonical text).
struct Block {
  std::string text;
  bool chrome = false;
  friend bool operator==(const Block&, const Block&) = default;
};

struct ExtractedText {
  std::vector<Block> blocks;
  std::string title;  // from <title> (HTML), whitespace collapsed; else empty
};

enum class BodyKind { kPlain, kHtml };

// content_type may carry parameters ("text/html; charset=utf-8"). text/html and
// application/xhtml+xml are HTML, text/plain is plain; anything else, or an
// empty type, is sniffed: markup such as <!doctype html>, <html>, <head>,
// <body>, <p>, <div>, <br>, <table>, <title> or <!-- at the start (after
// whitespace and a BOM, as in the WHATWG MIME sniffing rules), or <html /
// <!doctype html / <body within the first 1 KiB, means HTML.
BodyKind SniffBodyKind(std::string_view content_type, std::string_view body);

// Drops <head> (except title), script, style, noscript, template, iframe,
// svg, title elsewhere and comments; decodes entities; block elements (p,
// div, li, h1-h6, br, tr, section, article, blockquote, pre lines, ...) end a
// block; inline elements join; table cells in one row are separated by a
// space. Never fails: malformed markup and invalid UTF-8 are tolerated, and
// nesting deeper than kMaxHtmlDepth is flattened before parsing (see
// docs/text.md) so that deep or hostile pages cost linear time.
ExtractedText ExtractHtml(std::string_view html);
// The same into *out, reusing its blocks' buffers: in steady state (pages no
// bigger than earlier ones) it allocates nothing.
void ExtractHtml(std::string_view html, ExtractedText* out);

// Element nesting beyond this depth is flattened (Blink caps its DOM at 512).
inline constexpr size_t kMaxHtmlDepth = 512;
// Unclosed formatting elements (<b>, <font>, ...) beyond this many are dropped:
// HTML5 re-opens every one of them in each new paragraph.
inline constexpr size_t kMaxOpenFormatting = 16;

// One block per non-blank line (CRLF, CR, LF, U+2028, U+2029, NEL), trimmed of
// whitespace and zero-width characters; invalid UTF-8 is repaired.
ExtractedText SplitPlainText(std::string_view text);
// The same into *out, reusing its blocks' buffers (and, for a page with more
// lines than *out holds, buffers a shorter page left behind on this thread):
// in steady state it allocates nothing for valid UTF-8.
void SplitPlainText(std::string_view text, ExtractedText* out);

// The same lines as views, into *lines (replaced): into `text`, or into
// *repaired, which holds `text` with its invalid UTF-8 repaired when it has
// any. No line is copied: the views live as long as `text` (or *repaired).
void SplitPlainTextLines(std::string_view text, std::vector<std::string_view>* lines,
                         std::string* repaired);

// Joins the non-chrome blocks' text with '\n': the canonical text whose
// ContentKey() is the exact-content key.
std::string JoinContent(const ExtractedText& text);

}  // namespace dedupd::text
