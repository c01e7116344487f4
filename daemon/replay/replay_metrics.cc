#include "replay/replay_metrics.h"

namespace dedupd::app {

ReplayMetrics::ReplayMetrics(prometheus::Registry& registry)
    : remaining_(prometheus::BuildGauge()
                     .Name("dedupd_replay_remaining_messages")
                     .Help("Input messages a `dedupd replay` still has to process before "
                           "the end offsets taken at its start (0 outside a replay)")
                     .Register(registry)
                     .Add({})) {}

}  // namespace dedupd::app
