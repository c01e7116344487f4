// BucketArray: 2^16 buckets of 6-byte entries (a 16-bit key and a 32-bit
// value), each bucket's entries sorted by key, a key's entries in the order
// they were inserted, in two flat arrays. For tables that file a 32-bit tag: the bucket is the
// tag's top 16 bits, the entry keeps the low 16, so an entry holds the whole tag in 6 bytes, and
// the arrays grow without knowing anything else about it (ParagraphIndex, TagTable; issue #15,
// session 7).
//
//   index::BucketArray a;
//   a.Insert(tag >> 16, static_cast<uint16_t>(tag), doc);
//   auto [lo, hi] = a.Range(tag >> 16, static_cast<uint16_t>(tag));  // its entries
//
// Layout as SimHashIndex's tables: bucket b owns [dir_[b].start,
// dir_[b + 1].start), of which the first dir_[b].fill are used. A full bucket
// borrows a free slot from the nearest bucket with room within 64 (shifting
// the buckets in between by one slot, order kept), else the arrays are
// rebuilt with one free slot per bucket and 1/16 of the entries as slack
// shared in proportion to the buckets' entries (1/8 before issue #15's
// session 9: 2.6 B a document less in the passage index). So an entry costs
// 6-6.4 bytes, plus the 512 KiB directory (made at the first Insert). A lookup is
// a binary search in its bucket (~105 entries for 6.9 M); an insert or erase
// moves the bucket's later entries by one. Positions (begin, end, Range, an
// entry's index) hold until the next Insert or Erase.
// Thread-safety: const methods may run concurrently; the others need
// exclusive access.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "index/large_array_allocator.h"

namespace dedupd::index {

class BucketArray {
 public:
  static constexpr size_t kBuckets = size_t{1} << 16;

  size_t size() const { return entries_; }
  uint32_t begin(size_t b) const { return dir_.empty() ? 0 : dir_[b].start; }
  uint32_t end(size_t b) const { return dir_.empty() ? 0 : dir_[b].start + dir_[b].fill; }
  uint16_t key(uint32_t i) const { return key_[i]; }
  uint32_t value(uint32_t i) const { return value_[i]; }
  void set_value(uint32_t i, uint32_t v) { value_[i] = v; }

  // The positions [first, second) of bucket b's entries with this key.
  std::pair<uint32_t, uint32_t> Range(size_t b, uint16_t key) const {
    const auto first = key_.begin() + begin(b), last = key_.begin() + end(b);
    const auto lo = std::lower_bound(first, last, key);
    auto hi = lo;
    while (hi != last && *hi == key) ++hi;  // a key has one entry or a few
    return {static_cast<uint32_t>(lo - key_.begin()), static_cast<uint32_t>(hi - key_.begin())};
  }
  // Adds (key, value) to bucket b, after the key's entries.
  void Insert(size_t b, uint16_t key, uint32_t value) {
    if (dir_.empty()) Rebuild(kBuckets);
    if (dir_[b].start + dir_[b].fill == dir_[b + 1].start) {
      if (InsertBorrowing(b, key, value)) return;
      Rebuild(entries_ + 1 + (entries_ + 1) / kSlackDivisor + kBuckets);
    }
    const uint32_t at = Range(b, key).second, e = end(b);
    Put(at, e, key, value);
    ++dir_[b].fill;
  }
  // Takes entry i (of bucket b) out; the later ones move up, in order.
  void Erase(size_t b, uint32_t i) {
    const uint32_t last = dir_[b].start + --dir_[b].fill;
    std::copy(key_.begin() + i + 1, key_.begin() + last + 1, key_.begin() + i);
    std::copy(value_.begin() + i + 1, value_.begin() + last + 1, value_.begin() + i);
    --entries_;
  }
  // Takes out bucket b's entries whose value `drop` accepts, in one pass
  // (the others keep their order); returns how many.
  template <typename Drop>
  size_t EraseIf(size_t b, Drop drop) {
    if (dir_.empty()) return 0;
    const uint32_t first = dir_[b].start, last = first + dir_[b].fill;
    uint32_t to = first;
    for (uint32_t i = first; i < last; ++i) {
      if (drop(value_[i])) continue;
      key_[to] = key_[i];
      value_[to++] = value_[i];
    }
    const size_t dropped = last - to;
    dir_[b].fill -= static_cast<uint32_t>(dropped);
    entries_ -= dropped;
    return dropped;
  }
  // Lays the arrays out again, smaller, when at most a quarter is used.
  void ShrinkIfSparse() {
    if (dir_.empty()) return;
    const size_t capacity = dir_[kBuckets].start;
    if (capacity > 2 * kBuckets && (entries_ + kBuckets) * 4 < capacity) {
      Rebuild(entries_ + entries_ / kSlackDivisor + kBuckets);
    }
  }
  // From the arrays' capacities (huge-page rounding included).
  size_t MemoryBytes() const {
    return LargeArrayAllocator<Bucket>::HeldBytes(dir_.capacity()) +
           LargeArrayAllocator<uint16_t>::HeldBytes(key_.capacity()) +
           LargeArrayAllocator<uint32_t>::HeldBytes(value_.capacity());
  }

 private:
  static constexpr size_t kBorrowWindow = 64;
  static constexpr size_t kSlackDivisor = 16;
  struct Bucket {
    uint32_t start;
    uint32_t fill;
  };
  template <typename T>
  using Array = std::vector<T, LargeArrayAllocator<T>>;

  // Moves [at, e) one slot right and puts (key, value) at at.
  void Put(uint32_t at, uint32_t e, uint16_t key, uint32_t value) {
    std::copy_backward(key_.begin() + at, key_.begin() + e, key_.begin() + e + 1);
    std::copy_backward(value_.begin() + at, value_.begin() + e, value_.begin() + e + 1);
    key_[at] = key;
    value_[at] = value;
    ++entries_;
  }
  // Inserts into the full bucket b with a slot borrowed from the nearest
  // bucket with room within kBorrowWindow, either side; false if none. The
  // buckets in between are full, so their entries and b's are one
  // contiguous run: the entries between the insert position and the free
  // slot move by one in one move of each array (a move per bucket before,
  // two memmove calls each of a few entries, and another for b's own).
  bool InsertBorrowing(size_t bucket, uint16_t key, uint32_t value) {
    auto has_room = [this](size_t b) { return dir_[b].start + dir_[b].fill < dir_[b + 1].start; };
    for (size_t d = 1; d <= kBorrowWindow; ++d) {
      if (bucket + d < kBuckets && has_room(bucket + d)) {
        const uint32_t at = Range(bucket, key).second;
        Put(at, end(bucket + d), key, value);
        for (size_t m = bucket + 1; m <= bucket + d; ++m) ++dir_[m].start;
        ++dir_[bucket].fill;
        return true;
      }
      if (d <= bucket && has_room(bucket - d)) {
        const uint32_t at = Range(bucket, key).second, s = begin(bucket - d + 1);
        std::copy(key_.begin() + s, key_.begin() + at, key_.begin() + s - 1);
        std::copy(value_.begin() + s, value_.begin() + at, value_.begin() + s - 1);
        key_[at - 1] = key;
        value_[at - 1] = value;
        ++entries_;
        for (size_t m = bucket - d + 1; m <= bucket; ++m) --dir_[m].start;
        ++dir_[bucket].fill;
        return true;
      }
    }
    return false;
  }

  void Rebuild(size_t capacity) {
    capacity = std::max(capacity, entries_ + kBuckets);
    const size_t spare = capacity - entries_ - kBuckets;
    Array<Bucket> dir(kBuckets + 1, Bucket{0, 0});
    Array<uint16_t> key(capacity);
    Array<uint32_t> value(capacity);
    size_t pos = 0, seen = 0, given = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      const uint32_t fill = dir_.empty() ? 0 : dir_[b].fill;
      dir[b] = Bucket{static_cast<uint32_t>(pos), fill};
      if (fill > 0) {
        const uint32_t from = dir_[b].start;
        std::copy(key_.begin() + from, key_.begin() + from + fill, key.begin() + pos);
        std::copy(value_.begin() + from, value_.begin() + from + fill, value.begin() + pos);
      }
      seen += fill;
      const size_t share = entries_ == 0 ? spare * (b + 1) / kBuckets : spare * seen / entries_;
      pos += fill + 1 + (share - given);
      given = share;
    }
    dir[kBuckets] = Bucket{static_cast<uint32_t>(pos), 0};  // pos == capacity
    dir_ = std::move(dir);
    key_ = std::move(key);
    value_ = std::move(value);
  }

  size_t entries_ = 0;
  Array<Bucket> dir_;  // kBuckets + 1 (the last: start = capacity), or none before the first Insert
  Array<uint16_t> key_;
  Array<uint32_t> value_;
};

}  // namespace dedupd::index
