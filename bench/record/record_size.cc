// Bytes per document on the fingerprints topic (issue #15): every page of a
// JSON-lines stream (bench/gen/gen.py) goes through one Detector, as `dedupd
// scan` runs it, and each state it commits is encoded both ways: the format-4
// record with its text (EncodeUrlState(s, HistoryPart::kLatest), what dedupd
// wrote before issue #15) and the fingerprint record (EncodeFingerprintRecord,
// no text). Prints mean, p50, p99 and max of the value and of key + value,
// and the decode CPU time of each.
//   bench_record_size pages.jsonl
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "state/store.h"

using namespace dedupd;

namespace {

struct Sizes {
  std::vector<size_t> value, key_value;
  void Add(size_t key, size_t value_size) {
    value.push_back(value_size);
    key_value.push_back(key + value_size);
  }
};

void Print(const char* name, std::vector<size_t> v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (size_t x : v) sum += static_cast<double>(x);
  std::printf("  %-10s n %6zu  mean %7.1f  p50 %6zu  p99 %6zu  max %6zu\n", name, v.size(),
              sum / static_cast<double>(v.size()), v[v.size() / 2], v[v.size() * 99 / 100],
              v.back());
}

// Process CPU time per decode, the best of 3 passes (the machine is shared:
// CPU time is what the decode costs, wall time what the others left).
double DecodeMicros(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
  double best = 1e18;
  state::UrlState s;
  for (int run = 0; run < 3; ++run) {
    const std::clock_t t0 = std::clock();
    for (size_t i = 0; i < values.size(); ++i) state::DecodeStateRecord(keys[i], values[i], &s);
    const std::clock_t t1 = std::clock();
    best = std::min(best, 1e6 * static_cast<double>(t1 - t0) / CLOCKS_PER_SEC /
                              static_cast<double>(values.size()));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_record_size pages.jsonl\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  app::Pipeline pipeline(app::PipelineOptions{}, &detector, &metrics);
  Sizes legacy, compact, compact_copies, compact_others;
  std::vector<std::string> keys, legacy_values, compact_values;
  size_t lines = 0;
  std::vector<app::OutputRecord> records;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    records.clear();
    app::PipelineResult r = pipeline.Process({line, {}, {"in", 0, int64_t(lines), 0}}, &records);
    ++lines;
    std::string error;
    if (!detector.Commit({}, &error)) {
      std::fprintf(stderr, "commit: %s\n", error.c_str());
      return 1;
    }
    if (!r.outcome.stored) continue;
    const state::UrlState& s = *r.outcome.stored;
    const std::string old_value = state::EncodeUrlState(s, state::HistoryPart::kLatest);
    const std::string new_value = state::EncodeFingerprintRecord(s);
    legacy.Add(s.canonical_url.size(), old_value.size());
    compact.Add(s.canonical_url.size(), new_value.size());
    const bool copy = !s.versions.empty() && !s.versions.front().copy_of.empty();
    (copy ? compact_copies : compact_others).Add(s.canonical_url.size(), new_value.size());
    keys.push_back(s.canonical_url);
    legacy_values.push_back(old_value);
    compact_values.push_back(new_value);
  }
  std::printf("%zu lines, %zu records (new or changed pages)\n", lines, keys.size());
  std::printf("format 4 with text (before issue #15):\n");
  Print("value", legacy.value);
  Print("key+value", legacy.key_value);
  std::printf("fingerprint record (format 5, no text):\n");
  Print("value", compact.value);
  Print("key+value", compact.key_value);
  std::printf("  of which copies (DUPLICATE, NEAR_DUPLICATE: the copy edge names the original):\n");
  Print("value", compact_copies.value);
  std::printf("  and the others (NEW, REVISED):\n");
  Print("value", compact_others.value);
  std::printf("decode (CPU time): format 4 %.2f us, format 5 %.2f us per record\n",
              DecodeMicros(keys, legacy_values), DecodeMicros(keys, compact_values));
  return 0;
}
