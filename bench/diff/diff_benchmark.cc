// Speed of the diff stage: DiffSentences on the Sichuan release pair, on a
// 2,000-sentence page with 1% of its sentences edited, and on the
// pathological 20,000-sentence shuffle (bounded by max_edit_cost); plus the
// renderings and the intra-sentence diff on their own.
//
//   build-<you>/bench/diff/bench_diff --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "diff/diff.h"
#include "unit/diff/test_util.h"

namespace dedupd::diff {
namespace {

using testing::ReadFixture;
using testing::RemoveSpaces;
using testing::SplitForTest;

// Code points of the Sichuan release, as the alphabet of synthetic sentences
// with realistic lengths (30-90 characters) and character mix.
std::vector<std::string> Alphabet() {
  const std::string text = ReadFixture("sc-gov-release.txt");
  std::vector<std::string> cps;
  for (size_t i = 0; i < text.size();) {
    const size_t len = testing::Utf8Length(static_cast<unsigned char>(text[i]));
    if (len == 3) cps.push_back(text.substr(i, len));  // CJK and CJK punctuation
    i += len;
  }
  return cps;
}

std::vector<Sentence> SyntheticPage(size_t count, uint32_t seed) {
  const std::vector<std::string> alphabet = Alphabet();
  std::mt19937 rng(seed);
  std::vector<Sentence> out;
  for (size_t i = 0; i < count; ++i) {
    std::string t;
    const size_t len = 30 + rng() % 60;
    for (size_t k = 0; k < len; ++k) t += alphabet[rng() % alphabet.size()];
    t += "。";
    out.push_back({t, RemoveSpaces(t), static_cast<uint32_t>(i / 4)});
  }
  return out;
}

// Edits 1% of the sentences, evenly spread: a one-character typo, an
// inserted clause, a changed number, in turn.
std::vector<Sentence> EditOnePercent(std::vector<Sentence> page) {
  int kind = 0;
  for (size_t i = 50; i < page.size(); i += 100, ++kind) {
    std::string& t = page[i].text;
    switch (kind % 3) {
      case 0: t.replace(0, 3, "勇"); break;
      case 1: t.insert(30, "坚持全省一盘棋,"); break;
      case 2: t.insert(15, "未来三年"); break;
    }
    page[i].key = RemoveSpaces(t);
  }
  return page;
}

void BM_DiffSichuanRelease(benchmark::State& state) {
  const std::vector<Sentence> a = SplitForTest(ReadFixture("sc-gov-release.txt"));
  const std::vector<Sentence> b = SplitForTest(ReadFixture("sc-gov-release-revised.txt"));
  for (auto _ : state) {
    DiffResult d = DiffSentences(a, b);
    benchmark::DoNotOptimize(d);
  }
  state.counters["sentences"] = static_cast<double>(a.size());
}
BENCHMARK(BM_DiffSichuanRelease);

void BM_DiffSichuanReleaseAndRender(benchmark::State& state) {
  const std::vector<Sentence> a = SplitForTest(ReadFixture("sc-gov-release.txt"));
  const std::vector<Sentence> b = SplitForTest(ReadFixture("sc-gov-release-revised.txt"));
  for (auto _ : state) {
    DiffResult d = DiffSentences(a, b);
    std::string unified = RenderUnified(a, b, d, "v1", "v2");
    for (const Hunk& h : d.hunks) unified += RenderWordDiff(h);
    benchmark::DoNotOptimize(unified);
  }
}
BENCHMARK(BM_DiffSichuanReleaseAndRender);

void BM_Diff2000SentencesOnePercentChanged(benchmark::State& state) {
  const std::vector<Sentence> a = SyntheticPage(2000, 1);
  const std::vector<Sentence> b = EditOnePercent(a);
  size_t bytes = 0;
  for (const Sentence& s : a) bytes += s.text.size();
  for (auto _ : state) {
    DiffResult d = DiffSentences(a, b);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_Diff2000SentencesOnePercentChanged);

// The worst case the bounds are for: every sentence moved.
void BM_DiffShuffled20000(benchmark::State& state) {
  const std::vector<Sentence> a = SyntheticPage(20000, 2);
  std::vector<Sentence> b = a;
  std::mt19937 rng(3);
  std::shuffle(b.begin(), b.end(), rng);
  for (auto _ : state) {
    DiffResult d = DiffSentences(a, b);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DiffShuffled20000)->Unit(benchmark::kMillisecond);

void BM_DiffWithinSentence(benchmark::State& state) {
  const std::vector<Sentence> a = SplitForTest(ReadFixture("sc-gov-release.txt"));
  const std::vector<Sentence> b = SplitForTest(ReadFixture("sc-gov-release-revised.txt"));
  const DiffResult d = DiffSentences(a, b);
  const Hunk& h = d.hunks.front();
  for (auto _ : state) {
    SentenceSpans s = DiffWithinSentence(h.old_text[1], h.new_text[1]);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_DiffWithinSentence);

}  // namespace
}  // namespace dedupd::diff
