#include "metrics/broker_watch.h"

#include <utility>

namespace dedupd::metrics {

BrokerWatch::BrokerWatch(std::function<Steady::time_point()> now)
    : now_(std::move(now)), last_up_(now_()) {}

void BrokerWatch::OnStats(int brokers_up) {
  const auto now = now_();
  std::lock_guard lock(mu_);
  brokers_up_ = brokers_up;
  const bool was_unavailable = unavailable_;
  unavailable_ = brokers_up <= 0;
  if (!unavailable_) last_up_ = now;
  if (was_unavailable && !unavailable_) last_back_ = now;
}

void BrokerWatch::OnAllBrokersDown() {
  std::lock_guard lock(mu_);
  // The time without a broker counts from the last statistics that saw one
  // up: the connection may have gone at any moment since.
  brokers_up_ = 0;
  unavailable_ = true;
}

int BrokerWatch::BrokersUp() const {
  std::lock_guard lock(mu_);
  return brokers_up_;
}

bool BrokerWatch::Unavailable() const {
  std::lock_guard lock(mu_);
  return unavailable_;
}

double BrokerWatch::UnavailableSeconds() const {
  const auto now = now_();
  std::lock_guard lock(mu_);
  if (!unavailable_) return 0;
  return std::chrono::duration<double>(now - last_up_).count();
}

std::optional<BrokerWatch::Steady::time_point> BrokerWatch::LastBack() const {
  std::lock_guard lock(mu_);
  return last_back_;
}

}  // namespace dedupd::metrics
