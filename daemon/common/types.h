// Vocabulary types shared by every stage of the pipeline: fingerprints, the
// verdict and its flags, Kafka coordinates. Plain values, no behaviour beyond
// a few constexpr helpers.
//
//   SimHash64 a{0x0f}, b{0x0e};
//   int d = HammingDistance(a, b);   // 1
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

namespace dedupd {

// A 64-bit SimHash over a page's shingle set (Charikar 2002).
struct SimHash64 {
  uint64_t bits = 0;
  friend constexpr bool operator==(SimHash64, SimHash64) = default;
};

constexpr int HammingDistance(SimHash64 a, SimHash64 b) {
  return std::popcount(a.bits ^ b.bits);
}

// XXH3-128 of a page's canonical text: equality means "the same content".
struct ContentHash128 {
  uint64_t low = 0;
  uint64_t high = 0;
  friend constexpr bool operator==(const ContentHash128&, const ContentHash128&) = default;
};

enum class Verdict : uint8_t {
  kNew,            // first sighting of this content and this URL
  kUnchanged,      // same URL, same canonical text as its last version
  kRevised,        // same URL, canonical text changed
  kDuplicate,      // new URL, canonical text equals another URL's current version
  kNearDuplicate,  // new URL, shingle sets overlap another URL's current version
};

constexpr std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kNew: return "NEW";
    case Verdict::kUnchanged: return "UNCHANGED";
    case Verdict::kRevised: return "REVISED";
    case Verdict::kDuplicate: return "DUPLICATE";
    case Verdict::kNearDuplicate: return "NEAR_DUPLICATE";
  }
  return "UNKNOWN";
}

// Flags that may accompany any verdict (bit set).
enum class Flag : uint32_t {
  kRepeatedContent = 1u << 0,  // the page repeats a run of blocks (a doubled body)
  kReverted = 1u << 1,         // REVISED back to one of the URL's last N versions
  kBoilerplateOnly = 1u << 2,  // nothing but site boilerplate left to fingerprint
};

struct Flags {
  uint32_t bits = 0;
  constexpr void Set(Flag f) { bits |= static_cast<uint32_t>(f); }
  constexpr bool Has(Flag f) const { return (bits & static_cast<uint32_t>(f)) != 0; }
  friend constexpr bool operator==(Flags, Flags) = default;
};

// Where an input message came from. File mode uses partition 0 and the line
// number (0-based) as the offset.
struct SourceCoordinates {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int64_t timestamp_ms = 0;
};

}  // namespace dedupd
