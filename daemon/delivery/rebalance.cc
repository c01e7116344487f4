#include "delivery/rebalance.h"

#include <algorithm>

#include "common/log.h"

namespace dedupd::delivery {

Rebalance::Rebalance(Batch* batch, Clock* clock, metrics::Metrics* metrics,
                     DeliveryMetrics* delivery_metrics, std::chrono::milliseconds restore_timeout,
                     RebalanceHooks hooks)
    : batch_(batch),
      clock_(clock),
      metrics_(metrics),
      delivery_metrics_(delivery_metrics),
      restore_timeout_(restore_timeout),
      hooks_(std::move(hooks)) {}

RebalanceOutcome Rebalance::Callback(RebalanceEdge& edge, RebalanceEvent event,
                                     const std::vector<int32_t>& partitions) {
  const bool cooperative = edge.protocol() == RebalanceProtocol::kCooperative;
  const char* protocol = cooperative ? "COOPERATIVE" : "EAGER";
  if (hooks_.recovering_consumer()) {
    if (event == RebalanceEvent::kRevoke) (void)edge.Unassign(partitions, cooperative);
    return RebalanceOutcome::kDone;
  }
  hooks_.finish_read_ahead(edge.AssignmentLost() || hooks_.loop_fatal() || hooks_.client_fatal());
  std::string list;
  for (int32_t p : partitions) list += (list.empty() ? "" : ",") + std::to_string(p);
  switch (event) {
    case RebalanceEvent::kAssign:
      log::Info("partitions assigned", {{"partitions", list}, {"protocol", protocol}});
      // A cooperative rebalance ends with an assignment callback for every
      // member, most of them empty: only real assignments count.
      if (!partitions.empty()) delivery_metrics_->CountRebalance("assigned");
      // A producer lost during the revocation is re-created before the new
      // partitions are taken (nothing is assigned now, so nothing to rewind).
      if ((hooks_.loop_fatal() || hooks_.client_fatal()) && !hooks_.recover_producer()) {
        return RebalanceOutcome::kDone;  // the loop exits on its fatal flag
      }
      if (hooks_.loop_fatal()) return RebalanceOutcome::kDone;
      return Assigned(edge, partitions);
    case RebalanceEvent::kRevoke:
    case RebalanceEvent::kError: break;
  }
  // Revoked (or lost). The state of the revoked partitions stays in the
  // store and the global index: it is every instance's near-duplicate
  // reference, kept current by the fingerprints topic, and the changelog
  // offsets stored with it let a later restore of the same partitions read
  // only what changed since.
  const bool lost = edge.AssignmentLost();
  log::Info(
      lost ? "partitions lost" : "partitions revoked",
      {{"count", std::to_string(partitions.size())}, {"partitions", list}, {"protocol", protocol}});
  if (!partitions.empty() || !cooperative)
    delivery_metrics_->CountRebalance(lost ? "lost" : "revoked");
  const bool incremental = cooperative && event == RebalanceEvent::kRevoke;
  return Revoked(edge, partitions, incremental, hooks_.loop_fatal());
}

RebalanceOutcome Rebalance::Assigned(RebalanceEdge& edge, const std::vector<int32_t>& partitions) {
  // The open batch (cooperative: of the partitions this instance keeps)
  // commits before the restore writes the new partitions' state into the
  // store, as it does before a fingerprints tail.
  if (!partitions.empty() && batch_->open() && hooks_.commit() == CommitOutcome::kFatal) {
    return RebalanceOutcome::kFatal;
  }
  hooks_.restoring(true);
  // 1. The committed offsets, stable: once the OffsetFetch answers, a
  //    previous owner's transaction has committed (its changelog records are
  //    in the log) or aborted (KIP-447).
  const Clock::TimePoint deadline = clock_->Now() + restore_timeout_;
  Offsets offsets;
  while (!partitions.empty()) {
    auto committed = edge.Committed(partitions, 10000);
    if (committed.ok()) {
      offsets = std::move(committed).value();
      break;
    }
    metrics_->CountKafkaError("offset_fetch");
    if (hooks_.cancelled()) return RebalanceOutcome::kInterrupted;
    // While no broker is up this is an outage, not a fault: keep waiting.
    if (clock_->Now() >= deadline && !hooks_.brokers_unavailable()) {
      log::Error("cannot fetch the committed offsets of the assigned partitions",
                 {{"error", committed.error()}});
      return RebalanceOutcome::kFatal;
    }
    log::Warn("fetching committed offsets: retrying", {{"error", committed.error()}});
    hooks_.beat("fetching committed offsets (retry)");
    clock_->SleepFor(std::chrono::milliseconds(500));
  }
  hooks_.start_offsets(offsets);
  // 2. The partitions' state, from the changelog, before any message.
  if (const RebalanceOutcome restored = hooks_.restore(partitions, deadline);
      restored != RebalanceOutcome::kDone) {
    return restored;
  }
  const RebalanceProtocol protocol = edge.protocol();
  if (protocol == RebalanceProtocol::kEager) {
    // Rejected inputs of partitions that went elsewhere are their new
    // owner's to find again (cooperative: forgotten at their revoke).
    batch_->rejections().Forget([&partitions](int32_t partition, int64_t) {
      return std::find(partitions.begin(), partitions.end(), partition) == partitions.end();
    });
  }
  // 3. Consume from the offsets fetched in 1.
  if (kafka::Status s = edge.Assign(offsets);
      !s.ok() && protocol == RebalanceProtocol::kCooperative) {
    log::Error("incremental_assign failed", {{"error", s.Describe()}});
    return RebalanceOutcome::kFatal;
  }
  hooks_.assigned(partitions);
  return RebalanceOutcome::kDone;
}

// Finishes what was processed for these partitions first, so that their next
// owner starts exactly where this instance stopped (cooperative: the open
// transaction covers the partitions kept too; it commits whole).
RebalanceOutcome Rebalance::Revoked(RebalanceEdge& edge, const std::vector<int32_t>& partitions,
                                    bool incremental, bool fatal) {
  bool failed = false;
  if (!fatal && batch_->open()) {
    if (edge.AssignmentLost()) {
      // Another member may own them already: nothing of this batch may commit.
      failed = batch_->Abort("assignment lost", Rewind::kNo) == CommitOutcome::kFatal;
    } else {
      failed = hooks_.commit() == CommitOutcome::kFatal;
    }
  }
  batch_->ClearFirstOffsets();
  // What this instance gives up: the revoked partitions (cooperative), or
  // everything (eager, or a rebalance error: unassign() clears it all).
  std::set<int32_t> given_up(partitions.begin(), partitions.end());
  if (!incremental) given_up.merge(hooks_.owned());
  if (incremental) {
    // (Eager: the next assignment forgets those that went elsewhere.)
    batch_->rejections().Forget(
        [&given_up](int32_t partition, int64_t) { return given_up.count(partition) > 0; });
    if (kafka::Status s = edge.Unassign(partitions, true); !s.ok()) {
      log::Error("incremental_unassign failed", {{"error", s.Describe()}});
      failed = true;
    }
  } else {
    (void)edge.Unassign(partitions, false);
  }
  hooks_.given_up(given_up);
  return failed ? RebalanceOutcome::kFatal : RebalanceOutcome::kDone;
}

}  // namespace dedupd::delivery
