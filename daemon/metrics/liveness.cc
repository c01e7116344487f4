#include "metrics/liveness.h"

#include <utility>

namespace dedupd::metrics {
namespace {

int64_t Nanos(std::chrono::nanoseconds d) {
  return d.count();
}

}  // namespace

Liveness::Liveness(std::chrono::milliseconds timeout) : Liveness(timeout, Clocks()) {}

Liveness::Liveness(std::chrono::milliseconds timeout, Clocks clocks)
    : timeout_(timeout),
      clocks_(std::move(clocks)),
      last_steady_ns_(Nanos(clocks_.steady().time_since_epoch())),
      last_wall_ns_(Nanos(clocks_.wall().time_since_epoch())),
      where_("start") {}

void Liveness::Beat(const char* where) {
  // Three separate stores: a reader may pair one beat's time with the next
  // beat's place, which is harmless for a probe.
  last_steady_ns_.store(Nanos(clocks_.steady().time_since_epoch()), std::memory_order_relaxed);
  last_wall_ns_.store(Nanos(clocks_.wall().time_since_epoch()), std::memory_order_relaxed);
  where_.store(where, std::memory_order_relaxed);
}

Liveness::Status Liveness::Check() const {
  Status s;
  const auto now = clocks_.steady().time_since_epoch();
  const auto last = std::chrono::nanoseconds(last_steady_ns_.load(std::memory_order_relaxed));
  s.since = std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
  if (s.since.count() < 0) s.since = std::chrono::milliseconds(0);
  s.alive = s.since <= timeout_;
  s.where = where_.load(std::memory_order_relaxed);
  return s;
}

Liveness::Status Liveness::Check(const BrokerWatch& brokers) const {
  Status s = Check();
  if (s.alive) return s;
  if (brokers.Unavailable()) {
    s.alive = s.waiting_for_broker = true;
    return s;
  }
  if (const auto back = brokers.LastBack()) {
    const auto since_back =
        std::chrono::duration_cast<std::chrono::milliseconds>(clocks_.steady() - *back);
    // The broker came back after the last beat, and not longer ago than the bound.
    if (since_back < s.since && since_back <= timeout_) s.alive = s.waiting_for_broker = true;
  }
  return s;
}

double Liveness::LastProgressUnixSeconds() const {
  return static_cast<double>(last_wall_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::string Liveness::Describe(const Status& status) const {
  const auto seconds = [](std::chrono::milliseconds ms) {
    const long long v = ms.count();
    return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 100);
  };
  return std::string(status.alive ? "ok" : "stuck: the processing loop made no progress") +
         "\nseconds_since_progress=" + seconds(status.since) + "\nlast_progress=" + status.where +
         "\nliveness_timeout_seconds=" + seconds(timeout_) +
         (status.waiting_for_broker ? "\nwaiting_for_broker=1" : "") + "\n";
}

}  // namespace dedupd::metrics
