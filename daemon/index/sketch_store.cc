// SketchStore: confirmation sketches in 12-bit gaps (sketch_store.h).
#include "index/sketch_store.h"

#include <algorithm>
#include <bit>

namespace dedupd::index {

SketchStore::SketchStore(size_t k)
    : k_(std::clamp<size_t>(k, 1, 4096)), words_((k_ * kGapBits + 63) / 64) {}

void SketchStore::Resize(size_t docs) {
  while (meta_.size() < docs) {
    meta_.emplace_back();
    for (size_t i = 0; i < words_; ++i) bits_.emplace_back();
  }
}

int SketchStore::ShiftFor(std::span<const uint32_t> sketch) {
  // The least shift that fits every gap between consecutive quantised
  // values (the first one's from 0) in kGapBits: the widest raw gap's width
  // less kGapBits, or one more when the rounding of the two ends widens it.
  uint32_t widest = 0, last = 0;
  for (const uint32_t v : sketch) {
    widest = std::max(widest, v - last);
    last = v;
  }
  for (int shift = std::max(0, static_cast<int>(std::bit_width(widest)) - kGapBits);; ++shift) {
    uint32_t previous = 0;
    bool fits = true;
    for (const uint32_t v : sketch) {
      fits &= (v >> shift) - previous < (1u << kGapBits);
      previous = v >> shift;
    }
    if (fits) return shift;
  }
}

void SketchStore::Set(DocId doc, std::span<const uint32_t> sketch, uint32_t shingle_count) {
  Meta& m = meta_[doc];
  const size_t n = std::min(sketch.size(), k_);
  // A record from an instance with a larger sketch size: its smallest values
  // are this size's sketch (with the whole-set test kept exact by the count).
  sketch = sketch.first(n);
  const int shift = ShiftFor(sketch);
  const uint64_t count = std::min<uint64_t>(shingle_count, kMaxCount);
  const bool size_held = n != std::min<uint64_t>(k_, count);
  m.set_bits(count | static_cast<uint64_t>(shift) << kShiftAt |
             static_cast<uint64_t>(size_held) << kSizeHeldAt);
  if (size_held) {
    sizes_[doc] = static_cast<uint16_t>(n);
  } else {
    sizes_.erase(doc);
  }
  // The gaps, kGapBits each, packed into the document's words (a gap may
  // straddle two words).
  const size_t base = static_cast<size_t>(doc) * words_;
  for (size_t w = 0; w < words_; ++w) bits_[base + w] = 0;
  uint32_t previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t q = sketch[i] >> shift;
    const uint64_t gap = q - previous;
    previous = q;
    const size_t bit = i * kGapBits, word = base + bit / 64, offset = bit % 64;
    bits_[word] |= gap << offset;
    if (offset + kGapBits > 64) bits_[word + 1] |= gap >> (64 - offset);
  }
}

void SketchStore::Forget(DocId doc) {
  Meta& m = meta_[doc];
  if (m.size_held()) sizes_.erase(doc);
  m.set_bits((m.bits() | kUnknown << kShiftAt) & ~(uint64_t{1} << kSizeHeldAt));
}

size_t SketchStore::Size(DocId doc) const {
  const Meta& m = meta_[doc];
  return m.size_held() ? sizes_.at(doc) : std::min<uint64_t>(k_, m.shingle_count());
}

fingerprint::SketchEstimate SketchStore::Compare(DocId doc, std::span<const uint32_t> sketch,
                                                 size_t shingle_count) const {
  const Meta& meta = meta_[doc];
  const int shift = static_cast<int>(meta.shift());
  const size_t size = Size(doc);
  const uint64_t held_count = meta.shingle_count();
  thread_local std::vector<uint32_t> page, held;
  page.clear();
  for (const uint32_t v : sketch) page.push_back(v >> shift);
  held.clear();
  const size_t base = static_cast<size_t>(doc) * words_;
  constexpr uint64_t kMask = (uint64_t{1} << kGapBits) - 1;
  uint32_t q = 0;
  for (size_t i = 0; i < size; ++i) {
    const size_t bit = i * kGapBits, word = base + bit / 64, offset = bit % 64;
    uint64_t gap = bits_[word] >> offset;
    if (offset + kGapBits > 64) gap |= bits_[word + 1] << (64 - offset);
    q += static_cast<uint32_t>(gap & kMask);
    held.push_back(q);
  }
  // Values sharing a cell (a gap of 0) stay distinct: the i-th value of a
  // cell becomes (cell << b) | i on both sides, b bits taken from those the
  // shift freed, so neither sketch gets shorter; a longer run than 2^b
  // values (b = shift: never more than the cell holds) is cut to one.
  auto longest_run = [](const std::vector<uint32_t>& v) {
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      run = i > 0 && v[i] == v[i - 1] ? run + 1 : 1;
      longest = std::max(longest, run);
    }
    return longest;
  };
  const size_t run = std::max(longest_run(page), longest_run(held));
  const int b = run <= 1 ? 0 : std::min<int>(shift, std::bit_width(run - 1));
  auto expand = [b](std::vector<uint32_t>* v) {
    const uint32_t cap = (1u << b) - 1;
    uint32_t rank = 0;
    size_t out = 0;
    uint32_t previous = 0;
    for (size_t i = 0; i < v->size(); ++i) {
      const uint32_t cell = (*v)[i];
      rank = i > 0 && cell == previous ? rank + 1 : 0;
      previous = cell;
      const uint32_t e = (cell << b) | std::min(rank, cap);
      if (out == 0 || (*v)[out - 1] != e) (*v)[out++] = e;
    }
    v->resize(out);
  };
  expand(&page);
  expand(&held);
  // A sketch that holds its whole set still does after the shift: the set is
  // then the quantised values (the exact path of CompareSketches).
  const size_t page_set = sketch.size() >= shingle_count ? page.size() : shingle_count;
  const bool whole = size >= held_count;
  const size_t held_set = whole ? held.size() : static_cast<size_t>(held_count);
  return fingerprint::CompareSketches(page, page_set, held, held_set);
}

}  // namespace dedupd::index
