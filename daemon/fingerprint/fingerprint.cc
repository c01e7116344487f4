// Tokenizer, shingling, SimHash kernels and set algebra. Design and measured
// speed: docs/fingerprint.md.
#include "fingerprint/fingerprint.h"

#include <emmintrin.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

// Inlined XXH3 (same algorithm and output as libxxhash): the shingles are 10 to
// 40 bytes long, where a call through the shared library would cost as much as
// the hash itself.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/han_run.h"
#include "common/target.h"

namespace dedupd::fingerprint {
namespace internal {
namespace {

struct Range {
  uint32_t first;
  uint32_t last;  // inclusive
  CharClass cls;
};

constexpr CharClass kSep = CharClass::kSeparator;
constexpr CharClass kCjk = CharClass::kCjk;

// Code points >= 0x80 that are not letters. Later entries override earlier
// ones (a CJK punctuation block first, then the ideographic letters inside it).
constexpr Range kRanges[] = {
    // Latin-1: C1 controls, NBSP, punctuation and symbols (not ª µ º).
    {0x0080, 0x00A9, kSep},
    {0x00AB, 0x00B4, kSep},
    {0x00B6, 0x00B9, kSep},
    {0x00BB, 0x00BF, kSep},
    {0x00D7, 0x00D7, kSep},
    {0x00F7, 0x00F7, kSep},
    // Punctuation of other alphabetic scripts.
    {0x037E, 0x037E, kSep},
    {0x0387, 0x0387, kSep},
    {0x055A, 0x055F, kSep},
    {0x0589, 0x058A, kSep},
    {0x05BE, 0x05BE, kSep},
    {0x05C0, 0x05C0, kSep},
    {0x05C3, 0x05C3, kSep},
    {0x05C6, 0x05C6, kSep},
    {0x05F3, 0x05F4, kSep},
    {0x060C, 0x060D, kSep},
    {0x061B, 0x061B, kSep},
    {0x061D, 0x061F, kSep},
    {0x066A, 0x066D, kSep},
    {0x06D4, 0x06D4, kSep},
    {0x0964, 0x0965, kSep},
    {0x0E5A, 0x0E5B, kSep},
    {0x104A, 0x104F, kSep},
    {0x10FB, 0x10FB, kSep},
    {0x1360, 0x1368, kSep},
    {0x166E, 0x166E, kSep},
    {0x1680, 0x1680, kSep},
    {0x16EB, 0x16ED, kSep},
    {0x17D4, 0x17DA, kSep},
    {0x1800, 0x180A, kSep},
    // General punctuation (spaces, dashes, quotes, bullets), but ZWNJ/ZWJ join words.
    {0x2000, 0x200B, kSep},
    {0x200E, 0x206F, kSep},
    {0x20A0, 0x20CF, kSep},  // currency
    {0x2190, 0x245F, kSep},  // arrows, math operators, technical, control pictures
    {0x2500, 0x27FF, kSep},  // box drawing, shapes, misc symbols, dingbats
    {0x2900, 0x2BFF, kSep},  // arrows, math, misc symbols
    {0x2E00, 0x2E7F, kSep},  // supplemental punctuation
    {0x2FF0, 0x2FFF, kSep},  // ideographic description characters
    {0x3000, 0x303F, kSep},  // CJK symbols and punctuation, ideographic space
    {0x3200, 0x33FF, kSep},  // enclosed CJK letters, CJK compatibility (squared words)
    {0x4DC0, 0x4DFF, kSep},  // hexagram symbols
    {0xFD3E, 0xFD3F, kSep},
    {0xFE00, 0xFE1F, kSep},  // variation selectors, vertical forms
    {0xFE30, 0xFE6F, kSep},  // CJK compatibility forms, small form variants
    {0xFEFF, 0xFEFF, kSep},  // BOM / ZWNBSP
    {0xFF01, 0xFF0F, kSep},  // fullwidth punctuation (NFKC folds these anyway)
    {0xFF1A, 0xFF20, kSep},
    {0xFF3B, 0xFF40, kSep},
    {0xFF5B, 0xFF65, kSep},
    {0xFFE0, 0xFFFF, kSep},  // fullwidth symbols, specials, U+FFFD
    // CJK: one token per code point.
    {0x1100, 0x11FF, kCjk},  // Hangul Jamo
    {0x2E80, 0x2FDF, kCjk},  // CJK radicals, Kangxi radicals
    {0x3005, 0x3007, kCjk},  // 々 〆 〇
    {0x3021, 0x3029, kCjk},  // Hangzhou numerals
    {0x3031, 0x3035, kCjk},  // kana repeat marks
    {0x3038, 0x303C, kCjk},
    {0x3041, 0x309F, kCjk},  // Hiragana
    {0x30A1, 0x30FA, kCjk},  // Katakana (not ゠ U+30A0 nor ・ U+30FB)
    {0x30FC, 0x30FF, kCjk},
    {0x3100, 0x31FF, kCjk},  // Bopomofo, Hangul compatibility Jamo, Kanbun, strokes
    {0x3400, 0x4DBF, kCjk},  // CJK extension A
    {0x4E00, 0x9FFF, kCjk},  // CJK unified ideographs
    {0xA000, 0xA4CF, kCjk},  // Yi
    {0xA960, 0xA97F, kCjk},  // Hangul Jamo extended-A
    {0xAC00, 0xD7FF, kCjk},  // Hangul syllables, Jamo extended-B
    {0xF900, 0xFAFF, kCjk},  // CJK compatibility ideographs
    {0xFF66, 0xFF9F, kCjk},  // halfwidth Katakana
    {0xFFA0, 0xFFDC, kCjk},  // halfwidth Hangul
};

// Supplementary planes (few and rare: a linear scan is fine).
constexpr Range kSupplementaryRanges[] = {
    {0x16FE0, 0x16FFF, kCjk},  // ideographic symbols and punctuation
    {0x17000, 0x18CFF, kCjk},  // Tangut, Khitan
    {0x1B000, 0x1B2FF, kCjk},  // Kana supplement and extensions, Nushu
    {0x1F000, 0x1FBFF, kSep},  // emoji, pictographs, game symbols, legacy computing
    {0x20000, 0x323AF, kCjk},  // CJK extensions B..H, compatibility supplement
    {0xE0000, 0xE0FFF, kSep},  // tags, variation selectors supplement
};

constexpr std::array<uint8_t, 0x10000> BuildBmpClasses() {
  std::array<uint8_t, 0x10000> table{};
  for (uint32_t cp = 0; cp < 0x80; ++cp) {
    table[cp] = static_cast<uint8_t>(ClassifyAscii(static_cast<unsigned char>(cp)));
  }
  for (uint32_t cp = 0x80; cp < 0x10000; ++cp) {
    table[cp] = static_cast<uint8_t>(CharClass::kLetter);
  }
  for (const Range& r : kRanges) {
    for (uint32_t cp = r.first; cp <= r.last; ++cp) table[cp] = static_cast<uint8_t>(r.cls);
  }
  table[0x30FB] = static_cast<uint8_t>(kSep);  // katakana middle dot
  return table;
}

}  // namespace

// Constant-initialised: no start-up cost, no initialisation-order hazard.
constexpr std::array<uint8_t, 0x10000> kBmpClass = BuildBmpClasses();

CharClass ClassifySupplementary(uint32_t cp) {
  for (const Range& r : kSupplementaryRanges) {
    if (cp >= r.first && cp <= r.last) return r.cls;
  }
  return CharClass::kLetter;  // other scripts, private use, and invalid bytes (0xFFFFFFFF)
}

// ---------------------------------------------------------------------------
// Sorting hashes.

namespace {

struct SortScratch {
  std::vector<uint64_t> tmp;
  std::vector<uint32_t> bucket_end;
};

}  // namespace

void SortUnique(std::vector<uint64_t>* v) {
  const size_t n = v->size();
  if (n < 2) return;
  uint64_t* const data = v->data();
  if (n <= 128 || n > std::numeric_limits<uint32_t>::max()) {
    std::sort(data, data + n);
    v->erase(std::unique(v->begin(), v->end()), v->end());
    return;
  }
  // Shingle hashes are uniform: one counting-sort pass on the top bits leaves
  // one or two values per bucket, in order between buckets; a single insertion
  // sort over the whole array then only fixes the few inversions inside
  // buckets. About 4x faster than std::sort at 20k values (docs/fingerprint.md).
  const int bits = std::clamp(static_cast<int>(std::bit_width(n)) - 1, 6, 22);
  const int shift = 64 - bits;
  const size_t buckets = size_t{1} << bits;
  thread_local SortScratch scratch;
  std::vector<uint32_t>& end = scratch.bucket_end;
  end.assign(buckets, 0);
  for (size_t i = 0; i < n; ++i) ++end[data[i] >> shift];
  uint32_t sum = 0;
  uint32_t largest = 0;
  for (size_t b = 0; b < buckets; ++b) {  // end[b] := start of bucket b
    const uint32_t c = end[b];
    largest = std::max(largest, c);
    end[b] = sum;
    sum += c;
  }
  if (scratch.tmp.size() < n) scratch.tmp.resize(n);
  uint64_t* const tmp = scratch.tmp.data();
  for (size_t i = 0; i < n; ++i) tmp[end[data[i] >> shift]++] = data[i];  // end[b] := end of b
  if (largest > 32) {
    // Many repeats of a shingle (harmless: equal values are no inversions) or
    // input that is not uniform: sort big buckets on their own so that the
    // final pass stays linear.
    uint32_t start = 0;
    for (size_t b = 0; b < buckets; ++b) {
      if (end[b] - start > 32) std::sort(tmp + start, tmp + end[b]);
      start = end[b];
    }
  }
  // Insertion sort from tmp back into data, dropping duplicates as they meet
  // their equal neighbour: one pass for the fix-up and the unique.
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t x = tmp[i];
    size_t j = out;
    while (j > 0 && data[j - 1] > x) --j;
    if (j > 0 && data[j - 1] == x) continue;
    for (size_t m = out; m > j; --m) data[m] = data[m - 1];
    data[j] = x;
    ++out;
  }
  v->resize(out);
  if (scratch.tmp.size() > (size_t{1} << 20)) {  // do not keep 8+ MiB per thread after a huge page
    scratch.tmp = {};
    scratch.bucket_end = {};
  }
}

// ---------------------------------------------------------------------------
// SimHash kernels.

namespace scalar_kernel {
struct Ops {
  using V = uint64_t;
  static constexpr size_t kLanes = 1;
  static V Zero() { return 0; }
  static V Load(const uint64_t* p) { return *p; }
  static V Xor(V a, V b) { return a ^ b; }
  static V And(V a, V b) { return a & b; }
  static V Or(V a, V b) { return a | b; }
  static bool IsZero(V a) { return a == 0; }
  static void Store(uint64_t* p, V a) { *p = a; }
};
#include "fingerprint/simhash_kernel.inc"
}  // namespace scalar_kernel

namespace sse2_kernel {
struct Ops {  // SSE2 is part of x86-64: always available
  using V = __m128i;
  static constexpr size_t kLanes = 2;
  static V Zero() { return _mm_setzero_si128(); }
  static V Load(const uint64_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static V Xor(V a, V b) { return _mm_xor_si128(a, b); }
  static V And(V a, V b) { return _mm_and_si128(a, b); }
  static V Or(V a, V b) { return _mm_or_si128(a, b); }
  static bool IsZero(V a) {
    return _mm_movemask_epi8(_mm_cmpeq_epi32(a, _mm_setzero_si128())) == 0xFFFF;
  }
  static void Store(uint64_t* p, V a) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), a); }
};
#include "fingerprint/simhash_kernel.inc"
}  // namespace sse2_kernel

// For each 8-bit mask of kept hashes (bit j: the j-th of 8), the positions
// in FilterTopHalves' register (a0 a1 b0 b1 a2 a3 b2 b3) of the kept ones,
// in order, then zeros.
constexpr std::array<std::array<uint8_t, 8>, 256> kFilterPermutation = [] {
  constexpr uint8_t kPosition[8] = {0, 1, 4, 5, 2, 3, 6, 7};  // of hash j
  std::array<std::array<uint8_t, 8>, 256> t{};
  for (unsigned mask = 0; mask < 256; ++mask) {
    unsigned at = 0;
    for (unsigned j = 0; j < 8; ++j) {
      if ((mask >> j) & 1u) t[mask][at++] = kPosition[j];
    }
  }
  return t;
}();

// Everything defined until DEDUPD_TARGET_END is compiled for AVX2.
DEDUPD_TARGET_BEGIN("avx2")
namespace avx2_kernel {
struct Ops {
  using V = __m256i;
  static constexpr size_t kLanes = 4;
  static V Zero() { return _mm256_setzero_si256(); }
  static V Load(const uint64_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static V Xor(V a, V b) { return _mm256_xor_si256(a, b); }
  static V And(V a, V b) { return _mm256_and_si256(a, b); }
  static V Or(V a, V b) { return _mm256_or_si256(a, b); }
  static bool IsZero(V a) { return _mm256_testz_si256(a, a) != 0; }
  static void Store(uint64_t* p, V a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a); }
};
#include "fingerprint/simhash_kernel.inc"

uint64_t Run(const uint64_t* features, size_t n) {
  return SimHashKernel<Ops>(features, n);
}

// FilterTopHalves, 8 hashes per step without a branch on the data (which
// hashes pass is random: a branch per step mispredicts): the top halves of
// the 8 are gathered into one register, the kept ones moved to its front
// by a permutation looked up by the 8-bit mask, all 8 stored, and the
// output advanced by the number kept. An unsigned compare is a signed one
// after flipping the top bits.
size_t FilterTopHalves(const uint64_t* h, size_t n, uint64_t bound, uint32_t* out) {
  const __m256i flip = _mm256_set1_epi64x(static_cast<int64_t>(uint64_t{1} << 63));
  const __m256i limit = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<int64_t>(bound)), flip);
  size_t kept = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + 4));
    const auto above_a = static_cast<unsigned>(_mm256_movemask_pd(
        _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_xor_si256(a, flip), limit))));
    const auto above_b = static_cast<unsigned>(_mm256_movemask_pd(
        _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_xor_si256(b, flip), limit))));
    const unsigned keep = ~(above_a | (above_b << 4)) & 0xFFu;
    // Top halves in the order a0 a1 b0 b1 a2 a3 b2 b3 (kFilterPermutation
    // accounts for it).
    const __m256i tops = _mm256_castps_si256(
        _mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _MM_SHUFFLE(3, 1, 3, 1)));
    uint64_t packed;
    std::memcpy(&packed, kFilterPermutation[keep].data(), 8);
    const __m256i index = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(packed)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + kept),
                        _mm256_permutevar8x32_epi32(tops, index));
    kept += static_cast<size_t>(__builtin_popcount(keep));
  }
  for (; i < n; ++i) {
    out[kept] = static_cast<uint32_t>(h[i] >> 32);
    kept += h[i] <= bound;
  }
  return kept;
}
}  // namespace avx2_kernel
DEDUPD_TARGET_END

// Shingle hashing 8 at a time with AVX-512 (F, DQ, VL, BW), where the CPU has it.
DEDUPD_TARGET_BEGIN("avx512f,avx512dq,avx512vl,avx512bw")
#if !defined(__clang__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which it
// then reports as (maybe) uninitialised.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
namespace avx512_kernel {

// XXH3_mul128_fold64 in every lane: the 128-bit product a * b, its halves
// xor-ed. Built from four 32 x 32 -> 64-bit products, as xxhash's portable
// XXH_mult64to128 does (its middle sum cannot overflow).
[[gnu::always_inline]] inline __m512i Mul128Fold64(__m512i a, __m512i b) {
  const __m512i a_hi32 = _mm512_srli_epi64(a, 32);
  const __m512i b_hi32 = _mm512_srli_epi64(b, 32);
  const __m512i ll = _mm512_mul_epu32(a, b);
  const __m512i hl = _mm512_mul_epu32(a_hi32, b);
  const __m512i lh = _mm512_mul_epu32(a, b_hi32);
  const __m512i hh = _mm512_mul_epu32(a_hi32, b_hi32);
  const __m512i low_mask = _mm512_set1_epi64(0xFFFFFFFF);
  const __m512i cross = _mm512_add_epi64(
      _mm512_add_epi64(_mm512_srli_epi64(ll, 32), _mm512_and_si512(hl, low_mask)), lh);
  const __m512i upper = _mm512_add_epi64(
      _mm512_add_epi64(_mm512_srli_epi64(hl, 32), _mm512_srli_epi64(cross, 32)), hh);
  const __m512i lower =
      _mm512_or_si512(_mm512_slli_epi64(cross, 32), _mm512_and_si512(ll, low_mask));
  return _mm512_xor_si512(lower, upper);
}

// XXH3_avalanche in every lane.
[[gnu::always_inline]] inline __m512i Avalanche(__m512i acc) {
  acc = _mm512_xor_si512(acc, _mm512_srli_epi64(acc, 37));
  acc = _mm512_mullo_epi64(acc, _mm512_set1_epi64(static_cast<int64_t>(0x165667919E3779F9ULL)));
  return _mm512_xor_si512(acc, _mm512_srli_epi64(acc, 32));
}

// XXH3_64bits (seed 0) of the 9- to 16-byte inputs at base + from[j], of
// lengths len[j], 8 lanes at once: XXH3_len_9to16_64b step by step. The
// 64 x 64 -> 128-bit product is built from four 32 x 32 -> 64 ones, as
// xxhash's portable XXH_mult64to128 does (its middle sum cannot overflow).
[[gnu::always_inline]] inline __m512i Xxh3Len9To16Masked(const char* base, __m256i from,
                                                         __m256i len, __mmask8 lanes) {
  const auto* secret = reinterpret_cast<const uint8_t*>(XXH3_kSecret);
  const __m512i bitflip1 = _mm512_set1_epi64(
      static_cast<int64_t>(XXH_readLE64(secret + 24) ^ XXH_readLE64(secret + 32)));
  const __m512i bitflip2 = _mm512_set1_epi64(
      static_cast<int64_t>(XXH_readLE64(secret + 40) ^ XXH_readLE64(secret + 48)));
  const __m256i last = _mm256_sub_epi32(_mm256_add_epi32(from, len), _mm256_set1_epi32(8));
  const __m512i lo = _mm512_xor_si512(
      _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), lanes, from, base, 1), bitflip1);
  const __m512i hi = _mm512_xor_si512(
      _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), lanes, last, base, 1), bitflip2);
  const __m512i fold = Mul128Fold64(lo, hi);
  // len + swap64(lo) + hi + fold.
  const __m512i reverse = _mm512_set4_epi64(0x08090A0B0C0D0E0FLL, 0x0001020304050607LL,
                                            0x08090A0B0C0D0E0FLL, 0x0001020304050607LL);
  const __m512i swapped = _mm512_shuffle_epi8(lo, reverse);
  __m512i acc = _mm512_add_epi64(_mm512_cvtepu32_epi64(len), swapped);
  acc = _mm512_add_epi64(acc, _mm512_add_epi64(hi, fold));
  return Avalanche(acc);
}

// All 8 lanes (the hot path: a group of ideograph shingles).
[[gnu::always_inline]] inline __m512i Xxh3Len9To16(const char* base, __m256i from, __m256i len) {
  return Xxh3Len9To16Masked(base, from, len, 0xFF);
}

// XXH3_64bits (seed 0) of the 17- to 32-byte inputs at base + from[j], of
// lengths len[j], in the lanes of `lanes` (the others' loads are masked off,
// their results undefined): XXH3_len_17to128_64b's two XXH3_mix16B, on the
// first 16 bytes and the last 16.
[[gnu::always_inline]] inline __m512i Xxh3Len17To32(const char* base, __m256i from, __m256i len,
                                                    __mmask8 lanes) {
  const auto* secret = reinterpret_cast<const uint8_t*>(XXH3_kSecret);
  const auto word = [secret](int at) {
    return _mm512_set1_epi64(static_cast<int64_t>(XXH_readLE64(secret + at)));
  };
  const auto gather = [base, lanes](__m256i at) {
    return _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), lanes, at, base, 1);
  };
  const __m256i tail = _mm256_sub_epi32(_mm256_add_epi32(from, len), _mm256_set1_epi32(16));
  const __m256i eight = _mm256_set1_epi32(8);
  const __m512i head_mix =
      Mul128Fold64(_mm512_xor_si512(gather(from), word(0)),
                   _mm512_xor_si512(gather(_mm256_add_epi32(from, eight)), word(8)));
  const __m512i tail_mix =
      Mul128Fold64(_mm512_xor_si512(gather(tail), word(16)),
                   _mm512_xor_si512(gather(_mm256_add_epi32(tail, eight)), word(24)));
  __m512i acc = _mm512_mullo_epi64(_mm512_cvtepu32_epi64(len),
                                   _mm512_set1_epi64(static_cast<int64_t>(XXH_PRIME64_1)));
  acc = _mm512_add_epi64(acc, _mm512_add_epi64(head_mix, tail_mix));
  return Avalanche(acc);
}

// v[i] = XXH3 of shingle i (buf + starts[i], starts[i + k] - starts[i] - 1
// bytes) for i < count, 8 at a time: the 9- to 16-byte kernel alone where
// all 8 are 9 to 16 bytes long (a shingle of four CJK characters is 15);
// otherwise it and the 17- to 32-byte one on their lanes, and the shingles
// of other lengths one by one.
size_t HashShingles(const char* buf, const uint32_t* starts, size_t count, size_t k, uint64_t* v) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256i from = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(starts + i));
    const __m256i to = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(starts + i + k));
    const __m256i len = _mm256_sub_epi32(_mm256_sub_epi32(to, from), _mm256_set1_epi32(1));
    const __mmask8 short_enough =
        _mm256_cmple_epu32_mask(_mm256_sub_epi32(len, _mm256_set1_epi32(9)), _mm256_set1_epi32(7));
    if (short_enough == 0xFF) [[likely]] {
      _mm512_storeu_si512(v + i, Xxh3Len9To16(buf, from, len));
      continue;
    }
    // A group with longer (or shorter) shingles: Latin words, or an ASCII
    // word among ideographs. 17 to 32 bytes (three quarters of English
    // four-word shingles) in the vector too, the rest one by one.
    const __mmask8 mid = _mm256_cmple_epu32_mask(_mm256_sub_epi32(len, _mm256_set1_epi32(17)),
                                                 _mm256_set1_epi32(15));
    __m512i hashes = Xxh3Len17To32(buf, from, len, mid);
    if (short_enough != 0) {
      hashes = _mm512_mask_mov_epi64(hashes, short_enough,
                                     Xxh3Len9To16Masked(buf, from, len, short_enough));
    }
    const __mmask8 done = short_enough | mid;
    _mm512_mask_storeu_epi64(v + i, done, hashes);
    for (unsigned rest = ~static_cast<unsigned>(done) & 0xFFu; rest != 0; rest &= rest - 1) {
      const size_t j = i + static_cast<unsigned>(__builtin_ctz(rest));
      v[j] = XXH3_64bits(buf + starts[j], starts[j + k] - starts[j] - 1);
    }
  }
  return i;
}

// For the tests: Xxh3Len17To32 on 8 inputs.
void HashEight17To32(const char* base, const uint32_t* from, const uint32_t* len, uint64_t* out) {
  _mm512_storeu_si512(
      out, Xxh3Len17To32(base, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from)),
                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(len)), 0xFF));
}

// For the tests: Xxh3Len9To16 on 8 inputs.
void HashEight(const char* base, const uint32_t* from, const uint32_t* len, uint64_t* out) {
  _mm512_storeu_si512(out,
                      Xxh3Len9To16(base, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from)),
                                   _mm256_loadu_si256(reinterpret_cast<const __m256i*>(len))));
}

}  // namespace avx512_kernel
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
DEDUPD_TARGET_END

bool CpuHasAvx512Hashing() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512dq") != 0 &&
           __builtin_cpu_supports("avx512vl") != 0 && __builtin_cpu_supports("avx512bw") != 0;
  }();
  return has;
}

void Xxh3Len9To16Avx512(const char* base, const uint32_t* from, const uint32_t* len,
                        uint64_t* out) {
  avx512_kernel::HashEight(base, from, len, out);
}

void Xxh3Len17To32Avx512(const char* base, const uint32_t* from, const uint32_t* len,
                         uint64_t* out) {
  avx512_kernel::HashEight17To32(base, from, len, out);
}

SimHash64 SimHashScalar(std::span<const uint64_t> features) {
  return {scalar_kernel::SimHashKernel<scalar_kernel::Ops>(features.data(), features.size())};
}

SimHash64 SimHashSse2(std::span<const uint64_t> features) {
  return {sse2_kernel::SimHashKernel<sse2_kernel::Ops>(features.data(), features.size())};
}

bool CpuHasAvx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

SimHash64 SimHashAvx2(std::span<const uint64_t> features) {
  return {avx2_kernel::Run(features.data(), features.size())};
}

size_t FilterTopHalvesScalar(std::span<const uint64_t> hashes, uint64_t bound, uint32_t* out) {
  size_t kept = 0;
  for (const uint64_t h : hashes) {
    out[kept] = static_cast<uint32_t>(h >> 32);
    kept += h <= bound;
  }
  return kept;
}

size_t FilterTopHalvesAvx2(std::span<const uint64_t> hashes, uint64_t bound, uint32_t* out) {
  return avx2_kernel::FilterTopHalves(hashes.data(), hashes.size(), bound, out);
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Public API.

namespace {

// Joined tokens of the text being shingled ("tok tok tok "), reused per thread.
// Token offsets are 4 bytes (half the stores of the tokenizer's hot loop)
// unless the joined buffer could pass 4 GiB: the matching form of a body can
// be longer than the body (NFKC expands some characters), so the limit is on
// the form's own size.
struct ShingleScratch {
  std::unique_ptr<char[]> buf;         // 2 * capacity + 1 bytes
  std::unique_ptr<uint32_t[]> starts;  // capacity + 1 offsets
  size_t capacity = 0;                 // input bytes the buffers can take
};
constexpr size_t kMaxNarrowOffsetInput = (size_t{1} << 31) - 1;

// Inputs up to this size keep their scratch (~10 bytes per input byte) for the
// next call; a bigger page's scratch is released after use.
constexpr size_t kKeepScratchBytes = size_t{256} << 10;

// Classes of 16 bytes of text at once, as bit masks (bit i: byte i): ASCII
// letters and digits, other ASCII bytes (separators), and the bytes as the
// joined buffer holds them (letters as they are, separators as ' ').
struct AsciiClasses16 {
  unsigned letter;
  unsigned separator;
  __m128i joined;
};

inline AsciiClasses16 ClassifyAscii16(const unsigned char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto byte = [](int b) { return _mm_set1_epi8(static_cast<char>(b)); };
  // Unsigned range tests as signed compares: x - lo + 0x80 < -128 + width.
  // A byte >= 0x80 lands outside both ranges (v | 0x20 stays >= 0xA0).
  const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, byte(0x80 - '0')), byte(-128 + 10));
  const __m128i alpha =
      _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, byte(0x20)), byte(0x80 - 'a')), byte(-128 + 26));
  const __m128i letter = _mm_or_si128(digit, alpha);
  const auto letters = static_cast<unsigned>(_mm_movemask_epi8(letter));
  const auto ascii = ~static_cast<unsigned>(_mm_movemask_epi8(v)) & 0xFFFFu;
  const __m128i joined =
      _mm_or_si128(_mm_and_si128(letter, v), _mm_andnot_si128(letter, byte(' ')));
  return {letters, ascii & ~letters, joined};
}

// What JoinTokens has written: bytes of buf and tokens.
struct JoinedTokens {
  size_t bytes = 0;
  size_t tokens = 0;
};

// Writes the tokens of `text` into buf as "tok tok tok " and their start
// offsets into starts (plus the end offset), after the `from` bytes and
// tokens written before; returns the totals. Called on pieces one after the
// other, it writes what one call on the pieces joined with a separator
// would: a piece's end ends a token as a separator does. The same classes as
// ForEachToken, in one loop without callbacks: this is the hot path. Raw
// arrays, not vectors: stores through char* may alias a vector's end
// pointer, which would then be reloaded on every byte.
template <typename Offset>
[[gnu::always_inline]] inline JoinedTokens JoinTokens(std::string_view text, char* buf,
                                                      Offset* starts, JoinedTokens from) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  size_t w = from.bytes;
  size_t tokens = from.tokens;
  size_t in_run = 0;  // 1 while inside a letter run
  // Branch-free updates: a separator writes ' ' and keeps it only if it ends a
  // run; a letter records its offset as a token start and keeps it only if it
  // starts a run. Word and CJK boundaries are where branches mispredict.
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      if (end - p >= 16) {
        // Up to 16 ASCII bytes in one step: the prefix in which every
        // separator directly follows a letter (one space per separator
        // written, none dropped) maps byte for byte to the output, so it is
        // one 16-byte store; only its token starts are written one by one.
        // The buffer has room: w <= 2 * consumed and 16 bytes remain.
        const AsciiClasses16 m = ClassifyAscii16(p);
        const unsigned prev_letter = ((m.letter << 1) | static_cast<unsigned>(in_run)) & 0xFFFFu;
        const unsigned bad = ~(m.letter | (m.separator & prev_letter)) & 0xFFFFu;
        const auto take = static_cast<unsigned>(__builtin_ctz(bad | 0x10000u));
        if (take != 0) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(buf + w), m.joined);
          unsigned first = m.letter & ~prev_letter & ((1u << take) - 1);  // token starts
          while (first != 0) {
            starts[tokens++] = static_cast<Offset>(w + static_cast<unsigned>(__builtin_ctz(first)));
            first &= first - 1;
          }
          w += take;
          in_run = (m.letter >> (take - 1)) & 1u;
          p += take;
          continue;
        }
      }
      const size_t letter =
          internal::ClassifyAscii(static_cast<unsigned char>(c)) == internal::CharClass::kLetter;
      buf[w] = letter ? static_cast<char>(c) : ' ';
      starts[tokens] = static_cast<Offset>(w);
      tokens += letter & (in_run ^ 1);
      w += letter | in_run;
      in_run = letter;
      ++p;
      continue;
    }
    if (c - 0xE4u < 6u && end - p >= 4) {
      // A run of U+4E00..U+9FFF (most of CJK text): each ideograph is a token,
      // written with its trailing space in one 4-byte store. Lead byte E5..E9,
      // or E4 with a second byte >= B8; two continuation bytes.
      uint32_t x;
      std::memcpy(&x, p, 4);
      if (IsHanWord(x)) {
        buf[w] = ' ';
        w += in_run;  // the ideograph ends a letter run
        in_run = 0;
        if constexpr (sizeof(Offset) == 4) {
          // Five ideographs per step while 16 bytes remain: HanRunBytes16
          // says how many of the next five are Han; all five tokens and
          // offsets are written, two per 8-byte store (the buffers have
          // room: w <= 2 * consumed, tokens <= consumed), and only those
          // kept. On the corpus's Chinese pages 3/4 of the ideographs stand
          // in runs of 8 or more.
          // Five tokens and their offsets from the 15 bytes at q, written
          // at buf + at and starts + tok.
          const auto write_five = [buf, starts](const unsigned char* q, uint64_t at, size_t tok) {
            uint64_t a, b;
            uint32_t c4;
            std::memcpy(&a, q, 8);
            std::memcpy(&b, q + 6, 8);
            std::memcpy(&c4, q + 12, 4);
            const auto token = [](uint64_t t) { return (t & 0x00FFFFFFu) | 0x20000000u; };
            const uint64_t t01 = token(a) | (token(a >> 24) << 32);
            const uint64_t t23 = token(b) | (token(b >> 24) << 32);
            const auto t4 = static_cast<uint32_t>(token(c4));
            std::memcpy(buf + at, &t01, 8);
            std::memcpy(buf + at + 8, &t23, 8);
            std::memcpy(buf + at + 16, &t4, 4);
            const uint64_t s01 = at | ((at + 4) << 32);
            const uint64_t s23 = (at + 8) | ((at + 12) << 32);
            const auto s4 = static_cast<uint32_t>(at + 16);
            std::memcpy(starts + tok, &s01, 8);
            std::memcpy(starts + tok + 2, &s23, 8);
            std::memcpy(starts + tok + 4, &s4, 4);
          };
          bool ended = false;
          for (;;) {
            ended = false;
            // Ten per step while 32 bytes remain: the two 16-byte tests do not
            // wait on each other (the second counts only if the first found
            // five), which halves the chain of dependent loads along a run.
            while (end - p >= 32) {
              const unsigned first = HanRunBytes16(p);
              const unsigned second = HanRunBytes16(p + 15);
              write_five(p, w, tokens);
              write_five(p + 15, w + 20, tokens + 5);
              const unsigned bytes = first + (first == 15 ? second : 0);
              const unsigned n = (bytes * 11) >> 5;  // bytes / 3 for 0, 3, ..., 30
              tokens += n;
              w += bytes + n;
              p += bytes;
              if (bytes < 30) {
                ended = true;
                break;
              }
            }
            while (!ended && end - p >= 16) {
              const unsigned bytes = HanRunBytes16(p);
              write_five(p, w, tokens);
              const unsigned n = (bytes * 11) >> 5;  // bytes / 3 for 0, 3, ..., 15
              tokens += n;
              w += bytes + n;
              p += bytes;
              if (bytes < 15) {
                ended = true;
                break;
              }
            }
            // The run stops at a separator followed by more ideographs (a
            // sentence's punctuation: "，" is ASCII "," after NFKC, "。" stays
            // three bytes). After a CJK token a separator writes nothing, so
            // the loops go on past it here instead of through the dispatch at
            // the top, which costs a few mispredicted branches per clause.
            if (!ended || end - p < 20) break;
            const unsigned s0 = *p;
            unsigned skip = 0;
            if (s0 < 0x80) {
              skip = internal::ClassifyAscii(static_cast<unsigned char>(s0)) ==
                     internal::CharClass::kSeparator;
            } else if (s0 - 0xE0u < 0x10u) {
              const unsigned s1 = p[1], s2 = p[2];
              const uint32_t cp3 = ((s0 & 0x0Fu) << 12) | ((s1 & 0x3Fu) << 6) | (s2 & 0x3Fu);
              const bool valid = ((s1 & 0xC0u) == 0x80u) & ((s2 & 0xC0u) == 0x80u) &
                                 (cp3 >= 0x800u) & ((cp3 - 0xD800u) >= 0x800u);
              skip = valid && internal::kBmpClass[cp3] ==
                                  static_cast<uint8_t>(internal::CharClass::kSeparator)
                         ? 3
                         : 0;
            }
            if (skip == 0) break;
            std::memcpy(&x, p + skip, 4);
            if (!IsHanWord(x)) break;
            p += skip;
          }
          if (ended || end - p < 4) continue;
          std::memcpy(&x, p, 4);
          if (!IsHanWord(x)) continue;
        }
        do {
          starts[tokens++] = static_cast<Offset>(w);
          const uint32_t token = (x & 0x00FFFFFFu) | 0x20000000u;  // bytes + ' '
          std::memcpy(buf + w, &token, 4);
          w += 4;
          p += 3;
          if (end - p < 4) break;
          std::memcpy(&x, p, 4);
        } while (IsHanWord(x));
        continue;
      }
    }
    if (c >= 0xE0 && c <= 0xEF && end - p >= 3) {
      // Three-byte sequences (all CJK ideographs, Kana, Hangul, CJK punctuation)
      // without branching on the class: CJK text alternates ideographs and
      // punctuation too irregularly for the branch predictor.
      const unsigned c1 = p[1], c2 = p[2];
      const uint32_t cp3 = ((c & 0x0Fu) << 12) | ((c1 & 0x3Fu) << 6) | (c2 & 0x3Fu);
      const bool valid = (((c1 & 0xC0u) == 0x80u) & ((c2 & 0xC0u) == 0x80u) & (cp3 >= 0x800u) &
                          ((cp3 - 0xD800u) >= 0x800u)) != 0;  // not overlong, not a surrogate
      if (valid) {
        // U+4E00..U+9FFF (most of CJK text) without the table: its 20 KiB
        // stretch of kBmpClass would miss L1 on almost every character.
        const unsigned cls = cp3 - 0x4E00u < 0x5200u
                                 ? static_cast<unsigned>(internal::CharClass::kCjk)
                                 : internal::kBmpClass[cp3];
        const size_t cjk = cls == static_cast<unsigned>(internal::CharClass::kCjk);
        const size_t letter = cls == static_cast<unsigned>(internal::CharClass::kLetter);
        buf[w] = ' ';
        w += in_run & (letter ^ 1);  // a CJK character or a separator ends a run
        starts[tokens] = static_cast<Offset>(w);
        tokens += cjk | (letter & (in_run ^ 1));
        buf[w] = static_cast<char>(c);
        buf[w + 1] = static_cast<char>(c1);
        buf[w + 2] = static_cast<char>(c2);
        buf[w + 3] = ' ';
        w += (cjk | letter) * 3 + cjk;  // a CJK token keeps its trailing space
        in_run = letter;
        p += 3;
        continue;
      }
    }
    uint32_t cp;
    const size_t len = internal::DecodeUtf8(p, end, &cp);
    switch (internal::ClassifyCodePoint(cp)) {
      case internal::CharClass::kCjk:
        buf[w] = ' ';
        w += in_run;
        in_run = 0;
        starts[tokens++] = static_cast<Offset>(w);
        for (size_t i = 0; i < len; ++i) buf[w + i] = static_cast<char>(p[i]);
        buf[w + len] = ' ';
        w += len + 1;
        break;
      case internal::CharClass::kLetter:
        starts[tokens] = static_cast<Offset>(w);
        tokens += in_run ^ 1;
        in_run = 1;
        for (size_t i = 0; i < len; ++i) buf[w + i] = static_cast<char>(p[i]);
        w += len;
        break;
      case internal::CharClass::kSeparator:
        buf[w] = ' ';
        w += in_run;
        in_run = 0;
        break;
    }
    p += len;
  }
  buf[w] = ' ';
  w += in_run;
  starts[tokens] = static_cast<Offset>(w);
  return {w, tokens};
}

// The hash set behind ShingleSet: open addressing, indexed by a hash's top
// bits (shingle hashes are uniform). A slot holds 1 + the position of the
// hash in the output array (0: empty), 4 bytes, so that the table stays in
// L1 for pages of up to ~250 shingles; the hash itself is only read back on
// the rare occupied slot. The table is not cleared between pages: a slot
// holds `base` + 1 + the position, where `base` grows by the number of
// values of every page, so whatever an earlier page left (<= base) reads as
// empty. Only when `base` would wrap is the table cleared (a memset of the
// part in use cost 2-4% of the fingerprint path: 16 KiB for a 1.6 KB page).
// Whether ShingleSet hashes 8 shingles at a time (AVX-512); tests turn it
// off to compare with the one-by-one loop on the same machine.
std::atomic<bool> avx512_hashing_off{false};
bool UseAvx512Hashing() {
  return internal::CpuHasAvx512Hashing() && !avx512_hashing_off.load(std::memory_order_relaxed);
}

struct DistinctSet {
  std::vector<uint32_t> slots;
  uint32_t base = 0;
};

// Writes the shingle hashes into v[0..count) (shingle i is tokens i..i+k-1:
// the bytes from starts[i] to the space before starts[i+k]; `flatten` inlines
// XXH3's short-input paths into the loop), then keeps the first occurrence
// of every distinct one, in order, compacting v in place; returns how many.
// The hashing loop has no dependency from one shingle to the next. The table
// has at least 8 slots per value while it fits in 2^16 slots (at least 2 on
// longer pages), so a value's home slot is nearly always empty or its own:
// the empty case needs no read of any hash, and only a collision loops. A
// repeat is the rare case: a branch, which predicts better than a
// branch-free update (measured slower: it puts the table's answer on the
// path of every store).
template <typename Offset>
__attribute__((flatten)) size_t HashDistinct(const char* buf, const Offset* starts, size_t count,
                                             size_t k, uint64_t* v, DistinctSet* set) {
  size_t hashed = 0;
  if constexpr (sizeof(Offset) == 4) {
    if (UseAvx512Hashing())
      hashed = internal::avx512_kernel::HashShingles(buf, starts, count, k, v);
  }
  for (size_t i = hashed; i < count; ++i) {
    v[i] = XXH3_64bits(buf + starts[i], starts[i + k] - starts[i] - 1);
  }
  // 16 to 32 slots per value up to 2^16 slots (L2-sized tables), 8 to 16 for
  // 4,096 to 8,191 values, then 2 to 4: a long page's table must grow with
  // it (a full table would never find an empty slot), but need not stay that
  // sparse. Every collision is a mispredicted branch, as every repeat is; at
  // 8 to 16 slots per value (session 9) collisions were ~5% of the values,
  // and halving them is worth more than keeping a 5 KB page's table in L1
  // (+3-8% for ShingleSet on the zh and en streams; docs/benchmarks.md,
  // "Fingerprint stage, session 10").
  const int width = static_cast<int>(std::bit_width(count));
  const int bits = std::max(6, width + 4 <= 16 ? width + 4 : std::max(16, width + 1));
  const size_t size = size_t{1} << bits;
  const size_t mask = size - 1;
  const int shift = 64 - bits;
  if (set->slots.size() < size) set->slots.resize(size);  // new slots (0) read as empty
  if (count >= std::numeric_limits<uint32_t>::max() - set->base) {
    std::fill(set->slots.begin(), set->slots.end(), 0u);
    set->base = 0;
  }
  uint32_t* const slots = set->slots.data();
  const uint32_t base = set->base;
  size_t w = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t h = v[i];
    size_t at = static_cast<size_t>(h >> shift);
    uint32_t held = slots[at];
    while (held > base && v[held - base - 1] != h) {  // a collision: rare at <= 1/8 load
      at = (at + 1) & mask;
      held = slots[at];
    }
    if (held <= base) [[likely]] {  // a repeat (~1 in 10 on news text) is the branch's miss
      v[w] = h;
      slots[at] = base + static_cast<uint32_t>(++w);
    }
  }
  set->base = base + static_cast<uint32_t>(w);
  if (size > (size_t{1} << 16)) {  // a long page's table is not kept
    set->slots = {};
    set->base = 0;
  }
  return w;
}

struct Tokenized {
  size_t tokens = 0;
  size_t count = 0;  // shingles
  size_t span = 0;   // tokens per shingle
};

// The shingle set of the pieces joined with '\n' into *out, through the
// caller's buffers (sized for the joined text: 2 * size + 1 bytes, size + 1
// offsets); returns the number of tokens. A text of fewer than k tokens is
// one shingle of all of them.
template <typename Offset>
size_t ShingleSetInto(std::span<const std::string_view> pieces, size_t k, char* buf, Offset* starts,
                      DistinctSet* set, std::vector<uint64_t>* out) {
  JoinedTokens joined;
  for (const std::string_view piece : pieces) joined = JoinTokens(piece, buf, starts, joined);
  const size_t tokens = joined.tokens;
  const size_t span = std::min(tokens, k);
  out->resize(tokens == 0 ? 0 : tokens - span + 1);
  if (!out->empty()) out->resize(HashDistinct(buf, starts, out->size(), span, out->data(), set));
  return tokens;
}

void ReleaseBigScratch(ShingleScratch* s) {
  if (s->capacity > kKeepScratchBytes) {
    s->buf.reset();
    s->starts.reset();
    s->capacity = 0;
  }
}

// This thread's tokenizer buffers, with room for an input of `size` bytes
// (<= kMaxNarrowOffsetInput).
ShingleScratch& ThreadScratch(size_t size) {
  thread_local ShingleScratch s;
  // Worst case: every byte is a token followed by a space.
  if (s.capacity < size || !s.buf) {
    s.capacity = std::max(size, size_t{4096});
    s.buf = std::make_unique_for_overwrite<char[]>(2 * s.capacity + 1);
    s.starts = std::make_unique_for_overwrite<uint32_t[]>(s.capacity + 1);
  }
  return s;
}

DistinctSet& ThreadDistinctSet() {
  thread_local DistinctSet set;
  return set;
}

// The size of the pieces joined with one separator between two.
size_t JoinedSize(std::span<const std::string_view> pieces) {
  size_t size = pieces.empty() ? 0 : pieces.size() - 1;
  for (const std::string_view piece : pieces) size += piece.size();
  return size;
}

// ShingleSet for a matching form too long for 4-byte offsets (over 2 GiB):
// the same loops on 8-byte offsets, with buffers of its own.
size_t WideShingleSet(std::span<const std::string_view> pieces, size_t k,
                      std::vector<uint64_t>* out) {
  const size_t size = JoinedSize(pieces);
  const auto buf = std::make_unique_for_overwrite<char[]>(2 * size + 1);
  const auto starts = std::make_unique_for_overwrite<size_t[]>(size + 1);
  DistinctSet set;
  return ShingleSetInto(pieces, k, buf.get(), starts.get(), &set, out);
}

}  // namespace

void Shingles(std::string_view normalized, const ShingleOptions& options,
              std::vector<uint64_t>* out) {
  std::vector<uint64_t> set;  // not the hot path (the detector uses ShingleSet)
  ShingleSet(normalized, options, &set);
  out->insert(out->end(), set.begin(), set.end());
  internal::SortUnique(out);
}

void internal::SetAvx512HashingForTest(bool on) {
  avx512_hashing_off.store(!on, std::memory_order_relaxed);
}

void internal::SetShingleTableBaseForTest(uint32_t base) {
  ThreadDistinctSet().base = base;
}

size_t internal::ShingleSetWideOffsets(std::string_view normalized, int k,
                                       std::vector<uint64_t>* out) {
  return WideShingleSet(std::span<const std::string_view>(&normalized, 1),
                        static_cast<size_t>(std::max(1, k)), out);
}

size_t ShingleSet(std::string_view normalized, const ShingleOptions& options,
                  std::vector<uint64_t>* out) {
  return ShingleSet(std::span<const std::string_view>(&normalized, 1), options, out);
}

size_t ShingleSet(std::span<const std::string_view> pieces, const ShingleOptions& options,
                  std::vector<uint64_t>* out) {
  const size_t k = static_cast<size_t>(std::max(1, options.k));
  const size_t size = JoinedSize(pieces);
  if (size > kMaxNarrowOffsetInput) [[unlikely]] {
    return WideShingleSet(pieces, k, out);
  }
  ShingleScratch& s = ThreadScratch(size);
  const size_t tokens =
      ShingleSetInto(pieces, k, s.buf.get(), s.starts.get(), &ThreadDistinctSet(), out);
  ReleaseBigScratch(&s);
  return tokens;
}

size_t CountTokens(std::string_view normalized) {
  // The shingler's tokenizer into this thread's buffers (its 16-byte ASCII
  // and Han steps), not ForEachToken's decode-and-classify per character:
  // the detector counts the tokens of every boilerplate block, on the loop
  // thread too. Inputs too big to keep the buffers for take ForEachToken.
  if (normalized.size() > kKeepScratchBytes) {
    size_t n = 0;
    ForEachToken(normalized, [&n](std::string_view) { ++n; });
    return n;
  }
  ShingleScratch& s = ThreadScratch(normalized.size());
  return JoinTokens(normalized, s.buf.get(), s.starts.get(), JoinedTokens{}).tokens;
}

SimHash64 ComputeSimHash(std::span<const uint64_t> features) {
  if (internal::CpuHasAvx2()) return internal::SimHashAvx2(features);
  return internal::SimHashSse2(features);
}

SimHash64 ComputeSimHashNaive(std::span<const uint64_t> features) {
  int64_t v[64] = {};
  for (const uint64_t f : features) {
    for (int b = 0; b < 64; ++b) {
      if ((f >> b) & 1u) {
        ++v[b];
      } else {
        --v[b];
      }
    }
  }
  uint64_t bits = 0;
  for (int b = 0; b < 64; ++b) {
    if (v[b] > 0) bits |= uint64_t{1} << b;
  }
  return {bits};
}

ContentHash128 HashContent(std::string_view canonical) {
  const XXH128_hash_t h = XXH3_128bits(canonical.data(), canonical.size());
  return {h.low64, h.high64};
}

uint64_t Hash64(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

size_t IntersectionSize(std::span<const uint64_t> a, std::span<const uint64_t> b) {
  size_t i = 0, j = 0, n = 0;
  while (i < a.size() && j < b.size()) {
    const uint64_t x = a[i], y = b[j];
    n += x == y;
    i += x <= y;
    j += y <= x;
  }
  return n;
}

double Jaccard(std::span<const uint64_t> a, std::span<const uint64_t> b) {
  if (a.empty() && b.empty()) return 0.0;
  const size_t inter = IntersectionSize(a, b);
  return static_cast<double>(inter) / static_cast<double>(a.size() + b.size() - inter);
}

double Containment(std::span<const uint64_t> a, std::span<const uint64_t> b) {
  const size_t smaller = std::min(a.size(), b.size());
  if (smaller == 0) return 0.0;
  return static_cast<double>(IntersectionSize(a, b)) / static_cast<double>(smaller);
}

std::vector<uint64_t> BottomK(std::span<const uint64_t> sorted_set, size_t size) {
  const size_t n = std::min(size, sorted_set.size());
  return {sorted_set.begin(), sorted_set.begin() + static_cast<std::ptrdiff_t>(n)};
}

namespace {

template <typename T>
double EstimateJaccardT(std::span<const T> a, std::span<const T> b) {
  const size_t k = std::min(a.size(), b.size());
  if (k == 0) return 0.0;
  size_t i = 0, j = 0, taken = 0, both = 0;
  while (taken < k) {
    const bool has_a = i < a.size();
    const bool has_b = j < b.size();
    if (has_a && has_b && a[i] == b[j]) {
      ++both;
      ++i;
      ++j;
    } else if (has_a && (!has_b || a[i] < b[j])) {
      ++i;
    } else {
      ++j;
    }
    ++taken;
  }
  return static_cast<double>(both) / static_cast<double>(k);
}

template <typename T>
double EstimateContainmentT(std::span<const T> a, size_t size_a, std::span<const T> b,
                            size_t size_b, size_t* samples = nullptr) {
  if (samples != nullptr) *samples = 0;
  if (size_a == 0 || size_b == 0 || a.empty() || b.empty()) return 0.0;
  std::span<const T> small = a, large = b;
  size_t large_size = size_b;
  if (size_b < size_a) {
    std::swap(small, large);
    large_size = size_a;
  }
  const T threshold = large.size() >= large_size ? std::numeric_limits<T>::max() : large.back();
  size_t sample = 0, i = 0, j = 0, both = 0;
  for (; i < small.size() && small[i] <= threshold; ++i) {
    ++sample;
    while (j < large.size() && large[j] < small[i]) ++j;
    both += j < large.size() && large[j] == small[i];
  }
  if (samples != nullptr) *samples = sample;
  if (sample == 0) return 0.0;
  return static_cast<double>(both) / static_cast<double>(sample);
}

}  // namespace

double EstimateJaccard(std::span<const uint64_t> sketch_a, std::span<const uint64_t> sketch_b) {
  return EstimateJaccardT(sketch_a, sketch_b);
}

double EstimateContainment(std::span<const uint64_t> sketch_a, size_t set_size_a,
                           std::span<const uint64_t> sketch_b, size_t set_size_b) {
  return EstimateContainmentT(sketch_a, set_size_a, sketch_b, set_size_b);
}

void BottomK32(std::span<const uint64_t> set, size_t k, std::vector<uint32_t>* out) {
  out->clear();
  if (k == 0 || set.empty()) return;
  if (set.size() <= k) {
    out->resize(set.size());
    for (size_t i = 0; i < set.size(); ++i) (*out)[i] = static_cast<uint32_t>(set[i] >> 32);
  } else {
    // The hashes are uniform, so the k-th smallest of n lies near k/n of the
    // range: keep only the hashes under twice that (a branch-free filtering
    // pass), then select among those few; widen the bound in the rare case
    // it keeps fewer than k. Truncating to the top halves keeps the order of
    // the 64-bit hashes (up to ties).
    // The bound expects k + 4 sqrt(k) + 16 values (112 for k = 64): fewer
    // than k is a 4.5-sigma event (the count is binomial), and every value
    // more is work for nth_element. Which hashes pass depends only on the
    // bound, so the result is the same with either filtering kernel and any
    // bound that keeps k.
    thread_local std::vector<uint32_t> scratch;
    scratch.resize(set.size());
    const auto spread = static_cast<uint64_t>(4 * std::sqrt(static_cast<double>(k)));
    uint64_t bound = (~uint64_t{0} / set.size()) * std::min<uint64_t>(k + spread + 16, set.size());
    const bool avx2 = internal::CpuHasAvx2();
    size_t kept = 0;
    for (;;) {
      kept = avx2 ? internal::FilterTopHalvesAvx2(set, bound, scratch.data())
                  : internal::FilterTopHalvesScalar(set, bound, scratch.data());
      if (kept >= k) break;
      bound = bound > ~uint64_t{0} / 2 ? ~uint64_t{0} : bound * 2;
    }
    internal::SortUniform32(scratch.data(), kept, static_cast<uint32_t>(bound >> 32));
    out->assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k));
    out->erase(std::unique(out->begin(), out->end()), out->end());
    return;
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void internal::SortUniform32(uint32_t* v, size_t n, uint32_t top) {
  // A counting sort on the values' place in [0, top] (buckets in order, one
  // or two values each), then one insertion pass that fixes the few
  // inversions inside buckets. nth_element + std::sort of the k smallest
  // cost 3.5% of `dedupd scan` (~1 mispredicted branch per comparison on
  // random values); this has almost none (docs/fingerprint.md).
  if (n < 2) return;
  // A widened bound on a huge set, or a range too narrow for the scale
  // below (a set of ~2^30 hashes): not the hot path.
  if (n > (size_t{1} << 16) || top < (uint32_t{1} << 24)) {
    std::sort(v, v + n);
    return;
  }
  struct Scratch {
    std::vector<uint32_t> tmp;
    std::vector<uint32_t> start;
  };
  thread_local Scratch scratch;
  // 1 to 2 buckets per value.
  const int bits = std::clamp(static_cast<int>(std::bit_width(n)), 4, 17);
  const size_t buckets = size_t{1} << bits;
  // bucket(x) = floor(x * scale / 2^32) with scale = floor(buckets * 2^32 /
  // (top + 1)): monotone in x, and < buckets for x <= top. scale < 2^26 with
  // top >= 2^24, so x * scale fits in 64 bits.
  const uint64_t scale = (uint64_t{buckets} << 32) / (uint64_t{top} + 1);
  const auto bucket = [scale](uint32_t x) { return static_cast<size_t>((x * scale) >> 32); };
  std::vector<uint32_t>& start = scratch.start;
  start.assign(buckets + 1, 0);
  for (size_t i = 0; i < n; ++i) ++start[bucket(v[i]) + 1];
  uint32_t largest = 0;
  for (size_t b = 1; b <= buckets; ++b) {
    largest = std::max(largest, start[b]);
    start[b] += start[b - 1];
  }
  if (scratch.tmp.size() < n) scratch.tmp.resize(n);
  uint32_t* const tmp = scratch.tmp.data();
  for (size_t i = 0; i < n; ++i) tmp[start[bucket(v[i])]++] = v[i];  // start[b] := end of b
  if (largest > 16) {
    // Values crowded into few buckets (not uniform on [0, top]): sort the
    // big buckets on their own so that the insertion pass stays linear.
    uint32_t from = 0;
    for (size_t b = 0; b < buckets; ++b) {
      if (start[b] - from > 16) std::sort(tmp + from, tmp + start[b]);
      from = start[b];
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t x = tmp[i];
    size_t j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      --j;
    }
    v[j] = x;
  }
}

SketchEstimate CompareSketches(std::span<const uint32_t> a, size_t set_size_a,
                               std::span<const uint32_t> b, size_t set_size_b) {
  SketchEstimate e;
  if (set_size_a == 0 || set_size_b == 0 || a.empty() || b.empty()) return e;
  if (a.size() >= set_size_a && b.size() >= set_size_b) {
    // Both sketches hold their whole sets: the exact set algebra.
    size_t i = 0, j = 0, n = 0;
    while (i < a.size() && j < b.size()) {
      n += a[i] == b[j];
      const uint32_t x = a[i], y = b[j];
      i += x <= y;
      j += y <= x;
    }
    e.containment = static_cast<double>(n) / static_cast<double>(std::min(a.size(), b.size()));
    e.jaccard = static_cast<double>(n) / static_cast<double>(a.size() + b.size() - n);
    return e;
  }
  // Two estimates of the containment, the one with the smaller variance
  // wins (docs/fingerprint.md, "Confirmation sketch"): (1) the smaller set's
  // sketch values under the larger sketch's largest value, tested for
  // membership (a binomial sample of the containment); (2) from the Jaccard
  // estimate (k samples of the union) and the exact set sizes, since
  // |A∩B| = J(|A|+|B|)/(1+J). (2) has more samples but its slope grows as the
  // sizes drift apart, so (1) wins for sets of very different sizes.
  const double k = static_cast<double>(std::min(a.size(), b.size()));
  const double j = EstimateJaccardT(a, b);
  e.jaccard = j;
  const auto small_size = static_cast<double>(std::min(set_size_a, set_size_b));
  const auto sum = static_cast<double>(set_size_a + set_size_b);
  const double via_j = std::min(1.0, j * sum / ((1.0 + j) * small_size));
  const double slope = sum / (small_size * (1.0 + j) * (1.0 + j));
  const double var_j = slope * slope * std::max(j * (1.0 - j), 1.0 / k) / k;
  size_t samples = 0;
  const double direct = EstimateContainmentT(a, set_size_a, b, set_size_b, &samples);
  const double n = static_cast<double>(std::max<size_t>(samples, 1));
  const double var_direct = std::max(direct * (1.0 - direct), 1.0 / n) / n;
  e.containment = samples == 0 || var_j < var_direct ? via_j : direct;
  return e;
}

}  // namespace dedupd::fingerprint
