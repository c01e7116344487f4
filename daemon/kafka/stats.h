// librdkafka statistics (statistics.interval.ms, EVENT_STATS) parsed into a
// struct: per-partition offsets and lag, client totals, broker states, group
// and transaction state. Field meanings: librdkafka's STATISTICS.md.
//
//   StatsParser parser;                        // reuse: keeps simdjson's buffers
//   Result<Stats> s = parser.Parse(event.str());
//   for (const PartitionStats& p : s.value().partitions)
//     if (auto lag = ExportedLag(p, Isolation::kReadCommitted)) gauge(p, *lag);
//
// Thread-safety: StatsParser is not thread-safe (one per thread or per event
// callback); Stats is a plain value; ParseStats() and ExportedLag() are safe.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/result.h"

namespace dedupd::kafka {

// Offsets are -1 (or librdkafka's negative logical offsets, e.g. -1001 =
// OFFSET_INVALID) while unknown.
struct PartitionStats {
  std::string topic;
  int32_t partition = -1;
  int32_t leader = -1;
  bool desired = false;     // the application assigned/subscribed it
  std::string fetch_state;  // none, stopping, stopped, offset-query, offset-wait, active
  int64_t lo_offset = -1;
  int64_t hi_offset = -1;   // high watermark
  int64_t ls_offset = -1;   // last stable offset (end for read_committed)
  int64_t app_offset = -1;  // last message handed to the application + 1
  int64_t stored_offset = -1;
  int64_t committed_offset = -1;  // committed by THIS consumer, not through a transaction
  int64_t next_offset = -1;
  int64_t eof_offset = -1;
  // librdkafka's own lag: end - committed_offset. Wrong under transactions
  // (offsets committed by the producer never reach it); see ExportedLag().
  int64_t consumer_lag = -1;
  int64_t fetchq_cnt = 0;  // prefetched messages not yet consumed
  int64_t msgq_cnt = 0;    // producer: messages waiting in the first-level queue
  int64_t xmit_msgq_cnt = 0;
  int64_t txmsgs = 0;
  int64_t rxmsgs = 0;
};

enum class Isolation { kReadUncommitted, kReadCommitted };

// The lag dedupd exports per partition: end - app_offset, where end is
// ls_offset under read_committed and hi_offset otherwise. nullopt while the
// partition has not been consumed from (app_offset < 0) or its end is unknown.
// Never negative (the two offsets come from different moments).
std::optional<int64_t> ExportedLag(const PartitionStats& p, Isolation isolation);

struct BrokerStats {
  std::string name;     // "host:port/nodeid"
  int32_t nodeid = -1;  // -1 for a bootstrap broker not yet identified
  std::string source;   // configured, learned, internal, logical
  std::string state;    // INIT, DOWN, CONNECT, AUTH, APIVERSION_QUERY, UP, UPDATE, ...
  int64_t tx = 0;
  int64_t rx = 0;
  int64_t txerrs = 0;
  int64_t rxerrs = 0;
  int64_t req_timeouts = 0;
  int64_t connects = 0;
  int64_t disconnects = 0;
  int64_t rtt_avg_us = 0;  // rolling window average
};

struct GroupStats {
  std::string state;       // e.g. "up"
  std::string join_state;  // e.g. "steady"
  int64_t rebalance_cnt = 0;
  int64_t assignment_size = 0;
};

struct EosStats {
  std::string idemp_state;  // e.g. "Assigned"
  std::string txn_state;    // e.g. "InTransaction"
  int64_t producer_id = -1;
  int64_t producer_epoch = -1;
  int64_t epoch_cnt = 0;
};

struct Stats {
  std::string name;  // "rdkafka#consumer-1"
  std::string client_id;
  std::string type;    // "producer" or "consumer"
  int64_t time = 0;    // wall clock, seconds since the epoch
  int64_t age_us = 0;  // since the client was created
  int64_t replyq = 0;
  int64_t msg_cnt = 0;  // messages in producer queues
  int64_t msg_size = 0;
  int64_t tx = 0;  // requests sent
  int64_t tx_bytes = 0;
  int64_t rx = 0;  // responses received
  int64_t rx_bytes = 0;
  int64_t txmsgs = 0;  // messages produced
  int64_t txmsg_bytes = 0;
  int64_t rxmsgs = 0;  // messages consumed
  int64_t rxmsg_bytes = 0;
  // Over real brokers only (nodeid >= 0, source configured or learned): the
  // internal and logical (coordinator) entries would double-count.
  int brokers_up = 0;     // state UP or UPDATE
  int brokers_down = 0;   // state DOWN
  int brokers_other = 0;  // INIT (never needed: connections are sparse), connecting, authenticating
  std::vector<BrokerStats> brokers;        // all entries, sorted by name
  std::vector<PartitionStats> partitions;  // real partitions (the internal -1 "UA" one is
                                           // left out), sorted by (topic, partition)
  std::optional<GroupStats> cgrp;          // consumers in a group
  std::optional<EosStats> eos;             // idempotent / transactional producers
};

class StatsParser {
 public:
  // Fails on invalid JSON or a top level that is not an object; missing or
  // mistyped fields keep their defaults (librdkafka adds fields across versions).
  Result<Stats> Parse(std::string_view json);

 private:
  simdjson::dom::parser parser_;
};

// One-shot convenience (allocates a parser).
Result<Stats> ParseStats(std::string_view json);

}  // namespace dedupd::kafka
