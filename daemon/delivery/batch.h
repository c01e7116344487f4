// Batch: the open batch of `dedupd run` and its Kafka transaction, the state
// machine between the loop and the librdkafka edge (delivery/edge.h):
// begin, produce (tagged records, a local queue that is full waits), commit
// (exactly-once: send_offsets_to_transaction + commit_transaction, each
// retried; at-least-once: flush, every delivery report a success, then the
// consumer's commit), abort (abort_transaction retried, the refused records
// traced to their inputs, the rewind of every partition to its first message
// of the batch), and the classification of errors into retry, abort and a
// lost producer. Guarantees: docs/delivery.md, "The transaction".
//
//   delivery::Batch batch(options, &producer, &consumer, &clock, &metrics, hooks);
//   if (!batch.open() && !batch.Begin()) recover the producer;
//   uint32_t input = batch.AddInput(partition, offset, timestamp_ms);
//   if (!batch.ProduceInput(records, input).ok()) batch.Abort(why, Rewind::kYes);
//   if (batch.Due(n, interval)) outcome = batch.Commit(consumer.Positions());
//   if (outcome == CommitOutcome::kCommitted) { write the store; batch.Finish(positions); }
//
// What the daemon owns stays behind hooks: liveness beats, the signal flag,
// and the rollback of the detector's staged state and pending alerts.
// Time (the commit interval, retry pauses, back-offs) comes from the
// injected Clock, so tests drive it without sleeping.
//
// Thread-safety: none; the loop thread's (delivery reports arrive on it too,
// from the edge's Poll/Flush and the transactional calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/types.h"
#include "delivery/clock.h"
#include "delivery/delivery_metrics.h"
#include "delivery/edge.h"
#include "delivery/rejections.h"
#include "delivery/tags.h"
#include "delivery/tracker.h"
#include "emit/records.h"
#include "kafka/status.h"
#include "metrics/metrics.h"

namespace dedupd::delivery {

enum class CommitOutcome {
  kCommitted,  // the batch is in Kafka: write the store, then Finish()
  kAborted,    // aborted and rewound: its inputs are consumed again
  kFatal,      // the producer is lost (producer_lost()) or the rewind failed
};

// Whether an abort seeks the batch's partitions back (and traces refused
// records to their inputs for the retry): not when the assignment was lost,
// since another member owns those partitions now.
enum class Rewind : bool { kNo = false, kYes = true };

struct BatchOptions {
  bool exactly_once = true;
  // The longest a single blocking call may take (transactional calls, seek).
  int call_timeout_ms = 10000;
  // Retriable errors of send_offsets/commit: attempts before the producer is
  // given up as ambiguous; abort_transaction likewise.
  int txn_retries = 10;
  std::chrono::milliseconds retry_pause{200};
  // The producer's message.max.bytes: larger records are never produced.
  size_t max_record_bytes = 1000000;
  // The output_rejected dead letters.
  std::string dlq_topic = "dlq";
  emit::OutputFormat format = emit::OutputFormat::kProtobuf;
  size_t dlq_max_original_bytes = 65536;
};

struct BatchHooks {
  // A sign of progress (metrics::Liveness::Beat: `what` is a string literal,
  // only its pointer is kept).
  std::function<void(const char* what)> beat = [](const char*) {};
  std::function<bool()> cancelled = [] { return false; };  // a signal arrived
  // The batch is dropped: the detector's staged state and pending alerts go.
  std::function<void()> roll_back = [] {};
};

// One record an input message produces (pointers into the caller's buffers).
struct Outgoing {
  const std::string* topic;
  int32_t partition;
  const std::string* key;
  const std::string* value;
  RecordKind kind;
};

// librdkafka refuses a record in produce() when key + value + its framing (at
// most 36 bytes for message format v2) exceed message.max.bytes; checked with
// a little more, so that produce() never refuses a record the check let pass.
constexpr size_t kRecordOverhead = 64;

class Batch {
 public:
  // `metrics`: the counters shared with other stages; `delivery_metrics`:
  // this stage's own.
  Batch(BatchOptions options, ProducerEdge* producer, ConsumerEdge* consumer, Clock* clock,
        metrics::Metrics* metrics, DeliveryMetrics* delivery_metrics, BatchHooks hooks);

  // At a batch's first message: a new tag (reports of earlier batches no
  // longer count) and, exactly-once, begin_transaction(). False: the
  // producer is lost.
  bool Begin();
  // Adds the input at (partition, offset); its index, for record tags.
  uint32_t AddInput(int32_t partition, int64_t offset, int64_t timestamp_ms);
  // A message consumed ahead of AddInput (read ahead by the workers): an
  // abort rewinds to it, and Drop() returns it, even before it is added.
  void NoteConsumed(int32_t partition, int64_t offset) {
    first_offsets_.try_emplace(partition, offset);
  }
  // Produces every record of one input, or none when one is over
  // message.max.bytes; a record refused for its size is remembered
  // (rejections()) so that the retry dead-letters its input. Not ok: abort.
  kafka::Status ProduceInput(const std::vector<Outgoing>& records, uint32_t input,
                             int32_t partition, int64_t offset);
  // The output_rejected dead letter of a rejected input instead of its outputs.
  kafka::Status DeadLetterRejected(Rejection& rejection, std::string_view value,
                                   std::string_view key, const SourceCoordinates& source,
                                   uint32_t input);
  // The Kafka side of the commit, at the consumer's `positions`.
  CommitOutcome Commit(const Offsets& positions);
  // After the store took the committed batch: counted, rejected inputs the
  // commit passed are settled, and the batch is empty.
  void Finish(const Offsets& positions);
  CommitOutcome Abort(std::string_view why, Rewind rewind);
  // The producer was lost: the open batch dropped without any call to it.
  // Its first offsets, for a partition without a committed offset.
  Offsets Drop();
  // init_transactions() until it succeeds (a broker outage is waited out
  // here); false on a fatal error or a signal.
  bool InitTransactions();
  // Checked before every transactional call (librdkafka 2.0.x can hang in
  // begin_transaction() after a fatal error); true marks the producer lost.
  bool ProducerFatal();

  // The first of `records` produce() would refuse for its size, described
  // for the dead letter; nullopt if all fit.
  std::optional<std::string> Oversized(const std::vector<Outgoing>& records) const;
  // Whether the batch is due: commit_messages inputs, or `interval` since its
  // first message.
  bool Due(size_t commit_messages, std::chrono::milliseconds interval) const;

  size_t uncommitted() const { return uncommitted_; }
  bool in_transaction() const { return in_transaction_; }
  bool open() const { return uncommitted_ > 0 || in_transaction_; }
  // The batch's first offset per partition: where an abort rewinds to.
  const Offsets& first_offsets() const { return first_offsets_; }
  void ClearFirstOffsets() { first_offsets_.clear(); }
  // Each input's Kafka timestamp (ms; 0: none), for the commit latency.
  const std::vector<int64_t>& input_times_ms() const { return input_times_ms_; }
  // The batch's outputs are committed (exactly-once: commit_transaction()
  // returned; at-least-once: every delivery report in and the offsets
  // committed): each input's time from its Kafka timestamp to `now_ms`
  // (Unix ms) into dedupd_event_latency_seconds. The timestamp is the
  // producer's clock (CreateTime) unless the topic sets LogAppendTime (the
  // broker's); a clock ahead of this host's counts as 0; none (0) is skipped.
  void ObserveCommitLatency(int64_t now_ms) const;
  // Changelog partition -> offset after this batch's last changelog record.
  std::map<int32_t, int64_t> Reached() { return tracker_.Reached(); }
  DeliveryTracker* tracker() { return &tracker_; }
  RejectionBook& rejections() { return rejections_; }
  // While inputs are suspected of refused records, each commits alone.
  bool CommitEachInput() const { return rejections_.suspects() > 0; }
  bool producer_lost() const { return producer_lost_; }
  void ClearProducerLost() { producer_lost_ = false; }

 private:
  kafka::Status Produce(const std::string& topic, int32_t partition, std::string_view key,
                        std::string_view value, uint64_t tag);
  // send_offsets_to_transaction / commit_transaction with retries.
  // `name` and `retry` are literals (hooks.beat keeps the pointer).
  std::optional<CommitOutcome> TxnCall(const char* name, const char* retry,
                                       const std::function<kafka::Status()>& call);
  bool RewindInputs();
  void Clear();

  const BatchOptions options_;
  ProducerEdge* producer_;
  ConsumerEdge* consumer_;
  Clock* clock_;
  metrics::Metrics* metrics_;
  DeliveryMetrics* delivery_metrics_;
  const BatchHooks hooks_;
  DeliveryTracker tracker_;
  RejectionBook rejections_;
  bool in_transaction_ = false;
  bool producer_lost_ = false;
  size_t uncommitted_ = 0;
  uint32_t tag_ = 0;
  Offsets first_offsets_;
  // The batch's input messages in order (partition, offset); a record's tag
  // carries its input's index here.
  std::vector<std::pair<int32_t, int64_t>> inputs_;
  std::vector<int64_t> input_times_ms_;
  Clock::TimePoint started_{};
};

}  // namespace dedupd::delivery
