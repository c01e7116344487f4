// SimHashIndex at 1M and 10M documents, k = 3: query rate, revision
// (remove + insert) rate, build rate, bytes per document.
//
//   build-<you>/bench/index/bench_index --benchmark_filter=SimHash
// The 10M index takes ~0.6 GB and builds in a few seconds (once per process).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "index/simhash_index.h"

namespace dedupd::index {
namespace {

constexpr int kDistance = 3;

uint64_t FlipRandomBits(std::mt19937_64& rng, uint64_t x, int bits) {
  for (int i = 0; i < bits; ++i) x ^= uint64_t{1} << (rng() % 64);  // may repeat: <= bits flips
  return x;
}

// Random fingerprints; 1 in 10 documents is a planted near copy (0..3 bits,
// some at 4) of an earlier one, so that queries find real neighbours.
struct Corpus {
  std::vector<uint64_t> hashes;
  std::unique_ptr<SimHashIndex> index;
  double build_seconds = 0;
};

const Corpus& GetCorpus(size_t docs) {
  static std::map<size_t, std::unique_ptr<Corpus>> cache;
  auto& slot = cache[docs];
  if (slot) return *slot;
  slot = std::make_unique<Corpus>();
  Corpus& c = *slot;
  std::mt19937_64 rng(docs);
  c.hashes.resize(docs);
  for (size_t i = 0; i < docs; ++i) {
    c.hashes[i] = (i > 0 && i % 10 == 0)
                      ? FlipRandomBits(rng, c.hashes[rng() % i], static_cast<int>(rng() % 5))
                      : rng();
  }
  c.index = std::make_unique<SimHashIndex>(kDistance);
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::pair<DocId, SimHash64>> entries(docs);
    for (size_t i = 0; i < docs; ++i) entries[i] = {static_cast<DocId>(i), SimHash64{c.hashes[i]}};
    c.index->InsertBatch(entries);  // the start-up load from dedupd-fingerprints
  }
  c.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "built %zu docs in %.2f s, %.1f bytes/doc\n", docs, c.build_seconds,
               static_cast<double>(c.index->MemoryBytes()) / static_cast<double>(docs));
  return c;
}

// Half the queries are near an indexed document (0..3 bits away), half random.
std::vector<uint64_t> MakeQueries(const Corpus& c, size_t n) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> q(n);
  for (size_t i = 0; i < n; ++i) {
    q[i] = i % 2 == 0
               ? FlipRandomBits(rng, c.hashes[rng() % c.hashes.size()], static_cast<int>(rng() % 4))
               : rng();
  }
  return q;
}

void SetCounters(benchmark::State& state, const Corpus& c) {
  state.counters["docs"] = static_cast<double>(c.index->size());
  state.counters["bytes_per_doc"] =
      static_cast<double>(c.index->MemoryBytes()) / static_cast<double>(c.index->size());
  state.counters["build_s"] = c.build_seconds;
}

void BM_SimHashQuery(benchmark::State& state) {
  const Corpus& c = GetCorpus(static_cast<size_t>(state.range(0)));
  const std::vector<uint64_t> queries = MakeQueries(c, 1 << 16);
  std::vector<Neighbor> out;
  size_t i = 0, found = 0;
  for (auto _ : state) {
    c.index->Query(SimHash64{queries[i++ & (queries.size() - 1)]}, kDistance, &out);
    found += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["neighbours_per_query"] =
      static_cast<double>(found) / static_cast<double>(state.iterations());
  SetCounters(state, c);
}
BENCHMARK(BM_SimHashQuery)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kNanosecond);

// A revision: the page's old fingerprint out, a nearby new one in.
void BM_SimHashRevise(benchmark::State& state) {
  Corpus& c = const_cast<Corpus&>(GetCorpus(static_cast<size_t>(state.range(0))));
  std::mt19937_64 rng(11);
  for (auto _ : state) {
    const size_t doc = rng() % c.hashes.size();
    const uint64_t next = FlipRandomBits(rng, c.hashes[doc], 1 + static_cast<int>(rng() % 6));
    if (!c.index->Remove(static_cast<DocId>(doc), SimHash64{c.hashes[doc]})) {
      state.SkipWithError("remove failed");
      break;
    }
    c.index->Insert(static_cast<DocId>(doc), SimHash64{next});
    c.hashes[doc] = next;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  SetCounters(state, c);
}
BENCHMARK(BM_SimHashRevise)->Arg(1000000)->Arg(10000000);

// Building 1M: 0 = streaming Inserts from empty (every rebuild included),
// 1 = Reserve then Inserts, 2 = one InsertBatch.
void BM_SimHashBuild(benchmark::State& state) {
  const size_t docs = static_cast<size_t>(state.range(0));
  const int mode = static_cast<int>(state.range(1));
  std::mt19937_64 rng(5);
  std::vector<uint64_t> hashes(docs);
  for (auto& h : hashes) h = rng();
  size_t bytes = 0;
  for (auto _ : state) {
    SimHashIndex idx(kDistance);
    if (mode == 2) {
      std::vector<std::pair<DocId, SimHash64>> entries(docs);
      for (size_t i = 0; i < docs; ++i) entries[i] = {static_cast<DocId>(i), SimHash64{hashes[i]}};
      idx.InsertBatch(entries);
    } else {
      if (mode == 1) idx.Reserve(docs);
      for (size_t i = 0; i < docs; ++i) idx.Insert(static_cast<DocId>(i), SimHash64{hashes[i]});
    }
    bytes = idx.MemoryBytes();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * docs));
  state.counters["bytes_per_doc"] = static_cast<double>(bytes) / static_cast<double>(docs);
}
BENCHMARK(BM_SimHashBuild)
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Args({1000000, 2})
    ->ArgNames({"docs", "mode"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
}  // namespace dedupd::index
