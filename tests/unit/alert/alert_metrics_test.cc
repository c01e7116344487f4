// AlertMetrics on a registry of its own, rendered in the Prometheus text
// format: the name, help, type and label values are those alert rules and
// dashboards use (tests/ops/metric_names.txt), so renaming any of them fails
// here, without an Alertmanager or a broker.
#include "alert/alert_metrics.h"

#include <gtest/gtest.h>

#include "unit/metrics/registry_lines.h"

namespace dedupd::alert {
namespace {

using dedupd::testing::Lines;
using dedupd::testing::RegistryLines;

TEST(AlertMetrics, DeclaresAlertmanagerPostsWithEveryResultAtZero) {
  prometheus::Registry registry;
  AlertMetrics metrics(registry);
  EXPECT_EQ(RegistryLines(registry),
            (Lines{"# HELP dedupd_alertmanager_posts_total Alert batches posted to Alertmanager, "
                   "by result",
                   "# TYPE dedupd_alertmanager_posts_total counter",
                   "dedupd_alertmanager_posts_total{result=\"ok\"} 0",
                   "dedupd_alertmanager_posts_total{result=\"error\"} 0",
                   "dedupd_alertmanager_posts_total{result=\"dropped\"} 0"}));
}

TEST(AlertMetrics, CountsEachResultInItsSeries) {
  prometheus::Registry registry;
  AlertMetrics metrics(registry);
  metrics.CountPost(PostResult::kOk);
  metrics.CountPost(PostResult::kOk);
  metrics.CountPost(PostResult::kError);
  metrics.CountPost(PostResult::kDropped);
  metrics.CountPost(PostResult::kDropped);
  metrics.CountPost(PostResult::kDropped);
  const Lines lines = RegistryLines(registry);
  EXPECT_EQ(lines.count("dedupd_alertmanager_posts_total{result=\"ok\"} 2"), 1u);
  EXPECT_EQ(lines.count("dedupd_alertmanager_posts_total{result=\"error\"} 1"), 1u);
  EXPECT_EQ(lines.count("dedupd_alertmanager_posts_total{result=\"dropped\"} 3"), 1u);
}

}  // namespace
}  // namespace dedupd::alert
