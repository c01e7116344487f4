#include "app/state_sync.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <thread>

#include "common/log.h"
#include "kafka/admin.h"
#include "state/url_state.h"

namespace dedupd::app {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

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

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 1, 60000));
}

}  // namespace

StateSync::StateSync(StateSyncOptions options, classify::Detector* detector,
                     state::StateStore* store, metrics::Metrics* metrics)
    : options_(std::move(options)), detector_(detector), store_(store), metrics_(metrics) {}

StateSync::~StateSync() = default;

std::string StateSync::ChangelogKey(const std::string& topic, int32_t partition) {
  return "changelog/" + topic + "/" + std::to_string(partition);
}

std::string StateSync::FingerprintsKey(const std::string& topic, int32_t partition) {
  return "fingerprints/" + topic + "/" + std::to_string(partition);
}

kafka::KafkaConsumerPtr StateSync::MakeReader(std::string* error) const {
  kafka::Props props = options_.props;
  props["group.id"] = options_.reader_group;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  props["isolation.level"] = "read_committed";
  props["auto.offset.reset"] = "earliest";
  props.erase("transactional.id");
  kafka::ConfPtr conf = kafka::MakeConf(props, error);
  if (!conf) return nullptr;
  std::string errstr;
  if (options_.events != nullptr) conf->set("event_cb", options_.events, errstr);
  kafka::KafkaConsumerPtr reader(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!reader && error != nullptr) *error = "cannot create the state reader: " + errstr;
  return reader;
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

void StateSync::Decode(const RdKafka::Message& message, bool changelog, SyncStats* stats) {
  ++stats->records;
  if (message.payload() == nullptr || message.len() == 0) return;  // a tombstone: nothing to apply
  const std::string_view bytes(static_cast<const char*>(message.payload()), message.len());
  state::UrlState s;
  const std::string_view key(static_cast<const char*>(message.key_pointer()), message.key_len());
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
                {{"topic", message.topic_name()},
                 {"partition", std::to_string(message.partition())},
                 {"offset", std::to_string(message.offset())}});
    }
    metrics_->CountKafkaError("state_record");
    return;
  }
  if (options_.on_changelog_record && message.topic_name() == options_.changelog_topic) {
    options_.on_changelog_record(s.canonical_url, message.partition());
  }
  pending_bytes_ += message.len();
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

bool StateSync::ReadUntil(RdKafka::KafkaConsumer* reader, const std::string& topic, bool changelog,
                          std::map<int32_t, int64_t>* next,
                          const std::map<int32_t, int64_t>& target, std::string* error) {
  std::set<int32_t> pending;
  for (const auto& [p, end] : target) {
    if ((*next)[p] < end) pending.insert(p);
  }
  auto progress = Clock::now();
  auto last_log = Clock::now();
  size_t transport_errors = 0;
  uint32_t since_tick = 0;
  bool moved = false;  // a record or an end of partition since the last tick
  metrics_->SetRestoreRemaining(static_cast<double>(Remaining(*next, target)));
  while (!pending.empty()) {
    kafka::MessagePtr m(reader->consume(200));
    const RdKafka::ErrorCode err = m->err();
    // The clocks are read once per 256 records (they cost 2-3 % of a
    // restore) or at anything but a record: a record is progress, and the
    // checks below need no finer grain than that.
    const bool tick = (++since_tick & 255u) == 0 || err != RdKafka::ERR_NO_ERROR;
    if (err == RdKafka::ERR_NO_ERROR) {
      int32_t p = m->partition();
      Decode(*m, changelog, &last_);
      (*next)[p] = m->offset() + 1;
      if (target.count(p) != 0 && (*next)[p] >= target.at(p)) pending.erase(p);
      moved = true;
    } else if (err == RdKafka::ERR__PARTITION_EOF) {
      // The EOF offset is the partition's end for a read_committed reader
      // (its last stable offset), past any trailing transaction marker.
      int32_t p = m->partition();
      (*next)[p] = std::max((*next)[p], m->offset());
      if (target.count(p) != 0 && (*next)[p] >= target.at(p)) pending.erase(p);
      moved = true;
    } else if (err != RdKafka::ERR__TIMED_OUT) {
      metrics_->CountKafkaError("state_read");
      if (transport_errors++ < 5) {
        log::Warn("state read error (retrying)",
                  {{"topic", topic}, {"error", kafka::DescribeError(err) + " " + m->errstr()}});
      }
    }
    if (pending_.size() >= options_.chunk_records || pending_bytes_ >= options_.chunk_bytes) {
      if (!Apply(changelog, topic, *next, &last_, error)) return false;
      metrics_->SetRestoreRemaining(static_cast<double>(Remaining(*next, target)));
    }
    if (!tick) continue;
    // cancelled() is also the liveness beat (two clock reads): per tick too.
    if (options_.cancelled && options_.cancelled()) {
      *error = "interrupted";
      return false;
    }
    if (moved) {
      progress = Clock::now();
      moved = false;
    }
    if (Clock::now() - progress > options_.stable_timeout) {
      *error = "reading '" + topic + "' made no progress for " +
               std::to_string(options_.stable_timeout.count()) + " ms";
      return false;
    }
    if (Clock::now() - last_log > std::chrono::seconds(5)) {
      last_log = Clock::now();
      metrics_->SetRestoreRemaining(static_cast<double>(Remaining(*next, target)));
      log::Info("restoring state", {{"topic", topic},
                                    {"records", std::to_string(last_.records)},
                                    {"remaining", std::to_string(Remaining(*next, target))}});
    }
  }
  if (!Apply(changelog, topic, *next, &last_, error)) return false;
  metrics_->SetRestoreRemaining(0);
  return true;
}

bool StateSync::Bootstrap(std::string* error) {
  last_ = SyncStats{};
  auto started = Clock::now();
  const std::string& topic = options_.fingerprints_topic;
  auto parts = kafka::ListPartitions(options_.admin_props, topic, options_.stable_timeout);
  if (!parts.ok()) {
    *error = parts.error();
    return false;
  }
  // The fingerprints topic is written by every instance all the time, so its
  // last stable offset rarely equals its high watermark: read up to the last
  // stable offset seen now. A commit whose markers are still on their way is
  // picked up by Tail() shortly after; that only delays near-duplicate
  // matches across partitions, which are not ordered anyway (delivery.md).
  kafka::Props committed = options_.admin_props;
  committed["isolation.level"] = "read_committed";
  auto marks = kafka::HighWatermarks(committed, topic, options_.stable_timeout);
  if (!marks.ok()) {
    *error = marks.error();
    return false;
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
  tail_ = MakeReader(error);
  if (!tail_) return false;
  kafka::TopicPartitionList tpl;
  for (const auto& [p, offset] : tail_next_) tpl.Add(topic, p, offset);
  if (auto err = tail_->assign(tpl.get()); err != RdKafka::ERR_NO_ERROR) {
    *error = "cannot assign the fingerprints reader: " + kafka::DescribeError(err);
    return false;
  }
  log::Info("reading fingerprints", {{"topic", topic},
                                     {"partitions", std::to_string(parts.value().size())},
                                     {"remaining", std::to_string(Remaining(tail_next_, target))}});
  if (!ReadUntil(tail_.get(), topic, false, &tail_next_, target, error)) return false;
  last_.seconds = Since(started);
  log::Info("fingerprints read", {{"topic", topic},
                                  {"records", std::to_string(last_.records)},
                                  {"applied", std::to_string(last_.applied)},
                                  {"skipped", std::to_string(last_.skipped)},
                                  {"corrupt", std::to_string(last_.corrupt)},
                                  {"seconds", std::to_string(last_.seconds)}});
  return true;
}

bool StateSync::RestorePartitions(const std::vector<int32_t>& partitions, std::string* error) {
  last_ = SyncStats{};
  if (partitions.empty()) return true;
  auto started = Clock::now();
  const std::string& topic = options_.changelog_topic;
  const auto deadline = Clock::now() + options_.stable_timeout;
  kafka::Props committed = options_.admin_props;
  committed["isolation.level"] = "read_committed";
  kafka::Props uncommitted = options_.admin_props;
  uncommitted["isolation.level"] = "read_uncommitted";

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
      *error = "interrupted";
      return false;
    }
    // Each query waits at most 10 s (the loop retries until the deadline):
    // between two, cancelled() is a sign of liveness while the broker is away.
    const auto query_timeout = std::chrono::milliseconds(std::min(RemainingMs(deadline), 10000));
    auto lso = kafka::HighWatermarks(committed, topic, query_timeout);
    auto hw = kafka::HighWatermarks(uncommitted, topic, query_timeout);
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
          *error = "changelog '" + topic + "' has no partition " + std::to_string(p) +
                   " (it must have as many partitions as the input)";
          return false;
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
    if (Clock::now() >= deadline) {
      *error = "changelog '" + topic + "' did not become stable within " +
               std::to_string(options_.stable_timeout.count()) + " ms:" + open;
      return false;
    }
    if (!logged_wait) {
      logged_wait = true;
      log::Info("waiting for an open transaction on the changelog to end", {{"detail", open}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
    kafka::KafkaConsumerPtr reader = MakeReader(error);
    if (!reader) return false;
    kafka::TopicPartitionList tpl;
    for (const auto& [p, offset] : next) {
      if (offset < target[p]) tpl.Add(topic, p, offset);
    }
    if (auto err = reader->assign(tpl.get()); err != RdKafka::ERR_NO_ERROR) {
      *error = "cannot assign the changelog reader: " + kafka::DescribeError(err);
      return false;
    }
    log::Info("restoring state", {{"topic", topic},
                                  {"partitions", std::to_string(tpl.size())},
                                  {"remaining", std::to_string(remaining)}});
    if (!ReadUntil(reader.get(), topic, true, &next, target, error)) return false;
  }
  last_.seconds = Since(started);
  std::string list;
  for (int32_t p : partitions) list += (list.empty() ? "" : ",") + std::to_string(p);
  log::Info("state restored", {{"partitions", list},
                               {"records", std::to_string(last_.records)},
                               {"applied", std::to_string(last_.applied)},
                               {"corrupt", std::to_string(last_.corrupt)},
                               {"seconds", std::to_string(last_.seconds)}});
  return true;
}

bool StateSync::Tail(size_t max_records, std::string* error) {
  if (!tail_) return true;
  size_t read = 0;
  while (read < max_records) {
    kafka::MessagePtr m(tail_->consume(0));
    const RdKafka::ErrorCode err = m->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      Decode(*m, false, &tailed_);
      tail_next_[m->partition()] = m->offset() + 1;
      ++read;
      if (pending_.size() >= options_.chunk_records || pending_bytes_ >= options_.chunk_bytes) {
        if (!Apply(false, options_.fingerprints_topic, tail_next_, &tailed_, error)) return false;
      }
    } else if (err == RdKafka::ERR__PARTITION_EOF) {
      tail_next_[m->partition()] = std::max(tail_next_[m->partition()], m->offset());
    } else {
      if (err != RdKafka::ERR__TIMED_OUT) metrics_->CountKafkaError("state_read");
      break;
    }
  }
  if (read == 0) return true;
  return Apply(false, options_.fingerprints_topic, tail_next_, &tailed_, error);
}

}  // namespace dedupd::app
