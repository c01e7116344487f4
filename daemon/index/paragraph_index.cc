// Paragraph-fingerprint postings with a boilerplate cut-off. See
// docs/fingerprint.md ("Paragraph index").
#include "index/paragraph_index.h"

#include <algorithm>

namespace dedupd::index {
namespace {

// The distinct tags of a span of hashes or tags, in *v (its buffer reused:
// one per index for the writer, one per thread for the queries): hashes with
// one tag are one paragraph.
template <typename T>
const std::vector<uint32_t>& DistinctTags(std::span<const T> values, std::vector<uint32_t>* v) {
  v->clear();
  for (const T x : values) {
    if constexpr (sizeof(T) == sizeof(uint64_t)) {
      v->push_back(ParagraphIndex::Tag(x));
    } else {
      v->push_back(x);
    }
  }
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
  return *v;
}

}  // namespace

ParagraphIndex::ParagraphIndex(size_t max_postings)
    : max_postings_(std::clamp<size_t>(max_postings, 1, kBoilerplate - 2)) {}

void ParagraphIndex::Insert(DocId doc, std::span<const uint64_t> paragraph_hashes) {
  InsertDistinct(doc, DistinctTags(paragraph_hashes, &tags_));
}

void ParagraphIndex::InsertTags(DocId doc, std::span<const uint32_t> tags) {
  InsertDistinct(doc, DistinctTags(tags, &tags_));
}

void ParagraphIndex::Remove(DocId doc, std::span<const uint64_t> paragraph_hashes) {
  RemoveDistinct(doc, DistinctTags(paragraph_hashes, &tags_));
}

void ParagraphIndex::RemoveTags(DocId doc, std::span<const uint32_t> tags) {
  RemoveDistinct(doc, DistinctTags(tags, &tags_));
}

void ParagraphIndex::SetGeneration(DocId doc, uint8_t generation) {
  const size_t i = doc >> 1;
  while (generations_.size() <= i) generations_.emplace_back();
  const int shift = (doc & 1) * 4;
  generations_[i] = static_cast<uint8_t>((generations_[i] & ~(15 << shift)) | generation << shift);
}

void ParagraphIndex::InsertDistinct(DocId doc, const std::vector<uint32_t>& tags) {
  if (doc >= kMaxDocs) return;
  BucketArray& a = entries_;
  const uint32_t mine = Value(doc);
  for (const uint32_t tag : tags) {
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    // The paragraph's entries: its holders (live or stale), or its
    // boilerplate count. The cut-off counts live holders only.
    const auto [lo, hi] = a.Range(b, low);
    size_t holders = 0;
    uint32_t boilerplate = ~uint32_t{0};
    bool held = false;
    for (uint32_t i = lo; i < hi; ++i) {
      const uint32_t v = a.value(i);
      if (v & kBoilerplate) {
        boilerplate = i;
      } else if (Live(v)) {
        ++holders;
        held |= v == mine;
      }
    }
    if (boilerplate != ~uint32_t{0}) {  // count only
      a.set_value(boilerplate, a.value(boilerplate) + 1);
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      continue;
    }
    if (held) continue;
    if (holders + 1 > max_postings_) {
      // Past the cut-off: the holders' entries give way to one count; the
      // stale ones go with them.
      for (uint32_t i = lo; i < hi; ++i) {
        const uint32_t v = a.value(i), d = v & kDocMask;
        if (Live(v)) {
          if (boilerplate_listener_) boilerplate_listener_(d, tag);
        } else if (unsettled_listener_) {
          const auto u = unsettled_.find(d);
          if (u != unsettled_.end() && u->second == (v >> kDocBits & (kGenerations - 1))) {
            unsettled_listener_(d, tag);
          }
        }
      }
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      for (uint32_t i = hi; i-- > lo;) a.Erase(b, i);
      a.Insert(b, low, kBoilerplate | static_cast<uint32_t>(holders + 1));
      continue;
    }
    a.Insert(b, low, mine);  // after the paragraph's earlier holders
  }
}

void ParagraphIndex::RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags) {
  if (doc >= kMaxDocs) return;
  BucketArray& a = entries_;
  const uint32_t mine = Value(doc);
  for (const uint32_t tag : tags) {
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    const auto [lo, hi] = a.Range(b, low);
    uint32_t found = ~uint32_t{0};
    bool boilerplate = false;
    for (uint32_t i = lo; i < hi; ++i) {
      if (const uint32_t v = a.value(i); v & kBoilerplate) {
        a.set_value(i, v - 1);  // the holders are not known: trust the caller
        if (v - 1 == kBoilerplate) a.Erase(b, i);
        boilerplate = true;
        break;
      } else if (v == mine) {
        found = i;
      }
    }
    if (!boilerplate && found != ~uint32_t{0}) a.Erase(b, found);
  }
  a.ShrinkIfSparse();
}

uint8_t ParagraphIndex::Retire(DocId doc) {
  if (doc >= kMaxDocs) return 0;
  uint8_t& times = retirements_[doc];
  if (times == kGenerations - 1) {
    // The next generation may still have stale postings: erase them first.
    Purge(doc);
    times = 0;
  }
  ++times;
  ++retired_;
  const uint8_t generation = Generation(doc);
  unsettled_.emplace(doc, generation);  // the first since Settle(): a rollback's target
  SetGeneration(doc, static_cast<uint8_t>((generation + 1) & (kGenerations - 1)));
  return generation;
}

void ParagraphIndex::Restore(DocId doc, uint8_t generation) {
  if (doc >= kMaxDocs) return;
  SetGeneration(doc, generation & (kGenerations - 1));
  unsettled_.erase(doc);
}

void ParagraphIndex::Purge(DocId doc) {
  for (size_t b = 0; b < BucketArray::kBuckets; ++b) {
    entries_.EraseIf(b, [&](uint32_t v) {
      return (v & kBoilerplate) == 0 && (v & kDocMask) == doc && !Live(v);
    });
  }
}

void ParagraphIndex::Sweep() {
  for (size_t b = 0; b < BucketArray::kBuckets; ++b) {
    entries_.EraseIf(b, [&](uint32_t v) { return (v & kBoilerplate) == 0 && !Live(v); });
  }
  retirements_.clear();
  retired_ = 0;
  entries_.ShrinkIfSparse();
}

size_t ParagraphIndex::size() const {
  size_t keys = 0;
  for (size_t b = 0; b < BucketArray::kBuckets; ++b) {
    bool counted = false;
    for (uint32_t i = entries_.begin(b), e = entries_.end(b); i < e; ++i) {
      if (i > entries_.begin(b) && entries_.key(i) != entries_.key(i - 1)) counted = false;
      const uint32_t v = entries_.value(i);
      if (!counted && ((v & kBoilerplate) || Live(v))) {
        ++keys;
        counted = true;
      }
    }
  }
  return keys;
}

size_t ParagraphIndex::postings() const {
  size_t n = 0;
  for (size_t b = 0; b < BucketArray::kBuckets; ++b) {
    for (uint32_t i = entries_.begin(b), e = entries_.end(b); i < e; ++i) {
      const uint32_t v = entries_.value(i);
      n += (v & kBoilerplate) ? v & ~kBoilerplate : Live(v);
    }
  }
  return n;
}

void ParagraphIndex::Query(std::span<const uint64_t> paragraph_hashes, size_t min_shared,
                           size_t max_results, std::vector<std::pair<DocId, uint32_t>>* out) const {
  out->clear();
  // Const methods run concurrently: the scratch buffers are the thread's.
  thread_local std::vector<uint32_t> tags;
  thread_local std::vector<DocId> hits;
  hits.clear();
  for (const uint32_t tag : DistinctTags(paragraph_hashes, &tags)) {
    const size_t first = hits.size();
    const auto [lo, hi] = entries_.Range(tag >> 16, static_cast<uint16_t>(tag));
    for (uint32_t i = lo; i < hi; ++i) {
      const uint32_t d = entries_.value(i);
      if (d & kBoilerplate) {
        hits.resize(first);
        break;
      }
      if (Live(d)) hits.push_back(d & kDocMask);
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
  // The maps' nodes (next pointer, key, value: 16 B, 32 with malloc's
  // header) and bucket arrays.
  return entries_.MemoryBytes() + generations_.MemoryBytes() +
         (retirements_.size() + unsettled_.size()) * 32 +
         (retirements_.bucket_count() + unsettled_.bucket_count()) * sizeof(void*);
}

}  // namespace dedupd::index
