#include "delivery/client_config.h"

#include <utility>

namespace dedupd::delivery {

kafka::Props CommonProps(kafka::Props common, const std::string& bootstrap_servers,
                         const std::string& client_id) {
  common["bootstrap.servers"] = bootstrap_servers;
  common["client.id"] = client_id;
  // librdkafka 2.0.2 backs reconnects off up to 10 s: after an outage the
  // first connection could wait that long. 1 s keeps the resume within
  // seconds of the broker's return (docs/delivery.md, "Broker outages").
  common.try_emplace("reconnect.backoff.max.ms", "1000");
  return common;
}

kafka::Props ProducerProps(const kafka::Props& common, const kafka::Props& producer,
                           bool exactly_once, const std::string& transactional_id) {
  kafka::Props p = common;
  for (const auto& [k, v] : producer) p[k] = v;
  p.try_emplace("acks", "all");
  p.try_emplace("enable.idempotence", "true");
  // 50 ms, not 5: about 10x fewer, fuller record batches per topic at the
  // same commit latency (a commit flushes what lingers), and less broker CPU
  // (docs/benchmarks.md, "Loop overhead, issue #12").
  p.try_emplace("linger.ms", "50");
  p.try_emplace("statistics.interval.ms", "0");
  if (exactly_once) {
    p["transactional.id"] = transactional_id;
    p.try_emplace("transaction.timeout.ms", "10000");
    p.try_emplace("message.timeout.ms", "10000");
  }
  return p;
}

namespace {

// librdkafka 2.0.2 stops fetching a partition once its local queue holds
// queued.max.messages.kbytes (default 64 MiB) and looks again only at the
// broker thread's next wake-up, up to a second later (rd_kafka_max_block_ms;
// 2.2 added fetch.queue.backoff.ms for it). A consumer that is behind and
// reads more than the queue holds in that second drains it and waits: dedupd
// at ~75 MB/s of input (2 threads here) waited ~0.15 s of every second in
// Consume(), and a faster one would be capped near 64 MB/s. 256 MiB covers a
// second up to 256 MB/s; the queue fills only while the consumer is behind
// (docs/kafka.md, pitfall 11, "Fetch queue").
constexpr const char* kFetchQueueKbytes = "262144";

}  // namespace

kafka::Props ConsumerProps(kafka::Props c, const std::string& group_id,
                           const std::string& group_instance_id,
                           std::chrono::milliseconds statistics_interval) {
  c["group.id"] = group_id;
  c["enable.auto.commit"] = "false";
  c["enable.auto.offset.store"] = "false";
  c.try_emplace("isolation.level", "read_committed");
  c.try_emplace("auto.offset.reset", "earliest");
  c.try_emplace("queued.max.messages.kbytes", kFetchQueueKbytes);
  // Rolling restarts without stopping the world (docs/kafka.md, "Rolling
  // restarts"): cooperative rebalancing moves only the partitions that
  // change owner while the others keep being consumed, and a static member
  // (kafka.group_instance_id) that comes back within session.timeout.ms gets
  // its partitions back without any rebalance. A static member does not
  // leave the group when it closes, so its session timeout is how long its
  // partitions wait for it: longer than a restart, by default.
  c.try_emplace("partition.assignment.strategy", "cooperative-sticky");
  if (!group_instance_id.empty()) {
    c["group.instance.id"] = group_instance_id;
    c.try_emplace("session.timeout.ms", "120000");
  }
  c["statistics.interval.ms"] = std::to_string(statistics_interval.count());
  return c;
}

kafka::Props ReaderProps(const kafka::Props& common, const kafka::Props& consumer) {
  kafka::Props props = common;
  for (const auto& [k, v] : consumer) props[k] = v;
  props.try_emplace("queued.max.messages.kbytes", kFetchQueueKbytes);  // a restore is a catch-up
  return props;
}

kafka::Result<kafka::ConfPtr> ClientConf(const kafka::Props& props, RdKafka::EventCb* events) {
  std::string error;
  kafka::ConfPtr conf = kafka::MakeConf(props, &error);
  if (!conf) return kafka::Failure{error};
  if (events != nullptr && conf->set("event_cb", events, error) != RdKafka::Conf::CONF_OK) {
    return kafka::Failure{error};
  }
  return conf;
}

size_t MessageMaxBytes(const RdKafka::Conf& conf, size_t otherwise) {
  std::string value;
  if (conf.get("message.max.bytes", value) != RdKafka::Conf::CONF_OK) return otherwise;
  return static_cast<size_t>(std::stoull(value));
}

}  // namespace dedupd::delivery
