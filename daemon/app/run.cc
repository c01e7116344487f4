// `dedupd run`: the Kafka loop. Consume a batch, run each message through the
// Pipeline, produce its records, and commit at the configured interval:
//  - exactly_once: outputs and consumer offsets in one Kafka transaction
//    (send_offsets_to_transaction), the local state store updated only after
//    the commit succeeded; an abortable error aborts, rewinds every assigned
//    partition to its committed offset and rolls the detector back.
//  - at_least_once: flush the producer, require every delivery report to be
//    a success, then commit the consumer offsets and the state.
// librdkafka's sequence and pitfalls: ../shared/KAFKA.md and docs/kafka.md.
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
#include "common/log.h"
#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "kafka/stats.h"
#include "metrics/http_server.h"
#include "state/store.h"

namespace dedupd::app {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // a second signal exits at once
}

using Clock = std::chrono::steady_clock;

class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryCounter(metrics::Metrics* m) : metrics_(m) {}
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      failed_.fetch_add(1);
      metrics_->CountKafkaError("delivery");
      std::lock_guard lock(mu_);
      last_error_ = message.errstr();
    } else {
      delivered_.fetch_add(1);
    }
  }
  uint64_t failed() const { return failed_.load(); }
  std::string last_error() {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  metrics::Metrics* metrics_;
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> delivered_{0};
  std::mutex mu_;
  std::string last_error_;
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

 private:
  metrics::Metrics* metrics_;
  std::string input_topic_;
  kafka::StatsParser parser_;
  std::atomic<int> brokers_up_{-1};  // -1: no statistics yet
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
        metrics_(static_cast<size_t>(cfg.GetInt("metrics.site_label_limit")), DEDUPD_VERSION),
        delivery_(&metrics_),
        events_(&metrics_, cfg.Get("topics.input")),
        rebalancer_(this) {}

  int Run();
  void OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& partitions);

 private:
  bool Setup();
  bool Produce(const OutputRecord& record);
  enum class CommitResult { kCommitted, kAborted, kFatal };
  CommitResult CommitBatch();
  void Rewind();
  bool BeginTransaction();
  bool Ready() const { return loaded_ && producer_ready_ && joined_ && events_.brokers_up() != 0; }

  const config::Config& cfg_;
  bool exactly_once_;
  metrics::Metrics metrics_;
  metrics::HttpServer http_;
  DeliveryCounter delivery_;
  EventHandler events_;
  Rebalancer rebalancer_;
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  std::unique_ptr<Pipeline> pipeline_;
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
  bool in_transaction_ = false;
  size_t uncommitted_ = 0;
  Clock::time_point last_commit_ = Clock::now();
  bool fatal_ = false;
};

void Rebalancer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                              std::vector<RdKafka::TopicPartition*>& partitions) {
  daemon_->OnRebalance(consumer, err, partitions);
}

void Daemon::OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                         std::vector<RdKafka::TopicPartition*>& partitions) {
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    log::Info("partitions assigned", {{"count", std::to_string(partitions.size())}});
    consumer->assign(partitions);
    joined_ = true;
    return;
  }
  // Revoked (or lost): finish what was processed for these partitions first,
  // so that their next owner starts exactly where this instance stopped.
  log::Info("partitions revoked", {{"count", std::to_string(partitions.size())}});
  if (uncommitted_ > 0 || in_transaction_) {
    if (consumer->assignment_lost()) {
      if (exactly_once_ && in_transaction_) {
        kafka::ErrorPtr e(producer_->abort_transaction(-1));
        in_transaction_ = false;
      }
      detector_->Rollback();
      pending_alerts_.clear();
      uncommitted_ = 0;
    } else if (CommitBatch() == CommitResult::kFatal) {
      fatal_ = true;
    }
  }
  consumer->unassign();
}

bool Daemon::Setup() {
  std::string error;
  topics_ = {{OutputTopic::kEvents, cfg_.Get("topics.events")},
             {OutputTopic::kDiffs, cfg_.Get("topics.diffs")},
             {OutputTopic::kDlq, cfg_.Get("topics.dlq")}};
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
      std::string body = std::string(ready ? "ready" : "not ready") +
                         "\nstate_loaded=" + (loaded_ ? "1" : "0") +
                         "\nproducer_ready=" + (producer_ready_ ? "1" : "0") +
                         "\ngroup_joined=" + (joined_ ? "1" : "0") +
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

  if (cfg_.GetBool("kafka.create_topics")) {
    int32_t partitions = static_cast<int32_t>(cfg_.GetInt("kafka.partitions"));
    int16_t rf = static_cast<int16_t>(cfg_.GetInt("kafka.replication_factor"));
    std::vector<kafka::TopicSpec> specs = {
        {cfg_.Get("topics.input"), partitions, rf, {}},
        {cfg_.Get("topics.events"), partitions, rf, {}},
        {cfg_.Get("topics.diffs"), partitions, rf, {}},
        {cfg_.Get("topics.dlq"), partitions, rf, {}},
    };
    // The broker may not be up yet: retry with backoff until a signal.
    for (int attempt = 0; !kafka::EnsureTopics(common, specs, std::chrono::seconds(15), &error);
         ++attempt) {
      metrics_.CountKafkaError("admin");
      log::Warn("cannot create topics yet; retrying", {{"error", error}});
      if (g_signals.load() > 0) return false;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(500 << std::min(attempt, 4), 8000)));
    }
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
  loaded_ = true;
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

  // Producer.
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

  // Consumer.
  kafka::Props cprops = common;
  for (const auto& [k, v] : cfg_.KafkaProperties("consumer")) cprops[k] = v;
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
  if (auto err = consumer_->subscribe({cfg_.Get("topics.input")}); err != RdKafka::ERR_NO_ERROR) {
    log::Error("cannot subscribe", {{"error", kafka::DescribeError(err)}});
    return false;
  }
  log::Info("consuming", {{"topic", cfg_.Get("topics.input")},
                          {"group", cfg_.Get("kafka.group_id")},
                          {"mode", cfg_.Get("processing.mode")}});
  return true;
}

bool Daemon::BeginTransaction() {
  if (!exactly_once_ || in_transaction_) return true;
  kafka::ErrorPtr e(producer_->begin_transaction());
  if (e) {
    log::Error("begin_transaction failed", {{"error", kafka::DescribeError(*e)}});
    return false;
  }
  in_transaction_ = true;
  return true;
}

bool Daemon::Produce(const OutputRecord& record) {
  const std::string& topic = topics_[record.topic];
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto err =
        producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           const_cast<char*>(record.value.data()), record.value.size(),
                           record.key.data(), record.key.size(), 0, nullptr);
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

void Daemon::Rewind() {
  kafka::TopicPartitionList parts;
  if (consumer_->assignment(parts.out()) != RdKafka::ERR_NO_ERROR || parts.empty()) return;
  consumer_->committed(parts.get(), 10000);
  for (auto* tp : parts) {
    if (tp->offset() < 0) tp->set_offset(RdKafka::Topic::OFFSET_BEGINNING);
    consumer_->seek(*tp, 10000);
  }
}

Daemon::CommitResult Daemon::CommitBatch() {
  auto abort_and_rewind = [&](const std::string& why) {
    log::Warn("aborting the batch and rewinding to the committed offsets", {{"error", why}});
    if (exactly_once_ && in_transaction_) {
      kafka::ErrorPtr e(producer_->abort_transaction(30000));
      if (e && e->is_fatal()) return CommitResult::kFatal;
    }
    in_transaction_ = false;
    detector_->Rollback();
    pending_alerts_.clear();
    Rewind();
    uncommitted_ = 0;
    metrics_.CountTransaction("aborted");
    return CommitResult::kAborted;
  };
  kafka::TopicPartitionList positions;
  consumer_->assignment(positions.out());
  consumer_->position(positions.get());

  if (exactly_once_) {
    if (!in_transaction_) return CommitResult::kCommitted;
    kafka::ConsumerGroupMetadataPtr meta(consumer_->groupMetadata());
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->send_offsets_to_transaction(positions.get(), meta.get(), 30000));
      if (!e) break;
      switch (kafka::ClassifyTxnError(*e)) {
        case kafka::TxnErrorAction::kRetry:
          if (attempt < 10) continue;
          return CommitResult::kFatal;
        case kafka::TxnErrorAction::kAbort: return abort_and_rewind(kafka::DescribeError(*e));
        case kafka::TxnErrorAction::kFatal:
          log::Error("send_offsets_to_transaction: fatal", {{"error", kafka::DescribeError(*e)}});
          return CommitResult::kFatal;
      }
    }
    for (int attempt = 0;; ++attempt) {
      kafka::ErrorPtr e(producer_->commit_transaction(30000));
      if (!e) break;
      switch (kafka::ClassifyTxnError(*e)) {
        case kafka::TxnErrorAction::kRetry:
          if (attempt < 10) continue;
          log::Error("commit_transaction stays ambiguous; restarting",
                     {{"error", kafka::DescribeError(*e)}});
          return CommitResult::kFatal;
        case kafka::TxnErrorAction::kAbort: return abort_and_rewind(kafka::DescribeError(*e));
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
      return abort_and_rewind("delivery failed: " + delivery_.last_error());
    }
    if (!positions.empty()) {
      auto err = consumer_->commitSync(positions.get());
      if (err != RdKafka::ERR_NO_ERROR) {
        metrics_.CountKafkaError("commit");
        return abort_and_rewind(kafka::DescribeError(err));
      }
    }
  }
  std::map<std::string, std::string> meta;
  for (auto* tp : positions) {
    meta["offset/" + tp->topic() + "/" + std::to_string(tp->partition())] =
        std::to_string(tp->offset());
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
  metrics_.SetIndexDocuments(static_cast<double>(detector_->IndexedDocuments()));
  metrics_.SetStateBytes(static_cast<double>(store_->ApproximateBytes()));
  uncommitted_ = 0;
  last_commit_ = Clock::now();
  return CommitResult::kCommitted;
}

int Daemon::Run() {
  if (!Setup()) return 1;
  metrics_.SetReady(Ready());
  const size_t batch_size = static_cast<size_t>(cfg_.GetInt("processing.batch_size"));
  const size_t commit_messages = static_cast<size_t>(cfg_.GetInt("processing.commit_messages"));
  const auto commit_interval =
      std::chrono::milliseconds(cfg_.GetInt("processing.commit_interval_ms"));
  std::vector<OutputRecord> records;
  std::string topic_name = cfg_.Get("topics.input");

  while (g_signals.load() == 0 && !fatal_) {
    for (size_t n = 0; n < batch_size && g_signals.load() == 0 && !fatal_; ++n) {
      kafka::MessagePtr msg(consumer_->consume(n == 0 ? 100 : 0));
      if (!msg) break;
      if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) break;
      if (msg->err() != RdKafka::ERR_NO_ERROR) {
        metrics_.CountKafkaError("consume");
        log::Warn("consume error", {{"error", msg->errstr()}});
        break;
      }
      if (!BeginTransaction()) {
        fatal_ = true;
        break;
      }
      records.clear();
      SourceCoordinates source{topic_name, msg->partition(), msg->offset(),
                               msg->timestamp().timestamp};
      std::string_view key =
          msg->key_pointer() != nullptr
              ? std::string_view(static_cast<const char*>(msg->key_pointer()), msg->key_len())
              : std::string_view{};
      PipelineResult result = pipeline_->Process(
          {std::string_view(static_cast<const char*>(msg->payload()), msg->len()), key, source},
          &records);
      if (notifier_ && result.kind == PipelineResult::Kind::kEvent && result.diff &&
          result.outcome.verdict == Verdict::kRevised) {
        pending_alerts_.emplace_back(std::move(result.event), std::move(*result.diff));
      }
      for (const auto& r : records) {
        if (!Produce(r)) fatal_ = true;
      }
      ++uncommitted_;
    }
    producer_->poll(0);
    metrics_.SetReady(Ready());
    if (uncommitted_ > 0 &&
        (uncommitted_ >= commit_messages || Clock::now() - last_commit_ >= commit_interval)) {
      if (CommitBatch() == CommitResult::kFatal) fatal_ = true;
    }
  }
  // Shutdown: stop fetching, finish the batch, commit, close, flush.
  int code = 0;
  if (fatal_) {
    log::Error("fatal error: exiting for the supervisor to restart");
    code = 1;
  } else if (uncommitted_ > 0 && CommitBatch() != CommitResult::kCommitted) {
    code = 1;
  }
  log::Info("shutting down");
  consumer_.reset();  // close: leaves the group (rebalance callback commits nothing now)
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
