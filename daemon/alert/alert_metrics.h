// AlertMetrics: the metrics the Alertmanager notifier (alert/alertmanager.h)
// declares itself, on the daemon's registry (metrics::Metrics::registry()),
// so that /metrics renders them with every other metric. Names as DESIGN.md
// fixes them (tests/ops/metric_names.txt; alert rules and dashboards use
// them). `dedupd run` declares them whether or not Alertmanager is enabled,
// so the series exist (at 0) as before.
//
//   alert::AlertMetrics alert_metrics(*metrics.registry());
//   alert_metrics.CountPost(PostResult::kOk);
//
// Thread-safety: thread-safe (prometheus-cpp counters).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

namespace dedupd::alert {

enum class PostResult { kOk, kError, kDropped };

class AlertMetrics {
 public:
  explicit AlertMetrics(prometheus::Registry& registry);
  // dedupd_alertmanager_posts_total{result}: alert batches posted to an
  // Alertmanager (ok, error), or dropped (a full queue, retries exhausted,
  // or left at Stop()).
  void CountPost(PostResult result);

 private:
  prometheus::Family<prometheus::Counter>& posts_;
  prometheus::Counter& ok_;
  prometheus::Counter& error_;
  prometheus::Counter& dropped_;
};

}  // namespace dedupd::alert
