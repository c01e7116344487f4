// The diff on the per-page path (issue #11 item 3): DiffSentences and
// RenderUnified into a result and a string reused from the last page give
// the same diff as fresh ones, and once they have grown allocate nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "diff/diff.h"
#include "unit/counting_new.h"
#include "unit/diff/test_util.h"

namespace dedupd::diff {
namespace {

using testing::ReadFixture;
using testing::SplitForTest;

struct Pair {
  std::vector<Sentence> old_side, new_side;
};

Pair Load(const char* old_name, const char* new_name) {
  return {SplitForTest(ReadFixture(old_name)), SplitForTest(ReadFixture(new_name))};
}

void ExpectSame(const DiffResult& want, const DiffResult& got) {
  ASSERT_EQ(want.hunks.size(), got.hunks.size());
  for (size_t k = 0; k < want.hunks.size(); ++k) {
    const Hunk& a = want.hunks[k];
    const Hunk& b = got.hunks[k];
    EXPECT_EQ(a.kind, b.kind) << k;
    EXPECT_EQ(a.old_begin, b.old_begin) << k;
    EXPECT_EQ(a.old_end, b.old_end) << k;
    EXPECT_EQ(a.new_begin, b.new_begin) << k;
    EXPECT_EQ(a.new_end, b.new_end) << k;
    EXPECT_EQ(a.old_first_block, b.old_first_block) << k;
    EXPECT_EQ(a.old_last_block, b.old_last_block) << k;
    EXPECT_EQ(a.new_first_block, b.new_first_block) << k;
    EXPECT_EQ(a.new_last_block, b.new_last_block) << k;
    EXPECT_EQ(a.old_text, b.old_text) << k;
    EXPECT_EQ(a.new_text, b.new_text) << k;
    EXPECT_EQ(a.old_spans, b.old_spans) << k;
    EXPECT_EQ(a.new_spans, b.new_spans) << k;
    EXPECT_EQ(a.coarse, b.coarse) << k;
  }
  const Significance& x = want.significance;
  const Significance& y = got.significance;
  EXPECT_EQ(x.changed_fraction, y.changed_fraction);
  EXPECT_EQ(x.sentences_added, y.sentences_added);
  EXPECT_EQ(x.sentences_removed, y.sentences_removed);
  EXPECT_EQ(x.sentences_changed, y.sentences_changed);
  EXPECT_EQ(x.chars_added, y.chars_added);
  EXPECT_EQ(x.chars_removed, y.chars_removed);
  EXPECT_EQ(x.numbers_changed, y.numbers_changed);
  EXPECT_EQ(x.dates_changed, y.dates_changed);
  EXPECT_EQ(x.amounts_changed, y.amounts_changed);
  EXPECT_EQ(x.severity, y.severity);
  EXPECT_EQ(want.truncated, got.truncated);
}

TEST(DiffReuse, ReusedResultEqualsFreshAndAllocatesNothingOnceGrown) {
  // A Chinese and an English revision, a page against an unrelated one (many
  // hunks), and a tiny diff in between: every shape of hunk, in an order
  // where a reused result shrinks and grows again.
  const std::vector<Pair> pairs = {
      Load("sc-gov-release.txt", "sc-gov-release-revised.txt"),
      Load("en-release.txt", "en-release-revised.txt"),
      Load("sc-gov-release.txt", "sc-gov-other-release.txt"),
      {testing::Sentences({"今天天气很好。", "明天下雨。"}),
       testing::Sentences({"今天天气不好。", "明天下雨。", "后天晴。"})},
  };
  std::vector<DiffResult> fresh;
  std::vector<std::string> fresh_unified;
  for (const Pair& p : pairs) {
    fresh.push_back(DiffSentences(p.old_side, p.new_side));
    fresh_unified.push_back(RenderUnified(p.old_side, p.new_side, fresh.back(), "a", "b"));
  }
  DiffResult result;
  std::string unified;
  for (int round = 0; round < 6; ++round) {
    for (size_t k = 0; k < pairs.size(); ++k) {
      const Pair& p = pairs[k];
      size_t allocations = 0;
      {
        CountingNew counting;
        DiffSentences(p.old_side, p.new_side, DiffOptions{}, &result);
        RenderUnified(p.old_side, p.new_side, result, "a", "b", 1, &unified);
        allocations = counting.Count();
      }
      ExpectSame(fresh[k], result);
      EXPECT_EQ(fresh_unified[k], unified);
      ASSERT_FALSE(result.hunks.empty());
      // The first rounds grow the result, its hunks and the per-thread arrays
      // (a pooled hunk or string may first serve a bigger one).
      if (round >= 3) {
        // The figure scanner (internal/figures.cc) still builds a string per
        // date it canonicalises longer than 15 bytes: the unrelated pages'
        // changed regions hold 4.
        EXPECT_LE(allocations, k == 2 ? 4u : 0u) << "round " << round << " pair " << k;
      }
    }
  }
}

TEST(DiffReuse, ValueFormsAllocatePerDiff) {
  // What the page path paid before (the forms `api` and the tools still
  // use): a new result, its hunks and strings, and a new rendering per diff.
  const Pair p = Load("sc-gov-release.txt", "sc-gov-release-revised.txt");
  (void)DiffSentences(p.old_side, p.new_side);  // the per-thread arrays grown
  CountingNew counting;
  const DiffResult d = DiffSentences(p.old_side, p.new_side);
  const std::string u = RenderUnified(p.old_side, p.new_side, d, "a", "b");
  EXPECT_GT(counting.Count(), 0u);
}

TEST(DiffReuse, WithinSentenceUnchangedByReusedScratch) {
  // DiffWithinSentence keeps its arrays per thread: a long pair, then a short
  // one, then the long one again give what they gave the first time.
  const std::string long_old =
      "第一季度全市生产总值1,200亿元，同比增长4.2%，比上年同期加快0.5个百分点。";
  const std::string long_new =
      "第一季度全市生产总值1,250亿元，同比增长4.5%，比上年同期加快0.8个百分点。";
  const SentenceSpans first = DiffWithinSentence(long_old, long_new);
  const SentenceSpans small = DiffWithinSentence("a b c", "a x c");
  const SentenceSpans again = DiffWithinSentence(long_old, long_new);
  EXPECT_EQ(first.old_spans, again.old_spans);
  EXPECT_EQ(first.new_spans, again.new_spans);
  ASSERT_EQ(small.old_spans.size(), 1u);
  EXPECT_EQ(small.old_spans[0], (Span{2, 3}));
  EXPECT_FALSE(first.old_spans.empty());
}

}  // namespace
}  // namespace dedupd::diff
