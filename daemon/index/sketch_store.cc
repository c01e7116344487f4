// SketchStore: 16-bit confirmation sketches (sketch_store.h).
#include "index/sketch_store.h"

#include <algorithm>
#include <bit>

namespace dedupd::index {

SketchStore::SketchStore(size_t k) : k_(std::clamp<size_t>(k, 1, 4096)) {}

void SketchStore::Resize(size_t docs) {
  while (meta_.size() < docs) {
    meta_.emplace_back();
    for (size_t i = 0; i < k_; ++i) values_.emplace_back();
  }
}

int SketchStore::ShiftFor(std::span<const uint32_t> sketch) {
  // The least shift that fits every gap between consecutive quantised
  // values (the first one's from 0) in 16 bits: the widest raw gap's width
  // less 16, or one more when the rounding of the two ends widens it.
  uint32_t widest = 0, last = 0;
  for (const uint32_t v : sketch) {
    widest = std::max(widest, v - last);
    last = v;
  }
  for (int shift = std::max(0, static_cast<int>(std::bit_width(widest)) - 16);; ++shift) {
    uint32_t previous = 0;
    bool fits = true;
    for (const uint32_t v : sketch) {
      fits &= (v >> shift) - previous <= 0xFFFFu;
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
  m.shift = static_cast<uint8_t>(ShiftFor(sketch));
  m.shingle_count = shingle_count;
  m.whole = n >= shingle_count;
  m.known = true;
  m.size = static_cast<uint16_t>(n);
  const size_t base = static_cast<size_t>(doc) * k_;
  uint32_t previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t q = sketch[i] >> m.shift;
    values_[base + i] = static_cast<uint16_t>(q - previous);
    previous = q;
  }
}

fingerprint::SketchEstimate SketchStore::Compare(DocId doc, std::span<const uint32_t> sketch,
                                                 size_t shingle_count) const {
  const Meta& m = meta_[doc];
  thread_local std::vector<uint32_t> page, held;
  page.clear();
  for (const uint32_t v : sketch) {
    const uint32_t q = v >> m.shift;
    if (page.empty() || page.back() != q) page.push_back(q);
  }
  held.clear();
  const size_t base = static_cast<size_t>(doc) * k_;
  uint32_t q = 0;
  for (size_t i = 0; i < m.size; ++i) {
    q += values_[base + i];
    if (held.empty() || held.back() != q) held.push_back(q);  // a gap of 0: two values, one cell
  }
  // A sketch that holds its whole set still does after the shift: the set is
  // then the quantised values (the exact path of CompareSketches).
  const size_t page_set = sketch.size() >= shingle_count ? page.size() : shingle_count;
  const size_t held_set = m.whole ? held.size() : m.shingle_count;
  return fingerprint::CompareSketches(page, page_set, held, held_set);
}

}  // namespace dedupd::index
