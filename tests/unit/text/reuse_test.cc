// SplitPlainText and FindRepeats into a caller's reused result (issue #11
// item 3: no allocation per page in steady state): the same result as the
// value-returning calls, and no allocation once the buffers have grown, also
// when a shorter page comes between two longer ones.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "text/extract.h"
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

}  // namespace
}  // namespace dedupd::text
