#include "alert/alertmanager.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "common/log.h"

namespace dedupd::alert {
namespace {

int SeverityRank(std::string_view s) {
  if (s == "cosmetic" || s == "COSMETIC") return 1;
  if (s == "minor" || s == "MINOR") return 2;
  if (s == "major" || s == "MAJOR") return 3;
  return 0;
}

std::string_view SeverityLabel(v1::Severity s) {
  switch (s) {
    case v1::COSMETIC: return "cosmetic";
    case v1::MINOR: return "minor";
    case v1::MAJOR: return "major";
    case v1::SEVERITY_UNSPECIFIED:
    case v1::Severity_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::Severity_INT_MAX_SENTINEL_DO_NOT_USE_: break;
  }
  return "unknown";
}

void JsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  AppendJsonEscaped(out, s);
  out->push_back('"');
}

// Cuts a UTF-8 string to at most `max` bytes on a character boundary.
std::string Clip(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end)) + "…";
}

// A short, human-readable summary of what changed: the first changed
// sentences with their edits marked [-old-]{+new+}.
std::string DiffSummary(const v1::PageDiff& diff) {
  std::string out;
  const auto& s = diff.significance();
  out += std::to_string(s.sentences_changed()) + " changed, " +
         std::to_string(s.sentences_added()) + " added, " + std::to_string(s.sentences_removed()) +
         " removed sentence(s)";
  if (s.numbers_changed()) out += "; numbers changed";
  if (s.dates_changed()) out += "; dates changed";
  if (s.amounts_changed()) out += "; amounts changed";
  int shown = 0;
  for (const auto& h : diff.hunks()) {
    for (int i = 0; i < h.new_text_size() && shown < 3; ++i, ++shown) {
      out += "\n+ " + Clip(h.new_text(i), 300);
    }
    for (int i = h.new_text_size(); i < h.old_text_size() && shown < 3; ++i, ++shown) {
      out += "\n- " + Clip(h.old_text(i), 300);
    }
  }
  return out;
}

struct ParsedUrl {
  std::string host;
  std::string port = "80";
  std::string path;
};

bool ParseHttpUrl(const std::string& url, ParsedUrl* out) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return false;
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out->path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out->path.empty() && out->path.back() == '/') out->path.pop_back();
  out->path += "/api/v2/alerts";
  // host, host:port, [v6], [v6]:port
  size_t bracket = authority.rfind(']');
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    out->host = authority.substr(0, colon);
    out->port = authority.substr(colon + 1);
  } else {
    out->host = authority;
  }
  if (out->host.size() >= 2 && out->host.front() == '[' && out->host.back() == ']') {
    out->host = out->host.substr(1, out->host.size() - 2);
  }
  return !out->host.empty() && !out->port.empty();
}

// One HTTP/1.1 POST; returns the status code, 0 on a transport error.
int Post(const ParsedUrl& url, const std::string& body, int timeout_ms, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res); rc != 0) {
    *error = std::string("resolve: ") + gai_strerror(rc);
    return 0;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    *error = "connect to " + url.host + ":" + url.port + " failed: " + std::strerror(errno);
    return 0;
  }
  std::string request =
      "POST " + url.path + " HTTP/1.1\r\nHost: " + url.host + ":" + url.port +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      *error = std::string("send: ") + std::strerror(errno);
      ::close(fd);
      return 0;
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[2048];
  while (response.find("\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (response.size() < 12 || response.rfind("HTTP/", 0) != 0) {
    *error = "no HTTP response";
    return 0;
  }
  return std::atoi(response.c_str() + 9);
}

}  // namespace

class AlertmanagerNotifier::Impl {
 public:
  Impl(AlertmanagerOptions options, metrics::Metrics* metrics)
      : options_(std::move(options)), metrics_(metrics) {
    valid_url_ = ParseHttpUrl(options_.url, &url_);
    if (!valid_url_) {
      log::Error("alertmanager.url must be an http:// URL; alerts will be dropped",
                 {{"url", options_.url}});
    }
  }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

  // Stops taking new alerts and drains the queue: each batch gets one attempt
  // (no retries while stopping) until timeout_ms after the call; what is left
  // then is dropped and counted, so shutdown is bounded by about twice
  // timeout_ms (the last attempt's own socket timeout).
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        stopping_ = true;
        drain_deadline_ =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
      }
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void Enqueue(const v1::PageEvent& event, const v1::PageDiff& diff) {
    if (event.verdict() != v1::REVISED) return;
    for (int f : event.flags()) {
      if (f == v1::REVERTED) return;  // a flip-flop: published as a diff, no alert
    }
    std::string_view severity = SeverityLabel(diff.significance().severity());
    if (SeverityRank(severity) < SeverityRank(options_.min_severity)) return;
    std::string alert;
    alert += "{\"labels\":{\"alertname\":\"DedupdReleaseEdited\",\"url\":";
    JsonString(&alert, event.canonical_url());
    alert += ",\"site\":";
    JsonString(&alert, event.site());
    alert += ",\"edit_severity\":";
    JsonString(&alert, severity);
    alert += ",\"severity\":";
    JsonString(&alert, severity == "major" ? "page" : "ticket");
    alert += ",\"version\":";
    JsonString(&alert, std::to_string(event.version()));
    alert += "},\"annotations\":{\"summary\":";
    JsonString(&alert,
               "Release edited after publication: " +
                   Clip(event.title().empty() ? event.canonical_url() : event.title(), 200));
    alert += ",\"description\":";
    JsonString(&alert, DiffSummary(diff));
    alert += ",\"diff\":";
    JsonString(&alert, Clip(diff.unified(), 4000));
    alert += ",\"event_id\":";
    JsonString(&alert, event.event_id());
    alert += "}}";
    std::lock_guard lock(mu_);
    // After Stop() nothing would send it; overflow keeps memory bounded.
    if (stopping_ || queue_.size() >= options_.max_queue) {
      metrics_->CountAlertmanagerPost("dropped");
      return;
    }
    queue_.push_back(std::move(alert));
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::vector<std::string> batch;
      bool drain_expired = false;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        while (!queue_.empty() && batch.size() < options_.batch_size) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        drain_expired = stopping_ && std::chrono::steady_clock::now() >= drain_deadline_;
      }
      if (drain_expired) {
        metrics_->CountAlertmanagerPost("dropped");
        log::Warn("alerts dropped at shutdown: drain timeout reached",
                  {{"alerts", std::to_string(batch.size())}});
        continue;
      }
      Send(batch);
    }
  }

  void Send(const std::vector<std::string>& batch) {
    std::string body = "[";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i > 0) body.push_back(',');
      body += batch[i];
    }
    body.push_back(']');
    std::string error = "invalid alertmanager.url";
    for (int attempt = 0; valid_url_ && attempt <= options_.retries; ++attempt) {
      int status = Post(url_, body, options_.timeout_ms, &error);
      if (status >= 200 && status < 300) {
        metrics_->CountAlertmanagerPost("ok");
        return;
      }
      if (status != 0) error = "HTTP " + std::to_string(status);
      metrics_->CountAlertmanagerPost("error");
      // A client error (bad JSON, bad labels) will not get better on retry;
      // 408 and 429 (a proxy's timeout or rate limit) may.
      if (status >= 400 && status < 500 && status != 408 && status != 429) break;
      if (attempt == options_.retries) break;  // no pointless backoff after the last try
      // Backoff. Only Stop() may cut it short: Enqueue() notifies the same
      // condition variable, and waking on that would turn a burst of edits
      // into a burst of retries against a failing Alertmanager.
      std::unique_lock lock(mu_);
      if (stopping_) break;
      if (cv_.wait_for(lock, std::chrono::milliseconds(250 << std::min(attempt, 5)),
                       [this] { return stopping_; })) {
        break;  // stopping: this batch had its attempt
      }
    }
    metrics_->CountAlertmanagerPost("dropped");
    log::Warn("alerts dropped after retries",
              {{"alerts", std::to_string(batch.size())}, {"error", error}});
  }

  AlertmanagerOptions options_;
  metrics::Metrics* metrics_;
  ParsedUrl url_;
  bool valid_url_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::thread thread_;
};

AlertmanagerNotifier::AlertmanagerNotifier(AlertmanagerOptions options, metrics::Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}
AlertmanagerNotifier::~AlertmanagerNotifier() {
  impl_->Stop();
}
void AlertmanagerNotifier::Start() {
  impl_->Start();
}
void AlertmanagerNotifier::Stop() {
  impl_->Stop();
}
void AlertmanagerNotifier::Enqueue(const v1::PageEvent& event, const v1::PageDiff& diff) {
  impl_->Enqueue(event, diff);
}

}  // namespace dedupd::alert
