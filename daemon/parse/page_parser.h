// Parse: one Kafka message value (or one input line) -> a validated Page, or
// a ParseError with the dead-letter reason (DESIGN.md, Input contract).
//
//   PageParser parser(ParseOptions{});
//   ParsedPage page; ParseError error;
//   if (!parser.Parse(bytes, &page, &error)) DeadLetter(error);
//
// The parser owns one simdjson parser and one padded buffer that are reused
// for every message, so the steady state allocates nothing for the JSON; a
// ParsedPage passed again and again keeps its strings' capacity too.
// Thread-safety: one PageParser per thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace dedupd::parse {

// Why a message was dead-lettered. The names are metric label values.
enum class ErrorCode : uint8_t {
  kInvalidJson,   // not JSON, or truncated
  kMissingField,  // url or body absent
  kWrongType,     // a field, or the top level, has the wrong JSON type or format
  kInvalidUtf8,   // invalid UTF-8 inside a required field (url, body)
  kTooLarge,      // message or body over the configured limit
  kEmptyBody,     // body empty or only white space
  kInvalidUrl,    // url is not an http(s) URL with a host
};

std::string_view ReasonCode(ErrorCode code);  // "invalid_json", ...
inline constexpr int kErrorCodeCount = 7;

struct ParseError {
  ErrorCode code = ErrorCode::kInvalidJson;
  std::string detail;  // human-readable: the field, what was expected, what was found
};

struct ParsedPage {
  std::string url;            // as received
  std::string canonical_url;  // see url.h
  std::string host;
  std::string site;  // the "site" field, else the registrable domain
  std::string body;
  std::string content_type;  // lower case, may be empty
  std::string title;
  int64_t fetched_at_ms = -1;  // -1: absent (the caller uses the message timestamp)
  int status = 0;              // HTTP status, 0 when absent
  size_t repaired_utf8 = 0;    // invalid sequences replaced in optional fields

  // Back to the default values, the strings keeping their capacity: Parse()
  // starts with it, so a ParsedPage reused for every message allocates
  // nothing once its strings have grown. (A new field is reset here too.)
  void Clear();
};

// Zero bytes a caller's message may carry after its end (Parse(...,
// zero_padded = true)) so that it is parsed in place, without the copy into
// the parser's padded buffer.
inline constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;

struct ParseOptions {
  size_t max_message_bytes = 9 * 1024 * 1024;
  size_t max_body_bytes = 8 * 1024 * 1024;
};

class PageParser {
 public:
  explicit PageParser(ParseOptions options = {});

  // zero_padded: `message` is followed by kPadding readable zero bytes (not
  // part of it), exactly what the parser's own buffer would hold after its
  // copy, so it is parsed where it is, with the same result.
  bool Parse(std::string_view message, ParsedPage* page, ParseError* error,
             bool zero_padded = false);

 private:
  bool ParseDocument(std::string_view json, bool repaired, bool zero_padded, ParsedPage* page,
                     ParseError* error);

  ParseOptions options_;
  simdjson::ondemand::parser parser_;
  std::string buffer_;           // message copied with SIMDJSON_PADDING spare bytes
  std::string repaired_;         // the message with invalid UTF-8 marked, on the slow path
  std::string fetched_at_text_;  // the "fetched_at" string, reused
  // The page's body was read by this Parse() (else it is emptied at the end:
  // its buffer keeps the last page's bytes and size until then, see Parse).
  bool body_read_ = false;
};

// RFC 3339 ("2023-04-27T19:00:00Z", "+08:00" offsets, fractions, a space for
// T) -> epoch milliseconds; false if it is not one.
bool ParseRfc3339(std::string_view text, int64_t* epoch_ms);

}  // namespace dedupd::parse
