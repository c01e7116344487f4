// In-memory index of 64-bit SimHash fingerprints that answers "which documents
// are within Hamming distance k of this fingerprint?" without scanning them all.
// Permuted tables after Manku, Jain and Das Sarma (WWW 2007): the 64 bits are
// cut into max_distance + 1 blocks; two fingerprints within max_distance bits
// agree exactly on at least one block (pigeonhole), so table t keeps every
// fingerprint filed under its block t and a query scans one bucket per table.
//
//   index::SimHashIndex idx(/*max_distance=*/3);
//   idx.Insert(7, sh);  std::vector<index::Neighbor> near;  idx.Query(sh, 3, &near);
//
// Thread-safety: const methods may run concurrently with each other; Insert,
// Remove and Reserve need exclusive access (the classify stage owns the index).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "common/types.h"
#include "index/large_array_allocator.h"

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
  // layout (max_distance + 1 tables, ~13.5 bytes per document each).
  // Document ids need not be dense.
  static constexpr int kMaxSupportedDistance = 15;
  explicit SimHashIndex(int max_distance = 3);

  // Adds (doc, hash). No duplicate check: inserting the same pair twice keeps
  // two entries (Query still reports the doc once), and each needs a Remove.
  void Insert(DocId doc, SimHash64 hash);
  // Adds many entries at once (loading the index at start-up): one radix sort
  // and rebuild per table instead of a random write per entry and table. A
  // batch smaller than 1/8 of the index is inserted entry by entry.
  void InsertBatch(std::span<const std::pair<DocId, SimHash64>> entries);
  // Removes one (doc, hash) entry; false if there is none. A revised page is
  // re-filed with Remove(doc, old) + Insert(doc, new).
  bool Remove(DocId doc, SimHash64 hash);
  // Replaces *out with every document within distance k (k is clamped to
  // max_distance; k < 0 finds nothing), nearest first, ties by doc id, each doc
  // once (at its smallest distance if it was inserted with several hashes).
  void Query(SimHash64 hash, int k, std::vector<Neighbor>* out) const;

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
  // (a directory entry), the remaining 64 - bucket_bits bits are stored split
  // in `hi` (the next 32) and `tail[i].lo` (the rest, left-aligned). A query
  // scans only `hi` (4 bytes per candidate: the scan is memory-bound) and reads
  // `tail` (low bits and doc id, one cache line) only for candidates within k
  // on those 32 bits: the true neighbours and ~1e-6 of the others.
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
  // The top 16 of lo's 32 bits and the doc id, 6 bytes. Lo's other 16 bits
  // are zero once the bucket takes 16 bits (k <= 3 from 2^19 documents:
  // 64 - 16 - 32 = 16 bits remain after hi); below, `low` keeps them.
  struct Tail {
    uint16_t part[3];
    uint16_t lo16() const { return part[0]; }
    DocId doc() const {
      DocId d;
      std::memcpy(&d, part + 1, sizeof d);
      return d;
    }
    static Tail Make(uint32_t lo, DocId doc) {
      Tail t;
      t.part[0] = static_cast<uint16_t>(lo >> 16);
      std::memcpy(t.part + 1, &doc, sizeof doc);
      return t;
    }
  };
  static_assert(sizeof(Tail) == 6);
  struct Table {
    int rotation = 0;     // rotl amount that brings this table's block to the top bits
    int block_bits = 0;   // width of the block (an upper bound for bucket_bits)
    int bucket_bits = 0;  // directory size: 2^bucket_bits buckets
    template <typename T>
    using Array = std::vector<T, LargeArrayAllocator<T>>;
    Array<Bucket> dir;  // 2^bucket_bits + 1 entries (the last one: start = capacity)
    Array<uint32_t> hi;
    Array<Tail> tail;
    Array<uint16_t> low;  // lo's low 16 bits, only while bucket_bits < 16 (else empty)
    uint32_t Lo(size_t i) const {
      return uint32_t{tail[i].lo16()} << 16 | (low.empty() ? 0u : low[i]);
    }
    void Move(size_t from, size_t to) {
      hi[to] = hi[from];
      tail[to] = tail[from];
      if (!low.empty()) low[to] = low[from];
    }
  };
  // A fingerprint as one table stores it.
  struct Key {
    size_t bucket;
    uint32_t hi;
    uint32_t lo;
  };
  struct Pending {  // an entry waiting to be placed by a rebuild
    uint64_t rotated;
    DocId doc;
  };

  // Appends (docs[i], distance) for every i < n whose distance to the query is <= k.
  // `low` may be null (bucket_bits >= 16: those bits are zero).
  using ScanFn = void (*)(const uint32_t* hi, const Tail* tail, const uint16_t* low, size_t n,
                          uint32_t query_hi, uint32_t query_lo, int k, std::vector<Neighbor>* out);

  static void ScanPortable(const uint32_t* hi, const Tail* tail, const uint16_t* low, size_t n,
                           uint32_t query_hi, uint32_t query_lo, int k, std::vector<Neighbor>* out);
  static void ScanPopcnt(const uint32_t* hi, const Tail* tail, const uint16_t* low, size_t n,
                         uint32_t query_hi, uint32_t query_lo, int k, std::vector<Neighbor>* out);
  static void SortByBucket(std::vector<Pending>* pending, int bucket_bits);
  static Key Split(const Table& t, uint64_t rotated);
  static uint64_t Join(const Table& t, size_t bucket, uint32_t hi, uint32_t lo);
  void InsertInto(Table& t, uint64_t rotated, DocId doc);
  bool RemoveFrom(Table& t, uint64_t rotated, DocId doc);
  bool BorrowSlot(Table& t, size_t bucket);
  void Rebuild(Table& t, size_t capacity, int bucket_bits, std::span<const Pending> extra = {});
  int BucketBitsFor(const Table& t, size_t docs) const;

  int max_distance_;
  size_t size_ = 0;
  std::vector<Table> tables_;
  ScanFn scan_;  // popcnt instruction when the CPU has it (chosen at run time)
};

}  // namespace dedupd::index
