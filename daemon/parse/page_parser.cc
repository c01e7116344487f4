#include "parse/page_parser.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "parse/url.h"

namespace dedupd::parse {
namespace {

// Invalid UTF-8 is marked with U+FDD0, a noncharacter that real text does not
// carry, so that after re-parsing we can tell which field held the bad bytes:
// a required field is dead-lettered, an optional one is repaired to U+FFFD.
constexpr std::string_view kMarker = "\xEF\xB7\x90";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return len;
}

void MarkInvalidUtf8(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size() + 16);
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  while (i < in.size()) {
    size_t len = Utf8SequenceLength(p + i, in.size() - i);
    if (len == 0) {
      out->append(kMarker);
      ++i;
    } else {
      out->append(in.substr(i, len));
      i += len;
    }
  }
}

size_t ReplaceMarkers(std::string* s) {
  size_t count = 0;
  for (size_t pos = s->find(kMarker); pos != std::string::npos; pos = s->find(kMarker, pos)) {
    s->replace(pos, kMarker.size(), kReplacement);
    ++count;
  }
  return count;
}

std::string_view TypeName(simdjson::ondemand::json_type t) {
  switch (t) {
    case simdjson::ondemand::json_type::array: return "array";
    case simdjson::ondemand::json_type::object: return "object";
    case simdjson::ondemand::json_type::number: return "number";
    case simdjson::ondemand::json_type::string: return "string";
    case simdjson::ondemand::json_type::boolean: return "boolean";
    case simdjson::ondemand::json_type::null: return "null";
  }
  return "unknown";
}

bool Fail(ParseError* error, ErrorCode code, std::string detail) {
  error->code = code;
  error->detail = std::move(detail);
  return false;
}

bool AllSpace(std::string_view s) {
  // ASCII white space plus U+3000 and NBSP: a body of only these is empty.
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
    } else if (s.substr(i, 3) == "\xE3\x80\x80") {
      i += 3;
    } else if (s.substr(i, 2) == "\xC2\xA0") {
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

int DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

}  // namespace

std::string_view ReasonCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidJson: return "invalid_json";
    case ErrorCode::kMissingField: return "missing_field";
    case ErrorCode::kWrongType: return "wrong_type";
    case ErrorCode::kInvalidUtf8: return "invalid_utf8";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kEmptyBody: return "empty_body";
    case ErrorCode::kInvalidUrl: return "invalid_url";
  }
  return "unknown";
}

bool ParseRfc3339(std::string_view t, int64_t* epoch_ms) {
  auto digits = [&](size_t pos, size_t n, int* v) {
    if (pos + n > t.size()) return false;
    int x = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
      x = x * 10 + (t[i] - '0');
    }
    *v = x;
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!digits(0, 4, &y) || t.size() < 19 || t[4] != '-' || !digits(5, 2, &mo) || t[7] != '-' ||
      !digits(8, 2, &d) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2, &h) ||
      t[13] != ':' || !digits(14, 2, &mi) || t[16] != ':' || !digits(17, 2, &s)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return false;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    size_t start = pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) {
      millis += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  int64_t offset_s = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !digits(pos + 4, 2, &om)) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;  // RFC 3339 requires an offset
  }
  if (pos != t.size()) return false;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  *epoch_ms = ((days * 86400 + h * 3600 + mi * 60 + s) - offset_s) * 1000 + millis;
  return true;
}

void ParsedPage::Clear() {
  url.clear();
  canonical_url.clear();
  host.clear();
  site.clear();
  body.clear();
  content_type.clear();
  title.clear();
  fetched_at_ms = -1;
  status = 0;
  repaired_utf8 = 0;
}

PageParser::PageParser(ParseOptions options) : options_(options) {}

bool PageParser::Parse(std::string_view message, ParsedPage* page, ParseError* error,
                       bool zero_padded) {
  // The body is unescaped in place (ParseDocument): its buffer keeps the last
  // page's size until then, so that sizing it for this page's writes zeros
  // only past that size. It is emptied at the end if this message has none.
  std::string body;
  body.swap(page->body);
  page->Clear();
  page->body.swap(body);
  body_read_ = false;
  bool ok = false;
  if (message.size() > options_.max_message_bytes) {
    ok = Fail(error, ErrorCode::kTooLarge,
              "message is " + std::to_string(message.size()) + " bytes, over the limit of " +
                  std::to_string(options_.max_message_bytes));
  } else if (ParseDocument(message, false, zero_padded, page, error)) {
    ok = true;
  } else if (error->code == ErrorCode::kInvalidUtf8) {
    // Slow path: find out which field holds the invalid bytes.
    MarkInvalidUtf8(message, &repaired_);
    std::string marked = std::move(repaired_);
    ok = ParseDocument(marked, true, false, page, error);
    repaired_ = std::move(marked);
  }
  if (!body_read_) page->body.clear();
  return ok;
}

bool PageParser::ParseDocument(std::string_view json, bool repaired, bool zero_padded,
                               ParsedPage* page, ParseError* error) {
  using namespace simdjson;
  padded_string_view view;
  if (zero_padded) {
    view = padded_string_view(json.data(), json.size(), json.size() + SIMDJSON_PADDING);
  } else {
    buffer_.assign(json);
    buffer_.resize(json.size() + SIMDJSON_PADDING, '\0');
    view = padded_string_view(buffer_.data(), json.size(), buffer_.size());
  }

  ondemand::document doc;
  if (auto e = parser_.iterate(view).get(doc); e != SUCCESS) {
    if (e == UTF8_ERROR) return Fail(error, ErrorCode::kInvalidUtf8, "invalid UTF-8");
    return Fail(error, ErrorCode::kInvalidJson, std::string("invalid JSON: ") + error_message(e));
  }
  ondemand::json_type top;
  if (auto e = doc.type().get(top); e != SUCCESS) {
    if (e == UTF8_ERROR) return Fail(error, ErrorCode::kInvalidUtf8, "invalid UTF-8");
    return Fail(error, ErrorCode::kInvalidJson, std::string("invalid JSON: ") + error_message(e));
  }
  if (top != ondemand::json_type::object) {
    return Fail(error, ErrorCode::kWrongType,
                "top level is a JSON " + std::string(TypeName(top)) + ", expected an object");
  }
  ondemand::object obj;
  if (auto e = doc.get_object().get(obj); e != SUCCESS) {
    return Fail(error, ErrorCode::kInvalidJson, std::string("invalid JSON: ") + error_message(e));
  }

  bool has_url = false, has_body = false;
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e != SUCCESS) {
      return Fail(error, e == UTF8_ERROR ? ErrorCode::kInvalidUtf8 : ErrorCode::kInvalidJson,
                  std::string("invalid JSON in a key: ") + error_message(e));
    }
    ondemand::value value;
    if (auto e = field.value().get(value); e != SUCCESS) {
      return Fail(error, ErrorCode::kInvalidJson, std::string("invalid JSON: ") + error_message(e));
    }
    ondemand::json_type type;
    if (auto e = value.type().get(type); e != SUCCESS) {
      return Fail(error, ErrorCode::kInvalidJson,
                  "invalid JSON at field '" + std::string(key) + "': " + error_message(e));
    }
    auto read_string = [&](std::string* out, bool required) -> bool {
      if (type != ondemand::json_type::string) {
        return Fail(error, ErrorCode::kWrongType,
                    "field '" + std::string(key) + "' is a " + std::string(TypeName(type)) +
                        ", expected a string");
      }
      std::string_view sv;
      if (auto e = value.get_string().get(sv); e != SUCCESS) {
        return Fail(error, ErrorCode::kInvalidJson,
                    "field '" + std::string(key) + "': " + error_message(e));
      }
      out->assign(sv);
      if (repaired && out->find(kMarker) != std::string::npos) {
        if (required) {
          return Fail(error, ErrorCode::kInvalidUtf8,
                      "field '" + std::string(key) + "' holds invalid UTF-8");
        }
        page->repaired_utf8 += ReplaceMarkers(out);
      }
      return true;
    };
    if (key == "url") {
      if (!read_string(&page->url, true)) return false;
      has_url = true;
    } else if (key == "body") {
      if (type == ondemand::json_type::string) {
        // Check the size before copying the body out of the document.
        std::string_view raw = value.raw_json_token();
        if (raw.size() > options_.max_body_bytes + 2) {
          std::string_view sv;
          if (value.get_string().get(sv) == SUCCESS && sv.size() > options_.max_body_bytes) {
            return Fail(error, ErrorCode::kTooLarge,
                        "body is " + std::to_string(sv.size()) + " bytes, over the limit of " +
                            std::to_string(options_.max_body_bytes));
          }
        }
      }
      if (type != ondemand::json_type::string) return read_string(&page->body, true);
      // Unescaped straight into the page's body (no copy out of the
      // parser's string buffer): the raw token (quotes included) bounds the
      // unescaped size, and the unescaping writes up to SIMDJSON_PADDING
      // bytes past the end.
      const size_t room = value.raw_json_token().size() + SIMDJSON_PADDING;
      ondemand::raw_json_string raw_body;
      if (auto e = value.get_raw_json_string().get(raw_body); e != SUCCESS) {
        return Fail(error, ErrorCode::kInvalidJson,
                    std::string("field 'body': ") + error_message(e));
      }
      std::string& body = page->body;
      if (body.size() < room) body.resize(room);  // zeros only past the last page's size
      auto* end = reinterpret_cast<uint8_t*>(body.data());
      std::string_view unescaped;
      if (auto e = parser_.unescape(raw_body, end).get(unescaped); e != SUCCESS) {
        body.clear();
        return Fail(error, ErrorCode::kInvalidJson,
                    std::string("field 'body': ") + error_message(e));
      }
      body.resize(unescaped.size());
      body_read_ = true;
      if (repaired && body.find(kMarker) != std::string::npos) {
        return Fail(error, ErrorCode::kInvalidUtf8, "field 'body' holds invalid UTF-8");
      }
      has_body = true;
    } else if (key == "content_type") {
      if (type == ondemand::json_type::null) continue;
      if (!read_string(&page->content_type, false)) return false;
      std::transform(page->content_type.begin(), page->content_type.end(),
                     page->content_type.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    } else if (key == "title") {
      if (type == ondemand::json_type::null) continue;
      if (!read_string(&page->title, false)) return false;
    } else if (key == "site") {
      if (type == ondemand::json_type::null) continue;
      if (!read_string(&page->site, false)) return false;
    } else if (key == "fetched_at") {
      if (type == ondemand::json_type::null) continue;
      if (type == ondemand::json_type::number) {
        double ms;
        if (value.get_double().get(ms) != SUCCESS || !std::isfinite(ms) || ms < 0) {
          return Fail(error, ErrorCode::kWrongType,
                      "field 'fetched_at' is not a usable number of epoch milliseconds");
        }
        page->fetched_at_ms = static_cast<int64_t>(ms);
      } else {
        std::string& text = fetched_at_text_;  // reused: an RFC 3339 time is past SSO
        if (!read_string(&text, false)) return false;
        if (!ParseRfc3339(text, &page->fetched_at_ms)) {
          return Fail(error, ErrorCode::kWrongType,
                      "field 'fetched_at' is '" + text.substr(0, 64) +
                          "', expected RFC 3339 (2024-03-14T17:00:00Z) or epoch milliseconds");
        }
      }
    } else if (key == "status") {
      if (type == ondemand::json_type::null) continue;
      int64_t status;
      if (type != ondemand::json_type::number || value.get_int64().get(status) != SUCCESS ||
          status < 0 || status > 999) {
        return Fail(error, ErrorCode::kWrongType,
                    "field 'status' is not an HTTP status number (0..999)");
      }
      page->status = static_cast<int>(status);
    }
    // Unknown fields are ignored (the contract allows producers to add some).
  }
  if (!has_url) return Fail(error, ErrorCode::kMissingField, "required field 'url' is missing");
  if (!has_body) return Fail(error, ErrorCode::kMissingField, "required field 'body' is missing");
  if (page->body.size() > options_.max_body_bytes) {
    return Fail(error, ErrorCode::kTooLarge,
                "body is " + std::to_string(page->body.size()) + " bytes, over the limit of " +
                    std::to_string(options_.max_body_bytes));
  }
  if (AllSpace(page->body)) {
    return Fail(error, ErrorCode::kEmptyBody, "field 'body' is empty or only white space");
  }
  if (std::string why; !CanonicalizeUrlInto(page->url, &page->canonical_url, &page->host, &why)) {
    return Fail(error, ErrorCode::kInvalidUrl,
                "field 'url' is '" + page->url.substr(0, 200) + "': " + why);
  }
  if (page->site.empty()) AssignRegistrableDomain(page->host, &page->site);
  return true;
}

}  // namespace dedupd::parse
