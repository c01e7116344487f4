// Replay (`dedupd replay --from X --to-prefix P`): re-runs detection over the
// input topic's history with the current configuration, through the daemon's
// own loop, into separate topics (P + each live topic name), a separate
// consumer group (P + kafka.group_id), transactional id and state directory,
// so that the live deployment's offsets, state and outputs are never touched.
// This file holds what needs no broker: parsing --from, deriving the replay's
// names and configuration overrides (refusing a prefix that could write into
// a live topic), choosing each partition's range, and tracking progress.
// The Kafka side is app/replay_command.cc and the hooks in app/run.cc.
// Decisions and the operator's view: docs/runbook.md, "Replaying after a
// rule change".
//
//   auto from = ParseReplayFrom("2026-12-01T00:00:00Z");     // or "earliest", "0:12,1:40"
//   auto names = DeriveReplay(live_cfg.settings(), "replay-", "");      // Result<ReplayNames>
//   LoadConfig(file, environ, overrides + names.value().overrides, &replay_cfg, &errors);
//   ReplayRun run(names.value(), ranges);                     // fed by the daemon's loop
//
// Thread-safety: values and free functions; ReplayRun is used from the
// daemon's loop thread only (the rebalance callback runs there too).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "delivery/edge.h"
#include "kafka/result.h"
#include "metrics/metrics.h"
#include "pipeline/pipeline.h"
#include "replay/replay_metrics.h"

namespace dedupd::app {

// Where a replay starts in the partitions its group has no committed offset for.
struct ReplayFrom {
  enum class Kind : uint8_t {
    kEarliest,   // each partition's first offset still in the log
    kTimestamp,  // each partition's first message at or after timestamp_ms
    kOffsets,    // explicit offsets; partitions not listed are not replayed
  };
  Kind kind = Kind::kEarliest;
  int64_t timestamp_ms = 0;
  std::map<int32_t, int64_t> offsets;
};

// "earliest" | RFC 3339 ("2026-12-01T08:00:00Z", "+01:00", fractions) |
// epoch milliseconds ("1764576000000"; at least 10^12, i.e. after 2001-09-09,
// so that a bare offset is not mistaken for a time) | "P:OFFSET[,P:OFFSET...]".
kafka::Result<ReplayFrom> ParseReplayFrom(std::string_view text);

// The five topics dedupd writes.
struct ReplayTopics {
  std::string events, diffs, dlq, state, fingerprints;
};

struct ReplayNames {
  std::string prefix;
  std::string input;  // read only
  ReplayTopics live;
  ReplayTopics replay;  // prefix + each live name
  std::string live_group, group;
  std::string transactional_id;
  std::string live_state_dir, state_dir;
  // "key=value" settings that turn the live configuration into the replay's;
  // applied after every other source.
  std::vector<std::string> overrides;
};

// The replay's names and overrides for a live configuration. `state_dir`
// empty: <state.dir>/replay-<prefix>. Refuses an empty prefix, characters
// Kafka does not allow in topic names, a name over 249 characters, any replay
// topic equal to a live one (input included), and the live state directory.
kafka::Result<ReplayNames> DeriveReplay(const config::Settings& live, std::string_view prefix,
                                        std::string_view state_dir);

// One input partition's range: [start, end). `end` is the last stable offset
// when the replay started; `start` is used only when the replay's group has
// no committed offset for the partition.
struct ReplayRange {
  int64_t start = 0;
  int64_t end = 0;
};

struct Watermark {
  int64_t low = 0;
  int64_t high = 0;  // the last stable offset (read_committed)
};

// Each partition's range for `from`, given the watermarks taken at start and,
// for a timestamp, each partition's offset for it (-1: no message that late).
// Starts below the log start are raised to it; an explicit offset past the
// end, or of a partition the topic does not have, is refused.
kafka::Result<std::map<int32_t, ReplayRange>> PlanReplay(
    const ReplayFrom& from, const std::map<int32_t, Watermark>& marks,
    const std::map<int32_t, int64_t>& time_offsets);

// Progress of a running replay: where each partition started and how far it
// has got, the verdicts it produced, when it is finished. The daemon's loop
// calls StartOffset() on assignment, Count() for every processed input and
// Observe() once per batch.
class ReplayRun {
 public:
  using Clock = std::chrono::steady_clock;
  ReplayRun(ReplayNames names, std::map<int32_t, ReplayRange> ranges,
            std::chrono::milliseconds log_interval = std::chrono::seconds(5),
            std::function<Clock::time_point()> now = Clock::now);

  // The offset to consume partition `partition` from: its committed offset
  // when the replay's group has one (`committed` >= 0: an interrupted replay
  // continues), else the start of its range; a partition the replay did not
  // plan (created after it started) starts at its end (-1, OFFSET_END).
  int64_t StartOffset(int32_t partition, int64_t committed);

  struct Progress {
    // Every planned partition's position reached its end. Not yet the end of
    // the replay: that is when the committed offsets have (Confirm), since an
    // aborted batch rewinds the positions.
    bool caught_up = false;
    // Caught up with nothing uncommitted: ask the broker for the group's
    // committed offsets and Confirm() (at most every 500 ms).
    bool confirm = false;
    int64_t remaining = 0;  // messages still to process, over all partitions
    // Assigned partitions that reached their end since their assignment or
    // the last Observe: the loop pauses them, so that a replay of a busy
    // topic does not keep fetching what the live deployment is writing.
    std::vector<int32_t> reached_end;
  };
  // Updates the positions (next offset to consume, per partition) and logs a
  // progress line when log_interval has passed since the last one.
  Progress Observe(const std::map<int32_t, int64_t>& positions);

  struct Confirmation {
    bool finished = false;
    std::vector<int32_t> behind;  // paused partitions whose commit is short of the end: resume
  };
  // The replay group's committed offsets (partition -> offset; < 0 or
  // missing: none): finished when each planned partition's reached its end.
  Confirmation Confirm(const std::map<int32_t, int64_t>& committed);
  // The planned partitions, ascending.
  std::vector<int32_t> Partitions() const;

  void Count(const PipelineResult& result);

  // Once per loop turn of `dedupd replay`: the progress from the consumer's
  // positions (they step over transaction markers) and the
  // dedupd_replay_remaining_messages gauge; a partition at its end is paused.
  // When every position is at its end and nothing is uncommitted
  // (`batch_open` false), the group's committed offsets decide (positions
  // alone could be ahead of what an aborted batch left committed): true when
  // all are at their ends (the loop then leaves as on a signal). A paused
  // partition whose commit is short of its end is resumed.
  bool Finished(delivery::ConsumerEdge& consumer, bool batch_open, ReplayMetrics* metrics);

  // True for a message at or past its partition's end (or of a partition the
  // replay did not plan): the loop skips it, so that a replay covers exactly
  // its ranges even when messages were fetched before a pause took effect.
  bool PastEnd(int32_t partition, int64_t offset) const;

  bool finished() const { return finished_; }
  bool resumed() const { return resumed_; }
  // The end-of-replay report printed on stdout.
  std::string Summary() const;
  // One line: done/total per partition, rate, ETA (also logged by Observe).
  std::string ProgressLine() const;

 private:
  int64_t Remaining() const;

  ReplayNames names_;
  std::map<int32_t, ReplayRange> ranges_;
  std::map<int32_t, int64_t> first_;  // where this process started each partition
  std::map<int32_t, int64_t> next_;   // next offset to process, per partition
  std::set<int32_t> paused_;          // reported in reached_end since their assignment
  std::chrono::milliseconds log_interval_;
  std::function<Clock::time_point()> now_;
  Clock::time_point started_;
  Clock::time_point last_log_;
  static constexpr std::chrono::milliseconds kConfirmInterval{500};
  Clock::time_point last_confirm_{};
  std::map<std::string, uint64_t> verdicts_;  // verdict name, "DEAD_LETTER", "SKIPPED"
  uint64_t messages_ = 0;
  bool finished_ = false;
  bool resumed_ = false;
};

// The command line of `dedupd replay` (app/replay_command.h runs it).
struct ReplayArgs {
  std::string from = "earliest";
  std::string prefix;
  std::string state_dir;  // empty: <state.dir>/replay-<prefix>
};

}  // namespace dedupd::app
