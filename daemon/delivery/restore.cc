#include "delivery/restore.h"

#include <chrono>

#include "common/log.h"

namespace dedupd::delivery {
namespace {

bool Restored(const kafka::Status& status, std::string* error) {
  if (!status.ok()) *error = status.detail();
  return status.ok();
}

}  // namespace

RebalanceOutcome RestoreAssigned(const std::vector<int32_t>& partitions, Clock::TimePoint deadline,
                                 StoreGuard& guard, Clock& clock, const RestoreHooks& hooks) {
  std::string list;
  for (int32_t id : partitions) list += (list.empty() ? "" : ",") + std::to_string(id);
  std::string error;
  while (!guard.Wait(deadline) || !Restored(hooks.restore(partitions), &error)) {
    // Shutting down: nothing to process.
    if (hooks.cancelled()) return RebalanceOutcome::kInterrupted;
    if (auto why = hooks.store_error(); why && clock.Now() < deadline) {
      guard.ChunkFailed(*why);  // the chunk stays staged: written first
      continue;
    }
    if (!guard.writable()) {
      error = "the state store takes no writes: " + guard.why();
    } else if (hooks.brokers_unavailable()) {
      // No broker is up: an outage, which the restore outlasts by retrying.
      log::Warn("state restore failed while no broker is up; retrying",
                {{"partitions", list}, {"error", error}});
      hooks.beat("state restore (retry: no broker up)");
      clock.SleepFor(std::chrono::milliseconds(1000));
      continue;
    }
    log::Error("state restore failed; exiting for the supervisor to restart",
               {{"partitions", list}, {"error", error}});
    return RebalanceOutcome::kFatal;
  }
  return RebalanceOutcome::kDone;
}

}  // namespace dedupd::delivery
