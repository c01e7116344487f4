// TagTable: DocIds filed under a 32-bit tag (the top bits of a 64-bit key
// hash), several per tag, in one open-addressing array of 8-byte slots. The
// caller keeps the full keys (the URL arena, the content hashes) and checks
// every DocId a lookup yields against its own key: a tag narrows a lookup to
// the true entries plus, at n entries, ~n/2^32 strangers.
//
//   index::TagTable ids;  ids.Insert(tag, 7);
//   ids.ForEach(tag, [&](DocId d) { return !IsMine(d); });  // false stops
//
// Entries of one tag are visited in the order they were inserted (linear
// probing from a home slot derived from the tag alone; deletion shifts
// entries back, never past one another; growth re-inserts each probe run in
// order). The array grows by 1.25x at 80% load, so it holds 10-12.5 bytes
// per entry (a power-of-two table would hold 10-20).
// Thread-safety: const methods may run concurrently; the others need
// exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/simhash_index.h"

namespace dedupd::index {

class TagTable {
 public:
  TagTable();

  // Files doc under tag (after the entries the tag already has). doc must be
  // < kNoDoc; the same (tag, doc) may be inserted twice (two entries).
  void Insert(uint32_t tag, DocId doc);
  // Removes one (tag, doc) entry; false if there is none.
  bool Remove(uint32_t tag, DocId doc);
  // Calls visit(doc) for each entry of tag, oldest first, until it returns false.
  template <typename Visit>
  void ForEach(uint32_t tag, Visit&& visit) const {
    const size_t n = slots_.size();
    for (size_t i = Home(tag, n); slots_[i].doc != kNoDoc; i = i + 1 == n ? 0 : i + 1) {
      if (slots_[i].tag == tag && !visit(slots_[i].doc)) return;
    }
  }

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

  static constexpr DocId kNoDoc = ~DocId{0};

 private:
  struct Slot {
    uint32_t tag = 0;
    DocId doc = kNoDoc;
  };
  // Lemire's multiply-shift: the tag's home in [0, n) for any n.
  static size_t Home(uint32_t tag, size_t n) {
    return static_cast<size_t>((uint64_t{tag} * n) >> 32);
  }
  void Grow();
  void Place(Slot s);

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace dedupd::index
