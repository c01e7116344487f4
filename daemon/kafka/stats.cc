#include "kafka/stats.h"

#include <algorithm>
#include <tuple>

namespace dedupd::kafka {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

int64_t Int(const object& o, std::string_view key, int64_t fallback) {
  int64_t value = 0;
  if (o[key].get_int64().get(value) != simdjson::SUCCESS) return fallback;
  return value;
}

bool Bool(const object& o, std::string_view key) {
  bool value = false;
  if (o[key].get_bool().get(value) != simdjson::SUCCESS) return false;
  return value;
}

std::string Str(const object& o, std::string_view key) {
  std::string_view value;
  if (o[key].get_string().get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

bool Obj(const object& o, std::string_view key, object* out) {
  return o[key].get_object().get(*out) == simdjson::SUCCESS;
}

BrokerStats ParseBroker(const object& b) {
  BrokerStats out;
  out.name = Str(b, "name");
  out.nodeid = static_cast<int32_t>(Int(b, "nodeid", -1));
  out.source = Str(b, "source");
  out.state = Str(b, "state");
  out.tx = Int(b, "tx", 0);
  out.rx = Int(b, "rx", 0);
  out.txerrs = Int(b, "txerrs", 0);
  out.rxerrs = Int(b, "rxerrs", 0);
  out.req_timeouts = Int(b, "req_timeouts", 0);
  out.connects = Int(b, "connects", 0);
  out.disconnects = Int(b, "disconnects", 0);
  object rtt;
  if (Obj(b, "rtt", &rtt)) out.rtt_avg_us = Int(rtt, "avg", 0);
  return out;
}

PartitionStats ParsePartition(std::string_view topic, const object& p) {
  PartitionStats out;
  out.topic = std::string(topic);
  out.partition = static_cast<int32_t>(Int(p, "partition", -1));
  out.leader = static_cast<int32_t>(Int(p, "leader", -1));
  out.desired = Bool(p, "desired");
  out.fetch_state = Str(p, "fetch_state");
  out.lo_offset = Int(p, "lo_offset", -1);
  out.hi_offset = Int(p, "hi_offset", -1);
  out.ls_offset = Int(p, "ls_offset", -1);
  out.app_offset = Int(p, "app_offset", -1);
  out.stored_offset = Int(p, "stored_offset", -1);
  out.committed_offset = Int(p, "committed_offset", -1);
  out.next_offset = Int(p, "next_offset", -1);
  out.eof_offset = Int(p, "eof_offset", -1);
  out.consumer_lag = Int(p, "consumer_lag", -1);
  out.fetchq_cnt = Int(p, "fetchq_cnt", 0);
  out.msgq_cnt = Int(p, "msgq_cnt", 0);
  out.xmit_msgq_cnt = Int(p, "xmit_msgq_cnt", 0);
  out.txmsgs = Int(p, "txmsgs", 0);
  out.rxmsgs = Int(p, "rxmsgs", 0);
  return out;
}

}  // namespace

std::optional<int64_t> ExportedLag(const PartitionStats& p, Isolation isolation) {
  int64_t end = -1;
  switch (isolation) {
    case Isolation::kReadCommitted: end = p.ls_offset; break;
    case Isolation::kReadUncommitted: end = p.hi_offset; break;
  }
  if (p.app_offset < 0 || end < 0) return std::nullopt;
  return std::max<int64_t>(0, end - p.app_offset);
}

Result<Stats> StatsParser::Parse(std::string_view json) {
  element doc;
  if (auto error = parser_.parse(json.data(), json.size()).get(doc); error != simdjson::SUCCESS) {
    return Failure{std::string("librdkafka stats: invalid JSON: ") +
                   simdjson::error_message(error)};
  }
  object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) {
    return Failure{"librdkafka stats: top level is not an object"};
  }
  Stats s;
  s.name = Str(top, "name");
  s.client_id = Str(top, "client_id");
  s.type = Str(top, "type");
  s.time = Int(top, "time", 0);
  s.age_us = Int(top, "age", 0);
  s.replyq = Int(top, "replyq", 0);
  s.msg_cnt = Int(top, "msg_cnt", 0);
  s.msg_size = Int(top, "msg_size", 0);
  s.tx = Int(top, "tx", 0);
  s.tx_bytes = Int(top, "tx_bytes", 0);
  s.rx = Int(top, "rx", 0);
  s.rx_bytes = Int(top, "rx_bytes", 0);
  s.txmsgs = Int(top, "txmsgs", 0);
  s.txmsg_bytes = Int(top, "txmsg_bytes", 0);
  s.rxmsgs = Int(top, "rxmsgs", 0);
  s.rxmsg_bytes = Int(top, "rxmsg_bytes", 0);

  object brokers;
  if (Obj(top, "brokers", &brokers)) {
    for (auto [key, value] : brokers) {
      object b;
      if (value.get_object().get(b) != simdjson::SUCCESS) continue;
      BrokerStats broker = ParseBroker(b);
      if (broker.name.empty()) broker.name = std::string(key);
      const bool real =
          broker.nodeid >= 0 && (broker.source == "learned" || broker.source == "configured");
      if (real) {
        if (broker.state == "UP" || broker.state == "UPDATE") {
          ++s.brokers_up;
        } else if (broker.state == "DOWN") {
          ++s.brokers_down;
        } else {
          ++s.brokers_other;
        }
      }
      s.brokers.push_back(std::move(broker));
    }
  }
  std::sort(s.brokers.begin(), s.brokers.end(),
            [](const BrokerStats& a, const BrokerStats& b) { return a.name < b.name; });

  object topics;
  if (Obj(top, "topics", &topics)) {
    for (auto [topic_name, topic_value] : topics) {
      object t;
      object partitions;
      if (topic_value.get_object().get(t) != simdjson::SUCCESS) continue;
      if (!Obj(t, "partitions", &partitions)) continue;
      for (auto [partition_key, partition_value] : partitions) {
        object p;
        if (partition_value.get_object().get(p) != simdjson::SUCCESS) continue;
        PartitionStats ps = ParsePartition(topic_name, p);
        // -1 is librdkafka's internal UnAssigned partition (messages waiting
        // for a partitioner); not a real partition.
        if (ps.partition < 0) continue;
        s.partitions.push_back(std::move(ps));
      }
    }
  }
  std::sort(s.partitions.begin(), s.partitions.end(),
            [](const PartitionStats& a, const PartitionStats& b) {
              return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
            });

  object cgrp;
  if (Obj(top, "cgrp", &cgrp)) {
    GroupStats g;
    g.state = Str(cgrp, "state");
    g.join_state = Str(cgrp, "join_state");
    g.rebalance_cnt = Int(cgrp, "rebalance_cnt", 0);
    g.assignment_size = Int(cgrp, "assignment_size", 0);
    s.cgrp = std::move(g);
  }
  object eos;
  if (Obj(top, "eos", &eos)) {
    EosStats e;
    e.idemp_state = Str(eos, "idemp_state");
    e.txn_state = Str(eos, "txn_state");
    e.producer_id = Int(eos, "producer_id", -1);
    e.producer_epoch = Int(eos, "producer_epoch", -1);
    e.epoch_cnt = Int(eos, "epoch_cnt", 0);
    s.eos = std::move(e);
  }
  return s;
}

Result<Stats> ParseStats(std::string_view json) {
  StatsParser parser;
  return parser.Parse(json);
}

}  // namespace dedupd::kafka
