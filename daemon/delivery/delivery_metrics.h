// DeliveryMetrics: the metrics the delivery stage declares itself, on the
// daemon's registry (metrics::Metrics::registry()), so that /metrics renders
// them with every other metric. Names as DESIGN.md fixes them
// (tests/ops/metric_names.txt). Counters several stages share (Kafka
// errors, dead letters, inputs) stay in metrics::Metrics.
//
//   DeliveryMetrics delivery_metrics(*metrics.registry());
//   delivery_metrics.CountTransaction(TransactionResult::kCommitted);
//   delivery_metrics.ObserveEventLatency(0.8);
//
// Thread-safety: thread-safe (prometheus-cpp counters). Registering twice on
// one registry yields the same series (prometheus-cpp merges families of
// the same name and help).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

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

 private:
  prometheus::Family<prometheus::Counter>& transactions_;
  prometheus::Counter& committed_;
  prometheus::Counter& aborted_;
  prometheus::Histogram& event_latency_seconds_;
};

}  // namespace dedupd::delivery
