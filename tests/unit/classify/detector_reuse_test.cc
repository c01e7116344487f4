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
  // The match's URL too is written into the string of the outcome handed
  // back (3 allocations here before: one URL per page).
  EXPECT_EQ(allocations, 0u);
  Outcome o = detector.Process(longer, 4000);
  EXPECT_EQ(o.verdict, Verdict::kUnchanged);
  EXPECT_EQ(o.match->url, longer.canonical_url);
}

// REVISED pages: a URL flipping between two versions, one batch per page as
// `dedupd scan` commits. The diff (hunks, sentences, rendering), the undo
// log's states, the match's URL and the version records reuse the last
// page's buffers, and the replaced version is read in the store.
TEST(DetectorReuse, RevisedPagesReuseTheDiffAndTheUndoLog) {
  auto store = state::NewMemoryStore();
  DetectOptions options;
  options.history_versions = 3;
  Detector detector(options, store.get());
  const std::string url = "https://news.example.com/a/2026/12/06/an-article-that-changes.html";
  const parse::ParsedPage one = Page(url, "甲", 12);
  parse::ParsedPage two = one;
  two.body.replace(two.body.find("编号7"), 7, "编号8");  // a figure changed: major
  std::string error;
  auto process = [&](const parse::ParsedPage& page, int64_t at) {
    Outcome o = detector.Process(page, at);
    const Verdict v = o.verdict;
    detector.Recycle(std::move(o));
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
    return v;
  };
  ASSERT_EQ(process(one, 1000), Verdict::kNew);
  for (int i = 0; i < 8; ++i) {  // warm-up; the history fills up
    ASSERT_EQ(process(i % 2 == 0 ? two : one, 2000 + i), Verdict::kRevised);
  }
  size_t allocations = 0;
  {
    CountingNew counting;
    for (int i = 0; i < 4; ++i) process(i % 2 == 0 ? two : one, 3000 + i);
    allocations = counting.Count();
  }
  // main (196f153): 513 for these 4 pages; e3f9acc: 25: the replaced
  // version is read in the store (Peek), not copied out, and its history is
  // assigned into the recycled state's records. Now 8: the diff's labels
  // ("URL vN") are written into reused strings; what is left is mostly the
  // store's Put() of a URL whose committed node it swaps (a value interface).
  EXPECT_LE(allocations, 4u * 3) << allocations;
  RecordProperty("allocations_per_revised_page", static_cast<int>(allocations / 4));
  Outcome o = detector.Process(two, 4000);
  ASSERT_EQ(o.verdict, Verdict::kRevised);
  ASSERT_TRUE(o.diff.has_value());
  EXPECT_FALSE(o.diff->result.hunks.empty());
  EXPECT_EQ(o.match->url, url);
  ASSERT_TRUE(o.stored.has_value());
  EXPECT_EQ(o.stored->versions.size(), 3u);
}

// REVISED pages whose diffs alternate between many and few sentences (a
// page revised between a long and a short version): the sentences a short
// diff leaves over are kept for the next long one, and the diff's labels
// ("URL vN") are written into reused strings.
TEST(DetectorReuse, RevisionsOfDifferentLengthsReuseTheDiffSentences) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  const std::string url = "https://news.example.com/a/2026/12/06/an-article-that-grows.html";
  const parse::ParsedPage longer = Page(url, "长", 16);
  const parse::ParsedPage shorter = Page(url, "长", 3);
  std::string error;
  auto process = [&](const parse::ParsedPage& page, int64_t at) {
    Outcome o = detector.Process(page, at);
    const Verdict v = o.verdict;
    detector.Recycle(std::move(o));
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
    return v;
  };
  ASSERT_EQ(process(longer, 1000), Verdict::kNew);
  for (int i = 0; i < 20; ++i) {  // warm-up: the buffers, swapped around, reach their size
    ASSERT_EQ(process(i % 2 == 0 ? shorter : longer, 2000 + i), Verdict::kRevised);
  }
  size_t allocations = 0;
  {
    CountingNew counting;
    for (int i = 0; i < 4; ++i) process(i % 2 == 0 ? shorter : longer, 3000 + i);
    allocations = counting.Count();
  }
  // e3f9acc: 128 for these 4 pages (the sentences dropped by a short diff
  // were freed, and those of the next long one allocated again, with their
  // text and key; four label strings per page). Now 8.
  EXPECT_LE(allocations, 4u * 3) << allocations;
  RecordProperty("allocations_per_revised_page", static_cast<int>(allocations / 4));
  Outcome o = detector.Process(shorter, 4000);
  ASSERT_EQ(o.verdict, Verdict::kRevised);
  ASSERT_TRUE(o.diff.has_value());
  EXPECT_EQ(o.diff->old_sentences.size(), 16u);
  EXPECT_EQ(o.diff->new_sentences.size(), 3u);
  EXPECT_NE(o.diff->unified.find(url + " v25"), std::string::npos);
  EXPECT_NE(o.diff->unified.find(url + " v26"), std::string::npos);
}

// A plain page's lines are views into its body, copied once, into the
// canonical text the state stores (issue #11 item 3, session 9): a page
// with more lines than any before allocates no string per line for its
// blocks, and its stored text is the kept lines joined with '\n'.
TEST(DetectorReuse, PlainLinesAreNotCopiedIntoStringsOfTheirOwn) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::string error;
  auto process = [&](const parse::ParsedPage& page) {
    Outcome o = detector.Process(page, 1000);
    EXPECT_EQ(o.verdict, Verdict::kNew);
    detector.Recycle(std::move(o));
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
  };
  process(Page("https://news.example.com/a/2026/12/06/short-article.html", "短", 4));
  // 60 lines more than any page before, once with the page's lines in the
  // allocation count (and whatever else grows), once without.
  const parse::ParsedPage longer =
      Page("https://news.example.com/a/2026/12/06/long-article.html", "长", 64);
  size_t allocations = 0;
  {
    CountingNew counting;
    Outcome o = detector.Process(longer, 2000);
    EXPECT_EQ(o.verdict, Verdict::kNew);
    ASSERT_TRUE(o.stored.has_value());
    std::string expected = longer.body;
    expected.pop_back();  // the last line's '\n'
    EXPECT_EQ(o.stored->text, expected);
    detector.Recycle(std::move(o));
    allocations = counting.Count();
  }
  // d1876e9: 274 (a string per line in the extraction, then swapped into
  // the canonical blocks, besides each line's normalised form); now 201.
  EXPECT_LE(allocations, 220u) << allocations;
  RecordProperty("allocations_for_60_more_lines", static_cast<int>(allocations));
}

// A diff's sentences are views into each side's text, copied once into the
// diff, not a string per sentence (session 9): the first REVISED page of a
// 40-line URL allocates for the keys and the two texts, not for every
// sentence's text as well.
TEST(DetectorReuse, DiffSentencesAreViewsIntoEachSidesText) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  const std::string url = "https://news.example.com/a/2026/12/06/a-long-article-revised.html";
  const parse::ParsedPage first = Page(url, "长", 40);
  parse::ParsedPage revised = first;
  revised.body += "新增的一段：这是后来加上的一句话，编号999。\n";
  std::string error;
  Outcome o = detector.Process(first, 1000);
  ASSERT_EQ(o.verdict, Verdict::kNew);
  detector.Recycle(std::move(o));
  ASSERT_TRUE(detector.Commit({}, &error)) << error;
  size_t allocations = 0;
  {
    CountingNew counting;
    o = detector.Process(revised, 2000);
    allocations = counting.Count();
  }
  ASSERT_EQ(o.verdict, Verdict::kRevised);
  ASSERT_TRUE(o.diff.has_value());
  ASSERT_EQ(o.diff->old_sentences.size(), 40u);
  ASSERT_EQ(o.diff->new_sentences.size(), 41u);
  EXPECT_EQ(o.diff->new_sentences[40].text, "新增的一段：这是后来加上的一句话，编号999。");
  EXPECT_EQ(o.diff->old_sentences[3].block, 3u);
  EXPECT_NE(o.diff->unified.find("+新增的一段"), std::string::npos);
  // d1876e9: 257 (a text and a key string per sentence, besides the page's
  // own); now 218.
  EXPECT_LE(allocations, 230u) << allocations;
  RecordProperty("allocations_first_revised_page", static_cast<int>(allocations));
  detector.Recycle(std::move(o));
}

// A NEAR_DUPLICATE page in steady state (session 10): the candidates are
// gathered in the detector's reused vectors (and the passage index's), and
// the winner's state is read in the store (Peek), not copied out of it
// with its text and history.
TEST(DetectorReuse, NearDuplicateWinnerIsReadInPlace) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  const parse::ParsedPage original =
      Page("https://news.example.com/a/2026/12/06/the-original-article.html", "长", 30);
  std::string error;
  Outcome o = detector.Process(original, 1000);
  ASSERT_EQ(o.verdict, Verdict::kNew);
  detector.Recycle(std::move(o));
  ASSERT_TRUE(detector.Commit({}, &error)) << error;
  // Copies under new URLs, each with one line of its own.
  auto copy = [&](int i) {
    parse::ParsedPage page = original;
    // Each on a site of its own: the site's boilerplate model would
    // otherwise learn the shared lines.
    page.host = "www.copier" + std::to_string(i) + ".example";
    page.site = "copier" + std::to_string(i) + ".example";
    page.url = page.canonical_url =
        "https://" + page.host + "/b/2026/12/06/copy-number-" + std::to_string(i) + ".html";
    page.body += "转载" + std::to_string(i) + "：这是转载时加上的一句话。\n";
    return page;
  };
  for (int i = 0; i < 4; ++i) {  // warm-up
    o = detector.Process(copy(i), 2000);
    ASSERT_EQ(o.verdict, Verdict::kNearDuplicate) << i;
    detector.Recycle(std::move(o));
    ASSERT_TRUE(detector.Commit({}, &error)) << error;
  }
  const parse::ParsedPage next = copy(4);
  size_t allocations = 0;
  {
    CountingNew counting;
    o = detector.Process(next, 3000);
    allocations = counting.Count();
  }
  ASSERT_EQ(o.verdict, Verdict::kNearDuplicate);
  ASSERT_TRUE(o.match.has_value());
  ASSERT_TRUE(o.diff.has_value());
  EXPECT_NE(o.diff->unified.find("+转载4"), std::string::npos);
  // 7c4324d: 52 (the winner's state copied out of the store, the candidate
  // vectors, the passage index's tags and hits); 20 with them gone (the
  // rest: the state the store keeps for the new URL, the diff's growth).
  EXPECT_LE(allocations, 24u) << allocations;
  RecordProperty("allocations_near_duplicate_page", static_cast<int>(allocations));
  detector.Recycle(std::move(o));
}

// `dedupd scan` (session 10): with SetOutcomeStored(false) the memory store
// keeps the state the detector built instead of a copy of it (PutTaking;
// state_memory_store_reuse_test checks that the buffers are the caller's),
// and no outcome carries the state. A new URL's page allocates the same
// number of buffers either way (those the store keeps: 9 here), so what goes
// is the copy, not an allocation; the same pages give the same states.
TEST(DetectorReuse, WithoutTheOutcomesStateTheStoreKeepsTheDetectorsBuffers) {
  size_t allocations[2] = {0, 0};
  state::UrlState stored[2];
  for (const bool outcome_stored : {true, false}) {
    auto store = state::NewMemoryStore();
    Detector detector(DetectOptions{}, store.get());
    detector.SetOutcomeStored(outcome_stored);
    std::string error;
    auto page = [](int i) {
      parse::ParsedPage p =
          Page("https://news.example.com/a/2026/12/06/article-" + std::to_string(i) + ".html",
               "第" + std::to_string(i) + "篇", 12);
      p.title = "一个足够长的标题，不放进内联缓冲区，第" + std::to_string(i) + "篇";
      return p;
    };
    for (int i = 0; i < 4; ++i) {  // warm-up
      Outcome o = detector.Process(page(i), 1000);
      ASSERT_EQ(o.verdict, Verdict::kNew);
      EXPECT_EQ(o.stored.has_value(), outcome_stored);
      detector.Recycle(std::move(o));
      ASSERT_TRUE(detector.Commit({}, &error)) << error;
    }
    const parse::ParsedPage next = page(4);
    {
      CountingNew counting;
      Outcome o = detector.Process(next, 2000);
      detector.Recycle(std::move(o));
      allocations[outcome_stored ? 0 : 1] = counting.Count();
    }
    ASSERT_TRUE(detector.Commit({}, &error)) << error;
    auto got = store->Get(next.canonical_url);
    ASSERT_TRUE(got.has_value());
    stored[outcome_stored ? 0 : 1] = *got;
  }
  EXPECT_LE(allocations[1], allocations[0]) << allocations[0] << " " << allocations[1];
  RecordProperty("allocations_new_url_page_with_copy", static_cast<int>(allocations[0]));
  RecordProperty("allocations_new_url_page_taken", static_cast<int>(allocations[1]));
  EXPECT_EQ(stored[0].text, stored[1].text);
  EXPECT_EQ(stored[0].title, stored[1].title);
  EXPECT_EQ(stored[0].line_hashes, stored[1].line_hashes);
  EXPECT_EQ(stored[0].paragraph_hashes, stored[1].paragraph_hashes);
  EXPECT_EQ(stored[0].sketch, stored[1].sketch);
  EXPECT_EQ(stored[0].content_hash, stored[1].content_hash);
  EXPECT_EQ(stored[0].versions.size(), stored[1].versions.size());
  EXPECT_EQ(stored[0].version, stored[1].version);
}

}  // namespace
}  // namespace dedupd::classify
