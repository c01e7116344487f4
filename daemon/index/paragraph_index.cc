// Paragraph-fingerprint postings with a boilerplate cut-off. See
// docs/fingerprint.md ("Paragraph index").
#include "index/paragraph_index.h"

#include <algorithm>

namespace dedupd::index {
namespace {

constexpr size_t kBorrowWindow = 64;
constexpr size_t kSlackDivisor = 8;  // a rebuild leaves 1/8 of the entries free

// The distinct tags of a span of hashes or tags: hashes with one tag are one
// paragraph.
template <typename T>
std::vector<uint32_t> DistinctTags(std::span<const T> values) {
  std::vector<uint32_t> v;
  v.reserve(values.size());
  for (const T x : values) {
    if constexpr (sizeof(T) == sizeof(uint64_t)) {
      v.push_back(ParagraphIndex::Tag(x));
    } else {
      v.push_back(x);
    }
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

ParagraphIndex::ParagraphIndex(size_t max_postings)
    : max_postings_(std::clamp<size_t>(max_postings, 1, kBoilerplate - 2)) {}

void ParagraphIndex::Rebuild(size_t capacity) {
  capacity = std::max(capacity, entries_ + kBuckets);
  const size_t spare = capacity - entries_ - kBuckets;
  Array<Bucket> dir(kBuckets + 1, Bucket{0, 0});
  Array<uint16_t> low(capacity);
  Array<uint32_t> doc(capacity);
  // Every bucket gets one free slot, and the rest of the slack in proportion
  // to its entries; a bucket's entries keep their order.
  size_t pos = 0, seen = 0, given = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    const uint32_t fill = dir_.empty() ? 0 : dir_[b].fill;
    dir[b] = Bucket{static_cast<uint32_t>(pos), fill};
    if (fill > 0) {
      std::copy_n(low_.begin() + dir_[b].start, fill, low.begin() + static_cast<ptrdiff_t>(pos));
      std::copy_n(doc_.begin() + dir_[b].start, fill, doc.begin() + static_cast<ptrdiff_t>(pos));
    }
    seen += fill;
    const size_t share = entries_ == 0 ? spare * (b + 1) / kBuckets : spare * seen / entries_;
    pos += fill + 1 + (share - given);
    given = share;
  }
  dir[kBuckets] = Bucket{static_cast<uint32_t>(pos), 0};  // pos == capacity
  dir_ = std::move(dir);
  low_ = std::move(low);
  doc_ = std::move(doc);
}

bool ParagraphIndex::BorrowSlot(size_t bucket) {
  auto has_room = [this](size_t b) { return dir_[b].start + dir_[b].fill < dir_[b + 1].start; };
  auto move = [this](uint32_t from, uint32_t to) {
    low_[to] = low_[from];
    doc_[to] = doc_[from];
  };
  // Nearest bucket to the right with a free slot: every bucket in between is
  // full, so moving each one's first entry to its end walks the free slot left.
  for (size_t j = bucket + 1; j < kBuckets && j <= bucket + kBorrowWindow; ++j) {
    if (!has_room(j)) continue;
    for (size_t m = j; m > bucket; --m) {
      const uint32_t s = dir_[m].start;
      if (dir_[m].fill > 0) move(s, s + dir_[m].fill);
      dir_[m].start = s + 1;
    }
    return true;
  }
  // Nearest to the left: move each full bucket's last entry in front of it.
  for (size_t j = bucket; j-- > 0 && bucket - j <= kBorrowWindow;) {
    if (!has_room(j)) continue;
    for (size_t m = j + 1; m <= bucket; ++m) {
      const uint32_t s = dir_[m].start - 1;
      if (dir_[m].fill > 0) move(s + dir_[m].fill, s);
      dir_[m].start = s;
    }
    return true;
  }
  return false;
}

void ParagraphIndex::Place(size_t b, uint16_t low, uint32_t doc) {
  if (dir_.empty()) Rebuild(kBuckets);
  if (dir_[b].start + dir_[b].fill == dir_[b + 1].start && !BorrowSlot(b)) {
    Rebuild(entries_ + 1 + (entries_ + 1) / kSlackDivisor + kBuckets);
  }
  const uint32_t to = dir_[b].start + dir_[b].fill++;
  low_[to] = low;
  doc_[to] = doc;
  ++entries_;
}

void ParagraphIndex::EraseAt(size_t b, uint32_t i) {
  const uint32_t last = dir_[b].start + --dir_[b].fill;
  low_[i] = low_[last];
  doc_[i] = doc_[last];
  --entries_;
}

void ParagraphIndex::Insert(DocId doc, std::span<const uint64_t> paragraph_hashes) {
  InsertDistinct(doc, DistinctTags(paragraph_hashes));
}

void ParagraphIndex::InsertTags(DocId doc, std::span<const uint32_t> tags) {
  InsertDistinct(doc, DistinctTags(tags));
}

void ParagraphIndex::Remove(DocId doc, std::span<const uint64_t> paragraph_hashes) {
  RemoveDistinct(doc, DistinctTags(paragraph_hashes));
}

void ParagraphIndex::RemoveTags(DocId doc, std::span<const uint32_t> tags) {
  RemoveDistinct(doc, DistinctTags(tags));
}

void ParagraphIndex::InsertDistinct(DocId doc, const std::vector<uint32_t>& tags) {
  for (const uint32_t tag : tags) {
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    // The paragraph's entries: its holders, or its boilerplate count.
    size_t holders = 0;
    uint32_t boilerplate = ~uint32_t{0};
    bool held = false;
    if (!dir_.empty()) {
      for (uint32_t i = dir_[b].start, e = i + dir_[b].fill; i < e; ++i) {
        if (low_[i] != low) continue;
        if (doc_[i] & kBoilerplate) boilerplate = i;
        ++holders;
        held |= doc_[i] == doc;
      }
    }
    if (boilerplate != ~uint32_t{0}) {  // count only
      ++doc_[boilerplate];
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      ++postings_;
      continue;
    }
    if (held) continue;
    ++postings_;
    if (holders == 0) ++keys_;
    if (holders + 1 > max_postings_) {
      // Past the cut-off: the holders' entries give way to one count. From
      // the end, so that the entry moved into a hole was looked at already.
      const uint32_t start = dir_[b].start;
      for (uint32_t i = start + dir_[b].fill; i-- > start;) {
        if (low_[i] != low) continue;
        if (boilerplate_listener_) boilerplate_listener_(doc_[i], tag);
        EraseAt(b, i);
      }
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      Place(b, low, kBoilerplate | static_cast<uint32_t>(holders + 1));
      continue;
    }
    Place(b, low, doc);
  }
}

void ParagraphIndex::RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags) {
  if (dir_.empty()) return;
  for (const uint32_t tag : tags) {
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    uint32_t mine = ~uint32_t{0};
    size_t holders = 0;
    for (uint32_t i = dir_[b].start, e = i + dir_[b].fill; i < e; ++i) {
      if (low_[i] != low) continue;
      if (doc_[i] & kBoilerplate) {
        --doc_[i];  // the holders are not known: trust the caller
        --postings_;
        if (doc_[i] == kBoilerplate) {
          EraseAt(b, i);
          --keys_;
        }
        holders = 0;
        break;
      }
      ++holders;
      if (doc_[i] == doc) mine = i;
    }
    if (holders == 0 || mine == ~uint32_t{0}) continue;
    EraseAt(b, mine);
    --postings_;
    if (holders == 1) --keys_;
  }
  const size_t capacity = dir_[kBuckets].start;
  if (capacity > 2 * kBuckets && (entries_ + kBuckets) * 4 < capacity) {
    Rebuild(entries_ + entries_ / kSlackDivisor + kBuckets);
  }
}

void ParagraphIndex::RemoveByPrefix(DocId doc, std::span<const uint16_t> prefixes,
                                    std::vector<uint32_t>* removed,
                                    std::vector<uint16_t>* unmatched) {
  for (const uint16_t prefix : prefixes) {
    uint32_t found = 0;
    if (!dir_.empty()) {
      for (uint32_t i = dir_[prefix].start, e = i + dir_[prefix].fill; i < e; ++i) {
        if (doc_[i] == doc) {
          found = uint32_t{prefix} << 16 | low_[i];
          break;
        }
      }
    }
    if (found == 0) {
      unmatched->push_back(prefix);
      continue;
    }
    RemoveDistinct(doc, {found});
    removed->push_back(found);
  }
}

void ParagraphIndex::Query(std::span<const uint64_t> paragraph_hashes, size_t min_shared,
                           size_t max_results, std::vector<std::pair<DocId, uint32_t>>* out) const {
  out->clear();
  std::vector<DocId> hits;
  for (const uint32_t tag : DistinctTags(paragraph_hashes)) {
    const size_t first = hits.size();
    if (dir_.empty()) break;
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    for (uint32_t i = dir_[b].start, e = i + dir_[b].fill; i < e; ++i) {
      if (low_[i] != low) continue;
      const uint32_t d = doc_[i];
      if (d & kBoilerplate) {
        hits.resize(first);
        break;
      }
      hits.push_back(d);
    }
  }
  std::sort(hits.begin(), hits.end());
  const size_t need = std::max<size_t>(min_shared, 1);
  for (size_t i = 0; i < hits.size();) {
    size_t j = i;
    while (j < hits.size() && hits[j] == hits[i]) ++j;
    if (j - i >= need) out->emplace_back(hits[i], static_cast<uint32_t>(j - i));
    i = j;
  }
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out->size() > max_results) out->resize(max_results);
}

size_t ParagraphIndex::MemoryBytes() const {
  return LargeArrayAllocator<Bucket>::HeldBytes(dir_.capacity()) +
         LargeArrayAllocator<uint16_t>::HeldBytes(low_.capacity()) +
         LargeArrayAllocator<uint32_t>::HeldBytes(doc_.capacity());
}

}  // namespace dedupd::index
