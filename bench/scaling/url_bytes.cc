// Bytes per URL of index::UrlTable on URL streams in arrival order (issue #15:
// the URL table is part of what an instance keeps per non-owned document).
// Each stream is added in order to an empty table, then every URL is read
// back and found again (a mismatch fails the run).
//
//   bench_url_bytes urls.txt more.txt           # one URL a line, in order
//   bench_url_bytes --like urls.txt --count 1000000 [--seed 1] [--dump out.txt]
//
// --like: N synthetic URLs made from the file's (bench/scaling/url_like.h, as
// bench_doc_memory makes them), also written to --dump's file. Prints, per stream, the URLs, their
// mean length, the table's arena and id bytes per URL and the seconds to add them. Thread-safety: a
// single-threaded program.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "index/url_table.h"
#include "url_like.h"

namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

bool Measure(const std::string& name, const std::vector<std::string>& urls) {
  dedupd::index::UrlTable table;
  double bytes = 0;
  size_t added = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& u : urls) {
    if (table.Add(u) == added) ++added;
    bytes += static_cast<double>(u.size());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string back;
  for (size_t i = 0; i < urls.size(); ++i) {
    const auto found = table.Find(urls[i]);
    if (!found) {
      std::fprintf(stderr, "%s: URL %zu not found\n", name.c_str(), i);
      return false;
    }
    table.Url(*found, &back);
    if (back != urls[i]) {
      std::fprintf(stderr, "%s: URL %zu reads back wrong\n", name.c_str(), i);
      return false;
    }
  }
  const double n = static_cast<double>(table.size());
  double stored = 0;  // (a table without StoredBytes: before session 6)
  if constexpr (requires { table.StoredBytes(); })
    stored = static_cast<double>(table.StoredBytes());
  std::printf(
      "%-28s %8zu URLs  mean %5.1f B  arena %6.1f B/URL  stored %5.1f B/URL  ids %4.1f B/URL  add "
      "%.3f s\n",
      name.c_str(), table.size(), bytes / static_cast<double>(urls.size()),
      static_cast<double>(table.ArenaBytes()) / n, stored / n,
      static_cast<double>(table.IdBytes()) / n, seconds);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string like, dump;
  size_t count = 1000000;
  uint64_t seed = 1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--like" && i + 1 < argc) {
      like = argv[++i];
    } else if (a == "--count" && i + 1 < argc) {
      count = std::stoull(argv[++i]);
    } else if (a == "--dump" && i + 1 < argc) {
      dump = argv[++i];
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (!a.empty() && a[0] != '-') {
      files.push_back(a);
    } else {
      std::fprintf(
          stderr, "usage: bench_url_bytes [--like URLS --count N --seed S --dump OUT] [URLS...]\n");
      return 2;
    }
  }
  bool ok = true;
  for (const std::string& f : files) ok = Measure(f, ReadLines(f)) && ok;
  if (!like.empty()) {
    const std::vector<std::string> real = ReadLines(like);
    const std::vector<std::string> words = dedupd::bench::PathWords(real);
    std::mt19937_64 rng(seed);
    std::vector<std::string> urls;
    urls.reserve(count);
    for (size_t i = 0; i < count && !real.empty(); ++i) {
      urls.push_back(dedupd::bench::UrlLike(real[rng() % real.size()], words, rng));
    }
    if (!dump.empty()) {
      std::ofstream out(dump);
      for (const std::string& u : urls) out << u << '\n';
    }
    ok = Measure("like " + like, urls) && ok;
  }
  return ok ? 0 : 1;
}
