// Liveness of the processing loop: /healthz answers 503 once the loop has
// shown no sign of progress for longer than health.liveness_timeout_ms, so
// that Kubernetes restarts a hung pod. The loop calls Beat() wherever it makes
// progress or waits on purpose (a poll that returned, a commit, a retry sleep
// while the broker is away, a state restore reading records): an idle loop
// that polls, and a broker outage, stay alive; a loop blocked somewhere does
// not.
//
//   Liveness live(std::chrono::seconds(120));
//   live.Beat("consume");                 // a literal: only the pointer is kept
//   Liveness::Status s = live.Check();    // s.alive, s.since, s.where
//
// Thread-safety: Beat() and Check() may be called from any thread at once (the
// HTTP server's thread checks while the loop beats); the clocks are called on
// the calling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "metrics/broker_watch.h"

namespace dedupd::metrics {

class Liveness {
 public:
  using Steady = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;
  // Injected clocks for tests; the defaults read the real ones.
  struct Clocks {
    std::function<Steady::time_point()> steady = [] { return Steady::now(); };
    std::function<Wall::time_point()> wall = [] { return Wall::now(); };
  };
  struct Status {
    bool alive = true;
    std::chrono::milliseconds since{0};  // since the last sign of progress
    std::string where;                   // what the loop did last
    bool waiting_for_broker = false;     // alive only because a broker outage overlaps the stall
  };

  explicit Liveness(std::chrono::milliseconds timeout);
  Liveness(std::chrono::milliseconds timeout, Clocks clocks);

  // A sign of progress. `where` must outlive the object (a string literal).
  void Beat(const char* where);
  Status Check() const;
  // As Check(), but a stall that overlaps a broker outage is a wait, not a
  // hang: alive while no broker is up, and afterwards the stall counts from
  // the broker's return. librdkafka 2.0.2 can block in a transactional call
  // past its timeout while the coordinator is down (librdkafka issue #5456)
  // and goes on once it is back; an outage of minutes must not get the pod
  // restarted (docs/delivery.md, "Broker outages"). A call still blocked
  // health.liveness_timeout_ms after the broker's return is a hang.
  Status Check(const BrokerWatch& brokers) const;
  // Unix time of the last sign of progress (dedupd_loop_last_progress_timestamp_seconds).
  double LastProgressUnixSeconds() const;
  std::chrono::milliseconds timeout() const { return timeout_; }
  // The /healthz answer's body: "ok" or "stuck", how long since the last
  // progress and where the loop last was.
  std::string Describe(const Status& status) const;

 private:
  std::chrono::milliseconds timeout_;
  Clocks clocks_;
  std::atomic<int64_t> last_steady_ns_;
  std::atomic<int64_t> last_wall_ns_;
  std::atomic<const char*> where_;
};

}  // namespace dedupd::metrics
