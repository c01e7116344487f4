// Topic administration and offset queries for start-up, tests and tools.
//
// The daemon creates its output and internal topics at start (when allowed),
// checks that the state changelog has as many partitions as the input, and
// reads watermarks to restore state and to report progress.
//
//   std::string error;
//   if (!EnsureTopics(props, {{"dedupd-state", 12, 1, {{"cleanup.policy", "compact"}}}},
//                     std::chrono::seconds(30), &error)) return Fail(error);
//   Result<std::vector<Watermarks>> marks = HighWatermarks(props, "pages", 10s);
//
// Each call opens a short-lived client from `props` (connection properties:
// bootstrap.servers, security.*, sasl.*, ssl.*, ...), drops transactional.id
// from them (a helper must never fence the real producer) and forces
// allow.auto.create.topics=false (a query must never create a topic).
// Every call returns within `timeout` (plus client shutdown, normally a few ms).
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kafka/config.h"
#include "kafka/result.h"

namespace dedupd::kafka {

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  int16_t replication_factor = 1;
  // Broker-side topic configuration, e.g. {"cleanup.policy", "compact"}.
  std::map<std::string, std::string> configs;
};

// Creates the missing topics (CreateTopics admin request; TOPIC_ALREADY_EXISTS
// counts as success) and then waits until metadata shows every topic with all
// its partitions and a leader for each. A topic that already exists with a
// different partition count is an error: partition p of the state changelog
// must hold input partition p's keys. Configs of existing topics are not
// compared. On failure returns false and writes every reason to *error.
bool EnsureTopics(const Props& base_props, const std::vector<TopicSpec>& topics,
                  std::chrono::milliseconds timeout, std::string* error);

// The topic's partition ids, ascending. An unknown topic is an error.
Result<std::vector<int32_t>> ListPartitions(const Props& props, const std::string& topic,
                                            std::chrono::milliseconds timeout);

struct Watermarks {
  int32_t partition = 0;
  int64_t low = 0;   // first offset still in the log
  int64_t high = 0;  // next offset to be written; the last stable offset under read_committed
};

// Low and high watermark of every partition of `topic`, ascending by
// partition. With isolation.level=read_committed in `props` (librdkafka's
// default) `high` is the last stable offset: an open transaction's records
// are not counted.
Result<std::vector<Watermarks>> HighWatermarks(const Props& props, const std::string& topic,
                                               std::chrono::milliseconds timeout);

// For every partition of `topic`: the offset of its first message whose
// timestamp is at or after `timestamp_ms` (ListOffsets by time), or -1 when
// it has none (every message is older). Ascending by partition.
Result<std::map<int32_t, int64_t>> OffsetsForTime(const Props& props, const std::string& topic,
                                                  int64_t timestamp_ms,
                                                  std::chrono::milliseconds timeout);

}  // namespace dedupd::kafka
