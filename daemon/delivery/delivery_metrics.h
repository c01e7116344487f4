// DeliveryMetrics: the metrics the delivery stage declares itself, on the
// daemon's registry (metrics::Metrics::registry()), so that /metrics renders
// them with every other metric. Names as DESIGN.md fixes them
// (tests/ops/metric_names.txt). Counters several stages share (Kafka
// errors, dead letters, inputs) stay in metrics::Metrics.
//
//   DeliveryMetrics delivery_metrics(*metrics.registry());
//   delivery_metrics.CountTransaction(TransactionResult::kCommitted);
//   delivery_metrics.ObserveEventLatency(0.8);
//   delivery_metrics.ObserveCommit(0.012);
//
// Thread-safety: thread-safe (prometheus-cpp counters). Registering twice on
// one registry yields the same series (prometheus-cpp merges families of
// the same name and help).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <mutex>
#include <string_view>

namespace dedupd::delivery {

enum class TransactionResult { kCommitted, kAborted };

class DeliveryMetrics {
 public:
  explicit DeliveryMetrics(prometheus::Registry& registry);
  // dedupd_transactions_total{result}: Kafka transactions, or at-least-once
  // commits; a batch processed again after an abort counts again.
  void CountTransaction(TransactionResult result);
  // dedupd_event_latency_seconds: from an input message's Kafka timestamp
  // to the commit of its outputs (docs/operations.md).
  void ObserveEventLatency(double seconds) { event_latency_seconds_.Observe(seconds); }
  // dedupd_commit_seconds: how long a committed batch's commit held the
  // loop (exactly-once: send_offsets_to_transaction and commit_transaction;
  // at-least-once: the producer's flush and the offsets' commit). Nothing
  // is decided while it runs, so it bounds the rate (docs/operations.md).
  void ObserveCommit(double seconds) { commit_seconds_.Observe(seconds); }
  // dedupd_rebalances_total{kind}: a consumer group rebalance callback:
  // assigned | revoked | lost (all three exist at 0 from the start).
  void CountRebalance(std::string_view kind);
  // dedupd_assigned_partitions: input partitions this instance owns now.
  void SetAssignedPartitions(double n) { assigned_partitions_.Set(n); }
  // dedupd_consumer_lag_messages{topic,partition}.
  void SetConsumerLag(std::string_view topic, int32_t partition, double lag);
  // Drops the partition's lag series: an instance exports lag only for the
  // partitions it owns, so a revoked partition's last value does not stay
  // frozen in its scrape (another instance reports it now).
  void RemoveConsumerLag(std::string_view topic, int32_t partition);
  // dedupd_ready: 1 when /readyz answers ready.
  void SetReady(bool ready) { ready_.Set(ready ? 1 : 0); }
  // Set just before each scrape (the values change with time, not events):
  // dedupd_loop_last_progress_timestamp_seconds, dedupd_brokers_up (-1
  // before the first statistics) and dedupd_broker_unavailable_seconds.
  void SetLoopLastProgress(double unix_seconds) { loop_last_progress_.Set(unix_seconds); }
  void SetBrokers(int up, double unavailable_seconds) {
    brokers_up_.Set(up);
    broker_unavailable_seconds_.Set(unavailable_seconds);
  }

 private:
  prometheus::Family<prometheus::Counter>& transactions_;
  prometheus::Counter& committed_;
  prometheus::Counter& aborted_;
  prometheus::Histogram& event_latency_seconds_;
  prometheus::Histogram& commit_seconds_;
  prometheus::Family<prometheus::Counter>& rebalances_;
  prometheus::Gauge& assigned_partitions_;
  prometheus::Family<prometheus::Gauge>& consumer_lag_;
  std::mutex lag_mu_;  // a series' Add and Remove are not one step
  prometheus::Gauge& ready_;
  prometheus::Gauge& loop_last_progress_;
  prometheus::Gauge& brokers_up_;
  prometheus::Gauge& broker_unavailable_seconds_;
};

}  // namespace dedupd::delivery
