// The restore of assigned partitions (delivery/restore.h) against a fake
// store and a manual clock: it waits for space on a full volume, keeps a
// chunk whose write failed and writes it first, outlasts a broker outage,
// and gives up at the deadline or on any other failure.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "delivery/restore.h"
#include "metrics/metrics.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::FakeStore;
using testing::ManualClock;

class RestoreTest : public ::testing::Test {
 protected:
  RestoreTest() : guard_(&store_, &clock_, &store_metrics_, StoreGuardHooks{}) {
    hooks_.cancelled = [this] { return cancelled_; };
    hooks_.brokers_unavailable = [this] { return brokers_down_; };
    hooks_.store_error = [this] { return store_.LastError(); };
    hooks_.restore = [this](const std::vector<int32_t>& ids) {
      restores_.push_back(ids);
      if (chunk_failures_ > 0) {  // a chunk's store write fails on the way
        --chunk_failures_;
        std::string why;
        store_.fail_writes = 1;
        EXPECT_FALSE(store_.Commit({}, &why));
        return kafka::Status(RdKafka::ERR__FAIL, why);
      }
      if (read_failures_ > 0) {
        --read_failures_;
        return kafka::Status(RdKafka::ERR__FAIL, "reading 'state' made no progress for 120000 ms");
      }
      return kafka::Status();
    };
  }
  Clock::TimePoint In(std::chrono::seconds s) { return clock_.Now() + s; }

  FakeStore store_;
  ManualClock clock_;
  metrics::Metrics metrics_;
  StoreMetrics store_metrics_{*metrics_.registry()};
  StoreGuard guard_;
  RestoreHooks hooks_;
  bool cancelled_ = false;
  bool brokers_down_ = false;
  int chunk_failures_ = 0;
  int read_failures_ = 0;
  std::vector<std::vector<int32_t>> restores_;
};

TEST_F(RestoreTest, RestoresOnceWhenAllIsWell) {
  EXPECT_EQ(RestoreAssigned({0, 3}, In(std::chrono::seconds(120)), guard_, clock_, hooks_),
            RebalanceOutcome::kDone);
  EXPECT_EQ(restores_, (std::vector<std::vector<int32_t>>{{0, 3}}));
  EXPECT_EQ(clock_.slept(), std::chrono::milliseconds(0));
}

TEST_F(RestoreTest, WaitsForSpaceBeforeRestoring) {
  store_.full_checks = 4;
  EXPECT_EQ(RestoreAssigned({1}, In(std::chrono::seconds(120)), guard_, clock_, hooks_),
            RebalanceOutcome::kDone);
  EXPECT_EQ(clock_.slept(), std::chrono::seconds(4));
  EXPECT_EQ(restores_.size(), 1u) << "nothing read before there is space";
}

TEST_F(RestoreTest, AChunkThatFailedToWriteIsWrittenFirstThenTheRestoreGoesOn) {
  chunk_failures_ = 1;
  EXPECT_EQ(RestoreAssigned({2}, In(std::chrono::seconds(120)), guard_, clock_, hooks_),
            RebalanceOutcome::kDone);
  EXPECT_EQ(restores_.size(), 2u);
  ASSERT_EQ(store_.written.size(), 1u) << "the staged chunk, written before the second read";
  EXPECT_FALSE(guard_.unstored());
  EXPECT_TRUE(guard_.writable());
}

TEST_F(RestoreTest, AVolumeStillFullAtTheDeadlineIsFatal) {
  store_.full_checks = 1000;
  EXPECT_EQ(RestoreAssigned({2}, In(std::chrono::seconds(30)), guard_, clock_, hooks_),
            RebalanceOutcome::kFatal);
  EXPECT_TRUE(restores_.empty());
  EXPECT_EQ(clock_.slept(), std::chrono::seconds(30));
}

TEST_F(RestoreTest, ABrokerOutageIsOutlastedAndAnyOtherFailureIsFatal) {
  brokers_down_ = true;
  read_failures_ = 3;
  EXPECT_EQ(RestoreAssigned({0}, In(std::chrono::seconds(120)), guard_, clock_, hooks_),
            RebalanceOutcome::kDone);
  EXPECT_EQ(restores_.size(), 4u);
  EXPECT_EQ(clock_.slept(), std::chrono::seconds(3));
  brokers_down_ = false;
  read_failures_ = 1;
  restores_.clear();
  EXPECT_EQ(RestoreAssigned({0}, In(std::chrono::seconds(120)), guard_, clock_, hooks_),
            RebalanceOutcome::kFatal);
  EXPECT_EQ(restores_.size(), 1u);
}

TEST_F(RestoreTest, ASignalInterrupts) {
  read_failures_ = 1;
  cancelled_ = true;
  EXPECT_EQ(RestoreAssigned({0}, In(std::chrono::seconds(120)), guard_, clock_, hooks_),
            RebalanceOutcome::kInterrupted);
}

}  // namespace
}  // namespace dedupd::delivery
