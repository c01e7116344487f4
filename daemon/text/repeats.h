// Repeated block runs inside one page: a scraper that captured the article
// body twice (or three times), possibly re-indented, with a line missing or a
// bullet added in one copy. The canonical text keeps the FIRST occurrence and
// drops the later copies; the repeated fraction goes into the page event and
// sets the REPEATED_CONTENT flag.
//
//   RepeatResult r = FindRepeats(block_views);
//   if (r.has_repeats) { /* keep only blocks with r.keep[i] */ }
//
// Thread-safety: pure function (per-thread scratch buffers).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dedupd::text {

struct RepeatOptions {
  // A run is a repeat when it has at least min_run_blocks blocks AND
  // min_run_chars characters (content-key code points) ...
  size_t min_run_blocks = 3;
  size_t min_run_chars = 200;
  // ... or when it is a large share of the page: at least min_page_fraction
  // of all characters and at least min_fraction_run_chars characters (a short
  // page whose one paragraph was captured twice). Short lines repeated on
  // purpose ("微信" share buttons, "Read more", a heading) pass neither test.
  double min_page_fraction = 0.25;
  size_t min_fraction_run_chars = 40;
  // Blocks that may be missing from, or added to, a copy between two
  // matching blocks while the alignment continues ...
  size_t max_gap = 3;
  // ... as long as the aligned pairs stay dense: matched blocks / the larger
  // of the two ranges (non-empty blocks). Stops two different lists that share
  // some items (bestseller lists, "related" links) from aligning.
  double min_match_density = 0.8;
};

// One repeat: blocks [copy_begin, copy_end) repeat [source_begin, source_end).
struct RepeatRun {
  size_t source_begin = 0;
  size_t source_end = 0;
  size_t copy_begin = 0;
  size_t copy_end = 0;
  size_t matched_blocks = 0;  // aligned block pairs (gaps excluded)
  size_t chars = 0;           // content-key code points of the dropped blocks
};

struct RepeatResult {
  std::vector<bool> keep;        // one per input block; false for blocks of a later copy
  double repeated_fraction = 0;  // chars in dropped blocks / chars in all blocks (content-key)
  bool has_repeats = false;      // some run passed the RepeatOptions thresholds
  std::vector<RepeatRun> runs;   // the repeats found, in page order
  // ContentKey() of the kept blocks, concatenated: the canonical text's
  // exact-content key (equal to ContentKey of the kept blocks joined with
  // '\n'). Computed anyway to compare blocks; hash it instead of running
  // ContentKey over the page a second time.
  std::string content_key;
};

// Blocks are compared on their content key with leading bullets and
// punctuation removed ("• 来源: 川观新闻" == "来源: 川观新闻"), so indentation
// and bullets do not matter. Blocks whose key is empty (a lone "•") are
// skipped by the alignment and never start a run. See docs/text.md.
RepeatResult FindRepeats(const std::vector<std::string_view>& blocks,
                         const RepeatOptions& options = {});
// The same into *out, reusing its vectors and content key (and per-thread
// scratch arrays): a page no bigger than earlier ones allocates nothing.
void FindRepeats(const std::vector<std::string_view>& blocks, const RepeatOptions& options,
                 RepeatResult* out);

// The same from the blocks' content keys, computed already (by PageForms):
// `blocks` blocks, block k's key is keys[key_end[k-1], key_end[k])
// (key_end[-1] = 0). Unlike FindRepeats, out->content_key is left EMPTY when
// every block is kept: the content key is then `keys` itself, which is not
// copied. Otherwise it is the kept blocks' keys, as FindRepeats gives it.
void FindRepeatsInKeys(size_t blocks, std::string_view keys, std::span<const size_t> key_end,
                       const RepeatOptions& options, RepeatResult* out);

}  // namespace dedupd::text
