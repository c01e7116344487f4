// The operations stack end to end, on loopback: the real daemon against the
// test broker, Debian's Prometheus scraping it every second with the shipped
// alert rules (config/alerts/dedupd-rules.yaml), Debian's Alertmanager, and a
// webhook receiver in this process. The fixture stream goes in; the test
// checks through Prometheus's query API that the counters moved to what the
// committed outputs say, that the daemon's own edit alert for the revised
// release reaches the webhook through Alertmanager with its URL, that the
// DedupdReleaseEditedMajor rule fires on the real series and reaches the
// webhook too, and that every metric name the dashboards and rules use is in a
// real scrape (tests/ops/promql_test.py --metrics).
//
// Every server is an RAII object (stopped on any exit from the test, and by
// the kernel if this process dies); every wait is bounded; only 127.0.0.1.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"
#include "e2e/ops/stack.h"
#include "unit/alert/recording_http_server.h"

namespace dedupd::e2e {
namespace {

using dedupd::testing::HttpRequest;
using dedupd::testing::RecordingHttpServer;
using kafka::testing::KafkaTest;
using ops::PromQuery;
using ops::ServerProcess;
using std::chrono::milliseconds;
using std::chrono::seconds;
using StringMap = std::map<std::string, std::string>;

const std::string kDedupd = DEDUPD_BINARY;
const std::string kPrometheus = DEDUPD_PROMETHEUS;
const std::string kAlertmanager = DEDUPD_ALERTMANAGER;
const std::string kPromtool = DEDUPD_PROMTOOL;
const std::string kPython = DEDUPD_PYTHON3;
const std::string kSource = DEDUPD_SOURCE_DIR;
// Fixture line 7: the release edited after publication (4 sentences, major).
const std::string kRevisedUrl =
    "https://www.sc.gov.cn/10462/10464/10797/2023/4/27/10fd6e7c2a3e4b1f.shtml";
constexpr size_t kRevisedLine = 7;
// Every contract metric must be in the scrape from the start: the daemon
// pre-creates each label set at 0 so that increase() sees the first event
// (docs/operations.md, "Tested end to end").

// Polls `done` every 250 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, milliseconds timeout) {
  const auto end = ops::Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (ops::Clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(250));
  }
}

std::vector<std::string> FixtureLines() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Per fixture line: the verdicts (or "DLQ:<reason>") a correct daemon may give.
std::vector<std::set<std::string>> ExpectedOutcomes() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/expected.jsonl");
  simdjson::dom::parser parser;
  std::vector<std::set<std::string>> out;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e = parser.parse(line);
    std::set<std::string> allowed;
    std::string_view s;
    simdjson::dom::array a;
    if (e["dead_letter"].get(s) == simdjson::SUCCESS) {
      allowed.insert("DLQ:" + std::string(s));
    } else if (e["verdict"].get(s) == simdjson::SUCCESS) {
      allowed.insert(std::string(s));
    } else if (e["verdict"].get(a) == simdjson::SUCCESS) {
      for (auto v : a) allowed.insert(std::string(std::string_view(v)));
    }
    out.push_back(allowed);
  }
  return out;
}

// One alert of an Alertmanager webhook notification.
struct WebhookAlert {
  std::string receiver;
  std::string status;
  StringMap labels;
  StringMap annotations;
};

StringMap StringFields(simdjson::dom::element e) {
  StringMap out;
  simdjson::dom::object object;
  if (e.get(object) != simdjson::SUCCESS) return out;
  for (auto field : object) {
    std::string_view v;
    if (field.value.get(v) == simdjson::SUCCESS) out[std::string(field.key)] = std::string(v);
  }
  return out;
}

// Every alert in every notification the webhook received (version 4 payload).
std::vector<WebhookAlert> WebhookAlerts(const std::vector<HttpRequest>& requests) {
  std::vector<WebhookAlert> out;
  simdjson::dom::parser parser;
  for (const auto& r : requests) {
    simdjson::dom::element root;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS) continue;
    std::string_view receiver;
    if (root["receiver"].get(receiver) != simdjson::SUCCESS) receiver = {};
    simdjson::dom::array alerts;
    if (root["alerts"].get(alerts) != simdjson::SUCCESS) continue;
    for (auto a : alerts) {
      WebhookAlert w;
      w.receiver = std::string(receiver);
      std::string_view status;
      if (a["status"].get(status) == simdjson::SUCCESS) w.status = std::string(status);
      w.labels = StringFields(a["labels"]);
      w.annotations = StringFields(a["annotations"]);
      out.push_back(std::move(w));
    }
  }
  return out;
}

const WebhookAlert* FindAlert(const std::vector<WebhookAlert>& alerts, const StringMap& match) {
  for (const auto& a : alerts) {
    bool all = true;
    for (const auto& [k, v] : match) {
      auto it = a.labels.find(k);
      all = all && it != a.labels.end() && it->second == v;
    }
    if (all) return &a;
  }
  return nullptr;
}

std::string Describe(const std::vector<WebhookAlert>& alerts) {
  std::string out;
  for (const auto& a : alerts) {
    out += "  {";
    for (const auto& [k, v] : a.labels) out += k + "=" + v + " ";
    out += "}\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

std::string Describe(const ops::QueryResult& r) {
  if (!r.ok) return r.error;
  std::string out;
  for (const auto& s : r.samples) {
    out += "  {";
    for (const auto& [k, v] : s.labels) out += k + "=" + v + " ";
    out += "} " + std::to_string(s.value) + "\n";
  }
  return out.empty() ? "  (empty)\n" : out;
}

class OpsStackTest : public KafkaTest {
 protected:
  void SetUp() override {
    KafkaTest::SetUp();
    if (HasFatalFailure()) return;
    id_ = Unique("ops");
    dir_ = std::filesystem::temp_directory_path() / id_;
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (dir_.empty()) return;
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
      return;
    }
    for (const char* log :
         {"dedupd.log", "prometheus.log", "alertmanager.log", "promql_test.log"}) {
      if (std::filesystem::exists(dir_ / log)) {
        std::cerr << "---- " << log << " (last lines)\n" << ops::Tail((dir_ / log).string());
      }
    }
    std::cerr << "---- logs, configurations and data kept in " << dir_ << "\n";
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Topic(const std::string& name) const { return id_ + "-" + name; }

  void Produce(const std::vector<std::string>& lines) {
    ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA, lines, KeyOf);
  }

  std::string id_;
  std::filesystem::path dir_;
};

TEST_F(OpsStackTest, MetricsRulesAndEditAlertsFlowThroughPrometheusAndAlertmanager) {
  for (const std::string& bin : {kDedupd, kPrometheus, kAlertmanager, kPromtool, kPython}) {
    ASSERT_EQ(::access(bin.c_str(), X_OK), 0)
        << bin << " is not executable (Prometheus, Alertmanager, promtool: scripts/setup)";
  }

  // ---- webhook receiver and Alertmanager
  RecordingHttpServer webhook;
  ASSERT_TRUE(webhook.listening());
  // The route of docs/operations.md, with waits short enough for a test.
  ops::WriteFile(Path("alertmanager.yml"), R"(route:
  receiver: webhook
  group_by: [alertname, site]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: )" + webhook.url() + R"(/hook
        send_resolved: false
)");
  int am_port = 0;
  auto alertmanager = ops::StartServer(
      "alertmanager",
      [&](int port) {
        return std::vector<std::string>{
            kAlertmanager,
            "--config.file=" + Path("alertmanager.yml"),
            "--storage.path=" + Path("alertmanager-data"),
            "--web.listen-address=127.0.0.1:" + std::to_string(port),
            "--cluster.listen-address=",  // no gossip: a single, isolated instance
            "--log.level=debug"};
      },
      Path("alertmanager.log"), "/-/ready", seconds(30), &am_port);
  ASSERT_TRUE(alertmanager) << "Alertmanager did not get ready";

  // ---- the daemon, posting its edit alerts to that Alertmanager
  int metrics_port = 0;
  auto daemon = ops::StartServer(
      "dedupd",
      [&](int port) {
        return std::vector<std::string>{
            kDedupd,
            "run",
            "--kafka.bootstrap_servers=" + bootstrap_,
            "--kafka.group_id=" + id_,
            "--kafka.transactional_id=" + id_,
            "--kafka.partitions=1",
            "--kafka.statistics_interval_ms=1000",
            "--topics.input=" + Topic("pages"),
            "--topics.events=" + Topic("events"),
            "--topics.diffs=" + Topic("diffs"),
            "--topics.dlq=" + Topic("dlq"),
            "--topics.state=" + Topic("state"),
            "--topics.fingerprints=" + Topic("fingerprints"),
            "--state.dir=" + Path("state"),
            "--processing.commit_interval_ms=200",
            "--shutdown.grace_period_ms=20000",
            "--metrics.port=" + std::to_string(port),
            "--metrics.bind=127.0.0.1",
            "--alertmanager.enabled=true",
            "--alertmanager.url=http://127.0.0.1:" + std::to_string(am_port)};
      },
      Path("dedupd.log"), "/readyz", seconds(90), &metrics_port);
  ASSERT_TRUE(daemon) << "the daemon did not get ready";

  // ---- Prometheus: the daemon every second, the shipped rules, that Alertmanager
  ops::WriteFile(Path("prometheus.yml"), R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - )" + kSource + R"(/config/alerts/dedupd-rules.yaml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:)" + std::to_string(am_port) +
                                             R"(']
scrape_configs:
  - job_name: dedupd
    static_configs:
      - targets: ['127.0.0.1:)" + std::to_string(metrics_port) +
                                             R"(']
)");
  int prom_port = 0;
  auto prometheus = ops::StartServer(
      "prometheus",
      [&](int port) {
        return std::vector<std::string>{kPrometheus, "--config.file=" + Path("prometheus.yml"),
                                        "--storage.tsdb.path=" + Path("prometheus-data"),
                                        "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                        "--storage.tsdb.retention.time=1h"};
      },
      Path("prometheus.log"), "/-/ready", seconds(60), &prom_port);
  ASSERT_TRUE(prometheus) << "Prometheus did not get ready";

  // Scraped before any input: the closed label sets exist at 0 (so that
  // increase() sees their first increment).
  ops::QueryResult before;
  ASSERT_TRUE(Eventually(
      [&] {
        before = PromQuery(prom_port, R"(dedupd_pages_total{job="dedupd"})");
        return before.ok && before.samples.size() == 5 &&
               PromQuery(prom_port, R"(up{job="dedupd"} == 1)").samples.size() == 1;
      },
      seconds(30)))
      << "no scrape of the daemon with its 5 verdict series:\n"
      << Describe(before);
  for (const auto& s : before.samples) EXPECT_EQ(s.value, 0) << s.labels.at("verdict");
  auto dl_before = PromQuery(prom_port, R"(dedupd_dead_letters_total{job="dedupd"})");
  EXPECT_EQ(dl_before.samples.size(), 8u) << Describe(dl_before);
  for (const auto& s : dl_before.samples) EXPECT_EQ(s.value, 0) << s.labels.at("reason");

  // ---- the fixture stream
  auto lines = FixtureLines();
  ASSERT_EQ(lines.size(), 17u);
  Produce(lines);
  if (HasFatalFailure()) return;

  // What the daemon committed (one partition: offset = line - 1).
  auto event_records = ReadAll(bootstrap_, Topic("events"), 11, seconds(90));
  auto dlq_records = ReadAll(bootstrap_, Topic("dlq"), 6, seconds(30));
  ASSERT_EQ(event_records.size(), 11u);
  ASSERT_EQ(dlq_records.size(), 6u);
  auto expected = ExpectedOutcomes();
  std::map<std::string, double> want_verdicts = {
      {"NEW", 0}, {"UNCHANGED", 0}, {"REVISED", 0}, {"DUPLICATE", 0}, {"NEAR_DUPLICATE", 0}};
  std::map<std::string, double> want_reasons = {
      {"invalid_json", 0}, {"missing_field", 0}, {"wrong_type", 0},  {"invalid_utf8", 0},
      {"too_large", 0},    {"empty_body", 0},    {"invalid_url", 0}, {"output_rejected", 0}};
  std::map<std::string, v1::PageEvent> edits;  // canonical URL -> REVISED event to be alerted
  v1::PageEvent revised;                       // fixture line 7
  for (const auto& r : event_records) {
    v1::PageEvent e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    const auto line = static_cast<size_t>(e.source().offset());
    ASSERT_LT(line, expected.size());
    EXPECT_TRUE(expected[line].count(v1::Verdict_Name(e.verdict())))
        << "line " << line + 1 << ": " << v1::Verdict_Name(e.verdict());
    ++want_verdicts[v1::Verdict_Name(e.verdict())];
    bool reverted = false;
    for (int f : e.flags()) reverted = reverted || f == v1::REVERTED;
    if (e.verdict() == v1::REVISED && !reverted && e.severity() >= v1::MINOR) {
      edits[e.canonical_url()] = e;
    }
    if (line + 1 == kRevisedLine) revised = e;
  }
  for (const auto& r : dlq_records) {
    v1::DeadLetter d;
    ASSERT_TRUE(d.ParseFromString(r.value));
    const auto line = static_cast<size_t>(d.source().offset());
    ASSERT_LT(line, expected.size());
    EXPECT_TRUE(expected[line].count("DLQ:" + d.reason_code())) << "line " << line + 1;
    ++want_reasons[d.reason_code()];
  }
  ASSERT_EQ(revised.canonical_url(), kRevisedUrl);
  ASSERT_EQ(revised.verdict(), v1::REVISED);
  ASSERT_EQ(revised.severity(), v1::MAJOR);
  ASSERT_TRUE(edits.count(kRevisedUrl));

  // ---- Prometheus has the same numbers
  ops::QueryResult pages, dead;
  EXPECT_TRUE(Eventually(
      [&] {
        pages = PromQuery(prom_port, R"(sum by (verdict) (dedupd_pages_total{job="dedupd"}))");
        dead = PromQuery(prom_port, R"(sum by (reason) (dedupd_dead_letters_total{job="dedupd"}))");
        return ops::ByLabel(pages, "verdict") == want_verdicts &&
               ops::ByLabel(dead, "reason") == want_reasons;
      },
      seconds(60)))
      << "dedupd_pages_total in Prometheus:\n"
      << Describe(pages) << "dedupd_dead_letters_total in Prometheus:\n"
      << Describe(dead);
  auto input = PromQuery(prom_port, R"(dedupd_input_messages_total{job="dedupd"})");
  ASSERT_EQ(input.samples.size(), 1u) << Describe(input);
  EXPECT_EQ(input.samples[0].value, 17);
  // increase() over the run sees the whole move from the 0 series.
  auto moved = PromQuery(prom_port, R"(sum(increase(dedupd_pages_total{job="dedupd"}[5m])))");
  ASSERT_EQ(moved.samples.size(), 1u) << Describe(moved);
  EXPECT_GT(moved.samples[0].value, 10.0) << "about 11 with extrapolation";

  // ---- the daemon's own edit alert, through Alertmanager, at the webhook
  auto has_edit_alerts = [&](const std::vector<HttpRequest>& requests) {
    auto alerts = WebhookAlerts(requests);
    for (const auto& [url, e] : edits) {
      if (!FindAlert(alerts, {{"alertname", "DedupdReleaseEdited"}, {"url", url}})) return false;
    }
    return true;
  };
  ASSERT_TRUE(webhook.WaitFor(has_edit_alerts, seconds(60)))
      << "the webhook got:\n"
      << Describe(WebhookAlerts(webhook.Requests()));
  {
    auto alerts = WebhookAlerts(webhook.Requests());
    const WebhookAlert* a =
        FindAlert(alerts, {{"alertname", "DedupdReleaseEdited"}, {"url", kRevisedUrl}});
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->receiver, "webhook");
    EXPECT_EQ(a->status, "firing");
    EXPECT_EQ(a->labels.at("site"), revised.site());
    EXPECT_EQ(a->labels.at("edit_severity"), "major");
    EXPECT_EQ(a->labels.at("severity"), "page");
    EXPECT_EQ(a->labels.at("version"), "2");
    EXPECT_EQ(a->annotations.at("event_id"), revised.event_id());
    EXPECT_NE(a->annotations.at("description").find("4 changed"), std::string::npos)
        << a->annotations.at("description");
    EXPECT_FALSE(a->annotations.at("diff").empty());
    EXPECT_NE(a->annotations.at("summary").find("Release edited after publication"),
              std::string::npos);
    // Only the edits: no alert for another URL or verdict.
    for (const auto& w : alerts) {
      if (w.labels.at("alertname") == "DedupdReleaseEdited") {
        EXPECT_TRUE(edits.count(w.labels.at("url"))) << w.labels.at("url");
      }
    }
  }
  ops::QueryResult posts;
  EXPECT_TRUE(Eventually(
      [&] {
        posts = PromQuery(prom_port,
                          R"(sum by (result) (dedupd_alertmanager_posts_total{job="dedupd"}))");
        return ops::ByLabel(posts, "result")["ok"] >= 1;
      },
      seconds(30)))
      << Describe(posts);
  EXPECT_EQ(ops::ByLabel(posts, "result")["error"], 0) << Describe(posts);
  EXPECT_EQ(ops::ByLabel(posts, "result")["dropped"], 0) << Describe(posts);

  // ---- the DedupdReleaseEditedMajor rule on the real series.
  // The fixture's edit created the site's revisions series at 1. Prometheus
  // and the instance are younger than the rule's 10 minutes, so neither
  // branch of the rule can fire on that first edit (increase() needs a
  // sample before it; the new-series branch needs the instance scraped 10
  // minutes ago): the documented gap that the daemon's own alert above
  // covers. A second edit of the same release is an increase of an existing
  // series, which the rule must turn into a page through Alertmanager.
  const std::string site = revised.site();
  const std::string major_sel =
      R"(dedupd_revisions_total{job="dedupd",severity="major",site=")" + site + R"("})";
  ops::QueryResult rev;
  ASSERT_TRUE(Eventually(
      [&] {
        rev = PromQuery(prom_port, major_sel);
        return rev.samples.size() == 1 && rev.samples[0].value == 1;
      },
      seconds(30)))
      << Describe(rev);
  std::cout << "DedupdReleaseEdited* after the fixture's first edit of " << site << ":\n"
            << Describe(PromQuery(prom_port, R"(ALERTS{alertname=~"DedupdReleaseEdited.*"})"));

  std::string edit = lines[kRevisedLine - 1];
  for (auto [from, to] : {std::pair<std::string, std::string>{"五大片区2023年重点任务清单",
                                                              "五大片区2024年重点任务清单"},
                          {"2023-04-28T08:00:00Z", "2023-04-29T08:00:00Z"}}) {
    size_t at = edit.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    edit.replace(at, from.size(), to);
  }
  Produce({edit});
  if (HasFatalFailure()) return;

  ASSERT_TRUE(Eventually(
      [&] {
        rev = PromQuery(prom_port, major_sel);
        return rev.samples.size() == 1 && rev.samples[0].value == 2;
      },
      seconds(60)))
      << "the second edit was not counted as major:\n"
      << Describe(rev);
  ops::QueryResult firing;
  EXPECT_TRUE(Eventually(
      [&] {
        firing = PromQuery(prom_port, R"(ALERTS{alertname="DedupdReleaseEditedMajor",)"
                                      R"(alertstate="firing",site=")" +
                                          site + R"("})");
        return firing.samples.size() == 1;
      },
      seconds(30)))
      << Describe(firing);
  const StringMap rule_alert = {{"alertname", "DedupdReleaseEditedMajor"},
                                {"site", site},
                                {"job", "dedupd"},
                                {"severity", "page"},
                                {"edit_severity", "major"}};
  const StringMap second_edit = {
      {"alertname", "DedupdReleaseEdited"}, {"url", kRevisedUrl}, {"version", "3"}};
  EXPECT_TRUE(webhook.WaitFor(
      [&](const std::vector<HttpRequest>& requests) {
        auto alerts = WebhookAlerts(requests);
        return FindAlert(alerts, rule_alert) && FindAlert(alerts, second_edit);
      },
      seconds(60)))
      << "the webhook got:\n"
      << Describe(WebhookAlerts(webhook.Requests()));
  {
    auto alerts = WebhookAlerts(webhook.Requests());
    if (const WebhookAlert* a = FindAlert(alerts, rule_alert)) {
      EXPECT_EQ(a->annotations.at("summary"),
                "Published release edited on " + site + " (major change)");
      EXPECT_EQ(a->annotations.at("runbook_url"), "docs/runbook.md#dedupdreleaseeditedmajor");
    }
  }

  // ---- every metric name of the dashboards and rules is in a real scrape
  std::string scrape;
  ASSERT_EQ(ops::HttpGet10(metrics_port, "/metrics", &scrape), 200);
  ops::WriteFile(Path("metrics.txt"), scrape);
  std::vector<std::string> promql_test = {kPython,      kSource + "/tests/ops/promql_test.py",
                                          "--root",     kSource,
                                          "--promtool", kPromtool,
                                          "--metrics",  Path("metrics.txt")};
  int rc = ops::RunCommand(promql_test, Path("promql_test.log"), seconds(90));
  std::string promql_log = ops::ReadFile(Path("promql_test.log"));
  EXPECT_EQ(rc, 0) << promql_log;
  std::cout << promql_log;
  // ... and every metric of the contract is declared by the daemon.
  std::ifstream contract(kSource + "/tests/ops/metric_names.txt");
  int names = 0;
  for (std::string line; std::getline(contract, line);) {
    std::istringstream fields(line.substr(0, line.find('#')));
    std::string name, type;
    if (!(fields >> name >> type)) continue;
    ++names;
    EXPECT_NE(scrape.find("# TYPE " + name + " " + type + "\n"), std::string::npos)
        << name << " (" << type << ") is in tests/ops/metric_names.txt but not in the scrape";
  }
  EXPECT_GE(names, 19);

  // ---- shutdown: the daemon exits 0 on SIGTERM; the others stop cleanly too
  EXPECT_EQ(daemon->Stop(seconds(30)), 0);
  EXPECT_EQ(prometheus->Stop(), 0);
  EXPECT_EQ(alertmanager->Stop(), 0);
}

}  // namespace
}  // namespace dedupd::e2e
