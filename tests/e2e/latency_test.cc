// dedupd_event_latency_seconds end to end against the real local broker
// (docs/operations.md): every input message whose outputs commit is observed
// once, from its Kafka timestamp (the test producer's CreateTime) to the
// commit, in both delivery modes. The histogram's count must equal the
// events committed, and its sum must lie between 0 and what the test's own
// wall time allows (every page was produced after the test started and
// committed before the test read the metrics).
#include <gtest/gtest.h>

#include <regex>

#include "e2e/daemon_harness.h"

namespace dedupd::e2e {
namespace {

using std::chrono::seconds;

const std::string kDedupd = DEDUPD_BINARY;

// The value of one series in a /metrics text, -1 when absent.
double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(metrics.c_str() + at + 1 + series.size() + 1);
}

class LatencyTest : public DaemonFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  LatencyTest() : DaemonFixture("lat") {}
};

TEST_P(LatencyTest, EveryCommittedEventIsObservedOnceWithAPlausibleLatency) {
  constexpr int kPages = 120;
  const auto started = std::chrono::steady_clock::now();
  CreateTopic(Topic("pages"), 2);
  DaemonProcess daemon(kDedupd, Args(2, GetParam()), log_);
  ASSERT_TRUE(daemon.WaitReady(seconds(90))) << "daemon not ready; log " << log_;
  EXPECT_EQ(MetricValue(daemon.Metrics(), "dedupd_event_latency_seconds_count"), 0);

  // Two waves, so that several transactions commit.
  for (int wave = 0; wave < 2; ++wave) {
    std::vector<std::string> lines;
    for (int i = wave * kPages / 2; i < (wave + 1) * kPages / 2; ++i) {
      lines.push_back(R"({"url":"https://lat.example/p/)" + std::to_string(i) +
                      R"(","title":"Page )" + std::to_string(i) +
                      R"(","content_type":"text/plain","body":")" + RandomWords(600, 70 + i) +
                      R"("})");
    }
    ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA, lines, KeyOf);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const auto events = ReadAll(bootstrap_, Topic("events"), kPages, seconds(60));
  ASSERT_EQ(events.size(), static_cast<size_t>(kPages)) << "log " << log_;

  // The events are committed, so every observation is made (the histogram is
  // observed right after the commit returns, before the store write).
  std::string metrics;
  Deadline settle(seconds(10));
  while (!settle.expired()) {
    metrics = daemon.Metrics();
    if (MetricValue(metrics, "dedupd_event_latency_seconds_count") >= kPages) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double count = MetricValue(metrics, "dedupd_event_latency_seconds_count");
  const double sum = MetricValue(metrics, "dedupd_event_latency_seconds_sum");
  EXPECT_EQ(count, kPages) << metrics;
  EXPECT_GT(sum, 0);
  EXPECT_LE(sum, kPages * wall) << "wall " << wall << " s";
  // Each observation is bounded by the test's wall time: the +Inf bucket and
  // the one at 60 s hold everything (the test runs for well under 60 s).
  EXPECT_LT(wall, 60);
  EXPECT_EQ(MetricValue(metrics, R"(dedupd_event_latency_seconds_bucket{le="60"})"), kPages);
  // Nothing was observed for the waiting before the first page (no input).
  EXPECT_LE(sum / count, wall);

  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(seconds(60)), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, LatencyTest, ::testing::Values("exactly_once", "at_least_once"));

}  // namespace
}  // namespace dedupd::e2e
