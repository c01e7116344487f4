// `dedupd scan FILE|-`: the embedded default. Runs the whole pipeline on JSON
// lines without Kafka and writes one record per input line to stdout, plus
// one diff record after each REVISED / NEAR_DUPLICATE event:
//   --format json (default): {"event":{...}} | {"diff":{...}} | {"dead_letter":{...}} |
//   {"skipped":{...}}
//   --format text: a readable console view with word-level diffs.
// State: in memory (a fresh, reproducible run) unless --state-dir DIR keeps it
// in a RocksDB store across runs. Each line's state is committed before its
// verdict is printed; a state volume that fills up stops the scan with an
// error naming the line to resume from and exit code kExitStateFull, and the
// verdicts printed before it are stored (docs/delivery.md, "Full disk").
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace dedupd::app {

struct ScanArgs {
  std::string input = "-";
  std::string state_dir;        // empty: in-memory state
  std::string format = "json";  // json | text
  int metrics_port = -1;        // >= 0: serve /metrics while scanning (0: any free port)
  int hold_seconds = 0;         // keep serving metrics this long after the scan
};

// Exit code of a scan stopped by a full state volume (1: other errors, 2: usage).
inline constexpr int kExitStateFull = 3;

int RunScan(const config::Settings& cfg, const ScanArgs& args);

}  // namespace dedupd::app
