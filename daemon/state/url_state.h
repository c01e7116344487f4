// The per-URL state that dedupd keeps: the last version of every canonical
// URL, enough to decide UNCHANGED / REVISED / REVERTED, to diff a revision
// against the previous text, and to rebuild the near-duplicate indexes.
//
//   UrlState s; s.canonical_url = "https://a.example/x"; s.version = 1;
//   std::string bytes = EncodeUrlState(s);             // zstd-compressed text inside
//   UrlState back; bool ok = DecodeUrlState(bytes, &back);
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace dedupd::state {

struct UrlState {
  std::string canonical_url;
  std::string site;
  uint32_t version = 0;
  ContentHash128 content_hash;
  SimHash64 simhash;
  int64_t fetched_at_ms = 0;
  std::vector<ContentHash128> history;     // earlier versions' hashes, newest first (REVERTED)
  std::vector<uint64_t> paragraph_hashes;  // long fingerprinted blocks, for the paragraph index
  // XXH3-64 of the matching form of every non-empty canonical block, in order:
  // what the site's boilerplate model learns from the page. Stored so that a
  // restart re-learns the model without decompressing and re-normalising
  // every text. Records written before format 2 lack them (line_hashes_known
  // false): the loader then computes them from `text`.
  std::vector<uint64_t> line_hashes;
  bool line_hashes_known = false;
  // The near-duplicate confirmation sketch (fingerprint::BottomK32 of the
  // page's fingerprinted shingle set, as the boilerplate model stood when the
  // page was indexed) and the size of that set. Stored so that a candidate is
  // confirmed without reading, normalising and re-shingling its text.
  // Records written before format 3 lack it (sketch_known false): the
  // detector derives it from `text` the first time the page is a candidate.
  std::vector<uint32_t> sketch;
  uint32_t shingle_count = 0;
  bool sketch_known = false;
  std::string text;  // canonical text: kept blocks joined by '\n'
  std::string title;
};

// Serialised form: a small versioned binary header, then the text compressed
// with zstd. Encode writes format 3 (line hashes and sketch), or the older
// format the state's known parts allow (2 without a sketch, 1 without line
// hashes); Decode reads formats 1, 2 and 3 and returns false on any
// corruption (never crashes).
std::string EncodeUrlState(const UrlState& state);
enum class TextPart {
  kDecode,         // always decompress the text
  kSkipIfIndexed,  // leave `text` empty when the record carries its line hashes
};
bool DecodeUrlState(std::string_view bytes, UrlState* state, TextPart text = TextPart::kDecode);

}  // namespace dedupd::state
