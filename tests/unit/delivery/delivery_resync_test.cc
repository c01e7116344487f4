// After a lost producer is re-created (delivery/resync.h), against a fake
// consumer and a manual clock: the assigned partitions are restored, then
// set to the group's committed offsets (the dropped batch's first offsets
// where nothing is committed), retrying what a broker outage fails.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "delivery/resync.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::FakeConsumer;
using testing::ManualClock;

class ResyncTest : public ::testing::Test {
 protected:
  ResyncTest() {
    hooks_.cancelled = [this] { return cancelled_; };
    hooks_.restoring = [this](bool r) { steps_.push_back(r ? "restoring" : "restored"); };
    hooks_.restore = [this](const std::vector<int32_t>& ids) {
      steps_.push_back("restore");
      restored_ = ids;
      // The restore happens before any partition is sought.
      EXPECT_TRUE(consumer_.seeks.empty());
      if (restore_failures_ > 0) {
        --restore_failures_;
        return kafka::Status(RdKafka::ERR__FAIL, "changelog partition not stable");
      }
      return kafka::Status();
    };
  }

  FakeConsumer consumer_;
  ManualClock clock_;
  ResyncHooks hooks_;
  bool cancelled_ = false;
  int restore_failures_ = 0;
  std::vector<int32_t> restored_;
  std::vector<std::string> steps_;
};

TEST_F(ResyncTest, RestoresThenSeeksToTheCommittedOffsets) {
  consumer_.assignment = {0, 1, 2};
  consumer_.committed = {{0, 120}, {1, 7}};  // partition 2: nothing committed
  const Offsets batch_first = {{0, 100}, {2, 33}};
  ASSERT_TRUE(Resync(consumer_, clock_, batch_first, 10000, hooks_));
  EXPECT_EQ(restored_, (std::vector<int32_t>{0, 1, 2}));
  // The committed offset wins over the dropped batch's first (a commit that
  // went through is kept); with none, the batch's first message.
  EXPECT_EQ(consumer_.seeks, (std::vector<std::pair<int32_t, int64_t>>{{0, 120}, {1, 7}, {2, 33}}));
  EXPECT_EQ(steps_, (std::vector<std::string>{"restoring", "restore", "restored"}));
}

TEST_F(ResyncTest, APartitionWithNeitherIsLeftWhereItIs) {
  consumer_.assignment = {4};
  ASSERT_TRUE(Resync(consumer_, clock_, {}, 10000, hooks_));
  EXPECT_TRUE(consumer_.seeks.empty());
}

TEST_F(ResyncTest, NothingAssignedDoesNothing) {
  ASSERT_TRUE(Resync(consumer_, clock_, {{0, 5}}, 10000, hooks_));
  EXPECT_TRUE(steps_.empty());
  EXPECT_EQ(consumer_.committed_calls, 0u);
}

TEST_F(ResyncTest, RetriesTheCommittedOffsetsAndTheRestoreThroughAnOutage) {
  consumer_.assignment = {0};
  consumer_.committed = {{0, 50}};
  consumer_.committed_failures = {"_TRANSPORT", "_TRANSPORT", "_TIMED_OUT"};
  restore_failures_ = 2;
  ASSERT_TRUE(Resync(consumer_, clock_, {}, 10000, hooks_));
  EXPECT_EQ(consumer_.committed_calls, 4u);
  // 3 x 500 ms between fetches, 2 x 1 s between restores.
  EXPECT_EQ(clock_.slept(), std::chrono::milliseconds(3500));
  EXPECT_EQ(consumer_.seeks, (std::vector<std::pair<int32_t, int64_t>>{{0, 50}}));
}

TEST_F(ResyncTest, ASeekThatKeepsFailingIsFatalAfterFiveRetries) {
  consumer_.assignment = {0};
  consumer_.committed = {{0, 50}};
  consumer_.seek_results = {kafka::Status::Retriable(RdKafka::ERR__STATE)};
  ASSERT_TRUE(Resync(consumer_, clock_, {}, 10000, hooks_)) << "one failure is retried";
  EXPECT_EQ(consumer_.seeks.size(), 2u);
  consumer_.seeks.clear();
  steps_.clear();
  consumer_.seek_result = kafka::Status::Retriable(RdKafka::ERR__STATE);
  EXPECT_FALSE(Resync(consumer_, clock_, {}, 10000, hooks_));
  EXPECT_EQ(consumer_.seeks.size(), 6u);
  EXPECT_EQ(steps_.back(), "restore") << "still restoring: the daemon exits";
}

TEST_F(ResyncTest, ASignalStopsTheRetries) {
  consumer_.assignment = {0};
  consumer_.committed_failures = {"_TRANSPORT"};
  cancelled_ = true;
  EXPECT_FALSE(Resync(consumer_, clock_, {}, 10000, hooks_));
  EXPECT_TRUE(consumer_.seeks.empty());
  EXPECT_TRUE(restored_.empty());
}

}  // namespace
}  // namespace dedupd::delivery
