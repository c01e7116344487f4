// RestoreAssigned: the restore of newly assigned input partitions from the
// changelog (Rebalance's `restore` hook), with what may go wrong meanwhile.
// The restore writes into the store, so:
//  - on a full volume it first waits for space (StoreGuard::Wait), up to the
//    restore deadline;
//  - a chunk whose store write failed stays staged and is written first, then
//    the restore goes on (until the deadline);
//  - while no broker is up (an outage) a failed read is retried every second;
//  - any other failure is fatal (the daemon exits for its supervisor).
//
//   delivery::RestoreHooks hooks;  // restore = StateSync::RestorePartitions, ...
//   RebalanceOutcome o = delivery::RestoreAssigned({0, 3}, deadline, guard, clock, hooks);
//
// Thread-safety: the loop thread's (the rebalance callback runs there).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "delivery/clock.h"
#include "delivery/rebalance.h"
#include "delivery/store_guard.h"
#include "kafka/status.h"

namespace dedupd::delivery {

struct RestoreHooks {
  std::function<void(const char* what)> beat = [](const char*) {};
  std::function<bool()> cancelled = [] { return false; };
  std::function<bool()> brokers_unavailable = [] { return false; };
  // Reads the changelog partitions from the offsets the store reflects into
  // the store (StateSync::RestorePartitions); not ok: why in detail().
  std::function<kafka::Status(const std::vector<int32_t>& partitions)> restore;
  // Why the store's last write failed, if it did.
  std::function<std::optional<StoreFault>()> store_error = [] {
    return std::optional<StoreFault>{};
  };
};

RebalanceOutcome RestoreAssigned(const std::vector<int32_t>& partitions, Clock::TimePoint deadline,
                                 StoreGuard& guard, Clock& clock, const RestoreHooks& hooks);

}  // namespace dedupd::delivery
