// RdKafkaInput: loop::InputEdge over librdkafka's group consumer, made from
// the consumer's configuration (kept to re-create it after a fatal error:
// Loop::RecoverConsumer) and subscribed to the input topic. Its rebalance
// callback hands each event to `on_rebalance` (Loop::OnRebalance) with the
// consumer as a delivery::RebalanceEdge.
//
//   loop::RdKafkaInput input(std::move(cconf), "pages", [&](auto& edge, auto event, auto& ids) {
//     loop.OnRebalance(edge, event, ids);
//   });
//   if (!input.Open().ok()) exit;
//   RdKafka::KafkaConsumer* c = input.consumer();  // the delivery edges reach it through this
//
// Thread-safety: the loop thread's (librdkafka runs the callback inside
// consume() and close() there).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "delivery/rebalance.h"
#include "kafka/handles.h"
#include "loop/input.h"

namespace dedupd::loop {

class RdKafkaInput final : public InputEdge {
 public:
  using OnRebalance =
      std::function<void(delivery::RebalanceEdge& edge, delivery::RebalanceEvent event,
                         const std::vector<int32_t>& partitions)>;
  // `conf` gets this edge's rebalance callback.
  RdKafkaInput(kafka::ConfPtr conf, std::string topic, OnRebalance on_rebalance);
  ~RdKafkaInput() override;

  kafka::Result<std::optional<InputMessage>> Consume(int timeout_ms) override;
  std::optional<std::string> Failure() override;
  void Close() override;
  kafka::Status Open() override;

  RdKafka::KafkaConsumer* consumer() const { return consumer_.get(); }

 private:
  class Rebalancer : public RdKafka::RebalanceCb {
   public:
    explicit Rebalancer(RdKafkaInput* input) : input_(input) {}
    void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                      std::vector<RdKafka::TopicPartition*>& partitions) override;

   private:
    RdKafkaInput* input_;
  };

  kafka::ConfPtr conf_;
  std::string topic_;
  OnRebalance on_rebalance_;
  Rebalancer rebalancer_{this};
  kafka::KafkaConsumerPtr consumer_;
};

}  // namespace dedupd::loop
