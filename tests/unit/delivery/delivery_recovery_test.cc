// delivery::Recovery against the fake edge and a manual clock: only the
// producer's own failure re-creates it (not another client's fatal error,
// not a loop failure the batch did not mark as the producer's); the
// re-creation drops the open batch, makes the producer, initialises its
// transactions (exactly-once only), resyncs every partition to the
// committed offsets, and clears the loss; a consumer lost aborts the open
// batch without a rewind and forgets its first offsets and refusals.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "delivery/delivery_metrics.h"
#include "delivery/recovery.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::FakeConsumer;
using testing::FakeProducer;
using testing::ManualClock;

const std::string kEvents = "events";

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(true); }
  void Make(bool exactly_once) {
    BatchOptions options;
    options.exactly_once = exactly_once;
    options.dlq_topic = "dlq";
    BatchHooks bh;
    bh.roll_back = [this] { steps_.push_back("roll back"); };
    batch_ = std::make_unique<Batch>(options, &producer_, &consumer_, &clock_, &metrics_,
                                     &delivery_metrics_, bh);
    producer_.sink = batch_->tracker();
    RecoveryHooks hooks;
    hooks.producer_ready = [this](bool ready) { steps_.push_back(ready ? "ready" : "not ready"); };
    hooks.destroy_producer = [this] { steps_.push_back("destroy"); };
    hooks.create_producer = [this](std::string* error) {
      steps_.push_back("create");
      if (create_fails_) {
        *error = "invalid configuration";
        return false;
      }
      producer_.fatal = {};
      return true;
    };
    hooks.give_up_all = [this] { steps_.push_back("give up"); };
    hooks.resync.restore = [this](const std::vector<int32_t>&) {
      steps_.push_back("restore");
      return kafka::Status();
    };
    recovery_ = std::make_unique<Recovery>(batch_.get(), &producer_, &consumer_, &clock_,
                                           RecoveryOptions{exactly_once, 10000}, hooks);
  }
  void AddPage(int32_t partition, int64_t offset) {
    if (!batch_->open()) {
      ASSERT_TRUE(batch_->Begin());
    }
    const uint32_t input = batch_->AddInput(partition, offset, 0);
    keys_.push_back("k" + std::to_string(offset));
    std::vector<Outgoing> out = {
        {&kEvents, kAnyPartition, &keys_.back(), &keys_.back(), RecordKind::kEvent}};
    ASSERT_TRUE(batch_->ProduceInput(out, input, partition, offset).ok());
  }

  FakeProducer producer_;
  FakeConsumer consumer_;
  ManualClock clock_;
  metrics::Metrics metrics_{50};
  DeliveryMetrics delivery_metrics_{*metrics_.registry()};
  std::unique_ptr<Batch> batch_;
  std::unique_ptr<Recovery> recovery_;
  std::vector<std::string> steps_;
  std::deque<std::string> keys_;
  bool create_fails_ = false;
};

TEST_F(RecoveryTest, OnlyTheProducersOwnFailureIsRecovered) {
  // Nothing failed.
  EXPECT_FALSE(recovery_->ProducerRecoverable(false, false));
  // The loop failed (a rewind's seek, say), not the producer.
  EXPECT_FALSE(recovery_->ProducerRecoverable(true, false));
  // Another client's fatal error (the consumer's): exit.
  EXPECT_FALSE(recovery_->ProducerRecoverable(false, true));
  // The producer raised a fatal error (its event too).
  producer_.fatal = kafka::Status::Fatal(RdKafka::ERR__FENCED);
  EXPECT_TRUE(recovery_->ProducerRecoverable(false, true));
  EXPECT_TRUE(recovery_->ProducerRecoverable(false, false));
  // The loop's fatal flag counts only with the batch's mark.
  EXPECT_FALSE(recovery_->ProducerRecoverable(true, true));
  EXPECT_TRUE(steps_.empty());
}

TEST_F(RecoveryTest, ALostBatchMarksTheProducerRecoverable) {
  AddPage(0, 10);
  producer_.commit_results = {kafka::Status::Fatal(RdKafka::ERR__FENCED)};
  consumer_.positions = {{0, 11}};
  EXPECT_EQ(batch_->Commit(consumer_.positions), CommitOutcome::kFatal);
  ASSERT_TRUE(batch_->producer_lost());
  EXPECT_TRUE(recovery_->ProducerRecoverable(true, false));
  // ... unless another client raised a fatal error meanwhile (the producer
  // itself reports none): that one is not recovered here.
  EXPECT_FALSE(recovery_->ProducerRecoverable(true, true));
}

TEST_F(RecoveryTest, RecreatesInitialisesAndResyncs) {
  AddPage(0, 10);
  AddPage(1, 3);
  producer_.fatal = kafka::Status::Fatal(RdKafka::ERR__FENCED);
  consumer_.assignment = {0, 1};
  consumer_.committed = {{0, 8}};  // partition 1: nothing committed
  ASSERT_TRUE(recovery_->RecoverProducer());
  EXPECT_EQ(steps_, (std::vector<std::string>{"not ready", "destroy", "roll back", "create",
                                              "ready", "restore"}));
  EXPECT_EQ(producer_.Count("init"), 1u);
  EXPECT_EQ(producer_.Count("abort"), 0u);  // nothing goes to the lost producer
  EXPECT_EQ(consumer_.seeks, (std::vector<std::pair<int32_t, int64_t>>{{0, 8}, {1, 3}}));
  EXPECT_FALSE(batch_->open());
  EXPECT_FALSE(batch_->producer_lost());
}

TEST_F(RecoveryTest, AtLeastOnceHasNoTransactionsToInitialise) {
  Make(false);
  producer_.fatal = kafka::Status::Fatal(RdKafka::ERR__FATAL);
  ASSERT_TRUE(recovery_->RecoverProducer());
  EXPECT_EQ(producer_.Count("init"), 0u);
}

TEST_F(RecoveryTest, AProducerThatCannotBeMadeFails) {
  producer_.fatal = kafka::Status::Fatal(RdKafka::ERR__FENCED);
  create_fails_ = true;
  EXPECT_FALSE(recovery_->RecoverProducer());
  EXPECT_EQ(steps_.back(), "create");
  EXPECT_EQ(producer_.Count("init"), 0u);
}

TEST_F(RecoveryTest, AConsumerLostAbortsWithoutARewindAndForgets) {
  AddPage(0, 10);
  batch_->NoteConsumed(2, 40);
  EXPECT_EQ(recovery_->ConsumerLost(false), CommitOutcome::kAborted);
  EXPECT_EQ(producer_.Count("abort"), 1u);
  EXPECT_TRUE(consumer_.seeks.empty());  // another member may own them now
  EXPECT_TRUE(batch_->first_offsets().empty());
  EXPECT_EQ(steps_, (std::vector<std::string>{"roll back", "give up"}));
}

TEST_F(RecoveryTest, AConsumerLostWhileFailingLeavesTheProducerAlone) {
  AddPage(0, 10);
  EXPECT_EQ(recovery_->ConsumerLost(true), CommitOutcome::kCommitted);
  EXPECT_EQ(producer_.Count("abort"), 0u);
  EXPECT_EQ(steps_, (std::vector<std::string>{"give up"}));
}

}  // namespace
}  // namespace dedupd::delivery
