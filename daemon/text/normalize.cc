// Normalisation: a tight loop over ASCII and the common CJK ranges, utf8proc
// only for the code points that need it. See docs/text.md ("Normalisation").
#include "text/normalize.h"

#include <emmintrin.h>
#include <immintrin.h>
#include <simdjson.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/han_run.h"
#include "common/target.h"
#include "text/internal/utf8.h"
#include "text/segment.h"

namespace dedupd::text {
namespace {

using internal::Decoded;
using internal::DecodeUtf8;
using internal::EncodeUtf8;
using internal::IsCjkSpacing;
using internal::IsWhiteSpace;
using internal::IsZeroWidth;

// kBoth: the matching form and the content key in one pass (the fast paths
// only: NormalizeImpl returns false where the two would need utf8proc).
enum class Form { kMatch, kKey, kBoth };

// Spare output bytes kept beyond "one output byte per remaining input byte".
// The fast path never writes more bytes than it consumes, except for the one
// space that a consumed whitespace run paid for; the slow path re-checks.
constexpr size_t kSlack = 16;

// How the main loop treats one code point.
enum class Kind : uint8_t {
  kCopyCjk,    // NFKC_Casefold-stable, written as is, CJK for the spacing rule
  kCopy,       // NFKC_Casefold-stable, written as is, not CJK (Hangul)
  kFullWidth,  // U+FF01..U+FF5E: NFKC maps it to ASCII (cp - 0xFEE0)
  kStable,     // NFKC_Casefold-stable punctuation: through EmitCp (unification)
  kEllipsis,   // U+2026: NFKC gives "..."
  kSpace,      // White_Space
  kRemove,     // control, zero-width, format: dropped before normalisation
  kSlow,       // anything else: utf8proc
};

// Punctuation that is NFKC_Casefold-stable, never the second half of a
// canonical composition, and common in Chinese and English text. The unit
// test FastPathTablesAgreeWithUtf8proc checks every entry against utf8proc.
inline bool IsFastStablePunct(char32_t cp) {
  return (cp >= 0x3001 && cp <= 0x3011) || (cp >= 0x3014 && cp <= 0x301F) || cp == 0x2010 ||
         (cp >= 0x2012 && cp <= 0x2016) || (cp >= 0x2018 && cp <= 0x2022) || cp == 0x00B7 ||
         cp == 0xFFFD;
}

[[gnu::always_inline]] inline Kind Classify(char32_t cp) {
  if (cp < 0x80) {
    if (cp - 0x21u < 0x5Eu) return Kind::kStable;  // printable ASCII, handled inline
    if (cp == 0x20 || cp - 9u < 5u) return Kind::kSpace;
    return Kind::kRemove;
  }
  if (cp - 0x4E00u <= 0x9FFFu - 0x4E00u || cp - 0x3400u <= 0x4DBFu - 0x3400u ||
      cp - 0x3041u <= 0x3096u - 0x3041u || cp - 0x30A1u <= 0x30FAu - 0x30A1u || cp == 0x30FC) {
    return Kind::kCopyCjk;
  }
  if (cp - 0xAC00u <= 0xD7A3u - 0xAC00u) return Kind::kCopy;
  if (cp - 0xFF01u <= 0xFF5Eu - 0xFF01u) return Kind::kFullWidth;
  if (cp < 0xA0) return cp == 0x85 ? Kind::kSpace : Kind::kRemove;  // C1 controls, NEL
  if (IsWhiteSpace(cp)) return Kind::kSpace;
  if (IsZeroWidth(cp)) return Kind::kRemove;
  if (IsFastStablePunct(cp)) return Kind::kStable;
  if (cp == 0x2026) return Kind::kEllipsis;
  return Kind::kSlow;
}

// A well-formed U+4E00..U+9FFF at p (3 bytes available): lead byte E5..E9, or
// E4 with a second byte >= B8.
[[gnu::always_inline]] inline bool IsHan3(const unsigned char* p) {
  return (p[0] - 0xE5u < 5u || (p[0] == 0xE4 && p[1] >= 0xB8)) && (p[1] & 0xC0) == 0x80 &&
         (p[2] & 0xC0) == 0x80;
}

[[gnu::always_inline]] inline uint32_t Load4(const unsigned char* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

// Matching-form punctuation unification, applied after NFKC to code points
// that NFKC leaves alone. Returns 0 when cp is not unified.
constexpr char Unify(char32_t cp) {
  switch (cp) {
    case 0x3001: return ',';  // 、
    case 0x3002: return '.';  // 。
    case 0x201C:
    case 0x201D:
    case 0x201E:
    case 0x201F:
    case 0x00AB:
    case 0x00BB:
    case 0x300C:
    case 0x300D:
    case 0x300E:
    case 0x300F:
    case 0x301D:
    case 0x301E:
    case 0x301F: return '"';
    case 0x2018:
    case 0x2019:
    case 0x201A:
    case 0x201B:
    case 0x2039:
    case 0x203A: return '\'';
    case 0x2010:
    case 0x2012:
    case 0x2013:
    case 0x2014:
    case 0x2015:
    case 0x2212:
    case 0x2E3A:
    case 0x2E3B: return '-';
    case 0x3010:
    case 0x3014:
    case 0x3016:
    case 0x3018:
    case 0x301A: return '[';
    case 0x3011:
    case 0x3015:
    case 0x3017:
    case 0x3019:
    case 0x301B: return ']';
    case 0x301C: return '~';  // wave dash
    default: return 0;
  }
}

// Unify for U+3000..U+301F, the CJK punctuation the main loop's fast path
// takes without Classify (0: copied as it is).
constexpr std::array<char, 32> kUnify3000 = [] {
  std::array<char, 32> t{};
  for (char32_t i = 0; i < 32; ++i) t[i] = Unify(0x3000 + i);
  return t;
}();

inline bool IsMark(char32_t cp) {
  const utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

// Controls and format characters are removed before normalisation, so that
// "a<ZWSP><U+0301>" composes like "a<U+0301>" (and the result is idempotent).
inline bool IsRemovedBeforeNfkc(char32_t cp) {
  if (IsZeroWidth(cp)) return true;
  if (IsWhiteSpace(cp)) return false;
  const utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}

struct Scratch {
  std::string utf8;
  std::vector<utf8proc_int32_t> cps;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// NFKC (+ case fold) of the UTF-8 in scratch.utf8 into scratch.cps; returns
// the number of code points. utf8proc does the decomposition, canonical
// ordering and composition; `utf8` is valid by construction.
size_t NfkcSegment(Scratch& s, Form form) {
  const auto options = static_cast<utf8proc_option_t>(
      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_IGNORE | UTF8PROC_COMPOSE |
      (form == Form::kMatch ? UTF8PROC_CASEFOLD : 0));
  const auto* src = reinterpret_cast<const utf8proc_uint8_t*>(s.utf8.data());
  const auto src_len = static_cast<utf8proc_ssize_t>(s.utf8.size());
  if (s.cps.size() < s.utf8.size() + 16) s.cps.resize(s.utf8.size() + 16);
  utf8proc_ssize_t count = 0;
  for (;;) {
    count = utf8proc_decompose(src, src_len, s.cps.data(),
                               static_cast<utf8proc_ssize_t>(s.cps.size()), options);
    if (count < 0) return 0;  // cannot happen on valid input; drop the segment
    if (static_cast<size_t>(count) <= s.cps.size()) break;
    s.cps.resize(static_cast<size_t>(count));
  }
  count = utf8proc_normalize_utf32(s.cps.data(), count, options);
  return count < 0 ? 0 : static_cast<size_t>(count);
}

// Precomputed handling of the code points below U+3000 (Latin-1, Latin
// extended, Greek, Cyrillic, Arabic, Indic, general punctuation, ...), built
// once from utf8proc. A code point is "mapped" when its NFKC(_Casefold) does
// not depend on its neighbours: it is a starter that can never be the second
// half of a canonical composition, and its mapping is non-empty and contains
// only starters and no whitespace. A combining character that follows it
// still takes the slow path, which re-normalises it together with this one.
struct MappedCp {
  enum Kind : uint8_t { kSlow, kSpace, kRemove, kMapped };
  uint8_t kind = kSlow;
  uint8_t len = 0;         // bytes of `bytes` used
  bool first_cjk = false;  // spacing flags of the first and last output
  bool last_cjk = false;   // characters (matching form)
  char bytes[12] = {};     // the normalised (and, matching form, unified) output
};

constexpr char32_t kMappedLimit = 0x3000;
using MappedTable = std::array<MappedCp, kMappedLimit>;

MappedTable BuildMappedTable(Form form) {
  // Starters that are the second half of some canonical composition (Hangul
  // vowels and trailing consonants, a few Indic vowel signs): anything at
  // position >= 1 of a full canonical decomposition.
  std::vector<bool> second(kMappedLimit, false);
  for (char32_t c = 0; c < 0x30000; ++c) {
    utf8proc_int32_t buf[8];
    int boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 8,
                                                       UTF8PROC_DECOMPOSE, &boundclass);
    for (utf8proc_ssize_t k = 1; k < n && k < 8; ++k) {
      if (buf[k] >= 0 && static_cast<char32_t>(buf[k]) < kMappedLimit) second[buf[k]] = true;
    }
  }
  for (char32_t c = 0x1161; c <= 0x11FF; ++c) second[c] = true;  // Hangul V and T jamo

  const auto options = static_cast<utf8proc_option_t>(
      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_IGNORE | UTF8PROC_COMPOSE |
      (form == Form::kMatch ? UTF8PROC_CASEFOLD : 0));
  MappedTable table{};
  for (char32_t cp = 0x80; cp < kMappedLimit; ++cp) {
    MappedCp& e = table[cp];
    if (cp - 0xD800u < 0x800u) continue;
    if (IsWhiteSpace(cp)) {
      e.kind = MappedCp::kSpace;
      continue;
    }
    if (IsRemovedBeforeNfkc(cp)) {
      e.kind = MappedCp::kRemove;
      continue;
    }
    const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
    if (prop->combining_class != 0 || prop->ignorable || second[cp] || IsMark(cp)) continue;
    utf8proc_int32_t in[1] = {static_cast<utf8proc_int32_t>(cp)};
    utf8proc_int32_t out[16];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(
        in[0], out, 16, static_cast<utf8proc_option_t>(options), &boundclass);
    if (n <= 0 || n > 16) continue;
    n = utf8proc_normalize_utf32(out, n, options);
    if (n <= 0) continue;
    std::string bytes;
    bool ok = true;
    for (utf8proc_ssize_t k = 0; k < n && ok; ++k) {
      const auto c = static_cast<char32_t>(out[k]);
      const utf8proc_property_t* p = utf8proc_get_property(out[k]);
      if (IsWhiteSpace(c) || IsRemovedBeforeNfkc(c) || p->combining_class != 0 || IsMark(c) ||
          (c < kMappedLimit && second[c])) {
        ok = false;
        break;
      }
      const char a = form == Form::kMatch ? Unify(c) : 0;
      if (a != 0) {
        bytes.push_back(a);
      } else {
        char buf[4];
        bytes.append(buf, EncodeUtf8(c, buf));
      }
      if (k == 0) e.first_cjk = IsCjkSpacing(c);
      e.last_cjk = IsCjkSpacing(c);
    }
    if (!ok || bytes.size() > sizeof(e.bytes)) continue;
    e.kind = MappedCp::kMapped;
    e.len = static_cast<uint8_t>(bytes.size());
    std::memcpy(e.bytes, bytes.data(), bytes.size());
  }
  return table;
}

template <Form F>
const MappedTable& Mapped() {
  static const MappedTable table = BuildMappedTable(F);  // thread-safe, built once
  return table;
}

// Output and spacing state handed to the out-of-line slow path.
struct Ctx {
  std::string* out;
  size_t at = 0;  // where the output starts in *out
  size_t n = 0;   // bytes written from there
  // Matching form spacing: a whitespace run becomes one pending space, written
  // before the next character unless that character or the previous one is
  // CJK. Leading and trailing spaces are never written.
  bool pending = false;
  bool last_cjk = false;
  // The last written code point that a following combining character could
  // compose with: the slow path re-normalises it together with what follows.
  const unsigned char* undo_in = nullptr;
  size_t undo_n = 0;
  bool undo_pending = false;
  bool undo_last_cjk = false;
};

// Grows *out so that `extra` bytes plus one byte per remaining input byte
// (and kSlack) fit after position n.
void Reserve(Ctx& c, size_t extra, size_t remaining) {
  const size_t want = c.at + c.n + extra + remaining + kSlack;
  if (want > c.out->size()) c.out->resize(std::max(want, c.out->size() * 2));
}

// Writes one normalised code point produced by utf8proc.
template <Form F>
void EmitSlowCp(Ctx& c, char32_t cp, size_t remaining) {
  constexpr bool kMatch = F == Form::kMatch;
  Reserve(c, 8, remaining);
  char* o = c.out->data() + c.at;
  if (IsWhiteSpace(cp)) {
    if (kMatch && c.n > 0) c.pending = true;
    return;
  }
  if (IsRemovedBeforeNfkc(cp)) return;  // defensive: NFKC does not produce these
  if constexpr (kMatch) {
    const bool cjk = IsCjkSpacing(cp);
    const bool mark = cp >= 0x300 && IsMark(cp);
    if (c.pending) {
      // A space before a combining mark is kept: dropping it could let the
      // mark compose with the previous character on a second pass.
      if (mark || (!cjk && !c.last_cjk)) o[c.n++] = ' ';
      c.pending = false;
    }
    c.last_cjk = cjk;
    if (const char a = Unify(cp)) {
      o[c.n++] = a;
      return;
    }
  }
  c.n += EncodeUtf8(cp, o + c.n);
}

// The slow path: the previous written code point (if it could compose) plus
// every code point from p up to the next fast one, through utf8proc. Ill-formed
// bytes arrive here too (as U+FFFD). Returns the new input position.
template <Form F>
[[gnu::noinline]] const unsigned char* SlowSegment(Ctx& c, const unsigned char* p,
                                                   const unsigned char* end) {
  Scratch& s = ThreadScratch();
  s.utf8.clear();
  char buf[4];
  const unsigned char* q = p;
  if (c.undo_in != nullptr) {
    c.n = c.undo_n;
    c.pending = c.undo_pending;
    c.last_cjk = c.undo_last_cjk;
    const Decoded first = DecodeUtf8(c.undo_in, end);
    s.utf8.append(buf, EncodeUtf8(first.cp, buf));
    c.undo_in = nullptr;
  }
  bool first = true;
  while (q < end) {
    const Decoded e = DecodeUtf8(q, end);
    const Kind k = Classify(e.cp);
    if (k == Kind::kRemove) {
      q += e.len;
      continue;
    }
    if (k != Kind::kSlow && !first) break;  // includes U+FFFD from bad bytes
    first = false;
    if (!IsRemovedBeforeNfkc(e.cp)) s.utf8.append(buf, EncodeUtf8(e.cp, buf));
    q += e.len;
  }
  const size_t count = NfkcSegment(s, F);
  const auto remaining = static_cast<size_t>(end - q);
  for (size_t i = 0; i < count; ++i) EmitSlowCp<F>(c, static_cast<char32_t>(s.cps[i]), remaining);
  Reserve(c, 0, remaining);
  return q;
}

// How many of the 16 bytes at p the matching form (kMatch) or the content
// key copies as they are, lower-cased for the matching form, from the first
// on: printable ASCII, and for the matching form single spaces between two
// printable characters (a space before anything else may be dropped, as
// before a CJK character). Writes the 16 bytes, lower-cased, to w; the
// caller keeps the first `return value` of them. SSE2 (baseline x86-64).
template <bool kMatch>
[[gnu::always_inline]] inline unsigned AsciiRunBytes16(const unsigned char* p, char* w) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto byte = [](int b) { return _mm_set1_epi8(static_cast<char>(b)); };
  // Unsigned range tests as signed compares: x - lo + 0x80 < -128 + width.
  const __m128i printable = _mm_cmplt_epi8(_mm_add_epi8(v, byte(0x80 - 0x21)), byte(-128 + 0x5E));
  auto ok = static_cast<unsigned>(_mm_movemask_epi8(printable));
  __m128i lower = v;
  if constexpr (kMatch) {
    const auto space = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, byte(' '))));
    ok |= space & (ok >> 1);  // a space followed by a printable character
    const __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(v, byte(0x80 - 'A')), byte(-128 + 26));
    lower = _mm_add_epi8(v, _mm_and_si128(upper, byte(0x20)));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(w), lower);
  return static_cast<unsigned>(__builtin_ctz(~ok | 0x10000u));
}

// The content key's part of a precomputed code point in a kBoth pass (`key`
// and `match` are its entries in the two forms' tables): false when either
// form needs utf8proc or writes more bytes than the code point's
// `consumed`, which the pass does not handle. Space and removal do not
// depend on the form.
inline bool EmitMappedKey(const MappedCp& key, const MappedCp& match, unsigned consumed,
                          char** wk) {
  if (key.kind == MappedCp::kSlow || match.kind == MappedCp::kSlow || key.len > consumed ||
      match.len > consumed) {
    return false;
  }
  if (key.kind == MappedCp::kMapped) {
    std::memcpy(*wk, key.bytes, sizeof(key.bytes));
    *wk += key.len;
  }
  return true;
}

// Both forms' copy of the printable ASCII prefix of the 16 bytes at p (no
// spaces: the content key drops them, the caller's scalar loop handles
// them for the matching form): the bytes as they are to k, lower-cased to w.
[[gnu::always_inline]] inline unsigned AsciiRunBytes16Both(const unsigned char* p, char* w,
                                                           char* k) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto byte = [](int b) { return _mm_set1_epi8(static_cast<char>(b)); };
  const __m128i printable = _mm_cmplt_epi8(_mm_add_epi8(v, byte(0x80 - 0x21)), byte(-128 + 0x5E));
  const auto ok = static_cast<unsigned>(_mm_movemask_epi8(printable));
  const __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(v, byte(0x80 - 'A')), byte(-128 + 26));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(k), v);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(w),
                   _mm_add_epi8(v, _mm_and_si128(upper, byte(0x20))));
  return static_cast<unsigned>(__builtin_ctz(~ok | 0x10000u));
}

// The matching form (kMatch), the content key (kKey), or both (kBoth: the
// matching form into *out, the content key into *key_out). Each is written
// from the offset *out_end (*key_end) on, and *out_end (*key_end) is set to
// its end. The strings are grown as needed and never shrunk: bytes past the
// end are spare room (the callers resize them, or write after the end
// next). kBoth takes only the fast paths, which need no state of the other
// form: where either form would need utf8proc (or bad bytes, or a character
// whose form is longer than itself) it returns false, *key_end is as it was
// and *out unspecified from *out_end on; the caller then runs the two forms
// one by one. The other forms always return true.
template <Form F, bool kSimd>
bool NormalizeImpl(std::string_view in, std::string* out, size_t* out_end,
                   std::string* key_out = nullptr, size_t* key_end = nullptr) {
  constexpr bool kMatch = F != Form::kKey;
  constexpr bool kBoth = F == Form::kBoth;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* const end = p + in.size();

  const MappedTable& mapped = Mapped < kMatch ? Form::kMatch : Form::kKey > ();
  [[maybe_unused]] const MappedTable* const mapped_key = kBoth ? &Mapped<Form::kKey>() : nullptr;

  // The content key's output (kBoth): written like the matching form's,
  // never more bytes than consumed, into room for the rest plus kSlack.
  [[maybe_unused]] size_t key_start = 0;
  [[maybe_unused]] char* wk = nullptr;
  [[maybe_unused]] char* kbase = nullptr;
  if constexpr (kBoth) {
    key_start = *key_end;
    if (key_out->size() < key_start + in.size() + kSlack) {
      key_out->resize(key_start + in.size() + kSlack);
    }
    kbase = key_out->data();
    wk = kbase + key_start;
  }
#define DEDUPD_KEY(...)    \
  do {                     \
    if constexpr (kBoth) { \
      __VA_ARGS__;         \
    }                      \
  } while (0)
#define DEDUPD_BAIL()      \
  do {                     \
    if constexpr (kBoth) { \
      return false;        \
    }                      \
  } while (0)

  // The fast path never writes more bytes than it consumes, except for the one
  // space a consumed whitespace run paid for; so it needs no capacity checks.
  const size_t at = *out_end;
  if (out->size() < at + in.size() + kSlack) out->resize(at + in.size() + kSlack);
  Ctx c;
  c.out = out;
  c.at = at;

  // Hot state lives in locals (not in Ctx) so that the byte stores through w
  // cannot alias it; it is synced with Ctx around the slow path only.
  char* base = out->data() + at;  // reloaded after the slow path (it may reallocate)
  char* w = base;
  bool pending = false;
  bool last_cjk = false;
  const unsigned char* undo_in = nullptr;
  size_t undo_n = 0;  // output offset before undo_in's character
  bool undo_pending = false;
  bool undo_last_cjk = false;

#define DEDUPD_SAVE_UNDO(at)                \
  do {                                      \
    undo_in = (at);                         \
    undo_n = static_cast<size_t>(w - base); \
    undo_pending = pending;                 \
    undo_last_cjk = last_cjk;               \
  } while (0)
#define DEDUPD_SPACE_BEFORE(cjk)            \
  do {                                      \
    if constexpr (kMatch) {                 \
      const bool cjk_ = (cjk);              \
      if (pending) {                        \
        if (!cjk_ && !last_cjk) *w++ = ' '; \
        pending = false;                    \
      }                                     \
      last_cjk = cjk_;                      \
    }                                       \
  } while (0)
#define DEDUPD_ON_SPACE()                            \
  do {                                               \
    undo_in = nullptr; /* nothing composes across */ \
    if (kMatch && w != base) pending = true;         \
  } while (0)

  // Writes a MappedCp for the `consumed` bytes at p. Its output may be longer
  // than its input (U+01C6 -> "dž"): then make room first.
#define DEDUPD_EMIT_MAPPED(entry, consumed)                                        \
  do {                                                                             \
    const MappedCp& e_ = (entry);                                                  \
    if (e_.kind == MappedCp::kSpace) {                                             \
      DEDUPD_ON_SPACE();                                                           \
    } else if (e_.kind == MappedCp::kMapped) {                                     \
      if (e_.len > (consumed)) {                                                   \
        const size_t n_ = static_cast<size_t>(w - base);                           \
        const size_t want_ = at + n_ + 16 + static_cast<size_t>(end - p) + kSlack; \
        if (want_ > out->size()) {                                                 \
          out->resize(std::max(want_, out->size() * 2));                           \
          base = out->data() + at;                                                 \
          w = base + n_;                                                           \
        }                                                                          \
      }                                                                            \
      DEDUPD_SAVE_UNDO(p);                                                         \
      DEDUPD_SPACE_BEFORE(e_.first_cjk);                                           \
      if constexpr (kMatch) last_cjk = e_.last_cjk;                                \
      std::memcpy(w, e_.bytes, sizeof(e_.bytes));                                  \
      w += e_.len;                                                                 \
    }                                                                              \
    p += (consumed);                                                               \
  } while (0)

  while (p < end) {
    const unsigned c0 = *p;
    if (c0 < 0x80) {
      if (c0 - 0x21u < 0x5Eu) {  // a run of printable ASCII
        DEDUPD_SAVE_UNDO(p);
        DEDUPD_SPACE_BEFORE(false);
        DEDUPD_KEY(*wk++ = static_cast<char>(c0));
        *w++ = static_cast<char>(kMatch ? c0 + ((c0 - 'A' < 26u) << 5) : c0);
        ++p;
        const unsigned char* const run = p;
        if constexpr (kSimd) {
          // 16 bytes per step while 16 remain: the prefix that the scalar
          // loop below (and the single spaces between words, matching form)
          // would copy byte for byte, lower-cased; one 16-byte store (the
          // output has room for the rest of the input plus kSlack).
          while (end - p >= 16) {
            unsigned take;
            if constexpr (kBoth) {
              take = AsciiRunBytes16Both(p, w, wk);
              wk += take;
            } else {
              take = AsciiRunBytes16<kMatch>(p, w);
            }
            w += take;
            p += take;
            if (take < 16) break;
          }
        }
        while (p < end && *p - 0x21u < 0x5Eu) {
          const unsigned ch = *p++;
          DEDUPD_KEY(*wk++ = static_cast<char>(ch));
          *w++ = static_cast<char>(kMatch ? ch + ((ch - 'A' < 26u) << 5) : ch);
        }
        if (p != run) {
          // Only the run's last character can compose with what follows; the
          // state is the one the scalar loop leaves: after a single space
          // (a one-letter last word) the space is undone with it.
          const bool after_space = kMatch && p[-2] == ' ';
          undo_in = p - 1;
          undo_n = static_cast<size_t>(w - base) - 1 - after_space;
          undo_pending = after_space;
          undo_last_cjk = false;
        }
        continue;
      }
      if (c0 == ' ' || c0 - 9u < 5u) DEDUPD_ON_SPACE();
      ++p;  // a C0 control or DEL is dropped (and does not reset undo_in)
      continue;
    }

    // Runs of unified Han ideographs (U+4E00..U+9FFF): copied without
    // per-character bookkeeping; only the run's last character is remembered
    // for a possible composition with what follows.
    if (end - p >= 7 ? IsHanWord(Load4(p)) & IsHanWord(Load4(p + 3))
                     : end - p == 6 && IsHan3(p) && IsHan3(p + 3)) {
      DEDUPD_SPACE_BEFORE(true);
      // Five ideographs per step while 16 bytes remain: 16 bytes copied, the
      // ones HanRunBytes16 vouches for kept. The store fits: the output always
      // has room after w for the rest of the input (see Reserve).
      bool ended = false;  // the 16-byte steps found the run's end
      // Ten per step while 32 bytes remain: the two tests do not wait on
      // each other (the second counts only if the first found five).
      while (end - p >= 32) {
        const unsigned first = HanRunBytes16(p);
        const unsigned second = HanRunBytes16(p + 15);
        std::memcpy(w, p, 32);
        const unsigned bytes = first + (first == 15 ? second : 0);
        DEDUPD_KEY(std::memcpy(wk, p, 32); wk += bytes);
        w += bytes;
        p += bytes;
        if (bytes < 30) {
          ended = true;
          break;
        }
      }
      while (!ended && end - p >= 16) {
        const unsigned bytes = HanRunBytes16(p);
        std::memcpy(w, p, 16);
        DEDUPD_KEY(std::memcpy(wk, p, 16); wk += bytes);
        w += bytes;
        p += bytes;
        if (bytes < 15) {
          ended = true;
          break;
        }
      }
      // Four bytes loaded and stored per ideograph (the fourth is overwritten
      // by the next write: the output has kSlack spare bytes), the test
      // without branches: the loop's only branch is the run's end.
      while (!ended && end - p >= 4) {
        uint32_t x;
        std::memcpy(&x, p, 4);
        if (!IsHanWord(x)) break;
        std::memcpy(w, &x, 4);
        DEDUPD_KEY(std::memcpy(wk, &x, 4); wk += 3);
        w += 3;
        p += 3;
      }
      if (!ended && end - p == 3 && IsHan3(p)) {
        std::memcpy(w, p, 3);
        DEDUPD_KEY(std::memcpy(wk, p, 3); wk += 3);
        w += 3;
        p += 3;
      }
      undo_in = p - 3;
      undo_n = static_cast<size_t>(w - base) - 3;
      undo_pending = false;
      undo_last_cjk = true;
      continue;
    }

    // The commonest CJK punctuation straight after a Han run, without
    // Classify and its switch: U+3001..U+3011 and U+3014..U+301F (、。〈〉《》
    // 「」『』【】〔〕...: kStable, CJK for spacing) and the full-width forms
    // U+FF01..U+FF5E (，：（）！？...: kFullWidth), each handled exactly as
    // its case below handles it.
    if (end - p >= 3) {
      const unsigned c1 = p[1], c2 = p[2];
      if (c0 == 0xE3 && c1 == 0x80 && c2 - 0x81u < 0x1Fu && c2 - 0x92u >= 2u) {
        DEDUPD_SAVE_UNDO(p);
        DEDUPD_SPACE_BEFORE(true);
        DEDUPD_KEY(wk[0] = static_cast<char>(c0); wk[1] = static_cast<char>(c1);
                   wk[2] = static_cast<char>(c2); wk += 3);
        const char a = kMatch ? kUnify3000[c2 - 0x80u] : 0;
        if (a != 0) {
          *w++ = a;
        } else {
          w[0] = static_cast<char>(c0);
          w[1] = static_cast<char>(c1);
          w[2] = static_cast<char>(c2);
          w += 3;
        }
        p += 3;
        continue;
      }
      if (c0 == 0xEF && (c1 == 0xBC ? c2 - 0x81u < 0x3Fu : c1 == 0xBD && c2 - 0x80u < 0x1Fu)) {
        DEDUPD_SAVE_UNDO(p);
        auto a = static_cast<char>(c2 - 0x80u + (c1 == 0xBD ? 0x40u : 0u) + 0x20u);  // cp - 0xFEE0
        const bool alnum =
            static_cast<unsigned>((a | 0x20) - 'a') < 26u || static_cast<unsigned>(a - '0') < 10u;
        DEDUPD_SPACE_BEFORE(!alnum);
        DEDUPD_KEY(*wk++ = a);
        if (kMatch && static_cast<unsigned>(a - 'A') < 26u) a = static_cast<char>(a + 32);
        *w++ = a;
        p += 3;
        continue;
      }
    }

    // Well-formed 3-byte sequences: every CJK character and most punctuation.
    if (c0 - 0xE0u < 0x10u && end - p >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
      const char32_t cp = ((c0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
      if (cp >= 0x800 && cp - 0xD800u >= 0x800u) {
        const Kind kind = Classify(cp);
        switch (kind) {
          case Kind::kCopyCjk:
          case Kind::kCopy:
            DEDUPD_SAVE_UNDO(p);
            DEDUPD_SPACE_BEFORE(kind == Kind::kCopyCjk);
            DEDUPD_KEY(std::memcpy(wk, p, 3); wk += 3);
            w[0] = static_cast<char>(p[0]);
            w[1] = static_cast<char>(p[1]);
            w[2] = static_cast<char>(p[2]);
            w += 3;
            p += 3;
            continue;
          case Kind::kFullWidth: {
            DEDUPD_SAVE_UNDO(p);
            auto a = static_cast<char>(cp - 0xFEE0);
            // Full-width punctuation is CJK typography (a space next to it is
            // presentational); full-width letters and digits behave like ASCII.
            const bool alnum = static_cast<unsigned>((a | 0x20) - 'a') < 26u ||
                               static_cast<unsigned>(a - '0') < 10u;
            DEDUPD_SPACE_BEFORE(!alnum);
            DEDUPD_KEY(*wk++ = a);
            if (kMatch && static_cast<unsigned>(a - 'A') < 26u) a = static_cast<char>(a + 32);
            *w++ = a;
            p += 3;
            continue;
          }
          case Kind::kStable: {
            DEDUPD_SAVE_UNDO(p);
            DEDUPD_SPACE_BEFORE(IsCjkSpacing(cp));
            DEDUPD_KEY(std::memcpy(wk, p, 3); wk += 3);
            const char a = kMatch ? Unify(cp) : 0;
            if (a != 0) {
              *w++ = a;
            } else {
              w[0] = static_cast<char>(p[0]);
              w[1] = static_cast<char>(p[1]);
              w[2] = static_cast<char>(p[2]);
              w += 3;
            }
            p += 3;
            continue;
          }
          case Kind::kEllipsis:
            DEDUPD_SAVE_UNDO(p);
            DEDUPD_SPACE_BEFORE(false);
            DEDUPD_KEY(wk[0] = wk[1] = wk[2] = '.'; wk += 3);
            w[0] = w[1] = w[2] = '.';
            w += 3;
            p += 3;
            continue;
          case Kind::kSpace:
            DEDUPD_ON_SPACE();
            p += 3;
            continue;
          case Kind::kRemove: p += 3; continue;
          case Kind::kSlow:
            if constexpr (kBoth) {
              if (cp >= kMappedLimit || !EmitMappedKey((*mapped_key)[cp], mapped[cp], 3, &wk)) {
                DEDUPD_BAIL();
              }
            }
            if (cp < kMappedLimit && mapped[cp].kind != MappedCp::kSlow) {
              DEDUPD_EMIT_MAPPED(mapped[cp], 3u);
              continue;
            }
            break;
        }
      }
    } else if (c0 - 0xC2u < 0x1Eu && end - p >= 2 && (p[1] & 0xC0) == 0x80) {
      // Well-formed 2-byte sequences: Latin-1, Latin extended, Greek,
      // Cyrillic, Hebrew, Arabic: precomputed.
      const char32_t cp = ((c0 & 0x1Fu) << 6) | (p[1] & 0x3Fu);
      if constexpr (kBoth) {
        if (!EmitMappedKey((*mapped_key)[cp], mapped[cp], 2, &wk)) DEDUPD_BAIL();
      }
      if (mapped[cp].kind != MappedCp::kSlow) {
        DEDUPD_EMIT_MAPPED(mapped[cp], 2u);
        continue;
      }
    } else if (c0 - 0xF0u < 3u && end - p >= 4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
               (p[3] & 0xC0) == 0x80) {
      // Han in planes 2 and 3 (extensions B-H): NFKC-stable except the
      // compatibility supplement U+2F800..U+2FA1F.
      const char32_t cp =
          ((c0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
      if (cp - 0x20000u < 0x20000u && cp - 0x2F800u >= 0x220u) {
        DEDUPD_SAVE_UNDO(p);
        DEDUPD_SPACE_BEFORE(true);
        DEDUPD_KEY(std::memcpy(wk, p, 4); wk += 4);
        w[0] = static_cast<char>(p[0]);
        w[1] = static_cast<char>(p[1]);
        w[2] = static_cast<char>(p[2]);
        w[3] = static_cast<char>(p[3]);
        w += 4;
        p += 4;
        continue;
      }
    }

    // An ill-formed sequence is U+FFFD, handled exactly like a literal U+FFFD
    // above, so that NormalizeForMatch(x) == NormalizeForMatch(RepairUtf8(x)).
    DEDUPD_BAIL();  // bad bytes and utf8proc's path: the forms one by one
    const Decoded d = DecodeUtf8(p, end);
    if (!d.valid) {
      const size_t n = static_cast<size_t>(w - base);
      const size_t want = at + n + 8 + static_cast<size_t>(end - p) + kSlack;
      if (want > out->size()) {  // U+FFFD may be longer than the bad bytes
        out->resize(std::max(want, out->size() * 2));
        base = out->data() + at;
        w = base + n;
      }
      DEDUPD_SAVE_UNDO(p);
      DEDUPD_SPACE_BEFORE(false);
      w[0] = '\xEF';
      w[1] = '\xBF';
      w[2] = '\xBD';
      w += 3;
      p += d.len;
      continue;
    }

    // Everything else goes through utf8proc.
    c.n = static_cast<size_t>(w - base);
    c.pending = pending;
    c.last_cjk = last_cjk;
    c.undo_in = undo_in;
    c.undo_n = undo_n;
    c.undo_pending = undo_pending;
    c.undo_last_cjk = undo_last_cjk;
    p = SlowSegment<F>(c, p, end);
    base = out->data() + at;
    w = base + c.n;
    pending = c.pending;
    last_cjk = c.last_cjk;
    undo_in = nullptr;
  }
#undef DEDUPD_SAVE_UNDO
#undef DEDUPD_SPACE_BEFORE
#undef DEDUPD_ON_SPACE
#undef DEDUPD_EMIT_MAPPED
#undef DEDUPD_KEY
#undef DEDUPD_BAIL
  *out_end = at + static_cast<size_t>(w - base);
  if constexpr (kBoth) *key_end = static_cast<size_t>(wk - kbase);
  return true;
}

// One form of `in` into *out, replacing its contents.
template <Form F, bool kSimd>
void NormalizeInto(std::string_view in, std::string* out) {
  size_t end = 0;
  NormalizeImpl<F, kSimd>(in, out, &end);
  out->resize(end);
}

}  // namespace

namespace {

// The kernel is picked here, not by simdjson's own dispatch, from the ones
// the tests check against DecodeUtf8 on every machine we build on: haswell
// (AVX2), westmere (SSE4.2), fallback (scalar). simdjson would pick its
// AVX-512 "icelake" kernel on CPUs with VBMI2, which no development or test
// machine of ours has; a validator that says "valid" here and "invalid" on
// a substring of the same bytes breaks every check that relies on it (block
// repair, the fuzzers). docs/text.md, "UTF-8".
const simdjson::implementation& Utf8Kernel() {
  static const simdjson::implementation* const kernel = [] {
    for (const std::string_view name : {"haswell", "westmere", "fallback"}) {
      const simdjson::implementation* impl = simdjson::get_available_implementations()[name];
      if (impl != nullptr && impl->supported_by_runtime_system()) return impl;
    }
    return simdjson::get_available_implementations()["fallback"];
  }();
  return *kernel;
}

}  // namespace

// The same rules as DecodeUtf8 (no overlongs, surrogates or code points past
// U+10FFFF), with SIMD when the CPU has it.
bool IsValidUtf8(std::string_view in) {
  return Utf8Kernel().validate_utf8(in.data(), in.size());
}

std::string_view Utf8ValidatorName() {
  return Utf8Kernel().name();
}

std::string RepairUtf8(std::string_view in, size_t* replaced) {
  size_t count = 0;
  std::string out;
  if (IsValidUtf8(in)) {
    out.assign(in);
  } else {
    out.reserve(in.size() + 16);
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const auto* const end = p + in.size();
    while (p < end) {
      const Decoded d = internal::DecodeUtf8(p, end);
      if (d.valid) {
        out.append(reinterpret_cast<const char*>(p), d.len);
      } else {
        out.append("\xEF\xBF\xBD");
        ++count;
      }
      p += d.len;
    }
  }
  if (replaced != nullptr) *replaced = count;
  return out;
}

void NormalizeForMatch(std::string_view utf8, std::string* out) {
  NormalizeInto<Form::kMatch, true>(utf8, out);
}

namespace {

// How a code point that can start or end a sentence meets its neighbours in
// the matching form, when the fast path writes it alone: kCjk / kLatin (the
// spacing flag the main loop sets for it), or kOther when it may produce
// nothing, compose with a neighbour, or take the slow path.
enum class Edge { kOther, kLatin, kCjk };

Edge EdgeOf(const Decoded& d) {
  if (!d.valid) return Edge::kOther;
  const char32_t cp = d.cp;
  if (cp < 0x80) return cp - 0x21u < 0x5Eu ? Edge::kLatin : Edge::kOther;
  if (d.len != 3) return Edge::kOther;
  switch (Classify(cp)) {
    case Kind::kCopyCjk: return Edge::kCjk;
    case Kind::kCopy: return Edge::kLatin;
    case Kind::kFullWidth: {
      const auto a = static_cast<char>(cp - 0xFEE0);
      const bool alnum =
          static_cast<unsigned>((a | 0x20) - 'a') < 26u || static_cast<unsigned>(a - '0') < 10u;
      return alnum ? Edge::kLatin : Edge::kCjk;
    }
    case Kind::kStable: return IsCjkSpacing(cp) ? Edge::kCjk : Edge::kLatin;
    case Kind::kEllipsis: return Edge::kLatin;
    case Kind::kSpace:
    case Kind::kRemove:
    case Kind::kSlow: return Edge::kOther;
  }
  return Edge::kOther;
}

// The last code point of a non-empty s (kOther if its bytes are not one
// well-formed sequence).
Edge LastEdge(std::string_view s) {
  const auto* const b = reinterpret_cast<const unsigned char*>(s.data());
  size_t start = s.size() - 1;
  while (start > 0 && s.size() - start < 4 && (b[start] & 0xC0) == 0x80) --start;
  const Decoded d = DecodeUtf8(b + start, b + s.size());
  return start + d.len == s.size() ? EdgeOf(d) : Edge::kOther;
}

// Scans a gap between sentences (bytes the splitter trimmed): true when it
// holds only White_Space and zero-width characters, which the normaliser
// turns into a pending space and nothing; *space when any is White_Space.
bool ScanGap(std::string_view gap, bool* space) {
  const auto* p = reinterpret_cast<const unsigned char*>(gap.data());
  const auto* const end = p + gap.size();
  *space = false;
  while (p < end) {
    const Decoded d = DecodeUtf8(p, end);
    if (!d.valid || d.len == 4) return false;
    if (IsWhiteSpace(d.cp)) {
      *space = true;
    } else if (!IsZeroWidth(d.cp)) {
      return false;
    }
    p += d.len;
  }
  return true;
}

// JoinSentenceForms's checks, one sentence at a time: whether a block's
// matching form is its sentences' forms joined, and where the join puts a
// space. PageForms writes each sentence's form right after the checks have
// passed for it, so that the block's form is built without a copy.
class SentenceJoin {
 public:
  explicit SentenceJoin(std::string_view block) : block_(block) {}

  // Before the next sentence `s` (a view into the block, after the previous
  // one; `last` when no sentence follows): false when the join cannot vouch
  // for the block; otherwise *space says whether one space goes before the
  // sentence's form.
  bool Next(std::string_view s, bool last, bool* space) {
    *space = false;
    const char* const base = block_.data();
    if (s.empty() || s.data() < base + at_ || s.data() + s.size() > base + block_.size()) {
      return false;
    }
    bool gap_space = false;
    if (!ScanGap(block_.substr(at_, static_cast<size_t>(s.data() - base) - at_), &gap_space)) {
      return false;
    }
    const auto* const b = reinterpret_cast<const unsigned char*>(s.data());
    if (!first_) {
      // The sentence must start with a character that cannot compose with
      // what precedes it and is written as it stands; then the block's form
      // continues exactly as the sentence's own form starts, after one
      // space when the gap had White_Space and neither side is CJK.
      const Decoded d = DecodeUtf8(b, b + s.size());
      const Edge first = EdgeOf(d);
      if (first == Edge::kOther) return false;
      if (d.len < s.size()) {
        // What follows it must not send it back through the slow path: a
        // character that takes utf8proc's path right after it (or after
        // removed controls) re-normalises it, and that path spaces
        // full-width punctuation as ASCII ("a? ，ﬁ" keeps its space).
        const Decoded next = DecodeUtf8(b + d.len, b + s.size());
        if (EdgeOf(next) == Edge::kOther && !(next.valid && IsWhiteSpace(next.cp))) return false;
      }
      *space = gap_space && !last_cjk_ && first != Edge::kCjk;
    }
    if (!last) {
      // ... and every sentence but the last must end with such a character
      // (the spacing flag it leaves is then known).
      const Edge end = LastEdge(s);
      if (end == Edge::kOther) return false;
      last_cjk_ = end == Edge::kCjk;
    }
    first_ = false;
    at_ = static_cast<size_t>(s.data() - base) + s.size();
    return true;
  }

  // After the last sentence: whether the rest of the block is a gap.
  bool End() const {
    bool space = false;
    return ScanGap(block_.substr(at_), &space);
  }

 private:
  std::string_view block_;
  size_t at_ = 0;  // end of the previous sentence in block_
  bool first_ = true;
  bool last_cjk_ = false;
};

}  // namespace

bool internal::JoinSentenceForms(std::string_view block,
                                 std::span<const std::string_view> sentences,
                                 std::span<const std::string> forms, std::string* out) {
  out->clear();
  if (sentences.size() != forms.size()) return false;
  SentenceJoin join(block);
  for (size_t i = 0; i < sentences.size(); ++i) {
    bool space = false;
    if (!join.Next(sentences[i], i + 1 == sentences.size(), &space)) return false;
    if (space) out->push_back(' ');
    out->append(forms[i]);
  }
  return join.End();
}

void NormalizeBlockFromSentences(std::string_view block,
                                 std::span<const std::string_view> sentences,
                                 std::span<const std::string> forms, std::string* out) {
  if (!internal::JoinSentenceForms(block, sentences, forms, out)) NormalizeForMatch(block, out);
}

bool internal::NormalizeBothFast(std::string_view utf8, std::string* match, std::string* key) {
  size_t match_end = 0;
  size_t key_end = key->size();
  const bool took = NormalizeImpl<Form::kBoth, true>(utf8, match, &match_end, key, &key_end);
  key->resize(key_end);  // as it was when refused
  if (took) match->resize(match_end);
  return took;
}

void PageForms::Clear() {
  text_end_ = 0;
  keys_end_ = 0;
  blocks_.clear();
  sentences_.clear();
  sentence_forms_.clear();
  key_ends_.clear();
}

void PageForms::Append(std::string_view block) {
  const size_t first = sentences_.size();
  SplitSentencesInto(block, &sentences_);
  const size_t n = sentences_.size() - first;
  const size_t form_start = text_end_;
  const size_t key_start = keys_end_;
  // Each sentence's form goes right after the last one's (after a space
  // where the join puts one) as long as the join vouches for the block,
  // which is then the run of them; keys likewise.
  SentenceJoin join(block);
  bool joined = true;
  for (size_t i = 0; i < n; ++i) {
    const std::string_view s = sentences_[first + i];
    if (joined) {
      bool space = false;
      joined = join.Next(s, i + 1 == n, &space);
      if (joined && space) {
        if (text_.size() <= text_end_) text_.resize(std::max(text_end_ + 1, text_.size() * 2));
        text_[text_end_++] = ' ';
      }
    }
    const size_t at = text_end_;
    if (!NormalizeImpl<Form::kBoth, true>(s, &text_, &text_end_, &keys_, &keys_end_)) {
      text_end_ = at;
      NormalizeImpl<Form::kMatch, true>(s, &text_, &text_end_);
      NormalizeImpl<Form::kKey, true>(s, &keys_, &keys_end_);
    }
    sentence_forms_.push_back({at, text_end_ - at});
  }
  BlockEntry entry;
  entry.first_sentence = first;
  if (joined && join.End()) {
    // No character composes or takes utf8proc's path across a sentence
    // boundary, and the gaps hold only White_Space and zero-width
    // characters, which the key drops: the block's key is its sentences'
    // keys joined.
    entry.form = {form_start, text_end_ - form_start};
  } else {
    const size_t at = text_end_;
    NormalizeImpl<Form::kMatch, true>(block, &text_, &text_end_);
    entry.form = {at, text_end_ - at};
    keys_end_ = key_start;
    NormalizeImpl<Form::kKey, true>(block, &keys_, &keys_end_);
  }
  blocks_.push_back(entry);
  key_ends_.push_back(keys_end_);
}

void PageForms::Keep(const std::vector<bool>& keep) {
  size_t kept = 0;
  size_t kept_sentences = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (i < keep.size() && !keep[i]) continue;
    const size_t from = blocks_[i].first_sentence;
    const size_t to = FirstSentence(i + 1);
    BlockEntry entry = blocks_[i];
    entry.first_sentence = kept_sentences;
    for (size_t k = from; k < to; ++k, ++kept_sentences) {
      sentences_[kept_sentences] = sentences_[k];
      sentence_forms_[kept_sentences] = sentence_forms_[k];
    }
    blocks_[kept++] = entry;
  }
  blocks_.resize(kept);
  sentences_.resize(kept_sentences);
  sentence_forms_.resize(kept_sentences);
  key_ends_.clear();
  keys_end_ = 0;
}

std::string NormalizeForMatch(std::string_view utf8) {
  std::string out;
  NormalizeInto<Form::kMatch, true>(utf8, &out);
  return out;
}

void ContentKey(std::string_view utf8, std::string* out) {
  NormalizeInto<Form::kKey, true>(utf8, out);
}

std::string ContentKey(std::string_view utf8) {
  std::string out;
  NormalizeInto<Form::kKey, true>(utf8, &out);
  return out;
}

void internal::NormalizeForMatchScalar(std::string_view utf8, std::string* out) {
  NormalizeInto<Form::kMatch, false>(utf8, out);
}

void internal::ContentKeyScalar(std::string_view utf8, std::string* out) {
  NormalizeInto<Form::kKey, false>(utf8, out);
}

// CountCodePoints with AVX-512 (BW + VL, on 32-byte registers: no clock
// penalty): a 32-byte step is one compare into a mask and a popcount, and
// the tail is one masked load (bytes past the end are neither read nor
// counted), where the SSE2 kernel finishes 8 and then 1 byte at a time:
// the strings counted are mostly sentences and blocks of 50-300 bytes.
DEDUPD_TARGET_BEGIN("avx512bw,avx512vl,popcnt")
namespace {
size_t CountCodePointsAvx512Impl(const char* p, size_t n) {
  const __m256i above = _mm256_set1_epi8(-65);  // non-continuation bytes, as signed bytes
  size_t count = 0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    count += static_cast<size_t>(__builtin_popcount(_mm256_cmpgt_epi8_mask(v, above)));
  }
  if (i < n) {
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (n - i)) - 1);
    const __m256i v = _mm256_maskz_loadu_epi8(m, p + i);
    count += static_cast<size_t>(__builtin_popcount(_mm256_mask_cmpgt_epi8_mask(m, v, above)));
  }
  return count;
}
}  // namespace
DEDUPD_TARGET_END

bool internal::CpuHasAvx512Bw() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") != 0 && __builtin_cpu_supports("avx512vl") != 0 &&
           __builtin_cpu_supports("popcnt") != 0;
  }();
  return has;
}

size_t internal::CountCodePointsAvx512(std::string_view utf8) {
  return CountCodePointsAvx512Impl(utf8.data(), utf8.size());
}

size_t CountCodePoints(std::string_view utf8) {
  if (internal::CpuHasAvx512Bw()) return CountCodePointsAvx512Impl(utf8.data(), utf8.size());
  return internal::CountCodePointsSse2(utf8);
}

size_t internal::CountCodePointsSse2(std::string_view utf8) {
  // Counts the bytes that are not continuation bytes (10xxxxxx). 16 at a time
  // (SSE2, which every x86-64 has): a non-continuation byte is > 0xBF as a
  // signed byte (-65); the compare's -1s are subtracted into 16 byte-wide
  // counters, which are summed (psadbw) before any can pass 255.
  const auto* p = reinterpret_cast<const unsigned char*>(utf8.data());
  const auto* const end = p + utf8.size();
  size_t count = 0;
  const __m128i above = _mm_set1_epi8(-65);
  while (end - p >= 16) {
    const size_t steps = std::min<size_t>(static_cast<size_t>(end - p) / 16, 255);
    __m128i counters = _mm_setzero_si128();
    for (size_t s = 0; s < steps; ++s) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      counters = _mm_sub_epi8(counters, _mm_cmpgt_epi8(v, above));
      p += 16;
    }
    const __m128i sums = _mm_sad_epu8(counters, _mm_setzero_si128());
    count += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
             static_cast<size_t>(_mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums)));
  }
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // Bit 7 of each byte set for a continuation byte; sum the bytes by
    // multiplication (no popcnt instruction on baseline x86-64).
    const uint64_t continuation = (w & ~(w << 1) & 0x8080808080808080ull) >> 7;
    count += 8 - static_cast<size_t>((continuation * 0x0101010101010101ull) >> 56);
    p += 8;
  }
  for (; p < end; ++p) count += (*p & 0xC0) != 0x80;
  return count;
}

}  // namespace dedupd::text
