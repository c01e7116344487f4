// Acceptance cases on real releases: the Sichuan government release and an
// English press release, each against its edited version. The fixtures are
// split by a tiny splitter in test_util.h (the real one is the text stage's).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "diff/diff.h"
#include "unit/diff/test_util.h"

namespace dedupd::diff {
namespace {

using testing::ChangedSentences;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ReadFixture;
using testing::SplitForTest;

TEST(DiffFixtures, SichuanReleaseHasFourChangedSentences) {
  const std::vector<Sentence> old_side = SplitForTest(ReadFixture("sc-gov-release.txt"));
  const std::vector<Sentence> new_side = SplitForTest(ReadFixture("sc-gov-release-revised.txt"));
  ASSERT_GT(old_side.size(), 30u);
  const DiffResult d = DiffSentences(old_side, new_side);

  EXPECT_FALSE(d.truncated);
  const Significance& s = d.significance;
  EXPECT_EQ(s.sentences_changed, 4u);
  EXPECT_EQ(s.sentences_added, 0u);
  EXPECT_EQ(s.sentences_removed, 0u);
  for (const Hunk& h : d.hunks) EXPECT_EQ(h.kind, HunkKind::kChanged);

  const auto changed = ChangedSentences(d);
  ASSERT_EQ(changed.size(), 4u);
  // 第五次会议 -> 第五次全体会议
  EXPECT_THAT(changed[0].old_cores, ElementsAre());
  EXPECT_THAT(changed[0].new_cores, ElementsAre("全体"));
  EXPECT_THAT(changed[0].new_text, HasSubstr("第五次全体会议"));
  // the inserted clause
  EXPECT_THAT(changed[1].old_cores, ElementsAre());
  EXPECT_THAT(changed[1].new_cores, ElementsAre("坚持全省一盘棋"));
  // 几年 -> 三年
  EXPECT_THAT(changed[2].old_cores, ElementsAre("几"));
  EXPECT_THAT(changed[2].new_cores, ElementsAre("三"));
  // the second reporter
  EXPECT_THAT(changed[3].old_cores, ElementsAre());
  EXPECT_THAT(changed[3].new_cores, ElementsAre("王成栋"));

  EXPECT_TRUE(s.numbers_changed);  // 几 -> 三
  EXPECT_FALSE(s.dates_changed);
  EXPECT_FALSE(s.amounts_changed);
  EXPECT_EQ(s.severity, Severity::kMajor);
  EXPECT_GT(s.changed_fraction, 0.0);
  EXPECT_LT(s.changed_fraction, 0.02);
  EXPECT_EQ(s.chars_removed, 1u);  // 几
  // 全体 (2) + 坚持全省一盘棋, (8) + 三 (1) + 王成栋) (4)
  EXPECT_EQ(s.chars_added, 15u);

  // Line ranges: the first two changed sentences share the article's first
  // paragraph; hunks are in page order.
  ASSERT_EQ(d.hunks.size(), 3u);
  EXPECT_EQ(d.hunks[0].old_text.size(), 2u);
  EXPECT_EQ(d.hunks[0].old_first_block, d.hunks[0].old_last_block);
  EXPECT_LT(d.hunks[0].new_last_block, d.hunks[1].new_first_block);
  EXPECT_LT(d.hunks[1].new_last_block, d.hunks[2].new_first_block);
}

TEST(DiffFixtures, SichuanWordDiffMarksTheEdits) {
  const std::vector<Sentence> old_side = SplitForTest(ReadFixture("sc-gov-release.txt"));
  const std::vector<Sentence> new_side = SplitForTest(ReadFixture("sc-gov-release-revised.txt"));
  const DiffResult d = DiffSentences(old_side, new_side);
  std::string all;
  for (const Hunk& h : d.hunks) all += RenderWordDiff(h);
  EXPECT_THAT(all, HasSubstr("第五次{+全体+}会议"));
  EXPECT_THAT(all, HasSubstr("未来[-几-]{+三+}年"));
  EXPECT_THAT(all, HasSubstr("王成栋"));
  const std::string unified = RenderUnified(old_side, new_side, d, "a", "b");
  EXPECT_THAT(unified, ::testing::StartsWith("--- a\n+++ b\n@@ "));
  EXPECT_THAT(unified, HasSubstr("\n-把县域经济发展摆在重要位置来抓,力争未来几年取得较大进步。\n"));
  EXPECT_THAT(unified, HasSubstr("\n+把县域经济发展摆在重要位置来抓,力争未来三年取得较大进步。\n"));
}

// The English release: "9 to 2" -> "8 to 3", 40 -> 45 buses, and a sentence
// appended to the last paragraph. With sentences split properly the last edit
// is an added sentence, not a changed one (the fixture README counts lines).
TEST(DiffFixtures, EnglishReleaseSentences) {
  const std::vector<Sentence> old_side = SplitForTest(ReadFixture("en-release.txt"));
  const std::vector<Sentence> new_side = SplitForTest(ReadFixture("en-release-revised.txt"));
  const DiffResult d = DiffSentences(old_side, new_side);
  const Significance& s = d.significance;
  EXPECT_EQ(s.sentences_changed, 2u);
  EXPECT_EQ(s.sentences_added, 1u);
  EXPECT_EQ(s.sentences_removed, 0u);

  const auto changed = ChangedSentences(d);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_THAT(changed[0].old_cores, ElementsAre("9", "2"));
  EXPECT_THAT(changed[0].new_cores, ElementsAre("8", "3"));
  EXPECT_THAT(changed[1].old_cores, ElementsAre("40"));
  EXPECT_THAT(changed[1].new_cores, ElementsAre("45"));

  ASSERT_EQ(d.hunks.size(), 3u);
  const Hunk& added = d.hunks[2];
  EXPECT_EQ(added.kind, HunkKind::kAdded);
  ASSERT_EQ(added.new_text.size(), 1u);
  EXPECT_EQ(added.new_text[0], "A public hearing on the capital plan is scheduled for April 2.");
  EXPECT_EQ(added.old_begin, added.old_end);
  // Inserted after "The budget takes effect on July 1.", in the same block.
  EXPECT_EQ(old_side[added.old_begin - 1].text, "The budget takes effect on July 1.");
  EXPECT_EQ(added.new_first_block, old_side[added.old_begin - 1].block);

  EXPECT_TRUE(s.numbers_changed);
  EXPECT_TRUE(s.dates_changed);  // the added sentence brings a date (April 2)
  EXPECT_FALSE(s.amounts_changed);
  EXPECT_EQ(s.severity, Severity::kMajor);
}

// The same pair diffed one line per unit, as the fixture README counts: three
// changed lines, the last one extended by a sentence.
TEST(DiffFixtures, EnglishReleaseLines) {
  const std::vector<Sentence> old_side = SplitForTest(ReadFixture("en-release.txt"), true);
  const std::vector<Sentence> new_side = SplitForTest(ReadFixture("en-release-revised.txt"), true);
  const DiffResult d = DiffSentences(old_side, new_side);
  EXPECT_EQ(d.significance.sentences_changed, 3u);
  EXPECT_EQ(d.significance.sentences_added, 0u);
  const auto changed = ChangedSentences(d);
  ASSERT_EQ(changed.size(), 3u);
  EXPECT_THAT(changed[0].new_cores, ElementsAre("8", "3"));
  EXPECT_THAT(changed[1].new_cores, ElementsAre("45"));
  EXPECT_THAT(changed[2].old_cores, ElementsAre());
  EXPECT_THAT(changed[2].new_cores,
              ElementsAre("A public hearing on the capital plan is scheduled for April 2"));
}

}  // namespace
}  // namespace dedupd::diff
