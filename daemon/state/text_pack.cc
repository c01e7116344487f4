#include "state/text_pack.h"

#include <cstdint>
#include <cstring>

namespace dedupd::state {
namespace {

constexpr uint8_t kToWide = 0xFF;            // narrow: switch to wide
constexpr uint32_t kAsciiStayWide = 0xDC00;  // wide: | an ASCII byte, stay wide
constexpr uint32_t kToNarrow = 0xDD00;       // wide: switch to narrow, write nothing

bool Continuation(uint8_t c) {
  return (c & 0xC0) == 0x80;
}

// A well-formed three-byte UTF-8 character at p (U+0800-U+FFFF, no
// surrogate: those units are the wide mode's escapes): its code point, or 0.
uint32_t Char3(const uint8_t* p, const uint8_t* end) {
  if (end - p < 3 || (p[0] & 0xF0) != 0xE0 || !Continuation(p[1]) || !Continuation(p[2])) return 0;
  const uint32_t cp =
      (uint32_t{p[0] & 0x0Fu} << 12) | (uint32_t{p[1] & 0x3Fu} << 6) | (p[2] & 0x3Fu);
  return cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ? cp : 0;
}

// A well-formed two-byte UTF-8 character at p (U+0080-U+07FF), or 0.
uint32_t Char2(const uint8_t* p, const uint8_t* end) {
  if (end - p < 2 || p[0] < 0xC2 || p[0] > 0xDF || !Continuation(p[1])) return 0;
  return (uint32_t{p[0] & 0x1Fu} << 6) | (p[1] & 0x3Fu);
}

}  // namespace

bool PackText(std::string_view text, std::string* out) {
  if (std::memchr(text.data(), kToWide, text.size()) != nullptr) return false;
  // Bound: narrow bytes are copied; wide mode is entered only before two
  // three-byte characters (6 bytes -> 5 with the switch), costs nothing more
  // while in it (an ASCII unit between three-byte characters is paid by the
  // next one) and is left once per entry for at most 2 bytes (an ASCII byte
  // as a unit, or kToNarrow): at most one byte more per 6 of the text.
  out->resize(text.size() + text.size() / 4 + 8);
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t* const end = p + text.size();
  auto* o = reinterpret_cast<uint8_t*>(out->data());
  const auto unit = [&o](uint32_t u) {
    o[0] = static_cast<uint8_t>(u >> 8);
    o[1] = static_cast<uint8_t>(u);
    o += 2;
  };
  bool wide = false;
  while (p < end) {
    if (!wide) {
      // ASCII eight bytes at a time: most of an English text.
      while (end - p >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        if ((w & 0x8080808080808080ull) != 0) break;
        std::memcpy(o, p, 8);
        o += 8;
        p += 8;
      }
      if (p == end) break;
      if (*p >= 0x80 && Char3(p, end) != 0 && Char3(p + 3, end) != 0) {
        *o++ = kToWide;
        wide = true;
      } else {
        *o++ = *p++;
      }
      continue;
    }
    // A run of three-byte characters, four bytes read at a time (the fourth
    // belongs to the next character: only three are used).
    while (end - p >= 4) {
      uint32_t w;
      std::memcpy(&w, p, 4);
      if ((w & 0xC0C0F0u) != 0x8080E0u) break;
      const uint32_t cp = ((w & 0x0Fu) << 12) | ((w & 0x3F00u) >> 2) | ((w >> 16) & 0x3Fu);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) break;
      unit(cp);
      p += 3;
    }
    if (p == end) break;
    if (*p < 0x80) {
      // One ASCII byte between three-byte characters (a digit, a space)
      // costs 2 bytes staying wide, 3 leaving and coming back.
      if (Char3(p + 1, end) != 0) {
        unit(kAsciiStayWide | *p++);
      } else {
        unit(*p++);
        wide = false;
      }
    } else if (const uint32_t cp3 = Char3(p, end); cp3 != 0) {
      unit(cp3);
      p += 3;
    } else if (const uint32_t cp2 = Char2(p, end); cp2 != 0) {
      unit(cp2);
      p += 2;
    } else {  // four-byte or malformed UTF-8: written as it is, narrow
      unit(kToNarrow);
      wide = false;
    }
  }
  out->resize(static_cast<size_t>(o - reinterpret_cast<uint8_t*>(out->data())));
  return true;
}

bool UnpackText(std::string_view packed, std::string* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  const uint8_t* const end = p + packed.size();
  auto* o = reinterpret_cast<uint8_t*>(out->data());
  const uint8_t* const out_end = o + out->size();
  bool wide = false;
  while (p < end) {
    if (!wide) {
      const auto* to_wide = static_cast<const uint8_t*>(std::memchr(p, kToWide, end - p));
      const uint8_t* const run_end = to_wide != nullptr ? to_wide : end;
      if (run_end - p > out_end - o) return false;
      std::memcpy(o, p, run_end - p);
      o += run_end - p;
      p = run_end;
      if (p < end) {
        ++p;
        wide = true;
      }
      continue;
    }
    // A run of three-byte characters, each stored as four bytes (the fourth
    // overwritten by the next) while there is room for four.
    while (end - p >= 2 && out_end - o >= 4) {
      const uint32_t u = (uint32_t{p[0]} << 8) | p[1];
      if (u < 0x800 || (u >= 0xD800 && u <= 0xDFFF)) break;
      const uint32_t w =
          (0xE0u | (u >> 12)) | ((0x80u | ((u >> 6) & 0x3Fu)) << 8) | ((0x80u | (u & 0x3Fu)) << 16);
      std::memcpy(o, &w, 4);
      o += 3;
      p += 2;
    }
    if (p == end) break;
    if (end - p < 2) return false;
    const uint32_t u = (uint32_t{p[0]} << 8) | p[1];
    p += 2;
    if (u < 0x80) {
      if (o == out_end) return false;
      *o++ = static_cast<uint8_t>(u);
      wide = false;
    } else if (u < 0x800) {
      if (out_end - o < 2) return false;
      o[0] = static_cast<uint8_t>(0xC0 | (u >> 6));
      o[1] = static_cast<uint8_t>(0x80 | (u & 0x3F));
      o += 2;
    } else if (u < 0xD800 || u > 0xDFFF) {
      if (out_end - o < 3) return false;
      o[0] = static_cast<uint8_t>(0xE0 | (u >> 12));
      o[1] = static_cast<uint8_t>(0x80 | ((u >> 6) & 0x3F));
      o[2] = static_cast<uint8_t>(0x80 | (u & 0x3F));
      o += 3;
    } else if (u >= kAsciiStayWide && u < kAsciiStayWide + 0x80) {
      if (o == out_end) return false;
      *o++ = static_cast<uint8_t>(u & 0x7F);
    } else if (u == kToNarrow) {
      wide = false;
    } else {
      return false;
    }
  }
  return o == out_end;
}

}  // namespace dedupd::state
