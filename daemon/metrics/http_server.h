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
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace dedupd::metrics {

struct HttpRequest {
  std::string method;
  std::string path;                                // without the query
  std::string query;                               // raw, after '?'
  std::multimap<std::string, std::string> params;  // query parameters, percent-decoded
  std::map<std::string, std::string> headers;      // names lower-cased
  std::string remote;
  // The first value of a query parameter; nullptr when absent.
  const std::string* Param(std::string_view name) const;
};

struct HttpResponse {
  // A constructor rather than an aggregate, so that the existing three-value
  // forms HttpResponse{200, "text/plain", "ok\n"} stay warning-free.
  HttpResponse(int status_ = 200, std::string content_type_ = "text/plain; charset=utf-8",
               std::string body_ = {},
               std::vector<std::pair<std::string, std::string>> headers_ = {})
      : status(status_),
        content_type(std::move(content_type_)),
        body(std::move(body_)),
        headers(std::move(headers_)) {}
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Percent-decoding of a query component ('+' is a space); invalid escapes are
// kept as they are.
std::string PercentDecode(std::string_view in);
// Splits "a=1&b=x%20y" into decoded pairs.
std::multimap<std::string, std::string> ParseQuery(std::string_view query);

class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Handle(const std::string& path, std::function<HttpResponse()> handler);
  void Handle(const std::string& path, HttpHandler handler);
  // Every path that starts with `prefix` (the longest matching prefix wins;
  // exact Handle() paths first).
  void HandlePrefix(const std::string& prefix, HttpHandler handler);
  bool Start(const std::string& bind, int port, std::string* error);
  void Stop();
  int port() const { return port_; }

 private:
  void Serve();
  void ServeOne(int fd);

  std::map<std::string, HttpHandler> handlers_;
  std::map<std::string, HttpHandler> prefix_handlers_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dedupd::metrics
