// Fuzzes FindRepeats on the input's lines, with default and with loose
// thresholds (chosen by the first byte): one keep flag per block, a fraction
// in [0, 1], runs that lie inside the page with the source before the copy,
// dropped blocks exactly the runs' copies, and the content key exactly that
// of the kept blocks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "text/normalize.h"
#include "text/repeats.h"

namespace text = dedupd::text;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  text::RepeatOptions options;
  if (data[0] & 1) {
    options.min_run_blocks = 1 + (data[0] >> 1) % 4;
    options.min_run_chars = (data[0] >> 3) % 16;
    options.max_gap = (data[0] >> 5) % 5;
  }
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> blocks;
  size_t begin = 0;
  while (begin <= input.size()) {
    size_t end = input.find('\n', begin);
    if (end == std::string_view::npos) end = input.size();
    blocks.push_back(input.substr(begin, end - begin));
    begin = end + 1;
  }

  const text::RepeatResult r = text::FindRepeats(blocks, options);
  FUZZ_CHECK(r.keep.size() == blocks.size());
  FUZZ_CHECK(r.repeated_fraction >= 0.0 && r.repeated_fraction <= 1.0);
  FUZZ_CHECK(r.has_repeats == !r.runs.empty());
  std::vector<bool> dropped(blocks.size(), false);
  size_t last_copy_end = 0;
  for (const text::RepeatRun& run : r.runs) {
    FUZZ_CHECK(run.source_begin < run.source_end && run.source_end <= run.copy_begin);
    FUZZ_CHECK(run.copy_begin < run.copy_end && run.copy_end <= blocks.size());
    FUZZ_CHECK(run.copy_begin >= last_copy_end);
    FUZZ_CHECK(run.matched_blocks >= 1);
    last_copy_end = run.copy_end;
    for (size_t i = run.copy_begin; i < run.copy_end; ++i) dropped[i] = true;
  }
  for (size_t i = 0; i < blocks.size(); ++i) FUZZ_CHECK(r.keep[i] == !dropped[i]);
  std::string kept_key;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (r.keep[i]) kept_key += text::ContentKey(blocks[i]);
  }
  FUZZ_CHECK(r.content_key == kept_key);
  if (!r.has_repeats) FUZZ_CHECK(r.repeated_fraction == 0.0);
  return 0;
}
