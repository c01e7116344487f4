// Loop: the per-message loop of `dedupd run` (and `dedupd replay`) as a
// stage. Each turn consumes up to processing.batch_size messages ahead into
// the workers, which parse, prepare and encode them; decides and produces
// them here in input order per partition into the open batch (its Kafka
// transaction: delivery/batch.h); commits after processing.commit_messages
// messages or processing.commit_interval_ms; aborts and rewinds on a
// failure; dead-letters inputs whose records Kafka refused; re-creates a lost
// producer or a fenced consumer in-process; tails the fingerprints topic
// between batches. It owns the batch, the rebalance callback's steps
// (delivery/rebalance.h) and the recovery of lost clients
// (delivery/recovery.h), and reaches Kafka only through the edges
// (delivery/edge.h, loop/input.h) and time through delivery::Clock, so its
// unit tests run without a broker (tests/unit/loop/).
//
//   loop::Loop loop(options, parts, hooks);
//   producer.Create(conf, loop.batch().tracker(), &error);
//   if (exactly_once && !loop.batch().InitTransactions()) exit;
//   input.Open();
//   int code = loop.Run();        // until hooks.cancelled() or a fatal error
//   // (tests: while (loop.Turn()) ...; loop.Stop();)
//
// Guarantees and their limits: docs/delivery.md ("Workers", "The
// transaction", "Loop library (session 9)").
//
// Thread-safety: the loop thread's (the rebalance callback runs on it, from
// InputEdge::Consume and Close); only the workers' encoder runs elsewhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "classify/detector.h"
#include "config/config.h"
#include "delivery/batch.h"
#include "delivery/client_events.h"
#include "delivery/clock.h"
#include "delivery/delivery_metrics.h"
#include "delivery/edge.h"
#include "delivery/health.h"
#include "delivery/rebalance.h"
#include "delivery/recovery.h"
#include "delivery/store_guard.h"
#include "kafka/status.h"
#include "loop/input.h"
#include "metrics/liveness.h"
#include "metrics/metrics.h"
#include "pipeline/pipeline.h"
#include "pipeline/workers.h"
#include "replay/replay.h"
#include "state/store.h"
#include "sync/state_sync.h"

namespace dedupd::loop {

// The longest a single blocking Kafka call of the loop may take (the
// transactional calls, seek, committed): each retries on its own, with a sign
// of progress between attempts, so health.liveness_timeout_ms (at least 3
// times this) never fails a loop that is only waiting for a broker.
constexpr int kKafkaCallTimeoutMs = 10000;

struct LoopOptions {
  bool exactly_once = true;
  std::string input_topic = "pages";
  std::string state_topic = "state";
  std::string fingerprints_topic = "fingerprints";
  std::map<app::OutputTopic, std::string> outputs = {{app::OutputTopic::kEvents, "events"},
                                                     {app::OutputTopic::kDiffs, "diffs"},
                                                     {app::OutputTopic::kDlq, "dlq"}};
  // state.fingerprint_format: full writes format 4 with text (a rolling
  // upgrade from a version that reads nothing else), compact format 5.
  bool fingerprint_full = false;
  size_t batch_size = 500;  // processing.batch_size: messages consumed per turn at most
  size_t commit_messages = 1000;
  std::chrono::milliseconds commit_interval{1000};
  size_t threads = 1;  // the workers' (WorkerThreads(processing.threads))
  std::chrono::milliseconds restore_timeout{120000};
  // The batch's (the DLQ topic is outputs' kDlq).
  delivery::BatchOptions batch;
  // DEDUPD_FAULT_FREEZE_LOOP_FILE (tests only): while this file exists, each
  // turn blocks without a sign of progress, as a loop hung inside a call.
  std::string freeze_file;
};

// The options from the typed settings (processing.*, topics.*, state.*) and
// the pipeline's (output format, dead letters); the producer's
// message.max.bytes (batch.max_record_bytes) is the caller's to set.
LoopOptions LoopOptionsFrom(const config::Settings& cfg, const app::PipelineOptions& pipeline);

// The fingerprints topic read before processing (StateSync::Bootstrap),
// into a store that may be on a full volume: not ready until there is space
// (a failed chunk stays staged and is written first). Not ok: a read failed
// for good, or `cancelled`.
kafka::Status Bootstrap(sync::StateSync& sync, delivery::StoreGuard& guard,
                        delivery::StoreEdge& store, const std::function<bool()>& cancelled);

// What the loop works with; none is owned. store_edge: the store as the
// full-disk guard sees it (whether it takes writes, its last error).
struct LoopParts {
  app::Pipeline* pipeline = nullptr;
  classify::Detector* detector = nullptr;
  state::StateStore* store = nullptr;
  delivery::ProducerEdge* producer = nullptr;
  delivery::ConsumerEdge* consumer = nullptr;
  InputEdge* input = nullptr;
  delivery::Clock* clock = nullptr;
  metrics::Metrics* metrics = nullptr;
  delivery::DeliveryMetrics* delivery_metrics = nullptr;
  delivery::ClientEvents* events = nullptr;
  delivery::Health* health = nullptr;
  metrics::Liveness* liveness = nullptr;
  delivery::StoreGuard* store_guard = nullptr;
  delivery::StoreEdge* store_edge = nullptr;
  app::ReplayRun* replay = nullptr;              // null in `dedupd run`
  app::ReplayMetrics* replay_metrics = nullptr;  // with `replay`
};

// What the daemon owns around the loop.
struct LoopHooks {
  std::function<bool()> cancelled = [] { return false; };  // a signal arrived
  // The state of `url` went to changelog partition `partition` (ownership
  // for the HTTP routing); partitions assigned, given up.
  std::function<void(std::string_view url, int32_t partition)> stored = [](auto, auto) {};
  std::function<void(const std::vector<int32_t>&)> assigned = [](const auto&) {};
  std::function<void(const std::vector<int32_t>&)> given_up = [](const auto&) {};
  // An edited release of a committed batch (Alertmanager); unset: none kept.
  std::function<void(const v1::PageEvent&, const v1::PageDiff&)> alert;
  // The state sync (sync/state_sync.h): the fingerprints topic read on
  // between batches, assigned partitions restored from the changelog.
  std::function<kafka::Status(size_t max_records)> tail = [](size_t) { return kafka::Status(); };
  std::function<kafka::Status(const std::vector<int32_t>&)> restore =
      [](const std::vector<int32_t>&) { return kafka::Status(); };
  // The producer client destroyed and made again (Recovery), its delivery
  // reports going to `sink`.
  std::function<void()> destroy_producer = [] {};
  std::function<bool(delivery::DeliveryReportSink* sink, std::string* error)> create_producer;
};

class Loop {
 public:
  using CommitResult = delivery::CommitOutcome;

  Loop(LoopOptions options, LoopParts parts, LoopHooks hooks);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Turns until a signal (hooks.cancelled) or a fatal error, then Stop().
  int Run();
  // One turn: the producer or consumer re-created if lost, up to batch_size
  // messages consumed and finished, the batch committed when due, the
  // fingerprints tailed. False: the loop must stop (fatal, or a replay done).
  bool Turn();
  // After the last turn: the final commit. 0, or 1 after a fatal error or a
  // final commit that failed.
  int Stop();

  // The consumer's rebalance callback (loop/rdkafka_input.h calls it).
  void OnRebalance(delivery::RebalanceEdge& edge, delivery::RebalanceEvent event,
                   const std::vector<int32_t>& partitions);

  delivery::Batch& batch() { return *batch_; }
  const app::Workers& workers() const { return *workers_; }
  bool fatal() const { return fatal_; }
  size_t read_ahead() const { return read_ahead_.size(); }

 private:
  // The oldest message read ahead, finished: its verdict and outputs
  // produced into the open batch (begun if none is). On the way, the
  // messages after it that are prepared are decided, and their outputs
  // encoded by the workers (docs/delivery.md, "Workers").
  // kFailed: the batch must abort; kFatal: fatal_ is set (RecoverProducer).
  enum class Step { kDone, kFailed, kFatal, kCommitNow };
  Step FinishNext(std::string* why);
  // FinishNext's steps: the oldest undecided message decided (false: the
  // batch could not begin, fatal_ is set); the oldest, encoded, produced.
  bool DecideNext(app::Workers::Slot& slot);
  Step ProduceOldest(app::Workers::Slot& slot, std::string* why);
  // The workers' encoder: a decided message's output records and state
  // records, into its slot (any thread; reads only the slot and constants).
  void EncodeOutputs(app::Workers::Slot& slot) const;
  // Messages read ahead when a rebalance starts are finished before the batch
  // commits (or dropped: `drop`, when nothing of the batch commits).
  void FinishReadAhead(bool drop);
  void DropReadAhead();
  CommitResult CommitBatch();
  CommitResult AbortBatch(const std::string& why, bool rewind);
  bool RecoverProducer();
  bool RecoverConsumer(const std::string& reason);
  void GiveUp(const std::set<int32_t>& partitions);
  delivery::RebalanceOutcome RestoreAssigned(const std::vector<int32_t>& ids,
                                             delivery::Clock::TimePoint deadline);
  void TailFingerprints();
  void FreezeWhileFileExists() const;
  void Beat(const char* what) { parts_.liveness->Beat(what); }

  const LoopOptions options_;
  const LoopParts parts_;
  const LoopHooks hooks_;
  // Edited releases of the open transaction, handed to hooks_.alert only once
  // the transaction has committed (an aborted batch must not page anyone).
  std::vector<std::pair<v1::PageEvent, v1::PageDiff>> pending_alerts_;
  bool fatal_ = false;
  bool recovering_consumer_ = false;  // its close() revokes whatever it still holds
  uint64_t unkeyed_logged_ = 0;
  // The open batch and its transaction. Its producer_lost() (fatal error,
  // fenced, or a transactional call that stayed ambiguous): the producer is
  // re-created in-process, not by an exit.
  std::unique_ptr<delivery::Batch> batch_;
  std::unique_ptr<delivery::Rebalance> rebalance_;  // the rebalance callback's steps
  std::unique_ptr<delivery::Recovery> recovery_;    // a client lost for good
  // Messages consumed and handed to the workers, not finished yet, oldest
  // first (docs/delivery.md, "Workers"). Empty whenever Run() returns.
  // workers_ is declared after read_ahead_: the workers read its bytes
  // until they are stopped.
  struct ReadAhead {
    InputMessage msg;
    uint32_t input = 0;     // its index in the batch, once decided (AddInput)
    bool rejected = false;  // decided: Kafka refused one of its outputs; dead-lettered
  };
  std::deque<ReadAhead> read_ahead_;  // read_ahead_[i] is workers_'s i-th oldest slot
  std::unique_ptr<app::Workers> workers_;
};

}  // namespace dedupd::loop
