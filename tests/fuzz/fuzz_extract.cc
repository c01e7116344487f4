// Fuzzes ExtractHtml and SniffBodyKind: never crash, never hang on deep or
// hostile markup, and always return valid, trimmed, non-empty UTF-8 blocks.
// Differential: wherever the streaming extractor does not hand the page to
// the gumbo reference path, its blocks and title must equal the reference's,
// and ExtractHtml (buffer-reusing form included) must always equal it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "text/extract.h"
#include "text/internal/html_stream.h"
#include "text/internal/utf8.h"
#include "text/normalize.h"

using dedupd::text::Block;
using dedupd::text::BodyKind;
using dedupd::text::ExtractedText;

namespace {

// IsValidUtf8 (SIMD) and the scalar decoder must agree, and the output must
// pass both.
bool Valid(std::string_view s) {
  const bool simd = dedupd::text::IsValidUtf8(s);
  FUZZ_CHECK(simd == dedupd::text::internal::DecodesWithoutRepair(s));
  return simd;
}

// The two differences from gumbo 0.10.1 that docs/text.md ("Streaming
// extractor") documents and accepts: a numeric character reference above
// 2^32 (gumbo's int overflows; here U+FFFD), and unknown element names over
// 32 bytes that share their first 32 (the limiter mirror compares 32 bytes).
// An input that may hold either is checked for everything but equality with
// the reference; conservatively, any run of 10+ digits after "&#" (9+ after
// "&#x") and any tag name of 33+ bytes counts.
bool MayHoldAcceptedDifference(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '&' && s[i + 1] == '#') {
      size_t j = i + 2;
      const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
      if (hex) ++j;
      size_t digits = 0;
      for (; j < s.size(); ++j, ++digits) {
        const char c = s[j];
        const bool digit =
            (c >= '0' && c <= '9') || (hex && ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'));
        if (!digit) break;
      }
      if (digits >= (hex ? 9u : 10u)) return true;
    } else if (s[i] == '<') {
      size_t j = i + 1;
      if (j < s.size() && s[j] == '/') ++j;
      size_t name = 0;
      for (; j < s.size(); ++j, ++name) {
        const char c = s[j];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '/' || c == '>')
          break;
      }
      if (name >= 33) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::fprintf(stderr, "IsValidUtf8 kernel: %s\n",
               std::string(dedupd::text::Utf8ValidatorName()).c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The first line doubles as a content type, to exercise the type parser.
  const std::string_view first_line = input.substr(0, input.find('\n'));
  const BodyKind kind = dedupd::text::SniffBodyKind(first_line, input);
  FUZZ_CHECK(kind == BodyKind::kHtml || kind == BodyKind::kPlain);
  (void)dedupd::text::SniffBodyKind("", input);

  const ExtractedText t = dedupd::text::ExtractHtml(input);
  const ExtractedText ref = dedupd::text::internal::ExtractHtmlReference(input);
  const bool compare = !MayHoldAcceptedDifference(input);
  if (compare) {
    FUZZ_CHECK(t.blocks == ref.blocks);
    FUZZ_CHECK(t.title == ref.title);
  }
  {
    // The reusing form, on a result that still holds another page's blocks,
    // equals the returning form (and so the reference where that is checked).
    ExtractedText reused;
    dedupd::text::ExtractHtml("<title>old</title><p>one</p><p>two</p><nav>three</nav>", &reused);
    dedupd::text::ExtractHtml(input, &reused);
    FUZZ_CHECK(reused.blocks == t.blocks);
    FUZZ_CHECK(reused.title == t.title);
  }
  // The daemon keeps its per-thread buffers; here every input frees what it
  // allocated, so that libFuzzer's per-input leak check stays quiet (else it
  // runs a full LeakSanitizer scan whenever a buffer grows: 20 inputs/s).
  dedupd::text::internal::ReleaseScratch();
  FUZZ_CHECK(Valid(t.title));
  (void)Valid(input);
  for (const Block& b : t.blocks) {
    FUZZ_CHECK(!b.text.empty());
    FUZZ_CHECK(Valid(b.text));
    FUZZ_CHECK(b.text.front() != ' ' && b.text.back() != ' ');
  }
  const std::string joined = dedupd::text::JoinContent(t);
  FUZZ_CHECK(Valid(joined));
  return 0;
}
