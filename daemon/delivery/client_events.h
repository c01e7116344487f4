// ClientEvents: the event callback of the daemon's Kafka clients (producer,
// consumer, the state readers). Statistics give the input partitions' lag
// (dedupd_consumer_lag_messages, only for the partitions this instance owns
// now) and whether a broker is up (metrics::BrokerWatch, for /readyz and
// /healthz); ERR__ALL_BROKERS_DOWN marks the brokers down at once; a fatal
// error event is remembered for the loop (fatal()); librdkafka's warnings
// are logged.
//
//   delivery::ClientEvents events(&metrics, "pages");
//   conf->set("event_cb", &events, error);
//   events.SetOwned(3, true);                    // the rebalance callback
//   if (events.brokers().Unavailable()) ...;     // readiness
//
// Thread-safety: librdkafka calls event_cb from its own threads (statistics)
// and from poll()/consume(); the owned set is locked, fatal() is atomic and
// BrokerWatch is thread-safe.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "delivery/delivery_metrics.h"
#include "kafka/stats.h"
#include "metrics/broker_watch.h"
#include "metrics/metrics.h"

namespace dedupd::delivery {

class ClientEvents final : public RdKafka::EventCb {
 public:
  ClientEvents(metrics::Metrics* metrics, DeliveryMetrics* delivery_metrics,
               std::string input_topic)
      : metrics_(metrics),
        delivery_metrics_(delivery_metrics),
        input_topic_(std::move(input_topic)) {}
  void event_cb(RdKafka::Event& event) override;

  int brokers_up() const { return brokers_.BrokersUp(); }
  const metrics::BrokerWatch& brokers() const { return brokers_; }
  bool fatal() const { return fatal_.load(); }
  // The input partitions whose lag this instance exports (its assignment),
  // kept by the rebalance callback.
  void SetOwned(int32_t partition, bool owned);
  std::set<int32_t> owned();
  // After the producer was re-created (the daemon's RecoverProducer).
  void ClearFatal() { fatal_ = false; }

 private:
  bool Owns(int32_t partition);

  metrics::Metrics* metrics_;
  DeliveryMetrics* delivery_metrics_;  // the lag series
  std::string input_topic_;
  std::mutex owned_mu_;
  std::set<int32_t> owned_;
  kafka::StatsParser parser_;
  metrics::BrokerWatch brokers_;
  std::atomic<bool> fatal_{false};
};

}  // namespace dedupd::delivery
