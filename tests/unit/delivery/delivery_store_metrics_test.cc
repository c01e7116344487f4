// StoreMetrics on a registry of its own, rendered in the Prometheus text
// format: the names, help, types and label values the full-disk alert, the
// runbook and the dashboards use (tests/ops/metric_names.txt), so renaming
// any of them fails here, without a store or a broker.
#include <gtest/gtest.h>

#include "delivery/store_metrics.h"
#include "unit/metrics/registry_lines.h"

namespace dedupd::delivery {
namespace {

using dedupd::testing::Lines;
using dedupd::testing::RegistryLines;

TEST(StoreMetrics, DeclaresTheStoreMetricsWritableAndWithoutErrors) {
  prometheus::Registry registry;
  StoreMetrics metrics(registry);
  EXPECT_EQ(RegistryLines(registry),
            (Lines{"# HELP dedupd_state_store_errors_total State store writes that failed or "
                   "were refused, and volumes found under state.min_free_bytes, by kind "
                   "(no_space, io)",
                   "# TYPE dedupd_state_store_errors_total counter",
                   "dedupd_state_store_errors_total{kind=\"no_space\"} 0",
                   "dedupd_state_store_errors_total{kind=\"io\"} 0",
                   "# HELP dedupd_state_store_writable 1 while the state store takes writes; 0 "
                   "while its volume is under state.min_free_bytes or its writes fail",
                   "# TYPE dedupd_state_store_writable gauge", "dedupd_state_store_writable 1"}));
}

TEST(StoreMetrics, FollowsTheStore) {
  prometheus::Registry registry;
  StoreMetrics metrics(registry);
  metrics.SetWritable(false);
  metrics.CountError("no_space");
  metrics.CountError("no_space");
  metrics.CountError("io");
  Lines lines = RegistryLines(registry);
  EXPECT_EQ(lines.count("dedupd_state_store_writable 0"), 1u);
  EXPECT_EQ(lines.count("dedupd_state_store_errors_total{kind=\"no_space\"} 2"), 1u);
  EXPECT_EQ(lines.count("dedupd_state_store_errors_total{kind=\"io\"} 1"), 1u);
  metrics.SetWritable(true);
  lines = RegistryLines(registry);
  EXPECT_EQ(lines.count("dedupd_state_store_writable 1"), 1u);
}

}  // namespace
}  // namespace dedupd::delivery
