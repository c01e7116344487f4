// SketchStore: the confirmation sketch of every DocId (fingerprint::BottomK32:
// the top 32 bits of the k smallest shingle hashes) kept as quantised gaps,
// Rice-coded, and compared with a page's exact sketch.
//
//   index::SketchStore sketches(64);
//   sketches.Set(doc, sketch, shingle_count);
//   fingerprint::SketchEstimate e = sketches.Compare(doc, page_sketch, page_shingles);
//
// Quantised: a document's values are shifted right by the same number of
// bits, the least that fits every gap between consecutive shifted values in
// kGapBits = 12 bits (a bottom-k sketch of n > k shingles spans ~k/n of the
// 32-bit range, its widest gap ~5/k of the span, so the span holds ~2^15.7
// cells). Compare() shifts the page's values by the document's shift; values
// that share a cell stay distinct on both sides (the i-th value of a cell is
// ranked i), so neither sketch gets shorter, and fingerprint::CompareSketches
// runs on the two. Their order, the bottom-k union and the membership tests
// are those of the exact values except where a page value and a different
// held value share a cell (docs/fingerprint.md, "Confirmation sketch": the
// bound, and why 12 bits).
//
// Stored (issue #15, session 9): the same gaps, each exactly, Rice-coded
// with the document's best parameter r (gap >> r in unary, then its low r
// bits; or 12 bits each when that is shorter), ~86 B at k = 64 on the
// corpus profile where fixed 12-bit gaps took 96. The codes of DocIds
// 16b..16b+15 lie one after the other in one run of words of an arena
// (its word offset, 4 B a block, and each document's code length, 1 B),
// so Compare() finds a document's code by adding at most 15 lengths. A
// Set() that changes a code's length writes the block's run anew at the
// arena's end (in place when it is the last run), and the arena is
// compacted in place when the runs left behind pass 1/8 of it. So a slot
// is 5 B of metadata + 1 B of length + 0.25 B of block offset + the code.
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
  // The quantised values held for doc (sketch[i] >> shift; doc known), as
  // Compare() reads them.
  void Quantised(DocId doc, std::vector<uint32_t>* out) const;
  // sizes_ (empty but for the few above): its nodes (next pointer, DocId,
  // size: 16 B, 32 with malloc's header) and bucket array.
  size_t MemoryBytes() const {
    return meta_.MemoryBytes() + length_.MemoryBytes() + block_at_.MemoryBytes() +
           arena_.MemoryBytes() + sizes_.size() * 32 + sizes_.bucket_count() * sizeof(void*);
  }
  // Words of the arena in use, and of those left behind by rewritten blocks
  // (for the tests).
  size_t ArenaWords() const { return arena_.size(); }
  size_t GarbageWords() const { return garbage_; }
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
  // whole set is size >= shingle_count. Then the code's Rice parameter
  // (4 bits: 0-11, or kFixedCode: 12-bit gaps).
  static constexpr uint64_t kMaxCount = (uint64_t{1} << 30) - 1;
  static constexpr uint64_t kUnknown = 31;  // shift of a slot not known (ShiftFor: <= 21)
  static constexpr int kShiftAt = 30, kSizeHeldAt = 35, kCodeAt = 36;
  static constexpr uint64_t kFixedCode = 12;
  static constexpr size_t kBlockBits = 4;  // 16 DocIds a block
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
    uint64_t code() const { return bits() >> kCodeAt & 15; }
  };
  static_assert(sizeof(Meta) == 5);
  size_t Size(DocId doc) const;
  // The arena position (in bytes) of doc's code.
  size_t CodeAt(DocId doc) const;
  size_t BlockBytes(size_t block) const;
  uint8_t ArenaByte(size_t at) const {
    return static_cast<uint8_t>(arena_[at >> 3] >> (at & 7) * 8);
  }
  // Writes block's codes, with doc's replaced by `code`, as a new run.
  void Rewrite(size_t block, DocId doc, const std::vector<uint8_t>& code);
  void Compact();

  size_t k_;
  size_t unit_;  // bytes per unit of length_ (1 up to k = 170: a code is at most 12k bits)
  PagedArray<Meta> meta_;
  PagedArray<uint8_t> length_;      // by DocId: code bytes / unit_ (0: none)
  PagedArray<uint32_t> block_at_;   // by block: the word where its run starts
  PagedArray<uint64_t, 15> arena_;  // the runs, a block's codes in DocId order, byte-packed
  size_t garbage_ = 0;              // words of runs left behind
  std::unordered_map<DocId, uint16_t> sizes_;  // values held, where Meta::size_held
};

}  // namespace dedupd::index
