// A fake librdkafka edge for the state sync stage's unit tests: topics as
// in-memory logs (a record's offset is its index), watermark answers that a
// test can script (an open transaction: the stable end behind the log's end),
// and readers that read those logs as a read_committed consumer with
// enable.partition.eof does: each partition's records from its start offset,
// then its end once; with nothing to read, Read(timeout) waits out its
// timeout on the manual clock.
//
//   ManualClock clock; FakeSyncEdge edge(&clock);
//   edge.Append("state", 0, "https://a.example/", value);
//   edge.stable_answers["state"] = {{{0, 0}}};  // first committed query: [0] stable at 0
//
// Thread-safety: single-threaded tests only.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../delivery/fake_edge.h"
#include "sync/edge.h"

namespace dedupd::sync::testing {

using delivery::testing::ManualClock;

class FakeSyncEdge final : public SyncEdge {
 public:
  struct Record {
    std::string key;
    std::string value;
  };
  using Log = std::map<int32_t, std::vector<Record>>;

  explicit FakeSyncEdge(ManualClock* clock) : clock_(clock) {}

  // topic -> partition -> records.
  std::map<std::string, Log> logs;
  // Answers to Watermarks(kCommitted), front first: a partition named there
  // reports that stable end instead of its log's end (an open transaction).
  std::map<std::string, std::deque<std::map<int32_t, int64_t>>> stable_answers;
  // Watermarks() fails while this is positive (a broker away), counting down.
  int failing_queries = 0;
  // Readers return only kNothing (a partition that never reaches its end).
  bool stall = false;
  // Readers return this many kError before anything else.
  int read_errors = 0;
  // Every OpenReader() call's start offsets, in order.
  std::vector<Offsets> opened;

  void Append(const std::string& topic, int32_t partition, std::string key, std::string value) {
    logs[topic][partition].push_back({std::move(key), std::move(value)});
  }
  void AddPartition(const std::string& topic, int32_t partition) { logs[topic][partition]; }

  kafka::Result<std::vector<int32_t>> Partitions(const std::string& topic,
                                                 std::chrono::milliseconds) override {
    auto it = logs.find(topic);
    if (it == logs.end()) return kafka::Failure{"unknown topic " + topic};
    std::vector<int32_t> out;
    for (const auto& [p, records] : it->second) out.push_back(p);
    return out;
  }

  kafka::Result<std::vector<kafka::Watermarks>> Watermarks(const std::string& topic,
                                                           Isolation isolation,
                                                           std::chrono::milliseconds) override {
    if (failing_queries > 0) {
      --failing_queries;
      return kafka::Failure{"Local: Broker transport failure"};
    }
    std::map<int32_t, int64_t> stable;
    if (isolation == Isolation::kCommitted && !stable_answers[topic].empty()) {
      stable = stable_answers[topic].front();
      stable_answers[topic].pop_front();
    }
    std::vector<kafka::Watermarks> out;
    for (const auto& [p, records] : logs[topic]) {
      const int64_t end = static_cast<int64_t>(records.size());
      out.push_back({p, 0, stable.count(p) != 0 ? stable.at(p) : end});
    }
    return out;
  }

  kafka::Result<StateReaderPtr> OpenReader(const std::string& topic, const Offsets& from) override {
    opened.push_back(from);
    return StateReaderPtr(std::make_unique<Reader>(this, topic, from));
  }

 private:
  class Reader final : public StateReader {
   public:
    Reader(FakeSyncEdge* edge, std::string topic, const Offsets& from)
        : edge_(edge), topic_(std::move(topic)) {
      for (const auto& [p, offset] : from) at_[p] = {offset, false};
    }
    ReadEvent Read(int timeout_ms) override {
      ReadEvent e;
      if (edge_->read_errors > 0) {
        --edge_->read_errors;
        e.kind = ReadEvent::Kind::kError;
        e.error = "ERR__TRANSPORT: Broker transport failure";
        return e;
      }
      if (!edge_->stall) {
        for (auto& [p, cursor] : at_) {
          const auto& records = edge_->logs[topic_][p];
          const int64_t end = static_cast<int64_t>(records.size());
          if (cursor.next < end) {
            const Record& r = records[static_cast<size_t>(cursor.next)];
            e.kind = ReadEvent::Kind::kRecord;
            e.partition = p;
            e.offset = cursor.next++;
            e.key = r.key;
            e.value = r.value;
            cursor.end_reported = false;
            return e;
          }
          if (!cursor.end_reported) {
            cursor.end_reported = true;
            e.kind = ReadEvent::Kind::kEnd;
            e.partition = p;
            e.offset = end;
            return e;
          }
        }
      }
      edge_->clock_->Advance(std::chrono::milliseconds(timeout_ms));
      return e;  // kNothing
    }

   private:
    struct Cursor {
      int64_t next = 0;
      bool end_reported = false;
    };
    FakeSyncEdge* edge_;
    std::string topic_;
    std::map<int32_t, Cursor> at_;
  };

  ManualClock* clock_;
};

}  // namespace dedupd::sync::testing
