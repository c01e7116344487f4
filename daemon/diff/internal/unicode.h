// Just enough Unicode for the diff stage: UTF-8 decoding with byte offsets,
// the character classes that drive tokenisation (CJK, punctuation/symbol,
// whitespace) and the tokeniser used for intra-sentence spans. Table-free
// range checks: the diff does not need full Unicode properties, and the stage
// may depend only on the standard library.
//
//   for (const CodePoint& c : Decode(text)) if (IsCjk(c.cp)) ...;
//   std::vector<Token> tokens = Tokenize(text);
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace dedupd::diff::internal {

struct CodePoint {
  char32_t cp = 0;
  uint32_t offset = 0;  // byte offset in the decoded string
  uint32_t length = 0;  // bytes, 1..4
};

// Invalid or truncated sequences decode one byte at a time as U+FFFD, so every
// offset is either a code point boundary or an isolated bad byte: slicing at
// them never splits a valid sequence.
std::vector<CodePoint> Decode(std::string_view s);
void Decode(std::string_view s, std::vector<CodePoint>* out);  // into *out, replaced
std::vector<char32_t> DecodeCodePoints(std::string_view s);
// Appends s's code points to *out (the Differ's reused per-sentence arrays).
void AppendCodePoints(std::string_view s, std::vector<uint32_t>* out);
void AppendCodePoints(std::string_view s, std::vector<char32_t>* out);
// Number of code points of valid UTF-8 (a stray continuation byte counts 0).
size_t CountCodePoints(std::string_view s);

// Whitespace, controls and zero-width format characters: never part of a token.
bool IsSpace(char32_t c);
// True when every code point of s IsSpace (true for "").
bool IsAllSpace(std::string_view s);
// Han ideographs, kana, CJK radicals, 〇: one token per character.
bool IsCjk(char32_t c);
// Punctuation and symbols (Unicode P* and S*, by blocks): one token each; what
// a "cosmetic" change may touch.
bool IsPunctOrSymbol(char32_t c);
// ASCII and fullwidth digits; -1 if not a digit.
int DigitValue(char32_t c);

struct Token {
  uint32_t begin = 0;  // byte range in the tokenised text
  uint32_t end = 0;
};

// Tokens for the intra-sentence diff: a CJK character; a run of word
// characters (letters, digits, marks, anything not CJK, space or punctuation),
// where '.' or ',' between two digits stays inside the run (4.2, 1,200); or a
// single punctuation/symbol character.
std::vector<Token> Tokenize(std::string_view text);
// The same into *tokens (replaced), decoding through *scratch: reused by the
// caller page after page, so neither allocates once grown.
void Tokenize(std::string_view text, std::vector<CodePoint>* scratch, std::vector<Token>* tokens);

}  // namespace dedupd::diff::internal
