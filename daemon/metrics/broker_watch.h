// Whether the Kafka brokers are reachable, for /readyz and the metrics
// dedupd_brokers_up and dedupd_broker_unavailable_seconds. Fed by the
// clients' statistics (brokers_up of each statistics event, every
// kafka.statistics_interval_ms) and by librdkafka's ERR__ALL_BROKERS_DOWN
// error event, which arrives as soon as the last connection is lost, before
// the next statistics.
//
//   BrokerWatch watch;
//   watch.OnStats(1);              // a statistics event saw one broker UP
//   watch.OnAllBrokersDown();      // every connection is down: unavailable now
//   bool down = watch.Unavailable();
//   double s = watch.UnavailableSeconds();   // since a broker was last seen up
//
// Before any news the state is unknown: BrokersUp() is -1 and Unavailable()
// is false (the start-up retries and readiness flags cover that time).
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

namespace dedupd::metrics {

class BrokerWatch {
 public:
  using Steady = std::chrono::steady_clock;

  explicit BrokerWatch(std::function<Steady::time_point()> now = [] { return Steady::now(); });

  void OnStats(int brokers_up);
  void OnAllBrokersDown();

  // Brokers UP in the latest news: -1 before any, 0 after ERR__ALL_BROKERS_DOWN.
  int BrokersUp() const;
  // True from the first news of no broker up until statistics show one again.
  bool Unavailable() const;
  // Seconds since a broker was last seen up (or since the watch was made, if
  // none ever was) while Unavailable(); 0 otherwise.
  double UnavailableSeconds() const;
  // When the last outage ended (statistics showed a broker up again after
  // news of none); nullopt if there was none.
  std::optional<Steady::time_point> LastBack() const;

 private:
  std::function<Steady::time_point()> now_;
  mutable std::mutex mu_;
  int brokers_up_ = -1;
  bool unavailable_ = false;
  Steady::time_point last_up_;
  std::optional<Steady::time_point> last_back_;
};

}  // namespace dedupd::metrics
