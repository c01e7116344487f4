// Generated fingerprint records of a realistic size for the restore
// benchmarks (bench_restore_gen, bench_restore): a UrlState as `dedupd run`
// writes it to the fingerprints topic, with a text of random words (500
// words: ~2.9 KB encoded), SimHash, 8 passage hashes, ~28 line hashes and a
// 64-value sketch. Deterministic for a given id.
//
//   const auto vocab = restore_bench::Vocabulary();
//   state::UrlState s = restore_bench::MakeState(7, vocab, 500);
//
// Thread-safety: values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "state/url_state.h"

namespace restore_bench {

inline uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Rng {
  uint64_t s;
  uint64_t Next() { return s = Mix(s); }
};

inline std::vector<std::string> Vocabulary() {
  std::vector<std::string> words;
  Rng r{42};
  for (int i = 0; i < 6000; ++i) {
    std::string w;
    const int n = 2 + static_cast<int>(r.Next() % 9);
    for (int j = 0; j < n; ++j) w.push_back(static_cast<char>('a' + r.Next() % 26));
    words.push_back(std::move(w));
  }
  return words;
}

inline dedupd::state::UrlState MakeState(uint64_t id, const std::vector<std::string>& vocab,
                                         int words) {
  dedupd::state::UrlState s;
  Rng r{id * 7919 + 1};
  const uint64_t site = id % 997;
  s.site = "site" + std::to_string(site) + ".example";
  s.canonical_url = "https://" + s.site + "/doc/" + std::to_string(id);
  s.version = 1 + static_cast<uint32_t>(r.Next() % 3);
  s.content_hash = {r.Next(), r.Next()};
  s.simhash.bits = r.Next();
  s.fetched_at_ms = 1700000000000 + static_cast<int64_t>(id);
  for (int i = 0; i < 8; ++i) s.paragraph_hashes.push_back(r.Next());
  std::string line;
  for (int w = 0; w < words; ++w) {
    line += vocab[r.Next() % vocab.size()];
    line.push_back(w % 14 == 13 ? '.' : ' ');
    if (w % 18 == 17) {
      s.text += line;
      s.text.push_back('\n');
      s.line_hashes.push_back(r.Next());
      line.clear();
    }
  }
  s.text += line;
  s.line_hashes.push_back(r.Next());
  // The site's header and footer lines, on each of its pages (what the
  // boilerplate model learns as boilerplate).
  for (uint64_t k = 0; k < 4; ++k) s.line_hashes.push_back(Mix(site * 16 + k));
  s.line_hashes_known = true;
  // A bottom-64 sketch of `words` shingles: its values lie in the lowest
  // ~64/words of the 32-bit range, as fingerprint::BottomK32's do.
  const uint64_t span = (uint64_t{1} << 32) * 64 / static_cast<uint64_t>(std::max(words, 64));
  for (int i = 0; i < 64; ++i) s.sketch.push_back(static_cast<uint32_t>(r.Next() % span));
  std::sort(s.sketch.begin(), s.sketch.end());
  s.shingle_count = static_cast<uint32_t>(words);
  s.sketch_known = true;
  s.title = "Document " + std::to_string(id);
  dedupd::state::VersionRecord v;
  v.version = s.version;
  v.fetched_at_ms = s.fetched_at_ms;
  v.content_hash = s.content_hash;
  s.versions.push_back(v);
  s.history_full = false;
  return s;
}

}  // namespace restore_bench
