// Private UTF-8 and code-point helpers shared by the text stage's .cc files.
// Not part of the public API: include only from daemon/text/.
//
//   Decoded d = DecodeUtf8(p, end);   // d.cp == 0xFFFD && !d.valid on bad bytes
//   n += EncodeUtf8(d.cp, out + n);
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dedupd::text::internal {

inline constexpr char32_t kReplacement = 0xFFFD;

struct Decoded {
  char32_t cp;   // the code point, or U+FFFD for an ill-formed sequence
  uint32_t len;  // bytes consumed, >= 1
  bool valid;    // false: the bytes were an ill-formed sequence
};

// Decodes one code point at p (p < end). An ill-formed sequence is replaced by
// one U+FFFD per "maximal subpart" (Unicode 15, section 3.9, table 3-8): the
// longest prefix of a well-formed sequence is consumed, at least one byte.
// This is also what WHATWG's decoder and Python's errors="replace" do, so a
// repaired text looks the same to us and to the corpus labeller.
[[gnu::always_inline]] inline Decoded DecodeUtf8(const unsigned char* p, const unsigned char* end) {
  const unsigned c0 = p[0];
  if (c0 < 0x80) return {c0, 1, true};
  const size_t avail = static_cast<size_t>(end - p);
  if (c0 < 0xC2) return {kReplacement, 1, false};
  if (c0 < 0xE0) {
    if (avail < 2 || (p[1] & 0xC0) != 0x80) return {kReplacement, 1, false};
    return {((c0 & 0x1Fu) << 6) | (p[1] & 0x3Fu), 2, true};
  }
  if (c0 < 0xF0) {
    unsigned lo = 0x80, hi = 0xBF;
    if (c0 == 0xE0)
      lo = 0xA0;  // overlong
    else if (c0 == 0xED)
      hi = 0x9F;  // surrogates
    if (avail < 2 || p[1] < lo || p[1] > hi) return {kReplacement, 1, false};
    if (avail < 3 || (p[2] & 0xC0) != 0x80) return {kReplacement, 2, false};
    return {((c0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu), 3, true};
  }
  if (c0 < 0xF5) {
    unsigned lo = 0x80, hi = 0xBF;
    if (c0 == 0xF0)
      lo = 0x90;  // overlong
    else if (c0 == 0xF4)
      hi = 0x8F;  // > U+10FFFF
    if (avail < 2 || p[1] < lo || p[1] > hi) return {kReplacement, 1, false};
    if (avail < 3 || (p[2] & 0xC0) != 0x80) return {kReplacement, 2, false};
    if (avail < 4 || (p[3] & 0xC0) != 0x80) return {kReplacement, 3, false};
    return {((c0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu),
            4, true};
  }
  return {kReplacement, 1, false};
}

// The scalar definition of well-formed UTF-8: every sequence decodes without
// a repair. IsValidUtf8 (SIMD) must agree with it; the tests and fuzzers
// check that it does.
inline bool DecodesWithoutRepair(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    const Decoded d = DecodeUtf8(p, end);
    if (!d.valid) return false;
    p += d.len;
  }
  return true;
}

// Writes cp (a Unicode scalar value) as UTF-8; returns the byte count (1-4).
inline size_t EncodeUtf8(char32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// Unicode White_Space (PropList.txt), the set every stage treats as spacing.
inline bool IsWhiteSpace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// `in` with every run of White_Space replaced by one space, leading and
// trailing runs dropped, into `out` (cleared first; its capacity is reused).
// Ill-formed bytes are kept as they are.
inline void CollapseWhiteSpace(std::string_view in, std::string* out) {
  out->clear();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* const end = p + in.size();
  bool space = false;
  while (p < end) {
    const Decoded d = DecodeUtf8(p, end);
    if (IsWhiteSpace(d.cp)) {
      space = true;
    } else {
      if (space && !out->empty()) out->push_back(' ');
      space = false;
      out->append(reinterpret_cast<const char*>(p), d.len);
    }
    p += d.len;
  }
}

// Characters that are invisible and carry no text: zero-width spaces and
// joiners, the BOM, soft hyphen, bidi controls, word joiner. Trimmed from block
// edges and removed by the normalisers.
inline bool IsZeroWidth(char32_t cp) {
  return cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

// Scripts written without spaces between words: Han (all planes), kana,
// bopomofo, CJK symbols and punctuation, full-width and half-width forms.
// Hangul is NOT included: Korean separates words with spaces.
inline bool IsCjkSpacing(char32_t cp) {
  if (cp < 0x2E80) return false;
  return cp <= 0x2FFF                          // radicals, Kangxi, description chars
         || (cp >= 0x3000 && cp <= 0x303F)     // CJK symbols and punctuation
         || (cp >= 0x3040 && cp <= 0x30FF)     // hiragana, katakana
         || (cp >= 0x3100 && cp <= 0x312F)     // bopomofo
         || (cp >= 0x3190 && cp <= 0x31FF)     // kanbun, bopomofo ext, strokes, kana ext
         || (cp >= 0x3200 && cp <= 0x4DBF)     // enclosed, compatibility, ext A
         || (cp >= 0x4E00 && cp <= 0x9FFF)     // unified ideographs
         || (cp >= 0xF900 && cp <= 0xFAFF)     // compatibility ideographs
         || (cp >= 0xFE30 && cp <= 0xFE4F)     // CJK compatibility forms
         || (cp >= 0xFF00 && cp <= 0xFF9F)     // full-width forms, half-width kana
         || (cp >= 0x1B000 && cp <= 0x1B16F)   // kana supplement / extended
         || (cp >= 0x20000 && cp <= 0x3FFFF);  // ideographs, planes 2 and 3
}

}  // namespace dedupd::text::internal
