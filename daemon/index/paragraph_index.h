// Candidate index for syndicated copies: maps 64-bit fingerprints of long
// normalised paragraphs (computed by the caller) to the documents that hold
// them. A copy re-posted under another site's header and footer shares most
// paragraphs with the original although its page SimHash moved beyond the
// SimHash index's radius. Candidates found here are confirmed on shingle sets.
//
//   index::ParagraphIndex paragraphs;            // paragraphs on > 64 docs are boilerplate
//   paragraphs.Insert(7, hashes);  paragraphs.Query(other_hashes, 2, 10, &candidates);
//
// Thread-safety: const methods may run concurrently with each other; Insert and
// Remove need exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "index/simhash_index.h"

namespace dedupd::index {

class ParagraphIndex {
 public:
  // A paragraph held by more than max_postings documents (values < 1 act as 1)
  // is boilerplate: its document list is dropped and queries skip it. It stays
  // skipped until every holder is removed (its holders are no longer known).
  explicit ParagraphIndex(size_t max_postings = 64);

  // Files doc under each distinct hash (repeats in the span count once: a
  // doubled body shares no more than the single one). Insert a doc's hashes
  // once and Remove exactly those before inserting its next version.
  void Insert(DocId doc, std::span<const uint64_t> paragraph_hashes);
  void Remove(DocId doc, std::span<const uint64_t> paragraph_hashes);

  // Replaces *out with the docs sharing at least min_shared (>= 1) of the given
  // distinct paragraph hashes, as (doc, shared count), most shared first, ties
  // by doc id, at most max_results. Boilerplate paragraphs are skipped.
  void Query(std::span<const uint64_t> paragraph_hashes, size_t min_shared, size_t max_results,
             std::vector<std::pair<DocId, uint32_t>>* out) const;

  size_t size() const { return keys_; }          // distinct paragraph hashes held
  size_t postings() const { return postings_; }  // (paragraph, doc) pairs, boilerplate included
  size_t MemoryBytes() const;                    // from the containers' capacities

 private:
  // Open addressing with linear probing; count == 0 marks an empty slot.
  // count == 1: `data` is the doc. 2..max_postings: `data` indexes lists_.
  // kBoilerplate set: the paragraph went past max_postings; the low bits count
  // its holders, `data` is unused.
  static constexpr uint32_t kBoilerplate = 1u << 31;
  struct Slot {
    uint64_t key = 0;
    uint32_t count = 0;
    uint32_t data = 0;
  };

  size_t Home(uint64_t key) const;
  Slot* Find(uint64_t key);
  const Slot* Find(uint64_t key) const;
  void Erase(size_t slot);
  void Rehash(size_t capacity);
  uint32_t NewList();
  void FreeList(uint32_t list);

  size_t max_postings_;
  size_t keys_ = 0;
  size_t postings_ = 0;
  int bits_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::vector<DocId>> lists_;
  std::vector<uint32_t> free_lists_;
};

}  // namespace dedupd::index
