// `dedupd replay` end to end against the real local broker: the live daemon
// processes the fixture stream; a replay with a changed threshold then re-runs
// detection over the input's history into prefixed topics and its own state,
// stops by itself, and gives `dedupd scan`'s verdicts for that configuration,
// while the live group's committed offsets, its state directory and its
// output topics stay exactly as they were. A second run of the same replay
// continues from its group's offsets (nothing to do), and a replay from a
// timestamp covers only the messages produced after it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"
#include "kafka/admin.h"

namespace dedupd::e2e {
namespace {

using std::chrono::seconds;
namespace fs = std::filesystem;

const std::string kDedupd = DEDUPD_BINARY;
// A threshold that changes verdicts of the fixture stream: two NEAR_DUPLICATE
// pages (lines 5 and 11) are NEW when the shingle sets must overlap 97 %.
// Their Jaccard is 0.88 and 0.69 exactly, 0.94 and 0.63 as the confirmation
// sketch estimates it (k = 64, one standard deviation about 0.06): 0.97 is
// above both, as 0.9 was only above the exact values.
const std::string kChangedRule = "--detect.near_dup_jaccard=0.97";

std::vector<std::string> FixtureLines() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Finished {
  int code = -1;  // exit code, 128+signal, -1 when it did not end in time (then killed)
  std::string out;
};

// Runs `dedupd <args>` to its end: stdout captured, stderr appended to `log`.
// `while_running` is called every 50 ms until it ends.
Finished RunToEnd(std::vector<std::string> args, const std::string& log,
                  std::chrono::milliseconds timeout,
                  const std::function<void()>& while_running = {}) {
  const std::string out_path = log + ".stdout";
  args.insert(args.begin(), kDedupd);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (std::freopen(log.c_str(), "a", stderr) == nullptr) _exit(126);
    if (std::freopen(out_path.c_str(), "w", stdout) == nullptr) _exit(126);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(kDedupd.c_str(), argv.data());
    _exit(127);
  }
  Finished f;
  Deadline deadline(timeout);
  while (true) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      f.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (deadline.expired()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      break;
    }
    if (while_running) while_running();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream in(out_path);
  std::stringstream s;
  s << in.rdbuf();
  f.out = s.str();
  fs::remove(out_path);
  return f;
}

// Every file under `dir` (relative path -> bytes), leaving out `except`.
std::map<std::string, std::string> Snapshot(const fs::path& dir, const fs::path& except) {
  std::map<std::string, std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path() == except) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    files[fs::relative(it->path(), dir).string()] = s.str();
  }
  return files;
}

std::string Rfc3339(int64_t epoch_ms) {
  const std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03lld", static_cast<long long>(epoch_ms % 1000));
  return std::string(buf) + ms + "Z";
}

std::string Page(const std::string& url, const std::string& body) {
  return R"({"url":")" + url + R"(","content_type":"text/plain","body":")" + body + R"("})";
}

class ReplayTest : public DaemonFixture {
 protected:
  ReplayTest() : DaemonFixture("rp") {}

  // input offset -> verdict or DLQ:<reason>, from an events and a dlq topic.
  std::multimap<int64_t, std::string> Outcomes(const std::string& events, const std::string& dlq,
                                               size_t expected) {
    std::multimap<int64_t, std::string> out;
    Deadline deadline(seconds(60));
    std::vector<kafka::testing::Record> e, d;
    do {
      e = ReadAll(bootstrap_, events, 0, seconds(10));
      d = ReadAll(bootstrap_, dlq, 0, seconds(10));
    } while (e.size() + d.size() < expected && !deadline.expired());
    for (const auto& r : e) {
      v1::PageEvent event;
      EXPECT_TRUE(event.ParseFromString(r.value));
      out.emplace(event.source().offset(), v1::Verdict_Name(event.verdict()));
    }
    for (const auto& r : d) {
      v1::DeadLetter letter;
      EXPECT_TRUE(letter.ParseFromString(r.value));
      out.emplace(letter.source().offset(), "DLQ:" + letter.reason_code());
    }
    return out;
  }

  // `dedupd scan` of the fixtures with `extra` settings: line index -> outcome.
  std::multimap<int64_t, std::string> ScanOutcomes(const std::string& extra) {
    auto done =
        RunToEnd({"scan", std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl", extra}, log_,
                 seconds(60));
    EXPECT_EQ(done.code, 0);
    std::multimap<int64_t, std::string> out;
    simdjson::dom::parser parser;
    std::istringstream lines(done.out);
    int64_t index = 0;
    for (std::string line; std::getline(lines, line);) {
      simdjson::dom::element r = parser.parse(line);
      std::string_view s;
      if (r["event"]["verdict"].get(s) == simdjson::SUCCESS) {
        out.emplace(index++, std::string(s));
      } else if (r["dead_letter"]["reason_code"].get(s) == simdjson::SUCCESS) {
        out.emplace(index++, "DLQ:" + std::string(s));
      } else if (r["skipped"].error() == simdjson::SUCCESS) {
        out.emplace(index++, "SKIPPED");
      }  // a diff line belongs to the event before it
    }
    return out;
  }

  // The live group's committed offsets of the input, asked without joining.
  std::map<int32_t, int64_t> Committed(const std::string& group) {
    auto consumer = MakeConsumer(With(Base(), {{"group.id", group}}));
    kafka::TopicPartitionList tpl;
    tpl.Add(Topic("pages"), 0);
    EXPECT_EQ(consumer->committed(tpl.get(), 10000), RdKafka::ERR_NO_ERROR);
    std::map<int32_t, int64_t> out;
    for (auto* tp : tpl) out[tp->partition()] = tp->offset();
    consumer->close();
    return out;
  }

  // High watermarks (uncommitted records counted too) of the live outputs.
  std::map<std::string, int64_t> LiveEnds() {
    std::map<std::string, int64_t> ends;
    for (const std::string& topic :
         {Topic("events"), Topic("diffs"), Topic("dlq"), id_ + "-state", id_ + "-fingerprints"}) {
      auto marks = kafka::HighWatermarks(With(Base(), {{"isolation.level", "read_uncommitted"}}),
                                         topic, seconds(10));
      EXPECT_TRUE(marks.ok()) << topic << ": " << marks.error();
      if (!marks.ok()) continue;
      for (const auto& m : marks.value()) ends[topic + "/" + std::to_string(m.partition)] = m.high;
    }
    return ends;
  }
};

TEST_F(ReplayTest, ReplayWithAChangedThresholdGivesScansVerdictsAndLeavesTheLiveDeploymentAlone) {
  const auto lines = FixtureLines();
  ASSERT_EQ(lines.size(), 17u);
  const size_t first_part = 10;

  // The live daemon processes the fixture stream; messages after `between`
  // carry later timestamps than every message before it.
  int64_t between = 0;
  {
    DaemonProcess live(kDedupd, Args(1), log_);
    ASSERT_TRUE(live.WaitReady(seconds(90))) << "live daemon not ready; log " << log_;
    ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA,
               std::span(lines).subspan(0, first_part), KeyOf, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    between = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA, std::span(lines).subspan(first_part),
               KeyOf, first_part);
    ASSERT_EQ(Outcomes(Topic("events"), Topic("dlq"), lines.size()).size(), lines.size());
    live.Signal(SIGTERM);
    ASSERT_EQ(live.Wait(), 0);
  }
  const auto live_outcomes = Outcomes(Topic("events"), Topic("dlq"), lines.size());
  const auto committed_before = Committed(id_);
  ASSERT_EQ(committed_before.at(0), 17);
  const fs::path replay_state = state_dir_ / "replay-replay-";  // the default
  const auto state_before = Snapshot(state_dir_, replay_state);
  ASSERT_FALSE(state_before.empty());
  const auto ends_before = LiveEnds();

  // The replay: the live configuration, one threshold changed.
  std::vector<std::string> args = {"replay", "--from", "earliest", "--to-prefix", "replay-"};
  for (const auto& a : Args(1)) args.push_back(a);
  args.push_back(kChangedRule);
  args.push_back("--metrics.port=0");
  auto replay = RunToEnd(args, log_, seconds(180));
  ASSERT_EQ(replay.code, 0) << "the replay must end by itself with 0; log " << log_ << "\n"
                            << replay.out;
  EXPECT_NE(replay.out.find("replay finished"), std::string::npos) << replay.out;
  EXPECT_NE(replay.out.find("messages: 17 processed"), std::string::npos) << replay.out;
  EXPECT_NE(replay.out.find("events topic: replay-" + Topic("events")), std::string::npos)
      << replay.out;
  EXPECT_NE(replay.out.find("consumer group: replay-" + id_), std::string::npos) << replay.out;

  // One outcome per input message, the verdicts `dedupd scan` gives with the
  // same configuration, and some differ from the live ones.
  const auto replayed = Outcomes("replay-" + Topic("events"), "replay-" + Topic("dlq"), 17);
  const auto scanned = ScanOutcomes(kChangedRule);
  ASSERT_EQ(scanned.size(), 17u);
  EXPECT_EQ(replayed, scanned);
  EXPECT_NE(replayed, live_outcomes) << "the changed threshold changes no verdict";
  EXPECT_EQ(replayed.count(4), 1u);
  if (replayed.count(4) == 1) {
    EXPECT_EQ(replayed.find(4)->second, "NEW");
  }
  EXPECT_EQ(live_outcomes.find(4)->second, "NEAR_DUPLICATE");

  // The live deployment: same committed offsets, same state files, nothing
  // new in its output and internal topics. The replay's state is its own.
  EXPECT_EQ(Committed(id_), committed_before);
  EXPECT_EQ(Snapshot(state_dir_, replay_state), state_before);
  EXPECT_EQ(LiveEnds(), ends_before);
  EXPECT_TRUE(fs::exists(replay_state / "CURRENT")) << "the replay's own store";
  EXPECT_EQ(Committed("replay-" + id_).at(0), 17);

  // The operator's comparison (docs/runbook.md): the two changed verdicts.
  const std::string compare = std::string("python3 ") + DEDUPD_SOURCE_DIR +
                              "/scripts/compare-verdicts --bootstrap-server " + bootstrap_ + " " +
                              Topic("events") + " replay-" + Topic("events") + " 2>&1";
  std::string report;
  if (FILE* pipe = ::popen(compare.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) report.append(buf, n);
    EXPECT_EQ(::pclose(pipe), 0) << report;
  }
  EXPECT_NE(report.find("inputs compared: 11 (only before: 0, only after: 0)"), std::string::npos)
      << report;
  EXPECT_NE(report.find("verdicts changed: 2"), std::string::npos) << report;
  EXPECT_NE(report.find("NEAR_DUPLICATE -> NEW             2"), std::string::npos) << report;

  // Progress was logged with the counts.
  std::ifstream in(log_);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_NE(log.str().find("every partition's committed offset reached its end"),
            std::string::npos);
  EXPECT_NE(log.str().find("17/17 messages"), std::string::npos);

  // The same command again continues from the replay group's offsets: there
  // is nothing left, it ends at once, and no event is written twice.
  auto again = RunToEnd(args, log_, seconds(120));
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("messages: 0 processed"), std::string::npos) << again.out;
  EXPECT_EQ(Outcomes("replay-" + Topic("events"), "replay-" + Topic("dlq"), 17).size(), 17u);

  // From a timestamp: only the messages produced after it.
  std::vector<std::string> later = {"replay", "--from", Rfc3339(between), "--to-prefix", "later-"};
  for (const auto& a : Args(1)) later.push_back(a);
  later.push_back("--metrics.port=0");
  auto from_time = RunToEnd(later, log_, seconds(180));
  ASSERT_EQ(from_time.code, 0) << from_time.out;
  EXPECT_NE(from_time.out.find("messages: 7 processed"), std::string::npos) << from_time.out;
  const auto covered = Outcomes("later-" + Topic("events"), "later-" + Topic("dlq"), 7);
  ASSERT_EQ(covered.size(), 7u);
  for (int64_t offset = 10; offset < 17; ++offset) EXPECT_EQ(covered.count(offset), 1u) << offset;
  EXPECT_EQ(Committed(id_), committed_before);
  EXPECT_EQ(LiveEnds(), ends_before);
}

// The last input message makes an event the replay's events topic refuses
// (its max.message.bytes): the commit of the last batch, whose positions had
// already reached the end of the partition, fails, the batch is aborted and
// rewound, and the retry dead-letters that input (docs/delivery.md, "Records
// Kafka refuses"). The replay must not stop on those positions: it ends, with
// 0, only once the retry has committed every input exactly once.
TEST_F(ReplayTest, EndsOnlyOnceEveryInputIsCommittedAfterAnAbortAtTheEnd) {
  std::vector<std::string> pages;
  for (int i = 0; i < 30; ++i) {
    pages.push_back(Page("https://city.example.gov/r/" + std::to_string(i),
                         "Release " + std::to_string(i) + ". " + RandomWords(300, 100 + i)));
  }
  pages.push_back(R"({"url":"https://city.example.gov/huge","title":")" + RandomWords(6000, 7) +
                  R"(","content_type":"text/plain","body":"The last release. )" +
                  RandomWords(300, 99) + R"("})");
  CreateTopic(Topic("pages"), 1);
  std::string error;
  ASSERT_TRUE(kafka::EnsureTopics(
      Base(), {{"again-" + Topic("events"), 1, 1, {{"max.message.bytes", "4000"}}}}, seconds(60),
      &error))
      << error;
  ProduceAll(Topic("pages"), 0, pages, KeyOf, 0);

  std::vector<std::string> args = {"replay", "--to-prefix", "again-"};
  for (const auto& a : Args(1)) args.push_back(a);
  const int port = FreePort();
  args.push_back("--metrics.port=" + std::to_string(port));
  args.push_back("--metrics.bind=127.0.0.1");
  args.push_back("--processing.commit_messages=1000");
  args.push_back("--processing.commit_interval_ms=5000");
  // The progress gauge, as Prometheus would scrape it while the replay runs.
  std::set<std::string> remaining;
  auto replay = RunToEnd(args, log_, seconds(180), [&] {
    std::string body;
    if (HttpGet(port, "/metrics", &body) != 200) return;
    const size_t at = body.find("\ndedupd_replay_remaining_messages ");
    if (at == std::string::npos) return;
    const size_t from = at + std::string("\ndedupd_replay_remaining_messages ").size();
    remaining.insert(body.substr(from, body.find('\n', from) - from));
  });
  ASSERT_EQ(replay.code, 0) << replay.out << "log " << log_;
  EXPECT_NE(replay.out.find("replay finished"), std::string::npos) << replay.out;
  EXPECT_EQ(remaining.count("0"), 1u) << "the gauge reaches 0 before the replay ends";
  const auto got = Outcomes("again-" + Topic("events"), "again-" + Topic("dlq"), 31);
  ASSERT_EQ(got.size(), 31u) << "every input exactly once";
  for (int64_t offset = 0; offset < 31; ++offset) EXPECT_EQ(got.count(offset), 1u) << offset;
  EXPECT_EQ(got.find(30)->second, "DLQ:output_rejected");
  EXPECT_EQ(Committed("again-" + id_).at(0), 31);
  std::ifstream in(log_);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_NE(log.str().find("aborting the batch"), std::string::npos) << "no abort happened";
}

TEST_F(ReplayTest, RefusesAnEmptyPrefixAndAPrefixThatHitsALiveTopic) {
  std::vector<std::string> args = {"replay", "--from", "earliest", "--to-prefix", ""};
  for (const auto& a : Args(1)) args.push_back(a);
  auto empty = RunToEnd(args, log_, seconds(30));
  EXPECT_EQ(empty.code, 2);
  // The live dead-letter topic is "x-<id>-events": prefix "x-" would make the
  // replay's events topic the live dead-letter topic.
  args[4] = "x-";
  args.push_back("--topics.dlq=x-" + Topic("events"));
  auto collide = RunToEnd(args, log_, seconds(30));
  EXPECT_EQ(collide.code, 2);
  std::ifstream in(log_);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_NE(log.str().find("--to-prefix must not be empty"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("a topic the live deployment uses"), std::string::npos) << log.str();
}

}  // namespace
}  // namespace dedupd::e2e
