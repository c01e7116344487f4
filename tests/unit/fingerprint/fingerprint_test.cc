// Tokenizer, shingles, SimHash kernels (against the naive reference) and set
// algebra (exact and bottom-k estimates).
#include "fingerprint/fingerprint.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "text/extract.h"
#include "text/normalize.h"

namespace dedupd::fingerprint {
namespace {

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The crude stand-in for the text stage: ASCII lower-case, whitespace runs -> one space.
std::string CrudeNormalize(std::string_view in) {
  std::string out;
  bool space = false;
  for (const char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> out;
  ForEachToken(text, [&out](std::string_view t) { out.emplace_back(t); });
  return out;
}

std::vector<uint64_t> ShinglesOf(std::string_view text, int k = 4) {
  std::vector<uint64_t> out;
  Shingles(text, ShingleOptions{k}, &out);
  return out;
}

uint64_t Xxh(std::string_view s) {
  return XXH3_64bits(s.data(), s.size());
}

std::vector<uint64_t> SortedSet(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// ---------------------------------------------------------------------------
// Tokens

TEST(Tokenize, LatinRunsAreTokensPunctuationSeparates) {
  EXPECT_EQ(Tokens("hello, world! it's 2024."),
            (std::vector<std::string>{"hello", "world", "it", "s", "2024"}));
  EXPECT_EQ(CountTokens("a,b.c;;d"), 4u);
  EXPECT_EQ(CountTokens(""), 0u);
  EXPECT_EQ(CountTokens("  ... --- !!! "), 0u);
}

TEST(Tokenize, NonAsciiLettersJoinRuns) {
  EXPECT_EQ(Tokens("naïve café"), (std::vector<std::string>{"naïve", "café"}));
  EXPECT_EQ(Tokens("привет мир"), (std::vector<std::string>{"привет", "мир"}));
  EXPECT_EQ(Tokens("αβγ-δ"), (std::vector<std::string>{"αβγ", "δ"}));
  EXPECT_EQ(Tokens("straße"), (std::vector<std::string>{"straße"}));
}

TEST(Tokenize, EveryCjkCodePointIsAToken) {
  EXPECT_EQ(Tokens("王晓晖主持"), (std::vector<std::string>{"王", "晓", "晖", "主", "持"}));
  EXPECT_EQ(Tokens("東京タワー"), (std::vector<std::string>{"東", "京", "タ", "ワ", "ー"}));
  EXPECT_EQ(Tokens("안녕하세요"), (std::vector<std::string>{"안", "녕", "하", "세", "요"}));
  EXPECT_EQ(Tokens("abc中文def"), (std::vector<std::string>{"abc", "中", "文", "def"}));
  EXPECT_EQ(Tokens("2023年04月27日"),
            (std::vector<std::string>{"2023", "年", "04", "月", "27", "日"}));
  EXPECT_EQ(Tokens("𠀀𪚥"), (std::vector<std::string>{"𠀀", "𪚥"}));  // extension B
}

TEST(Tokenize, UnicodePunctuationAndSymbolsSeparate) {
  EXPECT_EQ(Tokens("“quoted”—text…"), (std::vector<std::string>{"quoted", "text"}));
  EXPECT_EQ(Tokens("会议，强调。【字体：】《规划》、"),
            (std::vector<std::string>{"会", "议", "强", "调", "字", "体", "规", "划"}));
  EXPECT_EQ(Tokens("a•b\xE3\x80\x80"
                   "c"),
            (std::vector<std::string>{"a", "b", "c"}));  // U+3000
  EXPECT_EQ(Tokens("ok👍🏽fine"), (std::vector<std::string>{"ok", "fine"}));
  EXPECT_EQ(Tokens("5€ ×3 ©x"), (std::vector<std::string>{"5", "3", "x"}));
  EXPECT_EQ(Tokens("カタ・カナ"), (std::vector<std::string>{"カ", "タ", "カ", "ナ"}));
  EXPECT_EQ(Tokens("x\xEF\xBF\xBDy"), (std::vector<std::string>{"x", "y"}));  // U+FFFD
}

TEST(Tokenize, InvalidUtf8BytesAreLetters) {
  // Lone continuation byte, truncated sequence, overlong form, surrogate: all letter bytes.
  EXPECT_EQ(Tokens("\xFF\xFE abc"), (std::vector<std::string>{"\xFF\xFE", "abc"}));
  EXPECT_EQ(Tokens("ab\x80 c"), (std::vector<std::string>{"ab\x80", "c"}));
  EXPECT_EQ(Tokens("\xE4\xB8"), (std::vector<std::string>{"\xE4\xB8"}));  // truncated 中
  EXPECT_EQ(Tokens("\xC0\xAF"), (std::vector<std::string>{"\xC0\xAF"}));  // overlong '/'
  EXPECT_EQ(Tokens("\xED\xA0\x80"), (std::vector<std::string>{"\xED\xA0\x80"}));
  EXPECT_EQ(Tokens("x\xE4\xB8中"), (std::vector<std::string>{"x\xE4\xB8", "中"}));
}

TEST(Tokenize, ClassifyCodePoint) {
  using internal::CharClass;
  using internal::ClassifyCodePoint;
  EXPECT_EQ(ClassifyCodePoint('a'), CharClass::kLetter);
  EXPECT_EQ(ClassifyCodePoint(' '), CharClass::kSeparator);
  EXPECT_EQ(ClassifyCodePoint(0x4E2D), CharClass::kCjk);
  EXPECT_EQ(ClassifyCodePoint(0x3007), CharClass::kCjk);        // 〇
  EXPECT_EQ(ClassifyCodePoint(0x3002), CharClass::kSeparator);  // 。
  EXPECT_EQ(ClassifyCodePoint(0x00E9), CharClass::kLetter);     // é
  EXPECT_EQ(ClassifyCodePoint(0x00A0), CharClass::kSeparator);  // NBSP
  EXPECT_EQ(ClassifyCodePoint(0x2022), CharClass::kSeparator);  // •
  EXPECT_EQ(ClassifyCodePoint(0x200D), CharClass::kLetter);     // ZWJ joins
  EXPECT_EQ(ClassifyCodePoint(0x0E01), CharClass::kLetter);     // Thai: a run, see docs
  EXPECT_EQ(ClassifyCodePoint(0x2A6A5), CharClass::kCjk);
  EXPECT_EQ(ClassifyCodePoint(0x1F600), CharClass::kSeparator);
  EXPECT_EQ(ClassifyCodePoint(0xFFFFFFFF), CharClass::kLetter);  // invalid byte marker
}

// ---------------------------------------------------------------------------
// Shingles

TEST(Shingles, HashOfSpaceJoinedTokens) {
  EXPECT_EQ(ShinglesOf("a b c d e"), SortedSet({Xxh("a b c d"), Xxh("b c d e")}));
  EXPECT_EQ(ShinglesOf("王晓晖主持"), SortedSet({Xxh("王 晓 晖 主"), Xxh("晓 晖 主 持")}));
  EXPECT_EQ(ShinglesOf("a b c", 2), SortedSet({Xxh("a b"), Xxh("b c")}));
  EXPECT_EQ(ShinglesOf("a b c", 1), SortedSet({Xxh("a"), Xxh("b"), Xxh("c")}));
  EXPECT_EQ(ShinglesOf("a b c", 0), ShinglesOf("a b c", 1));  // k < 1 acts as 1
}

TEST(Shingles, ShortAndEmptyTexts) {
  EXPECT_EQ(ShinglesOf("abc"), (std::vector<uint64_t>{Xxh("abc")}));
  EXPECT_EQ(ShinglesOf("a b"), (std::vector<uint64_t>{Xxh("a b")}));
  EXPECT_EQ(ShinglesOf("a b c d"), (std::vector<uint64_t>{Xxh("a b c d")}));
  EXPECT_TRUE(ShinglesOf("").empty());
  EXPECT_TRUE(ShinglesOf(" ,.; ").empty());
}

TEST(Shingles, SeparatorsAndCjkSpacingDoNotMatter) {
  EXPECT_EQ(ShinglesOf("a, b;  c -- d! e"), ShinglesOf("a b c d e"));
  EXPECT_EQ(ShinglesOf("会议于 5 月 3 日召开"), ShinglesOf("会议于5月3日召开"));
  EXPECT_NE(ShinglesOf("会议于5月3日召开"), ShinglesOf("会议于5月4日召开"));
}

TEST(Shingles, IsASet) {
  // A doubled text repeats every shingle: only the 3 shingles across the seam are new.
  const std::vector<uint64_t> once = ShinglesOf("a b c d e f g");
  const std::vector<uint64_t> twice = ShinglesOf("a b c d e f g a b c d e f g");
  EXPECT_EQ(once.size(), 4u);
  EXPECT_EQ(twice.size(), 7u);
  EXPECT_EQ(IntersectionSize(once, twice), 4u);
}

TEST(Shingles, AppendsThenSortsAndDeduplicatesAll) {
  std::vector<uint64_t> out = {Xxh("b c d e"), 7, 7, 1};
  Shingles("a b c d e", {}, &out);
  EXPECT_EQ(out, SortedSet({1, 7, Xxh("a b c d"), Xxh("b c d e")}));
  Shingles("", {}, &out);  // no shingles, still a set
  EXPECT_EQ(out, SortedSet({1, 7, Xxh("a b c d"), Xxh("b c d e")}));
}

// Large random ASCII texts (the radix path of the sort) against a plain reference.
TEST(Shingles, MatchesReferenceOnLargeRandomText) {
  std::mt19937_64 rng(42);
  for (const size_t words : {10u, 300u, 5000u, 60000u}) {
    for (const int k : {1, 3, 4, 7}) {
      std::string text;
      std::vector<std::string> toks;
      for (size_t i = 0; i < words; ++i) {
        std::string w;
        const size_t len = 1 + rng() % 3;  // short words from a small alphabet: many repeats
        for (size_t j = 0; j < len; ++j) w.push_back(static_cast<char>('a' + rng() % 6));
        toks.push_back(w);
        text += w;
        text += (rng() % 5 == 0) ? ", " : " ";
      }
      std::set<uint64_t> ref;
      for (size_t i = 0; i + k <= toks.size(); ++i) {
        std::string joined = toks[i];
        for (int j = 1; j < k; ++j) joined += " " + toks[i + j];
        ref.insert(Xxh(joined));
      }
      const std::vector<uint64_t> got = ShinglesOf(text, k);
      EXPECT_EQ(got, std::vector<uint64_t>(ref.begin(), ref.end())) << words << " words, k=" << k;
      EXPECT_EQ(CountTokens(text), words);
    }
  }
}

// Shingles and ShingleSet of `text` for k = 1, 2, 4, 5 against shingles
// built from ForEachToken's tokens (the reference tokenizer).
void ExpectShinglesOfForEachToken(const std::string& text) {
  const std::vector<std::string> toks = Tokens(text);
  ASSERT_EQ(CountTokens(text), toks.size());
  for (const int k : {1, 2, 4, 5}) {
    std::set<uint64_t> ref;
    const size_t span = std::min<size_t>(k, toks.size());
    for (size_t i = 0; span > 0 && i + span <= toks.size(); ++i) {
      std::string joined = toks[i];
      for (size_t j = 1; j < span; ++j) joined += " " + toks[i + j];
      ref.insert(Xxh(joined));
    }
    ASSERT_EQ(ShinglesOf(text, k), std::vector<uint64_t>(ref.begin(), ref.end())) << "k=" << k;
    // The unordered set: the same hashes, each once, and the token count.
    std::vector<uint64_t> set = {42};  // replaced, not appended to
    ASSERT_EQ(ShingleSet(text, ShingleOptions{k}, &set), toks.size());
    ASSERT_EQ(std::set<uint64_t>(set.begin(), set.end()).size(), set.size());
    std::sort(set.begin(), set.end());
    ASSERT_EQ(set, std::vector<uint64_t>(ref.begin(), ref.end())) << "k=" << k;
    // The 8-byte-offset path (matching forms over 2 GiB) gives the same set.
    std::vector<uint64_t> wide;
    ASSERT_EQ(internal::ShingleSetWideOffsets(text, k, &wide), toks.size());
    std::sort(wide.begin(), wide.end());
    ASSERT_EQ(wide, set) << "k=" << k;
  }
}

// The shingler's own tokenizer loop (with its branch-free 3-byte path) against
// ForEachToken on random mixtures of scripts, punctuation and broken UTF-8.
TEST(Shingles, MatchesForEachTokenOnRandomMixedText) {
  const std::vector<std::string> pieces = {"中",
                                           "文",
                                           "。",
                                           "，",
                                           "a",
                                           "z9",
                                           "é",
                                           " ",
                                           ",",
                                           "\xE4\xB8",
                                           "\xED\xA0\x80",
                                           "\xE0\x80\x80",
                                           "\xF0\x9F\x98\x80",
                                           "𠀀",
                                           "\xFF",
                                           "ー",
                                           "・",
                                           "7",
                                           "\xC3",
                                           "한",
                                           "“",
                                           "\xE2\x80",
                                           "ж",
                                           "\x80",
                                           "\xEF\xBF\xBD",
                                           "〇",
                                           "\xE3\x80\x80",
                                           "ｶ",
                                           "ḁ",
                                           "ⴰ",
                                           "x",
                                           "一",             // U+4E00, first of the Han fast path
                                           "\xE9\xBF\xBF",   // U+9FFF, its last
                                           "\xE4\xB7\xBF",   // U+4DFF, a hexagram: separator
                                           "\xE4\xB8\x41",   // Han lead, bad third byte
                                           "\xEA\x80\x80"};  // U+A000, Yi
  std::mt19937_64 rng(77);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const size_t n = rng() % 400;
    for (size_t i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(text)) << "round " << round;
  }
}

// Long runs of ideographs (the tokenizer's 16-byte Han path, five per step)
// broken at random places by what must end or interrupt a run: the first and
// last ideograph of the fast range, its neighbours outside it, broken and
// truncated sequences, letters, punctuation; runs end near the text's end too.
TEST(Shingles, MatchesForEachTokenOnLongHanRuns) {
  const std::vector<std::string> han = {"中", "文",           "一", "\xE9\xBF\xBF",
                                        "丁", "\xE4\xB8\xBF", "鿏"};
  const std::vector<std::string> breaks = {"\xE4\xB7\xBF",
                                           "\xEA\x80\x80",
                                           "\xE4\xB8",
                                           "\xE5\x80",
                                           "\xE4\xB8\x41",
                                           "\xE9\xC0\x80",
                                           "a",
                                           "Z9",
                                           " ",
                                           "。",
                                           "\xFF",
                                           "𠀀",
                                           "\xE3\x80\x80"};
  std::mt19937_64 rng(1234);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const size_t n = rng() % 300;
    const unsigned break_per_mille = 10 + rng() % 200;
    for (size_t i = 0; i < n; ++i) {
      text +=
          rng() % 1000 < break_per_mille ? breaks[rng() % breaks.size()] : han[rng() % han.size()];
    }
    ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(text)) << "round " << round;
  }
}

// Clauses of ideographs between single characters, as Chinese sentences run
// ("，" is "," after NFKC): the tokenizer's Han loops step over one separator
// (ASCII or three bytes) followed by more ideographs without leaving the
// loops. Every kind of character that may follow a run: separators it steps
// over, and letters, digits, Kana, Hangul, two-byte punctuation, a
// surrogate, a truncated sequence, which it must not. Clause lengths from 0
// to 40 ideographs put the run ends at every place of the 32- and 16-byte
// steps, and texts end within a few bytes of a separator.
TEST(Shingles, MatchesForEachTokenOnHanClausesAndPunctuation) {
  const std::vector<std::string> han = {"中", "文", "一", "\xE9\xBF\xBF", "丁"};
  const std::vector<std::string> after = {",",
                                          ".",
                                          "!",
                                          "?",
                                          ";",
                                          ":",
                                          "(",
                                          ")",
                                          "\"",
                                          "'",
                                          "-",
                                          " ",
                                          "\n",
                                          "\t",
                                          "\x01",
                                          "。",
                                          "、",
                                          "“",
                                          "”",
                                          "《",
                                          "》",
                                          "「",
                                          "…",
                                          "—",
                                          "\xE3\x80\x80",  // ideographic space
                                          "\xEF\xBF\xBD",  // U+FFFD
                                          "a",
                                          "Z",
                                          "7",
                                          "の",
                                          "ア",
                                          "한",
                                          "·",
                                          "é",
                                          "\xED\xA0\x80",
                                          "\xE4\xB8",
                                          "\xE4\xB7\xBF",
                                          "\xEA\x80\x80",
                                          "\x80",
                                          "\xFF",
                                          "𠀀",
                                          "\xE0\x80\xAC"};  // an overlong ","
  std::mt19937_64 rng(4321);
  for (int round = 0; round < 600; ++round) {
    std::string text;
    const size_t clauses = rng() % 12;
    const bool only_separators = rng() % 2 == 0;  // most of the text stays in the loops
    for (size_t c = 0; c < clauses; ++c) {
      const size_t length = rng() % 41;
      for (size_t i = 0; i < length; ++i) text += han[rng() % han.size()];
      const size_t pick = rng() % (only_separators ? 26 : after.size());
      text += after[pick];
      if (rng() % 8 == 0) text += after[rng() % after.size()];  // two in a row
    }
    for (size_t tail = rng() % 8; tail > 0; --tail) text += han[rng() % han.size()];
    ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(text)) << "round " << round;
  }
}

// The tokenizer's 16-byte ASCII step (a prefix in which every separator
// directly follows a letter is copied in one store) against ForEachToken:
// ASCII-heavy text with words of every length, runs of separators, controls,
// upper case and digits, and now and then a non-ASCII letter, ideograph,
// CJK punctuation or broken byte inside or between the 16-byte steps.
TEST(Shingles, AsciiStepsMatchForEachTokenOnRandomText) {
  const std::vector<std::string> seps = {" ", " ",  " ",  " ",    "  ",   ", ", ".",   "-",
                                         "'", "\t", "\n", "\x01", "\x7F", "!?", " - ", "/"};
  const std::vector<std::string> rare = {"é",        "中", "文字", "。", "\xFF", "ж",
                                         "\xE4\xB8", "𠀀", "\xC3", "ü",  "“",    "\x80"};
  std::mt19937_64 rng(2026);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t words = rng() % 120;
    const unsigned rare_per_mille = round % 3 == 0 ? 0 : static_cast<unsigned>(rng() % 80);
    for (size_t i = 0; i < words; ++i) {
      const size_t len = 1 + rng() % (rng() % 4 == 0 ? 20 : 8);
      for (size_t j = 0; j < len; ++j) {
        const unsigned r = static_cast<unsigned>(rng() % 64);
        text.push_back(r < 40   ? static_cast<char>('a' + r % 26)
                       : r < 52 ? static_cast<char>('A' + r % 26)
                                : static_cast<char>('0' + r % 10));
      }
      if (rng() % 1000 < rare_per_mille) text += rare[rng() % rare.size()];
      text += rng() % 4 == 0 ? seps[rng() % seps.size()] : " ";
    }
    if (rng() % 2 == 0 && !text.empty()) text.pop_back();  // ends on a letter
    ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(text)) << "round " << round;
  }
}

// Every text/plain and text/html body of the labelled corpus and every
// fixture, raw and in its matching form (what the detector shingles):
// ShingleSet against shingles built from ForEachToken's tokens.
TEST(Shingles, MatchForEachTokenOnCorpusAndFixtures) {
  std::vector<std::string> texts;
  for (const char* name :
       {"en-release.txt", "en-release-revised.txt", "en-release.html", "sc-gov-release.txt",
        "sc-gov-release-revised.txt", "sc-gov-release-doubled.txt", "sc-gov-other-release.txt",
        "sc-news-syndicated.txt"}) {
    texts.push_back(ReadFixture(name));
  }
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl", std::ios::binary);
  ASSERT_TRUE(in.good());
  simdjson::dom::parser parser;
  std::string line;
  while (std::getline(in, line)) {
    simdjson::dom::element e;
    std::string_view body;
    if (parser.parse(line).get(e) == simdjson::SUCCESS &&
        e["body"].get(body) == simdjson::SUCCESS) {
      texts.emplace_back(body);
    }
  }
  ASSERT_GT(texts.size(), 1500u);
  std::string form, joined;
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(texts[i])) << "text " << i << " raw";
    joined.clear();
    for (const auto& b : text::SplitPlainText(texts[i]).blocks) {
      text::NormalizeForMatch(b.text, &form);
      if (form.empty()) continue;
      if (!joined.empty()) joined.push_back('\n');
      joined += form;
    }
    ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(joined)) << "text " << i << " form";
  }
}

// ShingleSet on pieces (a page's block forms, not joined: session 9) gives
// the hashes, in the same order, and the token count of ShingleSet on the
// pieces joined with '\n': random pieces of mixed text (empty ones, ones
// cut inside a word, a Han run or a UTF-8 sequence, lengths around the
// tokenizer's 16- and 32-byte steps), and every corpus body's and fixture's
// block forms.
void ExpectPiecesEqualJoined(const std::vector<std::string_view>& pieces, int k) {
  std::string joined;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) joined.push_back('\n');
    joined.append(pieces[i]);
  }
  ShingleOptions options;
  options.k = k;
  std::vector<uint64_t> from_pieces = {1, 2, 3}, from_joined;
  const size_t tokens_pieces = ShingleSet(pieces, options, &from_pieces);
  const size_t tokens_joined = ShingleSet(joined, options, &from_joined);
  ASSERT_EQ(tokens_pieces, tokens_joined) << joined;
  ASSERT_EQ(from_pieces, from_joined) << joined;
}

TEST(ShingleSet, OnPiecesEqualsOnThePiecesJoined) {
  const std::vector<std::string> parts = {"中文",
                                          "一二三四五六七八九十",
                                          "。",
                                          "，",
                                          "word",
                                          "Ab9",
                                          " ",
                                          "  ",
                                          "é",
                                          "\xE4\xB8",
                                          "\xFF",
                                          "𠀀",
                                          "ж",
                                          "-",
                                          "한국어",
                                          "x y z",
                                          "丁\xE4\xB8\xBF鿏"};
  std::mt19937_64 rng(909);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t n = rng() % 80;
    for (size_t i = 0; i < n; ++i) text += parts[rng() % parts.size()];
    std::vector<std::string_view> pieces;
    size_t at = 0;
    while (at < text.size()) {
      const size_t len = std::min(text.size() - at, static_cast<size_t>(rng() % 40));
      pieces.push_back(std::string_view(text).substr(at, len));
      at += len;
    }
    if (rng() % 3 == 0) pieces.insert(pieces.begin() + rng() % (pieces.size() + 1), "");
    ASSERT_NO_FATAL_FAILURE(ExpectPiecesEqualJoined(pieces, 1 + static_cast<int>(round % 5)))
        << "round " << round;
  }
  ASSERT_NO_FATAL_FAILURE(ExpectPiecesEqualJoined({}, 4));
}

TEST(ShingleSet, OnBlockFormsEqualsOnTheFormsJoined) {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl", std::ios::binary);
  ASSERT_TRUE(in.good());
  simdjson::dom::parser parser;
  std::vector<std::string> texts;
  for (const char* name : {"en-release.txt", "sc-gov-release.txt", "sc-gov-release-doubled.txt",
                           "sc-news-syndicated.txt"}) {
    texts.push_back(ReadFixture(name));
  }
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e;
    std::string_view body;
    if (parser.parse(line).get(e) == simdjson::SUCCESS &&
        e["body"].get(body) == simdjson::SUCCESS) {
      texts.emplace_back(body);
    }
  }
  ASSERT_GT(texts.size(), 1500u);
  text::PageForms page;
  std::vector<std::string_view> forms;
  for (size_t i = 0; i < texts.size(); ++i) {
    const text::ExtractedText blocks = text::SplitPlainText(texts[i]);
    page.Clear();
    for (const auto& b : blocks.blocks) page.Append(b.text);
    forms.clear();
    for (size_t b = 0; b < page.blocks(); ++b) {
      if (!page.BlockForm(b).empty()) forms.push_back(page.BlockForm(b));
    }
    ASSERT_NO_FATAL_FAILURE(ExpectPiecesEqualJoined(forms, 4)) << "text " << i;
  }
}

// The AVX-512 shingle hashing (where the CPU has it): XXH3_64bits of 8
// inputs of 9 to 16 bytes at random offsets, equal to libxxhash's on random
// bytes (every byte value, so every carry of the 128-bit product and every
// byte of the swap is exercised); and ShingleSet with it on and off gives the
// same hashes in the same order on texts mixing Han runs (15-byte shingles,
// the 8-wide path) with Latin words (longer and shorter ones, groups of 8
// hashed one by one).
TEST(ShingleSet, Avx512HashingMatchesXxh3) {
  if (!internal::CpuHasAvx512Hashing()) GTEST_SKIP() << "no AVX-512 F/DQ/VL/BW on this CPU";
  std::mt19937_64 rng(123);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  uint32_t from[8], len[8];
  uint64_t got[8];
  for (int round = 0; round < 200000; ++round) {
    for (int j = 0; j < 8; ++j) {
      len[j] = 9 + static_cast<uint32_t>(rng() % 8);
      from[j] = static_cast<uint32_t>(rng() % (bytes.size() - 16));
      if (round % 7 == 0) from[j] = static_cast<uint32_t>(rng() % 4);  // the first bytes
    }
    if (round % 5 == 0) {  // all-ones and all-zero words: the product's carries
      const char fill = round % 10 == 0 ? '\xFF' : '\0';
      for (int j = 0; j < 8; ++j) std::fill_n(bytes.begin() + from[j], len[j], fill);
    }
    internal::Xxh3Len9To16Avx512(bytes.data(), from, len, got);
    for (int j = 0; j < 8; ++j) {
      ASSERT_EQ(got[j], XXH3_64bits(bytes.data() + from[j], len[j]))
          << "round " << round << " lane " << j << " length " << len[j];
    }
    if (round % 5 == 0) {
      for (int j = 0; j < 8; ++j) {
        for (uint32_t b = 0; b < len[j]; ++b) bytes[from[j] + b] = static_cast<char>(rng());
      }
    }
  }
  const std::vector<std::string> pieces = {
      "中", "文", "，", "一", "\xE9\xBF\xBF", " ", "a", "bc", "word", "longerword", "7", "ж", "。"};
  std::vector<uint64_t> on, off;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const size_t n = rng() % 500;
    const size_t latin_share = rng() % 4;  // 0: Han only
    for (size_t i = 0; i < n; ++i) {
      text += rng() % 4 < latin_share ? pieces[6 + rng() % 7] : pieces[rng() % 6];
    }
    internal::SetAvx512HashingForTest(true);
    const size_t tokens_on = ShingleSet(text, {}, &on);
    internal::SetAvx512HashingForTest(false);
    const size_t tokens_off = ShingleSet(text, {}, &off);
    internal::SetAvx512HashingForTest(true);
    ASSERT_EQ(tokens_on, tokens_off) << round;
    ASSERT_EQ(on, off) << round;
  }
}

// The AVX-512 17- to 32-byte kernel (where the CPU has it): XXH3_64bits of 8
// inputs at random offsets, every length 17..32 (and each lane's own), equal
// to libxxhash's on random bytes, all-ones and all-zero words (the product's
// carries). Then ShingleSet with the AVX-512 hashing on and off on texts
// whose 8-shingle groups mix lengths below 9, 9..16, 17..32 and above 32
// (letters, words of every length, ideographs), for k = 1 to 6.
TEST(ShingleSet, Avx512HashingOf17To32BytesMatchesXxh3) {
  if (!internal::CpuHasAvx512Hashing()) GTEST_SKIP() << "no AVX-512 F/DQ/VL/BW on this CPU";
  std::mt19937_64 rng(321);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  uint32_t from[8], len[8];
  uint64_t got[8];
  for (int round = 0; round < 200000; ++round) {
    for (int j = 0; j < 8; ++j) {
      len[j] = round % 3 == 0 ? 17 + static_cast<uint32_t>(round / 3 % 16)  // all one length
                              : 17 + static_cast<uint32_t>(rng() % 16);
      from[j] = static_cast<uint32_t>(rng() % (bytes.size() - 32));
      if (round % 7 == 0) from[j] = static_cast<uint32_t>(rng() % 4);  // the first bytes
    }
    if (round % 5 == 0) {
      const char fill = round % 10 == 0 ? '\xFF' : '\0';
      for (int j = 0; j < 8; ++j) std::fill_n(bytes.begin() + from[j], len[j], fill);
    }
    internal::Xxh3Len17To32Avx512(bytes.data(), from, len, got);
    for (int j = 0; j < 8; ++j) {
      ASSERT_EQ(got[j], XXH3_64bits(bytes.data() + from[j], len[j]))
          << "round " << round << " lane " << j << " length " << len[j];
    }
    if (round % 5 == 0) {
      for (int j = 0; j < 8; ++j) {
        for (uint32_t b = 0; b < len[j]; ++b) bytes[from[j] + b] = static_cast<char>(rng());
      }
    }
  }
  std::vector<uint64_t> on, off;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t n = rng() % 400;
    const size_t longest = 1 + rng() % 14;  // the longest word of this text
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 6 == 0) {
        text += rng() % 2 == 0 ? "中" : "\xE9\xBF\xBF";
      } else {
        const size_t length = 1 + rng() % longest;
        for (size_t c = 0; c < length; ++c) text += static_cast<char>('a' + rng() % 26);
      }
      text += rng() % 8 == 0 ? ", " : " ";
    }
    const int k = 1 + static_cast<int>(rng() % 6);
    internal::SetAvx512HashingForTest(true);
    const size_t tokens_on = ShingleSet(text, ShingleOptions{k}, &on);
    internal::SetAvx512HashingForTest(false);
    const size_t tokens_off = ShingleSet(text, ShingleOptions{k}, &off);
    internal::SetAvx512HashingForTest(true);
    ASSERT_EQ(tokens_on, tokens_off) << round;
    ASSERT_EQ(on, off) << round << " k=" << k;
  }
}

// The distinct-hash table is not cleared between pages; it is when its
// offset would wrap. Pages shingled across the wrap give their exact sets,
// and so do pages after a wrap over a table full of stale slots.
TEST(ShingleSet, TableOffsetWrapsAround) {
  std::mt19937_64 rng(99);
  std::vector<std::string> pages;
  for (int i = 0; i < 12; ++i) {
    std::string page;
    const size_t words = 50 + rng() % 3000;
    for (size_t j = 0; j < words; ++j) {
      page += static_cast<char>('a' + rng() % 26);
      page += static_cast<char>('a' + rng() % 4);
      page += ' ';
    }
    pages.push_back(page);
  }
  for (const uint32_t base :
       {0xFFFFFFFFu - 5000u, 0xFFFFFFFFu - 60u, 0xFFFFFFFFu - 1u, 0xFFFFFFFFu}) {
    internal::SetShingleTableBaseForTest(base);
    for (const std::string& page : pages) {
      ASSERT_NO_FATAL_FAILURE(ExpectShinglesOfForEachToken(page)) << base;
    }
  }
}

// A long page has more distinct shingles than the hash set's largest table
// at 8 slots per value: the table grows past 2^16 slots instead (a full
// table would never find an empty slot). 300,000 random ideographs (a 900 KB
// Chinese page, well under the default 8 MiB body limit), every shingle
// distinct but for chance.
TEST(ShingleSet, PagesWithMoreThan65536DistinctShingles) {
  std::mt19937_64 rng(5);
  std::string text;
  for (int i = 0; i < 300000; ++i) {
    char buf[4];
    const uint32_t cp = 0x4E00 + static_cast<uint32_t>(rng() % 0x5200);
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    text.append(buf, 3);
  }
  std::vector<uint64_t> set;
  ASSERT_EQ(ShingleSet(text, {}, &set), 300000u);
  std::vector<uint64_t> sorted = set;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_GT(set.size(), 299000u);
  EXPECT_EQ(sorted, ShinglesOf(text));
}

TEST(SortUnique, RandomAndRepeatedValues) {
  std::mt19937_64 rng(7);
  for (const size_t n : {0u, 1u, 2u, 100u, 257u, 1000u, 50000u, 300000u}) {
    std::vector<uint64_t> v(n);
    for (auto& x : v) x = rng();
    for (size_t i = 0; i < n / 3; ++i) v[i] = v[n - 1 - i];  // duplicates
    if (n > 10) v[3] = v[4] = v[5] = 0;
    std::vector<uint64_t> want = SortedSet(v);
    internal::SortUnique(&v);
    EXPECT_EQ(v, want) << n;
  }
  std::vector<uint64_t> same(5000, 99);  // one bucket holds everything
  internal::SortUnique(&same);
  EXPECT_EQ(same, (std::vector<uint64_t>{99}));
}

// ---------------------------------------------------------------------------
// SimHash

std::vector<uint64_t> RandomFeatures(std::mt19937_64& rng, size_t n) {
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = rng();
  return v;
}

void ExpectAllKernelsMatchNaive(std::span<const uint64_t> f, const std::string& what) {
  const SimHash64 want = ComputeSimHashNaive(f);
  EXPECT_EQ(ComputeSimHash(f), want) << what;
  EXPECT_EQ(internal::SimHashScalar(f), want) << what;
  EXPECT_EQ(internal::SimHashSse2(f), want) << what;
  if (internal::CpuHasAvx2()) {
    EXPECT_EQ(internal::SimHashAvx2(f), want) << what;
  }
}

TEST(SimHash, KernelsMatchNaiveOnRandomSets) {
  std::mt19937_64 rng(1234);
  for (const size_t n :
       {0u,  1u,   2u,   3u,   15u,  16u,   17u,   31u,   32u,   33u,    63u,    64u,
        65u, 127u, 255u, 256u, 257u, 1000u, 4095u, 4096u, 4097u, 10000u, 100003u}) {
    for (int rep = 0; rep < 5; ++rep) {
      const std::vector<uint64_t> f = RandomFeatures(rng, n);
      ExpectAllKernelsMatchNaive(f, "n=" + std::to_string(n));
    }
  }
}

TEST(SimHash, KernelsMatchNaiveOnBiasedBitsAndTies) {
  std::mt19937_64 rng(99);
  for (const size_t n : {2u, 64u, 256u, 1001u, 5000u}) {
    // Biased: each bit set with a probability that differs per bit, so that
    // counts sit near n/2 for some bits and far from it for others.
    std::vector<uint64_t> f(n);
    for (auto& x : f) {
      x = 0;
      for (int b = 0; b < 64; ++b)
        x |= static_cast<uint64_t>(rng() % 64 < static_cast<unsigned>(b)) << b;
    }
    ExpectAllKernelsMatchNaive(f, "biased n=" + std::to_string(n));
    // Exact ties: x and ~x cancel on every bit -> 0.
    std::vector<uint64_t> tie;
    for (size_t i = 0; i < n / 2; ++i) {
      const uint64_t x = rng();
      tie.push_back(x);
      tie.push_back(~x);
    }
    ExpectAllKernelsMatchNaive(tie, "tie n=" + std::to_string(n));
    EXPECT_EQ(ComputeSimHash(tie).bits, 0u);
  }
  const std::vector<uint64_t> all_ones(777, ~uint64_t{0});
  ExpectAllKernelsMatchNaive(all_ones, "all ones");
  EXPECT_EQ(ComputeSimHash(all_ones).bits, ~uint64_t{0});
  EXPECT_EQ(ComputeSimHash(std::vector<uint64_t>{0x8000000000000001u}).bits, 0x8000000000000001u);
}

// A long pseudo-English text: Zipf-distributed words from a fixed vocabulary.
struct FakeEnglish {
  std::vector<std::string> vocab;
  std::mt19937_64 rng;
  std::discrete_distribution<size_t> zipf;

  explicit FakeEnglish(uint64_t seed) : rng(seed) {
    std::mt19937_64 vrng(2024);  // the same vocabulary for every seed
    std::vector<double> weights;
    for (int i = 0; i < 3000; ++i) {
      std::string w;
      const size_t len = 2 + vrng() % 9;
      for (size_t j = 0; j < len; ++j) w.push_back(static_cast<char>('a' + vrng() % 26));
      vocab.push_back(w);
      weights.push_back(1.0 / (i + 1));
    }
    zipf = std::discrete_distribution<size_t>(weights.begin(), weights.end());
  }
  std::string Sentence() {
    std::string s;
    const size_t n = 8 + rng() % 18;
    for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + vocab[zipf(rng)];
    return s + ".";
  }
};

TEST(SimHash, SmallEditGivesSmallDistance) {
  // The fixture release and its revision (4 small edits).
  const std::string a = CrudeNormalize(ReadFixture("sc-gov-release.txt"));
  const std::string b = CrudeNormalize(ReadFixture("sc-gov-release-revised.txt"));
  const int d_cjk = HammingDistance(ComputeSimHash(ShinglesOf(a)), ComputeSimHash(ShinglesOf(b)));
  EXPECT_LE(d_cjk, 10);
  // The doubled capture is nearly the same set.
  const std::string doubled = CrudeNormalize(ReadFixture("sc-gov-release-doubled.txt"));
  EXPECT_LE(HammingDistance(ComputeSimHash(ShinglesOf(a)), ComputeSimHash(ShinglesOf(doubled))),
            10);

  // Long English-like texts (~3000 words) with one sentence replaced.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    FakeEnglish gen(seed);
    std::vector<std::string> sentences(180);
    for (std::string& sentence : sentences) sentence = gen.Sentence();
    std::string original, edited;
    for (size_t i = 0; i < sentences.size(); ++i) {
      original += sentences[i] + " ";
      edited += (i == 90 ? gen.Sentence() : sentences[i]) + " ";
    }
    const int d =
        HammingDistance(ComputeSimHash(ShinglesOf(original)), ComputeSimHash(ShinglesOf(edited)));
    EXPECT_LE(d, 10) << "seed " << seed;
  }
}

TEST(SimHash, UnrelatedTextsAreFarApart) {
  const SimHash64 cjk =
      ComputeSimHash(ShinglesOf(CrudeNormalize(ReadFixture("sc-gov-release.txt"))));
  const SimHash64 en = ComputeSimHash(ShinglesOf(CrudeNormalize(ReadFixture("en-release.txt"))));
  EXPECT_GE(HammingDistance(cjk, en), 20);
  EXPECT_LE(HammingDistance(cjk, en), 44);

  int sum = 0, pairs = 0;
  for (uint64_t seed = 100; seed < 140; seed += 2) {
    FakeEnglish g1(seed), g2(seed + 1);
    std::string t1, t2;
    for (int i = 0; i < 60; ++i) {
      t1 += g1.Sentence() + " ";
      t2 += g2.Sentence() + " ";
    }
    const int d = HammingDistance(ComputeSimHash(ShinglesOf(t1)), ComputeSimHash(ShinglesOf(t2)));
    EXPECT_GE(d, 14) << seed;
    EXPECT_LE(d, 50) << seed;
    sum += d;
    ++pairs;
  }
  const double mean = static_cast<double>(sum) / pairs;
  EXPECT_NEAR(mean, 32.0, 4.0);
}

// ---------------------------------------------------------------------------
// Hashes

TEST(Hashes, MatchLibxxhash) {
  const std::string s = "省推动成渝地区双城经济圈建设";
  const XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
  EXPECT_EQ(HashContent(s), (ContentHash128{h.low64, h.high64}));
  EXPECT_EQ(Hash64(s), XXH3_64bits(s.data(), s.size()));
  EXPECT_NE(HashContent("a"), HashContent("b"));
}

// ---------------------------------------------------------------------------
// Set algebra

TEST(SetAlgebra, Exact) {
  const std::vector<uint64_t> a = {1, 2, 3, 4}, b = {3, 4, 5}, e = {};
  EXPECT_EQ(IntersectionSize(a, b), 2u);
  EXPECT_DOUBLE_EQ(Jaccard(a, b), 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(Containment(a, b), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(Jaccard(e, e), 0.0);
  EXPECT_DOUBLE_EQ(Jaccard(a, e), 0.0);
  EXPECT_DOUBLE_EQ(Containment(a, e), 0.0);
  EXPECT_DOUBLE_EQ(Jaccard(a, a), 1.0);
  EXPECT_EQ(BottomK(a, 2), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(BottomK(a, 10), a);
}

struct SetPair {
  std::vector<uint64_t> a, b;
};

// |A| = na, |B| = nb, |A∩B| = shared.
SetPair MakeSets(std::mt19937_64& rng, size_t na, size_t nb, size_t shared) {
  SetPair p;
  for (size_t i = 0; i < shared; ++i) {
    const uint64_t x = rng();
    p.a.push_back(x);
    p.b.push_back(x);
  }
  for (size_t i = shared; i < na; ++i) p.a.push_back(rng());
  for (size_t i = shared; i < nb; ++i) p.b.push_back(rng());
  p.a = SortedSet(p.a);
  p.b = SortedSet(p.b);
  return p;
}

TEST(SetAlgebra, BottomKEstimatesAreCloseToExact) {
  std::mt19937_64 rng(5);
  struct Case {
    size_t na, nb, shared, ka, kb;
    double tolerance;
  };
  const Case cases[] = {
      {5000, 5000, 4000, 256, 256, 0.08},
      {5000, 5000, 500, 256, 256, 0.08},
      {5000, 6000, 2500, 128, 512, 0.10},
      {2000, 20000, 1800, 256, 2560, 0.10},
      {20000, 2000, 1000, 4096, 256, 0.10},
      {3000, 3000, 3000, 256, 256, 0.0},
      // Equal sketch sizes, sets 10x apart: only ~26 of the small set's hashes
      // fall below the large sketch's threshold, so the error is ~0.06 (one sigma).
      {2000, 20000, 1800, 256, 256, 0.25},
      {100, 150, 60, 256, 256, 0.0},  // both sketches hold their whole sets: containment exact
  };
  for (const Case& c : cases) {
    for (int rep = 0; rep < 10; ++rep) {
      const SetPair p = MakeSets(rng, c.na, c.nb, c.shared);
      const std::vector<uint64_t> sa = BottomK(p.a, c.ka), sb = BottomK(p.b, c.kb);
      const double jc = Jaccard(p.a, p.b), cc = Containment(p.a, p.b);
      const double ec = EstimateContainment(sa, p.a.size(), sb, p.b.size());
      EXPECT_NEAR(ec, cc, c.tolerance + 1e-12) << c.na << "/" << c.nb << "/" << c.shared;
      if (c.ka <= c.na && c.kb <= c.nb) {  // the union estimator needs truncated sketches
        EXPECT_NEAR(EstimateJaccard(sa, sb), jc, c.tolerance + 1e-12)
            << c.na << "/" << c.nb << "/" << c.shared;
      }
    }
  }
}

TEST(SetAlgebra, EstimatesOfEdgeCases) {
  const std::vector<uint64_t> e = {}, a = {1, 2, 3};
  EXPECT_DOUBLE_EQ(EstimateJaccard(e, e), 0.0);
  EXPECT_DOUBLE_EQ(EstimateJaccard(a, e), 0.0);
  EXPECT_DOUBLE_EQ(EstimateJaccard(a, a), 1.0);
  EXPECT_DOUBLE_EQ(EstimateContainment(a, 3, e, 0), 0.0);
  EXPECT_DOUBLE_EQ(EstimateContainment(a, 3, a, 3), 1.0);
  // Mean over many trials is unbiased-ish for the union estimator.
  std::mt19937_64 rng(11);
  double sum = 0;
  const int trials = 200;
  for (int t = 0; t < trials; ++t) {
    const SetPair p = MakeSets(rng, 1000, 1000, 500);  // J = 1/3
    sum += EstimateJaccard(BottomK(p.a, 64), BottomK(p.b, 64));
  }
  EXPECT_NEAR(sum / trials, 1.0 / 3.0, 0.02);
}

// ---------------------------------------------------------------------------
// Confirmation sketch (BottomK32, CompareSketches)

std::vector<uint32_t> TopHalves(std::span<const uint64_t> sorted_set, size_t k) {
  std::vector<uint32_t> out;
  for (uint64_t h : BottomK(sorted_set, k)) out.push_back(static_cast<uint32_t>(h >> 32));
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST(ConfirmationSketch, BottomK32IsTheTopHalvesOfTheSmallestHashesInAnyOrder) {
  std::mt19937_64 rng(21);
  std::vector<uint32_t> sketch;
  for (size_t n : {0u, 1u, 7u, 64u, 65u, 200u, 1500u, 20000u}) {
    for (size_t k : {1u, 8u, 64u, 256u}) {
      std::vector<uint64_t> set;
      for (size_t i = 0; i < n; ++i) set.push_back(rng());
      const std::vector<uint64_t> sorted = SortedSet(set);
      std::shuffle(set.begin(), set.end(), rng);
      BottomK32(set, k, &sketch);
      EXPECT_EQ(sketch, TopHalves(sorted, k)) << n << " " << k;
    }
  }
  // Hashes crowded at the bottom of the range (not uniform): the filter's
  // first bound keeps too few, and widening it still finds the k smallest.
  std::vector<uint64_t> low;
  for (uint64_t i = 0; i < 1000; ++i) low.push_back((i * 7919 % 1000) << 33);
  BottomK32(low, 64, &sketch);
  EXPECT_EQ(sketch, TopHalves(SortedSet(low), 64));
}

// BottomK32's sort of the filtered values: std::sort's order for values
// spread over [0, top] (the usual case), crowded at the bottom or in one
// value (the fallbacks), with repeats, at every length to 300 and at tops
// from 0 to the whole range (the bucket scale is largest at top = 2^24).
TEST(ConfirmationSketch, SortUniform32IsASort) {
  std::mt19937_64 rng(41);
  std::vector<uint32_t> v, expected;
  for (size_t n = 0; n < 300; ++n) {
    for (int round = 0; round < 6; ++round) {
      uint32_t top = static_cast<uint32_t>(rng());
      if (round == 1) top = ~uint32_t{0};
      if (round == 2) top = 0;
      if (round == 3) top = static_cast<uint32_t>(rng() % 1000 + (n % 2 == 0 ? 0 : 1u << 24));
      v.resize(n);
      for (uint32_t& x : v) {
        x = top == ~uint32_t{0} ? static_cast<uint32_t>(rng())
                                : static_cast<uint32_t>(rng() % (uint64_t{top} + 1));
        if (round == 4 && rng() % 2 == 0) x = top / 3;          // one value, many times
        if (round == 5) x = static_cast<uint32_t>(rng() % 40);  // crowded at the bottom
      }
      if (round == 5) top = ~uint32_t{0};
      expected = v;
      std::sort(expected.begin(), expected.end());
      internal::SortUniform32(v.data(), v.size(), top);
      ASSERT_EQ(v, expected) << n << " " << round;
    }
  }
  // Longer inputs (the bound widened on a big page) take std::sort.
  v.resize(100000);
  for (uint32_t& x : v) x = static_cast<uint32_t>(rng());
  expected = v;
  std::sort(expected.begin(), expected.end());
  internal::SortUniform32(v.data(), v.size(), ~uint32_t{0});
  EXPECT_EQ(v, expected);
}

TEST(ConfirmationSketch, BottomK32OnManyPagesAndRepeatedTopHalves) {
  std::mt19937_64 rng(43);
  std::vector<uint32_t> sketch;
  for (int t = 0; t < 3000; ++t) {
    const size_t n = 1 + rng() % 3000;
    std::vector<uint64_t> set(n);
    for (uint64_t& x : set) {
      x = rng();
      // Hashes that share their top half: the sketch holds it once.
      if (t % 3 == 0 && rng() % 4 == 0) x = (set[rng() % n] & ~uint64_t{0xFFFFFFFF}) | (x >> 32);
    }
    std::vector<uint64_t> sorted = set;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    set = sorted;
    std::shuffle(set.begin(), set.end(), rng);
    BottomK32(set, 64, &sketch);
    ASSERT_EQ(sketch, TopHalves(sorted, 64)) << t << " " << n;
  }
}

// BottomK32's filtering pass: the AVX2 kernel (where the CPU has it) keeps
// exactly the scalar one's values, in order, at every length around its
// 4-value steps and at bounds on, just under and above values, at 0, at
// the top of the range and across the sign bit its compare flips.
TEST(ConfirmationSketch, FilterKernelsAgree) {
  if (!internal::CpuHasAvx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937_64 rng(31);
  std::vector<uint32_t> scalar, avx2;
  for (size_t n = 0; n < 300; ++n) {
    for (int round = 0; round < 8; ++round) {
      std::vector<uint64_t> h(n);
      for (uint64_t& x : h) {
        x = rng();
        if (rng() % 4 == 0) x >>= rng() % 64;                         // small values
        if (rng() % 8 == 0) x = ~uint64_t{0} - rng() % 3;             // the top
        if (rng() % 8 == 0) x = (uint64_t{1} << 63) + rng() % 3 - 1;  // around the sign bit
      }
      uint64_t bound = rng();
      switch (round) {
        case 0: bound = 0; break;
        case 1: bound = ~uint64_t{0}; break;
        case 2: bound = n > 0 ? h[rng() % n] : 0; break;      // on a value
        case 3: bound = n > 0 ? h[rng() % n] - 1 : 0; break;  // just under one
        case 4: bound = (uint64_t{1} << 63) - 1; break;
        case 5: bound = uint64_t{1} << 63; break;
        default: break;
      }
      scalar.assign(n + 1, 0);
      avx2.assign(n + 1, 0);
      const size_t a = internal::FilterTopHalvesScalar(h, bound, scalar.data());
      const size_t b = internal::FilterTopHalvesAvx2(h, bound, avx2.data());
      size_t expected = 0;
      for (const uint64_t x : h) expected += x <= bound;
      ASSERT_EQ(a, expected) << n << " " << round;
      ASSERT_EQ(b, expected) << n << " " << round;
      scalar.resize(a);
      avx2.resize(b);
      ASSERT_EQ(avx2, scalar) << n << " " << round;
    }
  }
}

TEST(ConfirmationSketch, ExactWhenBothSketchesHoldTheirWholeSets) {
  std::mt19937_64 rng(22);
  const SetPair p = MakeSets(rng, 50, 60, 40);
  std::vector<uint32_t> sa, sb;
  BottomK32(p.a, 64, &sa);
  BottomK32(p.b, 64, &sb);
  const SketchEstimate e = CompareSketches(sa, p.a.size(), sb, p.b.size());
  EXPECT_DOUBLE_EQ(e.containment, Containment(p.a, p.b));
  EXPECT_DOUBLE_EQ(e.jaccard, Jaccard(p.a, p.b));
  const std::vector<uint32_t> empty;
  EXPECT_DOUBLE_EQ(CompareSketches(sa, p.a.size(), empty, 0).containment, 0.0);
  EXPECT_DOUBLE_EQ(CompareSketches(empty, 0, empty, 0).jaccard, 0.0);
}

// The stated error bound (docs/fingerprint.md, "Confirmation sketch"): with
// 64 values the estimates are unbiased (mean error under 0.02) and one
// standard deviation is about sqrt(J(1-J)/64) for Jaccard (0.06 at most),
// about 0.04 for containment near the 0.8 threshold of sets of similar size,
// up to 0.07 at C = 0.4 and 0.10 for sets 2.5x apart; at most 2% of the
// estimates fall outside 3 sigma.
TEST(ConfirmationSketch, EstimatesStayWithinTheStatedBoundAt64) {
  std::mt19937_64 rng(23);
  struct Case {
    size_t na, nb, shared;
    double sigma_c, sigma_j;
  };
  const Case cases[] = {
      {1500, 1500, 1230, 0.04, 0.06},  // C 0.82, J 0.69: the corpus's closest copy
      {1500, 1500, 1170, 0.04, 0.06},  // C 0.78, J 0.64: just under
      {800, 2000, 700, 0.10, 0.06},    // C 0.875, J 0.33: a short page inside a long one
      {3000, 2500, 1000, 0.07, 0.06},  // C 0.40, J 0.22: not a copy
  };
  std::vector<uint32_t> sa, sb;
  for (const Case& c : cases) {
    const int trials = 300;
    double sum_c = 0, sum_j = 0;
    int outside = 0;
    double cc = 0, jc = 0;
    for (int t = 0; t < trials; ++t) {
      const SetPair p = MakeSets(rng, c.na, c.nb, c.shared);
      cc = Containment(p.a, p.b);
      jc = Jaccard(p.a, p.b);
      BottomK32(p.a, 64, &sa);
      BottomK32(p.b, 64, &sb);
      const SketchEstimate e = CompareSketches(sa, p.a.size(), sb, p.b.size());
      sum_c += e.containment - cc;
      sum_j += e.jaccard - jc;
      outside += std::abs(e.containment - cc) > 3 * c.sigma_c;
      outside += std::abs(e.jaccard - jc) > 3 * c.sigma_j;
    }
    EXPECT_NEAR(sum_c / trials, 0.0, 0.02) << c.na << "/" << c.nb << "/" << c.shared;
    EXPECT_NEAR(sum_j / trials, 0.0, 0.02) << c.na << "/" << c.nb << "/" << c.shared;
    EXPECT_LE(outside, 2 * trials / 100) << c.na << "/" << c.nb << "/" << c.shared;
  }
}

}  // namespace
}  // namespace dedupd::fingerprint
