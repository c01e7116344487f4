// A fake librdkafka edge for the delivery stage's unit tests: a producer that
// records what it is asked, answers each transactional call from a script,
// and holds delivery reports until Poll()/Flush() serves them (as librdkafka
// does); a consumer that records seeks and commits; a manual clock whose
// SleepFor only moves Now() forward.
//
//   FakeProducer producer; FakeConsumer consumer; ManualClock clock;
//   producer.commit_results = {Status::Retriable(ERR__TIMED_OUT)};  // then ok
//   producer.refuse = [](const Produced& p) { return p.topic == "state"; };
//
// Thread-safety: single-threaded tests only.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/clock.h"
#include "delivery/edge.h"
#include "delivery/store_guard.h"

namespace dedupd::delivery::testing {

class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void SleepFor(std::chrono::milliseconds duration) override {
    now_ += duration;
    slept_ += duration;
  }
  void Advance(std::chrono::milliseconds duration) { now_ += duration; }
  std::chrono::milliseconds slept() const { return slept_; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  std::chrono::milliseconds slept_{0};
};

struct Produced {
  std::string topic;
  int32_t partition;
  std::string key;
  std::string value;
  uint64_t tag;
};

class FakeProducer final : public ProducerEdge {
 public:
  DeliveryReportSink* sink = nullptr;
  // Every record produce() accepted, in order.
  std::vector<Produced> produced;
  // The transactional calls made, in order: "init", "begin", "send_offsets",
  // "commit", "abort".
  std::vector<std::string> calls;
  Offsets sent_offsets;
  // Scripted answers, consumed front first; an empty script answers ok.
  std::deque<kafka::Status> produce_results, init_results, begin_results, send_offsets_results,
      commit_results, abort_results;
  kafka::Status fatal;  // FatalError()
  // Which records the broker refuses in their delivery report, and with what.
  std::function<bool(const Produced&)> refuse = [](const Produced&) { return false; };
  RdKafka::ErrorCode refusal = RdKafka::ERR_MSG_SIZE_TOO_LARGE;
  // Whether CommitTransaction serves the pending reports before answering
  // (librdkafka flushes then); false: they wait for the next Poll.
  bool commit_serves_reports = true;
  // A record whose report says it failed makes the commit abortable, as
  // librdkafka's commit_transaction() does (ERR__INCONSISTENT).
  int failed_reports = 0;
  // Called with each transactional call's name and "flush" before it
  // answers: a test advances its clock there (a call that takes time).
  std::function<void(std::string_view call)> on_call = [](std::string_view) {};

  kafka::Status Produce(const std::string& topic, int32_t partition, std::string_view key,
                        std::string_view value, uint64_t tag) override {
    if (kafka::Status s = Next(produce_results); !s.ok()) return s;
    Produced p{topic, partition, std::string(key), std::string(value), tag};
    const int32_t at = partition < 0 ? 0 : partition;
    DeliveryReport r;
    r.tag = tag;
    r.topic = topic;
    r.partition = at;
    r.bytes = key.size() + value.size();
    if (refuse(p)) {
      r.error = refusal;
      r.error_text = "Broker: Message size too large";
    } else {
      r.offset = next_offset_[{topic, at}]++;
    }
    pending_.push_back(r);
    produced.push_back(std::move(p));
    return {};
  }
  void Poll(int) override { Serve(); }
  void Flush(int) override {
    on_call("flush");
    Serve();
  }
  int OutqLen() override { return static_cast<int>(pending_.size()); }
  kafka::Status InitTransactions(int) override { return Call("init", init_results); }
  kafka::Status BeginTransaction() override { return Call("begin", begin_results); }
  kafka::Status SendOffsetsToTransaction(const Offsets& offsets, int) override {
    sent_offsets = offsets;
    return Call("send_offsets", send_offsets_results);
  }
  kafka::Status CommitTransaction(int) override {
    on_call("commit");
    if (commit_serves_reports) Serve();
    if (failed_reports > 0 && commit_results.empty()) {
      calls.push_back("commit");
      return kafka::Status::Abortable(RdKafka::ERR__INCONSISTENT);
    }
    return Call("commit", commit_results);
  }
  kafka::Status AbortTransaction(int) override {
    failed_reports = 0;
    return Call("abort", abort_results);
  }
  kafka::Status FatalError() override { return fatal; }

  size_t pending() const { return pending_.size(); }
  // Serves the held reports now (a report arriving late).
  void Serve() {
    while (!pending_.empty()) {
      DeliveryReport r = pending_.front();
      pending_.pop_front();
      if (r.error != RdKafka::ERR_NO_ERROR) ++failed_reports;
      if (sink != nullptr) sink->OnDeliveryReport(r);
    }
  }
  // Takes the held reports out without serving them (to serve later by hand).
  std::deque<DeliveryReport> Hold() { return std::exchange(pending_, {}); }
  size_t Count(const std::string& call) const {
    size_t n = 0;
    for (const auto& c : calls) n += c == call ? 1 : 0;
    return n;
  }

 private:
  static kafka::Status Next(std::deque<kafka::Status>& script) {
    if (script.empty()) return {};
    kafka::Status s = script.front();
    script.pop_front();
    return s;
  }
  kafka::Status Call(const char* name, std::deque<kafka::Status>& script) {
    if (std::string_view(name) != "commit") on_call(name);  // (commit: on entry)
    calls.emplace_back(name);
    return Next(script);
  }

  std::deque<DeliveryReport> pending_;
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset_;
};

class FakeConsumer final : public ConsumerEdge {
 public:
  Offsets positions;
  std::vector<int32_t> assignment;
  // The group's committed offsets; Committed() answers with those of the
  // partitions asked for, after the scripted failures (front first).
  Offsets committed;
  std::deque<std::string> committed_failures;
  size_t committed_calls = 0;
  std::vector<std::pair<int32_t, int64_t>> seeks;
  // Scripted seek answers, front first; then seek_result.
  std::deque<kafka::Status> seek_results;
  std::vector<Offsets> commits;
  kafka::Status seek_result;
  bool failed = false;

  Offsets Positions() override { return positions; }
  kafka::Result<std::vector<int32_t>> Assignment() override { return assignment; }
  kafka::Result<Offsets> Committed(const std::vector<int32_t>& partitions, int) override {
    ++committed_calls;
    if (!committed_failures.empty()) {
      std::string why = committed_failures.front();
      committed_failures.pop_front();
      return kafka::Failure{why};
    }
    Offsets out;
    for (int32_t p : partitions) {
      auto at = committed.find(p);
      out[p] = at == committed.end() ? -1001 : at->second;  // OFFSET_INVALID
    }
    return out;
  }
  kafka::Status Seek(int32_t partition, int64_t offset, int) override {
    seeks.emplace_back(partition, offset);
    if (!seek_results.empty()) {
      kafka::Status s = seek_results.front();
      seek_results.pop_front();
      return s;
    }
    return seek_result;
  }
  kafka::Status CommitSync(const Offsets& offsets) override {
    commits.push_back(offsets);
    return {};
  }
  bool Failed() override { return failed; }
  // Partitions paused now, and every Pause()/Resume() call ("pause 0,1").
  std::set<int32_t> paused;
  std::vector<std::string> pause_calls;
  kafka::Status Pause(const std::vector<int32_t>& partitions) override {
    return PauseCall("pause", partitions, true);
  }
  kafka::Status Resume(const std::vector<int32_t>& partitions) override {
    return PauseCall("resume", partitions, false);
  }
  kafka::Status PauseCall(const std::string& name, const std::vector<int32_t>& partitions,
                          bool pause) {
    std::string call = name + " ";
    for (int32_t p : partitions) {
      call += (call.back() == ' ' ? "" : ",") + std::to_string(p);
      if (pause) {
        paused.insert(p);
      } else {
        paused.erase(p);
      }
    }
    pause_calls.push_back(call);
    return {};
  }
  // ConsumeOne(): the messages that arrive, front first (partition, offset).
  std::deque<std::pair<int32_t, int64_t>> arriving;
  std::optional<std::pair<int32_t, int64_t>> ConsumeOne(int) override {
    if (arriving.empty()) return std::nullopt;
    auto m = arriving.front();
    arriving.pop_front();
    return m;
  }
};

// A volume that is full for the next `full_checks` checks, and whose writes
// fail while `fail_writes` > 0.
class FakeStore final : public StoreEdge {
 public:
  int full_checks = 0;
  int fail_writes = 0;
  int checks = 0;
  std::vector<std::map<std::string, std::string>> written;

  std::optional<StoreFault> CheckWritable() override {
    ++checks;
    if (full_checks > 0) {
      --full_checks;
      return StoreFault{"no_space", "/state: 10 MB free, below state.min_free_bytes"};
    }
    return std::nullopt;
  }
  std::optional<StoreFault> LastError() override {
    if (last_failed_) return StoreFault{"no_space", "No space left on device"};
    return std::nullopt;
  }
  bool Commit(const std::map<std::string, std::string>& meta, std::string* why) override {
    last_failed_ = fail_writes > 0;
    if (last_failed_) {
      --fail_writes;
      *why = "IO error: No space left on device";
      return false;
    }
    written.push_back(meta);
    return true;
  }

 private:
  bool last_failed_ = false;
};

}  // namespace dedupd::delivery::testing
