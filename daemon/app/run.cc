// `dedupd run`: the wiring of the Kafka daemon. Reads the typed settings,
// builds the stages and runs the loop. The stages: loop/ (the per-message
// loop: batches, commits, aborts, rebalances, recovery of lost clients),
// delivery/ (the batch and its transaction, delivery tracking and refused
// records, topics, the full-disk guard, health), sync/ (restore from the
// changelog, the fingerprints topic), pipeline/ (detection and its workers).
// Guarantees and their limits: docs/delivery.md; librdkafka's sequence and
// pitfalls: ../shared/KAFKA.md and docs/kafka.md.
#include "app/run.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alert/alertmanager.h"
#include "app/http_front.h"
#include "app/settings.h"
#include "common/log.h"
#include "delivery/client_config.h"
#include "delivery/client_events.h"
#include "delivery/health.h"
#include "delivery/store_guard.h"
#include "delivery/topics.h"
#include "loop/loop.h"
#include "loop/rdkafka_clients.h"
#include "metrics/liveness.h"
#include "pipeline/pipeline.h"
#include "replay/replay.h"
#include "state/store.h"
#include "sync/state_sync.h"
#include "sync/store_edge.h"
#include "sync/sync_metrics.h"

namespace dedupd::app {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // a second signal exits at once
}

bool Cancelled() {
  return g_signals.load() > 0;
}

class Daemon {
 public:
  Daemon(const config::Settings& cfg, ReplayRun* replay)
      : cfg_(cfg),
        replay_(replay),
        metrics_(cfg.metrics.site_label_limit, DEDUPD_VERSION),
        delivery_metrics_(*metrics_.registry()),
        sync_metrics_(*metrics_.registry()),
        alert_metrics_(*metrics_.registry()),
        store_metrics_(*metrics_.registry()),
        replay_metrics_(*metrics_.registry()),
        front_(cfg),
        events_(&metrics_, &delivery_metrics_, cfg.topics.input),
        liveness_(cfg.health.liveness_timeout),
        store_edge_(&store_, &detector_),
        store_guard_(&store_edge_, &clock_, &store_metrics_, StoreHooks()),
        health_(&liveness_, &events_.brokers(), &store_guard_, &metrics_, &delivery_metrics_) {}
  // The HTTP threads read the store through api_: stopped before any member
  // they use is destroyed, whichever way Run() returned.
  ~Daemon() { front_.Stop(); }

  int Run();

 private:
  bool Setup();
  void MakeLoop();
  // The state store on a full volume (docs/delivery.md, "Full disk").
  delivery::StoreGuardHooks StoreHooks() {
    delivery::StoreGuardHooks h;
    h.beat = [this](const char* what) { liveness_.Beat(what); };
    h.cancelled = Cancelled;
    h.changed = [this](bool) { health_.Publish(); };
    return h;
  }

  const config::Settings& cfg_;
  ReplayRun* replay_;  // null in `dedupd run`
  metrics::Metrics metrics_;
  delivery::DeliveryMetrics delivery_metrics_;  // on metrics_'s registry
  sync::SyncMetrics sync_metrics_;              // likewise
  alert::AlertMetrics alert_metrics_;           // likewise, with Alertmanager off too
  delivery::StoreMetrics store_metrics_;        // likewise; store_guard_ sets them
  ReplayMetrics replay_metrics_;                // likewise; 0 outside a replay
  HttpFront front_;                             // /metrics, health, the API, owner routing
  delivery::SteadyClock clock_;
  delivery::ClientEvents events_;
  metrics::Liveness liveness_;  // /healthz: the loop's last sign of progress
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  std::unique_ptr<Pipeline> pipeline_;
  // Edited releases, posted once their transaction has committed.
  std::unique_ptr<alert::AlertmanagerNotifier> notifier_;
  // Full disk (docs/delivery.md): whether the store takes writes, a failed write.
  sync::DetectorStoreEdge store_edge_;
  delivery::StoreGuard store_guard_;
  // /readyz, /healthz, /metrics, dedupd_ready; read by HTTP threads until http_.Stop().
  delivery::Health health_;
  // Destroyed in this order: the state readers (over clients_'s edge), the
  // clients (the consumer's close() runs the rebalance callback into loop_,
  // the producer's last reports go to its batch), the loop.
  std::unique_ptr<loop::Loop> loop_;
  std::unique_ptr<loop::RdKafkaClients> clients_;
  std::unique_ptr<sync::StateSync> sync_;
};

bool Daemon::Setup() {
  std::string error;
  // A credential or CA file that cannot be read is a configuration error:
  // fail at once, before waiting for Kafka, rather than drop every alert later.
  const alert::AlertmanagerOptions a = alert::AlertmanagerOptionsFrom(cfg_);
  if (cfg_.alertmanager.enabled && !alert::CheckAlertmanagerOptions(a, &error)) {
    log::Error("invalid Alertmanager settings", {{"error", error}});
    return false;
  }
  if (!front_.Start(cfg_, health_)) return false;  // first: a slow start is visible

  // Topics. The broker may not be up yet: retry with backoff until a signal,
  // unless the answer is final (a changelog that does not match the input).
  delivery::RdKafkaTopicAdmin admin(
      delivery::CommonProps(cfg_.kafka.common_properties, cfg_.kafka.bootstrap_servers,
                            cfg_.kafka.client_id),
      std::chrono::seconds(15));
  delivery::TopicsWaitHooks topic_hooks;
  topic_hooks.beat = [this](const char* what) { liveness_.Beat(what); };
  topic_hooks.cancelled = Cancelled;
  topic_hooks.failed = [this] { metrics_.CountKafkaError("admin"); };
  if (!delivery::PrepareTopicsUntilReady(TopicPlanFrom(cfg_), &admin, &clock_, topic_hooks))
    return false;

  state::RocksStoreOptions store_options;
  store_options.min_free_bytes = cfg_.state.min_free_bytes;
  store_options.blob_min_bytes = cfg_.state.blob_min_bytes;
  // The changelog and the offsets stored with every write make RocksDB's WAL
  // redundant here (docs/delivery.md, "The store is a cache").
  store_options.disable_wal = true;
  store_ = state::OpenRocksStore(cfg_.state.dir, store_options, &error);
  if (!store_) {
    log::Error("cannot open the state store", {{"error", error}});
    return false;
  }
  detector_ = std::make_unique<classify::Detector>(DetectOptionsFrom(cfg_), store_.get());
  detector_->SetStateObserver([this](const state::UrlState& s) { front_.copies().Observe(s); });
  LoadState(detector_.get(), /*log_empty=*/true, [this] { liveness_.Beat("loading state"); });
  front_.ServeApi(store_.get(), ApiOptionsFrom(cfg_));
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  pipeline_ = std::make_unique<Pipeline>(PipelineOptionsFrom(cfg_), detector_.get(), &metrics_);
  if (cfg_.alertmanager.enabled && replay_ == nullptr) {  // a replay never pages anyone
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

  // The Kafka clients (loop/rdkafka_clients.h), the loop, the producer.
  // init_transactions() comes before the state is read: it fences a previous
  // incarnation of this instance slot and aborts its open transaction, which
  // would otherwise hold back the stable end of the state topics until
  // transaction.timeout.ms.
  clients_ = std::make_unique<loop::RdKafkaClients>(
      cfg_, &events_,
      [this](delivery::RebalanceEdge& edge, delivery::RebalanceEvent event,
             const std::vector<int32_t>& ids) { loop_->OnRebalance(edge, event, ids); });
  if (!clients_->ok()) {
    log::Error("invalid Kafka client configuration", {{"error", clients_->error()}});
    return false;
  }
  MakeLoop();
  if (!clients_->CreateProducer(loop_->batch().tracker(), &error)) {
    log::Error("cannot create the producer", {{"error", error}});
    return false;
  }
  if (cfg_.processing.mode == config::ProcessingMode::kExactlyOnce &&
      !loop_->batch().InitTransactions()) {
    return false;
  }
  health_.producer_ready = true;

  // The global index: every instance's fingerprints, read before processing.
  sync::StateSyncOptions so;
  so.changelog_topic = cfg_.topics.state;
  so.fingerprints_topic = cfg_.topics.fingerprints;
  so.stable_timeout = cfg_.state.restore_timeout;
  // Called between the restore's reads and waits: a sign of progress.
  so.cancelled = [this] {
    liveness_.Beat("state restore");
    return Cancelled();
  };
  so.on_changelog_record = [this](std::string_view url, int32_t p) {
    front_.ownership().Record(url, p);
  };
  sync_ = std::make_unique<sync::StateSync>(so, &clients_->sync_edge(), &clock_, detector_.get(),
                                            store_.get(), &metrics_, &sync_metrics_);
  if (kafka::Status read = loop::Bootstrap(*sync_, store_guard_, store_edge_, Cancelled);
      !read.ok()) {
    if (!Cancelled()) log::Error("cannot read the fingerprints topic", {{"error", read.detail()}});
    return false;
  }
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  health_.loaded = true;

  // Consumer.
  if (kafka::Status opened = clients_->input().Open(); !opened.ok()) {
    log::Error("cannot start the consumer", {{"error", opened.detail()}});
    return false;
  }
  log::Info("consuming", {{"topic", cfg_.topics.input},
                          {"group", cfg_.kafka.group_id},
                          {"mode", config::Name(cfg_.processing.mode)},
                          {"state_topic", cfg_.topics.state},
                          {"fingerprints_topic", cfg_.topics.fingerprints}});
  return true;
}

// The loop stage (loop/loop.h) and its hooks into what this daemon owns.
void Daemon::MakeLoop() {
  loop::LoopOptions lo = loop::LoopOptionsFrom(cfg_, pipeline_->options());
  // Larger records are refused by produce(): dead-lettered without being produced.
  lo.batch.max_record_bytes = clients_->MessageMaxBytes(lo.batch.max_record_bytes);
  if (const char* freeze = std::getenv("DEDUPD_FAULT_FREEZE_LOOP_FILE")) lo.freeze_file = freeze;

  const loop::LoopParts parts{
      pipeline_.get(),       detector_.get(),    store_.get(), &clients_->producer(),
      &clients_->consumer(), &clients_->input(), &clock_,      &metrics_,
      &delivery_metrics_,    &events_,           &health_,     &liveness_,
      &store_guard_,         &store_edge_,       replay_,      &replay_metrics_};

  loop::LoopHooks hooks;
  hooks.cancelled = Cancelled;
  hooks.stored = [this](std::string_view url, int32_t p) { front_.ownership().Record(url, p); };
  hooks.assigned = [this](const std::vector<int32_t>& ids) { front_.ownership().Assign(ids); };
  hooks.given_up = [this](const std::vector<int32_t>& ids) { front_.ownership().Revoke(ids); };
  if (notifier_) {
    hooks.alert = [this](const v1::PageEvent& event, const v1::PageDiff& diff) {
      notifier_->Enqueue(event, diff);
    };
  }
  hooks.tail = [this](size_t max_records) { return sync_->Tail(max_records); };
  hooks.restore = [this](const std::vector<int32_t>& ids) { return sync_->RestorePartitions(ids); };
  hooks.destroy_producer = [this] { clients_->producer().Destroy(); };
  hooks.create_producer = [this](delivery::DeliveryReportSink* sink, std::string* e) {
    return clients_->CreateProducer(sink, e);
  };
  loop_ = std::make_unique<loop::Loop>(std::move(lo), parts, std::move(hooks));
  log::Info("detection workers", {{"threads", std::to_string(loop_->workers().threads())}});
}

int Daemon::Run() {
  if (!Setup()) return 1;
  const int code = loop_->Run();
  log::Info("shutting down");
  // close: leaves the group, unless it is a static member (its partitions
  // wait for it); the rebalance callback commits nothing now.
  clients_->CloseInput();
  sync_.reset();
  clients_->producer().Flush(5000);
  if (notifier_) notifier_->Stop();
  front_.Stop();
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
