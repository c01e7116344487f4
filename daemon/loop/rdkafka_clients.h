// RdKafkaClients: the librdkafka clients of `dedupd run`, made from the typed
// settings: the producer (re-created in place when lost), the group consumer
// (loop::RdKafkaInput, re-created when fenced) with the delivery stage's edge
// over it, and the state readers' edge (sync/rdkafka_sync_edge.h). Their
// properties come from delivery/client_config.h; every client's events go to
// the one ClientEvents callback.
//
//   loop::RdKafkaClients clients(cfg, &events, on_rebalance);
//   if (!clients.ok()) exit;                       // a property librdkafka refused
//   parts.producer = &clients.producer(); parts.consumer = &clients.consumer();
//   parts.input = &clients.input();
//   clients.CreateProducer(loop.batch().tracker(), &error);  // and learns its topics
//
// Member order: the input (whose close() runs the rebalance callback) is
// destroyed first, then the producer; the loop must outlive them, and they
// must outlive the StateSync over sync_edge().
//
// Thread-safety: the loop thread's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "delivery/rdkafka_edge.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "kafka/status.h"
#include "loop/rdkafka_input.h"
#include "sync/rdkafka_sync_edge.h"

namespace dedupd::loop {

class RdKafkaClients {
 public:
  RdKafkaClients(const config::Settings& cfg, RdKafka::EventCb* events,
                 RdKafkaInput::OnRebalance on_rebalance);

  // Why the configurations could not be made (logged); empty when ok.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The producer from its configuration, its reports to `sink`, and the
  // topics it writes looked up before its first record
  // (RdKafkaProducer::LearnTopics; a topic not learned is logged, not fatal).
  bool CreateProducer(delivery::DeliveryReportSink* sink, std::string* error);
  // The producer's message.max.bytes (librdkafka's default unless set).
  size_t MessageMaxBytes(size_t otherwise) const;

  delivery::RdKafkaProducer& producer() { return producer_; }
  delivery::RdKafkaConsumer& consumer() { return consumer_; }
  RdKafkaInput& input() { return *input_; }
  sync::RdKafkaSyncEdge& sync_edge() { return *sync_edge_; }
  // Closes the group consumer: leaves the group unless a static member.
  void CloseInput() { input_.reset(); }

 private:
  std::string error_;
  kafka::ConfPtr pconf_;              // kept to re-create the producer (Recovery)
  std::vector<std::string> outputs_;  // the topics the producer writes
  std::unique_ptr<sync::RdKafkaSyncEdge> sync_edge_;
  delivery::RdKafkaProducer producer_;
  delivery::RdKafkaConsumer consumer_;
  std::unique_ptr<RdKafkaInput> input_;
};

}  // namespace dedupd::loop
