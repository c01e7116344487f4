// Emit: turns a Detector outcome or a parse error into the protobuf output
// records (proto/dedupd/v1/dedupd.proto) and encodes them as protobuf or JSON.
//
//   dedupd::v1::PageEvent event = MakeEvent(page, outcome, source, now_ms);
//   std::string bytes = Encode(event, OutputFormat::kJson);
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "classify/detector.h"
#include "common/types.h"
#include "dedupd/v1/dedupd.pb.h"
#include "parse/page_parser.h"

namespace dedupd::emit {

enum class OutputFormat { kProtobuf, kJson };

std::string HexHash(const ContentHash128& h);
std::string EventId(const SourceCoordinates& source);

v1::PageEvent MakeEvent(const parse::ParsedPage& page, const classify::Outcome& outcome,
                        const SourceCoordinates& source, int64_t fetched_at_ms,
                        int64_t processed_at_ms);
// Only for REVISED and NEAR_DUPLICATE outcomes (outcome.diff set).
std::optional<v1::PageDiff> MakeDiff(const parse::ParsedPage& page,
                                     const classify::Outcome& outcome,
                                     const SourceCoordinates& source, int64_t fetched_at_ms);
// MakeEvent / MakeDiff into a message that may hold an earlier page's
// record: every field is written, so the result equals (byte for byte,
// serialised or as JSON) a fresh MakeEvent / MakeDiff, while the strings,
// lists and sub-messages it holds are reused, not allocated again (the
// pipeline fills one message page after page). FillDiff requires
// outcome.diff and outcome.match.
void FillEvent(const parse::ParsedPage& page, const classify::Outcome& outcome,
               const SourceCoordinates& source, int64_t fetched_at_ms, int64_t processed_at_ms,
               v1::PageEvent* event);
void FillDiff(const parse::ParsedPage& page, const classify::Outcome& outcome,
              const SourceCoordinates& source, int64_t fetched_at_ms, v1::PageDiff* diff);
v1::DeadLetter MakeDeadLetter(const parse::ParseError& error, std::string_view original,
                              std::string_view key, const SourceCoordinates& source,
                              size_t max_original_bytes, int64_t now_ms);
// A dead letter for a reason outside the input contract, e.g. OUTPUT_REJECTED
// ("output_rejected": Kafka refused one of the records the input produced).
v1::DeadLetter MakeDeadLetter(v1::DeadLetter::Reason reason, std::string_view reason_code,
                              std::string_view detail, std::string_view original,
                              std::string_view key, const SourceCoordinates& source,
                              size_t max_original_bytes, int64_t now_ms);

// Protobuf wire format, or one line of proto3 JSON (no trailing newline).
std::string Encode(const google::protobuf::Message& message, OutputFormat format);

}  // namespace dedupd::emit
