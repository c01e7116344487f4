// Invariants that must hold for any input, checked on random pages (random
// edits of random sentences, random bytes including invalid UTF-8): hunks
// cover exactly the differences, in order; changed hunks pair sentences one
// to one; spans lie inside their text on code point boundaries; nothing
// crashes or hangs. Run under ASan/UBSan in CI.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "diff/diff.h"
#include "diff/internal/figures.h"
#include "unit/diff/test_util.h"

namespace dedupd::diff {
namespace {

std::string RandomText(std::mt19937& rng, bool garbage) {
  static const std::vector<std::string> kPieces = {
      "会",    "议",  "强",    "调", "三", "几", "年", "月", "日", "5",
      "0",     "%",   "$",     "亿", "元", ",",  "。", " ",  "a",  "budget",
      "April", "4.2", "1,200", "—",  "“",  "”",  "(",  ")",  "第", "次"};
  std::string t;
  const size_t n = rng() % 14;
  for (size_t k = 0; k < n; ++k) {
    if (garbage && rng() % 4 == 0) {
      t.push_back(static_cast<char>(rng() % 256));  // anything, invalid UTF-8 included
    } else {
      t += kPieces[rng() % kPieces.size()];
    }
  }
  return t;
}

std::vector<Sentence> RandomPage(std::mt19937& rng, size_t n, bool garbage) {
  std::vector<Sentence> page;
  for (size_t i = 0; i < n; ++i) {
    std::string t = RandomText(rng, garbage);
    page.push_back({t, testing::RemoveSpaces(t), static_cast<uint32_t>(i / 3)});
  }
  return page;
}

bool IsContinuation(std::string_view text, uint32_t at) {
  return at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80;
}

std::vector<Sentence> Mutate(std::mt19937& rng, std::vector<Sentence> page, bool garbage) {
  const size_t edits = rng() % 6;
  for (size_t e = 0; e < edits; ++e) {
    const size_t op = rng() % 3;
    if (op == 0 || page.empty()) {
      std::string t = RandomText(rng, garbage);
      const size_t at = page.empty() ? 0 : rng() % (page.size() + 1);
      page.insert(page.begin() + static_cast<std::ptrdiff_t>(at), {t, testing::RemoveSpaces(t), 0});
    } else if (op == 1) {
      page.erase(page.begin() + static_cast<std::ptrdiff_t>(rng() % page.size()));
    } else {
      Sentence& s = page[rng() % page.size()];
      size_t at = rng() % (s.text.size() + 1);
      while (!garbage && IsContinuation(s.text, static_cast<uint32_t>(at))) --at;
      s.text.insert(at, RandomText(rng, garbage));
      s.key = testing::RemoveSpaces(s.text);
    }
  }
  return page;
}

void CheckSpans(const std::string& text, const std::vector<Span>& spans, bool valid_utf8) {
  uint32_t last_end = 0;
  for (const Span& s : spans) {
    ASSERT_LT(s.begin, s.end);
    ASSERT_LE(s.end, text.size());
    ASSERT_GE(s.begin, last_end);
    if (valid_utf8) {
      EXPECT_FALSE(IsContinuation(text, s.begin)) << text;
      EXPECT_FALSE(IsContinuation(text, s.end)) << text;
    }
    last_end = s.end;
  }
}

void CheckInvariants(const std::vector<Sentence>& a, const std::vector<Sentence>& b,
                     const DiffResult& d, bool valid_utf8) {
  size_t o = 0, p = 0;
  for (const Hunk& h : d.hunks) {
    ASSERT_LE(h.old_begin, h.old_end);
    ASSERT_LE(h.new_begin, h.new_end);
    ASSERT_LE(h.old_end, a.size());
    ASSERT_LE(h.new_end, b.size());
    ASSERT_GE(h.old_begin, o);
    // Between hunks: equal sentences, one for one.
    ASSERT_EQ(h.old_begin - o, h.new_begin - p);
    for (; o < h.old_begin; ++o, ++p) ASSERT_EQ(a[o].key, b[p].key);
    ASSERT_EQ(h.old_text.size(), h.old_end - h.old_begin);
    ASSERT_EQ(h.new_text.size(), h.new_end - h.new_begin);
    switch (h.kind) {
      case HunkKind::kAdded:
        EXPECT_EQ(h.old_begin, h.old_end);
        EXPECT_LT(h.new_begin, h.new_end);
        break;
      case HunkKind::kRemoved:
        EXPECT_EQ(h.new_begin, h.new_end);
        EXPECT_LT(h.old_begin, h.old_end);
        break;
      case HunkKind::kChanged:
        if (h.coarse) {
          EXPECT_TRUE(d.truncated);
          break;
        }
        ASSERT_EQ(h.old_text.size(), h.new_text.size());
        ASSERT_EQ(h.old_spans.size(), h.old_text.size());
        ASSERT_EQ(h.new_spans.size(), h.new_text.size());
        for (size_t k = 0; k < h.old_text.size(); ++k) {
          EXPECT_NE(a[h.old_begin + k].key, b[h.new_begin + k].key);
          CheckSpans(h.old_text[k], h.old_spans[k], valid_utf8);
          CheckSpans(h.new_text[k], h.new_spans[k], valid_utf8);
        }
        break;
    }
    for (size_t k = 0; k < h.old_text.size(); ++k)
      EXPECT_EQ(h.old_text[k], a[h.old_begin + k].text);
    for (size_t k = 0; k < h.new_text.size(); ++k)
      EXPECT_EQ(h.new_text[k], b[h.new_begin + k].text);
    o = h.old_end;
    p = h.new_end;
    (void)RenderWordDiff(h);
  }
  ASSERT_EQ(a.size() - o, b.size() - p);
  for (; o < a.size(); ++o, ++p) ASSERT_EQ(a[o].key, b[p].key);
  const Significance& s = d.significance;
  EXPECT_GE(s.changed_fraction, 0.0);
  EXPECT_LE(s.changed_fraction, 1.0);
  EXPECT_EQ(d.hunks.empty(), s.severity == Severity::kCosmetic && s.chars_added == 0 &&
                                 s.chars_removed == 0 && s.sentences_added == 0 &&
                                 s.sentences_removed == 0 && s.sentences_changed == 0);
  if (s.numbers_changed || s.dates_changed || s.amounts_changed) {
    EXPECT_EQ(s.severity, Severity::kMajor);
  }
  const std::string unified = RenderUnified(a, b, d, "a", "b", 1 + static_cast<int>(o % 3));
  EXPECT_EQ(unified.empty(), d.hunks.empty());
}

TEST(DiffProperties, RandomEditsOfValidText) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 1500; ++iter) {
    const std::vector<Sentence> a = RandomPage(rng, rng() % 30, false);
    const std::vector<Sentence> b = Mutate(rng, a, false);
    DiffOptions options;
    if (iter % 5 == 0) options.max_edit_cost = rng() % 6;
    if (iter % 7 == 0) options.max_sentences = rng() % 10;
    if (iter % 3 == 0) options.pair_similarity = static_cast<double>(rng() % 11) / 10.0;
    const DiffResult d = DiffSentences(a, b, options);
    ASSERT_NO_FATAL_FAILURE(CheckInvariants(a, b, d, true)) << "iteration " << iter;
  }
}

TEST(DiffProperties, RandomBytes) {
  std::mt19937 rng(12);
  for (int iter = 0; iter < 1500; ++iter) {
    const std::vector<Sentence> a = RandomPage(rng, rng() % 20, true);
    const std::vector<Sentence> b =
        iter % 2 == 0 ? Mutate(rng, a, true) : RandomPage(rng, rng() % 20, true);
    const DiffResult d = DiffSentences(a, b);
    ASSERT_NO_FATAL_FAILURE(CheckInvariants(a, b, d, false)) << "iteration " << iter;
    for (const Sentence& s : a) {
      internal::Figures f;
      internal::ExtractFigures(s.text, &f);
    }
  }
}

TEST(DiffProperties, OptionsAtTheirLimits) {
  const std::vector<Sentence> a = testing::Sentences({"一。", "二。", "三。"});
  const std::vector<Sentence> b = testing::Sentences({"一。", "二!", "四。"});
  for (double t : {-1.0, 0.0, 1.0, 2.0, std::numeric_limits<double>::quiet_NaN()}) {
    DiffOptions options;
    options.pair_similarity = t;
    const DiffResult d = DiffSentences(a, b, options);
    ASSERT_NO_FATAL_FAILURE(CheckInvariants(a, b, d, true));
  }
  DiffOptions zero;
  zero.max_edit_cost = 0;
  zero.max_sentences = 0;
  const DiffResult d = DiffSentences(a, b, zero);
  EXPECT_TRUE(d.truncated);
  ASSERT_NO_FATAL_FAILURE(CheckInvariants(a, b, d, true));
}

}  // namespace
}  // namespace dedupd::diff
