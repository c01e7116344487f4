#include "replay/replay.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <utility>

#include "common/log.h"
#include "parse/page_parser.h"

namespace dedupd::app {
namespace {

// Kafka's limit on a topic name, and the characters it allows in one.
constexpr size_t kMaxTopicName = 249;

bool TopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Epoch milliseconds below this (2001-09-09) are refused: no Kafka message is
// that old, and a bare "123" is far more likely a mistyped offset.
constexpr int64_t kMinEpochMs = 1000000000000;

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= 0;
}

kafka::Result<ReplayFrom> ParseOffsets(std::string_view text) {
  ReplayFrom from;
  from.kind = ReplayFrom::Kind::kOffsets;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string_view item = text.substr(pos, comma - pos);
    const size_t colon = item.find(':');
    int32_t partition = 0;
    int64_t offset = 0;
    if (colon == std::string_view::npos || !ParseNumber(item.substr(0, colon), &partition) ||
        !ParseNumber(item.substr(colon + 1), &offset)) {
      return kafka::Failure{"--from '" + std::string(text) + "': '" + std::string(item) +
                            "' is not PARTITION:OFFSET (e.g. 0:123,1:456)"};
    }
    if (!from.offsets.emplace(partition, offset).second) {
      return kafka::Failure{"--from '" + std::string(text) + "': partition " +
                            std::to_string(partition) + " is given twice"};
    }
    pos = comma + 1;
  }
  return from;
}

std::string Normal(const std::string& dir) {
  std::string s = std::filesystem::path(dir).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

}  // namespace

kafka::Result<ReplayFrom> ParseReplayFrom(std::string_view text) {
  if (text.empty()) {
    return kafka::Failure{
        "--from needs a value: earliest, an RFC 3339 timestamp, epoch milliseconds or "
        "PARTITION:OFFSET,..."};
  }
  if (text == "earliest") return ReplayFrom{};
  // An RFC 3339 time always has a '-' in its date; offsets never do.
  if (text.find(':') != std::string_view::npos && text.find('-') == std::string_view::npos) {
    return ParseOffsets(text);
  }
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    ReplayFrom from;
    from.kind = ReplayFrom::Kind::kTimestamp;
    if (!ParseNumber(text, &from.timestamp_ms)) {
      return kafka::Failure{"--from '" + std::string(text) + "': not a number of milliseconds"};
    }
    if (from.timestamp_ms < kMinEpochMs) {
      return kafka::Failure{"--from '" + std::string(text) +
                            "': epoch milliseconds must be at least 1000000000000 (2001-09-09); "
                            "for offsets write PARTITION:OFFSET (e.g. 0:" +
                            std::string(text) + ")"};
    }
    return from;
  }
  ReplayFrom from;
  from.kind = ReplayFrom::Kind::kTimestamp;
  if (!parse::ParseRfc3339(text, &from.timestamp_ms)) {
    return kafka::Failure{"--from '" + std::string(text) +
                          "': expected earliest, an RFC 3339 timestamp "
                          "(2026-12-01T08:00:00Z), epoch milliseconds or PARTITION:OFFSET,..."};
  }
  return from;
}

kafka::Result<ReplayNames> DeriveReplay(const config::Settings& live, std::string_view prefix,
                                        std::string_view state_dir) {
  if (prefix.empty()) {
    return kafka::Failure{
        "--to-prefix must not be empty (it is required): the replay would write into the live "
        "topics"};
  }
  if (!std::all_of(prefix.begin(), prefix.end(), TopicChar)) {
    return kafka::Failure{"--to-prefix '" + std::string(prefix) +
                          "': Kafka topic names allow only letters, digits, '.', '_' and '-'"};
  }
  ReplayNames n;
  n.prefix = std::string(prefix);
  n.input = live.topics.input;
  n.live = {live.topics.events, live.topics.diffs, live.topics.dlq, live.topics.state,
            live.topics.fingerprints};
  n.replay = {n.prefix + n.live.events, n.prefix + n.live.diffs, n.prefix + n.live.dlq,
              n.prefix + n.live.state, n.prefix + n.live.fingerprints};
  const std::set<std::string> live_topics = {n.input,    n.live.events, n.live.diffs,
                                             n.live.dlq, n.live.state,  n.live.fingerprints};
  const std::pair<const char*, const std::string*> replay_topics[] = {
      {"events", &n.replay.events},
      {"diffs", &n.replay.diffs},
      {"dlq", &n.replay.dlq},
      {"state", &n.replay.state},
      {"fingerprints", &n.replay.fingerprints}};
  for (const auto& [kind, topic] : replay_topics) {
    if (live_topics.count(*topic) > 0) {
      return kafka::Failure{"--to-prefix '" + n.prefix + "' makes the replay's " + kind +
                            " topic '" + *topic +
                            "' a topic the live deployment uses: choose another prefix"};
    }
    if (topic->size() > kMaxTopicName) {
      return kafka::Failure{"--to-prefix '" + n.prefix + "' makes the replay's " + kind +
                            " topic name longer than Kafka's 249 characters"};
    }
  }
  n.live_group = live.kafka.group_id;
  n.group = n.prefix + n.live_group;
  n.transactional_id = n.prefix + live.kafka.transactional_id;
  n.live_state_dir = live.state.dir;
  n.state_dir = state_dir.empty()
                    ? (std::filesystem::path(n.live_state_dir) / ("replay-" + n.prefix)).string()
                    : std::string(state_dir);
  if (Normal(n.state_dir) == Normal(n.live_state_dir)) {
    return kafka::Failure{"--state-dir '" + n.state_dir +
                          "' is the live state directory (state.dir): a replay keeps its own"};
  }
  n.overrides = {"topics.events=" + n.replay.events, "topics.diffs=" + n.replay.diffs,
                 "topics.dlq=" + n.replay.dlq, "topics.state=" + n.replay.state,
                 "topics.fingerprints=" + n.replay.fingerprints, "kafka.group_id=" + n.group,
                 "kafka.transactional_id=" + n.transactional_id,
                 "kafka.client_id=" + n.prefix + live.kafka.client_id, "state.dir=" + n.state_dir,
                 // A replay must never page anyone (run.cc drops a notifier too).
                 "alertmanager.enabled=false"};
  // The prefixed topics are the replay's own: created unless the command line
  // itself says kafka.create_topics=false (the file's value is the live one's).
  if (!live.kafka.create_topics_from_flag) {
    n.overrides.push_back("kafka.create_topics=true");
  }
  // Static membership, where configured, is per group; prefixed all the same
  // so that no log line or broker view mixes the replay with a live member.
  if (!live.kafka.group_instance_id.empty()) {
    n.overrides.push_back("kafka.group_instance_id=" + n.prefix + live.kafka.group_instance_id);
  }
  return n;
}

kafka::Result<std::map<int32_t, ReplayRange>> PlanReplay(
    const ReplayFrom& from, const std::map<int32_t, Watermark>& marks,
    const std::map<int32_t, int64_t>& time_offsets) {
  std::map<int32_t, ReplayRange> ranges;
  if (from.kind == ReplayFrom::Kind::kOffsets) {
    for (const auto& [partition, offset] : from.offsets) {
      auto it = marks.find(partition);
      if (it == marks.end()) {
        return kafka::Failure{"--from: the input topic has no partition " +
                              std::to_string(partition) + " (it has " +
                              std::to_string(marks.size()) + ")"};
      }
      if (offset > it->second.high) {
        return kafka::Failure{"--from: offset " + std::to_string(offset) + " of partition " +
                              std::to_string(partition) + " is past its end (" +
                              std::to_string(it->second.high) + ")"};
      }
    }
  }
  for (const auto& [partition, mark] : marks) {
    int64_t start = mark.low;
    switch (from.kind) {
      case ReplayFrom::Kind::kEarliest: break;
      case ReplayFrom::Kind::kTimestamp: {
        auto it = time_offsets.find(partition);
        start = it == time_offsets.end() || it->second < 0 ? mark.high : it->second;
        break;
      }
      case ReplayFrom::Kind::kOffsets: {
        auto it = from.offsets.find(partition);
        start = it == from.offsets.end() ? mark.high : it->second;
        break;
      }
    }
    ranges[partition] = {std::clamp(start, mark.low, std::max(mark.low, mark.high)), mark.high};
  }
  return ranges;
}

ReplayRun::ReplayRun(ReplayNames names, std::map<int32_t, ReplayRange> ranges,
                     std::chrono::milliseconds log_interval, std::function<Clock::time_point()> now)
    : names_(std::move(names)),
      ranges_(std::move(ranges)),
      log_interval_(log_interval),
      now_(std::move(now)),
      started_(now_()),
      last_log_(started_) {}

int64_t ReplayRun::StartOffset(int32_t partition, int64_t committed) {
  auto range = ranges_.find(partition);
  if (range == ranges_.end()) {
    log::Warn("replay: partition created after the replay started is not replayed",
              {{"partition", std::to_string(partition)}});
    return -1;  // RdKafka::Topic::OFFSET_END
  }
  int64_t start = range->second.start;
  if (committed >= 0) {
    if (!resumed_) {
      log::Info(
          "replay: its consumer group has committed offsets; continuing from them (--from "
          "applies only to partitions without one)",
          {{"group", names_.group}});
    }
    resumed_ = true;
    start = committed;
  }
  first_.try_emplace(partition, start);
  paused_.erase(partition);  // a new assignment is not paused
  next_[partition] = start;
  return start;
}

ReplayRun::Progress ReplayRun::Observe(const std::map<int32_t, int64_t>& positions) {
  // The current positions, not the highest seen: an abort rewinds them.
  for (const auto& [partition, position] : positions) {
    if (auto it = next_.find(partition); it != next_.end()) it->second = position;
  }
  Progress progress;
  progress.caught_up = true;
  for (const auto& [partition, range] : ranges_) {
    auto it = next_.find(partition);
    if ((it == next_.end() ? range.start : it->second) < range.end) {
      progress.caught_up = false;
    } else if (positions.count(partition) > 0 && paused_.insert(partition).second) {
      progress.reached_end.push_back(partition);
    }
  }
  progress.remaining = Remaining();
  if (now_() - last_log_ >= log_interval_) {
    last_log_ = now_();
    log::Info("replay progress", {{"progress", ProgressLine()}});
  }
  progress.confirm = progress.caught_up && now_() - last_confirm_ >= kConfirmInterval;
  return progress;
}

ReplayRun::Confirmation ReplayRun::Confirm(const std::map<int32_t, int64_t>& committed) {
  last_confirm_ = now_();
  Confirmation c;
  c.finished = true;
  for (const auto& [partition, range] : ranges_) {
    // No committed offset: where this process started it (the plan's start
    // before its assignment), so an empty range counts as done.
    auto first = first_.find(partition);
    int64_t at = first == first_.end() ? range.start : first->second;
    if (auto it = committed.find(partition); it != committed.end() && it->second >= 0) {
      at = it->second;
    }
    if (at >= range.end) continue;
    c.finished = false;
    if (paused_.erase(partition) > 0) c.behind.push_back(partition);
  }
  if (c.finished) {
    finished_ = true;
    log::Info("replay: every partition's committed offset reached its end",
              {{"progress", ProgressLine()}});
  }
  return c;
}

std::vector<int32_t> ReplayRun::Partitions() const {
  std::vector<int32_t> out;
  for (const auto& [partition, range] : ranges_) out.push_back(partition);
  return out;
}

bool ReplayRun::PastEnd(int32_t partition, int64_t offset) const {
  auto it = ranges_.find(partition);
  return it == ranges_.end() || offset >= it->second.end;
}

int64_t ReplayRun::Remaining() const {
  int64_t remaining = 0;
  for (const auto& [partition, range] : ranges_) {
    auto it = next_.find(partition);
    remaining += std::max<int64_t>(0, range.end - (it == next_.end() ? range.start : it->second));
  }
  return remaining;
}

std::string ReplayRun::ProgressLine() const {
  int64_t done = 0;
  int64_t total = 0;
  std::string parts;
  for (const auto& [partition, range] : ranges_) {
    auto first = first_.find(partition);
    auto next = next_.find(partition);
    const int64_t from = first == first_.end() ? range.start : first->second;
    const int64_t at = next == next_.end() ? from : next->second;
    const int64_t n = std::max<int64_t>(0, std::min(at, range.end) - from);
    const int64_t t = std::max<int64_t>(0, range.end - from);
    done += n;
    total += t;
    if (parts.size() < 400) {
      parts += " " + std::to_string(partition) + ":" + std::to_string(n) + "/" + std::to_string(t);
    } else if (!parts.ends_with(" ...")) {
      parts += " ...";
    }
  }
  const double elapsed = std::chrono::duration<double>(now_() - started_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const int64_t remaining = total - done;
  std::ostringstream out;
  out << done << "/" << total << " messages";
  if (total > 0) out << " (" << Seconds(100.0 * static_cast<double>(done) / total) << "%)";
  out << ", " << Seconds(rate) << " msg/s, ETA "
      << (remaining == 0 ? "0 s"
          : rate > 0     ? Seconds(static_cast<double>(remaining) / rate) + " s"
                         : "unknown")
      << "; partitions (done/total)" << parts;
  return out.str();
}

void ReplayRun::Count(const PipelineResult& result) {
  ++messages_;
  switch (result.kind) {
    case PipelineResult::Kind::kEvent:
      ++verdicts_[std::string(VerdictName(result.outcome.verdict))];
      return;
    case PipelineResult::Kind::kDeadLetter: ++verdicts_["DEAD_LETTER"]; return;
    case PipelineResult::Kind::kSkipped: ++verdicts_["SKIPPED"]; return;
  }
}

std::string ReplayRun::Summary() const {
  std::ostringstream out;
  const double elapsed = std::chrono::duration<double>(now_() - started_).count();
  out << (finished_ ? "replay finished" : "replay interrupted (run the same command to continue)")
      << "\n";
  out << "  messages: " << messages_ << " processed in " << Seconds(elapsed) << " s"
      << (resumed_ ? " (continued from the replay group's committed offsets)" : "") << "\n";
  out << "  progress: " << ProgressLine() << "\n";
  out << "  verdicts:";
  for (const char* v :
       {"NEW", "UNCHANGED", "REVISED", "DUPLICATE", "NEAR_DUPLICATE", "DEAD_LETTER", "SKIPPED"}) {
    auto it = verdicts_.find(v);
    out << " " << v << "=" << (it == verdicts_.end() ? 0 : it->second);
  }
  out << "\n";
  out << "  input topic: " << names_.input << "\n";
  out << "  events topic: " << names_.replay.events << "\n";
  out << "  diffs topic: " << names_.replay.diffs << "\n";
  out << "  dlq topic: " << names_.replay.dlq << "\n";
  out << "  state topic: " << names_.replay.state << "\n";
  out << "  fingerprints topic: " << names_.replay.fingerprints << "\n";
  out << "  consumer group: " << names_.group << "\n";
  out << "  state dir: " << names_.state_dir << "\n";
  out << "  compare: scripts/compare-verdicts --bootstrap-server <host:port> " << names_.live.events
      << " " << names_.replay.events << "\n";
  return out.str();
}

bool ReplayRun::Finished(delivery::ConsumerEdge& consumer, bool batch_open,
                         ReplayMetrics* metrics) {
  const Progress progress = Observe(consumer.Positions());
  metrics->SetRemaining(static_cast<double>(progress.remaining));
  if (!progress.reached_end.empty()) (void)consumer.Pause(progress.reached_end);
  if (!progress.confirm || batch_open) return false;
  auto committed = consumer.Committed(Partitions(), 10000);
  if (!committed.ok()) {
    log::Warn("replay: cannot fetch its committed offsets; retrying",
              {{"error", committed.error()}});
    return false;
  }
  const Confirmation confirmation = Confirm(committed.value());
  if (!confirmation.behind.empty()) (void)consumer.Resume(confirmation.behind);
  return confirmation.finished;
}

}  // namespace dedupd::app
