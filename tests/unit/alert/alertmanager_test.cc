// AlertmanagerNotifier against a recording HTTP server on loopback: the JSON
// Alertmanager's /api/v2/alerts expects, batching, retries and their limits,
// what is filtered out, the metrics, and that Stop() drains and is bounded.
// Waits are bounded (condition variables with a timeout); no assertion
// depends on how fast the machine is.
#include "alert/alertmanager.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"
#include "unit/alert/recording_http_server.h"

namespace dedupd::alert {
namespace {

using dedupd::testing::HttpRequest;
using dedupd::testing::RecordingHttpServer;
using std::chrono::seconds;
using StringMap = std::map<std::string, std::string>;

constexpr auto kWait = seconds(20);

// The notifier's metrics on the daemon's registry, rendered as /metrics is.
struct TestMetrics {
  metrics::Metrics all;
  AlertMetrics alert{*all.registry()};
  std::string Render() const { return all.Render(); }
};

struct Edit {
  v1::PageEvent event;
  v1::PageDiff diff;
};

Edit Revised(const std::string& url, v1::Severity severity, uint32_t version = 2) {
  Edit e;
  e.event.set_url(url);
  e.event.set_canonical_url(url);
  e.event.set_site("gov.example");
  e.event.set_verdict(v1::REVISED);
  e.event.set_version(version);
  e.event.set_severity(severity);
  e.event.set_title("Budget for " + url);
  e.event.set_event_id("pages/0/" + std::to_string(version));
  e.diff.set_canonical_url(url);
  e.diff.set_verdict(v1::REVISED);
  e.diff.set_unified("-The budget is 5 million.\n+The budget is 6 million.\n");
  e.diff.mutable_significance()->set_severity(severity);
  e.diff.mutable_significance()->set_sentences_changed(1);
  e.diff.mutable_significance()->set_numbers_changed(true);
  auto* hunk = e.diff.add_hunks();
  hunk->set_kind(v1::Hunk::CHANGED);
  hunk->add_old_text("The budget is 5 million.");
  hunk->add_new_text("The budget is 6 million.");
  return e;
}

std::string Url(int i) {
  return "https://gov.example/news/" + std::to_string(i);
}

// The value of dedupd_alertmanager_posts_total{result=...}; 0 when the series
// does not exist (yet).
double Posts(const TestMetrics& m, const std::string& result) {
  std::string text = m.Render();
  std::smatch match;
  std::regex line("(^|\\n)dedupd_alertmanager_posts_total\\{result=\"" + result +
                  "\"\\} ([0-9.e+]+)");
  return std::regex_search(text, match, line) ? std::stod(match[2].str()) : 0.0;
}

// Polls the metrics until `result` reaches `want` (for failures no server sees).
bool WaitForPosts(const TestMetrics& m, const std::string& result, double want) {
  auto end = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < end) {
    if (Posts(m, result) >= want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

struct PostedAlert {
  StringMap labels;
  StringMap annotations;
  std::vector<std::string> keys;  // top-level keys of the alert object
};

StringMap Strings(simdjson::dom::object object) {
  StringMap out;
  for (auto field : object) {
    std::string_view value;
    EXPECT_EQ(field.value.get(value), simdjson::SUCCESS)
        << "Alertmanager wants string values; " << field.key << " is not one";
    out[std::string(field.key)] = std::string(value);
  }
  return out;
}

// Parses a POST body as Alertmanager v2 does: a JSON array of alerts, each an
// object with string maps `labels` and `annotations`.
std::vector<PostedAlert> ParseAlerts(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  simdjson::dom::array array;
  EXPECT_EQ(root.get(array), simdjson::SUCCESS) << "not a JSON array: " << body;
  std::vector<PostedAlert> out;
  for (auto element : array) {
    simdjson::dom::object object;
    EXPECT_EQ(element.get(object), simdjson::SUCCESS);
    PostedAlert alert;
    for (auto field : object) alert.keys.emplace_back(field.key);
    simdjson::dom::object labels, annotations;
    EXPECT_EQ(object["labels"].get(labels), simdjson::SUCCESS);
    EXPECT_EQ(object["annotations"].get(annotations), simdjson::SUCCESS);
    alert.labels = Strings(labels);
    alert.annotations = Strings(annotations);
    out.push_back(std::move(alert));
  }
  return out;
}

std::vector<std::string> UrlsOf(const HttpRequest& request) {
  std::vector<std::string> urls;
  for (const auto& a : ParseAlerts(request.body)) urls.push_back(a.labels.at("url"));
  return urls;
}

AlertmanagerOptions Options(const RecordingHttpServer& server) {
  AlertmanagerOptions o;
  o.urls = {server.url()};
  o.timeout_ms = 5000;
  return o;
}

TEST(AlertmanagerNotifier, PostsOneBatchAsTheJsonArrayAlertmanagerV2Expects) {
  RecordingHttpServer server;
  ASSERT_TRUE(server.listening());
  TestMetrics m;
  AlertmanagerNotifier notifier(Options(server), &m.alert);
  Edit major = Revised(Url(1), v1::MAJOR, 3);
  // A title with everything JSON must escape, and CJK text.
  major.event.set_title("\"Quoted\" \\ title\nwith a tab\t and 成渝地区双城经济圈");
  major.event.set_site("sc.gov.cn");
  Edit minor = Revised(Url(2), v1::MINOR);
  Edit major2 = Revised(Url(3), v1::MAJOR);
  // Queued before Start(): the first batch takes all three.
  notifier.Enqueue(major.event, major.diff);
  notifier.Enqueue(minor.event, minor.diff);
  notifier.Enqueue(major2.event, major2.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();

  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 1u) << "one POST per batch";
  const HttpRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v2/alerts");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));

  auto alerts = ParseAlerts(r.body);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0].labels, (StringMap{{"alertname", "DedupdReleaseEdited"},
                                         {"url", Url(1)},
                                         {"site", "sc.gov.cn"},
                                         {"edit_severity", "major"},
                                         {"severity", "page"},
                                         {"version", "3"}}));
  EXPECT_EQ(alerts[0].keys, (std::vector<std::string>{"labels", "annotations"}))
      << "startsAt/endsAt are left to Alertmanager (now, resolve_timeout)";
  const StringMap& a = alerts[0].annotations;
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.at("summary"), "Release edited after publication: " + major.event.title());
  EXPECT_NE(a.at("description").find("1 changed, 0 added, 0 removed sentence(s)"),
            std::string::npos)
      << a.at("description");
  EXPECT_NE(a.at("description").find("numbers changed"), std::string::npos);
  EXPECT_NE(a.at("description").find("+ The budget is 6 million."), std::string::npos);
  EXPECT_EQ(a.at("diff"), major.diff.unified());
  EXPECT_EQ(a.at("event_id"), "pages/0/3");

  EXPECT_EQ(alerts[1].labels.at("url"), Url(2));
  EXPECT_EQ(alerts[1].labels.at("edit_severity"), "minor");
  EXPECT_EQ(alerts[1].labels.at("severity"), "ticket");
  EXPECT_EQ(alerts[2].labels.at("url"), Url(3));
  EXPECT_EQ(alerts[2].labels.at("severity"), "page");

  EXPECT_EQ(Posts(m, "ok"), 1);
  EXPECT_EQ(Posts(m, "error"), 0);
  EXPECT_EQ(Posts(m, "dropped"), 0);
}

TEST(AlertmanagerNotifier, LongTextsAreClippedOnACharacterBoundary) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerNotifier notifier(Options(server), &m.alert);
  Edit e = Revised(Url(1), v1::MAJOR);
  std::string cjk;
  for (int i = 0; i < 3000; ++i) cjk += "经";  // 3 bytes each: 9000 bytes
  e.event.set_title(cjk);
  e.diff.set_unified(cjk);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  auto alerts = ParseAlerts(server.Requests()[0].body);
  ASSERT_EQ(alerts.size(), 1u);
  const std::string& diff = alerts[0].annotations.at("diff");
  EXPECT_LE(diff.size(), 4000u + 3);
  EXPECT_TRUE(diff.ends_with("…"));
  EXPECT_EQ(diff.substr(0, diff.size() - 3), cjk.substr(0, diff.size() - 3));
  EXPECT_EQ((diff.size() - 3) % 3, 0u) << "cut inside a character";
  EXPECT_LE(alerts[0].annotations.at("summary").size(), 300u);
}

TEST(AlertmanagerNotifier, ABaseUrlWithAPathPrefixKeepsIt) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.urls = {server.url() + "/alertmanager/"};
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit e = Revised(Url(1), v1::MINOR);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  EXPECT_EQ(server.Requests()[0].path, "/alertmanager/api/v2/alerts");
}

TEST(AlertmanagerNotifier, SplitsTheQueueIntoBatchesOfBatchSizeInOrder) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.batch_size = 2;
  AlertmanagerNotifier notifier(o, &m.alert);
  for (int i = 0; i < 5; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(3, kWait));
  notifier.Stop();
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(UrlsOf(requests[0]), (std::vector<std::string>{Url(0), Url(1)}));
  EXPECT_EQ(UrlsOf(requests[1]), (std::vector<std::string>{Url(2), Url(3)}));
  EXPECT_EQ(UrlsOf(requests[2]), (std::vector<std::string>{Url(4)}));
  EXPECT_EQ(Posts(m, "ok"), 3);
}

TEST(AlertmanagerNotifier, OnlyUnrevertedRevisionsAtOrAboveMinSeverityArePosted) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerNotifier notifier(Options(server), &m.alert);  // min_severity: minor
  std::vector<Edit> ignored;
  Edit near = Revised(Url(1), v1::MAJOR);
  near.event.set_verdict(v1::NEAR_DUPLICATE);
  ignored.push_back(near);
  Edit fresh = Revised(Url(2), v1::MAJOR);
  fresh.event.set_verdict(v1::NEW);
  ignored.push_back(fresh);
  Edit reverted = Revised(Url(3), v1::MAJOR);
  reverted.event.add_flags(v1::REPEATED_CONTENT);
  reverted.event.add_flags(v1::REVERTED);
  reverted.diff.set_reverted(true);
  ignored.push_back(reverted);
  ignored.push_back(Revised(Url(4), v1::COSMETIC));
  ignored.push_back(Revised(Url(5), v1::SEVERITY_UNSPECIFIED));
  for (const auto& e : ignored) notifier.Enqueue(e.event, e.diff);
  // Markers that must get through, queued after the others: had any of those
  // been queued, it would be in the same (first) batch.
  Edit minor = Revised(Url(6), v1::MINOR);
  minor.event.add_flags(v1::REPEATED_CONTENT);  // other flags do not matter
  Edit major = Revised(Url(7), v1::MAJOR);
  notifier.Enqueue(minor.event, minor.diff);
  notifier.Enqueue(major.event, major.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  ASSERT_EQ(server.Count(), 1u);
  EXPECT_EQ(UrlsOf(server.Requests()[0]), (std::vector<std::string>{Url(6), Url(7)}));
}

TEST(AlertmanagerNotifier, MinSeverityMajorLeavesMinorEditsOut) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.min_severity = "major";
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit minor = Revised(Url(1), v1::MINOR);
  Edit major = Revised(Url(2), v1::MAJOR);
  notifier.Enqueue(minor.event, minor.diff);
  notifier.Enqueue(major.event, major.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  ASSERT_EQ(server.Count(), 1u);
  EXPECT_EQ(UrlsOf(server.Requests()[0]), (std::vector<std::string>{Url(2)}));
}

TEST(AlertmanagerNotifier, RetriesA5xxWithBackoffThenSucceeds) {
  RecordingHttpServer server;
  server.Script({503, 500});
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.retries = 3;
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit first = Revised(Url(0), v1::MAJOR);
  notifier.Enqueue(first.event, first.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  // New alerts keep arriving during the backoffs. They wake the sender's
  // condition variable, and must not cut its backoff short: a burst of edits
  // would otherwise become a burst of retries against a failing Alertmanager.
  // (The pause only paces the producer; nothing is asserted on it.)
  int extra = 0;
  while (server.Count() < 3 && extra < 2000) {
    Edit e = Revised(Url(++extra), v1::MINOR);
    notifier.Enqueue(e.event, e.diff);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(server.WaitFor(
      [&](const std::vector<HttpRequest>& requests) {
        size_t delivered = 0;
        for (size_t i = 2; i < requests.size(); ++i) delivered += UrlsOf(requests[i]).size();
        return delivered == static_cast<size_t>(extra) + 1;
      },
      kWait));
  notifier.Stop();
  auto requests = server.Requests();
  ASSERT_GE(requests.size(), 4u);
  EXPECT_EQ(requests[0].status, 503);
  EXPECT_EQ(requests[1].status, 500);
  EXPECT_EQ(requests[2].status, 200);
  EXPECT_EQ(requests[0].body, requests[1].body) << "a retry sends the same batch";
  EXPECT_EQ(requests[1].body, requests[2].body);
  EXPECT_EQ(UrlsOf(requests[0]), (std::vector<std::string>{Url(0)}));
  // Backoff lower bounds (250 ms, then 500 ms): a slow machine only adds.
  using std::chrono::milliseconds;
  EXPECT_GE(requests[1].received - requests[0].received, milliseconds(250));
  EXPECT_GE(requests[2].received - requests[1].received, milliseconds(500));
  EXPECT_EQ(Posts(m, "ok"), static_cast<double>(requests.size() - 2));
  EXPECT_EQ(Posts(m, "error"), 2);
  EXPECT_EQ(Posts(m, "dropped"), 0);
}

TEST(AlertmanagerNotifier, A4xxIsNotRetried) {
  RecordingHttpServer server;
  server.Script({400});
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.retries = 5;
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit rejected = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(rejected.event, rejected.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  // The sender is sequential: once the next alert's POST arrives, the
  // rejected batch is settled; a retry would have come first.
  Edit next = Revised(Url(2), v1::MAJOR);
  notifier.Enqueue(next.event, next.diff);
  ASSERT_TRUE(server.WaitForRequests(2, kWait));
  notifier.Stop();
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(UrlsOf(requests[0]), (std::vector<std::string>{Url(1)}));
  EXPECT_EQ(UrlsOf(requests[1]), (std::vector<std::string>{Url(2)}));
  EXPECT_EQ(Posts(m, "error"), 1);
  EXPECT_EQ(Posts(m, "dropped"), 1);
  EXPECT_EQ(Posts(m, "ok"), 1);
}

TEST(AlertmanagerNotifier, A429IsRetriedLikeA5xx) {
  RecordingHttpServer server;
  server.Script({429});
  TestMetrics m;
  AlertmanagerNotifier notifier(Options(server), &m.alert);
  Edit e = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(2, kWait));
  notifier.Stop();
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, requests[1].body);
  EXPECT_EQ(Posts(m, "ok"), 1);
  EXPECT_EQ(Posts(m, "error"), 1);
}

TEST(AlertmanagerNotifier, ABatchIsDroppedAndCountedAfterItsRetries) {
  RecordingHttpServer server(503);
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.retries = 2;
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit e = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(3, kWait));
  ASSERT_TRUE(WaitForPosts(m, "dropped", 1));
  notifier.Stop();
  EXPECT_EQ(server.Count(), 3u) << "1 try + 2 retries";
  EXPECT_EQ(Posts(m, "error"), 3);
  EXPECT_EQ(Posts(m, "dropped"), 1);
  EXPECT_EQ(Posts(m, "ok"), 0);
  EXPECT_NE(m.Render().find("dedupd_alertmanager_posts_total{result=\"dropped\"} 1"),
            std::string::npos);
}

TEST(AlertmanagerNotifier, AnUnreachableAlertmanagerCountsErrorsThenADrop) {
  int closed_port;
  {
    RecordingHttpServer gone;  // bound, then closed: connections are refused
    closed_port = gone.port();
  }
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {"http://127.0.0.1:" + std::to_string(closed_port)};
  o.retries = 1;
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit e = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(WaitForPosts(m, "dropped", 1));
  notifier.Stop();
  EXPECT_EQ(Posts(m, "error"), 2);
  EXPECT_EQ(Posts(m, "ok"), 0);
}

TEST(AlertmanagerNotifier, ANonHttpUrlDropsWithoutTrying) {
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {"ftp://alertmanager.example:9093"};  // neither http nor https: refused, counted
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit e = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(WaitForPosts(m, "dropped", 1));
  notifier.Stop();
  EXPECT_EQ(Posts(m, "error"), 0);
}

TEST(AlertmanagerNotifier, QueueOverflowIsDroppedAndCounted) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.max_queue = 2;
  AlertmanagerNotifier notifier(o, &m.alert);
  for (int i = 0; i < 3; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  EXPECT_EQ(Posts(m, "dropped"), 1);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  ASSERT_EQ(server.Count(), 1u);
  EXPECT_EQ(UrlsOf(server.Requests()[0]), (std::vector<std::string>{Url(0), Url(1)}))
      << "the oldest are kept";
}

TEST(AlertmanagerNotifier, StopDrainsTheQueue) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.batch_size = 2;
  AlertmanagerNotifier notifier(o, &m.alert);
  for (int i = 0; i < 7; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  notifier.Start();
  notifier.Stop();  // returns once the queue is empty: no waiting needed
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 4u);
  std::vector<std::string> urls;
  for (const auto& r : requests) {
    for (auto& u : UrlsOf(r)) urls.push_back(u);
  }
  EXPECT_EQ(urls,
            (std::vector<std::string>{Url(0), Url(1), Url(2), Url(3), Url(4), Url(5), Url(6)}));
  EXPECT_EQ(Posts(m, "ok"), 4);

  // Nothing sends after Stop(): a late alert is counted as dropped, not kept.
  Edit late = Revised(Url(9), v1::MAJOR);
  notifier.Enqueue(late.event, late.diff);
  EXPECT_EQ(Posts(m, "dropped"), 1);
  EXPECT_EQ(server.Count(), 4u);
}

TEST(AlertmanagerNotifier, StopDoesNotRetryAFailingAlertmanager) {
  RecordingHttpServer server(503);
  TestMetrics m;
  AlertmanagerOptions o = Options(server);
  o.batch_size = 1;
  o.retries = 100;  // would take many minutes if Stop() kept retrying
  AlertmanagerNotifier notifier(o, &m.alert);
  for (int i = 0; i < 5; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  EXPECT_EQ(Posts(m, "dropped"), 5) << "every batch accounted for";
  EXPECT_EQ(Posts(m, "ok"), 0);
  EXPECT_EQ(Posts(m, "error"), static_cast<double>(server.Count()));
  // The first batch may have been retried before Stop() came (how often
  // depends on the scheduler); every later batch gets exactly one attempt.
  std::map<std::string, int> attempts;
  for (const auto& r : server.Requests()) {
    for (const auto& u : UrlsOf(r)) ++attempts[u];
  }
  EXPECT_GE(attempts[Url(0)], 1);
  for (int i = 1; i < 5; ++i) EXPECT_EQ(attempts[Url(i)], 1) << Url(i);
}

TEST(AlertmanagerNotifier, StopGivesUpWhatItCannotSendWithinTheTimeout) {
  // A listener that never accepts: connect() succeeds (the kernel's backlog),
  // the request is sent, and no answer ever comes, like a hung Alertmanager.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 64), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {"http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))};
  o.batch_size = 1;
  o.timeout_ms = 300;
  o.retries = 3;
  AlertmanagerNotifier notifier(o, &m.alert);
  for (int i = 0; i < 5; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  notifier.Start();
  notifier.Stop();
  ::close(fd);
  // Each attempt takes at least timeout_ms, and Stop() allows attempts for
  // timeout_ms: at most the one in flight and one more, whatever the speed.
  EXPECT_LE(Posts(m, "error"), 2);
  EXPECT_EQ(Posts(m, "dropped"), 5);
  EXPECT_EQ(Posts(m, "ok"), 0);
}

// --- HTTPS, authentication, several Alertmanagers, generatorURL (issue #14) --

// An HTTPS front (tests/unit/alert/tls_front.py: Python's ssl module and a
// certificate made by `openssl req` at start) for a RecordingHttpServer.
// Stopped by closing its stdin (pclose), so it cannot outlive the test.
class TlsFront {
 public:
  explicit TlsFront(const RecordingHttpServer& backend) {
    char tmpl[] = "/tmp/dedupd-tls-front-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    std::string command = "python3 '" DEDUPD_SOURCE_DIR
                          "/tests/unit/alert/tls_front.py' "
                          "--backend-port " +
                          std::to_string(backend.port()) + " --dir '" + dir_ + "'";
    pipe_ = popen(command.c_str(), "w");
    auto end = std::chrono::steady_clock::now() + kWait;
    while (pipe_ != nullptr && port_ == 0 && std::chrono::steady_clock::now() < end) {
      std::ifstream in(dir_ + "/port");
      if (!(in >> port_)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~TlsFront() {
    if (pipe_ != nullptr) pclose(pipe_);
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  bool ready() const { return port_ != 0; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ca_file() const { return dir_ + "/cert.pem"; }  // self-signed: its own CA

 private:
  std::string dir_;
  FILE* pipe_ = nullptr;
  int port_ = 0;
};

std::string Base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kAlphabet[n & 63] : '=');
  }
  return out;
}

// A file in a fresh temporary directory, removed with it.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/dedupd-alert-secret-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
    Write(content);
  }
  ~TempFile() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  void Write(const std::string& content) const { std::ofstream(path()) << content; }
  std::string path() const { return dir_ + "/secret"; }

 private:
  std::string dir_;
};

// Posts one alert to `o` and returns what `server` received (empty if nothing).
std::vector<HttpRequest> PostOne(AlertmanagerOptions o, TestMetrics* m,
                                 const RecordingHttpServer& server) {
  AlertmanagerNotifier notifier(o, &m->alert);
  Edit e = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  server.WaitForRequests(1, kWait);
  WaitForPosts(*m, "ok", 1);
  notifier.Stop();
  return server.Requests();
}

TEST(AlertmanagerHttps, TheCertificateIsVerifiedAgainstTheGivenCaFile) {
  RecordingHttpServer server;
  TlsFront front(server);
  ASSERT_TRUE(front.ready()) << "tls_front.py did not start (python3, openssl)";
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {front.url()};
  o.ca_file = front.ca_file();
  auto requests = PostOne(o, &m, server);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/api/v2/alerts");
  EXPECT_EQ(UrlsOf(requests[0]), (std::vector<std::string>{Url(1)}));
  EXPECT_EQ(requests[0].headers.count("authorization"), 0u) << "no credentials configured";
  EXPECT_EQ(Posts(m, "ok"), 1);
}

TEST(AlertmanagerHttps, AnUntrustedCertificateIsRefusedAndCounted) {
  RecordingHttpServer server;
  TlsFront front(server);
  RecordingHttpServer other_backend;
  TlsFront other(other_backend);  // another self-signed certificate: the wrong CA
  ASSERT_TRUE(front.ready() && other.ready());
  for (const std::string& ca : {std::string(), other.ca_file()}) {  // system CAs, wrong CA
    TestMetrics m;
    AlertmanagerOptions o;
    o.urls = {front.url()};
    o.ca_file = ca;
    o.retries = 0;
    AlertmanagerNotifier notifier(o, &m.alert);
    Edit e = Revised(Url(1), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
    notifier.Start();
    ASSERT_TRUE(WaitForPosts(m, "dropped", 1)) << "ca_file '" << ca << "'";
    notifier.Stop();
    EXPECT_EQ(Posts(m, "error"), 1);
    EXPECT_EQ(Posts(m, "ok"), 0);
    EXPECT_EQ(server.Count(), 0u) << "nothing may be sent over an unverified connection";
  }
}

TEST(AlertmanagerHttps, InsecureSkipVerifyAcceptsAnyCertificate) {
  RecordingHttpServer server;
  TlsFront front(server);
  ASSERT_TRUE(front.ready());
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {front.url()};
  o.insecure_skip_verify = true;
  EXPECT_EQ(PostOne(o, &m, server).size(), 1u);
}

TEST(AlertmanagerAuth, BasicAuthWithThePasswordFromAFileOverHttps) {
  RecordingHttpServer server;
  TlsFront front(server);
  ASSERT_TRUE(front.ready());
  TempFile password("s3cret: pw\n");  // a Secret's trailing newline is not part of it
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {front.url()};
  o.ca_file = front.ca_file();
  o.username = "dedupd";
  o.password_file = password.path();
  auto requests = PostOne(o, &m, server);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers["authorization"], "Basic " + Base64("dedupd:s3cret: pw"));
}

TEST(AlertmanagerAuth, BearerTokenFromAFileIsReadAgainForEachBatch) {
  RecordingHttpServer server;
  TempFile token("token-one\n");
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {server.url()};
  o.bearer_token_file = token.path();
  AlertmanagerNotifier notifier(o, &m.alert);
  notifier.Start();
  Edit first = Revised(Url(1), v1::MAJOR);
  notifier.Enqueue(first.event, first.diff);
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  token.Write("token-two");  // the Secret was rotated
  Edit second = Revised(Url(2), v1::MAJOR);
  notifier.Enqueue(second.event, second.diff);
  ASSERT_TRUE(server.WaitForRequests(2, kWait));
  notifier.Stop();
  auto requests = server.Requests();
  EXPECT_EQ(requests[0].headers["authorization"], "Bearer token-one");
  EXPECT_EQ(requests[1].headers["authorization"], "Bearer token-two");
}

// The environment path end to end: DEDUPD_ALERTMANAGER_* -> configuration ->
// options -> Authorization header.
TEST(AlertmanagerAuth, CredentialsFromTheEnvironmentThroughTheConfiguration) {
  RecordingHttpServer server;
  char token[] = "DEDUPD_ALERTMANAGER_BEARER_TOKEN=env-token-3";
  char password[] = "DEDUPD_ALERTMANAGER_PASSWORD=env-password-4";
  char* bearer_env[] = {token, nullptr};
  char* basic_env[] = {password, nullptr};
  struct Case {
    char** env;
    std::vector<std::string> flags;
    std::string header;
  };
  for (const Case& c :
       {Case{bearer_env, {}, "Bearer env-token-3"},
        Case{basic_env, {"alertmanager.username=am"}, "Basic " + Base64("am:env-password-4")}}) {
    std::vector<std::string> flags = c.flags;
    flags.push_back("alertmanager.enabled=true");
    flags.push_back("alertmanager.url=" + server.url());
    config::Config cfg;
    std::vector<std::string> errors;
    ASSERT_TRUE(config::LoadConfig("", c.env, flags, &cfg, &errors)) << errors.front();
    AlertmanagerOptions o = AlertmanagerOptionsFrom(cfg.settings());
    std::string error;
    ASSERT_TRUE(CheckAlertmanagerOptions(o, &error)) << error;
    TestMetrics m;
    size_t before = server.Count();
    AlertmanagerNotifier notifier(o, &m.alert);
    Edit e = Revised(Url(1), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
    notifier.Start();
    ASSERT_TRUE(server.WaitForRequests(before + 1, kWait));
    notifier.Stop();
    EXPECT_EQ(server.Requests()[before].headers["authorization"], c.header);
  }
}

TEST(AlertmanagerAuth, AnUnreadableCredentialFileFailsTheStartCheckByName) {
  AlertmanagerOptions o;
  o.bearer_token_file = "/nonexistent/dedupd/token";
  std::string error;
  EXPECT_FALSE(CheckAlertmanagerOptions(o, &error));
  EXPECT_NE(error.find("/nonexistent/dedupd/token"), std::string::npos) << error;
  TempFile empty("\n");
  o.bearer_token_file = empty.path();
  EXPECT_FALSE(CheckAlertmanagerOptions(o, &error));
  o.bearer_token_file.clear();
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(CheckAlertmanagerOptions(o, &error));
  EXPECT_NE(error.find("/nonexistent/ca.pem"), std::string::npos) << error;
}

TEST(AlertmanagerCluster, EveryAlertmanagerGetsEveryBatch) {
  RecordingHttpServer a, b;
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {a.url(), b.url() + "/prefix"};
  o.batch_size = 2;
  AlertmanagerNotifier notifier(o, &m.alert);
  for (int i = 0; i < 3; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  notifier.Start();
  ASSERT_TRUE(a.WaitForRequests(2, kWait));
  ASSERT_TRUE(b.WaitForRequests(2, kWait));
  notifier.Stop();
  ASSERT_EQ(a.Count(), 2u);
  ASSERT_EQ(b.Count(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.Requests()[i].body, b.Requests()[i].body);
  }
  EXPECT_EQ(b.Requests()[0].path, "/prefix/api/v2/alerts");
  EXPECT_EQ(UrlsOf(a.Requests()[1]), (std::vector<std::string>{Url(2)}));
  EXPECT_EQ(Posts(m, "ok"), 4) << "one result per POST, per Alertmanager";
}

TEST(AlertmanagerCluster, AHungAlertmanagerDoesNotHoldUpTheOthers) {
  // Accepts connections into the kernel's backlog and never answers: each
  // attempt to it lasts timeout_ms.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 64), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  RecordingHttpServer live;
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {"http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), live.url()};
  o.batch_size = 1;
  o.timeout_ms = 4000;
  o.retries = 3;
  AlertmanagerNotifier notifier(o, &m.alert);
  auto start = std::chrono::steady_clock::now();
  notifier.Start();
  for (int i = 0; i < 3; ++i) {
    Edit e = Revised(Url(i), v1::MAJOR);
    notifier.Enqueue(e.event, e.diff);
  }
  ASSERT_TRUE(live.WaitForRequests(3, kWait));
  auto live_done = std::chrono::steady_clock::now() - start;
  notifier.Stop();
  ::close(fd);
  // Behind the hung one, the first batch would reach the live Alertmanager
  // only after timeout_ms (4 s), the third after 3 x 4 x 4 s.
  EXPECT_LT(live_done, std::chrono::milliseconds(2000));
  EXPECT_EQ(UrlsOf(live.Requests()[2]), (std::vector<std::string>{Url(2)}));
  EXPECT_GE(Posts(m, "ok"), 3);
}

TEST(AlertmanagerGeneratorUrl, TheTemplateGetsTheEncodedUrlAndBothVersions) {
  RecordingHttpServer server;
  TestMetrics m;
  AlertmanagerOptions o;
  o.urls = {server.url()};
  o.generator_url = "https://dedupd.example/diff?url={url}&from={from}&to={to}";
  AlertmanagerNotifier notifier(o, &m.alert);
  Edit e = Revised("https://gov.example/news/a b?x=1&y=成#{to}", v1::MAJOR, 3);
  e.diff.mutable_old_side()->set_version(2);
  notifier.Enqueue(e.event, e.diff);
  notifier.Start();
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  notifier.Stop();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(server.Requests()[0].body).get(root), simdjson::SUCCESS);
  std::string_view generator;
  ASSERT_EQ(root.at(0)["generatorURL"].get(generator), simdjson::SUCCESS);
  EXPECT_EQ(generator,
            "https://dedupd.example/diff?url=https%3A%2F%2Fgov.example%2Fnews%2Fa%20b%3Fx%3D1%26y"
            "%3D%E6%88%90%23%7Bto%7D&from=2&to=3");
  auto alerts = ParseAlerts(server.Requests()[0].body);
  EXPECT_EQ(alerts[0].keys, (std::vector<std::string>{"labels", "annotations", "generatorURL"}));
}

// Issue #13 item 5: with http.external_url set, the alert links to the URL's
// page with both versions preselected, as generatorURL (when
// alertmanager.generator_url is empty) and as the page_url annotation.
TEST(AlertmanagerGeneratorUrl, ExternalUrlGivesThePageLink) {
  RecordingHttpServer server;
  for (bool own_generator : {false, true}) {
    std::vector<std::string> flags = {"alertmanager.enabled=true",
                                      "alertmanager.url=" + server.url(),
                                      "http.external_url=https://dedupd.example/base/"};
    if (own_generator) flags.push_back("alertmanager.generator_url=https://grafana.example/{to}");
    config::Config cfg;
    std::vector<std::string> errors;
    char* env[] = {nullptr};
    ASSERT_TRUE(config::LoadConfig("", env, flags, &cfg, &errors)) << errors.front();
    AlertmanagerOptions o = AlertmanagerOptionsFrom(cfg.settings());
    TestMetrics m;
    size_t before = server.Count();
    AlertmanagerNotifier notifier(o, &m.alert);
    Edit e = Revised("https://gov.example/a?x=1&y=成", v1::MAJOR, 3);
    e.diff.mutable_old_side()->set_version(2);
    notifier.Enqueue(e.event, e.diff);
    notifier.Start();
    ASSERT_TRUE(server.WaitForRequests(before + 1, kWait));
    notifier.Stop();
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(server.Requests()[before].body).get(root), simdjson::SUCCESS);
    const std::string page =
        "https://dedupd.example/base/ui/page?url=https%3A%2F%2Fgov.example%2Fa%3Fx%3D1%26y%3D"
        "%E6%88%90&from=2&to=3";
    std::string_view generator, page_url;
    ASSERT_EQ(root.at(0)["generatorURL"].get(generator), simdjson::SUCCESS);
    ASSERT_EQ(root.at(0)["annotations"]["page_url"].get(page_url), simdjson::SUCCESS);
    EXPECT_EQ(page_url, page);
    EXPECT_EQ(generator, own_generator ? "https://grafana.example/3" : page);
  }
}

TEST(AlertmanagerGeneratorUrl, NoExternalUrlNoPageLink) {
  config::Config cfg;
  std::vector<std::string> errors;
  char* env[] = {nullptr};
  ASSERT_TRUE(config::LoadConfig("", env, {}, &cfg, &errors)) << errors.front();
  AlertmanagerOptions o = AlertmanagerOptionsFrom(cfg.settings());
  EXPECT_EQ(o.generator_url, "");
  EXPECT_EQ(o.page_url, "");
}

}  // namespace
}  // namespace dedupd::alert
