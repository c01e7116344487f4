// The Kafka clients' properties as the delivery stage needs them, built from
// the operator's (kafka.common / kafka.producer / kafka.consumer sections):
// what delivery depends on is forced (transactional.id, group.id, no auto
// commit); tuned defaults are set only when the operator set none.
//
//   kafka::Props common = delivery::CommonProps(cfg.kafka.common_properties, servers, client_id);
//   kafka::Props p = delivery::ProducerProps(common, cfg.kafka.producer_properties, eos, txn_id);
//   auto conf = delivery::ClientConf(p, &events);      // Result<ConfPtr>
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>

#include "kafka/config.h"
#include "kafka/handles.h"
#include "kafka/result.h"

namespace dedupd::delivery {

// Connection properties shared by every client (producer, consumer, state
// readers, admin).
kafka::Props CommonProps(kafka::Props common, const std::string& bootstrap_servers,
                         const std::string& client_id);

kafka::Props ProducerProps(const kafka::Props& common, const kafka::Props& producer,
                           bool exactly_once, const std::string& transactional_id);

// The group consumer of the input topic.
kafka::Props ConsumerProps(kafka::Props consumer, const std::string& group_id,
                           const std::string& group_instance_id,
                           std::chrono::milliseconds statistics_interval);

// The state readers' properties: the common ones and kafka.consumer.* (the
// group consumer's start from these too: ConsumerProps).
kafka::Props ReaderProps(const kafka::Props& common, const kafka::Props& consumer);

// A client's configuration from `props`, its events going to `events` (the
// clients' event callback: delivery/client_events.h); a Failure names the
// property librdkafka refused. `events` may be null (none).
kafka::Result<kafka::ConfPtr> ClientConf(const kafka::Props& props, RdKafka::EventCb* events);

// The effective message.max.bytes of a producer configuration
// (librdkafka's default unless kafka.producer.message.max.bytes sets it).
size_t MessageMaxBytes(const RdKafka::Conf& conf, size_t otherwise);

}  // namespace dedupd::delivery
