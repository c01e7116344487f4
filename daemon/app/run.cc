// `dedupd run`: the Kafka loop. Consume a batch, run each message through the
// Pipeline, produce its records, and commit after processing.commit_messages
// messages or processing.commit_interval_ms after the batch's first message:
//  - exactly_once: outputs, the state changelog and fingerprint records of
//    the pages that wrote state, and the consumer offsets in one Kafka
//    transaction (send_offsets_to_transaction); the local state store, a
//    cache of the changelog, is updated only after the commit succeeded,
//    together with the changelog offsets it now reflects. An abortable error
//    aborts, rewinds every partition of the batch to its first message and
//    rolls the detector back; a fatal error exits non-zero for the
//    supervisor to restart.
//  - at_least_once: flush the producer, require every delivery report to be
//    a success, then commit the consumer offsets and the state.
// A record Kafka refuses for good (too large for the producer's
// message.max.bytes, checked before producing; or refused by the broker in a
// delivery report: kafka::IsRecordRejection) aborts its batch like any failed
// delivery, but its input message is remembered by (partition, offset), and
// the retry dead-letters it (reason output_rejected) instead of processing it
// again: none of its outputs and none of its state is written, and the
// partition moves on. Records of several inputs that the broker refused
// together are retried one input per commit to find the culprit.
// On assignment, the changelog partitions of the assigned input partitions
// are restored (StateSync) before any of their messages is processed; the
// fingerprints topic is read at start and tailed between transactions.
// Guarantees and their limits: docs/delivery.md. librdkafka's sequence and
// pitfalls: ../shared/KAFKA.md and docs/kafka.md.
#include "app/run.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "alert/alertmanager.h"
#include "api/api.h"
#include "app/ownership.h"
#include "app/pipeline.h"
#include "app/replay.h"
#include "app/settings.h"
#include "app/state_sync.h"
#include "app/workers.h"
#include "common/log.h"
#include "emit/records.h"
#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "kafka/stats.h"
#include "metrics/broker_watch.h"
#include "metrics/http_server.h"
#include "metrics/liveness.h"
#include "metrics/owner_routing.h"
#include "state/store.h"
#include "state/url_state.h"

namespace dedupd::app {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // a second signal exits at once
}

using Clock = std::chrono::steady_clock;

// The longest a single blocking Kafka call of the loop may take (the
// transactional calls, seek, committed): each retries on its own, with a sign
// of progress between attempts, so health.liveness_timeout_ms (at least 3
// times this) never fails a loop that is only waiting for a broker.
constexpr int kKafkaCallTimeoutMs = 10000;
// A loop that has shown no progress for this long is not ready (Stalled()).
constexpr int kStallMs = 5000;

// Fault injection for the liveness e2e test (tests/e2e/liveness_test.cc):
// while the file named by DEDUPD_FAULT_FREEZE_LOOP_FILE exists, the loop
// blocks here without any sign of progress, as a loop hung inside a call
// would. Unset (production) it is never armed.
void FreezeWhileFileExists(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return;
  log::Warn("fault injection: the processing loop is frozen while the file exists",
            {{"file", path}});
  while (std::filesystem::exists(path, ec) && g_signals.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::Warn("fault injection: the processing loop goes on", {{"file", path}});
}

// What an output record is, for logs and dead-letter reasons.
enum class RecordKind : uint8_t { kEvent, kDiff, kDeadLetter, kChangelog, kFingerprint };

std::string KindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kEvent: return "event";
    case RecordKind::kDiff: return "diff";
    case RecordKind::kDeadLetter: return "dead-letter";
    case RecordKind::kChangelog: return "state changelog";
    case RecordKind::kFingerprint: return "fingerprint";
  }
  return "output";
}

RecordKind KindOf(OutputTopic topic) {
  switch (topic) {
    case OutputTopic::kEvents: return RecordKind::kEvent;
    case OutputTopic::kDiffs: return RecordKind::kDiff;
    case OutputTopic::kDlq: return RecordKind::kDeadLetter;
  }
  return RecordKind::kEvent;
}

// Every record's msg_opaque says which batch (bits 32..63: the batch's tag),
// which input message of that batch (bits 4..31: its index in the batch) and
// which kind of record (bits 0..3) it is, so that a delivery report can be
// traced back to the input message that made the record.
static_assert(sizeof(uintptr_t) >= 8, "record tags need 64-bit pointers");
constexpr uint32_t kMaxTaggedInputs = (1u << 28) - 1;

void* RecordTag(uint32_t batch, uint32_t input, RecordKind kind) {
  const uintptr_t tag = (static_cast<uintptr_t>(batch) << 32) |
                        (static_cast<uintptr_t>(std::min(input, kMaxTaggedInputs)) << 4) |
                        static_cast<uintptr_t>(kind);
  return reinterpret_cast<void*>(tag);
}

struct RecordTagParts {
  uint32_t batch;
  uint32_t input;
  RecordKind kind;
};

RecordTagParts SplitTag(void* opaque) {
  const auto tag = reinterpret_cast<uintptr_t>(opaque);
  return {static_cast<uint32_t>(tag >> 32), static_cast<uint32_t>((tag >> 4) & kMaxTaggedInputs),
          static_cast<RecordKind>(tag & 0xf)};
}

// librdkafka refuses a record in produce() when key + value + its record
// framing (at most 36 bytes for message format v2) exceed message.max.bytes;
// dedupd checks with a little more, so that produce() never refuses a record
// the check let through.
constexpr size_t kRecordOverhead = 64;

// A record of the open batch that Kafka refused for good (kafka::IsRecordRejection).
struct RecordRejection {
  uint32_t input = 0;  // index of its input message in the batch
  RecordKind kind = RecordKind::kEvent;
  std::string topic;
  size_t bytes = 0;  // key + value
  RdKafka::ErrorCode code = RdKafka::ERR_NO_ERROR;
  std::string error;  // librdkafka's text
};

// Counts delivery reports, remembers the records of the open batch that Kafka
// refused for good, and how far this batch's changelog records reached in
// each partition: the store commit after the Kafka commit records it, so that
// a later restore starts after this instance's own writes. Reports of an
// older (aborted) batch carry another tag and are ignored. librdkafka calls
// dr_cb from poll()/flush() on the daemon's thread.
class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryTracker(metrics::Metrics* m) : metrics_(m) {}
  void dr_cb(RdKafka::Message& message) override {
    const RecordTagParts tag = SplitTag(message.msg_opaque());
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      failed_.fetch_add(1);
      metrics_->CountKafkaError("delivery");
      std::lock_guard lock(mu_);
      last_error_ = message.errstr();
      if (tag.batch == batch_ && kafka::IsRecordRejection(message.err()) &&
          rejections_.size() < kMaxTaggedInputs) {
        rejections_.push_back({tag.input, tag.kind, message.topic_name(),
                               message.len() + message.key_len(), message.err(), message.errstr()});
      }
      return;
    }
    if (tag.kind != RecordKind::kChangelog) return;
    std::lock_guard lock(mu_);
    if (tag.batch != batch_) return;
    int64_t& reached = reached_[message.partition()];
    reached = std::max(reached, message.offset() + 1);
  }
  void StartBatch(uint32_t tag) {
    std::lock_guard lock(mu_);
    batch_ = tag;
    reached_.clear();
    rejections_.clear();
  }
  std::map<int32_t, int64_t> Reached() {
    std::lock_guard lock(mu_);
    return reached_;
  }
  std::vector<RecordRejection> TakeRejections() {
    std::lock_guard lock(mu_);
    return std::exchange(rejections_, {});
  }
  uint64_t failed() const { return failed_.load(); }
  std::string last_error() {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  metrics::Metrics* metrics_;
  std::atomic<uint64_t> failed_{0};
  std::mutex mu_;
  std::string last_error_;
  uint32_t batch_ = 0;
  std::map<int32_t, int64_t> reached_;
  std::vector<RecordRejection> rejections_;
};

class EventHandler : public RdKafka::EventCb {
 public:
  EventHandler(metrics::Metrics* m, std::string input_topic)
      : metrics_(m), input_topic_(std::move(input_topic)) {}
  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_STATS: {
        auto stats = parser_.Parse(event.str());
        if (!stats.ok()) return;
        brokers_.OnStats(stats.value().brokers_up);
        for (const auto& p : stats.value().partitions) {
          if (p.topic != input_topic_ || p.partition < 0 || !p.desired) continue;
          // Only partitions this instance owns now: statistics built before
          // a revoke and served after it would bring back the series the
          // revoke removed, frozen at its last value (docs/kafka.md).
          if (!Owns(p.partition)) continue;
          if (auto lag = kafka::ExportedLag(p, kafka::Isolation::kReadCommitted)) {
            metrics_->SetConsumerLag(p.topic, p.partition, static_cast<double>(*lag));
          }
        }
        return;
      }
      case RdKafka::Event::EVENT_ERROR:
        metrics_->CountKafkaError(event.fatal() ? "fatal" : "transport");
        // Sent as the last connection goes: not ready now, not at the next statistics.
        if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) brokers_.OnAllBrokersDown();
        if (event.fatal()) fatal_ = true;
        log::Warn("kafka error",
                  {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
        return;
      case RdKafka::Event::EVENT_LOG:
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          log::Warn("librdkafka", {{"facility", event.fac()}, {"message", event.str()}});
        }
        return;
      case RdKafka::Event::EVENT_THROTTLE: return;
    }
  }
  int brokers_up() const { return brokers_.BrokersUp(); }
  const metrics::BrokerWatch& brokers() const { return brokers_; }
  bool fatal() const { return fatal_.load(); }
  // The input partitions whose lag this instance exports (its assignment),
  // kept by the rebalance callback.
  void SetOwned(int32_t partition, bool owned) {
    std::lock_guard lock(owned_mu_);
    if (owned) {
      owned_.insert(partition);
    } else {
      owned_.erase(partition);
    }
  }
  std::set<int32_t> owned() {
    std::lock_guard lock(owned_mu_);
    return owned_;
  }
  // After the producer was re-created (Daemon::RecoverProducer).
  void ClearFatal() { fatal_ = false; }

 private:
  bool Owns(int32_t partition) {
    std::lock_guard lock(owned_mu_);
    return owned_.count(partition) > 0;
  }

  metrics::Metrics* metrics_;
  std::string input_topic_;
  std::mutex owned_mu_;
  std::set<int32_t> owned_;
  kafka::StatsParser parser_;
  metrics::BrokerWatch brokers_;
  std::atomic<bool> fatal_{false};
};

class Daemon;

class Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(Daemon* d) : daemon_(d) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

 private:
  Daemon* daemon_;
};

class Daemon {
 public:
  Daemon(const config::Settings& cfg, ReplayRun* replay)
      : cfg_(cfg),
        replay_(replay),
        exactly_once_(cfg.processing.mode == config::ProcessingMode::kExactlyOnce),
        input_topic_(cfg.topics.input),
        state_topic_(cfg.topics.state),
        fingerprints_topic_(cfg.topics.fingerprints),
        fingerprint_full_(cfg.state.fingerprint_format == config::FingerprintFormat::kFull),
        metrics_(cfg.metrics.site_label_limit, DEDUPD_VERSION),
        http_(HttpServerOptionsFrom(cfg)),
        delivery_(&metrics_),
        events_(&metrics_, cfg.topics.input),
        rebalancer_(this),
        liveness_(cfg.health.liveness_timeout) {}
  // The HTTP threads read the store through api_: stopped before any member
  // they use is destroyed, whichever way Run() returned.
  ~Daemon() { http_.Stop(); }

  int Run();
  void OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& partitions);

 private:
  enum class CommitResult { kCommitted, kAborted, kFatal };

  // One record an input message produces.
  struct Outgoing {
    const std::string* topic;
    int32_t partition;
    const std::string* key;
    const std::string* value;
    RecordKind kind;
  };
  // An input message one of whose records Kafka refused for good.
  struct Rejection {
    std::string detail;  // which record, its size, Kafka's error
    // True when this input's own record was refused: the retry dead-letters
    // it. False when the broker refused records of several inputs together
    // (one batch of records can hold several inputs' records): the retry
    // processes it in a transaction of its own to find out.
    bool certain = false;
    int dead_letter_refusals = 0;  // its output_rejected dead letter was refused too
    std::string dead_letter_error;
  };

  bool Setup();
  bool PrepareTopics(const kafka::Props& common, bool* permanent, std::string* error);
  RdKafka::ErrorCode Produce(const std::string& topic, int32_t partition, const std::string& key,
                             const std::string& value, void* tag);
  std::optional<std::string> Oversized(const std::vector<Outgoing>& records) const;
  void Reject(int32_t partition, int64_t offset, const std::string& detail, bool certain,
              bool announce = true);
  void NoteRejections();
  void ForgetRejections(const std::function<bool(int32_t partition, int64_t offset)>& done);
  bool DeadLetterRejected(Rejection& rejection, std::string_view value, std::string_view key,
                          const SourceCoordinates& source, uint32_t input);
  CommitResult CommitBatch();
  void ObserveCommitLatency();
  CommitResult AbortBatch(const std::string& why, bool rewind);
  bool Rewind();
  bool BeginBatch();
  // The oldest message read ahead, finished: its verdict and outputs
  // produced into the open batch (begun if none is).
  // kFailed: the batch must abort; kFatal: fatal_ is set (RecoverProducer).
  enum class Step { kDone, kFailed, kFatal, kCommitNow };
  Step FinishNext(std::string* why);
  // Messages read ahead when a rebalance starts are finished before the batch
  // commits (or dropped: `drop`, when nothing of the batch commits).
  void FinishReadAhead(bool drop);
  void DropReadAhead();
  bool ProducerFatal();
  // No sign of progress for kStallMs: the loop is inside a blocking call (a
  // commit waiting for a broker that just went, before librdkafka's events
  // reach the loop). Not ready then, without waiting for those events.
  bool Stalled() const { return liveness_.Check().since > std::chrono::milliseconds(kStallMs); }
  bool InitTransactions();
  bool RecoverProducer();
  // The consumer raised a fatal error (a static member fenced by the group
  // coordinator): re-created in-process, as a restart would (RecoverConsumer).
  bool ConsumerFailed(std::string* reason) const;
  bool RecoverConsumer(const std::string& reason);
  void GiveUp(const std::set<int32_t>& partitions);
  bool Resync(const std::map<int32_t, int64_t>& batch_first);
  void TailFingerprints();
  // The state store on a full volume (docs/delivery.md, "Full disk").
  bool StoreReady();
  void NoteStore(const std::optional<state::StoreError>& error, bool failed_write);
  bool WaitForStore(Clock::time_point deadline);
  void HoldInput();
  std::string StoreWhy() const {
    std::lock_guard lock(store_why_mu_);
    return store_why_;
  }
  bool Ready() const {
    return loaded_ && producer_ready_ && joined_ && !restoring_ &&
           !events_.brokers().Unavailable() && !Stalled() && store_writable_;
  }
  // `dedupd replay` hooks (app/replay.h); unused when replay_ is null.
  void ReplayStartOffsets(std::vector<RdKafka::TopicPartition*>& partitions);
  bool ReplayFinished();

  const config::Settings& cfg_;
  ReplayRun* replay_;  // null in `dedupd run`
  bool exactly_once_;
  std::string input_topic_;
  std::string state_topic_;
  std::string fingerprints_topic_;
  // state.fingerprint_format: full writes format 4 with text (a rolling
  // upgrade from a version that reads nothing else), compact format 5.
  bool fingerprint_full_;
  metrics::Metrics metrics_;
  // Used by the HTTP server's threads: declared before http_ so that they
  // outlive it (members are destroyed in reverse order).
  OwnershipIndex ownership_;
  std::unique_ptr<metrics::OwnerRouter> router_;
  metrics::HttpServer http_;
  DeliveryTracker delivery_;
  EventHandler events_;
  Rebalancer rebalancer_;
  metrics::Liveness liveness_;  // /healthz: the loop's last sign of progress
  // DEDUPD_FAULT_FREEZE_LOOP_FILE (tests only): FreezeWhileFileExists().
  std::string freeze_file_;
  // The producer's configuration, kept to re-create it (RecoverProducer).
  kafka::ConfPtr pconf_;
  // The consumer's configuration, kept to re-create it (RecoverConsumer), and
  // whether that is under way (its close() revokes whatever it still holds).
  kafka::ConfPtr cconf_;
  bool recovering_consumer_ = false;
  // The producer failed for good (fatal error, fenced, or a transactional
  // call that stayed ambiguous): re-created in-process, not by an exit.
  bool producer_lost_ = false;
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  api::CopyIndex copies_{api::kCopyIndexEdges};  // reverse copy edges for the API
  std::unique_ptr<api::Api> api_;                // read-only; HTTP threads use it
  std::atomic<const api::Api*> api_ready_{nullptr};
  std::unique_ptr<Pipeline> pipeline_;
  // Messages consumed and handed to the workers, not finished yet, oldest
  // first (docs/delivery.md, "Workers"). Empty whenever Run() returns (a
  // message goes before its consumer). Declared before consumer_, whose
  // close() on destruction runs the rebalance callback (FinishReadAhead),
  // and workers_ after read_ahead_ and pipeline_: the workers read both until
  // they are stopped.
  std::deque<kafka::MessagePtr> read_ahead_;
  std::unique_ptr<Workers> workers_;
  std::vector<OutputRecord> records_;  // FinishNext()'s, reused
  uint64_t unkeyed_logged_ = 0;
  std::unique_ptr<StateSync> sync_;
  kafka::ProducerPtr producer_;
  kafka::KafkaConsumerPtr consumer_;
  std::map<OutputTopic, std::string> topics_;
  // Edited releases of the open transaction, posted to Alertmanager only once
  // the transaction has committed (an aborted batch must not page anyone).
  std::unique_ptr<alert::AlertmanagerNotifier> notifier_;
  std::vector<std::pair<v1::PageEvent, v1::PageDiff>> pending_alerts_;
  std::atomic<bool> loaded_{false};
  std::atomic<bool> producer_ready_{false};
  std::atomic<bool> joined_{false};
  std::atomic<bool> restoring_{false};
  bool in_transaction_ = false;
  size_t uncommitted_ = 0;
  // The batch's first offset per input partition: where an abort rewinds to.
  std::map<int32_t, int64_t> batch_first_offset_;
  // The batch's input messages in order (partition, offset); a record's tag
  // carries its input's index here.
  std::vector<std::pair<int32_t, int64_t>> batch_inputs_;
  // The Kafka timestamp (ms) of each of the batch's inputs (0: none), for
  // dedupd_event_latency_seconds when the batch commits.
  std::vector<int64_t> batch_input_times_ms_;
  uint32_t batch_tag_ = 0;
  // Input messages whose outputs Kafka refused for good, by (partition,
  // offset): remembered across the abort and rewind so that the retry
  // dead-letters them. An entry goes once the commit passed its offset, or
  // when its partition is no longer assigned; at most kMaxRejected entries
  // (a batch holds at most processing.commit_messages inputs, and entries
  // only live until the batch's retry commits).
  static constexpr size_t kMaxRejected = 100000;
  std::map<std::pair<int32_t, int64_t>, Rejection> rejected_;
  size_t suspects_ = 0;  // entries of rejected_ that are not certain
  uint64_t rejected_overflow_ = 0;
  // The producer's message.max.bytes: what produce() refuses at once.
  size_t max_record_bytes_ = 1000000;
  emit::OutputFormat format_ = emit::OutputFormat::kProtobuf;
  size_t dlq_max_original_bytes_ = 65536;
  // When the open batch took its first message: it commits at most
  // processing.commit_interval_ms later, so that a trickle of input is
  // batched too instead of costing a transaction per message.
  Clock::time_point batch_started_ = Clock::now();
  Clock::time_point last_tail_ = Clock::now();
  std::chrono::milliseconds restore_timeout_{120000};
  bool fatal_ = false;
  // Full disk (docs/delivery.md): whether the store takes writes (read by
  // /readyz), why not, and a store write that failed after its Kafka commit
  // (the batch's metadata; empty for a restore or tail chunk), kept staged and
  // retried before any other write and before any new batch.
  std::atomic<bool> store_writable_{true};
  mutable std::mutex store_why_mu_;
  std::string store_why_;
  std::optional<std::map<std::string, std::string>> unstored_;
  Clock::time_point store_blocked_since_{};
  Clock::time_point store_logged_{};
};

void Rebalancer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                              std::vector<RdKafka::TopicPartition*>& partitions) {
  daemon_->OnRebalance(consumer, err, partitions);
}

void Daemon::OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                         std::vector<RdKafka::TopicPartition*>& partitions) {
  // COOPERATIVE (cooperative-sticky, the default): each callback names only
  // the partitions that move, and every other partition keeps being consumed
  // through the rebalance. EAGER (range, roundrobin): a rebalance revokes
  // everything, then assigns the whole new assignment.
  const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (recovering_consumer_) {
    // The failed consumer's close(): RecoverConsumer gave everything up already.
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      if (cooperative) {
        kafka::ErrorPtr ignored(consumer->incremental_unassign(partitions));
      } else {
        consumer->unassign();
      }
    }
    return;
  }
  // Messages consume() returned before this callback: finished into the open
  // batch first, as they would have been without read-ahead, so that the
  // consumer's positions (what a commit sends) match what was processed.
  FinishReadAhead(consumer->assignment_lost() || fatal_ || events_.fatal());
  std::vector<int32_t> ids;
  std::string list;
  for (auto* tp : partitions) {
    ids.push_back(tp->partition());
    list += (list.empty() ? "" : ",") + std::to_string(tp->partition());
  }
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    log::Info("partitions assigned",
              {{"partitions", list}, {"protocol", consumer->rebalance_protocol()}});
    // A cooperative rebalance ends with an assignment callback for every
    // member, most of them empty: only real assignments count.
    if (!partitions.empty()) metrics_.CountRebalance("assigned");
    // A producer lost during the revocation is re-created before the new
    // partitions are taken (nothing is assigned now, so nothing to rewind).
    if ((fatal_ || events_.fatal()) && !RecoverProducer()) return;
    if (fatal_) return;
    // The open batch (cooperative: of the partitions this instance keeps)
    // commits before the restore writes the new partitions' state into the
    // store, as it does before a fingerprints tail (TailFingerprints).
    if (!partitions.empty() && (uncommitted_ > 0 || in_transaction_)) {
      if (CommitBatch() == CommitResult::kFatal) {
        fatal_ = true;
        return;
      }
    }
    restoring_ = true;
    metrics_.SetReady(false);
    // 1. The committed offsets, stable: a read_committed consumer's
    //    OffsetFetch waits while a previous owner's transaction still holds
    //    offsets for these partitions (KIP-447), so once it answers, that
    //    transaction has committed (its changelog records are in the log) or
    //    aborted.
    const auto deadline = Clock::now() + restore_timeout_;
    while (!partitions.empty()) {
      auto e = consumer->committed(partitions, 10000);
      if (e == RdKafka::ERR_NO_ERROR) break;
      metrics_.CountKafkaError("offset_fetch");
      if (g_signals.load() > 0) return;
      // While no broker is up this is an outage, not a fault: keep waiting.
      if (Clock::now() >= deadline && !events_.brokers().Unavailable()) {
        log::Error("cannot fetch the committed offsets of the assigned partitions",
                   {{"error", kafka::DescribeError(e)}});
        fatal_ = true;
        return;
      }
      log::Warn("fetching committed offsets: retrying", {{"error", kafka::DescribeError(e)}});
      liveness_.Beat("fetching committed offsets (retry)");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (replay_ != nullptr) ReplayStartOffsets(partitions);
    // 2. The partitions' state, from the changelog, before any message. It
    //    writes to the store: on a full volume it waits for space, up to the
    //    restore timeout.
    std::string error;
    while (!WaitForStore(deadline) || !sync_->RestorePartitions(ids, &error)) {
      if (g_signals.load() > 0) return;  // shutting down: nothing to process
      if (auto why = store_->LastError(); why && Clock::now() < deadline) {
        if (!unstored_) unstored_.emplace();  // the chunk stays staged: written first
        NoteStore(why, true);
        continue;
      }
      if (!store_writable_) {
        error = "the state store takes no writes: " + StoreWhy();
      } else if (events_.brokers().Unavailable()) {
        // No broker is up: an outage, which the restore outlasts by retrying.
        log::Warn("state restore failed while no broker is up; retrying",
                  {{"partitions", list}, {"error", error}});
        liveness_.Beat("state restore (retry: no broker up)");
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        continue;
      }
      log::Error("state restore failed; exiting for the supervisor to restart",
                 {{"partitions", list}, {"error", error}});
      fatal_ = true;
      return;
    }
    metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
    if (!cooperative) {
      // Rejected inputs of partitions that went elsewhere are their new
      // owner's to find again (cooperative: forgotten at their revoke).
      ForgetRejections([&ids](int32_t partition, int64_t) {
        return std::find(ids.begin(), ids.end(), partition) == ids.end();
      });
    }
    // 3. Consume from the offsets fetched in 1.
    if (cooperative) {
      kafka::ErrorPtr e(consumer->incremental_assign(partitions));
      if (e) {
        log::Error("incremental_assign failed", {{"error", kafka::DescribeError(*e)}});
        fatal_ = true;
        return;
      }
    } else {
      consumer->assign(partitions);
    }
    for (int32_t id : ids) events_.SetOwned(id, true);
    ownership_.Assign(ids);
    metrics_.SetAssignedPartitions(static_cast<double>(events_.owned().size()));
    restoring_ = false;
    joined_ = true;
    metrics_.SetReady(Ready());
    return;
  }
  // Revoked (or lost): finish what was processed for these partitions first,
  // so that their next owner starts exactly where this instance stopped
  // (cooperative: the open transaction covers the partitions kept too; it
  // commits whole). The state of the revoked partitions stays in the store
  // and the global index: it is every instance's near-duplicate reference,
  // kept current by the fingerprints topic, and the changelog offsets stored
  // with it let a later restore of the same partitions read only what changed
  // since.
  const bool lost = consumer->assignment_lost();
  log::Info(lost ? "partitions lost" : "partitions revoked",
            {{"count", std::to_string(partitions.size())},
             {"partitions", list},
             {"protocol", consumer->rebalance_protocol()}});
  if (!partitions.empty() || !cooperative) metrics_.CountRebalance(lost ? "lost" : "revoked");
  if (!fatal_ && (uncommitted_ > 0 || in_transaction_)) {
    if (lost) {
      // Another member may own them already: nothing of this batch may commit.
      if (AbortBatch("assignment lost", false) == CommitResult::kFatal) fatal_ = true;
    } else if (CommitBatch() == CommitResult::kFatal) {
      fatal_ = true;
    }
  }
  batch_first_offset_.clear();
  // What this instance gives up: the revoked partitions (cooperative), or
  // everything (eager, or a rebalance error: unassign() clears it all).
  const bool incremental = cooperative && err == RdKafka::ERR__REVOKE_PARTITIONS;
  std::set<int32_t> given_up(ids.begin(), ids.end());
  if (!incremental) given_up.merge(events_.owned());
  if (incremental) {
    // (Eager: the next assignment forgets those that went elsewhere.)
    ForgetRejections(
        [&given_up](int32_t partition, int64_t) { return given_up.count(partition) > 0; });
    kafka::ErrorPtr e(consumer->incremental_unassign(partitions));
    if (e) {
      log::Error("incremental_unassign failed", {{"error", kafka::DescribeError(*e)}});
      fatal_ = true;
    }
  } else {
    consumer->unassign();
  }
  GiveUp(given_up);
}

// Partitions this instance no longer owns: their HTTP routing and their lag
// series are their next owner's to report.
void Daemon::GiveUp(const std::set<int32_t>& partitions) {
  ownership_.Revoke(std::vector<int32_t>(partitions.begin(), partitions.end()));
  for (int32_t id : partitions) {
    events_.SetOwned(id, false);
    metrics_.RemoveConsumerLag(input_topic_, id);
  }
  metrics_.SetAssignedPartitions(static_cast<double>(events_.owned().size()));
}

bool Daemon::PrepareTopics(const kafka::Props& common, bool* permanent, std::string* error) {
  *permanent = false;
  const bool create = cfg_.kafka.create_topics;
  const auto timeout = std::chrono::seconds(15);
  const int32_t partitions = cfg_.kafka.partitions;
  const int16_t rf = cfg_.kafka.replication_factor;
  auto count = [&](const std::string& topic) -> kafka::Result<int32_t> {
    auto parts = kafka::ListPartitions(common, topic, std::chrono::seconds(5));
    if (!parts.ok()) return kafka::Failure{parts.error()};
    return static_cast<int32_t>(parts.value().size());
  };
  // The input first: the changelog must have as many partitions as it has.
  auto input = count(input_topic_);
  if (!input.ok()) {
    if (!create) {
      *error = "input topic '" + input_topic_ + "': " + input.error();
      return false;
    }
    if (!kafka::EnsureTopics(common, {{input_topic_, partitions, rf, {}}}, timeout, error)) {
      return false;
    }
    input = count(input_topic_);
    if (!input.ok()) {
      *error = input.error();
      return false;
    }
  }
  const int32_t n = input.value();
  const std::map<std::string, std::string> compact = {{"cleanup.policy", "compact"}};
  std::vector<kafka::TopicSpec> missing;
  for (const auto& [kind, topic] : topics_) {
    if (count(topic).ok()) continue;
    missing.push_back({topic, partitions, rf, {}});
  }
  if (auto state = count(state_topic_); state.ok()) {
    if (state.value() != n) {
      *permanent = true;
      *error = "state changelog '" + state_topic_ + "' has " + std::to_string(state.value()) +
               " partitions but the input '" + input_topic_ + "' has " + std::to_string(n) +
               ": partition p of the changelog holds input partition p's URLs, so the counts " +
               "must be equal (docs/delivery.md)";
      return false;
    }
  } else {
    missing.push_back({state_topic_, n, rf, compact});
  }
  if (!count(fingerprints_topic_).ok()) missing.push_back({fingerprints_topic_, n, rf, compact});
  if (missing.empty()) return true;
  if (!create) {
    *error = "missing topic '" + missing.front().name + "' and kafka.create_topics is false";
    return false;
  }
  return kafka::EnsureTopics(common, missing, timeout, error);
}

bool Daemon::Setup() {
  std::string error;
  topics_ = {{OutputTopic::kEvents, cfg_.topics.events},
             {OutputTopic::kDiffs, cfg_.topics.diffs},
             {OutputTopic::kDlq, cfg_.topics.dlq}};
  restore_timeout_ = cfg_.state.restore_timeout;
  kafka::Props common = cfg_.kafka.common_properties;
  common["bootstrap.servers"] = cfg_.kafka.bootstrap_servers;
  common["client.id"] = cfg_.kafka.client_id;
  // A credential or CA file that cannot be read is a configuration error:
  // fail at once, before waiting for Kafka, rather than drop every alert later.
  const alert::AlertmanagerOptions a = alert::AlertmanagerOptionsFrom(cfg_);
  if (cfg_.alertmanager.enabled && !alert::CheckAlertmanagerOptions(a, &error)) {
    log::Error("invalid Alertmanager settings", {{"error", error}});
    return false;
  }
  // librdkafka 2.0.2 backs reconnects off up to 10 s: after an outage the
  // first connection could wait that long. 1 s keeps the resume within
  // seconds of the broker's return (docs/delivery.md, "Broker outages").
  common.try_emplace("reconnect.backoff.max.ms", "1000");
  if (const char* freeze = std::getenv("DEDUPD_FAULT_FREEZE_LOOP_FILE")) freeze_file_ = freeze;

  // Metrics and health first, so that a slow start is visible.
  int port = cfg_.metrics.port;
  if (port > 0) {
    http_.Handle("/metrics", [this] {
      metrics_.SetLoopLastProgress(liveness_.LastProgressUnixSeconds());
      metrics_.SetBrokers(events_.brokers().BrokersUp(), events_.brokers().UnavailableSeconds());
      return metrics::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                   metrics_.Render()};
    });
    // Liveness is the loop's progress (metrics/liveness.h): 503 once it has
    // shown none for health.liveness_timeout_ms.
    http_.Handle("/healthz", [this] {
      const metrics::Liveness::Status status = liveness_.Check(events_.brokers());
      return metrics::HttpResponse{status.alive ? 200 : 503, "text/plain",
                                   liveness_.Describe(status)};
    });
    http_.Handle("/readyz", [this] {
      bool ready = Ready();
      std::string body =
          std::string(ready ? "ready" : "not ready") + "\nstate_loaded=" + (loaded_ ? "1" : "0") +
          "\nproducer_ready=" + (producer_ready_ ? "1" : "0") +
          "\ngroup_joined=" + (joined_ ? "1" : "0") + "\nrestoring=" + (restoring_ ? "1" : "0") +
          "\nbrokers_up=" + std::to_string(events_.brokers_up()) + "\nbroker_unavailable_seconds=" +
          std::to_string(static_cast<int64_t>(events_.brokers().UnavailableSeconds())) +
          "\nloop_stalled=" + (Stalled() ? "1" : "0") +
          "\nstate_store_writable=" + (store_writable_ ? "1" : "0") + "\n";
      if (!store_writable_) body += "state_store=" + StoreWhy() + "\n";
      return metrics::HttpResponse{ready ? 200 : 503, "text/plain", body};
    });
    // Several instances: /v1/owner answers for the URLs this instance owns;
    // the API's handlers are registered through router_->RouteToOwner().
    router_ = std::make_unique<metrics::OwnerRouter>(
        OwnerRoutingOptionsFrom(cfg_, port),
        [this](const std::string& url) { return ownership_.Owns(url); });
    router_->Register(&http_);
    // The API and /ui/page (docs/api.md), each request routed to the URL's owner.
    api::Api::RegisterDeferred(&http_, &api_ready_, [this](metrics::HttpHandler handler) {
      return router_->RouteToOwner(std::move(handler));
    });
    if (!http_.Start(cfg_.metrics.bind, port, &error)) {
      log::Error("cannot start the metrics server", {{"error", error}});
      return false;
    }
    log::Info("metrics", {{"url", "http://" + cfg_.metrics.bind + ":" +
                                      std::to_string(http_.port()) + "/metrics"}});
  }

  // Topics. The broker may not be up yet: retry with backoff until a signal,
  // unless the answer is final (a changelog that does not match the input).
  for (int attempt = 0;; ++attempt) {
    bool permanent = false;
    if (PrepareTopics(common, &permanent, &error)) break;
    if (permanent) {
      log::Error("topics do not fit together", {{"error", error}});
      return false;
    }
    metrics_.CountKafkaError("admin");
    log::Warn("topics not ready yet; retrying", {{"error", error}});
    liveness_.Beat("waiting for the topics");
    if (g_signals.load() > 0) return false;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(500 << std::min(attempt, 4), 8000)));
  }

  state::RocksStoreOptions store_options;
  store_options.min_free_bytes = cfg_.state.min_free_bytes;
  // The changelog and the offsets stored with every write make RocksDB's WAL
  // redundant here (docs/delivery.md, "The store is a cache").
  store_options.disable_wal = true;
  store_ = state::OpenRocksStore(cfg_.state.dir, store_options, &error);
  if (!store_) {
    log::Error("cannot open the state store", {{"error", error}});
    return false;
  }
  detector_ = std::make_unique<classify::Detector>(DetectOptionsFrom(cfg_), store_.get());
  detector_->SetStateObserver([this](const state::UrlState& s) { copies_.Observe(s); });
  LoadState(detector_.get(), /*log_empty=*/true, [this] { liveness_.Beat("loading state"); });
  api_ = std::make_unique<api::Api>(store_.get(), &copies_, ApiOptionsFrom(cfg_));
  api_ready_.store(api_.get(), std::memory_order_release);
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  const PipelineOptions pipeline_options = PipelineOptionsFrom(cfg_);
  format_ = pipeline_options.format;
  dlq_max_original_bytes_ = pipeline_options.dlq_max_original_bytes;
  pipeline_ = std::make_unique<Pipeline>(pipeline_options, detector_.get(), &metrics_);
  workers_ = std::make_unique<Workers>(pipeline_.get(), WorkerThreads(cfg_.processing.threads));
  log::Info("detection workers", {{"threads", std::to_string(workers_->threads())}});
  if (cfg_.alertmanager.enabled) {
    notifier_ = std::make_unique<alert::AlertmanagerNotifier>(a, &metrics_);
    notifier_->Start();
    // The URLs carry no credentials (the configuration refuses user:password@).
    std::string urls;
    for (const auto& u : a.urls) urls += (urls.empty() ? "" : ",") + u;
    log::Info("posting edited releases to Alertmanager",
              {{"url", urls},
               {"auth", !a.username.empty()                                       ? "basic"
                        : !a.bearer_token.empty() || !a.bearer_token_file.empty() ? "bearer"
                                                                                  : "none"}});
  }

  // Producer. init_transactions() comes before the state is read: it fences a
  // previous incarnation of this instance slot and aborts its open
  // transaction, which would otherwise hold back the stable end of the state
  // topics until transaction.timeout.ms.
  kafka::Props pprops = common;
  for (const auto& [k, v] : cfg_.kafka.producer_properties) pprops[k] = v;
  pprops.try_emplace("acks", "all");
  pprops.try_emplace("enable.idempotence", "true");
  // 50 ms, not 5: about 10x fewer, fuller record batches per topic at the
  // same commit latency (a commit flushes what lingers), and less broker CPU
  // (docs/benchmarks.md, "Loop overhead, issue #12").
  pprops.try_emplace("linger.ms", "50");
  pprops.try_emplace("statistics.interval.ms", "0");
  if (exactly_once_) {
    pprops["transactional.id"] = cfg_.kafka.transactional_id;
    pprops.try_emplace("transaction.timeout.ms", "10000");
    pprops.try_emplace("message.timeout.ms", "10000");
  }
  pconf_ = kafka::MakeConf(pprops, &error);
  kafka::ConfPtr& pconf = pconf_;
  if (!pconf) {
    log::Error("invalid producer configuration", {{"error", error}});
    return false;
  }
  // The effective message.max.bytes (librdkafka's default unless
  // kafka.producer.message.max.bytes sets it): larger records are refused by
  // produce() and are dead-lettered without being produced.
  if (std::string value; pconf->get("message.max.bytes", value) == RdKafka::Conf::CONF_OK) {
    max_record_bytes_ = static_cast<size_t>(std::stoull(value));
  }
  pconf->set("dr_cb", &delivery_, error);
  pconf->set("event_cb", &events_, error);
  producer_.reset(RdKafka::Producer::create(pconf.get(), error));
  if (!producer_) {
    log::Error("cannot create the producer", {{"error", error}});
    return false;
  }
  if (exactly_once_ && !InitTransactions()) return false;
  producer_ready_ = true;

  // The global index: every instance's fingerprints, read before processing.
  kafka::Props cprops = common;
  for (const auto& [k, v] : cfg_.kafka.consumer_properties) cprops[k] = v;
  StateSyncOptions so;
  so.props = cprops;
  so.admin_props = common;
  so.events = &events_;
  so.changelog_topic = state_topic_;
  so.fingerprints_topic = fingerprints_topic_;
  so.reader_group = cfg_.kafka.group_id + ".state-reader";
  so.stable_timeout = restore_timeout_;
  // Called between the restore's reads and waits: a sign of progress.
  so.cancelled = [this] {
    liveness_.Beat("state restore");
    return g_signals.load() > 0;
  };
  so.on_changelog_record = [this](std::string_view url, int32_t p) { ownership_.Record(url, p); };
  sync_ = std::make_unique<StateSync>(so, detector_.get(), store_.get(), &metrics_);
  // It writes to the store: on a full volume, not ready until there is space.
  while (!WaitForStore(Clock::time_point::max()) || !sync_->Bootstrap(&error)) {
    if (g_signals.load() > 0) return false;
    if (auto why = store_->LastError()) {
      if (!unstored_) unstored_.emplace();
      NoteStore(why, true);
      continue;
    }
    log::Error("cannot read the fingerprints topic", {{"error", error}});
    return false;
  }
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  loaded_ = true;

  // Consumer.
  cprops["group.id"] = cfg_.kafka.group_id;
  cprops["enable.auto.commit"] = "false";
  cprops["enable.auto.offset.store"] = "false";
  cprops.try_emplace("isolation.level", "read_committed");
  cprops.try_emplace("auto.offset.reset", "earliest");
  // Rolling restarts without stopping the world (docs/kafka.md, "Rolling
  // restarts"): cooperative rebalancing moves only the partitions that
  // change owner while the others keep being consumed, and a static member
  // (kafka.group_instance_id) that comes back within session.timeout.ms gets
  // its partitions back without any rebalance. A static member does not
  // leave the group when it closes, so its session timeout is how long its
  // partitions wait for it: longer than a restart, by default.
  cprops.try_emplace("partition.assignment.strategy", "cooperative-sticky");
  if (const std::string instance = cfg_.kafka.group_instance_id; !instance.empty()) {
    cprops["group.instance.id"] = instance;
    cprops.try_emplace("session.timeout.ms", "120000");
  }
  cprops["statistics.interval.ms"] = std::to_string(cfg_.kafka.statistics_interval.count());
  kafka::ConfPtr cconf = kafka::MakeConf(cprops, &error);
  if (!cconf) {
    log::Error("invalid consumer configuration", {{"error", error}});
    return false;
  }
  cconf->set("event_cb", &events_, error);
  cconf->set("rebalance_cb", &rebalancer_, error);
  cconf_ = std::move(cconf);
  consumer_.reset(RdKafka::KafkaConsumer::create(cconf_.get(), error));
  if (!consumer_) {
    log::Error("cannot create the consumer", {{"error", error}});
    return false;
  }
  if (auto err = consumer_->subscribe({input_topic_}); err != RdKafka::ERR_NO_ERROR) {
    log::Error("cannot subscribe", {{"error", kafka::DescribeError(err)}});
    return false;
  }
  log::Info("consuming", {{"topic", input_topic_},
                          {"group", cfg_.kafka.group_id},
                          {"mode", config::Name(cfg_.processing.mode)},
                          {"state_topic", state_topic_},
                          {"fingerprints_topic", fingerprints_topic_}});
  return true;
}

// librdkafka 2.0.x can hang in begin_transaction() after a fatal error: ask
// first, before every transactional call.
bool Daemon::ProducerFatal() {
  std::string reason;
  RdKafka::ErrorCode code = producer_->fatal_error(reason);
  if (code == RdKafka::ERR_NO_ERROR) return false;
  log::Error("the producer raised a fatal error",
             {{"error", kafka::DescribeError(code)}, {"detail", reason}});
  producer_lost_ = true;
  return true;
}

// init_transactions(), retried until it succeeds: at start, and after the
// producer was re-created. Each call waits up to kKafkaCallTimeoutMs for the
// broker, so a broker outage is waited out here (alive, not ready).
bool Daemon::InitTransactions() {
  for (int attempt = 0;; ++attempt) {
    kafka::ErrorPtr e(producer_->init_transactions(kKafkaCallTimeoutMs));
    if (!e) return true;
    metrics_.CountKafkaError("init_transactions");
    if (e->is_fatal() || g_signals.load() > 0) {
      log::Error("init_transactions failed", {{"error", kafka::DescribeError(*e)}});
      return false;
    }
    if (attempt % 6 == 0) {
      log::Warn("init_transactions: retrying", {{"error", kafka::DescribeError(*e)}});
    }
    liveness_.Beat("init_transactions (retry)");
    producer_->poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes the instance not ready
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(250 << std::min(attempt, 2), 1000)));
  }
}

// After the producer failed for good (producer_lost_, or a fatal error event
// from it): instead of exiting, which under Kubernetes ends in
// CrashLoopBackOff after a long broker outage, do in-process what a restart
// would do: drop the open batch (detector rolled back, its records purged), a
// new producer with the same transactional.id, init_transactions() (which
// aborts or completes the old transaction at the coordinator), then every
// assigned partition's state restored from the changelog and its position
// set to its committed offset. The committed offsets decide, not this
// instance's view: a commit that went through before the error is kept, one
// that did not is processed again. False when the failure is not the
// producer's (the caller exits) or on a signal.
bool Daemon::RecoverProducer() {
  std::string reason;
  const bool producer_fatal = producer_->fatal_error(reason) != RdKafka::ERR_NO_ERROR;
  if (fatal_ ? !producer_lost_ : !producer_fatal) return false;
  if (events_.fatal() && !producer_fatal) return false;  // another client's fatal error
  log::Warn("re-creating the producer (same transactional.id) instead of exiting",
            {{"detail", reason.empty() ? "a transactional call failed (logged above)" : reason}});
  liveness_.Beat("re-creating the producer");
  producer_ready_ = false;
  metrics_.SetReady(false);
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT |
                   RdKafka::Producer::PURGE_NON_BLOCKING);
  producer_->poll(0);
  producer_.reset();
  const bool had_batch = in_transaction_ || uncommitted_ > 0;
  in_transaction_ = false;
  const std::map<int32_t, int64_t> batch_first = batch_first_offset_;
  delivery_.StartBatch(++batch_tag_);
  detector_->Rollback();
  pending_alerts_.clear();
  batch_first_offset_.clear();
  batch_inputs_.clear();
  batch_input_times_ms_.clear();
  uncommitted_ = 0;
  if (had_batch) metrics_.CountTransaction("aborted");
  std::string error;
  producer_.reset(RdKafka::Producer::create(pconf_.get(), error));
  if (!producer_) {
    log::Error("cannot re-create the producer", {{"error", error}});
    return false;
  }
  if (exactly_once_ && !InitTransactions()) return false;
  producer_ready_ = true;
  if (!Resync(batch_first)) return false;
  producer_lost_ = false;
  fatal_ = false;
  events_.ClearFatal();
  log::Info("producer re-created; processing resumes from the committed offsets");
  metrics_.SetReady(Ready());
  return true;
}

bool Daemon::ConsumerFailed(std::string* reason) const {
  return consumer_ && consumer_->fatal_error(*reason) != RdKafka::ERR_NO_ERROR;
}

// A consumer that raised a fatal error takes no part in the group any more,
// and librdkafka 2.0.2 never recovers it: its consume() returns ERR__FATAL
// for good, a silent stall of every partition it had. The usual cause is
// static membership (kafka.group_instance_id) after a broker restart or a
// coordinator move: the member rejoins under a new member id and the
// coordinator fences the old one, this very process ("Static consumer fenced
// by other consumer with same group.instance.id"). What a restart would do,
// in-process: the open batch is aborted (another member may own its
// partitions now), every partition is given up, and a new consumer with the
// same configuration subscribes; the group gives the partitions back through
// the rebalance callback, which restores them and resumes from the committed
// offsets. False on a signal or when the new consumer cannot be made.
bool Daemon::RecoverConsumer(const std::string& reason) {
  log::Warn(
      "the consumer failed for good: re-creating it (same group.instance.id) instead of "
      "exiting",
      {{"error", reason}});
  liveness_.Beat("re-creating the consumer");
  metrics_.CountRebalance("lost");
  joined_ = false;
  metrics_.SetReady(false);
  if (!fatal_ && (uncommitted_ > 0 || in_transaction_) &&
      AbortBatch("consumer failed", false) == CommitResult::kFatal) {
    fatal_ = true;
  }
  batch_first_offset_.clear();
  ForgetRejections([](int32_t, int64_t) { return true; });
  GiveUp(events_.owned());
  recovering_consumer_ = true;
  consumer_->close();
  consumer_.reset();
  recovering_consumer_ = false;
  std::string producer_reason;
  if (!producer_lost_ && producer_->fatal_error(producer_reason) == RdKafka::ERR_NO_ERROR) {
    events_.ClearFatal();  // the consumer's fatal error event: dealt with here
  }
  if (g_signals.load() > 0) return false;
  std::string error;
  consumer_.reset(RdKafka::KafkaConsumer::create(cconf_.get(), error));
  if (!consumer_) {
    log::Error("cannot re-create the consumer", {{"error", error}});
    return false;
  }
  if (auto err = consumer_->subscribe({input_topic_}); err != RdKafka::ERR_NO_ERROR) {
    log::Error("cannot subscribe", {{"error", kafka::DescribeError(err)}});
    return false;
  }
  log::Info("consumer re-created; partitions come back through the group");
  return true;
}

// Every assigned partition: its state restored from the changelog (a batch
// whose commit went through before the producer failed is in it) and its
// position set to the committed offset; a partition with none goes back to
// its first message of the dropped batch.
bool Daemon::Resync(const std::map<int32_t, int64_t>& batch_first) {
  kafka::TopicPartitionList assigned;
  if (consumer_->assignment(assigned.out()) != RdKafka::ERR_NO_ERROR) return false;
  if (assigned.get().empty()) return true;
  std::vector<int32_t> ids;
  for (auto* tp : assigned.get()) ids.push_back(tp->partition());
  restoring_ = true;
  for (int attempt = 0;; ++attempt) {
    auto e = consumer_->committed(assigned.get(), kKafkaCallTimeoutMs);
    if (e == RdKafka::ERR_NO_ERROR) break;
    if (g_signals.load() > 0) return false;
    if (attempt % 6 == 0) {
      log::Warn("fetching committed offsets: retrying", {{"error", kafka::DescribeError(e)}});
    }
    liveness_.Beat("fetching committed offsets (retry)");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::string error;
  while (!sync_->RestorePartitions(ids, &error)) {
    if (g_signals.load() > 0) return false;
    log::Warn("state restore failed; retrying", {{"error", error}});
    liveness_.Beat("state restore (retry)");
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  }
  for (auto* tp : assigned.get()) {
    if (tp->offset() < 0) {
      auto first = batch_first.find(tp->partition());
      if (first == batch_first.end()) continue;
      tp->set_offset(first->second);
    }
    // A seek can fail while the partition's fetcher is still starting:
    // retried a few times; a partition left at a wrong position would break
    // exactly-once, so after that the process exits.
    for (int attempt = 0;; ++attempt) {
      const auto err = consumer_->seek(*tp, kKafkaCallTimeoutMs);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (attempt >= 5 || g_signals.load() > 0) {
        log::Error(
            "cannot seek to the committed offset",
            {{"partition", std::to_string(tp->partition())}, {"error", kafka::DescribeError(err)}});
        return false;
      }
      liveness_.Beat("seeking to the committed offsets (retry)");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  restoring_ = false;
  return true;
}

bool Daemon::BeginBatch() {
  batch_started_ = Clock::now();
  batch_inputs_.clear();
  batch_input_times_ms_.clear();
  // A new tag: delivery reports of an earlier, aborted batch no longer count.
  delivery_.StartBatch(++batch_tag_);
  if (!exactly_once_ || in_transaction_) return true;
  if (ProducerFatal()) return false;
  kafka::ErrorPtr e(producer_->begin_transaction());
  if (e) {
    log::Error("begin_transaction failed", {{"error", kafka::DescribeError(*e)}});
    producer_lost_ = true;
    return false;
  }
  in_transaction_ = true;
  return true;
}

Daemon::Step Daemon::FinishNext(std::string* why) {
  const kafka::MessagePtr msg = std::move(read_ahead_.front());
  read_ahead_.pop_front();
  Workers::Slot& slot = workers_->Front();
  // The slot goes back to the workers on every return, before `msg` (whose
  // bytes its message views) is destroyed.
  struct PopAtEnd {
    Workers* workers;
    ~PopAtEnd() { workers->PopFront(); }
  } pop_at_end{workers_.get()};
  if (uncommitted_ == 0 && !BeginBatch()) {
    fatal_ = true;
    return Step::kFatal;
  }
  const int32_t partition = msg->partition();
  const int64_t offset = msg->offset();
  const auto input = static_cast<uint32_t>(batch_inputs_.size());
  batch_inputs_.emplace_back(partition, offset);
  batch_input_times_ms_.push_back(msg->timestamp().type ==
                                          RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE
                                      ? 0
                                      : msg->timestamp().timestamp);
  const SourceCoordinates& source = slot.message.source;
  const std::string_view value = slot.message.value;
  const std::string_view key = slot.message.key;
  ++uncommitted_;
  if (auto rejected = rejected_.find({partition, offset});
      rejected != rejected_.end() && rejected->second.certain) {
    // Kafka refused one of its outputs before the abort: dead-letter it.
    if (!DeadLetterRejected(rejected->second, value, key, source, input)) return Step::kFailed;
  } else {
    std::vector<OutputRecord>& records = records_;
    records.clear();
    PipelineResult& result = slot.result;
    pipeline_->Finish(slot.message, &slot.prepared, &records, &result);
    if (replay_ != nullptr) replay_->Count(result);
    if (result.kind != PipelineResult::Kind::kDeadLetter && key != result.page.canonical_url) {
      metrics_.CountUnkeyedInput();
      if (unkeyed_logged_++ % 10000 == 0) {
        log::Warn(
            "input message not keyed by its canonical URL (counted in "
            "dedupd_unkeyed_input_total; see docs/delivery.md)",
            {{"key", std::string(key.substr(0, 200))},
             {"canonical_url", result.page.canonical_url}});
      }
    }
    // Everything this input writes: its output records, and the state it
    // wrote, to the changelog partition of its input partition (the
    // restore of partition p reads changelog partition p) and to the
    // fingerprints topic every instance reads.
    std::vector<Outgoing> out;
    for (const auto& r : records) {
      out.push_back(
          {&topics_[r.topic], RdKafka::Topic::PARTITION_UA, &r.key, &r.value, KindOf(r.topic)});
    }
    std::string state_value, fingerprint_value;
    const std::string* state_record = &state_value;
    if (result.outcome.stored) {
      // The bytes the store encoded when the Detector staged this state:
      // the state is compressed once for the store and the changelog.
      state_record = store_->StagedRecord(result.outcome.stored->canonical_url);
      if (state_record == nullptr) {
        state_value = state::EncodeUrlState(*result.outcome.stored);
        state_record = &state_value;
      }
      // No text: every instance reads this record (docs/design.md, "The
      // state record"); the text stays in the owner's changelog.
      fingerprint_value =
          fingerprint_full_
              ? state::EncodeUrlState(*result.outcome.stored, state::HistoryPart::kLatest)
              : state::EncodeFingerprintRecord(*result.outcome.stored);
      const std::string& url = result.outcome.stored->canonical_url;
      ownership_.Record(url, partition);
      out.push_back({&state_topic_, partition, &url, state_record, RecordKind::kChangelog});
      out.push_back({&fingerprints_topic_, RdKafka::Topic::PARTITION_UA, &url, &fingerprint_value,
                     RecordKind::kFingerprint});
    }
    // All of them or none: a record produce() would refuse is found before
    // any of them is produced. The Detector has staged this page's state
    // with the batch's, so the batch is aborted (which undoes it) and the
    // retry dead-letters this input.
    if (auto oversized = Oversized(out)) {
      Reject(partition, offset, *oversized, true);
      *why = "an output record is over message.max.bytes";
      return Step::kFailed;
    }
    for (const auto& o : out) {
      auto err =
          Produce(*o.topic, o.partition, *o.key, *o.value, RecordTag(batch_tag_, input, o.kind));
      if (err == RdKafka::ERR_NO_ERROR) continue;
      if (err == RdKafka::ERR_MSG_SIZE_TOO_LARGE) {
        Reject(partition, offset,
               "the " + KindName(o.kind) + " record for topic '" + *o.topic + "' (" +
                   std::to_string(o.key->size() + o.value->size()) +
                   " bytes): produce() refused it: " + kafka::DescribeError(err),
               true);
      }
      return Step::kFailed;
    }
    if (notifier_ && result.kind == PipelineResult::Kind::kEvent && result.diff &&
        result.outcome.verdict == Verdict::kRevised) {
      pending_alerts_.emplace_back(std::move(result.event), std::move(*result.diff));
    }
  }
  // While some input messages are suspected of records the broker refused
  // together with others' records, every input commits alone: a refusal
  // then names its culprit.
  return suspects_ > 0 ? Step::kCommitNow : Step::kDone;
}

void Daemon::FinishReadAhead(bool drop) {
  if (read_ahead_.empty()) return;
  std::string why = "produce failed";
  while (!read_ahead_.empty() && !drop && !fatal_) {
    if (FinishNext(&why) == Step::kFailed) {
      DropReadAhead();
      if (!fatal_ && AbortBatch(why, true) == CommitResult::kFatal) fatal_ = true;
      return;
    }
  }
  DropReadAhead();
}

void Daemon::DropReadAhead() {
  workers_->Clear();  // first: the workers may still read the messages' bytes
  read_ahead_.clear();
}

RdKafka::ErrorCode Daemon::Produce(const std::string& topic, int32_t partition,
                                   const std::string& key, const std::string& value, void* tag) {
  RdKafka::ErrorCode err = RdKafka::ERR__QUEUE_FULL;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    err = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(value.data()), value.size(), key.data(), key.size(),
                             0, tag);
    if (err == RdKafka::ERR_NO_ERROR) return err;
    if (err != RdKafka::ERR__QUEUE_FULL) break;
    producer_->poll(50);  // the local queue is full: serve delivery reports, then retry
    liveness_.Beat("produce (local queue full)");
  }
  metrics_.CountKafkaError("produce");
  log::Error("produce failed", {{"topic", topic}, {"error", kafka::DescribeError(err)}});
  return err;
}

// The first of an input's records that produce() would refuse for its size
// (MSG_SIZE_TOO_LARGE), described for the dead letter; nullopt if all fit.
std::optional<std::string> Daemon::Oversized(const std::vector<Outgoing>& records) const {
  for (const auto& r : records) {
    const size_t bytes = r.key->size() + r.value->size();
    if (bytes + kRecordOverhead <= max_record_bytes_) continue;
    return "the " + KindName(r.kind) + " record for topic '" + *r.topic + "' is " +
           std::to_string(bytes) + " bytes, over the producer's message.max.bytes (" +
           std::to_string(max_record_bytes_) + " including " + std::to_string(kRecordOverhead) +
           " bytes of framing): librdkafka refuses it (MSG_SIZE_TOO_LARGE)";
  }
  return std::nullopt;
}

// Remembers that Kafka refused a record of the input message at (partition,
// offset), for the retry after the abort.
void Daemon::Reject(int32_t partition, int64_t offset, const std::string& detail, bool certain,
                    bool announce) {
  const std::pair<int32_t, int64_t> at{partition, offset};
  auto it = rejected_.find(at);
  if (it == rejected_.end()) {
    if (rejected_.size() >= kMaxRejected) {
      if (rejected_overflow_++ % 1000 == 0) {
        log::Warn("too many rejected input messages remembered; the others are retried as usual",
                  {{"partition", std::to_string(partition)},
                   {"offset", std::to_string(offset)},
                   {"limit", std::to_string(kMaxRejected)}});
      }
      return;
    }
    Rejection rejection;
    rejection.detail = detail;
    rejection.certain = certain;
    it = rejected_.emplace(at, std::move(rejection)).first;
    if (!certain) ++suspects_;
  } else if (it->second.certain) {
    // It was being dead-lettered: its dead letter was refused.
    ++it->second.dead_letter_refusals;
    it->second.dead_letter_error = detail;
  } else {
    it->second.detail = detail;
    if (certain) {
      it->second.certain = true;
      --suspects_;
    }
  }
  if (!announce) return;
  log::Warn(certain ? "Kafka refused an output record for good: its input message is "
                      "dead-lettered (output_rejected) when the batch is retried"
                    : "Kafka refused output records of this input message together with "
                      "other inputs' records: it is retried in a commit of its own",
            {{"partition", std::to_string(partition)},
             {"offset", std::to_string(offset)},
             {"error", detail}});
}

// After an abort: the records of the aborted batch that Kafka refused for good
// (from the delivery reports), traced back to their input messages. If they
// all belong to one input, that input made them (each input has at most one
// record per topic, and the broker refuses a whole batch of records of one
// partition at once); if several inputs had records refused, any of them may
// only have shared a refused batch with the culprit.
void Daemon::NoteRejections() {
  std::vector<RecordRejection> rejections = delivery_.TakeRejections();
  std::map<uint32_t, const RecordRejection*> by_input;
  for (const auto& r : rejections) {
    if (r.input < batch_inputs_.size()) by_input.try_emplace(r.input, &r);
  }
  const bool alone = by_input.size() == 1;
  std::string offsets;  // for one log line when several inputs are suspected
  for (const auto& [input, r] : by_input) {
    std::string detail = "the broker refused the " + KindName(r->kind) + " record for topic '" +
                         r->topic + "' (" + std::to_string(r->bytes) +
                         " bytes): " + kafka::DescribeError(r->code);
    if (!r->error.empty() && r->error != RdKafka::err2str(r->code)) detail += " (" + r->error + ")";
    const auto [partition, offset] = batch_inputs_[input];
    Reject(partition, offset, detail, alone, alone);
    if (!alone && offsets.size() < 200) {
      offsets +=
          (offsets.empty() ? "" : ",") + std::to_string(partition) + ":" + std::to_string(offset);
    }
  }
  if (!alone && !by_input.empty()) {
    log::Warn(
        "Kafka refused output records of several input messages together (a batch of records "
        "holds several inputs' records): each of them is retried in a commit of its own to find "
        "the one that made a refused record",
        {{"inputs", std::to_string(by_input.size())},
         {"offsets", offsets},
         {"error", kafka::DescribeError(by_input.begin()->second->code)}});
  }
}

void Daemon::ForgetRejections(const std::function<bool(int32_t, int64_t)>& done) {
  for (auto it = rejected_.begin(); it != rejected_.end();) {
    if (!done(it->first.first, it->first.second)) {
      ++it;
      continue;
    }
    if (!it->second.certain) --suspects_;
    it = rejected_.erase(it);
  }
}

// Produces the output_rejected dead letter of an input message Kafka refused
// an output of, instead of processing it: no event, no diff, no state.
bool Daemon::DeadLetterRejected(Rejection& rejection, std::string_view value, std::string_view key,
                                const SourceCoordinates& source, uint32_t input) {
  metrics_.CountInput();
  std::string detail = rejection.detail;
  size_t max_original = dlq_max_original_bytes_;
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
  std::string bytes = emit::Encode(letter, format_);
  // The dead letter itself must fit under message.max.bytes: shorten the copy
  // of the original first, then the copy of the key, then the detail, then
  // the record's key.
  auto over = [&] {
    const size_t size = record_key.size() + bytes.size() + kRecordOverhead;
    return size > max_record_bytes_ ? size - max_record_bytes_ : 0;
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
    bytes = emit::Encode(letter, format_);
  }
  metrics_.CountDeadLetter("output_rejected");
  log::Warn("input message dead-lettered: Kafka refused its outputs",
            {{"reason", "output_rejected"},
             {"partition", std::to_string(source.partition)},
             {"offset", std::to_string(source.offset)},
             {"detail", detail}});
  const std::string& dlq = topics_[OutputTopic::kDlq];
  auto err = Produce(dlq, RdKafka::Topic::PARTITION_UA, record_key, bytes,
                     RecordTag(batch_tag_, input, RecordKind::kDeadLetter));
  if (err == RdKafka::ERR_MSG_SIZE_TOO_LARGE) {
    ++rejection.dead_letter_refusals;
    rejection.dead_letter_error = "the dead-letter record for topic '" + dlq + "' (" +
                                  std::to_string(record_key.size() + bytes.size()) +
                                  " bytes): produce() refused it: " + kafka::DescribeError(err);
  }
  return err == RdKafka::ERR_NO_ERROR;
}

// Seeks every partition of the batch back to its first message of the batch
// (the position the last commit left it at). Local to the consumer: it needs
// no broker, so it also works while the broker is away.
bool Daemon::Rewind() {
  for (const auto& [partition, offset] : batch_first_offset_) {
    std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(input_topic_, partition, offset));
    if (auto err = consumer_->seek(*tp, 10000); err != RdKafka::ERR_NO_ERROR) {
      // A consumer that failed for good (a fenced static member: the fencing
      // can surface first in send_offsets_to_transaction, whose abort lands
      // here) takes no seek, and needs none: RecoverConsumer gives every
      // partition up, and they resume from their committed offsets, where
      // the rewind would have gone.
      if (std::string reason; ConsumerFailed(&reason)) return true;
      log::Error("cannot rewind the input after an abort",
                 {{"partition", std::to_string(partition)},
                  {"offset", std::to_string(offset)},
                  {"error", kafka::DescribeError(err)}});
      return false;
    }
  }
  return true;
}

Daemon::CommitResult Daemon::AbortBatch(const std::string& why, bool rewind) {
  log::Warn("aborting the batch and rewinding to its first messages", {{"error", why}});
  if (exactly_once_ && in_transaction_) {
    if (ProducerFatal()) return CommitResult::kFatal;
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->abort_transaction(kKafkaCallTimeoutMs));
      if (!e) break;
      if (e->is_fatal() || attempt >= 10) {
        // Ambiguous or fatal: the producer is re-created (RecoverProducer).
        log::Error("abort_transaction failed", {{"error", kafka::DescribeError(*e)}});
        producer_lost_ = true;
        return CommitResult::kFatal;
      }
      log::Warn("abort_transaction: retrying", {{"error", kafka::DescribeError(*e)}});
      liveness_.Beat("abort_transaction (retry)");
      producer_->poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes the instance not ready
    }
  }
  in_transaction_ = false;
  // The aborted batch's last delivery reports, then which of its input
  // messages made records Kafka refused for good: the retry dead-letters them.
  // (A lost assignment is not retried here: the next owner finds them again.)
  producer_->poll(0);
  if (rewind) NoteRejections();
  delivery_.StartBatch(++batch_tag_);
  detector_->Rollback();
  pending_alerts_.clear();
  if (rewind && !Rewind()) return CommitResult::kFatal;
  batch_first_offset_.clear();
  batch_inputs_.clear();
  batch_input_times_ms_.clear();
  uncommitted_ = 0;
  metrics_.CountTransaction("aborted");
  // A dead letter refused twice (the second time without the original
  // bytes): the dead-letter topic itself refuses it, and there is nowhere
  // left to put the input. It is not dropped: its partition stays here and
  // retries, slower each time, until the dead-letter topic takes it.
  int refusals = 0;
  for (const auto& [at, r] : rejected_) refusals = std::max(refusals, r.dead_letter_refusals);
  if (refusals >= 2) {
    log::Error(
        "the dead-letter topic refuses the dead letter of an input message whose outputs were "
        "refused; its partition cannot move past it until the dead-letter topic accepts it "
        "(docs/runbook.md, DedupdTransactionsAborting)");
    const auto until =
        Clock::now() + std::chrono::seconds(std::min(30, 1 << std::min(refusals, 5)));
    while (Clock::now() < until && g_signals.load() == 0) {
      liveness_.Beat("dead-letter retry back-off");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return CommitResult::kAborted;
}

Daemon::CommitResult Daemon::CommitBatch() {
  kafka::TopicPartitionList assigned;
  consumer_->assignment(assigned.out());
  consumer_->position(assigned.get());
  kafka::TopicPartitionList positions;  // only the partitions with a known position
  for (auto* tp : assigned) {
    if (tp->offset() >= 0) positions.Add(tp->topic(), tp->partition(), tp->offset());
  }

  if (exactly_once_) {
    if (!in_transaction_) return CommitResult::kCommitted;
    // A batch the store could not take is not committed to Kafka either: its
    // offsets would pass what the store holds (docs/delivery.md, "Full disk").
    if (auto full = store_->CheckWritable()) {
      NoteStore(full, false);
      return AbortBatch("the state store takes no writes: " + full->message, true);
    }
    if (ProducerFatal()) return CommitResult::kFatal;
    kafka::ConsumerGroupMetadataPtr meta(consumer_->groupMetadata());
    // Where the loop is, for /healthz: librdkafka 2.0.2's
    // send_offsets_to_transaction() can ignore its timeout while the group
    // coordinator is down (librdkafka issue #5456) and block until it is back.
    liveness_.Beat("send_offsets_to_transaction");
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(
          producer_->send_offsets_to_transaction(positions.get(), meta.get(), kKafkaCallTimeoutMs));
      if (!e) break;
      switch (kafka::ClassifyTxnError(*e)) {
        case kafka::TxnErrorAction::kRetry:
          if (attempt < 10) {
            liveness_.Beat("send_offsets_to_transaction (retry)");
            producer_->poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes it not ready
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            continue;
          }
          log::Error("send_offsets_to_transaction keeps failing; re-creating the producer",
                     {{"error", kafka::DescribeError(*e)}});
          producer_lost_ = true;
          return CommitResult::kFatal;
        case kafka::TxnErrorAction::kAbort: return AbortBatch(kafka::DescribeError(*e), true);
        case kafka::TxnErrorAction::kFatal:
          log::Error("send_offsets_to_transaction: fatal", {{"error", kafka::DescribeError(*e)}});
          producer_lost_ = true;
          return CommitResult::kFatal;
      }
    }
    if (ProducerFatal()) return CommitResult::kFatal;
    liveness_.Beat("commit_transaction");
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->commit_transaction(kKafkaCallTimeoutMs));
      if (!e) break;
      switch (kafka::ClassifyTxnError(*e)) {
        case kafka::TxnErrorAction::kRetry:
          if (attempt < 10) {
            liveness_.Beat("commit_transaction (retry)");
            producer_->poll(0);  // error events: ERR__ALL_BROKERS_DOWN makes it not ready
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            continue;
          }
          // Ambiguous: the new producer's init_transactions() settles it, and
          // the committed offsets say which way (RecoverProducer).
          log::Error("commit_transaction stays ambiguous; re-creating the producer",
                     {{"error", kafka::DescribeError(*e)}});
          producer_lost_ = true;
          return CommitResult::kFatal;
        case kafka::TxnErrorAction::kAbort: return AbortBatch(kafka::DescribeError(*e), true);
        case kafka::TxnErrorAction::kFatal:
          log::Error("commit_transaction: fatal", {{"error", kafka::DescribeError(*e)}});
          producer_lost_ = true;
          return CommitResult::kFatal;
      }
    }
    in_transaction_ = false;
  } else {
    uint64_t failed_before = delivery_.failed();
    // Up to 60 s, in steps that show progress (liveness).
    for (int i = 0; i < 60 && producer_->outq_len() > 0; ++i) {
      producer_->flush(1000);
      liveness_.Beat("flush");
    }
    if (producer_->outq_len() > 0 || delivery_.failed() != failed_before) {
      return AbortBatch("delivery failed: " + delivery_.last_error(), true);
    }
    if (!positions.empty()) {
      auto err = consumer_->commitSync(positions.get());
      if (err != RdKafka::ERR_NO_ERROR) {
        metrics_.CountKafkaError("commit");
        return AbortBatch(kafka::DescribeError(err), true);
      }
    }
  }
  ObserveCommitLatency();
  // The Kafka side is committed; now the cache. A crash before this line
  // leaves the store behind the changelog, which the next restore replays.
  producer_->poll(0);  // serve the last delivery reports (changelog offsets)
  std::map<std::string, std::string> meta;
  for (auto* tp : positions) {
    meta["offset/" + tp->topic() + "/" + std::to_string(tp->partition())] =
        std::to_string(tp->offset());
  }
  for (const auto& [partition, next] : delivery_.Reached()) {
    meta[StateSync::ChangelogKey(state_topic_, partition)] = std::to_string(next);
  }
  std::string error;
  if (!detector_->Commit(meta, &error)) {
    // Kafka has the batch, the changelog included; the store is its cache.
    // The write stays staged and is retried before anything else is written
    // and before any new batch (docs/delivery.md, "Full disk"). A crash
    // meanwhile loses nothing: the restore replays the changelog.
    unstored_ = meta;
    auto why = store_->LastError();
    NoteStore(why ? why : state::StoreError{state::StoreErrorKind::kIo, error}, true);
  }
  metrics_.CountTransaction("committed");
  if (notifier_) {
    for (const auto& [event, diff] : pending_alerts_) notifier_->Enqueue(event, diff);
  }
  pending_alerts_.clear();
  batch_first_offset_.clear();
  batch_inputs_.clear();
  batch_input_times_ms_.clear();
  // Rejected inputs the commit has passed are settled (dead-lettered, or,
  // for one retried alone that went through, processed).
  if (!rejected_.empty()) {
    std::map<int32_t, int64_t> committed;
    for (auto* tp : positions) committed[tp->partition()] = tp->offset();
    ForgetRejections([&committed](int32_t partition, int64_t offset) {
      auto it = committed.find(partition);
      return it != committed.end() && offset < it->second;
    });
  }
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  uncommitted_ = 0;
  return CommitResult::kCommitted;
}

// The batch's outputs are committed (exactly-once: commit_transaction()
// returned; at-least-once: every delivery report in and the offsets
// committed): each input's time from its Kafka timestamp to now. The
// timestamp is the producer's clock (CreateTime) unless the topic sets
// LogAppendTime (the broker's); a clock ahead of this host's counts as 0.
void Daemon::ObserveCommitLatency() {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const int64_t at : batch_input_times_ms_) {
    if (at <= 0) continue;
    metrics_.ObserveEventLatency(static_cast<double>(std::max<int64_t>(now_ms - at, 0)) / 1000.0);
  }
}

// Partitions the replay's group has no committed offset for start where the
// replay planned; committed ones continue (an interrupted replay resumes).
void Daemon::ReplayStartOffsets(std::vector<RdKafka::TopicPartition*>& partitions) {
  for (auto* tp : partitions) tp->set_offset(replay_->StartOffset(tp->partition(), tp->offset()));
}

// Once per loop turn: the replay's progress from the consumer's positions
// (they step over transaction markers) and its gauge; a partition at its end
// is paused. When every position is at its end and nothing is uncommitted,
// the group's committed offsets decide (positions alone could be ahead of
// what an aborted batch left committed): all at their ends, the loop leaves
// as on a signal and the consumer closes.
bool Daemon::ReplayFinished() {
  kafka::TopicPartitionList assigned;
  consumer_->assignment(assigned.out());
  consumer_->position(assigned.get());
  std::map<int32_t, int64_t> positions;
  for (auto* tp : assigned) {
    if (tp->offset() >= 0) positions[tp->partition()] = tp->offset();
  }
  const ReplayRun::Progress progress = replay_->Observe(positions);
  metrics_.SetReplayRemaining(static_cast<double>(progress.remaining));
  if (!progress.reached_end.empty()) {
    kafka::TopicPartitionList done;
    for (int32_t partition : progress.reached_end) done.Add(input_topic_, partition);
    consumer_->pause(done.get());
  }
  if (!progress.confirm || uncommitted_ > 0 || in_transaction_) return false;
  kafka::TopicPartitionList committed;
  for (int32_t partition : replay_->Partitions()) committed.Add(input_topic_, partition);
  if (auto err = consumer_->committed(committed.get(), 10000); err != RdKafka::ERR_NO_ERROR) {
    log::Warn("replay: cannot fetch its committed offsets; retrying",
              {{"error", kafka::DescribeError(err)}});
    return false;
  }
  std::map<int32_t, int64_t> offsets;
  for (auto* tp : committed) offsets[tp->partition()] = tp->offset();
  const ReplayRun::Confirmation confirmation = replay_->Confirm(offsets);
  if (!confirmation.behind.empty()) {
    kafka::TopicPartitionList behind;
    for (int32_t partition : confirmation.behind) behind.Add(input_topic_, partition);
    consumer_->resume(behind.get());
  }
  return confirmation.finished;
}

void Daemon::TailFingerprints() {
  if (uncommitted_ > 0 || in_transaction_ || detector_->HasStaged()) return;
  if (unstored_ || !store_writable_) return;  // the store first (StoreReady)
  if (Clock::now() - last_tail_ < std::chrono::milliseconds(100)) return;
  last_tail_ = Clock::now();
  std::string error;
  if (!sync_->Tail(20000, &error)) {
    if (auto why = store_->LastError()) {
      // The chunk stays staged and is written first (StoreReady).
      unstored_.emplace();
      NoteStore(why, true);
      return;
    }
    log::Error("applying fingerprint records failed", {{"error", error}});
    fatal_ = true;
  }
}

// Whether the store can take the next batch: RocksDB reopened if a write
// failed, the free space over state.min_free_bytes, and a write kept from a
// failed commit written first.
bool Daemon::StoreReady() {
  auto error = store_->CheckWritable();
  bool failed_write = false;
  if (!error && unstored_) {
    std::string why;
    if (detector_->Commit(*unstored_, &why)) {
      unstored_.reset();
    } else {
      error = store_->LastError();
      if (!error) error = state::StoreError{state::StoreErrorKind::kIo, why};
      failed_write = true;
    }
  }
  NoteStore(error, failed_write);
  return !error;
}

// Readiness, metrics and the log follow the store's state. Counted: each
// failed write, and each time the store is found unwritable after being
// writable (not every retry). Logged: the change, then every 30 s.
void Daemon::NoteStore(const std::optional<state::StoreError>& error, bool failed_write) {
  const bool was_writable = store_writable_.load();
  const auto now = Clock::now();
  if (!error) {
    if (was_writable) return;
    store_writable_ = true;
    metrics_.SetStateStoreWritable(true);
    metrics_.SetReady(Ready());
    log::Info("state store writable again; taking input",
              {{"waited_seconds", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                     now - store_blocked_since_)
                                                     .count())}});
    return;
  }
  if (failed_write || was_writable) {
    metrics_.CountStateStoreError(state::StoreErrorKindName(error->kind));
  }
  {
    std::lock_guard lock(store_why_mu_);
    store_why_ = error->message;
  }
  if (was_writable) store_blocked_since_ = now;
  store_writable_ = false;
  metrics_.SetStateStoreWritable(false);
  metrics_.SetReady(false);
  if (was_writable || now - store_logged_ >= std::chrono::seconds(30)) {
    store_logged_ = now;
    log::Error(
        "the state store takes no writes: not ready, no new input until it does; retrying "
        "every second (free space on the state volume: docs/runbook.md, "
        "DedupdStateStoreNotWritable)",
        {{"kind", std::string(state::StoreErrorKindName(error->kind))},
         {"error", error->message},
         {"waiting_seconds", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                now - store_blocked_since_)
                                                .count())}});
  }
}

// Waits until the store takes writes; false on a signal or past `deadline`.
bool Daemon::WaitForStore(Clock::time_point deadline) {
  while (!StoreReady()) {
    if (g_signals.load() > 0 || Clock::now() >= deadline) return false;
    liveness_.Beat("waiting for space on the state volume");
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return true;
}

// While the store takes no writes: no new batch, but the consumer is still
// served (rebalances, max.poll.interval.ms). A message that arrives is put
// back (seek to it), to be consumed again once the store takes writes.
void Daemon::HoldInput() {
  liveness_.Beat("holding input: the state store takes no writes");
  kafka::MessagePtr msg(consumer_->consume(1000));
  if (!msg || msg->err() != RdKafka::ERR_NO_ERROR) return;
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(input_topic_, msg->partition(), msg->offset()));
  if (auto err = consumer_->seek(*tp, 10000); err != RdKafka::ERR_NO_ERROR) {
    log::Error("cannot put a message back while the state store takes no writes",
               {{"partition", std::to_string(msg->partition())},
                {"offset", std::to_string(msg->offset())},
                {"error", kafka::DescribeError(err)}});
    fatal_ = true;
    return;
  }
  for (int i = 0; i < 10 && g_signals.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int Daemon::Run() {
  if (!Setup()) return 1;
  metrics_.SetReady(Ready());
  const size_t batch_size = cfg_.processing.batch_size;
  const size_t commit_messages = cfg_.processing.commit_messages;
  const auto commit_interval = cfg_.processing.commit_interval;

  if (replay_ != nullptr && notifier_) {  // a replay never pages anyone
    notifier_->Stop();
    notifier_.reset();
  }
  while (g_signals.load() == 0) {
    // A fenced consumer and a lost producer are re-created in-process; any
    // other fatal error exits.
    if (std::string reason; ConsumerFailed(&reason) && !RecoverConsumer(reason)) break;
    if ((fatal_ || events_.fatal()) && !RecoverProducer()) break;
    FreezeWhileFileExists(freeze_file_);
    liveness_.Beat("consume");
    if (replay_ != nullptr && ReplayFinished()) break;
    // A store that takes no writes: no new batch (docs/delivery.md, "Full disk").
    if (uncommitted_ == 0 && !StoreReady()) {
      HoldInput();
      continue;
    }
    bool failed = false;
    std::string why = "produce failed";  // when failed
    bool commit_now = false;
    // Up to batch_size messages this turn: consumed ahead into the workers,
    // which parse and prepare them, and finished here in input order
    // (docs/delivery.md, "Workers").
    size_t consumed = 0;
    bool input_done = false;
    while (!failed && !commit_now) {
      // While some input messages are suspected of records the broker
      // refused together with others' records, every input commits alone:
      // none is read ahead.
      const size_t ahead = suspects_ > 0 ? 1 : workers_->capacity();
      while (!input_done && consumed < batch_size && read_ahead_.size() < ahead &&
             g_signals.load() == 0 && !fatal_) {
        // (consume() may run the rebalance callback, which finishes or drops
        // what is read ahead: FinishReadAhead.)
        kafka::MessagePtr msg(consumer_->consume(consumed == 0 ? 100 : 0));
        if (!msg || msg->err() == RdKafka::ERR__TIMED_OUT ||
            msg->err() == RdKafka::ERR__PARTITION_EOF) {
          input_done = true;
          break;
        }
        if (msg->err() != RdKafka::ERR_NO_ERROR) {
          metrics_.CountKafkaError("consume");
          log::Warn("consume error", {{"error", msg->errstr()}});
          // ERR__FATAL: the consumer is done for; the loop's top re-creates it.
          input_done = true;
          break;
        }
        ++consumed;
        if (replay_ != nullptr && replay_->PastEnd(msg->partition(), msg->offset())) continue;
        // An abort rewinds to it (Rewind) even before it is finished.
        batch_first_offset_.try_emplace(msg->partition(), msg->offset());
        Workers::Slot& slot = workers_->Acquire();
        slot.message.value = std::string_view(static_cast<const char*>(msg->payload()), msg->len());
        slot.message.key =
            msg->key_pointer() != nullptr
                ? std::string_view(static_cast<const char*>(msg->key_pointer()), msg->key_len())
                : std::string_view{};
        slot.message.source = {input_topic_, msg->partition(), msg->offset(),
                               msg->timestamp().timestamp};
        workers_->Submit();
        read_ahead_.push_back(std::move(msg));
      }
      if (read_ahead_.empty() || fatal_) break;
      switch (FinishNext(&why)) {
        case Step::kDone: break;
        case Step::kFailed: failed = true; break;
        case Step::kFatal: break;  // the loop stops on fatal_
        case Step::kCommitNow: commit_now = read_ahead_.empty(); break;
      }
    }
    if (!read_ahead_.empty()) {
      // Left unfinished (a failure, or a fatal error): the abort's rewind
      // takes the consumer back to them (batch_first_offset_ has them); with
      // nothing uncommitted after a fatal error, RecoverProducer's resync.
      DropReadAhead();
      if (!fatal_ || uncommitted_ > 0) failed = true;
    }
    if (failed) {
      // A record that did not go out must not be committed without it.
      if (AbortBatch(why, true) == CommitResult::kFatal) fatal_ = true;
      continue;
    }
    producer_->poll(0);
    metrics_.SetReady(Ready());
    if (uncommitted_ > 0 && (commit_now || uncommitted_ >= commit_messages ||
                             Clock::now() - batch_started_ >= commit_interval)) {
      if (CommitBatch() == CommitResult::kFatal) fatal_ = true;
    }
    if (!fatal_) TailFingerprints();
  }
  // Shutdown: stop fetching, finish the batch, commit, close, flush.
  int code = 0;
  if (fatal_ || events_.fatal()) {
    log::Error("fatal error: exiting for the supervisor to restart");
    fatal_ = true;  // the rebalance callback of close() must not touch the producer
    code = 1;
  } else if (uncommitted_ > 0 && CommitBatch() != CommitResult::kCommitted) {
    code = 1;
  }
  if (unstored_ && !StoreReady()) {
    log::Warn("exiting with the state store behind Kafka: the next start's restore replays it",
              {{"error", StoreWhy()}});
  }
  log::Info("shutting down");
  // close: leaves the group, unless it is a static member (its partitions
  // wait for it); the rebalance callback commits nothing now.
  consumer_.reset();
  sync_.reset();
  producer_->flush(5000);
  if (notifier_) notifier_->Stop();
  http_.Stop();
  return code;
}

}  // namespace

int RunDaemon(const config::Settings& cfg, ReplayRun* replay) {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  const int grace_ms = static_cast<int>(cfg.shutdown.grace_period.count());
  // The grace period bounds the whole shutdown: a watchdog ends the process
  // if the final commit and close take longer.
  std::thread([grace_ms] {
    while (g_signals.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::milliseconds(grace_ms));
    log::Error("shutdown grace period exceeded; exiting");
    _exit(1);
  }).detach();
  Daemon daemon(cfg, replay);
  return daemon.Run();
}

}  // namespace dedupd::app
