// Runs the real `dedupd run` binary as a child process against the test
// broker, and reads its output topics back with read_committed, decoded with
// the protobuf schemas. Used by the e2e tests of the daemon.
//
//   DaemonProcess d(kDedupdBinary, {"--kafka.bootstrap_servers=" + bootstrap, ...});
//   ASSERT_TRUE(d.WaitReady(std::chrono::seconds(60)));
//   auto events = ReadAll<v1::PageEvent>(bootstrap, topic, 17, deadline);
//   d.Signal(SIGTERM); EXPECT_EQ(d.Wait(), 0);
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/kafka_test_util.h"

namespace dedupd::e2e {

using kafka::testing::Deadline;

// Text that does not compress much: words of pseudo-random letters, with a
// full stop now and then (so that it splits into sentences), the same for the
// same seed.
inline std::string RandomWords(size_t bytes, uint64_t seed) {
  std::string out;
  uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  while (out.size() < bytes) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const size_t len = 3 + (x >> 60) % 7;
    for (size_t i = 0; i < len; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      out.push_back(static_cast<char>('a' + (x >> 33) % 26));
    }
    out += (x >> 20) % 9 == 0 ? ". " : " ";
  }
  return out;
}

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET http://127.0.0.1:port/path -> status code (0 when nothing answers), body.
inline int HttpGet(int port, const std::string& path, std::string* body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (resp.size() < 12) return 0;
  size_t head_end = resp.find("\r\n\r\n");
  if (body != nullptr) *body = head_end == std::string::npos ? "" : resp.substr(head_end + 4);
  return std::atoi(resp.substr(9, 3).c_str());
}

class DaemonProcess {
 public:
  // port: the metrics/HTTP port; 0: a free one.
  DaemonProcess(const std::string& binary, std::vector<std::string> args, const std::string& log,
                int port = 0)
      : log_(log) {
    metrics_port_ = port > 0 ? port : FreePort();
    args.insert(args.begin(), {binary, "run"});
    args.push_back("--metrics.port=" + std::to_string(metrics_port_));
    args.push_back("--metrics.bind=127.0.0.1");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a killed test
      FILE* f = std::freopen(log.c_str(), "a", stderr);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  ~DaemonProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool WaitReady(std::chrono::milliseconds timeout) {
    Deadline deadline(timeout);
    while (!deadline.expired()) {
      if (HttpGet(metrics_port_, "/readyz", nullptr) == 200) return true;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  void Signal(int sig) { ::kill(pid_, sig); }
  // Exit code, or 128+signal; -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    Deadline deadline(timeout);
    while (!deadline.expired()) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  int metrics_port() const { return metrics_port_; }
  std::string Metrics() const {
    std::string body;
    HttpGet(metrics_port_, "/metrics", &body);
    return body;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int metrics_port_ = 0;
  bool exited_ = false;
};

// Reads every committed record of `topic` (all partitions, from the start)
// until at least `expected` arrived and every partition reported its end, or
// the deadline passed.
inline std::vector<kafka::testing::Record> ReadAll(const std::string& bootstrap,
                                                   const std::string& topic, size_t expected,
                                                   std::chrono::milliseconds timeout) {
  Deadline deadline(timeout);
  std::vector<kafka::testing::Record> out;
  while (!deadline.expired()) {
    auto parts =
        kafka::ListPartitions({{"bootstrap.servers", bootstrap}}, topic, std::chrono::seconds(10));
    if (!parts.ok()) continue;
    std::string error;
    auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap},
                                 {"group.id", "e2e-reader-" + std::to_string(::getpid())},
                                 {"isolation.level", "read_committed"},
                                 {"enable.partition.eof", "true"},
                                 {"enable.auto.commit", "false"}},
                                &error);
    std::string errstr;
    kafka::KafkaConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    kafka::TopicPartitionList tpl;
    for (int32_t p : parts.value()) tpl.Add(topic, p, RdKafka::Topic::OFFSET_BEGINNING);
    consumer->assign(tpl.get());
    out.clear();
    std::set<int32_t> eof;
    while (!deadline.expired() && eof.size() < parts.value().size()) {
      kafka::MessagePtr m(consumer->consume(deadline.slice_ms(200)));
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        eof.erase(m->partition());
        out.push_back({m->partition(), m->offset(), m->key() ? *m->key() : std::string(),
                       std::string(static_cast<const char*>(m->payload()), m->len())});
      } else if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        eof.insert(m->partition());
      }
    }
    if (out.size() >= expected) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return out;
}

// The producer of `pages` keys by URL (docs/delivery.md): the "url" of a JSON
// line; malformed lines without one get an empty key.
inline std::string KeyOf(const std::string& line) {
  std::smatch m;
  static const std::regex url(R"re("url"\s*:\s*"([^"]*)")re");
  return std::regex_search(line, m, url) ? m[1].str() : std::string();
}

// One daemon under test: a unique id (consumer group, transactional id and
// prefix of its topics), its state directory and its log file, which is kept
// when the test fails or DEDUPD_E2E_KEEP_LOGS is set.
class DaemonFixture : public kafka::testing::KafkaTest {
 protected:
  explicit DaemonFixture(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    KafkaTest::SetUp();
    id_ = Unique(prefix_);
    state_dir_ = std::filesystem::temp_directory_path() / id_;
    log_ = (std::filesystem::temp_directory_path() / (id_ + ".log")).string();
  }
  void TearDown() override {
    std::filesystem::remove_all(state_dir_);
    if (!HasFailure() && std::getenv("DEDUPD_E2E_KEEP_LOGS") == nullptr) {
      std::filesystem::remove(log_);
    } else {
      std::cerr << "daemon log kept: " << log_ << "\n";
    }
  }
  std::string Topic(const std::string& name) const { return id_ + "-" + name; }
  // `dedupd run` flags for this daemon: its topics, group and state.
  std::vector<std::string> Args(int partitions, const std::string& mode = "exactly_once") const {
    return {"--kafka.bootstrap_servers=" + bootstrap_,
            "--kafka.group_id=" + id_,
            "--kafka.transactional_id=" + id_,
            "--kafka.partitions=" + std::to_string(partitions),
            "--kafka.statistics_interval_ms=1000",
            "--topics.input=" + Topic("pages"),
            "--topics.events=" + Topic("events"),
            "--topics.diffs=" + Topic("diffs"),
            "--topics.dlq=" + Topic("dlq"),
            "--state.dir=" + state_dir_.string(),
            "--processing.mode=" + mode,
            "--processing.commit_interval_ms=200",
            "--shutdown.grace_period_ms=20000"};
  }

  std::string prefix_;
  std::string id_;
  std::filesystem::path state_dir_;
  std::string log_;
};

}  // namespace dedupd::e2e
