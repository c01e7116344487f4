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
// On assignment, the changelog partitions of the assigned input partitions
// are restored (StateSync) before any of their messages is processed; the
// fingerprints topic is read at start and tailed between transactions.
// Guarantees and their limits: docs/delivery.md. librdkafka's sequence and
// pitfalls: ../shared/KAFKA.md and docs/kafka.md.
#include "app/run.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include "alert/alertmanager.h"
#include "app/pipeline.h"
#include "app/settings.h"
#include "app/state_sync.h"
#include "common/log.h"
#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "kafka/stats.h"
#include "metrics/http_server.h"
#include "state/store.h"
#include "state/url_state.h"

namespace dedupd::app {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // a second signal exits at once
}

using Clock = std::chrono::steady_clock;

// The internal topics belong to one consumer group: when they are not
// configured anywhere they are named after it (as Kafka Streams names its
// changelogs after the application id), so two deployments with different
// groups never share state. With the default group this gives the documented
// defaults, dedupd-state and dedupd-fingerprints.
std::string InternalTopic(const config::Config& cfg, const std::string& key,
                          const std::string& suffix) {
  auto it = cfg.Sources().find(key);
  if (it != cfg.Sources().end() && it->second == "default") {
    return cfg.Get("kafka.group_id") + suffix;
  }
  return cfg.Get(key);
}

// Counts delivery reports, and remembers how far this batch's changelog
// records reached in each partition: the store commit after the Kafka commit
// records it, so that a later restore starts after this instance's own writes.
// Changelog records carry the batch's tag as msg_opaque; reports of an older
// (aborted) batch are ignored.
class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryTracker(metrics::Metrics* m) : metrics_(m) {}
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      failed_.fetch_add(1);
      metrics_->CountKafkaError("delivery");
      std::lock_guard lock(mu_);
      last_error_ = message.errstr();
      return;
    }
    auto tag = reinterpret_cast<uintptr_t>(message.msg_opaque());
    if (tag == 0) return;
    std::lock_guard lock(mu_);
    if (tag != batch_) return;
    int64_t& reached = reached_[message.partition()];
    reached = std::max(reached, message.offset() + 1);
  }
  void StartBatch(uintptr_t tag) {
    std::lock_guard lock(mu_);
    batch_ = tag;
    reached_.clear();
  }
  std::map<int32_t, int64_t> Reached() {
    std::lock_guard lock(mu_);
    return reached_;
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
  uintptr_t batch_ = 0;
  std::map<int32_t, int64_t> reached_;
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
        brokers_up_ = stats.value().brokers_up;
        for (const auto& p : stats.value().partitions) {
          if (p.topic != input_topic_ || p.partition < 0 || !p.desired) continue;
          if (auto lag = kafka::ExportedLag(p, kafka::Isolation::kReadCommitted)) {
            metrics_->SetConsumerLag(p.topic, p.partition, static_cast<double>(*lag));
          }
        }
        return;
      }
      case RdKafka::Event::EVENT_ERROR:
        metrics_->CountKafkaError(event.fatal() ? "fatal" : "transport");
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
  int brokers_up() const { return brokers_up_.load(); }
  bool fatal() const { return fatal_.load(); }

 private:
  metrics::Metrics* metrics_;
  std::string input_topic_;
  kafka::StatsParser parser_;
  std::atomic<int> brokers_up_{-1};  // -1: no statistics yet
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
  explicit Daemon(const config::Config& cfg)
      : cfg_(cfg),
        exactly_once_(cfg.Get("processing.mode") == "exactly_once"),
        input_topic_(cfg.Get("topics.input")),
        state_topic_(InternalTopic(cfg, "topics.state", "-state")),
        fingerprints_topic_(InternalTopic(cfg, "topics.fingerprints", "-fingerprints")),
        metrics_(static_cast<size_t>(cfg.GetInt("metrics.site_label_limit")), DEDUPD_VERSION),
        delivery_(&metrics_),
        events_(&metrics_, cfg.Get("topics.input")),
        rebalancer_(this),
        unkeyed_(prometheus::BuildCounter()
                     .Name("dedupd_unkeyed_input_total")
                     .Help("Input messages whose key is not their canonical URL (scale-out "
                           "needs the pages topic keyed by URL: docs/delivery.md)")
                     .Register(*metrics_.registry())
                     .Add({})) {}

  int Run();
  void OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& partitions);

 private:
  enum class CommitResult { kCommitted, kAborted, kFatal };

  bool Setup();
  bool PrepareTopics(const kafka::Props& common, bool* permanent, std::string* error);
  bool Produce(const std::string& topic, int32_t partition, const std::string& key,
               const std::string& value, uintptr_t tag);
  CommitResult CommitBatch();
  CommitResult AbortBatch(const std::string& why, bool rewind);
  bool Rewind();
  bool BeginBatch();
  bool ProducerFatal();
  void TailFingerprints();
  bool Ready() const {
    return loaded_ && producer_ready_ && joined_ && !restoring_ && events_.brokers_up() != 0;
  }

  const config::Config& cfg_;
  bool exactly_once_;
  std::string input_topic_;
  std::string state_topic_;
  std::string fingerprints_topic_;
  metrics::Metrics metrics_;
  metrics::HttpServer http_;
  DeliveryTracker delivery_;
  EventHandler events_;
  Rebalancer rebalancer_;
  prometheus::Counter& unkeyed_;
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  std::unique_ptr<Pipeline> pipeline_;
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
  uintptr_t batch_tag_ = 0;
  // When the open batch took its first message: it commits at most
  // processing.commit_interval_ms later, so that a trickle of input is
  // batched too instead of costing a transaction per message.
  Clock::time_point batch_started_ = Clock::now();
  Clock::time_point last_tail_ = Clock::now();
  std::chrono::milliseconds restore_timeout_{120000};
  bool fatal_ = false;
};

void Rebalancer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                              std::vector<RdKafka::TopicPartition*>& partitions) {
  daemon_->OnRebalance(consumer, err, partitions);
}

void Daemon::OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                         std::vector<RdKafka::TopicPartition*>& partitions) {
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    std::vector<int32_t> ids;
    std::string list;
    for (auto* tp : partitions) {
      ids.push_back(tp->partition());
      list += (list.empty() ? "" : ",") + std::to_string(tp->partition());
    }
    log::Info("partitions assigned", {{"partitions", list}});
    if (fatal_) return;
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
      if (Clock::now() >= deadline) {
        log::Error("cannot fetch the committed offsets of the assigned partitions",
                   {{"error", kafka::DescribeError(e)}});
        fatal_ = true;
        return;
      }
      log::Warn("fetching committed offsets: retrying", {{"error", kafka::DescribeError(e)}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    // 2. The partitions' state, from the changelog, before any message.
    std::string error;
    if (!sync_->RestorePartitions(ids, &error)) {
      if (g_signals.load() > 0) return;  // shutting down: nothing to process
      log::Error("state restore failed; exiting for the supervisor to restart",
                 {{"partitions", list}, {"error", error}});
      fatal_ = true;
      return;
    }
    metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
    // 3. Consume from the offsets fetched in 1.
    consumer->assign(partitions);
    restoring_ = false;
    joined_ = true;
    metrics_.SetReady(Ready());
    return;
  }
  // Revoked (or lost): finish what was processed for these partitions first,
  // so that their next owner starts exactly where this instance stopped. The
  // state of the revoked partitions stays in the store and the global index:
  // it is every instance's near-duplicate reference, kept current by the
  // fingerprints topic, and the changelog offsets stored with it let a later
  // restore of the same partitions read only what changed since.
  log::Info("partitions revoked", {{"count", std::to_string(partitions.size())}});
  if (!fatal_ && (uncommitted_ > 0 || in_transaction_)) {
    if (consumer->assignment_lost()) {
      // Another member may own them already: nothing of this batch may commit.
      if (AbortBatch("assignment lost", false) == CommitResult::kFatal) fatal_ = true;
    } else if (CommitBatch() == CommitResult::kFatal) {
      fatal_ = true;
    }
  }
  batch_first_offset_.clear();
  consumer->unassign();
}

bool Daemon::PrepareTopics(const kafka::Props& common, bool* permanent, std::string* error) {
  *permanent = false;
  const bool create = cfg_.GetBool("kafka.create_topics");
  const auto timeout = std::chrono::seconds(15);
  const int32_t partitions = static_cast<int32_t>(cfg_.GetInt("kafka.partitions"));
  const int16_t rf = static_cast<int16_t>(cfg_.GetInt("kafka.replication_factor"));
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
  topics_ = {{OutputTopic::kEvents, cfg_.Get("topics.events")},
             {OutputTopic::kDiffs, cfg_.Get("topics.diffs")},
             {OutputTopic::kDlq, cfg_.Get("topics.dlq")}};
  restore_timeout_ = std::chrono::milliseconds(cfg_.GetInt("state.restore_timeout_ms"));
  kafka::Props common = cfg_.KafkaProperties("common");
  common["bootstrap.servers"] = cfg_.Get("kafka.bootstrap_servers");
  common["client.id"] = cfg_.Get("kafka.client_id");

  // Metrics and health first, so that a slow start is visible.
  int port = static_cast<int>(cfg_.GetInt("metrics.port"));
  if (port > 0) {
    http_.Handle("/metrics", [this] {
      return metrics::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                   metrics_.Render()};
    });
    http_.Handle("/healthz", [] { return metrics::HttpResponse{200, "text/plain", "ok\n"}; });
    http_.Handle("/readyz", [this] {
      bool ready = Ready();
      std::string body =
          std::string(ready ? "ready" : "not ready") + "\nstate_loaded=" + (loaded_ ? "1" : "0") +
          "\nproducer_ready=" + (producer_ready_ ? "1" : "0") +
          "\ngroup_joined=" + (joined_ ? "1" : "0") + "\nrestoring=" + (restoring_ ? "1" : "0") +
          "\nbrokers_up=" + std::to_string(events_.brokers_up()) + "\n";
      return metrics::HttpResponse{ready ? 200 : 503, "text/plain", body};
    });
    if (!http_.Start(cfg_.Get("metrics.bind"), port, &error)) {
      log::Error("cannot start the metrics server", {{"error", error}});
      return false;
    }
    log::Info("metrics", {{"url", "http://" + cfg_.Get("metrics.bind") + ":" +
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
    if (g_signals.load() > 0) return false;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(500 << std::min(attempt, 4), 8000)));
  }

  store_ = state::OpenRocksStore(cfg_.Get("state.dir"), &error);
  if (!store_) {
    log::Error("cannot open the state store", {{"error", error}});
    return false;
  }
  detector_ = std::make_unique<classify::Detector>(DetectOptionsFrom(cfg_), store_.get());
  auto started = Clock::now();
  size_t loaded = detector_->LoadFromStore(
      [](size_t n) {
        log::Info("loading state", {{"urls", std::to_string(n)}});
      },
      100000);
  log::Info(
      "state loaded",
      {{"urls", std::to_string(loaded)},
       {"seconds", std::to_string(std::chrono::duration<double>(Clock::now() - started).count())}});
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  pipeline_ = std::make_unique<Pipeline>(PipelineOptionsFrom(cfg_), detector_.get(), &metrics_);
  if (cfg_.GetBool("alertmanager.enabled")) {
    alert::AlertmanagerOptions a;
    a.url = cfg_.Get("alertmanager.url");
    a.min_severity = cfg_.Get("alertmanager.min_severity");
    a.batch_size = static_cast<size_t>(cfg_.GetInt("alertmanager.batch_size"));
    a.timeout_ms = static_cast<int>(cfg_.GetInt("alertmanager.timeout_ms"));
    a.retries = static_cast<int>(cfg_.GetInt("alertmanager.retries"));
    notifier_ = std::make_unique<alert::AlertmanagerNotifier>(a, &metrics_);
    notifier_->Start();
    log::Info("posting edited releases to Alertmanager", {{"url", a.url}});
  }

  // Producer. init_transactions() comes before the state is read: it fences a
  // previous incarnation of this instance slot and aborts its open
  // transaction, which would otherwise hold back the stable end of the state
  // topics until transaction.timeout.ms.
  kafka::Props pprops = common;
  for (const auto& [k, v] : cfg_.KafkaProperties("producer")) pprops[k] = v;
  pprops.try_emplace("acks", "all");
  pprops.try_emplace("enable.idempotence", "true");
  pprops.try_emplace("linger.ms", "5");
  pprops.try_emplace("statistics.interval.ms", "0");
  if (exactly_once_) {
    pprops["transactional.id"] = cfg_.Get("kafka.transactional_id");
    pprops.try_emplace("transaction.timeout.ms", "10000");
    pprops.try_emplace("message.timeout.ms", "10000");
  }
  kafka::ConfPtr pconf = kafka::MakeConf(pprops, &error);
  if (!pconf) {
    log::Error("invalid producer configuration", {{"error", error}});
    return false;
  }
  pconf->set("dr_cb", &delivery_, error);
  pconf->set("event_cb", &events_, error);
  producer_.reset(RdKafka::Producer::create(pconf.get(), error));
  if (!producer_) {
    log::Error("cannot create the producer", {{"error", error}});
    return false;
  }
  if (exactly_once_) {
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->init_transactions(30000));
      if (!e) break;
      metrics_.CountKafkaError("init_transactions");
      if (e->is_fatal() || g_signals.load() > 0) {
        log::Error("init_transactions failed", {{"error", kafka::DescribeError(*e)}});
        return false;
      }
      log::Warn("init_transactions: retrying", {{"error", kafka::DescribeError(*e)}});
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(500 << std::min(attempt, 4), 8000)));
    }
  }
  producer_ready_ = true;

  // The global index: every instance's fingerprints, read before processing.
  kafka::Props cprops = common;
  for (const auto& [k, v] : cfg_.KafkaProperties("consumer")) cprops[k] = v;
  StateSyncOptions so;
  so.props = cprops;
  so.admin_props = common;
  so.events = &events_;
  so.changelog_topic = state_topic_;
  so.fingerprints_topic = fingerprints_topic_;
  so.reader_group = cfg_.Get("kafka.group_id") + ".state-reader";
  so.stable_timeout = restore_timeout_;
  so.cancelled = [] { return g_signals.load() > 0; };
  sync_ = std::make_unique<StateSync>(so, detector_.get(), store_.get(), &metrics_);
  if (!sync_->Bootstrap(&error)) {
    log::Error("cannot read the fingerprints topic", {{"error", error}});
    return false;
  }
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  loaded_ = true;

  // Consumer.
  cprops["group.id"] = cfg_.Get("kafka.group_id");
  cprops["enable.auto.commit"] = "false";
  cprops["enable.auto.offset.store"] = "false";
  cprops.try_emplace("isolation.level", "read_committed");
  cprops.try_emplace("auto.offset.reset", "earliest");
  cprops.try_emplace("partition.assignment.strategy", "range");
  cprops["statistics.interval.ms"] = cfg_.Get("kafka.statistics_interval_ms");
  kafka::ConfPtr cconf = kafka::MakeConf(cprops, &error);
  if (!cconf) {
    log::Error("invalid consumer configuration", {{"error", error}});
    return false;
  }
  cconf->set("event_cb", &events_, error);
  cconf->set("rebalance_cb", &rebalancer_, error);
  consumer_.reset(RdKafka::KafkaConsumer::create(cconf.get(), error));
  if (!consumer_) {
    log::Error("cannot create the consumer", {{"error", error}});
    return false;
  }
  if (auto err = consumer_->subscribe({input_topic_}); err != RdKafka::ERR_NO_ERROR) {
    log::Error("cannot subscribe", {{"error", kafka::DescribeError(err)}});
    return false;
  }
  log::Info("consuming", {{"topic", input_topic_},
                          {"group", cfg_.Get("kafka.group_id")},
                          {"mode", cfg_.Get("processing.mode")},
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
  return true;
}

bool Daemon::BeginBatch() {
  batch_started_ = Clock::now();
  // A new tag: delivery reports of an earlier, aborted batch no longer count.
  delivery_.StartBatch(++batch_tag_);
  if (!exactly_once_ || in_transaction_) return true;
  if (ProducerFatal()) return false;
  kafka::ErrorPtr e(producer_->begin_transaction());
  if (e) {
    log::Error("begin_transaction failed", {{"error", kafka::DescribeError(*e)}});
    return false;
  }
  in_transaction_ = true;
  return true;
}

bool Daemon::Produce(const std::string& topic, int32_t partition, const std::string& key,
                     const std::string& value, uintptr_t tag) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto err = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                  const_cast<char*>(value.data()), value.size(), key.data(),
                                  key.size(), 0, reinterpret_cast<void*>(tag));
    if (err == RdKafka::ERR_NO_ERROR) return true;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      metrics_.CountKafkaError("produce");
      log::Error("produce failed", {{"topic", topic}, {"error", kafka::DescribeError(err)}});
      return false;
    }
    producer_->poll(50);  // the local queue is full: serve delivery reports, then retry
  }
  return false;
}

// Seeks every partition of the batch back to its first message of the batch
// (the position the last commit left it at). Local to the consumer: it needs
// no broker, so it also works while the broker is away.
bool Daemon::Rewind() {
  for (const auto& [partition, offset] : batch_first_offset_) {
    std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(input_topic_, partition, offset));
    if (auto err = consumer_->seek(*tp, 10000); err != RdKafka::ERR_NO_ERROR) {
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
      kafka::ErrorPtr e(producer_->abort_transaction(30000));
      if (!e) break;
      if (e->is_fatal() || attempt >= 10) {
        log::Error("abort_transaction failed", {{"error", kafka::DescribeError(*e)}});
        return CommitResult::kFatal;
      }
      log::Warn("abort_transaction: retrying", {{"error", kafka::DescribeError(*e)}});
    }
  }
  in_transaction_ = false;
  delivery_.StartBatch(++batch_tag_);
  detector_->Rollback();
  pending_alerts_.clear();
  if (rewind && !Rewind()) return CommitResult::kFatal;
  batch_first_offset_.clear();
  uncommitted_ = 0;
  metrics_.CountTransaction("aborted");
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
    if (ProducerFatal()) return CommitResult::kFatal;
    kafka::ConsumerGroupMetadataPtr meta(consumer_->groupMetadata());
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->send_offsets_to_transaction(positions.get(), meta.get(), 30000));
      if (!e) break;
      switch (kafka::ClassifyTxnError(*e)) {
        case kafka::TxnErrorAction::kRetry:
          if (attempt < 10) continue;
          log::Error("send_offsets_to_transaction keeps failing; restarting",
                     {{"error", kafka::DescribeError(*e)}});
          return CommitResult::kFatal;
        case kafka::TxnErrorAction::kAbort: return AbortBatch(kafka::DescribeError(*e), true);
        case kafka::TxnErrorAction::kFatal:
          log::Error("send_offsets_to_transaction: fatal", {{"error", kafka::DescribeError(*e)}});
          return CommitResult::kFatal;
      }
    }
    if (ProducerFatal()) return CommitResult::kFatal;
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->commit_transaction(30000));
      if (!e) break;
      switch (kafka::ClassifyTxnError(*e)) {
        case kafka::TxnErrorAction::kRetry:
          if (attempt < 10) continue;
          log::Error("commit_transaction stays ambiguous; restarting",
                     {{"error", kafka::DescribeError(*e)}});
          return CommitResult::kFatal;
        case kafka::TxnErrorAction::kAbort: return AbortBatch(kafka::DescribeError(*e), true);
        case kafka::TxnErrorAction::kFatal:
          log::Error("commit_transaction: fatal", {{"error", kafka::DescribeError(*e)}});
          return CommitResult::kFatal;
      }
    }
    in_transaction_ = false;
  } else {
    uint64_t failed_before = delivery_.failed();
    producer_->flush(60000);
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
    log::Error("state store commit failed after the Kafka commit", {{"error", error}});
    return CommitResult::kFatal;
  }
  metrics_.CountTransaction("committed");
  if (notifier_) {
    for (const auto& [event, diff] : pending_alerts_) notifier_->Enqueue(event, diff);
  }
  pending_alerts_.clear();
  batch_first_offset_.clear();
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  uncommitted_ = 0;
  return CommitResult::kCommitted;
}

void Daemon::TailFingerprints() {
  if (uncommitted_ > 0 || in_transaction_ || detector_->HasStaged()) return;
  if (Clock::now() - last_tail_ < std::chrono::milliseconds(100)) return;
  last_tail_ = Clock::now();
  std::string error;
  if (!sync_->Tail(20000, &error)) {
    log::Error("applying fingerprint records failed", {{"error", error}});
    fatal_ = true;
  }
}

int Daemon::Run() {
  if (!Setup()) return 1;
  metrics_.SetReady(Ready());
  const size_t batch_size = static_cast<size_t>(cfg_.GetInt("processing.batch_size"));
  const size_t commit_messages = static_cast<size_t>(cfg_.GetInt("processing.commit_messages"));
  const auto commit_interval =
      std::chrono::milliseconds(cfg_.GetInt("processing.commit_interval_ms"));
  std::vector<OutputRecord> records;
  uint64_t unkeyed_logged = 0;

  while (g_signals.load() == 0 && !fatal_ && !events_.fatal()) {
    bool failed = false;
    for (size_t n = 0; n < batch_size && g_signals.load() == 0 && !fatal_; ++n) {
      kafka::MessagePtr msg(consumer_->consume(n == 0 ? 100 : 0));
      if (!msg) break;
      if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) break;
      if (msg->err() != RdKafka::ERR_NO_ERROR) {
        metrics_.CountKafkaError("consume");
        log::Warn("consume error", {{"error", msg->errstr()}});
        break;
      }
      if (uncommitted_ == 0 && !BeginBatch()) {
        fatal_ = true;
        break;
      }
      const int32_t partition = msg->partition();
      batch_first_offset_.try_emplace(partition, msg->offset());
      records.clear();
      SourceCoordinates source{input_topic_, partition, msg->offset(), msg->timestamp().timestamp};
      std::string_view key =
          msg->key_pointer() != nullptr
              ? std::string_view(static_cast<const char*>(msg->key_pointer()), msg->key_len())
              : std::string_view{};
      PipelineResult result = pipeline_->Process(
          {std::string_view(static_cast<const char*>(msg->payload()), msg->len()), key, source},
          &records);
      ++uncommitted_;
      if (result.kind != PipelineResult::Kind::kDeadLetter && key != result.page.canonical_url) {
        unkeyed_.Increment();
        if (unkeyed_logged++ % 10000 == 0) {
          log::Warn(
              "input message not keyed by its canonical URL (counted in "
              "dedupd_unkeyed_input_total; see docs/delivery.md)",
              {{"key", std::string(key.substr(0, 200))},
               {"canonical_url", result.page.canonical_url}});
        }
      }
      if (notifier_ && result.kind == PipelineResult::Kind::kEvent && result.diff &&
          result.outcome.verdict == Verdict::kRevised) {
        pending_alerts_.emplace_back(std::move(result.event), std::move(*result.diff));
      }
      for (const auto& r : records) {
        if (!Produce(topics_[r.topic], RdKafka::Topic::PARTITION_UA, r.key, r.value, 0)) {
          failed = true;
          break;
        }
      }
      // The state this page wrote: to the changelog partition of its input
      // partition (the restore of partition p reads changelog partition p)
      // and to the fingerprints topic every instance reads.
      if (!failed && result.outcome.stored) {
        const std::string value = state::EncodeUrlState(*result.outcome.stored);
        const std::string& url = result.outcome.stored->canonical_url;
        failed = !Produce(state_topic_, partition, url, value, batch_tag_) ||
                 !Produce(fingerprints_topic_, RdKafka::Topic::PARTITION_UA, url, value, 0);
      }
      if (failed) break;
    }
    if (failed) {
      // A record that did not go out must not be committed without it.
      if (AbortBatch("produce failed", true) == CommitResult::kFatal) fatal_ = true;
      continue;
    }
    producer_->poll(0);
    metrics_.SetReady(Ready());
    if (uncommitted_ > 0 &&
        (uncommitted_ >= commit_messages || Clock::now() - batch_started_ >= commit_interval)) {
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
  log::Info("shutting down");
  consumer_.reset();  // close: leaves the group (rebalance callback commits nothing now)
  sync_.reset();
  producer_->flush(5000);
  if (notifier_) notifier_->Stop();
  http_.Stop();
  return code;
}

}  // namespace

int RunDaemon(const config::Config& cfg) {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  const int grace_ms = static_cast<int>(cfg.GetInt("shutdown.grace_period_ms"));
  // The grace period bounds the whole shutdown: a watchdog ends the process
  // if the final commit and close take longer.
  std::thread([grace_ms] {
    while (g_signals.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::milliseconds(grace_ms));
    log::Error("shutdown grace period exceeded; exiting");
    _exit(1);
  }).detach();
  Daemon daemon(cfg);
  return daemon.Run();
}

}  // namespace dedupd::app
