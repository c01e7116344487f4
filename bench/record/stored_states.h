// What bench_record_size and bench_state_codec share: a JSON-lines stream
// run page by page through one Detector, as `dedupd scan` runs it, each
// state it stores handed to the caller; and the CPU time of a pass.
//   RunStoredStates(path, SIZE_MAX, [&](const state::UrlState& s) { ... });
// Single-threaded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "state/store.h"

namespace dedupd::bench {

// Process CPU time per item of one pass over n items, the best of 3 passes
// (the machine is shared: CPU time is what the pass costs, wall time what
// the others left).
inline double CpuMicrosPer(size_t n, const std::function<void()>& pass) {
  double best = 1e18;
  for (int run = 0; run < 3; ++run) {
    const std::clock_t t0 = std::clock();
    pass();
    const std::clock_t t1 = std::clock();
    best = std::min(best,
                    1e6 * static_cast<double>(t1 - t0) / CLOCKS_PER_SEC / static_cast<double>(n));
  }
  return best;
}

// Runs the first max_pages non-empty lines of the stream at path through
// one pipeline and detector, committing after each, and calls stored() with
// every state a page stored. Returns the number of lines run, or -1 (after
// printing why) when a commit failed.
inline int64_t RunStoredStates(const char* path, size_t max_pages,
                               const std::function<void(const state::UrlState&)>& stored) {
  std::ifstream in(path);
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  app::Pipeline pipeline(app::PipelineOptions{}, &detector, &metrics);
  size_t lines = 0;
  std::vector<app::OutputRecord> records;
  for (std::string line; lines < max_pages && std::getline(in, line);) {
    if (line.empty()) continue;
    records.clear();
    app::PipelineResult r = pipeline.Process({line, {}, {"in", 0, int64_t(lines), 0}}, &records);
    ++lines;
    std::string error;
    if (!detector.Commit({}, &error)) {
      std::fprintf(stderr, "commit: %s\n", error.c_str());
      return -1;
    }
    if (r.outcome.stored) stored(*r.outcome.stored);
  }
  return static_cast<int64_t>(lines);
}

}  // namespace dedupd::bench
