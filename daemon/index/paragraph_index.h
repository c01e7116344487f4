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
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "index/large_array_allocator.h"
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
  // The same by the 32-bit tags a slot keeps (Tag() of the hashes): a caller
  // that keeps only these (the detector, for documents another instance
  // owns) files and removes exactly the postings the hashes would.
  void InsertTags(DocId doc, std::span<const uint32_t> tags);
  void RemoveTags(DocId doc, std::span<const uint32_t> tags);

  // Replaces *out with the docs sharing at least min_shared (>= 1) of the given
  // distinct paragraph hashes, as (doc, shared count), most shared first, ties
  // by doc id, at most max_results. Boilerplate paragraphs are skipped.
  void Query(std::span<const uint64_t> paragraph_hashes, size_t min_shared, size_t max_results,
             std::vector<std::pair<DocId, uint32_t>>* out) const;

  // What a slot keeps of a paragraph hash: the top 32 bits of its remix
  // (a Fibonacci multiply: callers' hashes are XXH3 already, but a cheap remix
  // keeps clustering away if someone passes structured values), at least
  // 2^16 (a remix below is taken with bit 16 set: 2^-16 of the hashes share
  // their tag with twice the others), so that a tag's top 16 bits, its
  // Prefix(), are never 0 and callers may use 0 for "none".
  static uint32_t Tag(uint64_t paragraph_hash) {
    const auto t = static_cast<uint32_t>((paragraph_hash * 0x9E3779B97F4A7C15ull) >> 32);
    return t < 0x10000 ? t | 0x10000 : t;
  }
  static uint16_t Prefix(uint32_t tag) { return static_cast<uint16_t>(tag >> 16); }

  // Removes doc's postings by the Prefix() of their tags: a prefix's
  // postings are one bucket, and the doc id tells doc's apart. Appends each removed posting's tag
  // to *removed and each prefix without a posting of doc to *unmatched (a paragraph now boilerplate
  // has no posting: the caller knows its tag from the boilerplate listener, and removes it with
  // RemoveTags).
  void RemoveByPrefix(DocId doc, std::span<const uint16_t> prefixes, std::vector<uint32_t>* removed,
                      std::vector<uint16_t>* unmatched);
  // Called with (doc, tag) whenever doc comes to be counted in a boilerplate
  // paragraph instead of holding a posting: each holder when the paragraph
  // passes the cut-off, and each later holder. Lets a caller that keeps only
  // prefixes (RemoveByPrefix) keep the tags it cannot find again.
  void SetBoilerplateListener(std::function<void(DocId, uint32_t)> listener) {
    boilerplate_listener_ = std::move(listener);
  }

  size_t size() const { return keys_; }          // distinct paragraph hashes held
  size_t postings() const { return postings_; }  // (paragraph, doc) pairs, boilerplate included
  size_t MemoryBytes() const;                    // from the arrays' capacities

  // DocIds are below kBoilerplate (2^31).
  static constexpr uint32_t kBoilerplate = 1u << 31;

 private:
  // One (paragraph, doc) posting per 6-byte entry: the low 16 bits of the
  // paragraph's Tag() and the doc (`doc` = kBoilerplate | holder count for a
  // paragraph past max_postings holders: its one entry). The entries lie in
  // 2^16 buckets, one per Prefix() (the tag's top 16 bits), in no particular
  // order, in two flat arrays (low_, doc_) in the way of SimHashIndex's
  // tables: bucket b owns [dir_[b].start, dir_[b + 1].start), the first
  // dir_[b].fill used; a full bucket borrows a free slot from the nearest
  // bucket with room (within 64), else the arrays are rebuilt with 1/8 slack
  // and one free slot per bucket. So a slot keeps the same 32 bits of the
  // hash an 8-byte slot kept (two paragraphs are taken for one exactly when
  // their tags agree, as before: the bucket stands for the top 16), the
  // arrays grow without the other bits, and RemoveByPrefix reads one bucket.
  // 6-6.9 bytes per posting, plus the 512 KiB directory, made at the first
  // insert (8-byte slots at 64-80% load took 10-12.5; issue #15, session 7).
  // A query or insert scans its bucket's 16-bit tags (~105 at 10^6
  // documents of ~7 passages).
  //
  // Two paragraphs whose tags agree are taken for one: with n distinct
  // paragraphs held, a query's paragraph is taken for another one in
  // ~n / 2^32 of the cases (1.6·10^-3 at 10^6 documents of ~7 passages),
  // which makes a false candidate (then rejected by the confirmation sketch,
  // as any candidate sharing nothing) or, when the other one is boilerplate,
  // a false boilerplate skip (docs/design.md, "Memory per document", session 6).
  struct Bucket {
    uint32_t start;
    uint32_t fill;
  };
  template <typename T>
  using Array = std::vector<T, LargeArrayAllocator<T>>;
  static constexpr size_t kBuckets = size_t{1} << 16;

  // Files (low, doc) in bucket b (borrowing or rebuilding for room).
  void Place(size_t b, uint16_t low, uint32_t doc);
  // Moves bucket b's last entry into slot i (of b) and drops the last.
  void EraseAt(size_t b, uint32_t i);
  bool BorrowSlot(size_t b);
  // Lays the entries out again in `capacity` slots (at least one free per bucket).
  void Rebuild(size_t capacity);
  void InsertDistinct(DocId doc, const std::vector<uint32_t>& tags);
  void RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags);

  size_t max_postings_;
  size_t keys_ = 0;
  size_t postings_ = 0;
  size_t entries_ = 0;  // slots used: postings and boilerplate counts
  Array<Bucket> dir_;  // kBuckets + 1 (the last: start = capacity), or none before the first insert
  Array<uint16_t> low_;
  Array<uint32_t> doc_;
  std::function<void(DocId, uint32_t)> boilerplate_listener_;
};

}  // namespace dedupd::index
