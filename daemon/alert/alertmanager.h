// Alertmanager notifier: posts each edited release (a committed REVISED event
// of at least the configured severity, not REVERTED) straight to an
// Alertmanager's /api/v2/alerts with the URL, site, severity and a short diff
// summary, because metrics cannot carry URLs. Off by default.
//
//   AlertmanagerNotifier notifier(options, &metrics);
//   notifier.Start();
//   notifier.Enqueue(event, diff);   // after the Kafka transaction committed
//   notifier.Stop();                 // drains what it can within the timeout
//
// Posting happens on a background thread in batches, with bounded retries and
// a bounded queue (overflow is dropped and counted as result="dropped").
// Thread-safety: Enqueue() is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "dedupd/v1/dedupd.pb.h"
#include "metrics/metrics.h"

namespace dedupd::alert {

struct AlertmanagerOptions {
  std::string url = "http://127.0.0.1:9093";  // base URL; /api/v2/alerts is appended
  std::string min_severity = "minor";         // cosmetic | minor | major
  size_t batch_size = 50;
  int timeout_ms = 5000;
  int retries = 3;
  size_t max_queue = 10000;
};

class AlertmanagerNotifier {
 public:
  AlertmanagerNotifier(AlertmanagerOptions options, metrics::Metrics* metrics);
  ~AlertmanagerNotifier();
  AlertmanagerNotifier(const AlertmanagerNotifier&) = delete;
  AlertmanagerNotifier& operator=(const AlertmanagerNotifier&) = delete;

  void Start();
  void Stop();
  // Queues an alert for a REVISED event and its diff; ignores other verdicts,
  // REVERTED pages and severities below min_severity.
  void Enqueue(const v1::PageEvent& event, const v1::PageDiff& diff);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dedupd::alert
