// Myers' O(ND) difference algorithm (Myers 1986), linear-space variant: the
// middle snake is found by searching forward and backward at once, the problem
// is split there and both halves are solved recursively. Used three times in
// the stage: on sentence ids, on code points of keys (similarity), on tokens
// (spans). Memory O(N + M + bound), time O((N + M) * D).
//
//   std::vector<uint8_t> a_changed, b_changed;
//   MyersOutcome r = MyersDiff(a, b, /*max_cost=*/4000, &a_changed, &b_changed);
//
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dedupd::diff::internal {

struct MyersOutcome {
  bool complete = false;  // false: the edit distance exceeds max_cost (marks are unusable)
  size_t cost = 0;        // D = elements marked in a + elements marked in b (when complete)
  uint64_t work = 0;      // diagonal visits + snake steps: what the call cost
};

// Marks (*a_changed)[i] = 1 for a[i] not in the common subsequence, likewise
// for b; equal elements are 0 and appear in the same order on both sides.
// The search gives up, in O((N + M) * max_cost) time, once D is known to exceed
// max_cost; a complete result may still have cost up to max_cost + 1, so
// callers compare `cost` with their bound.
MyersOutcome MyersDiff(std::span<const uint32_t> a, std::span<const uint32_t> b, size_t max_cost,
                       std::vector<uint8_t>* a_changed, std::vector<uint8_t>* b_changed);

}  // namespace dedupd::diff::internal
