// `dedupd run`: the wiring of the Kafka loop. Consume a batch, run each
// message through the Pipeline on the workers, produce its records into the
// open batch, commit after processing.commit_messages messages or
// processing.commit_interval_ms. The stages it wires: delivery/ (the batch
// and its transaction, delivery tracking and refused records, topics,
// rebalances, recovery of a lost client, the full-disk guard, health), sync/
// (restore from the changelog, the fingerprints topic), pipeline/pipeline and
// pipeline/workers (detection). Guarantees and their limits: docs/delivery.md;
// librdkafka's sequence and pitfalls: ../shared/KAFKA.md and docs/kafka.md.
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
#include "app/settings.h"
#include "common/log.h"
#include "delivery/batch.h"
#include "delivery/client_config.h"
#include "delivery/client_events.h"
#include "delivery/health.h"
#include "delivery/rdkafka_edge.h"
#include "delivery/rebalance.h"
#include "delivery/recovery.h"
#include "delivery/restore.h"
#include "delivery/resync.h"
#include "delivery/store_guard.h"
#include "delivery/topics.h"
#include "emit/records.h"
#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "metrics/http_server.h"
#include "metrics/liveness.h"
#include "metrics/owner_routing.h"
#include "pipeline/pipeline.h"
#include "pipeline/workers.h"
#include "replay/replay.h"
#include "state/store.h"
#include "state/url_state.h"
#include "sync/rdkafka_sync_edge.h"
#include "sync/state_sync.h"
#include "sync/store_edge.h"
#include "sync/sync_metrics.h"

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

using delivery::RecordKind;

RecordKind KindOf(OutputTopic topic) {
  switch (topic) {
    case OutputTopic::kEvents: return RecordKind::kEvent;
    case OutputTopic::kDiffs: return RecordKind::kDiff;
    case OutputTopic::kDlq: return RecordKind::kDeadLetter;
  }
  return RecordKind::kEvent;
}

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
        delivery_metrics_(*metrics_.registry()),
        sync_metrics_(*metrics_.registry()),
        alert_metrics_(*metrics_.registry()),
        store_metrics_(*metrics_.registry()),
        http_(HttpServerOptionsFrom(cfg)),
        events_(&metrics_, &delivery_metrics_, cfg.topics.input),
        rebalancer_(this),
        liveness_(cfg.health.liveness_timeout),
        producer_(cfg.topics.input, [this] { return consumer_.get(); }),
        consumer_edge_(cfg.topics.input, [this] { return consumer_.get(); }),
        store_edge_(&store_, &detector_),
        store_guard_(&store_edge_, &clock_, &store_metrics_, StoreHooks()),
        health_(&liveness_, &events_.brokers(), &store_guard_, &metrics_, &delivery_metrics_) {}
  // The HTTP threads read the store through api_: stopped before any member
  // they use is destroyed, whichever way Run() returned.
  ~Daemon() { http_.Stop(); }

  int Run();
  void OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& partitions);

 private:
  using CommitResult = delivery::CommitOutcome;
  using Outgoing = delivery::Outgoing;

  bool Setup();
  CommitResult CommitBatch();
  CommitResult AbortBatch(const std::string& why, bool rewind);
  bool BeginBatch();
  // The oldest message read ahead, finished: its verdict and outputs
  // produced into the open batch (begun if none is). On the way, the
  // messages after it that are prepared are decided, and their outputs
  // encoded by the workers (docs/delivery.md, "Workers").
  // kFailed: the batch must abort; kFatal: fatal_ is set (RecoverProducer).
  enum class Step { kDone, kFailed, kFatal, kCommitNow };
  Step FinishNext(std::string* why);
  // FinishNext's steps: the oldest undecided message decided (false: the
  // batch could not begin, fatal_ is set); the oldest, encoded, produced.
  bool DecideNext(Workers::Slot& slot);
  Step ProduceOldest(Workers::Slot& slot, std::string* why);
  // The workers' encoder: a decided message's output records and state
  // records, into its slot (any thread; reads only the slot and constants).
  void EncodeOutputs(Workers::Slot& slot) const;
  // Messages read ahead when a rebalance starts are finished before the batch
  // commits (or dropped: `drop`, when nothing of the batch commits).
  void FinishReadAhead(bool drop);
  void DropReadAhead();
  bool RecoverProducer();
  // The consumer raised a fatal error (a static member fenced by the group
  // coordinator): re-created in-process, as a restart would (RecoverConsumer).
  bool ConsumerFailed(std::string* reason) const;
  bool RecoverConsumer(const std::string& reason);
  bool MakeConsumer();
  void GiveUp(const std::set<int32_t>& partitions);
  delivery::RebalanceOutcome RestoreAssigned(const std::vector<int32_t>& ids,
                                             Clock::time_point deadline);
  void TailFingerprints();
  // The state store on a full volume (docs/delivery.md, "Full disk"):
  // store_guard_ (delivery/store_guard.h).
  delivery::StoreGuardHooks StoreHooks() {
    delivery::StoreGuardHooks h;
    h.beat = [this](const char* what) { liveness_.Beat(what); };
    h.cancelled = [] { return g_signals.load() > 0; };
    h.changed = [this](bool) { health_.Publish(); };
    return h;
  }
  bool Ready() const { return health_.Ready(); }
  // `dedupd replay` hooks (replay/replay.h); unused when replay_ is null.
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
  delivery::DeliveryMetrics delivery_metrics_;  // on metrics_'s registry
  sync::SyncMetrics sync_metrics_;              // likewise
  alert::AlertMetrics alert_metrics_;           // likewise, with Alertmanager off too
  delivery::StoreMetrics store_metrics_;        // likewise; store_guard_ sets them
  // Used by the HTTP server's threads: declared before http_ so that they
  // outlive it (members are destroyed in reverse order).
  OwnershipIndex ownership_;
  std::unique_ptr<metrics::OwnerRouter> router_;
  metrics::HttpServer http_;
  delivery::SteadyClock clock_;
  delivery::ClientEvents events_;
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
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  api::CopyIndex copies_{api::kCopyIndexEdges};  // reverse copy edges for the API
  std::unique_ptr<api::Api> api_;                // read-only; HTTP threads use it
  std::atomic<const api::Api*> api_ready_{nullptr};
  std::unique_ptr<Pipeline> pipeline_;
  // The state readers (sync/state_sync.h) and their librdkafka edge.
  std::unique_ptr<sync::RdKafkaSyncEdge> sync_edge_;
  std::unique_ptr<sync::StateSync> sync_;
  // The open batch and its transaction (delivery/batch.h); made in Setup().
  // Its producer_lost() (fatal error, fenced, or a transactional call that
  // stayed ambiguous): the producer is re-created in-process, not by an exit.
  std::unique_ptr<delivery::Batch> batch_;
  std::unique_ptr<delivery::Rebalance> rebalance_;  // the rebalance callback's steps
  std::unique_ptr<delivery::Recovery> recovery_;    // a client lost for good
  // The librdkafka edge of the delivery stage. Both reach consumer_ through a
  // function (it is re-created); the producer is re-created in place. The
  // producer is destroyed before batch_, whose tracker takes its reports.
  delivery::RdKafkaProducer producer_;
  delivery::RdKafkaConsumer consumer_edge_;
  // Messages consumed and handed to the workers, not finished yet, oldest
  // first (docs/delivery.md, "Workers"). Empty whenever Run() returns (a
  // message goes before its consumer). Declared before consumer_, whose
  // close() on destruction runs the rebalance callback (FinishReadAhead),
  // after batch_ (which that finishes them into), and workers_ after
  // read_ahead_ and pipeline_: the workers read both until they are stopped.
  struct ReadAhead {
    kafka::MessagePtr msg;
    uint32_t input = 0;     // its index in the batch, once decided (AddInput)
    bool rejected = false;  // decided: Kafka refused one of its outputs; dead-lettered
  };
  std::deque<ReadAhead> read_ahead_;  // read_ahead_[i] is workers_'s i-th oldest slot
  std::unique_ptr<Workers> workers_;
  uint64_t unkeyed_logged_ = 0;
  kafka::KafkaConsumerPtr consumer_;
  std::map<OutputTopic, std::string> topics_;
  // Edited releases of the open transaction, posted to Alertmanager only once
  // the transaction has committed (an aborted batch must not page anyone).
  std::unique_ptr<alert::AlertmanagerNotifier> notifier_;
  std::vector<std::pair<v1::PageEvent, v1::PageDiff>> pending_alerts_;
  std::chrono::milliseconds restore_timeout_{120000};
  bool fatal_ = false;
  // Full disk (docs/delivery.md): whether the store takes writes (read by
  // /readyz), and a store write that failed, kept staged and retried first.
  sync::DetectorStoreEdge store_edge_;
  delivery::StoreGuard store_guard_;
  // /readyz, /healthz, /metrics and dedupd_ready (delivery/health.h); the
  // HTTP threads read it until http_.Stop() in ~Daemon().
  delivery::Health health_;
};

void Rebalancer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                              std::vector<RdKafka::TopicPartition*>& partitions) {
  daemon_->OnRebalance(consumer, err, partitions);
}

// The steps and their order: delivery/rebalance.h.
void Daemon::OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                         std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<int32_t> ids;
  for (auto* tp : partitions) ids.push_back(tp->partition());
  delivery::RdKafkaRebalanceEdge edge(consumer, input_topic_);
  const delivery::RebalanceEvent event =
      err == RdKafka::ERR__ASSIGN_PARTITIONS   ? delivery::RebalanceEvent::kAssign
      : err == RdKafka::ERR__REVOKE_PARTITIONS ? delivery::RebalanceEvent::kRevoke
                                               : delivery::RebalanceEvent::kError;
  if (rebalance_->Callback(edge, event, ids) == delivery::RebalanceOutcome::kFatal) fatal_ = true;
}

// The assigned partitions' state from the changelog (Rebalance::Assigned),
// waiting for space on a full volume (delivery/restore.h).
delivery::RebalanceOutcome Daemon::RestoreAssigned(const std::vector<int32_t>& ids,
                                                   Clock::time_point deadline) {
  delivery::RestoreHooks hooks;
  hooks.beat = [this](const char* what) { liveness_.Beat(what); };
  hooks.cancelled = [] { return g_signals.load() > 0; };
  hooks.brokers_unavailable = [this] { return events_.brokers().Unavailable(); };
  hooks.restore = [this](const std::vector<int32_t>& partitions, std::string* error) {
    return sync_->RestorePartitions(partitions, error);
  };
  hooks.store_error = [this] { return store_edge_.LastError(); };
  const delivery::RebalanceOutcome outcome =
      delivery::RestoreAssigned(ids, deadline, store_guard_, clock_, hooks);
  if (outcome == delivery::RebalanceOutcome::kDone) {
    metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  }
  return outcome;
}

// Partitions this instance no longer owns: their HTTP routing and their lag
// series are their next owner's to report.
void Daemon::GiveUp(const std::set<int32_t>& partitions) {
  ownership_.Revoke(std::vector<int32_t>(partitions.begin(), partitions.end()));
  for (int32_t id : partitions) {
    events_.SetOwned(id, false);
    delivery_metrics_.RemoveConsumerLag(input_topic_, id);
  }
  delivery_metrics_.SetAssignedPartitions(static_cast<double>(events_.owned().size()));
}

bool Daemon::Setup() {
  std::string error;
  topics_ = {{OutputTopic::kEvents, cfg_.topics.events},
             {OutputTopic::kDiffs, cfg_.topics.diffs},
             {OutputTopic::kDlq, cfg_.topics.dlq}};
  restore_timeout_ = cfg_.state.restore_timeout;
  // The clients' properties: delivery/client_config.h.
  const kafka::Props common = delivery::CommonProps(
      cfg_.kafka.common_properties, cfg_.kafka.bootstrap_servers, cfg_.kafka.client_id);
  // A credential or CA file that cannot be read is a configuration error:
  // fail at once, before waiting for Kafka, rather than drop every alert later.
  const alert::AlertmanagerOptions a = alert::AlertmanagerOptionsFrom(cfg_);
  if (cfg_.alertmanager.enabled && !alert::CheckAlertmanagerOptions(a, &error)) {
    log::Error("invalid Alertmanager settings", {{"error", error}});
    return false;
  }
  if (const char* freeze = std::getenv("DEDUPD_FAULT_FREEZE_LOOP_FILE")) freeze_file_ = freeze;

  // Metrics and health first, so that a slow start is visible.
  int port = cfg_.metrics.port;
  if (port > 0) {
    health_.Register(&http_);
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
  delivery::RdKafkaTopicAdmin admin(common, std::chrono::seconds(15));
  delivery::TopicPlan plan{input_topic_,
                           state_topic_,
                           fingerprints_topic_,
                           {},
                           cfg_.kafka.create_topics,
                           cfg_.kafka.partitions,
                           cfg_.kafka.replication_factor};
  for (const auto& [kind, topic] : topics_) plan.outputs.push_back(topic);
  delivery::TopicsWaitHooks topic_hooks;
  topic_hooks.beat = [this](const char* what) { liveness_.Beat(what); };
  topic_hooks.cancelled = [] { return g_signals.load() > 0; };
  topic_hooks.failed = [this] { metrics_.CountKafkaError("admin"); };
  if (!delivery::PrepareTopicsUntilReady(plan, &admin, &clock_, topic_hooks)) return false;

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
  pipeline_ = std::make_unique<Pipeline>(pipeline_options, detector_.get(), &metrics_);
  // Outputs and state records are encoded by the workers (EncodeOutputs),
  // the store takes the state records from there (AdoptRecord).
  workers_ = std::make_unique<Workers>(pipeline_.get(), WorkerThreads(cfg_.processing.threads), 0,
                                       [this](Workers::Slot& slot) { EncodeOutputs(slot); });
  store_->DeferEncoding();
  log::Info("detection workers", {{"threads", std::to_string(workers_->threads())}});
  if (cfg_.alertmanager.enabled) {
    notifier_ = std::make_unique<alert::AlertmanagerNotifier>(a, &alert_metrics_);
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
  const kafka::Props pprops = delivery::ProducerProps(common, cfg_.kafka.producer_properties,
                                                      exactly_once_, cfg_.kafka.transactional_id);
  pconf_ = kafka::MakeConf(pprops, &error);
  kafka::ConfPtr& pconf = pconf_;
  if (!pconf) {
    log::Error("invalid producer configuration", {{"error", error}});
    return false;
  }
  delivery::BatchOptions bo;
  bo.exactly_once = exactly_once_;
  bo.call_timeout_ms = kKafkaCallTimeoutMs;
  // The effective message.max.bytes (librdkafka's default unless
  // kafka.producer.message.max.bytes sets it): larger records are refused by
  // produce() and are dead-lettered without being produced.
  if (std::string value; pconf->get("message.max.bytes", value) == RdKafka::Conf::CONF_OK) {
    bo.max_record_bytes = static_cast<size_t>(std::stoull(value));
  }
  bo.dlq_topic = topics_[OutputTopic::kDlq];
  bo.format = pipeline_options.format;
  bo.dlq_max_original_bytes = pipeline_options.dlq_max_original_bytes;
  delivery::BatchHooks hooks;
  hooks.beat = [this](const char* what) { liveness_.Beat(what); };
  hooks.cancelled = [] { return g_signals.load() > 0; };
  hooks.roll_back = [this] {
    detector_->Rollback();
    pending_alerts_.clear();
  };
  batch_ = std::make_unique<delivery::Batch>(std::move(bo), &producer_, &consumer_edge_, &clock_,
                                             &metrics_, &delivery_metrics_, std::move(hooks));
  delivery::RebalanceHooks rh;
  rh.beat = [this](const char* what) { liveness_.Beat(what); };
  rh.cancelled = [] { return g_signals.load() > 0; };
  rh.brokers_unavailable = [this] { return events_.brokers().Unavailable(); };
  rh.commit = [this] { return CommitBatch(); };
  rh.restoring = [this](bool restoring) {
    health_.restoring = restoring;
    if (restoring) health_.PublishNotReady();
  };
  if (replay_ != nullptr)
    // Partitions the replay's group has no committed offset for start where
    // the replay planned; committed ones continue (an interrupted replay resumes).
    rh.start_offsets = [this](delivery::Offsets& offsets) {
      for (auto& [partition, offset] : offsets) offset = replay_->StartOffset(partition, offset);
    };
  rh.restore = [this](const std::vector<int32_t>& ids, Clock::time_point deadline) {
    return RestoreAssigned(ids, deadline);
  };
  rh.assigned = [this](const std::vector<int32_t>& ids) {
    for (int32_t id : ids) events_.SetOwned(id, true);
    ownership_.Assign(ids);
    delivery_metrics_.SetAssignedPartitions(static_cast<double>(events_.owned().size()));
    health_.restoring = false;
    health_.joined = true;
    health_.Publish();
  };
  rh.given_up = [this](const std::set<int32_t>& partitions) { GiveUp(partitions); };
  rh.owned = [this] { return events_.owned(); };
  rh.loop_fatal = [this] { return fatal_; };
  rh.client_fatal = [this] { return events_.fatal(); };
  rh.finish_read_ahead = [this](bool drop) { FinishReadAhead(drop); };
  rh.recover_producer = [this] { return RecoverProducer(); };
  rh.recovering_consumer = [this] { return recovering_consumer_; };
  rebalance_ = std::make_unique<delivery::Rebalance>(
      batch_.get(), &clock_, &metrics_, &delivery_metrics_, restore_timeout_, std::move(rh));
  delivery::RecoveryHooks rec;
  rec.beat = [this](const char* what) { liveness_.Beat(what); };
  rec.destroy_producer = [this] { producer_.Destroy(); };
  rec.create_producer = [this](std::string* e) {
    return producer_.Create(pconf_.get(), batch_->tracker(), e);
  };
  rec.producer_ready = [this](bool ready) { health_.producer_ready = ready; };
  rec.give_up_all = [this] { GiveUp(events_.owned()); };
  rec.resync.beat = rec.beat;
  rec.resync.cancelled = [] { return g_signals.load() > 0; };
  rec.resync.restoring = [this](bool restoring) { health_.restoring = restoring; };
  rec.resync.restore = [this](const std::vector<int32_t>& ids, std::string* why) {
    return sync_->RestorePartitions(ids, why);
  };
  recovery_ = std::make_unique<delivery::Recovery>(
      batch_.get(), &producer_, &consumer_edge_, &clock_,
      delivery::RecoveryOptions{exactly_once_, kKafkaCallTimeoutMs}, std::move(rec));
  pconf->set("event_cb", &events_, error);
  if (!producer_.Create(pconf.get(), batch_->tracker(), &error)) {
    log::Error("cannot create the producer", {{"error", error}});
    return false;
  }
  if (exactly_once_ && !batch_->InitTransactions()) return false;
  health_.producer_ready = true;

  // The global index: every instance's fingerprints, read before processing.
  kafka::Props cprops = common;
  for (const auto& [k, v] : cfg_.kafka.consumer_properties) cprops[k] = v;
  sync_edge_ = std::make_unique<sync::RdKafkaSyncEdge>(cprops, common, &events_,
                                                       cfg_.kafka.group_id + ".state-reader");
  sync::StateSyncOptions so;
  so.changelog_topic = state_topic_;
  so.fingerprints_topic = fingerprints_topic_;
  so.stable_timeout = restore_timeout_;
  // Called between the restore's reads and waits: a sign of progress.
  so.cancelled = [this] {
    liveness_.Beat("state restore");
    return g_signals.load() > 0;
  };
  so.on_changelog_record = [this](std::string_view url, int32_t p) { ownership_.Record(url, p); };
  sync_ = std::make_unique<sync::StateSync>(so, sync_edge_.get(), &clock_, detector_.get(),
                                            store_.get(), &metrics_, &sync_metrics_);
  // It writes to the store: on a full volume, not ready until there is space.
  while (!store_guard_.Wait(Clock::time_point::max()) || !sync_->Bootstrap(&error)) {
    if (g_signals.load() > 0) return false;
    if (auto why = store_edge_.LastError()) {
      store_guard_.ChunkFailed(*why);
      continue;
    }
    log::Error("cannot read the fingerprints topic", {{"error", error}});
    return false;
  }
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  health_.loaded = true;

  // Consumer.
  cprops = delivery::ConsumerProps(std::move(cprops), cfg_.kafka.group_id,
                                   cfg_.kafka.group_instance_id, cfg_.kafka.statistics_interval);
  kafka::ConfPtr cconf = kafka::MakeConf(cprops, &error);
  if (!cconf) {
    log::Error("invalid consumer configuration", {{"error", error}});
    return false;
  }
  cconf->set("event_cb", &events_, error);
  cconf->set("rebalance_cb", &rebalancer_, error);
  cconf_ = std::move(cconf);
  if (!MakeConsumer()) return false;
  log::Info("consuming", {{"topic", input_topic_},
                          {"group", cfg_.kafka.group_id},
                          {"mode", config::Name(cfg_.processing.mode)},
                          {"state_topic", state_topic_},
                          {"fingerprints_topic", fingerprints_topic_}});
  return true;
}

// A lost producer is re-created in-process (delivery/recovery.h).
bool Daemon::RecoverProducer() {
  if (!recovery_->ProducerRecoverable(fatal_, events_.fatal())) return false;
  if (!recovery_->RecoverProducer()) return false;
  fatal_ = false;
  events_.ClearFatal();
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  health_.Publish();
  return true;
}

bool Daemon::ConsumerFailed(std::string* reason) const {
  return consumer_ && consumer_->fatal_error(*reason) != RdKafka::ERR_NO_ERROR;
}

// A consumer that raised a fatal error takes no part in the group any more,
// and librdkafka 2.0.2 never recovers it (a static member fenced after a
// broker restart or a coordinator move): what a restart would do, in-process
// (delivery/recovery.h), then a new consumer with the same configuration;
// the group gives the partitions back through the rebalance callback.
bool Daemon::RecoverConsumer(const std::string& reason) {
  log::Warn(
      "the consumer failed for good: re-creating it (same group.instance.id) instead of "
      "exiting",
      {{"error", reason}});
  liveness_.Beat("re-creating the consumer");
  delivery_metrics_.CountRebalance("lost");
  health_.joined = false;
  health_.PublishNotReady();
  if (recovery_->ConsumerLost(fatal_) == CommitResult::kFatal) fatal_ = true;
  recovering_consumer_ = true;
  consumer_->close();
  consumer_.reset();
  recovering_consumer_ = false;
  if (!batch_->producer_lost() && producer_.FatalError().ok()) {
    events_.ClearFatal();  // the consumer's fatal error event: dealt with here
  }
  if (g_signals.load() > 0) return false;
  if (!MakeConsumer()) return false;
  log::Info("consumer re-created; partitions come back through the group");
  return true;
}

// The group consumer from cconf_, subscribed to the input topic.
bool Daemon::MakeConsumer() {
  std::string error;
  consumer_.reset(RdKafka::KafkaConsumer::create(cconf_.get(), error));
  if (!consumer_) {
    log::Error("cannot create the consumer", {{"error", error}});
    return false;
  }
  if (auto err = consumer_->subscribe({input_topic_}); err != RdKafka::ERR_NO_ERROR) {
    log::Error("cannot subscribe", {{"error", kafka::DescribeError(err)}});
    return false;
  }
  return true;
}

bool Daemon::BeginBatch() {
  return batch_->Begin();
}

Daemon::Step Daemon::FinishNext(std::string* why) {
  // In input order: a message is decided once prepared, its outputs are
  // encoded by a worker, then produced here. Producing the oldest comes
  // first (it frees its slot for the next message); while it is not
  // encoded, the messages after it are decided, so that the workers encode
  // theirs meanwhile; with nothing to do in order, this thread prepares or
  // encodes one itself, or sleeps until a worker has.
  while (true) {
    if (workers_->DecidedAhead() > 0) {
      if (Workers::Slot* slot = workers_->Producible()) return ProduceOldest(*slot, why);
    }
    if (workers_->Undecided() > 0) {
      if (Workers::Slot* slot = workers_->Decidable()) {
        if (!DecideNext(*slot)) return Step::kFatal;
        continue;
      }
    }
    workers_->Help();
  }
}

bool Daemon::DecideNext(Workers::Slot& slot) {
  ReadAhead& ahead = read_ahead_[workers_->DecidedAhead()];
  if (batch_->uncommitted() == 0 && !BeginBatch()) {
    fatal_ = true;
    return false;
  }
  const RdKafka::Message& msg = *ahead.msg;
  const int32_t partition = msg.partition();
  const int64_t offset = msg.offset();
  // Added in input order, at its decision: an abort from here on undoes
  // the state it staged even when its outputs were never produced.
  ahead.input = batch_->AddInput(
      partition, offset,
      msg.timestamp().type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE
          ? 0
          : msg.timestamp().timestamp);
  ahead.rejected = batch_->rejections().FindCertain(partition, offset) != nullptr;
  if (ahead.rejected) {
    // Kafka refused one of its outputs before the abort: dead-lettered
    // when produced (ProduceOldest), not decided.
    workers_->Decided(/*encode=*/false);
    return true;
  }
  PipelineResult& result = slot.result;
  pipeline_->Finish(slot.message, &slot.prepared, /*out=*/nullptr, &result);
  if (replay_ != nullptr) replay_->Count(result);
  const std::string_view key = slot.message.key;
  if (result.kind != PipelineResult::Kind::kDeadLetter && key != result.page.canonical_url) {
    metrics_.CountUnkeyedInput();
    if (unkeyed_logged_++ % 10000 == 0) {
      log::Warn(
          "input message not keyed by its canonical URL (counted in "
          "dedupd_unkeyed_input_total; see docs/delivery.md)",
          {{"key", std::string(key.substr(0, 200))}, {"canonical_url", result.page.canonical_url}});
    }
  }
  workers_->Decided();
  return true;
}

void Daemon::EncodeOutputs(Workers::Slot& slot) const {
  slot.records.clear();
  const PipelineResult& result = slot.result;
  pipeline_->EncodeOutputs(slot.message, result, &slot.records);
  if (result.outcome.stored) {
    // The state once (the store adopts these bytes: a state is compressed
    // once for the store and the changelog), and the fingerprint record,
    // with no text: every instance reads it (docs/design.md, "The state
    // record"); the text stays in the owner's changelog.
    const state::UrlState& stored = *result.outcome.stored;
    slot.state_record = state::EncodeUrlState(stored);
    slot.fingerprint_record = fingerprint_full_
                                  ? state::EncodeUrlState(stored, state::HistoryPart::kLatest)
                                  : state::EncodeFingerprintRecord(stored);
  }
}

Daemon::Step Daemon::ProduceOldest(Workers::Slot& slot, std::string* why) {
  const ReadAhead ahead = std::move(read_ahead_.front());
  read_ahead_.pop_front();
  // The slot goes back to the workers on every return, before `ahead.msg`
  // (whose bytes its message views) is destroyed.
  struct PopAtEnd {
    Workers* workers;
    ~PopAtEnd() { workers->PopFront(); }
  } pop_at_end{workers_.get()};
  const int32_t partition = ahead.msg->partition();
  const int64_t offset = ahead.msg->offset();
  if (ahead.rejected) {
    auto* rejected = batch_->rejections().FindCertain(partition, offset);
    if (rejected == nullptr ||
        !batch_
             ->DeadLetterRejected(*rejected, slot.message.value, slot.message.key,
                                  slot.message.source, ahead.input)
             .ok()) {
      return Step::kFailed;
    }
  } else {
    PipelineResult& result = slot.result;
    // Everything this input writes: its output records, and the state it
    // wrote, to the changelog partition of its input partition (the
    // restore of partition p reads changelog partition p) and to the
    // fingerprints topic every instance reads.
    std::vector<Outgoing> out;
    for (const auto& r : slot.records) {
      out.push_back(
          {&topics_[r.topic], RdKafka::Topic::PARTITION_UA, &r.key, &r.value, KindOf(r.topic)});
    }
    if (result.outcome.stored) {
      const std::string& url = result.outcome.stored->canonical_url;
      ownership_.Record(url, partition);
      out.push_back({&state_topic_, partition, &url, &slot.state_record, RecordKind::kChangelog});
      out.push_back({&fingerprints_topic_, RdKafka::Topic::PARTITION_UA, &url,
                     &slot.fingerprint_record, RecordKind::kFingerprint});
    }
    // All of them or none: a record produce() would refuse is found before
    // any of them is produced. The Detector has staged this page's state
    // with the batch's, so the batch is aborted (which undoes it) and the
    // retry dead-letters this input.
    if (auto produced = batch_->ProduceInput(out, ahead.input, partition, offset); !produced.ok()) {
      if (!produced.detail().empty()) *why = produced.detail();  // over message.max.bytes
      return Step::kFailed;
    }
    if (result.outcome.stored) {
      // In input order, as the Detector staged them (StateStore::AdoptRecord).
      store_->AdoptRecord(result.outcome.stored->canonical_url, std::move(slot.state_record));
    }
    if (notifier_ && result.kind == PipelineResult::Kind::kEvent && result.diff &&
        result.outcome.verdict == Verdict::kRevised) {
      pending_alerts_.emplace_back(std::move(result.event), std::move(*result.diff));
    }
  }
  // While some input messages are suspected of records the broker refused
  // together with others' records, every input commits alone: a refusal
  // then names its culprit.
  return batch_->CommitEachInput() ? Step::kCommitNow : Step::kDone;
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

Daemon::CommitResult Daemon::AbortBatch(const std::string& why, bool rewind) {
  return batch_->Abort(why, rewind ? delivery::Rewind::kYes : delivery::Rewind::kNo);
}

Daemon::CommitResult Daemon::CommitBatch() {
  const delivery::Offsets positions = consumer_edge_.Positions();
  if (exactly_once_) {
    if (!batch_->in_transaction()) return CommitResult::kCommitted;
    // A batch the store could not take is not committed to Kafka either: its
    // offsets would pass what the store holds (docs/delivery.md, "Full disk").
    if (auto full = store_edge_.CheckWritable()) {
      store_guard_.Note(full, false);
      return AbortBatch("the state store takes no writes: " + full->message, true);
    }
  }
  if (const CommitResult result = batch_->Commit(positions); result != CommitResult::kCommitted) {
    return result;
  }
  batch_->ObserveCommitLatency(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
  // The Kafka side is committed; now the cache. A crash before this line
  // leaves the store behind the changelog, which the next restore replays.
  producer_.Poll(0);  // serve the last delivery reports (changelog offsets)
  std::map<std::string, std::string> meta =
      sync::StateSync::CommittedMetadata(input_topic_, positions, state_topic_, batch_->Reached());
  std::string error;
  if (!detector_->Commit(meta, &error)) {
    // Kafka has the batch, the changelog included; the store is its cache.
    // The write stays staged and is retried before anything else is written
    // and before any new batch (docs/delivery.md, "Full disk"). A crash
    // meanwhile loses nothing: the restore replays the changelog.
    store_guard_.CommitFailed(std::move(meta), store_edge_.LastError(), error);
  }
  if (notifier_) {
    for (const auto& [event, diff] : pending_alerts_) notifier_->Enqueue(event, diff);
  }
  pending_alerts_.clear();
  batch_->Finish(positions);
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  return CommitResult::kCommitted;
}

// `dedupd replay` (replay/replay.h): done once the committed offsets reach the ends.
bool Daemon::ReplayFinished() {
  return replay_->Finished(consumer_edge_, batch_->open(), &metrics_);
}

void Daemon::TailFingerprints() {
  if (batch_->open() || detector_->HasStaged()) return;
  if (store_guard_.unstored() || !store_guard_.writable()) return;  // the store first
  std::string error;
  if (!sync_->Tail(20000, &error)) {
    if (auto why = store_edge_.LastError()) {
      // The chunk stays staged and is written first (StoreGuard::Ready).
      store_guard_.ChunkFailed(*why);
      return;
    }
    log::Error("applying fingerprint records failed", {{"error", error}});
    fatal_ = true;
  }
}

int Daemon::Run() {
  if (!Setup()) return 1;
  delivery_metrics_.SetReady(Ready());
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
    if (batch_->uncommitted() == 0 && !store_guard_.Ready()) {
      if (!store_guard_.HoldInput(consumer_edge_)) fatal_ = true;
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
      const size_t ahead = batch_->CommitEachInput() ? 1 : workers_->capacity();
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
        batch_->NoteConsumed(msg->partition(), msg->offset());
        Workers::Slot& slot = workers_->Acquire();
        slot.message.value = std::string_view(static_cast<const char*>(msg->payload()), msg->len());
        slot.message.key =
            msg->key_pointer() != nullptr
                ? std::string_view(static_cast<const char*>(msg->key_pointer()), msg->key_len())
                : std::string_view{};
        slot.message.source = {input_topic_, msg->partition(), msg->offset(),
                               msg->timestamp().timestamp};
        workers_->Submit();
        read_ahead_.push_back({std::move(msg)});
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
      // takes the consumer back to them (the batch's first offsets have
      // them); with nothing uncommitted after a fatal error, RecoverProducer's
      // resync.
      DropReadAhead();
      if (!fatal_ || batch_->uncommitted() > 0) failed = true;
    }
    if (failed) {
      // A record that did not go out must not be committed without it.
      if (AbortBatch(why, true) == CommitResult::kFatal) fatal_ = true;
      continue;
    }
    producer_.Poll(0);
    delivery_metrics_.SetReady(Ready());
    if (batch_->uncommitted() > 0 &&
        (commit_now || batch_->Due(commit_messages, commit_interval))) {
      if (CommitBatch() == CommitResult::kFatal) fatal_ = true;
    }
    if (!fatal_) TailFingerprints();
  }
  {
    // Where the jobs ran (docs/delivery.md, "Workers").
    const Workers::Stats work = workers_->stats();
    log::Info("detection workers done",
              {{"threads", std::to_string(workers_->threads())},
               {"prepared_here", std::to_string(work.prepared_here)},
               {"prepared_by_workers", std::to_string(work.prepared_by_workers)},
               {"encoded_here", std::to_string(work.encoded_here)},
               {"encoded_by_workers", std::to_string(work.encoded_by_workers)},
               {"waits", std::to_string(work.waits)},
               {"wait_seconds", std::to_string(work.wait_seconds)},
               {"wakeups", std::to_string(work.wakeups)}});
  }
  // Shutdown: stop fetching, finish the batch, commit, close, flush.
  int code = 0;
  if (fatal_ || events_.fatal()) {
    log::Error("fatal error: exiting for the supervisor to restart");
    fatal_ = true;  // the rebalance callback of close() must not touch the producer
    code = 1;
  } else if (batch_->uncommitted() > 0 && CommitBatch() != CommitResult::kCommitted) {
    code = 1;
  }
  if (store_guard_.unstored() && !store_guard_.Ready()) {
    log::Warn("exiting with the state store behind Kafka: the next start's restore replays it",
              {{"error", store_guard_.why()}});
  }
  log::Info("shutting down");
  // close: leaves the group, unless it is a static member (its partitions
  // wait for it); the rebalance callback commits nothing now.
  consumer_.reset();
  sync_.reset();
  producer_.Flush(5000);
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
