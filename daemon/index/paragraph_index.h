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

#include "index/bucket_array.h"
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
  // One (paragraph, doc) posting per 6-byte entry of a BucketArray: bucket
  // Prefix() (the tag's top 16 bits), key the tag's low 16 bits, value the
  // doc (kBoilerplate | holder count for a paragraph past max_postings
  // holders: its one entry). So an entry keeps the same 32 bits of the hash
  // an 8-byte slot kept (two paragraphs are taken for one exactly when their
  // tags agree, as before), the arrays grow without the other bits, and
  // RemoveByPrefix reads one bucket. 6-6.9 bytes per posting plus a 512 KiB
  // directory (8-byte slots at 64-80% load took 10-12.5; issue #15, session
  // 7). A query or insert binary-searches its bucket (~105 entries at 10^6
  // documents of ~7 passages); RemoveByPrefix scans one.
  //
  // Two paragraphs whose tags agree are taken for one: with n distinct
  // paragraphs held, a query's paragraph is taken for another one in
  // ~n / 2^32 of the cases (1.6·10^-3 at 10^6 documents of ~7 passages),
  // which makes a false candidate (then rejected by the confirmation sketch,
  // as any candidate sharing nothing) or, when the other one is boilerplate,
  // a false boilerplate skip (docs/design.md, "Memory per document", session 6).
  void InsertDistinct(DocId doc, const std::vector<uint32_t>& tags);
  void RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags);

  size_t max_postings_;
  size_t keys_ = 0;
  size_t postings_ = 0;
  BucketArray entries_;
  std::function<void(DocId, uint32_t)> boilerplate_listener_;
};

}  // namespace dedupd::index
