// Speed of the fingerprint stage: tokenising + shingling (CJK and English),
// SimHash (bit-sliced kernels vs the naive reference), content hashes, and raw
// libxxhash over the same bytes as the yardstick.
//
//   build-<you>/bench/fingerprint/bench_fingerprint --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <cctype>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fingerprint/fingerprint.h"

namespace dedupd::fingerprint {
namespace {

constexpr size_t kTargetBytes = 64 * 1024;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The crude stand-in for the text stage: ASCII lower-case, whitespace runs -> one space.
std::string CrudeNormalize(std::string_view in) {
  std::string out;
  bool space = false;
  for (const char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

std::string RepeatFixture(const char* name) {
  const std::string one =
      CrudeNormalize(ReadFile(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/" + name));
  std::string out;
  while (out.size() < kTargetBytes) out += one + " ";
  return out;
}

// ~64 KiB of distinct text: text/plain bodies from the dev corpus (crudely
// unescaped), CJK ones or not. Repeating one fixture makes every shingle occur
// ~14 times; this is the no-repeat case.
std::string CorpusText(bool cjk) {
  const std::string all = ReadFile(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl");
  std::string out;
  std::istringstream lines(all);
  std::string line;
  while (out.size() < kTargetBytes && std::getline(lines, line)) {
    if (line.find("\"text/plain") == std::string::npos) continue;
    const size_t start = line.find("\"body\": \"");
    if (start == std::string::npos) continue;
    std::string body;
    for (size_t i = start + 9; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        body.push_back(line[i] == 'n' || line[i] == 't' ? ' ' : line[i]);
      } else {
        body.push_back(line[i]);
      }
    }
    const bool has_cjk = body.find("\xE7\x9A\x84") != std::string::npos;  // 的
    if (has_cjk == cjk) out += CrudeNormalize(body) + " ";
  }
  return out;
}

const std::string& Text(int which) {
  static const std::string texts[] = {RepeatFixture("sc-gov-release.txt"),
                                      RepeatFixture("en-release.txt"), CorpusText(true),
                                      CorpusText(false)};
  return texts[which];
}
const char* const kTextNames[] = {"cjk_repeated", "en_repeated", "cjk_corpus", "en_corpus"};

void SetLabel(benchmark::State& state, int which) {
  state.SetLabel(std::string(kTextNames[which]) + " " + std::to_string(Text(which).size()) + "B");
}

void BM_CountTokens(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& text = Text(which);
  for (auto _ : state) benchmark::DoNotOptimize(CountTokens(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  SetLabel(state, which);
}
BENCHMARK(BM_CountTokens)->DenseRange(0, 3);

void BM_Shingles(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& text = Text(which);
  std::vector<uint64_t> out;
  for (auto _ : state) {
    out.clear();
    Shingles(text, {}, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["shingles"] = static_cast<double>(out.size());
  SetLabel(state, which);
}
BENCHMARK(BM_Shingles)->DenseRange(0, 3);

// Shingles + SimHash + content hash: the fingerprint path after normalisation.
void BM_FingerprintPath(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& text = Text(which);
  std::vector<uint64_t> out;
  for (auto _ : state) {
    out.clear();
    Shingles(text, {}, &out);
    benchmark::DoNotOptimize(ComputeSimHash(out));
    benchmark::DoNotOptimize(HashContent(text));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  SetLabel(state, which);
}
BENCHMARK(BM_FingerprintPath)->DenseRange(0, 3);

// Feature sets: 0 = shingles of the CJK corpus text, 1 = 20,000 random hashes.
const std::vector<uint64_t>& Features(int which) {
  static const std::vector<uint64_t> sets[] = {[] {
                                                 std::vector<uint64_t> v;
                                                 Shingles(Text(2), {}, &v);
                                                 return v;
                                               }(),
                                               [] {
                                                 std::mt19937_64 rng(1);
                                                 std::vector<uint64_t> v(20000);
                                                 for (auto& x : v) x = rng();
                                                 return v;
                                               }()};
  return sets[which];
}

template <SimHash64 (*Fn)(std::span<const uint64_t>)>
void BM_SimHash(benchmark::State& state) {
  const std::vector<uint64_t>& f = Features(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Fn(f));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.size() * 8));
  state.SetLabel(std::to_string(f.size()) + " features");
}
BENCHMARK(BM_SimHash<ComputeSimHash>)->Name("BM_SimHash/dispatched")->DenseRange(0, 1);
BENCHMARK(BM_SimHash<ComputeSimHashNaive>)->Name("BM_SimHash/naive")->DenseRange(0, 1);
BENCHMARK(BM_SimHash<internal::SimHashScalar>)->Name("BM_SimHash/scalar64")->DenseRange(0, 1);
BENCHMARK(BM_SimHash<internal::SimHashSse2>)->Name("BM_SimHash/sse2")->DenseRange(0, 1);

void BM_SimHashAvx2(benchmark::State& state) {
  if (!internal::CpuHasAvx2()) {
    state.SkipWithError("no AVX2 on this CPU");
    return;
  }
  BM_SimHash<internal::SimHashAvx2>(state);
}
BENCHMARK(BM_SimHashAvx2)->Name("BM_SimHash/avx2")->DenseRange(0, 1);

void BM_SortUnique(benchmark::State& state) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> src(static_cast<size_t>(state.range(0)));
  for (auto& x : src) x = rng();
  std::vector<uint64_t> v;
  for (auto _ : state) {
    v = src;
    internal::SortUnique(&v);
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * src.size()));
}
BENCHMARK(BM_SortUnique)->Arg(1000)->Arg(20000)->Arg(200000);

void BM_HashContent(benchmark::State& state) {
  const std::string& text = Text(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(HashContent(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_HashContent)->Arg(2);

void BM_Hash64(benchmark::State& state) {
  const std::string& text = Text(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Hash64(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Hash64)->Arg(2);

// Reference: the shared libxxhash itself over the same bytes.
void BM_RawXXH3_64(benchmark::State& state) {
  const std::string& text = Text(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(XXH3_64bits(text.data(), text.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_RawXXH3_64)->Arg(2);

void BM_RawXXH3_128(benchmark::State& state) {
  const std::string& text = Text(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(XXH3_128bits(text.data(), text.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_RawXXH3_128)->Arg(2);

}  // namespace
}  // namespace dedupd::fingerprint
