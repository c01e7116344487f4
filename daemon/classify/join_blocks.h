// The canonical text a page stores: its kept blocks joined with '\n', and a
// view of each block in it (issue #11 item 3: the text's one copy into the
// state, with as few copy calls as the blocks' layout allows).
//
//   std::string joined;
//   std::vector<std::string_view> canonical;
//   JoinBlocks(lines, keep, body, &joined, &canonical);
//   // joined == the kept lines joined with '\n'; canonical[i] views joined
//
// A plain page's lines are views into its body, one after the other with a
// '\n' between them: a run of such blocks is copied with one append (a
// 5 KB page of 30 lines: one memcpy call instead of 30). Blocks that are
// not in `source`, or not separated there by exactly one '\n' (a "\r\n", a
// trimmed blank, a dropped repeat), start a new run.
// Thread-safety: a pure function of its arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dedupd::classify {

// *joined and *views are replaced. `keep` (shorter than `blocks`: the rest
// kept) says which blocks to keep; `source` is the buffer the blocks view
// when they view one (empty: none; then each block is appended on its own).
inline void JoinBlocks(const std::vector<std::string_view>& blocks, const std::vector<bool>& keep,
                       std::string_view source, std::string* joined,
                       std::vector<std::string_view>* views) {
  joined->clear();
  views->clear();
  size_t size = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i >= keep.size() || keep[i]) size += blocks[i].size() + 1;
  }
  // Reserved up front: no reallocation below, so the views stay valid.
  joined->reserve(size);
  // Addresses compared as integers: the blocks need not view `source`.
  const auto source_begin = reinterpret_cast<uintptr_t>(source.data());
  const uintptr_t source_end = source_begin + source.size();
  bool in_run = false;        // a run of adjacent blocks is pending (not yet appended)
  const char* run = nullptr;  // its bytes
  size_t run_size = 0;
  size_t at = 0;  // the joined text's size so far, the pending run included
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i < keep.size() && !keep[i]) continue;
    const std::string_view b = blocks[i];
    // A '\n' before every block but the first non-empty text (as the join
    // always did: leading empty blocks add no separator).
    const bool separated = at > 0;
    const uintptr_t run_end = reinterpret_cast<uintptr_t>(run) + run_size;
    if (in_run && separated && reinterpret_cast<uintptr_t>(b.data()) == run_end + 1 &&
        run_end >= source_begin && run_end < source_end && source[run_end - source_begin] == '\n') {
      run_size += 1 + b.size();  // the '\n' between them and the block
    } else {
      if (in_run) joined->append(run, run_size);
      if (separated) joined->push_back('\n');
      in_run = true;
      run = b.data();
      run_size = b.size();
    }
    at += separated ? 1 : 0;
    views->emplace_back(joined->data() + at, b.size());
    at += b.size();
  }
  if (in_run) joined->append(run, run_size);
}

}  // namespace dedupd::classify
