// The per-URL state that dedupd keeps: the last version of every canonical
// URL, enough to decide UNCHANGED / REVISED / REVERTED, to diff a revision
// against the previous text, and to rebuild the near-duplicate indexes.
//
//   UrlState s; s.canonical_url = "https://a.example/x"; s.version = 1;
//   std::string bytes = EncodeUrlState(s);             // zstd-compressed text inside
//   UrlState back; bool ok = DecodeUrlState(bytes, &back);
//   std::string fp = EncodeFingerprintRecord(s);       // fingerprints topic: no text
//   ok = DecodeStateRecord(s.canonical_url, fp, &back);  // back.text_known == false
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
  // False for a state decoded from a fingerprint record (format 5,
  // EncodeFingerprintRecord): another instance owns the URL and holds its
  // text. Such a state has no text, title or REVERTED hashes, versions holds
  // at most versions[0] (the copy edge, no text), history_full is false, and
  // its line_hashes keep only their top 32 bits (LineKey: all that the
  // boilerplate model and the block diff compare).
  bool text_known = true;
};

// The part of a line hash that the boilerplate model keys on and a
// fingerprint record carries (docs/design.md, "The state record").
inline uint32_t LineKey(uint64_t line_hash) {
  return static_cast<uint32_t>(line_hash >> 32);
}

// What of the history a record carries: kFull for the state store and the
// changelog; kLatest for the fingerprints topic every instance reads (only
// versions[0] without text: the copy edge, never N texts per URL).
enum class HistoryPart { kFull, kLatest };

// Serialised form: a small versioned binary header, then the text compressed
// with zstd (LZ4 in format 6, packed and LZ4 in format 7), then (format 4)
// the history block. Encode writes format 7, 6 or 4 (SetTextCompression; line hashes, the
// confirmation sketch or a mark that it is unknown, and the history), or format 1 for a state
// without line hashes, or format 5 (the fingerprint record with its URL, below) for a state without
// text (text_known false); Decode reads formats 1 to 7 (5 only with the URL in the value) and
// returns false on any corruption (never crashes).
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
// The codec of the history's texts is the record's (zstd for formats 1-4, LZ4
// for formats 6 and 7: kLz4Packed means kLz4 here).
enum class TextCompression { kLz4, kZstd, kLz4Packed };
void EncodeHistory(const std::vector<VersionRecord>& versions, HistoryPart part,
                   std::string_view dictionary, std::string* out,
                   TextCompression codec = TextCompression::kZstd);
bool DecodeHistory(std::string_view* in, std::vector<VersionRecord>* versions, bool with_text,
                   std::string_view dictionary, bool* full = nullptr,
                   TextCompression codec = TextCompression::kZstd);

// How EncodeUrlState compresses the texts of the records it writes with the
// full history (the store and the changelog): the setting
// state.text_compression, process-wide, set once at start (default kLz4Packed).
// kLz4 writes format 6: about half of zstd level 1's CPU to compress and a
// third to decompress, for 0.75 of the text's bytes against 0.59 on the CJK
// pages of issue #12 (docs/delivery.md, "Run loop cost, session 9"). kZstd
// writes format 4, what versions before it read (a rolling upgrade).
// kLz4Packed writes format 7: format 6 with the state's own text packed
// (text_pack.h: two bytes per CJK character) before LZ4 at acceleration 8,
// where packing saves a tenth of the bytes; on the zh pages of issue #12
// about half of LZ4's encode time and 0.85x its bytes, for a slower decode
// (docs/delivery.md, "State record cost, session 10"); versions before
// session 10 do not read it. Every reader decodes all three, whatever the
// setting. Records with HistoryPart::kLatest
// (state.fingerprint_format = full) and format 1 are always zstd.
void SetTextCompression(TextCompression codec);
TextCompression GetTextCompression();

// ---------------------------------------------------------------------------
// The fingerprint record (format 5): what the fingerprints topic carries since
// issue #15, everything another instance needs to index the page, confirm it
// as a candidate, learn the site's boilerplate and keep the API's copy edge,
// and no text (~350 B against ~2.7 KB; docs/design.md, "The state record").
//
//   value = EncodeFingerprintRecord(state);              // key: the canonical URL
//   UrlState s; DecodeStateRecord(key, value, &s);       // s.text_known == false
//
// Without `with_url` the URL is left out of the value (the topic's key is the
// URL); with it (the state store's copy of such a state) the value stands
// alone. A state with text_known false is always written this way by
// EncodeUrlState too (with its URL), so that the store keeps the mark.
std::string EncodeFingerprintRecord(const UrlState& state, bool with_url = false);

// Any state record of formats 1 to 5 from Kafka, keyed by its canonical URL
// (`key`; a format-5 value without its URL takes it from there). Formats 1 to 4
// decode as DecodeUrlState does (text_known true); format 5 as described
// above. DecodeUrlState on its own refuses a format-5 value without its URL.
bool DecodeStateRecord(std::string_view key, std::string_view value, UrlState* state,
                       TextPart text = TextPart::kDecode);

// What a reader needs to decide whether to decode a record at all (skip this
// instance's own records, or a version it already holds), read from the first
// bytes of any format without decompressing or copying anything. `url` views
// into `value`, or `key` for a format-5 value without its URL.
struct RecordHeader {
  uint8_t format = 0;  // 1..7; 5: a fingerprint record (no text); 6, 7: format 4 with LZ4
  std::string_view url;
  uint32_t version = 0;
  ContentHash128 content_hash;
};
bool PeekRecordHeader(std::string_view key, std::string_view value, RecordHeader* header);

}  // namespace dedupd::state
