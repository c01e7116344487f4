// StoreGuard: the delivery stage's view of the local state store on a full or
// failing volume (docs/delivery.md, "Full disk"). The store is a cache of the
// Kafka changelog: a write that fails after its Kafka commit is kept staged
// and retried before any other write and before any new batch; while the
// store takes no writes the daemon is not ready and takes no new input.
//
//   delivery::StoreMetrics store_metrics(*metrics.registry());
//   delivery::StoreGuard guard(&store_edge, &clock, &store_metrics, hooks);
//   if (batch.uncommitted() == 0 && !guard.Ready()) HoldInput();  // no new batch
//   if (!detector.Commit(meta, &why)) guard.CommitFailed(meta, store_edge.LastError(), why);
//   guard.Wait(deadline);  // a restore's write: waits for space, a second at a time
//
// Readiness, metrics and the log follow the store's state. Counted: each
// failed write, and each time the store is found unwritable after being
// writable (not every retry). Logged: the change, then every 30 s.
//
// Thread-safety: used from the loop thread; writable() and why() are also
// read by the HTTP threads (/readyz).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "delivery/clock.h"
#include "delivery/edge.h"
#include "delivery/store_metrics.h"

namespace dedupd::delivery {

// Why the store takes no writes (state::StoreError, without the dependency).
struct StoreFault {
  std::string kind;     // the metric label: "no_space" | "io"
  std::string message;  // names the directory, the free space and what to do
};

// The state store and the detector's staged writes, as the guard needs them.
class StoreEdge {
 public:
  virtual ~StoreEdge() = default;
  // Reopens RocksDB after a failed write and checks the free space against
  // state.min_free_bytes; empty when the store takes writes.
  virtual std::optional<StoreFault> CheckWritable() = 0;
  // The last write's failure, if it failed.
  virtual std::optional<StoreFault> LastError() = 0;
  // Writes what is staged with `meta` (Detector::Commit); false with `why`.
  virtual bool Commit(const std::map<std::string, std::string>& meta, std::string* why) = 0;
};

struct StoreGuardHooks {
  std::function<void(const char* what)> beat = [](const char*) {};
  std::function<bool()> cancelled = [] { return false; };
  // The store became writable or unwritable (readiness follows).
  std::function<void(bool writable)> changed = [](bool) {};
};

class StoreGuard {
 public:
  using Meta = std::map<std::string, std::string>;
  StoreGuard(StoreEdge* store, Clock* clock, StoreMetrics* metrics, StoreGuardHooks hooks);

  // Whether the store can take the next batch: RocksDB reopened if a write
  // failed, the free space over state.min_free_bytes, and a write kept from
  // a failed commit written first.
  bool Ready();
  // Waits until Ready(), a second between checks; false on cancelled() or
  // past `deadline`.
  bool Wait(Clock::TimePoint deadline);
  // While the store takes no writes (not Ready()): no new batch, but the
  // consumer is still served (rebalances, max.poll.interval.ms). A message
  // that arrives is put back (seek to it), to be consumed again once the
  // store takes writes, and the loop pauses a second. False when it cannot
  // be put back (fatal: the partition would skip it).
  bool HoldInput(ConsumerEdge& consumer);
  // A batch's store write failed after its Kafka commit: kept with its
  // metadata, retried first by Ready().
  void CommitFailed(Meta meta, std::optional<StoreFault> fault, const std::string& why);
  // A restore or tail chunk's write failed: the chunk stays staged in the
  // detector and is written (with no metadata) first by Ready().
  void ChunkFailed(const StoreFault& fault);
  // A check before a commit found the store unwritable (nothing was written).
  void Note(const std::optional<StoreFault>& fault, bool failed_write);

  bool writable() const { return writable_.load(); }
  bool unstored() const { return unstored_.has_value(); }
  std::string why() const {
    std::lock_guard lock(why_mu_);
    return why_;
  }

 private:
  StoreEdge* store_;
  Clock* clock_;
  StoreMetrics* metrics_;
  StoreGuardHooks hooks_;
  std::atomic<bool> writable_{true};
  mutable std::mutex why_mu_;
  std::string why_;
  std::optional<Meta> unstored_;
  Clock::TimePoint blocked_since_{};
  Clock::TimePoint logged_{};
};

}  // namespace dedupd::delivery
