#include "alert/alertmanager.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
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

// Percent-encodes everything but RFC 3986's unreserved characters, so the
// canonical URL fits in a query parameter or a path segment alike.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
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

// The generatorURL template with {url}, {from} and {to} filled in, in one
// pass (a canonical URL containing "{to}" is encoded, so it cannot be
// replaced again).
std::string GeneratorUrl(std::string_view tmpl, const v1::PageEvent& event,
                         const v1::PageDiff& diff) {
  uint32_t from =
      diff.old_side().version() != 0 ? diff.old_side().version() : event.match().version();
  std::string out;
  while (!tmpl.empty()) {
    if (tmpl.starts_with("{url}")) {
      out += PercentEncode(event.canonical_url());
      tmpl.remove_prefix(5);
    } else if (tmpl.starts_with("{from}")) {
      out += std::to_string(from);
      tmpl.remove_prefix(6);
    } else if (tmpl.starts_with("{to}")) {
      out += std::to_string(event.version());
      tmpl.remove_prefix(4);
    } else {
      out.push_back(tmpl.front());
      tmpl.remove_prefix(1);
    }
  }
  return out;
}

bool IsHttpUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme) && url.size() > scheme.size() && url[scheme.size()] != '/') {
      return true;
    }
  }
  return false;
}

// <base>/api/v2/alerts, with the base's path prefix kept.
std::string Endpoint(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/v2/alerts";
}

// A credential file's content without surrounding white space (a Kubernetes
// Secret written by hand often ends in a newline). The error names the file,
// never the content.
bool ReadCredential(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    *error = "cannot read " + path;
    return false;
  }
  std::string s = text.str();
  size_t begin = s.find_first_not_of(" \t\r\n");
  size_t end = s.find_last_not_of(" \t\r\n");
  *out = begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
  if (out->empty()) {
    *error = path + " is empty";
    return false;
  }
  return true;
}

struct Credentials {
  enum class Kind : uint8_t { kNone, kBasic, kBearer };
  Kind kind = Kind::kNone;
  std::string secret;  // the password or the token
};

// The credentials as of now (files are read again for every batch).
bool LoadCredentials(const AlertmanagerOptions& o, Credentials* out, std::string* error) {
  out->secret.clear();
  if (!o.username.empty()) {
    out->kind = Credentials::Kind::kBasic;
    if (!o.password.empty()) {
      out->secret = o.password;
      return true;
    }
    if (o.password_file.empty()) {
      *error = "alertmanager.username is set without a password";
      return false;
    }
    return ReadCredential(o.password_file, &out->secret, error);
  }
  if (!o.bearer_token.empty() || !o.bearer_token_file.empty()) {
    out->kind = Credentials::Kind::kBearer;
    if (!o.bearer_token.empty()) {
      out->secret = o.bearer_token;
      return true;
    }
    return ReadCredential(o.bearer_token_file, &out->secret, error);
  }
  out->kind = Credentials::Kind::kNone;
  return true;
}

size_t DiscardBody(char*, size_t size, size_t n, void*) {
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One POST through `curl` (reused, so a kept-alive connection is reused too);
// returns the HTTP status, 0 on a transport or TLS error (in *error).
int Post(CURL* curl, const std::string& endpoint, const std::string& body,
         const AlertmanagerOptions& o, const Credentials& creds, std::string* error) {
  curl_easy_reset(curl);
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  // No "Expect: 100-continue" round trip for large batches.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_PROXY, "");     // no proxy from http_proxy / https_proxy
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // several threads: no SIGALRM
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());
  if (o.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  switch (creds.kind) {
    case Credentials::Kind::kNone: break;
    case Credentials::Kind::kBasic:
      curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(curl, CURLOPT_USERNAME, o.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, creds.secret.c_str());
      break;
    case Credentials::Kind::kBearer:
      curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, creds.secret.c_str());
      break;
  }
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    *error = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
    return 0;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return static_cast<int>(status);
}

// One Alertmanager: its own queue, thread and retries, so that one that is
// down holds up none of the others.
class Sender {
 public:
  Sender(std::string url, const AlertmanagerOptions& options, AlertMetrics* metrics)
      : url_(std::move(url)),
        endpoint_(Endpoint(url_)),
        options_(options),
        metrics_(metrics),
        curl_(curl_easy_init()) {
    valid_url_ = IsHttpUrl(url_);
    if (!valid_url_) {
      log::Error("alertmanager.url must be an http:// or https:// URL; alerts will be dropped",
                 {{"url", url_}});
    }
  }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

  void BeginStop(std::chrono::steady_clock::time_point drain_deadline) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        stopping_ = true;
        drain_deadline_ = drain_deadline;
      }
    }
    cv_.notify_all();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  void Enqueue(const std::shared_ptr<const std::string>& alert) {
    std::lock_guard lock(mu_);
    // After Stop() nothing would send it; overflow keeps memory bounded.
    if (stopping_ || queue_.size() >= options_.max_queue) {
      metrics_->CountPost(PostResult::kDropped);
      return;
    }
    queue_.push_back(alert);
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::vector<std::shared_ptr<const std::string>> batch;
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
        metrics_->CountPost(PostResult::kDropped);
        log::Warn("alerts dropped at shutdown: drain timeout reached",
                  {{"url", url_}, {"alerts", std::to_string(batch.size())}});
        continue;
      }
      Send(batch);
    }
  }

  void Send(const std::vector<std::shared_ptr<const std::string>>& batch) {
    std::string body = "[";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i > 0) body.push_back(',');
      body += *batch[i];
    }
    body.push_back(']');
    std::string error = !valid_url_ ? "invalid alertmanager.url" : "curl_easy_init failed";
    for (int attempt = 0; valid_url_ && curl_ && attempt <= options_.retries; ++attempt) {
      Credentials creds;
      int status = 0;
      if (LoadCredentials(options_, &creds, &error)) {
        status = Post(curl_.get(), endpoint_, body, options_, creds, &error);
      }
      if (status >= 200 && status < 300) {
        metrics_->CountPost(PostResult::kOk);
        return;
      }
      if (status != 0) error = "HTTP " + std::to_string(status);
      metrics_->CountPost(PostResult::kError);
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
    metrics_->CountPost(PostResult::kDropped);
    log::Warn("alerts dropped after retries",
              {{"url", url_}, {"alerts", std::to_string(batch.size())}, {"error", error}});
  }

  const std::string url_;
  const std::string endpoint_;
  const AlertmanagerOptions& options_;  // owned by the Impl, which outlives this
  AlertMetrics* metrics_;
  CurlPtr curl_;  // used by thread_ only, once started
  bool valid_url_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::thread thread_;  // last: joined (by Stop) before the members above go
};

}  // namespace

AlertmanagerOptions AlertmanagerOptionsFrom(const config::Settings& cfg) {
  const config::Settings::Alertmanager& am = cfg.alertmanager;
  AlertmanagerOptions a;
  a.urls = am.urls;
  a.min_severity = config::Name(am.min_severity);
  a.batch_size = am.batch_size;
  a.timeout_ms = static_cast<int>(am.timeout.count());
  a.retries = am.retries;
  a.username = am.username;
  a.password = am.password;
  a.password_file = am.password_file;
  a.bearer_token = am.bearer_token;
  a.bearer_token_file = am.bearer_token_file;
  a.ca_file = am.ca_file;
  a.insecure_skip_verify = am.tls_insecure_skip_verify;
  a.generator_url = am.generator_url;
  std::string base = cfg.http.external_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!base.empty()) {
    a.page_url = base + "/ui/page?url={url}&from={from}&to={to}";
    if (a.generator_url.empty()) a.generator_url = a.page_url;
  }
  return a;
}

bool CheckAlertmanagerOptions(const AlertmanagerOptions& o, std::string* error) {
  if (o.urls.empty()) {
    *error = "no Alertmanager URL";
    return false;
  }
  for (const auto& u : o.urls) {
    if (!IsHttpUrl(u)) {
      *error = "'" + u + "' is not an http:// or https:// URL";
      return false;
    }
  }
  if (!o.username.empty() && (!o.bearer_token.empty() || !o.bearer_token_file.empty())) {
    *error = "basic auth and a bearer token are both set";
    return false;
  }
  Credentials creds;
  if (!LoadCredentials(o, &creds, error)) return false;
  if (!o.ca_file.empty()) {
    std::ifstream ca(o.ca_file);
    if (!ca) {
      *error = "cannot read alertmanager.ca_file " + o.ca_file;
      return false;
    }
  }
  return true;
}

class AlertmanagerNotifier::Impl {
 public:
  Impl(AlertmanagerOptions options, AlertMetrics* metrics) : options_(std::move(options)) {
    // Once per process, before any handle; never cleaned up (libcurl's
    // global state lives as long as the process).
    static std::once_flag curl_init;
    std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    for (const auto& url : options_.urls) {
      senders_.push_back(std::make_unique<Sender>(url, options_, metrics));
    }
    if (options_.insecure_skip_verify) {
      log::Warn(
          "alertmanager.tls_insecure_skip_verify is on: https certificates and host names are "
          "NOT verified");
    }
  }

  void Start() {
    for (auto& s : senders_) s->Start();
  }

  // Stops taking new alerts and drains the queues: each batch gets one
  // attempt (no retries while stopping) until timeout_ms after the call; what
  // is left then is dropped and counted, so shutdown is bounded by about
  // twice timeout_ms (the last attempt's own timeout), all senders at once.
  void Stop() {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    for (auto& s : senders_) s->BeginStop(deadline);
    for (auto& s : senders_) s->Join();
  }

  void Enqueue(const v1::PageEvent& event, const v1::PageDiff& diff) {
    if (event.verdict() != v1::REVISED) return;
    for (int f : event.flags()) {
      if (f == v1::REVERTED) return;  // a flip-flop: published as a diff, no alert
    }
    std::string_view severity = SeverityLabel(diff.significance().severity());
    if (SeverityRank(severity) < SeverityRank(options_.min_severity)) return;
    auto alert = std::make_shared<std::string>();
    *alert += "{\"labels\":{\"alertname\":\"DedupdReleaseEdited\",\"url\":";
    JsonString(alert.get(), event.canonical_url());
    *alert += ",\"site\":";
    JsonString(alert.get(), event.site());
    *alert += ",\"edit_severity\":";
    JsonString(alert.get(), severity);
    *alert += ",\"severity\":";
    JsonString(alert.get(), severity == "major" ? "page" : "ticket");
    *alert += ",\"version\":";
    JsonString(alert.get(), std::to_string(event.version()));
    *alert += "},\"annotations\":{\"summary\":";
    JsonString(alert.get(),
               "Release edited after publication: " +
                   Clip(event.title().empty() ? event.canonical_url() : event.title(), 200));
    *alert += ",\"description\":";
    JsonString(alert.get(), DiffSummary(diff));
    *alert += ",\"diff\":";
    JsonString(alert.get(), Clip(diff.unified(), 4000));
    *alert += ",\"event_id\":";
    JsonString(alert.get(), event.event_id());
    if (!options_.page_url.empty()) {
      *alert += ",\"page_url\":";
      JsonString(alert.get(), GeneratorUrl(options_.page_url, event, diff));
    }
    *alert += "}";
    if (!options_.generator_url.empty()) {
      *alert += ",\"generatorURL\":";
      JsonString(alert.get(), GeneratorUrl(options_.generator_url, event, diff));
    }
    *alert += "}";
    std::shared_ptr<const std::string> shared = std::move(alert);
    for (auto& s : senders_) s->Enqueue(shared);
  }

 private:
  AlertmanagerOptions options_;
  std::vector<std::unique_ptr<Sender>> senders_;  // hold a reference to options_
};

AlertmanagerNotifier::AlertmanagerNotifier(AlertmanagerOptions options, AlertMetrics* metrics)
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
