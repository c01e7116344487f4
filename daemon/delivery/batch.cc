#include "delivery/batch.h"

#include <algorithm>

#include "common/log.h"
#include "kafka/handles.h"

namespace dedupd::delivery {

Batch::Batch(BatchOptions options, ProducerEdge* producer, ConsumerEdge* consumer, Clock* clock,
             metrics::Metrics* metrics, DeliveryMetrics* delivery_metrics, BatchHooks hooks)
    : options_(std::move(options)),
      producer_(producer),
      consumer_(consumer),
      clock_(clock),
      metrics_(metrics),
      delivery_metrics_(delivery_metrics),
      hooks_(std::move(hooks)),
      tracker_(metrics),
      started_(clock->Now()) {}

bool Batch::ProducerFatal() {
  const kafka::Status fatal = producer_->FatalError();
  if (fatal.ok()) return false;
  log::Error("the producer raised a fatal error",
             {{"error", kafka::DescribeError(fatal.code())}, {"detail", fatal.detail()}});
  producer_lost_ = true;
  return true;
}

bool Batch::InitTransactions() {
  for (int attempt = 0;; ++attempt) {
    const kafka::Status s = producer_->InitTransactions(options_.call_timeout_ms);
    if (s.ok()) return true;
    metrics_->CountKafkaError("init_transactions");
    if (s.fatal() || hooks_.cancelled()) {
      log::Error("init_transactions failed", {{"error", s.Describe()}});
      return false;
    }
    if (attempt % 6 == 0) log::Warn("init_transactions: retrying", {{"error", s.Describe()}});
    hooks_.beat("init_transactions (retry)");
    producer_->Poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes the instance not ready
    clock_->SleepFor(std::chrono::milliseconds(std::min(250 << std::min(attempt, 2), 1000)));
  }
}

bool Batch::Begin() {
  started_ = clock_->Now();
  inputs_.clear();
  input_times_ms_.clear();
  // A new tag: delivery reports of an earlier, aborted batch no longer count.
  tracker_.StartBatch(++tag_);
  if (!options_.exactly_once || in_transaction_) return true;
  if (ProducerFatal()) return false;
  const kafka::Status s = producer_->BeginTransaction();
  if (!s.ok()) {
    log::Error("begin_transaction failed", {{"error", s.Describe()}});
    producer_lost_ = true;
    return false;
  }
  in_transaction_ = true;
  return true;
}

uint32_t Batch::AddInput(int32_t partition, int64_t offset, int64_t timestamp_ms) {
  first_offsets_.try_emplace(partition, offset);
  const auto input = static_cast<uint32_t>(inputs_.size());
  inputs_.emplace_back(partition, offset);
  input_times_ms_.push_back(timestamp_ms);
  ++uncommitted_;
  return input;
}

bool Batch::Due(size_t commit_messages, std::chrono::milliseconds interval) const {
  return uncommitted_ > 0 &&
         (uncommitted_ >= commit_messages || clock_->Now() - started_ >= interval);
}

kafka::Status Batch::Produce(const std::string& topic, int32_t partition, std::string_view key,
                             std::string_view value, uint64_t tag) {
  kafka::Status s(RdKafka::ERR__QUEUE_FULL);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    s = producer_->Produce(topic, partition, key, value, tag);
    if (s.ok()) return s;
    if (s.code() != RdKafka::ERR__QUEUE_FULL) break;
    producer_->Poll(50);  // the local queue is full: serve delivery reports, then retry
    hooks_.beat("produce (local queue full)");
  }
  metrics_->CountKafkaError("produce");
  log::Error("produce failed", {{"topic", topic}, {"error", s.Describe()}});
  return s;
}

std::optional<std::string> Batch::Oversized(const std::vector<Outgoing>& records) const {
  for (const auto& r : records) {
    const size_t bytes = r.key->size() + r.value->size();
    if (bytes + kRecordOverhead <= options_.max_record_bytes) continue;
    return "the " + KindName(r.kind) + " record for topic '" + *r.topic + "' is " +
           std::to_string(bytes) + " bytes, over the producer's message.max.bytes (" +
           std::to_string(options_.max_record_bytes) + " including " +
           std::to_string(kRecordOverhead) +
           " bytes of framing): librdkafka refuses it (MSG_SIZE_TOO_LARGE)";
  }
  return std::nullopt;
}

kafka::Status Batch::ProduceInput(const std::vector<Outgoing>& records, uint32_t input,
                                  int32_t partition, int64_t offset) {
  // All of them or none: a record produce() would refuse is found before any
  // of them is produced; the batch is aborted and the retry dead-letters it.
  if (auto oversized = Oversized(records)) {
    rejections_.Reject(partition, offset, *oversized, true);
    return kafka::Status(RdKafka::ERR_MSG_SIZE_TOO_LARGE,
                         "an output record is over message.max.bytes");
  }
  for (const auto& o : records) {
    kafka::Status s =
        Produce(*o.topic, o.partition, *o.key, *o.value, RecordTag(tag_, input, o.kind));
    if (s.ok()) continue;
    if (s.code() == RdKafka::ERR_MSG_SIZE_TOO_LARGE) {
      rejections_.Reject(partition, offset,
                         "the " + KindName(o.kind) + " record for topic '" + *o.topic + "' (" +
                             std::to_string(o.key->size() + o.value->size()) +
                             " bytes): produce() refused it: " + s.Describe(),
                         true);
    }
    return s;
  }
  return {};
}

kafka::Status Batch::DeadLetterRejected(Rejection& rejection, std::string_view value,
                                        std::string_view key, const SourceCoordinates& source,
                                        uint32_t input) {
  metrics_->CountInput();
  std::string detail = rejection.detail;
  size_t max_original = options_.dlq_max_original_bytes;
  if (rejection.dead_letter_refusals > 0) {
    // Its dead letter was refused too: this one carries no original bytes.
    detail += "; its first dead letter was refused as well (" + rejection.dead_letter_error + ")";
    max_original = 0;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  v1::DeadLetter letter = emit::MakeDeadLetter(v1::DeadLetter::OUTPUT_REJECTED, "output_rejected",
                                               detail, value, key, source, max_original, now);
  std::string record_key(key);
  std::string bytes = emit::Encode(letter, options_.format);
  // The dead letter itself must fit under message.max.bytes: shorten the copy
  // of the original first, then the copy of the key, then the detail, then
  // the record's key.
  auto over = [&] {
    const size_t size = record_key.size() + bytes.size() + kRecordOverhead;
    return size > options_.max_record_bytes ? size - options_.max_record_bytes : 0;
  };
  for (int step = 0; over() > 0 && step < 64; ++step) {
    if (!letter.original().empty()) {
      const size_t have = letter.original().size();
      letter.set_original(letter.original().substr(0, have > over() + 16 ? have - over() - 16 : 0));
      letter.set_original_truncated(true);
    } else if (!letter.original_key().empty()) {
      letter.clear_original_key();
    } else if (letter.detail().size() > 256) {
      letter.set_detail(letter.detail().substr(0, 256));
    } else if (record_key.size() > 128) {
      record_key.resize(128);
    } else {
      break;
    }
    bytes = emit::Encode(letter, options_.format);
  }
  metrics_->CountDeadLetter("output_rejected");
  log::Warn("input message dead-lettered: Kafka refused its outputs",
            {{"reason", "output_rejected"},
             {"partition", std::to_string(source.partition)},
             {"offset", std::to_string(source.offset)},
             {"detail", detail}});
  kafka::Status s = Produce(options_.dlq_topic, kAnyPartition, record_key, bytes,
                            RecordTag(tag_, input, RecordKind::kDeadLetter));
  if (s.code() == RdKafka::ERR_MSG_SIZE_TOO_LARGE) {
    ++rejection.dead_letter_refusals;
    rejection.dead_letter_error = "the dead-letter record for topic '" + options_.dlq_topic +
                                  "' (" + std::to_string(record_key.size() + bytes.size()) +
                                  " bytes): produce() refused it: " + s.Describe();
  }
  return s;
}

std::optional<CommitOutcome> Batch::TxnCall(const char* name, const char* retry,
                                            const std::function<kafka::Status()>& call) {
  for (int attempt = 0;; ++attempt) {
    const kafka::Status s = call();
    if (s.ok()) return std::nullopt;
    switch (kafka::ClassifyTxnError(s)) {
      case kafka::TxnErrorAction::kRetry:
        if (attempt < options_.txn_retries) {
          hooks_.beat(retry);
          producer_->Poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes it not ready
          clock_->SleepFor(options_.retry_pause);
          continue;
        }
        // Ambiguous: the new producer's init_transactions() settles it, and
        // the committed offsets say which way (the daemon re-creates it).
        log::Error(std::string(name) + " keeps failing; re-creating the producer",
                   {{"error", s.Describe()}});
        producer_lost_ = true;
        return CommitOutcome::kFatal;
      case kafka::TxnErrorAction::kAbort: return Abort(s.Describe(), Rewind::kYes);
      case kafka::TxnErrorAction::kFatal:
        log::Error(std::string(name) + ": fatal", {{"error", s.Describe()}});
        producer_lost_ = true;
        return CommitOutcome::kFatal;
    }
  }
}

CommitOutcome Batch::Commit(const Offsets& positions) {
  const Clock::TimePoint start = clock_->Now();
  // A committed batch's commit time (dedupd_commit_seconds).
  const auto committed = [&] {
    delivery_metrics_->ObserveCommit(std::chrono::duration<double>(clock_->Now() - start).count());
    return CommitOutcome::kCommitted;
  };
  if (options_.exactly_once) {
    if (!in_transaction_) return CommitOutcome::kCommitted;
    if (ProducerFatal()) return CommitOutcome::kFatal;
    // Where the loop is, for /healthz: librdkafka 2.0.2's
    // send_offsets_to_transaction() can ignore its timeout while the group
    // coordinator is down (librdkafka issue #5456) and block until it is back.
    hooks_.beat("send_offsets_to_transaction");
    if (auto outcome =
            TxnCall("send_offsets_to_transaction", "send_offsets_to_transaction (retry)", [&] {
              return producer_->SendOffsetsToTransaction(positions, options_.call_timeout_ms);
            })) {
      return *outcome;
    }
    if (ProducerFatal()) return CommitOutcome::kFatal;
    hooks_.beat("commit_transaction");
    if (auto outcome = TxnCall("commit_transaction", "commit_transaction (retry)", [&] {
          return producer_->CommitTransaction(options_.call_timeout_ms);
        })) {
      return *outcome;
    }
    in_transaction_ = false;
    return committed();
  }
  // Up to 60 s, in steps that show progress (liveness).
  for (int i = 0; i < 60 && producer_->OutqLen() > 0; ++i) {
    producer_->Flush(1000);
    hooks_.beat("flush");
  }
  // Every failure of this batch's records counts, also one reported before
  // the flush (the loop's Poll between turns): its input must not commit.
  if (producer_->OutqLen() > 0 || tracker_.BatchFailed() > 0) {
    return Abort("delivery failed: " + tracker_.last_error(), Rewind::kYes);
  }
  if (!positions.empty()) {
    if (kafka::Status s = consumer_->CommitSync(positions); !s.ok()) {
      metrics_->CountKafkaError("commit");
      return Abort(s.Describe(), Rewind::kYes);
    }
  }
  return committed();
}

void Batch::Finish(const Offsets& positions) {
  delivery_metrics_->CountTransaction(TransactionResult::kCommitted);
  Clear();
  // Rejected inputs the commit has passed are settled (dead-lettered, or,
  // for one retried alone that went through, processed).
  if (!rejections_.empty()) {
    rejections_.Forget([&positions](int32_t partition, int64_t offset) {
      auto it = positions.find(partition);
      return it != positions.end() && offset < it->second;
    });
  }
}

void Batch::Clear() {
  first_offsets_.clear();
  inputs_.clear();
  input_times_ms_.clear();
  uncommitted_ = 0;
}

// Local to the consumer: it needs no broker, so it also works while the
// broker is away.
bool Batch::RewindInputs() {
  for (const auto& [partition, offset] : first_offsets_) {
    const kafka::Status s = consumer_->Seek(partition, offset, options_.call_timeout_ms);
    if (s.ok()) continue;
    // A consumer that failed for good (a fenced static member: the fencing
    // can surface first in send_offsets_to_transaction, whose abort lands
    // here) takes no seek, and needs none: the daemon re-creates it, and its
    // partitions resume from their committed offsets, where the rewind would
    // have gone.
    if (consumer_->Failed()) return true;
    log::Error("cannot rewind the input after an abort", {{"partition", std::to_string(partition)},
                                                          {"offset", std::to_string(offset)},
                                                          {"error", s.Describe()}});
    return false;
  }
  return true;
}

CommitOutcome Batch::Abort(std::string_view why, Rewind rewind) {
  log::Warn("aborting the batch and rewinding to its first messages",
            {{"error", std::string(why)}});
  if (options_.exactly_once && in_transaction_) {
    if (ProducerFatal()) return CommitOutcome::kFatal;
    for (int attempt = 0;; ++attempt) {
      const kafka::Status s = producer_->AbortTransaction(options_.call_timeout_ms);
      if (s.ok()) break;
      if (s.fatal() || attempt >= options_.txn_retries) {
        // Ambiguous or fatal: the producer is re-created.
        log::Error("abort_transaction failed", {{"error", s.Describe()}});
        producer_lost_ = true;
        return CommitOutcome::kFatal;
      }
      log::Warn("abort_transaction: retrying", {{"error", s.Describe()}});
      hooks_.beat("abort_transaction (retry)");
      producer_->Poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes the instance not ready
    }
  }
  in_transaction_ = false;
  // The aborted batch's last delivery reports, then which of its input
  // messages made records Kafka refused for good: the retry dead-letters them.
  // (A lost assignment is not retried here: the next owner finds them again.)
  producer_->Poll(0);
  if (rewind == Rewind::kYes) rejections_.Note(tracker_.TakeRejections(), inputs_);
  tracker_.StartBatch(++tag_);
  hooks_.roll_back();
  if (rewind == Rewind::kYes && !RewindInputs()) return CommitOutcome::kFatal;
  Clear();
  delivery_metrics_->CountTransaction(TransactionResult::kAborted);
  // A dead letter refused twice (the second time without the original
  // bytes): the dead-letter topic itself refuses it, and there is nowhere
  // left to put the input. It is not dropped: its partition stays here and
  // retries, slower each time, until the dead-letter topic takes it.
  if (const int refusals = rejections_.MaxDeadLetterRefusals(); refusals >= 2) {
    log::Error(
        "the dead-letter topic refuses the dead letter of an input message whose outputs were "
        "refused; its partition cannot move past it until the dead-letter topic accepts it "
        "(docs/runbook.md, DedupdTransactionsAborting)");
    const auto until =
        clock_->Now() + std::chrono::seconds(std::min(30, 1 << std::min(refusals, 5)));
    while (clock_->Now() < until && !hooks_.cancelled()) {
      hooks_.beat("dead-letter retry back-off");
      clock_->SleepFor(std::chrono::milliseconds(100));
    }
  }
  return CommitOutcome::kAborted;
}

Offsets Batch::Drop() {
  const bool had_batch = open();
  in_transaction_ = false;
  Offsets first = first_offsets_;
  tracker_.StartBatch(++tag_);
  hooks_.roll_back();
  Clear();
  if (had_batch) delivery_metrics_->CountTransaction(TransactionResult::kAborted);
  return first;
}

void Batch::ObserveCommitLatency(int64_t now_ms) const {
  for (const int64_t at : input_times_ms_) {
    if (at <= 0) continue;
    delivery_metrics_->ObserveEventLatency(static_cast<double>(std::max<int64_t>(now_ms - at, 0)) /
                                           1000.0);
  }
}

}  // namespace dedupd::delivery
