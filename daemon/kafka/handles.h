// RAII ownership for the raw pointers that librdkafka's C++ API hands out.
//
// Every Create()/consume()/transactional call returns an owning raw pointer;
// wrap it the moment it arrives so that no early return can leak it:
//   KafkaConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
//   ErrorPtr err(producer->commit_transaction(timeout_ms));  // null on success
//
// Shutdown order (librdkafka INTRODUCTION.md): close the consumer, flush the
// producer, then destroy. KafkaConsumerPtr closes before it deletes, because
// librdkafka's C++ destructor destroys with RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE
// (no LeaveGroup: the group would wait a whole session timeout to rebalance).
// ProducerPtr does not flush: how long to wait is the owner's decision.
//
// Thread-safety: the wrappers add none; librdkafka handles are thread-safe,
// TopicPartitionList is not.
#pragma once

// rdkafka.h first: it defines the C types behind the C++ API's c_ptr().
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kafka/result.h"

namespace dedupd::kafka {

using ConfPtr = std::unique_ptr<RdKafka::Conf>;
using ProducerPtr = std::unique_ptr<RdKafka::Producer>;
// The legacy (non-group) consumer; used for watermark queries and manual reads.
using SimpleConsumerPtr = std::unique_ptr<RdKafka::Consumer>;
using MessagePtr = std::unique_ptr<RdKafka::Message>;
using ErrorPtr = std::unique_ptr<RdKafka::Error>;
using MetadataPtr = std::unique_ptr<RdKafka::Metadata>;
using TopicPtr = std::unique_ptr<RdKafka::Topic>;
using ConsumerGroupMetadataPtr = std::unique_ptr<RdKafka::ConsumerGroupMetadata>;
using HeadersPtr = std::unique_ptr<RdKafka::Headers>;

// Closes (leaves the group, revokes the assignment) unless already closed, then
// deletes. close() may block while the group coordinator answers.
struct KafkaConsumerCloser {
  void operator()(RdKafka::KafkaConsumer* consumer) const noexcept {
    if (consumer == nullptr) return;
    if (rd_kafka_consumer_closed(consumer->c_ptr()) == 0) consumer->close();
    delete consumer;
  }
};
using KafkaConsumerPtr = std::unique_ptr<RdKafka::KafkaConsumer, KafkaConsumerCloser>;

// Owns the TopicPartition objects of a std::vector<RdKafka::TopicPartition*>,
// the type that assignment(), position(), committed(), commitSync(),
// send_offsets_to_transaction() and the rebalance callback use.
//
//   TopicPartitionList parts;
//   consumer->assignment(parts.out());   // out-parameter: librdkafka overwrites
//   consumer->position(parts.get());     // in/out: offsets filled in place
class TopicPartitionList {
 public:
  TopicPartitionList() = default;
  // Adopts the pointers (e.g. the vector a RebalanceCb receives is NOT owned
  // by the callee: do not adopt that one).
  explicit TopicPartitionList(std::vector<RdKafka::TopicPartition*> adopted)
      : parts_(std::move(adopted)) {}
  ~TopicPartitionList() { RdKafka::TopicPartition::destroy(parts_); }

  TopicPartitionList(TopicPartitionList&& other) noexcept : parts_(std::move(other.parts_)) {
    other.parts_.clear();
  }
  TopicPartitionList& operator=(TopicPartitionList&& other) noexcept {
    if (this != &other) {
      RdKafka::TopicPartition::destroy(parts_);
      parts_ = std::move(other.parts_);
      other.parts_.clear();
    }
    return *this;
  }
  TopicPartitionList(const TopicPartitionList&) = delete;
  TopicPartitionList& operator=(const TopicPartitionList&) = delete;

  // offset defaults to "invalid" (librdkafka: use the committed/stored offset).
  void Add(const std::string& topic, int32_t partition,
           int64_t offset = RdKafka::Topic::OFFSET_INVALID) {
    parts_.push_back(RdKafka::TopicPartition::create(topic, partition, offset));
  }

  // For in/in-out parameters.
  std::vector<RdKafka::TopicPartition*>& get() { return parts_; }
  const std::vector<RdKafka::TopicPartition*>& get() const { return parts_; }

  // For out-parameters: librdkafka assigns a fresh vector into it, so the old
  // elements are destroyed first instead of leaking.
  std::vector<RdKafka::TopicPartition*>& out() {
    RdKafka::TopicPartition::destroy(parts_);
    return parts_;
  }

  size_t size() const { return parts_.size(); }
  bool empty() const { return parts_.empty(); }
  RdKafka::TopicPartition* operator[](size_t i) const { return parts_[i]; }
  auto begin() const { return parts_.begin(); }
  auto end() const { return parts_.end(); }

 private:
  std::vector<RdKafka::TopicPartition*> parts_;
};

// What a transactional API error asks the caller to do (librdkafka's flags,
// checked in the order that matters: a fatal error may also look retriable).
enum class TxnErrorAction {
  kRetry,  // call the same API again
  kAbort,  // abort_transaction(), rewind the consumer to committed offsets, begin again
  kFatal,  // the producer is unusable (fenced, or no flag set): exit, let the supervisor restart
};

inline TxnErrorAction ClassifyTxnError(const RdKafka::Error& error) {
  if (error.is_fatal()) return TxnErrorAction::kFatal;
  if (error.txn_requires_abort()) return TxnErrorAction::kAbort;
  if (error.is_retriable()) return TxnErrorAction::kRetry;
  return TxnErrorAction::kFatal;
}

// True when Kafka refused one record for good because of the record itself,
// so producing it again can never succeed: too large for the producer's
// message.max.bytes or the topic's max.message.bytes (MSG_SIZE_TOO_LARGE,
// RECORD_LIST_TOO_LARGE), or invalid for the topic (INVALID_RECORD, e.g. no
// key on a compacted topic). The daemon dead-letters the input that made it
// (docs/delivery.md, "Records Kafka refuses"). Authorization and other
// configuration errors are not on the list: they are not about one input,
// and dead-lettering would divert the whole stream until an operator fixes
// them; they abort and retry instead.
inline bool IsRecordRejection(RdKafka::ErrorCode code) {
  return code == RdKafka::ERR_MSG_SIZE_TOO_LARGE || code == RdKafka::ERR_RECORD_LIST_TOO_LARGE ||
         code == RdKafka::ERR_INVALID_RECORD;
}

// "ERR_NAME: message [retriable|abortable|fatal]" for logs and error strings.
inline std::string DescribeError(const RdKafka::Error& error) {
  std::string text = error.name() + ": " + error.str();
  if (error.is_fatal()) text += " [fatal]";
  if (error.txn_requires_abort()) text += " [abortable]";
  if (error.is_retriable()) text += " [retriable]";
  return text;
}

// "ERR_NAME: message" for a plain error code.
inline std::string DescribeError(RdKafka::ErrorCode code) {
  return std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code))) + ": " +
         RdKafka::err2str(code);
}

}  // namespace dedupd::kafka
