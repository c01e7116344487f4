// Streaming HTML extraction: one pass, no tree. See html_stream.h and
// docs/text.md ("Streaming extractor") for what it models and where it hands
// the page to the gumbo reference path.
#include "text/internal/html_stream.h"

#include <emmintrin.h>
#include <gumbo.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "text/internal/html_actions.h"
#include "text/internal/utf8.h"
#include "text/normalize.h"

namespace dedupd::text::internal {
namespace {

struct NamedRef {
  std::string_view name;
  std::string_view value;
};

constexpr NamedRef kNamedRefs[] = {
#include "text/internal/html_entities.inc"
};

// Longest names are 32 bytes with the ';' ("CounterClockwiseContourIntegral;").
constexpr size_t kMaxRefName = 32;

bool IsAsciiAlpha(char c) {
  return static_cast<unsigned>((c | 0x20) - 'a') < 26u;
}
bool IsAsciiAlnum(char c) {
  return IsAsciiAlpha(c) || static_cast<unsigned>(c - '0') < 10u;
}
bool IsHtmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
char AsciiLower(char c) {
  return static_cast<unsigned>(c - 'A') < 26u ? static_cast<char>(c + 32) : c;
}

constexpr std::array<bool, 256> MakeSpaceTable() {
  std::array<bool, 256> t{};
  for (const unsigned char c : {' ', '\t', '\n', '\r', '\f'}) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> kSpace = MakeSpaceTable();

// Windows-1252 for numeric references to C1 code points (HTML5 and gumbo).
constexpr char32_t kC1Replacement[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// Decodes the character reference at s[i] == '&' into out (at most 8 bytes);
// returns the index after it, or i + 1 with out = "&" when there is none.
// gumbo's rules (char_ref.c): the longest name in the table, with or without
// ';'; numeric references with C1 and invalid values replaced.
size_t DecodeCharRef(std::string_view s, size_t i, char* out, size_t* out_len) {
  const size_t n = s.size();
  out[0] = '&';
  *out_len = 1;
  if (i + 1 >= n) return i + 1;
  const char c = s[i + 1];
  if (c == '#') {
    size_t j = i + 2;
    bool hex = false;
    if (j < n && (s[j] == 'x' || s[j] == 'X')) {
      hex = true;
      ++j;
    }
    uint32_t cp = 0;
    const size_t digits_begin = j;
    for (; j < n; ++j) {
      const char d = s[j];
      uint32_t v = 0;
      if (d >= '0' && d <= '9') {
        v = static_cast<uint32_t>(d - '0');
      } else if (hex && (d | 0x20) >= 'a' && (d | 0x20) <= 'f') {
        v = static_cast<uint32_t>((d | 0x20) - 'a' + 10);
      } else {
        break;
      }
      // Saturate: anything above U+10FFFF is U+FFFD anyway.
      cp = cp > 0x10FFFF ? cp : cp * (hex ? 16 : 10) + v;
    }
    if (j == digits_begin) return i + 1;  // "&#" or "&#x" without digits: '&' is text
    if (j < n && s[j] == ';') ++j;
    char32_t value = cp;
    if (cp == 0) {
      value = kReplacement;
    } else if (cp >= 0x80 && cp <= 0x9F) {
      value = kC1Replacement[cp - 0x80];
    } else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      value = kReplacement;
    }
    *out_len = EncodeUtf8(value, out);
    return j;
  }
  // Named: the longest prefix of [A-Za-z0-9]*;? that is in the table.
  size_t len = 0;
  while (i + 1 + len < n && len < kMaxRefName) {
    const char d = s[i + 1 + len];
    if (!IsAsciiAlnum(d) && d != ';') break;
    ++len;
    if (d == ';') break;
  }
  for (; len > 0; --len) {
    const std::string_view name = s.substr(i + 1, len);
    const auto* it =
        std::lower_bound(std::begin(kNamedRefs), std::end(kNamedRefs), name,
                         [](const NamedRef& r, std::string_view k) { return r.name < k; });
    if (it != std::end(kNamedRefs) && it->name == name) {
      std::memcpy(out, it->value.data(), it->value.size());
      *out_len = it->value.size();
      return i + 1 + len;
    }
  }
  return i + 1;
}

// True when s holds a code point gumbo replaces with U+FFFD although it is
// well-formed: U+FDD0..U+FDEF and U+xFFFE / U+xFFFF (noncharacters). Controls
// are removed before parsing. The caller gives up on such pages.
bool HasNoncharacter(const unsigned char* p, size_t n) {
  size_t i = 0;
  const __m128i ef = _mm_set1_epi8(static_cast<char>(0xEF));
  for (;;) {
    // Skip 16 bytes at a time while none is >= 0xEF.
    while (i + 16 <= n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const auto mask =
          static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, ef), v)));
      if (mask == 0) {
        i += 16;
        continue;
      }
      i += static_cast<size_t>(std::countr_zero(mask));
      break;
    }
    while (i < n && p[i] < 0xEF) ++i;
    if (i >= n) return false;
    if (p[i] == 0xEF) {
      if (i + 2 < n && ((p[i + 1] == 0xB7 && p[i + 2] >= 0x90 && p[i + 2] <= 0xAF) ||
                        (p[i + 1] == 0xBF && (p[i + 2] == 0xBE || p[i + 2] == 0xBF)))) {
        return true;
      }
    } else if (i + 3 < n && (p[i + 1] & 0x0F) == 0x0F && p[i + 2] == 0xBF &&
               (p[i + 3] == 0xBE || p[i + 3] == 0xBF)) {
      return true;
    }
    ++i;
  }
}

// Offset of the first '<' or '&' at or after i (n if none).
size_t FindLtOrAmp(const char* p, size_t i, size_t n) {
  const __m128i lt = _mm_set1_epi8('<');
  const __m128i amp = _mm_set1_epi8('&');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, amp))));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
  }
  for (; i < n; ++i) {
    if (p[i] == '<' || p[i] == '&') return i;
  }
  return n;
}

size_t FindByte(std::string_view s, char c, size_t from) {
  if (from >= s.size()) return s.size();
  const void* hit = std::memchr(s.data() + from, c, s.size() - from);
  return hit == nullptr ? s.size() : static_cast<size_t>(static_cast<const char*>(hit) - s.data());
}

bool MatchesIgnoreCase(std::string_view s, size_t at, std::string_view lower) {
  if (at + lower.size() > s.size()) return false;
  for (size_t k = 0; k < lower.size(); ++k) {
    if (AsciiLower(s[at + k]) != lower[k]) return false;
  }
  return true;
}

// The class the nesting limiter (extract.cc) gives a tag; mirrored here so
// that the streaming pass gives up on exactly the pages the limiter would
// rewrite for the reference path.
enum class LimiterClass : uint8_t { kCounted, kFormatting, kForeign, kRaw, kOther };

constexpr std::array<LimiterClass, GUMBO_TAG_LAST + 1> MakeLimiterClasses() {
  std::array<LimiterClass, GUMBO_TAG_LAST + 1> a{};
  for (auto& x : a) x = LimiterClass::kCounted;
  for (GumboTag t : {GUMBO_TAG_B, GUMBO_TAG_BIG, GUMBO_TAG_CODE, GUMBO_TAG_EM, GUMBO_TAG_FONT,
                     GUMBO_TAG_I, GUMBO_TAG_S, GUMBO_TAG_SMALL, GUMBO_TAG_STRIKE, GUMBO_TAG_STRONG,
                     GUMBO_TAG_TT, GUMBO_TAG_U}) {
    a[t] = LimiterClass::kFormatting;
  }
  a[GUMBO_TAG_SVG] = LimiterClass::kForeign;
  a[GUMBO_TAG_MATH] = LimiterClass::kForeign;
  // Void, implicitly closed, raw-text and plaintext tags: not counted.
  for (GumboTag t :
       {GUMBO_TAG_A,        GUMBO_TAG_AREA,     GUMBO_TAG_BASE,      GUMBO_TAG_BASEFONT,
        GUMBO_TAG_BGSOUND,  GUMBO_TAG_BODY,     GUMBO_TAG_BR,        GUMBO_TAG_CAPTION,
        GUMBO_TAG_COL,      GUMBO_TAG_COLGROUP, GUMBO_TAG_DD,        GUMBO_TAG_DT,
        GUMBO_TAG_EMBED,    GUMBO_TAG_FRAME,    GUMBO_TAG_H1,        GUMBO_TAG_H2,
        GUMBO_TAG_H3,       GUMBO_TAG_H4,       GUMBO_TAG_H5,        GUMBO_TAG_H6,
        GUMBO_TAG_HEAD,     GUMBO_TAG_HR,       GUMBO_TAG_HTML,      GUMBO_TAG_IFRAME,
        GUMBO_TAG_IMAGE,    GUMBO_TAG_IMG,      GUMBO_TAG_INPUT,     GUMBO_TAG_ISINDEX,
        GUMBO_TAG_KEYGEN,   GUMBO_TAG_LI,       GUMBO_TAG_LINK,      GUMBO_TAG_META,
        GUMBO_TAG_NOBR,     GUMBO_TAG_NOEMBED,  GUMBO_TAG_NOFRAMES,  GUMBO_TAG_OPTION,
        GUMBO_TAG_P,        GUMBO_TAG_PARAM,    GUMBO_TAG_PLAINTEXT, GUMBO_TAG_SCRIPT,
        GUMBO_TAG_SOURCE,   GUMBO_TAG_STYLE,    GUMBO_TAG_TBODY,     GUMBO_TAG_TD,
        GUMBO_TAG_TEXTAREA, GUMBO_TAG_TFOOT,    GUMBO_TAG_TH,        GUMBO_TAG_THEAD,
        GUMBO_TAG_TITLE,    GUMBO_TAG_TR,       GUMBO_TAG_TRACK,     GUMBO_TAG_WBR,
        GUMBO_TAG_XMP}) {
    a[t] = LimiterClass::kOther;
  }
  for (GumboTag t :
       {GUMBO_TAG_IFRAME, GUMBO_TAG_NOEMBED, GUMBO_TAG_NOFRAMES, GUMBO_TAG_SCRIPT, GUMBO_TAG_STYLE,
        GUMBO_TAG_TEXTAREA, GUMBO_TAG_TITLE, GUMBO_TAG_XMP, GUMBO_TAG_PLAINTEXT}) {
    a[t] = LimiterClass::kRaw;
  }
  return a;
}
constexpr std::array<LimiterClass, GUMBO_TAG_LAST + 1> kLimiterClass = MakeLimiterClasses();

// The HTML "special" category (gumbo 0.10.1's list, HTML namespace).
constexpr std::array<bool, GUMBO_TAG_LAST + 1> MakeSpecial() {
  std::array<bool, GUMBO_TAG_LAST + 1> a{};
  for (GumboTag t :
       {GUMBO_TAG_ADDRESS,    GUMBO_TAG_APPLET,     GUMBO_TAG_AREA,     GUMBO_TAG_ARTICLE,
        GUMBO_TAG_ASIDE,      GUMBO_TAG_BASE,       GUMBO_TAG_BASEFONT, GUMBO_TAG_BGSOUND,
        GUMBO_TAG_BLOCKQUOTE, GUMBO_TAG_BODY,       GUMBO_TAG_BR,       GUMBO_TAG_BUTTON,
        GUMBO_TAG_CAPTION,    GUMBO_TAG_CENTER,     GUMBO_TAG_COL,      GUMBO_TAG_COLGROUP,
        GUMBO_TAG_MENUITEM,   GUMBO_TAG_DD,         GUMBO_TAG_DETAILS,  GUMBO_TAG_DIR,
        GUMBO_TAG_DIV,        GUMBO_TAG_DL,         GUMBO_TAG_DT,       GUMBO_TAG_EMBED,
        GUMBO_TAG_FIELDSET,   GUMBO_TAG_FIGCAPTION, GUMBO_TAG_FIGURE,   GUMBO_TAG_FOOTER,
        GUMBO_TAG_FORM,       GUMBO_TAG_FRAME,      GUMBO_TAG_FRAMESET, GUMBO_TAG_H1,
        GUMBO_TAG_H2,         GUMBO_TAG_H3,         GUMBO_TAG_H4,       GUMBO_TAG_H5,
        GUMBO_TAG_H6,         GUMBO_TAG_HEAD,       GUMBO_TAG_HEADER,   GUMBO_TAG_HGROUP,
        GUMBO_TAG_HR,         GUMBO_TAG_HTML,       GUMBO_TAG_IFRAME,   GUMBO_TAG_IMG,
        GUMBO_TAG_INPUT,      GUMBO_TAG_ISINDEX,    GUMBO_TAG_LI,       GUMBO_TAG_LINK,
        GUMBO_TAG_LISTING,    GUMBO_TAG_MARQUEE,    GUMBO_TAG_MENU,     GUMBO_TAG_META,
        GUMBO_TAG_NAV,        GUMBO_TAG_NOEMBED,    GUMBO_TAG_NOFRAMES, GUMBO_TAG_NOSCRIPT,
        GUMBO_TAG_OBJECT,     GUMBO_TAG_OL,         GUMBO_TAG_P,        GUMBO_TAG_PARAM,
        GUMBO_TAG_PLAINTEXT,  GUMBO_TAG_PRE,        GUMBO_TAG_SCRIPT,   GUMBO_TAG_SECTION,
        GUMBO_TAG_SELECT,     GUMBO_TAG_STYLE,      GUMBO_TAG_SUMMARY,  GUMBO_TAG_TABLE,
        GUMBO_TAG_TBODY,      GUMBO_TAG_TD,         GUMBO_TAG_TEMPLATE, GUMBO_TAG_TEXTAREA,
        GUMBO_TAG_TFOOT,      GUMBO_TAG_TH,         GUMBO_TAG_THEAD,    GUMBO_TAG_TITLE,
        GUMBO_TAG_TR,         GUMBO_TAG_UL,         GUMBO_TAG_WBR,      GUMBO_TAG_XMP}) {
    a[t] = true;
  }
  return a;
}
constexpr std::array<bool, GUMBO_TAG_LAST + 1> kSpecial = MakeSpecial();

bool IsScopeBoundary(GumboTag t) {
  switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
    case GUMBO_TAG_APPLET:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_HTML:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH:
    case GUMBO_TAG_MARQUEE:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_TEMPLATE: return true;
    default: return false;
  }
}

bool IsHeading(GumboTag t) {
  return t >= GUMBO_TAG_H1 && t <= GUMBO_TAG_H6;
}

// Start tags that leave SVG content for HTML ("breakout"): we give up there.
bool IsForeignBreakout(GumboTag t) {
  switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
    case GUMBO_TAG_B:
    case GUMBO_TAG_BIG:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_BR:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_CODE:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_EM:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_H1:
    case GUMBO_TAG_H2:
    case GUMBO_TAG_H3:
    case GUMBO_TAG_H4:
    case GUMBO_TAG_H5:
    case GUMBO_TAG_H6:
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_I:
    case GUMBO_TAG_IMG:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_LISTING:
    case GUMBO_TAG_MENU:
    case GUMBO_TAG_META:
    case GUMBO_TAG_NOBR:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_P:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_RUBY:
    case GUMBO_TAG_S:
    case GUMBO_TAG_SMALL:
    case GUMBO_TAG_SPAN:
    case GUMBO_TAG_STRONG:
    case GUMBO_TAG_STRIKE:
    case GUMBO_TAG_SUB:
    case GUMBO_TAG_SUP:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_TT:
    case GUMBO_TAG_U:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_VAR:
    case GUMBO_TAG_FONT: return true;
    default: return false;
  }
}

// A tag name: gumbo's enum, and for unknown tags a hash of the lower-cased
// name (end tags of unknown elements match by name).
struct TagName {
  GumboTag tag;
  uint64_t hash;          // FNV-1a of the whole lower-cased name
  uint64_t limiter_hash;  // of its first 32 bytes, as the nesting limiter compares them
};

TagName ReadTagName(std::string_view s, size_t begin, size_t end) {
  char lower[32];
  const size_t len = end - begin;
  uint64_t h = 1469598103934665603ull;
  uint64_t limiter_h = h;
  for (size_t k = 0; k < len; ++k) {
    const char c = AsciiLower(s[begin + k]);
    if (k < sizeof(lower)) lower[k] = c;
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    if (k == 31) limiter_h = h;
  }
  if (len <= 31) limiter_h = h;
  const GumboTag tag =
      len <= sizeof(lower) ? gumbo_tagn_enum(lower, static_cast<unsigned>(len)) : GUMBO_TAG_UNKNOWN;
  return {tag, tag == GUMBO_TAG_UNKNOWN ? h : 0, limiter_h};
}

// The scratch state of one extraction; reused across pages (thread_local).
class StreamExtractor {
 public:
  bool Run(std::string_view html, ExtractedText* out) {
    Reset(html, out);
    // gumbo replaces ill-formed sequences itself; the reference path takes
    // those (rare) pages.
    const bool ok = IsValidUtf8(html) && !HasLaterDoctype() && Parse();
    if (ok) {
      while (stack_.size() > 2) Pop();
      EndBlock();
    }
    FinishBlocks();
    return ok;
  }

 private:
  // kHead: "before head" and "in head"; kAfterHead: after </head> (where
  // <noscript> starts the body); kHeadNoscript: "in head noscript".
  enum class Mode : uint8_t { kHead, kAfterHead, kHeadNoscript, kBody };

  struct Open {
    GumboTag tag;
    Action action;
    bool foreign;  // an SVG element (the <svg> itself included)
    uint64_t hash;
    uint32_t uid;  // identifies the element for the list of active formatting elements
  };

  // An entry of HTML5's list of active formatting elements: a formatting
  // element (uid of its open element, 0 once it was closed implicitly and
  // waits to be re-created), or a marker (tag GUMBO_TAG_LAST).
  struct Formatting {
    GumboTag tag;
    uint32_t uid;
  };

  struct LimiterOpen {
    GumboTag tag;
    bool foreign;
    uint64_t hash;
  };

  void Reset(std::string_view html, ExtractedText* out) {
    s_ = html;
    out_ = out;
    used_ = 0;
    out_->title.clear();
    current_.clear();
    pending_space_ = false;
    chrome_ = false;
    stack_.clear();
    stack_.push_back({GUMBO_TAG_HTML, Action::kBlock, false, 0, 0});
    stack_.push_back({GUMBO_TAG_BODY, Action::kBlock, false, 0, 0});
    afe_.clear();
    limiter_stack_.clear();
    limiter_foreign_ = 0;
    formatting_open_.fill(0);
    mode_ = Mode::kHead;
    head_title_seen_ = false;
    chrome_depth_ = pre_depth_ = drop_depth_ = foreign_depth_ = template_depth_ = 0;
    integration_depth_ = 0;
    form_open_ = false;
    ignore_lf_ = false;
    plaintext_ = false;
    text_since_tag_ = false;
  }

  // ---- blocks (the same rules as the reference walk's BlockBuilder) ----

  void Text(const char* p, size_t n, bool convert_cr) {
    const bool chrome = chrome_depth_ > 0;
    if (pre_depth_ > 0) {
      TextPre(p, n, chrome, convert_cr);
      return;
    }
    size_t i = 0;
    while (i < n) {
      if (kSpace[static_cast<unsigned char>(p[i])]) {
        pending_space_ = true;
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < n && !kSpace[static_cast<unsigned char>(p[j])]) ++j;
      if (pending_space_) {
        if (!current_.empty()) current_.push_back(' ');
        pending_space_ = false;
      }
      current_.append(p + i, j - i);
      text_since_tag_ = true;
      i = j;
    }
    chrome_ = chrome;
  }

  // Inside <pre>: each line a block, spacing kept. The source's CR and CRLF
  // are LF (HTML input preprocessing); a CR from &#13; is kept.
  void TextPre(const char* p, size_t n, bool chrome, bool convert_cr) {
    if (n > 0) text_since_tag_ = true;  // in <pre> even whitespace shows
    if (pending_space_ && !current_.empty()) current_.push_back(' ');
    pending_space_ = false;
    chrome_ = chrome;
    size_t begin = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = p[i];
      if (c != '\n' && !(convert_cr && c == '\r')) continue;
      current_.append(p + begin, i - begin);
      if (c == '\r' && i + 1 < n && p[i + 1] == '\n') ++i;
      EndBlock();
      chrome_ = chrome;
      begin = i + 1;
    }
    current_.append(p + begin, n - begin);
  }

  void EndBlock() {
    pending_space_ = false;
    if (current_.empty()) return;
    const std::string_view trimmed = TrimBlockText(current_);
    if (!trimmed.empty()) {
      Block& b = NextBlock();
      if (IsValidUtf8(trimmed)) {
        b.text.assign(trimmed);
      } else {
        b.text = RepairUtf8(trimmed);
      }
      b.chrome = chrome_;
    }
    current_.clear();
  }

  Block& NextBlock() {
    std::vector<Block>& blocks = out_->blocks;
    if (used_ < blocks.size()) return blocks[used_++];
    if (!spare_.empty()) {
      blocks.push_back(std::move(spare_.back()));
      spare_.pop_back();
    } else {
      blocks.emplace_back();
    }
    ++used_;
    return blocks.back();
  }

  // Blocks past the page's count go back to the spare pool (their buffers
  // serve the next page), within bounds so that one huge page does not keep
  // its memory for ever.
  void FinishBlocks() {
    // Last block first, so that a block taken back from the pool lands in
    // the position it had (its buffer then fits the same kind of block).
    std::vector<Block>& blocks = out_->blocks;
    for (size_t k = blocks.size(); k-- > used_;) {
      if (spare_.size() < kMaxSpareBlocks && blocks[k].text.capacity() <= kMaxSpareBytes) {
        spare_.push_back(std::move(blocks[k]));
      }
    }
    blocks.resize(used_);
    if (current_.capacity() > kMaxKeptBuffer) std::string().swap(current_);
    if (title_raw_.capacity() > kMaxKeptBuffer) std::string().swap(title_raw_);
  }

  // A block boundary, unless inside a subtree the reference walk never
  // enters (template, noscript, svg, ...).
  void Boundary() {
    if (drop_depth_ == 0) EndBlock();
  }

  // ---- the stack of open elements ----

  bool Push(GumboTag tag, uint64_t hash, bool foreign) {
    if (stack_.size() >= kMaxHtmlDepth) return false;
    const Action action = foreign && tag != GUMBO_TAG_SVG ? Action::kInline : kActions[tag];
    stack_.push_back({tag, action, foreign, hash, ++next_uid_});
    switch (action) {
      case Action::kBlock: Boundary(); break;
      case Action::kChrome:
        Boundary();
        ++chrome_depth_;
        break;
      case Action::kPre:
        Boundary();
        ++pre_depth_;
        break;
      case Action::kDrop: ++drop_depth_; break;
      case Action::kInline:
      case Action::kBreak:
      case Action::kTitle: break;
    }
    if (foreign) {
      ++foreign_depth_;
      if (tag == GUMBO_TAG_FOREIGNOBJECT || tag == GUMBO_TAG_DESC || tag == GUMBO_TAG_TITLE) {
        ++integration_depth_;
      }
    }
    if (tag == GUMBO_TAG_TEMPLATE && !foreign) ++template_depth_;
    return true;
  }

  void Pop() {
    text_since_tag_ = false;  // popping flushes gumbo's text buffer
    const Open e = stack_.back();
    stack_.pop_back();
    if (IsFormattingTag(e.tag) && !e.foreign) {
      for (size_t k = afe_.size(); k-- > 0;) {
        if (afe_[k].uid == e.uid) {
          afe_[k].uid = 0;  // closed implicitly: re-created by Reconstruct()
          break;
        }
      }
    }
    switch (e.action) {
      case Action::kBlock: Boundary(); break;
      case Action::kChrome:
        Boundary();
        --chrome_depth_;
        break;
      case Action::kPre:
        Boundary();
        --pre_depth_;
        break;
      case Action::kDrop: --drop_depth_; break;
      case Action::kInline:
      case Action::kBreak:
      case Action::kTitle: break;
    }
    if (e.foreign) {
      --foreign_depth_;
      if (e.tag == GUMBO_TAG_FOREIGNOBJECT || e.tag == GUMBO_TAG_DESC || e.tag == GUMBO_TAG_TITLE) {
        --integration_depth_;
      }
    }
    if (e.tag == GUMBO_TAG_TEMPLATE && !e.foreign) --template_depth_;
  }

  GumboTag Top() const { return stack_.back().tag; }

  // ---- the list of active formatting elements ----
  // Modelled because HTML5 re-creates a formatting element that a block end
  // closed implicitly (<p><b>x</p><option>y</b>z: the b is re-opened before
  // the option, and </b> then closes the option too).

  static bool IsFormattingTag(GumboTag t) {
    return kLimiterClass[t] == LimiterClass::kFormatting || t == GUMBO_TAG_A || t == GUMBO_TAG_NOBR;
  }

  size_t LastMarker() const {
    for (size_t k = afe_.size(); k-- > 0;) {
      if (afe_[k].tag == GUMBO_TAG_LAST) return k + 1;
    }
    return 0;
  }

  // Pushes a formatting element and its entry. Returns false where the
  // "Noah's Ark" clause would drop an older entry: it compares attributes,
  // which this pass does not keep.
  bool PushFormatting(GumboTag t) {
    size_t same = 0;
    for (size_t k = LastMarker(); k < afe_.size(); ++k) same += afe_[k].tag == t ? 1 : 0;
    if (same >= 3 || afe_.size() >= kMaxFormattingEntries) return false;
    if (!Push(t, 0, false)) return false;
    afe_.push_back({t, stack_.back().uid});
    return true;
  }

  void PushMarker() { afe_.push_back({GUMBO_TAG_LAST, 0}); }

  void ClearToLastMarker() {
    while (!afe_.empty()) {
      const bool marker = afe_.back().tag == GUMBO_TAG_LAST;
      afe_.pop_back();
      if (marker) return;
    }
  }

  // "Reconstruct the active formatting elements": re-opens, in order, the
  // entries after the last marker or open one that were closed implicitly.
  bool Reconstruct() {
    if (afe_.empty() || afe_.back().tag == GUMBO_TAG_LAST || afe_.back().uid != 0) return true;
    size_t k = afe_.size() - 1;
    while (k > 0 && afe_[k - 1].tag != GUMBO_TAG_LAST && afe_[k - 1].uid == 0) --k;
    for (; k < afe_.size(); ++k) {
      if (!Push(afe_[k].tag, 0, false)) return false;
      afe_[k].uid = stack_.back().uid;
      text_since_tag_ = false;
    }
    return true;
  }

  // The adoption agency for end tag (or re-opened start tag) `t`, in the
  // cases that move no block: the entry is closed already (dropped), or
  // nothing special is above its element (popped with what is above).
  // Returns false (give up) for the others; `*handled` false when no entry
  // after the last marker has tag t ("any other end tag" then applies).
  bool AdoptionAgency(GumboTag t, bool* handled) {
    *handled = false;
    size_t entry = afe_.size();
    for (size_t k = afe_.size(); k-- > LastMarker();) {
      if (afe_[k].tag == t) {
        entry = k;
        break;
      }
    }
    if (entry == afe_.size()) return true;
    *handled = true;
    const uint32_t uid = afe_[entry].uid;
    if (uid != 0) {
      size_t k = stack_.size();
      while (k-- > 1 && stack_[k].uid != uid) {
        if (kSpecial[stack_[k].tag]) return false;  // a furthest block: not modelled
      }
      if (k == 0) return false;
      PopTo(k);
    }
    afe_.erase(afe_.begin() + static_cast<std::ptrdiff_t>(entry));
    return true;
  }

  // Pops down to and including stack_[k].
  void PopTo(size_t k) {
    while (stack_.size() > k) Pop();
  }

  // Index of the nearest open `tag` in scope (HTML scope; +button or
  // +ol/ul for the other scopes), or 0 (html is never matched).
  size_t InScope(GumboTag tag, bool button = false, bool list = false) const {
    for (size_t k = stack_.size(); k-- > 1;) {
      const GumboTag t = stack_[k].tag;
      if (t == tag && !stack_[k].foreign) return k;
      if (IsScopeBoundary(t) || (button && t == GUMBO_TAG_BUTTON) ||
          (list && (t == GUMBO_TAG_OL || t == GUMBO_TAG_UL))) {
        return 0;
      }
    }
    return 0;
  }

  void ClosePInButtonScope() {
    if (const size_t k = InScope(GUMBO_TAG_P, true)) PopTo(k);
  }

  // ---- the nesting limiter's estimate, mirrored ----

  // Returns false when the limiter would rewrite the page.
  bool LimiterStart(const TagName& name) {
    const LimiterClass cls = kLimiterClass[name.tag];
    if (cls == LimiterClass::kOther) return true;
    // Raw-text tags are skipped by the limiter in HTML content but counted
    // inside svg/math, as any element.
    if (cls == LimiterClass::kRaw && limiter_foreign_ == 0) return true;
    if (cls == LimiterClass::kFormatting) {
      if (formatting_open_[name.tag] >= kMaxOpenFormatting) return false;
      ++formatting_open_[name.tag];
    }
    if (limiter_stack_.size() >= kMaxHtmlDepth) return false;
    limiter_stack_.push_back({name.tag, cls == LimiterClass::kForeign, name.limiter_hash});
    if (cls == LimiterClass::kForeign) ++limiter_foreign_;
    return true;
  }

  void LimiterEnd(const TagName& name) {
    if (kLimiterClass[name.tag] == LimiterClass::kFormatting && formatting_open_[name.tag] > 0) {
      --formatting_open_[name.tag];
    }
    for (size_t k = limiter_stack_.size(); k > 0; --k) {
      const LimiterOpen& e = limiter_stack_[k - 1];
      if (e.tag == name.tag && e.hash == name.limiter_hash) {
        while (limiter_stack_.size() >= k) {
          if (limiter_stack_.back().foreign) --limiter_foreign_;
          limiter_stack_.pop_back();
        }
        return;
      }
    }
  }

  // ---- tokenizer ----

  bool Parse() {
    const size_t n = s_.size();
    size_t i = 0;
    while (i < n) {
      if (drop_depth_ > 0 || foreign_depth_ > 0) {
        i = FindByte(s_, '<', i);
      } else {
        const size_t j = FindLtOrAmp(s_.data(), i, n);
        if (j > i && !EmitSource(i, j)) return false;
        i = j;
        if (i < n && s_[i] == '&') {
          char buf[8];
          size_t len = 0;
          const size_t next = DecodeCharRef(s_, i, buf, &len);
          if (!EmitDecoded(buf, len)) return false;
          i = next;
          continue;
        }
      }
      if (i >= n) break;
      if (!Markup(&i)) return false;
      if (plaintext_) return EmitSource(i, n);
    }
    return true;
  }

  // Text from the source (not a character reference).
  // `reconstruct`: false for RCDATA/RAWTEXT content (the "text" insertion
  // mode inserts characters as they are).
  bool EmitSource(size_t begin, size_t end, bool reconstruct = true) {
    if (begin >= end) return true;
    const auto* p = reinterpret_cast<const unsigned char*>(s_.data());
    if (foreign_depth_ > 0) {
      ignore_lf_ = false;
      return true;
    }
    if (drop_depth_ > 0) {
      ignore_lf_ = false;
      return !reconstruct || Reconstruct();
    }
    if (!EnterBodyForText(begin, end)) {
      ignore_lf_ = false;
      return true;  // whitespace in <head>
    }
    if (reconstruct && !Reconstruct()) return false;
    if (HasNoncharacter(p + begin, end - begin)) return false;
    if (ignore_lf_ && s_[begin] == '\n') {
      ++begin;
    } else if (ignore_lf_ && s_[begin] == '\r') {
      ++begin;
      if (begin < end && s_[begin] == '\n') ++begin;
    }
    ignore_lf_ = false;
    if (begin < end) Text(s_.data() + begin, end - begin, true);
    return true;
  }

  bool EmitDecoded(const char* p, size_t n, bool reconstruct = true) {
    if (foreign_depth_ > 0) {
      ignore_lf_ = false;
      return true;
    }
    if (drop_depth_ > 0) {
      ignore_lf_ = false;
      return !reconstruct || Reconstruct();
    }
    if (mode_ != Mode::kBody && std::all_of(p, p + n, IsHtmlSpace)) {
      ignore_lf_ = false;
      return true;
    }
    mode_ = Mode::kBody;
    if (reconstruct && !Reconstruct()) return false;
    if (ignore_lf_ && n == 1 && p[0] == '\n') {
      ignore_lf_ = false;
      return true;
    }
    ignore_lf_ = false;
    Text(p, n, false);
    return true;
  }

  // In <head>, whitespace stays there (invisible) and anything else starts
  // the body. Returns false for text that stays in the head.
  bool EnterBodyForText(size_t begin, size_t end) {
    if (mode_ == Mode::kBody) return true;
    for (size_t k = begin; k < end; ++k) {
      if (!IsHtmlSpace(s_[k])) {
        mode_ = Mode::kBody;
        return true;
      }
    }
    return false;
  }

  // Skips a tag's attributes from i (just after the name) to just after its
  // '>' (HTML5 attribute states; quotes count only as a value's first
  // character). Returns npos when the document ends inside the tag.
  size_t TagEnd(size_t i, bool* self_closing) const {
    const size_t n = s_.size();
    *self_closing = false;
    while (i < n) {
      const char c = s_[i];
      if (c == '>') return i + 1;
      if (c == '/') {
        if (i + 1 < n && s_[i + 1] == '>') {
          *self_closing = true;
          return i + 2;
        }
        ++i;
        continue;
      }
      if (IsHtmlSpace(c)) {
        ++i;
        continue;
      }
      // An attribute name (its first character may be anything, even '=').
      ++i;
      while (i < n && !IsHtmlSpace(s_[i]) && s_[i] != '/' && s_[i] != '>' && s_[i] != '=') ++i;
      while (i < n && IsHtmlSpace(s_[i])) ++i;
      if (i >= n) return std::string_view::npos;
      if (s_[i] != '=') continue;
      ++i;
      while (i < n && IsHtmlSpace(s_[i])) ++i;
      if (i >= n) return std::string_view::npos;
      if (s_[i] == '"' || s_[i] == '\'') {
        const size_t close = s_.find(s_[i], i + 1);
        if (close == std::string_view::npos) return std::string_view::npos;
        i = close + 1;
        continue;
      }
      // Unquoted value: up to whitespace or '>'.
      while (i < n && !IsHtmlSpace(s_[i]) && s_[i] != '>') ++i;
    }
    return std::string_view::npos;
  }

  size_t SkipTo(std::string_view what, size_t from) const {
    const size_t at = s_.find(what, from);
    return at == std::string_view::npos ? s_.size() : at + what.size();
  }

  bool Markup(size_t* pos) {
    const size_t n = s_.size();
    const size_t lt = *pos;
    ignore_lf_ = false;
    if (lt + 1 >= n) {
      *pos = n;
      return EmitLiteral(lt, n);
    }
    const char c = s_[lt + 1];
    if (c == '!') {
      if (s_.compare(lt, 4, "<!--") == 0) {
        *pos = CommentEnd(lt);
        text_since_tag_ = false;  // a comment node flushes gumbo's text buffer
      } else if (foreign_depth_ > 0 && s_.compare(lt, 9, "<![CDATA[") == 0) {
        *pos = SkipTo("]]>", lt + 9);
      } else {
        *pos = SkipTo(">", lt + 2);
      }
      return true;
    }
    if (c == '?') {
      *pos = SkipTo(">", lt + 2);
      return true;
    }
    if (c == '/') {
      if (lt + 2 >= n) {
        *pos = n;
        return EmitLiteral(lt, n);
      }
      if (s_[lt + 2] == '>') {
        *pos = lt + 3;
        return true;
      }
      if (!IsAsciiAlpha(s_[lt + 2])) {
        *pos = SkipTo(">", lt + 2);
        return true;
      }
      size_t name_end = lt + 2;
      while (name_end < n && !IsHtmlSpace(s_[name_end]) && s_[name_end] != '/' &&
             s_[name_end] != '>') {
        ++name_end;
      }
      bool self_closing = false;
      const size_t end = TagEnd(name_end, &self_closing);
      if (end == std::string_view::npos) {
        *pos = n;
        return true;
      }
      *pos = end;
      const TagName name = ReadTagName(s_, lt + 2, name_end);
      LimiterEnd(name);
      return EndTag(name);
    }
    if (!IsAsciiAlpha(c)) {
      *pos = lt + 1;
      return EmitLiteral(lt, lt + 1);
    }
    size_t name_end = lt + 1;
    while (name_end < n && !IsHtmlSpace(s_[name_end]) && s_[name_end] != '/' &&
           s_[name_end] != '>') {
      ++name_end;
    }
    bool self_closing = false;
    const size_t end = TagEnd(name_end, &self_closing);
    if (end == std::string_view::npos) {
      *pos = n;
      return true;
    }
    *pos = end;
    const TagName name = ReadTagName(s_, lt + 1, name_end);
    if (!LimiterStart(name)) return false;
    switch (static_cast<int>(name.tag)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
      case GUMBO_TAG_HTML:
      case GUMBO_TAG_BODY:
      case GUMBO_TAG_HEAD:
      case GUMBO_TAG_CAPTION:
      case GUMBO_TAG_COL:
      case GUMBO_TAG_COLGROUP:
      case GUMBO_TAG_FRAME:
      case GUMBO_TAG_TBODY:
      case GUMBO_TAG_TD:
      case GUMBO_TAG_TFOOT:
      case GUMBO_TAG_TH:
      case GUMBO_TAG_THEAD:
      case GUMBO_TAG_TR: break;          // ignored tokens: gumbo's text buffer stays
      default: text_since_tag_ = false;  // an inserted element flushes it
    }
    return StartTag(name, self_closing, pos);
  }

  bool EmitLiteral(size_t begin, size_t end) {
    if (foreign_depth_ > 0) return true;
    if (drop_depth_ > 0) return Reconstruct();
    mode_ = Mode::kBody;
    if (!Reconstruct()) return false;
    Text(s_.data() + begin, end - begin, true);
    return true;
  }

  // Comments end at the first "-->" or "--!>"; "<!-->" and "<!--->" are
  // complete; an unterminated one runs to the end.
  size_t CommentEnd(size_t lt) const {
    const size_t body = lt + 4;
    if (s_.compare(body, 1, ">") == 0) return body + 1;
    if (s_.compare(body, 2, "->") == 0) return body + 2;
    return CommentEndAfter(s_, body);
  }

  // Where raw text (RAWTEXT / RCDATA) of element `lower` ends: at "</lower"
  // followed by whitespace, '/' or '>'; the end of the document if never.
  // "</lower" that the document ends right after is text (the end tag name
  // state's "anything else" at EOF), as in gumbo: "<title>a</title" is titled
  // "a</title".
  size_t RawTextEnd(std::string_view lower, size_t from) const {
    size_t at = from;
    for (;;) {
      at = FindByte(s_, '<', at);
      if (at >= s_.size()) return s_.size();
      if (IsEndTagOf(lower, at)) return at;
      ++at;
    }
  }

  bool IsEndTagOf(std::string_view lower, size_t at) const {
    if (at + 2 + lower.size() > s_.size() || s_[at + 1] != '/') return false;
    if (!MatchesIgnoreCase(s_, at + 2, lower)) return false;
    const size_t after = at + 2 + lower.size();
    return after < s_.size() && (IsHtmlSpace(s_[after]) || s_[after] == '/' || s_[after] == '>');
  }

  bool IsStartTagOf(std::string_view lower, size_t at) const {
    if (at + 1 + lower.size() > s_.size()) return false;
    if (!MatchesIgnoreCase(s_, at + 1, lower)) return false;
    const size_t after = at + 1 + lower.size();
    return after < s_.size() && (IsHtmlSpace(s_[after]) || s_[after] == '/' || s_[after] == '>');
  }

  // Script data with its escape states ("<!--" ... "<script>" ... "-->"):
  // where the script's "</script" end tag starts.
  size_t ScriptEnd(size_t from) const {
    const size_t n = s_.size();
    enum { kData, kEscaped, kDoubleEscaped } state = kData;
    size_t dashes = 0;  // consecutive '-' just seen in the escaped states
    size_t i = from;
    while (i < n) {
      if (state == kData) {
        i = FindByte(s_, '<', i);
        if (i >= n) return n;
        if (IsEndTagOf("script", i)) return i;
        if (s_.compare(i, 4, "<!--") == 0) {
          state = kEscaped;
          dashes = 2;
          i += 4;
          continue;
        }
        ++i;
        continue;
      }
      const char c = s_[i];
      if (c == '-') {
        ++dashes;
        ++i;
        continue;
      }
      if (c == '>' && dashes >= 2) {
        state = kData;
        dashes = 0;
        ++i;
        continue;
      }
      dashes = 0;
      if (c == '<') {
        if (state == kEscaped) {
          if (IsEndTagOf("script", i)) return i;
          if (IsStartTagOf("script", i)) {
            state = kDoubleEscaped;
            i += 7;
            continue;
          }
        } else if (IsEndTagOf("script", i)) {
          state = kEscaped;
          i += 8;
          continue;
        }
      }
      ++i;
    }
    return n;
  }

  // After raw content that ended at `at` (or the end): skips the end tag.
  size_t SkipEndTag(size_t at, size_t name_len) {
    if (at >= s_.size()) return s_.size();
    LimiterEnd(ReadTagName(s_, at + 2, at + 2 + name_len));
    bool self_closing = false;
    const size_t end = TagEnd(at + 2 + name_len, &self_closing);
    return end == std::string_view::npos ? s_.size() : end;
  }

  // RAWTEXT whose content is not shown: script, style, iframe, noembed,
  // noframes.
  void SkipRaw(GumboTag tag, size_t* pos) {
    const std::string_view lower = gumbo_normalized_tagname(tag);
    const size_t end = tag == GUMBO_TAG_SCRIPT ? ScriptEnd(*pos) : RawTextEnd(lower, *pos);
    *pos = SkipEndTag(end, lower.size());
  }

  // <title> content (RCDATA): entities decoded.
  bool ReadTitle(size_t* pos, bool in_head) {
    const size_t end = RawTextEnd("title", *pos);
    const bool wanted = drop_depth_ == 0 && (in_head ? !head_title_seen_ : out_->title.empty());
    if (in_head) head_title_seen_ = true;
    if (wanted) {
      const auto* p = reinterpret_cast<const unsigned char*>(s_.data());
      if (HasNoncharacter(p + *pos, end - *pos)) return false;
      title_raw_.clear();
      DecodeInto(*pos, end, &title_raw_);
      CollapseTitle();
    }
    *pos = SkipEndTag(end, 5);
    return true;
  }

  void DecodeInto(size_t begin, size_t end, std::string* out) const {
    size_t i = begin;
    while (i < end) {
      const size_t amp = FindByte(s_.substr(0, end), '&', i);
      out->append(s_.data() + i, amp - i);
      if (amp >= end) break;
      char buf[8];
      size_t len = 0;
      i = DecodeCharRef(s_.substr(0, end), amp, buf, &len);
      out->append(buf, len);
    }
  }

  // Any Unicode whitespace run -> one space, trimmed (the reference's
  // CollapsedText).
  void CollapseTitle() {
    std::string& out = out_->title;
    CollapseWhiteSpace(title_raw_, &out);
    const std::string_view t = TrimBlockText(out);
    if (!IsValidUtf8(t)) {
      out = RepairUtf8(t);
      return;
    }
    if (t.size() != out.size()) {
      const size_t off = static_cast<size_t>(t.data() - out.data());
      const size_t len = t.size();
      out.erase(0, off);
      out.resize(len);
    }
  }

  // True when the page has a "<!DOCTYPE" (case-insensitive, anywhere, even
  // in text or scripts) other than one at the very start (after whitespace
  // and a BOM). The reference's nesting limiter removes such doctypes before
  // gumbo sees the page, which can join what surrounds them into new markup
  // ("<<!DOCTYPE html>p>" becomes "<p>"); those pages take the reference
  // path. Real pages have at most the first one.
  bool HasLaterDoctype() const {
    size_t start = 0;
    if (s_.starts_with("\xEF\xBB\xBF")) start = 3;
    while (start < s_.size() && IsHtmlSpace(s_[start])) ++start;
    for (size_t at = FindByte(s_, '<', 0); at < s_.size(); at = FindByte(s_, '<', at + 1)) {
      if (at + 1 < s_.size() && s_[at + 1] == '!' && at != start &&
          MatchesIgnoreCase(s_, at, "<!doctype")) {
        return true;
      }
    }
    return false;
  }

  // ---- tree construction, as far as extraction needs it ----

  bool StartTag(const TagName& name, bool self_closing, size_t* pos) {
    GumboTag t = name.tag;
    if (foreign_depth_ > 0) {
      // Inside <svg> (dropped): only find where it ends.
      if (IsForeignBreakout(t) || integration_depth_ > 0) return false;
      if (self_closing) return true;
      return Push(t, name.hash, true);
    }
    if (mode_ == Mode::kHeadNoscript) {
      switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
        case GUMBO_TAG_BASEFONT:
        case GUMBO_TAG_BGSOUND:
        case GUMBO_TAG_LINK:
        case GUMBO_TAG_META:
        case GUMBO_TAG_HEAD:
        case GUMBO_TAG_NOSCRIPT: return true;
        case GUMBO_TAG_NOFRAMES:
        case GUMBO_TAG_STYLE: SkipRaw(t, pos); return true;
        case GUMBO_TAG_HTML: return true;
        default: mode_ = Mode::kHead; break;  // noscript closed; reprocess in head
      }
    }
    if ((mode_ == Mode::kHead || mode_ == Mode::kAfterHead) && template_depth_ == 0) {
      if (t == GUMBO_TAG_NOSCRIPT && mode_ == Mode::kAfterHead) t = GUMBO_TAG_UNKNOWN;
      switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
        case GUMBO_TAG_HTML:
        case GUMBO_TAG_HEAD:
        case GUMBO_TAG_BASE:
        case GUMBO_TAG_BASEFONT:
        case GUMBO_TAG_BGSOUND:
        case GUMBO_TAG_LINK:
        case GUMBO_TAG_META: return true;
        case GUMBO_TAG_TITLE: return ReadTitle(pos, true);
        case GUMBO_TAG_NOSCRIPT: mode_ = Mode::kHeadNoscript; return true;
        case GUMBO_TAG_NOFRAMES:
        case GUMBO_TAG_STYLE:
        case GUMBO_TAG_SCRIPT: SkipRaw(t, pos); return true;
        case GUMBO_TAG_TEMPLATE:
          if (!Push(t, 0, false)) return false;
          PushMarker();
          return true;
        case GUMBO_TAG_BODY: mode_ = Mode::kBody; return true;
        case GUMBO_TAG_FRAMESET: return false;
        default: mode_ = Mode::kBody; break;  // the body starts; reprocess
      }
      t = name.tag;
    }
    if (template_depth_ > 0) {
      switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_COL:
        case GUMBO_TAG_COLGROUP:
        case GUMBO_TAG_TBODY:
        case GUMBO_TAG_TD:
        case GUMBO_TAG_TFOOT:
        case GUMBO_TAG_TH:
        case GUMBO_TAG_THEAD:
        case GUMBO_TAG_TR: return false;  // template contents in table modes: not modelled
        default: break;
      }
    }
    switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
      case GUMBO_TAG_HTML:
      case GUMBO_TAG_BODY:
      case GUMBO_TAG_HEAD:
      case GUMBO_TAG_BASE:
      case GUMBO_TAG_BASEFONT:
      case GUMBO_TAG_BGSOUND:
      case GUMBO_TAG_LINK:
      case GUMBO_TAG_META:
      case GUMBO_TAG_CAPTION:
      case GUMBO_TAG_COL:
      case GUMBO_TAG_COLGROUP:
      case GUMBO_TAG_FRAME:
      case GUMBO_TAG_TBODY:
      case GUMBO_TAG_TD:
      case GUMBO_TAG_TFOOT:
      case GUMBO_TAG_TH:
      case GUMBO_TAG_THEAD:
      case GUMBO_TAG_TR:
      case GUMBO_TAG_PARAM:
      case GUMBO_TAG_SOURCE:
      case GUMBO_TAG_TRACK: return true;
      case GUMBO_TAG_AREA:
      case GUMBO_TAG_EMBED:
      case GUMBO_TAG_IMG:
      case GUMBO_TAG_IMAGE:
      case GUMBO_TAG_KEYGEN:
      case GUMBO_TAG_WBR:
      case GUMBO_TAG_INPUT: return Reconstruct();
      case GUMBO_TAG_BR:
        if (!Reconstruct()) return false;
        Boundary();
        return true;
      case GUMBO_TAG_HR:
        ClosePInButtonScope();
        Boundary();
        return true;
      case GUMBO_TAG_SCRIPT:
      case GUMBO_TAG_STYLE:
      case GUMBO_TAG_NOFRAMES:
      case GUMBO_TAG_IFRAME:
      case GUMBO_TAG_NOEMBED: SkipRaw(t, pos); return true;
      case GUMBO_TAG_TITLE: return ReadTitle(pos, false);
      case GUMBO_TAG_XMP: {
        ClosePInButtonScope();
        if (!Reconstruct() || !Push(t, 0, false)) return false;
        const size_t end = RawTextEnd("xmp", *pos);
        if (!EmitSource(*pos, end, false)) return false;
        if (end < s_.size()) Pop();
        *pos = SkipEndTag(end, 3);
        return true;
      }
      case GUMBO_TAG_TEXTAREA: {
        if (!Push(t, 0, false)) return false;
        const size_t end = RawTextEnd("textarea", *pos);
        ignore_lf_ = true;
        if (!EmitRcdata(*pos, end)) return false;
        if (end < s_.size()) Pop();
        *pos = SkipEndTag(end, 8);
        return true;
      }
      case GUMBO_TAG_PLAINTEXT:
        ClosePInButtonScope();
        if (!Push(t, 0, false)) return false;
        plaintext_ = true;
        return true;
      case GUMBO_TAG_ADDRESS:
      case GUMBO_TAG_ARTICLE:
      case GUMBO_TAG_ASIDE:
      case GUMBO_TAG_BLOCKQUOTE:
      case GUMBO_TAG_CENTER:
      case GUMBO_TAG_DETAILS:
      case GUMBO_TAG_DIR:
      case GUMBO_TAG_DIV:
      case GUMBO_TAG_DL:
      case GUMBO_TAG_FIELDSET:
      case GUMBO_TAG_FIGCAPTION:
      case GUMBO_TAG_FIGURE:
      case GUMBO_TAG_FOOTER:
      case GUMBO_TAG_HEADER:
      case GUMBO_TAG_HGROUP:
      case GUMBO_TAG_MENU:
      case GUMBO_TAG_MAIN:
      case GUMBO_TAG_NAV:
      case GUMBO_TAG_OL:
      case GUMBO_TAG_P:
      case GUMBO_TAG_SECTION:
      case GUMBO_TAG_SUMMARY:
      case GUMBO_TAG_UL: ClosePInButtonScope(); return Push(t, 0, false);
      case GUMBO_TAG_H1:
      case GUMBO_TAG_H2:
      case GUMBO_TAG_H3:
      case GUMBO_TAG_H4:
      case GUMBO_TAG_H5:
      case GUMBO_TAG_H6:
        ClosePInButtonScope();
        if (IsHeading(Top())) Pop();
        return Push(t, 0, false);
      case GUMBO_TAG_PRE:
      case GUMBO_TAG_LISTING:
        ClosePInButtonScope();
        if (!Push(t, 0, false)) return false;
        ignore_lf_ = true;
        return true;
      case GUMBO_TAG_FORM:
        // A nested <form> is ignored, and gumbo 0.10.1 then closes the
        // outer one differently from the specification: not modelled.
        if (form_open_ && template_depth_ == 0) return false;
        ClosePInButtonScope();
        if (template_depth_ == 0) form_open_ = true;
        return Push(t, 0, false);
      case GUMBO_TAG_LI:
      case GUMBO_TAG_DD:
      case GUMBO_TAG_DT:
        CloseListItem(t);
        ClosePInButtonScope();
        return Push(t, 0, false);
      case GUMBO_TAG_BUTTON:
        if (const size_t k = InScope(GUMBO_TAG_BUTTON)) PopTo(k);
        return Reconstruct() && Push(t, 0, false);
      case GUMBO_TAG_A: {
        bool handled = false;
        if (!AdoptionAgency(t, &handled)) return false;
        return Reconstruct() && PushFormatting(t);
      }
      case GUMBO_TAG_NOBR:
        if (!Reconstruct()) return false;
        if (InScope(GUMBO_TAG_NOBR) != 0) {
          bool handled = false;
          if (!AdoptionAgency(t, &handled) || !Reconstruct()) return false;
        }
        return PushFormatting(t);
      case GUMBO_TAG_B:
      case GUMBO_TAG_BIG:
      case GUMBO_TAG_CODE:
      case GUMBO_TAG_EM:
      case GUMBO_TAG_FONT:
      case GUMBO_TAG_I:
      case GUMBO_TAG_S:
      case GUMBO_TAG_SMALL:
      case GUMBO_TAG_STRIKE:
      case GUMBO_TAG_STRONG:
      case GUMBO_TAG_TT:
      case GUMBO_TAG_U: return Reconstruct() && PushFormatting(t);
      case GUMBO_TAG_APPLET:
      case GUMBO_TAG_MARQUEE:
      case GUMBO_TAG_OBJECT:
        if (!Reconstruct() || !Push(t, 0, false)) return false;
        PushMarker();
        return true;
      case GUMBO_TAG_TEMPLATE:
        if (!Push(t, 0, false)) return false;
        PushMarker();
        return true;
      case GUMBO_TAG_OPTION:
      case GUMBO_TAG_OPTGROUP:
        if (Top() == GUMBO_TAG_OPTION) Pop();
        return Reconstruct() && Push(t, 0, false);
      case GUMBO_TAG_SVG:
        if (!Reconstruct()) return false;
        if (self_closing) return true;
        return Push(t, name.hash, true);
      case GUMBO_TAG_TABLE:
      case GUMBO_TAG_SELECT:
      case GUMBO_TAG_MATH:
      case GUMBO_TAG_FRAMESET:
      case GUMBO_TAG_ISINDEX:
      case GUMBO_TAG_MENUITEM:
      case GUMBO_TAG_RB:
      case GUMBO_TAG_RP:
      case GUMBO_TAG_RT:
      case GUMBO_TAG_RTC: return false;  // not modelled: the reference path
      default: return Reconstruct() && Push(t, name.hash, false);
    }
  }

  bool EmitRcdata(size_t begin, size_t end) {
    size_t i = begin;
    while (i < end) {
      const size_t amp = FindByte(s_.substr(0, end), '&', i);
      if (amp > i && !EmitSource(i, amp, false)) return false;
      if (amp >= end) break;
      char buf[8];
      size_t len = 0;
      i = DecodeCharRef(s_.substr(0, end), amp, buf, &len);
      if (!EmitDecoded(buf, len, false)) return false;
    }
    ignore_lf_ = false;
    return true;
  }

  // <li> closes an open li (<dd>/<dt>: an open dd or dt) unless a special
  // element other than address, div, p is in between.
  void CloseListItem(GumboTag t) {
    for (size_t k = stack_.size(); k-- > 1;) {
      const GumboTag s = stack_[k].tag;
      const bool match =
          t == GUMBO_TAG_LI ? s == GUMBO_TAG_LI : (s == GUMBO_TAG_DD || s == GUMBO_TAG_DT);
      if (match) {
        PopTo(k);
        return;
      }
      if (kSpecial[s] && s != GUMBO_TAG_ADDRESS && s != GUMBO_TAG_DIV && s != GUMBO_TAG_P) return;
    }
  }

  bool EndTag(const TagName& name) {
    const GumboTag t = name.tag;
    if (foreign_depth_ > 0) {
      for (size_t k = stack_.size(); k-- > 1;) {
        if (!stack_[k].foreign) return false;  // back in HTML content: not modelled
        if (stack_[k].tag == t && stack_[k].hash == name.hash) {
          PopTo(k);
          return true;
        }
      }
      return false;
    }
    if (mode_ == Mode::kHeadNoscript) {
      if (t == GUMBO_TAG_NOSCRIPT) {
        mode_ = Mode::kHead;
        return true;
      }
      if (t != GUMBO_TAG_BR) return true;
      mode_ = Mode::kHead;
    }
    if ((mode_ == Mode::kHead || mode_ == Mode::kAfterHead) && template_depth_ == 0) {
      switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
        case GUMBO_TAG_BODY:
        case GUMBO_TAG_HTML:
        case GUMBO_TAG_BR: mode_ = Mode::kBody; break;
        case GUMBO_TAG_HEAD: mode_ = Mode::kAfterHead; return true;
        default: return true;
      }
    }
    switch (static_cast<int>(t)) {  // GumboTag has ~150 values: int, not -Wswitch-enum
      case GUMBO_TAG_BODY:
      case GUMBO_TAG_HTML: return true;
      case GUMBO_TAG_BR:
        if (!Reconstruct()) return false;
        text_since_tag_ = false;
        Boundary();
        return true;
      case GUMBO_TAG_P:
        if (const size_t k = InScope(GUMBO_TAG_P, true)) {
          PopTo(k);
        } else {
          text_since_tag_ = false;
          Boundary();  // an empty <p> is inserted
        }
        return true;
      case GUMBO_TAG_LI:
        if (const size_t k = InScope(t, false, true)) PopTo(k);
        return true;
      case GUMBO_TAG_H1:
      case GUMBO_TAG_H2:
      case GUMBO_TAG_H3:
      case GUMBO_TAG_H4:
      case GUMBO_TAG_H5:
      case GUMBO_TAG_H6: {
        size_t found = 0;
        for (const GumboTag h :
             {GUMBO_TAG_H1, GUMBO_TAG_H2, GUMBO_TAG_H3, GUMBO_TAG_H4, GUMBO_TAG_H5, GUMBO_TAG_H6}) {
          found = std::max(found, InScope(h));
        }
        if (found != 0) PopTo(found);
        return true;
      }
      case GUMBO_TAG_FORM: {
        const size_t k = template_depth_ == 0 ? InScope(GUMBO_TAG_FORM) : 0;
        form_open_ = false;
        if (k == 0) return true;
        // The form is removed from wherever it is in the stack; only the
        // usual case (nothing but implied-end-tag elements above it) is
        // modelled.
        for (size_t j = k + 1; j < stack_.size(); ++j) {
          const GumboTag above = stack_[j].tag;
          if (above != GUMBO_TAG_P && above != GUMBO_TAG_LI && above != GUMBO_TAG_DD &&
              above != GUMBO_TAG_DT && above != GUMBO_TAG_OPTION && above != GUMBO_TAG_OPTGROUP) {
            return false;
          }
        }
        // gumbo 0.10.1 removes the form without flushing the text it has
        // buffered since the last tag, which then lands after the form:
        // not modelled.
        if (k + 1 == stack_.size() && text_since_tag_) return false;
        PopTo(k);
        return true;
      }
      case GUMBO_TAG_TEMPLATE:
        for (size_t k = stack_.size(); k-- > 1;) {
          if (stack_[k].tag == GUMBO_TAG_TEMPLATE) {
            PopTo(k);
            ClearToLastMarker();
            break;
          }
        }
        return true;
      case GUMBO_TAG_ADDRESS:
      case GUMBO_TAG_ARTICLE:
      case GUMBO_TAG_ASIDE:
      case GUMBO_TAG_BLOCKQUOTE:
      case GUMBO_TAG_BUTTON:
      case GUMBO_TAG_CENTER:
      case GUMBO_TAG_DETAILS:
      case GUMBO_TAG_DIR:
      case GUMBO_TAG_DIV:
      case GUMBO_TAG_DL:
      case GUMBO_TAG_FIELDSET:
      case GUMBO_TAG_FIGCAPTION:
      case GUMBO_TAG_FIGURE:
      case GUMBO_TAG_FOOTER:
      case GUMBO_TAG_HEADER:
      case GUMBO_TAG_HGROUP:
      case GUMBO_TAG_LISTING:
      case GUMBO_TAG_MAIN:
      case GUMBO_TAG_MENU:
      case GUMBO_TAG_NAV:
      case GUMBO_TAG_OL:
      case GUMBO_TAG_PRE:
      case GUMBO_TAG_SECTION:
      case GUMBO_TAG_SUMMARY:
      case GUMBO_TAG_UL:
      case GUMBO_TAG_DD:
      case GUMBO_TAG_DT:
        if (const size_t k = InScope(t)) PopTo(k);
        return true;
      case GUMBO_TAG_APPLET:
      case GUMBO_TAG_MARQUEE:
      case GUMBO_TAG_OBJECT:
        // gumbo looks for these in table scope (html, table, template).
        for (size_t k = stack_.size(); k-- > 1;) {
          const GumboTag s = stack_[k].tag;
          if (s == t) {
            PopTo(k);
            ClearToLastMarker();
            break;
          }
          if (s == GUMBO_TAG_TABLE || s == GUMBO_TAG_TEMPLATE) break;
        }
        return true;
      case GUMBO_TAG_A:
      case GUMBO_TAG_NOBR:
      case GUMBO_TAG_B:
      case GUMBO_TAG_BIG:
      case GUMBO_TAG_CODE:
      case GUMBO_TAG_EM:
      case GUMBO_TAG_FONT:
      case GUMBO_TAG_I:
      case GUMBO_TAG_S:
      case GUMBO_TAG_SMALL:
      case GUMBO_TAG_STRIKE:
      case GUMBO_TAG_STRONG:
      case GUMBO_TAG_TT:
      case GUMBO_TAG_U: {
        bool handled = false;
        if (!AdoptionAgency(t, &handled)) return false;
        if (handled) return true;
        [[fallthrough]];  // no entry: "any other end tag"
      }
      default:
        // Any other end tag: pop to the nearest element of that name unless
        // a special element comes first (then it is ignored). gumbo compares
        // tag enums, so any unknown end tag closes the nearest unknown element.
        for (size_t k = stack_.size(); k-- > 1;) {
          const Open& e = stack_[k];
          if (e.tag == t && !e.foreign) {
            PopTo(k);
            return true;
          }
          if (kSpecial[e.tag]) return true;
        }
        return true;
    }
  }

  static constexpr size_t kMaxFormattingEntries = 64;
  static constexpr size_t kMaxSpareBlocks = 4096;
  static constexpr size_t kMaxSpareBytes = 64 * 1024;
  static constexpr size_t kMaxKeptBuffer = 1 << 20;

  std::string_view s_;
  ExtractedText* out_ = nullptr;
  size_t used_ = 0;
  std::vector<Block> spare_;
  std::string current_;
  std::string title_raw_;
  bool pending_space_ = false;
  bool chrome_ = false;

  std::vector<Open> stack_;
  std::vector<LimiterOpen> limiter_stack_;
  size_t limiter_foreign_ = 0;
  std::array<size_t, GUMBO_TAG_LAST + 1> formatting_open_{};
  Mode mode_ = Mode::kHead;
  bool head_title_seen_ = false;
  size_t chrome_depth_ = 0;
  size_t pre_depth_ = 0;
  size_t drop_depth_ = 0;
  size_t foreign_depth_ = 0;
  size_t integration_depth_ = 0;
  size_t template_depth_ = 0;
  bool form_open_ = false;
  bool ignore_lf_ = false;
  bool plaintext_ = false;
  bool text_since_tag_ = false;  // visible text since the last tag token
  std::vector<Formatting> afe_;  // the list of active formatting elements
  uint32_t next_uid_ = 0;
};

}  // namespace

namespace {
thread_local StreamExtractor tls_extractor;
}  // namespace

bool StreamExtractCleaned(std::string_view cleaned, ExtractedText* out) {
  return tls_extractor.Run(cleaned, out);
}

void ReleaseScratch() {
  tls_extractor = StreamExtractor();
  ReleaseCleanedScratch();
}

size_t CommentEndAfter(std::string_view s, size_t from) {
  for (size_t at = s.find("--", from); at != std::string_view::npos; at = s.find("--", at + 1)) {
    if (s.compare(at + 2, 1, ">") == 0) return at + 3;
    if (s.compare(at + 2, 2, "!>") == 0) return at + 4;
  }
  return s.size();
}

std::string_view TrimBlockText(std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const auto* e = b + s.size();
  while (b < e) {
    const Decoded d = DecodeUtf8(b, e);
    if (!d.valid || !(IsWhiteSpace(d.cp) || IsZeroWidth(d.cp))) break;
    b += d.len;
  }
  while (e > b) {
    const unsigned char* start = e - 1;
    while (start > b && e - start < 4 && (*start & 0xC0) == 0x80) --start;
    const Decoded d = DecodeUtf8(start, e);
    if (!d.valid || start + d.len != e || !(IsWhiteSpace(d.cp) || IsZeroWidth(d.cp))) break;
    e = start;
  }
  return {reinterpret_cast<const char*>(b), static_cast<size_t>(e - b)};
}

}  // namespace dedupd::text::internal
