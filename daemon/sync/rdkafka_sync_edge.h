// RdKafkaSyncEdge: the state sync edge (sync/edge.h) over librdkafka: the
// admin helpers (kafka/admin.h) for partitions and watermarks, and
// assign-only KafkaConsumers as readers (read_committed, no offsets stored,
// a partition's end reported).
//
//   sync::RdKafkaSyncEdge edge(reader_props, admin_props, &events, "dedupd.state-reader");
//   sync::StateSync sync(options, &edge, &clock, &detector, store, &metrics, &sync_metrics);
//
// Thread-safety: one thread (the daemon's loop thread).
#pragma once

#include <string>

#include "kafka/config.h"
#include "kafka/handles.h"
#include "sync/edge.h"

namespace dedupd::sync {

class RdKafkaSyncEdge final : public SyncEdge {
 public:
  // `props`: the readers' (connection, security, consumer settings);
  // `admin_props`: connection properties only, for the queries; `events`
  // receives the readers' errors and logs (may be null); `reader_group`:
  // group.id of the readers, which never join it (assign() needs one).
  RdKafkaSyncEdge(kafka::Props props, kafka::Props admin_props, RdKafka::EventCb* events,
                  std::string reader_group);

  kafka::Result<std::vector<int32_t>> Partitions(const std::string& topic,
                                                 std::chrono::milliseconds timeout) override;
  kafka::Result<std::vector<kafka::Watermarks>> Watermarks(
      const std::string& topic, Isolation isolation, std::chrono::milliseconds timeout) override;
  kafka::Result<StateReaderPtr> OpenReader(const std::string& topic, const Offsets& from) override;

 private:
  kafka::Props props_;
  kafka::Props admin_props_;
  RdKafka::EventCb* events_;
  std::string reader_group_;
};

}  // namespace dedupd::sync
