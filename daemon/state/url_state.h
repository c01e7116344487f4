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

// One version of a URL, as the history keeps it (state.history_versions).
// The explanation fields describe the match of a DUPLICATE / NEAR_DUPLICATE
// version (copy_of empty otherwise).
struct VersionRecord {
  uint32_t version = 0;
  int64_t fetched_at_ms = 0;
  ContentHash128 content_hash;
  uint8_t verdict = 0;   // static_cast of dedupd::Verdict
  int8_t severity = -1;  // static_cast of diff::Severity; -1: none (not REVISED)
  uint32_t flags = 0;    // Flags::bits
  std::string copy_of;   // the URL this version is a copy of, if it is one
  uint32_t copy_of_version = 0;
  float containment = 0;            // NEAR_DUPLICATE: |A∩B| / min(|A|,|B|) of the shingle sets
  float jaccard = 0;                // NEAR_DUPLICATE: |A∩B| / |A∪B|
  uint8_t distance = 0;             // SimHash Hamming distance to copy_of
  uint8_t found_by = 0;             // bit 1: SimHash index, bit 2: passage index
  uint32_t boilerplate_blocks = 0;  // blocks left out as site boilerplate
  // Canonical text of the version. Empty for versions[0] (the current
  // version), whose text is the state's own `text`, never held twice.
  std::string text;
};

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
  // The last versions, newest first; versions[0] is the current version (its
  // text is `text`). At most state.history_versions entries; empty for a
  // record written before format 4 or with the history turned off.
  std::vector<VersionRecord> versions;
  // False for a record from the fingerprints topic (HistoryPart::kLatest):
  // another instance owns the URL and holds its full history.
  bool history_full = true;
};

// What of the history a record carries: kFull for the state store and the
// changelog; kLatest for the fingerprints topic every instance reads (only
// versions[0] without text: the copy edge, never N texts per URL).
enum class HistoryPart { kFull, kLatest };

// Serialised form: a small versioned binary header, then the text compressed
// with zstd, then (format 4) the history block. Encode writes format 4 (line
// hashes, the confirmation sketch or a mark that it is unknown, and the
// history), or format 1 for a state without line hashes; Decode reads formats
// 1 to 4 and returns false on any corruption (never crashes).
std::string EncodeUrlState(const UrlState& state, HistoryPart history = HistoryPart::kFull);
enum class TextPart {
  kDecode,         // always decompress the text
  kSkipIfIndexed,  // leave `text` empty when the record carries its line hashes
};
bool DecodeUrlState(std::string_view bytes, UrlState* state, TextPart text = TextPart::kDecode);

// Reads only a record's header: its canonical URL (a view into `bytes`) and
// version, without decoding the rest (no allocation, no decompression), so a
// reader skips a record it already holds (StateSync: this instance's own
// fingerprint records). False when the header is malformed.
bool PeekUrlState(std::string_view bytes, std::string_view* canonical_url, uint32_t* version);

// The history block on its own (format 4's tail), for tests and the encoder:
// which part (full or latest), a count, the entries' fields, then all earlier
// versions' texts compressed together in one zstd frame with `dictionary` (the
// current text) as its raw-content dictionary: revisions share most text, so
// the frame costs little more than what they changed.
void EncodeHistory(const std::vector<VersionRecord>& versions, HistoryPart part,
                   std::string_view dictionary, std::string* out);
bool DecodeHistory(std::string_view* in, std::vector<VersionRecord>* versions, bool with_text,
                   std::string_view dictionary, bool* full = nullptr);

}  // namespace dedupd::state
