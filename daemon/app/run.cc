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
#include "api/api.h"
#include "app/ownership.h"
#include "app/settings.h"
#include "common/log.h"
#include "delivery/client_config.h"
#include "delivery/client_events.h"
#include "delivery/health.h"
#include "delivery/rdkafka_edge.h"
#include "delivery/store_guard.h"
#include "delivery/topics.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "loop/loop.h"
#include "loop/rdkafka_input.h"
#include "metrics/http_server.h"
#include "metrics/liveness.h"
#include "metrics/owner_routing.h"
#include "pipeline/pipeline.h"
#include "replay/replay.h"
#include "state/store.h"
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
        http_(HttpServerOptionsFrom(cfg)),
        events_(&metrics_, &delivery_metrics_, cfg.topics.input),
        liveness_(cfg.health.liveness_timeout),
        producer_(cfg.topics.input, [this] { return input_ ? input_->consumer() : nullptr; }),
        consumer_edge_(cfg.topics.input, [this] { return input_ ? input_->consumer() : nullptr; }),
        store_edge_(&store_, &detector_),
        store_guard_(&store_edge_, &clock_, &store_metrics_, StoreHooks()),
        health_(&liveness_, &events_.brokers(), &store_guard_, &metrics_, &delivery_metrics_) {}
  // The HTTP threads read the store through api_: stopped before any member
  // they use is destroyed, whichever way Run() returned.
  ~Daemon() { http_.Stop(); }

  int Run();

 private:
  bool Setup();
  bool StartHttp();
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
  // Used by the HTTP server's threads: declared before http_ so that they
  // outlive it (members are destroyed in reverse order).
  OwnershipIndex ownership_;
  std::unique_ptr<metrics::OwnerRouter> router_;
  metrics::HttpServer http_;
  delivery::SteadyClock clock_;
  delivery::ClientEvents events_;
  metrics::Liveness liveness_;  // /healthz: the loop's last sign of progress
  kafka::ConfPtr pconf_;        // the producer's, kept to re-create it (Recovery)
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  api::CopyIndex copies_{api::kCopyIndexEdges};  // reverse copy edges for the API
  std::unique_ptr<api::Api> api_;                // read-only; HTTP threads use it
  std::atomic<const api::Api*> api_ready_{nullptr};
  std::unique_ptr<Pipeline> pipeline_;
  // The state readers (sync/state_sync.h) and their librdkafka edge.
  std::unique_ptr<sync::RdKafkaSyncEdge> sync_edge_;
  std::unique_ptr<sync::StateSync> sync_;
  // Edited releases, posted once their transaction has committed.
  std::unique_ptr<alert::AlertmanagerNotifier> notifier_;
  // The delivery stage's librdkafka edge: both reach the consumer through
  // input_; the producer is destroyed before loop_ (its batch takes the reports).
  std::unique_ptr<loop::Loop> loop_;
  delivery::RdKafkaProducer producer_;
  delivery::RdKafkaConsumer consumer_edge_;
  // Full disk (docs/delivery.md): whether the store takes writes, a failed write.
  sync::DetectorStoreEdge store_edge_;
  delivery::StoreGuard store_guard_;
  // /readyz, /healthz, /metrics, dedupd_ready; read by HTTP threads until http_.Stop().
  delivery::Health health_;
  // Declared last: its close() on destruction runs the rebalance callback (loop_).
  std::unique_ptr<loop::RdKafkaInput> input_;
};

// Metrics and health first, so that a slow start is visible.
bool Daemon::StartHttp() {
  const int port = cfg_.metrics.port;
  if (port <= 0) return true;
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
  if (std::string error; !http_.Start(cfg_.metrics.bind, port, &error)) {
    log::Error("cannot start the metrics server", {{"error", error}});
    return false;
  }
  log::Info("metrics", {{"url", "http://" + cfg_.metrics.bind + ":" + std::to_string(http_.port()) +
                                    "/metrics"}});
  return true;
}

bool Daemon::Setup() {
  std::string error;
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
  if (!StartHttp()) return false;

  // Topics. The broker may not be up yet: retry with backoff until a signal,
  // unless the answer is final (a changelog that does not match the input).
  delivery::RdKafkaTopicAdmin admin(common, std::chrono::seconds(15));
  delivery::TopicPlan plan{cfg_.topics.input,
                           cfg_.topics.state,
                           cfg_.topics.fingerprints,
                           {cfg_.topics.events, cfg_.topics.diffs, cfg_.topics.dlq},
                           cfg_.kafka.create_topics,
                           cfg_.kafka.partitions,
                           cfg_.kafka.replication_factor};
  delivery::TopicsWaitHooks topic_hooks;
  topic_hooks.beat = [this](const char* what) { liveness_.Beat(what); };
  topic_hooks.cancelled = Cancelled;
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

  // Producer. init_transactions() comes before the state is read: it fences a
  // previous incarnation of this instance slot and aborts its open
  // transaction, which would otherwise hold back the stable end of the state
  // topics until transaction.timeout.ms.
  const bool exactly_once = cfg_.processing.mode == config::ProcessingMode::kExactlyOnce;
  const kafka::Props pprops = delivery::ProducerProps(common, cfg_.kafka.producer_properties,
                                                      exactly_once, cfg_.kafka.transactional_id);
  pconf_ = kafka::MakeConf(pprops, &error);
  if (!pconf_) {
    log::Error("invalid producer configuration", {{"error", error}});
    return false;
  }
  // The consumer (its group membership starts with Open(), after the
  // bootstrap), then the loop.
  kafka::Props reader_props = common;
  for (const auto& [k, v] : cfg_.kafka.consumer_properties) reader_props[k] = v;
  kafka::ConfPtr cconf = kafka::MakeConf(
      delivery::ConsumerProps(reader_props, cfg_.kafka.group_id, cfg_.kafka.group_instance_id,
                              cfg_.kafka.statistics_interval),
      &error);
  if (!cconf) {
    log::Error("invalid consumer configuration", {{"error", error}});
    return false;
  }
  cconf->set("event_cb", &events_, error);
  input_ = std::make_unique<loop::RdKafkaInput>(
      std::move(cconf), cfg_.topics.input,
      [this](delivery::RebalanceEdge& edge, delivery::RebalanceEvent event,
             const std::vector<int32_t>& ids) { loop_->OnRebalance(edge, event, ids); });
  MakeLoop();
  pconf_->set("event_cb", &events_, error);
  if (!producer_.Create(pconf_.get(), loop_->batch().tracker(), &error)) {
    log::Error("cannot create the producer", {{"error", error}});
    return false;
  }
  if (exactly_once && !loop_->batch().InitTransactions()) return false;
  health_.producer_ready = true;

  // The global index: every instance's fingerprints, read before processing.
  sync_edge_ = std::make_unique<sync::RdKafkaSyncEdge>(reader_props, common, &events_,
                                                       cfg_.kafka.group_id + ".state-reader");
  sync::StateSyncOptions so;
  so.changelog_topic = cfg_.topics.state;
  so.fingerprints_topic = cfg_.topics.fingerprints;
  so.stable_timeout = cfg_.state.restore_timeout;
  // Called between the restore's reads and waits: a sign of progress.
  so.cancelled = [this] {
    liveness_.Beat("state restore");
    return Cancelled();
  };
  so.on_changelog_record = [this](std::string_view url, int32_t p) { ownership_.Record(url, p); };
  sync_ = std::make_unique<sync::StateSync>(so, sync_edge_.get(), &clock_, detector_.get(),
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
  if (kafka::Status opened = input_->Open(); !opened.ok()) {
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

// The loop stage (loop/loop.h) from the settings, and its hooks into what
// this daemon owns (ownership, the state sync, Alertmanager, the producer).
void Daemon::MakeLoop() {
  loop::LoopOptions lo = loop::LoopOptionsFrom(cfg_, pipeline_->options());
  // The effective message.max.bytes (librdkafka's default unless
  // kafka.producer.message.max.bytes sets it): larger records are refused by
  // produce() and are dead-lettered without being produced.
  if (std::string value; pconf_->get("message.max.bytes", value) == RdKafka::Conf::CONF_OK) {
    lo.batch.max_record_bytes = static_cast<size_t>(std::stoull(value));
  }
  if (const char* freeze = std::getenv("DEDUPD_FAULT_FREEZE_LOOP_FILE")) lo.freeze_file = freeze;

  const loop::LoopParts parts{pipeline_.get(),    detector_.get(), store_.get(), &producer_,
                              &consumer_edge_,    input_.get(),    &clock_,      &metrics_,
                              &delivery_metrics_, &events_,        &health_,     &liveness_,
                              &store_guard_,      &store_edge_,    replay_,      &replay_metrics_};

  loop::LoopHooks hooks;
  hooks.cancelled = Cancelled;
  hooks.stored = [this](std::string_view url, int32_t p) { ownership_.Record(url, p); };
  hooks.assigned = [this](const std::vector<int32_t>& ids) { ownership_.Assign(ids); };
  hooks.given_up = [this](const std::vector<int32_t>& ids) { ownership_.Revoke(ids); };
  if (notifier_) {
    hooks.alert = [this](const v1::PageEvent& event, const v1::PageDiff& diff) {
      notifier_->Enqueue(event, diff);
    };
  }
  hooks.tail = [this](size_t max_records) { return sync_->Tail(max_records); };
  hooks.restore = [this](const std::vector<int32_t>& ids) { return sync_->RestorePartitions(ids); };
  hooks.destroy_producer = [this] { producer_.Destroy(); };
  hooks.create_producer = [this](delivery::DeliveryReportSink* sink, std::string* e) {
    return producer_.Create(pconf_.get(), sink, e);
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
  input_.reset();
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
