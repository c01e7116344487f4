// The packed text of format 7 (state.text_compression = lz4-packed, the
// default since session 10): PackText/UnpackText give back every byte string
// they take (CJK, ASCII, mixed, two- and four-byte characters, malformed
// UTF-8, random bytes), pack CJK to about two thirds and leave ASCII as it
// is, stay within their bound, and refuse corrupt input without a crash;
// format-7 records round-trip with their history, read their headers as
// format 4's, decode from golden bytes written by this version whatever the
// setting, and refuse every truncation and random corruption.
#include "state/text_pack.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "state/url_state.h"
#include "unit/state/record_checks.h"

namespace dedupd::state {
namespace {

const std::string kZh =
    "东川新闻网\n首页 | 要闻 | 政务公开 | 办事服务\n当前位置：首页 > 新闻中心\n"
    "韩正表示，中欧建交50年来，对话日益紧密，利益融合不断加深。2025年02月02日 "
    "记者 王小明 报道（完）";
const std::string kEn =
    "Members Details\nThe token has successfully launched on 2 exchanges, "
    "with a market cap of $3.2M.\nContact: team@example.com";

std::string RoundTrip(std::string_view text) {
  std::string packed;
  EXPECT_TRUE(PackText(text, &packed));
  std::string back(text.size(), '\0');
  EXPECT_TRUE(UnpackText(packed, &back)) << text.size();
  return back;
}

TEST(TextPack, GivesBackEveryText) {
  const std::vector<std::string> texts = {
      "",
      "a",
      "中",
      "中文",
      "中文字",
      kZh,
      kEn,
      kZh + kEn + kZh,
      "Ünïcödé café naïve – “quotes” … 中文 — ok",  // two- and three-byte, U+2000s
      "emoji 😀😀 中文中文 😀 in between 中😀中",       // four-byte inside wide runs
      "中文a中文ab中文abc中文\n中文 中文",          // ASCII runs of 1, 2, 3 between CJK
      std::string("中文\x80\xC3中文\xE4\xB8中文\xED\xA0\x80中文", 24),  // malformed
      "ＡＢＣ１２３，。！？",                                           // full-width forms
      "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",                           // U+FFFD
      "\xE0\xA0\x80\xE0\xA0\x80 \xEF\xBF\xBF\xEF\xBF\xBF",              // U+0800, U+FFFF
      std::string("\0\0中文\0中文\0", 14),
  };
  for (const std::string& text : texts) EXPECT_EQ(RoundTrip(text), text) << text;
}

TEST(TextPack, GivesBackRandomBytesAndRandomCharacters) {
  std::mt19937_64 rng(5);
  const std::vector<std::string> alphabet = {"a",    " ",        "\n",   "7",           "é",
                                             "Ж",    "中",       "文",   "，",          "😀",
                                             "\x80", "\xE4\xB8", "\xC3", "\xED\xA0\x80"};
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t n = rng() % 200;
    if (round % 2 == 0) {
      for (size_t i = 0; i < n; ++i) {
        char c = static_cast<char>(rng() % 255);  // anything but 0xFF
        text.push_back(c);
      }
    } else {
      for (size_t i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    }
    std::string packed;
    ASSERT_TRUE(PackText(text, &packed));
    // PackText's bound (its buffer): at most one byte more per 6, plus 2.
    EXPECT_LE(packed.size(), text.size() + text.size() / 6 + 2) << round;
    std::string back(text.size(), '\0');
    ASSERT_TRUE(UnpackText(packed, &back)) << round;
    EXPECT_EQ(back, text) << round;
  }
}

TEST(TextPack, PacksCjkToTwoThirdsAndLeavesAsciiAsItIs) {
  std::string zh;
  for (int i = 0; i < 20; ++i) zh += "韩正表示中欧建交五十年来对话日益紧密利益融合不断加深";
  std::string packed;
  ASSERT_TRUE(PackText(zh, &packed));
  EXPECT_LE(packed.size(), zh.size() * 2 / 3 + 1);
  ASSERT_TRUE(PackText(kEn, &packed));
  EXPECT_EQ(packed, kEn);
}

TEST(TextPack, RefusesTextWithAnFFByte) {
  std::string packed;
  EXPECT_FALSE(PackText(std::string("ab\xFF", 3), &packed));
}

TEST(TextPack, RefusesCorruptInputNeverACrash) {
  std::string packed;
  ASSERT_TRUE(PackText(kZh + kEn + "😀" + kZh, &packed));
  const size_t size = (kZh + kEn + "😀" + kZh).size();
  std::string back;
  // Another size than the text's is refused, larger or smaller.
  for (size_t wrong : {size - 1, size + 1, size_t{0}}) {
    back.assign(wrong, '\0');
    EXPECT_FALSE(UnpackText(packed, &back)) << wrong;
  }
  // Every truncation: refused (the size does not match, or a unit is cut).
  for (size_t n = 0; n < packed.size(); ++n) {
    back.assign(size, '\0');
    EXPECT_FALSE(UnpackText(std::string_view(packed).substr(0, n), &back)) << n;
  }
  // Escapes that mean nothing: refused.
  for (const char* bad : {"\xFF\xD8\x00", "\xFF\xDB\xFF", "\xFF\xDC\x80", "\xFF\xDD\x01"}) {
    back.assign(1, '\0');
    EXPECT_FALSE(UnpackText(std::string_view(bad, 3), &back)) << bad;
  }
  // Random flips: decoded or refused, never out of bounds (ASan in CI).
  std::mt19937 rng(3);
  for (int i = 0; i < 5000; ++i) {
    std::string flipped = packed;
    flipped[rng() % flipped.size()] ^= static_cast<char>(1 + rng() % 255);
    back.assign(size, '\0');
    if (UnpackText(flipped, &back)) {
      EXPECT_EQ(back.size(), size);
    }
  }
}

// A REVISED page with an earlier version, as GoldenState() of
// text_compression_test.cc, with a CJK text long enough to be packed.
UrlState PackedState() {
  UrlState s;
  s.canonical_url = "https://a.example/x";
  s.site = "a.example";
  s.version = 2;
  s.content_hash = {0x1111, 0x2222};
  s.simhash.bits = 0xABCDEF;
  s.fetched_at_ms = 1700000000000;
  s.history = {{1, 2}};
  s.paragraph_hashes = {7, 8};
  s.line_hashes = {0x123456789abcdef0ull, 42};
  s.line_hashes_known = true;
  s.sketch = {5, 6, 7};
  s.shingle_count = 40;
  s.sketch_known = true;
  s.text = kZh;
  s.title = "标题";
  VersionRecord v0;
  v0.version = 2;
  v0.verdict = 2;
  VersionRecord v1;
  v1.version = 1;
  v1.verdict = 0;
  v1.text = kZh.substr(0, kZh.size() - 9) + "（旧）";
  s.versions = {v0, v1};
  return s;
}

// EncodeUrlState(PackedState()) by this version (session 10, format 7), so
// that every later version is checked to read it.
constexpr const char* kGoldenFormat7 =
    "071300000068747470733a2f2f612e6578616d706c652f7809000000612e6578616d706c6502"
    "00000011110000000000002222000000000000efcdab00000000000068e5cf8b010000010000"
    "0001000000000000000200000000000000020000000700000000000000080000000000000002"
    "000000f0debc9a785634122a0000000000000028000000030000000500000006000000070000"
    "0006000000e6a087e9a298eb000000c200000001bb000000f0acff4e1c5ddd65b095fb7f51dc"
    "0a9996987500207c20ff898195fb00207c20ff653f52a1516c5f0000207c20ff529e4e8b670d"
    "52a1dc0a5f53524d4f4d7f6eff1a9996987500203e20ff65b095fb4e2d5fc3dc0a97e96b6388"
    "68793aff0c4e2d6b275efa4ea4003530ff5e746765ff0c5bf98bdd65e576ca7d275bc6ff0c52"
    "2976ca878d54084e0d65ad52a06df130020032303235e5b9b43032e69c883032e697a520ff8b"
    "b08005dc20738b5c0f660edc2062a59053ff085b8cff09000200000002000000000000000000"
    "00000000000000000000000000000000000002ff000000000000000000000000000000000000"
    "0000000000000000000000000100000000000000000000000000000000000000000000000000"
    "000000ff0000000000000000000000000000000000000000000000000000eb000000eb000000"
    "0b0000000feb00d260e697a7efbc89";

class PackedRecordTest : public ::testing::Test {
 protected:
  void TearDown() override { SetTextCompression(TextCompression::kLz4Packed); }
};

TEST_F(PackedRecordTest, DefaultIsPackedAndRoundTripsWithHistory) {
  EXPECT_EQ(GetTextCompression(), TextCompression::kLz4Packed);
  const UrlState s = PackedState();
  const std::string bytes = EncodeUrlState(s);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 7);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSameState(s, back);
  EXPECT_EQ(EncodeUrlState(back), bytes);
  UrlState from_kafka;
  ASSERT_TRUE(DecodeStateRecord(s.canonical_url, bytes, &from_kafka));
  ExpectSameState(s, from_kafka);
  UrlState indexed;
  ASSERT_TRUE(DecodeUrlState(bytes, &indexed, TextPart::kSkipIfIndexed));
  EXPECT_TRUE(indexed.text.empty());
  // Smaller than format 6's record of the same state (the text is CJK).
  SetTextCompression(TextCompression::kLz4);
  EXPECT_LT(bytes.size(), EncodeUrlState(s).size());
}

TEST_F(PackedRecordTest, AsciiTextIsCompressedAsFormat6Does) {
  UrlState s = PackedState();
  s.text = kEn + kEn;
  s.versions[1].text = kEn;
  const std::string bytes = EncodeUrlState(s);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 7);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSameState(s, back);
  SetTextCompression(TextCompression::kLz4);
  // The same LZ4 block as format 6, one byte (how) more.
  EXPECT_EQ(bytes.size(), EncodeUrlState(s).size() + 1);
}

TEST_F(PackedRecordTest, HeadersOfFormat7ReadAsFormat4s) {
  const UrlState s = PackedState();
  const std::string bytes = EncodeUrlState(s);
  std::string_view url;
  uint32_t version = 0;
  ASSERT_TRUE(PeekUrlState(bytes, &url, &version));
  EXPECT_EQ(url, s.canonical_url);
  EXPECT_EQ(version, 2u);
  RecordHeader h;
  ASSERT_TRUE(PeekRecordHeader(s.canonical_url, bytes, &h));
  EXPECT_EQ(h.format, 7);
  EXPECT_EQ(h.url, s.canonical_url);
  EXPECT_EQ(h.version, 2u);
  EXPECT_EQ(h.content_hash, s.content_hash);
}

TEST_F(PackedRecordTest, GoldenFormat7DecodesWhateverTheSetting) {
  const std::string golden = FromHex(kGoldenFormat7);
  ASSERT_FALSE(golden.empty());
  ASSERT_EQ(static_cast<uint8_t>(golden[0]), 7);
  for (TextCompression setting :
       {TextCompression::kLz4, TextCompression::kZstd, TextCompression::kLz4Packed}) {
    SetTextCompression(setting);
    UrlState back;
    ASSERT_TRUE(DecodeUrlState(golden, &back));
    ExpectSameState(PackedState(), back);
  }
  SetTextCompression(TextCompression::kLz4Packed);
  EXPECT_EQ(EncodeUrlState(PackedState()), golden);
}

TEST_F(PackedRecordTest, CorruptPackedRecordsAreRefusedNeverACrash) {
  // A packed text read as format 6's (format byte changed) is refused too.
  ExpectCorruptRecordsRefused(EncodeUrlState(PackedState()), /*seed=*/13, /*other_format=*/6);
}

}  // namespace
}  // namespace dedupd::state
