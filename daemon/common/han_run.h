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
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Unsigned ranges as signed compares: b in [lo, hi] iff (b ^ 0x80) as a
  // signed byte is in [lo - 0x80, hi - 0x80].
  const __m128i s = _mm_xor_si128(bytes, _mm_set1_epi8(static_cast<char>(0x80)));
  const auto in = [&s](int lo, int hi) {  // lo, hi: unsigned byte values
    return _mm_and_si128(_mm_cmpgt_epi8(s, _mm_set1_epi8(static_cast<char>(lo - 0x80 - 1))),
                         _mm_cmplt_epi8(s, _mm_set1_epi8(static_cast<char>(hi - 0x80 + 1))));
  };
  const auto cont = static_cast<unsigned>(_mm_movemask_epi8(in(0x80, 0xBF)));
  const auto lead = static_cast<unsigned>(_mm_movemask_epi8(in(0xE5, 0xE9)));
  const auto e4 = static_cast<unsigned>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(static_cast<char>(0xE4)))));
  const auto b8 = static_cast<unsigned>(_mm_movemask_epi8(in(0xB8, 0xBF)));
  // Bit i: a Han ideograph starts at byte i.
  const unsigned start = (lead | (e4 & (b8 >> 1))) & (cont >> 1) & (cont >> 2);
  // The first of the slots 0, 3, 6, 9, 12 that is not one (its bit number is
  // its byte offset); bit 15 stands for "all five are".
  const unsigned gap = (~start & 0x1249u) | 0x8000u;
  return static_cast<unsigned>(__builtin_ctz(gap));
}

}  // namespace dedupd
