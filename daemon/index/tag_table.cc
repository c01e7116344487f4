// TagTable: insertion-ordered multimap of 32-bit tags to DocIds (tag_table.h).
#include "index/tag_table.h"

namespace dedupd::index {
namespace {
constexpr size_t kMinSlots = 16;
}  // namespace

TagTable::TagTable() : slots_(kMinSlots) {}

void TagTable::Place(Slot s) {
  const size_t n = slots_.size();
  size_t i = Home(s.tag, n);
  while (slots_[i].doc != kNoDoc) i = i + 1 == n ? 0 : i + 1;
  slots_[i] = s;
}

void TagTable::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() + old.size() / 4, Slot{});
  // Start after an empty slot, so that no probe run is split at the array's
  // end and each run's entries are re-inserted in their order.
  size_t start = 0;
  while (old[start].doc != kNoDoc) ++start;  // there is one: the load is < 100%
  for (size_t k = 0; k < old.size(); ++k) {
    const Slot& s = old[(start + k) % old.size()];
    if (s.doc != kNoDoc) Place(s);
  }
}

void TagTable::Insert(uint32_t tag, DocId doc) {
  if ((size_ + 1) * 5 > slots_.size() * 4) Grow();
  Place(Slot{tag, doc});
  ++size_;
}

bool TagTable::Remove(uint32_t tag, DocId doc) {
  const size_t n = slots_.size();
  size_t hole = Home(tag, n);
  while (slots_[hole].doc != kNoDoc && !(slots_[hole].tag == tag && slots_[hole].doc == doc)) {
    hole = hole + 1 == n ? 0 : hole + 1;
  }
  if (slots_[hole].doc == kNoDoc) return false;
  // Backward-shift deletion: an entry moves into the hole unless its home
  // lies cyclically in (hole, j]; entries never pass one another.
  for (size_t j = hole + 1 == n ? 0 : hole + 1; slots_[j].doc != kNoDoc;
       j = j + 1 == n ? 0 : j + 1) {
    const size_t home = Home(slots_[j].tag, n);
    if ((j + n - home) % n >= (j + n - hole) % n) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --size_;
  return true;
}

}  // namespace dedupd::index
