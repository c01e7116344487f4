// IdTable: insertion-ordered DocIds by their owner's tags (id_table.h).
#include "index/id_table.h"

namespace dedupd::index {
namespace {
constexpr size_t kMinSlots = 16;
}  // namespace

IdTable::IdTable(TagOf tag_of, const void* context)
    : tag_of_(tag_of), context_(context), slots_(kMinSlots, kNoDoc) {}

void IdTable::Place(DocId doc) {
  const size_t n = slots_.size();
  size_t i = Home(Tag(doc), n);
  while (slots_[i] != kNoDoc) i = i + 1 == n ? 0 : i + 1;
  slots_[i] = doc;
}

void IdTable::Grow() {
  std::vector<DocId> old = std::move(slots_);
  slots_.assign(old.size() + old.size() / 4, kNoDoc);
  // Start after an empty slot, so that no probe run is split at the array's
  // end and each run's entries are re-inserted in their order.
  size_t start = 0;
  while (old[start] != kNoDoc) ++start;  // there is one: the load is < 100%
  for (size_t k = 0; k < old.size(); ++k) {
    const DocId d = old[(start + k) % old.size()];
    if (d != kNoDoc) Place(d);
  }
}

void IdTable::Insert(DocId doc) {
  if ((size_ + 1) * 5 > slots_.size() * 4) Grow();
  Place(doc);
  ++size_;
}

bool IdTable::Remove(DocId doc) {
  const size_t n = slots_.size();
  size_t hole = Home(Tag(doc), n);
  while (slots_[hole] != kNoDoc && slots_[hole] != doc) hole = hole + 1 == n ? 0 : hole + 1;
  if (slots_[hole] == kNoDoc) return false;
  // Backward-shift deletion: an entry moves into the hole unless its home
  // lies cyclically in (hole, j]; entries never pass one another.
  for (size_t j = hole + 1 == n ? 0 : hole + 1; slots_[j] != kNoDoc; j = j + 1 == n ? 0 : j + 1) {
    const size_t home = Home(Tag(slots_[j]), n);
    if ((j + n - home) % n >= (j + n - hole) % n) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = kNoDoc;
  --size_;
  return true;
}

}  // namespace dedupd::index
