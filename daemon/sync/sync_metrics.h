// SyncMetrics: the metrics the state sync stage (sync/state_sync.h) declares
// itself, on the daemon's registry (metrics::Metrics::registry()), so that
// /metrics renders them with every other metric. Names as DESIGN.md fixes
// them (tests/ops/metric_names.txt). Its read and decode errors count in the
// shared dedupd_kafka_errors_total (metrics::Metrics).
//
//   sync::SyncMetrics sync_metrics(*metrics.registry());
//   sync_metrics.SetRestoreRemaining(1200);
//
// Thread-safety: thread-safe (prometheus-cpp gauges).
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace dedupd::sync {

class SyncMetrics {
 public:
  explicit SyncMetrics(prometheus::Registry& registry);
  // dedupd_state_restore_remaining_messages: records still to read by the
  // restore or the bootstrap under way (0 when none is).
  void SetRestoreRemaining(double n) { restore_remaining_.Set(n); }
  double restore_remaining() const { return restore_remaining_.Value(); }

 private:
  prometheus::Gauge& restore_remaining_;
};

}  // namespace dedupd::sync
