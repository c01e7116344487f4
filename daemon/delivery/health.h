// Health: what `dedupd run` answers on /readyz, /healthz and /metrics, and
// its dedupd_ready gauge (docs/operations.md, "Health"). Ready means: the
// state is loaded, the producer is ready (transactions initialised), the
// group has assigned partitions, no restore is under way, a broker is up,
// the loop is not stalled, and the state store takes writes. The loop sets
// the flags; the HTTP threads read them.
//
//   delivery::Health health(&liveness, &events.brokers(), &store_guard, &metrics);
//   health.Register(&http);      // before http.Start()
//   health.producer_ready = true;
//   health.Publish();            // dedupd_ready follows Ready()
//
// Liveness (metrics/liveness.h) is the loop's progress: /healthz fails once
// it shows none for health.liveness_timeout_ms; a shorter stall (kStall)
// only makes the instance not ready, without waiting for librdkafka's events
// to tell that the broker went (the loop may be inside a blocking call).
//
// Thread-safety: the flags are atomic; Ready(), the handlers and Publish()
// may run on any thread (they read the liveness, the broker watch and the
// store guard, which are thread-safe for that).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "delivery/delivery_metrics.h"
#include "delivery/store_guard.h"
#include "metrics/broker_watch.h"
#include "metrics/http_server.h"
#include "metrics/liveness.h"
#include "metrics/metrics.h"

namespace dedupd::delivery {

class Health {
 public:
  // A loop that has shown no progress for this long is not ready.
  static constexpr std::chrono::milliseconds kStall{5000};

  Health(const metrics::Liveness* liveness, const metrics::BrokerWatch* brokers,
         const StoreGuard* store_guard, metrics::Metrics* metrics,
         DeliveryMetrics* delivery_metrics);

  std::atomic<bool> loaded{false};          // the state and the fingerprints are read
  std::atomic<bool> producer_ready{false};  // created (and its transactions initialised)
  std::atomic<bool> joined{false};          // the group assigned partitions
  std::atomic<bool> restoring{false};       // assigned partitions' restore under way

  bool Stalled() const;
  bool Ready() const;
  // dedupd_ready from Ready().
  void Publish() const;
  // dedupd_ready 0 at once (a restore or a re-created client starting),
  // whatever the flags say yet.
  void PublishNotReady() const;

  metrics::HttpResponse Readyz() const;
  metrics::HttpResponse Healthz() const;
  // The Prometheus text, with the gauges that change with time, not events,
  // set just before (the loop's last progress, the brokers).
  metrics::HttpResponse Metrics() const;
  // /metrics, /healthz and /readyz on `http` (before it starts).
  void Register(metrics::HttpServer* http) const;

 private:
  const metrics::Liveness* liveness_;
  const metrics::BrokerWatch* brokers_;
  const StoreGuard* store_guard_;
  metrics::Metrics* metrics_;  // renders /metrics
  DeliveryMetrics* delivery_metrics_;
};

}  // namespace dedupd::delivery
