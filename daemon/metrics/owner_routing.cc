#include "metrics/owner_routing.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <utility>

#include "common/json.h"

namespace dedupd::metrics {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  // An owner answer is a few hundred bytes; anything larger is not one.
  if (body->size() + size * n > 65536) return 0;
  body->append(data, size * n);
  return size * n;
}

// The "owner" string of an /v1/owner answer (our own format: the value is a
// URL, JSON-escaped), or empty.
std::string OwnerField(const std::string& body) {
  static constexpr std::string_view kKey = "\"owner\":\"";
  size_t at = body.find(kKey);
  if (at == std::string::npos) return "";
  std::string out;
  for (size_t i = at + kKey.size(); i < body.size(); ++i) {
    char c = body[i];
    if (c == '"') return out;
    if (c == '\\' && i + 1 < body.size()) c = body[++i];
    out.push_back(c);
  }
  return "";
}

struct CurlMultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct CurlEasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};

}  // namespace

OwnerRouter::OwnerRouter(OwnerRoutingOptions options, OwnsUrl owns)
    : options_(std::move(options)), owns_(std::move(owns)) {}

HttpResponse OwnerRouter::OwnerEndpoint(const HttpRequest& request) const {
  const std::string* url = request.Param("url");
  if (url == nullptr || url->empty()) return JsonError(400, "missing parameter: url");
  if (!owns_ || !owns_(*url)) return JsonError(404, "not owned by this instance: " + *url);
  std::string body = "{\"url\":\"";
  AppendJsonEscaped(&body, *url);
  body += "\",\"owner\":\"";
  AppendJsonEscaped(&body, options_.self_url);
  body += "\"}\n";
  return HttpResponse{200, "application/json", std::move(body)};
}

void OwnerRouter::Register(HttpServer* server) const {
  server->Handle("/v1/owner", [this](const HttpRequest& r) { return OwnerEndpoint(r); });
  server->Handle("/v1/locate", RouteToOwner([this](const HttpRequest& r) {
                   const std::string* url = r.Param("url");
                   if (url == nullptr || url->empty()) {
                     return JsonError(400, "missing parameter: url");
                   }
                   if (!owns_ || !owns_(*url)) {
                     return JsonError(404, "no instance owns this URL: " + *url);
                   }
                   std::string body = "{\"url\":\"";
                   AppendJsonEscaped(&body, *url);
                   body += "\",\"instance\":\"";
                   AppendJsonEscaped(&body, options_.self_url);
                   body += "\",\"owned\":true}\n";
                   return HttpResponse{200, "application/json", std::move(body)};
                 }));
}

HttpServer::Handler OwnerRouter::RouteToOwner(HttpServer::Handler handler) const {
  return [this, handler = std::move(handler)](const HttpRequest& request) {
    const std::string* url = request.Param("url");
    if (url == nullptr || url->empty() || (owns_ && owns_(*url))) return handler(request);
    if (auto owner = FindOwner(*url)) {
      std::string location = *owner + request.path;
      if (!request.query.empty()) location += "?" + request.query;
      std::string body = "{\"url\":\"";
      AppendJsonEscaped(&body, *url);
      body += "\",\"owner\":\"";
      AppendJsonEscaped(&body, *owner);
      body += "\",\"location\":\"";
      AppendJsonEscaped(&body, location);
      body += "\"}\n";
      return HttpResponse{307, "application/json", std::move(body), {{"Location", location}}};
    }
    HttpResponse local = handler(request);
    local.headers.emplace_back("X-Dedupd-Answered-By", "replica");
    return local;
  };
}

std::optional<std::string> OwnerRouter::FindOwner(const std::string& url) const {
  if (options_.peers.empty()) return std::nullopt;
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURLM, CurlMultiDeleter> multi(curl_multi_init());
  if (!multi) return std::nullopt;
  const std::string query = "/v1/owner?url=" + PercentEncode(url);
  struct Ask {
    std::unique_ptr<CURL, CurlEasyDeleter> easy;
    std::string target;
    std::string body;
  };
  std::vector<Ask> asks(options_.peers.size());
  const long timeout_ms = static_cast<long>(options_.peer_timeout.count());
  for (size_t i = 0; i < options_.peers.size(); ++i) {
    Ask& a = asks[i];
    a.easy.reset(curl_easy_init());
    if (!a.easy) continue;
    a.target = options_.peers[i] + query;
    CURL* e = a.easy.get();
    curl_easy_setopt(e, CURLOPT_URL, a.target.c_str());
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &a);
    curl_multi_add_handle(multi.get(), e);
  }
  // Bounded: every transfer ends by its own timeout; the loop also stops at
  // twice the timeout whatever curl does.
  const auto deadline = std::chrono::steady_clock::now() + 2 * options_.peer_timeout;
  std::optional<std::string> owner;
  int running = 1;
  while (running > 0 && !owner && std::chrono::steady_clock::now() < deadline) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg != CURLMSG_DONE || msg->data.result != CURLE_OK) continue;
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      Ask* a = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &a);
      if (status == 200 && a != nullptr) {
        std::string base = OwnerField(a->body);
        if (!base.empty()) owner = std::move(base);
      }
    }
    if (running > 0 && !owner) curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
  }
  for (auto& a : asks) {
    if (a.easy) curl_multi_remove_handle(multi.get(), a.easy.get());
  }
  return owner;
}

}  // namespace dedupd::metrics
