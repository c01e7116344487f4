// NormalizeForMatch, ContentKey, RepairUtf8: one behaviour per test.
#include "text/normalize.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "common/han_run.h"
#include "text/internal/utf8.h"
#include "text/segment.h"
#include "unit/text/corpus_texts.h"
#include "unit/text/text_test_util.h"

namespace dedupd::text {
namespace {

using testing::Fixture;

std::string Utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// utf8proc's own mapping of a whole string, for reference.
std::string Utf8procMap(const std::string& in, int options) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                          static_cast<utf8proc_ssize_t>(in.size()), &out,
                                          static_cast<utf8proc_option_t>(options));
  std::string result = n >= 0 ? std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n))
                              : std::string("<error>");
  std::free(out);
  return result;
}

bool IsSurrogate(char32_t cp) {
  return cp >= 0xD800 && cp <= 0xDFFF;
}

// --- matching form -------------------------------------------------------

TEST(NormalizeForMatch, FoldsCase) {
  EXPECT_EQ(NormalizeForMatch("Hello WORLD"), "hello world");
  EXPECT_EQ(NormalizeForMatch("Straße"), "strasse");
}

TEST(NormalizeForMatch, FoldsFullWidthToHalfWidth) {
  EXPECT_EQ(NormalizeForMatch("ＡＢＣ　５月"), "abc 5月");
  EXPECT_EQ(NormalizeForMatch("ＡＢＣ　ＤＥＦ"), NormalizeForMatch("ABC DEF"));
  EXPECT_EQ(NormalizeForMatch("ｶﾀｶﾅ"), "カタカナ");
}

TEST(NormalizeForMatch, IdeographicSpaceAndNbspAreSpaces) {
  EXPECT_EQ(NormalizeForMatch("a\u3000\u3000b"), "a b");
  EXPECT_EQ(NormalizeForMatch("a\u00A0b"), "a b");
  EXPECT_EQ(NormalizeForMatch("a\u2003\u202Fb"), "a b");
}

TEST(NormalizeForMatch, CollapsesAndTrimsWhitespace) {
  EXPECT_EQ(NormalizeForMatch("  a \t\r\n b  \n"), "a b");
  EXPECT_EQ(NormalizeForMatch(" \u3000 "), "");
}

TEST(NormalizeForMatch, RemovesSpacesBetweenCjkAndDigits) {
  EXPECT_EQ(NormalizeForMatch("5 月 3 日"), "5月3日");
  EXPECT_EQ(NormalizeForMatch("5 月 3 日"), NormalizeForMatch("5月3日"));
  EXPECT_EQ(NormalizeForMatch("（5 月 3 日）"), NormalizeForMatch("（5月3日）"));
}

TEST(NormalizeForMatch, RemovesSpacesBetweenCjkCharacters) {
  EXPECT_EQ(NormalizeForMatch("中 文"), "中文");
  EXPECT_EQ(NormalizeForMatch("中　文"), "中文");
  EXPECT_EQ(NormalizeForMatch("Hello 世界"), "hello世界");
}

TEST(NormalizeForMatch, KeepsSpacesBetweenHangulWords) {
  EXPECT_EQ(NormalizeForMatch("안녕 하세요"), "안녕 하세요");
}

TEST(NormalizeForMatch, UnifiesCjkPunctuation) {
  EXPECT_EQ(NormalizeForMatch("你好，世界！对吗？是；注意：好。"), "你好,世界!对吗?是;注意:好.");
  EXPECT_EQ(NormalizeForMatch("甲、乙"), "甲,乙");
  EXPECT_EQ(NormalizeForMatch("（注）"), "(注)");
}

// The punctuation the main loop takes without Classify (U+3001..U+301F
// but U+3012/3013, and the full-width forms U+FF01..U+FF5E), every code
// point against utf8proc's NFKC (+ case fold) and the documented rules: the
// matching form unifies 、。「」『』〝〞〟【】〔〕〖〗〘〙〚〛〜 and keeps no space
// next to CJK punctuation; full-width letters and digits space like ASCII.
TEST(NormalizeForMatch, CommonCjkPunctuationFollowsUtf8procAndTheRules) {
  const auto unified = [](char32_t cp) -> std::string {
    switch (cp) {
      case 0x3001: return ",";
      case 0x3002: return ".";
      case 0x300C:
      case 0x300D:
      case 0x300E:
      case 0x300F:
      case 0x301D:
      case 0x301E:
      case 0x301F: return "\"";
      case 0x3010:
      case 0x3014:
      case 0x3016:
      case 0x3018:
      case 0x301A: return "[";
      case 0x3011:
      case 0x3015:
      case 0x3017:
      case 0x3019:
      case 0x301B: return "]";
      case 0x301C: return "~";
      default: return Utf8(cp);
    }
  };
  for (char32_t cp = 0x3001; cp <= 0x301F; ++cp) {
    if (cp == 0x3012 || cp == 0x3013) continue;
    const std::string x = Utf8(cp);
    EXPECT_EQ(ContentKey("中" + x + "文 " + x), "中" + x + "文" + x)
        << std::hex << static_cast<unsigned>(cp);
    EXPECT_EQ(NormalizeForMatch("中" + x + "文"), "中" + unified(cp) + "文")
        << std::hex << static_cast<unsigned>(cp);
    EXPECT_EQ(NormalizeForMatch("ab " + x + " cd " + x + x),
              "ab" + unified(cp) + "cd" + unified(cp) + unified(cp))
        << std::hex << static_cast<unsigned>(cp);
  }
  for (char32_t cp = 0xFF01; cp <= 0xFF5E; ++cp) {
    const std::string x = Utf8(cp);
    const std::string key = Utf8procMap(x, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    const std::string folded =
        Utf8procMap(x, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
    ASSERT_EQ(key.size(), 1u) << std::hex << static_cast<unsigned>(cp);
    EXPECT_EQ(ContentKey("中" + x + "文 " + x), "中" + key + "文" + key)
        << std::hex << static_cast<unsigned>(cp);
    EXPECT_EQ(NormalizeForMatch("中" + x + "文"), "中" + folded + "文")
        << std::hex << static_cast<unsigned>(cp);
    const char a = key[0];
    const bool alnum = std::isalnum(static_cast<unsigned char>(a)) != 0;
    const std::string spaced = alnum ? " " + folded + " " : folded;
    EXPECT_EQ(NormalizeForMatch("ab " + x + " cd"), "ab" + spaced + "cd")
        << std::hex << static_cast<unsigned>(cp);
  }
}

TEST(NormalizeForMatch, UnifiesQuotes) {
  EXPECT_EQ(NormalizeForMatch("“引”「号」『嵌』‘单’"), "\"引\"\"号\"\"嵌\"'单'");
  EXPECT_EQ(NormalizeForMatch("«quoted»"), "\"quoted\"");
}

TEST(NormalizeForMatch, UnifiesDashesAndEllipsis) {
  EXPECT_EQ(NormalizeForMatch("a—b–c‐d−e"), "a-b-c-d-e");
  EXPECT_EQ(NormalizeForMatch("wait…"), "wait...");
}

TEST(NormalizeForMatch, RemovesZeroWidthCharacters) {
  EXPECT_EQ(NormalizeForMatch("a\u200Bb\u200Cc\u200Dd\uFEFFe\u00ADf\u2060g"), "abcdefg");
}

TEST(NormalizeForMatch, RemovesControlCharacters) {
  EXPECT_EQ(NormalizeForMatch("a\x01"
                              "b\x7F"
                              "c\xC2\x80"
                              "d"),
            "abcd");
}

TEST(NormalizeForMatch, ComposesLikeNfkc) {
  EXPECT_EQ(NormalizeForMatch("e\u0301"), "\u00E9");
  EXPECT_EQ(NormalizeForMatch("\uFB01le"), "file");        // ligature fi
  EXPECT_EQ(NormalizeForMatch("\u212B"), "\u00E5");        // angstrom sign
  EXPECT_EQ(NormalizeForMatch("\u304B\u3099"), "\u304C");  // か + dakuten = が
  EXPECT_EQ(NormalizeForMatch("\u2460"), "1");             // circled digit one
}

TEST(NormalizeForMatch, ComposesAcrossRemovedCharacters) {
  EXPECT_EQ(NormalizeForMatch("a\u200B\u0301"), "\u00E1");
  EXPECT_EQ(NormalizeForMatch("a\x01\u0301"), "\u00E1");
}

TEST(NormalizeForMatch, RepairsInvalidUtf8) {
  EXPECT_EQ(NormalizeForMatch("a\xFF"
                              "b"),
            "a\uFFFDb");
  EXPECT_EQ(NormalizeForMatch("\xE4\xB8"), "\uFFFD");  // truncated 中
}

TEST(NormalizeForMatch, TreatsBadBytesExactlyLikeTheirRepair) {
  // Found by fuzz_normalize: a full-width character followed by a stray
  // continuation byte used to be re-normalised and lose its CJK spacing.
  for (const std::string s : {"요 ＼\x8c", "a ，\xFF b", "\xE4\xB8 中 \x80x", "ｅ\xC3 \u0301"}) {
    EXPECT_EQ(NormalizeForMatch(s), NormalizeForMatch(RepairUtf8(s))) << s;
    EXPECT_EQ(ContentKey(s), ContentKey(RepairUtf8(s))) << s;
  }
}

// Long runs of ideographs (the normaliser's 16-byte Han path) mixed with
// letters, spaces and broken sequences, against the rules spelled out on
// tokens: U+FFFD for a broken sequence, letters lower-cased, a space run kept
// as one space only between two non-CJK characters, none at the ends.
TEST(NormalizeForMatch, LongHanRunsFollowTheSpacingRules) {
  struct Piece {
    std::string in, out;  // out empty: a space
    bool cjk;
  };
  const std::vector<Piece> han = {{"中", "中", true},
                                  {"一", "一", true},
                                  {"\xE9\xBF\xBF", "\xE9\xBF\xBF", true},
                                  {"丁", "丁", true},
                                  {"\xE4\xB8\xBF", "\xE4\xB8\xBF", true},
                                  {"鿏", "鿏", true}};
  const std::vector<Piece> other = {{"A", "a", false},
                                    {"b", "b", false},
                                    {" ", "", false},
                                    {"\xE4\xB8", "\uFFFD", false},
                                    {"\xE5", "\uFFFD", false},
                                    {"\xFF", "\uFFFD", false},
                                    {"7", "7", false},
                                    // U+4DFF, a hexagram: just before the
                                    // fast range, and not CJK for spacing
                                    {"\xE4\xB7\xBF", "\xE4\xB7\xBF", false}};
  uint64_t x = 0x2545F4914F6CDD1Dull;
  const auto next = [&x] {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 0x2545F4914F6CDD1Dull;
  };
  std::string out;
  for (int round = 0; round < 3000; ++round) {
    std::string text, want;
    bool pending = false, last_cjk = false;
    const size_t n = next() % 200;
    const unsigned other_per_mille = 5 + next() % 300;
    for (size_t i = 0; i < n; ++i) {
      const Piece& p =
          next() % 1000 < other_per_mille ? other[next() % other.size()] : han[next() % han.size()];
      text += p.in;
      if (p.out.empty()) {
        pending = !want.empty();
        continue;
      }
      if (pending && !p.cjk && !last_cjk) want += ' ';
      pending = false;
      last_cjk = p.cjk;
      want += p.out;
    }
    NormalizeForMatch(text, &out);
    ASSERT_EQ(out, want) << "round " << round;
  }
}

// The SIMD run scanner against its definition, byte by byte, on windows
// mixing ideographs at the edges of U+4E00..U+9FFF, their neighbours outside
// it, continuation and lead bytes, ASCII, at every alignment.
TEST(HanRunBytes16, MatchesTheScalarDefinition) {
  const std::vector<std::string> pieces = {
      "中",           "一",           "\xE9\xBF\xBF", "丁",   "\xE4\xB8\x80", "\xE4\xB7\xBF",
      "\xEA\x80\x80", "\xE3\x80\x82", "\xB8",         "\xE4", "\xE9",         "a",
      "\x80",         "\xFF",         "\xE5\xC0\x80"};
  const auto is_han = [](const unsigned char* q) {
    const unsigned lead_second = (q[0] << 8) | q[1];
    return lead_second >= 0xE4B8 && lead_second <= 0xE9BF && (q[1] & 0xC0) == 0x80 &&
           (q[2] & 0xC0) == 0x80;
  };
  uint64_t x = 12345;
  const auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const bool mostly_han = round % 2 == 0;
    while (s.size() < 24) {
      s += mostly_han && next() % 4 != 0 ? pieces[next() % 4] : pieces[next() % pieces.size()];
    }
    const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + next() % 4;
    unsigned want = 0;
    while (want < 15 && is_han(p + want)) want += 3;
    ASSERT_EQ(HanRunBytes16(p), want) << "round " << round;
  }
}

TEST(NormalizeForMatch, ReusesOutputBuffer) {
  std::string out = "previous contents that are longer than the result";
  NormalizeForMatch("ABC", &out);
  EXPECT_EQ(out, "abc");
}

TEST(NormalizeForMatch, IsIdempotentOnSamples) {
  const std::string samples[] = {"Ｈｅｌｌｏ，　ｗｏｒｌｄ！",
                                 "５ 月 ３ 日，“中 文”。",
                                 "e\u0301 \u0301x",
                                 "か \u3099",
                                 "\u2F00 a",
                                 "a \uFF0C b",
                                 "ﾊﾟ ﾋﾟ",
                                 "Å\u0328\u0301",
                                 "\u0345\u0391\u0301",
                                 Fixture("sc-gov-release.txt"),
                                 Fixture("en-release.html"),
                                 Fixture("sc-news-syndicated.txt")};
  for (const std::string& s : samples) {
    const std::string once = NormalizeForMatch(s);
    EXPECT_EQ(NormalizeForMatch(once), once) << s;
  }
}

// --- the 16-byte steps against the byte-at-a-time loops ------------------

void ExpectSameAsScalar(const std::string& text) {
  std::string fast, slow;
  NormalizeForMatch(text, &fast);
  internal::NormalizeForMatchScalar(text, &slow);
  ASSERT_EQ(fast, slow) << "matching form of [" << text << "]";
  ContentKey(text, &fast);
  internal::ContentKeyScalar(text, &slow);
  ASSERT_EQ(fast, slow) << "content key of [" << text << "]";
}

// Random text, mostly ASCII words and single spaces (what the 16-byte steps
// copy) mixed with everything that must stop or follow them: whitespace
// runs, controls, combining marks right after one-letter and longer words
// (they compose with the run's last character, which the slow path redoes),
// full-width forms, CJK, Hangul, expanding and case-folding characters,
// zero-width and format characters, invalid and truncated UTF-8.
TEST(NormalizeForMatch, SimdStepsAgreeWithScalarLoopsOnRandomText) {
  const std::vector<std::string> pieces = {
      " ",  " ",    " ",      "  ",       "\t",         "\n",     "\r\n",   "\x01",   "\x7F",
      ",",  ". ",   "\u0301", "\u0338",   "\u0327",     "\u0345", "Ａ",     "１",     "，",
      "中", "文字", "한국",   "é",        "Ǆ",          "ﬁ",      "\u200B", "\u00A0", "\u3000",
      "…",  "“",    "\xFF",   "\xE4\xB8", "\xC3",       "\u00AD", "Ⅻ",      "ß",      "İ",
      "Σ",  "ς",    "か",     "\u3099",   "\U00020000", "\u2028", "\u0085"};
  std::mt19937_64 rng(11);
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    const size_t n = rng() % 80;
    const unsigned other_per_mille = round % 4 == 0 ? 0 : static_cast<unsigned>(rng() % 400);
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 1000 < other_per_mille) {
        text += pieces[rng() % pieces.size()];
        continue;
      }
      const size_t len = 1 + rng() % (rng() % 4 == 0 ? 24 : 7);
      for (size_t j = 0; j < len; ++j) text.push_back(static_cast<char>(0x21 + rng() % 0x5E));
      text += " ";
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsScalar(text)) << "round " << round;
  }
}

// Every body of the labelled corpus (whole and block by block) and every
// fixture.
TEST(NormalizeForMatch, SimdStepsAgreeWithScalarLoopsOnCorpusAndFixtures) {
  const std::vector<std::string> texts = testing::CorpusAndFixtureTexts();
  ASSERT_GT(texts.size(), 1500u);
  for (const std::string& t : texts) {
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsScalar(t));
    for (const Block& b : SplitPlainText(t).blocks)
      ASSERT_NO_FATAL_FAILURE(ExpectSameAsScalar(b.text));
  }
}

// --- a block's matching form from its sentences' -------------------------

// Returns whether the join vouched for its result (and then checks it).
bool ExpectJoinMatchesBlock(std::string_view block) {
  const std::vector<std::string_view> sentences = SplitSentences(block);
  std::vector<std::string> forms(sentences.size());
  for (size_t i = 0; i < sentences.size(); ++i) NormalizeForMatch(sentences[i], &forms[i]);
  std::string expected, joined, derived;
  NormalizeForMatch(block, &expected);
  NormalizeBlockFromSentences(block, sentences, forms, &derived);
  EXPECT_EQ(derived, expected) << "[" << block << "]";
  const bool vouched = internal::JoinSentenceForms(block, sentences, forms, &joined);
  if (vouched) {
    EXPECT_EQ(joined, expected) << "[" << block << "]";
  }
  return vouched;
}

// Sentences and the gaps between them made of everything that meets at a
// sentence boundary: terminators and closers of both widths, White_Space
// (ASCII, NBSP, U+3000) and zero-width characters, Latin, Han, Hangul and
// full-width text, and what must not be joined blindly: combining marks,
// controls, characters that take utf8proc's path, invalid bytes.
TEST(NormalizeBlockFromSentences, EqualsTheBlocksFormOnRandomText) {
  const std::vector<std::string> pieces = {
      "。",     "！",     "？",   "；", "｡",      ".",         "!",      "?",    ";",  "...",
      "”",      "」",     "）",   ")",  "\"",     " ",         " ",      "  ",   "\t", "\u00A0",
      "\u3000", "\u200B", "中",   "文", "한국",   "Ａ",        "ａ",     "１",   "，", "、",
      "a",      "Word",   "No",   "3",  "\u0301", "\u0338",    "\u3099", "\x01", "é",  "ﬁ",
      "…",      "“",      "\xFF", "Ⅻ",  "か",     "\U00020000"};
  std::mt19937_64 rng(5);
  size_t vouched = 0;
  const int rounds = 20000;
  for (int round = 0; round < rounds; ++round) {
    std::string text;
    const size_t n = rng() % 30;
    for (size_t i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    vouched += ExpectJoinMatchesBlock(text);
    if (HasFatalFailure() || HasNonfatalFailure()) FAIL() << "round " << round;
  }
  // Most random blocks are joined (the cases that fall back are mixed in).
  EXPECT_GT(vouched, static_cast<size_t>(rounds) / 4);
}

// Every block of every corpus body and fixture; nearly all are joined.
TEST(NormalizeBlockFromSentences, EqualsTheBlocksFormOnCorpusAndFixtures) {
  size_t blocks = 0, vouched = 0;
  for (const std::string& t : testing::CorpusAndFixtureTexts()) {
    for (const Block& b : SplitPlainText(t).blocks) {
      ++blocks;
      vouched += ExpectJoinMatchesBlock(b.text);
      if (HasNonfatalFailure()) FAIL() << "block [" << b.text << "]";
    }
  }
  ASSERT_GT(blocks, 10000u);
  EXPECT_GT(vouched, blocks * 99 / 100);
  std::cout << blocks << " blocks, " << vouched << " joined\n";
}

// --- both forms in one pass (NormalizeBothFast, PageForms) -----

// Returns whether the one-pass kernel took `text` (and then checks both of
// its forms against the separate ones, the key appended after a prefix).
bool ExpectBothFormsMatch(std::string_view text) {
  std::string match, key = "prefix|";
  const bool took = internal::NormalizeBothFast(text, &match, &key);
  if (took) {
    EXPECT_EQ(match, NormalizeForMatch(text)) << "matching form of [" << text << "]";
    EXPECT_EQ(key, "prefix|" + ContentKey(text)) << "content key of [" << text << "]";
  } else {
    EXPECT_EQ(key, "prefix|") << "a refused text left the key as it was: [" << text << "]";
  }
  return took;
}

// The random text of SimdStepsAgreeWithScalarLoopsOnRandomText: ASCII words
// (upper and lower case: the key keeps the case, the matching form folds
// it) and spaces mixed with CJK, punctuation of both widths, characters
// from the precomputed table (Latin-1, expanding ones), the ellipsis,
// controls, zero-width and format characters, and what must be refused
// (combining marks, utf8proc's path, invalid bytes).
TEST(NormalizeBothFast, EqualsTheSeparateFormsOnRandomText) {
  const std::vector<std::string> pieces = {
      " ",      " ",      "  ",     "\t",        "\n", "\r\n", "\x01",   "\x7F",       ",",
      ". ",     "\u0301", "Ａ",     "ｂ",        "１", "，",   "：",     "（",         "）",
      "。",     "、",     "《",     "》",        "「", "」",   "【",     "〒",         "中",
      "文字",   "한국",   "é",      "É",         "Ǆ",  "ﬁ",    "©",      "·",          "\u200B",
      "\u00A0", "\u3000", "…",      "“",         "”",  "—",    "\xFF",   "\xE4\xB8",   "\xC3",
      "\u00AD", "Ⅻ",      "ß",      "İ",         "Σ",  "か",   "\u3099", "\U00020000", "\u2028",
      "\u0085", "\uFFFD", "\u00B5", "\U0002F800"};
  std::mt19937_64 rng(17);
  size_t took = 0;
  const int rounds = 20000;
  for (int round = 0; round < rounds; ++round) {
    std::string text;
    const size_t n = rng() % 60;
    const unsigned other_per_mille = round % 4 == 0 ? 0 : static_cast<unsigned>(rng() % 600);
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 1000 < other_per_mille) {
        text += pieces[rng() % pieces.size()];
        continue;
      }
      if (rng() % 2 == 0) {  // a Han run, of any length around the 16- and 32-byte steps
        const size_t len = 1 + rng() % 14;
        for (size_t j = 0; j < len; ++j)
          text += Utf8(0x4E00 + static_cast<char32_t>(rng() % 0x5200));
        continue;
      }
      const size_t len = 1 + rng() % (rng() % 4 == 0 ? 24 : 7);
      for (size_t j = 0; j < len; ++j) text.push_back(static_cast<char>(0x21 + rng() % 0x5E));
      text += " ";
    }
    took += ExpectBothFormsMatch(text);
    if (HasNonfatalFailure()) FAIL() << "round " << round;
  }
  std::cout << took << " of " << rounds << " taken by the one-pass kernel\n";
  EXPECT_GT(took, static_cast<size_t>(rounds) / 10);
}

// Every code point of the BMP (but surrogates) and some of the other
// planes, alone and between Han and ASCII neighbours.
TEST(NormalizeBothFast, EqualsTheSeparateFormsForEveryCodePoint) {
  size_t took = 0;
  for (char32_t cp = 1; cp < 0x30000; ++cp) {
    if (IsSurrogate(cp) || (cp >= 0x10000 && cp % 7 != 0)) continue;
    const std::string c = Utf8(cp);
    took += ExpectBothFormsMatch(c);
    ExpectBothFormsMatch("中" + c + "文");
    ExpectBothFormsMatch("Ab " + c + " x");
    if (HasNonfatalFailure()) FAIL() << "U+" << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_GT(took, 20000u);
}

// Every body of the corpus and every fixture, whole and block by block:
// equal, and nearly every block is taken.
TEST(NormalizeBothFast, EqualsTheSeparateFormsOnCorpusAndFixtures) {
  size_t blocks = 0, took = 0;
  for (const std::string& t : testing::CorpusAndFixtureTexts()) {
    ExpectBothFormsMatch(t);
    for (const Block& b : SplitPlainText(t).blocks) {
      ++blocks;
      took += ExpectBothFormsMatch(b.text);
    }
    if (HasNonfatalFailure()) FAIL() << "text [" << t << "]";
  }
  ASSERT_GT(blocks, 10000u);
  EXPECT_GT(took, blocks * 9 / 10);
  std::cout << blocks << " blocks, " << took << " taken by the one-pass kernel\n";
}

// PageForms against the forms computed one by one: the sentences, each
// sentence's matching form, the block's matching form and its key, for a
// block appended after others (the buffers reused, page after page).
void ExpectBlockFormsMatch(std::string_view block, PageForms* page) {
  static const std::string earlier = "Earlier block. 中文句子！ Ｗｉｄｅ";
  page->Clear();
  page->Append(earlier);
  const size_t first = page->sentences();
  page->Append(block);
  ASSERT_EQ(page->blocks(), 2u);
  EXPECT_EQ(page->BlockForm(0), NormalizeForMatch(earlier));
  ASSERT_EQ(page->FirstSentence(1), first);
  const std::vector<std::string_view> expected_sentences = SplitSentences(block);
  ASSERT_EQ(page->sentences(), first + expected_sentences.size()) << "[" << block << "]";
  ASSERT_EQ(page->FirstSentence(2), page->sentences());
  for (size_t i = 0; i < expected_sentences.size(); ++i) {
    ASSERT_EQ(page->Sentence(first + i).data(), expected_sentences[i].data());
    ASSERT_EQ(page->Sentence(first + i).size(), expected_sentences[i].size());
    EXPECT_EQ(page->SentenceForm(first + i), NormalizeForMatch(expected_sentences[i]))
        << "sentence " << i << " of [" << block << "]";
  }
  EXPECT_EQ(page->BlockForm(1), NormalizeForMatch(block)) << "[" << block << "]";
  ASSERT_EQ(page->KeyEnds().size(), 2u);
  EXPECT_EQ(page->Keys(), ContentKey(earlier) + ContentKey(block)) << "[" << block << "]";
  EXPECT_EQ(page->KeyEnds()[0], ContentKey(earlier).size());
}

// The random blocks of EqualsTheBlocksFormOnRandomText (sentence boundaries
// with everything that meets there) plus upper-case ASCII, for the key.
TEST(PageForms, EqualsTheFormsOneByOneOnRandomText) {
  const std::vector<std::string> pieces = {
      "。",     "！",     "？",   "；", "｡",      ".",          "!",      "?",    ";",  "...",
      "”",      "」",     "）",   ")",  "\"",     " ",          " ",      "  ",   "\t", "\u00A0",
      "\u3000", "\u200B", "中",   "文", "한국",   "Ａ",         "ａ",     "１",   "，", "、",
      "a",      "Word",   "No",   "3",  "\u0301", "\u0338",     "\u3099", "\x01", "é",  "ﬁ",
      "…",      "“",      "\xFF", "Ⅻ",  "か",     "\U00020000", "ABC",    "É",    "©",  "Mr."};
  std::mt19937_64 rng(23);
  PageForms page;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const size_t n = rng() % 30;
    for (size_t i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    ExpectBlockFormsMatch(text, &page);
    if (HasFatalFailure() || HasNonfatalFailure()) FAIL() << "round " << round;
  }
}

TEST(PageForms, EqualsTheFormsOneByOneOnCorpusAndFixtures) {
  PageForms page;
  size_t blocks = 0;
  for (const std::string& t : testing::CorpusAndFixtureTexts()) {
    for (const Block& b : SplitPlainText(t).blocks) {
      ++blocks;
      ExpectBlockFormsMatch(b.text, &page);
      if (HasFatalFailure() || HasNonfatalFailure()) FAIL() << "block [" << b.text << "]";
    }
  }
  ASSERT_GT(blocks, 10000u);
}

// Where the join vouches for a block, its form is the run of its
// sentences' forms in the page's buffer, not a copy: the first sentence's
// form starts where the block's does and the last one's ends where it ends.
TEST(PageForms, AJoinedBlocksFormIsItsSentencesFormsInPlace) {
  PageForms page;
  page.Clear();
  page.Append("第一句话很长，说的是一件事。第二句话也不短！Third sentence here.  Fourth one?");
  page.Append("  ");  // no sentence: an empty form
  page.Append("另一段。Another paragraph.");
  ASSERT_EQ(page.blocks(), 3u);
  for (size_t i : {size_t{0}, size_t{2}}) {
    const std::string_view form = page.BlockForm(i);
    const size_t first = page.FirstSentence(i);
    const size_t last = page.FirstSentence(i + 1) - 1;
    ASSERT_LT(first, last);
    EXPECT_EQ(page.SentenceForm(first).data(), form.data()) << i;
    EXPECT_EQ(page.SentenceForm(last).data() + page.SentenceForm(last).size(),
              form.data() + form.size())
        << i;
  }
  EXPECT_EQ(page.BlockForm(0),
            "第一句话很长,说的是一件事.第二句话也不短!third sentence here. fourth one?");
  EXPECT_EQ(page.BlockForm(1), "");
  EXPECT_EQ(page.FirstSentence(1), page.FirstSentence(2));
}

// Keep() leaves the kept blocks as if only they had been appended.
TEST(PageForms, KeepEqualsAppendingTheKeptBlocksOnly) {
  const std::vector<std::string> blocks = {"甲。乙！",    "Dropped one. Two.", "丙丁",     "",
                                           "Kept É. ﬁ x", "dropped 戊",        "last 己。"};
  const std::vector<bool> keep = {true, false, true, true, true, false};  // the last: past the end
  PageForms page, expected;
  page.Clear();
  expected.Clear();
  for (size_t i = 0; i < blocks.size(); ++i) {
    page.Append(blocks[i]);
    if (i >= keep.size() || keep[i]) expected.Append(blocks[i]);
  }
  page.Keep(keep);
  ASSERT_EQ(page.blocks(), expected.blocks());
  ASSERT_EQ(page.sentences(), expected.sentences());
  for (size_t i = 0; i <= page.blocks(); ++i) {
    EXPECT_EQ(page.FirstSentence(i), expected.FirstSentence(i)) << i;
    if (i < page.blocks()) {
      EXPECT_EQ(page.BlockForm(i), expected.BlockForm(i)) << i;
    }
  }
  for (size_t k = 0; k < page.sentences(); ++k) {
    EXPECT_EQ(page.Sentence(k).data(), expected.Sentence(k).data()) << k;
    EXPECT_EQ(page.SentenceForm(k), expected.SentenceForm(k)) << k;
  }
  EXPECT_TRUE(page.KeyEnds().empty());
}

// --- content key ---------------------------------------------------------

TEST(ContentKey, KeepsCase) {
  EXPECT_EQ(ContentKey("Hello"), "Hello");
  EXPECT_NE(ContentKey("Hello"), ContentKey("hello"));
}

TEST(ContentKey, RemovesAllWhitespace) {
  EXPECT_EQ(ContentKey("A  b\r\n\t c"), "Abc");
  EXPECT_EQ(ContentKey("中\u3000文\u00A0字"), "中文字");
  EXPECT_EQ(ContentKey("5 月 3 日"), ContentKey("5月3日"));
}

TEST(ContentKey, AppliesNfkcWithoutUnifyingPunctuation) {
  EXPECT_EQ(ContentKey("ＡＢＣ，１２３"), "ABC,123");
  EXPECT_EQ(ContentKey("甲、乙。"), "甲、乙。");
  EXPECT_EQ(ContentKey("“x”"), "“x”");
}

TEST(ContentKey, RemovesZeroWidthAndControls) {
  EXPECT_EQ(ContentKey("a\u200Bb\uFEFFc\x01"
                       "d"),
            "abcd");
}

TEST(ContentKey, IgnoresWhitespaceOnlyReformatting) {
  const std::string original = Fixture("sc-gov-release.txt");
  std::string reformatted;
  for (const char c : original) {
    if (c == '\n') {
      reformatted += "  \r\n\u3000\u3000";
    } else {
      reformatted.push_back(c);
    }
  }
  EXPECT_EQ(ContentKey(reformatted), ContentKey(original));
}

TEST(ContentKey, SeesARealEdit) {
  EXPECT_NE(ContentKey(Fixture("sc-gov-release.txt")),
            ContentKey(Fixture("sc-gov-release-revised.txt")));
}

// The fast path must agree with utf8proc's NFKC for every code point, alone
// and followed by combining marks that compose with many bases.
TEST(ContentKey, FastPathAgreesWithUtf8procForEveryCodePoint) {
  const int nfkc = UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE;
  int mismatches = 0;
  for (char32_t cp = 0x21; cp < 0x30000 && mismatches < 20; ++cp) {
    if (IsSurrogate(cp)) continue;
    const utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    if (cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
        cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP) {
      continue;
    }
    for (const char* suffix : {"", "\u0301", "\u3099", "\u11A8"}) {
      const std::string in = Utf8(cp) + suffix;
      // Only compare where utf8proc's result has no whitespace and no
      // ignorable (our key removes those, utf8proc keeps some).
      const std::string expected = Utf8procMap(in, nfkc | UTF8PROC_IGNORE);
      if (expected.find(' ') != std::string::npos) continue;
      const std::string got = ContentKey(in);
      if (got != expected) {
        ++mismatches;
        ADD_FAILURE() << "U+" << std::hex << static_cast<uint32_t>(cp) << " suffix " << suffix;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Same for the matching form: NFKC_Casefold by utf8proc, then our own
// unification and spacing (applied by normalising utf8proc's result again).
TEST(NormalizeForMatch, AgreesWithUtf8procNfkcCasefoldForEveryCodePoint) {
  const int nfkc_cf =
      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE;
  int mismatches = 0;
  for (char32_t cp = 0x80; cp < 0x30000 && mismatches < 20; ++cp) {
    if (IsSurrogate(cp)) continue;
    const utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    if (cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF) {
      continue;
    }
    for (const char* suffix : {"", "\u0301", "\u3099", "x"}) {
      const std::string in = "a" + Utf8(cp) + suffix;
      const std::string folded = Utf8procMap(in, nfkc_cf);
      if (folded.find_first_of(" \t\n") != std::string::npos) continue;
      const std::string got = NormalizeForMatch(in);
      if (got != NormalizeForMatch(folded)) {
        ++mismatches;
        ADD_FAILURE() << "U+" << std::hex << static_cast<uint32_t>(cp) << " suffix " << suffix;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Every code point the matching form copies without utf8proc must be one that
// NFKC_Casefold leaves alone.
TEST(NormalizeForMatch, FastRangesAreNfkcCasefoldStable) {
  const std::pair<char32_t, char32_t> ranges[] = {
      {0x4E00, 0x9FFF}, {0x3400, 0x4DBF}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x30FC, 0x30FC},
      {0xAC00, 0xD7A3}, {0x3001, 0x3011}, {0x3014, 0x301F}, {0x2010, 0x2010}, {0x2012, 0x2016},
      {0x2018, 0x2022}, {0x00B7, 0x00B7}, {0xFFFD, 0xFFFD}};
  for (const auto& [lo, hi] : ranges) {
    for (char32_t cp = lo; cp <= hi; ++cp) {
      const std::string s = Utf8(cp);
      ASSERT_EQ(Utf8procMap(s, UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
                                   UTF8PROC_CASEFOLD | UTF8PROC_IGNORE),
                s)
          << "U+" << std::hex << static_cast<uint32_t>(cp);
    }
  }
}

TEST(NormalizeForMatch, FullWidthAsciiMatchesUtf8procCasefold) {
  for (char32_t cp = 0xFF01; cp <= 0xFF5E; ++cp) {
    const std::string folded =
        Utf8procMap(Utf8(cp), UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
                                  UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);
    EXPECT_EQ(NormalizeForMatch(Utf8(cp)), NormalizeForMatch(folded))
        << "U+" << std::hex << static_cast<uint32_t>(cp);
  }
}

// --- UTF-8 repair --------------------------------------------------------

TEST(RepairUtf8, LeavesValidTextAlone) {
  size_t replaced = 99;
  EXPECT_EQ(RepairUtf8("中文 ok", &replaced), "中文 ok");
  EXPECT_EQ(replaced, 0u);
}

TEST(RepairUtf8, ReplacesAndCountsInvalidSequences) {
  size_t replaced = 0;
  EXPECT_EQ(RepairUtf8("a\xFF"
                       "b\xC3",
                       &replaced),
            "a\uFFFDb\uFFFD");
  EXPECT_EQ(replaced, 2u);
}

TEST(RepairUtf8, ReplacesEachMaximalSubpartOnce) {
  size_t replaced = 0;
  // A truncated 3-byte sequence is one replacement; a lone continuation byte
  // is one each.
  EXPECT_EQ(RepairUtf8("\xE4\xB8"
                       "x\x80\x80",
                       &replaced),
            "\uFFFDx\uFFFD\uFFFD");
  EXPECT_EQ(replaced, 3u);
}

TEST(RepairUtf8, RejectsOverlongsSurrogatesAndOutOfRange) {
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));
  EXPECT_TRUE(IsValidUtf8(Fixture("sc-gov-release.txt")));
}

// IsValidUtf8 (simdjson's validator) and the decoder behind RepairUtf8 and
// the normaliser (internal::DecodeUtf8) apply the same rules.
TEST(IsValidUtf8, AgreesWithTheDecoderOnRandomBytes) {
  const std::string pieces[] = {"a",    "\x80",     "\xBF", "\xC0", "\xC2", "\xDF",
                                "\xE0", "\xE4\xB8", "\xED", "\xEF", "\xF0", "\xF4",
                                "\xF5", "\xFF",     "\xA0", "\x90", "中",   "\xF0\x9F\x98\x80"};
  uint64_t x = 88172645463325252ull;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const size_t n = round % 40;
    for (size_t i = 0; i < n; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      text += pieces[x % std::size(pieces)];
    }
    ASSERT_EQ(IsValidUtf8(text), internal::DecodesWithoutRepair(text)) << "round " << round;
  }
}

// Every kernel IsValidUtf8 may run (haswell, westmere, fallback: whichever
// this CPU supports) against the decoder, on long well-formed texts with one
// byte changed, the change and the text's end placed around the kernels'
// 16/32/64-byte blocks. The random-bytes test above rarely gets past the
// first block.
TEST(IsValidUtf8, EveryKernelAgreesWithTheDecoderAcrossBlockBoundaries) {
  const std::string_view pieces[] = {
      "a", " ", "é", "中", "。", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
  const uint8_t mutations[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xE0, 0xED, 0xEF,
                               0xF0, 0xF4, 0xF5, 0xFF, 0x00, 0x7F, 0xA0, 0x8F};
  std::vector<const simdjson::implementation*> kernels;
  for (const std::string_view name : {"haswell", "westmere", "fallback"}) {
    const simdjson::implementation* impl = simdjson::get_available_implementations()[name];
    if (impl != nullptr && impl->supported_by_runtime_system()) kernels.push_back(impl);
  }
  ASSERT_FALSE(kernels.empty());
  EXPECT_TRUE(Utf8ValidatorName() == kernels.front()->name()) << Utf8ValidatorName();
  uint64_t x = 0x9E3779B97F4A7C15ull;
  const auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  size_t invalid = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string text;
    const size_t target = 1 + next() % 300;
    while (text.size() < target) text += pieces[next() % std::size(pieces)];
    if (round % 3 != 0) {  // one byte changed near a block boundary or anywhere
      const size_t boundary = size_t{16} << (next() % 3);
      size_t at = (next() % 5 + 1) * boundary + next() % 7 - 3;
      if (round % 3 == 2) at = next() % text.size();
      at = std::min(at, text.size() - 1);
      text[at] = static_cast<char>(mutations[next() % std::size(mutations)]);
    }
    const bool want = internal::DecodesWithoutRepair(text);
    invalid += want ? 0 : 1;
    ASSERT_EQ(IsValidUtf8(text), want) << "round " << round;
    for (const simdjson::implementation* k : kernels) {
      ASSERT_EQ(k->validate_utf8(text.data(), text.size()), want)
          << k->name() << ", round " << round << ", " << text.size() << " bytes";
    }
  }
  EXPECT_GT(invalid, 1000u);  // both answers were exercised
  EXPECT_LT(invalid, 5000u);
}

TEST(RepairUtf8, OutputIsValid) {
  const std::string garbage = "\xF0\x9F\x98\x80\xF0\x9F\x98\xFE\xC2\xC2\xE0\xA0\xE0\x9F\x80";
  EXPECT_FALSE(IsValidUtf8(garbage));
  EXPECT_TRUE(IsValidUtf8(RepairUtf8(garbage)));
}

// Random bytes of every length up to 5000 (the 16-, 8- and 1-byte steps and
// the 255-step counter flush) against the definition: bytes that are not
// 10xxxxxx.
TEST(CountCodePoints, AgreesWithTheDefinitionOnRandomBytes) {
  std::mt19937_64 rng(7);
  std::string bytes;
  for (size_t len = 0; len < 5000; len += 1 + len / 64) {
    bytes.resize(len);
    // Mostly continuation bytes in some rounds (long CJK-like runs).
    const bool cont = len % 3 == 0;
    for (char& c : bytes) c = static_cast<char>(cont && rng() % 4 ? 0x80 + rng() % 64 : rng());
    size_t expected = 0;
    for (const char c : bytes) expected += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    ASSERT_EQ(CountCodePoints(bytes), expected) << "length " << len;
    ASSERT_EQ(internal::CountCodePointsSse2(bytes), expected) << "length " << len;
    if (internal::CpuHasAvx512Bw()) {
      ASSERT_EQ(internal::CountCodePointsAvx512(bytes), expected) << "length " << len;
    }
  }
}

// Every length up to 200 (the masked tail of each length mod 32), each
// ending at the end of a page-sized buffer's valid part and inside longer
// strings, with bytes past the end that would count if they were read.
TEST(CountCodePoints, KernelsAgreeAtEveryShortLength) {
  std::mt19937_64 rng(8);
  const std::string tail(64, 'x');  // would count 64 if read
  for (size_t len = 0; len <= 200; ++len) {
    std::string bytes(len, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 3 == 0 ? 0x80 + rng() % 64 : rng());
    size_t expected = 0;
    for (const char c : bytes) expected += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    const std::string padded = bytes + tail;
    const std::string_view view(padded.data(), len);
    ASSERT_EQ(CountCodePoints(view), expected) << len;
    ASSERT_EQ(internal::CountCodePointsSse2(view), expected) << len;
    if (internal::CpuHasAvx512Bw()) {
      ASSERT_EQ(internal::CountCodePointsAvx512(view), expected) << len;
    }
  }
}

TEST(CountCodePoints, CountsCharactersNotBytes) {
  EXPECT_EQ(CountCodePoints("a中\U0001F600"), 3u);
  EXPECT_EQ(CountCodePoints("The budget 预算 totals €4.2 billion 😀 ok"), 38u);
}

}  // namespace
}  // namespace dedupd::text
