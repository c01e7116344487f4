// Recovery: what the delivery stage does in-process, as a restart would,
// when a Kafka client fails for good (docs/delivery.md, "Broker outages"),
// instead of exiting (which under Kubernetes ends in CrashLoopBackOff after a
// long broker outage).
//  - The producer (Batch::producer_lost(), or a fatal error it raised): the
//    open batch is dropped (detector rolled back, records purged), a new
//    producer is made with the same transactional.id, init_transactions()
//    aborts or completes the old transaction at the coordinator, then every
//    assigned partition is restored and set to its committed offset
//    (delivery/resync.h). A fatal error of another client is not the
//    producer's: the daemon exits.
//  - The consumer (a static member fenced by the group coordinator:
//    librdkafka 2.0.2 never recovers it): the open batch is aborted without
//    a rewind (another member may own its partitions now), its first offsets
//    and remembered refusals are forgotten, every partition is given up; the
//    daemon then makes a new consumer, and the group gives the partitions
//    back through the rebalance callback.
//
//   delivery::Recovery recovery(&batch, &producer, &consumer_edge, &clock, options, hooks);
//   if (recovery.ProducerRecoverable(fatal_, events.fatal()) && recovery.RecoverProducer()) ...
//   if (recovery.ConsumerLost(fatal_) == CommitOutcome::kFatal) fatal_ = true;
//
// Thread-safety: the loop thread's.
#pragma once

#include <functional>
#include <string>

#include "delivery/batch.h"
#include "delivery/clock.h"
#include "delivery/edge.h"
#include "delivery/resync.h"

namespace dedupd::delivery {

struct RecoveryOptions {
  bool exactly_once = true;
  int call_timeout_ms = 10000;  // a seek's (Resync)
};

struct RecoveryHooks {
  std::function<void(const char* what)> beat = [](const char*) {};
  // The producer client: destroyed (nothing of its open transaction may go
  // out), then made again from the same configuration.
  std::function<void()> destroy_producer = [] {};
  std::function<bool(std::string* error)> create_producer;
  // Readiness: the producer is (not) ready.
  std::function<void(bool ready)> producer_ready = [](bool) {};
  // Every partition given up (consumer lost).
  std::function<void()> give_up_all = [] {};
  ResyncHooks resync;
};

class Recovery {
 public:
  Recovery(Batch* batch, ProducerEdge* producer, ConsumerEdge* consumer, Clock* clock,
           RecoveryOptions options, RecoveryHooks hooks);

  // Whether the loop's failure is the producer's: with the loop's fatal flag
  // set, only a producer the batch marked lost; else only a fatal error the
  // producer raised itself (`client_fatal` without one: another client's).
  bool ProducerRecoverable(bool loop_fatal, bool client_fatal);
  // Precondition: ProducerRecoverable(). False when the new producer cannot
  // be made or initialised, or the resync fails (the daemon exits).
  bool RecoverProducer();
  // The consumer failed for good: the batch's side of it. kFatal when the
  // abort failed for good.
  CommitOutcome ConsumerLost(bool loop_fatal);

 private:
  Batch* batch_;
  ProducerEdge* producer_;
  ConsumerEdge* consumer_;
  Clock* clock_;
  RecoveryOptions options_;
  RecoveryHooks hooks_;
};

}  // namespace dedupd::delivery
