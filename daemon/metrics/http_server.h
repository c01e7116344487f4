// A small HTTP/1.1 server for /metrics, /healthz and /readyz on one thread.
// prometheus-cpp's Exposer serves only metrics and always answers 200, and
// /readyz must answer 503 until the daemon is ready, so the endpoints share
// this server; /metrics is rendered by prometheus-cpp's TextSerializer.
//
//   HttpServer server;
//   server.Handle("/healthz", [] { return HttpResponse{200, "text/plain", "ok\n"}; });
//   server.Start("127.0.0.1", 9464, &error);   // port 0: any free port
//   int port = server.port();
//
// Thread-safety: Handle() before Start(); handlers run on the server thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace dedupd::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Handle(const std::string& path, std::function<HttpResponse()> handler);
  bool Start(const std::string& bind, int port, std::string* error);
  void Stop();
  int port() const { return port_; }

 private:
  void Serve();
  void ServeOne(int fd);

  std::map<std::string, std::function<HttpResponse()>> handlers_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dedupd::metrics
