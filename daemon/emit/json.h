// A direct JSON writer for the records `dedupd scan` prints on every page:
// the same bytes as protobuf's MessageToJsonString (protobuf 3.21, proto3
// JSON, preserve_proto_field_names) without its reflection, binary round trip
// and temporary strings. Appends to the caller's buffer, so a reused buffer
// costs no allocation per page once it has grown.
//
//   std::string line;                  // kept across pages
//   line.clear();
//   emit::AppendJson(event, &line);    // == MessageToJsonString(event)
//
// What protobuf does and this reproduces: fields in field-number order;
// proto3 defaults (0, "", false, empty lists, enum 0) left out, a set
// sub-message always written ("{}" if empty); 64-bit integers as quoted
// decimal strings, 32-bit ones as numbers; doubles as printf "%.15g", or
// "%.17g" when that does not read back exactly; enums by name (by number if
// the value has no name); strings escaped as protobuf's JsonEscaping does
// (control characters, '"', '\', '<', '>', U+007F..U+009F and a list of
// invisible format characters as \uXXXX, lower-case hex). A message with a
// string that is not valid UTF-8, or a double that is not finite, is handed
// to MessageToJsonString itself. Measured: docs/benchmarks.md, "Fingerprint
// path, issue #11 item 5".
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "dedupd/v1/dedupd.pb.h"

namespace dedupd::emit {

void AppendJson(const v1::PageEvent& event, std::string* out);
void AppendJson(const v1::PageDiff& diff, std::string* out);

// MessageToJsonString with the options above: the reference, and the
// fallback. Appends.
void AppendProtobufJson(const google::protobuf::Message& message, std::string* out);

}  // namespace dedupd::emit
