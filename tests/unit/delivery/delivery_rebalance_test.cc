// The rebalance callback's steps (delivery/rebalance.h) against a fake group
// consumer, a fake producer and a manual clock: what commits or aborts
// before partitions go, what is given up, and that an assignment is taken
// only after its committed offsets and its restore (docs/delivery.md,
// "Rebalances").
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "delivery/rebalance.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::FakeConsumer;
using testing::FakeProducer;
using testing::ManualClock;

class FakeGroup final : public RebalanceEdge {
 public:
  RebalanceProtocol proto = RebalanceProtocol::kCooperative;
  bool lost = false;
  std::deque<bool> committed_fails;  // scripted: true = this fetch fails
  Offsets committed_offsets;         // by partition; missing: OFFSET_INVALID
  kafka::Status assign_result;
  std::vector<std::string>* steps = nullptr;
  Offsets assigned;
  std::vector<std::pair<std::vector<int32_t>, bool>> unassigned;
  int fetches = 0;

  RebalanceProtocol protocol() override { return proto; }
  bool AssignmentLost() override { return lost; }
  kafka::Result<Offsets> Committed(const std::vector<int32_t>& partitions, int) override {
    ++fetches;
    steps->push_back("committed");
    if (!committed_fails.empty()) {
      const bool fail = committed_fails.front();
      committed_fails.pop_front();
      if (fail) return kafka::Failure{"_TIMED_OUT: coordinator not available"};
    }
    Offsets out;
    for (int32_t p : partitions) {
      auto it = committed_offsets.find(p);
      out[p] = it == committed_offsets.end() ? RdKafka::Topic::OFFSET_INVALID : it->second;
    }
    return out;
  }
  kafka::Status Assign(const Offsets& offsets) override {
    steps->push_back("assign");
    assigned = offsets;
    return assign_result;
  }
  kafka::Status Unassign(const std::vector<int32_t>& partitions, bool incremental) override {
    steps->push_back("unassign");
    unassigned.emplace_back(partitions, incremental);
    return {};
  }
};

class RebalanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BatchOptions options;
    batch_ = std::make_unique<Batch>(options, &producer_, &consumer_, &clock_, &metrics_,
                                     &delivery_metrics_, BatchHooks{});
    producer_.sink = batch_->tracker();
    group_.steps = &steps_;
    RebalanceHooks hooks;
    hooks.cancelled = [this] { return cancelled_; };
    hooks.brokers_unavailable = [this] { return brokers_down_; };
    hooks.commit = [this] {
      steps_.push_back("commit");
      const Offsets positions = {{0, 100}};
      const CommitOutcome outcome = batch_->Commit(positions);
      if (outcome == CommitOutcome::kCommitted) batch_->Finish(positions);
      return outcome;
    };
    hooks.restoring = [this](bool on) { steps_.push_back(on ? "restoring" : "restored"); };
    hooks.start_offsets = [this](Offsets& offsets) {
      if (replay_start_) offsets[*replay_start_] = 42;
    };
    hooks.restore = [this](const std::vector<int32_t>& ids, Clock::TimePoint deadline) {
      steps_.push_back("restore");
      restored_ = ids;
      deadline_ = deadline;
      return restore_outcome_;
    };
    hooks.assigned = [this](const std::vector<int32_t>& ids) {
      steps_.push_back("assigned");
      for (int32_t id : ids) owned_.insert(id);
    };
    hooks.given_up = [this](const std::set<int32_t>& ids) {
      steps_.push_back("given_up");
      given_up_ = ids;
      for (int32_t id : ids) owned_.erase(id);
    };
    hooks.owned = [this] { return owned_; };
    rebalance_ = std::make_unique<Rebalance>(batch_.get(), &clock_, &metrics_, &delivery_metrics_,
                                             std::chrono::seconds(120), hooks);
  }

  // An open batch with one input on each of `partitions`.
  void OpenBatch(const std::vector<int32_t>& partitions) {
    ASSERT_TRUE(batch_->Begin());
    for (int32_t p : partitions) batch_->AddInput(p, 7, 0);
  }

  FakeProducer producer_;
  FakeConsumer consumer_;
  ManualClock clock_;
  metrics::Metrics metrics_;
  DeliveryMetrics delivery_metrics_{*metrics_.registry()};
  std::unique_ptr<Batch> batch_;
  FakeGroup group_;
  std::unique_ptr<Rebalance> rebalance_;
  std::vector<std::string> steps_;
  std::set<int32_t> owned_, given_up_;
  std::vector<int32_t> restored_;
  Clock::TimePoint deadline_{};
  RebalanceOutcome restore_outcome_ = RebalanceOutcome::kDone;
  std::optional<int32_t> replay_start_;
  bool cancelled_ = false;
  bool brokers_down_ = false;
};

TEST_F(RebalanceTest, ARevokeCommitsTheOpenBatchBeforeGivingThePartitionsUp) {
  owned_ = {0, 1, 2};
  OpenBatch({0, 1});
  batch_->rejections().Reject(1, 3, "refused", true, false);
  batch_->rejections().Reject(2, 3, "refused", true, false);
  EXPECT_EQ(rebalance_->Revoked(group_, {1}, /*incremental=*/true, /*fatal=*/false),
            RebalanceOutcome::kDone);
  EXPECT_EQ(steps_, (std::vector<std::string>{"commit", "unassign", "given_up"}));
  EXPECT_EQ(producer_.Count("commit"), 1u);
  EXPECT_EQ(given_up_, (std::set<int32_t>{1}));
  EXPECT_EQ(owned_, (std::set<int32_t>{0, 2}));
  ASSERT_EQ(group_.unassigned.size(), 1u);
  EXPECT_TRUE(group_.unassigned[0].second) << "incremental_unassign";
  // Cooperative: the revoked partition's refused inputs are its next owner's.
  EXPECT_EQ(batch_->rejections().FindCertain(1, 3), nullptr);
  EXPECT_NE(batch_->rejections().FindCertain(2, 3), nullptr);
}

TEST_F(RebalanceTest, ALostAssignmentAbortsWithoutARewindAndCommitsNothing) {
  owned_ = {0};
  OpenBatch({0});
  group_.lost = true;
  EXPECT_EQ(rebalance_->Revoked(group_, {0}, true, false), RebalanceOutcome::kDone);
  EXPECT_EQ(producer_.Count("commit"), 0u);
  EXPECT_EQ(producer_.Count("abort"), 1u);
  EXPECT_TRUE(consumer_.seeks.empty()) << "another member may own the partition: no rewind";
  EXPECT_FALSE(batch_->open());
  EXPECT_EQ(steps_, (std::vector<std::string>{"unassign", "given_up"}));
}

TEST_F(RebalanceTest, WhenTheDaemonIsFailingTheBatchIsLeftAlone) {
  owned_ = {0};
  OpenBatch({0});
  EXPECT_EQ(rebalance_->Revoked(group_, {0}, true, /*fatal=*/true), RebalanceOutcome::kDone);
  EXPECT_EQ(producer_.Count("commit") + producer_.Count("abort"), 0u);
  EXPECT_EQ(steps_, (std::vector<std::string>{"unassign", "given_up"}));
}

TEST_F(RebalanceTest, AnEagerRevokeGivesEverythingUpAndTheNextAssignForgetsWhatWentElsewhere) {
  group_.proto = RebalanceProtocol::kEager;
  owned_ = {0, 1, 2, 5};  // 5: owned, but not named by this callback
  batch_->rejections().Reject(1, 3, "refused", true, false);
  batch_->rejections().Reject(2, 3, "refused", true, false);
  EXPECT_EQ(rebalance_->Revoked(group_, {0, 1, 2}, /*incremental=*/false, false),
            RebalanceOutcome::kDone);
  EXPECT_EQ(given_up_, (std::set<int32_t>{0, 1, 2, 5}));
  EXPECT_TRUE(owned_.empty());
  EXPECT_FALSE(group_.unassigned[0].second) << "unassign(): everything";
  EXPECT_EQ(batch_->rejections().size(), 2u) << "kept until the next assignment";

  EXPECT_EQ(rebalance_->Assigned(group_, {2}), RebalanceOutcome::kDone);
  EXPECT_EQ(batch_->rejections().FindCertain(1, 3), nullptr);
  EXPECT_NE(batch_->rejections().FindCertain(2, 3), nullptr);
}

TEST_F(RebalanceTest, AnAssignmentIsTakenAtItsCommittedOffsetsOnlyAfterItsRestore) {
  owned_ = {0};
  OpenBatch({0});
  group_.committed_offsets = {{3, 500}};
  replay_start_ = 4;
  EXPECT_EQ(rebalance_->Assigned(group_, {3, 4}), RebalanceOutcome::kDone);
  EXPECT_EQ(steps_, (std::vector<std::string>{"commit", "restoring", "committed", "restore",
                                              "assign", "assigned"}));
  EXPECT_EQ(restored_, (std::vector<int32_t>{3, 4}));
  EXPECT_EQ(group_.assigned, (Offsets{{3, 500}, {4, 42}}));
  EXPECT_EQ(owned_, (std::set<int32_t>{0, 3, 4}));
  EXPECT_EQ(deadline_, clock_.Now() + std::chrono::seconds(120));
}

TEST_F(RebalanceTest, TheCommittedOffsetsAreRetriedUntilTheRestoreTimeout) {
  group_.committed_fails = std::deque<bool>(1000, true);
  EXPECT_EQ(rebalance_->Assigned(group_, {0}), RebalanceOutcome::kFatal);
  EXPECT_EQ(group_.fetches, 241) << "every 500 ms for 120 s, then the last one";
  EXPECT_TRUE(group_.assigned.empty());
  EXPECT_EQ(std::count(steps_.begin(), steps_.end(), "restore"), 0);
}

TEST_F(RebalanceTest, WhileNoBrokerIsUpTheFetchOutlastsTheTimeout) {
  brokers_down_ = true;
  group_.committed_fails = std::deque<bool>(400, true);  // 200 s of failures
  EXPECT_EQ(rebalance_->Assigned(group_, {0}), RebalanceOutcome::kDone);
  EXPECT_EQ(group_.fetches, 401);
  EXPECT_EQ(group_.assigned.size(), 1u);
}

TEST_F(RebalanceTest, ASignalInterruptsWithoutAssigningAnything) {
  group_.committed_fails = {true};
  cancelled_ = true;
  EXPECT_EQ(rebalance_->Assigned(group_, {0}), RebalanceOutcome::kInterrupted);
  EXPECT_TRUE(group_.assigned.empty());
}

TEST_F(RebalanceTest, AFailedRestoreOrIncrementalAssignIsFatal) {
  restore_outcome_ = RebalanceOutcome::kFatal;
  EXPECT_EQ(rebalance_->Assigned(group_, {0}), RebalanceOutcome::kFatal);
  EXPECT_EQ(std::count(steps_.begin(), steps_.end(), "assign"), 0);

  restore_outcome_ = RebalanceOutcome::kDone;
  group_.assign_result = kafka::Status(RdKafka::ERR__STATE);
  EXPECT_EQ(rebalance_->Assigned(group_, {0}), RebalanceOutcome::kFatal);
  group_.proto = RebalanceProtocol::kEager;  // assign()'s answer is not checked
  EXPECT_EQ(rebalance_->Assigned(group_, {0}), RebalanceOutcome::kDone);
}

// The whole callback (Rebalance::Callback): what the daemon's rebalance_cb
// did before it moved into the stage.
class RebalanceCallbackTest : public RebalanceTest {
 protected:
  void SetUp() override {
    RebalanceTest::SetUp();
    RebalanceHooks hooks;
    hooks.commit = [this] {
      steps_.push_back("commit");
      return CommitOutcome::kCommitted;
    };
    hooks.restore = [this](const std::vector<int32_t>&, Clock::TimePoint) {
      steps_.push_back("restore");
      return RebalanceOutcome::kDone;
    };
    hooks.given_up = [this](const std::set<int32_t>&) { steps_.push_back("given_up"); };
    hooks.loop_fatal = [this] { return loop_fatal_; };
    hooks.client_fatal = [this] { return client_fatal_; };
    hooks.finish_read_ahead = [this](bool drop) {
      steps_.push_back(drop ? "drop read-ahead" : "finish read-ahead");
    };
    hooks.recover_producer = [this] {
      steps_.push_back("recover producer");
      loop_fatal_ = client_fatal_ = !recovers_;
      return recovers_;
    };
    hooks.recovering_consumer = [this] { return recovering_consumer_; };
    rebalance_ = std::make_unique<Rebalance>(batch_.get(), &clock_, &metrics_, &delivery_metrics_,
                                             std::chrono::seconds(120), hooks);
  }
  std::string Count(const std::string& kind) {
    const std::string m = metrics_.Render();
    const std::string series = "dedupd_rebalances_total{kind=\"" + kind + "\"} ";
    const size_t at = m.find(series);
    return at == std::string::npos ? "none" : m.substr(at + series.size(), 1);
  }

  bool loop_fatal_ = false;
  bool client_fatal_ = false;
  bool recovers_ = true;
  bool recovering_consumer_ = false;
};

TEST_F(RebalanceCallbackTest, ReadAheadIsFinishedBeforeARevocationCommits) {
  OpenBatch({0});
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kRevoke, {0}), RebalanceOutcome::kDone);
  EXPECT_EQ(steps_,
            (std::vector<std::string>{"finish read-ahead", "commit", "unassign", "given_up"}));
  EXPECT_EQ(group_.unassigned.back().second, true);  // cooperative: incremental
  EXPECT_EQ(Count("revoked"), "1");
}

TEST_F(RebalanceCallbackTest, ALostAssignmentDropsTheReadAheadAndAborts) {
  OpenBatch({0});
  group_.lost = true;
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kRevoke, {0}), RebalanceOutcome::kDone);
  EXPECT_EQ(steps_, (std::vector<std::string>{"drop read-ahead", "unassign", "given_up"}));
  EXPECT_EQ(producer_.Count("abort"), 1u);
  EXPECT_EQ(Count("lost"), "1");
}

TEST_F(RebalanceCallbackTest, ARebalanceErrorGivesEverythingUp) {
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kError, {}), RebalanceOutcome::kDone);
  ASSERT_EQ(group_.unassigned.size(), 1u);
  EXPECT_FALSE(group_.unassigned[0].second);  // unassign(): not incremental
  EXPECT_EQ(Count("revoked"), "0");           // cooperative and empty: not a real revocation
}

TEST_F(RebalanceCallbackTest, AnEmptyCooperativeAssignmentIsNotCounted) {
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kAssign, {}), RebalanceOutcome::kDone);
  EXPECT_EQ(Count("assigned"), "0");
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kAssign, {3}), RebalanceOutcome::kDone);
  EXPECT_EQ(Count("assigned"), "1");
  EXPECT_EQ(group_.assigned.count(3), 1u);
}

TEST_F(RebalanceCallbackTest, ALostProducerIsRecreatedBeforeAnAssignment) {
  client_fatal_ = true;
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kAssign, {2}), RebalanceOutcome::kDone);
  EXPECT_EQ(steps_.front(), "drop read-ahead");
  EXPECT_EQ(steps_[1], "recover producer");
  EXPECT_EQ(group_.assigned.count(2), 1u);
}

TEST_F(RebalanceCallbackTest, AProducerThatCannotBeRecreatedTakesNothing) {
  loop_fatal_ = true;
  recovers_ = false;
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kAssign, {2}), RebalanceOutcome::kDone);
  EXPECT_EQ(steps_, (std::vector<std::string>{"drop read-ahead", "recover producer"}));
  EXPECT_TRUE(group_.assigned.empty());
}

TEST_F(RebalanceCallbackTest, AConsumerBeingRecreatedOnlyGivesUp) {
  OpenBatch({0});
  recovering_consumer_ = true;
  ASSERT_EQ(rebalance_->Callback(group_, RebalanceEvent::kRevoke, {0, 1}), RebalanceOutcome::kDone);
  EXPECT_EQ(steps_, (std::vector<std::string>{"unassign"}));
  EXPECT_TRUE(batch_->open());  // Recovery::ConsumerLost deals with it
  EXPECT_EQ(Count("revoked"), "0");
}

}  // namespace
}  // namespace dedupd::delivery
