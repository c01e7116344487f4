// Helpers of the operations stack test (tests/e2e/ops_stack_test.cc): a child
// server process that is always stopped (daemon, Prometheus, Alertmanager),
// started on a free loopback port until ready, a plain HTTP GET on loopback,
// the Prometheus query API, and small file helpers.
//
//   auto prom = StartServer("prometheus", argv_for_port, log, "/-/ready", seconds(60), &port);
//   auto result = PromQuery(port, "sum by (verdict) (dedupd_pages_total)");
//
// ServerProcess sends SIGTERM, then SIGKILL after a grace period, from its
// destructor, so a failing ASSERT never leaves a server running; the child also
// gets SIGTERM from the kernel if the test process dies (PR_SET_PDEATHSIG).
// Only the process it started is signalled, by pid.
// Thread-safety: none; use from the test thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dedupd::e2e::ops {

using Clock = std::chrono::steady_clock;

class ServerProcess {
 public:
  ServerProcess(std::string name, std::vector<std::string> argv, const std::string& log_path)
      : name_(std::move(name)) {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with the test process, even if it is killed (ctest timeout).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(127);
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      // No inherited sockets (broker connections, the webhook's listener).
      ::close_range(3, ~0U, 0);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
  }
  ~ServerProcess() { Stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& name() const { return name_; }
  bool started() const { return pid_ > 0; }
  bool Alive() {
    if (pid_ <= 0 || exited_) return false;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }
  // SIGTERM, up to `grace` for the exit, then SIGKILL. Returns the exit code,
  // 128+signal, or -1 if it was never started.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    if (pid_ <= 0) return -1;
    if (!exited_) {
      ::kill(pid_, SIGTERM);
      const auto end = Clock::now() + grace;
      while (Alive() && Clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!exited_) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        exited_ = true;
      }
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

// HTTP/1.0 GET on 127.0.0.1 (so the answer is never chunked). Returns the
// status, 0 when nothing answers; the body in *body.
inline int HttpGet10(int port, const std::string& path, std::string* body, int timeout_ms = 5000) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return 0;
  }
  std::string resp;
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (resp.size() < 12 || resp.rfind("HTTP/", 0) != 0) return 0;
  size_t head_end = resp.find("\r\n\r\n");
  if (body != nullptr) *body = head_end == std::string::npos ? "" : resp.substr(head_end + 4);
  return std::atoi(resp.c_str() + 9);
}

// Polls GET path until it answers 200; false at the deadline or when the
// process has exited.
inline bool WaitHttpOk(int port, const std::string& path, ServerProcess& process,
                       std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (HttpGet10(port, path, nullptr, 2000) == 200) return true;
    if (!process.Alive()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// A port that was free on 127.0.0.1 a moment ago (bound to port 0, then closed).
inline int LoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// Starts a server on a free loopback port and waits until GET `ready_path`
// answers 200. Another process may take the port between LoopbackPort() and
// the server's bind, so a server that exits before it is ready is started
// again on a new port (3 attempts). nullptr when it never got ready (the log
// says why); otherwise *port is where it listens.
inline std::unique_ptr<ServerProcess> StartServer(
    const std::string& name, const std::function<std::vector<std::string>(int port)>& argv,
    const std::string& log_path, const std::string& ready_path, std::chrono::milliseconds timeout,
    int* port) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    *port = LoopbackPort();
    auto server = std::make_unique<ServerProcess>(name, argv(*port), log_path);
    if (!server->started()) return nullptr;
    if (WaitHttpOk(*port, ready_path, *server, timeout)) return server;
    if (server->Alive()) return nullptr;  // running but never ready: not a port clash
  }
  return nullptr;
}

inline std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct QueryResult {
  bool ok = false;
  std::string error;  // transport, HTTP or Prometheus error
  std::vector<Sample> samples;
};

// An instant query through Prometheus's HTTP API (/api/v1/query), vector results.
inline QueryResult PromQuery(int port, const std::string& promql) {
  QueryResult out;
  std::string body;
  int status = HttpGet10(port, "/api/v1/query?query=" + UrlEncode(promql), &body);
  if (status != 200) {
    out.error = "HTTP " + std::to_string(status) + ": " + body;
    return out;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) {
    out.error = "invalid JSON: " + body;
    return out;
  }
  std::string_view s;
  if (root["status"].get(s) != simdjson::SUCCESS || s != "success") {
    out.error = "query failed: " + body;
    return out;
  }
  simdjson::dom::array result;
  if (root["data"]["result"].get(result) != simdjson::SUCCESS) {
    out.error = "no data.result: " + body;
    return out;
  }
  for (auto element : result) {
    Sample sample;
    simdjson::dom::object metric;
    if (element["metric"].get(metric) == simdjson::SUCCESS) {
      for (auto field : metric) {
        std::string_view v;
        if (field.value.get(v) == simdjson::SUCCESS) sample.labels[std::string(field.key)] = v;
      }
    }
    std::string_view value;
    if (element["value"].at(1).get(value) == simdjson::SUCCESS) {
      sample.value = std::strtod(std::string(value).c_str(), nullptr);
    }
    out.samples.push_back(std::move(sample));
  }
  out.ok = true;
  return out;
}

// label value -> sample value for a query aggregated by one label.
inline std::map<std::string, double> ByLabel(const QueryResult& r, const std::string& label) {
  std::map<std::string, double> out;
  for (const auto& s : r.samples) {
    auto it = s.labels.find(label);
    out[it == s.labels.end() ? "" : it->second] = s.value;
  }
  return out;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `lines` lines of a log, for failure messages.
inline std::string Tail(const std::string& path, size_t lines = 40) {
  std::string text = ReadFile(path);
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  return text.substr(pos);
}

// Runs a command to completion (bounded: SIGKILL at the deadline), output
// into `log_path`. Returns the exit code, 128+signal, or -1 on timeout.
inline int RunCommand(std::vector<std::string> argv, const std::string& log_path,
                      std::chrono::milliseconds timeout) {
  std::string name = argv.at(0);
  ServerProcess p(name, std::move(argv), log_path);
  const auto end = Clock::now() + timeout;
  while (p.Alive() && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (p.Alive()) {
    p.Stop(std::chrono::milliseconds(0));
    return -1;
  }
  return p.Stop();
}

}  // namespace dedupd::e2e::ops
