// Direct JSON writer for PageEvent and PageDiff; the rules it reproduces are
// in json.h. The unit test (tests/unit/emit/json_test.cc) compares it with
// MessageToJsonString on every fixture and corpus record and on random
// messages.
#include "emit/json.h"

#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace dedupd::emit {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Code points protobuf writes as \uXXXX although JSON does not require it
// (json_escaping.cc, EscapeCodePoint): C0 and C1 controls, DEL, '"', '\',
// '<', '>', and invisible format characters.
bool NeedsEscape(uint32_t cp) {
  if (cp < 0xA0) {
    return cp < 0x20 || cp == '"' || cp == '\\' || cp == '<' || cp == '>' || cp >= 0x7F;
  }
  return cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) || cp == 0x00AD || cp == 0x06DD ||
         cp == 0x070F || cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x0600 && cp <= 0x0603) ||
         (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206A && cp <= 0x206F) || cp == 0xE0001 ||
         (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0020 && cp <= 0xE007F);
}

char* PutU16Escape(uint32_t unit, char* d) {
  d[0] = '\\';
  d[1] = 'u';
  d[2] = kHex[(unit >> 12) & 0xF];
  d[3] = kHex[(unit >> 8) & 0xF];
  d[4] = kHex[(unit >> 4) & 0xF];
  d[5] = kHex[unit & 0xF];
  return d + 6;
}

// Writes cp's escape (cp needs one) at d, at most kMaxEscape bytes; returns
// its end.
constexpr size_t kMaxEscape = 12;
char* PutEscape(uint32_t cp, char* d) {
  char c = 0;
  switch (cp) {
    case '\b': c = 'b'; break;
    case '\t': c = 't'; break;
    case '\n': c = 'n'; break;
    case '\f': c = 'f'; break;
    case '\r': c = 'r'; break;
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    default: break;
  }
  if (c != 0) {
    d[0] = '\\';
    d[1] = c;
    return d + 2;
  }
  if (cp < 0x10000) return PutU16Escape(cp, d);
  // A surrogate pair, as JSON spells a supplementary code point.
  d = PutU16Escape(0xD800 + ((cp - 0x10000) >> 10), d);
  return PutU16Escape(0xDC00 + ((cp - 0x10000) & 0x3FF), d);
}

// n bytes from s to d (not overlapping) without a memcpy call up to 128
// bytes: a head and a tail copy of a size known at compile time (they may
// overlap), which the compiler emits as a few moves (a key, a number, a
// URL). Longer ones call memcpy.
inline void CopyBytes(char* d, const char* s, size_t n) {
  if (n > 16) {
    if (n > 64) {
      if (n > 128) {
        std::memcpy(d, s, n);
        return;
      }
      std::memcpy(d, s, 64);
      std::memcpy(d + n - 64, s + n - 64, 64);
    } else if (n > 32) {
      std::memcpy(d, s, 32);
      std::memcpy(d + n - 32, s + n - 32, 32);
    } else {
      std::memcpy(d, s, 16);
      std::memcpy(d + n - 16, s + n - 16, 16);
    }
  } else if (n >= 8) {
    std::memcpy(d, s, 8);
    std::memcpy(d + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(d, s, 4);
    std::memcpy(d + n - 4, s + n - 4, 4);
  } else if (n > 0) {
    d[0] = s[0];
    d[n / 2] = s[n / 2];
    d[n - 1] = s[n - 1];
  }
}

// Writes into *out at a cursor: the string is sized ahead of the cursor
// (kAhead more bytes each time it runs short) and each piece is stored
// there, the short ones (keys, punctuation, numbers, most strings) with
// inline copies (CopyBytes) instead of a std::string::append each, which was
// a memcpy call (42 for a REVISED event). Finish() cuts the string at the cursor.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out), at_(out->size()) {}

  bool ok() const { return ok_; }
  // Once, at the end: *out ends where the writing did.
  void Finish() { out_->resize(at_); }

  // '{' / '}' of an object; fields in between are separated by commas.
  void Open() {
    Put('{');
    first_ = true;
  }
  void Close() {
    Put('}');
    first_ = false;
  }

  void Key(std::string_view name) {
    char* d = Room(name.size() + 4);
    if (!first_) *d++ = ',';
    first_ = false;
    *d++ = '"';
    CopyBytes(d, name.data(), name.size());
    d += name.size();
    *d++ = '"';
    *d++ = ':';
    at_ = static_cast<size_t>(d - out_->data());
  }

  // The fields, each left out when it holds its proto3 default.
  void String(std::string_view name, const std::string& v) {
    if (v.empty()) return;
    Key(name);
    Quoted(v);
  }
  void Uint32(std::string_view name, uint32_t v) {
    if (v == 0) return;
    Key(name);
    Number(v);
  }
  void Int32(std::string_view name, int32_t v) {
    if (v == 0) return;
    Key(name);
    Number(v);
  }
  void Int64(std::string_view name, int64_t v) {  // int64 as a string
    if (v == 0) return;
    Key(name);
    Put('"');
    Number(v);
    Put('"');
  }
  void Uint64(std::string_view name, uint64_t v) {  // uint64 and fixed64 as a string
    if (v == 0) return;
    Key(name);
    Put('"');
    Number(v);
    Put('"');
  }
  void Bool(std::string_view name, bool v) {
    if (!v) return;
    Key(name);
    Bytes("true");
  }
  void Double(std::string_view name, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (bits == 0) return;  // protobuf 3.21 writes -0.0 (its bits are not 0)
    Key(name);
    DoubleValue(v);
  }
  // An enum field: its value's name, or the number when it has none.
  void Enum(std::string_view name, int v, const std::string& value_name) {
    if (v == 0) return;
    Key(name);
    EnumValue(v, value_name);
  }

  // List elements: the caller writes '[' and ']' and calls Comma between.
  void Comma() { Put(','); }
  void Raw(char c) { Put(c); }

  void EnumValue(int v, const std::string& value_name) {
    if (value_name.empty()) {
      Number(v);
    } else {
      Quoted(value_name);
    }
  }

  template <typename T>
  void Number(T v) {
    constexpr size_t kRoom = 24;  // 20 digits and a sign
    char* d = Room(kRoom);
    const auto r = std::to_chars(d, d + kRoom, v);
    at_ = static_cast<size_t>(r.ptr - out_->data());
  }

  // protobuf's SimpleDtoa: "%.15g", or "%.17g" if the shorter form does not
  // read back as the same double. std::to_chars with a precision is
  // specified as printf's %.*g in the C locale, without printf's format
  // parsing and locale (about 0.7% of a scan went to printf and strtod).
  void DoubleValue(double v) {
    if (!std::isfinite(v)) {
      ok_ = false;  // protobuf writes "NaN" / "Infinity": left to it
      return;
    }
    constexpr size_t kRoom = 40;
    char* d = Room(kRoom);
    auto r = std::to_chars(d, d + kRoom, v, std::chars_format::general, 15);
    double back = 0;
    if (std::from_chars(d, r.ptr, back).ptr != r.ptr || back != v) {
      r = std::to_chars(d, d + kRoom, v, std::chars_format::general, 17);
    }
    at_ = static_cast<size_t>(r.ptr - out_->data());
  }

  // A JSON string: runs that need no escape are copied as they are. Sets
  // !ok() on bytes that are not well-formed UTF-8.
  void Quoted(std::string_view s) {
    Room(s.size() + 2);  // the string without escapes: one growth at most
    Put('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    const unsigned char* run = p;
    while (p < end) {
      const unsigned c = *p;
      if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '<' && c != '>') {
        ++p;
        continue;
      }
      uint32_t cp;
      size_t len;
      if (!Decode(p, end, &cp, &len)) {
        ok_ = false;
        return;
      }
      if (NeedsEscape(cp)) {
        Bytes(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
        char* d = Room(kMaxEscape);
        at_ = static_cast<size_t>(PutEscape(cp, d) - out_->data());
        run = p + len;
      }
      p += len;
    }
    Bytes(reinterpret_cast<const char*>(run), static_cast<size_t>(end - run));
    Put('"');
  }

 private:
  // Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
  static bool Decode(const unsigned char* p, const unsigned char* end, uint32_t* cp, size_t* len) {
    const unsigned c0 = p[0];
    const auto avail = static_cast<size_t>(end - p);
    const auto cont = [&](size_t i) { return i < avail && (p[i] & 0xC0) == 0x80; };
    if (c0 < 0x80) {
      *cp = c0;
      *len = 1;
      return true;
    }
    if (c0 >= 0xC2 && c0 <= 0xDF && cont(1)) {
      *cp = ((c0 & 0x1Fu) << 6) | (p[1] & 0x3Fu);
      *len = 2;
      return true;
    }
    if (c0 >= 0xE0 && c0 <= 0xEF && cont(1) && cont(2)) {
      *cp = ((c0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
      *len = 3;
      return *cp >= 0x800 && (*cp < 0xD800 || *cp > 0xDFFF);
    }
    if (c0 >= 0xF0 && c0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
      *cp = ((c0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
      *len = 4;
      return *cp >= 0x10000 && *cp <= 0x10FFFF;
    }
    return false;
  }

  // Room for n bytes at the cursor (the string sized past it).
  char* Room(size_t n) {
    if (out_->size() - at_ < n) [[unlikely]]
      Grow(n);
    return out_->data() + at_;
  }
  // Out of line: Room() and the writes calling it stay small enough to inline.
  __attribute__((noinline)) void Grow(size_t n) { out_->resize(at_ + n + kAhead); }
  static constexpr size_t kAhead = 1024;  // an event's JSON, most of the time
  void Put(char c) {
    *Room(1) = c;
    ++at_;
  }
  void Bytes(std::string_view b) {
    CopyBytes(Room(b.size()), b.data(), b.size());
    at_ += b.size();
  }
  void Bytes(const char* b, size_t n) { Bytes(std::string_view(b, n)); }

  std::string* out_;
  size_t at_;  // the cursor: *out_ holds the output before it
  bool first_ = true;
  bool ok_ = true;
};

void WriteSource(Writer& w, const v1::SourceCoordinates& s) {
  w.Open();
  w.String("topic", s.topic());
  w.Int32("partition", s.partition());
  w.Int64("offset", s.offset());
  w.Int64("timestamp_ms", s.timestamp_ms());
  w.Close();
}

void WriteMatch(Writer& w, const v1::Match& m) {
  w.Open();
  w.String("url", m.url());
  w.Uint32("distance", m.distance());
  w.Double("similarity", m.similarity());
  w.Uint32("version", m.version());
  w.Double("jaccard", m.jaccard());
  if (m.found_by_size() > 0) {
    w.Key("found_by");
    w.Raw('[');
    for (int i = 0; i < m.found_by_size(); ++i) {
      if (i > 0) w.Comma();
      w.Quoted(m.found_by(i));
    }
    w.Raw(']');
  }
  w.Uint32("shared_sentences", m.shared_sentences());
  w.Uint32("sentences", m.sentences());
  w.Uint32("boilerplate_blocks", m.boilerplate_blocks());
  w.Close();
}

void WriteTextStats(Writer& w, const v1::TextStats& t) {
  w.Open();
  w.Uint32("blocks", t.blocks());
  w.Uint32("sentences", t.sentences());
  w.Uint32("characters", t.characters());
  w.Uint32("shingles", t.shingles());
  w.Uint32("boilerplate_blocks", t.boilerplate_blocks());
  w.Uint32("invalid_utf8", t.invalid_utf8());
  w.Close();
}

void WriteSide(Writer& w, const v1::DiffSide& s) {
  w.Open();
  w.String("url", s.url());
  w.Uint32("version", s.version());
  w.Int64("fetched_at_ms", s.fetched_at_ms());
  w.String("content_hash", s.content_hash());
  w.Close();
}

void WriteSpans(Writer& w, std::string_view name,
                const google::protobuf::RepeatedPtrField<v1::Span>& spans) {
  if (spans.empty()) return;
  w.Key(name);
  w.Raw('[');
  for (int i = 0; i < spans.size(); ++i) {
    if (i > 0) w.Comma();
    w.Open();
    w.Uint32("begin", spans[i].begin());
    w.Uint32("end", spans[i].end());
    w.Close();
  }
  w.Raw(']');
}

void WriteUint32s(Writer& w, std::string_view name,
                  const google::protobuf::RepeatedField<uint32_t>& values) {
  if (values.empty()) return;
  w.Key(name);
  w.Raw('[');
  for (int i = 0; i < values.size(); ++i) {
    if (i > 0) w.Comma();
    w.Number(values[i]);
  }
  w.Raw(']');
}

void WriteStrings(Writer& w, std::string_view name,
                  const google::protobuf::RepeatedPtrField<std::string>& values) {
  if (values.empty()) return;
  w.Key(name);
  w.Raw('[');
  for (int i = 0; i < values.size(); ++i) {
    if (i > 0) w.Comma();
    w.Quoted(values[i]);
  }
  w.Raw(']');
}

void WriteHunk(Writer& w, const v1::Hunk& h) {
  w.Open();
  w.Enum("kind", h.kind(), v1::Hunk::Kind_Name(h.kind()));
  w.Uint32("old_begin", h.old_begin());
  w.Uint32("old_end", h.old_end());
  w.Uint32("new_begin", h.new_begin());
  w.Uint32("new_end", h.new_end());
  w.Uint32("old_first_line", h.old_first_line());
  w.Uint32("old_last_line", h.old_last_line());
  w.Uint32("new_first_line", h.new_first_line());
  w.Uint32("new_last_line", h.new_last_line());
  WriteStrings(w, "old_text", h.old_text());
  WriteStrings(w, "new_text", h.new_text());
  WriteSpans(w, "old_spans", h.old_spans());
  WriteUint32s(w, "old_span_sentence", h.old_span_sentence());
  WriteSpans(w, "new_spans", h.new_spans());
  WriteUint32s(w, "new_span_sentence", h.new_span_sentence());
  w.Close();
}

void WriteSignificance(Writer& w, const v1::Significance& s) {
  w.Open();
  w.Double("changed_fraction", s.changed_fraction());
  w.Uint32("sentences_added", s.sentences_added());
  w.Uint32("sentences_removed", s.sentences_removed());
  w.Uint32("sentences_changed", s.sentences_changed());
  w.Uint64("chars_added", s.chars_added());
  w.Uint64("chars_removed", s.chars_removed());
  w.Bool("numbers_changed", s.numbers_changed());
  w.Bool("dates_changed", s.dates_changed());
  w.Bool("amounts_changed", s.amounts_changed());
  w.Enum("severity", s.severity(), v1::Severity_Name(s.severity()));
  w.Close();
}

}  // namespace

void AppendProtobufJson(const google::protobuf::Message& message, std::string* out) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out->append(json);
}

void AppendJson(const v1::PageEvent& e, std::string* out) {
  const size_t start = out->size();
  Writer w(out);
  w.Open();
  w.String("url", e.url());
  w.String("canonical_url", e.canonical_url());
  w.String("site", e.site());
  w.Int64("fetched_at_ms", e.fetched_at_ms());
  w.Int64("processed_at_ms", e.processed_at_ms());
  w.Enum("verdict", e.verdict(), v1::Verdict_Name(e.verdict()));
  if (e.flags_size() > 0) {
    w.Key("flags");
    w.Raw('[');
    for (int i = 0; i < e.flags_size(); ++i) {
      if (i > 0) w.Comma();
      w.EnumValue(e.flags(i), v1::Flag_Name(e.flags(i)));
    }
    w.Raw(']');
  }
  w.Uint32("version", e.version());
  w.Uint64("simhash", e.simhash());
  w.String("content_hash", e.content_hash());
  if (e.has_match()) {
    w.Key("match");
    WriteMatch(w, e.match());
  }
  w.Double("repeated_fraction", e.repeated_fraction());
  if (e.has_text()) {
    w.Key("text");
    WriteTextStats(w, e.text());
  }
  if (e.has_source()) {
    w.Key("source");
    WriteSource(w, e.source());
  }
  w.String("title", e.title());
  w.Enum("severity", e.severity(), v1::Severity_Name(e.severity()));
  w.String("event_id", e.event_id());
  w.Close();
  w.Finish();
  if (!w.ok()) {
    out->resize(start);
    AppendProtobufJson(e, out);
  }
}

void AppendJson(const v1::PageDiff& d, std::string* out) {
  const size_t start = out->size();
  Writer w(out);
  w.Open();
  w.String("canonical_url", d.canonical_url());
  w.String("site", d.site());
  w.Enum("verdict", d.verdict(), v1::Verdict_Name(d.verdict()));
  if (d.has_old_side()) {
    w.Key("old_side");
    WriteSide(w, d.old_side());
  }
  if (d.has_new_side()) {
    w.Key("new_side");
    WriteSide(w, d.new_side());
  }
  if (d.hunks_size() > 0) {
    w.Key("hunks");
    w.Raw('[');
    for (int i = 0; i < d.hunks_size(); ++i) {
      if (i > 0) w.Comma();
      WriteHunk(w, d.hunks(i));
    }
    w.Raw(']');
  }
  w.String("unified", d.unified());
  if (d.has_significance()) {
    w.Key("significance");
    WriteSignificance(w, d.significance());
  }
  w.Bool("truncated", d.truncated());
  w.Bool("reverted", d.reverted());
  w.String("event_id", d.event_id());
  w.Close();
  w.Finish();
  if (!w.ok()) {
    out->resize(start);
    AppendProtobufJson(d, out);
  }
}

}  // namespace dedupd::emit
