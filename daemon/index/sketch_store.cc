// SketchStore: confirmation sketches in 12-bit gaps (sketch_store.h).
#include "index/sketch_store.h"

#include <algorithm>
#include <bit>

namespace dedupd::index {

SketchStore::SketchStore(size_t k)
    : k_(std::clamp<size_t>(k, 1, 4096)), unit_(((k_ * kGapBits + 7) / 8 + 254) / 255) {}

void SketchStore::Resize(size_t docs) {
  while (meta_.size() < docs) {
    if ((meta_.size() & ((size_t{1} << kBlockBits) - 1)) == 0) {
      block_at_.push_back(static_cast<uint32_t>(arena_.size()));  // an empty run at the end
    }
    meta_.emplace_back();
    length_.emplace_back();
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
             static_cast<uint64_t>(size_held) << kSizeHeldAt);  // the code's parameter below
  if (size_held) {
    sizes_[doc] = static_cast<uint16_t>(n);
  } else {
    sizes_.erase(doc);
  }
  // The gaps (each < 2^kGapBits), Rice-coded with the parameter that
  // codes them shortest, or kGapBits each when that is shorter still.
  thread_local std::vector<uint32_t> gaps;
  gaps.clear();
  uint32_t previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t q = sketch[i] >> shift;
    gaps.push_back(q - previous);
    previous = q;
  }
  uint64_t code = kFixedCode;
  size_t bits = n * kGapBits;
  for (int r = 0; r < kGapBits; ++r) {
    size_t cost = n * static_cast<size_t>(r + 1);
    for (const uint32_t g : gaps) cost += g >> r;
    if (cost < bits) {
      bits = cost;
      code = static_cast<uint64_t>(r);
    }
  }
  m.set_bits(m.bits() | code << kCodeAt);
  thread_local std::vector<uint64_t> words;
  words.assign(bits / 64 + 2, 0);
  size_t pos = 0;
  auto put = [&](uint64_t v, int width) {  // width <= 32
    const size_t i = pos >> 6, o = pos & 63;
    words[i] |= v << o;
    if (o + width > 64) words[i + 1] |= v >> (64 - o);
    pos += width;
  };
  for (const uint32_t g : gaps) {
    if (code == kFixedCode) {
      put(g, kGapBits);
      continue;
    }
    const int r = static_cast<int>(code);
    pos += g >> r;  // that many 0 bits, then a 1
    put(1, 1);
    if (r > 0) put(g & ((1u << r) - 1), r);
  }
  const size_t bytes = (bits + 7) / 8;
  thread_local std::vector<uint8_t> coded;
  coded.assign((bytes + unit_ - 1) / unit_ * unit_, 0);
  for (size_t i = 0; i < bytes; ++i) coded[i] = static_cast<uint8_t>(words[i >> 3] >> (i & 7) * 8);
  if (coded.size() == length_[doc] * unit_) {  // same length: in place
    const size_t at = CodeAt(doc);
    for (size_t i = 0; i < coded.size(); ++i) {
      uint64_t& w = arena_[(at + i) >> 3];
      const int sh = static_cast<int>((at + i) & 7) * 8;
      w = (w & ~(uint64_t{0xff} << sh)) | uint64_t{coded[i]} << sh;
    }
    return;
  }
  Rewrite(doc >> kBlockBits, doc, coded);
}

size_t SketchStore::CodeAt(DocId doc) const {
  const size_t block = doc >> kBlockBits;
  size_t at = size_t{block_at_[block]} * 8;
  for (size_t d = block << kBlockBits; d < doc; ++d) at += length_[d] * unit_;
  return at;
}

size_t SketchStore::BlockBytes(size_t block) const {
  const size_t first = block << kBlockBits;
  const size_t last = std::min(first + (size_t{1} << kBlockBits), length_.size());
  size_t bytes = 0;
  for (size_t d = first; d < last; ++d) bytes += length_[d] * unit_;
  return bytes;
}

void SketchStore::Rewrite(size_t block, DocId doc, const std::vector<uint8_t>& code) {
  const size_t first = block << kBlockBits;
  const size_t last = std::min(first + (size_t{1} << kBlockBits), length_.size());
  const size_t old_bytes = BlockBytes(block), old_words = (old_bytes + 7) / 8;
  bool appends = size_t{block_at_[block]} + old_words == arena_.size();
  for (size_t d = doc; d < last && appends; ++d) appends = length_[d] == 0;
  if (appends) {
    // A new document's code after the last run's (a document arriving, or
    // a restore): written after its bytes, as the rewrite below would (the
    // last word's bytes past a run are 0).
    const size_t at = size_t{block_at_[block]} * 8 + old_bytes;
    for (size_t i = 0; i < code.size(); ++i) {
      if (((at + i) >> 3) == arena_.size()) arena_.push_back(0);
      arena_[(at + i) >> 3] |= uint64_t{code[i]} << ((at + i) & 7) * 8;
    }
    length_[doc] = static_cast<uint8_t>(code.size() / unit_);
    return;
  }
  thread_local std::vector<uint8_t> run;
  run.clear();
  size_t at = size_t{block_at_[block]} * 8;
  for (size_t d = first; d < last; ++d) {
    const size_t len = length_[d] * unit_;
    if (d == doc) {
      run.insert(run.end(), code.begin(), code.end());
    } else {
      for (size_t i = 0; i < len; ++i) run.push_back(ArenaByte(at + i));
    }
    at += len;
  }
  length_[doc] = static_cast<uint8_t>(code.size() / unit_);
  size_t start = block_at_[block];
  if (start + old_words == arena_.size()) {
    arena_.Truncate(start);  // the last run: rewritten in place
  } else {
    garbage_ += old_words;
    start = arena_.size();
  }
  for (size_t i = 0; i < run.size(); i += 8) {
    uint64_t w = 0;
    for (size_t j = 0; j < 8 && i + j < run.size(); ++j) w |= uint64_t{run[i + j]} << (8 * j);
    arena_.push_back(w);
  }
  block_at_[block] = static_cast<uint32_t>(start);  // 2^32 words: 32 GiB of codes
  if (garbage_ > 4096 && garbage_ * 8 > arena_.size()) Compact();
}

void SketchStore::Compact() {
  // Runs in arena order, each moved down to the end of the ones before:
  // a run never moves up, so copying forwards is safe.
  std::vector<uint32_t> order(block_at_.size());
  for (size_t b = 0; b < order.size(); ++b) order[b] = static_cast<uint32_t>(b);
  std::sort(order.begin(), order.end(),
            [this](uint32_t a, uint32_t b) { return block_at_[a] < block_at_[b]; });
  size_t to = 0;
  for (const uint32_t b : order) {
    const size_t words = (BlockBytes(b) + 7) / 8, from = block_at_[b];
    if (from != to) {
      for (size_t i = 0; i < words; ++i) arena_[to + i] = arena_[from + i];
    }
    block_at_[b] = static_cast<uint32_t>(to);
    to += words;
  }
  arena_.Truncate(to);
  garbage_ = 0;
}

void SketchStore::Forget(DocId doc) {
  // The code stays (the next Set() of the doc, usually at once, replaces it).
  Meta& m = meta_[doc];
  if (m.size_held()) sizes_.erase(doc);
  m.set_bits((m.bits() | kUnknown << kShiftAt) & ~(uint64_t{1} << kSizeHeldAt));
}

size_t SketchStore::Size(DocId doc) const {
  const Meta& m = meta_[doc];
  return m.size_held() ? sizes_.at(doc) : std::min<uint64_t>(k_, m.shingle_count());
}

void SketchStore::Quantised(DocId doc, std::vector<uint32_t>* out) const {
  out->clear();
  const size_t size = Size(doc), len = length_[doc] * unit_;
  if (size == 0 || len == 0) return;
  // The code's words, from its byte in the arena, two spare words after it
  // for peek()'s reads.
  thread_local std::vector<uint64_t> w;
  w.assign((len + 7) / 8 + 3, 0);
  const size_t at = CodeAt(doc), first = at >> 3;
  const int sh = static_cast<int>(at & 7) * 8;
  for (size_t j = 0; j < (len + 7) / 8; ++j) {
    w[j] = arena_[first + j] >> sh;
    if (sh != 0 && first + j + 1 < arena_.size()) w[j] |= arena_[first + j + 1] << (64 - sh);
  }
  const size_t limit = len * 8;
  auto peek = [&](size_t p) {
    const size_t i = p >> 6, o = p & 63;
    return o == 0 ? w[i] : w[i] >> o | w[i + 1] << (64 - o);
  };
  const uint64_t code = meta_[doc].code();
  const int r = static_cast<int>(code);
  size_t pos = 0;
  uint32_t q = 0;
  for (size_t i = 0; i < size && pos < limit; ++i) {
    uint32_t gap;
    if (code == kFixedCode) {
      gap = static_cast<uint32_t>(peek(pos) & ((1u << kGapBits) - 1));
      pos += kGapBits;
    } else {
      uint32_t high = 0;
      uint64_t v;
      while ((v = peek(pos)) == 0 && pos < limit) {
        high += 64;
        pos += 64;
      }
      const int zeros = std::countr_zero(v);
      high += static_cast<uint32_t>(zeros);
      pos += static_cast<size_t>(zeros) + 1;
      const uint32_t low = r > 0 ? static_cast<uint32_t>(peek(pos) & ((1u << r) - 1)) : 0;
      pos += static_cast<size_t>(r);
      gap = high << r | low;
    }
    q += gap;
    out->push_back(q);
  }
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
  Quantised(doc, &held);
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
