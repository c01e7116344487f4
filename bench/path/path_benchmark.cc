// The whole fingerprint path, what every page costs before any lookup:
//
//   body --SplitPlainText--> blocks --NormalizeForMatch--> matching form
//        --ShingleSet--> distinct 4-token shingle hashes (XXH3-64) --> SimHash-64
//
// measured per stage and whole, on real text: the text/plain pages of the
// labelled corpus (tests/data/corpus/dev.jsonl), CJK and Latin apart, each
// page processed on its own as the detector does (so per-page costs count).
// BM_Path/xxh3 hashes the same bodies with XXH3-64 in the same run: the
// ceiling. Bytes are body bytes. Results and the command: docs/fingerprint.md.
// With DEDUPD_BENCH_STREAM=file.jsonl the pages are that stream's first
// 3,000 text/plain pages instead (e.g. bench/gen/gen.py's 5,000-byte pages,
// which are longer than the corpus's: docs/benchmarks.md, session 6).
#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "fingerprint/fingerprint.h"
#include "parse/page_parser.h"
#include "text/extract.h"
#include "text/normalize.h"

namespace dedupd {
namespace {

enum class Lang { kCjk, kLatin };

bool HasCjk(std::string_view s) {
  size_t cjk = 0;
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xE4 && c <= 0xE9) ++cjk;  // U+4000..U+9FFF lead bytes
  }
  return cjk * 10 > s.size() / 3;  // a tenth of the characters or more
}

// The corpus's text/plain bodies of one script.
const std::vector<std::string>& Pages(Lang lang) {
  static const auto load = [](Lang want) {
    std::vector<std::string> out;
    const char* stream = std::getenv("DEDUPD_BENCH_STREAM");
    const size_t limit = stream != nullptr ? 3000 : SIZE_MAX;
    std::ifstream in(stream != nullptr ? std::string(stream)
                                       : std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl",
                     std::ios::binary);
    parse::PageParser parser;
    parse::ParsedPage page;
    parse::ParseError error;
    std::string line;
    while (out.size() < limit && std::getline(in, line)) {
      if (!parser.Parse(line, &page, &error)) continue;
      if (text::SniffBodyKind(page.content_type, page.body) != text::BodyKind::kPlain) continue;
      if (HasCjk(page.body) == (want == Lang::kCjk)) out.push_back(page.body);
    }
    return out;
  };
  static const std::vector<std::string> cjk = load(Lang::kCjk);
  static const std::vector<std::string> latin = load(Lang::kLatin);
  return lang == Lang::kCjk ? cjk : latin;
}

void Finish(benchmark::State& state, Lang lang) {
  size_t bytes = 0;
  for (const auto& p : Pages(lang)) bytes += p.size();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["pages"] = static_cast<double>(Pages(lang).size());
  state.counters["page_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(Pages(lang).size());
}

// What the path does per page; `upto` stops it after a stage.
enum class Upto { kBlocks, kNormalize, kShingles, kWhole };

struct Scratch {
  std::string form, joined;
  std::vector<uint64_t> shingles;
};

uint64_t OnePage(const std::string& body, Upto upto, Scratch* s) {
  const text::ExtractedText t = text::SplitPlainText(body);
  if (upto == Upto::kBlocks) return t.blocks.size();
  s->joined.clear();
  for (const auto& b : t.blocks) {
    text::NormalizeForMatch(b.text, &s->form);
    if (s->form.empty()) continue;
    if (!s->joined.empty()) s->joined.push_back('\n');
    s->joined.append(s->form);
  }
  if (upto == Upto::kNormalize) return s->joined.size();
  fingerprint::ShingleSet(s->joined, {}, &s->shingles);
  if (upto == Upto::kShingles) return s->shingles.size();
  return fingerprint::ComputeSimHash(s->shingles).bits;
}

void BM_Path(benchmark::State& state, Lang lang, Upto upto) {
  Scratch s;
  Pages(lang);  // read the pages before timing (a stream is read whole for each script)
  for (auto _ : state) {
    for (const auto& body : Pages(lang)) benchmark::DoNotOptimize(OnePage(body, upto, &s));
  }
  Finish(state, lang);
}

void BM_Xxh3(benchmark::State& state, Lang lang) {
  Pages(lang);
  for (auto _ : state) {
    for (const auto& body : Pages(lang)) {
      benchmark::DoNotOptimize(XXH3_64bits(body.data(), body.size()));
    }
  }
  Finish(state, lang);
}

// The stages alone, on inputs prepared outside the timed loop.
void BM_NormalizeOnly(benchmark::State& state, Lang lang) {
  std::vector<std::vector<std::string>> blocks;
  for (const auto& body : Pages(lang)) {
    blocks.emplace_back();
    for (auto& b : text::SplitPlainText(body).blocks) blocks.back().push_back(std::move(b.text));
  }
  std::string form;
  for (auto _ : state) {
    for (const auto& page : blocks) {
      for (const auto& b : page) {
        text::NormalizeForMatch(b, &form);
        benchmark::DoNotOptimize(form.data());
      }
    }
  }
  Finish(state, lang);
}

void BM_ShinglesOnly(benchmark::State& state, Lang lang) {
  std::vector<std::string> joined;
  Scratch s;
  for (const auto& body : Pages(lang)) {
    OnePage(body, Upto::kNormalize, &s);
    joined.push_back(s.joined);
  }
  for (auto _ : state) {
    for (const auto& j : joined) {
      fingerprint::ShingleSet(j, {}, &s.shingles);
      benchmark::DoNotOptimize(fingerprint::ComputeSimHash(s.shingles).bits);
    }
  }
  Finish(state, lang);
}

BENCHMARK_CAPTURE(BM_Xxh3, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_Path, cjk_blocks, Lang::kCjk, Upto::kBlocks);
BENCHMARK_CAPTURE(BM_Path, cjk_normalize, Lang::kCjk, Upto::kNormalize);
BENCHMARK_CAPTURE(BM_Path, cjk_shingles, Lang::kCjk, Upto::kShingles);
BENCHMARK_CAPTURE(BM_Path, cjk_whole, Lang::kCjk, Upto::kWhole);
BENCHMARK_CAPTURE(BM_NormalizeOnly, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_ShinglesOnly, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_Xxh3, latin, Lang::kLatin);
BENCHMARK_CAPTURE(BM_Path, latin_blocks, Lang::kLatin, Upto::kBlocks);
BENCHMARK_CAPTURE(BM_Path, latin_normalize, Lang::kLatin, Upto::kNormalize);
BENCHMARK_CAPTURE(BM_Path, latin_shingles, Lang::kLatin, Upto::kShingles);
BENCHMARK_CAPTURE(BM_Path, latin_whole, Lang::kLatin, Upto::kWhole);
BENCHMARK_CAPTURE(BM_NormalizeOnly, latin, Lang::kLatin);
BENCHMARK_CAPTURE(BM_ShinglesOnly, latin, Lang::kLatin);

}  // namespace
}  // namespace dedupd
