// FindRepeats: one behaviour per test.
#include "text/repeats.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/extract.h"
#include "text/normalize.h"
#include "unit/text/corpus_texts.h"
#include "unit/text/text_test_util.h"

namespace dedupd::text {
namespace {

using testing::Fixture;
using testing::Views;

// ContentKey of the kept blocks, joined: what the daemon hashes.
std::string KeptKey(const ExtractedText& t, const RepeatResult& r) {
  std::string key;
  for (size_t i = 0; i < t.blocks.size(); ++i) {
    if (r.keep[i]) key += ContentKey(t.blocks[i].text);
  }
  return key;
}

std::string AllKey(const ExtractedText& t) {
  std::string key;
  for (const Block& b : t.blocks) key += ContentKey(b.text);
  return key;
}

TEST(FindRepeats, DoubledSeedPageHasTheSingleVersionsKey) {
  const ExtractedText doubled = SplitPlainText(Fixture("sc-gov-release-doubled.txt"));
  const ExtractedText single = SplitPlainText(Fixture("sc-gov-release.txt"));
  const RepeatResult r = FindRepeats(Views(doubled));
  ASSERT_EQ(r.keep.size(), doubled.blocks.size());
  EXPECT_TRUE(r.has_repeats);
  EXPECT_EQ(KeptKey(doubled, r), AllKey(single));
}

TEST(FindRepeats, ContentKeyOfTheKeptBlocksIsTheSingleVersionsKey) {
  const ExtractedText doubled = SplitPlainText(Fixture("sc-gov-release-doubled.txt"));
  const ExtractedText single = SplitPlainText(Fixture("sc-gov-release.txt"));
  EXPECT_EQ(FindRepeats(Views(doubled)).content_key, ContentKey(JoinContent(single)));
}

TEST(FindRepeats, ContentKeyWithoutRepeatsIsThePagesKey) {
  const ExtractedText t = SplitPlainText(Fixture("en-release.txt"));
  EXPECT_EQ(FindRepeats(Views(t)).content_key, ContentKey(JoinContent(t)));
}

TEST(FindRepeats, DoubledSeedPageRepeatedFraction) {
  const ExtractedText doubled = SplitPlainText(Fixture("sc-gov-release-doubled.txt"));
  const RepeatResult r = FindRepeats(Views(doubled));
  EXPECT_GE(r.repeated_fraction, 0.45);
  EXPECT_LE(r.repeated_fraction, 0.50);
}

TEST(FindRepeats, DoubledSeedPageKeepsTheFirstCopy) {
  const ExtractedText doubled = SplitPlainText(Fixture("sc-gov-release-doubled.txt"));
  const RepeatResult r = FindRepeats(Views(doubled));
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].source_begin, 0u);
  EXPECT_EQ(r.runs[0].copy_begin, 16u);  // the second copy starts at its headline
  EXPECT_EQ(r.runs[0].copy_end, 31u);    // the footer is kept
  EXPECT_EQ(r.runs[0].matched_blocks, 15u);
  for (size_t i = 0; i < 16; ++i) EXPECT_TRUE(r.keep[i]) << i;
}

TEST(FindRepeats, CorrectScrapesHaveNoRepeats) {
  for (const char* name :
       {"sc-gov-release.txt", "sc-gov-release-revised.txt", "en-release.txt",
        "en-release-revised.txt", "sc-news-syndicated.txt", "sc-gov-other-release.txt"}) {
    const ExtractedText t = SplitPlainText(Fixture(name));
    const RepeatResult r = FindRepeats(Views(t));
    EXPECT_FALSE(r.has_repeats) << name;
    EXPECT_EQ(r.repeated_fraction, 0.0) << name;
    EXPECT_EQ(r.keep, std::vector<bool>(t.blocks.size(), true)) << name;
  }
}

TEST(FindRepeats, ShortLinesRepeatedOnPurposeAreNotRepeats) {
  // A share bar twice, "Read more" after each teaser, a heading repeated.
  std::string page = Fixture("sc-gov-release.txt");
  page += "\n微信\n微博\n微信\n";
  page += "更多新闻\n成都发布新一批重点项目\n阅读全文\n德阳启动智能制造示范\n阅读全文\n";
  page += "Read more\nRead more\n更多新闻\n";
  const ExtractedText t = SplitPlainText(page);
  const RepeatResult r = FindRepeats(Views(t));
  EXPECT_FALSE(r.has_repeats);
  EXPECT_EQ(r.keep, std::vector<bool>(t.blocks.size(), true));
}

TEST(FindRepeats, ThreeShortLinesInARowAreBelowTheCharacterMinimum) {
  const std::vector<std::string_view> blocks = {"首页", "新闻", "联系我们", "正文第一段",
                                                "首页", "新闻", "联系我们", "正文第二段"};
  EXPECT_FALSE(FindRepeats(blocks).has_repeats);
}

TEST(FindRepeats, OneParagraphPageCapturedTwice) {
  const std::string para =
      "央视网消息（新闻联播）：经中欧双方商定，第二十四次中国—欧盟领导人会晤将于12月7日在北京举行"
      "。";
  const RepeatResult r = FindRepeats({para, para});
  EXPECT_TRUE(r.has_repeats);
  EXPECT_EQ(r.keep, (std::vector<bool>{true, false}));
  EXPECT_DOUBLE_EQ(r.repeated_fraction, 0.5);
}

TEST(FindRepeats, BodyCapturedThreeTimes) {
  const ExtractedText single = SplitPlainText(Fixture("sc-gov-release.txt"));
  std::vector<std::string_view> blocks = Views(single);
  const size_t n = blocks.size();
  for (size_t copy = 0; copy < 2; ++copy) {
    for (size_t i = 0; i < n; ++i) blocks.push_back(blocks[i]);
  }
  const RepeatResult r = FindRepeats(blocks);
  EXPECT_TRUE(r.has_repeats);
  EXPECT_EQ(r.runs.size(), 2u);
  EXPECT_NEAR(r.repeated_fraction, 2.0 / 3.0, 1e-9);
  for (size_t i = 0; i < blocks.size(); ++i) EXPECT_EQ(r.keep[i], i < n) << i;
}

TEST(FindRepeats, CopyWithMissingExtraAndReindentedBlocks) {
  const ExtractedText single = SplitPlainText(Fixture("en-release.txt"));
  std::vector<std::string> blocks;
  for (const Block& b : single.blocks) blocks.push_back(b.text);
  const size_t n = blocks.size();
  for (size_t i = 0; i < n; ++i) {
    if (i == 3) continue;                                     // missing in the copy
    if (i == 5) blocks.push_back("Advertisement");            // extra in the copy
    blocks.push_back("  • " + single.blocks[i].text + "  ");  // bullet, indentation
  }
  const std::vector<std::string_view> views(blocks.begin(), blocks.end());
  const RepeatResult r = FindRepeats(views);
  ASSERT_TRUE(r.has_repeats);
  for (size_t i = 0; i < n; ++i) EXPECT_TRUE(r.keep[i]) << i;
  for (size_t i = n; i < views.size(); ++i) EXPECT_FALSE(r.keep[i]) << i;
}

TEST(FindRepeats, ListsSharingSomeItemsAreNotACopy) {
  // Two bestseller lists with items in common (a real corpus page): the items
  // align through the gaps, but too sparsely to be a copy.
  const std::vector<std::string_view> blocks = {
      "Business bestsellers",
      "The Journey of Leadership by Dana Maor, Hans-Werner Kaas, and Kurt Strovink",
      "Experiencing the American Dream by Mark Matson",
      "Co-Intelligence by Ethan Mollick",
      "The End of the World Is Just the Beginning by Peter Zeihan",
      "Buy Back Your Time by Dan Martell",
      "Self-help bestsellers",
      "The Journey of Leadership by Dana Maor, Hans-Werner Kaas, and Kurt Strovink",
      "The Book of Bill by Alex Hirsch",
      "Experiencing the American Dream by Mark Matson",
      "The Anxious Generation by Jonathan Haidt",
      "Co-Intelligence by Ethan Mollick",
      "Hillbilly Elegy by J. D. Vance",
      "Buy Back Your Time by Dan Martell",
  };
  const RepeatResult r = FindRepeats(blocks);
  EXPECT_FALSE(r.has_repeats);
  RepeatOptions sparse;
  sparse.min_match_density = 0.5;
  EXPECT_TRUE(FindRepeats(blocks, sparse).has_repeats);
}

TEST(FindRepeats, LoneBulletsDoNotStartARun) {
  const std::vector<std::string_view> blocks = {"•", "•", "•", "•"};
  const RepeatResult r = FindRepeats(blocks);
  EXPECT_FALSE(r.has_repeats);
  EXPECT_EQ(r.keep, std::vector<bool>(4, true));
}

// FindRepeatsInKeys on keys computed already (PageForms) gives what
// FindRepeats on the blocks gives, on every fixture and corpus page (some
// with repeats), doubled and tripled pages, and the empty page; its content
// key is left empty where no block is dropped (the keys are the content key).
TEST(FindRepeats, OnPrecomputedKeysEqualsOnBlocks) {
  std::vector<std::string> texts = testing::CorpusAndFixtureTexts();
  texts.push_back(Fixture("sc-gov-release-doubled.txt"));
  texts.push_back(Fixture("sc-gov-release.txt") + "\n" + Fixture("sc-gov-release.txt") + "\n" +
                  Fixture("sc-gov-release.txt"));
  texts.push_back("");
  PageForms forms;
  RepeatResult from_keys;
  size_t with_repeats = 0;
  for (const std::string& t : texts) {
    const ExtractedText page = SplitPlainText(t);
    const std::vector<std::string_view> views = Views(page);
    forms.Clear();
    for (const std::string_view b : views) forms.Append(b);
    FindRepeatsInKeys(views.size(), forms.Keys(), forms.KeyEnds(), {}, &from_keys);
    const RepeatResult expected = FindRepeats(views);
    ASSERT_EQ(from_keys.keep, expected.keep) << t;
    ASSERT_EQ(from_keys.has_repeats, expected.has_repeats);
    ASSERT_EQ(from_keys.repeated_fraction, expected.repeated_fraction);
    ASSERT_EQ(from_keys.runs.size(), expected.runs.size());
    for (size_t i = 0; i < expected.runs.size(); ++i) {
      EXPECT_EQ(from_keys.runs[i].copy_begin, expected.runs[i].copy_begin);
      EXPECT_EQ(from_keys.runs[i].chars, expected.runs[i].chars);
    }
    if (expected.has_repeats) {
      ASSERT_EQ(from_keys.content_key, expected.content_key) << t;
    } else {
      ASSERT_EQ(from_keys.content_key, "") << t;
      ASSERT_EQ(forms.Keys(), expected.content_key) << t;
    }
    with_repeats += expected.has_repeats;
  }
  EXPECT_GE(with_repeats, 2u);
}

TEST(FindRepeats, EmptyInput) {
  const RepeatResult r = FindRepeats({});
  EXPECT_TRUE(r.keep.empty());
  EXPECT_FALSE(r.has_repeats);
  EXPECT_EQ(r.repeated_fraction, 0.0);
}

TEST(FindRepeats, ThresholdsAreOptions) {
  const std::vector<std::string_view> blocks = {"alpha", "beta", "gamma", "delta",
                                                "alpha", "beta", "gamma"};
  EXPECT_FALSE(FindRepeats(blocks).has_repeats);
  RepeatOptions loose;
  loose.min_run_chars = 10;
  const RepeatResult r = FindRepeats(blocks, loose);
  EXPECT_TRUE(r.has_repeats);
  EXPECT_EQ(r.keep, (std::vector<bool>{true, true, true, true, false, false, false}));
}

TEST(FindRepeats, ManyIdenticalLinesStayFast) {
  // Not timed: the candidate limit keeps this linear; it must simply finish.
  std::vector<std::string_view> blocks(200000, "同一行");
  const RepeatResult r = FindRepeats(blocks);
  EXPECT_EQ(r.keep.size(), blocks.size());
}

}  // namespace
}  // namespace dedupd::text
