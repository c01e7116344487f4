#include "pipeline/pipeline.h"

#include <chrono>

#include "common/log.h"

namespace dedupd::app {

Pipeline::Pipeline(PipelineOptions options, classify::Detector* detector, metrics::Metrics* metrics)
    : options_(std::move(options)),
      detector_(detector),
      metrics_(metrics),
      parser_(options_.parse) {}

int64_t Pipeline::NowMs() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PipelineResult Pipeline::Process(const InputMessage& message, std::vector<OutputRecord>* out) {
  PipelineResult r;
  Process(message, out, &r);
  return r;
}

void Pipeline::Process(const InputMessage& message, std::vector<OutputRecord>* out,
                       PipelineResult* result) {
  Prepare(message, &parser_, result, &prepared_);
  Finish(message, &prepared_, out, result);
}

void Pipeline::Prepare(const InputMessage& message, parse::PageParser* parser,
                       PipelineResult* result, classify::PreparedPage* prepared,
                       classify::Speculate speculate) const {
  const auto started = std::chrono::steady_clock::now();
  PipelineResult& r = *result;
  r.kind = PipelineResult::Kind::kEvent;
  r.error.code = parse::ErrorCode::kInvalidJson;
  r.error.detail.clear();
  if (!parser->Parse(message.value, &r.page, &r.error, message.zero_padded)) {
    r.kind = PipelineResult::Kind::kDeadLetter;
  } else if (r.page.status != 0 && (r.page.status < 200 || r.page.status > 299)) {
    r.kind = PipelineResult::Kind::kSkipped;
  } else {
    detector_->Prepare(r.page, prepared, speculate);
  }
  r.prepare_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

void Pipeline::Finish(const InputMessage& message, classify::PreparedPage* prepared,
                      std::vector<OutputRecord>* out, PipelineResult* result) {
  auto started = std::chrono::steady_clock::now();
  PipelineResult& r = *result;
  detector_->Recycle(std::move(r.outcome));  // its buffers serve this page's outcome
  if (r.diff) {
    // Kept for the next diff (a swap moves no text and allocates nothing).
    r.diff->Swap(&spare_diff_);
    r.diff.reset();
  }
  r.dead_letter.Clear();
  metrics_->CountInput();
  if (r.kind == PipelineResult::Kind::kDeadLetter) {
    r.event.Clear();  // as in a fresh result: no event (rare: no reuse needed)
    r.dead_letter = emit::MakeDeadLetter(r.error, message.value, message.key, message.source,
                                         options_.dlq_max_original_bytes, NowMs());
    metrics_->CountDeadLetter(parse::ReasonCode(r.error.code));
    if (out != nullptr) EncodeOutputs(message, r, out);
    return;
  }
  if (r.kind == PipelineResult::Kind::kSkipped) {
    // A failed fetch, not bad input: counted, skipped, state untouched.
    r.event.Clear();
    metrics_->CountSkipped(r.page.status);
    return;
  }
  int64_t fetched_at =
      r.page.fetched_at_ms >= 0 ? r.page.fetched_at_ms : message.source.timestamp_ms;
  r.outcome = detector_->Decide(r.page, fetched_at, prepared);
  int64_t now = NowMs();
  emit::FillEvent(r.page, r.outcome, message.source, fetched_at, now, &r.event);
  if (r.outcome.diff && r.outcome.match) {
    r.diff.emplace();
    r.diff->Swap(&spare_diff_);
    emit::FillDiff(r.page, r.outcome, message.source, fetched_at, &*r.diff);
  }
  if (out != nullptr) EncodeOutputs(message, r, out);

  metrics_->CountVerdict(r.outcome.verdict);
  if (r.outcome.flags.Has(Flag::kRepeatedContent)) {
    metrics_->CountFlag("REPEATED_CONTENT");
    metrics_->CountRepeatedContent(r.page.site);
  }
  if (r.outcome.flags.Has(Flag::kReverted)) metrics_->CountFlag("REVERTED");
  if (r.outcome.flags.Has(Flag::kBoilerplateOnly)) metrics_->CountFlag("BOILERPLATE_ONLY");
  // A page flipping back to an earlier version is counted as REVERTED, not as
  // an edit: the diff is published, the edit alerts stay quiet (DESIGN.md).
  if (r.outcome.severity && !r.outcome.flags.Has(Flag::kReverted)) {
    metrics_->CountRevision(r.page.site, diff::SeverityName(*r.outcome.severity));
  }
  if (r.outcome.match && r.outcome.verdict != Verdict::kUnchanged) {
    metrics_->ObserveSimhashDistance(r.outcome.match->distance);
  }
  if (fetched_at > 0) metrics_->ObserveEventLag(static_cast<double>(now - fetched_at) / 1000.0);
  metrics_->ObserveProcessing(
      r.prepare_seconds +
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void Pipeline::EncodeOutputs(const InputMessage& message, const PipelineResult& result,
                             std::vector<OutputRecord>* out) const {
  switch (result.kind) {
    case PipelineResult::Kind::kEvent:
      out->push_back({OutputTopic::kEvents, result.page.canonical_url,
                      emit::Encode(result.event, options_.format)});
      if (result.diff) {
        out->push_back({OutputTopic::kDiffs, result.page.canonical_url,
                        emit::Encode(*result.diff, options_.format)});
      }
      return;
    case PipelineResult::Kind::kDeadLetter:
      out->push_back({OutputTopic::kDlq, std::string(message.key),
                      emit::Encode(result.dead_letter, options_.format)});
      return;
    case PipelineResult::Kind::kSkipped: return;
  }
}

size_t LoadState(classify::Detector* detector, bool log_empty,
                 const std::function<void()>& progress) {
  const auto started = std::chrono::steady_clock::now();
  const size_t loaded = detector->LoadFromStore(
      [&progress](size_t n) {
        log::Info("loading state", {{"urls", std::to_string(n)}});
        if (progress) progress();
      },
      100000);
  if (loaded > 0 || log_empty) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::Info("state loaded",
              {{"urls", std::to_string(loaded)}, {"seconds", std::to_string(seconds)}});
  }
  return loaded;
}

}  // namespace dedupd::app
