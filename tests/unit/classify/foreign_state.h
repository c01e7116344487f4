// A state as another instance's fingerprint record brings it (issue #15: no
// text, history_full false): random hashes, 8 passages, the bottom-64 sketch
// of a 1,600-shingle page. Shared by the tests of what such a document costs.
//
//   std::mt19937_64 rng(1);
//   state::UrlState s = ForeignState("https://www.site1.example/a/1", 1, rng);
//   ApplyForeignStates(&detector, 60000, rng, Foreign);  // as StateSync applies them
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "state/url_state.h"

namespace dedupd::classify {

inline state::UrlState ForeignState(std::string url, size_t i, std::mt19937_64& rng) {
  state::UrlState s;
  s.canonical_url = std::move(url);
  s.site = "site" + std::to_string(i % 40);
  s.version = 1;
  s.content_hash = {rng(), rng()};
  s.simhash = SimHash64{rng()};
  for (int p = 0; p < 8; ++p) s.paragraph_hashes.push_back(rng());
  std::sort(s.paragraph_hashes.begin(), s.paragraph_hashes.end());
  for (int k = 0; k < 64; ++k)
    s.sketch.push_back(static_cast<uint32_t>(rng() % (uint64_t{1} << 28)));
  std::sort(s.sketch.begin(), s.sketch.end());
  s.sketch.erase(std::unique(s.sketch.begin(), s.sketch.end()), s.sketch.end());
  s.shingle_count = 1600;
  s.sketch_known = true;
  s.line_hashes_known = true;
  s.history_full = false;
  return s;
}

// Applies make(i, rng) for i in [0, n) through ApplyFingerprints, 1,000 a
// batch, and expects every one applied (their URLs are distinct).
template <typename Make>
void ApplyForeignStates(Detector* detector, size_t n, std::mt19937_64& rng, Make make) {
  std::vector<state::UrlState> batch;
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(make(i, rng));
    if (batch.size() == 1000 || i + 1 == n) {
      size_t applied = 0;
      std::string error;
      ASSERT_TRUE(detector->ApplyFingerprints(&batch, &applied, &error)) << error;
      ASSERT_EQ(applied, batch.size());
      batch.clear();
    }
  }
}

}  // namespace dedupd::classify
