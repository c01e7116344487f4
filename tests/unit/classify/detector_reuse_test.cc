// The detector's text path on the per-page path (issue #11 item 3): the
// blocks are extracted into the detector's buffers and swapped, not copied,
// into the canonical blocks, so that a page (here an UNCHANGED one, which
// stores nothing) allocates nothing there once the buffers have grown, also
// when a shorter page comes between two longer ones.
#include <gtest/gtest.h>

#include <string>

#include "classify/detector.h"
#include "parse/page_parser.h"
#include "state/store.h"
#include "unit/counting_new.h"

namespace dedupd::classify {
namespace {

parse::ParsedPage Page(const std::string& url, const std::string& prefix, int lines) {
  parse::ParsedPage page;
  page.url = page.canonical_url = url;
  page.host = "news.example.com";
  page.site = "example.com";
  page.content_type = "text/plain";
  for (int i = 0; i < lines; ++i) {
    page.body += prefix + " 第" + std::to_string(i) +
                 "段：这是一段足够长的文字，讲的是一件不同的事情，编号" + std::to_string(i * 7) +
                 "。\n";
  }
  return page;
}

TEST(DetectorReuse, UnchangedPagesAllocateNothingOnTheTextPath) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  const parse::ParsedPage longer =
      Page("https://news.example.com/a/2026/12/06/longer-article.html", "长", 14);
  const parse::ParsedPage shorter =
      Page("https://news.example.com/a/2026/12/06/shorter-article.html", "短", 4);
  std::string error;
  for (const auto* page : {&longer, &shorter}) {
    Outcome o = detector.Process(*page, 1000);
    ASSERT_EQ(o.verdict, Verdict::kNew);
    detector.Recycle(std::move(o));
    ASSERT_TRUE(detector.Commit({}, &error)) << error;
  }
  // Warm-up: every buffer grows to what these pages need.
  for (int round = 0; round < 2; ++round) {
    for (const auto* page : {&longer, &shorter}) {
      Outcome o = detector.Process(*page, 2000);
      ASSERT_EQ(o.verdict, Verdict::kUnchanged);
      detector.Recycle(std::move(o));
    }
  }
  size_t allocations = 0;
  {
    CountingNew counting;
    for (const auto* page : {&longer, &shorter, &longer}) {
      Outcome o = detector.Process(*page, 3000);
      detector.Recycle(std::move(o));
    }
    allocations = counting.Count();
  }
  // What is left per UNCHANGED page: the match's URL, copied into the outcome
  // (longer than a short string's inline buffer).
  EXPECT_LE(allocations, 3u) << allocations;
  Outcome o = detector.Process(longer, 4000);
  EXPECT_EQ(o.verdict, Verdict::kUnchanged);
}

}  // namespace
}  // namespace dedupd::classify
