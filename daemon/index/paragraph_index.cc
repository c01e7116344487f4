// Paragraph-fingerprint postings with a boilerplate cut-off. See
// docs/fingerprint.md ("Paragraph index").
#include "index/paragraph_index.h"

#include <algorithm>

namespace dedupd::index {
namespace {

constexpr int kMinBits = 4;

std::vector<uint64_t> Distinct(std::span<const uint64_t> hashes) {
  std::vector<uint64_t> v(hashes.begin(), hashes.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

ParagraphIndex::ParagraphIndex(size_t max_postings)
    : max_postings_(std::clamp<size_t>(max_postings, 1, kBoilerplate - 1)) {
  Rehash(size_t{1} << kMinBits);
}

size_t ParagraphIndex::Home(uint64_t key) const {
  // Fibonacci hashing: callers' hashes are XXH3 already, but a cheap remix
  // keeps clustering away if someone passes structured values.
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> (64 - bits_));
}

const ParagraphIndex::Slot* ParagraphIndex::Find(uint64_t key) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(key);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.count == 0) return nullptr;
    if (s.key == key) return &s;
  }
}

ParagraphIndex::Slot* ParagraphIndex::Find(uint64_t key) {
  return const_cast<Slot*>(static_cast<const ParagraphIndex*>(this)->Find(key));
}

void ParagraphIndex::Rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  bits_ = std::countr_zero(capacity);
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.count == 0) continue;
    size_t i = Home(s.key);
    while (slots_[i].count != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void ParagraphIndex::Erase(size_t hole) {
  // Backward-shift deletion: no tombstones, probe chains stay short.
  const size_t mask = slots_.size() - 1;
  for (size_t j = (hole + 1) & mask; slots_[j].count != 0; j = (j + 1) & mask) {
    const size_t home = Home(slots_[j].key);
    // Move slots_[j] into the hole unless its home lies cyclically in (hole, j].
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --keys_;
}

uint32_t ParagraphIndex::NewList() {
  if (!free_lists_.empty()) {
    const uint32_t id = free_lists_.back();
    free_lists_.pop_back();
    return id;
  }
  lists_.emplace_back();
  return static_cast<uint32_t>(lists_.size() - 1);
}

void ParagraphIndex::FreeList(uint32_t list) {
  lists_[list] = {};  // release the memory, keep the slot for reuse
  free_lists_.push_back(list);
}

void ParagraphIndex::Insert(DocId doc, std::span<const uint64_t> paragraph_hashes) {
  for (const uint64_t key : Distinct(paragraph_hashes)) {
    if ((keys_ + 1) * 10 > slots_.size() * 7) Rehash(slots_.size() * 2);
    Slot* s = Find(key);
    if (s == nullptr) {
      const size_t mask = slots_.size() - 1;
      size_t i = Home(key);
      while (slots_[i].count != 0) i = (i + 1) & mask;
      slots_[i] = Slot{key, 1, doc};
      ++keys_;
      ++postings_;
      continue;
    }
    if (s->count & kBoilerplate) {  // count only
      ++s->count;
      ++postings_;
      continue;
    }
    if (s->count == 1) {
      if (s->data == doc) continue;
      if (max_postings_ < 2) {
        s->count = kBoilerplate | 2;
        ++postings_;
        continue;
      }
      const DocId first = s->data;
      const uint32_t list = NewList();  // may reallocate lists_, not slots_
      lists_[list] = {first, doc};
      s->data = list;
      s->count = 2;
      ++postings_;
      continue;
    }
    std::vector<DocId>& docs = lists_[s->data];
    if (std::find(docs.begin(), docs.end(), doc) != docs.end()) continue;
    ++s->count;
    ++postings_;
    if (s->count > max_postings_) {
      FreeList(s->data);
      s->count |= kBoilerplate;
      s->data = 0;
    } else {
      docs.push_back(doc);
    }
  }
}

void ParagraphIndex::Remove(DocId doc, std::span<const uint64_t> paragraph_hashes) {
  for (const uint64_t key : Distinct(paragraph_hashes)) {
    Slot* s = Find(key);
    if (s == nullptr) continue;
    if (s->count & kBoilerplate) {
      --s->count;  // the holders are not known: trust the caller
      --postings_;
      if (s->count == kBoilerplate) Erase(static_cast<size_t>(s - slots_.data()));
      continue;
    }
    if (s->count == 1) {
      if (s->data != doc) continue;
      --postings_;
      Erase(static_cast<size_t>(s - slots_.data()));
      continue;
    }
    std::vector<DocId>& docs = lists_[s->data];
    const auto it = std::find(docs.begin(), docs.end(), doc);
    if (it == docs.end()) continue;
    *it = docs.back();
    docs.pop_back();
    --s->count;
    --postings_;
    if (s->count == 1) {
      const DocId last = docs.front();
      FreeList(s->data);
      s->data = last;
    }
  }
  if (slots_.size() > (size_t{1} << 10) && keys_ * 8 < slots_.size()) Rehash(slots_.size() / 2);
}

void ParagraphIndex::Query(std::span<const uint64_t> paragraph_hashes, size_t min_shared,
                           size_t max_results, std::vector<std::pair<DocId, uint32_t>>* out) const {
  out->clear();
  std::vector<DocId> hits;
  for (const uint64_t key : Distinct(paragraph_hashes)) {
    const Slot* s = Find(key);
    if (s == nullptr || (s->count & kBoilerplate)) continue;
    if (s->count == 1) {
      hits.push_back(s->data);
    } else {
      const std::vector<DocId>& docs = lists_[s->data];
      hits.insert(hits.end(), docs.begin(), docs.end());
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
  size_t bytes = slots_.capacity() * sizeof(Slot) + lists_.capacity() * sizeof(std::vector<DocId>) +
                 free_lists_.capacity() * sizeof(uint32_t);
  for (const auto& l : lists_) bytes += l.capacity() * sizeof(DocId);
  return bytes;
}

}  // namespace dedupd::index
