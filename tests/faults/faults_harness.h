// Pieces of the fault-injection harness (tests/faults/faults_test.cc): a
// private Kafka broker that the test can stop and start again on the same
// port and data directory, supervised `dedupd run` instances that the test
// kills, freezes and restarts, and a reader that drains a topic with
// read_committed once no transaction is left open on it.
//
//   PrivateBroker broker(dir);                  // scripts/kafka start --port 0
//   ASSERT_TRUE(broker.ok()) << broker.error();
//   Instance a(kDedupd, args, log); a.Start(); a.Signal(SIGKILL); a.Reap(); a.Start();
//   broker.Restart();                           // stop + start on the same port
//
// Everything is RAII (the broker is stopped and its directory removed, the
// instances killed), every wait is bounded, and only 127.0.0.1 is used.
// Thread-safety: none; the test's main thread owns these objects.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/daemon_harness.h"
#include "integration/kafka_test_util.h"
#include "kafka/admin.h"

namespace dedupd::faults {

using Clock = std::chrono::steady_clock;
using kafka::testing::Deadline;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline long EnvLong(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtol(v, nullptr, 10);
}

// Runs a shell command; returns its exit code and stdout+stderr.
inline int RunCommand(const std::string& command, std::string* output) {
  std::string text;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, n);
  int status = ::pclose(pipe);
  if (output != nullptr) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A broker of its own (not the CTest fixture's): the test stops and restarts
// it, which would disturb every other test using the shared one.
class PrivateBroker {
 public:
  explicit PrivateBroker(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Start("0");
  }
  ~PrivateBroker() {
    Stop();
    if (std::getenv("FAULTS_KEEP") == nullptr) std::filesystem::remove_all(dir_);
  }
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  bool ok() const { return !bootstrap_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& bootstrap() const { return bootstrap_; }

  // Stops the broker (SIGTERM, a controlled shutdown) and starts it again on
  // the same port and data: clients keep their bootstrap address.
  bool Restart() {
    Stop();
    return Start(port_);
  }
  void Stop() {
    std::string out;
    RunCommand(Script() + " stop --dir '" + dir_.string() + "'", &out);
  }

 private:
  std::string Script() const { return std::string(DEDUPD_SOURCE_DIR) + "/scripts/kafka"; }
  bool Start(const std::string& port) {
    std::string out;
    int rc =
        RunCommand(Script() + " start --port " + port + " --dir '" + dir_.string() + "'", &out);
    std::smatch m;
    static const std::regex re(R"(bootstrap=127\.0\.0\.1:(\d+))");
    if (rc != 0 || !std::regex_search(out, m, re)) {
      error_ = "scripts/kafka start failed (" + std::to_string(rc) + "): " + out;
      return false;
    }
    port_ = m[1].str();
    bootstrap_ = "127.0.0.1:" + port_;
    return true;
  }

  std::filesystem::path dir_;
  std::string port_;
  std::string bootstrap_;
  std::string error_;
};

// One `dedupd run` process of an instance slot; restartable.
class Instance {
 public:
  Instance(std::string binary, std::vector<std::string> args, std::string log)
      : binary_(std::move(binary)), args_(std::move(args)), log_(std::move(log)) {}
  ~Instance() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  void Start() {
    metrics_port_ = e2e::FreePort();
    std::vector<std::string> args = args_;
    args.insert(args.begin(), {binary_, "run"});
    args.push_back("--metrics.port=" + std::to_string(metrics_port_));
    args.push_back("--metrics.bind=127.0.0.1");
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log_.c_str(), "a", stderr);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary_.c_str(), argv.data());
      _exit(127);
    }
    ++starts_;
  }
  bool running() const { return pid_ > 0; }
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Non-blocking: true (and *code = exit code or 128+signal) if it ended.
  bool Exited(int* code) {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  // Waits for the end; -1 on timeout.
  int Wait(milliseconds timeout) {
    if (pid_ <= 0) return -1;
    Deadline deadline(timeout);
    int code = -1;
    while (!deadline.expired()) {
      if (Exited(&code)) return code;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }
  bool Ready() const { return pid_ > 0 && e2e::HttpGet(metrics_port_, "/readyz", nullptr) == 200; }
  std::string Metrics() const {
    std::string body;
    e2e::HttpGet(metrics_port_, "/metrics", &body);
    return body;
  }
  const std::string& log() const { return log_; }
  int starts() const { return starts_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
  int metrics_port_ = 0;
  int starts_ = 0;
};

// Waits until no transaction is open on `topic` (last stable offset equals
// the high watermark on every partition), so that reading to the end with
// read_committed reads everything committed.
inline bool WaitStable(const std::string& bootstrap, const std::string& topic,
                       const Deadline& deadline) {
  while (!deadline.expired()) {
    auto lso = kafka::HighWatermarks(
        {{"bootstrap.servers", bootstrap}, {"isolation.level", "read_committed"}}, topic,
        milliseconds(deadline.slice_ms(10000)));
    auto hw = kafka::HighWatermarks(
        {{"bootstrap.servers", bootstrap}, {"isolation.level", "read_uncommitted"}}, topic,
        milliseconds(deadline.slice_ms(10000)));
    if (lso.ok() && hw.ok() && lso.value().size() == hw.value().size()) {
      bool equal = true;
      for (size_t i = 0; i < hw.value().size(); ++i) {
        equal = equal && lso.value()[i].high == hw.value()[i].high;
      }
      if (equal) return true;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return false;
}

// Every committed record of `topic`, read from the beginning to the end of
// every partition (call once nothing writes to it any more).
inline bool Drain(const std::string& bootstrap, const std::string& topic, const Deadline& deadline,
                  std::vector<kafka::testing::Record>* out, std::string* error) {
  out->clear();
  if (!WaitStable(bootstrap, topic, deadline)) {
    *error = topic + ": transactions still open at the deadline";
    return false;
  }
  auto parts = kafka::ListPartitions({{"bootstrap.servers", bootstrap}}, topic, seconds(10));
  if (!parts.ok()) {
    *error = parts.error();
    return false;
  }
  std::string err;
  auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap},
                               {"group.id", "faults-drain-" + std::to_string(::getpid())},
                               {"log_level", "2"},
                               {"isolation.level", "read_committed"},
                               {"enable.partition.eof", "true"},
                               {"enable.auto.commit", "false"}},
                              &err);
  std::string errstr;
  kafka::KafkaConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer) {
    *error = errstr;
    return false;
  }
  kafka::TopicPartitionList tpl;
  for (int32_t p : parts.value()) tpl.Add(topic, p, RdKafka::Topic::OFFSET_BEGINNING);
  consumer->assign(tpl.get());
  std::set<int32_t> eof;
  while (eof.size() < parts.value().size()) {
    if (deadline.expired()) {
      *error = topic + ": not read to the end before the deadline";
      return false;
    }
    kafka::MessagePtr m(consumer->consume(deadline.slice_ms(200)));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      eof.erase(m->partition());
      out->push_back({m->partition(), m->offset(), m->key() ? *m->key() : std::string(),
                      std::string(static_cast<const char*>(m->payload()), m->len())});
    } else if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      eof.insert(m->partition());
    }
  }
  return true;
}

}  // namespace dedupd::faults
