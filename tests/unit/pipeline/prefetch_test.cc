// The previous state prefetched on the workers (issue #12 item 3;
// docs/delivery.md, "Prefetch of the previous state, session 10"): with
// Detector::PrefetchPrevious, Prepare() reads the URL's committed state and
// diffs the page against it, and Decide() takes both instead of reading the
// store whenever the indexes hold that version. The outcomes (verdict,
// stored state byte for byte, diff) equal those of a detector that peeks,
// on the same schedule of commits and rollbacks, whether the page was
// prepared long before its decision (states staged or committed since: the
// store is read as before) or just before it (the prefetch is taken: one
// store read fewer per page); and `dedupd run`'s pipeline with workers gives
// the records of one page after the other.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "parse/page_parser.h"
#include "pipeline/pipeline.h"
#include "pipeline/workers.h"
#include "state/store.h"
#include "state/url_state.h"
#include "unit/pipeline/stream_run.h"

namespace dedupd::app {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A memory store that counts the detector's store reads.
class CountingStore : public state::StateStore {
 public:
  std::optional<state::UrlState> Get(std::string_view url) override {
    ++gets;
    return inner_->Get(url);
  }
  std::optional<state::UrlState> GetCommitted(std::string_view url) override {
    ++committed_gets;  // from the workers
    return inner_->GetCommitted(url);
  }
  const state::UrlState* Peek(std::string_view url) override {
    ++peeks;
    return inner_->Peek(url);
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

  size_t peeks = 0;
  size_t gets = 0;
  std::atomic<size_t> committed_gets = 0;

 private:
  state::StateStorePtr inner_ = state::NewMemoryStore();
};

std::vector<std::string> Revisions();

// The stream's pages ("revisions": Revisions()).
std::vector<std::string> Lines(const std::string& path) {
  return path == "revisions" ? Revisions() : ReadLines(path);
}

std::vector<parse::ParsedPage> Pages(const std::string& path) {
  parse::PageParser parser;
  std::vector<parse::ParsedPage> pages;
  for (const auto& line : Lines(path)) {
    parse::ParsedPage page;
    parse::ParseError error;
    if (parser.Parse(line, &page, &error) && (page.status == 0 || page.status == 200)) {
      pages.push_back(std::move(page));
    }
  }
  return pages;
}

// Everything an outcome tells: verdict, version, match, flags, the diff
// (unified rendering and significance) and the stored state's record.
std::string Describe(const classify::Outcome& o) {
  std::string d = std::to_string(static_cast<int>(o.verdict)) + " v" + std::to_string(o.version) +
                  " flags " + std::to_string(o.flags.bits);
  if (o.match) {
    d += " match " + o.match->url + " v" + std::to_string(o.match->version) + " d" +
         std::to_string(o.match->distance) + " s" + std::to_string(o.match->similarity);
  }
  if (o.severity) d += " severity " + std::to_string(static_cast<int>(*o.severity));
  if (o.diff) {
    d += " diff " + o.diff->unified + " changed " +
         std::to_string(o.diff->result.significance.changed_fraction) + " sentences " +
         std::to_string(o.diff->old_sentences.size()) + "/" +
         std::to_string(o.diff->new_sentences.size());
  }
  if (o.stored) d += " state " + state::EncodeUrlState(*o.stored);
  return d;
}

// A schedule of decisions: page i is prepared `ahead` pages before it is
// decided (0: just before), and after it the batch commits, or every
// `rollback_every`-th time rolls back (then the rolled-back pages are
// decided again, prepared again as the loop's rewind does, except that
// pages prepared before the rollback and not decided yet keep their
// preparation).
struct Schedule {
  size_t ahead = 0;
  size_t commit_every = 1;
  size_t rollback_every = 0;  // 0: never
};

struct ScheduleRun {
  std::vector<std::string> outcomes;
  classify::Detector::PrefetchStats prefetch;
  size_t peeks = 0;
};

ScheduleRun RunSchedule(const std::vector<parse::ParsedPage>& pages, const Schedule& schedule,
                        bool prefetch) {
  CountingStore store;
  classify::Detector detector(classify::DetectOptions{}, &store);
  detector.PrefetchPrevious(prefetch);
  std::vector<classify::PreparedPage> prepared(pages.size());
  std::vector<bool> is_prepared(pages.size(), false);
  ScheduleRun run;
  size_t committed = 0;  // pages before this one are committed
  size_t batches = 0;
  size_t i = 0;
  while (i < pages.size()) {
    for (size_t k = i; k <= i + schedule.ahead && k < pages.size(); ++k) {
      if (!is_prepared[k]) {
        detector.Prepare(pages[k], &prepared[k]);
        is_prepared[k] = true;
      }
    }
    const classify::Outcome o =
        detector.Decide(pages[i], 1700000000000 + static_cast<int64_t>(i), &prepared[i]);
    run.outcomes.push_back(Describe(o));
    is_prepared[i] = false;  // spent
    ++i;
    if (i % schedule.commit_every != 0 && i != pages.size()) continue;
    ++batches;
    if (schedule.rollback_every > 0 && batches % schedule.rollback_every == 0) {
      detector.Rollback();
      i = committed;  // decided again (and prepared again, where spent)
      continue;
    }
    std::string error;
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
    committed = i;
  }
  run.prefetch = detector.Prefetch();
  run.peeks = store.peeks;
  if (!prefetch) {
    EXPECT_EQ(store.committed_gets.load(), 0u);
  }
  return run;
}

// A few URLs revised again and again, interleaved, some versions repeated
// (UNCHANGED): a URL's next version is often decided while its last one is
// staged, or was committed after the next was prepared.
std::vector<std::string> Revisions() {
  const std::vector<std::string> sentences = {
      "成都市今年新建城市绿道二百公里，市民出行更加便捷。",
      "全市绿道总长度已经超过六千公里。",
      "省教育厅发布通知，全省中小学将于九月一日正式开学。",
      "各地要做好开学前的安全检查工作。",
      "攀枝花市芒果喜获丰收，预计产量比去年增长一成左右。",
      "果农收入有望创下历史新高。",
      "The council approved the new budget on Tuesday after a long debate.",
      "Heavy rain is expected across the region this weekend.",
      "The local football club signed two young players from the academy."};
  std::vector<std::string> lines;
  for (size_t r = 0; r < 12; ++r) {
    for (size_t u = 0; u < 3; ++u) {
      const size_t version = r % 4 == 3 ? r - 1 : r;  // every fourth: the last content again
      std::string body;
      for (size_t k = 0; k < sentences.size(); ++k) {
        if ((k + u + version) % 4 != 0) body += sentences[k] + "\\n";
      }
      body += "第" + std::to_string(version) + "版 更新于" + std::to_string(u) + "号。";
      lines.push_back(R"({"url": "https://www.rev.example/page/)" + std::to_string(u) +
                      R"(.html", "fetched_at": "2024-05-01T08:00:00Z", "content_type": )"
                      R"("text/plain", "body": ")" +
                      body + R"("})");
    }
  }
  return lines;
}

std::vector<std::string> StreamPaths() {
  const std::string dir = DEDUPD_TEST_DATA_DIR;
  return {dir + "/fixtures/pages.jsonl", dir + "/corpus/dev.jsonl", "revisions"};
}

TEST(Prefetch, SameOutcomesAsPeekingOnEverySchedule) {
  const std::vector<Schedule> schedules = {
      {0, 1, 0},        // prepared just before, committed each page: every prefetch taken
      {0, 7, 0},        // a URL staged in the batch: the store is read
      {12, 5, 3},       // prepared long before, with rollbacks
      {100000, 1, 0}};  // every page prepared before the first decision
  for (const std::string& path : StreamPaths()) {
    const std::vector<parse::ParsedPage> pages = Pages(path);
    ASSERT_GT(pages.size(), 10u) << path;
    for (size_t s = 0; s < schedules.size(); ++s) {
      const std::string what = path + ", schedule " + std::to_string(s);
      const ScheduleRun peeking = RunSchedule(pages, schedules[s], false);
      const ScheduleRun prefetching = RunSchedule(pages, schedules[s], true);
      ASSERT_EQ(peeking.outcomes.size(), prefetching.outcomes.size()) << what;
      size_t differences = 0;
      for (size_t i = 0; i < peeking.outcomes.size(); ++i) {
        if (peeking.outcomes[i] != prefetching.outcomes[i] && differences++ < 3) {
          ADD_FAILURE() << what << ": decision " << i << " differs:\n"
                        << peeking.outcomes[i].substr(0, 300) << "\n"
                        << prefetching.outcomes[i].substr(0, 300);
        }
      }
      EXPECT_EQ(differences, 0u) << what;
      // Each prefetch taken is one store read fewer; the others read it.
      EXPECT_EQ(prefetching.peeks + prefetching.prefetch.hits, peeking.peeks) << what;
      EXPECT_EQ(peeking.prefetch.hits + peeking.prefetch.misses, 0u) << what;
      EXPECT_GT(prefetching.prefetch.hits, 0u) << what;
      if (path == "revisions") {
        // Versions staged, or committed after the page was prepared: the
        // prefetched state is not the indexed one and the store is read.
        if (s != 3) {  // (schedule 3 prefetches before any state is committed)
          EXPECT_GT(prefetching.prefetch.diffs, 0u) << what;
        }
        if (s == 1 || s == 2) {
          EXPECT_GT(prefetching.prefetch.misses, 0u) << what;
        }
      }
      if (path.find("corpus") != std::string::npos) {
        // The corpus revises pages: diffs computed on the prefetch were taken ...
        if (s == 0) {
          EXPECT_GT(prefetching.prefetch.diffs, 0u) << what;
        }
        // ... and states staged or committed since the preparation were read.
        if (s == 3) {
          EXPECT_GT(prefetching.prefetch.misses, 0u) << what;
        }
      }
    }
  }
}

// `dedupd run`'s way (loop.cc, FinishNext): prepared by the workers with the
// prefetch, decided in order, encoded by the workers, produced oldest first,
// committed with nothing decided ahead: the records and state records of
// one page after the other without it.
struct StreamRun {
  std::vector<std::string> outputs;
  classify::Detector::PrefetchStats prefetch;
};

StreamRun Serial(const std::vector<std::string>& lines) {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  Pipeline pipeline(FixedClockOptions(), &detector, &metrics);
  StreamRun run;
  PipelineResult result;
  std::vector<OutputRecord> records;
  for (size_t i = 0; i < lines.size(); ++i) {
    records.clear();
    pipeline.Process({lines[i], {}, {"in", 0, static_cast<int64_t>(i), 0}}, &records, &result);
    run.outputs.push_back(DescribeOutputs(
        result, records,
        result.outcome.stored ? state::EncodeUrlState(*result.outcome.stored) : ""));
    std::string error;
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
  }
  return run;
}

StreamRun Pipelined(const std::vector<std::string>& lines, size_t threads, size_t capacity) {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  detector.PrefetchPrevious(true);
  StreamRun run;
  run.outputs = RunPipelined(&detector, lines, threads, capacity);
  run.prefetch = detector.Prefetch();
  return run;
}

TEST(Prefetch, WorkersGiveTheRecordsOfOnePageAfterTheOther) {
  for (const std::string& path : StreamPaths()) {
    const std::vector<std::string> lines = Lines(path);
    const StreamRun serial = Serial(lines);
    for (const size_t threads : {2, 4}) {
      for (const size_t capacity : {0, 3, 32}) {
        const std::string what = path + ", " + std::to_string(threads) + " threads, capacity " +
                                 std::to_string(capacity);
        const StreamRun run = Pipelined(lines, threads, capacity);
        ExpectSameOutputs(serial.outputs, run.outputs, what);
        EXPECT_GT(run.prefetch.hits, 0u) << what;
      }
    }
  }
}

}  // namespace
}  // namespace dedupd::app
