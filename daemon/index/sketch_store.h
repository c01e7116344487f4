// SketchStore: the confirmation sketch of every DocId (fingerprint::BottomK32:
// the top 32 bits of the k smallest shingle hashes) kept in 12 bits a value,
// in a fixed slot per document, and compared with a page's exact sketch.
//
//   index::SketchStore sketches(64);
//   sketches.Set(doc, sketch, shingle_count);
//   fingerprint::SketchEstimate e = sketches.Compare(doc, page_sketch, page_shingles);
//
// Quantised: a document's values are shifted right by the same number of
// bits, the least that fits every gap between consecutive shifted values in
// kGapBits = 12 bits, and stored as those gaps, packed (a bottom-k sketch of
// n > k shingles spans ~k/n of the 32-bit range, its widest gap ~5/k of the
// span, so the span holds ~2^15.7 cells). Compare() shifts the page's values
// by the document's shift; values that share a cell stay distinct on both
// sides (the i-th value of a cell is ranked i), so neither sketch gets
// shorter, and fingerprint::CompareSketches runs on the two. Their order, the
// bottom-k union and the membership tests are those of the exact values
// except where a page value and a different held value share a cell
// (docs/fingerprint.md, "Confirmation sketch": the bound, and why 12 bits).
// A slot is 5 + ceil(12k / 64) * 8 bytes: 101 B at k = 64, where 16-bit gaps
// took 136 and 32-bit values 268.
// Thread-safety: const methods may run concurrently; the others need
// exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "fingerprint/fingerprint.h"
#include "index/paged_array.h"
#include "index/simhash_index.h"

namespace dedupd::index {

class SketchStore {
 public:
  // k: values kept per document, 1 to 4,096 (detect.confirm_sketch_size).
  explicit SketchStore(size_t k);

  // Makes room for DocIds < docs (new slots unknown).
  void Resize(size_t docs);
  // Stores doc's sketch (sorted, distinct; its first k values are kept) and
  // the size of the set it samples; the slot becomes known.
  void Set(DocId doc, std::span<const uint32_t> sketch, uint32_t shingle_count);
  void Forget(DocId doc);
  bool Known(DocId doc) const { return meta_[doc].shift() != kUnknown; }
  uint32_t ShingleCount(DocId doc) const {
    return static_cast<uint32_t>(meta_[doc].shingle_count());
  }
  // The page's exact sketch against doc's stored one (doc known).
  fingerprint::SketchEstimate Compare(DocId doc, std::span<const uint32_t> sketch,
                                      size_t shingle_count) const;

  // The shift and values Set() keeps for `sketch` (for the tests).
  static int ShiftFor(std::span<const uint32_t> sketch);
  // sizes_ (empty but for the few above): its nodes (next pointer, DocId,
  // size: 16 B, 32 with malloc's header) and bucket array.
  size_t MemoryBytes() const {
    return meta_.MemoryBytes() + bits_.MemoryBytes() + sizes_.size() * 32 +
           sizes_.bucket_count() * sizeof(void*);
  }
  static constexpr int kGapBits = 12;

 private:
  // 5 bytes a document (8 before issue #15's session 6, 6 before session
  // 8): the shingle count (30 bits), the shift (5) and whether the number
  // of values held is other than min(k, count) (1 bit; then it is in
  // sizes_: a sketch whose smallest hashes collide in their top 32 bits, or a
  // record's shorter sketch, so a few documents in a million). The count is
  // kept exactly up to 2^30 - 1 shingles (a page would need more than a GiB
  // of text, past processing.max_body_bytes' limit, to have more; a larger
  // count from a record is held as 2^30 - 1). Whether the sketch held the
  // whole set is size >= shingle_count.
  static constexpr uint64_t kMaxCount = (uint64_t{1} << 30) - 1;
  static constexpr uint64_t kUnknown = 31;  // shift of a slot not known (ShiftFor: <= 21)
  static constexpr int kShiftAt = 30, kSizeHeldAt = 35;
  struct Meta {
    uint8_t bytes[5] = {0, 0, 0, 0xc0, 0x07};  // kUnknown << kShiftAt: not known
    uint64_t bits() const {
      uint64_t v = 0;
      for (int i = 0; i < 5; ++i) v |= uint64_t{bytes[i]} << (8 * i);
      return v;
    }
    void set_bits(uint64_t v) {
      for (int i = 0; i < 5; ++i) bytes[i] = static_cast<uint8_t>(v >> (8 * i));
    }
    uint64_t shingle_count() const { return bits() & kMaxCount; }
    uint64_t shift() const { return bits() >> kShiftAt & 31; }
    bool size_held() const { return (bits() >> kSizeHeldAt & 1) != 0; }
  };
  static_assert(sizeof(Meta) == 5);
  size_t Size(DocId doc) const;
  size_t k_;
  size_t words_;  // per DocId: ceil(k * kGapBits / 64)
  PagedArray<Meta> meta_;
  PagedArray<uint64_t, 15> bits_;  // words_ per DocId: the gaps between the shifted values
  std::unordered_map<DocId, uint16_t> sizes_;  // values held, where Meta::size_held
};

}  // namespace dedupd::index
