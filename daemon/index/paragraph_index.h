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
#include <unordered_map>
#include <utility>
#include <vector>

#include "index/bucket_array.h"
#include "index/paged_array.h"
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

  // Generations (issue #15, session 9): every posting carries its
  // document's generation (4 bits) and counts only while it is the
  // document's current one. Retire(doc) makes all of doc's postings stale at
  // once, without knowing their tags (a document another instance owns keeps
  // none): queries, the boilerplate cut-off's holder count, postings() and
  // size() skip stale postings, and Sweep() erases them. Returns the
  // generation retired, which Restore() makes current again (a rolled-back
  // batch), valid while no Sweep() ran in between and the postings filed
  // under the newer generation were removed exactly. A document retired
  // 15 times since the last Sweep() has its stale postings erased first
  // (a scan of the index), so a generation is never reused while postings
  // of it are left. doc's boilerplate memberships are counts, not
  // postings: the caller removes those by tag (RemoveTags) before.
  uint8_t Retire(DocId doc);
  void Restore(DocId doc, uint8_t generation);
  // The retirements so far are final (a batch committed, or applied outside
  // one): a cut-off no longer reports their postings (below).
  void Settle() { unsettled_.clear(); }
  // True when the stale postings may pass 1/32 of the index (each retired
  // document held at most `postings_per_document`): at the sweep they cost
  // at most ~1.4 B per document at 10^6 (passage index 44.3 B), ~0.7 B on
  // average, so a steady revision rate keeps the 250 B per non-owned
  // document of issue #15 (1/8, session 9's first choice, allowed ~5.5 B).
  bool SweepDue(size_t postings_per_document) const {
    return retired_ * postings_per_document * 32 > entries_.size() + BucketArray::kBuckets;
  }
  // Erases every stale posting. Precondition: settled (nothing staged).
  void Sweep();
  // Called with (doc, tag) when the boilerplate cut-off erases a stale
  // posting of a document retired since the last Settle() under the
  // generation Retire() returned: a Restore() would have made it live, so a
  // caller that may restore keeps the tag and files it again after (the
  // paragraph is then boilerplate: doc is counted, as if never retired).
  void SetUnsettledListener(std::function<void(DocId, uint32_t)> listener) {
    unsettled_listener_ = std::move(listener);
  }
  // Called with (doc, tag) whenever doc comes to be counted in a boilerplate
  // paragraph instead of holding a posting: each holder when the paragraph
  // passes the cut-off, and each later holder. Lets a caller that keeps no
  // passages of a document (Retire) keep the tags of its counts, which it
  // removes by tag.
  void SetBoilerplateListener(std::function<void(DocId, uint32_t)> listener) {
    boilerplate_listener_ = std::move(listener);
  }

  // Counted by a pass over the index (the tests' and tools' figures):
  size_t size() const;         // distinct paragraph hashes held (live or boilerplate)
  size_t postings() const;     // live (paragraph, doc) pairs, boilerplate counts included
  size_t MemoryBytes() const;  // from the arrays' capacities

  // A posting's value: the DocId (27 bits), its generation (4), and
  // kBoilerplate (one entry counting a boilerplate paragraph's holders).
  // A DocId of kMaxDocs or more files no passages (Insert is a no-op): at
  // ~250 B a document, 2^27 documents are 33 GB, past what one instance is
  // sized for (docs/scale.md).
  static constexpr uint32_t kBoilerplate = 1u << 31;
  static constexpr int kDocBits = 27, kGenerationBits = 4;
  static constexpr DocId kMaxDocs = DocId{1} << kDocBits;

 private:
  // One (paragraph, doc) posting per 6-byte entry of a BucketArray: bucket
  // Prefix() (the tag's top 16 bits), key the tag's low 16 bits, value the
  // doc and its generation (kBoilerplate | holder count for a paragraph past
  // max_postings live holders: its one entry). So an entry keeps the same 32 bits of the hash
  // an 8-byte slot kept (two paragraphs are taken for one exactly when their
  // tags agree, as before), and the arrays grow without the other bits.
  // 6-6.4 bytes per posting (1/16 slack) plus a 512 KiB
  // directory (8-byte slots at 64-80% load took 10-12.5; issue #15, session
  // 7). A query or insert binary-searches its bucket (~105 entries at 10^6
  // documents of ~7 passages).
  //
  // Two paragraphs whose tags agree are taken for one: with n distinct
  // paragraphs held, a query's paragraph is taken for another one in
  // ~n / 2^32 of the cases (1.6·10^-3 at 10^6 documents of ~7 passages),
  // which makes a false candidate (then rejected by the confirmation sketch,
  // as any candidate sharing nothing) or, when the other one is boilerplate,
  // a false boilerplate skip (docs/design.md, "Memory per document", session 6).
  void InsertDistinct(DocId doc, const std::vector<uint32_t>& tags);
  void RemoveDistinct(DocId doc, const std::vector<uint32_t>& tags);
  static constexpr uint32_t kDocMask = kMaxDocs - 1;
  static constexpr uint8_t kGenerations = 1u << kGenerationBits;
  uint8_t Generation(DocId doc) const {
    const size_t i = doc >> 1;
    return i < generations_.size() ? (generations_[i] >> (doc & 1) * 4) & 15 : 0;
  }
  void SetGeneration(DocId doc, uint8_t generation);
  uint32_t Value(DocId doc) const { return doc | uint32_t{Generation(doc)} << kDocBits; }
  // A holder's entry (not kBoilerplate) of its document's current generation.
  bool Live(uint32_t value) const {
    return (value >> kDocBits & (kGenerations - 1)) == Generation(value & kDocMask);
  }
  // Erases doc's stale postings (a scan of every bucket).
  void Purge(DocId doc);

  size_t max_postings_;
  BucketArray entries_;
  PagedArray<uint8_t> generations_;                 // two DocIds a byte
  std::unordered_map<DocId, uint8_t> retirements_;  // per doc, since the last Sweep()/Purge()
  size_t retired_ = 0;                              // Retire() calls since the last Sweep()
  std::unordered_map<DocId, uint8_t> unsettled_;    // doc -> generation retired, since Settle()
  std::function<void(DocId, uint32_t)> boilerplate_listener_;
  std::function<void(DocId, uint32_t)> unsettled_listener_;
  std::vector<uint32_t> tags_;  // Insert*() / Remove*()'s distinct tags, reused
};

}  // namespace dedupd::index
