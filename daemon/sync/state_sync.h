// StateSync: keeps the local state store, a cache, in step with the two
// compacted topics that hold dedupd's state in Kafka (docs/delivery.md):
//  - the state changelog (topics.state): partition p holds the UrlState of
//    every URL of input partition p, written in the same transaction as the
//    outputs. RestorePartitions() replays it, from the offset the store
//    reflects to the partition's stable end, before a newly assigned input
//    partition is processed.
//  - the fingerprints topic (topics.fingerprints): every URL's state, read in
//    full by every instance (manual assignment, no group, read_committed) so
//    that the global near-duplicate index sees other instances' pages.
//    Bootstrap() reads it from the start at every start; Tail() applies what
//    arrived since, between transactions. These records go to memory only
//    (Detector::ApplyFingerprints): the store keeps the URLs this instance
//    owns. A record whose version the detector holds (this instance's own)
//    is skipped on its header, without being decoded.
// Changelog records are applied through Detector::ApplyCommitted, which writes
// the states and the offsets they were read up to in one store commit, so the
// store can be behind Kafka after a crash but never inconsistent with itself.
//
// Kafka is reached through a thin edge (sync/edge.h) and time through an
// injected clock (delivery/clock.h): tests/unit/sync/ runs all of it against
// a fake edge and a manual clock.
//
//   RdKafkaSyncEdge edge(reader_props, admin_props, &events, group + ".state-reader");
//   StateSync sync(options, &edge, &clock, &detector, store.get(), &metrics, &sync_metrics);
//   if (!sync.Bootstrap().ok()) return 1;              // before processing starts
//   if (kafka::Status s = sync.RestorePartitions({0, 3}); !s.ok()) s.detail() ...
//   sync.Tail(5000);                                   // when no batch is staged
// Failures are kafka::Status values (ERR__FAIL, the reason in detail()), the
// result type of the delivery stage.
//
// Thread-safety: not thread-safe; one StateSync, used from the daemon's loop
// thread (the rebalance callback runs there too).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "delivery/clock.h"
#include "kafka/status.h"
#include "metrics/metrics.h"
#include "state/store.h"
#include "sync/edge.h"
#include "sync/sync_metrics.h"

namespace dedupd::sync {

struct StateSyncOptions {
  std::string changelog_topic;
  std::string fingerprints_topic;
  // How long a restore waits for a changelog partition to become stable (no
  // open transaction of a previous owner left on it), and how long a read may
  // make no progress, before it gives up (the daemon then exits and restarts).
  std::chrono::milliseconds stable_timeout{120000};
  size_t chunk_records = 2000;      // records applied per store commit ...
  size_t chunk_bytes = 32u << 20;   // ... or this many value bytes
  std::function<bool()> cancelled;  // e.g. a shutdown signal arrived
  // Tail() reads at most this often (it runs once per loop turn).
  std::chrono::milliseconds tail_interval{100};
  // Called for every changelog record read (URL, partition): tells the HTTP
  // routing which URLs belong to which partition (app/ownership.h).
  std::function<void(std::string_view canonical_url, int32_t partition)> on_changelog_record;
};

// What one Bootstrap/RestorePartitions call did (also logged).
struct SyncStats {
  size_t records = 0;  // records read
  size_t applied = 0;  // states applied (the rest were known already)
  size_t skipped = 0;  // fingerprint records skipped on their header (version held already)
  size_t corrupt = 0;  // values that did not decode (skipped, counted)
  double seconds = 0;
};

class StateSync {
 public:
  StateSync(StateSyncOptions options, SyncEdge* edge, delivery::Clock* clock,
            classify::Detector* detector, state::StateStore* store, metrics::Metrics* metrics,
            SyncMetrics* sync_metrics);
  ~StateSync();
  StateSync(const StateSync&) = delete;
  StateSync& operator=(const StateSync&) = delete;

  // Reads the fingerprints topic from its start up to its last stable offset
  // into the detector's memory, and keeps the reader for Tail(). Records
  // committed while it reads arrive through Tail().
  kafka::Status Bootstrap();

  // Replays the changelog partitions from the offsets the store reflects to
  // their end: it first waits until no transaction is open on them (last
  // stable offset == high watermark), because commit_transaction() returns
  // before the markers reach the partitions and a read_committed reader's
  // first EOF can come before records that are already committed.
  kafka::Status RestorePartitions(const std::vector<int32_t>& partitions);

  // Applies up to `max_records` fingerprint records that have arrived (does
  // not wait); nothing when called again within options.tail_interval.
  // Precondition: the detector has nothing staged.
  kafka::Status Tail(size_t max_records);

  const SyncStats& last() const { return last_; }
  // What Tail() did since the start.
  const SyncStats& tailed() const { return tailed_; }

  // Store metadata keys: the next offset of `topic` partition `p` that the
  // store reflects.
  static std::string ChangelogKey(const std::string& topic, int32_t partition);
  static std::string FingerprintsKey(const std::string& topic, int32_t partition);
  // What the store writes with a committed batch: the input positions it
  // reflects ("offset/<input>/<p>") and, per changelog partition, the next
  // offset after the batch's records (ChangelogKey), so that a restore reads
  // only what the store has not seen.
  static std::map<std::string, std::string> CommittedMetadata(
      const std::string& input_topic, const std::map<int32_t, int64_t>& positions,
      const std::string& changelog_topic, const std::map<int32_t, int64_t>& changelog_next);

 private:
  std::map<int32_t, int64_t> StoredOffsets(const std::vector<int32_t>& partitions,
                                           bool changelog) const;
  // Reads until every partition's next offset reaches its target.
  bool ReadUntil(StateReader* reader, const std::string& topic, bool changelog,
                 std::map<int32_t, int64_t>* next, const std::map<int32_t, int64_t>& target,
                 std::string* error);
  bool Apply(bool changelog, const std::string& topic, const std::map<int32_t, int64_t>& next,
             SyncStats* stats, std::string* error);
  void Decode(const ReadEvent& record, const std::string& topic, bool changelog, SyncStats* stats);
  double Since(delivery::Clock::TimePoint t) const;

  StateSyncOptions options_;
  SyncEdge* edge_;
  delivery::Clock* clock_;
  classify::Detector* detector_;
  state::StateStore* store_;
  metrics::Metrics* metrics_;
  SyncMetrics* sync_metrics_;
  StateReaderPtr tail_;
  delivery::Clock::TimePoint last_tail_{};
  std::map<int32_t, int64_t> tail_next_;  // fingerprints: next offset per partition
  std::vector<state::UrlState> pending_;  // decoded, not yet applied
  size_t pending_bytes_ = 0;
  SyncStats last_;
  SyncStats tailed_;  // Tail() since start (not reported by last())
};

}  // namespace dedupd::sync
