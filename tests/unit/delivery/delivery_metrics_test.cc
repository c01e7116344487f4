// DeliveryMetrics on a registry of its own, rendered in the Prometheus text
// format: the names, help, types, labels and buckets the dashboards, alert
// rules and benchmarks use (tests/ops/metric_names.txt), so renaming any of
// them fails here, without a broker.
#include "delivery/delivery_metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "unit/metrics/registry_lines.h"

namespace dedupd::delivery {
namespace {

using dedupd::testing::Lines;
using dedupd::testing::RegistryLines;

Lines Expected() {
  Lines lines{
      "# HELP dedupd_transactions_total Kafka transactions (or at-least-once commits), by result",
      "# TYPE dedupd_transactions_total counter",
      "dedupd_transactions_total{result=\"committed\"} 0",
      "dedupd_transactions_total{result=\"aborted\"} 0",
      "# HELP dedupd_event_latency_seconds Time from an input message's Kafka timestamp "
      "(CreateTime or LogAppendTime, as the topic sets it) to the commit of its outputs",
      "# TYPE dedupd_event_latency_seconds histogram",
      "dedupd_event_latency_seconds_count 0",
      "dedupd_event_latency_seconds_sum 0",
      "# HELP dedupd_commit_seconds Time a committed batch's commit held the processing loop "
      "(exactly-once: sending the offsets and committing the transaction; at-least-once: "
      "flushing the producer and committing the offsets)",
      "# TYPE dedupd_commit_seconds histogram",
      "dedupd_commit_seconds_count 0",
      "dedupd_commit_seconds_sum 0",
      "# HELP dedupd_rebalances_total Consumer group rebalance callbacks, by kind (assigned, "
      "revoked, lost: taken away without a revoke, after a session timeout)",
      "# TYPE dedupd_rebalances_total counter",
      "dedupd_rebalances_total{kind=\"assigned\"} 0",
      "dedupd_rebalances_total{kind=\"revoked\"} 0",
      "dedupd_rebalances_total{kind=\"lost\"} 0",
      "# HELP dedupd_assigned_partitions Input partitions this instance owns now",
      "# TYPE dedupd_assigned_partitions gauge",
      "dedupd_assigned_partitions 0",
      "# HELP dedupd_ready 1 when /readyz answers ready",
      "# TYPE dedupd_ready gauge",
      "dedupd_ready 0",
      "# HELP dedupd_loop_last_progress_timestamp_seconds Unix time of the processing loop's "
      "last sign of progress (/healthz fails after health.liveness_timeout_ms without)",
      "# TYPE dedupd_loop_last_progress_timestamp_seconds gauge",
      "dedupd_loop_last_progress_timestamp_seconds 0",
      "# HELP dedupd_brokers_up Brokers librdkafka reports UP (-1 before the first statistics)",
      "# TYPE dedupd_brokers_up gauge",
      "dedupd_brokers_up -1",
      "# HELP dedupd_broker_unavailable_seconds Seconds since the last moment any broker was up; "
      "0 while one is",
      "# TYPE dedupd_broker_unavailable_seconds gauge",
      "dedupd_broker_unavailable_seconds 0",
      // dedupd_consumer_lag_messages has no series (so no lines) before the
      // first statistics of an owned partition.
  };
  // 5 ms to 60 s: dashboards and docs/benchmarks.md read these quantiles.
  for (const char* le : {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "0.75", "1", "1.5",
                         "2", "3", "5", "10", "20", "30", "60", "+Inf"}) {
    lines.insert(std::string("dedupd_event_latency_seconds_bucket{le=\"") + le + "\"} 0");
  }
  // 1 ms to 60 s.
  for (const char* le : {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                         "1", "2.5", "5", "10", "30", "60", "+Inf"}) {
    lines.insert(std::string("dedupd_commit_seconds_bucket{le=\"") + le + "\"} 0");
  }
  return lines;
}

TEST(DeliveryMetrics, DeclaresTheDeliveryStagesMetrics) {
  prometheus::Registry registry;
  DeliveryMetrics metrics(registry);
  EXPECT_EQ(RegistryLines(registry), Expected());
}

TEST(DeliveryMetrics, CountsTransactionsAndObservesLatency) {
  prometheus::Registry registry;
  DeliveryMetrics metrics(registry);
  metrics.CountTransaction(TransactionResult::kCommitted);
  metrics.CountTransaction(TransactionResult::kCommitted);
  metrics.CountTransaction(TransactionResult::kAborted);
  metrics.ObserveEventLatency(0.8);
  metrics.SetConsumerLag("pages", 3, 12);
  const Lines lines = RegistryLines(registry);
  EXPECT_EQ(lines.count("dedupd_transactions_total{result=\"committed\"} 2"), 1u);
  EXPECT_EQ(lines.count("dedupd_transactions_total{result=\"aborted\"} 1"), 1u);
  EXPECT_EQ(lines.count("dedupd_event_latency_seconds_bucket{le=\"0.75\"} 0"), 1u);
  EXPECT_EQ(lines.count("dedupd_event_latency_seconds_bucket{le=\"1\"} 1"), 1u);
  EXPECT_EQ(lines.count("dedupd_event_latency_seconds_count 1"), 1u);
  EXPECT_EQ(lines.count("dedupd_consumer_lag_messages{partition=\"3\",topic=\"pages\"} 12"), 1u);
  EXPECT_EQ(lines.count("# HELP dedupd_consumer_lag_messages Messages behind the end of each "
                        "input partition (log end offset minus position)"),
            1u);
  EXPECT_EQ(lines.count("# TYPE dedupd_consumer_lag_messages gauge"), 1u);
}

}  // namespace
}  // namespace dedupd::delivery
