// Fuzzes RepairUtf8, NormalizeForMatch, ContentKey, SplitSentences and
// SplitPlainText: outputs are valid UTF-8, NormalizeForMatch is idempotent,
// both forms see the input exactly as its repaired version, and sentences are
// non-empty views into their block.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "text/extract.h"
#include "text/normalize.h"
#include "text/segment.h"

namespace text = dedupd::text;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  size_t replaced = 0;
  const std::string repaired = text::RepairUtf8(input, &replaced);
  FUZZ_CHECK(text::IsValidUtf8(repaired));
  FUZZ_CHECK((replaced == 0) == text::IsValidUtf8(input));
  if (replaced == 0) FUZZ_CHECK(repaired == input);

  const std::string match = text::NormalizeForMatch(input);
  FUZZ_CHECK(text::IsValidUtf8(match));
  FUZZ_CHECK(text::NormalizeForMatch(match) == match);
  FUZZ_CHECK(text::NormalizeForMatch(repaired) == match);
  FUZZ_CHECK(match.empty() || (match.front() != ' ' && match.back() != ' '));
  FUZZ_CHECK(match.find("  ") == std::string::npos);

  const std::string key = text::ContentKey(input);
  FUZZ_CHECK(text::IsValidUtf8(key));
  FUZZ_CHECK(text::ContentKey(repaired) == key);
  FUZZ_CHECK(key.find(' ') == std::string::npos);

  // The hot-path overloads reuse a dirty buffer.
  std::string reused = "dirty buffer contents";
  text::NormalizeForMatch(input, &reused);
  FUZZ_CHECK(reused == match);
  text::ContentKey(input, &reused);
  FUZZ_CHECK(reused == key);

  for (const std::string_view s : text::SplitSentences(input)) {
    FUZZ_CHECK(!s.empty());
    FUZZ_CHECK(s.data() >= input.data() && s.data() + s.size() <= input.data() + input.size());
  }
  for (const text::Block& b : text::SplitPlainText(input).blocks) {
    FUZZ_CHECK(!b.text.empty() && text::IsValidUtf8(b.text));
  }
  return 0;
}
