// The streaming HTML extractor behind ExtractHtml, and the gumbo reference
// path it is checked against. Private to daemon/text (and its tests, fuzz
// target and benchmarks).
//
//   ExtractedText out;
//   if (!internal::ExtractHtmlStreaming(html, &out)) out = internal::ExtractHtmlReference(html);
//
// ExtractHtmlStreaming tokenizes the page once (HTML5 tokenizer states for
// data, tags, comments, RCDATA, RAWTEXT, script data with its escape states,
// PLAINTEXT, character references) and follows the HTML5 "in body" rules
// only as far as they decide what extraction sees: which element is open
// (block, chrome, pre, dropped), where a block ends, the title. It builds no
// tree and allocates nothing in steady state (thread-local scratch, the
// caller's ExtractedText reused). Where the HTML5 tree construction would do
// something it does not model (tables and their foster parenting, <select>,
// MathML, the adoption agency moving a block, a page that the reference path
// would flatten with its nesting limiter, ill-formed UTF-8, ...) it gives up
// and returns false; ExtractHtml then runs the reference path, so every page
// gets the reference's blocks. docs/text.md ("Streaming extractor") lists the
// cases.
//
// Thread-safety: thread-compatible per call; the scratch state is thread_local.
#pragma once

#include <string_view>

#include "text/extract.h"

namespace dedupd::text::internal {

// The fast path alone: true and *out filled, or false (out unspecified) when
// the page needs the reference path. `html` is the raw page (control
// characters are removed here exactly as the reference path removes them).
bool ExtractHtmlStreaming(std::string_view html, ExtractedText* out);

// The reference: control-character removal, nesting limiter, gumbo, tree walk
// (the implementation ExtractHtml had before the streaming extractor).
ExtractedText ExtractHtmlReference(std::string_view html);

// For ExtractHtml: the streaming pass over a page whose control characters
// are already removed.
bool StreamExtractCleaned(std::string_view cleaned, ExtractedText* out);

// Position just after the first "-->" or "--!>" at or after `from` (a
// comment's end), or s.size(). Linear: one pass over the "--" pairs (two
// separate find()s would each run to the end of the page for every comment
// when one of the forms never occurs).
size_t CommentEndAfter(std::string_view s, size_t from);

// Frees this thread's scratch buffers (the streaming extractor's and the
// cleaned copy's). For the fuzzer, whose leak check wants every input to free
// what it allocated; the daemon keeps them.
void ReleaseScratch();
void ReleaseCleanedScratch();  // extract.cc's part of it

// Trims whitespace and zero-width characters from both ends (the rule every
// block and title follows).
std::string_view TrimBlockText(std::string_view s);

// Removes C0/C1 controls (but tab, LF, FF, CR; NEL becomes a space) the way
// both paths need (see extract.cc). Returns false and leaves *out alone when
// there are none.
bool WithoutControls(std::string_view html, std::string* out);

}  // namespace dedupd::text::internal
