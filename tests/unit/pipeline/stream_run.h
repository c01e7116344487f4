// What workers_test.cc and prefetch_test.cc share to compare a stream's
// outputs one page after the other with the outputs through app::Workers:
// the pipeline's options (a fixed clock), a page's outputs as one string,
// the lines submitted ahead into the ring, the loop `dedupd run` drives the
// workers with, and the comparison.
//
//   std::vector<std::string> out = RunPipelined(&detector, lines, 2, 0);
//   ExpectSameOutputs(serial, out, "corpus, 2 threads");
//
// Thread-safety: test helpers, called from the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "classify/detector.h"
#include "pipeline/pipeline.h"
#include "pipeline/workers.h"
#include "state/url_state.h"

namespace dedupd::app {

inline PipelineOptions FixedClockOptions() {
  PipelineOptions options;
  options.now_ms = [] { return int64_t{1700000000123}; };
  return options;
}

// A page's kind, output records (topic, key, bytes) and, for an event that
// staged a state, that state's record.
inline std::string DescribeOutputs(const PipelineResult& r,
                                   const std::vector<OutputRecord>& records,
                                   const std::string& state_record) {
  std::string d = std::to_string(static_cast<int>(r.kind));
  for (const auto& rec : records) {
    d += "|" + std::to_string(static_cast<int>(rec.topic)) + ":" + rec.key + ":" + rec.value;
  }
  if (r.kind == PipelineResult::Kind::kEvent && r.outcome.stored) d += "|state:" + state_record;
  return d;
}

// The next lines (from *submitted on) handed to the workers until the ring is
// full, each as input offset = its index.
inline void SubmitAhead(Workers& workers, const std::vector<std::string>& lines,
                        size_t* submitted) {
  while (*submitted < lines.size() && !workers.Full()) {
    Workers::Slot& slot = workers.Acquire();
    slot.storage = lines[*submitted];
    slot.message = {slot.storage, {}, {"in", 0, static_cast<int64_t>(*submitted), 0}};
    workers.Submit();
    ++*submitted;
  }
}

// The same as `dedupd run` drives them (loop.cc, FinishNext): decided in
// input order as soon as prepared, several ahead of the oldest, whose
// outputs and state record a worker encodes (the encoder), produced oldest
// first; the detector commits only with nothing decided ahead.
inline std::vector<std::string> RunPipelined(classify::Detector* detector,
                                             const std::vector<std::string>& lines, size_t threads,
                                             size_t capacity) {
  metrics::Metrics metrics;
  Pipeline pipeline(FixedClockOptions(), detector, &metrics);
  Workers workers(&pipeline, threads, capacity, [&pipeline](Workers::Slot& slot) {
    slot.records.clear();
    pipeline.EncodeOutputs(slot.message, slot.result, &slot.records);
    slot.state_record.clear();
    if (slot.result.outcome.stored) {
      slot.state_record = state::EncodeUrlState(*slot.result.outcome.stored);
    }
  });
  std::vector<std::string> outputs;
  size_t submitted = 0;
  while (outputs.size() < lines.size()) {
    SubmitAhead(workers, lines, &submitted);
    if (Workers::Slot* slot = workers.DecidedAhead() > 0 ? workers.Producible() : nullptr) {
      outputs.push_back(DescribeOutputs(slot->result, slot->records, slot->state_record));
      workers.PopFront();
      std::string error;
      if (workers.DecidedAhead() == 0) {
        EXPECT_TRUE(detector->Commit({}, &error)) << error;
      }
    } else if (Workers::Slot* next = workers.Undecided() > 0 ? workers.Decidable() : nullptr) {
      pipeline.Finish(next->message, &next->prepared, nullptr, &next->result);
      workers.Decided();
    } else {
      workers.Help();
    }
  }
  EXPECT_TRUE(workers.Empty());
  return outputs;
}

// The first three differing lines are reported.
inline void ExpectSameOutputs(const std::vector<std::string>& expected,
                              const std::vector<std::string>& actual, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  size_t differences = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] != actual[i] && differences++ < 3) {
      ADD_FAILURE() << what << ": line " << i + 1 << " differs";
    }
  }
  EXPECT_EQ(differences, 0u) << what;
}

}  // namespace dedupd::app
