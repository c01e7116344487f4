// In-memory index of 64-bit SimHash fingerprints that answers "which documents
// are within Hamming distance k of this fingerprint?" without scanning them all.
// Permuted tables after Manku, Jain and Das Sarma (WWW 2007): the 64 bits are
// cut into max_distance + 1 blocks; two fingerprints within max_distance bits
// agree exactly on at least one block (pigeonhole), so table t keeps every
// fingerprint filed under its block t and a query scans one bucket per table.
// Each document has one fingerprint, held once, in a per-DocId array
// (Hash()); a table entry is a 16-bit tag and the DocId (6 bytes), and the
// few entries whose tag is within k of the query's are confirmed against
// that array (issue #15: ~36.5 bytes per document at 10^6, where entries that
// held the fingerprint's low bits took ~46 plus the detector's own copy).
//
//   index::SimHashIndex idx(/*max_distance=*/3);
//   idx.Insert(7, sh);  std::vector<index::Neighbor> near;  idx.Query(sh, 3, &near);
//   idx.Hash(7) == sh;
//
// Thread-safety: const methods may run concurrently with each other; Insert,
// Remove and Reserve need exclusive access (the classify stage owns the index).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/types.h"
#include "index/large_array_allocator.h"
#include "index/paged_array.h"

namespace dedupd::index {

using DocId = uint32_t;

struct Neighbor {
  DocId doc;
  int distance;
  friend bool operator==(const Neighbor&, const Neighbor&) = default;
};

class SimHashIndex {
 public:
  // max_distance is clamped to [0, kMaxSupportedDistance]; it fixes the table
  // layout (max_distance + 1 tables, ~7 bytes per document each, plus 8
  // bytes per DocId for the fingerprints). DocIds should be dense: the
  // fingerprint array has a slot for every DocId up to the largest filed.
  static constexpr int kMaxSupportedDistance = 15;
  explicit SimHashIndex(int max_distance = 3);

  // Files doc under hash. A document has one fingerprint: a doc filed already
  // is re-filed under the new one (its old entries go).
  void Insert(DocId doc, SimHash64 hash);
  // Adds many entries at once (loading the index at start-up): one radix sort
  // and rebuild per table instead of a random write per entry and table. A
  // batch smaller than 1/8 of the index is inserted entry by entry. A doc
  // that appears twice ends up filed under its last hash, as with Insert.
  void InsertBatch(std::span<const std::pair<DocId, SimHash64>> entries);
  // Removes doc if it is filed under hash; false otherwise. A revised page is
  // re-filed with Remove(doc, old) + Insert(doc, new).
  bool Remove(DocId doc, SimHash64 hash);
  // Replaces *out with every document within distance k (k is clamped to
  // max_distance; k < 0 finds nothing), nearest first, ties by doc id.
  void Query(SimHash64 hash, int k, std::vector<Neighbor>* out) const;
  // The fingerprint doc is filed under; 0 if it is not filed.
  SimHash64 Hash(DocId doc) const {
    return SimHash64{doc < hashes_.size() ? hashes_[doc] : uint64_t{0}};
  }
  bool Contains(DocId doc) const {
    return doc < hashes_.size() && ((filed_[doc >> 6] >> (doc & 63)) & 1) != 0;
  }

  size_t size() const { return size_; }
  int max_distance() const { return max_distance_; }
  int table_count() const { return static_cast<int>(tables_.size()); }
  // Bytes held, from the containers' capacities (huge-page rounding included,
  // malloc overhead not).
  size_t MemoryBytes() const;
  // Makes room for `docs` documents in total, so that loading them moves no data.
  void Reserve(size_t docs);

 private:
  // One permuted table. The fingerprint is rotated so that the table's block
  // leads; the top `bucket_bits` bits of the rotated value pick the bucket
  // (a directory entry), and the next 16 bits are the entry's tag. A query
  // scans only the tags (2 bytes per candidate: the scan is memory-bound) and
  // reads the DocId and its fingerprint (hashes_) only for the entries whose
  // tag is within k of the query's: the true neighbours and ~1% of the others
  // (697 of the 65,536 tags are within 3 bits).
  //
  // Bucket b owns the slots [dir[b].start, dir[b+1].start), of which the first
  // dir[b].fill are used, in no particular order. Free slots at the ends of
  // buckets absorb inserts; a full bucket borrows a slot from the nearest
  // bucket with room (shifting the buckets in between by one entry each), and
  // when none is near the table is rebuilt with fresh slack.
  struct Bucket {
    uint32_t start;
    uint32_t fill;
  };
  struct Table {
    int rotation = 0;     // rotl amount that brings this table's block to the top bits
    int block_bits = 0;   // width of the block (an upper bound for bucket_bits)
    int bucket_bits = 0;  // directory size: 2^bucket_bits buckets
    template <typename T>
    using Array = std::vector<T, LargeArrayAllocator<T>>;
    Array<Bucket> dir;  // 2^bucket_bits + 1 entries (the last one: start = capacity)
    Array<uint16_t> tag;
    Array<DocId> doc;
    void Move(size_t from, size_t to) {
      tag[to] = tag[from];
      doc[to] = doc[from];
    }
  };
  // A fingerprint as one table files it.
  struct Key {
    size_t bucket;
    uint16_t tag;
  };
  struct Pending {  // an entry waiting to be placed by a rebuild
    uint64_t rotated;
    DocId doc;
  };

  // Appends &doc[i] for every i < n whose tag is within k of query_tag.
  using ScanFn = void (*)(const uint16_t* tag, const DocId* doc, size_t n, uint16_t query_tag,
                          int k, std::vector<const DocId*>* hits);

  static void ScanPortable(const uint16_t* tag, const DocId* doc, size_t n, uint16_t query_tag,
                           int k, std::vector<const DocId*>* hits);
  static void ScanPopcnt(const uint16_t* tag, const DocId* doc, size_t n, uint16_t query_tag, int k,
                         std::vector<const DocId*>* hits);
  static void SortByBucket(std::vector<Pending>* pending, int bucket_bits);
  static Key Split(const Table& t, uint64_t rotated);
  void InsertInto(Table& t, uint64_t rotated, DocId doc);
  bool RemoveFrom(Table& t, uint64_t rotated, DocId doc);
  bool BorrowSlot(Table& t, size_t bucket);
  void Rebuild(Table& t, size_t capacity, int bucket_bits, std::span<const Pending> extra = {});
  int BucketBitsFor(const Table& t, size_t docs) const;
  // Records doc's fingerprint (slots up to doc are made).
  void File(DocId doc, uint64_t hash);
  // Takes doc's entries out of every table and its fingerprint out of hashes_.
  void Unfile(DocId doc);
  void ShrinkIfSparse();

  int max_distance_;
  size_t size_ = 0;
  std::vector<Table> tables_;
  PagedArray<uint64_t> hashes_;  // by DocId: the fingerprint filed (0 if none)
  std::vector<uint64_t> filed_;  // by DocId, one bit each: filed (a fingerprint may be 0)
  ScanFn scan_;                  // popcnt instruction when the CPU has it (chosen at run time)
};

}  // namespace dedupd::index
