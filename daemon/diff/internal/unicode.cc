#include "diff/internal/unicode.h"

namespace dedupd::diff::internal {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at s[i]; returns its length (1 for an invalid byte,
// which decodes as U+FFFD). Rejects overlongs, surrogates and > U+10FFFF.
inline uint32_t DecodeOne(std::string_view s, size_t i, char32_t* out) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *out = b0;
    return 1;
  }
  // Fast path for the common well-formed 3-byte sequence (all of CJK).
  if (((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) && i + 2 < s.size()) {
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    const auto b2 = static_cast<unsigned char>(s[i + 2]);
    if ((b1 & 0xC0) == 0x80 && (b2 & 0xC0) == 0x80) {
      *out = (static_cast<char32_t>(b0 & 0x0F) << 12) | (static_cast<char32_t>(b1 & 0x3F) << 6) |
             (b2 & 0x3F);
      return 3;
    }
  }
  uint32_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    *out = kReplacement;
    return 1;
  }
  if (i + len > s.size()) {
    *out = kReplacement;
    return 1;
  }
  for (uint32_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *out = kReplacement;
      return 1;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *out = kReplacement;
    return 1;
  }
  *out = cp;
  return len;
}

bool InRange(char32_t c, char32_t lo, char32_t hi) {
  return c >= lo && c <= hi;
}

// Word characters: what is left when CJK, space and punctuation are excluded.
bool IsWordChar(char32_t c) {
  return !IsSpace(c) && !IsCjk(c) && !IsPunctOrSymbol(c);
}

}  // namespace

std::vector<CodePoint> Decode(std::string_view s) {
  std::vector<CodePoint> out;
  Decode(s, &out);
  return out;
}

void Decode(std::string_view s, std::vector<CodePoint>* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const uint32_t len = DecodeOne(s, i, &cp);
    out->push_back({cp, static_cast<uint32_t>(i), len});
    i += len;
  }
}

bool IsAllSpace(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += DecodeOne(s, i, &cp);
    if (!IsSpace(cp)) return false;
  }
  return true;
}

void AppendCodePoints(std::string_view s, std::vector<uint32_t>* out) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += DecodeOne(s, i, &cp);
    out->push_back(static_cast<uint32_t>(cp));
  }
}

void AppendCodePoints(std::string_view s, std::vector<char32_t>* out) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += DecodeOne(s, i, &cp);
    out->push_back(cp);
  }
}

std::vector<char32_t> DecodeCodePoints(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += DecodeOne(s, i, &cp);
    out.push_back(cp);
  }
  return out;
}

size_t CountCodePoints(std::string_view s) {
  // Lead bytes: exact for valid UTF-8 (which keys are); a stray continuation
  // byte, which Decode would turn into U+FFFD, is not counted.
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool IsSpace(char32_t c) {
  if (c <= 0x20 || c == 0x7F) return true;  // ASCII controls and space
  if (c < 0x80) return false;
  return InRange(c, 0x80, 0xA0) ||  // C1 controls, NEL, NBSP
         c == 0x00AD ||             // soft hyphen
         c == 0x1680 || InRange(c, 0x2000, 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || InRange(c, 0x2060, 0x2064) || c == 0x3000 || c == 0xFEFF;
}

bool IsCjk(char32_t c) {
  if (c < 0x2E80) return false;
  return InRange(c, 0x2E80, 0x2FDF) ||  // radicals
         InRange(c, 0x3005, 0x3007) ||  // 々 〆 〇
         InRange(c, 0x3021, 0x3029) || InRange(c, 0x3038, 0x303B) ||
         InRange(c, 0x3040, 0x309F) ||                                // hiragana
         InRange(c, 0x30A1, 0x30FA) || InRange(c, 0x30FC, 0x30FF) ||  // katakana
         InRange(c, 0x3100, 0x312F) || InRange(c, 0x3190, 0x31FF) || InRange(c, 0x3400, 0x4DBF) ||
         InRange(c, 0x4E00, 0x9FFF) || InRange(c, 0xF900, 0xFAFF) || InRange(c, 0x20000, 0x3134F);
}

bool IsPunctOrSymbol(char32_t c) {
  if (c < 0x80) {
    return InRange(c, 0x21, 0x2F) || InRange(c, 0x3A, 0x40) || InRange(c, 0x5B, 0x60) ||
           InRange(c, 0x7B, 0x7E);
  }
  if (InRange(c, 0xA1, 0xBF)) {
    // Latin-1 punctuation and symbols, minus the letters and numbers there.
    return !(c == 0xAA || c == 0xAD || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 ||
             c == 0xBA || InRange(c, 0xBC, 0xBE));
  }
  return c == 0xD7 || c == 0xF7 || InRange(c, 0x2010, 0x2027) ||
         InRange(c, 0x2030, 0x205E) ||  // general punctuation
         InRange(c, 0x20A0, 0x20CF) ||  // currency
         InRange(c, 0x2100, 0x214F) ||  // letterlike (℃ №)
         InRange(c, 0x2190, 0x245F) ||  // arrows, math, technical
         InRange(c, 0x2500, 0x2BFF) ||  // box, shapes, dingbats
         InRange(c, 0x2E00, 0x2E7F) ||  // supplemental punct.
         InRange(c, 0x3001, 0x3004) || InRange(c, 0x3008, 0x3020) || c == 0x3030 ||
         InRange(c, 0x303D, 0x303F) || c == 0x30A0 || c == 0x30FB ||  // CJK punct., ・
         InRange(c, 0xFE10, 0xFE19) || InRange(c, 0xFE30, 0xFE6F) ||  // vertical, small forms
         InRange(c, 0xFF01, 0xFF0F) || InRange(c, 0xFF1A, 0xFF20) ||  // fullwidth
         InRange(c, 0xFF3B, 0xFF40) || InRange(c, 0xFF5B, 0xFF65) || InRange(c, 0xFFE0, 0xFFEE) ||
         c == 0xFFFD || InRange(c, 0x1F000, 0x1FAFF);  // emoji and pictographs
}

int DigitValue(char32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 0xFF10 && c <= 0xFF19) return static_cast<int>(c - 0xFF10);
  return -1;
}

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<CodePoint> cps;
  std::vector<Token> tokens;
  Tokenize(text, &cps, &tokens);
  return tokens;
}

void Tokenize(std::string_view text, std::vector<CodePoint>* scratch, std::vector<Token>* out) {
  Decode(text, scratch);
  const std::vector<CodePoint>& cps = *scratch;
  std::vector<Token>& tokens = *out;
  tokens.clear();
  const size_t n = cps.size();
  for (size_t i = 0; i < n;) {
    const char32_t c = cps[i].cp;
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (IsCjk(c) || IsPunctOrSymbol(c)) {
      tokens.push_back({cps[i].offset, cps[i].offset + cps[i].length});
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < n) {
      if (IsWordChar(cps[j].cp)) {
        ++j;
      } else if ((cps[j].cp == '.' || cps[j].cp == ',') && j + 1 < n &&
                 DigitValue(cps[j - 1].cp) >= 0 && DigitValue(cps[j + 1].cp) >= 0) {
        j += 2;  // 4.2, 1,200: a number is one token
      } else {
        break;
      }
    }
    tokens.push_back({cps[i].offset, cps[j - 1].offset + cps[j - 1].length});
    i = j;
  }
}

}  // namespace dedupd::diff::internal
