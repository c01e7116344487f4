// A state whose text is `bytes` random printable letters, for the RocksDB
// store's tests (no_wal_test.cc, full_disk_test.cc, blob_files_test.cc):
// random letters compress to ~80% of their bytes, so the stored record is
// about as large as asked for.
//
//   std::mt19937_64 rng(3);
//   store->Put(RandomTextState(1, 2000, rng));     // page-1, version 1
//
// Thread-safety: values (the generator is the caller's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "state/url_state.h"

namespace dedupd::state {

inline UrlState RandomTextState(int i, size_t bytes, std::mt19937_64& rng, uint64_t version = 1) {
  UrlState s;
  s.canonical_url = "https://a.example/page-" + std::to_string(i);
  s.site = "a.example";
  s.version = version;
  s.content_hash = {static_cast<uint64_t>(i), version + 1};
  s.text.resize(bytes);
  for (char& c : s.text) c = static_cast<char>('!' + rng() % 90);
  return s;
}

}  // namespace dedupd::state
