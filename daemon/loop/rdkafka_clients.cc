// The librdkafka clients of `dedupd run` (loop/rdkafka_clients.h).
#include "loop/rdkafka_clients.h"

#include <utility>

#include "common/log.h"
#include "delivery/client_config.h"

namespace dedupd::loop {
namespace {

// LearnTopics' wait for leaders (topics created moments ago may not have
// them yet).
constexpr int kLearnTopicsTimeoutMs = 5000;

}  // namespace

RdKafkaClients::RdKafkaClients(const config::Settings& cfg, RdKafka::EventCb* events,
                               RdKafkaInput::OnRebalance on_rebalance)
    : outputs_({cfg.topics.events, cfg.topics.diffs, cfg.topics.dlq, cfg.topics.state,
                cfg.topics.fingerprints}),
      producer_(cfg.topics.input, [this] { return input_ ? input_->consumer() : nullptr; }),
      consumer_(cfg.topics.input, [this] { return input_ ? input_->consumer() : nullptr; }) {
  const kafka::Props common = delivery::CommonProps(
      cfg.kafka.common_properties, cfg.kafka.bootstrap_servers, cfg.kafka.client_id);
  const bool exactly_once = cfg.processing.mode == config::ProcessingMode::kExactlyOnce;
  auto pconf =
      delivery::ClientConf(delivery::ProducerProps(common, cfg.kafka.producer_properties,
                                                   exactly_once, cfg.kafka.transactional_id),
                           events);
  if (!pconf.ok()) {
    error_ = "invalid producer configuration: " + pconf.error();
    return;
  }
  pconf_ = std::move(pconf).value();
  const kafka::Props readers = delivery::ReaderProps(common, cfg.kafka.consumer_properties);
  auto cconf = delivery::ClientConf(
      delivery::ConsumerProps(readers, cfg.kafka.group_id, cfg.kafka.group_instance_id,
                              cfg.kafka.statistics_interval),
      events);
  if (!cconf.ok()) {
    error_ = "invalid consumer configuration: " + cconf.error();
    return;
  }
  input_ = std::make_unique<RdKafkaInput>(std::move(cconf).value(), cfg.topics.input,
                                          std::move(on_rebalance));
  sync_edge_ = std::make_unique<sync::RdKafkaSyncEdge>(readers, common, events,
                                                       cfg.kafka.group_id + ".state-reader");
}

bool RdKafkaClients::CreateProducer(delivery::DeliveryReportSink* sink, std::string* error) {
  if (!producer_.Create(pconf_.get(), sink, error)) return false;
  // Prepared topics answer at once; a broker that is away costs at most this
  // wait, within the loop's liveness timeout (a recovery re-creates the
  // producer on the loop's thread).
  if (kafka::Status learned = producer_.LearnTopics(outputs_, kLearnTopicsTimeoutMs);
      !learned.ok()) {
    log::Warn(
        "output topics not known to the producer yet: their first records wait for "
        "librdkafka's next metadata refresh",
        {{"error", learned.detail()}});
  }
  return true;
}

size_t RdKafkaClients::MessageMaxBytes(size_t otherwise) const {
  return pconf_ ? delivery::MessageMaxBytes(*pconf_, otherwise) : otherwise;
}

}  // namespace dedupd::loop
