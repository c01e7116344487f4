#include "delivery/delivery_metrics.h"

namespace dedupd::delivery {

DeliveryMetrics::DeliveryMetrics(prometheus::Registry& registry)
    : transactions_(prometheus::BuildCounter()
                        .Name("dedupd_transactions_total")
                        .Help("Kafka transactions (or at-least-once commits), by result")
                        .Register(registry)),
      committed_(transactions_.Add({{"result", "committed"}})),
      aborted_(transactions_.Add({{"result", "aborted"}})) {}

void DeliveryMetrics::CountTransaction(TransactionResult result) {
  switch (result) {
    case TransactionResult::kCommitted: committed_.Increment(); return;
    case TransactionResult::kAborted: aborted_.Increment(); return;
  }
}

}  // namespace dedupd::delivery
