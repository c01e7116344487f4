// The daemon's HTTP server: /metrics, /healthz, /readyz and the read-only API
// (/v1/*, /ui/*), on civetweb (Debian libcivetweb-dev, the library
// prometheus-cpp's exposer is built on; docs/api.md "Server" says why).
// prometheus-cpp's Exposer serves only metrics and always answers 200, and
// /readyz must answer 503 until the daemon is ready, so every endpoint shares
// this server; /metrics is rendered by prometheus-cpp's TextSerializer.
//
//   HttpServer server;                       // or HttpServer(options)
//   server.Handle("/healthz", [] { return HttpResponse{200, "text/plain", "ok\n"}; });
//   server.Handle("/v1/pages", [](const HttpRequest& req) {
//     const std::string* url = req.Param("url");
//     if (!url) return JsonError(400, "missing parameter: url");
//     ...
//   });
//   server.HandlePrefix("/ui/", [](const HttpRequest& req) { ... });
//   server.Start("127.0.0.1", 9464, &error);   // port 0: any free port
//   int port = server.port();
//
// Bounds (HttpServerOptions): the request head (request line + headers) is at
// most max_request_bytes, the query string at most max_query_bytes (longer:
// 414 with a JSON error), reading a request and writing a response each give
// up after request_timeout_ms, at most `threads` connections are served at
// once (each holds one worker thread; more wait in a queue, then in the
// kernel's listen backlog). Only GET and HEAD reach handlers; other methods
// get 405 with a JSON error; unknown paths get 404 with a JSON error.
//
// Thread-safety: Handle()/HandlePrefix() before Start(). Handlers run on the
// server's worker threads, CONCURRENTLY (several requests at once, also
// several calls of the same handler), so they must be thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct mg_context;
struct mg_connection;

namespace dedupd::metrics {

struct HttpResponse {
  HttpResponse() = default;
  // HttpResponse{200, "text/plain", "ok\n"} and with headers as a 4th field.
  HttpResponse(int status_code, std::string type, std::string text,
               std::vector<std::pair<std::string, std::string>> extra_headers = {})
      : status(status_code),
        content_type(std::move(type)),
        body(std::move(text)),
        headers(std::move(extra_headers)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra response headers, e.g. {"Location", "http://..."} or
  // {"Cache-Control", "no-store"}. Content-Type and Content-Length are set
  // from the fields above.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpRequest {
  std::string method;  // "GET" or "HEAD" (nothing else reaches a handler)
  std::string path;    // percent-decoded path, without the query
  std::string query;   // raw query string, without '?'; may be empty
  // Percent-decoded query parameters ('+' is a space), in request order.
  std::multimap<std::string, std::string> params;
  // Request headers, names in lower case.
  std::map<std::string, std::string> headers;
  std::string remote;  // client address, "ip:port"

  // The first value of query parameter `name`, or null when absent.
  const std::string* Param(std::string_view name) const;
};

// {"error": message} with the given status and application/json.
HttpResponse JsonError(int status, std::string_view message);

// application/x-www-form-urlencoded decoding of a query component: %XX and
// '+' as a space; a malformed escape is kept as written.
std::string PercentDecode(std::string_view in);
// Splits "a=1&b=x%20y" into decoded pairs, in request order.
std::multimap<std::string, std::string> ParseQuery(std::string_view query);

// Percent-encodes everything outside RFC 3986's unreserved set (for links:
// "a b&c" -> "a%20b%26c").
std::string PercentEncode(std::string_view s);

struct HttpServerOptions {
  int threads = 256;               // connections served at once
  int max_request_bytes = 16384;   // request line + headers
  int max_query_bytes = 8192;      // query string; longer gets 414
  int request_timeout_ms = 10000;  // reading a request head, writing a response
  int connection_queue = 64;       // accepted connections waiting for a worker
  int listen_backlog = 256;        // kernel queue of not yet accepted ones
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer() = default;
  explicit HttpServer(HttpServerOptions options) : options_(options) {}
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Exact path match.
  void Handle(const std::string& path, std::function<HttpResponse()> handler);
  void Handle(const std::string& path, Handler handler);
  // Every path starting with `prefix` (e.g. "/ui/"); the longest prefix wins,
  // an exact Handle() wins over any prefix.
  void HandlePrefix(const std::string& prefix, Handler handler);

  bool Start(const std::string& bind, int port, std::string* error);
  void Stop();
  int port() const { return port_; }
  const HttpServerOptions& options() const { return options_; }

  // Answers one request as the server would (routing, method and size
  // checks); public so that tests and the civetweb callback share it.
  HttpResponse Dispatch(const HttpRequest& request) const;

 private:
  static int OnRequest(mg_connection* conn, void* self);

  HttpServerOptions options_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, Handler> prefix_handlers_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace dedupd::metrics
