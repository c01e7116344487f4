// The librdkafka edge of the delivery stage: the few producer and consumer
// calls a batch needs, as interfaces, so that the batch and transaction logic
// (delivery/batch.h) runs against a fake in unit tests and against librdkafka
// (delivery/rdkafka_edge.h) in the daemon.
//
//   delivery::RdKafkaProducer producer(pconf, &tracker, input_topic, consumer_fn);
//   kafka::Status s = producer.Produce("events", kAnyPartition, key, value, tag);
//   producer.Poll(0);  // delivery reports reach the tracker as DeliveryReport values
//
// Thread-safety: an edge is used from the daemon's loop thread only; delivery
// reports are delivered from Poll()/Flush() on that thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/result.h"
#include "kafka/status.h"

namespace dedupd::delivery {

// Offsets of the input topic by partition: a consumer's positions (the next
// offset to read), what a commit stores, where a rewind seeks to.
using Offsets = std::map<int32_t, int64_t>;

// librdkafka's RD_KAFKA_PARTITION_UA: the partitioner chooses.
constexpr int32_t kAnyPartition = -1;

// One delivery report, copied out of librdkafka's message.
struct DeliveryReport {
  uint64_t tag = 0;  // the produce() call's tag (delivery/tags.h)
  RdKafka::ErrorCode error = RdKafka::ERR_NO_ERROR;
  std::string error_text;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  size_t bytes = 0;  // key + value
};

// Receives the delivery reports an edge serves (DeliveryTracker).
class DeliveryReportSink {
 public:
  virtual ~DeliveryReportSink() = default;
  virtual void OnDeliveryReport(const DeliveryReport& report) = 0;
};

class ProducerEdge {
 public:
  virtual ~ProducerEdge() = default;
  // Copies key and value; ERR__QUEUE_FULL when the local queue is full.
  virtual kafka::Status Produce(const std::string& topic, int32_t partition, std::string_view key,
                                std::string_view value, uint64_t tag) = 0;
  // Serves delivery reports and events for up to timeout_ms.
  virtual void Poll(int timeout_ms) = 0;
  virtual void Flush(int timeout_ms) = 0;
  // Records produced and not yet reported.
  virtual int OutqLen() = 0;
  virtual kafka::Status InitTransactions(int timeout_ms) = 0;
  virtual kafka::Status BeginTransaction() = 0;
  // The consumer group's offsets for the open transaction (the consumer's
  // group metadata is the implementation's to find).
  virtual kafka::Status SendOffsetsToTransaction(const Offsets& offsets, int timeout_ms) = 0;
  virtual kafka::Status CommitTransaction(int timeout_ms) = 0;
  virtual kafka::Status AbortTransaction(int timeout_ms) = 0;
  // ok() while the producer has raised no fatal error; else its code and reason.
  virtual kafka::Status FatalError() = 0;
};

class ConsumerEdge {
 public:
  virtual ~ConsumerEdge() = default;
  // The assigned partitions' positions; partitions without one are left out.
  virtual Offsets Positions() = 0;
  // The partitions assigned now.
  virtual kafka::Result<std::vector<int32_t>> Assignment() = 0;
  // The group's committed offsets of `partitions`; a partition without one
  // maps to a negative offset (OFFSET_INVALID).
  virtual kafka::Result<Offsets> Committed(const std::vector<int32_t>& partitions,
                                           int timeout_ms) = 0;
  virtual kafka::Status Seek(int32_t partition, int64_t offset, int timeout_ms) = 0;
  // Consumes one message for up to timeout_ms and tells where it was
  // (partition, offset); nothing on a timeout or an error. Only the hold of
  // a full disk uses it (StoreGuard::HoldInput), to put the message back.
  virtual std::optional<std::pair<int32_t, int64_t>> ConsumeOne(int timeout_ms) = 0;
  // At-least-once: the consumer's own offset commit.
  virtual kafka::Status CommitSync(const Offsets& offsets) = 0;
  // The consumer raised a fatal error (a fenced static member): it takes no
  // seek, and is re-created by the daemon.
  virtual bool Failed() = 0;
  // Stops / restarts fetching `partitions` (`dedupd replay`: a partition at
  // its end is paused).
  virtual kafka::Status Pause(const std::vector<int32_t>& partitions) = 0;
  virtual kafka::Status Resume(const std::vector<int32_t>& partitions) = 0;
};

}  // namespace dedupd::delivery
