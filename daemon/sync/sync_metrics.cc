#include "sync/sync_metrics.h"

namespace dedupd::sync {

SyncMetrics::SyncMetrics(prometheus::Registry& registry)
    : restore_remaining_(prometheus::BuildGauge()
                             .Name("dedupd_state_restore_remaining_messages")
                             .Help("State changelog messages still to restore")
                             .Register(registry)
                             .Add({})) {}

}  // namespace dedupd::sync
