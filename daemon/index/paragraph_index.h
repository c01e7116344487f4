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

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

  // DocIds are below kBoilerplate (2^31).
  static constexpr uint32_t kBoilerplate = 1u << 31;

 private:
  // One (paragraph, doc) posting per 10-byte slot, in one open-addressing
  // array with linear probing (a paragraph's postings share its home slot,
  // so they lie in one probe run); `doc` == kEmpty marks an empty slot. A
  // paragraph past max_postings holders keeps one slot instead, with `doc` =
  // kBoilerplate | its holder count. The array grows by 1.25x at 80% load:
  // 12.5-16 bytes per posting, where a slot per paragraph (16 B, at most 70%
  // load, doubling) and a std::vector per shared one took ~35.
  //
  // A slot keeps 48 bits of the paragraph hash, the top of its remix (Tag()),
  // which hold the bits Home() reads, so the table can grow without the
  // other 16. Two paragraphs whose tags agree are taken for one: with n
  // distinct paragraphs held, a query's paragraph is taken for another one in
  // ~n / 2^48 of the cases (3·10^-8 at 10^6 documents of 8 passages), which
  // makes a false candidate (then rejected by the confirmation, as any
  // candidate sharing nothing) or a false boilerplate skip
  // (docs/benchmarks.md, "Second pass").
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  static constexpr uint64_t kTagMask = (uint64_t{1} << 48) - 1;
  struct Slot {
    // The tag (48 bits) first, so that one 8-byte load at the slot's start
    // reads it; the doc id (32 bits) after it.
    uint16_t part[5] = {0, 0, 0, 0xFFFF, 0xFFFF};
    uint32_t doc() const {
      uint32_t d;
      std::memcpy(&d, part + 3, sizeof d);
      return d;
    }
    void set_doc(uint32_t d) { std::memcpy(part + 3, &d, sizeof d); }
    uint64_t tag() const {
      uint64_t t;
      std::memcpy(&t, part, sizeof t);  // little-endian: the tag, then half the doc id
      return t & kTagMask;
    }
    static Slot Make(uint64_t tag, uint32_t doc) {
      Slot s;
      std::memcpy(s.part, &tag, 6);
      s.set_doc(doc);
      return s;
    }
  };
  static_assert(sizeof(Slot) == 10);
  static_assert(std::endian::native == std::endian::little);

  // The 48 bits a slot keeps of a paragraph hash.
  static uint64_t Tag(uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 16; }
  size_t Home(uint64_t tag) const;
  size_t Next(size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }
  void Place(const Slot& s);
  void Erase(size_t slot);
  void Resize(size_t capacity);

  size_t max_postings_;
  size_t keys_ = 0;
  size_t postings_ = 0;
  size_t used_ = 0;  // slots holding a posting or a boilerplate count
  std::vector<Slot> slots_;
};

}  // namespace dedupd::index
