// The per-message loop of `dedupd run` (loop/loop.h). Moved out of
// app/run.cc (session 9) with its state machine unchanged; what reached
// librdkafka directly now goes through loop::InputEdge.
#include "loop/loop.h"

#include <filesystem>
#include <thread>

#include "common/log.h"
#include "delivery/restore.h"
#include "state/url_state.h"
#include "sync/state_sync.h"

namespace dedupd::loop {
namespace {

using app::OutputTopic;
using app::PipelineResult;
using app::Workers;
using delivery::RecordKind;

RecordKind KindOf(OutputTopic topic) {
  switch (topic) {
    case OutputTopic::kEvents: return RecordKind::kEvent;
    case OutputTopic::kDiffs: return RecordKind::kDiff;
    case OutputTopic::kDlq: return RecordKind::kDeadLetter;
  }
  return RecordKind::kEvent;
}

}  // namespace

LoopOptions LoopOptionsFrom(const config::Settings& cfg, const app::PipelineOptions& pipeline) {
  LoopOptions lo;
  lo.exactly_once = cfg.processing.mode == config::ProcessingMode::kExactlyOnce;
  lo.input_topic = cfg.topics.input;
  lo.state_topic = cfg.topics.state;
  lo.fingerprints_topic = cfg.topics.fingerprints;
  lo.outputs = {{OutputTopic::kEvents, cfg.topics.events},
                {OutputTopic::kDiffs, cfg.topics.diffs},
                {OutputTopic::kDlq, cfg.topics.dlq}};
  lo.fingerprint_full = cfg.state.fingerprint_format == config::FingerprintFormat::kFull;
  lo.batch_size = cfg.processing.batch_size;
  lo.commit_messages = cfg.processing.commit_messages;
  lo.commit_interval = cfg.processing.commit_interval;
  lo.threads = app::WorkerThreads(cfg.processing.threads);
  lo.restore_timeout = cfg.state.restore_timeout;
  lo.batch.call_timeout_ms = kKafkaCallTimeoutMs;
  lo.batch.format = pipeline.format;
  lo.batch.dlq_max_original_bytes = pipeline.dlq_max_original_bytes;
  return lo;
}

kafka::Status Bootstrap(sync::StateSync& sync, delivery::StoreGuard& guard,
                        delivery::StoreEdge& store, const std::function<bool()>& cancelled) {
  while (true) {
    const kafka::Status read =
        guard.Wait(delivery::Clock::TimePoint::max())
            ? sync.Bootstrap()
            : kafka::Status(RdKafka::ERR__FAIL, "the state store takes no writes");
    if (read.ok()) return read;
    if (cancelled()) return kafka::Status(RdKafka::ERR__FAIL, "interrupted");
    if (auto why = store.LastError()) {
      guard.ChunkFailed(*why);
      continue;
    }
    return read;
  }
}

Loop::Loop(LoopOptions options, LoopParts parts, LoopHooks hooks)
    : options_(std::move(options)), parts_(parts), hooks_(std::move(hooks)) {
  delivery::BatchOptions bo = options_.batch;
  bo.exactly_once = options_.exactly_once;
  bo.dlq_topic = options_.outputs.at(OutputTopic::kDlq);
  delivery::BatchHooks bh;
  bh.beat = [this](const char* what) { Beat(what); };
  bh.cancelled = hooks_.cancelled;
  bh.roll_back = [this] {
    parts_.detector->Rollback();
    pending_alerts_.clear();
  };
  batch_ = std::make_unique<delivery::Batch>(std::move(bo), parts_.producer, parts_.consumer,
                                             parts_.clock, parts_.metrics, parts_.delivery_metrics,
                                             std::move(bh));
  delivery::Health* health = parts_.health;
  delivery::ClientEvents* events = parts_.events;
  delivery::RebalanceHooks rh;
  rh.beat = [this](const char* what) { Beat(what); };
  rh.cancelled = hooks_.cancelled;
  rh.brokers_unavailable = [events] { return events->brokers().Unavailable(); };
  rh.commit = [this] { return CommitBatch(); };
  rh.restoring = [health](bool restoring) {
    health->restoring = restoring;
    if (restoring) health->PublishNotReady();
  };
  if (parts_.replay != nullptr) {
    // Partitions the replay's group has no committed offset for start where
    // the replay planned; committed ones continue (an interrupted replay resumes).
    rh.start_offsets = [this](delivery::Offsets& offsets) {
      for (auto& [partition, offset] : offsets) {
        offset = parts_.replay->StartOffset(partition, offset);
      }
    };
  }
  rh.restore = [this](const std::vector<int32_t>& ids, delivery::Clock::TimePoint deadline) {
    return RestoreAssigned(ids, deadline);
  };
  rh.assigned = [this, events, health](const std::vector<int32_t>& ids) {
    for (int32_t id : ids) events->SetOwned(id, true);
    hooks_.assigned(ids);
    parts_.delivery_metrics->SetAssignedPartitions(static_cast<double>(events->owned().size()));
    health->restoring = false;
    health->joined = true;
    health->Publish();
  };
  rh.given_up = [this](const std::set<int32_t>& partitions) { GiveUp(partitions); };
  rh.owned = [events] { return events->owned(); };
  rh.loop_fatal = [this] { return fatal_; };
  rh.client_fatal = [events] { return events->fatal(); };
  rh.finish_read_ahead = [this](bool drop) { FinishReadAhead(drop); };
  rh.recover_producer = [this] { return RecoverProducer(); };
  rh.recovering_consumer = [this] { return recovering_consumer_; };
  rebalance_ = std::make_unique<delivery::Rebalance>(batch_.get(), parts_.clock, parts_.metrics,
                                                     parts_.delivery_metrics,
                                                     options_.restore_timeout, std::move(rh));
  delivery::RecoveryHooks rec;
  rec.beat = [this](const char* what) { Beat(what); };
  rec.destroy_producer = hooks_.destroy_producer;
  rec.create_producer = [this](std::string* e) {
    return hooks_.create_producer(batch_->tracker(), e);
  };
  rec.producer_ready = [health](bool ready) { health->producer_ready = ready; };
  rec.give_up_all = [this, events] { GiveUp(events->owned()); };
  rec.resync.beat = rec.beat;
  rec.resync.cancelled = hooks_.cancelled;
  rec.resync.restoring = [health](bool restoring) { health->restoring = restoring; };
  rec.resync.restore = hooks_.restore;
  recovery_ = std::make_unique<delivery::Recovery>(
      batch_.get(), parts_.producer, parts_.consumer, parts_.clock,
      delivery::RecoveryOptions{options_.exactly_once, options_.batch.call_timeout_ms},
      std::move(rec));
  // With two worker threads or more, each reads its page's previous state
  // and diffs it (Detector::PrefetchPrevious): off this thread, which
  // decides in order. Not with one worker: on 2 cores it cost ~6-10% more
  // CPU without a rate this thread gained (docs/delivery.md, "Prefetch of
  // the previous state, session 10"). Set before the workers start.
  parts_.detector->PrefetchPrevious(options_.threads > 2);
  // Outputs and state records are encoded by the workers (EncodeOutputs),
  // the store takes the state records from there (AdoptRecord).
  workers_ = std::make_unique<Workers>(parts_.pipeline, options_.threads, 0,
                                       [this](Workers::Slot& slot) { EncodeOutputs(slot); });
  parts_.store->DeferEncoding();
}

Loop::~Loop() {
  DropReadAhead();
}

// The steps and their order: delivery/rebalance.h.
void Loop::OnRebalance(delivery::RebalanceEdge& edge, delivery::RebalanceEvent event,
                       const std::vector<int32_t>& partitions) {
  if (rebalance_->Callback(edge, event, partitions) == delivery::RebalanceOutcome::kFatal) {
    fatal_ = true;
  }
}

// The assigned partitions' state from the changelog (Rebalance::Assigned),
// waiting for space on a full volume (delivery/restore.h).
delivery::RebalanceOutcome Loop::RestoreAssigned(const std::vector<int32_t>& ids,
                                                 delivery::Clock::TimePoint deadline) {
  delivery::RestoreHooks hooks;
  hooks.beat = [this](const char* what) { Beat(what); };
  hooks.cancelled = hooks_.cancelled;
  hooks.brokers_unavailable = [this] { return parts_.events->brokers().Unavailable(); };
  hooks.restore = hooks_.restore;
  hooks.store_error = [this] { return parts_.store_edge->LastError(); };
  const delivery::RebalanceOutcome outcome =
      delivery::RestoreAssigned(ids, deadline, *parts_.store_guard, *parts_.clock, hooks);
  if (outcome == delivery::RebalanceOutcome::kDone) {
    parts_.metrics->SetIndexDocuments(static_cast<double>(parts_.detector->IndexedDocuments()));
  }
  return outcome;
}

// Partitions this instance no longer owns: their HTTP routing and their lag
// series are their next owner's to report.
void Loop::GiveUp(const std::set<int32_t>& partitions) {
  hooks_.given_up(std::vector<int32_t>(partitions.begin(), partitions.end()));
  for (int32_t id : partitions) {
    parts_.events->SetOwned(id, false);
    parts_.delivery_metrics->RemoveConsumerLag(options_.input_topic, id);
  }
  parts_.delivery_metrics->SetAssignedPartitions(
      static_cast<double>(parts_.events->owned().size()));
}

// Fault injection for the liveness e2e test (tests/e2e/liveness_test.cc):
// while the file exists, the loop blocks here without any sign of progress,
// as a loop hung inside a call would. Unset (production) it is never armed.
void Loop::FreezeWhileFileExists() const {
  const std::string& path = options_.freeze_file;
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return;
  log::Warn("fault injection: the processing loop is frozen while the file exists",
            {{"file", path}});
  while (std::filesystem::exists(path, ec) && !hooks_.cancelled()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::Warn("fault injection: the processing loop goes on", {{"file", path}});
}

// A lost producer is re-created in-process (delivery/recovery.h).
bool Loop::RecoverProducer() {
  if (!recovery_->ProducerRecoverable(fatal_, parts_.events->fatal())) return false;
  if (!recovery_->RecoverProducer()) return false;
  fatal_ = false;
  parts_.events->ClearFatal();
  parts_.metrics->SetIndexDocuments(static_cast<double>(parts_.detector->IndexedDocuments()));
  parts_.health->Publish();
  return true;
}

// A consumer that raised a fatal error takes no part in the group any more,
// and librdkafka 2.0.2 never recovers it (a static member fenced after a
// broker restart or a coordinator move): what a restart would do, in-process
// (delivery/recovery.h), then a new consumer with the same configuration;
// the group gives the partitions back through the rebalance callback.
bool Loop::RecoverConsumer(const std::string& reason) {
  log::Warn(
      "the consumer failed for good: re-creating it (same group.instance.id) instead of "
      "exiting",
      {{"error", reason}});
  Beat("re-creating the consumer");
  parts_.delivery_metrics->CountRebalance("lost");
  parts_.health->joined = false;
  parts_.health->PublishNotReady();
  if (recovery_->ConsumerLost(fatal_) == CommitResult::kFatal) fatal_ = true;
  recovering_consumer_ = true;
  parts_.input->Close();
  recovering_consumer_ = false;
  if (!batch_->producer_lost() && parts_.producer->FatalError().ok()) {
    parts_.events->ClearFatal();  // the consumer's fatal error event: dealt with here
  }
  if (hooks_.cancelled()) return false;
  if (kafka::Status opened = parts_.input->Open(); !opened.ok()) {
    log::Error("cannot re-create the consumer", {{"error", opened.detail()}});
    return false;
  }
  log::Info("consumer re-created; partitions come back through the group");
  return true;
}

Loop::Step Loop::FinishNext(std::string* why) {
  // In input order: a message is decided once prepared, its outputs are
  // encoded by a worker, then produced here. Producing the oldest comes
  // first (it frees its slot for the next message); while it is not
  // encoded, the messages after it are decided, so that the workers encode
  // theirs meanwhile; with nothing to do in order, this thread prepares or
  // encodes one itself, or sleeps until a worker has.
  while (true) {
    if (workers_->DecidedAhead() > 0) {
      if (Workers::Slot* slot = workers_->Producible()) return ProduceOldest(*slot, why);
    }
    if (workers_->Undecided() > 0) {
      if (Workers::Slot* slot = workers_->Decidable()) {
        if (!DecideNext(*slot)) return Step::kFatal;
        continue;
      }
    }
    workers_->Help();
  }
}

bool Loop::DecideNext(Workers::Slot& slot) {
  ReadAhead& ahead = read_ahead_[workers_->DecidedAhead()];
  if (batch_->uncommitted() == 0 && !batch_->Begin()) {
    fatal_ = true;
    return false;
  }
  const InputMessage& msg = ahead.msg;
  const int32_t partition = msg.partition;
  const int64_t offset = msg.offset;
  // Added in input order, at its decision: an abort from here on undoes
  // the state it staged even when its outputs were never produced.
  ahead.input = batch_->AddInput(partition, offset, msg.has_timestamp ? msg.timestamp : 0);
  ahead.rejected = batch_->rejections().FindCertain(partition, offset) != nullptr;
  if (ahead.rejected) {
    // Kafka refused one of its outputs before the abort: dead-lettered
    // when produced (ProduceOldest), not decided.
    workers_->Decided(/*encode=*/false);
    return true;
  }
  PipelineResult& result = slot.result;
  parts_.pipeline->Finish(slot.message, &slot.prepared, /*out=*/nullptr, &result);
  if (parts_.replay != nullptr) parts_.replay->Count(result);
  const std::string_view key = slot.message.key;
  if (result.kind != PipelineResult::Kind::kDeadLetter && key != result.page.canonical_url) {
    parts_.metrics->CountUnkeyedInput();
    if (unkeyed_logged_++ % 10000 == 0) {
      log::Warn(
          "input message not keyed by its canonical URL (counted in "
          "dedupd_unkeyed_input_total; see docs/delivery.md)",
          {{"key", std::string(key.substr(0, 200))}, {"canonical_url", result.page.canonical_url}});
    }
  }
  workers_->Decided();
  return true;
}

void Loop::EncodeOutputs(Workers::Slot& slot) const {
  slot.records.clear();
  const PipelineResult& result = slot.result;
  parts_.pipeline->EncodeOutputs(slot.message, result, &slot.records);
  if (result.outcome.stored) {
    // The state once (the store adopts these bytes: a state is compressed
    // once for the store and the changelog), and the fingerprint record,
    // with no text: every instance reads it (docs/design.md, "The state
    // record"); the text stays in the owner's changelog.
    const state::UrlState& stored = *result.outcome.stored;
    slot.state_record = state::EncodeUrlState(stored);
    slot.fingerprint_record = options_.fingerprint_full
                                  ? state::EncodeUrlState(stored, state::HistoryPart::kLatest)
                                  : state::EncodeFingerprintRecord(stored);
  }
}

Loop::Step Loop::ProduceOldest(Workers::Slot& slot, std::string* why) {
  const ReadAhead ahead = std::move(read_ahead_.front());
  read_ahead_.pop_front();
  // The slot goes back to the workers on every return, before `ahead.msg`
  // (whose bytes its message views) is destroyed.
  struct PopAtEnd {
    Workers* workers;
    ~PopAtEnd() { workers->PopFront(); }
  } pop_at_end{workers_.get()};
  const int32_t partition = ahead.msg.partition;
  const int64_t offset = ahead.msg.offset;
  if (ahead.rejected) {
    auto* rejected = batch_->rejections().FindCertain(partition, offset);
    if (rejected == nullptr ||
        !batch_
             ->DeadLetterRejected(*rejected, slot.message.value, slot.message.key,
                                  slot.message.source, ahead.input)
             .ok()) {
      return Step::kFailed;
    }
  } else {
    PipelineResult& result = slot.result;
    // Everything this input writes: its output records, and the state it
    // wrote, to the changelog partition of its input partition (the
    // restore of partition p reads changelog partition p) and to the
    // fingerprints topic every instance reads.
    std::vector<delivery::Outgoing> out;
    for (const auto& r : slot.records) {
      out.push_back({&options_.outputs.at(r.topic), delivery::kAnyPartition, &r.key, &r.value,
                     KindOf(r.topic)});
    }
    if (result.outcome.stored) {
      const std::string& url = result.outcome.stored->canonical_url;
      hooks_.stored(url, partition);
      out.push_back(
          {&options_.state_topic, partition, &url, &slot.state_record, RecordKind::kChangelog});
      out.push_back({&options_.fingerprints_topic, delivery::kAnyPartition, &url,
                     &slot.fingerprint_record, RecordKind::kFingerprint});
    }
    // All of them or none: a record produce() would refuse is found before
    // any of them is produced. The Detector has staged this page's state
    // with the batch's, so the batch is aborted (which undoes it) and the
    // retry dead-letters this input.
    if (auto produced = batch_->ProduceInput(out, ahead.input, partition, offset); !produced.ok()) {
      if (!produced.detail().empty()) *why = produced.detail();  // over message.max.bytes
      return Step::kFailed;
    }
    if (result.outcome.stored) {
      // In input order, as the Detector staged them (StateStore::AdoptRecord).
      parts_.store->AdoptRecord(result.outcome.stored->canonical_url, std::move(slot.state_record));
    }
    if (hooks_.alert && result.kind == PipelineResult::Kind::kEvent && result.diff &&
        result.outcome.verdict == Verdict::kRevised) {
      pending_alerts_.emplace_back(std::move(result.event), std::move(*result.diff));
    }
  }
  // While some input messages are suspected of records the broker refused
  // together with others' records, every input commits alone: a refusal
  // then names its culprit.
  return batch_->CommitEachInput() ? Step::kCommitNow : Step::kDone;
}

void Loop::FinishReadAhead(bool drop) {
  if (read_ahead_.empty()) return;
  std::string why = "produce failed";
  while (!read_ahead_.empty() && !drop && !fatal_) {
    if (FinishNext(&why) == Step::kFailed) {
      DropReadAhead();
      if (!fatal_ && AbortBatch(why, true) == CommitResult::kFatal) fatal_ = true;
      return;
    }
  }
  DropReadAhead();
}

void Loop::DropReadAhead() {
  if (workers_) workers_->Clear();  // first: the workers may still read the messages' bytes
  read_ahead_.clear();
}

Loop::CommitResult Loop::AbortBatch(const std::string& why, bool rewind) {
  return batch_->Abort(why, rewind ? delivery::Rewind::kYes : delivery::Rewind::kNo);
}

Loop::CommitResult Loop::CommitBatch() {
  const delivery::Offsets positions = parts_.consumer->Positions();
  if (options_.exactly_once) {
    if (!batch_->in_transaction()) return CommitResult::kCommitted;
    // A batch the store could not take is not committed to Kafka either: its
    // offsets would pass what the store holds (docs/delivery.md, "Full disk").
    if (auto full = parts_.store_edge->CheckWritable()) {
      parts_.store_guard->Note(full, false);
      return AbortBatch("the state store takes no writes: " + full->message, true);
    }
  }
  if (const CommitResult result = batch_->Commit(positions); result != CommitResult::kCommitted) {
    return result;
  }
  batch_->ObserveCommitLatency(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
  // The Kafka side is committed; now the cache. A crash before this line
  // leaves the store behind the changelog, which the next restore replays.
  parts_.producer->Poll(0);  // serve the last delivery reports (changelog offsets)
  std::map<std::string, std::string> meta = sync::StateSync::CommittedMetadata(
      options_.input_topic, positions, options_.state_topic, batch_->Reached());
  std::string error;
  if (!parts_.detector->Commit(meta, &error)) {
    // Kafka has the batch, the changelog included; the store is its cache.
    // The write stays staged and is retried before anything else is written
    // and before any new batch (docs/delivery.md, "Full disk"). A crash
    // meanwhile loses nothing: the restore replays the changelog.
    parts_.store_guard->CommitFailed(std::move(meta), parts_.store_edge->LastError(), error);
  }
  if (hooks_.alert) {
    for (const auto& [event, diff] : pending_alerts_) hooks_.alert(event, diff);
  }
  pending_alerts_.clear();
  batch_->Finish(positions);
  parts_.metrics->SetIndexDocuments(static_cast<double>(parts_.detector->IndexedDocuments()));
  parts_.metrics->SetStateBytes(static_cast<double>(parts_.store->ApproximateBytes()));
  return CommitResult::kCommitted;
}

void Loop::TailFingerprints() {
  if (batch_->open() || parts_.detector->HasStaged()) return;
  if (parts_.store_guard->unstored() || !parts_.store_guard->writable()) return;  // the store first
  if (kafka::Status tailed = hooks_.tail(20000); !tailed.ok()) {
    if (auto why = parts_.store_edge->LastError()) {
      // The chunk stays staged and is written first (StoreGuard::Ready).
      parts_.store_guard->ChunkFailed(*why);
      return;
    }
    log::Error("applying fingerprint records failed", {{"error", tailed.detail()}});
    fatal_ = true;
  }
}

int Loop::Run() {
  parts_.delivery_metrics->SetReady(parts_.health->Ready());
  while (!hooks_.cancelled() && Turn()) {
  }
  return Stop();
}

bool Loop::Turn() {
  // A fenced consumer and a lost producer are re-created in-process; any
  // other fatal error exits.
  if (auto reason = parts_.input->Failure(); reason && !RecoverConsumer(*reason)) return false;
  if ((fatal_ || parts_.events->fatal()) && !RecoverProducer()) return false;
  FreezeWhileFileExists();
  Beat("consume");
  // `dedupd replay` (replay/replay.h): done once the committed offsets reach the ends.
  if (parts_.replay != nullptr &&
      parts_.replay->Finished(*parts_.consumer, batch_->open(), parts_.replay_metrics)) {
    return false;
  }
  // A store that takes no writes: no new batch (docs/delivery.md, "Full disk").
  if (batch_->uncommitted() == 0 && !parts_.store_guard->Ready()) {
    if (!parts_.store_guard->HoldInput(*parts_.consumer)) fatal_ = true;
    return true;
  }
  bool failed = false;
  std::string why = "produce failed";  // when failed
  bool commit_now = false;
  // Up to batch_size messages this turn: consumed ahead into the workers,
  // which parse and prepare them, and finished here in input order
  // (docs/delivery.md, "Workers").
  size_t consumed = 0;
  bool input_done = false;
  while (!failed && !commit_now) {
    // While some input messages are suspected of records the broker
    // refused together with others' records, every input commits alone:
    // none is read ahead.
    const size_t ahead = batch_->CommitEachInput() ? 1 : workers_->capacity();
    while (!input_done && consumed < options_.batch_size && read_ahead_.size() < ahead &&
           !hooks_.cancelled() && !fatal_) {
      // (Consume() may run the rebalance callback, which finishes or drops
      // what is read ahead: FinishReadAhead.)
      auto next = parts_.input->Consume(consumed == 0 ? 100 : 0);
      if (!next.ok()) {
        parts_.metrics->CountKafkaError("consume");
        log::Warn("consume error", {{"error", next.error()}});
        // ERR__FATAL: the consumer is done for; the next turn re-creates it.
        input_done = true;
        break;
      }
      if (!next.value()) {
        input_done = true;  // a timeout or a partition's end
        break;
      }
      InputMessage& msg = *next.value();
      ++consumed;
      if (parts_.replay != nullptr && parts_.replay->PastEnd(msg.partition, msg.offset)) continue;
      // An abort rewinds to it (Rewind) even before it is finished.
      batch_->NoteConsumed(msg.partition, msg.offset);
      Workers::Slot& slot = workers_->Acquire();
      slot.message.value = msg.value;
      slot.message.key = msg.key;
      slot.message.source = {options_.input_topic, msg.partition, msg.offset, msg.timestamp};
      workers_->Submit();
      read_ahead_.push_back({std::move(msg)});
    }
    if (read_ahead_.empty() || fatal_) break;
    switch (FinishNext(&why)) {
      case Step::kDone: break;
      case Step::kFailed: failed = true; break;
      case Step::kFatal: break;  // the loop stops on fatal_
      case Step::kCommitNow: commit_now = read_ahead_.empty(); break;
    }
  }
  if (!read_ahead_.empty()) {
    // Left unfinished (a failure, or a fatal error): the abort's rewind
    // takes the consumer back to them (the batch's first offsets have
    // them); with nothing uncommitted after a fatal error, RecoverProducer's
    // resync.
    DropReadAhead();
    if (!fatal_ || batch_->uncommitted() > 0) failed = true;
  }
  if (failed) {
    // A record that did not go out must not be committed without it.
    if (AbortBatch(why, true) == CommitResult::kFatal) fatal_ = true;
    return true;
  }
  parts_.producer->Poll(0);
  parts_.delivery_metrics->SetReady(parts_.health->Ready());
  if (batch_->uncommitted() > 0 &&
      (commit_now || batch_->Due(options_.commit_messages, options_.commit_interval))) {
    if (CommitBatch() == CommitResult::kFatal) fatal_ = true;
  }
  if (!fatal_) TailFingerprints();
  return true;
}

int Loop::Stop() {
  {
    // Where the jobs ran (docs/delivery.md, "Workers").
    const Workers::Stats work = workers_->stats();
    log::Info("detection workers done",
              {{"threads", std::to_string(workers_->threads())},
               {"prepared_here", std::to_string(work.prepared_here)},
               {"prepared_by_workers", std::to_string(work.prepared_by_workers)},
               {"encoded_here", std::to_string(work.encoded_here)},
               {"encoded_by_workers", std::to_string(work.encoded_by_workers)},
               {"waits", std::to_string(work.waits)},
               {"wait_seconds", std::to_string(work.wait_seconds)},
               {"wakeups", std::to_string(work.wakeups)}});
    const classify::Detector::PrefetchStats prefetch = parts_.detector->Prefetch();
    log::Info("previous states prefetched", {{"hits", std::to_string(prefetch.hits)},
                                             {"misses", std::to_string(prefetch.misses)},
                                             {"diffs", std::to_string(prefetch.diffs)}});
  }
  // Shutdown: finish the batch and commit (the caller then closes the
  // consumer and flushes the producer).
  int code = 0;
  if (fatal_ || parts_.events->fatal()) {
    log::Error("fatal error: exiting for the supervisor to restart");
    fatal_ = true;  // the rebalance callback of close() must not touch the producer
    code = 1;
  } else if (batch_->uncommitted() > 0 && CommitBatch() != CommitResult::kCommitted) {
    code = 1;
  }
  if (parts_.store_guard->unstored() && !parts_.store_guard->Ready()) {
    log::Warn("exiting with the state store behind Kafka: the next start's restore replays it",
              {{"error", parts_.store_guard->why()}});
  }
  return code;
}

}  // namespace dedupd::loop
