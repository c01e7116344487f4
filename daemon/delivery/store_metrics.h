// StoreMetrics: the state store's health as the store guard (delivery/
// store_guard.h) sees it, declared by the guard's stage on the daemon's
// registry (metrics::Metrics::registry()), so that /metrics renders them with
// every other metric. Names as DESIGN.md fixes them (tests/ops/
// metric_names.txt; the full-disk alert and runbook use them). `dedupd scan`,
// which writes the store without a guard, declares and sets them too.
//
//   delivery::StoreMetrics store_metrics(*metrics.registry());
//   store_metrics.CountError("no_space");
//   store_metrics.SetWritable(false);
//
// Thread-safety: thread-safe (prometheus-cpp metrics).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string_view>

namespace dedupd::delivery {

class StoreMetrics {
 public:
  explicit StoreMetrics(prometheus::Registry& registry);
  // dedupd_state_store_writable: 1 (its start value) while the store takes
  // writes; 0 while its volume is under state.min_free_bytes or its writes
  // fail (docs/delivery.md, "Full disk").
  void SetWritable(bool writable) { writable_.Set(writable ? 1 : 0); }
  // dedupd_state_store_errors_total{kind}: kind is a state::StoreErrorKind's
  // name (no_space | io; both exist at 0 from the start).
  void CountError(std::string_view kind);

 private:
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Gauge& writable_;
};

}  // namespace dedupd::delivery
