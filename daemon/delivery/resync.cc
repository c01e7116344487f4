#include "delivery/resync.h"

#include <chrono>

#include "common/log.h"

namespace dedupd::delivery {

bool Resync(ConsumerEdge& consumer, Clock& clock, const Offsets& batch_first, int call_timeout_ms,
            const ResyncHooks& hooks) {
  const kafka::Result<std::vector<int32_t>> assigned = consumer.Assignment();
  if (!assigned.ok()) return false;
  const std::vector<int32_t>& ids = assigned.value();
  if (ids.empty()) return true;
  hooks.restoring(true);
  Offsets committed;
  for (int attempt = 0;; ++attempt) {
    kafka::Result<Offsets> fetched = consumer.Committed(ids, call_timeout_ms);
    if (fetched.ok()) {
      committed = std::move(fetched).value();
      break;
    }
    if (hooks.cancelled()) return false;
    if (attempt % 6 == 0) {
      log::Warn("fetching committed offsets: retrying", {{"error", fetched.error()}});
    }
    hooks.beat("fetching committed offsets (retry)");
    clock.SleepFor(std::chrono::milliseconds(500));
  }
  for (kafka::Status restored = hooks.restore(ids); !restored.ok(); restored = hooks.restore(ids)) {
    if (hooks.cancelled()) return false;
    log::Warn("state restore failed; retrying", {{"error", restored.detail()}});
    hooks.beat("state restore (retry)");
    clock.SleepFor(std::chrono::milliseconds(1000));
  }
  for (int32_t partition : ids) {
    auto at = committed.find(partition);
    int64_t offset = at == committed.end() ? -1 : at->second;
    if (offset < 0) {
      auto first = batch_first.find(partition);
      if (first == batch_first.end()) continue;
      offset = first->second;
    }
    // A seek can fail while the partition's fetcher is still starting.
    for (int attempt = 0;; ++attempt) {
      const kafka::Status s = consumer.Seek(partition, offset, call_timeout_ms);
      if (s.ok()) break;
      if (attempt >= 5 || hooks.cancelled()) {
        log::Error("cannot seek to the committed offset",
                   {{"partition", std::to_string(partition)}, {"error", s.Describe()}});
        return false;
      }
      hooks.beat("seeking to the committed offsets (retry)");
      clock.SleepFor(std::chrono::milliseconds(500));
    }
  }
  hooks.restoring(false);
  return true;
}

}  // namespace dedupd::delivery
