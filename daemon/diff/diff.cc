#include "diff/diff.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>
#include <unordered_map>
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

std::vector<uint32_t> KeyCodePoints(std::string_view key) {
  const std::vector<char32_t> cps = internal::DecodeCodePoints(key);
  return {cps.begin(), cps.end()};
}

// Walks the keys of sentences [begin, end) as one stream of code points,
// skipping punctuation, symbols and spaces. Two regions whose streams are
// equal changed punctuation only (cosmetic); comparing two cursors stops at
// the first difference, so a heavily changed region costs little.
class StrippedCursor {
 public:
  StrippedCursor(const std::vector<Sentence>& side, uint32_t begin, uint32_t end)
      : side_(side), sentence_(begin), end_(end) {}

  // Next code point, or false at the end of the range.
  bool Next(char32_t* out) {
    while (sentence_ < end_) {
      if (pos_ >= cps_.size()) {
        if (loaded_) {
          ++sentence_;
          loaded_ = false;
          continue;
        }
        cps_ = internal::DecodeCodePoints(side_[sentence_].key);
        pos_ = 0;
        loaded_ = true;
        continue;
      }
      const char32_t c = cps_[pos_++];
      if (!internal::IsPunctOrSymbol(c) && !internal::IsSpace(c)) {
        *out = c;
        return true;
      }
    }
    return false;
  }

 private:
  const std::vector<Sentence>& side_;
  uint32_t sentence_;
  uint32_t end_;
  std::vector<char32_t> cps_;
  size_t pos_ = 0;
  bool loaded_ = false;
};

bool EqualIgnoringPunctuation(const std::vector<Sentence>& old_side, uint32_t a0, uint32_t a1,
                              const std::vector<Sentence>& new_side, uint32_t b0, uint32_t b1) {
  StrippedCursor a(old_side, a0, a1), b(new_side, b0, b1);
  while (true) {
    char32_t x = 0, y = 0;
    const bool has_x = a.Next(&x);
    const bool has_y = b.Next(&y);
    if (has_x != has_y) return false;
    if (!has_x) return true;
    if (x != y) return false;
  }
}

Figures FiguresOf(const std::vector<Sentence>& side, uint32_t begin, uint32_t end) {
  Figures f;
  for (uint32_t i = begin; i < end; ++i) internal::ExtractFigures(side[i].text, &f);
  f.Sort();
  return f;
}

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

class Differ {
 public:
  Differ(const std::vector<Sentence>& old_side, const std::vector<Sentence>& new_side,
         const DiffOptions& options)
      : old_(old_side), new_(new_side), options_(options) {
    threshold_ = std::clamp(options.pair_similarity, 0.0, 1.0);
    if (std::isnan(options.pair_similarity)) threshold_ = 0.5;
  }

  DiffResult Run() {
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
    return std::move(result_);
  }

 private:
  void SentenceDiff(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) {
    // Interning: equal keys get equal ids, so Myers compares integers.
    std::unordered_map<std::string_view, uint32_t> ids;
    ids.reserve(static_cast<size_t>(a1 - a0 + b1 - b0));
    std::vector<uint32_t> a, b;
    a.reserve(a1 - a0);
    b.reserve(b1 - b0);
    for (uint32_t i = a0; i < a1; ++i) {
      a.push_back(ids.try_emplace(old_[i].key, static_cast<uint32_t>(ids.size())).first->second);
    }
    for (uint32_t j = b0; j < b1; ++j) {
      b.push_back(ids.try_emplace(new_[j].key, static_cast<uint32_t>(ids.size())).first->second);
    }
    std::vector<uint8_t> ca, cb;
    const MyersOutcome r = MyersDiff(a, b, options_.max_edit_cost, &ca, &cb);
    if (!r.complete || r.cost > options_.max_edit_cost) {
      Coarse(a0, a1, b0, b1);
      return;
    }
    // Walk both sides: runs of equal sentences, and between them a region of
    // removed and/or added sentences.
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
    Hunk h = MakeHunk(HunkKind::kChanged, a0, a1, b0, b1);
    h.coarse = true;
    h.old_spans.clear();
    h.new_spans.clear();
    result_.hunks.push_back(std::move(h));
    RegionStats st;
    for (uint32_t i = a0; i < a1; ++i) st.unpaired_removed += old_cps_[i];
    for (uint32_t j = b0; j < b1; ++j) st.unpaired_added += new_cps_[j];
    sig_.sentences_removed += a1 - a0;
    sig_.sentences_added += b1 - b0;
    FiguresAndPunctuation(a0, a1, b0, b1, {}, &st);
    regions_.push_back(st);
  }

  Hunk MakeHunk(HunkKind kind, uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) const {
    Hunk h;
    h.kind = kind;
    h.old_begin = a0;
    h.old_end = a1;
    h.new_begin = b0;
    h.new_end = b1;
    auto blocks = [](const std::vector<Sentence>& side, uint32_t begin, uint32_t end,
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
    for (uint32_t i = a0; i < a1; ++i) h.old_text.push_back(old_[i].text);
    for (uint32_t j = b0; j < b1; ++j) h.new_text.push_back(new_[j].text);
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
    const std::vector<uint32_t>& a = OldCps(oi);
    const std::vector<uint32_t>& b = NewCps(nj);
    std::vector<uint8_t> ca, cb;
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

  const std::vector<uint32_t>& OldCps(uint32_t i) {
    auto it = old_decoded_.find(i);
    if (it == old_decoded_.end()) it = old_decoded_.emplace(i, KeyCodePoints(old_[i].key)).first;
    return it->second;
  }
  const std::vector<uint32_t>& NewCps(uint32_t j) {
    auto it = new_decoded_.find(j);
    if (it == new_decoded_.end()) it = new_decoded_.emplace(j, KeyCodePoints(new_[j].key)).first;
    return it->second;
  }

  // The heaviest chain of candidates strictly increasing on both sides
  // (a weighted LIS, O(K log K) with a Fenwick tree of prefix maxima): the
  // pairing that keeps the sentence order and the most similarity.
  static std::vector<Candidate> BestChain(std::vector<Candidate> cands, uint32_t width) {
    if (cands.empty()) return {};
    std::sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) {
      return x.i != y.i ? x.i < y.i : x.j < y.j;
    });
    struct Best {
      double score = 0;
      int64_t index = -1;
    };
    std::vector<Best> tree(width + 1);
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
    std::vector<double> score(cands.size());
    std::vector<int64_t> prev(cands.size(), -1);
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
    std::vector<Candidate> chain;
    for (int64_t k = best; k >= 0; k = prev[static_cast<size_t>(k)]) {
      chain.push_back(cands[static_cast<size_t>(k)]);
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
  }

  // A region of removed [a0, a1) and added [b0, b1) sentences between equal runs.
  void Region(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1) {
    const uint32_t r = a1 - a0, a = b1 - b0;
    std::vector<Candidate> cands;
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
    const std::vector<Candidate> pairs = BestChain(std::move(cands), a);

    RegionStats st;
    uint32_t ci = 0, cj = 0;
    auto unpaired = [&](uint32_t upto_i, uint32_t upto_j) {
      if (ci < upto_i) {
        result_.hunks.push_back(
            MakeHunk(HunkKind::kRemoved, a0 + ci, a0 + upto_i, b0 + cj, b0 + cj));
        for (uint32_t k = ci; k < upto_i; ++k) st.unpaired_removed += old_cps_[a0 + k];
        sig_.sentences_removed += upto_i - ci;
      }
      if (cj < upto_j) {
        result_.hunks.push_back(
            MakeHunk(HunkKind::kAdded, a0 + upto_i, a0 + upto_i, b0 + cj, b0 + upto_j));
        for (uint32_t k = cj; k < upto_j; ++k) st.unpaired_added += new_cps_[b0 + k];
        sig_.sentences_added += upto_j - cj;
      }
    };
    bool extend = false;  // the last hunk is a kChanged hunk ending right here
    for (const Candidate& p : pairs) {
      if (ci < p.i || cj < p.j) extend = false;
      unpaired(p.i, p.j);
      const uint32_t oi = a0 + p.i, nj = b0 + p.j;
      if (!extend) {
        result_.hunks.push_back(MakeHunk(HunkKind::kChanged, oi, oi, nj, nj));
      }
      Hunk& h = result_.hunks.back();
      h.old_end = oi + 1;
      h.new_end = nj + 1;
      h.old_last_block = old_[oi].block;
      h.new_last_block = new_[nj].block;
      if (h.old_text.empty()) {
        h.old_first_block = old_[oi].block;
        h.new_first_block = new_[nj].block;
      }
      h.old_text.push_back(old_[oi].text);
      h.new_text.push_back(new_[nj].text);
      SentenceSpans spans = DiffWithinSentence(old_[oi].text, new_[nj].text);
      h.old_spans.push_back(std::move(spans.old_spans));
      h.new_spans.push_back(std::move(spans.new_spans));
      st.paired_removed += p.removed;
      st.paired_added += p.added;
      ++sig_.sentences_changed;
      ci = p.i + 1;
      cj = p.j + 1;
      extend = true;
    }
    unpaired(r, a);
    FiguresAndPunctuation(a0, a1, b0, b1, pairs, &st);
    regions_.push_back(st);
  }

  // Decides whether a region changed punctuation only, and which figures it
  // changed. A punctuation-only region compares its figures as a whole (a
  // sentence split moves a figure between sentences without changing it; but
  // 1,200 -> 1.200 changes one). Other regions compare each pair, and pool
  // their unpaired sentences for one comparison at the end, so that a
  // sentence moved elsewhere on the page does not count as a changed figure.
  void FiguresAndPunctuation(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1,
                             const std::vector<Candidate>& pairs, RegionStats* st) {
    st->punct_only = EqualIgnoringPunctuation(old_, a0, a1, new_, b0, b1);
    if (st->punct_only) {
      CompareFigures(FiguresOf(old_, a0, a1), FiguresOf(new_, b0, b1), &sig_);
      return;
    }
    std::vector<uint8_t> old_paired(a1 - a0, 0), new_paired(b1 - b0, 0);
    for (const Candidate& p : pairs) {
      old_paired[p.i] = 1;
      new_paired[p.j] = 1;
      CompareFigures(FiguresOf(old_, a0 + p.i, a0 + p.i + 1),
                     FiguresOf(new_, b0 + p.j, b0 + p.j + 1), &sig_);
    }
    for (uint32_t i = a0; i < a1; ++i) {
      if (old_paired[i - a0] == 0) internal::ExtractFigures(old_[i].text, &unpaired_old_figures_);
    }
    for (uint32_t j = b0; j < b1; ++j) {
      if (new_paired[j - b0] == 0) internal::ExtractFigures(new_[j].text, &unpaired_new_figures_);
    }
  }

  void Finish() {
    unpaired_old_figures_.Sort();
    unpaired_new_figures_.Sort();
    CompareFigures(unpaired_old_figures_, unpaired_new_figures_, &sig_);

    uint64_t substantive = 0, substantive_removed = 0, substantive_added = 0;
    bool all_punct = true;
    for (const RegionStats& st : regions_) {
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

  const std::vector<Sentence>& old_;
  const std::vector<Sentence>& new_;
  const DiffOptions& options_;
  double threshold_ = 0.5;
  std::vector<uint64_t> old_cps_, new_cps_;  // code points per key
  uint64_t total_old_ = 0, total_new_ = 0;
  std::unordered_map<uint32_t, std::vector<uint32_t>> old_decoded_, new_decoded_;
  uint64_t pairing_work_ = 0;
  bool budget_exhausted_ = false;
  std::vector<RegionStats> regions_;
  Figures unpaired_old_figures_, unpaired_new_figures_;
  Significance sig_;
  DiffResult result_;
};

bool OnlySpaces(std::string_view text, uint32_t begin, uint32_t end) {
  for (const internal::CodePoint& c : internal::Decode(text.substr(begin, end - begin))) {
    if (!internal::IsSpace(c.cp)) return false;
  }
  return true;
}

}  // namespace

DiffResult DiffSentences(const std::vector<Sentence>& old_side,
                         const std::vector<Sentence>& new_side, const DiffOptions& options) {
  Differ differ(old_side, new_side, options);
  return differ.Run();
}

SentenceSpans DiffWithinSentence(std::string_view old_text, std::string_view new_text) {
  const std::vector<internal::Token> ta = internal::Tokenize(old_text);
  const std::vector<internal::Token> tb = internal::Tokenize(new_text);
  std::unordered_map<std::string_view, uint32_t> ids;
  ids.reserve(ta.size() + tb.size());
  auto intern = [&ids](std::string_view text, const std::vector<internal::Token>& tokens) {
    std::vector<uint32_t> out;
    out.reserve(tokens.size());
    for (const internal::Token& t : tokens) {
      out.push_back(
          ids.try_emplace(text.substr(t.begin, t.end - t.begin), static_cast<uint32_t>(ids.size()))
              .first->second);
    }
    return out;
  };
  const std::vector<uint32_t> a = intern(old_text, ta);
  const std::vector<uint32_t> b = intern(new_text, tb);
  std::vector<uint8_t> ca, cb;
  const MyersOutcome r = MyersDiff(a, b, kMaxTokenEditCost, &ca, &cb);
  const bool whole = !r.complete || r.cost > kMaxTokenEditCost;
  auto spans = [whole](std::string_view text, const std::vector<internal::Token>& tokens,
                       const std::vector<uint8_t>& changed) {
    std::vector<Span> out;
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (!whole && changed[k] == 0) continue;
      if (!out.empty() && OnlySpaces(text, out.back().end, tokens[k].begin)) {
        out.back().end = tokens[k].end;  // adjacent or separated by spaces only: merge
      } else {
        out.push_back({tokens[k].begin, tokens[k].end});
      }
    }
    return out;
  };
  SentenceSpans result;
  result.old_spans = spans(old_text, ta, ca);
  result.new_spans = spans(new_text, tb, cb);
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
