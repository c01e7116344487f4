#include "delivery/delivery_metrics.h"

#include <string>

namespace dedupd::delivery {
namespace {

// 5 ms to 60 s: a commit interval (1 s by default) is the usual middle.
prometheus::Histogram::BucketBoundaries CommitLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60};
}

// 1 ms to 60 s: a commit on a healthy broker takes milliseconds; seconds
// mean a slow broker or a coordinator that is moving.
prometheus::Histogram::BucketBoundaries CommitBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

DeliveryMetrics::DeliveryMetrics(prometheus::Registry& registry)
    : transactions_(prometheus::BuildCounter()
                        .Name("dedupd_transactions_total")
                        .Help("Kafka transactions (or at-least-once commits), by result")
                        .Register(registry)),
      committed_(transactions_.Add({{"result", "committed"}})),
      aborted_(transactions_.Add({{"result", "aborted"}})),
      event_latency_seconds_(
          prometheus::BuildHistogram()
              .Name("dedupd_event_latency_seconds")
              .Help("Time from an input message's Kafka timestamp (CreateTime or LogAppendTime, "
                    "as the topic sets it) to the commit of its outputs")
              .Register(registry)
              .Add({}, CommitLatencyBuckets())),
      commit_seconds_(prometheus::BuildHistogram()
                          .Name("dedupd_commit_seconds")
                          .Help("Time a committed batch's commit held the processing loop "
                                "(exactly-once: sending the offsets and committing the "
                                "transaction; at-least-once: flushing the producer and "
                                "committing the offsets)")
                          .Register(registry)
                          .Add({}, CommitBuckets())),
      rebalances_(prometheus::BuildCounter()
                      .Name("dedupd_rebalances_total")
                      .Help("Consumer group rebalance callbacks, by kind (assigned, revoked, "
                            "lost: taken away without a revoke, after a session timeout)")
                      .Register(registry)),
      assigned_partitions_(prometheus::BuildGauge()
                               .Name("dedupd_assigned_partitions")
                               .Help("Input partitions this instance owns now")
                               .Register(registry)
                               .Add({})),
      consumer_lag_(
          prometheus::BuildGauge()
              .Name("dedupd_consumer_lag_messages")
              .Help(
                  "Messages behind the end of each input partition (log end offset minus position)")
              .Register(registry)),
      ready_(prometheus::BuildGauge()
                 .Name("dedupd_ready")
                 .Help("1 when /readyz answers ready")
                 .Register(registry)
                 .Add({})),
      loop_last_progress_(prometheus::BuildGauge()
                              .Name("dedupd_loop_last_progress_timestamp_seconds")
                              .Help("Unix time of the processing loop's last sign of progress "
                                    "(/healthz fails after health.liveness_timeout_ms without)")
                              .Register(registry)
                              .Add({})),
      brokers_up_(prometheus::BuildGauge()
                      .Name("dedupd_brokers_up")
                      .Help("Brokers librdkafka reports UP (-1 before the first statistics)")
                      .Register(registry)
                      .Add({})),
      broker_unavailable_seconds_(
          prometheus::BuildGauge()
              .Name("dedupd_broker_unavailable_seconds")
              .Help("Seconds since the last moment any broker was up; 0 while one is")
              .Register(registry)
              .Add({})) {
  brokers_up_.Set(-1);
  for (auto kind : {"assigned", "revoked", "lost"}) rebalances_.Add({{"kind", kind}});
}

void DeliveryMetrics::CountTransaction(TransactionResult result) {
  switch (result) {
    case TransactionResult::kCommitted: committed_.Increment(); return;
    case TransactionResult::kAborted: aborted_.Increment(); return;
  }
}

void DeliveryMetrics::CountRebalance(std::string_view kind) {
  rebalances_.Add({{"kind", std::string(kind)}}).Increment();
}

void DeliveryMetrics::SetConsumerLag(std::string_view topic, int32_t partition, double lag) {
  std::lock_guard lock(lag_mu_);
  consumer_lag_.Add({{"topic", std::string(topic)}, {"partition", std::to_string(partition)}})
      .Set(lag);
}

void DeliveryMetrics::RemoveConsumerLag(std::string_view topic, int32_t partition) {
  const prometheus::Labels labels{{"topic", std::string(topic)},
                                  {"partition", std::to_string(partition)}};
  std::lock_guard lock(lag_mu_);
  if (consumer_lag_.Has(labels)) consumer_lag_.Remove(&consumer_lag_.Add(labels));
}

}  // namespace dedupd::delivery
