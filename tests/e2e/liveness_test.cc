// Liveness end to end against the real broker (docs/operations.md, "Probes"):
// the daemon's loop really freezes (fault injection: while the file named by
// DEDUPD_FAULT_FREEZE_LOOP_FILE exists the loop blocks without a sign of
// progress), /healthz turns 503 within health.liveness_timeout_ms, saying how
// long and where, and 200 again once the file is gone; an idle loop that only
// polls stays alive for longer than the bound. Before the fix /healthz
// answered 200 whatever the loop did.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "e2e/daemon_harness.h"

namespace dedupd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

const std::string kDedupd = DEDUPD_BINARY;
constexpr int kLivenessMs = 30000;  // the smallest bound the configuration accepts

class LivenessTest : public DaemonFixture {
 protected:
  LivenessTest() : DaemonFixture("live") {}
};

double Gauge(const std::string& metrics, const std::string& name) {
  std::smatch m;
  const std::regex re("\n" + name + " ([0-9.e+-]+)");
  return std::regex_search(metrics, m, re) ? std::stod(m[1].str()) : -1;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_F(LivenessTest, FrozenLoopFailsHealthzWithinTheBoundAndRecovers) {
  const std::string freeze = (std::filesystem::temp_directory_path() / (id_ + ".freeze")).string();
  std::filesystem::remove(freeze);
  ::setenv("DEDUPD_FAULT_FREEZE_LOOP_FILE", freeze.c_str(), 1);
  std::vector<std::string> args = Args(2);
  args.push_back("--health.liveness_timeout_ms=" + std::to_string(kLivenessMs));
  DaemonProcess d(kDedupd, args, log_);
  ::unsetenv("DEDUPD_FAULT_FREEZE_LOOP_FILE");
  ASSERT_TRUE(d.WaitReady(seconds(120))) << "not ready";

  // Idle (no input) for longer than the bound: polling is progress.
  const auto idle_until = Clock::now() + milliseconds(kLivenessMs + 5000);
  while (Clock::now() < idle_until) {
    std::string body;
    ASSERT_EQ(HttpGet(d.metrics_port(), "/healthz", &body), 200) << body;
    std::this_thread::sleep_for(milliseconds(1000));
  }
  const double progress = Gauge(d.Metrics(), "dedupd_loop_last_progress_timestamp_seconds");
  EXPECT_NEAR(progress, UnixNow(), 5) << "the loop's last progress is recent while idle";

  // Freeze: 503 after the bound, not before.
  { std::ofstream(freeze) << "frozen\n"; }
  const auto frozen_at = Clock::now();
  std::string body;
  int status = 200;
  while (Clock::now() - frozen_at < milliseconds(kLivenessMs + 15000)) {
    status = HttpGet(d.metrics_port(), "/healthz", &body);
    if (status == 503) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  const auto failed_after = Clock::now() - frozen_at;
  std::filesystem::remove(freeze);  // before any assertion can end the test
  ASSERT_EQ(status, 503) << "/healthz stayed " << status << " with the loop frozen: " << body;
  EXPECT_GE(failed_after, milliseconds(kLivenessMs - 1000)) << "failed before the bound";
  EXPECT_LE(failed_after, milliseconds(kLivenessMs + 5000)) << "failed long after the bound";
  EXPECT_NE(body.find("stuck"), std::string::npos) << body;
  EXPECT_NE(body.find("seconds_since_progress=3"), std::string::npos) << body;
  EXPECT_NE(body.find("last_progress=consume"), std::string::npos) << body;
  const double frozen_progress = Gauge(d.Metrics(), "dedupd_loop_last_progress_timestamp_seconds");
  EXPECT_LT(frozen_progress, UnixNow() - kLivenessMs / 1000.0 + 2)
      << "the gauge moved while frozen";

  // Unfrozen: alive again at the next poll.
  const auto thawed_at = Clock::now();
  while (Clock::now() - thawed_at < seconds(10)) {
    status = HttpGet(d.metrics_port(), "/healthz", &body);
    if (status == 200) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(status, 200) << body;
  EXPECT_LT(Clock::now() - thawed_at, seconds(3));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(seconds(60)), 0);
}

}  // namespace
}  // namespace dedupd::e2e
