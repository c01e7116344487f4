// `dedupd run` with its state directory on a small tmpfs that fills up, end
// to end against the real local broker (docs/delivery.md, "Full disk").
// Before the fix the daemon died inside RocksDB (SIGABRT, exit 134) or, with a
// clean error, exited 1 after the Kafka commit. Now, once the volume is under
// state.min_free_bytes (or RocksDB itself hits ENOSPC, with the bound off):
// /readyz answers 503 saying why, dedupd_state_store_writable is 0,
// dedupd_state_store_errors_total{kind="no_space"} counts, no more
// transactions commit, the process stays up (/healthz 200); once the ballast
// is deleted it resumes by itself, every input has its event exactly once,
// and the state written around the episode is there (a later revision of
// every URL is REVISED v2).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "common/tmpfs.h"
#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"

namespace dedupd::e2e {
namespace {

using dedupd::testing::SmallTmpfs;
using std::chrono::seconds;

const std::string kDedupd = DEDUPD_BINARY;

std::string Page(int i, const std::string& extra = "") {
  return R"({"url":"https://fill.example/release/)" + std::to_string(i) + R"(","title":"Release )" +
         std::to_string(i) + R"(","content_type":"text/plain","body":"Release )" +
         std::to_string(i) + ". " + RandomWords(3000, 100 + i) + extra + R"("})";
}

double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(metrics.c_str() + at + 1 + series.size() + 1);
}

// Events by input offset (verdict and version), read with read_committed.
std::multimap<int64_t, std::string> Events(const std::string& bootstrap, const std::string& topic,
                                           size_t expected, std::chrono::milliseconds timeout) {
  std::multimap<int64_t, std::string> got;
  for (const auto& r : ReadAll(bootstrap, topic, expected, timeout)) {
    v1::PageEvent e;
    if (!e.ParseFromString(r.value)) continue;
    got.emplace(e.source().offset(),
                v1::Verdict_Name(e.verdict()) + " v" + std::to_string(e.version()));
  }
  return got;
}

class FullDiskTest : public DaemonFixture, public ::testing::WithParamInterface<uint64_t> {
 protected:
  FullDiskTest() : DaemonFixture("f") {}
};

TEST_P(FullDiskTest, NotReadyWhileFullThenResumesWithNothingLostOrDuplicated) {
  const uint64_t min_free = GetParam();
  SmallTmpfs fs(8 << 20);
  if (!fs.mounted()) GTEST_SKIP() << fs.why();
  const std::string dir = fs.path() + "/state";
  const std::string ballast = fs.path() + "/ballast";
  // 512 KiB left for the store over the bound: the state of 1000 pages of
  // ~3 kB of random words (well over 1 MB) does not fit.
  ASSERT_GT(SmallTmpfs::Fill(ballast, fs.FreeBytes() - min_free - (1 << 19)), 0u);

  constexpr int kPages = 1000;
  std::vector<std::string> lines;
  for (int i = 0; i < kPages; ++i) lines.push_back(Page(i));
  CreateTopic(Topic("pages"), 1);
  auto args = Args(1);
  for (auto& a : args) {
    if (a.starts_with("--state.dir=")) a = "--state.dir=" + dir;
  }
  args.push_back("--state.min_free_bytes=" + std::to_string(min_free));
  // Small batches (about 150 kB of state each): the volume fills after a few.
  args.push_back("--processing.batch_size=50");
  args.push_back("--processing.commit_messages=50");
  DaemonProcess daemon(kDedupd, args, log_);
  ASSERT_TRUE(daemon.WaitReady(seconds(90))) << "daemon not ready; log " << log_;
  ProduceAll(Topic("pages"), 0, lines, KeyOf);

  // 1. The volume fills: not ready, saying why; the metrics say so too.
  std::string body;
  Deadline full(seconds(60));
  while (!full.expired() && HttpGet(daemon.metrics_port(), "/readyz", &body) == 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(full.expired()) << "never went not-ready; log " << log_;
  // Every output of a committed batch is there, so the counts below are
  // stable once the daemon has stopped committing.
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/readyz", &body), 503);
  EXPECT_NE(body.find("state_store_writable=0"), std::string::npos) << body;
  EXPECT_NE(body.find(dir), std::string::npos) << body;
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/healthz", nullptr), 200);
  std::string metrics = daemon.Metrics();
  EXPECT_EQ(MetricValue(metrics, "dedupd_state_store_writable"), 0) << metrics;
  EXPECT_GE(MetricValue(metrics, R"(dedupd_state_store_errors_total{kind="no_space"})"), 1);
  const double committed = MetricValue(metrics, R"(dedupd_transactions_total{result="committed"})");
  const auto before = Events(bootstrap_, Topic("events"), 0, seconds(10));
  EXPECT_LT(before.size(), static_cast<size_t>(kPages))
      << "the volume never filled; transactions committed: " << committed;
  std::cerr << "blocked with " << before.size() << " of " << kPages << " events committed ("
            << committed << " transactions)\n";
  // 2. It stays so: no transaction commits, no event appears, it keeps running.
  std::this_thread::sleep_for(seconds(4));
  metrics = daemon.Metrics();
  EXPECT_EQ(MetricValue(metrics, R"(dedupd_transactions_total{result="committed"})"), committed);
  EXPECT_EQ(Events(bootstrap_, Topic("events"), 0, seconds(10)).size(), before.size());
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/readyz", nullptr), 503);
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/healthz", nullptr), 200);

  // 3. Space back: ready again by itself, and every input has its event once.
  std::filesystem::remove(ballast);
  ASSERT_TRUE(daemon.WaitReady(seconds(60))) << "did not resume; log " << log_;
  EXPECT_EQ(MetricValue(daemon.Metrics(), "dedupd_state_store_writable"), 1);
  // Then a revision of every 10th URL: REVISED v2 shows the state of the
  // first fetch was kept, including those written around the episode.
  std::vector<std::string> revisions;
  for (int i = 0; i < kPages; i += 10) revisions.push_back(Page(i, " Amended."));
  ProduceAll(Topic("pages"), 0, revisions, KeyOf);
  const size_t total = kPages + revisions.size();
  std::multimap<int64_t, std::string> got;
  Deadline all(seconds(90));
  while (!all.expired()) {
    got = Events(bootstrap_, Topic("events"), total, seconds(10));
    if (got.size() >= total) break;
  }
  for (int64_t offset = 0; offset < static_cast<int64_t>(total); ++offset) {
    auto [from, to] = got.equal_range(offset);
    ASSERT_EQ(std::distance(from, to), 1) << "offset " << offset << "; log " << log_;
    EXPECT_EQ(from->second, offset < kPages ? "NEW v1" : "REVISED v2") << "offset " << offset;
  }
  EXPECT_EQ(got.size(), total);
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(seconds(60)), 0);
}

// 1 MiB: the free-space bound stops writes before RocksDB fails; 0: RocksDB
// itself runs into ENOSPC (the write after a Kafka commit fails, is kept and
// retried).
INSTANTIATE_TEST_SUITE_P(Bound, FullDiskTest, ::testing::Values(1u << 20, 0u));

}  // namespace
}  // namespace dedupd::e2e
