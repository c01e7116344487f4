// Bytes per document on the fingerprints topic (issue #15): every page of a
// JSON-lines stream (bench/gen/gen.py) goes through one Detector, as `dedupd
// scan` runs it, and each state it commits is encoded both ways: the format-4
// record with its text (EncodeUrlState(s, HistoryPart::kLatest), what dedupd
// wrote before issue #15) and the fingerprint record (EncodeFingerprintRecord,
// no text). Prints mean, p50, p99 and max of the value and of key + value,
// the decode CPU time of each and the fingerprint record's encode time.
//   bench_record_size pages.jsonl
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "stored_states.h"

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

// Process CPU time per decode (bench::CpuMicrosPer: best of 3 passes).
double DecodeMicros(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
  state::UrlState s;
  return bench::CpuMicrosPer(values.size(), [&] {
    for (size_t i = 0; i < values.size(); ++i) state::DecodeStateRecord(keys[i], values[i], &s);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_record_size pages.jsonl\n");
    return 2;
  }
  Sizes legacy, compact, compact_copies, compact_others;
  std::vector<std::string> keys, legacy_values, compact_values;
  std::vector<state::UrlState> states;
  const int64_t lines = bench::RunStoredStates(argv[1], SIZE_MAX, [&](const state::UrlState& s) {
    const std::string old_value = state::EncodeUrlState(s, state::HistoryPart::kLatest);
    const std::string new_value = state::EncodeFingerprintRecord(s);
    legacy.Add(s.canonical_url.size(), old_value.size());
    compact.Add(s.canonical_url.size(), new_value.size());
    const bool copy = !s.versions.empty() && !s.versions.front().copy_of.empty();
    (copy ? compact_copies : compact_others).Add(s.canonical_url.size(), new_value.size());
    keys.push_back(s.canonical_url);
    legacy_values.push_back(old_value);
    compact_values.push_back(new_value);
    states.push_back(s);
  });
  if (lines < 0) return 1;
  std::printf("%lld lines, %zu records (new or changed pages)\n", static_cast<long long>(lines),
              keys.size());
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
  // Once per stored page on the loop's thread in `dedupd run` (the
  // fingerprints topic's record); the sketch's code was most of it.
  size_t bytes = 0;
  const double encode = bench::CpuMicrosPer(states.size(), [&] {
    for (const auto& s : states) bytes += state::EncodeFingerprintRecord(s).size();
  });
  std::printf("encode (CPU time): format 5 %.2f us per record\n", encode);
  return bytes > 0 ? 0 : 1;
}
