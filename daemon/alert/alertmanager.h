// Alertmanager notifier: posts each edited release (a committed REVISED event
// of at least the configured severity, not REVERTED) straight to
// Alertmanager's /api/v2/alerts with the URL, site, severity and a short diff
// summary, because metrics cannot carry URLs. Off by default.
//
//   AlertmanagerOptions options = AlertmanagerOptionsFrom(cfg.settings());  // alertmanager.*
//   std::string error;
//   if (!CheckAlertmanagerOptions(options, &error)) return Fail(error);  // unreadable file
//   AlertMetrics alert_metrics(*metrics.registry());
//   AlertmanagerNotifier notifier(options, &alert_metrics);
//   notifier.Start();
//   notifier.Enqueue(event, diff);   // after the Kafka transaction committed
//   notifier.Stop();                 // drains what it can within the timeout
//
// Every batch goes to each of `urls` (the members of an HA Alertmanager
// cluster, as Prometheus does it): one sender thread and one bounded queue per
// Alertmanager, so one that is down or slow delays none of the others. HTTP
// and HTTPS through libcurl (certificates verified against the system CAs or
// ca_file); basic auth or a bearer token, read from a file before each POST
// (a rotated Secret is picked up) or given directly (from the environment).
// Each sender posts in batches, with bounded retries; overflow is dropped and
// counted as result="dropped". Credentials are never logged.
// Thread-safety: Enqueue() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "alert/alert_metrics.h"
#include "config/config.h"
#include "dedupd/v1/dedupd.pb.h"

namespace dedupd::alert {

struct AlertmanagerOptions {
  // Base URLs, http:// or https://; /api/v2/alerts is appended. Each gets every batch.
  std::vector<std::string> urls = {"http://127.0.0.1:9093"};
  std::string min_severity = "minor";  // cosmetic | minor | major
  size_t batch_size = 50;
  int timeout_ms = 5000;
  int retries = 3;
  size_t max_queue = 10000;  // per Alertmanager
  // Basic auth when username is set: the password is `password`, or else the
  // content of password_file. A bearer token likewise. Both: refused by
  // CheckAlertmanagerOptions (the configuration refuses it first).
  std::string username;
  std::string password;
  std::string password_file;
  std::string bearer_token;
  std::string bearer_token_file;
  std::string ca_file;  // empty: the system CAs
  bool insecure_skip_verify = false;
  // generatorURL template: {url} = percent-encoded canonical URL, {from} /
  // {to} = previous / new version. Empty: the field is left out.
  std::string generator_url;
  // The same kind of template for the `page_url` annotation: the daemon's
  // page of the URL with both versions preselected. AlertmanagerOptionsFrom
  // sets it to <http.external_url>/ui/page?url={url}&from={from}&to={to}
  // when http.external_url is set, and generator_url to the same when
  // alertmanager.generator_url is empty. Empty: no page_url annotation.
  std::string page_url;
};

// The alertmanager.* settings (alertmanager.url split at commas).
AlertmanagerOptions AlertmanagerOptionsFrom(const config::Settings& cfg);

// Start-up check: every URL is http(s), auth is consistent, and the
// credential and CA files can be read now. Returns false with the reason
// (file names, never their content).
bool CheckAlertmanagerOptions(const AlertmanagerOptions& options, std::string* error);

class AlertmanagerNotifier {
 public:
  AlertmanagerNotifier(AlertmanagerOptions options, AlertMetrics* metrics);
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
