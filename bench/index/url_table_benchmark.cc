// UrlTable: Add (once per new document), Find (once per page, and inside
// Add), Url (when an event names an original) at 200k URLs shaped like the
// corpus's (bench/scaling/url_like.h from tests/data/corpus/dev.jsonl's URLs),
// and the arena's bytes per URL.
//
//   build/bench/index/bench_index --benchmark_filter=UrlTable
// Compare builds in alternation (the machine is shared): bench/index/alternate-url.sh.
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../scaling/url_like.h"
#include "index/url_table.h"

namespace dedupd::index {
namespace {

constexpr size_t kHeld = 200000;

// The corpus's URLs in stream order (the "url" fields of dev.jsonl).
std::vector<std::string> CorpusUrls() {
  std::vector<std::string> urls;
  std::ifstream in(DEDUPD_TEST_DATA_DIR "/corpus/dev.jsonl");
  const std::string key = "{\"url\": \"";
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t end = line.find('"', key.size());
    if (end != std::string::npos) urls.push_back(line.substr(key.size(), end - key.size()));
  }
  return urls;
}

struct Urls {
  std::vector<std::string> held;    // in the table, in this order
  std::vector<std::string> absent;  // never added
  std::unique_ptr<UrlTable> table;
};

const Urls& GetUrls() {
  static const Urls* urls = [] {
    auto* u = new Urls;
    const std::vector<std::string> real = CorpusUrls();
    const std::vector<std::string> words = bench::PathWords(real);
    std::mt19937_64 rng(7);
    for (size_t i = 0; i < 2 * kHeld && !real.empty(); ++i) {
      (i % 2 == 0 ? u->held : u->absent)
          .push_back(bench::UrlLike(real[rng() % real.size()], words, rng));
    }
    u->table = std::make_unique<UrlTable>();
    for (const std::string& s : u->held) u->table->Add(s);
    return u;
  }();
  return *urls;
}

// Adds 100k URLs to an empty table: the dictionary training (at 256, 1k, 4k,
// 16k and 64k URLs) and the block compression included.
void BM_UrlTableAdd(benchmark::State& state) {
  const Urls& u = GetUrls();
  const size_t n = 100000;
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<UrlTable>();
    state.ResumeTiming();
    for (size_t i = 0; i < n; ++i) benchmark::DoNotOptimize(table->Add(u.held[i]));
    state.PauseTiming();
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_UrlTableAdd)->Unit(benchmark::kMillisecond);

void BM_UrlTableFindHeld(benchmark::State& state) {
  const Urls& u = GetUrls();
  std::mt19937_64 rng(1);
  for (auto _ : state) benchmark::DoNotOptimize(u.table->Find(u.held[rng() % u.held.size()]));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["arena_bytes_per_url"] =
      static_cast<double>(u.table->ArenaBytes()) / static_cast<double>(u.table->size());
  state.counters["id_bytes_per_url"] =
      static_cast<double>(u.table->IdBytes()) / static_cast<double>(u.table->size());
}
BENCHMARK(BM_UrlTableFindHeld);

// The detector's pattern for a URL it holds (a re-scrape, a re-delivered
// fingerprint record): Find, then Add (which finds it again).
void BM_UrlTableFindThenAddHeld(benchmark::State& state) {
  const Urls& u = GetUrls();
  UrlTable& table = *u.table;  // (Add of a held URL changes nothing)
  std::mt19937_64 rng(4);
  for (auto _ : state) {
    const std::string& url = u.held[rng() % u.held.size()];
    benchmark::DoNotOptimize(table.Find(url));
    benchmark::DoNotOptimize(table.Add(url));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_UrlTableFindThenAddHeld);

// A URL not held: what Find does for a new page's URL, and Add before adding.
void BM_UrlTableFindAbsent(benchmark::State& state) {
  const Urls& u = GetUrls();
  std::mt19937_64 rng(2);
  for (auto _ : state) benchmark::DoNotOptimize(u.table->Find(u.absent[rng() % u.absent.size()]));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_UrlTableFindAbsent);

void BM_UrlTableUrl(benchmark::State& state) {
  const Urls& u = GetUrls();
  std::mt19937_64 rng(3);
  std::string out;
  for (auto _ : state) {
    u.table->Url(static_cast<DocId>(rng() % u.table->size()), &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_UrlTableUrl);

}  // namespace
}  // namespace dedupd::index
