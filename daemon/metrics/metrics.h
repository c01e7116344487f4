// Metrics: the Prometheus metrics several stages share, with the names
// DESIGN.md fixes (dashboards and alerts depend on them), and the registry
// on which each stage declares its own (delivery::DeliveryMetrics,
// delivery::StoreMetrics, sync::SyncMetrics, alert::AlertMetrics; the table
// is in docs/delivery.md, "Which stage declares which metric").
//
//   Metrics m(50);                                  // site label limit
//   m.CountVerdict(Verdict::kRevised);
//   m.CountRevision("sc.gov.cn", "major");
//   std::string text = m.Render();                  // Prometheus text format
//
// Site labels are capped: the first `site_label_limit` distinct sites keep
// their name, the rest are counted as "other", so label cardinality is
// bounded whatever the input. No metric carries a URL.
// Thread-safety: all methods are thread-safe (prometheus-cpp metrics are).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/types.h"
#include "metrics/process_metrics.h"

namespace dedupd::metrics {

class Metrics {
 public:
  explicit Metrics(size_t site_label_limit = 50, std::string_view version = "0.0.0");

  void CountInput() { input_messages_.Increment(); }
  // An input message whose key is not its canonical URL (docs/delivery.md, Scale-out).
  void CountUnkeyedInput() { unkeyed_input_.Increment(); }
  void CountVerdict(Verdict v);
  void CountFlag(std::string_view flag);
  void CountRevision(std::string_view site, std::string_view severity);
  void CountRepeatedContent(std::string_view site);
  void CountDeadLetter(std::string_view reason);
  void CountSkipped(int http_status);
  void CountKafkaError(std::string_view kind);
  void ObserveProcessing(double seconds) { processing_seconds_.Observe(seconds); }
  void ObserveEventLag(double seconds) { event_lag_seconds_.Observe(seconds); }
  void ObserveSimhashDistance(int bits) { simhash_distance_.Observe(bits); }
  void SetIndexDocuments(double n) { index_documents_.Set(n); }
  void SetStateBytes(double n) { state_bytes_.Set(n); }

  std::string Render() const;
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  std::string SiteLabel(std::string_view site);
  std::string SiteLabelLocked(std::string_view site);  // sites_mu_ held
  // A site label's series, looked up once each: a label map per page would
  // allocate (issue #11 item 3). At most site_label_limit_ sites and "other",
  // so bounded as the labels are; never removed, so the pointers stay valid.
  struct SiteSeries {
    std::string label;
    std::array<prometheus::Counter*, 3> revisions{};  // by diff::Severity's order
    prometheus::Counter* repeated = nullptr;
  };
  SiteSeries& SeriesOf(std::string_view site);  // sites_mu_ held

  std::shared_ptr<prometheus::Registry> registry_;
  size_t site_label_limit_;
  std::mutex sites_mu_;
  std::set<std::string, std::less<>> sites_;
  std::map<std::string, SiteSeries, std::less<>> site_series_;  // by site; sites_mu_

  prometheus::Family<prometheus::Counter>& pages_;
  prometheus::Family<prometheus::Counter>& revisions_;
  prometheus::Family<prometheus::Counter>& repeated_;
  prometheus::Family<prometheus::Counter>& flags_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Family<prometheus::Counter>& kafka_errors_;
  prometheus::Counter& input_messages_;
  prometheus::Counter& unkeyed_input_;
  prometheus::Histogram& processing_seconds_;
  prometheus::Histogram& event_lag_seconds_;
  prometheus::Histogram& simhash_distance_;
  prometheus::Gauge& index_documents_;
  prometheus::Gauge& state_bytes_;
  ProcessCollector process_;  // process_*, read from /proc at each Render()
  // dedupd_pages_total's series, by Verdict (never removed, so the pointers
  // stay valid).
  std::array<prometheus::Counter*, 5> verdict_pages_{};
  // dedupd_flags_total's series, likewise.
  static constexpr std::array<std::string_view, 3> kFlagNames = {"REPEATED_CONTENT", "REVERTED",
                                                                 "BOILERPLATE_ONLY"};
  std::array<prometheus::Counter*, 3> flag_pages_{};
};

}  // namespace dedupd::metrics
