// `dedupd run`: the Kafka daemon (consumer group in, events/diffs/dead letters
// out, metrics and health endpoints). See docs/delivery.md for guarantees.
#pragma once

#include "config/config.h"

namespace dedupd::app {

class ReplayRun;

// `replay` non-null: `dedupd replay` (replay/replay.h) through the same loop; it
// decides where partitions without a committed offset start, and the loop
// stops once every partition reached the end the replay planned.
int RunDaemon(const config::Settings& cfg, ReplayRun* replay = nullptr);

}  // namespace dedupd::app
