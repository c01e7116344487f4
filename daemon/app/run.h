// `dedupd run`: the Kafka daemon (consumer group in, events/diffs/dead letters
// out, metrics and health endpoints). See docs/delivery.md for guarantees.
#pragma once

#include "config/config.h"

namespace dedupd::app {

int RunDaemon(const config::Config& cfg);

}  // namespace dedupd::app
