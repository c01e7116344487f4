#include "delivery/store_metrics.h"

#include <string>

namespace dedupd::delivery {

StoreMetrics::StoreMetrics(prometheus::Registry& registry)
    : errors_(prometheus::BuildCounter()
                  .Name("dedupd_state_store_errors_total")
                  .Help("State store writes that failed or were refused, and volumes "
                        "found under state.min_free_bytes, by kind (no_space, io)")
                  .Register(registry)),
      writable_(prometheus::BuildGauge()
                    .Name("dedupd_state_store_writable")
                    .Help("1 while the state store takes writes; 0 while its volume is "
                          "under state.min_free_bytes or its writes fail")
                    .Register(registry)
                    .Add({})) {
  writable_.Set(1);
  // So that each series exists (at 0) before the first error of its kind.
  for (auto kind : {"no_space", "io"}) errors_.Add({{"kind", kind}});
}

void StoreMetrics::CountError(std::string_view kind) {
  errors_.Add({{"kind", std::string(kind)}}).Increment();
}

}  // namespace dedupd::delivery
