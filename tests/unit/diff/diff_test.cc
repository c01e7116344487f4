// DiffSentences: hunk shapes, pairing, bounds and the severity rules.
#include "diff/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "unit/diff/test_util.h"

namespace dedupd::diff {
namespace {

using testing::Core;
using ::testing::ElementsAre;
using testing::Sentences;
using testing::SpanText;

// A longer page, so that one edited sentence is a small share of it.
std::vector<std::string> Page() {
  return {
      "省委书记王晓晖主持会议并讲话。",
      "会议听取了推进成渝地区双城经济圈建设进展情况汇报。",
      "要抓好重大项目建设,做好在建项目资金、土地、用能等要素保障。",
      "要抓好重点领域合作,科技创新方面要加快建设高能级创新平台。",
      "文旅发展方面要加快景区互推、客源互送、产品互售、宣传互动。",
      "生态保护方面要开展毗邻区域生态环境保护联合执法。",
      "民生事业方面持续推进便捷生活行动。",
      "要加强组织领导、强化统筹协调,形成齐抓共管的强大合力。",
      "各地要勇攀高峰,推动线上零售健康发展。",
      "省直有关部门负责同志参加会议。",
  };
}

std::vector<Sentence> FromTexts(const std::vector<std::string>& texts) {
  std::vector<Sentence> out;
  uint32_t block = 0;
  for (const std::string& t : texts) {
    out.push_back({t, testing::RemoveSpaces(t), block++});
  }
  return out;
}

std::vector<Sentence> Edited(size_t index, std::string text) {
  std::vector<std::string> p = Page();
  p[index] = std::move(text);
  return FromTexts(p);
}

TEST(DiffSentences, IdenticalInputsHaveNoHunks) {
  const std::vector<Sentence> page = FromTexts(Page());
  const DiffResult d = DiffSentences(page, page);
  EXPECT_TRUE(d.hunks.empty());
  EXPECT_FALSE(d.truncated);
  EXPECT_EQ(d.significance.severity, Severity::kCosmetic);
  EXPECT_EQ(d.significance.changed_fraction, 0.0);
  EXPECT_EQ(RenderUnified(page, page, d, "a", "b"), "");
}

TEST(DiffSentences, WhitespaceOnlyDifferencesAreInvisibleThroughKeys) {
  const std::vector<Sentence> a = Sentences({"5月3日 开会。"});
  const std::vector<Sentence> b = Sentences({"5 月 3 日开会。"});
  ASSERT_EQ(a[0].key, b[0].key);
  EXPECT_TRUE(DiffSentences(a, b).hunks.empty());
}

TEST(DiffSentences, InsertedSentenceIsOneAddedHunk) {
  std::vector<std::string> p = Page();
  p.insert(p.begin() + 4, "新增一句话说明情况。");
  const std::vector<Sentence> old_side = FromTexts(Page());
  const std::vector<Sentence> new_side = FromTexts(p);
  const DiffResult d = DiffSentences(old_side, new_side);
  ASSERT_EQ(d.hunks.size(), 1u);
  const Hunk& h = d.hunks[0];
  EXPECT_EQ(h.kind, HunkKind::kAdded);
  EXPECT_EQ(h.old_begin, 4u);
  EXPECT_EQ(h.old_end, 4u);
  EXPECT_EQ(h.new_begin, 4u);
  EXPECT_EQ(h.new_end, 5u);
  EXPECT_EQ(h.new_first_block, 4u);
  EXPECT_EQ(h.new_last_block, 4u);
  EXPECT_EQ(h.old_first_block, 3u);  // the block before the insertion point
  EXPECT_THAT(h.new_text, ElementsAre("新增一句话说明情况。"));
  EXPECT_TRUE(h.old_text.empty());
  EXPECT_TRUE(h.new_spans.empty());
  EXPECT_EQ(d.significance.sentences_added, 1u);
  EXPECT_EQ(d.significance.chars_added, 10u);
  EXPECT_EQ(d.significance.sentences_changed, 0u);
}

TEST(DiffSentences, DeletedSentenceIsOneRemovedHunk) {
  std::vector<std::string> p = Page();
  p.erase(p.begin() + 6);
  const DiffResult d = DiffSentences(FromTexts(Page()), FromTexts(p));
  ASSERT_EQ(d.hunks.size(), 1u);
  const Hunk& h = d.hunks[0];
  EXPECT_EQ(h.kind, HunkKind::kRemoved);
  EXPECT_EQ(h.old_begin, 6u);
  EXPECT_EQ(h.old_end, 7u);
  EXPECT_EQ(h.new_begin, 6u);
  EXPECT_EQ(h.new_end, 6u);
  EXPECT_THAT(h.old_text, ElementsAre("民生事业方面持续推进便捷生活行动。"));
  EXPECT_EQ(d.significance.sentences_removed, 1u);
}

TEST(DiffSentences, EmptySides) {
  const std::vector<Sentence> page = FromTexts(Page());
  const std::vector<Sentence> none;
  DiffResult d = DiffSentences(none, none);
  EXPECT_TRUE(d.hunks.empty());
  EXPECT_EQ(d.significance.severity, Severity::kCosmetic);

  d = DiffSentences(none, page);
  ASSERT_EQ(d.hunks.size(), 1u);
  EXPECT_EQ(d.hunks[0].kind, HunkKind::kAdded);
  EXPECT_EQ(d.hunks[0].new_end, page.size());
  EXPECT_EQ(d.significance.changed_fraction, 1.0);
  EXPECT_EQ(d.significance.severity, Severity::kMajor);

  d = DiffSentences(page, none);
  ASSERT_EQ(d.hunks.size(), 1u);
  EXPECT_EQ(d.hunks[0].kind, HunkKind::kRemoved);
  EXPECT_EQ(d.hunks[0].old_end, page.size());
  EXPECT_EQ(d.significance.sentences_removed, page.size());
  EXPECT_EQ(d.significance.severity, Severity::kMajor);
}

TEST(DiffSentences, RewrittenSentenceIsRemovedAndAddedNotChanged) {
  const DiffResult d = DiffSentences(FromTexts(Page()), Edited(6, "天气晴朗适合出行游玩。"));
  ASSERT_EQ(d.hunks.size(), 2u);
  EXPECT_EQ(d.hunks[0].kind, HunkKind::kRemoved);
  EXPECT_EQ(d.hunks[1].kind, HunkKind::kAdded);
  EXPECT_EQ(d.significance.sentences_changed, 0u);
}

TEST(DiffSentences, PairSimilarityOptionDecidesPairing) {
  // 7 of 10 key code points kept: similarity 0.7.
  const std::vector<Sentence> a = Sentences({"一二三四五六七八九十"});
  const std::vector<Sentence> b = Sentences({"一二三四五六七甲乙丙"});
  DiffOptions options;
  options.pair_similarity = 0.6;
  EXPECT_EQ(DiffSentences(a, b, options).significance.sentences_changed, 1u);
  options.pair_similarity = 0.8;
  const DiffResult d = DiffSentences(a, b, options);
  EXPECT_EQ(d.significance.sentences_changed, 0u);
  EXPECT_EQ(d.significance.sentences_removed, 1u);
  EXPECT_EQ(d.significance.sentences_added, 1u);
}

TEST(DiffSentences, PairingKeepsOrderInsideARegion) {
  // Two edited sentences next to each other: two pairs, one changed hunk.
  std::vector<std::string> p = Page();
  p[2] = "要抓好重大项目建设,做好在建项目资金、土地等要素保障。";
  p[3] = "要抓好重点领域合作,科技创新方面要加快建设一批高能级创新平台。";
  const DiffResult d = DiffSentences(FromTexts(Page()), FromTexts(p));
  ASSERT_EQ(d.hunks.size(), 1u);
  const Hunk& h = d.hunks[0];
  EXPECT_EQ(h.kind, HunkKind::kChanged);
  EXPECT_EQ(h.old_begin, 2u);
  EXPECT_EQ(h.old_end, 4u);
  EXPECT_EQ(h.new_begin, 2u);
  EXPECT_EQ(h.new_end, 4u);
  ASSERT_EQ(h.old_spans.size(), 2u);
  ASSERT_EQ(h.old_spans[0].size(), 1u);
  EXPECT_EQ(Core(SpanText(h.old_text[0], h.old_spans[0][0])), "用能");
  EXPECT_TRUE(h.old_spans[1].empty());
  ASSERT_EQ(h.new_spans[1].size(), 1u);
  EXPECT_EQ(SpanText(h.new_text[1], h.new_spans[1][0]), "一批");
  // 一批 is a quantity: adding it changes a number.
  EXPECT_TRUE(d.significance.numbers_changed);
}

TEST(DiffSentences, SpansStayOnUtf8Boundaries) {
  const SentenceSpans s = DiffWithinSentence("勇攀高峰 in 2023", "永攀高峰 in 2024");
  ASSERT_EQ(s.old_spans.size(), 2u);
  EXPECT_EQ(SpanText("勇攀高峰 in 2023", s.old_spans[0]), "勇");
  EXPECT_EQ(SpanText("勇攀高峰 in 2023", s.old_spans[1]), "2023");
  EXPECT_EQ(SpanText("永攀高峰 in 2024", s.new_spans[0]), "永");
}

TEST(DiffSentences, LatinSpansAreWordsAndMergeAcrossSpaces) {
  const std::string o = "The council approved the budget on Monday.";
  const std::string n = "The city council quickly passed the budget on Monday.";
  const SentenceSpans s = DiffWithinSentence(o, n);
  ASSERT_EQ(s.old_spans.size(), 1u);
  EXPECT_EQ(SpanText(o, s.old_spans[0]), "approved");
  ASSERT_EQ(s.new_spans.size(), 2u);
  EXPECT_EQ(SpanText(n, s.new_spans[0]), "city");
  EXPECT_EQ(SpanText(n, s.new_spans[1]), "quickly passed");
}

// --- severity -------------------------------------------------------------

TEST(Severity, FixedTypoIsMinor) {
  DiffResult d =
      DiffSentences(FromTexts(Page()), Edited(8, "各地要永攀高峰,推动线上零售健康发展。"));
  EXPECT_EQ(d.significance.sentences_changed, 1u);
  EXPECT_FALSE(d.significance.numbers_changed);
  EXPECT_EQ(d.significance.severity, Severity::kMinor);

  d = DiffSentences(FromTexts(Page()), Edited(8, "各地要勇攀高峰,推动线上销售健康发展。"));
  EXPECT_FALSE(d.significance.numbers_changed);  // 零 in 零售 is not a number
  EXPECT_EQ(d.significance.severity, Severity::kMinor);
}

TEST(Severity, FixedTypoOnATinyPageIsStillMinor) {
  const DiffResult d = DiffSentences(Sentences({"勇攀高峰。"}), Sentences({"永攀高峰。"}));
  EXPECT_GT(d.significance.changed_fraction, 0.10);
  EXPECT_EQ(d.significance.severity, Severity::kMinor);
}

TEST(Severity, PunctuationOnlyIsCosmetic) {
  DiffResult d =
      DiffSentences(FromTexts(Page()), Edited(8, "各地要勇攀高峰，推动“线上零售”健康发展！"));
  EXPECT_EQ(d.significance.sentences_changed, 1u);
  EXPECT_EQ(d.significance.severity, Severity::kCosmetic);
  EXPECT_GT(d.significance.chars_added, 0u);

  // A sentence split by punctuation alone is cosmetic too.
  std::vector<std::string> p = Page();
  p[7] = "要加强组织领导、强化统筹协调。";
  p.insert(p.begin() + 8, "形成齐抓共管的强大合力。");
  d = DiffSentences(FromTexts(Page()), FromTexts(p));
  EXPECT_EQ(d.significance.severity, Severity::kCosmetic);
}

TEST(Severity, ChangedFigureIsAlwaysMajor) {
  const std::vector<Sentence> base = Sentences(
      {"会议于2023年4月27日召开。", "全年投资5亿元,增长3.5%。", "力争未来几年取得较大进步。",
       "The budget totals $4.2 billion.", "It was approved by a vote of 9 to 2.",
       "The hearing is on April 2.", "参加会议的有二十人。", "有关部门负责同志参加会议。",
       "会议强调要加强组织领导。", "会议要求各地抓好落实。"});
  struct Case {
    size_t index;
    const char* text;
    bool numbers, dates, amounts;
  } cases[] = {
      {0, "会议于2023年4月28日召开。", true, true, false},
      {1, "全年投资6亿元,增长3.5%。", true, false, true},
      {1, "全年投资5亿元,增长4.5%。", true, false, true},
      {2, "力争未来三年取得较大进步。", true, false, false},
      {3, "The budget totals $4.2 million.", true, false, true},
      {4, "It was approved by a vote of 8 to 3.", true, false, false},
      {5, "The hearing is on May 2.", false, true, false},
      {6, "参加会议的有二十一人。", true, false, false},
      {1, "全年投资5亿元,增长3,5%。", true, false, true},  // punctuation inside a figure
  };
  for (const Case& c : cases) {
    std::vector<Sentence> edited = base;
    edited[c.index] = {c.text, testing::RemoveSpaces(c.text), static_cast<uint32_t>(c.index)};
    const DiffResult d = DiffSentences(base, edited);
    EXPECT_EQ(d.significance.numbers_changed, c.numbers) << c.text;
    EXPECT_EQ(d.significance.dates_changed, c.dates) << c.text;
    EXPECT_EQ(d.significance.amounts_changed, c.amounts) << c.text;
    EXPECT_EQ(d.significance.severity, Severity::kMajor) << c.text;
  }
}

TEST(Severity, SwappedFiguresBetweenSentencesAreMajor) {
  const std::vector<Sentence> a = Sentences({"甲地投资3亿元建设新区。", "乙地投资5亿元建设新区。"});
  const std::vector<Sentence> b = Sentences({"甲地投资5亿元建设新区。", "乙地投资3亿元建设新区。"});
  const DiffResult d = DiffSentences(a, b);
  EXPECT_EQ(d.significance.sentences_changed, 2u);
  EXPECT_TRUE(d.significance.amounts_changed);
  EXPECT_EQ(d.significance.severity, Severity::kMajor);
}

TEST(Severity, MovedSentenceWithAFigureIsNotAChangedFigure) {
  std::vector<std::string> p = Page();
  p[1] = "会议听取了2023年重点任务清单情况汇报。";
  std::vector<std::string> moved = p;
  std::rotate(moved.begin() + 1, moved.begin() + 2, moved.begin() + 9);  // sentence 1 -> 8
  const DiffResult d = DiffSentences(FromTexts(p), FromTexts(moved));
  EXPECT_EQ(d.significance.sentences_removed, 1u);
  EXPECT_EQ(d.significance.sentences_added, 1u);
  EXPECT_FALSE(d.significance.numbers_changed);
  EXPECT_FALSE(d.significance.dates_changed);
}

TEST(Severity, LargeShareIsMajor) {
  // A sentence of about a tenth of the page removed: no figure, but major.
  std::vector<std::string> p = Page();
  p.erase(p.begin() + 2);
  DiffResult d = DiffSentences(FromTexts(Page()), FromTexts(p));
  EXPECT_FALSE(d.significance.numbers_changed);
  EXPECT_EQ(d.significance.severity, Severity::kMajor);

  // Rewording half of a sentence: no figure, changed_fraction >= 0.10 of a short page.
  const std::vector<Sentence> a =
      Sentences({"会议强调要加强组织领导强化统筹协调。", "会议要求各地抓好落实。"});
  const std::vector<Sentence> b =
      Sentences({"会议强调要加强组织领导完善工作机制。", "会议要求各地抓好落实。"});
  d = DiffSentences(a, b);
  EXPECT_EQ(d.significance.sentences_changed, 1u);
  EXPECT_GE(d.significance.changed_fraction, 0.10);
  EXPECT_EQ(d.significance.severity, Severity::kMajor);
}

TEST(Severity, SmallWordingChangeIsMinor) {
  const DiffResult d = DiffSentences(
      FromTexts(Page()), Edited(7, "要加强组织领导、强化统筹协调,形成齐抓共管的强劲合力。"));
  EXPECT_EQ(d.significance.sentences_changed, 1u);
  EXPECT_LT(d.significance.changed_fraction, 0.10);
  EXPECT_EQ(d.significance.severity, Severity::kMinor);
}

TEST(Severity, Names) {
  EXPECT_EQ(SeverityName(Severity::kCosmetic), "cosmetic");
  EXPECT_EQ(SeverityName(Severity::kMinor), "minor");
  EXPECT_EQ(SeverityName(Severity::kMajor), "major");
  EXPECT_EQ(HunkKindName(HunkKind::kAdded), "added");
  EXPECT_EQ(HunkKindName(HunkKind::kRemoved), "removed");
  EXPECT_EQ(HunkKindName(HunkKind::kChanged), "changed");
}

// --- bounds ---------------------------------------------------------------

std::vector<Sentence> RandomSentences(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  static constexpr std::string_view kWords[] = {"market", "city",  "river", "budget", "council",
                                                "plan",   "bus",   "road",  "school", "park",
                                                "tax",    "water", "power", "health", "police"};
  std::vector<Sentence> out;
  for (size_t i = 0; i < count; ++i) {
    std::string t;
    const size_t words = 4 + rng() % 8;
    for (size_t w = 0; w < words; ++w) {
      t += kWords[rng() % std::size(kWords)];
      t += ' ';
    }
    t += std::to_string(i) + ".";
    out.push_back({t, testing::RemoveSpaces(t), static_cast<uint32_t>(i)});
  }
  return out;
}

TEST(Bounds, ShuffledTwentyThousandSentencesGiveACoarseHunk) {
  const std::vector<Sentence> a = RandomSentences(20000, 1);
  std::vector<Sentence> b = a;
  std::mt19937 rng(2);
  std::shuffle(b.begin(), b.end(), rng);
  const DiffResult d = DiffSentences(a, b);
  EXPECT_TRUE(d.truncated);
  ASSERT_EQ(d.hunks.size(), 1u);
  const Hunk& h = d.hunks[0];
  EXPECT_EQ(h.kind, HunkKind::kChanged);
  EXPECT_TRUE(h.coarse);
  EXPECT_TRUE(h.old_spans.empty());
  // The coarse hunk spans everything between the common head and tail.
  EXPECT_LE(h.old_begin, 2u);
  EXPECT_GE(h.old_end, 19998u);
  EXPECT_EQ(h.old_end - h.old_begin, h.old_text.size());
  EXPECT_EQ(h.new_end - h.new_begin, h.new_text.size());
  // Same sentences, other order: no figure changed, but a large share moved.
  EXPECT_FALSE(d.significance.numbers_changed);
  EXPECT_EQ(d.significance.severity, Severity::kMajor);
}

TEST(Bounds, MaxSentencesAppliesAfterTheCommonHeadAndTail) {
  std::vector<Sentence> a = RandomSentences(300, 3);
  std::vector<Sentence> b = a;
  b[150] = {"a changed sentence 7.", "achangedsentence7.", 150};
  DiffOptions options;
  options.max_sentences = 100;
  DiffResult d = DiffSentences(a, b, options);
  EXPECT_FALSE(d.truncated);  // the middle is one sentence per side
  for (const Hunk& h : d.hunks) EXPECT_FALSE(h.coarse);
  EXPECT_EQ(d.significance.sentences_changed + d.significance.sentences_removed, 1u);

  b[10] = {"another changed sentence 8.", "anotherchangedsentence8.", 10};
  d = DiffSentences(a, b, options);
  EXPECT_TRUE(d.truncated);  // the middle is 141 sentences per side
  ASSERT_EQ(d.hunks.size(), 1u);
  EXPECT_TRUE(d.hunks[0].coarse);
  EXPECT_EQ(d.hunks[0].old_begin, 10u);
  EXPECT_EQ(d.hunks[0].old_end, 151u);
}

TEST(Bounds, EditCostBoundGivesACoarseHunk) {
  std::vector<Sentence> a = RandomSentences(200, 4);
  std::vector<Sentence> b = a;
  for (size_t i = 0; i < b.size(); i += 10) {
    b[i].text += " x";
    b[i].key += "x";
  }
  DiffOptions options;
  options.max_edit_cost = 20;  // 20 sentences edited: D = 40
  DiffResult d = DiffSentences(a, b, options);
  EXPECT_TRUE(d.truncated);
  ASSERT_EQ(d.hunks.size(), 1u);
  EXPECT_TRUE(d.hunks[0].coarse);

  options.max_edit_cost = 40;
  d = DiffSentences(a, b, options);
  EXPECT_FALSE(d.truncated);
  EXPECT_EQ(d.significance.sentences_changed, 20u);
}

TEST(Bounds, PunctuationOnlyCoarseDiffIsCosmetic) {
  std::vector<Sentence> a = RandomSentences(500, 5);
  std::vector<Sentence> b = a;
  for (Sentence& s : b) {
    s.text += "!";
    s.key += "!";
  }
  const DiffResult d = DiffSentences(a, b);  // D = 1000: within the bound
  EXPECT_FALSE(d.truncated);
  EXPECT_EQ(d.significance.sentences_changed, 500u);
  EXPECT_EQ(d.significance.severity, Severity::kCosmetic);
  DiffOptions options;
  options.max_edit_cost = 10;
  const DiffResult coarse = DiffSentences(a, b, options);
  EXPECT_TRUE(coarse.truncated);
  EXPECT_EQ(coarse.significance.severity, Severity::kCosmetic);
}

}  // namespace
}  // namespace dedupd::diff
