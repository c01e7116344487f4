#include "delivery/health.h"

namespace dedupd::delivery {

Health::Health(const metrics::Liveness* liveness, const metrics::BrokerWatch* brokers,
               const StoreGuard* store_guard, metrics::Metrics* metrics,
               DeliveryMetrics* delivery_metrics)
    : liveness_(liveness),
      brokers_(brokers),
      store_guard_(store_guard),
      metrics_(metrics),
      delivery_metrics_(delivery_metrics) {}

bool Health::Stalled() const {
  return liveness_->Check().since > kStall;
}

bool Health::Ready() const {
  return loaded && producer_ready && joined && !restoring && !brokers_->Unavailable() &&
         !Stalled() && store_guard_->writable();
}

void Health::Publish() const {
  delivery_metrics_->SetReady(Ready());
}

void Health::PublishNotReady() const {
  delivery_metrics_->SetReady(false);
}

metrics::HttpResponse Health::Readyz() const {
  const bool ready = Ready();
  std::string body =
      std::string(ready ? "ready" : "not ready") + "\nstate_loaded=" + (loaded ? "1" : "0") +
      "\nproducer_ready=" + (producer_ready ? "1" : "0") +
      "\ngroup_joined=" + (joined ? "1" : "0") + "\nrestoring=" + (restoring ? "1" : "0") +
      "\nbrokers_up=" + std::to_string(brokers_->BrokersUp()) + "\nbroker_unavailable_seconds=" +
      std::to_string(static_cast<int64_t>(brokers_->UnavailableSeconds())) +
      "\nloop_stalled=" + (Stalled() ? "1" : "0") +
      "\nstate_store_writable=" + (store_guard_->writable() ? "1" : "0") + "\n";
  if (!store_guard_->writable()) body += "state_store=" + store_guard_->why() + "\n";
  return metrics::HttpResponse{ready ? 200 : 503, "text/plain", body};
}

metrics::HttpResponse Health::Healthz() const {
  const metrics::Liveness::Status status = liveness_->Check(*brokers_);
  return metrics::HttpResponse{status.alive ? 200 : 503, "text/plain", liveness_->Describe(status)};
}

metrics::HttpResponse Health::Metrics() const {
  delivery_metrics_->SetLoopLastProgress(liveness_->LastProgressUnixSeconds());
  delivery_metrics_->SetBrokers(brokers_->BrokersUp(), brokers_->UnavailableSeconds());
  return metrics::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render()};
}

void Health::Register(metrics::HttpServer* http) const {
  http->Handle("/metrics", [this] { return Metrics(); });
  http->Handle("/healthz", [this] { return Healthz(); });
  http->Handle("/readyz", [this] { return Readyz(); });
}

}  // namespace dedupd::delivery
