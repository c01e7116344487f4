// TagTable: insertion-ordered multimap of 32-bit tags to DocIds (tag_table.h).
#include "index/tag_table.h"

namespace dedupd::index {

bool TagTable::Remove(uint32_t tag, DocId doc) {
  const size_t b = tag >> 16;
  const auto [lo, hi] = entries_.Range(b, static_cast<uint16_t>(tag));
  for (uint32_t i = lo; i < hi; ++i) {
    if (entries_.value(i) == doc) {
      entries_.Erase(b, i);
      entries_.ShrinkIfSparse();
      return true;
    }
  }
  return false;
}

}  // namespace dedupd::index
