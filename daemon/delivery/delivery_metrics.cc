#include "delivery/delivery_metrics.h"

namespace dedupd::delivery {
namespace {

// 5 ms to 60 s: a commit interval (1 s by default) is the usual middle.
prometheus::Histogram::BucketBoundaries CommitLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60};
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
              .Add({}, CommitLatencyBuckets())) {}

void DeliveryMetrics::CountTransaction(TransactionResult result) {
  switch (result) {
    case TransactionResult::kCommitted: committed_.Increment(); return;
    case TransactionResult::kAborted: aborted_.Increment(); return;
  }
}

}  // namespace dedupd::delivery
