// The fingerprint record (format 5, issue #15): what it carries and what it
// leaves out, its size, the URL taken from the Kafka key, the store keeping a
// text-free state text-free, the header read without decoding, records of
// formats 1-4 still read (golden bytes of a format-4 fingerprint record as
// dedupd wrote it before issue #15), and corrupt input refused, never a crash.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "state/store.h"
#include "state/url_state.h"
#include "unit/state/record_checks.h"

namespace dedupd::state {
namespace {

// A state as the detector stores a NEAR_DUPLICATE page: a real-sized sketch
// (64 of ~1,500 shingles), 8 passage hashes, 24 lines.
UrlState Page() {
  UrlState s;
  s.canonical_url = "https://www.news24-gen.example/xxgk/2025-02/02/content_1.htm";
  s.site = "news24-gen.example";
  s.version = 3;
  s.content_hash = {0x1122334455667788ull, 0x99aabbccddeeff00ull};
  s.simhash = {0xdeadbeefcafef00dull};
  s.fetched_at_ms = 1740787226000;
  s.history = {{3, 4}, {5, 6}};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 8; ++i) s.paragraph_hashes.push_back(rng() >> 3);
  std::sort(s.paragraph_hashes.begin(), s.paragraph_hashes.end());
  for (int i = 0; i < 24; ++i) s.line_hashes.push_back(rng());
  s.line_hashes_known = true;
  std::vector<uint32_t> all;
  for (int i = 0; i < 1500; ++i) all.push_back(static_cast<uint32_t>(rng() >> 32));
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  s.sketch.assign(all.begin(), all.begin() + 64);
  s.shingle_count = 1500;
  s.sketch_known = true;
  s.text = "第一段。\nSecond block, with text.";
  s.title = "标题";
  VersionRecord current;
  current.version = 3;
  current.fetched_at_ms = s.fetched_at_ms;
  current.content_hash = s.content_hash;
  current.verdict = 4;
  current.severity = -1;
  current.flags = 1;
  current.copy_of = "https://b.example/original";
  current.copy_of_version = 2;
  current.containment = 0.9f;
  current.jaccard = 0.7f;
  current.distance = 3;
  current.found_by = 3;
  current.boilerplate_blocks = 5;
  VersionRecord earlier;
  earlier.version = 2;
  earlier.text = "第一段。\nSecond block, earlier text.";
  s.versions = {current, earlier};
  return s;
}

void ExpectFingerprintOf(const UrlState& s, const UrlState& got) {
  EXPECT_EQ(got.canonical_url, s.canonical_url);
  EXPECT_EQ(got.site, s.site);
  EXPECT_EQ(got.version, s.version);
  EXPECT_EQ(got.content_hash, s.content_hash);
  EXPECT_EQ(got.simhash, s.simhash);
  EXPECT_EQ(got.fetched_at_ms, s.fetched_at_ms);
  EXPECT_EQ(got.paragraph_hashes, s.paragraph_hashes);
  EXPECT_TRUE(got.line_hashes_known);
  ASSERT_EQ(got.line_hashes.size(), s.line_hashes.size());
  for (size_t i = 0; i < s.line_hashes.size(); ++i) {
    EXPECT_EQ(LineKey(got.line_hashes[i]), LineKey(s.line_hashes[i])) << i;
  }
  EXPECT_EQ(got.sketch, s.sketch);
  EXPECT_EQ(got.shingle_count, s.shingle_count);
  EXPECT_EQ(got.sketch_known, s.sketch_known);
  // The copy edge (the API's copy index), without text.
  ASSERT_EQ(got.versions.size(), 1u);
  const VersionRecord &x = s.versions[0], &y = got.versions[0];
  EXPECT_EQ(y.version, x.version);
  EXPECT_EQ(y.fetched_at_ms, x.fetched_at_ms);
  EXPECT_EQ(y.content_hash, x.content_hash);
  EXPECT_EQ(y.verdict, x.verdict);
  EXPECT_EQ(y.severity, x.severity);
  EXPECT_EQ(y.flags, x.flags);
  EXPECT_EQ(y.copy_of, x.copy_of);
  EXPECT_EQ(y.copy_of_version, x.copy_of_version);
  EXPECT_EQ(y.containment, x.containment);
  EXPECT_EQ(y.jaccard, x.jaccard);
  EXPECT_EQ(y.distance, x.distance);
  EXPECT_EQ(y.found_by, x.found_by);
  EXPECT_EQ(y.boilerplate_blocks, x.boilerplate_blocks);
  EXPECT_TRUE(y.text.empty());
  // What stays with the owner.
  EXPECT_TRUE(got.text.empty());
  EXPECT_TRUE(got.title.empty());
  EXPECT_TRUE(got.history.empty());
  EXPECT_FALSE(got.text_known);
  EXPECT_FALSE(got.history_full);
}

TEST(FingerprintRecord, CarriesTheFingerprintAndNoText) {
  const UrlState s = Page();
  const std::string value = EncodeFingerprintRecord(s);
  UrlState got;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, value, &got));
  ExpectFingerprintOf(s, got);
  EXPECT_EQ(value.find("Second block"), std::string::npos);
  EXPECT_EQ(value.find(s.canonical_url), std::string::npos);  // the key carries it
  // 2 + 1 (site from the host) + 1 + 16 + 8 + 6 + 1 + 64 + 1 + 96 (24 line
  // keys) + 2 + 1 + 1 + ~185 (sketch) + 42 (copy edge of a NEAR_DUPLICATE):
  // ~425 bytes, ~385 for a NEW page (bench/record measures the stream).
  EXPECT_LT(value.size(), 440u);
  const std::string legacy = EncodeUrlState(s, HistoryPart::kLatest);
  EXPECT_LT(value.size() * 3 / 2, legacy.size() + 64);  // the legacy record has the text too
}

TEST(FingerprintRecord, SiteOutsideTheHostAndNoVersionRecord) {
  UrlState s = Page();
  s.site = "elsewhere.example";
  s.versions.clear();
  s.sketch_known = false;
  s.sketch.clear();
  s.shingle_count = 0;
  UrlState got;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, EncodeFingerprintRecord(s), &got));
  EXPECT_EQ(got.site, "elsewhere.example");
  EXPECT_TRUE(got.versions.empty());
  EXPECT_FALSE(got.sketch_known);
  EXPECT_TRUE(got.sketch.empty());
}

TEST(FingerprintRecord, VersionRecordOfAnotherVersionKeepsItsHeader) {
  UrlState s = Page();
  s.versions[0].version = 2;
  s.versions[0].fetched_at_ms = 5;
  s.versions[0].copy_of.clear();
  s.versions[0].containment = 0;
  s.versions[0].jaccard = 0;
  s.versions[0].distance = 0;
  s.versions[0].found_by = 0;
  s.versions[0].copy_of_version = 0;
  UrlState got;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, EncodeFingerprintRecord(s), &got));
  ExpectFingerprintOf(s, got);
}

TEST(FingerprintRecord, WithoutItsUrlOnlyWithTheKey) {
  const UrlState s = Page();
  const std::string value = EncodeFingerprintRecord(s);
  UrlState got;
  EXPECT_FALSE(DecodeUrlState(value, &got));  // no URL: the reader must pass the key
  EXPECT_FALSE(DecodeStateRecord({}, value, &got));
  const std::string with_url = EncodeFingerprintRecord(s, /*with_url=*/true);
  ASSERT_TRUE(DecodeUrlState(with_url, &got));
  ExpectFingerprintOf(s, got);
  ASSERT_TRUE(DecodeStateRecord("https://ignored.example/", with_url, &got));
  EXPECT_EQ(got.canonical_url, s.canonical_url);
}

TEST(FingerprintRecord, TheStoreKeepsTheStateTextFree) {
  const UrlState s = Page();
  UrlState decoded;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, EncodeFingerprintRecord(s), &decoded));
  // What the store writes for it (rocks_store.cc encodes with EncodeUrlState).
  const std::string stored = EncodeUrlState(decoded);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(stored, &back, TextPart::kSkipIfIndexed));
  ExpectFingerprintOf(s, back);
}

TEST(FingerprintRecord, HeaderWithoutDecoding) {
  const UrlState s = Page();
  RecordHeader h;
  ASSERT_TRUE(PeekRecordHeader(s.canonical_url, EncodeFingerprintRecord(s), &h));
  EXPECT_EQ(h.format, 5);
  EXPECT_EQ(h.url, s.canonical_url);
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.content_hash, s.content_hash);
  const std::string with_url = EncodeFingerprintRecord(s, true);  // h.url views into it
  ASSERT_TRUE(PeekRecordHeader("key", with_url, &h));
  EXPECT_EQ(h.url, s.canonical_url);
  for (HistoryPart part : {HistoryPart::kFull, HistoryPart::kLatest}) {
    const std::string old = EncodeUrlState(s, part);
    ASSERT_TRUE(PeekRecordHeader("key", old, &h));
    // The store's record is packed LZ4 (format 7) by default; the
    // fingerprint topic's full record stays format 4.
    EXPECT_EQ(h.format, part == HistoryPart::kFull ? 7 : 4);
    EXPECT_EQ(h.url, s.canonical_url);
    EXPECT_EQ(h.version, 3u);
    EXPECT_EQ(h.content_hash, s.content_hash);
  }
  UrlState one = s;
  one.line_hashes_known = false;
  ASSERT_TRUE(PeekRecordHeader("key", EncodeUrlState(one), &h));
  EXPECT_EQ(h.format, 1);
  EXPECT_EQ(h.version, 3u);
  EXPECT_FALSE(PeekRecordHeader("key", "", &h));
  EXPECT_FALSE(PeekRecordHeader("key", std::string(1, '\x09'), &h));
}

// A format-4 fingerprint record as dedupd 5d5f2d3 wrote it
// (EncodeUrlState(s, HistoryPart::kLatest) of the state below).
UrlState GoldenState() {
  UrlState s;
  s.canonical_url = "https://a.example/x";
  s.site = "a.example";
  s.version = 2;
  s.content_hash = {1, 2};
  s.simhash = {0xf0f0};
  s.fetched_at_ms = 1700000000000;
  s.history = {{3, 4}};
  s.paragraph_hashes = {7, 9};
  s.line_hashes = {0x1111111122222222ull, 0x3333333344444444ull};
  s.line_hashes_known = true;
  s.sketch = {5, 70, 900};
  s.shingle_count = 3;
  s.sketch_known = true;
  s.text = "第一段。\nSecond block.";
  s.title = "T";
  VersionRecord v;
  v.version = 2;
  v.fetched_at_ms = s.fetched_at_ms;
  v.content_hash = s.content_hash;
  v.verdict = 4;
  v.copy_of = "https://b.example/y";
  v.copy_of_version = 1;
  v.containment = 0.5f;
  v.jaccard = 0.25f;
  v.distance = 2;
  v.found_by = 1;
  v.boilerplate_blocks = 1;
  s.versions = {v};
  return s;
}
// (Generated with 5d5f2d3's url_state.cc; zstd output may differ between
// zstd versions, so only the decode is checked, not a re-encode.)
constexpr char kGoldenFormat4Hex[] =
    "041300000068747470733a2f2f612e6578616d706c652f7809000000612e6578616d706c6502"
    "00000001000000000000000200000000000000f0f00000000000000068e5cf8b010000010000"
    "0003000000000000000400000000000000020000000700000000000000090000000000000002"
    "0000002222222211111111444444443333333303000000030000000500000046000000840300"
    "0001000000541a0000002300000028b52ffd201ad10000e7acace4b880e6aeb5e380820a5365"
    "636f6e6420626c6f636b2e0101000000020000000068e5cf8b01000001000000000000000200"
    "00000000000004ff000000001300000068747470733a2f2f622e6578616d706c652f79010000"
    "000000003f0000803e020101000000000000000000000000000000";

TEST(FingerprintRecord, FormatFourRecordsFromBeforeIssue15AreRead) {
  const UrlState s = GoldenState();
  const std::string golden = FromHex(kGoldenFormat4Hex);
  UrlState got;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, golden, &got));
  EXPECT_TRUE(got.text_known);
  EXPECT_FALSE(got.history_full);
  EXPECT_EQ(got.text, s.text);
  EXPECT_EQ(got.title, s.title);
  // The same index entries as from the new record of the same state.
  UrlState compact;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, EncodeFingerprintRecord(s), &compact));
  EXPECT_EQ(compact.simhash, got.simhash);
  EXPECT_EQ(compact.content_hash, got.content_hash);
  EXPECT_EQ(compact.version, got.version);
  EXPECT_EQ(compact.paragraph_hashes, got.paragraph_hashes);
  EXPECT_EQ(compact.sketch, got.sketch);
  EXPECT_EQ(compact.shingle_count, got.shingle_count);
  ASSERT_EQ(compact.line_hashes.size(), got.line_hashes.size());
  for (size_t i = 0; i < got.line_hashes.size(); ++i) {
    EXPECT_EQ(LineKey(compact.line_hashes[i]), LineKey(got.line_hashes[i]));
  }
  ASSERT_EQ(got.versions.size(), 1u);
  EXPECT_EQ(got.versions[0].copy_of, compact.versions[0].copy_of);
  EXPECT_EQ(got.versions[0].jaccard, compact.versions[0].jaccard);
}

TEST(FingerprintRecord, CorruptInputIsRefusedNotACrash) {
  const UrlState s = Page();
  const std::string value = EncodeFingerprintRecord(s);
  UrlState got;
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(DecodeStateRecord(s.canonical_url, value.substr(0, n), &got)) << n;
  }
  EXPECT_FALSE(DecodeStateRecord(s.canonical_url, value + "x", &got));
  std::mt19937 rng(3);
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bad = value;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    RecordHeader h;
    PeekRecordHeader(s.canonical_url, bad, &h);
    accepted += DecodeStateRecord(s.canonical_url, bad, &got);  // must not crash (ASan/UBSan)
  }
  // Fixed-width hashes take any value, so many flips decode; the structure's
  // bytes (flags, counts, Rice codes) refuse most others.
  EXPECT_LT(accepted, 20000u);
}

// The sketch's Golomb-Rice code, written bit by bit as the record's
// definition says (the parameter: the smallest k of the fewest bits, all 32
// tried), against what EncodeFingerprintRecord writes: the encoder gathers
// the bits in a word (session 10) and must write exactly these bytes,
// including quotients of more than 32 ones.
std::string ReferenceSketchCode(const std::vector<uint32_t>& sketch) {
  const auto gap = [&sketch](size_t i) -> uint64_t {
    return i == 0 ? sketch[0] : uint64_t{sketch[i]} - sketch[i - 1] - 1;
  };
  int best_k = 0;
  uint64_t best_bits = UINT64_MAX;
  for (int k = 0; k < 32; ++k) {
    uint64_t bits = 0;
    for (size_t i = 0; i < sketch.size(); ++i) bits += (gap(i) >> k) + 1 + k;
    if (bits < best_bits) {
      best_bits = bits;
      best_k = k;
    }
  }
  std::string out(1, static_cast<char>(best_k));
  std::vector<bool> bits;
  for (size_t i = 0; i < sketch.size(); ++i) {
    for (uint64_t q = gap(i) >> best_k; q > 0; --q) bits.push_back(true);
    bits.push_back(false);
    for (int b = 0; b < best_k; ++b) bits.push_back(((gap(i) >> b) & 1) != 0);
  }
  out.append((bits.size() + 7) / 8, '\0');
  for (size_t b = 0; b < bits.size(); ++b) {
    if (bits[b]) out[1 + b / 8] = static_cast<char>(out[1 + b / 8] | (1 << (b % 8)));
  }
  return out;
}

TEST(FingerprintRecord, SketchCodeIsTheBitByBitCode) {
  std::mt19937_64 rng(11);
  std::vector<std::vector<uint32_t>> sketches;
  for (int round = 0; round < 200; ++round) {
    std::vector<uint32_t> v;
    const int n = 1 + static_cast<int>(rng() % 300);
    const int shift = static_cast<int>(rng() % 33);  // gaps from ~1 to ~2^32
    for (int i = 0; i < n; ++i)
      v.push_back(static_cast<uint32_t>(shift == 32 ? 0 : rng() >> (32 + shift)));
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    sketches.push_back(v);
  }
  // Many gaps of 0 and one of 2^31: the parameter is ~20, the big gap's
  // quotient ~2,000 ones.
  std::vector<uint32_t> skewed;
  for (uint32_t i = 0; i < 1000; ++i) skewed.push_back(i);
  skewed.push_back(1u << 31);
  sketches.push_back(skewed);
  sketches.push_back({0});
  sketches.push_back({0xFFFFFFFFu});
  for (const auto& sketch : sketches) {
    UrlState s = Page();
    s.versions.clear();  // the sketch's code is then the record's last bytes
    s.sketch = sketch;
    const std::string record = EncodeFingerprintRecord(s);
    const std::string expected = ReferenceSketchCode(sketch);
    ASSERT_GE(record.size(), expected.size());
    EXPECT_EQ(record.substr(record.size() - expected.size()), expected) << sketch.size();
    UrlState back;
    ASSERT_TRUE(DecodeStateRecord(s.canonical_url, record, &back));
    EXPECT_EQ(back.sketch, sketch);
  }
}

}  // namespace
}  // namespace dedupd::state
