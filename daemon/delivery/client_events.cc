#include "delivery/client_events.h"

#include "common/log.h"

namespace dedupd::delivery {

void ClientEvents::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_STATS: {
      auto stats = parser_.Parse(event.str());
      if (!stats.ok()) return;
      brokers_.OnStats(stats.value().brokers_up);
      for (const auto& p : stats.value().partitions) {
        if (p.topic != input_topic_ || p.partition < 0 || !p.desired) continue;
        // Only partitions this instance owns now: statistics built before
        // a revoke and served after it would bring back the series the
        // revoke removed, frozen at its last value (docs/kafka.md).
        if (!Owns(p.partition)) continue;
        if (auto lag = kafka::ExportedLag(p, kafka::Isolation::kReadCommitted)) {
          delivery_metrics_->SetConsumerLag(p.topic, p.partition, static_cast<double>(*lag));
        }
      }
      return;
    }
    case RdKafka::Event::EVENT_ERROR:
      metrics_->CountKafkaError(event.fatal() ? "fatal" : "transport");
      // Sent as the last connection goes: not ready now, not at the next statistics.
      if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) brokers_.OnAllBrokersDown();
      if (event.fatal()) fatal_ = true;
      log::Warn("kafka error", {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
      return;
    case RdKafka::Event::EVENT_LOG:
      if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
        log::Warn("librdkafka", {{"facility", event.fac()}, {"message", event.str()}});
      }
      return;
    case RdKafka::Event::EVENT_THROTTLE: return;
  }
}

void ClientEvents::SetOwned(int32_t partition, bool owned) {
  std::lock_guard lock(owned_mu_);
  if (owned) {
    owned_.insert(partition);
  } else {
    owned_.erase(partition);
  }
}

std::set<int32_t> ClientEvents::owned() {
  std::lock_guard lock(owned_mu_);
  return owned_;
}

bool ClientEvents::Owns(int32_t partition) {
  std::lock_guard lock(owned_mu_);
  return owned_.count(partition) > 0;
}

}  // namespace dedupd::delivery
