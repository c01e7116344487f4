#include "sync/state_sync.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "common/log.h"
#include "state/url_state.h"

namespace dedupd::sync {
namespace {

using TimePoint = delivery::Clock::TimePoint;

int64_t ParseOffset(const std::optional<std::string>& s) {
  if (!s) return 0;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size() || v < 0) return 0;
  return v;
}

int64_t Remaining(const std::map<int32_t, int64_t>& next,
                  const std::map<int32_t, int64_t>& target) {
  int64_t n = 0;
  for (const auto& [p, end] : target) {
    auto it = next.find(p);
    int64_t at = it == next.end() ? 0 : it->second;
    n += std::max<int64_t>(0, end - at);
  }
  return n;
}

int RemainingMs(TimePoint now, TimePoint deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
  return static_cast<int>(std::clamp<int64_t>(left.count(), 1, 60000));
}

// A failure as the stages' result type (kafka::Status, as the delivery
// stage's): ERR__FAIL with the reason as its detail.
kafka::Status Failed(std::string why) {
  return kafka::Status(RdKafka::ERR__FAIL, std::move(why));
}

}  // namespace

StateSync::StateSync(StateSyncOptions options, SyncEdge* edge, delivery::Clock* clock,
                     classify::Detector* detector, state::StateStore* store,
                     metrics::Metrics* metrics, SyncMetrics* sync_metrics)
    : options_(std::move(options)),
      edge_(edge),
      clock_(clock),
      detector_(detector),
      store_(store),
      metrics_(metrics),
      sync_metrics_(sync_metrics) {}

StateSync::~StateSync() = default;

std::string StateSync::ChangelogKey(const std::string& topic, int32_t partition) {
  return "changelog/" + topic + "/" + std::to_string(partition);
}

std::string StateSync::FingerprintsKey(const std::string& topic, int32_t partition) {
  return "fingerprints/" + topic + "/" + std::to_string(partition);
}

std::map<std::string, std::string> StateSync::CommittedMetadata(
    const std::string& input_topic, const std::map<int32_t, int64_t>& positions,
    const std::string& changelog_topic, const std::map<int32_t, int64_t>& changelog_next) {
  std::map<std::string, std::string> meta;
  for (const auto& [partition, offset] : positions) {
    meta["offset/" + input_topic + "/" + std::to_string(partition)] = std::to_string(offset);
  }
  for (const auto& [partition, next] : changelog_next) {
    meta[ChangelogKey(changelog_topic, partition)] = std::to_string(next);
  }
  return meta;
}

double StateSync::Since(TimePoint t) const {
  return std::chrono::duration<double>(clock_->Now() - t).count();
}

std::map<int32_t, int64_t> StateSync::StoredOffsets(const std::vector<int32_t>& partitions,
                                                    bool changelog) const {
  std::map<int32_t, int64_t> out;
  for (int32_t p : partitions) {
    const std::string key = changelog ? ChangelogKey(options_.changelog_topic, p)
                                      : FingerprintsKey(options_.fingerprints_topic, p);
    out[p] = ParseOffset(store_->GetMetadata(key));
  }
  return out;
}

void StateSync::Decode(const ReadEvent& record, const std::string& topic, bool changelog,
                       SyncStats* stats) {
  ++stats->records;
  if (record.value.empty()) return;  // a tombstone: nothing to apply
  const std::string_view bytes = record.value;
  state::UrlState s;
  const std::string_view key = record.key;
  bool ok = true;
  if (!changelog) {
    // A fingerprint record whose version the detector holds (this instance's
    // own records above all) is skipped on its header alone.
    state::RecordHeader header;
    if (state::PeekRecordHeader(key, bytes, &header) &&
        detector_->HoldsVersion(header.url, header.version)) {
      ++stats->skipped;
      return;
    }
    // The indexes need no text (it is not kept), unless the record has no
    // sketch yet (an old format): then it is derived from the text.
    ok = state::DecodeStateRecord(key, bytes, &s, state::TextPart::kSkipIfIndexed);
    if (ok && s.text_known && !s.sketch_known && s.line_hashes_known) {
      ok = state::DecodeStateRecord(key, bytes, &s);
    }
  } else {
    ok = state::DecodeStateRecord(key, bytes, &s);
  }
  if (!ok) {
    if (stats->corrupt++ < 10) {
      log::Warn("undecodable state record skipped",
                {{"topic", topic},
                 {"partition", std::to_string(record.partition)},
                 {"offset", std::to_string(record.offset)}});
    }
    metrics_->CountKafkaError("state_record");
    return;
  }
  if (options_.on_changelog_record && changelog) {
    options_.on_changelog_record(s.canonical_url, record.partition);
  }
  pending_bytes_ += bytes.size();
  pending_.push_back(std::move(s));
}

bool StateSync::Apply(bool changelog, const std::string& topic,
                      const std::map<int32_t, int64_t>& next, SyncStats* stats,
                      std::string* error) {
  std::map<std::string, std::string> metadata;
  if (changelog) {
    for (const auto& [p, offset] : next) metadata[ChangelogKey(topic, p)] = std::to_string(offset);
  }
  size_t applied = 0;
  // Fingerprint records go to memory only (the store keeps owned URLs): no
  // store write, no offsets stored; the topic is read from its start at
  // every start (Bootstrap).
  bool ok = changelog ? detector_->ApplyCommitted(pending_, true, metadata, &applied, error)
                      : detector_->ApplyFingerprints(&pending_, &applied, error);
  stats->applied += applied;
  pending_.clear();
  pending_bytes_ = 0;
  return ok;
}

bool StateSync::ReadUntil(StateReader* reader, const std::string& topic, bool changelog,
                          std::map<int32_t, int64_t>* next,
                          const std::map<int32_t, int64_t>& target, std::string* error) {
  std::set<int32_t> pending;
  for (const auto& [p, end] : target) {
    if ((*next)[p] < end) pending.insert(p);
  }
  auto progress = clock_->Now();
  auto last_log = clock_->Now();
  size_t transport_errors = 0;
  uint32_t since_tick = 0;
  bool moved = false;  // a record or an end of partition since the last tick
  sync_metrics_->SetRestoreRemaining(static_cast<double>(Remaining(*next, target)));
  while (!pending.empty()) {
    const ReadEvent e = reader->Read(200);
    // The clocks are read once per 256 records (they cost 2-3 % of a
    // restore) or at anything but a record: a record is progress, and the
    // checks below need no finer grain than that.
    const bool tick = (++since_tick & 255u) == 0 || e.kind != ReadEvent::Kind::kRecord;
    switch (e.kind) {
      case ReadEvent::Kind::kRecord:
        Decode(e, topic, changelog, &last_);
        (*next)[e.partition] = e.offset + 1;
        if (target.count(e.partition) != 0 && (*next)[e.partition] >= target.at(e.partition)) {
          pending.erase(e.partition);
        }
        moved = true;
        break;
      case ReadEvent::Kind::kEnd:
        // The end offset is the partition's end for a read_committed reader
        // (its last stable offset), past any trailing transaction marker.
        (*next)[e.partition] = std::max((*next)[e.partition], e.offset);
        if (target.count(e.partition) != 0 && (*next)[e.partition] >= target.at(e.partition)) {
          pending.erase(e.partition);
        }
        moved = true;
        break;
      case ReadEvent::Kind::kNothing: break;
      case ReadEvent::Kind::kError:
        metrics_->CountKafkaError("state_read");
        if (transport_errors++ < 5) {
          log::Warn("state read error (retrying)", {{"topic", topic}, {"error", e.error}});
        }
        break;
    }
    if (pending_.size() >= options_.chunk_records || pending_bytes_ >= options_.chunk_bytes) {
      if (!Apply(changelog, topic, *next, &last_, error)) return false;
      sync_metrics_->SetRestoreRemaining(static_cast<double>(Remaining(*next, target)));
    }
    if (!tick) continue;
    // cancelled() is also the liveness beat (two clock reads): per tick too.
    if (options_.cancelled && options_.cancelled()) {
      *error = "interrupted";
      return false;
    }
    const TimePoint now = clock_->Now();
    if (moved) {
      progress = now;
      moved = false;
    }
    if (now - progress > options_.stable_timeout) {
      *error = "reading '" + topic + "' made no progress for " +
               std::to_string(options_.stable_timeout.count()) + " ms";
      return false;
    }
    if (now - last_log > std::chrono::seconds(5)) {
      last_log = now;
      sync_metrics_->SetRestoreRemaining(static_cast<double>(Remaining(*next, target)));
      log::Info("restoring state", {{"topic", topic},
                                    {"records", std::to_string(last_.records)},
                                    {"remaining", std::to_string(Remaining(*next, target))}});
    }
  }
  if (!Apply(changelog, topic, *next, &last_, error)) return false;
  sync_metrics_->SetRestoreRemaining(0);
  return true;
}

kafka::Status StateSync::Bootstrap() {
  std::string error;
  last_ = SyncStats{};
  auto started = clock_->Now();
  const std::string& topic = options_.fingerprints_topic;
  auto parts = edge_->Partitions(topic, options_.stable_timeout);
  if (!parts.ok()) {
    return Failed(parts.error());
  }
  // The fingerprints topic is written by every instance all the time, so its
  // last stable offset rarely equals its high watermark: read up to the last
  // stable offset seen now. A commit whose markers are still on their way is
  // picked up by Tail() shortly after; that only delays near-duplicate
  // matches across partitions, which are not ordered anyway (delivery.md).
  auto marks = edge_->Watermarks(topic, Isolation::kCommitted, options_.stable_timeout);
  if (!marks.ok()) {
    return Failed(marks.error());
  }
  // From the start: other instances' documents are held in memory only, so
  // each start rebuilds them from the whole (compacted) topic. A log start
  // offset past 0 (compaction) makes the reader reset to the earliest.
  tail_next_.clear();
  for (int32_t p : parts.value()) tail_next_[p] = 0;
  std::map<int32_t, int64_t> target;
  int64_t in_log = 0;
  for (const auto& w : marks.value()) {
    target[w.partition] = w.high;
    in_log += std::max<int64_t>(0, w.high - w.low);
  }
  // About as many documents as records in the log (fewer: compaction has not
  // removed every superseded record yet, and transaction markers count).
  detector_->Reserve(detector_->IndexedDocuments() + static_cast<size_t>(in_log));
  auto reader = edge_->OpenReader(topic, tail_next_);
  if (!reader.ok()) {
    return Failed(reader.error());
  }
  tail_ = std::move(reader).value();
  log::Info("reading fingerprints", {{"topic", topic},
                                     {"partitions", std::to_string(parts.value().size())},
                                     {"remaining", std::to_string(Remaining(tail_next_, target))}});
  if (!ReadUntil(tail_.get(), topic, false, &tail_next_, target, &error)) return Failed(error);
  last_.seconds = Since(started);
  log::Info("fingerprints read", {{"topic", topic},
                                  {"records", std::to_string(last_.records)},
                                  {"applied", std::to_string(last_.applied)},
                                  {"skipped", std::to_string(last_.skipped)},
                                  {"corrupt", std::to_string(last_.corrupt)},
                                  {"seconds", std::to_string(last_.seconds)}});
  return {};
}

kafka::Status StateSync::RestorePartitions(const std::vector<int32_t>& partitions) {
  std::string error;
  last_ = SyncStats{};
  if (partitions.empty()) return {};
  auto started = clock_->Now();
  const std::string& topic = options_.changelog_topic;
  const auto deadline = started + options_.stable_timeout;

  // Wait until no transaction is open on these partitions. Only the
  // partition's previous owner writes there: its last transaction is
  // committed (markers possibly still on their way), aborted, or open in a
  // process that died or froze, which the coordinator aborts after
  // transaction.timeout.ms (or a restart with the same transactional.id
  // aborts at once).
  std::map<int32_t, int64_t> target;
  bool logged_wait = false;
  while (true) {
    if (options_.cancelled && options_.cancelled()) {
      return Failed("interrupted");
    }
    // Each query waits at most 10 s (the loop retries until the deadline):
    // between two, cancelled() is a sign of liveness while the broker is away.
    const auto query_timeout =
        std::chrono::milliseconds(std::min(RemainingMs(clock_->Now(), deadline), 10000));
    auto lso = edge_->Watermarks(topic, Isolation::kCommitted, query_timeout);
    auto hw = edge_->Watermarks(topic, Isolation::kUncommitted, query_timeout);
    std::string open;
    if (lso.ok() && hw.ok()) {
      target.clear();
      for (int32_t p : partitions) {
        int64_t stable = -1;
        int64_t high = -1;
        for (const auto& w : lso.value()) {
          if (w.partition == p) stable = w.high;
        }
        for (const auto& w : hw.value()) {
          if (w.partition == p) high = w.high;
        }
        if (stable < 0 || high < 0) {
          return Failed("changelog '" + topic + "' has no partition " + std::to_string(p) +
                        " (it must have as many partitions as the input)");
        }
        if (stable != high) {
          open += " [" + std::to_string(p) + "] stable " + std::to_string(stable) + " < end " +
                  std::to_string(high);
        }
        target[p] = high;
      }
      if (open.empty()) break;
    } else {
      open = lso.ok() ? hw.error() : lso.error();
    }
    if (clock_->Now() >= deadline) {
      return Failed("changelog '" + topic + "' did not become stable within " +
                    std::to_string(options_.stable_timeout.count()) + " ms:" + open);
    }
    if (!logged_wait) {
      logged_wait = true;
      log::Info("waiting for an open transaction on the changelog to end", {{"detail", open}});
    }
    clock_->SleepFor(std::chrono::milliseconds(100));
  }

  std::map<int32_t, int64_t> next = StoredOffsets(partitions, true);
  for (auto& [p, offset] : next) {
    if (offset > target[p]) {
      log::Warn("stored changelog offset is past the partition's end; restoring it from the start",
                {{"partition", std::to_string(p)},
                 {"stored", std::to_string(offset)},
                 {"end", std::to_string(target[p])}});
      offset = 0;
    }
  }
  const int64_t remaining = Remaining(next, target);
  if (remaining > 0) {
    Offsets from;
    for (const auto& [p, offset] : next) {
      if (offset < target[p]) from[p] = offset;
    }
    auto reader = edge_->OpenReader(topic, from);
    if (!reader.ok()) {
      return Failed(reader.error());
    }
    log::Info("restoring state", {{"topic", topic},
                                  {"partitions", std::to_string(from.size())},
                                  {"remaining", std::to_string(remaining)}});
    if (!ReadUntil(reader.value().get(), topic, true, &next, target, &error)) return Failed(error);
  }
  last_.seconds = Since(started);
  std::string list;
  for (int32_t p : partitions) list += (list.empty() ? "" : ",") + std::to_string(p);
  log::Info("state restored", {{"partitions", list},
                               {"records", std::to_string(last_.records)},
                               {"applied", std::to_string(last_.applied)},
                               {"corrupt", std::to_string(last_.corrupt)},
                               {"seconds", std::to_string(last_.seconds)}});
  return {};
}

kafka::Status StateSync::Tail(size_t max_records) {
  std::string error;
  if (!tail_) return {};
  const TimePoint now = clock_->Now();
  if (now - last_tail_ < options_.tail_interval) return {};
  last_tail_ = now;
  size_t read = 0;
  bool more = true;
  while (more && read < max_records) {
    const ReadEvent e = tail_->Read(0);
    switch (e.kind) {
      case ReadEvent::Kind::kRecord:
        Decode(e, options_.fingerprints_topic, false, &tailed_);
        tail_next_[e.partition] = e.offset + 1;
        ++read;
        if (pending_.size() >= options_.chunk_records || pending_bytes_ >= options_.chunk_bytes) {
          if (!Apply(false, options_.fingerprints_topic, tail_next_, &tailed_, &error))
            return Failed(error);
        }
        break;
      case ReadEvent::Kind::kEnd:
        tail_next_[e.partition] = std::max(tail_next_[e.partition], e.offset);
        break;
      case ReadEvent::Kind::kError:
        metrics_->CountKafkaError("state_read");
        more = false;
        break;
      case ReadEvent::Kind::kNothing: more = false; break;
    }
  }
  if (read == 0) return {};
  if (!Apply(false, options_.fingerprints_topic, tail_next_, &tailed_, &error))
    return Failed(error);
  return {};
}

}  // namespace dedupd::sync
