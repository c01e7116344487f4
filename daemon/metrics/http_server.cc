#include "metrics/http_server.h"

#include <civetweb.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>

#include "common/json.h"

namespace dedupd::metrics {
namespace {

std::string_view StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void Send(mg_connection* conn, const HttpResponse& response, bool head_only) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     std::string(StatusText(response.status)) +
                     "\r\nContent-Type: " + response.content_type +
                     "\r\nContent-Length: " + std::to_string(response.body.size());
  for (const auto& [name, value] : response.headers) {
    // A header value with a line break would split the response: drop it.
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    head += "\r\n" + name + ": " + value;
  }
  head += "\r\nConnection: close\r\n\r\n";
  mg_write(conn, head.data(), head.size());
  if (!head_only && !response.body.empty()) {
    mg_write(conn, response.body.data(), response.body.size());
  }
}

// civetweb's own errors (request head too large, malformed request, timeout)
// get the same JSON body as ours.
int OnHttpError(mg_connection* conn, int status, const char* message) {
  Send(conn, JsonError(status, message ? message : StatusText(status)), false);
  return 0;
}

int OnLogMessage(const mg_connection*, const char*) {
  return 1;  // civetweb's messages are about single bad requests: not logged
}

}  // namespace

const std::string* HttpRequest::Param(std::string_view name) const {
  auto it = params.find(std::string(name));
  return it == params.end() ? nullptr : &it->second;
}

HttpResponse JsonError(int status, std::string_view message) {
  std::string body = "{\"error\":\"";
  AppendJsonEscaped(&body, message);
  body += "\",\"status\":" + std::to_string(status) + "}\n";
  return HttpResponse{status, "application/json", std::move(body), {}};
}

// application/x-www-form-urlencoded decoding: %XX and '+' as a space; a
// malformed escape is kept as written.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    params.emplace(PercentDecode(key), PercentDecode(value));
  }
  return params;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Handle(const std::string& path, std::function<HttpResponse()> handler) {
  handlers_[path] = [h = std::move(handler)](const HttpRequest&) { return h(); };
}

void HttpServer::Handle(const std::string& path, Handler handler) {
  handlers_[path] = std::move(handler);
}

void HttpServer::HandlePrefix(const std::string& prefix, Handler handler) {
  prefix_handlers_[prefix] = std::move(handler);
}

HttpResponse HttpServer::Dispatch(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = JsonError(405, "method not allowed: only GET and HEAD");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (request.query.size() > static_cast<size_t>(options_.max_query_bytes)) {
    return JsonError(414,
                     "query longer than " + std::to_string(options_.max_query_bytes) + " bytes");
  }
  if (auto it = handlers_.find(request.path); it != handlers_.end()) return it->second(request);
  // The longest matching prefix: the last one not greater than the path.
  const Handler* best = nullptr;
  size_t best_len = 0;
  for (const auto& [prefix, handler] : prefix_handlers_) {
    if (request.path.compare(0, prefix.size(), prefix) == 0 && prefix.size() >= best_len) {
      best = &handler;
      best_len = prefix.size();
    }
  }
  if (best) return (*best)(request);
  return JsonError(404, "no such endpoint: " + request.path);
}

int HttpServer::OnRequest(mg_connection* conn, void* self) {
  const auto* server = static_cast<const HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest request;
  request.method = info->request_method ? info->request_method : "";
  request.path = info->local_uri ? info->local_uri : "";
  request.query = info->query_string ? info->query_string : "";
  if (request.query.size() <= static_cast<size_t>(server->options_.max_query_bytes)) {
    request.params = ParseQuery(request.query);
  }
  for (int i = 0; i < info->num_headers; ++i) {
    std::string name = info->http_headers[i].name ? info->http_headers[i].name : "";
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    request.headers.emplace(std::move(name),
                            info->http_headers[i].value ? info->http_headers[i].value : "");
  }
  request.remote = std::string(info->remote_addr) + ":" + std::to_string(info->remote_port);
  HttpResponse response = server->Dispatch(request);
  Send(conn, response, request.method == "HEAD");
  return response.status;
}

bool HttpServer::Start(const std::string& bind, int port, std::string* error) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  // civetweb reads IPv4 addresses as "a.b.c.d:port"; anything else would be
  // taken for a host name or an IPv6 literal, so refuse it here.
  unsigned a, b, c, d;
  char extra;
  if (std::sscanf(bind.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4 || a > 255 ||
      b > 255 || c > 255 || d > 255) {
    *error = "metrics.bind = '" + bind + "': expected an IPv4 address";
    return false;
  }
  const std::string ports = bind + ":" + std::to_string(port);
  const std::string threads = std::to_string(options_.threads);
  const std::string max_request = std::to_string(options_.max_request_bytes);
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  const std::string queue = std::to_string(options_.connection_queue);
  const std::string backlog = std::to_string(options_.listen_backlog);
  const char* opts[] = {"listening_ports",
                        ports.c_str(),
                        "num_threads",
                        threads.c_str(),
                        "max_request_size",
                        max_request.c_str(),
                        "request_timeout_ms",
                        timeout.c_str(),
                        "connection_queue",
                        queue.c_str(),
                        "listen_backlog",
                        backlog.c_str(),
                        "enable_keep_alive",
                        "no",
                        nullptr};
  mg_callbacks callbacks{};
  callbacks.http_error = &OnHttpError;
  callbacks.log_message = &OnLogMessage;
  mg_init_data init_data{};
  init_data.callbacks = &callbacks;
  init_data.user_data = this;
  init_data.configuration_options = opts;
  mg_error_data error_data{};
  char error_text[256] = {0};
  error_data.text = error_text;
  error_data.text_buffer_size = sizeof error_text;
  ctx_ = mg_start2(&init_data, &error_data);
  if (!ctx_) {
    *error = "cannot listen on " + ports + ": " + error_text;
    return false;
  }
  mg_set_request_handler(ctx_, "/", &HttpServer::OnRequest, this);
  mg_server_port server_ports[1]{};
  if (mg_get_server_ports(ctx_, 1, server_ports) < 1) {
    Stop();
    *error = "cannot listen on " + ports + ": no listening port";
    return false;
  }
  port_ = server_ports[0].port;
  return true;
}

void HttpServer::Stop() {
  if (ctx_) {
    mg_stop(ctx_);
    ctx_ = nullptr;
  }
}

}  // namespace dedupd::metrics
