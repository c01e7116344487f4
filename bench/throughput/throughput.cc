// Per-page throughput of dedupd's fingerprint path on a JSON-lines page stream
// (the labelled corpus, or a bench/gen stream), with a plain XXH3 loop over the
// same bytes as the practical upper limit. Used by bench/run (docs/benchmarks.md).
//
//   bench_throughput --input tests/data/corpus/dev.jsonl --rounds 5 --json out.json
//   bench_throughput --input pages.jsonl --stages xxh3,core --rounds 3
//
// Every stage runs over every page of the stream once per round, pages already
// parsed and in memory (no I/O, no JSON inside the timed loops, except in the
// `parse` stage). Rounds alternate stages, so a burst of load on the shared
// machine hits every stage alike. The report gives each stage's median round in
// thread CPU time (pages/s and MB/s per CPU second) and in wall time.
// Thread-safety: a single-threaded program.
#include <time.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "classify/detector.h"
#include "fingerprint/fingerprint.h"
#include "parse/page_parser.h"
#include "state/store.h"
#include "text/extract.h"
#include "text/normalize.h"
#include "text/repeats.h"
#include "text/segment.h"

namespace {

using dedupd::parse::ParsedPage;
using Clock = std::chrono::steady_clock;

struct Page {
  ParsedPage parsed;
  bool html = false;
};

// Keeps the optimiser from dropping a computed value.
uint64_t g_sink = 0;

// XXH3-64 of the body: reading and hashing the bytes, nothing else.
void StageXxh3(const std::vector<Page>& pages) {
  for (const auto& p : pages) g_sink += XXH3_64bits(p.parsed.body.data(), p.parsed.body.size());
}

std::vector<std::string> Blocks(const Page& p) {
  dedupd::text::ExtractedText t = p.html ? dedupd::text::ExtractHtml(p.parsed.body)
                                         : dedupd::text::SplitPlainText(p.parsed.body);
  std::vector<std::string> out;
  out.reserve(t.blocks.size());
  for (auto& b : t.blocks) {
    if (!b.chrome) out.push_back(std::move(b.text));
  }
  return out;
}

// Blocks only: SplitPlainText, or gumbo extraction for HTML.
void StageBlocks(const std::vector<Page>& pages) {
  for (const auto& p : pages) g_sink += Blocks(p).size();
}

// normalise + shingle + SimHash: blocks (HTML extracted), matching form of
// every block, 4-token shingles, SimHash-64.
void StageCore(const std::vector<Page>& pages) {
  std::string normalized, joined;
  std::vector<uint64_t> shingles;
  for (const auto& p : pages) {
    joined.clear();
    for (const auto& b : Blocks(p)) {
      dedupd::text::NormalizeForMatch(b, &normalized);
      if (normalized.empty()) continue;
      if (!joined.empty()) joined.push_back('\n');
      joined.append(normalized);
    }
    shingles.clear();
    dedupd::fingerprint::ShingleSet(joined, {}, &shingles);
    g_sink += dedupd::fingerprint::ComputeSimHash(shingles).bits;
  }
}

// Everything the detector computes for a page before it looks anything up:
// blocks, repeats, content key + XXH3-128, matching form, line hashes,
// sentences and passage hashes, shingles, SimHash (classify/detector.cc).
void StageFull(const std::vector<Page>& pages) {
  std::string normalized, joined, key, block_key, passage;
  std::vector<uint64_t> shingles, passages, lines;
  for (const auto& p : pages) {
    std::vector<std::string> blocks = Blocks(p);
    std::vector<std::string_view> views(blocks.begin(), blocks.end());
    dedupd::text::RepeatResult rep = dedupd::text::FindRepeats(views, {});
    key.clear();
    joined.clear();
    lines.clear();
    passages.clear();
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i < rep.keep.size() && !rep.keep[i]) continue;
      const std::string& b = blocks[i];
      dedupd::text::ContentKey(b, &block_key);
      key.append(block_key);
      dedupd::text::NormalizeForMatch(b, &normalized);
      if (normalized.empty()) continue;
      lines.push_back(dedupd::fingerprint::Hash64(normalized));
      for (std::string_view s : dedupd::text::SplitSentences(b)) {
        dedupd::text::NormalizeForMatch(s, &passage);
        if (dedupd::text::CountCodePoints(passage) >= 24) {
          passages.push_back(dedupd::fingerprint::Hash64(passage));
        }
      }
      if (!joined.empty()) joined.push_back('\n');
      joined.append(normalized);
    }
    g_sink += dedupd::fingerprint::HashContent(key).low;
    shingles.clear();
    dedupd::fingerprint::ShingleSet(joined, {}, &shingles);
    g_sink += dedupd::fingerprint::ComputeSimHash(shingles).bits + lines.size() + passages.size();
  }
}

// The whole detector (verdicts, diffs, indexes) with an in-memory store: the
// classify stage of `dedupd scan` without JSON in or out.
void StageDetect(const std::vector<Page>& pages) {
  auto store = dedupd::state::NewMemoryStore();
  dedupd::classify::Detector detector(dedupd::classify::DetectOptions{}, store.get());
  std::string error;
  int64_t t = 1740787200000;
  for (const auto& p : pages) {
    dedupd::classify::Outcome o = detector.Process(
        p.parsed, p.parsed.fetched_at_ms >= 0 ? p.parsed.fetched_at_ms : (t += 1000));
    g_sink += static_cast<uint64_t>(o.verdict);
    if (!detector.Commit({}, &error)) {
      std::fprintf(stderr, "commit failed: %s\n", error.c_str());
      std::exit(1);
    }
  }
}

struct Input {
  std::vector<std::string> lines;
  std::vector<Page> pages;
  size_t line_bytes = 0, body_bytes = 0;
};

// JSON parsing of every line, as the pipeline does first.
void StageParse(const Input& in) {
  dedupd::parse::PageParser parser;
  ParsedPage page;
  dedupd::parse::ParseError error;
  for (const auto& l : in.lines) g_sink += parser.Parse(l, &page, &error) ? page.body.size() : 1;
}

Input Load(const std::string& path, size_t limit) {
  Input in;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  dedupd::parse::PageParser parser;
  std::string line;
  while (std::getline(f, line) && (limit == 0 || in.pages.size() < limit)) {
    Page p;
    dedupd::parse::ParseError error;
    if (!parser.Parse(line, &p.parsed, &error)) continue;  // bad lines are not pages
    p.html = dedupd::text::SniffBodyKind(p.parsed.content_type, p.parsed.body) ==
             dedupd::text::BodyKind::kHtml;
    in.line_bytes += line.size() + 1;
    in.body_bytes += p.parsed.body.size();
    in.lines.push_back(std::move(line));
    in.pages.push_back(std::move(p));
  }
  return in;
}

// CPU time of this thread: on a shared machine it excludes the time other
// processes hold the core, so it is steadier than wall time.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int Usage() {
  std::fprintf(stderr,
               "usage: bench_throughput --input FILE.jsonl [--rounds N] [--limit PAGES]\n"
               "       [--stages xxh3,parse,blocks,core,full,detect] [--json OUT]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string input, json_out, stages_arg = "xxh3,parse,blocks,core,full,detect";
  int rounds = 5;
  size_t limit = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(Usage());
      return argv[++i];
    };
    if (a == "--input") {
      input = next();
    } else if (a == "--rounds") {
      rounds = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--limit") {
      limit = static_cast<size_t>(std::atoll(next().c_str()));
    } else if (a == "--stages") {
      stages_arg = next();
    } else if (a == "--json") {
      json_out = next();
    } else {
      return Usage();
    }
  }
  if (input.empty()) return Usage();
  const Input in = Load(input, limit);
  if (in.pages.empty()) {
    std::fprintf(stderr, "no pages in %s\n", input.c_str());
    return 2;
  }
  std::vector<std::string> stages;
  std::stringstream ss(stages_arg);
  for (std::string s; std::getline(ss, s, ',');) stages.push_back(s);

  std::map<std::string, std::vector<double>> seconds, cpu;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& s : stages) {
      const auto t0 = Clock::now();
      const double c0 = ThreadCpuSeconds();
      if (s == "xxh3") {
        StageXxh3(in.pages);
      } else if (s == "parse") {
        StageParse(in);
      } else if (s == "blocks") {
        StageBlocks(in.pages);
      } else if (s == "core") {
        StageCore(in.pages);
      } else if (s == "full") {
        StageFull(in.pages);
      } else if (s == "detect") {
        StageDetect(in.pages);
      } else {
        std::fprintf(stderr, "unknown stage %s\n", s.c_str());
        return 2;
      }
      seconds[s].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      cpu[s].push_back(ThreadCpuSeconds() - c0);
    }
  }

  std::string json = "{\"input\":\"" + input + "\",\"pages\":" + std::to_string(in.pages.size()) +
                     ",\"body_bytes\":" + std::to_string(in.body_bytes) +
                     ",\"line_bytes\":" + std::to_string(in.line_bytes) +
                     ",\"rounds\":" + std::to_string(rounds) + ",\"stages\":{";
  bool first = true;
  auto list = [](const std::vector<double>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.6f", i ? "," : "", v[i]);
      out += buf;
    }
    return out + "]";
  };
  for (const auto& s : stages) {
    const double med = Median(cpu[s]);
    const double wall = Median(seconds[s]);
    // parse reads whole lines; every other stage reads the bodies
    const double bytes = static_cast<double>(s == "parse" ? in.line_bytes : in.body_bytes);
    const double pages = static_cast<double>(in.pages.size());
    std::printf("%-8s median cpu %.4f s (wall %.4f s)  %10.0f pages/s  %8.1f MB/s per CPU second\n",
                s.c_str(), med, wall, pages / med, bytes / med / 1e6);
    char buf[200];
    std::snprintf(
        buf, sizeof buf,
        ",\"median_cpu\":%.6f,\"median_wall\":%.6f,\"pages_per_s\":%.2f,\"mb_per_s\":%.3f}", med,
        wall, pages / med, bytes / med / 1e6);
    json += std::string(first ? "" : ",") + "\"" + s + "\":{\"cpu\":" + list(cpu[s]) +
            ",\"wall\":" + list(seconds[s]) + buf;
    first = false;
  }
  json += "},\"sink\":" + std::to_string(g_sink % 1000) + "}\n";
  if (!json_out.empty()) {
    std::ofstream(json_out) << json;
  }
  return 0;
}
