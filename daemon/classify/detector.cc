#include "classify/detector.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <tuple>

#include "classify/join_blocks.h"
#include "common/log.h"
#include "fingerprint/fingerprint.h"
#include "text/extract.h"
#include "text/normalize.h"
#include "text/segment.h"

namespace dedupd::classify {
namespace {

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) out.emplace_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// What IndexRemove() needs to undo an insert, and IndexInsert() to undo a
// removal: the indexed fields, without
// the text, line hashes, title and history (Rollback() never reads them), so
// the undo log does not copy every page's text.
state::UrlState IndexedPart(const state::UrlState& s) {
  state::UrlState p;
  p.content_hash = s.content_hash;
  p.simhash = s.simhash;
  p.version = s.version;
  p.fetched_at_ms = s.fetched_at_ms;  // SetRemote's, when Rollback() re-inserts it
  p.paragraph_hashes = s.paragraph_hashes;
  p.sketch = s.sketch;
  p.shingle_count = s.shingle_count;
  p.sketch_known = s.sketch_known;
  // What the state observer (Commit: the API's copy map) reads: the URL and
  // its current version's record, which holds no text.
  p.canonical_url = s.canonical_url;
  p.site = s.site;
  if (!s.versions.empty()) p.versions.push_back(s.versions.front());
  p.history_full = s.history_full;
  return p;
}

// IndexedPart(s) written into *p, whatever *p held (a state an earlier
// Commit() left): every field is assigned, so *p ends equal to
// IndexedPart(s), with p's strings and vectors reused.
void IndexedPartInto(const state::UrlState& s, state::UrlState* p) {
  // A field added to UrlState must be written below as well.
  static_assert(sizeof(state::UrlState) == 312);
  p->canonical_url.assign(s.canonical_url);
  p->site.assign(s.site);
  p->version = s.version;
  p->content_hash = s.content_hash;
  p->simhash = s.simhash;
  p->fetched_at_ms = s.fetched_at_ms;
  p->history.clear();
  p->paragraph_hashes.assign(s.paragraph_hashes.begin(), s.paragraph_hashes.end());
  p->line_hashes.clear();
  p->line_hashes_known = false;
  p->sketch.assign(s.sketch.begin(), s.sketch.end());
  p->shingle_count = s.shingle_count;
  p->sketch_known = s.sketch_known;
  p->text.clear();
  p->title.clear();
  if (s.versions.empty()) {
    p->versions.clear();
  } else {
    p->versions.resize(1);
    p->versions[0] = s.versions.front();
  }
  p->history_full = s.history_full;
  p->text_known = true;
}

// by_content_'s tag of a content hash.
uint32_t ContentTag(const ContentHash128& h) {
  return static_cast<uint32_t>(h.low >> 32);
}

}  // namespace

struct Detector::Fingerprint {
  std::vector<uint64_t> shingles;
  std::vector<uint32_t> sketch;  // BottomK32(shingles)
  SimHash64 simhash;
  std::vector<uint64_t> paragraph_hashes;
  uint32_t boilerplate_blocks = 0;
  bool boilerplate_only = false;
};

// Each block's matching form and its hash (0 for a block that normalises to
// nothing), its sentences and their forms, computed once per page and shared
// by the page statistics, boilerplate learning and the fingerprinter. The
// forms are views into one buffer (text::PageForms), where a block's form is
// the run of its sentences' forms: nothing is copied from one to the other,
// nor into a joined text for the fingerprint. Process() reuses one instance
// for every page, so the buffer and the vectors keep their capacity (no
// allocation per page once they have grown).
struct Detector::NormalizedBlocks {
  text::PageForms page;
  std::vector<std::string_view> forms;  // block i's matching form (a view into page)
  std::vector<uint64_t> line_hash;
  size_t count = 0;

  NormalizedBlocks() = default;
  explicit NormalizedBlocks(const std::vector<std::string>& blocks) { Assign(blocks); }
  // Blocks: strings or views. One normalising pass per sentence gives both
  // forms (text::PageForms).
  template <typename Blocks>
  void Assign(const Blocks& blocks) {
    page.Clear();
    for (const auto& block : blocks) page.Append(block);
    Index();
  }
  // Keeps the blocks i with keep[i] (text::PageForms::Keep): the forms of
  // the kept blocks are those Assign() gives them alone.
  void Keep(const std::vector<bool>& keep) {
    page.Keep(keep);
    Index();
  }
  void Index() {
    count = page.blocks();
    forms.resize(count);
    line_hash.assign(count, 0);
    for (size_t i = 0; i < count; ++i) {
      forms[i] = page.BlockForm(i);
      if (!forms[i].empty()) line_hash[i] = fingerprint::Hash64(forms[i]);
    }
  }
  void NonEmptyHashes(std::vector<uint64_t>* out) const {
    out->clear();
    out->reserve(count);  // one allocation when the buffer went into a stored state
    for (size_t i = 0; i < count; ++i) {
      if (!forms[i].empty()) out->push_back(line_hash[i]);
    }
  }
  std::vector<uint64_t> NonEmptyHashes() const {
    std::vector<uint64_t> out;
    NonEmptyHashes(&out);
    return out;
  }
};

// What Prepare() computes from the page alone, for Decide(): the page's
// blocks, extracted into the last page's buffers, their forms and hashes,
// and the outcome's fields that depend on the page alone.
struct Detector::PreparedParts {
  text::ExtractedText extracted;        // an HTML page's blocks
  std::string repaired;                 // a plain page's body with its invalid UTF-8 repaired
  std::vector<std::string_view> views;  // the blocks without chrome (in extracted or the body)
  text::RepeatResult repeats;
  // The canonical text (the kept blocks joined with '\n', as the state
  // stores it: Decide() swaps it into the state) and the kept blocks, views
  // into it.
  std::string joined;
  std::vector<std::string_view> canonical;  // without repeats
  NormalizedBlocks normalized;
  std::vector<uint64_t> line_hashes;  // the non-empty forms' hashes (the stored line hashes)
  Flags flags;
  double repeated_fraction = 0;
  ContentHash128 content_hash;
  TextStats stats;
  // Speculate::kYes: the fingerprint with the blocks marked 1 left out (the
  // hints' guess of the boilerplate), which Decide() takes if the model
  // marks the same blocks.
  bool speculated = false;
  std::vector<uint8_t> speculated_marks;
  Fingerprint speculated_fp;
  // PrefetchPrevious: the URL's committed state when Prepare() ran (empty:
  // none), and the REVISED diff against it when its content differs, its
  // labels as Decide() writes them; spare_diff keeps a diff's buffers for
  // the next one.
  bool prefetched = false;
  std::optional<state::UrlState> previous;
  std::optional<DiffOutcome> diff;
  std::optional<DiffOutcome> spare_diff;
  std::string old_label, new_label;
};

PreparedPage::PreparedPage() : parts_(std::make_unique<Detector::PreparedParts>()) {}
PreparedPage::~PreparedPage() = default;
PreparedPage::PreparedPage(PreparedPage&&) noexcept = default;
PreparedPage& PreparedPage::operator=(PreparedPage&&) noexcept = default;

// Decide()'s per-page vectors, kept so that they keep their capacity.
struct Detector::PageScratch {
  std::vector<DocId> same_content;
  // BestNearDuplicate()'s candidates, kept so that they keep their capacity.
  std::vector<DocId> candidate_docs;
  std::vector<uint8_t> candidate_found_by;
  std::vector<index::Neighbor> neighbors;
  std::vector<std::pair<DocId, uint32_t>> shared_passages;
  std::optional<state::UrlState> candidate_state;  // a winner known only from memory
  // What Recycle() handed back: the last outcome's stored state and diff,
  // whose strings and vectors the next page's are built in.
  std::optional<state::UrlState> spare_state;
  std::optional<DiffOutcome> spare_diff;
  std::string spare_match_url;  // the last outcome's MatchInfo::url
  // The undo log's states, given back by Commit() and Rollback() (at most
  // kMaxSpareUndo: a big batch keeps no more), refilled by UndoState().
  std::vector<state::UrlState> spare_undo;
  static constexpr size_t kMaxSpareUndo = 64;

  // IndexedPart(s), in a state an earlier batch's undo log left.
  state::UrlState UndoState(const state::UrlState& s) {
    if (spare_undo.empty()) return IndexedPart(s);
    state::UrlState p = std::move(spare_undo.back());
    spare_undo.pop_back();
    IndexedPartInto(s, &p);
    return p;
  }
  void KeepUndoStates(std::vector<Undo>* undo) {
    for (Undo& u : *undo) {
      if (spare_undo.size() < kMaxSpareUndo) spare_undo.push_back(std::move(u.state));
    }
  }
  // The diff's labels ("URL vN"), written over page after page.
  std::string old_label, new_label;
  // `url` in the string of the last outcome's match (Recycle()).
  std::string MatchUrl(std::string_view url) {
    std::string out = std::move(spare_match_url);
    out.assign(url);
    return out;
  }
};

namespace {

// "URL vN" and `suffix`, in *out (its buffer reused): a diff's label.
std::string_view VersionLabel(std::string_view url, uint32_t version, std::string_view suffix,
                              std::string* out) {
  out->assign(url);
  out->append(" v");
  char digits[16];
  const auto end = std::to_chars(digits, digits + sizeof digits, version).ptr;
  out->append(digits, end);
  out->append(suffix);
  return *out;
}

// A default state holding `spare`'s buffers, emptied: the fields Process()
// fills keep their capacity, and every other field (one added later too)
// starts from its default.
state::UrlState StateWithBuffersOf(std::optional<state::UrlState>* spare) {
  state::UrlState s;
  if (!*spare) return s;
  auto take = [](auto& from, auto* to) {
    *to = std::move(from);
    to->clear();
  };
  take((*spare)->canonical_url, &s.canonical_url);
  take((*spare)->site, &s.site);
  take((*spare)->history, &s.history);
  take((*spare)->paragraph_hashes, &s.paragraph_hashes);
  take((*spare)->line_hashes, &s.line_hashes);
  take((*spare)->sketch, &s.sketch);
  take((*spare)->text, &s.text);
  take((*spare)->title, &s.title);
  // The version records are kept as they are: AppendVersion() assigns every
  // one it keeps (their texts' buffers reused) and drops the rest.
  s.versions = std::move((*spare)->versions);
  spare->reset();
  return s;
}

}  // namespace

struct Detector::Candidate {
  DocId doc;
  // The winner's state, read in place (PeekIndexedState(), into
  // PageScratch::candidate_state when memory holds it): valid until the next
  // store call, the Put() of the page it is the match of.
  const state::UrlState* state = nullptr;
  int distance = 0;
  double containment = 0;
  double jaccard = 0;
  uint8_t found_by = 0;
  uint32_t boilerplate_blocks = 0;
};

Detector::Detector(DetectOptions options, state::StateStore* store)
    : options_(options),
      store_(store),
      boilerplate_(options.boilerplate),
      simhash_index_(options.simhash_distance),
      sketches_(options.confirm_sketch_size),
      by_content_(
          [](const void* self, DocId doc) {
            return ContentTag(static_cast<const Detector*>(self)->current_[doc].hash());
          },
          this),
      page_prepared_(std::make_unique<PreparedPage>()),
      page_fp_(std::make_unique<Fingerprint>()),
      page_scratch_(std::make_unique<PageScratch>()) {
  // A document known from the topic keeps only its passages' prefixes: the
  // tags of those counted in a boilerplate paragraph (no posting to find by
  // prefix) are kept here until it is removed.
  paragraph_index_.SetBoilerplateListener([this](DocId d, uint32_t tag) {
    if (d == inserting_remote_ || (current_[d].version != 0 && !current_[d].history_full)) {
      remote_boilerplate_.emplace(d, tag);
    }
  });
  // A staged batch retired d (a document known from the topic it replaced)
  // and a paragraph turned boilerplate since, erasing d's stale posting: a
  // rollback files the tag again (d counted in it, as if never retired).
  paragraph_index_.SetUnsettledListener([this](DocId d, uint32_t tag) {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      // The record of d's retirement: its removal as a remote document (a
      // later removal of the same URL in the batch is of the version this
      // batch filed, removed exactly).
      if (it->kind == Undo::Kind::kRemoved && it->doc == d && !it->state.history_full) {
        it->passage_tags.push_back(tag);
        return;
      }
    }
  });
}

Detector::~Detector() = default;

template <typename Blocks>  // strings, or views
void Detector::Fingerprinter(const Blocks& blocks, const NormalizedBlocks& normalized_blocks,
                             std::string_view site, Fingerprint* out) const {
  thread_local std::vector<uint8_t> marks;
  marks.assign(blocks.size(), 0);
  for (size_t i = 0; i < blocks.size(); ++i) {
    marks[i] = !normalized_blocks.forms[i].empty() &&
               boilerplate_.IsBoilerplate(site, normalized_blocks.line_hash[i]);
  }
  FingerprintBlocks(normalized_blocks, marks, out);
}

void Detector::FingerprintBlocks(const NormalizedBlocks& normalized_blocks,
                                 std::span<const uint8_t> boilerplate, Fingerprint* out) const {
  // *out is reused page after page (Process), so every field is reset here
  // and the vectors keep their capacity; so do the two scratch strings. The
  // shingles are not cleared: ShingleSet replaces them, and resizing from
  // the last page's count instead of 0 writes fewer zeros (~12 KB a page).
  Fingerprint& fp = *out;
  fp.sketch.clear();
  fp.simhash = {};
  fp.paragraph_hashes.clear();
  fp.boilerplate_blocks = 0;
  fp.boilerplate_only = false;
  // The fingerprinted text: the forms of the blocks kept, as if joined with
  // '\n' (ShingleSet takes them as pieces, so they are not copied).
  thread_local std::vector<std::string_view> kept;
  kept.clear();
  size_t all_tokens = 0;
  const text::PageForms& page = normalized_blocks.page;
  for (size_t i = 0; i < boilerplate.size(); ++i) {
    const std::string_view normalized = normalized_blocks.forms[i];
    if (normalized.empty()) continue;
    if (boilerplate[i] != 0) {
      ++fp.boilerplate_blocks;
      all_tokens += fingerprint::CountTokens(normalized);
      continue;
    }
    // Sentences are split on the original text (the splitter needs case and
    // the original punctuation), then normalised one by one.
    for (size_t k = page.FirstSentence(i); k < page.FirstSentence(i + 1); ++k) {
      const std::string_view passage = page.SentenceForm(k);
      if (text::CountCodePoints(passage) >= options_.passage_min_chars) {
        fp.paragraph_hashes.push_back(fingerprint::Hash64(passage));
      }
    }
    kept.push_back(normalized);
  }
  fingerprint::ShingleOptions shingle_options;
  shingle_options.k = options_.shingle_k;
  // The shingle set in no order (SimHash needs none; candidates sort it).
  const size_t kept_tokens = fingerprint::ShingleSet(kept, shingle_options, &fp.shingles);
  if (kept_tokens < options_.min_fingerprint_tokens && all_tokens > 0) {
    fp.boilerplate_only = true;
    fp.shingles.clear();
    fp.paragraph_hashes.clear();
    return;  // nothing of the page's own to fingerprint: no near-duplicate search
  }
  fp.simhash = fingerprint::ComputeSimHash(fp.shingles);
  fingerprint::BottomK32(fp.shingles, options_.confirm_sketch_size, &fp.sketch);
  std::sort(fp.paragraph_hashes.begin(), fp.paragraph_hashes.end());
  fp.paragraph_hashes.erase(std::unique(fp.paragraph_hashes.begin(), fp.paragraph_hashes.end()),
                            fp.paragraph_hashes.end());
  if (fp.paragraph_hashes.size() > options_.passage_sample) {
    fp.paragraph_hashes.resize(options_.passage_sample);  // bottom-k: the smallest hashes
  }
}

// Speculation hints: at most max_sites sites (as the model) and
// kMaxHintLines lines each (a site's boilerplate is a few dozen lines; the
// bound keeps the worst case near 4096 x 256 x 40 B = 40 MiB); a full map
// or site starts again empty, which costs misses, never a wrong fingerprint.
constexpr size_t kMaxHintLines = 256;

void Detector::SpeculativeMarks(std::string_view site, const NormalizedBlocks& normalized,
                                std::vector<uint8_t>* marks) const {
  marks->assign(normalized.count, 0);
  std::lock_guard lock(hints_mu_);
  const auto it = hints_.find(site);
  if (it == hints_.end()) return;
  for (size_t i = 0; i < normalized.count; ++i) {
    (*marks)[i] = !normalized.forms[i].empty() && it->second.contains(normalized.line_hash[i]);
  }
}

void Detector::UpdateHints(std::string_view site, const NormalizedBlocks& normalized,
                           const std::vector<uint8_t>& marks) {
  std::lock_guard lock(hints_mu_);
  auto it = hints_.find(site);
  if (it == hints_.end()) {
    if (hints_.size() >= options_.boilerplate.max_sites) hints_.clear();
    it = hints_.emplace(std::string(site), std::unordered_set<uint64_t>{}).first;
  }
  std::unordered_set<uint64_t>& lines = it->second;
  for (size_t i = 0; i < marks.size(); ++i) {
    if (normalized.forms[i].empty()) continue;
    if (marks[i] != 0) {
      lines.insert(normalized.line_hash[i]);
    } else {
      lines.erase(normalized.line_hash[i]);
    }
  }
  if (lines.size() > kMaxHintLines) lines.clear();
}

Detector::DocId Detector::DocIdFor(const std::string& url) {
  const DocId id = urls_.Add(url);
  if (id == current_.size()) {  // first sight
    current_.emplace_back();
    sketches_.Resize(current_.size());
    remote_.emplace_back();
  }
  return id;
}

uint32_t Detector::VersionOf(DocId doc) const {
  const uint16_t v = current_[doc].version;
  return v != kVersionOverflow ? v : version_overflow_.at(doc);
}

void Detector::SetVersion(DocId doc, uint32_t version) {
  if (version < kVersionOverflow) {
    if (current_[doc].version == kVersionOverflow) version_overflow_.erase(doc);
    current_[doc].version = static_cast<uint16_t>(version);
    return;
  }
  current_[doc].version = kVersionOverflow;
  version_overflow_[doc] = version;
}

void Detector::SetSketch(DocId doc, const state::UrlState& s) {
  if (!s.sketch_known) {
    sketches_.Forget(doc);
    return;
  }
  sketches_.Set(doc, s.sketch, s.shingle_count);
}

bool Detector::DeriveSketch(DocId doc) {
  // A page indexed from a record written before format 3: fingerprint its
  // stored text once, with today's boilerplate model, and keep the sketch.
  auto stored = store_->Get(urls_.Url(doc));
  if (!stored || !stored->text_known) return false;
  std::vector<std::string> blocks = SplitLines(stored->text);
  Fingerprint fp;
  Fingerprinter(blocks, NormalizedBlocks(blocks), stored->site, &fp);
  stored->sketch = std::move(fp.sketch);
  stored->shingle_count = static_cast<uint32_t>(fp.shingles.size());
  stored->sketch_known = true;
  SetSketch(doc, *stored);
  return true;
}

void Detector::IndexInsert(DocId doc, const state::UrlState& s,
                           const std::vector<uint32_t>* held_tags, uint8_t held_generation) {
  if (s.simhash.bits != 0) {
    simhash_index_.Insert(doc, s.simhash);
  } else if (simhash_index_.Contains(doc)) {  // its one SimHash is this state's (0)
    simhash_index_.Remove(doc, simhash_index_.Hash(doc));
  }
  if (s.history_full) {
    paragraph_index_.Insert(doc, s.paragraph_hashes);
  } else {
    // Memory only: the first passage_sample passages are filed.
    thread_local std::vector<uint32_t> tags;
    if (held_tags != nullptr) {
      // A rollback: the postings of the generation retired are live again
      // (nothing swept while the batch was staged), the boilerplate counts
      // taken out are filed again.
      paragraph_index_.Restore(doc, held_generation);
      tags = *held_tags;
    } else {
      SetRemote(doc, s);
      tags.clear();
      for (size_t i = 0; i < std::min(s.paragraph_hashes.size(), options_.passage_sample); ++i) {
        tags.push_back(index::ParagraphIndex::Tag(s.paragraph_hashes[i]));
      }
    }
    inserting_remote_ = doc;
    paragraph_index_.InsertTags(doc, tags);
    inserting_remote_ = ~DocId{0};
  }
  // by_content_ reads the doc's tag from current_: a doc indexed again
  // without IndexRemove (its store record was gone) leaves under its old hash.
  if (current_[doc].in_by_content) by_content_.Remove(doc);
  current_[doc].hash_low = s.content_hash.low;
  current_[doc].hash_high = s.content_hash.high;
  current_[doc].history_full = s.history_full;
  current_[doc].in_by_content = 1;
  SetVersion(doc, s.version);
  by_content_.Insert(doc);
  SetSketch(doc, s);
}

void Detector::IndexRemove(DocId doc, const state::UrlState& s) {
  simhash_index_.Remove(doc, s.simhash);
  removed_tags_.clear();
  if (s.history_full) {
    paragraph_index_.Remove(doc, s.paragraph_hashes);
  } else {
    // Filed from memory (IndexInsert): RemoteState() has no passage hashes,
    // and a stored copy of the same version files the same tags.
    RemoveRemotePassages(doc);
  }
  // Memberships left (a document known from the topic removed through a
  // stored copy's hashes) are gone with it.
  remote_boilerplate_.erase(doc);
  if (current_[doc].in_by_content) by_content_.Remove(doc);  // under current_'s hash: s's
  current_[doc].in_by_content = 0;
  SetVersion(doc, 0);
  sketches_.Forget(doc);
}

void Detector::RemoveRemotePassages(DocId doc) {
  // The passages counted in a boilerplate paragraph (the listener kept their
  // tags) are counts, not postings: out by tag. Then every posting at once,
  // by its generation.
  auto [it, end] = remote_boilerplate_.equal_range(doc);
  for (; it != end; ++it) removed_tags_.push_back(it->second);
  remote_boilerplate_.erase(doc);
  paragraph_index_.RemoveTags(doc, removed_tags_);
  removed_generation_ = paragraph_index_.Retire(doc);
}

namespace {

// Remote::packed: the fetch time in the low 42 bits (ms since 1970,
// unsigned), the boilerplate block count in the top 6; kRemoteOverflow there
// sends both to remote_overflow_.
constexpr int kRemoteTimeBits = 42;
constexpr uint64_t kRemoteTimeMask = (uint64_t{1} << kRemoteTimeBits) - 1;
constexpr uint32_t kRemoteOverflow = (1u << (48 - kRemoteTimeBits)) - 1;

uint64_t RemoteBits(const uint16_t (&packed)[3]) {
  return uint64_t{packed[0]} | uint64_t{packed[1]} << 16 | uint64_t{packed[2]} << 32;
}

void SetRemoteBits(uint64_t bits, uint16_t (&packed)[3]) {
  for (int i = 0; i < 3; ++i) packed[i] = static_cast<uint16_t>(bits >> (16 * i));
}

}  // namespace

void Detector::SetRemote(DocId doc, const state::UrlState& s) {
  const int64_t fetched_at = s.fetched_at_ms;
  const uint32_t boilerplate = s.versions.empty() ? 0 : s.versions.front().boilerplate_blocks;
  if (fetched_at >= 0 && static_cast<uint64_t>(fetched_at) <= kRemoteTimeMask &&
      boilerplate < kRemoteOverflow) {
    SetRemoteBits(static_cast<uint64_t>(fetched_at) | uint64_t{boilerplate} << kRemoteTimeBits,
                  remote_[doc].packed);
    remote_overflow_.erase(doc);
  } else {
    SetRemoteBits(uint64_t{kRemoteOverflow} << kRemoteTimeBits, remote_[doc].packed);
    remote_overflow_[doc] = {fetched_at, boilerplate};
  }
}

state::UrlState Detector::RemoteState(DocId doc) const {
  const Current& c = current_[doc];
  const uint64_t packed = RemoteBits(remote_[doc].packed);
  int64_t fetched_at = static_cast<int64_t>(packed & kRemoteTimeMask);
  uint32_t boilerplate = static_cast<uint32_t>(packed >> kRemoteTimeBits);
  if (boilerplate == kRemoteOverflow) {
    const auto it = remote_overflow_.find(doc);
    if (it != remote_overflow_.end()) std::tie(fetched_at, boilerplate) = it->second;
  }
  state::UrlState s;
  s.canonical_url = urls_.Url(doc);
  s.version = VersionOf(doc);
  s.content_hash = c.hash();
  s.simhash = simhash_index_.Hash(doc);
  s.fetched_at_ms = fetched_at;
  // No passage hashes: memory keeps none (IndexRemove retires the
  // document's generation; a rollback restores it, Undo::generation).
  // Nothing else reads a remote state's passages.
  // No sketch: memory holds it quantised (index::SketchStore), and nothing
  // that reads this state needs its values (a match was confirmed already;
  // IndexRemove does not use them). The one loss: a batch rolled back after
  // this instance processed a URL another instance owns forgets that URL's
  // sketch until its next fingerprint record (it is no candidate meanwhile).
  s.sketch_known = false;
  state::VersionRecord v;
  v.version = s.version;
  v.fetched_at_ms = fetched_at;
  v.content_hash = c.hash();
  v.boilerplate_blocks = boilerplate;
  s.versions.push_back(std::move(v));
  s.history_full = false;
  s.text_known = false;
  return s;
}

std::optional<state::UrlState> Detector::IndexedState(DocId doc) {
  const Current& c = current_[doc];
  if (c.history_full) return store_->Get(urls_.Url(doc));
  // Known from the fingerprints topic, so memory holds it. A copy of the
  // same version in the store (an upgraded store that kept other instances'
  // pages with their text, or a text-free record with its line keys applied
  // through ApplyCommitted) has what memory lacks for a diff: use it.
  if (auto stored = store_->Get(urls_.Url(doc));
      stored && stored->version == VersionOf(doc) && stored->content_hash == c.hash()) {
    return stored;
  }
  return RemoteState(doc);
}

void Detector::ObserveStored(const state::UrlState& s) {
  if (observer_) observer_(s);
  // Re-learn the site's boilerplate from the stored page's line hashes, or,
  // for a record written before they were stored, from its canonical text.
  const uint64_t url_hash = fingerprint::Hash64(s.canonical_url);
  if (s.line_hashes_known) {
    boilerplate_.Observe(s.site, url_hash, s.line_hashes);
    return;
  }
  NormalizedBlocks normalized(SplitLines(s.text));
  boilerplate_.Observe(s.site, url_hash, normalized.NonEmptyHashes());
}

size_t Detector::LoadFromStore(const std::function<void(size_t)>& progress, size_t every) {
  size_t loaded = 0;
  store_->ForEach(
      [&](const state::UrlState& s) {
        DocId doc = DocIdFor(s.canonical_url);
        IndexInsert(doc, s);
        ObserveStored(s);
        ++loaded;
        if (progress && every > 0 && loaded % every == 0) progress(loaded);
        return true;
      },
      state::TextPart::kSkipIfIndexed);  // the indexes and the model need no text
  return loaded;
}

std::optional<Detector::Candidate> Detector::BestNearDuplicate(const Fingerprint& fp,
                                                               const std::string& self_url,
                                                               DocId self) {
  if (fp.shingles.empty()) return std::nullopt;
  // Candidates, most promising first: SimHash neighbours (nearest first), then
  // documents sharing sampled passages (most shared first). Only the first
  // max_candidates are confirmed, so the order matters.
  PageScratch& scratch = *page_scratch_;
  std::vector<DocId>& docs = scratch.candidate_docs;
  std::vector<uint8_t>& found_by = scratch.candidate_found_by;  // per entry of docs: which paths
  docs.clear();
  found_by.clear();
  std::vector<index::Neighbor>& neighbors = scratch.neighbors;
  simhash_index_.Query(fp.simhash, options_.simhash_distance, &neighbors);
  for (const auto& n : neighbors) {
    docs.push_back(n.doc);
    found_by.push_back(kFoundBySimHash);
  }
  std::vector<std::pair<DocId, uint32_t>>& shared = scratch.shared_passages;
  paragraph_index_.Query(fp.paragraph_hashes, options_.passage_min_shared, options_.max_candidates,
                         &shared);
  for (const auto& [doc, count] : shared) {
    auto it = std::find(docs.begin(), docs.end(), doc);
    if (it == docs.end()) {
      docs.push_back(doc);
      found_by.push_back(kFoundByPassages);
    } else {
      found_by[static_cast<size_t>(it - docs.begin())] |= kFoundByPassages;
    }
  }
  if (docs.size() > options_.max_candidates) docs.resize(options_.max_candidates);

  std::optional<Candidate> best;
  std::vector<uint64_t> sorted;  // fp.shingles sorted, for the reference mode's set algebra
  // The page itself is recognised by its DocId: no candidate's URL is built
  // (UrlTable::Url decodes it into a new string) unless it is read.
  for (size_t d = 0; d < docs.size(); ++d) {
    const DocId doc = docs[d];
    if (doc == self) continue;
    Candidate c;
    c.doc = doc;
    std::optional<state::UrlState> stored;
    if (options_.confirm_from_text) stored = store_->Get(urls_.Url(doc));
    // Reference mode re-fingerprints the candidate's text; a candidate known
    // only from a fingerprint record has none and goes to the sketch path,
    // which this mode leaves empty (no match: docs/design.md, "Known limits").
    if (options_.confirm_from_text && stored && stored->text_known) {
      std::vector<std::string> other_blocks = SplitLines(stored->text);
      Fingerprint other;
      Fingerprinter(other_blocks, NormalizedBlocks(other_blocks), stored->site, &other);
      if (other.shingles.empty()) continue;
      if (sorted.empty()) {
        sorted = fp.shingles;
        std::sort(sorted.begin(), sorted.end());
      }
      std::sort(other.shingles.begin(), other.shingles.end());
      c.containment = fingerprint::Containment(sorted, other.shingles);
      c.jaccard = fingerprint::Jaccard(sorted, other.shingles);
      c.boilerplate_blocks = other.boilerplate_blocks;
    } else {
      // The sketch stored when the candidate was indexed (its boilerplate
      // left out as the model stood then).
      if (!sketches_.Known(doc) && !DeriveSketch(doc)) continue;
      if (sketches_.ShingleCount(doc) == 0) continue;
      const fingerprint::SketchEstimate e = sketches_.Compare(doc, fp.sketch, fp.shingles.size());
      c.containment = e.containment;
      c.jaccard = e.jaccard;
    }
    c.distance = HammingDistance(fp.simhash, simhash_index_.Hash(doc));
    c.found_by = found_by[d];
    if (log::Global().level <= log::Level::kDebug) {  // no strings built otherwise
      log::Debug("near-duplicate candidate", {{"url", self_url},
                                              {"candidate", urls_.Url(doc)},
                                              {"distance", std::to_string(c.distance)},
                                              {"containment", std::to_string(c.containment)},
                                              {"jaccard", std::to_string(c.jaccard)}});
    }
    if (c.containment < options_.near_dup_containment || c.jaccard < options_.near_dup_jaccard) {
      continue;
    }
    // The most similar wins; among equally similar copies the oldest document
    // (the article's first URL).
    if (!best || c.jaccard > best->jaccard + 1e-9 ||
        (c.jaccard > best->jaccard - 1e-9 && c.doc < best->doc)) {
      best = std::move(c);
    }
  }
  if (best) {
    // Only the winner's state is read (its text is diffed against the page;
    // a document another instance owns has no text here).
    // Read in place, not copied (the store's state, or memory's in the
    // scratch's).
    best->state = PeekIndexedState(best->doc, &scratch.candidate_state);
    if (best->state == nullptr) return std::nullopt;
    // The blocks its own boilerplate model left out when it was indexed, as
    // its history recorded them (the sketch path does not re-fingerprint it).
    if (!options_.confirm_from_text && !best->state->versions.empty()) {
      best->boilerplate_blocks = best->state->versions[0].boilerplate_blocks;
    }
  }
  return best;
}

namespace {

// Where a sentence is before its views can be taken (the buffers grow).
struct SentenceAt {
  size_t begin = 0, size = 0;  // in the side's text
  uint32_t block = 0;
};

// One side of a diff: `blocks`' sentences (those with a non-empty key), the
// blocks copied into *text (joined with '\n'), each key in a string of
// *keys (reused), then *views pointed at them.
template <typename Blocks>
void SideSentences(const Blocks& blocks, std::string* text, std::vector<std::string>* keys,
                   std::vector<diff::SentenceView>* views) {
  thread_local std::vector<std::string_view> split;
  thread_local std::vector<SentenceAt> at;
  at.clear();
  text->clear();
  size_t n = 0;
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    const std::string_view block = blocks[b];
    split.clear();
    text::SplitSentencesInto(block, &split);
    if (!text->empty()) text->push_back('\n');
    const size_t base = text->size();
    text->append(block);
    for (std::string_view s : split) {
      if (n == keys->size()) keys->emplace_back();
      text::ContentKey(s, &(*keys)[n]);
      if ((*keys)[n].empty()) continue;  // the string is reused by the next sentence
      at.push_back({base + static_cast<size_t>(s.data() - block.data()), s.size(), b});
      ++n;
    }
  }
  // A huge diff keeps no more than kMaxKeptKeys strings, none over 64 KiB.
  constexpr size_t kMaxKeptKeys = 4096;
  constexpr size_t kMaxKeptKeyBytes = 64 * 1024;
  if (keys->size() > std::max(n, kMaxKeptKeys)) keys->resize(std::max(n, kMaxKeptKeys));
  for (size_t k = n; k < keys->size(); ++k) {
    if ((*keys)[k].capacity() > kMaxKeptKeyBytes) std::string().swap((*keys)[k]);
  }
  views->clear();
  for (size_t k = 0; k < n; ++k) {
    views->push_back(
        {std::string_view(*text).substr(at[k].begin, at[k].size), (*keys)[k], at[k].block});
  }
}

// The old text's lines as SplitLines() gives them (empty lines dropped), as
// views.
std::vector<std::string_view>& NonEmptyLines(std::string_view text) {
  thread_local std::vector<std::string_view> lines;
  lines.clear();
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    if (!line.empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return lines;
}

}  // namespace

DiffOutcome Detector::MakeDiff(const std::string& old_text,
                               const std::vector<std::string_view>& new_blocks,
                               std::string_view old_label, std::string_view new_label) const {
  // Each side's text is copied once into the diff (it outlives the page's
  // buffers and the store's state), its sentences views into it; the keys
  // are written into the strings of the last diff Recycle() handed back.
  DiffOutcome d;
  if (page_scratch_->spare_diff) {
    // Its sentences, hunks and rendering are all overwritten below.
    d = std::move(*page_scratch_->spare_diff);
    page_scratch_->spare_diff.reset();
  }
  DiffInto(old_text, new_blocks, old_label, new_label, &d);
  return d;
}

void Detector::DiffInto(const std::string& old_text,
                        const std::vector<std::string_view>& new_blocks, std::string_view old_label,
                        std::string_view new_label, DiffOutcome* out) const {
  DiffOutcome& d = *out;
  SideSentences(NonEmptyLines(old_text), &d.old_text, &d.old_keys, &d.old_sentences);
  SideSentences(new_blocks, &d.new_text, &d.new_keys, &d.new_sentences);
  diff::DiffSentences(d.old_sentences, d.new_sentences, options_.diff, &d.result);
  diff::RenderUnified(d.old_sentences, d.new_sentences, d.result, old_label, new_label,
                      /*context=*/1, &d.unified);
}

void Detector::PrefetchInto(const parse::ParsedPage& page, PreparedParts* p) const {
  p->prefetched = true;
  if (p->diff) {  // not taken by Decide(): its buffers serve this one
    p->spare_diff = std::move(p->diff);
    p->diff.reset();
  }
  // The committed state only: GetCommitted is the store's one thread-safe
  // read. Decide() takes it only when the indexes hold that version.
  p->previous = store_->GetCommitted(page.canonical_url);
  if (!p->previous) return;
  const state::UrlState& previous = *p->previous;
  // UNCHANGED needs no diff; a text-free state gets its block diff in
  // Decide() (rare: a partition moved here without its changelog).
  if (previous.content_hash == p->content_hash || !previous.text_known) return;
  DiffOutcome d;
  if (p->spare_diff) {
    d = std::move(*p->spare_diff);
    p->spare_diff.reset();
  }
  DiffInto(previous.text, p->canonical,
           VersionLabel(previous.canonical_url, previous.version, "", &p->old_label),
           VersionLabel(page.canonical_url, previous.version + 1, "", &p->new_label), &d);
  p->diff = std::move(d);
}

DiffOutcome Detector::MakeBlockDiff(const std::vector<uint64_t>& old_line_hashes,
                                    const std::vector<std::string_view>& new_blocks,
                                    const NormalizedBlocks& normalized, std::string_view old_label,
                                    std::string_view new_label) const {
  // The original's blocks are known only by their line keys, in order. Each
  // one that a block of the new page has too (same matching form) gets that
  // block's sentences; each other one is a removed block of unknown text: one
  // sentence with empty text and key (0 characters, never equal to a real
  // sentence, never paired as "changed"). The sentence diff then marks the new
  // page's sentences shared or added exactly as it would with the text for
  // every block copied whole.
  DiffOutcome d;
  SideSentences(new_blocks, &d.new_text, &d.new_keys, &d.new_sentences);
  std::vector<std::pair<uint32_t, uint32_t>> block_sentences(new_blocks.size());  // [first, end)
  for (uint32_t i = 0, b = 0; b < new_blocks.size(); ++b) {
    block_sentences[b].first = i;
    while (i < d.new_sentences.size() && d.new_sentences[i].block == b) ++i;
    block_sentences[b].second = i;
  }
  std::unordered_map<uint32_t, std::deque<uint32_t>> blocks_by_key;  // new blocks, in order
  for (uint32_t b = 0; b < new_blocks.size() && b < normalized.count; ++b) {
    if (!normalized.forms[b].empty()) {
      blocks_by_key[state::LineKey(normalized.line_hash[b])].push_back(b);
    }
  }
  for (uint32_t j = 0; j < old_line_hashes.size(); ++j) {
    auto it = blocks_by_key.find(state::LineKey(old_line_hashes[j]));
    if (it == blocks_by_key.end() || it->second.empty()) {
      diff::SentenceView unknown;
      unknown.block = j;
      d.old_sentences.push_back(unknown);
      continue;
    }
    const auto [first, end] = block_sentences[it->second.front()];
    it->second.pop_front();
    for (uint32_t i = first; i < end; ++i) {
      d.old_sentences.push_back(d.new_sentences[i]);  // views into the new side's buffers
      d.old_sentences.back().block = j;
    }
  }
  diff::DiffSentences(d.old_sentences, d.new_sentences, options_.diff, &d.result);
  diff::RenderUnified(d.old_sentences, d.new_sentences, d.result, old_label, new_label,
                      /*context=*/1, &d.unified);
  return d;
}

Outcome Detector::Process(const parse::ParsedPage& page, int64_t fetched_at_ms) {
  Prepare(page, page_prepared_.get());
  return Decide(page, fetched_at_ms, page_prepared_.get());
}

void Detector::Prepare(const parse::ParsedPage& page, PreparedPage* prepared,
                       Speculate speculate) const {
  PreparedParts& scratch = *prepared->parts_;
  PreparedParts& out = scratch;  // the outcome's fields Decide() copies
  out.flags = {};
  out.repeated_fraction = 0;
  out.stats = {};
  out.stats.invalid_utf8 = static_cast<uint32_t>(page.repaired_utf8);

  // Extract -> blocks without page chrome, as views: an HTML page's into
  // its extracted blocks, a plain page's lines into its body (no copy).
  // Every buffer below is the prepared page's, reused page after page.
  std::vector<std::string_view>& views = scratch.views;
  views.clear();
  std::string_view source;  // the buffer the views are into, if one (plain text)
  if (text::SniffBodyKind(page.content_type, page.body) == text::BodyKind::kHtml) {
    text::ExtractedText& extracted = scratch.extracted;
    text::ExtractHtml(page.body, &extracted);
    for (const text::Block& block : extracted.blocks) {
      if (block.chrome) {
        ++out.stats.boilerplate_blocks;
      } else {
        views.push_back(block.text);
      }
    }
  } else {
    text::SplitPlainTextLines(page.body, &views, &scratch.repaired);
    // The lines view the body, or its repaired copy: JoinBlocks() copies
    // each run of lines that follow each other there with one append.
    const std::less_equal<const char*> at_most;  // a total order on unrelated pointers too
    const bool in_body =
        views.empty() || (at_most(page.body.data(), views[0].data()) &&
                          at_most(views[0].data(), page.body.data() + page.body.size()));
    source = in_body ? std::string_view(page.body) : std::string_view(scratch.repaired);
  }

  // Normalised forms and content keys of every block, then repeats ->
  // canonical blocks (first occurrence kept). The sentences
  // (normalized.page.Sentence) are views into the extraction's strings or
  // the plain body; the canonical blocks are views into scratch.joined, which
  // Decide() swaps into the stored state.
  NormalizedBlocks& normalized = scratch.normalized;
  normalized.Assign(views);
  text::RepeatResult& repeats = scratch.repeats;
  text::FindRepeatsInKeys(views.size(), normalized.page.Keys(), normalized.page.KeyEnds(),
                          options_.repeats, &repeats);
  std::vector<std::string_view>& canonical = scratch.canonical;
  JoinBlocks(views, repeats.keep, source, &scratch.joined, &canonical);
  if (repeats.has_repeats) {
    out.flags.Set(Flag::kRepeatedContent);
    out.repeated_fraction = repeats.repeated_fraction;
  }

  // Exact-content hash over the content key (whitespace-insensitive) of the
  // kept blocks: the blocks' keys, or FindRepeatsInKeys's copy of the kept
  // ones' when it dropped some.
  out.content_hash =
      fingerprint::HashContent(repeats.has_repeats ? repeats.content_key : normalized.page.Keys());
  // Without the dropped copies: the kept blocks' forms, not normalised again.
  if (repeats.has_repeats) normalized.Keep(repeats.keep);
  for (const auto& b : canonical) {
    out.stats.characters += static_cast<uint32_t>(text::CountCodePoints(b));
  }
  out.stats.sentences = static_cast<uint32_t>(normalized.page.sentences());
  out.stats.blocks = static_cast<uint32_t>(canonical.size());
  normalized.NonEmptyHashes(&scratch.line_hashes);

  scratch.speculated = speculate == Speculate::kYes;
  if (scratch.speculated) {
    SpeculativeMarks(page.site, normalized, &scratch.speculated_marks);
    FingerprintBlocks(normalized, scratch.speculated_marks, &scratch.speculated_fp);
  }
  scratch.prefetched = false;
  if (prefetch_) PrefetchInto(page, &scratch);
}

Outcome Detector::Decide(const parse::ParsedPage& page, int64_t fetched_at_ms,
                         PreparedPage* prepared) {
  PreparedParts& ready = *prepared->parts_;
  const std::vector<std::string_view>& canonical = ready.canonical;
  const NormalizedBlocks& normalized = ready.normalized;
  PageScratch& scratch = *page_scratch_;
  Outcome out;
  out.flags = ready.flags;
  out.repeated_fraction = ready.repeated_fraction;
  out.content_hash = ready.content_hash;
  out.stats = ready.stats;

  // Boilerplate: learn from this page, then fingerprint without it.
  // The state this page stores, in the buffers of the last one Recycle()
  // handed back (if any).
  state::UrlState next = StateWithBuffersOf(&scratch.spare_state);
  std::vector<uint64_t>& line_hashes = next.line_hashes;
  line_hashes.swap(ready.line_hashes);  // the prepared page keeps the old buffer
  boilerplate_.Observe(page.site, fingerprint::Hash64(page.canonical_url), line_hashes);
  Fingerprint& fp = *page_fp_;
  if (!ready.speculated) {
    Fingerprinter(canonical, normalized, page.site, &fp);
  } else {
    // The speculative fingerprint is exact when the model marks the blocks
    // the hints did: the fingerprint is a function of the blocks and marks.
    std::vector<uint8_t>& marks = decide_marks_;
    marks.assign(canonical.size(), 0);
    for (size_t i = 0; i < canonical.size(); ++i) {
      marks[i] = !normalized.forms[i].empty() &&
                 boilerplate_.IsBoilerplate(page.site, normalized.line_hash[i]);
    }
    if (marks == ready.speculated_marks) {
      std::swap(fp, ready.speculated_fp);
      ++speculation_.hits;
    } else {
      FingerprintBlocks(normalized, marks, &fp);
      ++speculation_.misses;
      UpdateHints(page.site, normalized, marks);
    }
  }
  out.simhash = fp.simhash;
  out.stats.shingles = static_cast<uint32_t>(fp.shingles.size());
  out.stats.boilerplate_blocks += fp.boilerplate_blocks;
  if (fp.boilerplate_only) out.flags.Set(Flag::kBoilerplateOnly);

  next.canonical_url = page.canonical_url;
  next.site = page.site;
  next.content_hash = out.content_hash;
  next.simhash = fp.simhash;
  next.fetched_at_ms = fetched_at_ms;
  next.paragraph_hashes = fp.paragraph_hashes;
  next.line_hashes_known = true;
  next.sketch = fp.sketch;
  next.shingle_count = static_cast<uint32_t>(fp.shingles.size());
  next.sketch_known = true;
  next.title = page.title;

  // UNCHANGED is decided from what the indexes hold for the URL (its current
  // version's number, content hash and SimHash) without reading the store:
  // a read copies, or decodes, the whole state with its history's texts, and
  // an UNCHANGED page needs none of it. A URL known only from another
  // instance's record, or not indexed, takes the path below.
  // (Looked up once: the DocId serves the rest of the decision.)
  const std::optional<DocId> known = urls_.Find(page.canonical_url);
  if (known) {
    const Current& c = current_[*known];
    if (c.version != 0 && c.history_full && c.hash() == out.content_hash) {
      MatchInfo self;
      self.url = scratch.MatchUrl(page.canonical_url);
      self.version = VersionOf(*known);
      self.distance = HammingDistance(simhash_index_.Hash(*known), fp.simhash);
      self.content_hash = c.hash();
      self.similarity = 1.0;
      out.verdict = Verdict::kUnchanged;
      out.version = self.version;
      out.match = std::move(self);
      scratch.spare_state = std::move(next);  // its buffers, for the next page
      return out;  // nothing to store: the URL's last version is this content
    }
  }

  // The store's state, not a copy (Peek): read until the Put() below, with
  // no other store call in between on the REVISED path. Or the state
  // Prepare() prefetched, when the indexes hold its version (a committed
  // state, as the store's would be: nothing of the URL staged since, no
  // commit of a newer version in between) or, for none, no version.
  DocId doc = known ? *known : DocIdFor(page.canonical_url);
  const state::UrlState* previous = nullptr;
  const state::UrlState* prefetched = nullptr;
  if (ready.prefetched) {
    const Current& c = current_[doc];
    const bool holds = ready.previous ? c.version != 0 && c.history_full &&
                                            VersionOf(doc) == ready.previous->version &&
                                            c.hash() == ready.previous->content_hash
                                      : c.version == 0;
    if (holds) {
      prefetched = previous = ready.previous ? &*ready.previous : nullptr;
      ++prefetch_stats_.hits;
    } else {
      previous = store_->Peek(page.canonical_url);
      ++prefetch_stats_.misses;
    }
  } else {
    previous = store_->Peek(page.canonical_url);
  }
  std::optional<state::UrlState> remote_previous;
  if (current_[doc].version != 0 && !current_[doc].history_full) {
    // Known only from another instance's fingerprint record (input not keyed
    // by canonical URL, so two instances see the URL): its version, without
    // text, is what the indexes hold.
    remote_previous = RemoteState(doc);
    previous = &*remote_previous;
  }
  const state::UrlState* previous_for_history = nullptr;  // REVISED: the version replaced

  if (previous) {
    MatchInfo self;
    self.url = scratch.MatchUrl(previous->canonical_url);
    self.version = previous->version;
    self.distance = HammingDistance(previous->simhash, fp.simhash);
    self.fetched_at_ms = previous->fetched_at_ms;
    self.content_hash = previous->content_hash;
    if (previous->content_hash == out.content_hash) {
      out.verdict = Verdict::kUnchanged;
      out.version = previous->version;
      self.similarity = 1.0;
      out.match = std::move(self);
      scratch.spare_state = std::move(next);  // its buffers, for the next page
      return out;  // nothing to store: the URL's last version is this content
    }
    out.verdict = Verdict::kRevised;
    out.version = previous->version + 1;
    for (const auto& h : previous->history) {
      if (h == out.content_hash) out.flags.Set(Flag::kReverted);
    }
    // A previous version known only from a fingerprint record (the URL's
    // partition moved here without its changelog): its block hashes. The
    // prefetched state's diff was computed by Prepare(), the same way.
    if (previous == prefetched && ready.diff) {
      out.diff = std::move(ready.diff);
      ready.diff.reset();
      ++prefetch_stats_.diffs;
      if (scratch.spare_diff) {  // the prepared page's next diff reuses its buffers
        ready.spare_diff = std::move(scratch.spare_diff);
        scratch.spare_diff.reset();
      }
    } else {
      out.diff =
          previous->text_known
              ? MakeDiff(previous->text, canonical,
                         VersionLabel(previous->canonical_url, previous->version, "",
                                      &scratch.old_label),
                         VersionLabel(page.canonical_url, out.version, "", &scratch.new_label))
              : MakeBlockDiff(
                    previous->line_hashes, canonical, normalized,
                    VersionLabel(previous->canonical_url, previous->version, " (block hashes)",
                                 &scratch.old_label),
                    VersionLabel(page.canonical_url, out.version, "", &scratch.new_label));
    }
    out.severity = out.diff->result.significance.severity;
    self.similarity = 1.0 - out.diff->result.significance.changed_fraction;
    out.match = std::move(self);

    next.version = out.version;
    next.history.reserve(std::min(previous->history.size() + 1, options_.revert_history));
    next.history.push_back(previous->content_hash);
    for (const auto& h : previous->history) {
      if (next.history.size() >= options_.revert_history) break;
      next.history.push_back(h);
    }
    if (next.history.size() > options_.revert_history) next.history.resize(options_.revert_history);
    // The canonical text Prepare() joined (the prepared page keeps the old
    // buffer); `canonical`, views into it, is not read past this point.
    next.text.swap(ready.joined);
    IndexRemove(doc, *previous);
    // Rollback() re-indexes the replaced version from its indexed fields
    // alone; its text and history, which the new version's history takes
    // over, are copied once, by AppendVersion.
    undo_.push_back({Undo::Kind::kRemoved, doc, scratch.UndoState(*previous), removed_tags_,
                     removed_generation_});
    previous_for_history = previous;
  } else {
    next.version = 1;
    out.version = 1;
    // DUPLICATE: another URL's current version has this exact content.
    std::vector<DocId>& same_content = scratch.same_content;  // oldest first
    same_content.clear();
    by_content_.ForEach(ContentTag(out.content_hash), [&](DocId d) {
      same_content.push_back(d);
      return true;
    });
    {
      for (DocId other : same_content) {
        const Current& current = current_[other];
        if (other == doc || current.version == 0 || current.hash() != out.content_hash) continue;
        std::optional<state::UrlState> held;
        const state::UrlState* stored = PeekIndexedState(other, &held);
        if (stored == nullptr) continue;
        out.verdict = Verdict::kDuplicate;
        MatchInfo m;
        m.url = scratch.MatchUrl(stored->canonical_url);
        m.version = stored->version;
        m.distance = HammingDistance(stored->simhash, fp.simhash);
        m.similarity = 1.0;
        m.fetched_at_ms = stored->fetched_at_ms;
        m.content_hash = stored->content_hash;
        out.match = std::move(m);
        break;
      }
    }
    if (out.verdict != Verdict::kDuplicate) {
      if (auto best = BestNearDuplicate(fp, page.canonical_url, doc)) {
        out.verdict = Verdict::kNearDuplicate;
        MatchInfo m;
        m.url = scratch.MatchUrl(best->state->canonical_url);
        m.version = best->state->version;
        m.distance = best->distance;
        m.similarity = best->containment;
        m.fetched_at_ms = best->state->fetched_at_ms;
        m.content_hash = best->state->content_hash;
        m.containment = best->containment;
        m.jaccard = best->jaccard;
        m.found_by = best->found_by;
        m.boilerplate_blocks = out.stats.boilerplate_blocks;
        m.other_boilerplate_blocks = best->boilerplate_blocks;
        // The match's text is held by its owner when another instance owns
        // it. A text-free state that carries its line keys (a format-5 record
        // in the store) gets the diff from its block hashes (docs/diff.md); a
        // document known only from the fingerprints topic keeps none in
        // memory (issue #15's memory bound), so it gets no PageDiff: the
        // event keeps the explanation.
        if (best->state->history_full && best->state->text_known) {
          out.diff = MakeDiff(best->state->text, canonical,
                              VersionLabel(best->state->canonical_url, best->state->version, "",
                                           &scratch.old_label),
                              VersionLabel(page.canonical_url, 1, "", &scratch.new_label));
        } else if (!best->state->line_hashes.empty()) {
          out.diff = MakeBlockDiff(best->state->line_hashes, canonical, normalized,
                                   VersionLabel(best->state->canonical_url, best->state->version,
                                                " (block hashes)", &scratch.old_label),
                                   VersionLabel(page.canonical_url, 1, "", &scratch.new_label));
        }
        out.match = std::move(m);
      }
    }
    next.text.swap(ready.joined);  // as above: `canonical` is not read past this point
  }

  AppendVersion(out, previous_for_history, &next);
  IndexInsert(doc, next);
  undo_.push_back({Undo::Kind::kInserted, doc, scratch.UndoState(next)});
  // `previous` (the store's) is not read past the Put().
  if (!outcome_stored_ && store_->PutTaking(&next)) {
    // The store keeps next's buffers; next holds a dropped state's, or none,
    // for the next page's state.
    scratch.spare_state = std::move(next);
    return out;
  }
  store_->Put(next);
  out.stored = std::move(next);
  return out;
}

void Detector::AppendVersion(const Outcome& out, const state::UrlState* previous,
                             state::UrlState* next) const {
  // next->versions may hold the records of an earlier page's state
  // (Recycle): they are assigned, not rebuilt, so their strings are reused.
  const size_t keep = options_.history_versions;
  if (keep == 0) {
    next->versions.clear();
    return;
  }
  state::VersionRecord v;
  v.version = out.version;
  v.fetched_at_ms = next->fetched_at_ms;
  v.content_hash = out.content_hash;
  v.verdict = static_cast<uint8_t>(out.verdict);
  v.severity = out.severity ? static_cast<int8_t>(*out.severity) : int8_t{-1};
  v.flags = out.flags.bits;
  if (out.match && (out.verdict == Verdict::kDuplicate || out.verdict == Verdict::kNearDuplicate)) {
    v.copy_of = out.match->url;
    v.copy_of_version = out.match->version;
    v.containment =
        static_cast<float>(out.verdict == Verdict::kDuplicate ? 1.0 : out.match->containment);
    v.jaccard = static_cast<float>(out.verdict == Verdict::kDuplicate ? 1.0 : out.match->jaccard);
    v.distance = static_cast<uint8_t>(out.match->distance);
    v.found_by = out.match->found_by;
  }
  v.boilerplate_blocks = out.stats.boilerplate_blocks;
  size_t n = 1;
  if (previous && keep > 1) {
    n += previous->versions.empty() ? 1 : std::min(previous->versions.size(), keep - 1);
  }
  next->versions.resize(n);
  next->versions[0] = v;
  if (n == 1) return;
  if (previous->versions.empty()) {
    // A record from before the history (format < 4): its one version, with
    // what it still tells (no verdict was kept: shown as NEW).
    state::VersionRecord old;
    old.version = previous->version;
    old.fetched_at_ms = previous->fetched_at_ms;
    old.content_hash = previous->content_hash;
    old.text = previous->text;
    next->versions[1] = std::move(old);
    return;
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    next->versions[i + 1] = previous->versions[i];
    if (i == 0) next->versions[1].text = previous->text;  // versions[0]: none
  }
}

const state::UrlState* Detector::PeekIndexedState(DocId doc,
                                                  std::optional<state::UrlState>* holder) {
  const Current& c = current_[doc];
  thread_local std::string url;
  urls_.Url(doc, &url);
  if (c.history_full) return store_->Peek(url);
  // As IndexedState(): a stored copy of the same version has what memory
  // lacks.
  if (const state::UrlState* stored = store_->Peek(url);
      stored != nullptr && stored->version == VersionOf(doc) && stored->content_hash == c.hash()) {
    return stored;
  }
  *holder = RemoteState(doc);
  return &**holder;
}

void Detector::Recycle(Outcome&& spent) {
  if (spent.stored) page_scratch_->spare_state = std::move(spent.stored);
  if (spent.diff) page_scratch_->spare_diff = std::move(spent.diff);
  if (spent.match) page_scratch_->spare_match_url = std::move(spent.match->url);
  spent = Outcome{};
}

bool Detector::Commit(const std::map<std::string, std::string>& metadata, std::string* error) {
  if (!store_->Commit(metadata, error)) return false;
  if (observer_) {
    for (const Undo& u : undo_) {
      if (u.kind == Undo::Kind::kInserted) observer_(u.state);
    }
  }
  page_scratch_->KeepUndoStates(&undo_);  // their buffers, for the next batch's
  undo_.clear();
  SettlePassages();
  return true;
}

bool Detector::ApplyCommitted(const std::vector<state::UrlState>& states, bool replace_same_version,
                              const std::map<std::string, std::string>& metadata, size_t* applied,
                              std::string* error) {
  if (!undo_.empty()) {
    if (error != nullptr) *error = "ApplyCommitted called while a batch is staged";
    return false;
  }
  size_t n = 0;
  for (const auto& s : states) {
    if (auto id = urls_.Find(s.canonical_url)) {
      if (const Current& current = current_[*id]; current.version != 0) {
        // Versions of a URL only grow, so an older record (a late fingerprint,
        // or this instance's own write read back) never replaces a newer one.
        if (VersionOf(*id) > s.version) continue;
        // The changelog's full record (with the history) replaces the same
        // version known only from the fingerprints topic (a partition that
        // moved here).
        const bool gains_history = replace_same_version && s.history_full && !current.history_full;
        if (VersionOf(*id) == s.version &&
            (!replace_same_version || current.hash() == s.content_hash) && !gains_history) {
          continue;
        }
      }
    }
    DocId doc = DocIdFor(s.canonical_url);
    if (current_[doc].version != 0) {
      if (auto previous = IndexedState(doc)) IndexRemove(doc, *previous);
    }
    IndexInsert(doc, s);
    ObserveStored(s);
    store_->Put(s);
    ++n;
  }
  if (applied != nullptr) *applied = n;
  SettlePassages();
  // Nothing else is staged (checked above), so the store's batch holds
  // exactly these states and the offsets they were read up to.
  return store_->Commit(metadata, error);
}

Detector::MemoryUsage Detector::Memory() const {
  MemoryUsage m;
  m.urls = urls_.ArenaBytes();
  m.url_ids = urls_.IdBytes();
  // version_overflow_ (empty but for versions past 16,382): nodes as
  // remote_overflow_'s below (next pointer, DocId, version: 16 B, 32).
  m.current = current_.MemoryBytes() + version_overflow_.size() * 32 +
              version_overflow_.bucket_count() * sizeof(void*);
  m.sketches = sketches_.MemoryBytes();
  m.by_content = by_content_.MemoryBytes();
  m.simhash_index = simhash_index_.MemoryBytes();
  m.passage_index = paragraph_index_.MemoryBytes();
  // remote_overflow_ (empty but for out-of-range values): its nodes (next
  // pointer, DocId, pair: 32 B, 48 with malloc's header and rounding) and
  // its bucket array.
  // remote_boilerplate_ likewise (next pointer, DocId, tag: 16 B, 32).
  m.remote = remote_.MemoryBytes() + remote_overflow_.size() * 48 +
             remote_overflow_.bucket_count() * sizeof(void*) + remote_boilerplate_.size() * 32 +
             remote_boilerplate_.bucket_count() * sizeof(void*);
  return m;
}

void Detector::Reserve(size_t docs) {
  if (docs <= current_.size()) return;
  simhash_index_.Reserve(docs);
}

bool Detector::HoldsVersion(std::string_view canonical_url, uint32_t version) const {
  const auto id = urls_.Find(canonical_url);
  if (!id) return false;
  return current_[*id].version != 0 && VersionOf(*id) >= version;
}

bool Detector::ApplyFingerprints(std::vector<state::UrlState>* states, size_t* applied,
                                 std::string* error) {
  if (!undo_.empty()) {
    if (error != nullptr) *error = "ApplyFingerprints called while a batch is staged";
    return false;
  }
  size_t n = 0;
  for (state::UrlState& s : *states) {
    // Versions of a URL only grow; the same version is this instance's own
    // record read back, or known already (a changelog restore replaces it).
    DocId doc;
    if (auto id = urls_.Find(s.canonical_url)) {
      doc = *id;
      const uint32_t held = VersionOf(doc);
      if (held != 0 && held >= s.version) continue;
      if (held != 0) {
        if (auto previous = IndexedState(doc)) IndexRemove(doc, *previous);
      }
    } else {
      doc = DocIdFor(s.canonical_url);
    }
    s.history_full = false;
    ObserveStored(s);
    if (!s.sketch_known && !s.text.empty()) {
      // A record without a sketch (written before format 3) still has its
      // text: derive the sketch now, as DeriveSketch() does for a stored page.
      std::vector<std::string> blocks = SplitLines(s.text);
      Fingerprint fp;
      Fingerprinter(blocks, NormalizedBlocks(blocks), s.site, &fp);
      s.sketch = std::move(fp.sketch);
      s.shingle_count = static_cast<uint32_t>(fp.shingles.size());
      s.sketch_known = true;
    }
    IndexInsert(doc, s);
    ++n;
  }
  if (applied != nullptr) *applied = n;
  SettlePassages();
  return true;
}

void Detector::Rollback() {
  store_->Rollback();
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->kind) {
      case Undo::Kind::kInserted: IndexRemove(it->doc, it->state); break;
      case Undo::Kind::kRemoved:
        // A state known only from the topic (RemoteState) goes back from what
        // memory still holds for it (nothing staged rewrites remote_) and the
        // passage tags IndexRemove took out.
        IndexInsert(it->doc, it->state, it->state.history_full ? nullptr : &it->passage_tags,
                    it->generation);
        break;
    }
  }
  page_scratch_->KeepUndoStates(&undo_);  // their buffers, for the next batch's
  undo_.clear();
  SettlePassages();
}

void Detector::SettlePassages() {
  // Nothing staged: the retirements are final, and the stale postings may
  // be swept (a sweep while a batch is staged would lose what a rollback
  // restores). A document known from the topic held at most passage_sample.
  paragraph_index_.Settle();
  if (paragraph_index_.SweepDue(std::max<size_t>(options_.passage_sample, 1))) {
    paragraph_index_.Sweep();
  }
}

}  // namespace dedupd::classify
