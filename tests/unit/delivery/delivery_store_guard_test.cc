// The state store on a full volume (delivery/store_guard.h) against a fake
// store and a manual clock: no new input while it takes no writes, a write
// that failed after its Kafka commit retried first and kept until it goes
// through, a wait bounded by its deadline, readiness and the metrics
// following the store (docs/delivery.md, "Full disk").
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "delivery/store_guard.h"
#include "metrics/metrics.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::ManualClock;

using testing::FakeStore;

class StoreGuardTest : public ::testing::Test {
 protected:
  StoreGuardTest() {
    StoreGuardHooks hooks;
    hooks.beat = [this](const char* what) { beats_.emplace_back(what); };
    hooks.cancelled = [this] { return cancelled_; };
    hooks.changed = [this](bool writable) { changes_.push_back(writable); };
    guard_.emplace(&store_, &clock_, &store_metrics_, std::move(hooks));
  }
  bool MetricHas(const std::string& line) {
    return metrics_.Render().find(line) != std::string::npos;
  }

  FakeStore store_;
  ManualClock clock_;
  metrics::Metrics metrics_;
  StoreMetrics store_metrics_{*metrics_.registry()};
  bool cancelled_ = false;
  std::vector<std::string> beats_;
  std::vector<bool> changes_;
  std::optional<StoreGuard> guard_;
};

TEST_F(StoreGuardTest, FullVolumeHoldsInputUntilThereIsSpaceAgain) {
  store_.full_checks = 3;
  // Three loop turns on a full volume: no new batch, not ready, one error
  // counted (the change, not every retry).
  for (int turn = 0; turn < 3; ++turn) EXPECT_FALSE(guard_->Ready()) << turn;
  EXPECT_FALSE(guard_->writable());
  EXPECT_NE(guard_->why().find("min_free_bytes"), std::string::npos) << guard_->why();
  EXPECT_TRUE(MetricHas("dedupd_state_store_writable 0"));
  EXPECT_TRUE(MetricHas("dedupd_state_store_errors_total{kind=\"no_space\"} 1"))
      << metrics_.Render();
  EXPECT_TRUE(guard_->Ready()) << "space again: input is taken";
  EXPECT_TRUE(guard_->writable());
  EXPECT_TRUE(MetricHas("dedupd_state_store_writable 1"));
  EXPECT_EQ(changes_, (std::vector<bool>{false, false, false, true}));
}

TEST_F(StoreGuardTest, AFailedCommitIsWrittenFirstAndKeptUntilItGoesThrough) {
  // A batch committed to Kafka whose store write failed: its metadata is kept.
  store_.fail_writes = 1;
  std::string why;
  const StoreGuard::Meta meta{{"offset/pages/0", "42"}, {"changelog/state/0", "17"}};
  ASSERT_FALSE(store_.Commit(meta, &why));
  guard_->CommitFailed(meta, store_.LastError(), why);
  EXPECT_TRUE(guard_->unstored());
  EXPECT_FALSE(guard_->writable());
  EXPECT_TRUE(MetricHas("dedupd_state_store_errors_total{kind=\"no_space\"} 1"));
  // The retry fails too: still held, and each failed write is counted.
  store_.fail_writes = 1;
  EXPECT_FALSE(guard_->Ready());
  EXPECT_TRUE(guard_->unstored());
  EXPECT_TRUE(MetricHas("dedupd_state_store_errors_total{kind=\"no_space\"} 2"));
  EXPECT_TRUE(store_.written.empty());
  // Then it goes through, with the batch's metadata, before anything else.
  EXPECT_TRUE(guard_->Ready());
  EXPECT_FALSE(guard_->unstored());
  ASSERT_EQ(store_.written.size(), 1u);
  EXPECT_EQ(store_.written[0], meta);
  EXPECT_TRUE(guard_->Ready());
  EXPECT_EQ(store_.written.size(), 1u) << "written once";
}

TEST_F(StoreGuardTest, AFailedChunkIsWrittenWithoutMetadata) {
  guard_->ChunkFailed(StoreFault{"io", "IO error"});
  EXPECT_TRUE(guard_->unstored());
  EXPECT_TRUE(MetricHas("dedupd_state_store_errors_total{kind=\"io\"} 1"));
  EXPECT_TRUE(guard_->Ready());
  ASSERT_EQ(store_.written.size(), 1u);
  EXPECT_TRUE(store_.written[0].empty());
}

TEST_F(StoreGuardTest, WaitSleepsASecondBetweenChecksUntilSpace) {
  store_.full_checks = 5;
  const auto started = clock_.Now();
  EXPECT_TRUE(guard_->Wait(started + std::chrono::minutes(1)));
  EXPECT_EQ(clock_.slept(), std::chrono::seconds(5));
  EXPECT_EQ(store_.checks, 6);
  EXPECT_EQ(beats_.size(), 5u) << "a sign of progress at every wait";
  EXPECT_TRUE(guard_->writable());
}

TEST_F(StoreGuardTest, WaitGivesUpAtItsDeadlineOrOnASignal) {
  store_.full_checks = 1000;
  EXPECT_FALSE(guard_->Wait(clock_.Now() + std::chrono::seconds(10)));
  EXPECT_EQ(clock_.slept(), std::chrono::seconds(10));
  EXPECT_FALSE(guard_->writable());
  cancelled_ = true;
  const auto slept = clock_.slept();
  EXPECT_FALSE(guard_->Wait(clock_.Now() + std::chrono::hours(1)));
  EXPECT_EQ(clock_.slept(), slept) << "a signal ends the wait at once";
}

TEST_F(StoreGuardTest, HeldInputIsPutBackAndTheLoopPausesASecond) {
  testing::FakeConsumer consumer;
  EXPECT_TRUE(guard_->HoldInput(consumer));
  EXPECT_TRUE(consumer.seeks.empty());
  EXPECT_EQ(clock_.slept(), std::chrono::milliseconds(0)) << "consume waited already";
  consumer.arriving = {{3, 812}};
  EXPECT_TRUE(guard_->HoldInput(consumer));
  EXPECT_EQ(consumer.seeks, (std::vector<std::pair<int32_t, int64_t>>{{3, 812}}));
  EXPECT_EQ(clock_.slept(), std::chrono::seconds(1));
  EXPECT_EQ(beats_.size(), 2u);
  // A message that cannot be put back would be skipped: fatal.
  consumer.arriving = {{3, 812}};
  consumer.seek_result = kafka::Status::Retriable(RdKafka::ERR__STATE);
  EXPECT_FALSE(guard_->HoldInput(consumer));
}

}  // namespace
}  // namespace dedupd::delivery
