// TagTable: DocIds filed under a 32-bit tag (the top bits of a 64-bit key
// hash), several per tag, in a BucketArray: the tag's top 16 bits pick the
// bucket, an entry keeps the low 16 and the DocId (6 bytes). The caller
// keeps the full keys (the URL arena, the content hashes) and checks every
// DocId a lookup yields against its own key: a tag narrows a lookup to the
// true entries plus, at n entries, ~n/2^32 strangers (the same 32 bits as
// the 8-byte slots this table had before issue #15's session 7).
//
//   index::TagTable ids;  ids.Insert(tag, 7);
//   ids.ForEach(tag, [&](DocId d) { return !IsMine(d); });  // false stops
//
// Entries of one tag are visited in the order they were inserted (a bucket
// keeps a key's entries in order). A lookup is a binary search in its
// bucket (~15 entries at 10^6). 6-6.4 bytes per entry (1/16 slack; 6-6.9 at 1/8 before session 9)
// plus a 512 KiB directory (the open-addressing array of 8-byte slots it replaced held 10-12.5).
// Thread-safety: const methods may run concurrently; the others need
// exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>

#include "index/bucket_array.h"
#include "index/simhash_index.h"

namespace dedupd::index {

class TagTable {
 public:
  // Files doc under tag (after the entries the tag already has). doc must be
  // < kNoDoc; the same (tag, doc) may be inserted twice (two entries).
  void Insert(uint32_t tag, DocId doc) {
    entries_.Insert(tag >> 16, static_cast<uint16_t>(tag), doc);
  }
  // Removes one (tag, doc) entry; false if there is none.
  bool Remove(uint32_t tag, DocId doc);
  // Calls visit(doc) for each entry of tag, oldest first, until it returns false.
  template <typename Visit>
  void ForEach(uint32_t tag, Visit&& visit) const {
    const auto [lo, hi] = entries_.Range(tag >> 16, static_cast<uint16_t>(tag));
    for (uint32_t i = lo; i < hi; ++i) {
      if (!visit(entries_.value(i))) return;
    }
  }

  size_t size() const { return entries_.size(); }
  size_t MemoryBytes() const { return entries_.MemoryBytes(); }

  static constexpr DocId kNoDoc = ~DocId{0};

 private:
  BucketArray entries_;
};

}  // namespace dedupd::index
