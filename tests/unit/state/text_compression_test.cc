// The state's text compression (state.text_compression, session 9): LZ4
// records (format 6) round-trip with their history, their headers read as
// format 4's do, zstd records (format 4) as dedupd wrote them before session 9
// and LZ4 records (format 6) as session 9 wrote them still decode whatever
// the setting (golden bytes), the fingerprint
// topic's full record stays format 4, and corrupt LZ4 input is refused,
// never a crash.
#include <gtest/gtest.h>

#include <string>

#include "state/url_state.h"
#include "unit/state/record_checks.h"

namespace dedupd::state {
namespace {

// The state the golden record below was made from (by the encoder of
// main d1876e9: zstd, format 4), a REVISED page with two earlier versions.
UrlState GoldenState() {
  UrlState s;
  s.canonical_url = "https://a.example/x";
  s.site = "a.example";
  s.version = 3;
  s.content_hash = {0x1111, 0x2222};
  s.simhash.bits = 0xABCDEF;
  s.fetched_at_ms = 1700000000000;
  s.history = {{1, 2}, {3, 4}};
  s.paragraph_hashes = {7, 8};
  s.line_hashes = {0x123456789abcdef0ull, 42};
  s.line_hashes_known = true;
  s.sketch = {5, 6, 7};
  s.shingle_count = 40;
  s.sketch_known = true;
  s.text =
      "东川新闻网 当前位置：首页 > 新闻中心 韩正表示，中欧建交50年来，对话日益紧密，"
      "利益融合不断加深。\n第二段 第二段 第二段";
  s.title = "标题";
  VersionRecord v0;
  v0.version = 3;
  v0.verdict = 2;
  VersionRecord v1;
  v1.version = 2;
  v1.verdict = 2;
  v1.severity = 1;
  v1.text = "东川新闻网 当前位置：首页 > 新闻中心 韩正表示，中欧建交40年来，对话日益紧密。\n第二段";
  VersionRecord v2;
  v2.version = 1;
  v2.verdict = 0;
  v2.copy_of = "https://b.example/y";
  v2.copy_of_version = 4;
  v2.text = "东川新闻网 旧文本 旧文本 旧文本";
  s.versions = {v0, v1, v2};
  return s;
}

// EncodeUrlState(GoldenState()) by main d1876e9 (zstd level 1, format 4).
constexpr const char* kGoldenFormat4 =
    "041300000068747470733a2f2f612e6578616d706c652f7809000000612e6578616d706c6503"
    "00000011110000000000002222000000000000efcdab00000000000068e5cf8b010000020000"
    "0001000000000000000200000000000000030000000000000004000000000000000200000007"
    "00000000000000080000000000000002000000f0debc9a785634122a00000000000000280000"
    "000300000005000000060000000700000006000000e6a087e9a298a9000000a400000028b52f"
    "fd20a9dd04000409e4b89ce5b79de696b0e997bbe7bd9120e5bd93e5898de4bd8de7bdaeefbc"
    "9ae9a696e9a1b5203e20e4b8ade5bf8320e99fa9e6ada3e8a1a8e7a4baefbc8ce4b8ade6aca7"
    "e5bbbae4baa43530e5b9b4e69da5efbc8ce5afb9e8af9de697a5e79b8ae7b4a7e5af86efbc8c"
    "e588a9e79b8ae89e8de59088e4b88de696ade58aa0e6b7b1e380820ae7acace4ba8ce6aeb520"
    "0200684b8a28832a030003000000030000000000000000000000000000000000000000000000"
    "0000000002ff0000000000000000000000000000000000000000000000000000000000000200"
    "0000000000000000000000000000000000000000000000000000020100000000000000000000"
    "000000000000000000000000000000007a000000010000000000000000000000000000000000"
    "0000000000000000000000ff000000001300000068747470733a2f2f622e6578616d706c652f"
    "790400000000000000000000000000000000002d000000a70000002300000028b52ffd20a7d5"
    "00005034e697a7e69687e69cac05002dfafa4020620e00e69a859a20";

// EncodeUrlState(GoldenState()) with state.text_compression = lz4 (format
// 6), written by the encoder of main 7c4324d (session 9's format 6).
constexpr const char* kGoldenFormat6 =
    "061300000068747470733a2f2f612e6578616d706c652f7809000000612e6578616d706c6503"
    "00000011110000000000002222000000000000efcdab00000000000068e5cf8b010000020000"
    "0001000000000000000200000000000000030000000000000004000000000000000200000007"
    "00000000000000080000000000000002000000f0debc9a785634122a00000000000000280000"
    "000300000005000000060000000700000006000000e6a087e9a298a90000009e000000f219e4"
    "b89ce5b79de696b0e997bbe7bd9120e5bd93e5898de4bd8de7bdaeefbc9ae9a696e9a1b5203e"
    "202200f030e4b8ade5bf8320e99fa9e6ada3e8a1a8e7a4baefbc8ce4b8ade6aca7e5bbbae4ba"
    "a43530e5b9b4e69da5efbc8ce5afb9e8af9de697a5e79b8ae7b4a7e5af861500fa1688a9e79b"
    "8ae89e8de59088e4b88de696ade58aa0e6b7b1e380820ae7acace4ba8ce6aeb5200a0050ba8c"
    "e6aeb500030000000300000000000000000000000000000000000000000000000000000002ff"
    "0000000000000000000000000000000000000000000000000000000000000200000000000000"
    "0000000000000000000000000000000000000000020100000000000000000000000000000000"
    "000000000000000000007a000000010000000000000000000000000000000000000000000000"
    "0000000000ff000000001300000068747470733a2f2f622e6578616d706c652f790400000000"
    "000000000000000000000000002d000000a7000000210000000fa9003d1f34a90009098e000c"
    "7a009be697a7e69687e69cac0a00509687e69cac";

// Writes format 6 (state.text_compression = lz4; the default is lz4-packed
// since session 10: text_pack_test.cc), and restores the default after each
// test.
class TextCompressionTest : public ::testing::Test {
 protected:
  void SetUp() override { SetTextCompression(TextCompression::kLz4); }
  void TearDown() override { SetTextCompression(TextCompression::kLz4Packed); }
};

TEST_F(TextCompressionTest, Lz4RoundTripsWithHistory) {
  const UrlState s = GoldenState();
  const std::string bytes = EncodeUrlState(s);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 6);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSameState(s, back);
  EXPECT_TRUE(back.history_full);
  // Encoded again: the same bytes (nothing depends on the stream's past).
  EXPECT_EQ(EncodeUrlState(back), bytes);
  // Through the Kafka reader too.
  UrlState from_kafka;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, bytes, &from_kafka));
  ExpectSameState(s, from_kafka);
  // Without the text: the history is not decompressed either.
  UrlState indexed;
  ASSERT_TRUE(DecodeUrlState(bytes, &indexed, TextPart::kSkipIfIndexed));
  EXPECT_TRUE(indexed.text.empty());
  EXPECT_EQ(indexed.line_hashes, s.line_hashes);
}

TEST_F(TextCompressionTest, HeadersOfFormat6ReadAsFormat4s) {
  const UrlState s = GoldenState();
  const std::string bytes = EncodeUrlState(s);
  std::string_view url;
  uint32_t version = 0;
  ASSERT_TRUE(PeekUrlState(bytes, &url, &version));
  EXPECT_EQ(url, s.canonical_url);
  EXPECT_EQ(version, 3u);
  RecordHeader h;
  ASSERT_TRUE(PeekRecordHeader(s.canonical_url, bytes, &h));
  EXPECT_EQ(h.format, 6);
  EXPECT_EQ(h.url, s.canonical_url);
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.content_hash, s.content_hash);
}

TEST_F(TextCompressionTest, ZstdRecordsOfEarlierVersionsStillDecode) {
  const std::string golden = FromHex(kGoldenFormat4);
  ASSERT_EQ(static_cast<uint8_t>(golden[0]), 4);
  for (TextCompression setting :
       {TextCompression::kLz4, TextCompression::kZstd, TextCompression::kLz4Packed}) {
    SetTextCompression(setting);
    UrlState back;
    ASSERT_TRUE(DecodeUrlState(golden, &back));
    ExpectSameState(GoldenState(), back);
    RecordHeader h;
    ASSERT_TRUE(PeekRecordHeader({}, golden, &h));
    EXPECT_EQ(h.format, 4);
  }
  // state.text_compression = zstd writes what earlier versions wrote, byte
  // for byte (a rolling upgrade's setting).
  SetTextCompression(TextCompression::kZstd);
  EXPECT_EQ(EncodeUrlState(GoldenState()), golden);
}

TEST_F(TextCompressionTest, Lz4RecordsOfSession9StillDecode) {
  // EncodeUrlState(GoldenState()) with state.text_compression = lz4 (format
  // 6), as main 7c4324d (session 9) wrote it: read whatever the setting, and
  // written byte for byte with `lz4` (a rolling upgrade from session 9).
  const std::string golden = FromHex(kGoldenFormat6);
  ASSERT_FALSE(golden.empty());
  ASSERT_EQ(static_cast<uint8_t>(golden[0]), 6);
  for (TextCompression setting :
       {TextCompression::kLz4, TextCompression::kZstd, TextCompression::kLz4Packed}) {
    SetTextCompression(setting);
    UrlState back;
    ASSERT_TRUE(DecodeUrlState(golden, &back));
    ExpectSameState(GoldenState(), back);
  }
  SetTextCompression(TextCompression::kLz4);
  EXPECT_EQ(EncodeUrlState(GoldenState()), golden);
}

TEST_F(TextCompressionTest, FingerprintTopicsFullRecordStaysFormat4) {
  // state.fingerprint_format = full is for versions that read format 4 only.
  const std::string latest = EncodeUrlState(GoldenState(), HistoryPart::kLatest);
  EXPECT_EQ(static_cast<uint8_t>(latest[0]), 4);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(latest, &back));
  EXPECT_EQ(back.text, GoldenState().text);
  EXPECT_FALSE(back.history_full);
}

TEST_F(TextCompressionTest, Lz4SavesBytesOnLongTexts) {
  // Not a benchmark: the text is repetitive, so any working compressor must
  // shrink it well; this catches a codec that stored it raw.
  UrlState s = GoldenState();
  std::string text;
  for (int i = 0; i < 200; ++i) text += "第" + std::to_string(i % 7) + "段 重复的新闻文本。\n";
  s.text = text;
  s.versions[1].text = text + "改";
  const std::string bytes = EncodeUrlState(s);
  EXPECT_LT(bytes.size(), text.size() / 4);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSameState(s, back);
}

TEST_F(TextCompressionTest, CorruptLz4RecordsAreRefusedNeverACrash) {
  // An LZ4 block read as zstd (format byte changed to 4) is refused too.
  ExpectCorruptRecordsRefused(EncodeUrlState(GoldenState()), /*seed=*/11, /*other_format=*/4);
}

}  // namespace
}  // namespace dedupd::state
