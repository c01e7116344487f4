// Record tags: every produced record carries a 64-bit tag (librdkafka's
// msg_opaque) saying which batch, which input message of the batch and which
// kind of record it is, so that a delivery report can be traced back to the
// input message that made the record, and a report of an older (aborted)
// batch recognised and ignored.
//
//   uint64_t tag = RecordTag(batch, input, RecordKind::kChangelog);
//   RecordTagParts parts = SplitTag(tag);  // {batch, input, kChangelog}
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

namespace dedupd::delivery {

// What an output record is, for logs and dead-letter reasons.
enum class RecordKind : uint8_t { kEvent, kDiff, kDeadLetter, kChangelog, kFingerprint };

inline std::string KindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kEvent: return "event";
    case RecordKind::kDiff: return "diff";
    case RecordKind::kDeadLetter: return "dead-letter";
    case RecordKind::kChangelog: return "state changelog";
    case RecordKind::kFingerprint: return "fingerprint";
  }
  return "output";
}

// Bits 32..63: the batch's tag; bits 4..31: the input's index in the batch
// (saturated); bits 0..3: the kind.
constexpr uint32_t kMaxTaggedInputs = (1u << 28) - 1;

inline uint64_t RecordTag(uint32_t batch, uint32_t input, RecordKind kind) {
  return (static_cast<uint64_t>(batch) << 32) |
         (static_cast<uint64_t>(std::min(input, kMaxTaggedInputs)) << 4) |
         static_cast<uint64_t>(kind);
}

struct RecordTagParts {
  uint32_t batch;
  uint32_t input;
  RecordKind kind;
};

inline RecordTagParts SplitTag(uint64_t tag) {
  return {static_cast<uint32_t>(tag >> 32), static_cast<uint32_t>((tag >> 4) & kMaxTaggedInputs),
          static_cast<RecordKind>(tag & 0xf)};
}

}  // namespace dedupd::delivery
