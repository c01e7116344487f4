// Page fingerprints: script-aware tokens, k-token shingles hashed with XXH3-64,
// a 64-bit SimHash over the shingle set, XXH3-128 content hashes, and the set
// algebra (exact and bottom-k estimates) that confirms near-duplicate candidates.
//
//   std::vector<uint64_t> shingles;
//   fingerprint::Shingles(normalized_text, {}, &shingles);   // sorted, unique
//   SimHash64 sh = fingerprint::ComputeSimHash(shingles);
//
// Thread-safety: every function is reentrant; concurrent calls from several
// threads are safe (scratch buffers are thread_local).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace dedupd::fingerprint {

struct ShingleOptions {
  int k = 4;  // tokens per shingle; values < 1 are treated as 1
};

// Input is already normalised text (lower-case, NFKC, punctuation unified,
// spaces collapsed; the text stage does that).
//
// Tokens: each Han / Kana / Hangul / Yi / other CJK code point is one token; a
// run of letters and digits of other scripts (Latin, Cyrillic, Greek, digits,
// any non-CJK non-punctuation code point, and every byte of invalid UTF-8) is
// one token; spaces, punctuation and symbols separate tokens and are dropped.
// docs/fingerprint.md lists the ranges.
//
// Appends to *out the XXH3-64 hashes of all k-token shingles, then sorts and
// deduplicates the whole of *out (a SET). A shingle's hash is
// XXH3_64bits(token_1 + " " + token_2 + ... + " " + token_k): the space never
// occurs inside a token. A text with 1..k-1 tokens gives one shingle of all its
// tokens; a text without tokens gives none.
void Shingles(std::string_view normalized, const ShingleOptions& options,
              std::vector<uint64_t>* out);

// The same shingle hashes as a set in no particular order (first occurrence
// first): *out is replaced by the distinct hashes. Returns the number of
// tokens in the text (CountTokens). Cheaper than Shingles() (no sort): the
// hot path, for SimHash, which ignores order; sort the result (std::sort) before
// the set algebra below, which needs sorted sets.
size_t ShingleSet(std::string_view normalized, const ShingleOptions& options,
                  std::vector<uint64_t>* out);
// The same for the pieces joined with '\n' (a page's blocks), without
// joining them: no piece's bytes are copied but into the tokenizer's own
// buffer. Equal to ShingleSet on the joined text.
size_t ShingleSet(std::span<const std::string_view> pieces, const ShingleOptions& options,
                  std::vector<uint64_t>* out);

// Number of tokens Shingles() sees in the text.
size_t CountTokens(std::string_view normalized);

// Calls fn(token) for every token in order (tokens are views into `normalized`).
template <typename Fn>
void ForEachToken(std::string_view normalized, Fn&& fn);

// 64-bit SimHash (Charikar 2002) over a set of 64-bit feature hashes, every
// feature with weight 1: bit b is set iff more features have bit b set than
// clear (a tie gives 0). An empty set gives 0.
SimHash64 ComputeSimHash(std::span<const uint64_t> features);
// Reference: 64 counters, one branch per bit and feature. For tests and the benchmark.
SimHash64 ComputeSimHashNaive(std::span<const uint64_t> features);

ContentHash128 HashContent(std::string_view canonical);  // XXH3-128
uint64_t Hash64(std::string_view bytes);                 // XXH3-64

// Set algebra on sorted unique vectors.
size_t IntersectionSize(std::span<const uint64_t> a, std::span<const uint64_t> b);
double Jaccard(std::span<const uint64_t> a, std::span<const uint64_t> b);  // 0 if both empty
// |a∩b| / min(|a|,|b|); 0 if either is empty.
double Containment(std::span<const uint64_t> a, std::span<const uint64_t> b);

// A bounded sketch of a shingle set for storing per URL: the `size` smallest
// hashes (bottom-k, Broder 1997), sorted. `sorted_set` must be sorted and unique.
std::vector<uint64_t> BottomK(std::span<const uint64_t> sorted_set, size_t size);

// Jaccard estimate from two bottom-k sketches (sizes may differ): the k =
// min(|sketch_a|, |sketch_b|) smallest hashes of the union of the sketches are
// a uniform sample of A∪B; the estimate is the share of them found in both.
double EstimateJaccard(std::span<const uint64_t> sketch_a, std::span<const uint64_t> sketch_b);
// Containment estimate |A∩B| / min(|A|,|B|) from the sketches and the exact set
// sizes. The smaller set's sketch is the sample; only its hashes at or below
// the larger sketch's largest hash can be tested for membership (all of them
// when the larger sketch holds its whole set). Exact when both sketches hold
// their whole sets.
double EstimateContainment(std::span<const uint64_t> sketch_a, size_t set_size_a,
                           std::span<const uint64_t> sketch_b, size_t set_size_b);

// The confirmation sketch stored with every indexed page (docs/fingerprint.md,
// "Confirmation sketch"): the top 32 bits of the `k` smallest hashes of a
// shingle set (bottom-k), sorted and distinct, so 4 bytes per value. `set` is
// the distinct shingle hashes in any order (ShingleSet's output); *out is
// replaced. Allocates nothing once *out has grown to k (a thread_local scratch
// holds the copy that nth_element reorders).
void BottomK32(std::span<const uint64_t> set, size_t k, std::vector<uint32_t>* out);
struct SketchEstimate {
  double containment = 0;  // |A∩B| / min(|A|,|B|)
  double jaccard = 0;      // |A∩B| / |A∪B|
};
// Containment and Jaccard of two shingle sets from their BottomK32 sketches
// and the sets' sizes. Exact (up to 32-bit collisions) when both sketches hold
// their whole sets; otherwise Jaccard is the bottom-k union estimate
// (EstimateJaccard) and containment samples the smaller set's sketch below
// the larger sketch's largest value (EstimateContainment). 0/0 if either set
// is empty.
SketchEstimate CompareSketches(std::span<const uint32_t> a, size_t set_size_a,
                               std::span<const uint32_t> b, size_t set_size_b);

// ---------------------------------------------------------------------------
// Implementation details exposed for the tokenizer template, tests and benchmarks.
namespace internal {

enum class CharClass : uint8_t {
  kSeparator,  // spaces, punctuation, symbols: dropped
  kLetter,     // letters/digits of scripts written with spaces: runs form a token
  kCjk,        // Han, Kana, Hangul, Yi, Bopomofo: one token per code point
};

// Class of every BMP code point (CharClass values), built at compile time from
// the range list in fingerprint.cc.
extern const std::array<uint8_t, 0x10000> kBmpClass;
CharClass ClassifySupplementary(uint32_t cp);

// Class of a code point (any value; > 0x10FFFF is a letter, like invalid bytes).
inline CharClass ClassifyCodePoint(uint32_t cp) {
  return cp < 0x10000 ? static_cast<CharClass>(kBmpClass[cp]) : ClassifySupplementary(cp);
}

// Decodes one UTF-8 sequence at p (p < end). Returns its length in bytes and
// sets *cp; an invalid or truncated sequence returns 1 and sets *cp to
// 0xFFFFFFFF (classified as a letter byte).
inline size_t DecodeUtf8(const unsigned char* p, const unsigned char* end, uint32_t* cp);

// The accumulation kernels behind ComputeSimHash, exposed so that tests can
// check every one of them against the naive reference on this machine.
SimHash64 SimHashScalar(std::span<const uint64_t> features);  // portable 64-bit carry-save
SimHash64 SimHashSse2(std::span<const uint64_t> features);    // x86-64 baseline
bool CpuHasAvx2();
SimHash64 SimHashAvx2(std::span<const uint64_t> features);  // only if CpuHasAvx2()

// BottomK32's filtering pass: writes the top halves of the hashes <= bound,
// in order, to out (room for hashes.size() values) and returns how many.
// The AVX2 kernel only if CpuHasAvx2(); tests check it against the scalar one.
size_t FilterTopHalvesScalar(std::span<const uint64_t> hashes, uint64_t bound, uint32_t* out);
size_t FilterTopHalvesAvx2(std::span<const uint64_t> hashes, uint64_t bound, uint32_t* out);

// Sorts v[0..n) ascending; every value must be <= top. Made for values spread
// evenly over [0, top] (BottomK32's filtered top halves): a counting sort on
// the values' place in the range and an insertion pass. Values crowded in a
// part of the range still sort right, only slower.
void SortUniform32(uint32_t* v, size_t n, uint32_t top);

// ShingleSet hashes its shingles 8 at a time with AVX-512 (F, DQ, VL, BW) when
// the CPU has them: those 9 to 16 bytes long (XXH3's 9-16 byte path: four
// CJK characters and three spaces are 15) and those 17 to 32 bytes long
// (XXH3's 17-128 byte path: most four-word English shingles) in the vector
// lanes, the others one by one.
bool CpuHasAvx512Hashing();
// XXH3_64bits of base + from[j] (len[j] bytes, 9..16) for j < 8, into out[j]:
// that kernel, only if CpuHasAvx512Hashing().
void Xxh3Len9To16Avx512(const char* base, const uint32_t* from, const uint32_t* len, uint64_t* out);
// The same for len[j] of 17..32 bytes.
void Xxh3Len17To32Avx512(const char* base, const uint32_t* from, const uint32_t* len,
                         uint64_t* out);
// Off: ShingleSet hashes one by one (for tests comparing the two). Global.
void SetAvx512HashingForTest(bool on);

// ShingleSet with 8-byte token offsets, the path it takes for a matching
// form over 2 GiB; exposed so that tests can check it on ordinary inputs.
size_t ShingleSetWideOffsets(std::string_view normalized, int k, std::vector<uint64_t>* out);

// ShingleSet's distinct-hash table is not cleared between pages: its slots
// hold an offset that grows page after page, and the table is cleared when
// it would wrap. This sets this thread's offset, so that tests can reach the
// wrap without 4 billion shingles.
void SetShingleTableBaseForTest(uint32_t base);

// Sorts and deduplicates a vector of (uniformly distributed) hashes: one MSD
// radix pass on the top bits, then small sorts per bucket.
void SortUnique(std::vector<uint64_t>* v);

inline size_t DecodeUtf8(const unsigned char* p, const unsigned char* end, uint32_t* cp) {
  const unsigned b0 = p[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  const size_t avail = static_cast<size_t>(end - p);
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail >= 2 && (p[1] & 0xC0) == 0x80) {
      *cp = ((b0 & 0x1Fu) << 6) | (p[1] & 0x3Fu);
      return 2;
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
      const uint32_t c = ((b0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
      if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {  // not overlong, not a surrogate
        *cp = c;
        return 3;
      }
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail >= 4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
      const uint32_t c =
          ((b0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
      if (c >= 0x10000 && c <= 0x10FFFF) {
        *cp = c;
        return 4;
      }
    }
  }
  *cp = 0xFFFFFFFFu;
  return 1;
}

// Class of an ASCII byte: letters and digits are letters, everything else separates.
constexpr CharClass ClassifyAscii(unsigned char c) {
  const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
  return alnum ? CharClass::kLetter : CharClass::kSeparator;
}

}  // namespace internal

template <typename Fn>
void ForEachToken(std::string_view normalized, Fn&& fn) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(normalized.data());
  const auto* const end = begin + normalized.size();
  const unsigned char* p = begin;
  const unsigned char* run = nullptr;  // start of the current letter run
  while (p < end) {
    internal::CharClass cls;
    size_t len = 1;
    if (*p < 0x80) {
      cls = internal::ClassifyAscii(*p);
    } else {
      uint32_t cp;
      len = internal::DecodeUtf8(p, end, &cp);
      cls = internal::ClassifyCodePoint(cp);
    }
    switch (cls) {
      case internal::CharClass::kLetter:
        if (run == nullptr) run = p;
        break;
      case internal::CharClass::kSeparator:
        if (run != nullptr) {
          fn(normalized.substr(static_cast<size_t>(run - begin), static_cast<size_t>(p - run)));
          run = nullptr;
        }
        break;
      case internal::CharClass::kCjk:
        if (run != nullptr) {
          fn(normalized.substr(static_cast<size_t>(run - begin), static_cast<size_t>(p - run)));
          run = nullptr;
        }
        fn(normalized.substr(static_cast<size_t>(p - begin), len));
        break;
    }
    p += len;
  }
  if (run != nullptr) {
    fn(normalized.substr(static_cast<size_t>(run - begin), static_cast<size_t>(end - run)));
  }
}

}  // namespace dedupd::fingerprint
