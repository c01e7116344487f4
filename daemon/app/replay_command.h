// `dedupd replay`: the command, the Kafka side of a replay (the planner
// without a broker is replay/replay.h). Part of the dedupd binary, with
// `dedupd run` (app/run.h), whose loop it runs.
//
//   return app::RunReplay(config_file, environ, overrides, args);  // main.cc
//
// Thread-safety: called once, from main.
#pragma once

#include <string>
#include <vector>

#include "replay/replay.h"

namespace dedupd::app {

// Loads the live configuration (file, environment, overrides), derives the
// replay's, plans the ranges with the broker, runs the daemon's loop until
// every partition reached its end, prints the summary. Exit codes: 0
// finished; 1 failed (broker, topics, store); 2 bad arguments or
// configuration; 3 interrupted by a signal before the end (the replay's group
// has committed what was done: the same command continues).
int RunReplay(const std::string& config_file, char** environ_vars,
              const std::vector<std::string>& overrides, const ReplayArgs& args);

}  // namespace dedupd::app
