// A tiny HTTP/1.1 server for tests: listens on 127.0.0.1, port 0 (the kernel
// picks a free one), records every request (method, path, headers, body,
// arrival time) and answers each with the next scripted status, then with the
// default status. It stands in for Alertmanager in the notifier's unit tests
// and is the webhook receiver of the e2e stack test.
//
//   RecordingHttpServer server;                 // listening once constructed
//   server.Script({503, 200});                  // first 503, then 200 (default)
//   ASSERT_TRUE(server.WaitForRequests(2, std::chrono::seconds(10)));
//
// One connection at a time, `Connection: close` on every answer. A request is
// recorded before it is answered, so a client that got its answer can rely on
// the request being in Requests(). Bodies sent with Content-Length or chunked
// are read; anything malformed closes the connection unrecorded.
// Thread-safety: every public method may be called from any thread; the
// serving thread is stopped and joined by the destructor.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dedupd::testing {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  int status = 0;  // what the server answered
  std::chrono::steady_clock::time_point received;
};

class RecordingHttpServer {
 public:
  explicit RecordingHttpServer(int default_status = 200) : default_status_(default_status) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0) {
      Close();
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RecordingHttpServer() {
    if (wake_[1] >= 0) {
      char c = 'x';
      (void)::write(wake_[1], &c, 1);
    }
    if (thread_.joinable()) thread_.join();
    Close();
  }
  RecordingHttpServer(const RecordingHttpServer&) = delete;
  RecordingHttpServer& operator=(const RecordingHttpServer&) = delete;

  bool listening() const { return port_ != 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The statuses of the next requests, in order; later ones get the default.
  void Script(std::vector<int> statuses) {
    std::lock_guard lock(mu_);
    script_.assign(statuses.begin(), statuses.end());
  }
  void SetDefaultStatus(int status) {
    std::lock_guard lock(mu_);
    default_status_ = status;
  }

  std::vector<HttpRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t Count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

  // Blocks until `done(requests)` holds or `timeout` passes; returns done's last value.
  bool WaitFor(const std::function<bool(const std::vector<HttpRequest>&)>& done,
               std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done(requests_); });
  }
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
    return WaitFor([n](const std::vector<HttpRequest>& r) { return r.size() >= n; }, timeout);
  }

 private:
  static constexpr size_t kMaxRequestBytes = 64 << 20;

  void Close() {
    for (int* fd : {&listen_fd_, &wake_[0], &wake_[1]}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  void Serve() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & POLLIN) == 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{5, 0};  // a stuck client cannot block the server for long
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      Handle(fd);
      ::close(fd);
    }
  }

  // Reads until `buf` holds at least `n` bytes; false on EOF, error or the size cap.
  static bool Fill(int fd, std::string* buf, size_t n) {
    char chunk[16384];
    while (buf->size() < n) {
      if (n > kMaxRequestBytes) return false;
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buf->append(chunk, static_cast<size_t>(got));
    }
    return true;
  }
  // Reads until `buf` contains `marker` after `from`; returns its position or npos.
  static size_t FillUntil(int fd, std::string* buf, const std::string& marker, size_t from) {
    for (;;) {
      size_t pos = buf->find(marker, from);
      if (pos != std::string::npos) return pos;
      if (!Fill(fd, buf, buf->size() + 1)) return std::string::npos;
    }
  }

  void Handle(int fd) {
    std::string buf;
    size_t head_end = FillUntil(fd, &buf, "\r\n\r\n", 0);
    if (head_end == std::string::npos) return;
    HttpRequest req;
    req.received = std::chrono::steady_clock::now();
    std::string head = buf.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return;
    req.method = request_line.substr(0, sp1);
    req.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    for (size_t pos = line_end; pos != std::string::npos && pos < head.size();) {
      size_t start = pos + 2;
      size_t end = head.find("\r\n", start);
      std::string line = head.substr(start, end == std::string::npos ? end : end - start);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        size_t v = line.find_first_not_of(" \t", colon + 1);
        req.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = end;
    }
    size_t body_start = head_end + 4;
    if (auto te = req.headers.find("transfer-encoding");
        te != req.headers.end() && te->second.find("chunked") != std::string::npos) {
      size_t pos = body_start;
      for (;;) {
        size_t size_end = FillUntil(fd, &buf, "\r\n", pos);
        if (size_end == std::string::npos) return;
        size_t size = std::strtoul(buf.substr(pos, size_end - pos).c_str(), nullptr, 16);
        if (size > kMaxRequestBytes) return;
        if (size == 0) break;
        if (!Fill(fd, &buf, size_end + 2 + size + 2)) return;
        req.body.append(buf, size_end + 2, size);
        pos = size_end + 2 + size + 2;
      }
    } else {
      size_t length = 0;
      if (auto cl = req.headers.find("content-length"); cl != req.headers.end()) {
        length = std::strtoul(cl->second.c_str(), nullptr, 10);
      }
      if (!Fill(fd, &buf, body_start + length)) return;
      req.body = buf.substr(body_start, length);
    }
    int status;
    {
      std::lock_guard lock(mu_);
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      } else {
        status = default_status_;
      }
      req.status = status;
      requests_.push_back(std::move(req));
    }
    cv_.notify_all();
    std::string body = "{}";
    std::string response = "HTTP/1.1 " + std::to_string(status) +
                           " Scripted\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < response.size()) {
      ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  int default_status_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<int> script_;
  std::vector<HttpRequest> requests_;
  std::thread thread_;
};

}  // namespace dedupd::testing
