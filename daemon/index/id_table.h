// IdTable: DocIds filed under a 32-bit tag of their own key, several per tag,
// in one open-addressing array of 4-byte slots that hold only the DocId. The
// owner keeps the keys (the detector: each document's content hash, in
// Current) and gives the table a function from DocId to tag; a lookup asks it
// for the tag of every DocId on its probe run. TagTable keeps the tag in the
// slot (8 bytes) and never asks; this one holds half of that (issue #15:
// ~5.7 bytes per document where by_content_ took 10.4) for a read of the
// owner's key per slot probed.
//
//   index::IdTable ids(&TagOfDoc, &owner);  ids.Insert(7);
//   ids.ForEach(tag, [&](DocId d) { return !IsMine(d); });  // false stops
//
// A DocId's tag must not change while it is in the table (remove it, change
// the key, insert it again), and a DocId is in the table at most once.
// Entries of one tag are visited in the order they were inserted (linear
// probing from a home slot derived from the tag alone; deletion shifts
// entries back, never past one another; growth re-inserts each probe run in
// order), as in TagTable. The array grows by 1.25x at 80% load: 5-6.25 bytes
// per entry.
// Thread-safety: const methods may run concurrently (if the tag function
// allows it); the others need exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/simhash_index.h"

namespace dedupd::index {

class IdTable {
 public:
  using TagOf = uint32_t (*)(const void* context, DocId doc);
  IdTable(TagOf tag_of, const void* context);

  // Files doc under its tag (after the entries the tag already has). doc must
  // be < kNoDoc and not in the table.
  void Insert(DocId doc);
  // Removes doc (looked up under its tag); false if it is not there.
  bool Remove(DocId doc);
  // Calls visit(doc) for each entry of tag, oldest first, until it returns false.
  template <typename Visit>
  void ForEach(uint32_t tag, Visit&& visit) const {
    const size_t n = slots_.size();
    for (size_t i = Home(tag, n); slots_[i] != kNoDoc; i = i + 1 == n ? 0 : i + 1) {
      if (Tag(slots_[i]) == tag && !visit(slots_[i])) return;
    }
  }

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(DocId); }

  static constexpr DocId kNoDoc = ~DocId{0};

 private:
  // Lemire's multiply-shift: the tag's home in [0, n) for any n.
  static size_t Home(uint32_t tag, size_t n) {
    return static_cast<size_t>((uint64_t{tag} * n) >> 32);
  }
  uint32_t Tag(DocId doc) const { return tag_of_(context_, doc); }
  void Grow();
  void Place(DocId doc);

  TagOf tag_of_;
  const void* context_;
  std::vector<DocId> slots_;
  size_t size_ = 0;
};

}  // namespace dedupd::index
