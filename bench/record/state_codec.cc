// CPU and bytes of the state record (the store's value and the changelog
// record) by state.text_compression (docs/delivery.md, "Run loop cost,
// session 9"): every page of a JSON-lines stream goes through one Detector,
// as `dedupd scan` runs it; each state it stores (text and history, as the
// store keeps it) is kept, then all are encoded and decoded with LZ4 (format
// 6) and with zstd level 1 (format 4). Prints the mean record size, the
// texts' compressed share, and the CPU time per encode and decode (best of 3
// passes: the machine is shared).
//   bench_state_codec pages.jsonl [max_pages]
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "state/store.h"

using namespace dedupd;

namespace {

double CpuMicrosPer(size_t n, const std::function<void()>& pass) {
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_state_codec pages.jsonl [max_pages]\n");
    return 2;
  }
  const size_t max_pages = argc > 2 ? std::stoul(argv[2]) : SIZE_MAX;
  std::ifstream in(argv[1]);
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  app::Pipeline pipeline(app::PipelineOptions{}, &detector, &metrics);
  std::vector<state::UrlState> states;
  size_t lines = 0, text_bytes = 0, with_history = 0;
  std::vector<app::OutputRecord> records;
  for (std::string line; lines < max_pages && std::getline(in, line);) {
    if (line.empty()) continue;
    records.clear();
    app::PipelineResult r = pipeline.Process({line, {}, {"in", 0, int64_t(lines), 0}}, &records);
    ++lines;
    std::string error;
    if (!detector.Commit({}, &error)) {
      std::fprintf(stderr, "commit: %s\n", error.c_str());
      return 1;
    }
    if (!r.outcome.stored || !r.outcome.stored->text_known) continue;
    states.push_back(*r.outcome.stored);
    text_bytes += states.back().text.size();
    for (const auto& v : states.back().versions) text_bytes += v.text.size();
    with_history += states.back().versions.size() > 1 ? 1 : 0;
  }
  std::printf("%zu lines, %zu stored states (%zu with earlier versions), %.0f B of text each\n",
              lines, states.size(), with_history,
              static_cast<double>(text_bytes) / static_cast<double>(states.size()));
  for (state::TextCompression codec :
       {state::TextCompression::kZstd, state::TextCompression::kLz4}) {
    state::SetTextCompression(codec);
    std::vector<std::string> values(states.size());
    size_t bytes = 0;
    const double encode = CpuMicrosPer(states.size(), [&] {
      bytes = 0;
      for (size_t i = 0; i < states.size(); ++i) {
        values[i] = state::EncodeUrlState(states[i]);
        bytes += values[i].size();
      }
    });
    state::UrlState s;
    size_t failed = 0;
    const double decode = CpuMicrosPer(states.size(), [&] {
      failed = 0;
      for (const auto& v : values) failed += state::DecodeUrlState(v, &s) ? 0 : 1;
    });
    std::printf(
        "%-5s format %d: %8.1f B per record (%.3f of the text), encode %6.2f us, decode "
        "%6.2f us per record%s\n",
        codec == state::TextCompression::kLz4 ? "lz4" : "zstd",
        static_cast<int>(static_cast<uint8_t>(values.front()[0])),
        static_cast<double>(bytes) / static_cast<double>(states.size()),
        static_cast<double>(bytes) / static_cast<double>(text_bytes), encode, decode,
        failed > 0 ? " DECODE FAILURES" : "");
  }
  return 0;
}
