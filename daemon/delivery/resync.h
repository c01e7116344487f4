// Resync: after the producer was lost and re-created in-process (instead of
// an exit), every assigned input partition is set back to what Kafka
// committed, as a restart would: its state restored from the changelog (a
// batch whose commit went through before the producer failed is in it) and
// its position set to the group's committed offset. The committed offsets
// decide, not this instance's view: a commit that went through is kept, one
// that did not is processed again. A partition with no committed offset goes
// back to its first message of the dropped batch (Batch::Drop()).
//
//   delivery::ResyncHooks hooks;
//   hooks.restore = [&](const auto& ids, std::string* error) { return sync.RestorePartitions(ids,
//   error); }; if (!delivery::Resync(consumer_edge, clock, batch.Drop(), 10000, hooks)) exit;
//
// Retries: the committed offsets until they come (every 500 ms), the restore
// until it succeeds (every second), each seek 5 times (a partition left at a
// wrong position would break exactly-once: false after that). All stop on
// cancelled().
//
// Thread-safety: the loop thread's.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "delivery/clock.h"
#include "delivery/edge.h"
#include "kafka/status.h"

namespace dedupd::delivery {

struct ResyncHooks {
  std::function<void(const char* what)> beat = [](const char*) {};
  std::function<bool()> cancelled = [] { return false; };
  // The partitions' restore is under way (readiness); not cleared on failure
  // (the daemon exits then).
  std::function<void(bool restoring)> restoring = [](bool) {};
  // Restores the partitions' state from the changelog.
  std::function<kafka::Status(const std::vector<int32_t>& partitions)> restore;
};

// False on cancelled(), when the assignment cannot be read, or when a seek
// keeps failing.
bool Resync(ConsumerEdge& consumer, Clock& clock, const Offsets& batch_first, int call_timeout_ms,
            const ResyncHooks& hooks);

}  // namespace dedupd::delivery
