// ReplayMetrics: the metric the replay stage (replay/replay.h) declares
// itself, on the daemon's registry (metrics::Metrics::registry()), so that
// /metrics renders it with every other metric. Registered in `dedupd run`
// too, at 0 (the name as DESIGN.md fixes it: tests/ops/metric_names.txt).
//
//   app::ReplayMetrics replay_metrics(*metrics.registry());
//   replay_metrics.SetRemaining(1200);   // ReplayRun::Finished does
//
// Thread-safety: thread-safe (a prometheus-cpp gauge).
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace dedupd::app {

class ReplayMetrics {
 public:
  explicit ReplayMetrics(prometheus::Registry& registry);
  // dedupd_replay_remaining_messages: input messages the replay still has to
  // process before its end offsets (0 outside a replay).
  void SetRemaining(double n) { remaining_.Set(n); }

 private:
  prometheus::Gauge& remaining_;
};

}  // namespace dedupd::app
