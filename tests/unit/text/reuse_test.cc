// SplitPlainText, FindRepeats and PageForms into a caller's reused result
// (issue #11 item 3: no allocation per page in steady state): the same
// result as the value-returning calls, and no allocation once the buffers
// have grown, also when a shorter page comes between two longer ones, or
// when pages of one size split their text differently.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "text/extract.h"
#include "text/normalize.h"
#include "text/repeats.h"
#include "unit/counting_new.h"

namespace dedupd::text {
namespace {

std::string Lines(std::string_view prefix, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += std::string(prefix) + " 第" + std::to_string(i) +
           "行：这是一段足够长的文字，不会放进短字符串的内联缓冲区里。\r\n";
  }
  return out;
}

std::vector<std::string_view> Views(const ExtractedText& t) {
  std::vector<std::string_view> views;
  for (const Block& b : t.blocks) views.emplace_back(b.text);
  return views;
}

TEST(TextReuse, SplitPlainTextIntoEqualsFreshResult) {
  ExtractedText reused = ExtractHtml("<title>T</title><p>a</p><p>b</p><p>c</p>");
  for (const std::string& page : {Lines("long", 12), Lines("short", 2), std::string("  \n\n"),
                                  std::string("x\xC2\x85y\xE2\x80\xA8z"),
                                  std::string("bad \xFF utf-8\nline two"), Lines("again", 7)}) {
    SplitPlainText(page, &reused);
    const ExtractedText fresh = SplitPlainText(page);
    EXPECT_EQ(reused.blocks, fresh.blocks) << page;
    EXPECT_EQ(reused.title, "") << page;  // an HTML page's title does not stay
  }
}

TEST(TextReuse, SplitPlainTextIntoAllocatesNothingInSteadyState) {
  const std::string longer = Lines("long", 12);
  const std::string shorter = Lines("short", 3);
  ExtractedText t;
  SplitPlainText(longer, &t);
  SplitPlainText(shorter, &t);  // the 9 blocks past the third wait for a longer page
  CountingNew counting;
  SplitPlainText(longer, &t);
  SplitPlainText(shorter, &t);
  SplitPlainText(longer, &t);
  EXPECT_EQ(counting.Count(), 0u);
  EXPECT_EQ(t.blocks, SplitPlainText(longer).blocks);
}

RepeatResult Copy(const RepeatResult& r) {
  return r;
}

void ExpectSame(const RepeatResult& a, const RepeatResult& b) {
  EXPECT_EQ(a.keep, b.keep);
  EXPECT_EQ(a.repeated_fraction, b.repeated_fraction);
  EXPECT_EQ(a.has_repeats, b.has_repeats);
  ASSERT_EQ(a.runs.size(), b.runs.size());
  for (size_t i = 0; i < a.runs.size(); ++i) {
    EXPECT_EQ(a.runs[i].source_begin, b.runs[i].source_begin);
    EXPECT_EQ(a.runs[i].copy_begin, b.runs[i].copy_begin);
    EXPECT_EQ(a.runs[i].copy_end, b.runs[i].copy_end);
    EXPECT_EQ(a.runs[i].chars, b.runs[i].chars);
  }
  EXPECT_EQ(a.content_key, b.content_key);
}

TEST(TextReuse, FindRepeatsIntoEqualsFreshAndAllocatesNothingInSteadyState) {
  const ExtractedText plain = SplitPlainText(Lines("plain", 10));
  const ExtractedText twice = SplitPlainText(Lines("twice", 6) + Lines("twice", 6));
  const ExtractedText small = SplitPlainText(Lines("small", 2));
  const auto plain_views = Views(plain);
  const auto twice_views = Views(twice);
  const auto small_views = Views(small);
  RepeatResult r;
  for (const auto* views : {&plain_views, &twice_views, &small_views, &plain_views}) {
    FindRepeats(*views, {}, &r);
    ExpectSame(r, FindRepeats(*views));
  }
  FindRepeats(twice_views, {}, &r);
  EXPECT_TRUE(r.has_repeats);
  const RepeatResult want_twice = Copy(r);

  CountingNew counting;
  FindRepeats(plain_views, {}, &r);
  FindRepeats(twice_views, {}, &r);
  FindRepeats(small_views, {}, &r);
  FindRepeats(twice_views, {}, &r);
  EXPECT_EQ(counting.Count(), 0u);
  ExpectSame(r, want_twice);
}

// Pages of the same text, whose one long sentence stands in a different
// place on each: the forms of every page go into one buffer, so once one
// page has been seen none allocates. (With a string per sentence and per
// block, as before session 9, each page grew the string of the place the
// long sentence moved to: 34 allocations over these 22 pages.)
TEST(TextReuse, PageFormsAllocateNothingWhereverTheLongSentenceStands) {
  constexpr size_t kBlocks = 8;
  constexpr size_t kPerBlock = 3;
  const std::string long_sentence =
      "这是一句很长很长的句子它讲述了一件又一件的事情从早到晚从春到冬没有停下来的时候" +
      std::string("而且还在继续讲下去直到所有的人都听明白了为止再也没有别的话要说") + "。";
  const std::string short_sentence = "短句子。";
  // The blocks of a page whose long sentence is sentence number `at`.
  auto page_blocks = [&](size_t at) {
    std::vector<std::string> blocks(kBlocks);
    for (size_t k = 0; k < kBlocks * kPerBlock; ++k) {
      blocks[k / kPerBlock] += k == at ? long_sentence : short_sentence;
    }
    return blocks;
  };
  PageForms forms;
  auto fill = [&](const std::vector<std::string>& blocks) {
    forms.Clear();
    for (const std::string& b : blocks) forms.Append(b);
  };
  // Warm-up: the long sentence first, then last.
  fill(page_blocks(0));
  fill(page_blocks(kBlocks * kPerBlock - 1));
  std::vector<std::vector<std::string>> pages;
  for (size_t at = 1; at + 1 < kBlocks * kPerBlock; ++at) pages.push_back(page_blocks(at));
  size_t allocations = 0;
  {
    CountingNew counting;
    for (const auto& blocks : pages) fill(blocks);
    allocations = counting.Count();
  }
  EXPECT_EQ(allocations, 0u);
  // And the forms are right.
  for (size_t at : {size_t{5}, size_t{20}}) {
    fill(page_blocks(at));
    ASSERT_EQ(forms.blocks(), kBlocks);
    for (size_t i = 0; i < kBlocks; ++i) {
      EXPECT_EQ(forms.BlockForm(i), NormalizeForMatch(page_blocks(at)[i])) << at << " " << i;
    }
    ASSERT_EQ(forms.sentences(), kBlocks * kPerBlock);
    EXPECT_EQ(forms.SentenceForm(at), NormalizeForMatch(long_sentence));
  }
}

}  // namespace
}  // namespace dedupd::text
