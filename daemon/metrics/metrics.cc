#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace dedupd::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
}
Histogram::BucketBoundaries LagBuckets() {
  return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400};
}

}  // namespace

Metrics::Metrics(size_t site_label_limit, std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      site_label_limit_(site_label_limit),
      pages_(BuildCounter()
                 .Name("dedupd_pages_total")
                 .Help("Pages classified, by verdict")
                 .Register(*registry_)),
      revisions_(BuildCounter()
                     .Name("dedupd_revisions_total")
                     .Help("Edited pages (REVISED), by site and severity")
                     .Register(*registry_)),
      repeated_(BuildCounter()
                    .Name("dedupd_repeated_content_pages_total")
                    .Help("Pages whose body repeats a run of blocks (broken scrape), by site")
                    .Register(*registry_)),
      flags_(BuildCounter()
                 .Name("dedupd_flags_total")
                 .Help("Verdict flags raised, by flag")
                 .Register(*registry_)),
      dead_letters_(BuildCounter()
                        .Name("dedupd_dead_letters_total")
                        .Help("Input messages dead-lettered, by reason")
                        .Register(*registry_)),
      skipped_(BuildCounter()
                   .Name("dedupd_skipped_pages_total")
                   .Help("Failed fetches (non-2xx status) counted and skipped, by status class")
                   .Register(*registry_)),
      kafka_errors_(BuildCounter()
                        .Name("dedupd_kafka_errors_total")
                        .Help("Kafka client errors, by kind")
                        .Register(*registry_)),
      input_messages_(BuildCounter()
                          .Name("dedupd_input_messages_total")
                          .Help("Input messages read, good or bad")
                          .Register(*registry_)
                          .Add({})),
      unkeyed_input_(BuildCounter()
                         .Name("dedupd_unkeyed_input_total")
                         .Help("Input messages whose key is not their canonical URL (scale-out "
                               "needs the pages topic keyed by URL: docs/delivery.md)")
                         .Register(*registry_)
                         .Add({})),
      processing_seconds_(BuildHistogram()
                              .Name("dedupd_processing_seconds")
                              .Help("Per-page processing time, parse to produce")
                              .Register(*registry_)
                              .Add({}, LatencyBuckets())),
      event_lag_seconds_(BuildHistogram()
                             .Name("dedupd_event_lag_seconds")
                             .Help("Time from fetched_at to the event being produced")
                             .Register(*registry_)
                             .Add({}, LagBuckets())),
      simhash_distance_(
          BuildHistogram()
              .Name("dedupd_simhash_distance")
              .Help("SimHash distance (bits) to the nearest match")
              .Register(*registry_)
              .Add({}, Histogram::BucketBoundaries{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32})),
      index_documents_(BuildGauge()
                           .Name("dedupd_index_documents")
                           .Help("Documents in the near-duplicate index")
                           .Register(*registry_)
                           .Add({})),
      state_bytes_(BuildGauge()
                       .Name("dedupd_state_bytes")
                       .Help("Approximate size of the state store")
                       .Register(*registry_)
                       .Add({})) {
  BuildGauge()
      .Name("dedupd_build_info")
      .Help("Build information")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  // Pre-create the label values that dashboards and alerts expect, so a
  // series exists (at 0) before the first event of its kind.
  for (Verdict v : {Verdict::kNew, Verdict::kUnchanged, Verdict::kRevised, Verdict::kDuplicate,
                    Verdict::kNearDuplicate}) {
    verdict_pages_[static_cast<size_t>(v)] =
        &pages_.Add({{"verdict", std::string(VerdictName(v))}});
  }
  for (auto reason : {"invalid_json", "missing_field", "wrong_type", "invalid_utf8", "too_large",
                      "empty_body", "invalid_url", "output_rejected"}) {
    dead_letters_.Add({{"reason", reason}});
  }
  for (size_t i = 0; i < kFlagNames.size(); ++i) {
    flag_pages_[i] = &flags_.Add({{"flag", std::string(kFlagNames[i])}});
  }
  for (auto cls : {"3xx", "4xx", "5xx", "other"}) skipped_.Add({{"status_class", cls}});
  for (auto kind : {"admin", "commit", "consume", "delivery", "fatal", "init_transactions",
                    "produce", "transport"}) {
    kafka_errors_.Add({{"kind", kind}});
  }
}

std::string Metrics::SiteLabel(std::string_view site) {
  std::lock_guard lock(sites_mu_);
  return SiteLabelLocked(site);
}

std::string Metrics::SiteLabelLocked(std::string_view site) {
  if (sites_.find(site) != sites_.end()) return std::string(site);
  if (sites_.size() < site_label_limit_) {
    sites_.emplace(site);
    return std::string(site);
  }
  return "other";
}

void Metrics::CountVerdict(Verdict v) {
  // Looked up once, at construction: a label map per page would allocate.
  verdict_pages_[static_cast<size_t>(v)]->Increment();
}
void Metrics::CountFlag(std::string_view flag) {
  // The flags the pipeline counts were looked up at construction.
  for (size_t i = 0; i < kFlagNames.size(); ++i) {
    if (flag == kFlagNames[i]) {
      flag_pages_[i]->Increment();
      return;
    }
  }
  flags_.Add({{"flag", std::string(flag)}}).Increment();
}
Metrics::SiteSeries& Metrics::SeriesOf(std::string_view site) {
  if (auto it = site_series_.find(site); it != site_series_.end()) return it->second;
  std::string label = SiteLabelLocked(site);
  // A site over the limit shares "other"'s series (and adds no entry).
  if (auto it = site_series_.find(label); it != site_series_.end()) return it->second;
  SiteSeries& series = site_series_[label];
  series.label = std::move(label);
  return series;
}

void Metrics::CountRevision(std::string_view site, std::string_view severity) {
  constexpr std::array<std::string_view, 3> kSeverities = {"cosmetic", "minor", "major"};
  std::lock_guard lock(sites_mu_);
  SiteSeries& series = SeriesOf(site);
  for (size_t i = 0; i < kSeverities.size(); ++i) {
    if (severity != kSeverities[i]) continue;
    if (series.revisions[i] == nullptr) {
      series.revisions[i] =
          &revisions_.Add({{"site", series.label}, {"severity", std::string(severity)}});
    }
    series.revisions[i]->Increment();
    return;
  }
  revisions_.Add({{"site", series.label}, {"severity", std::string(severity)}}).Increment();
}
void Metrics::CountRepeatedContent(std::string_view site) {
  std::lock_guard lock(sites_mu_);
  SiteSeries& series = SeriesOf(site);
  if (series.repeated == nullptr) series.repeated = &repeated_.Add({{"site", series.label}});
  series.repeated->Increment();
}
void Metrics::CountDeadLetter(std::string_view reason) {
  dead_letters_.Add({{"reason", std::string(reason)}}).Increment();
}
void Metrics::CountSkipped(int status) {
  std::string cls = status >= 300 && status < 600 ? std::to_string(status / 100) + "xx" : "other";
  skipped_.Add({{"status_class", cls}}).Increment();
}
void Metrics::CountKafkaError(std::string_view kind) {
  kafka_errors_.Add({{"kind", std::string(kind)}}).Increment();
}
std::string Metrics::Render() const {
  std::ostringstream out;
  auto families = registry_->Collect();
  for (auto& f : process_.Collect()) families.push_back(std::move(f));
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace dedupd::metrics
