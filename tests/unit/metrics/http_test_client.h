// A minimal blocking HTTP/1.1 client for the server tests: one request per
// connection, loopback only, every wait bounded by a deadline.
//
//   HttpResult r = HttpGet(port, "/healthz", std::chrono::seconds(1));
//   EXPECT_EQ(r.status, 200);
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

namespace dedupd::testing {

struct HttpResult {
  int status = 0;  // 0: no complete answer before the deadline
  std::string head;
  std::string body;
  std::chrono::milliseconds elapsed{0};
};

// Starts a loopback connection without waiting for it (non-blocking
// socket), or -1.
inline int StartConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits up to `timeout` for a StartConnect() socket; true once connected.
inline bool WaitConnected(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

// A connected loopback socket (non-blocking), or -1 after `timeout`: a
// server that stopped accepting must not hang the test in connect().
inline int ConnectLoopback(int port, std::chrono::milliseconds timeout) {
  int fd = StartConnect(port);
  if (fd >= 0 && !WaitConnected(fd, timeout)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `raw` as is and reads the answer until the server closes or the
// deadline passes.
inline HttpResult HttpRaw(int port, const std::string& raw, std::chrono::milliseconds deadline) {
  const auto start = std::chrono::steady_clock::now();
  HttpResult result;
  auto left = [&] {
    return deadline - std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start);
  };
  int fd = ConnectLoopback(port, deadline);
  if (fd < 0) return result;
  size_t off = 0;
  while (off < raw.size() && left().count() > 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left().count())) <= 0) break;
    ssize_t n = ::send(fd, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string data;
  char buf[4096];
  while (left().count() > 0) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left().count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos || data.compare(0, 9, "HTTP/1.1 ") != 0) return result;
  result.head = data.substr(0, end);
  result.body = data.substr(end + 4);
  result.status = std::atoi(data.c_str() + 9);
  return result;
}

inline HttpResult HttpGet(int port, const std::string& target, std::chrono::milliseconds deadline,
                          const std::string& method = "GET") {
  return HttpRaw(port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", deadline);
}

}  // namespace dedupd::testing
