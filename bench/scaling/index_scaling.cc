// Cost and memory of dedupd's two in-memory near-duplicate indexes as they
// grow: the SimHash index (k = 3, permuted tables) and the passage index
// (8 sampled sentence hashes per page), filled one document at a time as the
// daemon does, measured at every checkpoint size. Used by bench/run
// (docs/benchmarks.md, Scaling).
//
//   bench_index_scaling --sizes 10000,100000,1000000,10000000 --json out.json
//
// At each checkpoint: insert cost of the last stretch (ns/doc, the index calls
// alone, timed one by one; generating the data is not counted), query cost
// (ns/query, for random fingerprints and for planted near copies, each with its
// passages), MemoryBytes() per document of each index and the process's RSS
// growth per document. Fingerprints are random 64-bit values with a planted
// near copy (0-3 flipped bits, sharing 4 of 8 passages) every 10th document, as
// in bench/index. Thread-safety: a single-threaded program.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "index/paragraph_index.h"
#include "index/simhash_index.h"

namespace {

using Clock = std::chrono::steady_clock;
using dedupd::SimHash64;
using dedupd::index::DocId;

constexpr int kPassages = 8;

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages_total = 0, resident = 0;
  f >> pages_total >> resident;
  return resident * 4096;
}

// The k-th "shared" passage hash of document d: planted copies regenerate their
// source's from its id.
uint64_t PassageOf(uint64_t d, uint64_t k) {
  uint64_t z = d * 8 + k + 0x9E3779B97F4A7C15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) | 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {10000, 100000, 1000000};
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream ss(argv[++i]);
      for (std::string s; std::getline(ss, s, ',');) sizes.push_back(std::stoull(s));
      std::sort(sizes.begin(), sizes.end());
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_index_scaling [--sizes N,N,...] [--json OUT]\n");
      return 2;
    }
  }
  std::mt19937_64 rng(42);
  dedupd::index::SimHashIndex simhash(3);
  dedupd::index::ParagraphIndex passages;
  std::vector<uint64_t> hashes;                // every document's fingerprint
  std::vector<std::vector<uint64_t>> sampled;  // passages of a few docs, for planted copies
  const size_t rss0 = RssBytes();
  std::string json = "{\"checkpoints\":[";
  size_t done = 0;
  std::vector<dedupd::index::Neighbor> near;
  std::vector<std::pair<DocId, uint32_t>> shared;
  std::vector<uint64_t> ps(kPassages);
  for (size_t ci = 0; ci < sizes.size(); ++ci) {
    const size_t target = sizes[ci];
    double simhash_insert_s = 0, passage_insert_s = 0, simhash_query_s = 0, passage_query_s = 0;
    hashes.reserve(target);
    for (; done < target; ++done) {
      uint64_t h = rng();
      for (auto& p : ps) p = rng();
      if (done > 0 && done % 10 == 0) {  // a planted near copy of an earlier document
        const size_t src = rng() % done;
        h = hashes[src];
        for (int b = static_cast<int>(rng() % 4); b > 0; --b) h ^= uint64_t{1} << (rng() % 64);
        for (size_t k = 0; k < 4; ++k) ps[k] = PassageOf(src, k);  // shares 4 of 8 passages
      } else {
        for (size_t k = 0; k < 4; ++k) ps[k] = PassageOf(done, k);
      }
      std::sort(ps.begin(), ps.end());
      hashes.push_back(h);
      const auto a = Clock::now();
      simhash.Insert(static_cast<DocId>(done), SimHash64{h});
      const auto b = Clock::now();
      passages.Insert(static_cast<DocId>(done), ps);
      simhash_insert_s += std::chrono::duration<double>(b - a).count();
      passage_insert_s += std::chrono::duration<double>(Clock::now() - b).count();
    }
    const double insert_s =
        simhash_insert_s + passage_insert_s;  // the calls alone, not the data generation
    const size_t stretch = target - (ci == 0 ? 0 : sizes[ci - 1]);
    // Queries: half random fingerprints, half planted copies of indexed docs.
    const size_t queries = 20000;
    size_t found = 0;
    for (size_t q = 0; q < queries; ++q) {
      uint64_t h;
      if (q % 2) {
        const size_t src = rng() % done;
        h = hashes[src] ^ (uint64_t{1} << (rng() % 64));
        for (size_t k = 0; k < 4; ++k) ps[k] = PassageOf(src, k);
        for (size_t k = 4; k < kPassages; ++k) ps[k] = rng();
      } else {
        h = rng();
        for (auto& p : ps) p = rng();
      }
      std::sort(ps.begin(), ps.end());
      const auto a = Clock::now();
      simhash.Query(SimHash64{h}, 3, &near);
      const auto b = Clock::now();
      passages.Query(ps, 1, 16, &shared);
      simhash_query_s += std::chrono::duration<double>(b - a).count();
      passage_query_s += std::chrono::duration<double>(Clock::now() - b).count();
      found += near.size() + shared.size();
    }
    const double query_s = simhash_query_s + passage_query_s;
    const size_t rss = RssBytes();
    const double n = static_cast<double>(done);
    const double per_insert = 1e9 / static_cast<double>(stretch);
    const double per_query = 1e9 / static_cast<double>(queries);
    char buf[768];
    std::snprintf(buf, sizeof buf,
                  "%s{\"docs\":%zu,\"insert_ns_per_doc\":%.1f,\"query_ns\":%.1f,"
                  "\"simhash_insert_ns\":%.1f,\"passage_insert_ns\":%.1f,"
                  "\"simhash_query_ns\":%.1f,\"passage_query_ns\":%.1f,"
                  "\"simhash_bytes_per_doc\":%.1f,\"passage_bytes_per_doc\":%.1f,"
                  "\"fingerprints_bytes_per_doc\":8,\"rss_bytes_per_doc\":%.1f,\"found\":%zu}",
                  ci ? "," : "", done, insert_s * 1e9 / static_cast<double>(stretch),
                  query_s * 1e9 / static_cast<double>(queries), simhash_insert_s * per_insert,
                  passage_insert_s * per_insert, simhash_query_s * per_query,
                  passage_query_s * per_query, static_cast<double>(simhash.MemoryBytes()) / n,
                  static_cast<double>(passages.MemoryBytes()) / n,
                  static_cast<double>(rss - rss0) / n, found);
    json += buf;
    std::fprintf(stderr,
                 "%10zu docs: insert %.0f ns/doc (simhash %.0f, passages %.0f), query %.0f ns "
                 "(simhash %.0f, passages %.0f), simhash %.1f B/doc, passages %.1f B/doc, "
                 "RSS %.1f B/doc\n",
                 done, insert_s * per_insert, simhash_insert_s * per_insert,
                 passage_insert_s * per_insert, query_s * per_query, simhash_query_s * per_query,
                 passage_query_s * per_query, static_cast<double>(simhash.MemoryBytes()) / n,
                 static_cast<double>(passages.MemoryBytes()) / n,
                 static_cast<double>(rss - rss0) / n);
  }
  json += "]}\n";
  if (!json_out.empty()) std::ofstream(json_out) << json;
  return 0;
}
