// Permuted-table SimHash index. Layout, sizing and measured speed:
// docs/fingerprint.md ("SimHash index").
#include "index/simhash_index.h"

#include <algorithm>
#include <bit>

namespace dedupd::index {
namespace {

// Slack kept free when a table is (re)built: one slot per bucket plus 1/8 of
// the entries. Inserts fill it; removes give it back.
constexpr size_t kSlackDivisor = 8;
// How many buckets a full bucket may look at, each way, to borrow a free slot
// before the table is rebuilt instead.
constexpr size_t kBorrowWindow = 64;
constexpr int kMinBucketBits = 4;
constexpr int kMaxBucketBits = 22;

size_t CapacityFor(size_t docs, int bucket_bits) {
  return docs + docs / kSlackDivisor + (size_t{1} << bucket_bits);
}

}  // namespace

void SimHashIndex::ScanPortable(const uint16_t* tag, const DocId* doc, size_t n, uint16_t query_tag,
                                int k, std::vector<const DocId*>* hits) {
  for (size_t i = 0; i < n; ++i) {
    if (std::popcount(static_cast<uint16_t>(tag[i] ^ query_tag)) <= k) hits->push_back(doc + i);
  }
}

// The same loop compiled for the POPCNT instruction, which baseline x86-64
// lacks (popcount is then a dozen instructions, and the scan is this loop).
__attribute__((target("popcnt"))) void SimHashIndex::ScanPopcnt(const uint16_t* tag,
                                                                const DocId* doc, size_t n,
                                                                uint16_t query_tag, int k,
                                                                std::vector<const DocId*>* hits) {
  for (size_t i = 0; i < n; ++i) {
    if (__builtin_popcount(static_cast<uint32_t>(tag[i] ^ query_tag)) <= k) {
      hits->push_back(doc + i);
    }
  }
}

void SimHashIndex::SortByBucket(std::vector<Pending>* pending, int bucket_bits) {
  // LSD radix sort on the top bucket_bits bits, at most 11 bits per pass: each
  // pass writes to at most 2048 sequential streams, which the caches absorb,
  // where placing unsorted entries would miss the cache on every write.
  const int passes = (bucket_bits + 10) / 11;
  std::vector<Pending> tmp(pending->size());
  int done = 0;
  for (int p = 0; p < passes; ++p) {
    const int width = (bucket_bits - done) / (passes - p);
    const int shift = 64 - bucket_bits + done;
    const uint64_t mask = (uint64_t{1} << width) - 1;
    std::vector<size_t> offset((size_t{1} << width) + 1, 0);
    for (const Pending& e : *pending) ++offset[((e.rotated >> shift) & mask) + 1];
    for (size_t b = 1; b < offset.size(); ++b) offset[b] += offset[b - 1];
    for (const Pending& e : *pending) tmp[offset[(e.rotated >> shift) & mask]++] = e;
    pending->swap(tmp);
    done += width;
  }
}

SimHashIndex::SimHashIndex(int max_distance)
    : max_distance_(std::clamp(max_distance, 0, kMaxSupportedDistance)) {
  __builtin_cpu_init();
  scan_ = __builtin_cpu_supports("popcnt") ? &ScanPopcnt : &ScanPortable;
  // max_distance + 1 blocks as equal as possible, the first ones one bit wider.
  const int blocks = max_distance_ + 1;
  tables_.resize(static_cast<size_t>(blocks));
  int offset = 0;
  for (int t = 0; t < blocks; ++t) {
    Table& table = tables_[static_cast<size_t>(t)];
    table.rotation = offset;
    table.block_bits = 64 / blocks + (t < 64 % blocks ? 1 : 0);
    offset += table.block_bits;
    Rebuild(table, CapacityFor(0, kMinBucketBits), kMinBucketBits);
  }
}

SimHashIndex::Key SimHashIndex::Split(const Table& t, uint64_t rotated) {
  // bucket_bits is 4 to 22: no shift by 64.
  return {static_cast<size_t>(rotated >> (64 - t.bucket_bits)),
          static_cast<uint16_t>((rotated << t.bucket_bits) >> 48)};
}

int SimHashIndex::BucketBitsFor(const Table& t, size_t docs) const {
  // About 8 entries per bucket: the directory (8 bytes per bucket) stays at
  // ~1 byte per entry. Never wider than the block: beyond it, the pigeonhole
  // guarantee would not hold.
  const int want = static_cast<int>(std::bit_width(docs)) - 3;
  return std::clamp(want, kMinBucketBits, std::min(kMaxBucketBits, t.block_bits));
}

void SimHashIndex::Rebuild(Table& t, size_t capacity, int bucket_bits,
                           std::span<const Pending> extra) {
  const size_t buckets = size_t{1} << bucket_bits;
  const int shift = 64 - bucket_bits;
  const size_t old_buckets = t.dir.empty() ? 0 : t.dir.size() - 1;
  // With the same directory an entry keeps its bucket and tag; with another
  // one both come from its fingerprint (read once per entry and pass: the
  // directory changes once per doubling of the index).
  const bool same = bucket_bits == t.bucket_bits;
  auto new_bucket = [&](size_t b, uint32_t i) {
    return same ? b : static_cast<size_t>(std::rotl(hashes_[t.doc[i]], t.rotation) >> shift);
  };
  Table::Array<Bucket> dir(buckets + 1, Bucket{0, 0});
  // Pass 1: count the entries of every new bucket.
  size_t entries = extra.size();
  for (size_t b = 0; b < old_buckets; ++b) {
    for (uint32_t i = t.dir[b].start, e = i + t.dir[b].fill; i < e; ++i) {
      ++dir[new_bucket(b, i)].fill;
    }
    entries += t.dir[b].fill;
  }
  for (const Pending& p : extra) ++dir[p.rotated >> shift].fill;
  // Every bucket gets one free slot (so the entry that triggered a rebuild
  // fits), and the rest of the slack in proportion to its entries: skewed
  // buckets (clusters of near-identical pages) keep room for their growth.
  capacity = std::max(capacity, entries + buckets);
  const size_t spare = capacity - entries - buckets;
  size_t pos = 0, seen = 0, given = 0;
  for (size_t b = 0; b < buckets; ++b) {
    dir[b].start = static_cast<uint32_t>(pos);
    seen += dir[b].fill;
    const size_t share = entries == 0 ? spare * (b + 1) / buckets : spare * seen / entries;
    pos += dir[b].fill + 1 + (share - given);
    given = share;
    dir[b].fill = 0;
  }
  dir[buckets].start = static_cast<uint32_t>(pos);  // == capacity
  // Pass 2: place them. The new layout is written into fresh arrays (the old
  // ones are read through `t`), so the peak is two copies of one table.
  Table next;
  next.rotation = t.rotation;
  next.block_bits = t.block_bits;
  next.bucket_bits = bucket_bits;
  next.tag.resize(pos);
  next.doc.resize(pos);
  for (size_t b = 0; b < old_buckets; ++b) {
    for (uint32_t i = t.dir[b].start, e = i + t.dir[b].fill; i < e; ++i) {
      if (same) {
        const uint32_t to = dir[b].start + dir[b].fill++;
        next.tag[to] = t.tag[i];
        next.doc[to] = t.doc[i];
      } else {
        const Key key = Split(next, std::rotl(hashes_[t.doc[i]], t.rotation));
        const uint32_t to = dir[key.bucket].start + dir[key.bucket].fill++;
        next.tag[to] = key.tag;
        next.doc[to] = t.doc[i];
      }
    }
  }
  for (const Pending& p : extra) {
    const Key key = Split(next, p.rotated);
    const uint32_t to = dir[key.bucket].start + dir[key.bucket].fill++;
    next.tag[to] = key.tag;
    next.doc[to] = p.doc;
  }
  next.dir = std::move(dir);
  t = std::move(next);
}

bool SimHashIndex::BorrowSlot(Table& t, size_t bucket) {
  const size_t buckets = t.dir.size() - 1;
  auto has_room = [&t](size_t b) { return t.dir[b].start + t.dir[b].fill < t.dir[b + 1].start; };
  auto move = [&t](uint32_t from, uint32_t to) { t.Move(from, to); };
  // Nearest bucket to the right with a free slot: every bucket in between is
  // full, so moving each one's first entry to its end walks the free slot left.
  for (size_t j = bucket + 1; j < buckets && j <= bucket + kBorrowWindow; ++j) {
    if (!has_room(j)) continue;
    for (size_t m = j; m > bucket; --m) {
      const uint32_t s = t.dir[m].start;
      if (t.dir[m].fill > 0) move(s, s + t.dir[m].fill);
      t.dir[m].start = s + 1;
    }
    return true;
  }
  // Nearest to the left: move each full bucket's last entry in front of it.
  for (size_t j = bucket; j-- > 0 && bucket - j <= kBorrowWindow;) {
    if (!has_room(j)) continue;
    for (size_t m = j + 1; m <= bucket; ++m) {
      const uint32_t s = t.dir[m].start - 1;
      if (t.dir[m].fill > 0) move(s + t.dir[m].fill, s);
      t.dir[m].start = s;
    }
    return true;
  }
  return false;
}

void SimHashIndex::InsertInto(Table& t, uint64_t rotated, DocId doc) {
  Key key = Split(t, rotated);
  if (t.dir[key.bucket].start + t.dir[key.bucket].fill == t.dir[key.bucket + 1].start &&
      !BorrowSlot(t, key.bucket)) {
    const size_t entries = size_ + 1;
    const int bits = BucketBitsFor(t, entries);
    Rebuild(t, CapacityFor(entries, bits), bits);
    key = Split(t, rotated);
  }
  const uint32_t to = t.dir[key.bucket].start + t.dir[key.bucket].fill++;
  t.tag[to] = key.tag;
  t.doc[to] = doc;
}

bool SimHashIndex::RemoveFrom(Table& t, uint64_t rotated, DocId doc) {
  const Key key = Split(t, rotated);
  Bucket& b = t.dir[key.bucket];
  for (uint32_t i = b.start, e = b.start + b.fill; i < e; ++i) {
    if (t.doc[i] == doc && t.tag[i] == key.tag) {
      const uint32_t last = e - 1;  // buckets are unordered: fill the hole with the last entry
      t.Move(last, i);
      --b.fill;
      return true;
    }
  }
  return false;
}

void SimHashIndex::File(DocId doc, uint64_t hash) {
  while (hashes_.size() <= doc) hashes_.emplace_back();
  if (filed_.size() <= doc >> 6) filed_.resize((doc >> 6) + 1, 0);
  hashes_[doc] = hash;
  filed_[doc >> 6] |= uint64_t{1} << (doc & 63);
}

void SimHashIndex::Unfile(DocId doc) {
  for (Table& t : tables_) RemoveFrom(t, std::rotl(hashes_[doc], t.rotation), doc);
  hashes_[doc] = 0;
  filed_[doc >> 6] &= ~(uint64_t{1} << (doc & 63));
  --size_;
}

void SimHashIndex::Insert(DocId doc, SimHash64 hash) {
  if (Contains(doc)) {
    if (hashes_[doc] == hash.bits) return;
    Unfile(doc);
  }
  // Filed first: a rebuild the inserts trigger reads the fingerprints, and
  // this doc's entries are placed after it.
  File(doc, hash.bits);
  for (Table& t : tables_) InsertInto(t, std::rotl(hash.bits, t.rotation), doc);
  ++size_;
}

void SimHashIndex::InsertBatch(std::span<const std::pair<DocId, SimHash64>> entries) {
  if (entries.size() * 8 < size_) {  // small next to the index: a rebuild would cost more
    for (const auto& [doc, hash] : entries) Insert(doc, hash);
    return;
  }
  // The docs filed already leave the tables first (one fingerprint each).
  for (const auto& [doc, hash] : entries) {
    if (Contains(doc)) Unfile(doc);
  }
  // Last to first, so that a doc the batch names twice keeps its last hash.
  std::vector<std::pair<DocId, uint64_t>> batch;
  batch.reserve(entries.size());
  for (size_t i = entries.size(); i-- > 0;) {
    const auto& [doc, hash] = entries[i];
    if (Contains(doc)) continue;
    File(doc, hash.bits);
    batch.emplace_back(doc, hash.bits);
  }
  const size_t total = size_ + batch.size();
  std::vector<Pending> pending(batch.size());
  for (Table& t : tables_) {
    for (size_t i = 0; i < batch.size(); ++i) {
      pending[i] = {std::rotl(batch[i].second, t.rotation), batch[i].first};
    }
    const int bits = BucketBitsFor(t, total);
    SortByBucket(&pending, bits);
    Rebuild(t, CapacityFor(total, bits), bits, pending);
  }
  size_ = total;
}

bool SimHashIndex::Remove(DocId doc, SimHash64 hash) {
  if (!Contains(doc) || hashes_[doc] != hash.bits) return false;
  Unfile(doc);
  ShrinkIfSparse();
  return true;
}

void SimHashIndex::ShrinkIfSparse() {
  // Give memory back when the index has shrunk to a quarter of its capacity.
  for (Table& t : tables_) {
    if (t.tag.size() > 4096 && size_ < t.tag.size() / 4) {
      const int bits = BucketBitsFor(t, size_);
      Rebuild(t, CapacityFor(size_, bits), bits);
    }
  }
}

void SimHashIndex::Query(SimHash64 hash, int k, std::vector<Neighbor>* out) const {
  out->clear();
  if (k < 0) return;
  k = std::min(k, max_distance_);
  // With at most k differing bits at most k blocks differ, so among any k + 1
  // tables one has the query's block unchanged: a smaller k scans fewer tables.
  const size_t tables = static_cast<size_t>(k) + 1;
  Key key[kMaxSupportedDistance + 1];
  const Bucket* bucket[kMaxSupportedDistance + 1];
  // Rounds, so that the cache misses of all tables overlap instead of queueing:
  // directory entries, then every line of every bucket's tags, then the scans.
  for (size_t i = 0; i < tables; ++i) {
    key[i] = Split(tables_[i], std::rotl(hash.bits, tables_[i].rotation));
    bucket[i] = &tables_[i].dir[key[i].bucket];
    __builtin_prefetch(bucket[i]);
  }
  constexpr size_t kLine = 64 / sizeof(uint16_t);
  constexpr size_t kMaxPrefetchLines = 32;
  for (size_t i = 0; i < tables; ++i) {
    const uint16_t* first = tables_[i].tag.data() + bucket[i]->start;
    const size_t lines = std::min<size_t>(bucket[i]->fill / kLine + 1, kMaxPrefetchLines);
    for (size_t l = 0; l < lines; ++l) __builtin_prefetch(first + l * kLine);
  }
  thread_local std::vector<const DocId*> hits;
  hits.clear();
  for (size_t i = 0; i < tables; ++i) {
    const Table& t = tables_[i];
    const uint32_t s = bucket[i]->start;
    scan_(t.tag.data() + s, t.doc.data() + s, bucket[i]->fill, key[i].tag, k, &hits);
  }
  // The tag matches' DocIds, then their fingerprints: each round's cache
  // misses overlap instead of queueing behind one another.
  for (const DocId* h : hits) __builtin_prefetch(h);
  for (const DocId* h : hits) __builtin_prefetch(&hashes_[*h]);
  for (const DocId* h : hits) {
    const int d = std::popcount(hashes_[*h] ^ hash.bits);
    if (d <= k) out->push_back({*h, d});
  }
  if (out->size() < 2) return;
  // A document close to the query usually matches in several tables.
  std::sort(out->begin(), out->end(), [](const Neighbor& a, const Neighbor& b) {
    return a.doc != b.doc ? a.doc < b.doc : a.distance < b.distance;
  });
  out->erase(std::unique(out->begin(), out->end(),
                         [](const Neighbor& a, const Neighbor& b) { return a.doc == b.doc; }),
             out->end());
  std::sort(out->begin(), out->end(), [](const Neighbor& a, const Neighbor& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.doc < b.doc;
  });
}

size_t SimHashIndex::MemoryBytes() const {
  size_t bytes = tables_.capacity() * sizeof(Table);
  for (const Table& t : tables_) {
    bytes += LargeArrayAllocator<Bucket>::HeldBytes(t.dir.capacity()) +
             LargeArrayAllocator<uint16_t>::HeldBytes(t.tag.capacity()) +
             LargeArrayAllocator<DocId>::HeldBytes(t.doc.capacity());
  }
  return bytes + hashes_.MemoryBytes() + filed_.capacity() * sizeof(uint64_t);
}

void SimHashIndex::Reserve(size_t docs) {
  docs = std::max(docs, size_);
  for (Table& t : tables_) {
    const int bits = BucketBitsFor(t, docs);
    const size_t capacity = CapacityFor(docs, bits);
    if (capacity > t.tag.size() || bits != t.bucket_bits) {
      Rebuild(t, std::max(capacity, t.tag.size()), bits);
    }
  }
}

}  // namespace dedupd::index
