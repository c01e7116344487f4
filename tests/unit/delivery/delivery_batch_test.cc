// The delivery stage's batch and transaction state machine (delivery/batch.h)
// against a fake librdkafka edge and a manual clock: no broker. Each test
// names the guarantee of docs/delivery.md it protects.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dedupd/v1/dedupd.pb.h"
#include "delivery/batch.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::FakeConsumer;
using testing::FakeProducer;
using testing::ManualClock;
using testing::Produced;

const std::string kEvents = "events";
const std::string kState = "state";
const std::string kDlq = "dlq";

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(true); }

  void Make(bool exactly_once) {
    BatchOptions options;
    options.exactly_once = exactly_once;
    options.max_record_bytes = 1000;
    options.dlq_topic = kDlq;
    BatchHooks hooks;
    hooks.beat = [this](const char* what) { beats_.emplace_back(what); };
    hooks.cancelled = [this] { return cancelled_; };
    hooks.roll_back = [this] { ++rollbacks_; };
    batch_ = std::make_unique<Batch>(options, &producer_, &consumer_, &clock_, &metrics_,
                                     &delivery_metrics_, hooks);
    producer_.sink = batch_->tracker();
  }

  // One input at (partition, offset) with an event and a changelog record,
  // as the loop makes them.
  kafka::Status AddPage(int32_t partition, int64_t offset, size_t value_bytes = 10) {
    if (!batch_->open() && !batch_->Begin()) return kafka::Status(RdKafka::ERR__STATE);
    const uint32_t input = batch_->AddInput(partition, offset, 0);
    keys_.push_back("https://example.com/" + std::to_string(partition) + "/" +
                    std::to_string(offset));
    values_.push_back(std::string(value_bytes, 'v'));
    const std::string& key = keys_.back();
    const std::string& value = values_.back();
    std::vector<Outgoing> out = {{&kEvents, kAnyPartition, &key, &value, RecordKind::kEvent},
                                 {&kState, partition, &key, &value, RecordKind::kChangelog}};
    return batch_->ProduceInput(out, input, partition, offset);
  }

  // The loop's commit: the Kafka side, then (committed) the batch finished.
  CommitOutcome CommitAt(Offsets positions) {
    consumer_.positions = positions;
    const CommitOutcome outcome = batch_->Commit(positions);
    if (outcome == CommitOutcome::kCommitted) {
      producer_.Poll(0);
      reached_ = batch_->Reached();
      batch_->Finish(positions);
    }
    return outcome;
  }

  std::string Metrics() { return metrics_.Render(); }

  FakeProducer producer_;
  FakeConsumer consumer_;
  ManualClock clock_;
  metrics::Metrics metrics_;
  DeliveryMetrics delivery_metrics_{*metrics_.registry()};
  std::unique_ptr<Batch> batch_;
  std::vector<std::string> beats_;
  bool cancelled_ = false;
  int rollbacks_ = 0;
  std::deque<std::string> keys_, values_;  // stable addresses for Outgoing
  std::map<int32_t, int64_t> reached_;
};

// "The transaction": begin at the first message, send_offsets at the
// consumer's positions, commit; the changelog offsets reached are recorded
// for the store.
TEST_F(BatchTest, CommitSendsThePositionsAndRecordsHowFarTheChangelogReached) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_TRUE(AddPage(0, 11).ok());
  ASSERT_TRUE(AddPage(1, 5).ok());
  EXPECT_EQ(batch_->uncommitted(), 3u);
  EXPECT_TRUE(batch_->in_transaction());
  EXPECT_EQ(producer_.produced.size(), 6u);

  ASSERT_EQ(CommitAt({{0, 12}, {1, 6}}), CommitOutcome::kCommitted);
  EXPECT_EQ(producer_.calls, (std::vector<std::string>{"begin", "send_offsets", "commit"}));
  EXPECT_EQ(producer_.sent_offsets, (Offsets{{0, 12}, {1, 6}}));
  // Changelog partition 0 got offsets 0 and 1, partition 1 offset 0.
  EXPECT_EQ(reached_, (std::map<int32_t, int64_t>{{0, 2}, {1, 1}}));
  EXPECT_FALSE(batch_->open());
  // The stage's own metric, on the shared registry.
  EXPECT_NE(Metrics().find("dedupd_transactions_total{result=\"committed\"} 1"), std::string::npos);
  EXPECT_NE(Metrics().find("dedupd_transactions_total{result=\"aborted\"} 0"), std::string::npos);
  EXPECT_EQ(rollbacks_, 0);
  EXPECT_TRUE(consumer_.seeks.empty());
}

// dedupd_commit_seconds: the time the commit's calls took on the clock,
// for committed batches only; an aborted commit is not observed.
TEST_F(BatchTest, ACommittedBatchRecordsHowLongItsCommitHeldTheLoop) {
  producer_.on_call = [this](std::string_view call) {
    if (call == "send_offsets") clock_.Advance(std::chrono::milliseconds(30));
    if (call == "commit") clock_.Advance(std::chrono::milliseconds(50));
  };
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_EQ(CommitAt({{0, 11}}), CommitOutcome::kCommitted);
  std::string m = Metrics();
  EXPECT_NE(m.find("dedupd_commit_seconds_count 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("dedupd_commit_seconds_sum 0.08\n"), std::string::npos) << m;
  EXPECT_NE(m.find("dedupd_commit_seconds_bucket{le=\"0.05\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("dedupd_commit_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << m;

  producer_.commit_results.push_back(kafka::Status::Abortable(RdKafka::ERR__TRANSPORT));
  ASSERT_TRUE(AddPage(0, 11).ok());
  EXPECT_EQ(CommitAt({{0, 12}}), CommitOutcome::kAborted);
  EXPECT_NE(Metrics().find("dedupd_commit_seconds_count 1\n"), std::string::npos);

  // At-least-once: the producer's flush and the offsets' commit.
  Make(false);
  producer_.on_call = [this](std::string_view call) {
    if (call == "flush") clock_.Advance(std::chrono::milliseconds(20));
  };
  ASSERT_TRUE(AddPage(0, 12).ok());
  ASSERT_EQ(CommitAt({{0, 13}}), CommitOutcome::kCommitted);
  m = Metrics();
  EXPECT_NE(m.find("dedupd_commit_seconds_count 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("dedupd_commit_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos) << m;
}

// An abortable error: abort_transaction, every partition of the batch
// rewound to its first message of the batch, the detector rolled back.
TEST_F(BatchTest, AnAbortableCommitAbortsAndRewindsEveryPartitionToItsFirstMessage) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_TRUE(AddPage(1, 5).ok());
  ASSERT_TRUE(AddPage(0, 11).ok());
  producer_.commit_results = {kafka::Status::Abortable(RdKafka::ERR_OUT_OF_ORDER_SEQUENCE_NUMBER)};

  EXPECT_EQ(CommitAt({{0, 12}, {1, 6}}), CommitOutcome::kAborted);
  EXPECT_EQ(producer_.calls,
            (std::vector<std::string>{"begin", "send_offsets", "commit", "abort"}));
  EXPECT_EQ(consumer_.seeks, (std::vector<std::pair<int32_t, int64_t>>{{0, 10}, {1, 5}}));
  EXPECT_EQ(rollbacks_, 1);
  EXPECT_FALSE(batch_->open());
  EXPECT_TRUE(batch_->first_offsets().empty());
  EXPECT_NE(Metrics().find("dedupd_transactions_total{result=\"aborted\"} 1"), std::string::npos);

  // The next batch begins a new transaction.
  ASSERT_TRUE(AddPage(0, 10).ok());
  EXPECT_EQ(producer_.Count("begin"), 2u);
}

// A lost assignment aborts without a rewind: another member owns the
// partitions now.
TEST_F(BatchTest, AnAbortWithoutRewindSeeksNothing) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  EXPECT_EQ(batch_->Abort("assignment lost", Rewind::kNo), CommitOutcome::kAborted);
  EXPECT_TRUE(consumer_.seeks.empty());
  EXPECT_EQ(rollbacks_, 1);
}

// A rewind that cannot seek is fatal, unless the consumer failed for good
// (it is re-created and resumes from the committed offsets anyway).
TEST_F(BatchTest, ARewindThatCannotSeekIsFatalUnlessTheConsumerFailed) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  consumer_.seek_result = kafka::Status(RdKafka::ERR__STATE);
  EXPECT_EQ(batch_->Abort("x", Rewind::kYes), CommitOutcome::kFatal);

  Make(true);
  ASSERT_TRUE(AddPage(0, 10).ok());
  consumer_.failed = true;
  EXPECT_EQ(batch_->Abort("x", Rewind::kYes), CommitOutcome::kAborted);
}

// "Records Kafka refuses": the broker refuses one input's record; the batch
// aborts, that input alone is remembered as certain, and the retry
// dead-letters it (output_rejected) while the other input is processed.
TEST_F(BatchTest, ARefusedRecordIsTracedToItsInputAndDeadLetteredOnTheRetry) {
  producer_.refuse = [](const Produced& p) {
    return p.topic == kState && p.key == "https://example.com/0/11";
  };
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_TRUE(AddPage(0, 11).ok());
  ASSERT_EQ(CommitAt({{0, 12}}), CommitOutcome::kAborted);
  EXPECT_EQ(producer_.Count("abort"), 1u);
  EXPECT_EQ(batch_->rejections().FindCertain(0, 10), nullptr);
  Rejection* rejected = batch_->rejections().FindCertain(0, 11);
  ASSERT_NE(rejected, nullptr);
  EXPECT_NE(rejected->detail.find("state changelog"), std::string::npos) << rejected->detail;
  EXPECT_FALSE(batch_->CommitEachInput());

  // The retry: offset 10 processed again, offset 11 dead-lettered.
  producer_.refuse = [](const Produced&) { return false; };
  producer_.produced.clear();
  ASSERT_TRUE(AddPage(0, 10).ok());
  const uint32_t input = batch_->AddInput(0, 11, 0);
  SourceCoordinates source{"pages", 0, 11, 0};
  ASSERT_TRUE(batch_->DeadLetterRejected(*rejected, "original page", "key", source, input).ok());
  ASSERT_EQ(producer_.produced.size(), 3u);
  const Produced& letter = producer_.produced.back();
  EXPECT_EQ(letter.topic, kDlq);
  EXPECT_EQ(SplitTag(letter.tag).kind, RecordKind::kDeadLetter);
  EXPECT_EQ(SplitTag(letter.tag).input, 1u);
  v1::DeadLetter decoded;
  ASSERT_TRUE(decoded.ParseFromString(letter.value));
  EXPECT_EQ(decoded.reason(), v1::DeadLetter::OUTPUT_REJECTED);
  EXPECT_EQ(decoded.original(), "original page");

  ASSERT_EQ(CommitAt({{0, 12}}), CommitOutcome::kCommitted);
  EXPECT_TRUE(batch_->rejections().empty()) << "settled once the commit passed it";
}

// Records of several inputs refused together: each is only a suspect and
// commits alone until a refusal names the culprit.
TEST_F(BatchTest, RecordsOfSeveralInputsRefusedTogetherAreRetriedOneInputPerCommit) {
  producer_.refuse = [](const Produced& p) { return p.topic == kState; };
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_TRUE(AddPage(0, 11).ok());
  ASSERT_EQ(CommitAt({{0, 12}}), CommitOutcome::kAborted);
  EXPECT_EQ(batch_->rejections().suspects(), 2u);
  EXPECT_EQ(batch_->rejections().FindCertain(0, 10), nullptr);
  EXPECT_EQ(batch_->rejections().FindCertain(0, 11), nullptr);
  EXPECT_TRUE(batch_->CommitEachInput());

  // Offset 10 alone goes through: no longer suspected.
  producer_.refuse = [](const Produced& p) { return p.key == "https://example.com/0/11"; };
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_EQ(CommitAt({{0, 11}}), CommitOutcome::kCommitted);
  EXPECT_EQ(batch_->rejections().suspects(), 1u);
  EXPECT_TRUE(batch_->CommitEachInput());

  // Offset 11 alone is refused again: now it is certain.
  ASSERT_TRUE(AddPage(0, 11).ok());
  ASSERT_EQ(CommitAt({{0, 12}}), CommitOutcome::kAborted);
  EXPECT_EQ(batch_->rejections().suspects(), 0u);
  EXPECT_NE(batch_->rejections().FindCertain(0, 11), nullptr);
  EXPECT_FALSE(batch_->CommitEachInput());
}

// A record over message.max.bytes is never produced, nor any other record of
// its input; the input is certain at once.
TEST_F(BatchTest, AnOversizedRecordIsNotProducedAndItsInputIsRejected) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  const size_t before = producer_.produced.size();
  const kafka::Status s = AddPage(0, 11, 2000);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), RdKafka::ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_EQ(producer_.produced.size(), before);
  EXPECT_NE(batch_->rejections().FindCertain(0, 11), nullptr);
}

// A full local queue is waited out (serving reports), not an error.
TEST_F(BatchTest, AFullLocalQueueIsRetried) {
  producer_.produce_results = {kafka::Status(RdKafka::ERR__QUEUE_FULL),
                               kafka::Status(RdKafka::ERR__QUEUE_FULL)};
  EXPECT_TRUE(AddPage(0, 10).ok());
  EXPECT_EQ(producer_.produced.size(), 2u);
}

// Retriable errors are retried with a pause from the clock, and succeed.
TEST_F(BatchTest, RetriableCommitErrorsAreRetried) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  producer_.commit_results = {kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT),
                              kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT),
                              kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT)};
  EXPECT_EQ(CommitAt({{0, 11}}), CommitOutcome::kCommitted);
  EXPECT_EQ(producer_.Count("commit"), 4u);
  EXPECT_EQ(producer_.Count("abort"), 0u);
  EXPECT_EQ(clock_.slept(), std::chrono::milliseconds(600));
  EXPECT_EQ(std::count(beats_.begin(), beats_.end(), "commit_transaction (retry)"), 3);
}

// Retriable for good: ambiguous, the producer is lost (re-created by the
// daemon), and nothing is aborted.
TEST_F(BatchTest, ACommitThatStaysRetriableLosesTheProducer) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  for (int i = 0; i < 50; ++i) {
    producer_.send_offsets_results.push_back(kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT));
  }
  EXPECT_EQ(CommitAt({{0, 11}}), CommitOutcome::kFatal);
  EXPECT_EQ(producer_.Count("send_offsets"), 11u);
  EXPECT_EQ(producer_.Count("commit"), 0u);
  EXPECT_EQ(producer_.Count("abort"), 0u);
  EXPECT_TRUE(batch_->producer_lost());
}

// Fatal errors, and errors with no flag, lose the producer at once.
TEST_F(BatchTest, FatalAndUnflaggedErrorsLoseTheProducer) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  producer_.send_offsets_results = {kafka::Status::Fatal(RdKafka::ERR__FENCED)};
  EXPECT_EQ(CommitAt({{0, 11}}), CommitOutcome::kFatal);
  EXPECT_EQ(producer_.Count("commit"), 0u);
  EXPECT_TRUE(batch_->producer_lost());

  Make(true);
  ASSERT_TRUE(AddPage(0, 10).ok());
  producer_.calls.clear();
  producer_.commit_results = {kafka::Status(RdKafka::ERR_INVALID_TXN_STATE)};
  EXPECT_EQ(CommitAt({{0, 11}}), CommitOutcome::kFatal);
  EXPECT_EQ(producer_.Count("abort"), 0u);
  EXPECT_TRUE(batch_->producer_lost());
}

// fatal_error() is asked before every transactional call: librdkafka 2.0.x
// can hang in begin_transaction() after a fatal error.
TEST_F(BatchTest, AFatalProducerIsNotCalledAgain) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  producer_.fatal = kafka::Status(RdKafka::ERR__FENCED, "fenced");
  EXPECT_EQ(CommitAt({{0, 11}}), CommitOutcome::kFatal);
  EXPECT_EQ(producer_.calls, (std::vector<std::string>{"begin"}));
  EXPECT_TRUE(batch_->producer_lost());

  Make(true);
  producer_.calls.clear();
  producer_.fatal = kafka::Status(RdKafka::ERR__FENCED, "fenced");
  EXPECT_FALSE(batch_->Begin());
  EXPECT_TRUE(producer_.calls.empty());
  EXPECT_TRUE(batch_->producer_lost());
}

// abort_transaction failing fatally, or ten times, loses the producer.
TEST_F(BatchTest, AnAbortThatFailsLosesTheProducer) {
  ASSERT_TRUE(AddPage(0, 10).ok());
  producer_.abort_results = {kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT),
                             kafka::Status::Fatal(RdKafka::ERR__FENCED)};
  EXPECT_EQ(batch_->Abort("x", Rewind::kYes), CommitOutcome::kFatal);
  EXPECT_EQ(producer_.Count("abort"), 2u);
  EXPECT_TRUE(batch_->producer_lost());
  EXPECT_EQ(rollbacks_, 0) << "the daemon drops the batch when it re-creates the producer";
  const Offsets first = batch_->Drop();
  EXPECT_EQ(first, (Offsets{{0, 10}}));
  EXPECT_EQ(rollbacks_, 1);
  EXPECT_FALSE(batch_->open());
}

// Reports of the committed batch served only after commit_transaction()
// returned still count for the store; reports of an aborted batch that
// arrive during the next batch do not.
TEST_F(BatchTest, DeliveryReportsArrivingAfterTheCommitCallCountForTheirOwnBatchOnly) {
  producer_.commit_serves_reports = false;
  ASSERT_TRUE(AddPage(3, 7).ok());
  ASSERT_EQ(CommitAt({{3, 8}}), CommitOutcome::kCommitted);  // Poll after the commit serves them
  EXPECT_EQ(reached_, (std::map<int32_t, int64_t>{{3, 1}}));

  // A batch whose reports are held back; it aborts.
  ASSERT_TRUE(AddPage(3, 8).ok());
  std::deque<DeliveryReport> late = producer_.Hold();
  ASSERT_EQ(late.size(), 2u);
  ASSERT_EQ(batch_->Abort("x", Rewind::kYes), CommitOutcome::kAborted);
  // The retry; the aborted batch's reports arrive now, one a refusal.
  ASSERT_TRUE(AddPage(3, 8).ok());
  late.front().error = RdKafka::ERR_MSG_SIZE_TOO_LARGE;  // its event refused
  late.back().offset = 100;                              // its changelog record far ahead
  for (const auto& r : late) batch_->tracker()->OnDeliveryReport(r);
  EXPECT_TRUE(batch_->tracker()->TakeRejections().empty()) << "not this batch's refusal";
  ASSERT_EQ(CommitAt({{3, 9}}), CommitOutcome::kCommitted);
  // Only the retry's changelog record (offset 2) counts.
  EXPECT_EQ(reached_, (std::map<int32_t, int64_t>{{3, 3}}));
  EXPECT_TRUE(batch_->rejections().empty());
}

// processing.commit_interval_ms counts from the batch's first message, on
// the injected clock; processing.commit_messages counts inputs.
TEST_F(BatchTest, ABatchIsDueByCountOrByTheClock) {
  EXPECT_FALSE(batch_->Due(3, std::chrono::milliseconds(500))) << "empty";
  ASSERT_TRUE(AddPage(0, 1).ok());
  clock_.Advance(std::chrono::milliseconds(300));
  ASSERT_TRUE(AddPage(0, 2).ok());
  EXPECT_FALSE(batch_->Due(3, std::chrono::milliseconds(500)));
  clock_.Advance(std::chrono::milliseconds(199));
  EXPECT_FALSE(batch_->Due(3, std::chrono::milliseconds(500)));
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(batch_->Due(3, std::chrono::milliseconds(500)));
  ASSERT_TRUE(AddPage(0, 3).ok());
  EXPECT_TRUE(batch_->Due(3, std::chrono::hours(1)));
  ASSERT_EQ(CommitAt({{0, 4}}), CommitOutcome::kCommitted);
  // The next batch's interval starts at its own first message.
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(AddPage(0, 4).ok());
  EXPECT_FALSE(batch_->Due(3, std::chrono::milliseconds(500)));
}

// init_transactions() waits a broker outage out, pausing on the clock; a
// fatal error or a signal ends it.
TEST_F(BatchTest, InitTransactionsRetriesUntilItSucceeds) {
  producer_.init_results = {kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT),
                            kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT),
                            kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT),
                            kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT)};
  EXPECT_TRUE(batch_->InitTransactions());
  EXPECT_EQ(producer_.Count("init"), 5u);
  EXPECT_EQ(clock_.slept(), std::chrono::milliseconds(250 + 500 + 1000 + 1000));

  producer_.init_results = {kafka::Status::Fatal(RdKafka::ERR__FENCED)};
  EXPECT_FALSE(batch_->InitTransactions());
  producer_.init_results = {kafka::Status::Retriable(RdKafka::ERR__TIMED_OUT)};
  cancelled_ = true;
  EXPECT_FALSE(batch_->InitTransactions());
}

// A dead letter the dead-letter topic refuses twice: the partition cannot
// move on; each abort backs off (on the clock, beating) instead of spinning.
TEST_F(BatchTest, ARefusedDeadLetterBacksOffOnTheClock) {
  batch_->rejections().Reject(0, 10, "too large", true, false);
  batch_->rejections().Reject(0, 10, "dead letter too large", true, false);
  batch_->rejections().Reject(0, 10, "dead letter too large again", true, false);
  ASSERT_EQ(batch_->rejections().MaxDeadLetterRefusals(), 2);
  ASSERT_TRUE(batch_->Begin());
  batch_->AddInput(0, 10, 0);
  const auto before = clock_.Now();
  EXPECT_EQ(batch_->Abort("x", Rewind::kYes), CommitOutcome::kAborted);
  EXPECT_GE(clock_.Now() - before, std::chrono::seconds(4));
  EXPECT_LT(clock_.Now() - before, std::chrono::seconds(5));
  EXPECT_FALSE(beats_.empty());
  EXPECT_EQ(beats_.back(), std::string("dead-letter retry back-off"));
}

// At-least-once: flush, every report a success, then the consumer's commit;
// a failed delivery aborts and rewinds instead.
TEST_F(BatchTest, AtLeastOnceCommitsTheConsumerOnlyAfterEveryReportSucceeded) {
  Make(false);
  ASSERT_TRUE(AddPage(0, 10).ok());
  ASSERT_EQ(CommitAt({{0, 11}}), CommitOutcome::kCommitted);
  EXPECT_TRUE(producer_.calls.empty()) << "no transactional call";
  EXPECT_EQ(consumer_.commits, (std::vector<Offsets>{{{0, 11}}}));

  producer_.refuse = [](const Produced& p) { return p.topic == kEvents; };
  ASSERT_TRUE(AddPage(0, 11).ok());
  EXPECT_EQ(CommitAt({{0, 12}}), CommitOutcome::kAborted);
  EXPECT_EQ(consumer_.commits.size(), 1u);
  EXPECT_EQ(consumer_.seeks, (std::vector<std::pair<int32_t, int64_t>>{{0, 11}}));
  EXPECT_NE(batch_->rejections().FindCertain(0, 11), nullptr);
}

// At-least-once: a failed report served before the commit (by the loop's
// Poll between turns, or a full queue's) aborts the batch as well. The
// commit counted only the failures reported during its own flush, and
// committed the offsets of an input whose event the broker had refused.
TEST_F(BatchTest, AtLeastOnceAbortsForAFailureReportedBeforeTheCommit) {
  Make(false);
  producer_.refuse = [](const Produced& p) { return p.topic == kEvents; };
  ASSERT_TRUE(AddPage(0, 10).ok());
  producer_.Poll(0);  // the refusal is reported now, before Commit()
  ASSERT_EQ(producer_.OutqLen(), 0);
  EXPECT_EQ(CommitAt({{0, 11}}), CommitOutcome::kAborted);
  EXPECT_TRUE(consumer_.commits.empty());
  EXPECT_EQ(consumer_.seeks, (std::vector<std::pair<int32_t, int64_t>>{{0, 10}}));
  EXPECT_NE(batch_->rejections().FindCertain(0, 10), nullptr);

  // The failures counted are the batch's own: the next one commits.
  producer_.refuse = [](const Produced&) { return false; };
  ASSERT_TRUE(AddPage(0, 12).ok());
  EXPECT_EQ(CommitAt({{0, 13}}), CommitOutcome::kCommitted);
  EXPECT_EQ(consumer_.commits, (std::vector<Offsets>{{{0, 13}}}));
}

// dedupd_event_latency_seconds: each committed input's age at the commit;
// an input without a timestamp is left out, a clock ahead counts as 0.
TEST_F(BatchTest, TheCommitObservesEachInputsLatency) {
  ASSERT_TRUE(batch_->Begin());
  batch_->AddInput(0, 1, 1'000'000);
  batch_->AddInput(0, 2, 0);  // no timestamp
  batch_->AddInput(0, 3, 1'003'500);
  batch_->AddInput(0, 4, 1'009'000);  // ahead of this host's clock
  batch_->ObserveCommitLatency(1'004'000);
  const std::string m = Metrics();
  EXPECT_NE(m.find("dedupd_event_latency_seconds_count 3"), std::string::npos);
  EXPECT_NE(m.find("dedupd_event_latency_seconds_sum 4.5"), std::string::npos);
}

}  // namespace
}  // namespace dedupd::delivery
