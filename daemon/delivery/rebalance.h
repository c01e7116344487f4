// Rebalance: what the delivery stage does in the consumer's rebalance
// callback (docs/delivery.md, "Rebalances"), behind a small edge over the
// group consumer so that the order of the steps is tested without a broker.
//
//   Revoke (or lost, or a rebalance error): the open batch commits first
//   (aborted without a rewind when the assignment was lost: another member
//   may own the partitions already), then the partitions are given up
//   (cooperative: the revoked ones; eager: all).
//   Assign: an open batch of the partitions kept commits first (the restore
//   writes into the store); the committed offsets are fetched (retried until
//   the restore timeout, and as long as no broker is up); the partitions'
//   state is restored; then they are assigned at those offsets.
//
//   delivery::Rebalance rebalance(batch, &clock, &metrics, restore_timeout, hooks);
//   RdKafkaRebalanceEdge edge(consumer, input_topic);   // in rebalance_cb
//   if (rebalance.Assigned(edge, ids) == RebalanceOutcome::kFatal) exit;
//
// What the daemon owns (the restore into its store, ownership, readiness,
// the commit that also writes the store) is behind RebalanceHooks.
//
// Thread-safety: the consumer's rebalance callback runs on the loop thread
// (inside consume()); so does everything here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "delivery/batch.h"
#include "delivery/clock.h"
#include "delivery/delivery_metrics.h"
#include "delivery/edge.h"
#include "kafka/result.h"
#include "kafka/status.h"
#include "metrics/metrics.h"

namespace dedupd::delivery {

// COOPERATIVE (cooperative-sticky): a callback names only the partitions that
// move. EAGER (range, roundrobin): a rebalance revokes everything, then
// assigns the whole new assignment.
enum class RebalanceProtocol { kEager, kCooperative };

// The group consumer inside its rebalance callback.
class RebalanceEdge {
 public:
  virtual ~RebalanceEdge() = default;
  virtual RebalanceProtocol protocol() = 0;
  virtual bool AssignmentLost() = 0;
  // The group's committed offsets of `partitions` (an OffsetFetch for
  // stable offsets: it waits while a previous owner's transaction holds
  // offsets for them). A partition without one maps to OFFSET_INVALID.
  virtual kafka::Result<Offsets> Committed(const std::vector<int32_t>& partitions,
                                           int timeout_ms) = 0;
  // assign() (eager) or incremental_assign() (cooperative) at `offsets`.
  virtual kafka::Status Assign(const Offsets& offsets) = 0;
  // unassign() (not incremental: everything) or incremental_unassign().
  virtual kafka::Status Unassign(const std::vector<int32_t>& partitions, bool incremental) = 0;
};

// What a rebalance callback is for: librdkafka's ERR__ASSIGN_PARTITIONS,
// ERR__REVOKE_PARTITIONS, or any other code (a rebalance error: everything
// is given up).
enum class RebalanceEvent { kAssign, kRevoke, kError };

enum class RebalanceOutcome {
  kDone,
  kFatal,        // the daemon exits (or re-creates what failed)
  kInterrupted,  // a signal arrived: nothing more is done, nothing is fatal
};

struct RebalanceHooks {
  // A literal (see BatchHooks::beat).
  std::function<void(const char* what)> beat = [](const char*) {};
  std::function<bool()> cancelled = [] { return false; };
  // No broker is up (an outage, which a rebalance outlasts by retrying).
  std::function<bool()> brokers_unavailable = [] { return false; };
  // The daemon's commit of the open batch: Kafka, then the store.
  std::function<CommitOutcome()> commit;
  // The assigned partitions' restore is under way (readiness).
  std::function<void(bool restoring)> restoring = [](bool) {};
  // `dedupd replay`: where its partitions start (may change `offsets`).
  std::function<void(Offsets& offsets)> start_offsets = [](Offsets&) {};
  // Restores the partitions' state from the changelog before any of their
  // messages is processed; retries up to `deadline`.
  std::function<RebalanceOutcome(const std::vector<int32_t>& partitions, Clock::TimePoint deadline)>
      restore;
  // After the assignment took effect / the partitions given up.
  std::function<void(const std::vector<int32_t>& partitions)> assigned = [](const auto&) {};
  std::function<void(const std::set<int32_t>& partitions)> given_up = [](const auto&) {};
  // The partitions owned now (an eager revoke gives them all up).
  std::function<std::set<int32_t>()> owned = [] { return std::set<int32_t>{}; };

  // For Callback() only.
  // The loop's fatal flag, and a fatal error event of any client.
  std::function<bool()> loop_fatal = [] { return false; };
  std::function<bool()> client_fatal = [] { return false; };
  // Messages read ahead before the callback: finished into the open batch
  // first (so that the positions a commit sends match what was processed),
  // or dropped (`drop`: the assignment was lost, or the daemon is failing).
  std::function<void(bool drop)> finish_read_ahead = [](bool) {};
  // Re-creates a lost producer in-process (delivery/recovery.h); false: the
  // daemon exits.
  std::function<bool()> recover_producer = [] { return false; };
  // The failed consumer's close() runs the callback too: a consumer being
  // re-created only gives everything up (Recovery::ConsumerLost did the rest).
  std::function<bool()> recovering_consumer = [] { return false; };
};

class Rebalance {
 public:
  Rebalance(Batch* batch, Clock* clock, metrics::Metrics* metrics,
            DeliveryMetrics* delivery_metrics, std::chrono::milliseconds restore_timeout,
            RebalanceHooks hooks);

  // The whole callback: logged, counted (dedupd_rebalances_total), read-ahead
  // messages finished first, a lost producer re-created before an
  // assignment, then Assigned() or Revoked().
  RebalanceOutcome Callback(RebalanceEdge& edge, RebalanceEvent event,
                            const std::vector<int32_t>& partitions);

  RebalanceOutcome Assigned(RebalanceEdge& edge, const std::vector<int32_t>& partitions);
  // `incremental`: a cooperative revocation (not a rebalance error, which
  // gives everything up). `fatal`: the daemon is already failing: the open
  // batch is left alone (the producer must not be touched).
  RebalanceOutcome Revoked(RebalanceEdge& edge, const std::vector<int32_t>& partitions,
                           bool incremental, bool fatal);

 private:
  Batch* batch_;
  Clock* clock_;
  metrics::Metrics* metrics_;
  DeliveryMetrics* delivery_metrics_;
  std::chrono::milliseconds restore_timeout_;
  RebalanceHooks hooks_;
};

}  // namespace dedupd::delivery
