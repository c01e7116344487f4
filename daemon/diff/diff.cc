#include "diff/diff.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>
#include <utility>

#include "diff/internal/figures.h"
#include "diff/internal/myers.h"
#include "diff/internal/unicode.h"

namespace dedupd::diff {
namespace {

using internal::Figures;
using internal::MyersDiff;
using internal::MyersOutcome;

// Pairing: regions up to this many (removed x added) candidate pairs are
// compared exhaustively; larger ones only near their diagonal (kBand either
// side), which is where an edited sentence stays.
constexpr size_t kFullPairLimit = 1024;
constexpr int64_t kBand = 4;
// A pair of sentences needing more character edits than this is not "the same
// sentence edited" however long the sentences are; keeps one comparison cheap.
constexpr size_t kMaxCharEditCost = 1000;
// Total Myers work (diagonal visits + snake steps) all pair comparisons of one
// diff may spend. Past it the rest stays removed/added and the diff is
// flagged truncated. About 0.1 s.
constexpr uint64_t kPairingWorkBudget = 50'000'000;
// Token edits inside one sentence before its spans become the whole sentence.
constexpr size_t kMaxTokenEditCost = 2000;
// Severity thresholds (docs/diff.md).
constexpr double kMajorChangedFraction = 0.10;
constexpr double kMajorAddedRemovedShare = 0.05;
// Changes of at most this many code points (removed + added) are typo-sized:
// they never make a revision major on their share of the text alone, even on
// a one-line page.
constexpr uint64_t kTypoFloor = 8;

// Each key's code points, decoded on first use into one array per side
// (offsets by sentence), reused diff after diff.
class DecodedKeys {
 public:
  void Reset(const std::vector<SentenceView>* side) {
    side_ = side;
    cps_.clear();
    first_.assign(side->size(), kNotDecoded);
    end_.resize(side->size());
  }
  // Sentence i's key's code points (decoded in any order: each into its own
  // range of the array).
  std::span<const uint32_t> Get(uint32_t i) {
    if (first_[i] == kNotDecoded) {
      first_[i] = static_cast<uint32_t>(cps_.size());
      internal::AppendCodePoints((*side_)[i].key, &cps_);
      end_[i] = static_cast<uint32_t>(cps_.size());
    }
    return std::span<const uint32_t>(cps_).subspan(first_[i], end_[i] - first_[i]);
  }

 private:
  static constexpr uint32_t kNotDecoded = ~uint32_t{0};
  const std::vector<SentenceView>* side_ = nullptr;
  std::vector<uint32_t> cps_;
  std::vector<uint32_t> first_, end_;

 public:
  size_t Capacity() const { return cps_.capacity() + first_.capacity(); }
};

// Walks the keys of sentences [begin, end) as one stream of code points,
// skipping punctuation, symbols and spaces. Two regions whose streams are
// equal changed punctuation only (cosmetic); comparing two cursors stops at
// the first difference, so a heavily changed region costs little.
class StrippedCursor {
 public:
  StrippedCursor(DecodedKeys* keys, uint32_t begin, uint32_t end)
      : keys_(keys), sentence_(begin), end_(end) {}

  // Next code point, or false at the end of the range.
  bool Next(char32_t* out) {
    while (sentence_ < end_) {
      if (pos_ >= cps_.size()) {
        if (loaded_) {
          ++sentence_;
          loaded_ = false;
          continue;
        }
        cps_ = keys_->Get(sentence_);
        pos_ = 0;
        loaded_ = true;
        continue;
      }
      const auto c = static_cast<char32_t>(cps_[pos_++]);
      if (!internal::IsPunctOrSymbol(c) && !internal::IsSpace(c)) {
        *out = c;
        return true;
      }
    }
    return false;
  }

 private:
  DecodedKeys* keys_;
  uint32_t sentence_;
  uint32_t end_;
  std::span<const uint32_t> cps_;
  size_t pos_ = 0;
  bool loaded_ = false;
};

bool EqualIgnoringPunctuation(DecodedKeys* old_keys, uint32_t a0, uint32_t a1,
                              DecodedKeys* new_keys, uint32_t b0, uint32_t b1) {
  StrippedCursor a(old_keys, a0, a1), b(new_keys, b0, b1);
  while (true) {
    char32_t x = 0, y = 0;
    const bool has_x = a.Next(&x);
    const bool has_y = b.Next(&y);
    if (has_x != has_y) return false;
    if (!has_x) return true;
    if (x != y) return false;
  }
}

void FiguresOf(const std::vector<SentenceView>& side, uint32_t begin, uint32_t end, Figures* f) {
  f->Clear();
  for (uint32_t i = begin; i < end; ++i) internal::ExtractFigures(side[i].text, f);
  f->Sort();
}

// Equal keys get equal ids (so Myers compares integers): an open-addressing
// table of views, kept per thread and cleared diff after diff.
class Interner {
 public:
  void Reset(size_t expected) {
    size_t want = 16;
    while (want < 2 * expected) want *= 2;
    slots_.assign(want, kEmpty);
    keys_.clear();
  }
  uint32_t Id(std::string_view key) {
    const size_t mask = slots_.size() - 1;
    for (size_t h = std::hash<std::string_view>{}(key)&mask;; h = (h + 1) & mask) {
      if (slots_[h] == kEmpty) {
        slots_[h] = static_cast<uint32_t>(keys_.size());
        keys_.push_back(key);
        return slots_[h];
      }
      if (keys_[slots_[h]] == key) return slots_[h];
    }
  }

 private:
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  std::vector<uint32_t> slots_;
  std::vector<std::string_view> keys_;
};

// Strings and span lists of the hunks of earlier diffs, for the next ones:
// a reused DiffResult's hunks give theirs back here (bounded: 4,096 each, no
// string over 64 KiB, so one huge diff keeps no memory).
struct HunkPool {
  std::vector<Hunk> hunks;
  std::vector<std::string> strings;
  std::vector<std::vector<Span>> spans;

  static constexpr size_t kMax = 4096;
  static constexpr size_t kMaxBytes = 64 * 1024;

  // Taken back last to first, so that the next diff's n-th string is this
  // one's n-th (the same page diffed again reuses every buffer as it is).
  void Give(std::vector<Hunk>* from) {
    for (auto h = from->rbegin(); h != from->rend(); ++h) {
      for (auto* texts : {&h->new_text, &h->old_text}) {
        for (auto t = texts->rbegin(); t != texts->rend(); ++t) {
          if (strings.size() < kMax && t->capacity() <= kMaxBytes) strings.push_back(std::move(*t));
        }
        texts->clear();
      }
      for (auto* lists : {&h->new_spans, &h->old_spans}) {
        for (auto l = lists->rbegin(); l != lists->rend(); ++l) {
          if (spans.size() < kMax && l->capacity() * sizeof(Span) <= kMaxBytes) {
            spans.push_back(std::move(*l));
          }
        }
        lists->clear();
      }
      if (hunks.size() < kMax) hunks.push_back(std::move(*h));
    }
    from->clear();
  }
  Hunk TakeHunk() {
    if (hunks.empty()) return Hunk{};
    Hunk h = std::move(hunks.back());
    hunks.pop_back();
    return h;
  }
  void PushText(std::string_view text, std::vector<std::string>* to) {
    if (strings.empty()) {
      to->emplace_back(text);
      return;
    }
    to->push_back(std::move(strings.back()));
    strings.pop_back();
    to->back().assign(text);
  }
  std::vector<Span>* PushSpans(std::vector<std::vector<Span>>* to) {
    if (spans.empty()) {
      to->emplace_back();
    } else {
      to->push_back(std::move(spans.back()));
      spans.pop_back();
      to->back().clear();
    }
    return &to->back();
  }
};

// What DiffWithinSentence needs between calls, reused.
struct WithinScratch {
  std::vector<internal::CodePoint> decoded;
  std::vector<internal::Token> ta, tb;
  Interner ids;
  std::vector<uint32_t> a, b;
  std::vector<uint8_t> ca, cb;
};

void DiffWithinSentenceInto(std::string_view old_text, std::string_view new_text,
                            WithinScratch* scratch, std::vector<Span>* old_spans,
                            std::vector<Span>* new_spans);

void CompareFigures(const Figures& a, const Figures& b, Significance* s) {
  s->numbers_changed = s->numbers_changed || a.numbers != b.numbers;
  s->dates_changed = s->dates_changed || a.dates != b.dates;
  s->amounts_changed = s->amounts_changed || a.amounts != b.amounts;
}

struct Candidate {
  uint32_t i = 0;  // index into the region's old range
  uint32_t j = 0;
  double similarity = 0;
  uint32_t removed = 0;  // code points of the old key not in the LCS
  uint32_t added = 0;
};

// Per-region accounting for the significance.
struct RegionStats {
  bool punct_only = false;
  uint64_t paired_removed = 0, paired_added = 0;
  uint64_t unpaired_removed = 0, unpaired_added = 0;  // code points of whole sentences
};

// The severity table of docs/diff.md, in its order: the first rule that
// applies decides.
Severity DecideSeverity(bool changed, bool punctuation_only, bool large_share,
                        const Significance& s) {
  if (!changed) return Severity::kCosmetic;
  // A changed figure is never less than major, even inside punctuation
  // (1,200 -> 1.200).
  if (s.numbers_changed || s.dates_changed || s.amounts_changed) return Severity::kMajor;
  if (punctuation_only) return Severity::kCosmetic;
  if (large_share) return Severity::kMajor;
  return Severity::kMinor;
}

// Everything a diff needs besides its result, kept per thread and reused
// diff after diff (the classify stage diffs 30% of the pages of a stream), so
// that a diff of a size seen before allocates nothing but what its result
// holds, and the result reuses the hunks of the one it overwrites.
struct DifferScratch {
  std::vector<uint64_t> old_cps, new_cps;  // code points per key
  DecodedKeys old_keys, new_keys;
  std::vector<RegionStats> regions;
  Interner ids;
  std::vector<uint32_t> a, b;
  std::vector<uint8_t> ca, cb, pair_ca, pair_cb;
  std::vector<Candidate> cands, chain;
  std::vector<double> score;
  std::vector<int64_t> prev;
  struct Best {
    double score = 0;
    int64_t index = -1;
  };
  std::vector<Best> tree;
  std::vector<uint8_t> old_paired, new_paired;
  Figures old_figures, new_figures, unpaired_old_figures, unpaired_new_figures;
  WithinScratch within;
  HunkPool pool;

  // After a diff of a huge page: its arrays are released (all but the
  // pooled hunks, which are bounded on their own), so that one such page
  // keeps no memory.
  void ReleaseIfHuge() {
    constexpr size_t kMaxEntries = size_t{1} << 20;
    if (old_keys.Capacity() + new_keys.Capacity() + old_cps.capacity() + new_cps.capacity() +
            a.capacity() + b.capacity() + cands.capacity() + tree.capacity() >
        kMaxEntries) {
      DifferScratch fresh;
      std::swap(fresh.pool, pool);
      *this = std::move(fresh);
    }
  }
};

class Differ {
 public:
  Differ(const std::vector<SentenceView>& old_side, const std::vector<SentenceView>& new_side,
         const DiffOptions& options, DifferScratch* scratch, DiffResult* result)
      : old_(old_side),
        new_(new_side),
        options_(options),
        x_(*scratch),
        old_cps_(x_.old_cps),
        new_cps_(x_.new_cps),
        result_(*result) {
    threshold_ = std::clamp(options.pair_similarity, 0.0, 1.0);
    if (std::isnan(options.pair_similarity)) threshold_ = 0.5;
    x_.pool.Give(&result_.hunks);
    result_.significance = {};
    result_.truncated = false;
    x_.old_keys.Reset(&old_);
    x_.new_keys.Reset(&new_);
    x_.regions.clear();
    x_.unpaired_old_figures.Clear();
    x_.unpaired_new_figures.Clear();
  }

  void Run() {
    const auto n = static_cast<uint32_t>(old_.size());
    const auto m = static_cast<uint32_t>(new_.size());
    old_cps_.resize(n);
    new_cps_.resize(m);
    for (uint32_t i = 0; i < n; ++i) {
      old_cps_[i] = internal::CountCodePoints(old_[i].key);
      total_old_ += old_cps_[i];
    }
    for (uint32_t j = 0; j < m; ++j) {
      new_cps_[j] = internal::CountCodePoints(new_[j].key);
      total_new_ += new_cps_[j];
    }

    // The common head and tail cost O(N) and are set aside before anything
    // that could grow faster.
    uint32_t head = 0;
    while (head < n && head < m && old_[head].key == new_[head].key) ++head;
    uint32_t tail = 0;
    while (tail < n - head && tail < m - head && old_[n - 1 - tail].key == new_[m - 1 - tail].key) {
      ++tail;
    }
    const uint32_t a0 = head, a1 = n - tail, b0 = head, b1 = m - tail;
    if (a0 == a1 || b0 == b1) {
      if (a0 != a1 || b0 != b1) Region(a0, a1, b0, b1);
    } else if (a1 - a0 > options_.max_sentences || b1 - b0 > options_.max_sentences) {
      Coarse(a0, a1, b0, b1);
    } else {
      SentenceDiff(a0, a1, b0, b1);
    }
    Finish();
  }

 private:
  void SentenceDiff(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) {
    // Interning: equal keys get equal ids, so Myers compares integers.
    Interner& ids = x_.ids;
    ids.Reset(static_cast<size_t>(a1 - a0 + b1 - b0));
    std::vector<uint32_t>& a = x_.a;
    std::vector<uint32_t>& b = x_.b;
    a.clear();
    b.clear();
    for (uint32_t i = a0; i < a1; ++i) a.push_back(ids.Id(old_[i].key));
    for (uint32_t j = b0; j < b1; ++j) b.push_back(ids.Id(new_[j].key));
    std::vector<uint8_t>& ca = x_.ca;
    std::vector<uint8_t>& cb = x_.cb;
    const MyersOutcome r = MyersDiff(a, b, options_.max_edit_cost, &ca, &cb);
    if (!r.complete || r.cost > options_.max_edit_cost) {
      Coarse(a0, a1, b0, b1);
      return;
    }
    // Walk both sides: runs of equal sentences, and between them a region of
    // removed and/or added sentences. (Region() reuses neither a, b, ca nor cb.)
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
      if (i < a.size() && j < b.size() && ca[i] == 0 && cb[j] == 0) {
        ++i;
        ++j;
        continue;
      }
      const size_t ri = i, rj = j;
      while (i < a.size() && ca[i] != 0) ++i;
      while (j < b.size() && cb[j] != 0) ++j;
      if (i == ri && j == rj) {  // inconsistent marks: cannot happen; never loop
        Coarse(a0 + static_cast<uint32_t>(ri), a1, b0 + static_cast<uint32_t>(rj), b1);
        return;
      }
      Region(a0 + static_cast<uint32_t>(ri), a0 + static_cast<uint32_t>(i),
             b0 + static_cast<uint32_t>(rj), b0 + static_cast<uint32_t>(j));
    }
  }

  // Everything in [a0, a1) x [b0, b1) as one changed hunk, no pairing.
  void Coarse(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) {
    result_.truncated = true;
    Hunk& h = AddHunk(HunkKind::kChanged, a0, a1, b0, b1);
    h.coarse = true;
    RegionStats st;
    for (uint32_t i = a0; i < a1; ++i) st.unpaired_removed += old_cps_[i];
    for (uint32_t j = b0; j < b1; ++j) st.unpaired_added += new_cps_[j];
    sig_.sentences_removed += a1 - a0;
    sig_.sentences_added += b1 - b0;
    x_.cands.clear();
    FiguresAndPunctuation(a0, a1, b0, b1, x_.cands, &st);
    x_.regions.push_back(st);
  }

  // Appends a hunk to the result (one an earlier result gave back, when
  // there is one) with the sentences of its ranges.
  Hunk& AddHunk(HunkKind kind, uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) {
    result_.hunks.push_back(x_.pool.TakeHunk());
    Hunk& h = result_.hunks.back();
    h.kind = kind;
    h.old_begin = a0;
    h.old_end = a1;
    h.new_begin = b0;
    h.new_end = b1;
    h.coarse = false;
    auto blocks = [](const std::vector<SentenceView>& side, uint32_t begin, uint32_t end,
                     uint32_t* first, uint32_t* last) {
      if (begin < end) {
        *first = side[begin].block;
        *last = side[end - 1].block;
      } else {
        *first = *last = (begin > 0 && begin - 1 < side.size()) ? side[begin - 1].block : 0;
      }
    };
    blocks(old_, a0, a1, &h.old_first_block, &h.old_last_block);
    blocks(new_, b0, b1, &h.new_first_block, &h.new_last_block);
    for (uint32_t i = a0; i < a1; ++i) x_.pool.PushText(old_[i].text, &h.old_text);
    for (uint32_t j = b0; j < b1; ++j) x_.pool.PushText(new_[j].text, &h.new_text);
    return h;
  }

  // Compares an old and a new sentence on their keys' code points. Fills the
  // candidate and returns true when they are similar enough to pair.
  bool Compare(uint32_t oi, uint32_t nj, Candidate* c) {
    const uint64_t la = old_cps_[oi], lb = new_cps_[nj];
    if (la + lb == 0) return false;
    // 2*LCS/(la+lb) <= 2*min/(la+lb): skip pairs whose lengths alone rule them out.
    if (2.0 * static_cast<double>(std::min(la, lb)) < threshold_ * static_cast<double>(la + lb)) {
      return false;
    }
    const auto max_cost = std::min<size_t>(
        kMaxCharEditCost,
        static_cast<size_t>(std::floor((1.0 - threshold_) * static_cast<double>(la + lb))));
    const std::span<const uint32_t> a = x_.old_keys.Get(oi);
    const std::span<const uint32_t> b = x_.new_keys.Get(nj);
    std::vector<uint8_t>& ca = x_.pair_ca;
    std::vector<uint8_t>& cb = x_.pair_cb;
    const MyersOutcome r = MyersDiff(a, b, max_cost, &ca, &cb);
    pairing_work_ += r.work + la + lb;
    if (!r.complete || r.cost > max_cost) return false;
    c->similarity = 1.0 - static_cast<double>(r.cost) / static_cast<double>(la + lb);
    if (c->similarity < threshold_) return false;
    c->removed = 0;
    c->added = 0;
    for (uint8_t x : ca) c->removed += x;
    for (uint8_t x : cb) c->added += x;
    return true;
  }

  // The heaviest chain of candidates strictly increasing on both sides
  // (a weighted LIS, O(K log K) with a Fenwick tree of prefix maxima): the
  // pairing that keeps the sentence order and the most similarity. Sorts
  // *cands; the chain goes to *chain.
  void BestChain(std::vector<Candidate>* candidates, uint32_t width,
                 std::vector<Candidate>* chain) {
    chain->clear();
    std::vector<Candidate>& cands = *candidates;
    if (cands.empty()) return;
    std::sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) {
      return x.i != y.i ? x.i < y.i : x.j < y.j;
    });
    using Best = DifferScratch::Best;
    std::vector<Best>& tree = x_.tree;
    tree.assign(width + 1, Best{});
    auto query = [&tree](uint32_t j) {  // best over columns [0, j)
      Best b;
      for (uint32_t k = j; k > 0; k -= k & (~k + 1)) {
        if (tree[k].score > b.score) b = tree[k];
      }
      return b;
    };
    auto update = [&tree, width](uint32_t j, Best v) {
      for (uint32_t k = j + 1; k <= width; k += k & (~k + 1)) {
        if (v.score > tree[k].score) tree[k] = v;
      }
    };
    std::vector<double>& score = x_.score;
    std::vector<int64_t>& prev = x_.prev;
    score.assign(cands.size(), 0.0);
    prev.assign(cands.size(), -1);
    size_t g = 0;
    while (g < cands.size()) {
      size_t e = g;
      while (e < cands.size() && cands[e].i == cands[g].i) ++e;
      for (size_t k = g; k < e; ++k) {     // all queries of a row before its updates:
        const Best b = query(cands[k].j);  // no two pairs share an old sentence
        score[k] = b.score + cands[k].similarity;
        prev[k] = b.index;
      }
      for (size_t k = g; k < e; ++k) update(cands[k].j, {score[k], static_cast<int64_t>(k)});
      g = e;
    }
    int64_t best = 0;
    for (size_t k = 1; k < cands.size(); ++k) {
      if (score[k] > score[static_cast<size_t>(best)]) best = static_cast<int64_t>(k);
    }
    for (int64_t k = best; k >= 0; k = prev[static_cast<size_t>(k)]) {
      chain->push_back(cands[static_cast<size_t>(k)]);
    }
    std::reverse(chain->begin(), chain->end());
  }

  // A region of removed [a0, a1) and added [b0, b1) sentences between equal runs.
  void Region(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) {
    const uint32_t r = a1 - a0, a = b1 - b0;
    std::vector<Candidate>& cands = x_.cands;
    cands.clear();
    if (r > 0 && a > 0 && !budget_exhausted_) {
      const bool full = static_cast<size_t>(r) * a <= kFullPairLimit;
      for (uint32_t i = 0; i < r && !budget_exhausted_; ++i) {
        int64_t lo = 0, hi = static_cast<int64_t>(a) - 1;
        if (!full) {
          const int64_t centre = static_cast<int64_t>(static_cast<uint64_t>(i) * a / r);
          lo = std::max<int64_t>(0, centre - kBand);
          hi = std::min<int64_t>(static_cast<int64_t>(a) - 1, centre + kBand);
        }
        for (int64_t j = lo; j <= hi; ++j) {
          if (pairing_work_ > kPairingWorkBudget) {
            budget_exhausted_ = true;
            result_.truncated = true;
            break;
          }
          Candidate c;
          c.i = i;
          c.j = static_cast<uint32_t>(j);
          if (Compare(a0 + i, b0 + c.j, &c)) cands.push_back(c);
        }
      }
    }
    std::vector<Candidate>& pairs = x_.chain;
    BestChain(&cands, a, &pairs);

    RegionStats st;
    uint32_t ci = 0, cj = 0;
    auto unpaired = [&](uint32_t upto_i, uint32_t upto_j) {
      if (ci < upto_i) {
        AddHunk(HunkKind::kRemoved, a0 + ci, a0 + upto_i, b0 + cj, b0 + cj);
        for (uint32_t k = ci; k < upto_i; ++k) st.unpaired_removed += old_cps_[a0 + k];
        sig_.sentences_removed += upto_i - ci;
      }
      if (cj < upto_j) {
        AddHunk(HunkKind::kAdded, a0 + upto_i, a0 + upto_i, b0 + cj, b0 + upto_j);
        for (uint32_t k = cj; k < upto_j; ++k) st.unpaired_added += new_cps_[b0 + k];
        sig_.sentences_added += upto_j - cj;
      }
    };
    bool extend = false;  // the last hunk is a kChanged hunk ending right here
    for (const Candidate& p : pairs) {
      if (ci < p.i || cj < p.j) extend = false;
      unpaired(p.i, p.j);
      const uint32_t oi = a0 + p.i, nj = b0 + p.j;
      if (!extend) AddHunk(HunkKind::kChanged, oi, oi, nj, nj);
      Hunk& h = result_.hunks.back();
      h.old_end = oi + 1;
      h.new_end = nj + 1;
      h.old_last_block = old_[oi].block;
      h.new_last_block = new_[nj].block;
      if (h.old_text.empty()) {
        h.old_first_block = old_[oi].block;
        h.new_first_block = new_[nj].block;
      }
      x_.pool.PushText(old_[oi].text, &h.old_text);
      x_.pool.PushText(new_[nj].text, &h.new_text);
      std::vector<Span>* old_spans = x_.pool.PushSpans(&h.old_spans);
      std::vector<Span>* new_spans = x_.pool.PushSpans(&h.new_spans);
      DiffWithinSentenceInto(old_[oi].text, new_[nj].text, &x_.within, old_spans, new_spans);
      st.paired_removed += p.removed;
      st.paired_added += p.added;
      ++sig_.sentences_changed;
      ci = p.i + 1;
      cj = p.j + 1;
      extend = true;
    }
    unpaired(r, a);
    FiguresAndPunctuation(a0, a1, b0, b1, pairs, &st);
    x_.regions.push_back(st);
  }

  // Decides whether a region changed punctuation only, and which figures it
  // changed. A punctuation-only region compares its figures as a whole (a
  // sentence split moves a figure between sentences without changing it; but
  // 1,200 -> 1.200 changes one). Other regions compare each pair, and pool
  // their unpaired sentences for one comparison at the end, so that a
  // sentence moved elsewhere on the page does not count as a changed figure.
  void FiguresAndPunctuation(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1,
                             const std::vector<Candidate>& pairs, RegionStats* st) {
    st->punct_only = EqualIgnoringPunctuation(&x_.old_keys, a0, a1, &x_.new_keys, b0, b1);
    Figures& fa = x_.old_figures;
    Figures& fb = x_.new_figures;
    if (st->punct_only) {
      FiguresOf(old_, a0, a1, &fa);
      FiguresOf(new_, b0, b1, &fb);
      CompareFigures(fa, fb, &sig_);
      return;
    }
    std::vector<uint8_t>& old_paired = x_.old_paired;
    std::vector<uint8_t>& new_paired = x_.new_paired;
    old_paired.assign(a1 - a0, 0);
    new_paired.assign(b1 - b0, 0);
    for (const Candidate& p : pairs) {
      old_paired[p.i] = 1;
      new_paired[p.j] = 1;
      FiguresOf(old_, a0 + p.i, a0 + p.i + 1, &fa);
      FiguresOf(new_, b0 + p.j, b0 + p.j + 1, &fb);
      CompareFigures(fa, fb, &sig_);
    }
    for (uint32_t i = a0; i < a1; ++i) {
      if (old_paired[i - a0] == 0) {
        internal::ExtractFigures(old_[i].text, &x_.unpaired_old_figures);
      }
    }
    for (uint32_t j = b0; j < b1; ++j) {
      if (new_paired[j - b0] == 0) {
        internal::ExtractFigures(new_[j].text, &x_.unpaired_new_figures);
      }
    }
  }

  void Finish() {
    x_.unpaired_old_figures.Sort();
    x_.unpaired_new_figures.Sort();
    CompareFigures(x_.unpaired_old_figures, x_.unpaired_new_figures, &sig_);

    uint64_t substantive = 0, substantive_removed = 0, substantive_added = 0;
    bool all_punct = true;
    for (const RegionStats& st : x_.regions) {
      sig_.chars_removed += st.paired_removed + st.unpaired_removed;
      sig_.chars_added += st.paired_added + st.unpaired_added;
      if (st.punct_only) continue;
      all_punct = false;
      substantive += st.paired_removed + st.paired_added + st.unpaired_removed + st.unpaired_added;
      substantive_removed += st.unpaired_removed;
      substantive_added += st.unpaired_added;
    }
    const uint64_t total = total_old_ + total_new_;
    auto share = [](uint64_t part, uint64_t whole) {
      return whole == 0 ? (part == 0 ? 0.0 : 1.0)
                        : static_cast<double>(part) / static_cast<double>(whole);
    };
    sig_.changed_fraction = std::min(1.0, share(sig_.chars_removed + sig_.chars_added, total));

    const bool large_share = substantive > kTypoFloor &&
                             (share(substantive, total) >= kMajorChangedFraction ||
                              share(substantive_removed, total_old_) > kMajorAddedRemovedShare ||
                              share(substantive_added, total_new_) > kMajorAddedRemovedShare);
    sig_.severity = DecideSeverity(!result_.hunks.empty(), all_punct, large_share, sig_);
    result_.significance = sig_;
  }

  const std::vector<SentenceView>& old_;
  const std::vector<SentenceView>& new_;
  const DiffOptions& options_;
  DifferScratch& x_;
  double threshold_ = 0.5;
  std::vector<uint64_t>& old_cps_;  // code points per key
  std::vector<uint64_t>& new_cps_;
  uint64_t total_old_ = 0, total_new_ = 0;
  uint64_t pairing_work_ = 0;
  bool budget_exhausted_ = false;
  Significance sig_;
  DiffResult& result_;
};

bool OnlySpaces(std::string_view text, uint32_t begin, uint32_t end) {
  return internal::IsAllSpace(text.substr(begin, end - begin));
}

void DiffWithinSentenceInto(std::string_view old_text, std::string_view new_text,
                            WithinScratch* scratch, std::vector<Span>* old_spans,
                            std::vector<Span>* new_spans) {
  WithinScratch& x = *scratch;
  internal::Tokenize(old_text, &x.decoded, &x.ta);
  internal::Tokenize(new_text, &x.decoded, &x.tb);
  x.ids.Reset(x.ta.size() + x.tb.size());
  auto intern = [&x](std::string_view text, const std::vector<internal::Token>& tokens,
                     std::vector<uint32_t>* out) {
    out->clear();
    for (const internal::Token& t : tokens) {
      out->push_back(x.ids.Id(text.substr(t.begin, t.end - t.begin)));
    }
  };
  intern(old_text, x.ta, &x.a);
  intern(new_text, x.tb, &x.b);
  const MyersOutcome r = MyersDiff(x.a, x.b, kMaxTokenEditCost, &x.ca, &x.cb);
  const bool whole = !r.complete || r.cost > kMaxTokenEditCost;
  auto spans = [whole](std::string_view text, const std::vector<internal::Token>& tokens,
                       const std::vector<uint8_t>& changed, std::vector<Span>* out) {
    out->clear();
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (!whole && changed[k] == 0) continue;
      if (!out->empty() && OnlySpaces(text, out->back().end, tokens[k].begin)) {
        out->back().end = tokens[k].end;  // adjacent or separated by spaces only: merge
      } else {
        out->push_back({tokens[k].begin, tokens[k].end});
      }
    }
  };
  spans(old_text, x.ta, x.ca, old_spans);
  spans(new_text, x.tb, x.cb, new_spans);
}

}  // namespace

void Views(const std::vector<Sentence>& sentences, std::vector<SentenceView>* out) {
  out->clear();
  out->reserve(sentences.size());
  for (const Sentence& s : sentences) out->push_back({s.text, s.key, s.block});
}

DiffResult DiffSentences(const std::vector<Sentence>& old_side,
                         const std::vector<Sentence>& new_side, const DiffOptions& options) {
  DiffResult result;
  DiffSentences(old_side, new_side, options, &result);
  return result;
}

void DiffSentences(const std::vector<Sentence>& old_side, const std::vector<Sentence>& new_side,
                   const DiffOptions& options, DiffResult* result) {
  thread_local std::vector<SentenceView> old_views, new_views;
  Views(old_side, &old_views);
  Views(new_side, &new_views);
  DiffSentences(old_views, new_views, options, result);
}

void DiffSentences(const std::vector<SentenceView>& old_side,
                   const std::vector<SentenceView>& new_side, const DiffOptions& options,
                   DiffResult* result) {
  thread_local DifferScratch scratch;
  Differ differ(old_side, new_side, options, &scratch, result);
  differ.Run();
  scratch.ReleaseIfHuge();
}

SentenceSpans DiffWithinSentence(std::string_view old_text, std::string_view new_text) {
  thread_local WithinScratch scratch;
  SentenceSpans result;
  DiffWithinSentenceInto(old_text, new_text, &scratch, &result.old_spans, &result.new_spans);
  return result;
}

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kCosmetic: return "cosmetic";
    case Severity::kMinor: return "minor";
    case Severity::kMajor: return "major";
  }
  return "unknown";
}

std::string_view HunkKindName(HunkKind k) {
  switch (k) {
    case HunkKind::kAdded: return "added";
    case HunkKind::kRemoved: return "removed";
    case HunkKind::kChanged: return "changed";
  }
  return "unknown";
}

}  // namespace dedupd::diff
