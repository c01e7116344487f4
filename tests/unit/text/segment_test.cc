// SplitSentences: one behaviour per test.
#include "text/segment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "unit/text/corpus_texts.h"
#include "unit/text/text_test_util.h"

namespace dedupd::text {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(SplitSentences, ChineseTerminators) {
  EXPECT_THAT(
      SplitSentences("会议指出，要加快。具体工作中，要把握关系！是吗？是的；好。"),
      ElementsAre("会议指出，要加快。", "具体工作中，要把握关系！", "是吗？", "是的；", "好。"));
}

TEST(SplitSentences, ClosingQuotesStayWithTheSentence) {
  EXPECT_THAT(
      SplitSentences("他说：“我们走吧。”然后离开了。「好！」『嗯？』（完。）尾"),
      ElementsAre("他说：“我们走吧。”", "然后离开了。", "「好！」", "『嗯？』", "（完。）", "尾"));
}

TEST(SplitSentences, TerminatorRunsStayTogether) {
  EXPECT_THAT(SplitSentences("真的吗？！太好了。。。Really?! Yes..."),
              ElementsAre("真的吗？！", "太好了。。。", "Really?!", "Yes..."));
}

TEST(SplitSentences, AsciiPunctuationInChineseText) {
  // Scraped Chinese pages often use half-width punctuation with no space.
  EXPECT_THAT(SplitSentences("谋划推动重大科技合作专项;产业发展方面要培育壮大.下一句"),
              ElementsAre("谋划推动重大科技合作专项;", "产业发展方面要培育壮大.", "下一句"));
}

TEST(SplitSentences, EnglishSentences) {
  EXPECT_THAT(
      SplitSentences("The budget passed. It takes effect in July! Will it work? We hope so"),
      ElementsAre("The budget passed.", "It takes effect in July!", "Will it work?", "We hope so"));
}

TEST(SplitSentences, AbbreviationsDoNotSplit) {
  EXPECT_THAT(
      SplitSentences("Mr. Smith met Dr. Jones of Acme Inc. in the U.S. on Monday, e.g. at noon, "
                     "with apples, pears, etc. and more. They talked."),
      ElementsAre("Mr. Smith met Dr. Jones of Acme Inc. in the U.S. on Monday, e.g. at noon, "
                  "with apples, pears, etc. and more.",
                  "They talked."));
}

TEST(SplitSentences, InitialsDoNotSplit) {
  EXPECT_THAT(SplitSentences("J. R. Smith wrote it. Then he left."),
              ElementsAre("J. R. Smith wrote it.", "Then he left."));
}

TEST(SplitSentences, DecimalsDoNotSplit) {
  EXPECT_THAT(
      SplitSentences("Revenue rose 3.5 percent to $1,000.25 million. 增长3.5%。Costs fell."),
      ElementsAre("Revenue rose 3.5 percent to $1,000.25 million.", "增长3.5%。", "Costs fell."));
}

TEST(SplitSentences, LowercaseWordContinuesTheSentence) {
  EXPECT_THAT(SplitSentences("It costs approx. five dollars. Wait... what happened?"),
              ElementsAre("It costs approx. five dollars.", "Wait... what happened?"));
}

TEST(SplitSentences, UrlsAndDomainsDoNotSplit) {
  EXPECT_THAT(SplitSentences("Visit example.com/a?b=1;c=2 today. Bye"),
              ElementsAre("Visit example.com/a?b=1;c=2 today.", "Bye"));
}

TEST(SplitSentences, EnglishQuotesAfterTerminator) {
  EXPECT_THAT(SplitSentences("He asked, \"Why?!\" She left. (See above.) Done"),
              ElementsAre("He asked, \"Why?!\"", "She left.", "(See above.)", "Done"));
}

TEST(SplitSentences, ViewsAreTrimmedAndNeverEmpty) {
  EXPECT_THAT(SplitSentences("  第一句。 \u3000 第二句。  "), ElementsAre("第一句。", "第二句。"));
  EXPECT_THAT(SplitSentences("  。  "), ElementsAre("。"));
  EXPECT_THAT(SplitSentences(""), IsEmpty());
  EXPECT_THAT(SplitSentences(" \u3000\u200B "), IsEmpty());
}

TEST(SplitSentences, ViewsPointIntoTheBlock) {
  const std::string block = "甲。乙。";
  for (const std::string_view s : SplitSentences(block)) {
    EXPECT_GE(s.data(), block.data());
    EXPECT_LE(s.data() + s.size(), block.data() + block.size());
  }
}

TEST(SplitSentences, SeedParagraph) {
  const std::string block =
      "会议强调,推动成渝地区双城经济圈建设和区域协调发展,涉及方方面面,是一项系统工程。"
      "要加强组织领导、强化统筹协调,形成齐抓共管、密切配合的强大合力,更好推动高水平区域协调发展。";
  EXPECT_EQ(SplitSentences(block).size(), 2u);
}

TEST(SplitSentences, InvalidBytesAreText) {
  EXPECT_THAT(SplitSentences("a\xFF. B"), ElementsAre("a\xFF.", "B"));
}

// --- the 16-byte terminator search against the reference loop ------------

// SplitSentencesInto (the 32-byte AVX2 search where the CPU has it) and the
// 16-byte SSE2 search, each against the reference.
void ExpectSameAsReference(std::string_view block) {
  std::vector<std::string_view> fast, sse2, slow;
  SplitSentencesInto(block, &fast);
  internal::SplitSentencesSse2(block, &sse2);
  internal::SplitSentencesReference(block, &slow);
  for (const auto* got : {&fast, &sse2}) {
    ASSERT_EQ(got->size(), slow.size()) << "[" << block << "]";
    for (size_t i = 0; i < got->size(); ++i) {
      // The same views (same position), not only equal text.
      ASSERT_EQ((*got)[i].data(), slow[i].data()) << "sentence " << i << " of [" << block << "]";
      ASSERT_EQ((*got)[i].size(), slow[i].size()) << "sentence " << i << " of [" << block << "]";
    }
  }
}

// Random blocks of Han text and ASCII words mixed with every terminator,
// the bytes that share a terminator's lead byte or its first two bytes
// (，：、「 and ｡'s neighbours), truncated and invalid sequences, closers,
// abbreviations, whitespace and zero-width characters, at every distance
// from the block's end (the 16-byte search reads 18 bytes, the 32-byte one 34).
TEST(SplitSentences, FastSearchAgreesWithReferenceOnRandomText) {
  const std::vector<std::string> pieces = {
      "。",          "！",     "？",   "；",   "｡",  ".",        "!",
      "?",           ";",      "...",  "?!",   "，", "：",       "、",
      "「",          "」",     "”",    "）",   "｢",  "\xEF\xBD", "｠",
      "\xE3\x80",    "\xE3",   "\xEF", "\xFF", " ",  "  ",       "\n",
      "\u3000",      "\u200B", "Mr.",  "U.S.", "J.", "3.5",      "a",
      "The",         "中",     "文字", "会议", "ｆ", "\xEF\xBC", "\xEF\xBC\x8C",
      "\xE3\x80\x81"};
  std::mt19937_64 rng(11);
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const size_t n = rng() % 60;
    for (size_t i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsReference(text)) << "round " << round;
    // Every suffix: the same bytes at every distance from the end.
    for (size_t cut = 1; cut < text.size() && cut < 40; ++cut) {
      ASSERT_NO_FATAL_FAILURE(ExpectSameAsReference(std::string_view(text).substr(cut)));
      ASSERT_NO_FATAL_FAILURE(
          ExpectSameAsReference(std::string_view(text).substr(0, text.size() - cut)));
    }
  }
}

// Every fixture and every body of the labelled corpus, whole and block by block.
TEST(SplitSentences, FastSearchAgreesWithReferenceOnCorpusAndFixtures) {
  const std::vector<std::string> texts = testing::CorpusAndFixtureTexts();
  ASSERT_GT(texts.size(), 1500u);
  for (const std::string& t : texts) {
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsReference(t));
    for (const Block& b : SplitPlainText(t).blocks) {
      ASSERT_NO_FATAL_FAILURE(ExpectSameAsReference(b.text));
    }
  }
}

}  // namespace
}  // namespace dedupd::text
