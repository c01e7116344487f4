// The pipeline's per-page buffers reused across pages (issue #11 item 3:
// no allocation per page in steady state): a PipelineResult passed again and
// again gives the same records as a fresh one on the fixtures and the corpus;
// the parser, FillEvent and FillDiff allocate nothing once their strings and
// messages have grown; a rollback after a revision restores the indexes.
//
// Allocations are counted by replacing the global operator new in this
// test binary (counted only while a Counting scope is open).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "emit/json.h"
#include "emit/records.h"
#include "parse/page_parser.h"
#include "pipeline/pipeline.h"
#include "state/store.h"
#include "unit/counting_new.h"

namespace dedupd::app {
namespace {

using Counting = CountingNew;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Json(const v1::PageEvent& e) {
  std::string out;
  emit::AppendJson(e, &out);
  return out;
}

// The same stream through two pipelines: one making a fresh result and
// encoding its records (`dedupd run`), one reusing a single result without
// records (`dedupd scan`). Every result must be the same, byte for byte.
size_t CompareStream(const std::string& path) {
  auto store_a = state::NewMemoryStore();
  auto store_b = state::NewMemoryStore();
  classify::Detector detector_a(classify::DetectOptions{}, store_a.get());
  classify::Detector detector_b(classify::DetectOptions{}, store_b.get());
  metrics::Metrics metrics_a, metrics_b;
  PipelineOptions options;
  options.now_ms = [] { return int64_t{1700000000123}; };
  Pipeline fresh(options, &detector_a, &metrics_a);
  Pipeline reusing(options, &detector_b, &metrics_b);
  PipelineResult reused;
  size_t diffs = 0;
  const std::vector<std::string> lines = ReadLines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string what = path + " line " + std::to_string(i + 1);
    SourceCoordinates source{"in.jsonl", 0, static_cast<int64_t>(i), 0};
    std::vector<OutputRecord> records;
    const PipelineResult a = fresh.Process({lines[i], {}, source}, &records);
    reusing.Process({lines[i], {}, source}, nullptr, &reused);
    std::string error;
    EXPECT_TRUE(detector_a.Commit({}, &error)) << error;
    EXPECT_TRUE(detector_b.Commit({}, &error)) << error;
    EXPECT_EQ(a.kind, reused.kind) << what;
    EXPECT_EQ(a.page.canonical_url, reused.page.canonical_url) << what;
    EXPECT_EQ(a.page.host, reused.page.host) << what;
    EXPECT_EQ(a.page.site, reused.page.site) << what;
    EXPECT_EQ(a.page.title, reused.page.title) << what;
    EXPECT_EQ(a.page.body, reused.page.body) << what;
    EXPECT_EQ(a.page.content_type, reused.page.content_type) << what;
    EXPECT_EQ(a.page.fetched_at_ms, reused.page.fetched_at_ms) << what;
    EXPECT_EQ(a.page.status, reused.page.status) << what;
    EXPECT_EQ(a.error.detail, reused.error.detail) << what;
    EXPECT_EQ(a.event.SerializeAsString(), reused.event.SerializeAsString()) << what;
    EXPECT_EQ(Json(a.event), Json(reused.event)) << what;
    EXPECT_EQ(a.dead_letter.SerializeAsString(), reused.dead_letter.SerializeAsString()) << what;
    EXPECT_EQ(a.diff.has_value(), reused.diff.has_value()) << what;
    if (a.diff && reused.diff) {
      EXPECT_EQ(a.diff->SerializeAsString(), reused.diff->SerializeAsString()) << what;
      ++diffs;
    }
    // The records `dedupd run` produces are the fresh result's, encoded.
    if (a.kind == PipelineResult::Kind::kEvent) {
      EXPECT_EQ(records.size(), a.diff ? 2u : 1u) << what;
      EXPECT_EQ(records[0].value, a.event.SerializeAsString()) << what;
    }
  }
  return diffs;
}

TEST(PipelineReuse, ReusedResultEqualsFreshOnFixturesAndCorpus) {
  const std::string dir = DEDUPD_TEST_DATA_DIR;
  EXPECT_GT(CompareStream(dir + "/fixtures/pages.jsonl"), 2u);
  EXPECT_GT(CompareStream(dir + "/corpus/dev.jsonl"), 100u);
}

std::string PageJson(const std::string& url, const std::string& body) {
  return "{\"url\":\"" + url + "\",\"title\":\"A title long enough to leave SSO\",\"body\":\"" +
         body + "\",\"fetched_at\":\"2024-03-14T17:00:00Z\"}";
}

TEST(PipelineReuse, ParserWritesIntoThePageStrings) {
  parse::PageParser parser;
  parse::ParsedPage page;
  parse::ParseError error;
  const std::string body(3000, 'x');
  const std::string first = PageJson(
      "https://www.news.example.com/a/2024/03/14/article-0001.html?id=7&utm_source=x", body);
  const std::string second =
      PageJson("https://www.news.example.com/a/2024/03/14/article-0002.html?id=8&gclid=y", body);
  ASSERT_TRUE(parser.Parse(first, &page, &error)) << error.detail;
  ASSERT_TRUE(parser.Parse(second, &page, &error)) << error.detail;  // the parser's buffers grow
  Counting counting;
  ASSERT_TRUE(parser.Parse(first, &page, &error)) << error.detail;
  EXPECT_EQ(counting.Count(), 0u);
  EXPECT_EQ(page.canonical_url, "https://www.news.example.com/a/2024/03/14/article-0001.html?id=7");
  EXPECT_EQ(page.host, "www.news.example.com");
  EXPECT_EQ(page.site, "example.com");
  EXPECT_EQ(page.body, body);
  EXPECT_EQ(page.fetched_at_ms, 1710435600000);
}

TEST(PipelineReuse, FillEventAndFillDiffReuseTheMessages) {
  // A page, then its revision: an event with a match and a diff.
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  Pipeline pipeline(PipelineOptions{}, &detector, &metrics);
  std::string body;
  for (int i = 0; i < 20; ++i) {
    body += "Sentence number " + std::to_string(i) + " of the release says something new. ";
  }
  std::string revised = body;
  revised.replace(revised.find("number 7"), 8, "number 70");
  const std::string url = "https://www.gov.example.cn/zwgk/2024/03/14/release-000123.html";
  PipelineResult r;
  const SourceCoordinates source{"a-long-enough-topic-name", 3, 123456789, 0};
  pipeline.Process({PageJson(url, body), {}, source}, nullptr, &r);
  std::string error;
  ASSERT_TRUE(detector.Commit({}, &error)) << error;
  pipeline.Process({PageJson(url, revised), {}, source}, nullptr, &r);
  ASSERT_EQ(r.outcome.verdict, Verdict::kRevised);
  ASSERT_TRUE(r.diff.has_value());
  const v1::PageEvent want_event = emit::MakeEvent(r.page, r.outcome, source, 1, 2);
  const auto want_diff = emit::MakeDiff(r.page, r.outcome, source, 1);
  ASSERT_TRUE(want_diff.has_value());

  v1::PageEvent event;
  v1::PageDiff diff;
  emit::FillEvent(r.page, r.outcome, source, 1, 2, &event);
  emit::FillDiff(r.page, r.outcome, source, 1, &diff);
  Counting counting;
  emit::FillEvent(r.page, r.outcome, source, 1, 2, &event);
  emit::FillDiff(r.page, r.outcome, source, 1, &diff);
  EXPECT_EQ(counting.Count(), 0u);
  EXPECT_EQ(event.SerializeAsString(), want_event.SerializeAsString());
  EXPECT_EQ(diff.SerializeAsString(), want_diff->SerializeAsString());

  // A message filled from another outcome first ends equal to a fresh one.
  v1::PageEvent other;
  classify::Outcome plain;
  plain.flags.Set(Flag::kReverted);
  emit::FillEvent(r.page, r.outcome, source, 1, 2, &other);
  emit::FillEvent(r.page, plain, {}, 0, 0, &other);
  EXPECT_EQ(other.SerializeAsString(),
            emit::MakeEvent(r.page, plain, {}, 0, 0).SerializeAsString());
  EXPECT_FALSE(other.has_match());
}

TEST(PipelineReuse, AnEventWithoutAMatchKeepsTheMatchForTheNextOne) {
  // NEW pages (no match) between pages with one, as in any stream: the
  // match's message and its strings are kept, not deleted and allocated
  // again (session 10; before: 7 allocations for the second match here: the
  // message, its URL, found_by's list and strings).
  parse::ParsedPage page;
  page.url = page.canonical_url = "https://www.gov.example.cn/zwgk/2024/03/14/release-1.html";
  classify::Outcome near;
  near.verdict = Verdict::kNearDuplicate;
  near.match.emplace();
  near.match->url = "https://www.gov.example.cn/zwgk/2024/03/14/release-000123.html";
  near.match->found_by = classify::kFoundBySimHash | classify::kFoundByPassages;
  near.match->jaccard = 0.5;
  classify::Outcome fresh;
  fresh.verdict = Verdict::kNew;
  const SourceCoordinates source{"a-long-enough-topic-name", 3, 123456789, 0};
  v1::PageEvent event;
  emit::FillEvent(page, near, source, 1, 2, &event);
  emit::FillEvent(page, fresh, source, 1, 2, &event);
  EXPECT_FALSE(event.has_match());
  EXPECT_EQ(event.SerializeAsString(),
            emit::MakeEvent(page, fresh, source, 1, 2).SerializeAsString());
  size_t allocations = 0;
  {
    Counting counting;
    emit::FillEvent(page, near, source, 1, 2, &event);
    allocations = counting.Count();
  }
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(event.SerializeAsString(),
            emit::MakeEvent(page, near, source, 1, 2).SerializeAsString());
  std::string got, want;
  emit::AppendJson(event, &got);
  emit::AppendJson(emit::MakeEvent(page, near, source, 1, 2), &want);
  EXPECT_EQ(got, want);
}

TEST(PipelineReuse, RollbackOfARevisionRestoresTheIndexes) {
  // Process() hands the replaced version's whole state on to the new
  // version's history and keeps only its indexed fields for Rollback().
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  Pipeline pipeline(PipelineOptions{}, &detector, &metrics);
  std::string body;
  for (int i = 0; i < 20; ++i) {
    body += "Line " + std::to_string(i) + " of a long enough statement about the weather.\\n";
  }
  std::string revised = body + "An added line about tomorrow's forecast for the region.";
  const std::string url = "https://www.example.com/weather/today.html";
  const SourceCoordinates source{"in", 0, 0, 0};
  PipelineResult r;
  std::string error;
  pipeline.Process({PageJson(url, body), {}, source}, nullptr, &r);
  ASSERT_TRUE(detector.Commit({}, &error)) << error;
  pipeline.Process({PageJson(url, revised), {}, source}, nullptr, &r);
  ASSERT_EQ(r.outcome.verdict, Verdict::kRevised);
  const std::string first_diff = r.diff->SerializeAsString();
  detector.Rollback();
  // The first version is indexed again: the same page is UNCHANGED, the
  // revision REVISED against it with the same diff.
  pipeline.Process({PageJson(url, body), {}, source}, nullptr, &r);
  EXPECT_EQ(r.outcome.verdict, Verdict::kUnchanged);
  EXPECT_EQ(r.outcome.version, 1u);
  detector.Rollback();
  pipeline.Process({PageJson(url, revised), {}, source}, nullptr, &r);
  ASSERT_EQ(r.outcome.verdict, Verdict::kRevised);
  EXPECT_EQ(r.diff->SerializeAsString(), first_diff);
  ASSERT_TRUE(detector.Commit({}, &error)) << error;
  // Its history holds the first version, with its text.
  ASSERT_TRUE(r.outcome.stored.has_value());
  ASSERT_EQ(r.outcome.stored->versions.size(), 2u);
  EXPECT_FALSE(r.outcome.stored->versions[1].text.empty());
  EXPECT_EQ(r.outcome.stored->versions[1].version, 1u);
}

TEST(PipelineReuse, RecycledOutcomeServesTheNextRevision) {
  // A page flipping between two texts is REVISED every time; with the last
  // outcome handed back, its stored state and diff sentences are built in the
  // recycled strings: far fewer allocations than without.
  std::string body, revised;
  for (int i = 0; i < 30; ++i) {
    body += "Sentence number " + std::to_string(i) + " of the statement says what happened. ";
    revised += "Sentence number " + std::to_string(i) +
               (i % 5 == 0 ? " of the statement now says otherwise. "
                           : " of the statement says what happened. ");
  }
  auto allocations_of_last = [&](bool recycle) {
    auto store = state::NewMemoryStore();
    classify::Detector detector(classify::DetectOptions{}, store.get());
    parse::PageParser parser;
    parse::ParsedPage a, b;
    parse::ParseError error;
    const std::string url = "https://www.example.com/statements/2024/03/14/statement.html";
    EXPECT_TRUE(parser.Parse(PageJson(url, body), &a, &error));
    EXPECT_TRUE(parser.Parse(PageJson(url, revised), &b, &error));
    classify::Outcome out;
    size_t count = 0;
    for (int round = 0; round < 6; ++round) {
      if (recycle) detector.Recycle(std::move(out));
      Counting counting;
      out = detector.Process(round % 2 == 0 ? a : b, 1000 + round);
      count = counting.Count();
      std::string commit_error;
      EXPECT_TRUE(detector.Commit({}, &commit_error)) << commit_error;
      if (round > 0) {
        EXPECT_EQ(out.verdict, Verdict::kRevised);
      }
    }
    EXPECT_TRUE(out.diff.has_value());
    return count;
  };
  const size_t without = allocations_of_last(false);
  const size_t with = allocations_of_last(true);
  RecordProperty("allocations_with_recycle", static_cast<int>(with));
  RecordProperty("allocations_without", static_cast<int>(without));
  // 60 sentences (two strings each) and the state's strings and vectors.
  EXPECT_LT(with + 100, without) << "with Recycle " << with << ", without " << without;
}

// A memory store that counts Get() calls.
class CountingStore final : public state::StateStore {
 public:
  std::optional<state::UrlState> Get(std::string_view url) override {
    ++gets;
    return inner_->Get(url);
  }
  std::optional<state::UrlState> GetCommitted(std::string_view url) override {
    return inner_->GetCommitted(url);
  }
  void Put(const state::UrlState& s) override { inner_->Put(s); }
  bool Commit(const std::map<std::string, std::string>& metadata, std::string* error) override {
    return inner_->Commit(metadata, error);
  }
  void Rollback() override { inner_->Rollback(); }
  std::optional<std::string> GetMetadata(std::string_view key) override {
    return inner_->GetMetadata(key);
  }
  void ForEach(const std::function<bool(const state::UrlState&)>& visit,
               state::TextPart text) override {
    inner_->ForEach(visit, text);
  }
  size_t ApproximateBytes() override { return inner_->ApproximateBytes(); }
  size_t Count() override { return inner_->Count(); }

  size_t gets = 0;

 private:
  state::StateStorePtr inner_ = state::NewMemoryStore();
};

TEST(PipelineReuse, UnchangedIsDecidedWithoutAStoreRead) {
  // The store's copy of a URL's state holds its history's texts; an
  // UNCHANGED page needs only what the indexes hold.
  CountingStore store;
  classify::Detector detector(classify::DetectOptions{}, &store);
  parse::PageParser parser;
  parse::ParsedPage page, revised_page;
  parse::ParseError error;
  const std::string url = "https://www.example.com/notices/2024/03/14/notice-42.html";
  std::string body, revised;
  for (int i = 0; i < 12; ++i) {
    body += "Notice line " + std::to_string(i) + " states the opening hours of the office.\\n";
  }
  revised = body + "The office is closed on public holidays.";
  ASSERT_TRUE(parser.Parse(PageJson(url, body), &page, &error));
  ASSERT_TRUE(parser.Parse(PageJson(url, revised), &revised_page, &error));
  std::string commit_error;
  const classify::Outcome first = detector.Process(page, 1000);
  ASSERT_TRUE(detector.Commit({}, &commit_error)) << commit_error;
  const classify::Outcome second = detector.Process(revised_page, 2000);
  ASSERT_EQ(second.verdict, Verdict::kRevised);
  ASSERT_TRUE(detector.Commit({}, &commit_error)) << commit_error;

  store.gets = 0;
  const classify::Outcome again = detector.Process(revised_page, 3000);
  EXPECT_EQ(store.gets, 0u);
  EXPECT_EQ(again.verdict, Verdict::kUnchanged);
  EXPECT_EQ(again.version, 2u);
  ASSERT_TRUE(again.match.has_value());
  EXPECT_EQ(again.match->url, revised_page.canonical_url);
  EXPECT_EQ(again.match->version, 2u);
  EXPECT_EQ(again.match->content_hash, second.content_hash);
  EXPECT_EQ(again.match->similarity, 1.0);
  EXPECT_EQ(again.match->distance, 0);
  EXPECT_FALSE(again.stored.has_value());
  EXPECT_FALSE(detector.HasStaged());
  // The revision is still read from the store (its history is needed).
  const classify::Outcome back = detector.Process(page, 4000);
  EXPECT_EQ(back.verdict, Verdict::kRevised);
  EXPECT_TRUE(back.flags.Has(Flag::kReverted));
  EXPECT_GT(store.gets, 0u);
  detector.Rollback();
}

}  // namespace
}  // namespace dedupd::app
