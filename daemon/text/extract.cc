// HTML -> blocks through gumbo; plain text -> lines. See docs/text.md
// ("Extraction") for the choices.
#include "text/extract.h"

#include <emmintrin.h>
#include <gumbo.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "text/internal/html_actions.h"
#include "text/internal/html_stream.h"
#include "text/internal/utf8.h"
#include "text/normalize.h"

namespace dedupd::text {
namespace {

using internal::Action;
using internal::kActions;

char AsciiLower(char c) {
  return static_cast<unsigned>(c - 'A') < 26u ? static_cast<char>(c + 32) : c;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (AsciiLower(s[i]) != prefix[i]) return false;
  }
  return true;
}

size_t FindIgnoreCase(std::string_view s, std::string_view needle, size_t from = 0) {
  if (needle.empty() || s.size() < needle.size()) return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= s.size(); ++i) {
    const void* hit = std::memchr(s.data() + i, '<', s.size() - i);
    if (hit == nullptr) return std::string_view::npos;
    i = static_cast<size_t>(static_cast<const char*>(hit) - s.data());
    if (i + needle.size() > s.size()) return std::string_view::npos;
    if (StartsWithIgnoreCase(s.substr(i), needle)) return i;
  }
  return std::string_view::npos;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// ---------------------------------------------------------------------------
// Nesting limiter. Gumbo (like the HTML5 algorithm) walks the stack of open
// elements for every start tag, so N nested elements cost O(N^2), and it frees
// the tree recursively. A cheap tokenizer pass estimates the nesting depth
// from above and, only when a page goes past kMaxHtmlDepth, rewrites it:
// start/end tags beyond the limit are removed (block-level ones become <br>,
// which keeps the block boundary). Unclosed formatting elements are capped the
// same way, because HTML5 re-creates each of them in every new paragraph.
// The estimate must never be lower than gumbo's real depth: where the two
// disagree, this pass assumes more nesting, not less.

enum class TagClass : uint8_t {
  kCounted,     // may nest: div, span, table, ul, custom elements, ...
  kFormatting,  // counted, and re-opened by HTML5 until closed
  kForeign,     // svg, math: counted; inside them nothing is raw text
  kVoid,        // never has content
  kSelfLimit,   // closed implicitly by a sibling: p, li, dd, td, a, h1...
  kRawText,     // content is text up to the matching end tag (in HTML content)
  kPlainText,   // <plaintext>: the rest of the document is text
};

struct TagInfo {
  std::string_view name;
  TagClass cls;
  bool block;  // a dropped tag becomes <br> to keep the block boundary
};

constexpr TagInfo kTagInfo[] = {
    {"a", TagClass::kSelfLimit, false},
    {"address", TagClass::kCounted, true},
    {"area", TagClass::kVoid, false},
    {"article", TagClass::kCounted, true},
    {"aside", TagClass::kCounted, true},
    {"b", TagClass::kFormatting, false},
    {"base", TagClass::kVoid, false},
    {"basefont", TagClass::kVoid, false},
    {"bgsound", TagClass::kVoid, false},
    {"big", TagClass::kFormatting, false},
    {"blockquote", TagClass::kCounted, true},
    {"body", TagClass::kSelfLimit, true},
    {"br", TagClass::kVoid, false},
    {"caption", TagClass::kSelfLimit, true},
    {"center", TagClass::kCounted, true},
    {"code", TagClass::kFormatting, false},
    {"col", TagClass::kVoid, false},
    {"colgroup", TagClass::kSelfLimit, false},
    {"dd", TagClass::kSelfLimit, true},
    {"details", TagClass::kCounted, true},
    {"dir", TagClass::kCounted, true},
    {"div", TagClass::kCounted, true},
    {"dl", TagClass::kCounted, true},
    {"dt", TagClass::kSelfLimit, true},
    {"em", TagClass::kFormatting, false},
    {"embed", TagClass::kVoid, false},
    {"fieldset", TagClass::kCounted, true},
    {"figcaption", TagClass::kCounted, true},
    {"figure", TagClass::kCounted, true},
    {"font", TagClass::kFormatting, false},
    {"footer", TagClass::kCounted, true},
    {"form", TagClass::kCounted, true},
    {"frame", TagClass::kVoid, false},
    {"h1", TagClass::kSelfLimit, true},
    {"h2", TagClass::kSelfLimit, true},
    {"h3", TagClass::kSelfLimit, true},
    {"h4", TagClass::kSelfLimit, true},
    {"h5", TagClass::kSelfLimit, true},
    {"h6", TagClass::kSelfLimit, true},
    {"head", TagClass::kSelfLimit, false},
    {"header", TagClass::kCounted, true},
    {"hgroup", TagClass::kCounted, true},
    {"hr", TagClass::kVoid, false},
    {"html", TagClass::kSelfLimit, false},
    {"i", TagClass::kFormatting, false},
    {"iframe", TagClass::kRawText, false},
    {"image", TagClass::kVoid, false},
    {"img", TagClass::kVoid, false},
    {"input", TagClass::kVoid, false},
    {"isindex", TagClass::kVoid, false},
    {"keygen", TagClass::kVoid, false},
    {"li", TagClass::kSelfLimit, true},
    {"link", TagClass::kVoid, false},
    {"listing", TagClass::kCounted, true},
    {"main", TagClass::kCounted, true},
    {"math", TagClass::kForeign, false},
    {"menu", TagClass::kCounted, true},
    {"meta", TagClass::kVoid, false},
    {"nav", TagClass::kCounted, true},
    {"nobr", TagClass::kSelfLimit, false},
    {"noembed", TagClass::kRawText, false},
    {"noframes", TagClass::kRawText, false},
    {"ol", TagClass::kCounted, true},
    {"option", TagClass::kSelfLimit, true},
    {"p", TagClass::kSelfLimit, true},
    {"param", TagClass::kVoid, false},
    {"plaintext", TagClass::kPlainText, true},
    {"pre", TagClass::kCounted, true},
    {"s", TagClass::kFormatting, false},
    {"script", TagClass::kRawText, false},
    {"section", TagClass::kCounted, true},
    {"small", TagClass::kFormatting, false},
    {"source", TagClass::kVoid, false},
    {"strike", TagClass::kFormatting, false},
    {"strong", TagClass::kFormatting, false},
    {"style", TagClass::kRawText, false},
    {"summary", TagClass::kCounted, true},
    {"svg", TagClass::kForeign, false},
    {"table", TagClass::kCounted, true},
    {"tbody", TagClass::kSelfLimit, false},
    {"td", TagClass::kSelfLimit, true},
    {"textarea", TagClass::kRawText, true},
    {"tfoot", TagClass::kSelfLimit, false},
    {"th", TagClass::kSelfLimit, true},
    {"thead", TagClass::kSelfLimit, false},
    {"title", TagClass::kRawText, false},
    {"tr", TagClass::kSelfLimit, true},
    {"track", TagClass::kVoid, false},
    {"tt", TagClass::kFormatting, false},
    {"u", TagClass::kFormatting, false},
    {"ul", TagClass::kCounted, true},
    {"wbr", TagClass::kVoid, false},
    {"xmp", TagClass::kRawText, true},
};

static_assert(std::is_sorted(std::begin(kTagInfo), std::end(kTagInfo),
                             [](const TagInfo& a, const TagInfo& b) { return a.name < b.name; }),
              "kTagInfo must be sorted by name for LookupTag");

TagInfo LookupTag(std::string_view lower_name) {
  const auto* it =
      std::lower_bound(std::begin(kTagInfo), std::end(kTagInfo), lower_name,
                       [](const TagInfo& t, std::string_view n) { return t.name < n; });
  if (it != std::end(kTagInfo) && it->name == lower_name) return *it;
  return {lower_name, TagClass::kCounted, false};
}

// Position just after the '>' that ends the tag whose name ends at i, or npos
// when the document ends inside the tag. Quotes matter only after '=', as in
// the HTML tokenizer.
size_t FindTagEnd(std::string_view html, size_t i) {
  const size_t n = html.size();
  while (i < n) {
    const char c = html[i];
    if (c == '>') return i + 1;
    if (c == '=') {
      ++i;
      while (i < n && IsAsciiSpace(html[i])) ++i;
      if (i < n && (html[i] == '"' || html[i] == '\'')) {
        const size_t close = html.find(html[i], i + 1);
        if (close == std::string_view::npos) return std::string_view::npos;
        i = close + 1;
      }
      continue;
    }
    ++i;
  }
  return std::string_view::npos;
}

// The pre-pass before gumbo, a tokenizer's view of the document (tags,
// comments, raw text skipped) that rewrites it only where gumbo would go
// wrong:
//  * start tags past kMaxHtmlDepth open elements or kMaxOpenFormatting open
//    formatting elements of one name are dropped (with their end tags), so
//    that hostile nesting cannot make the tree walk or gumbo's adoption
//    agency quadratic;
//  * a <!DOCTYPE ...> that is not the document's first markup is dropped.
//    HTML ignores such a doctype in every insertion mode, but gumbo 0.10.1
//    forgets to free the ignored token in the "in head noscript" mode
//    ("<noscript><!DOCTYPE html>" leaks its name and identifiers), which a
//    long-running daemon cannot afford on hostile pages. Dropping it changes
//    nothing gumbo builds.
class NestingLimiter {
 public:
  explicit NestingLimiter(std::string_view html) : html_(html) {}

  // Returns true when the document had to be rewritten; Take() then returns it.
  bool Run() {
    const size_t n = html_.size();
    size_t i = 0;
    bool doctype_allowed = true;  // only comments and whitespace so far
    while (i < n) {
      const void* hit = std::memchr(html_.data() + i, '<', n - i);
      if (hit == nullptr) break;
      const size_t lt = static_cast<size_t>(static_cast<const char*>(hit) - html_.data());
      if (doctype_allowed && !IsBlank(html_.substr(i, lt - i))) doctype_allowed = false;
      i = lt + 1;
      if (i >= n) break;
      const char c = html_[i];
      if (c == '!') {
        i = SkipMarkupDeclaration(lt);
        if (StartsWithIgnoreCase(html_.substr(lt), "<!doctype")) {
          if (!doctype_allowed) Replace(lt, i, false);
          doctype_allowed = false;
        }
        continue;
      }
      if (c == '?') {  // a bogus comment
        i = SkipToGt(i);
        continue;
      }
      const bool end_tag = c == '/';
      const size_t name_begin = lt + 1 + (end_tag ? 1 : 0);
      if (name_begin >= n || !IsAsciiAlpha(html_[name_begin])) {
        if (end_tag) {
          i = SkipToGt(i);  // "</ x>" is a bogus comment
        } else {
          doctype_allowed = false;  // "<" is text
        }
        continue;
      }
      doctype_allowed = false;
      size_t name_end = name_begin;
      while (name_end < n && !IsAsciiSpace(html_[name_end]) && html_[name_end] != '/' &&
             html_[name_end] != '>') {
        ++name_end;
      }
      const size_t tag_end = FindTagEnd(html_, name_end);
      if (tag_end == std::string_view::npos) break;  // EOF in a tag: gumbo drops it
      std::string lower(html_.substr(name_begin, std::min<size_t>(name_end - name_begin, 32)));
      for (char& ch : lower) ch = AsciiLower(ch);
      const TagInfo info = LookupTag(lower);
      i = tag_end;
      if (end_tag) {
        OnEndTag(info, lt, tag_end);
      } else if (!OnStartTag(info, lt, tag_end, &i)) {
        break;
      }
    }
    if (!changed_) return false;
    out_.append(html_.substr(copied_));
    return true;
  }

  std::string Take() { return std::move(out_); }

 private:
  struct Open {
    std::string name;
    TagClass cls;
  };

  static bool IsAsciiAlpha(char c) { return static_cast<unsigned>((c | 0x20) - 'a') < 26u; }

  // Only the characters the initial insertion mode skips (and a BOM).
  static bool IsBlank(std::string_view s) {
    if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
    for (const char c : s) {
      if (!IsAsciiSpace(c)) return false;
    }
    return true;
  }

  size_t SkipToGt(size_t i) const {
    const size_t gt = html_.find('>', i);
    return gt == std::string_view::npos ? html_.size() : gt + 1;
  }

  // Comments end at the first "-->" or "--!>" ("<!-->" and "<!--->" are
  // complete); <!DOCTYPE ...> and bogus comments at the first '>'.
  size_t SkipMarkupDeclaration(size_t lt) const {
    if (html_.compare(lt, 4, "<!--") != 0) return SkipToGt(lt + 2);
    const size_t body = lt + 4;
    if (html_.compare(body, 1, ">") == 0) return body + 1;
    if (html_.compare(body, 2, "->") == 0) return body + 2;
    return internal::CommentEndAfter(html_, body);
  }

  void Replace(size_t begin, size_t end, bool block) {
    if (!changed_) {
      changed_ = true;
      out_.reserve(html_.size());
    }
    out_.append(html_.substr(copied_, begin - copied_));
    if (block) out_.append("<br>");
    copied_ = end;
  }

  // Returns false when the rest of the document is text (<plaintext>).
  bool OnStartTag(const TagInfo& info, size_t lt, size_t tag_end, size_t* next) {
    switch (info.cls) {
      case TagClass::kVoid:
      case TagClass::kSelfLimit: return true;
      case TagClass::kPlainText:
        if (foreign_ == 0) return false;
        break;
      case TagClass::kRawText:
        if (foreign_ == 0) {
          *next = FindRawTextEnd(info.name, tag_end);
          return true;
        }
        break;
      case TagClass::kFormatting:
        if (formatting_[std::string(info.name)] >= kMaxOpenFormatting) {
          ++dropped_[std::string(info.name)];
          Replace(lt, tag_end, false);
          return true;
        }
        ++formatting_[std::string(info.name)];
        break;
      case TagClass::kCounted:
      case TagClass::kForeign: break;
    }
    if (stack_.size() >= kMaxHtmlDepth) {
      ++dropped_[std::string(info.name)];
      if (info.cls == TagClass::kFormatting) --formatting_[std::string(info.name)];
      Replace(lt, tag_end, info.block);
      return true;
    }
    stack_.push_back({std::string(info.name), info.cls});
    if (info.cls == TagClass::kForeign) ++foreign_;
    return true;
  }

  void OnEndTag(const TagInfo& info, size_t lt, size_t tag_end) {
    const std::string name(info.name);
    if (auto it = dropped_.find(name); it != dropped_.end() && it->second > 0) {
      --it->second;
      Replace(lt, tag_end, info.block);
      return;
    }
    if (info.cls == TagClass::kFormatting) {
      auto f = formatting_.find(name);
      if (f != formatting_.end() && f->second > 0) --f->second;
    }
    for (size_t k = stack_.size(); k > 0; --k) {
      if (stack_[k - 1].name == name) {
        while (stack_.size() >= k) {
          if (stack_.back().cls == TagClass::kForeign) --foreign_;
          stack_.pop_back();
        }
        return;
      }
    }
  }

  // Raw text ends at "</name" followed by whitespace, '/' or '>'.
  size_t FindRawTextEnd(std::string_view name, size_t from) const {
    std::string needle = "</";
    needle.append(name);
    size_t at = from;
    for (;;) {
      at = FindIgnoreCase(html_, needle, at);
      if (at == std::string_view::npos) return html_.size();
      const size_t after = at + needle.size();
      if (after >= html_.size() || IsAsciiSpace(html_[after]) || html_[after] == '/' ||
          html_[after] == '>') {
        return at;
      }
      at = after;
    }
  }

  std::string_view html_;
  std::vector<Open> stack_;
  std::map<std::string, size_t> formatting_;  // open formatting elements by name
  std::map<std::string, size_t> dropped_;     // dropped start tags still open, by name
  size_t foreign_ = 0;
  bool changed_ = false;
  size_t copied_ = 0;
  std::string out_;
};

// ---------------------------------------------------------------------------
// Tree walk.

Action ActionOf(const GumboElement& e) {
  if (e.tag == GUMBO_TAG_SVG) return Action::kDrop;
  // Only HTML elements have meaning here; an element in SVG or MathML named
  // "title" or "p" is not an HTML title or paragraph (svg is dropped anyway).
  if (e.tag_namespace != GUMBO_NAMESPACE_HTML) return Action::kInline;
  return kActions[static_cast<size_t>(e.tag)];
}

class BlockBuilder {
 public:
  explicit BlockBuilder(std::vector<Block>* blocks) : blocks_(blocks) {}

  void AppendText(std::string_view text, bool chrome, bool pre) {
    if (pre) {
      AppendPre(text, chrome);
      return;
    }
    for (const char c : text) {
      if (IsAsciiSpace(c)) {
        pending_space_ = true;
        continue;
      }
      if (pending_space_) {
        if (!current_.empty()) current_.push_back(' ');
        pending_space_ = false;
      }
      current_.push_back(c);
    }
    chrome_ = chrome;
  }

  void EndBlock() {
    pending_space_ = false;
    if (current_.empty()) return;
    const std::string_view trimmed = internal::TrimBlockText(current_);
    if (!trimmed.empty()) {
      Block b;
      b.text = IsValidUtf8(trimmed) ? std::string(trimmed) : RepairUtf8(trimmed);
      b.chrome = chrome_;
      blocks_->push_back(std::move(b));
    }
    current_.clear();
  }

 private:
  void AppendPre(std::string_view text, bool chrome) {
    if (pending_space_ && !current_.empty()) current_.push_back(' ');
    pending_space_ = false;
    chrome_ = chrome;
    size_t begin = 0;
    while (begin <= text.size()) {
      const size_t nl = text.find('\n', begin);
      const size_t end = nl == std::string_view::npos ? text.size() : nl;
      current_.append(text.substr(begin, end - begin));
      if (nl == std::string_view::npos) break;
      EndBlock();
      chrome_ = chrome;
      begin = nl + 1;
    }
  }

  std::vector<Block>* blocks_;
  std::string current_;
  bool pending_space_ = false;
  bool chrome_ = false;
};

std::string CollapsedText(const GumboNode* element) {
  std::string raw;
  const GumboVector& children = element->v.element.children;
  for (unsigned i = 0; i < children.length; ++i) {
    const auto* child = static_cast<const GumboNode*>(children.data[i]);
    if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_WHITESPACE ||
        child->type == GUMBO_NODE_CDATA) {
      raw.append(child->v.text.text);
    }
  }
  // Any Unicode whitespace run -> one space.
  std::string out;
  out.reserve(raw.size());
  internal::CollapseWhiteSpace(raw, &out);
  const std::string_view t = internal::TrimBlockText(out);
  return IsValidUtf8(t) ? std::string(t) : RepairUtf8(t);
}

const GumboNode* FindHeadTitle(const GumboNode* document) {
  const GumboVector& top = document->v.document.children;
  for (unsigned i = 0; i < top.length; ++i) {
    const auto* html = static_cast<const GumboNode*>(top.data[i]);
    if (html->type != GUMBO_NODE_ELEMENT || html->v.element.tag != GUMBO_TAG_HTML) continue;
    const GumboVector& sections = html->v.element.children;
    for (unsigned j = 0; j < sections.length; ++j) {
      const auto* head = static_cast<const GumboNode*>(sections.data[j]);
      if (head->type != GUMBO_NODE_ELEMENT || head->v.element.tag != GUMBO_TAG_HEAD) continue;
      const GumboVector& items = head->v.element.children;
      for (unsigned k = 0; k < items.length; ++k) {
        const auto* item = static_cast<const GumboNode*>(items.data[k]);
        if (item->type == GUMBO_NODE_ELEMENT && item->v.element.tag == GUMBO_TAG_TITLE) {
          return item;
        }
      }
    }
  }
  return nullptr;
}

// Iterative depth-first walk: the stack lives on the heap, so no page can
// exhaust the thread's stack however deep its tree is.
void Walk(const GumboNode* root, ExtractedText* result) {
  struct Frame {
    const GumboNode* node;
    unsigned next_child;
    Action action;
  };
  BlockBuilder builder(&result->blocks);
  std::vector<Frame> stack;
  stack.push_back({root, 0, Action::kBlock});
  size_t chrome_depth = 0;
  size_t pre_depth = 0;

  while (!stack.empty()) {
    Frame& f = stack.back();
    const GumboVector* children = f.node->type == GUMBO_NODE_DOCUMENT ? &f.node->v.document.children
                                                                      : &f.node->v.element.children;
    if (f.next_child < children->length) {
      const auto* child = static_cast<const GumboNode*>(children->data[f.next_child++]);
      switch (child->type) {
        case GUMBO_NODE_TEXT:
        case GUMBO_NODE_WHITESPACE:
        case GUMBO_NODE_CDATA:
          builder.AppendText(child->v.text.text, chrome_depth > 0, pre_depth > 0);
          break;
        case GUMBO_NODE_ELEMENT: {
          const Action action = ActionOf(child->v.element);
          switch (action) {
            case Action::kDrop: break;
            case Action::kTitle:
              if (result->title.empty()) result->title = CollapsedText(child);
              break;
            case Action::kBreak: builder.EndBlock(); break;
            case Action::kChrome:
              builder.EndBlock();
              ++chrome_depth;
              stack.push_back({child, 0, action});
              break;
            case Action::kPre:
              builder.EndBlock();
              ++pre_depth;
              stack.push_back({child, 0, action});
              break;
            case Action::kBlock:
              builder.EndBlock();
              stack.push_back({child, 0, action});
              break;
            case Action::kInline: stack.push_back({child, 0, action}); break;
          }
          break;
        }
        case GUMBO_NODE_DOCUMENT:
        case GUMBO_NODE_COMMENT:
        case GUMBO_NODE_TEMPLATE: break;
      }
      continue;
    }
    switch (f.action) {
      case Action::kChrome:
        builder.EndBlock();
        --chrome_depth;
        break;
      case Action::kPre:
        builder.EndBlock();
        --pre_depth;
        break;
      case Action::kBlock: builder.EndBlock(); break;
      case Action::kInline:
      case Action::kBreak:
      case Action::kDrop:
      case Action::kTitle: break;
    }
    stack.pop_back();
  }
  builder.EndBlock();
}

std::string_view MediaType(std::string_view content_type) {
  const size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && IsAsciiSpace(t.front())) t.remove_prefix(1);
  while (!t.empty() && IsAsciiSpace(t.back())) t.remove_suffix(1);
  return t;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() && StartsWithIgnoreCase(a, lower);
}

}  // namespace

BodyKind SniffBodyKind(std::string_view content_type, std::string_view body) {
  const std::string_view type = MediaType(content_type);
  if (EqualsIgnoreCase(type, "text/html") || EqualsIgnoreCase(type, "application/xhtml+xml")) {
    return BodyKind::kHtml;
  }
  if (EqualsIgnoreCase(type, "text/plain")) return BodyKind::kPlain;

  std::string_view s = body;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  if (StartsWithIgnoreCase(s, "<!--")) return BodyKind::kHtml;
  // WHATWG MIME sniffing, "identify an unknown MIME type": these tags at the
  // start, followed by a space or '>'.
  static constexpr std::string_view kStartTags[] = {
      "<!doctype html", "<html", "<head",  "<script", "<iframe", "<h1",   "<div", "<font",
      "<table",         "<a",    "<style", "<title",  "<b",      "<body", "<br",  "<p"};
  for (const std::string_view tag : kStartTags) {
    if (StartsWithIgnoreCase(s, tag) && s.size() > tag.size() &&
        (s[tag.size()] == '>' || IsAsciiSpace(s[tag.size()]))) {
      return BodyKind::kHtml;
    }
  }
  const std::string_view head = body.substr(0, 1024);
  for (const std::string_view marker : {"<!doctype html", "<html", "<body"}) {
    if (FindIgnoreCase(head, marker) != std::string_view::npos) return BodyKind::kHtml;
  }
  return BodyKind::kPlain;
}

// gumbo turns C0 controls (but tab, LF, FF, CR), DEL and C1 controls into
// U+FFFD, as the HTML5 input stream rules allow, while the plain-text path
// keeps them in the canonical text and drops them from the content key and
// the matching form. So that a page served once as text/plain and once as
// HTML has the same content key (no false REVISED), they are taken out of
// the HTML before parsing: removed, except NEL (U+0085, a line break in
// plain text), which becomes a space. Returns false (and leaves *out alone)
// when there are none, the usual case.
namespace {

// Offset of the first byte at or after i that may start a control: C0 but
// tab, LF, FF, CR; DEL; C2 (the lead byte of C1 controls, also of NBSP and
// other Latin-1 characters the caller then skips). Sixteen bytes at a time
// with SSE2: most pages have none, and this scan covers every byte of them.
size_t NextControlCandidate(const unsigned char* p, size_t i, size_t n) {
  const __m128i c1f = _mm_set1_epi8(0x1F);
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i ff = _mm_set1_epi8('\f');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i del = _mm_set1_epi8(0x7F);
  const __m128i c2 = _mm_set1_epi8(static_cast<char>(0xC2));
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i c0 = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);  // v <= 0x1F
    const __m128i space = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, lf)),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, ff), _mm_cmpeq_epi8(v, cr)));
    const __m128i hit = _mm_or_si128(_mm_andnot_si128(space, c0),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, c2)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
  }
  for (; i < n; ++i) {
    const unsigned c = p[i];
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c == 0x7F || c == 0xC2) {
      return i;
    }
  }
  return n;
}

// Before a control is removed: a multi-byte sequence the control cut short
// (a lead byte at the end of *out still waiting for continuation bytes) is
// decoded now, as it would be with the control still after it. Otherwise the
// bytes that follow the control would complete it: C2, NUL, 9C would become
// U+009C, a control again, and E4 B8, NUL, AD a CJK character that was never
// on the page.
void RepairCutSequence(std::string* out) {
  const size_t n = out->size();
  size_t lead = n;
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>((*out)[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if (c >= 0xC0) lead = n - back;
    break;
  }
  if (lead == n) return;
  const auto c = static_cast<unsigned char>((*out)[lead]);
  const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (n - lead >= need) return;  // complete (or invalid, which repair sees the same)
  const std::string repaired = RepairUtf8(std::string_view(*out).substr(lead));
  out->resize(lead);
  out->append(repaired);
}

}  // namespace

bool internal::WithoutControls(std::string_view html, std::string* out) {
  const auto* const p = reinterpret_cast<const unsigned char*>(html.data());
  const size_t n = html.size();
  auto is_control = [&](size_t i, size_t* len) {
    const unsigned c = p[i];
    if (c < 0x20) {
      *len = 1;
      return c != '\t' && c != '\n' && c != '\f' && c != '\r';
    }
    if (c == 0x7F) {
      *len = 1;
      return true;
    }
    *len = 2;
    return c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F;
  };
  size_t i = 0, len = 0;
  for (;; ++i) {
    i = NextControlCandidate(p, i, n);
    if (i >= n) return false;
    if (is_control(i, &len)) break;
  }
  out->assign(html.substr(0, i));
  while (i < n) {
    if (is_control(i, &len)) {
      RepairCutSequence(out);
      if (len == 2 && p[i + 1] == 0x85) out->push_back(' ');
      i += len;
      continue;
    }
    out->push_back(static_cast<char>(p[i]));
    ++i;
  }
  return true;
}

namespace {

// The reference path on a page whose controls are already removed.
ExtractedText GumboExtract(std::string_view html) {
  ExtractedText result;
  std::string rewritten;
  {
    NestingLimiter limiter(html);
    if (limiter.Run()) {
      rewritten = limiter.Take();
      html = rewritten;
    }
  }
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;  // the error list is not used; do not build it
  GumboOutput* output = gumbo_parse_with_options(&options, html.data(), html.size());
  if (output == nullptr) return result;
  if (const GumboNode* title = FindHeadTitle(output->document)) {
    result.title = CollapsedText(title);
  }
  Walk(output->document, &result);
  gumbo_destroy_output(&options, output);
  return result;
}

// Pages up to this size keep their cleaned copy's buffer for the next page.
constexpr size_t kMaxKeptCleaned = 1 << 20;

}  // namespace

ExtractedText internal::ExtractHtmlReference(std::string_view html) {
  std::string cleaned;
  if (WithoutControls(html, &cleaned)) html = cleaned;
  return GumboExtract(html);
}

bool internal::ExtractHtmlStreaming(std::string_view html, ExtractedText* out) {
  std::string cleaned;
  if (WithoutControls(html, &cleaned)) html = cleaned;
  return StreamExtractCleaned(html, out);
}

namespace {
thread_local std::string tls_cleaned;
}  // namespace

void internal::ReleaseCleanedScratch() {
  std::string().swap(tls_cleaned);
}

void ExtractHtml(std::string_view html, ExtractedText* out) {
  std::string& cleaned = tls_cleaned;
  if (internal::WithoutControls(html, &cleaned)) html = cleaned;
  if (!internal::StreamExtractCleaned(html, out)) *out = GumboExtract(html);
  if (cleaned.capacity() > kMaxKeptCleaned) std::string().swap(cleaned);
}

ExtractedText ExtractHtml(std::string_view html) {
  ExtractedText result;
  ExtractHtml(html, &result);
  return result;
}

namespace {

// Offset of the first byte at or after i that may start a line break: LF, CR,
// or the lead byte of NEL (C2 85) or of LS / PS (E2 80 A8 / A9). Lead bytes of
// other characters (NBSP, curly quotes, dashes) are false hits the caller
// skips. Sixteen bytes at a time with SSE2 (part of x86-64).
size_t NextBreakCandidate(const unsigned char* p, size_t i, size_t n) {
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i c2 = _mm_set1_epi8(static_cast<char>(0xC2));
  const __m128i e2 = _mm_set1_epi8(static_cast<char>(0xE2));
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, c2), _mm_cmpeq_epi8(v, e2)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
  }
  for (; i < n; ++i) {
    const unsigned c = p[i];
    if (c == '\n' || c == '\r' || c == 0xC2 || c == 0xE2) return i;
  }
  return n;
}

// Blocks past a page's count wait here for a later page with more lines
// (their buffers kept, within bounds, as html_stream.cc does).
constexpr size_t kMaxSparePlainBlocks = 4096;
constexpr size_t kMaxSparePlainBytes = 64 * 1024;
thread_local std::vector<Block> tls_spare_plain_blocks;

// Calls line(trimmed) for each non-blank line of valid UTF-8 `text`, in
// order (the line breaks and trimming SplitPlainText() documents): the one
// scan both SplitPlainText() and SplitPlainTextLines() use.
template <typename OnLine>
void ForEachPlainLine(std::string_view text, OnLine&& on_line) {
  const auto* const bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t begin = 0;
  size_t i = 0;
  auto push_line = [&](size_t line_end) {
    const std::string_view line = internal::TrimBlockText(text.substr(begin, line_end - begin));
    if (!line.empty()) on_line(line);
  };
  while ((i = NextBreakCandidate(bytes, i, n)) < n) {
    const unsigned c = bytes[i];
    size_t brk = 0;  // length of the line break at i
    if (c == '\n') {
      brk = 1;
    } else if (c == '\r') {
      brk = i + 1 < n && bytes[i + 1] == '\n' ? 2 : 1;
    } else if (c == 0xC2) {
      brk = bytes[i + 1] == 0x85 ? 2 : 0;  // NEL; valid UTF-8: i + 1 < n
    } else {
      brk = bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9) ? 3 : 0;
    }
    if (brk == 0) {
      ++i;
      continue;
    }
    push_line(i);
    i += brk;
    begin = i;
  }
  push_line(n);
}

void SplitValidPlainText(std::string_view text, ExtractedText* out) {
  std::vector<Block>& blocks = out->blocks;
  std::vector<Block>& spare = tls_spare_plain_blocks;
  out->title.clear();
  // Room for a line per ~100 bytes up front (the corpus averages 250 bytes
  // per line): a page's first few lines then cost no reallocation of blocks.
  blocks.reserve(std::min<size_t>(text.size() / 100 + 1, 64));
  size_t used = 0;
  ForEachPlainLine(text, [&](std::string_view line) {
    if (used == blocks.size()) {
      if (spare.empty()) {
        blocks.emplace_back();
      } else {
        blocks.push_back(std::move(spare.back()));
        spare.pop_back();
      }
    }
    Block& b = blocks[used++];
    b.text.assign(line);
    b.chrome = false;
  });
  // Last block first, so that a block taken back from the pool lands in the
  // position it had.
  for (size_t k = blocks.size(); k-- > used;) {
    if (spare.size() < kMaxSparePlainBlocks && blocks[k].text.capacity() <= kMaxSparePlainBytes) {
      spare.push_back(std::move(blocks[k]));
    }
  }
  blocks.resize(used);
}

}  // namespace

void SplitPlainText(std::string_view text, ExtractedText* out) {
  // Validate once (IsValidUtf8: SIMD); ill-formed input is repaired first, so
  // that the line scan below can trust the bytes.
  if (IsValidUtf8(text)) {
    SplitValidPlainText(text, out);
    return;
  }
  std::string repaired = RepairUtf8(text);
  SplitValidPlainText(repaired, out);
}

void SplitPlainTextLines(std::string_view text, std::vector<std::string_view>* lines,
                         std::string* repaired) {
  lines->clear();
  if (!IsValidUtf8(text)) {
    *repaired = RepairUtf8(text);
    text = *repaired;
  }
  ForEachPlainLine(text, [lines](std::string_view line) { lines->push_back(line); });
}

ExtractedText SplitPlainText(std::string_view text) {
  ExtractedText result;
  SplitPlainText(text, &result);
  return result;
}

std::string JoinContent(const ExtractedText& text) {
  std::string out;
  for (const Block& b : text.blocks) {
    if (b.chrome) continue;
    if (!out.empty()) out.push_back('\n');
    out.append(b.text);
  }
  return out;
}

}  // namespace dedupd::text
