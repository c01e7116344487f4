// Pipeline: one input message in, its output records out. Parse -> Detector ->
// emit, with metrics. Both the Kafka loop and file mode (`dedupd scan`) drive
// the same Pipeline, so they give the same verdicts.
//
//   Pipeline pipeline(options, &detector, &metrics);
//   std::vector<OutputRecord> records;
//   PipelineResult r = pipeline.Process({value, key, coordinates}, &records);
//
//   PipelineResult reused;                           // file mode: kept across pages
//   pipeline.Process({value, key, coordinates}, nullptr, &reused);
//
// Thread-safety: one Pipeline per thread (it owns a parser and a Detector view);
// Prepare() may run on other threads at the same time (each with a parser).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "classify/detector.h"
#include "dedupd/v1/dedupd.pb.h"
#include "emit/records.h"
#include "metrics/metrics.h"
#include "parse/page_parser.h"

namespace dedupd::app {

struct InputMessage {
  std::string_view value;
  std::string_view key;
  SourceCoordinates source;
  // value is followed by parse::kPadding zero bytes (not part of it): the
  // parser reads it in place instead of copying it (`dedupd scan`'s lines).
  bool zero_padded = false;
};

enum class OutputTopic { kEvents, kDiffs, kDlq };

struct OutputRecord {
  OutputTopic topic;
  std::string key;    // canonical URL (events, diffs) or the input key (dead letters)
  std::string value;  // encoded protobuf or JSON
};

struct PipelineOptions {
  emit::OutputFormat format = emit::OutputFormat::kProtobuf;
  parse::ParseOptions parse;
  size_t dlq_max_original_bytes = 65536;
  std::function<int64_t()> now_ms;  // injectable clock; default: system clock
};

struct PipelineResult {
  enum class Kind { kEvent, kDeadLetter, kSkipped } kind = Kind::kEvent;
  double prepare_seconds = 0;  // Pipeline::Prepare()'s part of the processing time
  parse::ParsedPage page;
  parse::ParseError error;
  classify::Outcome outcome;
  v1::PageEvent event;
  std::optional<v1::PageDiff> diff;
  v1::DeadLetter dead_letter;
};

class Pipeline {
 public:
  Pipeline(PipelineOptions options, classify::Detector* detector, metrics::Metrics* metrics);

  PipelineResult Process(const InputMessage& message, std::vector<OutputRecord>* out);
  // The same into `*result`, which may hold the result of an earlier message:
  // its page, event and diff are overwritten in place, their strings, lists
  // and sub-messages reused (no allocation per page for them once they have
  // grown). With `out` null the output records are not encoded: `dedupd
  // scan` prints `*result` itself, so encoding them would be wasted work.
  void Process(const InputMessage& message, std::vector<OutputRecord>* out, PipelineResult* result);

  // Process() in two parts, for a pool of workers (pipeline/workers.h).
  // Prepare(): what depends on the message alone (parse, Detector::Prepare)
  // into `*result` and `*prepared`, with the calling thread's own parser; it
  // is const and thread-safe. Finish(): the rest (the verdict, the event and
  // diff, the output records, every metric), on the pipeline's thread, in
  // input order, from what Prepare() left; Prepare() then Finish() is
  // Process().
  void Prepare(const InputMessage& message, parse::PageParser* parser, PipelineResult* result,
               classify::PreparedPage* prepared,
               classify::Speculate speculate = classify::Speculate::kNo) const;
  void Finish(const InputMessage& message, classify::PreparedPage* prepared,
              std::vector<OutputRecord>* out, PipelineResult* result);
  // The output records of a finished message (Finish() with `out` null
  // leaves them to this): the event and its diff, or the dead letter, in
  // that order, appended to `*out`. Const and thread-safe: it reads only
  // `result` and the options, so a worker encodes one message's outputs
  // while the pipeline's thread finishes the next (pipeline/workers.h).
  void EncodeOutputs(const InputMessage& message, const PipelineResult& result,
                     std::vector<OutputRecord>* out) const;
  const PipelineOptions& options() const { return options_; }

 private:
  int64_t NowMs() const;

  PipelineOptions options_;
  classify::Detector* detector_;
  metrics::Metrics* metrics_;
  parse::PageParser parser_;
  // A diff message kept while a page has none (PipelineResult::diff is an
  // optional, which would free it): swapped back in for the next diff.
  v1::PageDiff spare_diff_;
  classify::PreparedPage prepared_;  // Process()'s, reused
};

// Rebuilds the detector's indexes from its store (Detector::LoadFromStore),
// logging "loading state" every 100,000 URLs and then "state loaded" with the
// count and the seconds it took (not for an empty store unless `log_empty`).
// Returns the number of URLs loaded. Used at start by `run` and `scan`.
// `progress` (optional) is called every 100000 URLs: `dedupd run` shows its
// liveness with it during a long load.
size_t LoadState(classify::Detector* detector, bool log_empty,
                 const std::function<void()>& progress = nullptr);

}  // namespace dedupd::app
