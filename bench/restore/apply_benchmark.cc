// The CPU side of a restore, without Kafka (bench/restore/restore.py measures
// the whole start): what one fingerprint record costs to recognise, decode and
// apply to the detector's memory.
//  - BM_DecodeFull / BM_DecodeSkipText: DecodeUrlState with and without the
//    text (a record's full decode vs what the fingerprints reader does);
//  - BM_SkipOwn: a record the detector already holds (this instance's own
//    record read back): PeekUrlState + Detector::HoldsVersion, the path that
//    replaced a full decode (issue #12);
//  - BM_ApplyFingerprints: decode (no text) + ApplyFingerprints, per record,
//    into a detector that holds `range` documents at the end.
//
//   build/bench/restore/bench_restore --benchmark_filter=. --benchmark_repetitions=3
//
// Single-threaded.
#include <benchmark/benchmark.h>

#include <chrono>

#include "classify/detector.h"
#include "restore/records.h"
#include "state/store.h"
#include "state/url_state.h"

namespace {

using dedupd::state::UrlState;

const std::vector<std::string>& Encoded() {
  static const std::vector<std::string> records = [] {
    const auto vocab = restore_bench::Vocabulary();
    std::vector<std::string> out;
    for (uint64_t id = 0; id < 4096; ++id) {
      out.push_back(dedupd::state::EncodeUrlState(restore_bench::MakeState(id, vocab, 500),
                                                  dedupd::state::HistoryPart::kLatest));
    }
    return out;
  }();
  return records;
}

void BM_DecodeFull(benchmark::State& state) {
  const auto& records = Encoded();
  UrlState s;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dedupd::state::DecodeUrlState(records[i++ % records.size()], &s));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeFull);

void BM_DecodeSkipText(benchmark::State& state) {
  const auto& records = Encoded();
  UrlState s;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dedupd::state::DecodeUrlState(
        records[i++ % records.size()], &s, dedupd::state::TextPart::kSkipIfIndexed));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeSkipText);

void BM_SkipOwn(benchmark::State& state) {
  const auto& records = Encoded();
  auto store = dedupd::state::NewMemoryStore();
  dedupd::classify::Detector detector(dedupd::classify::DetectOptions{}, store.get());
  std::vector<UrlState> states(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    dedupd::state::DecodeUrlState(records[i], &states[i], dedupd::state::TextPart::kSkipIfIndexed);
  }
  size_t applied = 0;
  std::string error;
  detector.ApplyFingerprints(&states, &applied, &error);
  size_t i = 0;
  for (auto _ : state) {
    std::string_view url;
    uint32_t version = 0;
    const bool peeked = dedupd::state::PeekUrlState(records[i++ % records.size()], &url, &version);
    benchmark::DoNotOptimize(peeked && detector.HoldsVersion(url, version));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SkipOwn);

void BM_ApplyFingerprints(benchmark::State& state) {
  const auto vocab = restore_bench::Vocabulary();
  const size_t n = static_cast<size_t>(state.range(0));
  // Records with distinct URLs (ids past the shared 4096), encoded up front.
  std::vector<std::string> records;
  records.reserve(n);
  for (uint64_t id = 0; id < n; ++id) {
    records.push_back(dedupd::state::EncodeUrlState(restore_bench::MakeState(id, vocab, 500),
                                                    dedupd::state::HistoryPart::kLatest));
  }
  using Clock = std::chrono::steady_clock;
  double decode_s = 0;
  double apply_s = 0;
  for (auto _ : state) {
    auto store = dedupd::state::NewMemoryStore();
    dedupd::classify::Detector detector(dedupd::classify::DetectOptions{}, store.get());
    std::vector<UrlState> chunk;
    size_t applied = 0;
    std::string error;
    auto t = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      chunk.emplace_back();
      dedupd::state::DecodeUrlState(records[i], &chunk.back(),
                                    dedupd::state::TextPart::kSkipIfIndexed);
      if (chunk.size() == 2000 || i + 1 == n) {
        auto a = Clock::now();
        decode_s += std::chrono::duration<double>(a - t).count();
        detector.ApplyFingerprints(&chunk, &applied, &error);
        chunk.clear();
        t = Clock::now();
        apply_s += std::chrono::duration<double>(t - a).count();
      }
    }
    benchmark::DoNotOptimize(detector.IndexedDocuments());
  }
  state.counters["decode_us_per_record"] = decode_s * 1e6 / static_cast<double>(n);
  state.counters["apply_us_per_record"] = apply_s * 1e6 / static_cast<double>(n);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_ApplyFingerprints)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
