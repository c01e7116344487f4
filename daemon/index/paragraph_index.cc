// Paragraph-fingerprint postings with a boilerplate cut-off. See
// docs/fingerprint.md ("Paragraph index").
#include "index/paragraph_index.h"

#include <algorithm>

namespace dedupd::index {
namespace {

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
  BucketArray& a = entries_;
  for (const uint32_t tag : tags) {
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    // The paragraph's entries: its holders, or its boilerplate count.
    const auto [lo, hi] = a.Range(b, low);
    const size_t holders = hi - lo;
    uint32_t boilerplate = ~uint32_t{0};
    bool held = false;
    for (uint32_t i = lo; i < hi; ++i) {
      if (a.value(i) & kBoilerplate) boilerplate = i;
      held |= a.value(i) == doc;
    }
    if (boilerplate != ~uint32_t{0}) {  // count only
      a.set_value(boilerplate, a.value(boilerplate) + 1);
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      ++postings_;
      continue;
    }
    if (held) continue;
    ++postings_;
    if (holders == 0) ++keys_;
    if (holders + 1 > max_postings_) {
      // Past the cut-off: the holders' entries give way to one count.
      if (boilerplate_listener_) {
        for (uint32_t i = lo; i < hi; ++i) boilerplate_listener_(a.value(i), tag);
        boilerplate_listener_(doc, tag);
      }
      for (uint32_t i = hi; i-- > lo;) a.Erase(b, i);
      a.Insert(b, low, kBoilerplate | static_cast<uint32_t>(holders + 1));
      continue;
    }
    a.Insert(b, low, doc);  // after the paragraph's earlier holders
  }
}

void ParagraphIndex::RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags) {
  BucketArray& a = entries_;
  for (const uint32_t tag : tags) {
    const size_t b = tag >> 16;
    const auto low = static_cast<uint16_t>(tag);
    uint32_t mine = ~uint32_t{0};
    size_t holders = 0;
    const auto [lo, hi] = a.Range(b, low);
    for (uint32_t i = lo; i < hi; ++i) {
      if (const uint32_t d = a.value(i); d & kBoilerplate) {
        a.set_value(i, d - 1);  // the holders are not known: trust the caller
        --postings_;
        if (d - 1 == kBoilerplate) {
          a.Erase(b, i);
          --keys_;
        }
        holders = 0;
        break;
      }
      ++holders;
      if (a.value(i) == doc) mine = i;
    }
    if (holders == 0 || mine == ~uint32_t{0}) continue;
    a.Erase(b, mine);
    --postings_;
    if (holders == 1) --keys_;
  }
  a.ShrinkIfSparse();
}

void ParagraphIndex::RemoveByPrefix(DocId doc, std::span<const uint16_t> prefixes,
                                    std::vector<uint32_t>* removed,
                                    std::vector<uint16_t>* unmatched) {
  for (const uint16_t prefix : prefixes) {
    uint32_t found = 0;
    for (uint32_t i = entries_.begin(prefix), e = entries_.end(prefix); i < e; ++i) {
      if (entries_.value(i) == doc) {
        found = uint32_t{prefix} << 16 | entries_.key(i);
        break;
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
    const auto [lo, hi] = entries_.Range(tag >> 16, static_cast<uint16_t>(tag));
    for (uint32_t i = lo; i < hi; ++i) {
      const uint32_t d = entries_.value(i);
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
  return entries_.MemoryBytes();
}

}  // namespace dedupd::index
