// Memory per document the Detector holds for pages another instance owns
// (issue #15: at most 250 B per such document, memory and disk together).
// Such a page lives only in the Detector's memory (rebuilt from the
// fingerprints topic), so this bench fills a Detector with N of them through
// ApplyFingerprints (memory only, as StateSync applies them), and reports bytes per
// document per structure (Detector::Memory()) and the process's RSS growth.
//
//   bench_doc_memory --profile pages.jsonl --docs 1000000 --json out.json
//
// --profile: a page stream (the generator's or the corpus's JSONL) first run
// through a Detector over a memory store, to measure what a real page
// indexes: passage hashes, sketch length, shingle count, URL length (printed
// as distributions). The N synthetic documents then draw their shape from
// those pages (URL: a profile page's URL with its ids and slug words varied,
// UrlLike, so hosts, templates and lengths stay realistic); hash values are random, with a near
// copy (4 shared passages, SimHash 0-3 bits away) every 10th document and an exact copy (same
// content hash) every 50th. Without --profile: 8 passages, 64 sketch values of a 1,000-shingle set,
// 70-byte URLs. Thread-safety: a single-threaded program.
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "parse/page_parser.h"
#include "state/store.h"
#include "url_like.h"

namespace {

using dedupd::classify::Detector;
using dedupd::state::UrlState;

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages_total = 0, resident = 0;
  f >> pages_total >> resident;
  return resident * 4096;
}

// A store that keeps nothing: pages another instance owns are not stored.
class NullStore : public dedupd::state::StateStore {
 public:
  std::optional<UrlState> Get(std::string_view) override { return std::nullopt; }
  std::optional<UrlState> GetCommitted(std::string_view) override { return std::nullopt; }
  void Put(const UrlState&) override {}
  bool Commit(const std::map<std::string, std::string>&, std::string*) override { return true; }
  void Rollback() override {}
  std::optional<std::string> GetMetadata(std::string_view) override { return std::nullopt; }
  void ForEach(const std::function<bool(const UrlState&)>&, dedupd::state::TextPart) override {}
  size_t ApproximateBytes() override { return 0; }
  size_t Count() override { return 0; }
};

struct Shape {
  std::string url;
  uint32_t passages = 8;
  uint32_t sketch = 64;
  uint32_t shingles = 1000;
};

void PrintDistribution(const char* what, std::vector<uint32_t> v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (uint32_t x : v) sum += x;
  auto q = [&](double f) { return v[std::min(v.size() - 1, static_cast<size_t>(f * v.size()))]; };
  std::printf("  %-10s mean %7.1f  p10 %5u  p50 %5u  p90 %5u  max %5u\n", what, sum / v.size(),
              q(0.1), q(0.5), q(0.9), v.back());
}

// The shapes of the NEW and NEAR_DUPLICATE documents a page stream indexes.
std::vector<Shape> Profile(const std::string& path) {
  std::vector<Shape> shapes;
  auto store = dedupd::state::NewMemoryStore();
  Detector detector(dedupd::classify::DetectOptions{}, store.get());
  dedupd::parse::PageParser parser;
  std::ifstream in(path);
  dedupd::parse::ParsedPage page;
  dedupd::parse::ParseError error;
  std::vector<uint32_t> passages, sketch, shingles, url;
  for (std::string line; std::getline(in, line);) {
    if (!parser.Parse(line, &page, &error)) continue;
    auto out = detector.Process(page, 0);
    std::string commit_error;
    detector.Commit({}, &commit_error);
    if (!out.stored || out.stored->version != 1) continue;
    Shape s;
    s.url = out.stored->canonical_url;
    s.passages = static_cast<uint32_t>(out.stored->paragraph_hashes.size());
    s.sketch = static_cast<uint32_t>(out.stored->sketch.size());
    s.shingles = out.stored->shingle_count;
    passages.push_back(s.passages);
    sketch.push_back(s.sketch);
    shingles.push_back(s.shingles);
    url.push_back(static_cast<uint32_t>(s.url.size()));
    shapes.push_back(std::move(s));
  }
  std::printf("profile %s: %zu documents indexed\n", path.c_str(), shapes.size());
  PrintDistribution("passages", passages);
  PrintDistribution("sketch", sketch);
  PrintDistribution("shingles", shingles);
  PrintDistribution("url bytes", url);
  return shapes;
}

}  // namespace

int main(int argc, char** argv) {
  size_t docs = 1000000;
  std::string profile, json_out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--docs" && i + 1 < argc) {
      docs = std::stoull(argv[++i]);
    } else if (a == "--profile" && i + 1 < argc) {
      profile = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench_doc_memory [--docs N] [--profile PAGES.jsonl] [--json OUT]\n");
      return 2;
    }
  }
  std::vector<Shape> shapes;
  if (!profile.empty()) shapes = Profile(profile);
  if (shapes.empty()) {
    Shape s;
    s.url = "https://www.example00-gen.example/xxgk/2025-01/05/content_1234567.htm";
    shapes.push_back(s);
  }
  std::vector<std::string> urls;
  for (const Shape& shape : shapes) urls.push_back(shape.url);
  const std::vector<std::string> words = dedupd::bench::PathWords(urls);
  malloc_trim(0);
  const size_t rss0 = RssBytes();
  NullStore store;
  Detector detector(dedupd::classify::DetectOptions{}, &store);
  std::mt19937_64 rng(42);
  std::vector<UrlState> batch;
  std::vector<UrlState> recent;  // a window of earlier documents, for the copies
  double url_bytes = 0, passages = 0;
  for (size_t d = 0; d < docs;) {
    batch.clear();
    for (size_t b = 0; b < 1000 && d < docs; ++b, ++d) {
      const Shape& shape = shapes[rng() % shapes.size()];
      UrlState s;
      s.canonical_url = dedupd::bench::UrlLike(shape.url, words, rng);
      s.site = "site" + std::to_string(rng() % 2000);
      s.version = 1 + static_cast<uint32_t>(rng() % 3);
      s.content_hash = {rng(), rng()};
      s.simhash = dedupd::SimHash64{rng()};
      for (uint32_t p = 0; p < shape.passages; ++p) s.paragraph_hashes.push_back(rng());
      // The k smallest of `shingles` uniform 32-bit values lie under ~k/n of the range.
      const uint64_t range = shape.sketch >= shape.shingles
                                 ? (uint64_t{1} << 32)
                                 : (uint64_t{1} << 32) * (shape.sketch + 1) / shape.shingles;
      for (uint32_t k = 0; k < shape.sketch; ++k) {
        s.sketch.push_back(static_cast<uint32_t>(rng() % range));
      }
      std::sort(s.sketch.begin(), s.sketch.end());
      s.sketch.erase(std::unique(s.sketch.begin(), s.sketch.end()), s.sketch.end());
      s.shingle_count = shape.shingles;
      s.sketch_known = true;
      s.line_hashes_known = true;            // (none: the boilerplate model is bounded per site)
      s.history_full = false;                // from the fingerprints topic
      if (!recent.empty() && d % 10 == 0) {  // a near copy of an earlier document
        const UrlState& src = recent[rng() % recent.size()];
        s.simhash = src.simhash;
        for (int f = static_cast<int>(rng() % 4); f > 0; --f) {
          s.simhash.bits ^= uint64_t{1} << (rng() % 64);
        }
        for (size_t k = 0;
             k < 4 && k < src.paragraph_hashes.size() && k < s.paragraph_hashes.size(); ++k) {
          s.paragraph_hashes[k] = src.paragraph_hashes[k];
        }
      }
      if (!recent.empty() && d % 50 == 0)
        s.content_hash = recent[rng() % recent.size()].content_hash;
      std::sort(s.paragraph_hashes.begin(), s.paragraph_hashes.end());
      url_bytes += static_cast<double>(s.canonical_url.size());
      passages += static_cast<double>(s.paragraph_hashes.size());
      if (recent.size() < 4096) {
        recent.push_back(s);
      } else {
        recent[rng() % recent.size()] = s;
      }
      batch.push_back(std::move(s));
    }
    size_t applied = 0;
    std::string error;
    if (!detector.ApplyFingerprints(&batch, &applied, &error)) {
      std::fprintf(stderr, "ApplyFingerprints: %s\n", error.c_str());
      return 1;
    }
  }
  batch = {};
  recent = {};
  malloc_trim(0);
  const size_t rss = RssBytes();
  const Detector::MemoryUsage m = detector.Memory();
  const double n = static_cast<double>(docs);
  const std::pair<const char*, size_t> parts[] = {
      {"urls", m.urls},
      {"url_ids", m.url_ids},
      {"current", m.current},
      {"sketches", m.sketches},
      {"by_content", m.by_content},
      {"simhash_index", m.simhash_index},
      {"passage_index", m.passage_index},
      {"remote", m.remote},
      {"total", m.Total()},
  };
  std::printf("%zu documents (mean URL %.1f B, %.2f passages), indexed %zu\n", docs, url_bytes / n,
              passages / n, detector.IndexedDocuments());
  std::string json = "{\"docs\":" + std::to_string(docs);
  for (const auto& [name, bytes] : parts) {
    std::printf("  %-14s %8.1f B/doc\n", name, static_cast<double>(bytes) / n);
    char buf[96];
    std::snprintf(buf, sizeof buf, ",\"%s_bytes_per_doc\":%.1f", name,
                  static_cast<double>(bytes) / n);
    json += buf;
  }
  const double rss_per_doc = static_cast<double>(rss - rss0) / n;
  std::printf("  %-14s %8.1f B/doc\n", "rss", rss_per_doc);
  char buf[64];
  std::snprintf(buf, sizeof buf, ",\"rss_bytes_per_doc\":%.1f}\n", rss_per_doc);
  json += buf;
  if (!json_out.empty()) std::ofstream(json_out) << json;
  return 0;
}
