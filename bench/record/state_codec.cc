// CPU and bytes of the state record (the store's value and the changelog
// record) by state.text_compression (docs/delivery.md, "Run loop cost,
// session 9"): every page of a JSON-lines stream goes through one Detector,
// as `dedupd scan` runs it; each state it stores (text and history, as the
// store keeps it) is kept, then all are encoded and decoded with zstd level 1
// (format 4), LZ4 (format 6) and packed LZ4 (format 7). Prints the mean record size, the
// texts' compressed share, and the CPU time per encode and decode (best of 3
// passes: the machine is shared).
//   bench_state_codec pages.jsonl [max_pages]
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "stored_states.h"

using namespace dedupd;
using bench::CpuMicrosPer;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_state_codec pages.jsonl [max_pages]\n");
    return 2;
  }
  const size_t max_pages = argc > 2 ? std::stoul(argv[2]) : SIZE_MAX;
  std::vector<state::UrlState> states;
  size_t text_bytes = 0, with_history = 0;
  const int64_t lines = bench::RunStoredStates(argv[1], max_pages, [&](const state::UrlState& s) {
    if (!s.text_known) return;
    states.push_back(s);
    text_bytes += s.text.size();
    for (const auto& v : s.versions) text_bytes += v.text.size();
    with_history += s.versions.size() > 1 ? 1 : 0;
  });
  if (lines < 0) return 1;
  std::printf("%lld lines, %zu stored states (%zu with earlier versions), %.0f B of text each\n",
              static_cast<long long>(lines), states.size(), with_history,
              static_cast<double>(text_bytes) / static_cast<double>(states.size()));
  for (state::TextCompression codec : {state::TextCompression::kZstd, state::TextCompression::kLz4,
                                       state::TextCompression::kLz4Packed}) {
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
        "%-10s format %d: %8.1f B per record (%.3f of the text), encode %6.2f us, decode "
        "%6.2f us per record%s\n",
        codec == state::TextCompression::kLz4         ? "lz4"
        : codec == state::TextCompression::kLz4Packed ? "lz4-packed"
                                                      : "zstd",
        static_cast<int>(static_cast<uint8_t>(values.front()[0])),
        static_cast<double>(bytes) / static_cast<double>(states.size()),
        static_cast<double>(bytes) / static_cast<double>(text_bytes), encode, decode,
        failed > 0 ? " DECODE FAILURES" : "");
  }
  return 0;
}
