// Detector: the verdict for one parsed page against the per-URL state, the
// global content-hash map and the near-duplicate indexes (DESIGN.md,
// Verdicts). Plain value-in / value-out around its own state; no Kafka.
//
//   Detector detector(DetectOptions{}, store.get());
//   Outcome out = detector.Process(page, fetched_at_ms);
//   if (out.verdict == Verdict::kRevised) Publish(out.diff);
//
// Changes to the state store are staged; the caller commits them (after the
// Kafka transaction that carries the same outputs) or calls Rollback(), which
// also undoes the in-memory index changes made since the last Commit().
// Thread-safety: not thread-safe; one Detector per pipeline, except
// Prepare(), which any number of threads may call at once, also while the
// detector's own thread runs Decide() or anything else:
//
//   PreparedPage prepared;                         // one per page in flight
//   detector.Prepare(page, &prepared);             // any thread: the page alone
//   Outcome out = detector.Decide(page, fetched_at_ms, &prepared);  // in input order
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "classify/boilerplate.h"
#include "common/types.h"
#include "diff/diff.h"
#include "index/id_table.h"
#include "index/paged_array.h"
#include "index/paragraph_index.h"
#include "index/simhash_index.h"
#include "index/sketch_store.h"
#include "index/tag_table.h"
#include "index/url_table.h"
#include "parse/page_parser.h"
#include "state/store.h"
#include "text/repeats.h"

namespace dedupd::classify {

struct DetectOptions {
  int shingle_k = 4;                   // tokens per shingle
  int simhash_distance = 3;            // SimHash neighbourhood searched (bits of 64)
  double near_dup_containment = 0.80;  // confirm: |A∩B| / min(|A|,|B|) at least this ...
  double near_dup_jaccard = 0.30;      // ... and |A∩B| / |A∪B| at least this
  // Passage index: each page contributes the `passage_sample` smallest hashes
  // of its sentences at least `passage_min_chars` long (a bottom-k sample, so
  // copies that share most sentences share most sampled ones).
  size_t passage_min_chars = 24;
  size_t passage_sample = 8;
  size_t passage_min_shared = 1;  // candidates share at least this many sampled passages
  size_t max_candidates = 16;     // candidates confirmed per page
  // Candidates are confirmed from the sketch stored when they were indexed:
  // the top 32 bits of their `confirm_sketch_size` smallest shingle hashes
  // (fingerprint::BottomK32; docs/fingerprint.md "Confirmation sketch").
  size_t confirm_sketch_size = 64;
  // Reference mode, for tests and the quality sweep: re-fingerprint every
  // candidate's stored text with today's boilerplate model and compare the
  // exact shingle sets (what dedupd did before issue #11).
  bool confirm_from_text = false;
  size_t revert_history = 8;  // REVERTED: versions remembered per URL
  // state.history_versions: versions (with text) kept per URL for the API,
  // the current one included; 0 keeps none, 1 only the current version's
  // verdict and explanation (docs/api.md).
  size_t history_versions = 10;
  size_t min_fingerprint_tokens = 8;  // fewer tokens left after boilerplate: BOILERPLATE_ONLY
  text::RepeatOptions repeats;
  BoilerplateOptions boilerplate;
  diff::DiffOptions diff;
};

struct TextStats {
  uint32_t blocks = 0, sentences = 0, characters = 0, shingles = 0, boilerplate_blocks = 0,
           invalid_utf8 = 0;
};

struct MatchInfo {
  std::string url;
  uint32_t version = 0;
  int distance = 0;           // SimHash Hamming distance
  double similarity = 0;      // containment of the shingle sets
  int64_t fetched_at_ms = 0;  // not set for UNCHANGED (decided without a store read)
  ContentHash128 content_hash;
  // NEAR_DUPLICATE: how the match was found and confirmed (the explanation
  // the API and the PageEvent give).
  double containment = 0;
  double jaccard = 0;
  uint8_t found_by = 0;                   // kFoundBySimHash | kFoundByPassages
  uint32_t boilerplate_blocks = 0;        // the page's blocks left out as site boilerplate
  uint32_t other_boilerplate_blocks = 0;  // the matched page's blocks left out
};
inline constexpr uint8_t kFoundBySimHash = 1;   // a SimHash neighbour within the distance
inline constexpr uint8_t kFoundByPassages = 2;  // shares sampled passages (paragraph index)

struct DiffOutcome {
  diff::DiffResult result;
  // Each side's sentences: views into the text and keys below, which the
  // diff owns (each side's text copied once, not a string per sentence).
  std::vector<diff::SentenceView> old_sentences;
  std::vector<diff::SentenceView> new_sentences;
  std::string unified;
  std::string old_text, new_text;  // the sentences' text
  // Their comparison keys, one string each (only [0, sentences) are this
  // diff's: the others keep their buffers for a later, longer diff).
  std::vector<std::string> old_keys, new_keys;
};

struct Outcome {
  Verdict verdict = Verdict::kNew;
  Flags flags;
  uint32_t version = 1;
  SimHash64 simhash;
  ContentHash128 content_hash;
  std::optional<MatchInfo> match;
  double repeated_fraction = 0;
  TextStats stats;
  std::optional<DiffOutcome> diff;         // REVISED and NEAR_DUPLICATE
  std::optional<diff::Severity> severity;  // REVISED
  // The per-URL state this page wrote (staged in the store), for the state
  // changelog and fingerprint topics; empty for UNCHANGED (nothing written).
  std::optional<state::UrlState> stored;
};

class PreparedPage;

// Prepare(..., Speculate::kYes) also fingerprints the page with the blocks
// that its site's recent pages had as boilerplate left out, so that Decide()
// only checks that the model still says so (docs/delivery.md, "Workers").
enum class Speculate : bool { kNo, kYes };

class Detector {
 public:
  Detector(DetectOptions options, state::StateStore* store);
  ~Detector();

  // Rebuilds the in-memory indexes from the committed store; returns the
  // number of URLs loaded. `progress` is called every `every` URLs.
  size_t LoadFromStore(const std::function<void(size_t)>& progress = nullptr,
                       size_t every = 100000);

  Outcome Process(const parse::ParsedPage& page, int64_t fetched_at_ms);
  // Process() in two parts. Prepare() does what depends on the page alone
  // (extraction, repeats, the content hash, normalisation and sentences,
  // the line hashes; with Speculate::kYes a speculative fingerprint) into
  // *prepared, whose buffers serve page after page. It reads no state that
  // any other member writes: it is thread-safe. Decide() does the rest
  // (boilerplate learning, the fingerprint, the verdict, staging) from a page
  // Prepare() filled, on the detector's thread, in input order; its outcome
  // equals Process()'s for the same page at the same point of the stream.
  void Prepare(const parse::ParsedPage& page, PreparedPage* prepared,
               Speculate speculate = Speculate::kNo) const;
  Outcome Decide(const parse::ParsedPage& page, int64_t fetched_at_ms, PreparedPage* prepared);
  // Decide()s of speculated pages whose speculative fingerprint was used
  // (hits) or computed again (misses).
  struct SpeculationStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  SpeculationStats Speculation() const { return speculation_; }
  // `dedupd run` with workers (docs/delivery.md, "Prefetch of the previous
  // state"): Prepare() also reads the URL's committed state
  // (StateStore::GetCommitted, thread-safe) and, when its content differs
  // from the page's, the REVISED diff against it, so that Decide() reads
  // no store and computes no diff when the URL's indexed version is that
  // state (its version and content hash; otherwise a state staged since, or
  // a commit in between: Decide() peeks as before). The outcome is the same
  // either way. Set before Prepare() runs on any other thread.
  void PrefetchPrevious(bool on) { prefetch_ = on; }
  // Decide()s that took the prefetched state (hits; a NEW URL's absence
  // included) or peeked the store (misses), and took the prefetched diff.
  struct PrefetchStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t diffs = 0;
  };
  PrefetchStats Prefetch() const { return prefetch_stats_; }
  // Hands back an outcome the caller is done with (file mode reuses one
  // result page after page): the next Process() builds its stored state and
  // diff sentences in its strings and vectors, which then allocate nothing
  // once grown. Optional; leaves `spent` empty.
  void Recycle(Outcome&& spent);

  bool Commit(const std::map<std::string, std::string>& metadata, std::string* error);
  void Rollback();

  // Applies states that are already committed in Kafka (read back from the
  // state changelog or the fingerprints topic) to the store and the indexes,
  // and commits the store together with `metadata` (the offsets they were read
  // up to) in one write. A state is skipped when the detector already holds a
  // newer version of its URL, or the same version with the same content; the
  // same version with other content replaces it only if
  // `replace_same_version` (the changelog is authoritative for its partition).
  // Precondition: nothing staged (call between batches, never inside one).
  // Returns false with *error on a store failure or a broken precondition;
  // *applied counts the states written.
  bool ApplyCommitted(const std::vector<state::UrlState>& states, bool replace_same_version,
                      const std::map<std::string, std::string>& metadata, size_t* applied,
                      std::string* error);
  // Applies fingerprint records (other instances' committed states, read from
  // the fingerprints topic) to the in-memory indexes and per-document data
  // only: the store is not written. A document another instance owns lives
  // only in memory, rebuilt from the topic at each start (docs/delivery.md,
  // "What is stored where"); its text is not kept. A record is skipped when
  // the detector holds the same or a newer version of its URL (only the
  // changelog replaces a same version). A record without a confirmation
  // sketch (an old format, with text) gets one derived from its text here.
  // Sets every state's history_full to false. Precondition: nothing staged.
  // Returns false with *error on a broken precondition; *applied counts the
  // states applied.
  bool ApplyFingerprints(std::vector<state::UrlState>* states, size_t* applied, std::string* error);
  // Makes room for `docs` documents in total (a restore that knows about how
  // many records it will read), so that applying them rehashes and moves no
  // data.
  void Reserve(size_t docs);
  // True when the detector holds `version` or a newer version of the URL: a
  // fingerprint record ApplyFingerprints() would skip (this instance's own
  // records above all), recognised before it is decoded.
  bool HoldsVersion(std::string_view canonical_url, uint32_t version) const;
  // Called on the detector's thread with every state that is loaded,
  // applied from Kafka or committed by Process(): feeds the API's index of
  // copies (api::CopyIndex).
  void SetStateObserver(std::function<void(const state::UrlState&)> observer) {
    observer_ = std::move(observer);
  }
  // Whether an outcome carries the state it stored (Outcome::stored; the
  // default). `dedupd scan`, which never reads it, turns it off: a store that
  // can take the state's buffers (MemoryStore::PutTaking) then keeps them
  // instead of a copy, and hands back those of a state it dropped for the
  // next page's (issue #11 item 3, session 10).
  void SetOutcomeStored(bool on) { outcome_stored_ = on; }
  // True while Process() has staged changes that Commit()/Rollback() settle.
  bool HasStaged() const { return !undo_.empty(); }

  size_t IndexedDocuments() const { return simhash_index_.size(); }
  // (paragraph, document) postings in the passage index, boilerplate included.
  size_t IndexedPassages() const { return paragraph_index_.postings(); }
  // Bytes the in-memory state holds per structure, from the containers'
  // sizes and capacities (node containers: their nodes and buckets as
  // libstdc++ lays them out, malloc's rounding to 16 bytes included);
  // bench/scaling/doc_memory.cc compares the total with the process's RSS.
  struct MemoryUsage {
    size_t urls = 0;           // the URL of each DocId
    size_t url_ids = 0;        // URL -> DocId
    size_t current = 0;        // per-DocId hash, SimHash, version
    size_t sketches = 0;       // confirmation sketches and their slots
    size_t by_content = 0;     // content hash -> DocIds
    size_t simhash_index = 0;  // index::SimHashIndex
    size_t passage_index = 0;  // index::ParagraphIndex
    size_t remote = 0;         // fetch time and filed passages of documents known from the topic
    size_t Total() const {
      return urls + url_ids + current + sketches + by_content + simhash_index + passage_index +
             remote;
    }
  };
  MemoryUsage Memory() const;
  const DetectOptions& options() const { return options_; }

 private:
  struct Fingerprint;
  struct Candidate;
  using DocId = index::DocId;

  struct NormalizedBlocks;
  template <typename Blocks>  // strings, or views
  void Fingerprinter(const Blocks& blocks, const NormalizedBlocks& normalized,
                     std::string_view site, Fingerprint* out) const;
  // The fingerprint with the blocks marked 1 in `boilerplate` left out: a
  // function of the blocks and the marks alone (any thread).
  void FingerprintBlocks(const NormalizedBlocks& normalized, std::span<const uint8_t> boilerplate,
                         Fingerprint* out) const;
  friend class PreparedPage;
  struct PreparedParts;
  // Speculation hints (Prepare, Decide): per site, the line hashes its last
  // decided pages had as boilerplate. Bounded (UpdateHints).
  struct HintSiteHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void SpeculativeMarks(std::string_view site, const NormalizedBlocks& normalized,
                        std::vector<uint8_t>* marks) const;
  void UpdateHints(std::string_view site, const NormalizedBlocks& normalized,
                   const std::vector<uint8_t>& marks);
  DocId DocIdFor(const std::string& url);
  // `held_tags`: s is RemoteState(doc) (a rollback re-inserting it), so
  // remote_ holds it already and s has no passage hashes: its postings come
  // back with `held_generation` (Undo::generation), and these are the tags
  // of its boilerplate counts IndexRemove took out (Undo::passage_tags).
  void IndexInsert(DocId doc, const state::UrlState& s,
                   const std::vector<uint32_t>* held_tags = nullptr, uint8_t held_generation = 0);
  void IndexRemove(DocId doc, const state::UrlState& s);
  void ObserveStored(const state::UrlState& s);
  // The state the indexes hold for `doc` (its version != 0): the store's copy,
  // or for a document known only from the fingerprints topic the one rebuilt
  // from memory (RemoteState: no text, no history).
  std::optional<state::UrlState> IndexedState(DocId doc);
  state::UrlState RemoteState(DocId doc) const;
  void SetRemote(DocId doc, const state::UrlState& s);
  // Takes a document known from the topic out of the passage index: its
  // boilerplate memberships by tag (left in removed_tags_), its postings by
  // retiring its generation (the one retired left in removed_generation_).
  void RemoveRemotePassages(DocId doc);
  // Settles the passage index's retirements and sweeps its stale postings
  // when due: only with nothing staged (Commit, Rollback, the Apply calls).
  void SettlePassages();
  // `self`: the page's own DocId (self_url's), never a candidate.
  std::optional<Candidate> BestNearDuplicate(const Fingerprint& fp, const std::string& self_url,
                                             DocId self);
  void SetSketch(DocId doc, const state::UrlState& s);
  bool DeriveSketch(DocId doc);
  // Writes the page's version record and the replaced version's records and
  // texts (from *replaced, if any) into next->versions, reusing its records.
  void AppendVersion(const Outcome& out, const state::UrlState* replaced,
                     state::UrlState* next) const;
  // IndexedState(doc) without a copy where the store allows (Peek): valid
  // until the next call on the store; *holder keeps a state rebuilt from
  // memory.
  const state::UrlState* PeekIndexedState(DocId doc, std::optional<state::UrlState>* holder);
  DiffOutcome MakeDiff(const std::string& old_text, const std::vector<std::string_view>& new_blocks,
                       std::string_view old_label, std::string_view new_label) const;
  // MakeDiff() into *d (its buffers reused), on any thread.
  void DiffInto(const std::string& old_text, const std::vector<std::string_view>& new_blocks,
                std::string_view old_label, std::string_view new_label, DiffOutcome* d) const;
  // Prepare()'s prefetch (PrefetchPrevious), on the worker's thread.
  void PrefetchInto(const parse::ParsedPage& page, PreparedParts* prepared) const;
  // The diff against a page whose text this instance does not hold (known
  // from a fingerprint record): from its line hashes (docs/diff.md).
  DiffOutcome MakeBlockDiff(const std::vector<uint64_t>& old_line_hashes,
                            const std::vector<std::string_view>& new_blocks,
                            const NormalizedBlocks& normalized, std::string_view old_label,
                            std::string_view new_label) const;

  struct Undo {
    enum class Kind { kInserted, kRemoved } kind;
    DocId doc;
    state::UrlState state;  // what was removed, or the indexed fields of what was inserted
    // kRemoved of a document known from the topic: the generation its
    // postings had (ParagraphIndex::Retire), which Rollback restores, and
    // the tags of its boilerplate counts taken out, which it files again.
    std::vector<uint32_t> passage_tags = {};
    uint8_t generation = 0;
  };

  DetectOptions options_;
  state::StateStore* store_;
  BoilerplateModel boilerplate_;
  index::SimHashIndex simhash_index_;
  index::ParagraphIndex paragraph_index_;
  // DocIds are dense, in order of first sight: the URL of each and its
  // indexed version. Each URL is held once, in urls_'s arena
  // (docs/design.md, "Memory per document").
  index::UrlTable urls_;
  // 18 bytes: the SimHash is held once, by simhash_index_ (Hash()), and the
  // struct is packed (docs/design.md, "Memory per document"). The full
  // 128-bit hash stays: for a document known from the fingerprints topic it
  // is the only copy, and events and the history carry it (a PageDiff's old
  // side, a REVISED page's history). The version shares 16 bits with the
  // flags (issue #15, session 8: 21 bytes before): up to kVersionOverflow - 1
  // it is held here, a larger one is kVersionOverflow here and the value in
  // version_overflow_ (a URL revised 16,383 times). So `version != 0` tests
  // "indexed" as before; VersionOf() gives the value.
  static constexpr uint16_t kVersionOverflow = (1u << 14) - 1;
#pragma pack(push, 1)
  struct Current {
    // The content hash's halves as scalars, not a ContentHash128 member: a
    // class-type member of a packed struct is constructed and bound by
    // reference at a misaligned address (undefined; UBSan stops on it).
    uint64_t hash_low = 0;
    uint64_t hash_high = 0;
    // 0: not in the indexes (stored versions start at 1); kVersionOverflow:
    // the value is in version_overflow_.
    uint16_t version : 14 = 0;
    // 0: known from another instance's fingerprint record (memory only)
    uint16_t history_full : 1 = 1;
    // by_content_ holds the doc, under hash's tag (kept apart from version:
    // a record may carry any version, 0 included).
    uint16_t in_by_content : 1 = 0;
    ContentHash128 hash() const { return {hash_low, hash_high}; }
  };
#pragma pack(pop)
  static_assert(sizeof(Current) == 18);
  index::PagedArray<Current> current_;  // by DocId; lets ApplyCommitted skip without a store read
  std::unordered_map<DocId, uint32_t> version_overflow_;  // versions >= kVersionOverflow
  uint32_t VersionOf(DocId doc) const;
  void SetVersion(DocId doc, uint32_t version);
  // Confirmation sketches by DocId, quantised gaps (index::SketchStore), and
  // whether each is known (false for a page indexed from a record without a
  // sketch until it is first a candidate: DeriveSketch).
  index::SketchStore sketches_;
  // Content hash (the top 32 bits of its low half as a tag; full hash
  // compared in current_) -> docs, oldest first. The tags are read from
  // current_ (4-byte slots: index::IdTable), so a doc's entry goes in after
  // its Current and out before its hash changes.
  index::IdTable by_content_;
  // Documents known only from the fingerprints topic (Current::history_full
  // false; not in the store): what IndexRemove() and a match would otherwise
  // read from the store. By DocId, 6 bytes (8 before session 8): the fetch
  // time (ms since 1970, 42 bits, unsigned) and its versions[0]'s
  // boilerplate_blocks (6 bits); a value out of range (before 1970 or after
  // 2109, or over 62 blocks: the corpus's pages have at most 31) marks the
  // slot and lives in remote_overflow_. Its passages are not kept (session
  // 9; 16 B of tag prefixes before): its postings go by retiring its
  // generation in the passage index (ParagraphIndex::Retire), and
  // remote_boilerplate_ keeps the tags of those counted in a boilerplate
  // paragraph, which have no posting (docs/scale.md, "Memory per non-owned
  // document").
  struct Remote {
    uint16_t packed[3] = {0, 0, 0};  // 48 bits, low word first (2-byte alignment)
  };
  static_assert(sizeof(Remote) == 6);
  index::PagedArray<Remote> remote_;
  std::unordered_multimap<DocId, uint32_t> remote_boilerplate_;
  DocId inserting_remote_ = ~DocId{0};  // IndexInsert's document, while it files its passages
  std::vector<uint32_t> removed_tags_;  // RemoveRemotePassages()'s, for the undo log
  uint8_t removed_generation_ = 0;      // likewise
  std::unordered_map<DocId, std::pair<int64_t, uint32_t>> remote_overflow_;
  std::vector<Undo> undo_;
  std::unique_ptr<PreparedPage> page_prepared_;  // Process()'s, reused page after page
  std::unique_ptr<Fingerprint> page_fp_;         // likewise
  struct PageScratch;
  std::unique_ptr<PageScratch> page_scratch_;  // Process()'s vectors, likewise
  std::function<void(const state::UrlState&)> observer_;
  bool outcome_stored_ = true;  // SetOutcomeStored()
  mutable std::mutex hints_mu_;
  std::unordered_map<std::string, std::unordered_set<uint64_t>, HintSiteHash, std::equal_to<>>
      hints_;                          // guarded by hints_mu_
  std::vector<uint8_t> decide_marks_;  // Decide()'s, reused
  SpeculationStats speculation_;
  bool prefetch_ = false;  // PrefetchPrevious (read by Prepare on any thread; set before)
  PrefetchStats prefetch_stats_;
};

// A page Detector::Prepare() filled, for Detector::Decide(): it owns its
// blocks, forms and hashes. Reusing one for page after page keeps their
// buffers. Thread-safety: one thread at a time.
class PreparedPage {
 public:
  PreparedPage();
  ~PreparedPage();
  PreparedPage(PreparedPage&&) noexcept;
  PreparedPage& operator=(PreparedPage&&) noexcept;

 private:
  friend class Detector;
  std::unique_ptr<Detector::PreparedParts> parts_;
};

}  // namespace dedupd::classify
