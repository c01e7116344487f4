// Sentence rules: see segment.h and docs/text.md ("Sentences").
#include "text/segment.h"

#include <emmintrin.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>

#include "common/target.h"
#include "text/internal/utf8.h"

namespace dedupd::text {
namespace {

using internal::Decoded;
using internal::DecodeUtf8;
using internal::IsCjkSpacing;
using internal::IsWhiteSpace;
using internal::IsZeroWidth;

enum class Terminator { kNone, kAscii, kWide };

constexpr std::array<bool, 256> MakeCandidates() {
  std::array<bool, 256> t{};
  for (const unsigned char c : {'.', '!', '?', ';'}) t[c] = true;
  t[0xE3] = true;
  t[0xEF] = true;
  return t;
}
constexpr std::array<bool, 256> kCandidate = MakeCandidates();

Terminator TerminatorOf(char32_t cp) {
  switch (cp) {
    case '.':
    case '!':
    case '?':
    case ';': return Terminator::kAscii;
    case 0x3002:  // 。
    case 0xFF01:  // ！
    case 0xFF1F:  // ？
    case 0xFF1B:  // ；
    case 0xFF61:  // ｡ half-width ideographic full stop
      return Terminator::kWide;
    default: return Terminator::kNone;
  }
}

bool IsCloser(char32_t cp) {
  switch (cp) {
    case '"':
    case '\'':
    case ')':
    case ']':
    case 0x201D:  // ”
    case 0x2019:  // ’
    case 0x00BB:  // »
    case 0x300D:  // 」
    case 0x300F:  // 』
    case 0xFF09:  // ）
    case 0xFF3D:  // ］
    case 0xFF02:  // ＂
    case 0xFF07:  // ＇
    case 0x3011:  // 】
    case 0x300B:  // 》
    case 0x3009:  // 〉
    case 0x3015:  // 〕
    case 0x3017:  // 〗
      return true;
    default: return false;
  }
}

bool IsAsciiAlpha(unsigned char c) {
  return static_cast<unsigned>((c | 0x20) - 'a') < 26u;
}

char AsciiLower(char c) {
  return static_cast<unsigned>(c - 'A') < 26u ? static_cast<char>(c + 32) : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// Words that are written with a period and rarely end a sentence. Compared
// case-insensitively; "No" only when capitalised ("No. 5" vs "the answer is no.").
constexpr std::string_view kAbbreviations[] = {
    "mr",   "mrs",  "ms",   "dr",   "prof", "sr",  "jr",     "st",  "mt",     "ft",
    "gen",  "gov",  "sen",  "rep",  "rev",  "hon", "capt",   "col", "lt",     "sgt",
    "adm",  "maj",  "pres", "supt", "cmdr", "inc", "ltd",    "co",  "corp",   "llc",
    "plc",  "bros", "dept", "univ", "assn", "vs",  "etc",    "al",  "approx", "est",
    "fig",  "figs", "nos",  "vol",  "vols", "pp",  "pg",     "ed",  "eds",    "cf",
    "viz",  "ca",   "jan",  "feb",  "mar",  "apr", "jun",    "jul", "aug",    "sep",
    "sept", "oct",  "nov",  "dec",  "esq",  "ph",  "messrs", "mme", "mlle",   "op"};

// True when the '.' at `dot` ends a Latin abbreviation or an initial.
bool EndsAbbreviation(std::string_view block, size_t dot) {
  size_t begin = dot;
  while (begin > 0) {
    const auto c = static_cast<unsigned char>(block[begin - 1]);
    if (!IsAsciiAlpha(c) && c != '.') break;
    --begin;
  }
  const std::string_view token = block.substr(begin, dot - begin);
  if (token.empty()) return false;
  if (token.find('.') != std::string_view::npos) return true;                 // U.S. e.g. i.e. a.m.
  if (token.size() == 1) return static_cast<unsigned>(token[0] - 'A') < 26u;  // J. Smith
  if (token == "No" || token == "NO") return true;
  return std::any_of(std::begin(kAbbreviations), std::end(kAbbreviations),
                     [&](std::string_view a) { return EqualsIgnoreCase(token, a); });
}

[[gnu::always_inline]] inline Decoded DecodeAt(std::string_view s, size_t i) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  return DecodeUtf8(b + i, b + s.size());
}

bool IsTrimmed(char32_t cp) {
  return IsWhiteSpace(cp) || IsZeroWidth(cp);
}

// Trims whitespace and zero-width characters from both ends of [begin, end).
std::string_view Trim(std::string_view s, size_t begin, size_t end) {
  while (begin < end) {
    const Decoded d = DecodeAt(s, begin);
    if (!d.valid || !IsTrimmed(d.cp)) break;
    begin += d.len;
  }
  while (end > begin) {
    // Step back to the start of the last code point (at most 4 bytes).
    size_t start = end - 1;
    while (start > begin && end - start < 4 &&
           (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    const Decoded d = DecodeAt(s, start);
    if (!d.valid || start + d.len != end || !IsTrimmed(d.cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// Trim, with the common sentence decided from one byte at each end: it starts
// with printable ASCII other than the space, or with a lead byte E4..E9
// (U+4000..U+9FFF, or an ill-formed sequence: Trim stops at either), and
// ends with printable ASCII, a well-formed E4..E9 sequence or 。(E3 80 82),
// none of which is White_Space or zero-width. Anything else goes to Trim.
std::string_view TrimFast(std::string_view s, size_t begin, size_t end) {
  if (end - begin >= 3) {
    const auto at = [&s](size_t i) {
      return static_cast<unsigned>(static_cast<unsigned char>(s[i]));
    };
    const unsigned first = at(begin);
    const unsigned last = at(end - 1);
    const bool keep_first = first - 0x21u < 0x5Eu || first - 0xE4u < 6u;
    bool keep_last = last - 0x21u < 0x5Eu;
    if (!keep_last && (last & 0xC0u) == 0x80u && (at(end - 2) & 0xC0u) == 0x80u) {
      const unsigned lead = at(end - 3);
      keep_last = lead - 0xE4u < 6u || (lead == 0xE3u && at(end - 2) == 0x80u && last == 0x82u);
    }
    if (keep_first && keep_last) return s.substr(begin, end - begin);
  }
  return Trim(s, begin, end);
}

// kFast: TrimFast (the reference splitter keeps Trim, so that the tests
// comparing the two check TrimFast too).
template <bool kFast>
void Push(std::vector<std::string_view>* out, std::string_view block, size_t begin, size_t end) {
  const std::string_view t = kFast ? TrimFast(block, begin, end) : Trim(block, begin, end);
  if (!t.empty()) out->push_back(t);
}

// True iff a terminator starts at b[i]: . ! ? ; or the exact bytes of 。(E3 80
// 82) ！(EF BC 81) ？(EF BC 9F) ；(EF BC 9B) ｡(EF BD A1). A well-formed
// sequence decodes to one of those code points iff it is one of those byte
// strings, and an ill-formed one decodes to U+FFFD, which ends nothing.
[[gnu::always_inline]] inline bool TerminatorAt(const unsigned char* b, size_t i, size_t n) {
  const unsigned c = b[i];
  if (c < 0x80) return c == '.' || c == '!' || c == '?' || c == ';';
  if (n - i < 3) return false;
  if (c == 0xE3) return b[i + 1] == 0x80 && b[i + 2] == 0x82;
  if (c != 0xEF) return false;
  if (b[i + 1] == 0xBC) return b[i + 2] == 0x81 || b[i + 2] == 0x9F || b[i + 2] == 0x9B;
  return b[i + 1] == 0xBD && b[i + 2] == 0xA1;
}

// The bits of the terminator starts among b[0..16) (b[0..18) readable): the
// test of TerminatorAt on 16 positions at once. SSE2, which every x86-64 has.
[[gnu::always_inline]] inline unsigned TerminatorMask16(const unsigned char* b) {
  const auto load = [](const unsigned char* at) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  };
  const auto eq = [](__m128i v, unsigned char c) {
    return _mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(c)));
  };
  const __m128i v0 = load(b);
  const __m128i v1 = load(b + 1);
  const __m128i v2 = load(b + 2);
  const __m128i ascii =
      _mm_or_si128(_mm_or_si128(eq(v0, '.'), eq(v0, '!')), _mm_or_si128(eq(v0, '?'), eq(v0, ';')));
  const __m128i full_stop = _mm_and_si128(eq(v0, 0xE3), _mm_and_si128(eq(v1, 0x80), eq(v2, 0x82)));
  const __m128i bc = _mm_and_si128(
      eq(v1, 0xBC), _mm_or_si128(eq(v2, 0x81), _mm_or_si128(eq(v2, 0x9F), eq(v2, 0x9B))));
  const __m128i bd = _mm_and_si128(eq(v1, 0xBD), eq(v2, 0xA1));
  const __m128i wide = _mm_and_si128(eq(v0, 0xEF), _mm_or_si128(bc, bd));
  return static_cast<unsigned>(
      _mm_movemask_epi8(_mm_or_si128(ascii, _mm_or_si128(full_stop, wide))));
}

// The next terminator start at or after i, or n. Every candidate byte is a
// lead byte or ASCII, so a match is always the start of a character.
size_t NextTerminator(const unsigned char* b, size_t i, size_t n) {
  while (n - i >= 18) {
    const unsigned mask = TerminatorMask16(b + i);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 16;
  }
  for (; i < n; ++i) {
    if (TerminatorAt(b, i, n)) return i;
  }
  return n;
}

// Everything defined until DEDUPD_TARGET_END is compiled for AVX2, and only
// called when the CPU has it: the default build runs on any x86-64.
DEDUPD_TARGET_BEGIN("avx2")
// TerminatorMask16 on 32 positions (b[0..34) readable).
[[gnu::always_inline]] inline __m256i Eq32(__m256i v, unsigned char c) {
  return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(static_cast<char>(c)));
}

// TerminatorMask16 on 32 positions (b[0..34) readable).
[[gnu::always_inline]] inline unsigned TerminatorMask32(const unsigned char* b) {
  const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 1));
  const __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
  const __m256i ascii = _mm256_or_si256(_mm256_or_si256(Eq32(v0, '.'), Eq32(v0, '!')),
                                        _mm256_or_si256(Eq32(v0, '?'), Eq32(v0, ';')));
  const __m256i full_stop =
      _mm256_and_si256(Eq32(v0, 0xE3), _mm256_and_si256(Eq32(v1, 0x80), Eq32(v2, 0x82)));
  const __m256i bc = _mm256_and_si256(
      Eq32(v1, 0xBC),
      _mm256_or_si256(Eq32(v2, 0x81), _mm256_or_si256(Eq32(v2, 0x9F), Eq32(v2, 0x9B))));
  const __m256i bd = _mm256_and_si256(Eq32(v1, 0xBD), Eq32(v2, 0xA1));
  const __m256i wide = _mm256_and_si256(Eq32(v0, 0xEF), _mm256_or_si256(bc, bd));
  return static_cast<unsigned>(
      _mm256_movemask_epi8(_mm256_or_si256(ascii, _mm256_or_si256(full_stop, wide))));
}

// NextTerminator, 32 bytes a step while 34 remain, then as NextTerminator.
size_t NextTerminatorAvx2(const unsigned char* b, size_t i, size_t n) {
  while (n - i >= 34) {
    const unsigned mask = TerminatorMask32(b + i);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 32;
  }
  return NextTerminator(b, i, n);
}
DEDUPD_TARGET_END

bool CpuHasAvx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

enum class Scan { kReference, kSse2, kAvx2 };

// The splitter. kScan picks how terminators are found: kSse2 and kAvx2 16 or
// 32 bytes at a time (NextTerminator, NextTerminatorAvx2); kReference decodes
// every candidate lead byte (the reference loop, which the fast ones must
// agree with: internal::SplitSentencesReference).
template <Scan kScan>
void Split(std::string_view block, std::vector<std::string_view>* out) {
  const size_t n = block.size();
  size_t start = 0;
  size_t i = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(block.data());
  while (i < n) {
    if constexpr (kScan == Scan::kAvx2) {
      i = NextTerminatorAvx2(bytes, i, n);
    } else if constexpr (kScan == Scan::kSse2) {
      i = NextTerminator(bytes, i, n);
    } else {
      // Only . ! ? ; and the lead bytes of 。 (E3) and ！？；｡ (EF) can start a
      // terminator; lead bytes are never continuation bytes, so skipping to
      // the next candidate always lands on the start of a character.
      while (i < n && !kCandidate[bytes[i]]) ++i;
    }
    if (i >= n) break;
    const Decoded d = DecodeAt(block, i);
    const Terminator t = TerminatorOf(d.cp);
    if (t == Terminator::kNone) {
      i += d.len;
      continue;
    }
    const size_t term = i;
    bool wide = t == Terminator::kWide;
    bool single_dot = d.cp == '.';
    bool only_dots = single_dot;
    size_t j = i + d.len;
    while (j < n) {  // a run of terminators: "?!", "...", "！？"
      const Decoded e = DecodeAt(block, j);
      const Terminator te = TerminatorOf(e.cp);
      if (te == Terminator::kNone) break;
      wide = wide || te == Terminator::kWide;
      only_dots = only_dots && e.cp == '.';
      single_dot = false;
      j += e.len;
    }
    while (j < n) {  // closing quotes and brackets stay with the sentence
      const Decoded e = DecodeAt(block, j);
      if (!IsCloser(e.cp)) break;
      j += e.len;
    }

    bool split = true;
    if (!wide && j < n) {
      const Decoded next = DecodeAt(block, j);
      split = IsWhiteSpace(next.cp) || IsZeroWidth(next.cp) || IsCjkSpacing(next.cp);
      if (split && single_dot && EndsAbbreviation(block, term)) split = false;
      if (split && only_dots) {
        // "approx. five", "Wait... what": a lowercase word continues the sentence.
        size_t k = j;
        while (k < n) {
          const Decoded e = DecodeAt(block, k);
          if (!IsTrimmed(e.cp)) break;
          k += e.len;
        }
        if (k < n && static_cast<unsigned>(block[k] - 'a') < 26u) split = false;
      }
    }
    if (split) {
      Push<kScan != Scan::kReference>(out, block, start, j);
      start = j;
    }
    i = j;
  }
  Push<kScan != Scan::kReference>(out, block, start, n);
}

}  // namespace

std::vector<std::string_view> SplitSentences(std::string_view block) {
  std::vector<std::string_view> out;
  SplitSentencesInto(block, &out);
  return out;
}

void SplitSentencesInto(std::string_view block, std::vector<std::string_view>* out) {
  if (CpuHasAvx2()) {
    Split<Scan::kAvx2>(block, out);
  } else {
    Split<Scan::kSse2>(block, out);
  }
}

void internal::SplitSentencesReference(std::string_view block, std::vector<std::string_view>* out) {
  Split<Scan::kReference>(block, out);
}

void internal::SplitSentencesSse2(std::string_view block, std::vector<std::string_view>* out) {
  Split<Scan::kSse2>(block, out);
}

}  // namespace dedupd::text
