// The librdkafka edge of the state sync stage (sync/state_sync.h): the
// metadata and watermark queries and the assign-only readers it reads the
// changelog and the fingerprints topic with, as interfaces, so that the
// restore, the bootstrap and the tail run against a fake in unit tests
// (tests/unit/sync/fake_sync_edge.h) and against librdkafka
// (sync/rdkafka_sync_edge.h) in the daemon.
//
// It is not delivery's ConsumerEdge (delivery/edge.h): that one is the group
// consumer of the input topic, which never hands the delivery stage a
// payload; these readers join no group, commit nothing and return records.
//
//   kafka::Result<StateReaderPtr> reader = edge->OpenReader("dedupd-state", {{0, 120}});
//   ReadEvent e = reader.value()->Read(200);
//   if (e.kind == ReadEvent::Kind::kRecord) Decode(e.key, e.value);
//
// Thread-safety: an edge and its readers are used from one thread (the
// daemon's loop thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/admin.h"
#include "kafka/result.h"

namespace dedupd::sync {

// Next offsets by partition (where a reader starts, how far it has read).
using Offsets = std::map<int32_t, int64_t>;

// Which end a watermark query reports: the last stable offset
// (read_committed) or the high watermark (read_uncommitted). They differ
// while a transaction is open on the partition.
enum class Isolation { kCommitted, kUncommitted };

// What one StateReader::Read() returned.
struct ReadEvent {
  enum class Kind {
    kRecord,   // a record: partition, offset, key, value
    kEnd,      // the partition's end (read_committed: its last stable offset) is `offset`
    kNothing,  // nothing arrived within the timeout
    kError,    // a transport error (`error`); the reader goes on
  };
  Kind kind = Kind::kNothing;
  int32_t partition = 0;
  int64_t offset = -1;
  // kRecord: valid until the next Read(). An empty value is a tombstone.
  std::string_view key;
  std::string_view value;
  std::string error;  // kError: the code's name and text
};

class StateReader {
 public:
  virtual ~StateReader() = default;
  virtual ReadEvent Read(int timeout_ms) = 0;
};
using StateReaderPtr = std::unique_ptr<StateReader>;

class SyncEdge {
 public:
  virtual ~SyncEdge() = default;
  // The topic's partition ids, ascending.
  virtual kafka::Result<std::vector<int32_t>> Partitions(const std::string& topic,
                                                         std::chrono::milliseconds timeout) = 0;
  virtual kafka::Result<std::vector<kafka::Watermarks>> Watermarks(
      const std::string& topic, Isolation isolation, std::chrono::milliseconds timeout) = 0;
  // A read_committed reader of `topic`'s partitions in `from`, each from its
  // offset; it reports each partition's end (kEnd) when it reaches it.
  virtual kafka::Result<StateReaderPtr> OpenReader(const std::string& topic,
                                                   const Offsets& from) = 0;
};

}  // namespace dedupd::sync
