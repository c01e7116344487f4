// ParagraphIndex: query and insert rates with 200k documents of 8 long
// paragraphs each, where a few paragraphs are shared (syndication) and one
// footer paragraph per "site" is boilerplate.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "index/paragraph_index.h"

namespace dedupd::index {
namespace {

constexpr size_t kDocs = 200000;
constexpr size_t kParagraphs = 8;

struct Data {
  std::vector<std::vector<uint64_t>> docs;
  ParagraphIndex index;
};

const Data& GetData() {
  static const std::unique_ptr<Data> data = [] {
    auto d = std::make_unique<Data>();
    std::mt19937_64 rng(3);
    d->docs.resize(kDocs);
    for (size_t i = 0; i < kDocs; ++i) {
      std::vector<uint64_t>& p = d->docs[i];
      for (size_t j = 0; j + 1 < kParagraphs; ++j) {
        // 1 in 20 paragraphs is copied from an earlier document.
        p.push_back(i > 0 && rng() % 20 == 0 ? d->docs[rng() % i][j] : rng());
      }
      p.push_back(0xF00700 + i % 500);  // site footer: ~400 docs each, boilerplate
      d->index.Insert(static_cast<DocId>(i), p);
    }
    return d;
  }();
  return *data;
}

void BM_ParagraphQuery(benchmark::State& state) {
  const Data& d = GetData();
  std::vector<std::pair<DocId, uint32_t>> out;
  size_t i = 0;
  for (auto _ : state) {
    d.index.Query(d.docs[(i++ * 7919) % kDocs], 2, 10, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["bytes_per_doc"] =
      static_cast<double>(d.index.MemoryBytes()) / static_cast<double>(kDocs);
}
BENCHMARK(BM_ParagraphQuery);

void BM_ParagraphRevise(benchmark::State& state) {
  Data& d = const_cast<Data&>(GetData());
  std::mt19937_64 rng(9);
  for (auto _ : state) {
    const size_t doc = rng() % kDocs;
    d.index.Remove(static_cast<DocId>(doc), d.docs[doc]);
    d.docs[doc][rng() % (kParagraphs - 1)] = rng();
    d.index.Insert(static_cast<DocId>(doc), d.docs[doc]);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParagraphRevise);

// The same revisions removing as the detector does for a document another
// instance owns (session 9): the site footer, boilerplate, by its tag (the
// detector's side map keeps it), the postings by retiring the document's
// generation, and a sweep of the stale postings when due (every ~3,300
// revisions here; at 10^6 documents a sweep scans ~7 M entries).
void BM_ParagraphReviseByGeneration(benchmark::State& state) {
  Data& d = const_cast<Data&>(GetData());
  std::mt19937_64 rng(9);
  size_t sweeps = 0;
  for (auto _ : state) {
    const size_t doc = rng() % kDocs;
    const uint32_t footer = ParagraphIndex::Tag(d.docs[doc].back());
    d.index.RemoveTags(static_cast<DocId>(doc), std::span<const uint32_t>(&footer, 1));
    d.index.Retire(static_cast<DocId>(doc));
    d.index.Settle();
    if (d.index.SweepDue(kParagraphs)) {
      d.index.Sweep();
      ++sweeps;
    }
    d.docs[doc][rng() % (kParagraphs - 1)] = rng();
    d.index.Insert(static_cast<DocId>(doc), d.docs[doc]);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["sweeps"] = static_cast<double>(sweeps);
}
BENCHMARK(BM_ParagraphReviseByGeneration);

}  // namespace
}  // namespace dedupd::index
