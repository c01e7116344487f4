// Checks the state record tests share (text_compression_test.cc,
// text_pack_test.cc, fingerprint_record_test.cc): golden bytes from hex, two
// states equal field by field with their versions' texts, and a record
// whose every truncation and random corruption is refused, never a crash.
//
//   const std::string golden = FromHex(kGoldenFormat7);
//   ExpectSameState(PackedState(), back);
//   ExpectCorruptRecordsRefused(EncodeUrlState(PackedState()), /*seed=*/13);
//
// Thread-safety: test helpers, one thread.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "state/url_state.h"

namespace dedupd::state {

inline std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// What a decoded record must give back (the versions' texts included;
// store_test.cc's check differs: a stored versions[0] has no text).
inline void ExpectSameState(const UrlState& a, const UrlState& b) {
  EXPECT_EQ(a.canonical_url, b.canonical_url);
  EXPECT_EQ(a.site, b.site);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.content_hash, b.content_hash);
  EXPECT_EQ(a.simhash.bits, b.simhash.bits);
  EXPECT_EQ(a.fetched_at_ms, b.fetched_at_ms);
  EXPECT_EQ(a.history, b.history);
  EXPECT_EQ(a.paragraph_hashes, b.paragraph_hashes);
  EXPECT_EQ(a.line_hashes, b.line_hashes);
  EXPECT_EQ(a.sketch, b.sketch);
  EXPECT_EQ(a.shingle_count, b.shingle_count);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.title, b.title);
  ASSERT_EQ(a.versions.size(), b.versions.size());
  for (size_t i = 0; i < a.versions.size(); ++i) {
    EXPECT_EQ(a.versions[i].version, b.versions[i].version);
    EXPECT_EQ(a.versions[i].verdict, b.versions[i].verdict);
    EXPECT_EQ(a.versions[i].severity, b.versions[i].severity);
    EXPECT_EQ(a.versions[i].copy_of, b.versions[i].copy_of);
    EXPECT_EQ(a.versions[i].copy_of_version, b.versions[i].copy_of_version);
    EXPECT_EQ(a.versions[i].text, b.versions[i].text);
  }
}

// Every truncation of `bytes` (a valid record) is refused; of 2,000 random
// byte flips (rng seeded with `seed`) some are, and none crashes (ASan in
// CI); the record with its format byte changed to `other_format` is refused.
inline void ExpectCorruptRecordsRefused(const std::string& bytes, unsigned seed,
                                        char other_format) {
  UrlState back;
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeUrlState(std::string_view(bytes).substr(0, n), &back)) << n;
  }
  std::mt19937 rng(seed);
  int refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bad = bytes;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    refused += DecodeUrlState(bad, &back) ? 0 : 1;
  }
  EXPECT_GT(refused, 0);
  std::string other = bytes;
  other[0] = other_format;
  EXPECT_FALSE(DecodeUrlState(other, &back));
}

}  // namespace dedupd::state
