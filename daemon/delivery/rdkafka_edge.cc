#include "delivery/rdkafka_edge.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace dedupd::delivery {

void RdKafkaProducer::Reports::dr_cb(RdKafka::Message& message) {
  if (sink == nullptr) return;
  DeliveryReport report;
  report.tag = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message.msg_opaque()));
  report.error = message.err();
  if (report.error != RdKafka::ERR_NO_ERROR) report.error_text = message.errstr();
  report.topic = message.topic_name();
  report.partition = message.partition();
  report.offset = message.offset();
  report.bytes = message.len() + message.key_len();
  sink->OnDeliveryReport(report);
}

RdKafkaProducer::RdKafkaProducer(std::string input_topic, ConsumerFn consumer)
    : input_topic_(std::move(input_topic)), consumer_(std::move(consumer)) {}

bool RdKafkaProducer::Create(RdKafka::Conf* conf, DeliveryReportSink* sink, std::string* error) {
  reports_.sink = sink;
  if (conf->set("dr_cb", &reports_, *error) != RdKafka::Conf::CONF_OK) return false;
  topics_.clear();  // the old producer's
  producer_.reset(RdKafka::Producer::create(conf, *error));
  return producer_ != nullptr;
}

void RdKafkaProducer::Destroy() {
  if (!producer_) return;
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT |
                   RdKafka::Producer::PURGE_NON_BLOCKING);
  producer_->poll(0);
  topics_.clear();
  producer_.reset();
}

kafka::Status RdKafkaProducer::LearnTopics(const std::vector<std::string>& topics, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (const std::string& name : topics) {
    std::string error;
    std::unique_ptr<RdKafka::Topic> topic(
        RdKafka::Topic::create(producer_.get(), name, nullptr, error));
    if (!topic) return kafka::Status(RdKafka::ERR__INVALID_ARG, "topic '" + name + "': " + error);
    // A topic created moments ago may answer without leaders yet: asked
    // again, every 50 ms, until the deadline.
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      RdKafka::Metadata* raw = nullptr;
      const RdKafka::ErrorCode code = producer_->metadata(
          false, topic.get(), &raw, static_cast<int>(std::max<int64_t>(1, left)));
      const std::unique_ptr<RdKafka::Metadata> metadata(raw);
      std::string missing;
      if (code != RdKafka::ERR_NO_ERROR) {
        missing = RdKafka::err2str(code);
      } else if (metadata->topics()->size() != 1 ||
                 metadata->topics()->front()->err() != RdKafka::ERR_NO_ERROR) {
        missing = metadata->topics()->empty()
                      ? "not in the metadata"
                      : RdKafka::err2str(metadata->topics()->front()->err());
      } else if (metadata->topics()->front()->partitions()->empty()) {
        missing = "no partitions";
      } else {
        for (const RdKafka::PartitionMetadata* p : *metadata->topics()->front()->partitions()) {
          if (p->leader() < 0) missing = "partition " + std::to_string(p->id()) + " has no leader";
        }
      }
      if (missing.empty()) break;
      if (left <= 50) {
        return kafka::Status(
            RdKafka::ERR__TIMED_OUT,
            "topic '" + name + "': " + missing + " after " + std::to_string(timeout_ms) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    topics_.push_back(std::move(topic));
  }
  return {};
}

kafka::Status RdKafkaProducer::Produce(const std::string& topic, int32_t partition,
                                       std::string_view key, std::string_view value, uint64_t tag) {
  return kafka::Status(producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                          const_cast<char*>(value.data()), value.size(), key.data(),
                                          key.size(), 0,
                                          reinterpret_cast<void*>(static_cast<uintptr_t>(tag))));
}

// Poll, Flush, OutqLen and FatalError also serve the shutdown after a
// producer could not be re-created (no producer then).
void RdKafkaProducer::Poll(int timeout_ms) {
  if (producer_) producer_->poll(timeout_ms);
}
void RdKafkaProducer::Flush(int timeout_ms) {
  if (producer_) producer_->flush(timeout_ms);
}
int RdKafkaProducer::OutqLen() {
  return producer_ ? producer_->outq_len() : 0;
}

kafka::Status RdKafkaProducer::InitTransactions(int timeout_ms) {
  kafka::ErrorPtr e(producer_->init_transactions(timeout_ms));
  return kafka::Status(e.get());
}

kafka::Status RdKafkaProducer::BeginTransaction() {
  kafka::ErrorPtr e(producer_->begin_transaction());
  return kafka::Status(e.get());
}

kafka::Status RdKafkaProducer::SendOffsetsToTransaction(const Offsets& offsets, int timeout_ms) {
  RdKafka::KafkaConsumer* consumer = consumer_();
  if (consumer == nullptr) return kafka::Status(RdKafka::ERR__STATE, "no consumer");
  kafka::TopicPartitionList list;
  for (const auto& [partition, offset] : offsets) list.Add(input_topic_, partition, offset);
  kafka::ConsumerGroupMetadataPtr meta(consumer->groupMetadata());
  kafka::ErrorPtr e(producer_->send_offsets_to_transaction(list.get(), meta.get(), timeout_ms));
  return kafka::Status(e.get());
}

kafka::Status RdKafkaProducer::CommitTransaction(int timeout_ms) {
  kafka::ErrorPtr e(producer_->commit_transaction(timeout_ms));
  return kafka::Status(e.get());
}

kafka::Status RdKafkaProducer::AbortTransaction(int timeout_ms) {
  kafka::ErrorPtr e(producer_->abort_transaction(timeout_ms));
  return kafka::Status(e.get());
}

kafka::Status RdKafkaProducer::FatalError() {
  if (!producer_) return kafka::Status(RdKafka::ERR__STATE, "no producer");
  std::string reason;
  const RdKafka::ErrorCode code = producer_->fatal_error(reason);
  return kafka::Status(code, reason);
}

Offsets RdKafkaConsumer::Positions() {
  Offsets positions;
  RdKafka::KafkaConsumer* consumer = consumer_();
  if (consumer == nullptr) return positions;
  kafka::TopicPartitionList assigned;
  consumer->assignment(assigned.out());
  consumer->position(assigned.get());
  for (auto* tp : assigned) {
    if (tp->offset() >= 0) positions[tp->partition()] = tp->offset();
  }
  return positions;
}

kafka::Result<std::vector<int32_t>> RdKafkaConsumer::Assignment() {
  kafka::TopicPartitionList assigned;
  if (auto err = consumer_()->assignment(assigned.out()); err != RdKafka::ERR_NO_ERROR) {
    return kafka::Failure{kafka::DescribeError(err)};
  }
  std::vector<int32_t> partitions;
  for (auto* tp : assigned) partitions.push_back(tp->partition());
  return partitions;
}

kafka::Result<Offsets> RdKafkaConsumer::Committed(const std::vector<int32_t>& partitions,
                                                  int timeout_ms) {
  kafka::TopicPartitionList list;
  for (int32_t partition : partitions) list.Add(input_topic_, partition);
  if (auto err = consumer_()->committed(list.get(), timeout_ms); err != RdKafka::ERR_NO_ERROR) {
    return kafka::Failure{kafka::DescribeError(err)};
  }
  Offsets offsets;
  for (auto* tp : list) offsets[tp->partition()] = tp->offset();
  return offsets;
}

kafka::Status RdKafkaConsumer::Seek(int32_t partition, int64_t offset, int timeout_ms) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(input_topic_, partition, offset));
  return kafka::Status(consumer_()->seek(*tp, timeout_ms));
}

std::optional<std::pair<int32_t, int64_t>> RdKafkaConsumer::ConsumeOne(int timeout_ms) {
  kafka::MessagePtr msg(consumer_()->consume(timeout_ms));
  if (!msg || msg->err() != RdKafka::ERR_NO_ERROR) return std::nullopt;
  return std::make_pair(msg->partition(), msg->offset());
}

kafka::Status RdKafkaConsumer::CommitSync(const Offsets& offsets) {
  kafka::TopicPartitionList list;
  for (const auto& [partition, offset] : offsets) list.Add(input_topic_, partition, offset);
  return kafka::Status(consumer_()->commitSync(list.get()));
}

bool RdKafkaConsumer::Failed() {
  RdKafka::KafkaConsumer* consumer = consumer_();
  std::string reason;
  return consumer != nullptr && consumer->fatal_error(reason) != RdKafka::ERR_NO_ERROR;
}

kafka::Status RdKafkaConsumer::Pause(const std::vector<int32_t>& partitions) {
  kafka::TopicPartitionList list;
  for (int32_t partition : partitions) list.Add(input_topic_, partition);
  return kafka::Status(consumer_()->pause(list.get()));
}

kafka::Status RdKafkaConsumer::Resume(const std::vector<int32_t>& partitions) {
  kafka::TopicPartitionList list;
  for (int32_t partition : partitions) list.Add(input_topic_, partition);
  return kafka::Status(consumer_()->resume(list.get()));
}

RebalanceProtocol RdKafkaRebalanceEdge::protocol() {
  return consumer_->rebalance_protocol() == "COOPERATIVE" ? RebalanceProtocol::kCooperative
                                                          : RebalanceProtocol::kEager;
}

bool RdKafkaRebalanceEdge::AssignmentLost() {
  return consumer_->assignment_lost();
}

kafka::Result<Offsets> RdKafkaRebalanceEdge::Committed(const std::vector<int32_t>& partitions,
                                                       int timeout_ms) {
  kafka::TopicPartitionList list;
  for (int32_t partition : partitions) list.Add(input_topic_, partition);
  if (auto err = consumer_->committed(list.get(), timeout_ms); err != RdKafka::ERR_NO_ERROR) {
    return kafka::Failure{kafka::DescribeError(err)};
  }
  Offsets offsets;
  for (auto* tp : list) offsets[tp->partition()] = tp->offset();
  return offsets;
}

kafka::Status RdKafkaRebalanceEdge::Assign(const Offsets& offsets) {
  kafka::TopicPartitionList list;
  for (const auto& [partition, offset] : offsets) list.Add(input_topic_, partition, offset);
  if (protocol() == RebalanceProtocol::kCooperative) {
    kafka::ErrorPtr e(consumer_->incremental_assign(list.get()));
    return kafka::Status(e.get());
  }
  return kafka::Status(consumer_->assign(list.get()));
}

kafka::Status RdKafkaRebalanceEdge::Unassign(const std::vector<int32_t>& partitions,
                                             bool incremental) {
  if (!incremental) return kafka::Status(consumer_->unassign());
  kafka::TopicPartitionList list;
  for (int32_t partition : partitions) list.Add(input_topic_, partition);
  kafka::ErrorPtr e(consumer_->incremental_unassign(list.get()));
  return kafka::Status(e.get());
}

}  // namespace dedupd::delivery
