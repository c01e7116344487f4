// Paragraph-fingerprint postings with a boilerplate cut-off. See
// docs/fingerprint.md ("Paragraph index").
#include "index/paragraph_index.h"

#include <algorithm>

namespace dedupd::index {
namespace {

constexpr size_t kMinSlots = 16;

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
    : max_postings_(std::clamp<size_t>(max_postings, 1, kBoilerplate - 2)) {
  slots_.assign(kMinSlots, Slot{});
}

void ParagraphIndex::Place(const Slot& s) {
  size_t i = Home(s.tag);
  while (slots_[i].doc != kEmpty) i = Next(i);
  slots_[i] = s;
}

void ParagraphIndex::Resize(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max(capacity, kMinSlots), Slot{});
  for (const Slot& s : old) {
    if (s.doc != kEmpty) Place(s);
  }
}

void ParagraphIndex::Erase(size_t hole) {
  // Backward-shift deletion: no tombstones, probe chains stay short.
  const size_t n = slots_.size();
  for (size_t j = Next(hole); slots_[j].doc != kEmpty; j = Next(j)) {
    const size_t home = Home(slots_[j].tag);
    // Move slots_[j] into the hole unless its home lies cyclically in (hole, j].
    if ((j + n - home) % n >= (j + n - hole) % n) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --used_;
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
    if ((used_ + 1) * 5 > slots_.size() * 4) Resize(slots_.size() + slots_.size() / 4);
    // The paragraph's run: its holders, or its boilerplate count.
    size_t holders = 0, boilerplate = kEmpty;
    bool held = false;
    size_t i = Home(tag);
    for (uint32_t d; (d = slots_[i].doc) != kEmpty; i = Next(i)) {
      if (slots_[i].tag != tag) continue;
      if (d & kBoilerplate) boilerplate = i;
      ++holders;
      held |= d == doc;
    }
    if (boilerplate != kEmpty) {  // count only
      ++slots_[boilerplate].doc;
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      ++postings_;
      continue;
    }
    if (held) continue;
    ++postings_;
    if (holders == 0) ++keys_;
    if (holders + 1 > max_postings_) {
      // Past the cut-off: the holders' slots give way to one count.
      for (size_t gone = 0; gone < holders;) {
        size_t j = Home(tag);
        while (slots_[j].tag != tag) j = Next(j);
        if (boilerplate_listener_) boilerplate_listener_(slots_[j].doc, tag);
        Erase(j);
        ++gone;
      }
      if (boilerplate_listener_) boilerplate_listener_(doc, tag);
      Place(Slot{tag, kBoilerplate | static_cast<uint32_t>(holders + 1)});
      ++used_;
      continue;
    }
    slots_[i] = Slot{tag, doc};  // the first empty slot after the run
    ++used_;
  }
}

void ParagraphIndex::RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags) {
  for (const uint32_t tag : tags) {
    size_t mine = kEmpty, holders = 0;
    for (size_t i = Home(tag); slots_[i].doc != kEmpty; i = Next(i)) {
      Slot& s = slots_[i];
      if (s.tag != tag) continue;
      if (s.doc & kBoilerplate) {
        --s.doc;  // the holders are not known: trust the caller
        --postings_;
        if (s.doc == kBoilerplate) {
          Erase(i);
          --keys_;
        }
        mine = kEmpty;
        holders = 0;
        break;
      }
      ++holders;
      if (s.doc == doc) mine = i;
    }
    if (mine == kEmpty) continue;
    Erase(mine);
    --postings_;
    if (holders == 1) --keys_;
  }
  if (slots_.size() > (size_t{1} << 10) && used_ * 8 < slots_.size()) Resize(slots_.size() / 2);
}

void ParagraphIndex::RemoveByPrefix(DocId doc, std::span<const uint16_t> prefixes,
                                    std::vector<uint32_t>* removed,
                                    std::vector<uint16_t>* unmatched) {
  for (const uint16_t prefix : prefixes) {
    const uint32_t lowest = uint32_t{prefix} << 16;
    const size_t first = Home(lowest);
    const size_t span = Home(lowest | 0xFFFF) - first;  // homes first .. first + span
    // The slots homed there lie from `first` to the end of the run holding
    // the last home (cyclically): empty slots end the scan only past it.
    uint32_t found = 0;
    for (size_t k = 0, i = first; k < slots_.size(); ++k, i = Next(i)) {
      const Slot& s = slots_[i];
      if (s.doc == kEmpty) {
        if (k >= span) break;
        continue;
      }
      if (s.doc == doc && Prefix(s.tag) == prefix) {
        found = s.tag;
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
    for (size_t i = Home(tag);; i = Next(i)) {
      const uint32_t d = slots_[i].doc;
      if (d == kEmpty) break;
      if (slots_[i].tag != tag) continue;
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
  return slots_.capacity() * sizeof(Slot);
}

}  // namespace dedupd::index
