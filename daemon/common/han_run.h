// Runs of unified Han ideographs (U+4E00..U+9FFF, most of Chinese text), 16
// bytes at a time with SSE2 (baseline x86-64, no run-time dispatch needed).
// The normaliser and the tokenizer copy such runs without looking at each
// character (docs/fingerprint.md, "The whole fingerprint path").
//
//   const unsigned bytes = HanRunBytes16(p);  // needs 16 readable bytes at p
//   // p[0 .. bytes) are bytes / 3 ideographs; bytes is 0, 3, ..., 15
#pragma once

#include <emmintrin.h>

#include <cstdint>

namespace dedupd {

// Whether the low three bytes of x (four bytes loaded little-endian) are a
// well-formed U+4E00..U+9FFF, without branches: the lead and second byte read
// as one number lie in E4B8..E9BF, and the second and third are continuation
// bytes.
inline bool IsHanWord(uint32_t x) {
  const uint32_t lead_second = ((x & 0xFFu) << 8) | ((x >> 8) & 0xFFu);
  return ((x & 0xC0C000u) == 0x808000u) & (lead_second - 0xE4B8u <= 0xE9BFu - 0xE4B8u);
}

// How many bytes of the five 3-byte slots at p, p+3, ..., p+12 hold, from
// the first one on without a gap, a well-formed U+4E00..U+9FFF: lead byte
// E5..E9 or E4 followed by B8..BF, then two continuation bytes. Reads 16
// bytes. Bytes, not characters: a caller's next load waits on this answer,
// and a division by 3 would sit on that path.
inline unsigned HanRunBytes16(const unsigned char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto byte = [](unsigned b) { return _mm_set1_epi8(static_cast<char>(b)); };
  // Per byte, all ones where: a continuation byte (10xxxxxx); B8..BF; E4;
  // E5..E9 (v - E5 wraps to 0..4, and min(x, 4) == x only for those).
  const __m128i cont = _mm_cmpeq_epi8(_mm_and_si128(v, byte(0xC0)), byte(0x80));
  const __m128i b8 = _mm_cmpeq_epi8(_mm_and_si128(v, byte(0xF8)), byte(0xB8));
  const __m128i e4 = _mm_cmpeq_epi8(v, byte(0xE4));
  const __m128i e5 = _mm_sub_epi8(v, byte(0xE5));
  const __m128i lead = _mm_cmpeq_epi8(_mm_min_epu8(e5, byte(4)), e5);
  // A Han ideograph starts at byte i: a lead there (E4 only before B8..BF),
  // continuation bytes at i + 1 and i + 2. Byte shifts bring those over i.
  const __m128i ok_lead = _mm_or_si128(lead, _mm_and_si128(e4, _mm_srli_si128(b8, 1)));
  const __m128i start =
      _mm_and_si128(ok_lead, _mm_and_si128(_mm_srli_si128(cont, 1), _mm_srli_si128(cont, 2)));
  const auto starts = static_cast<unsigned>(_mm_movemask_epi8(start));
  // The first of the slots 0, 3, 6, 9, 12 that is not one (its bit number is
  // its byte offset); bit 15 stands for "all five are".
  const unsigned gap = (~starts & 0x1249u) | 0x8000u;
  return static_cast<unsigned>(__builtin_ctz(gap));
}

}  // namespace dedupd
