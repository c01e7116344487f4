// loop::InputEdge over librdkafka (loop/rdkafka_input.h).
#include "loop/rdkafka_input.h"

#include <memory>
#include <utility>

#include "delivery/rdkafka_edge.h"

namespace dedupd::loop {

RdKafkaInput::RdKafkaInput(kafka::ConfPtr conf, std::string topic, OnRebalance on_rebalance)
    : conf_(std::move(conf)), topic_(std::move(topic)), on_rebalance_(std::move(on_rebalance)) {
  std::string error;
  conf_->set("rebalance_cb", &rebalancer_, error);
}

// close() runs the rebalance callback: while on_rebalance_ and its loop live.
RdKafkaInput::~RdKafkaInput() {
  Close();
}

void RdKafkaInput::Rebalancer::rebalance_cb(RdKafka::KafkaConsumer* consumer,
                                            RdKafka::ErrorCode err,
                                            std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<int32_t> ids;
  for (auto* tp : partitions) ids.push_back(tp->partition());
  delivery::RdKafkaRebalanceEdge edge(consumer, input_->topic_);
  const delivery::RebalanceEvent event =
      err == RdKafka::ERR__ASSIGN_PARTITIONS   ? delivery::RebalanceEvent::kAssign
      : err == RdKafka::ERR__REVOKE_PARTITIONS ? delivery::RebalanceEvent::kRevoke
                                               : delivery::RebalanceEvent::kError;
  input_->on_rebalance_(edge, event, ids);
}

kafka::Result<std::optional<InputMessage>> RdKafkaInput::Consume(int timeout_ms) {
  std::shared_ptr<RdKafka::Message> msg(consumer_->consume(timeout_ms));
  if (!msg || msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) {
    return std::optional<InputMessage>{};
  }
  if (msg->err() != RdKafka::ERR_NO_ERROR) return kafka::Failure{msg->errstr()};
  InputMessage in;
  in.partition = msg->partition();
  in.offset = msg->offset();
  in.timestamp = msg->timestamp().timestamp;
  in.has_timestamp =
      msg->timestamp().type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE;
  in.value = std::string_view(static_cast<const char*>(msg->payload()), msg->len());
  if (msg->key_pointer() != nullptr) {
    in.key = std::string_view(static_cast<const char*>(msg->key_pointer()), msg->key_len());
  }
  in.owner = std::move(msg);
  return std::optional<InputMessage>(std::move(in));
}

std::optional<std::string> RdKafkaInput::Failure() {
  std::string reason;
  if (consumer_ && consumer_->fatal_error(reason) != RdKafka::ERR_NO_ERROR) return reason;
  return std::nullopt;
}

void RdKafkaInput::Close() {
  if (!consumer_) return;
  consumer_->close();
  consumer_.reset();
}

kafka::Status RdKafkaInput::Open() {
  std::string error;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf_.get(), error));
  if (!consumer_) return kafka::Status(RdKafka::ERR__FAIL, "cannot create the consumer: " + error);
  if (auto err = consumer_->subscribe({topic_}); err != RdKafka::ERR_NO_ERROR) {
    return kafka::Status(err, "cannot subscribe: " + kafka::DescribeError(err));
  }
  return {};
}

}  // namespace dedupd::loop
