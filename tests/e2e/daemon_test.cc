// The daemon end to end against the real local broker: the fixture stream in,
// events, diffs and dead letters out (decoded with the protobuf schemas and
// compared with expected.jsonl), metrics, a SIGTERM restart, a kill -9
// restart, and a flood of malformed input.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"
#include "state/url_state.h"

namespace dedupd::e2e {
namespace {

using std::chrono::seconds;

std::vector<std::string> FixtureLines() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Expected {
  std::string verdict;  // first allowed verdict, or "DLQ:<reason>"
  std::set<std::string> allowed;
};

std::vector<Expected> ExpectedLines() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/expected.jsonl");
  simdjson::dom::parser parser;
  std::vector<Expected> out;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e = parser.parse(line);
    Expected x;
    std::string_view s;
    simdjson::dom::array a;
    if (e["dead_letter"].get(s) == simdjson::SUCCESS) {
      x.allowed.insert("DLQ:" + std::string(s));
    } else if (e["verdict"].get(s) == simdjson::SUCCESS) {
      x.allowed.insert(std::string(s));
    } else if (e["verdict"].get(a) == simdjson::SUCCESS) {
      for (auto v : a) x.allowed.insert(std::string(std::string_view(v)));
    }
    x.verdict = *x.allowed.begin();
    out.push_back(x);
  }
  return out;
}

class DaemonTest : public DaemonFixture {
 protected:
  DaemonTest() : DaemonFixture("d") {}
  void ProduceLines(const std::vector<std::string>& lines, size_t from, size_t to) {
    ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA,
               std::span(lines).subspan(from, to - from), KeyOf, from);
  }
  // offset in the input -> verdict name or DLQ:<reason>, from the committed outputs.
  std::multimap<int64_t, std::string> Outcomes(size_t expected) {
    std::multimap<int64_t, std::string> out;
    auto events = ReadAll(bootstrap_, Topic("events"), 0, seconds(5));
    auto dlq = ReadAll(bootstrap_, Topic("dlq"), 0, seconds(5));
    Deadline deadline(seconds(90));
    while (events.size() + dlq.size() < expected && !deadline.expired()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      events = ReadAll(bootstrap_, Topic("events"), 0, seconds(10));
      dlq = ReadAll(bootstrap_, Topic("dlq"), 0, seconds(10));
    }
    for (const auto& r : events) {
      v1::PageEvent e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      EXPECT_EQ(r.key, e.canonical_url());
      out.emplace(e.source().offset(), v1::Verdict_Name(e.verdict()));
    }
    for (const auto& r : dlq) {
      v1::DeadLetter d;
      EXPECT_TRUE(d.ParseFromString(r.value));
      out.emplace(d.source().offset(), "DLQ:" + d.reason_code());
    }
    return out;
  }
  // The fingerprints topic's records in order: URL and format, each one
  // decoded as StateSync decodes it.
  std::vector<std::pair<std::string, int>> FingerprintFormats() {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& r : ReadAll(bootstrap_, Topic("fingerprints"), 1, seconds(30))) {
      state::RecordHeader h;
      EXPECT_TRUE(state::PeekRecordHeader(r.key, r.value, &h));
      EXPECT_EQ(h.url, r.key);
      state::UrlState s;
      EXPECT_TRUE(state::DecodeStateRecord(r.key, r.value, &s));
      EXPECT_EQ(s.text_known, h.format != 5);
      if (h.format == 5) {
        EXPECT_LT(r.value.size(), 600u);
      }
      out.emplace_back(r.key, h.format);
    }
    return out;
  }
  void ExpectFixtureOutcomes(const std::multimap<int64_t, std::string>& got) {
    auto expected = ExpectedLines();
    ASSERT_EQ(got.size(), expected.size()) << "every input exactly once";
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(got.count(static_cast<int64_t>(i)), 1u) << "line " << i + 1;
      EXPECT_TRUE(expected[i].allowed.count(got.find(static_cast<int64_t>(i))->second))
          << "line " << i + 1 << ": got " << got.find(static_cast<int64_t>(i))->second;
    }
  }
};

const std::string kDedupd = DEDUPD_BINARY;

TEST_F(DaemonTest, FixtureStreamThroughKafkaGivesTheExpectedOutputsAndMetrics) {
  auto lines = FixtureLines();
  DaemonProcess daemon(kDedupd, Args(1), log_);
  ASSERT_TRUE(daemon.WaitReady(seconds(90))) << "daemon not ready; log " << log_;
  ProduceLines(lines, 0, lines.size());
  auto got = Outcomes(lines.size());
  ExpectFixtureOutcomes(got);

  // Diffs: line 7 (REVISED, 4 changed sentences) and the other REVISED/NEAR_DUPLICATE lines.
  auto diffs = ReadAll(bootstrap_, Topic("diffs"), 3, seconds(30));
  bool found_line7 = false;
  for (const auto& r : diffs) {
    v1::PageDiff d;
    ASSERT_TRUE(d.ParseFromString(r.value));
    if (d.event_id().ends_with("/0/6")) {
      found_line7 = true;
      EXPECT_EQ(d.verdict(), v1::REVISED);
      EXPECT_EQ(d.significance().sentences_changed(), 4u);
      EXPECT_EQ(d.significance().severity(), v1::MAJOR);
      EXPECT_EQ(d.old_side().version(), 1u);
      EXPECT_EQ(d.new_side().version(), 2u);
      EXPECT_FALSE(d.unified().empty());
    }
  }
  EXPECT_TRUE(found_line7);

  // Metrics equal what was fed.
  std::map<std::string, int> by_verdict;
  std::map<std::string, int> by_reason;
  for (const auto& [offset, v] : got) {
    if (v.starts_with("DLQ:"))
      ++by_reason[v.substr(4)];
    else
      ++by_verdict[v];
  }
  std::string metrics = daemon.Metrics();
  for (const auto& [verdict, n] : by_verdict) {
    EXPECT_NE(metrics.find("dedupd_pages_total{verdict=\"" + verdict + "\"} " + std::to_string(n)),
              std::string::npos)
        << verdict << "\n"
        << metrics;
  }
  for (const auto& [reason, n] : by_reason) {
    EXPECT_NE(
        metrics.find("dedupd_dead_letters_total{reason=\"" + reason + "\"} " + std::to_string(n)),
        std::string::npos)
        << reason;
  }
  EXPECT_NE(metrics.find("dedupd_input_messages_total 17"), std::string::npos);
  EXPECT_NE(metrics.find("dedupd_revisions_total{"), std::string::npos);

  // The fingerprints topic carries fingerprint records: format 5, keyed by
  // the URL, no text (docs/design.md, "The state record").
  // One per stored state: every event but UNCHANGED (exactly once).
  size_t stored = 0;
  for (const auto& [verdict, n] : by_verdict) stored += verdict == "UNCHANGED" ? 0 : n;
  auto fingerprints = FingerprintFormats();
  EXPECT_EQ(fingerprints.size(), stored);
  for (const auto& [url, format] : fingerprints) EXPECT_EQ(format, 5) << url;

  // The API on the same port (docs/api.md): the edited release's two
  // versions and its copies. The store commits just after the transaction
  // whose outputs were read above: polled, bounded.
  const std::string release =
      "https%3A%2F%2Fwww.sc.gov.cn%2F10462%2F10464%2F10797%2F2023%2F4%2F27%2F10fd6e7c2a3e4b1f."
      "shtml";
  std::string pages;
  for (int i = 0; i < 50; ++i) {
    if (HttpGet(daemon.metrics_port(), "/v1/pages?url=" + release, &pages) == 200 &&
        pages.find("\"copies\":[{") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(pages).get(doc), simdjson::SUCCESS) << pages;
  EXPECT_EQ(doc["versions"].get_array().size(), 2u) << pages;
  EXPECT_TRUE(bool(doc["owner"])) << pages;
  EXPECT_EQ(doc["copies"].get_array().size(), 2u) << pages;  // the mirror and the syndicated copy
  std::string diff;
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/v1/diff?url=" + release + "&from=1&to=2", &diff), 200);
  EXPECT_NE(diff.find("\"sentences_changed\":4"), std::string::npos) << diff;
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/v1/pages?url=https%3A%2F%2Fnone.example%2F", nullptr),
            404);
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(), 0);
}

TEST_F(DaemonTest, SigtermRestartGivesTheSameVerdictsAsAnUninterruptedRun) {
  auto lines = FixtureLines();
  {
    DaemonProcess first(kDedupd, Args(1), log_);
    ASSERT_TRUE(first.WaitReady(seconds(90)));
    ProduceLines(lines, 0, 8);
    ASSERT_EQ(Outcomes(8).size(), 8u);
    first.Signal(SIGTERM);
    ASSERT_EQ(first.Wait(), 0) << "clean exit on SIGTERM";
  }
  // Restarted writing the fingerprint records of versions before issue #15
  // (format 4, text included), as during a rolling upgrade
  // (state.fingerprint_format: full): it reads the format-5 records the first
  // run wrote, and the verdicts do not change.
  auto args = Args(1);
  args.push_back("--state.fingerprint_format=full");
  DaemonProcess second(kDedupd, args, log_);
  ASSERT_TRUE(second.WaitReady(seconds(90)));
  ProduceLines(lines, 8, lines.size());
  ExpectFixtureOutcomes(Outcomes(lines.size()));
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait(), 0);
  std::set<int> formats;
  for (const auto& [url, format] : FingerprintFormats()) formats.insert(format);
  EXPECT_EQ(formats, (std::set<int>{4, 5}));
}

TEST_F(DaemonTest, KillDashNineLosesNothing) {
  auto lines = FixtureLines();
  CreateTopic(Topic("pages"), 1);
  ProduceLines(lines, 0, lines.size());
  {
    DaemonProcess first(kDedupd, Args(1), log_);
    ASSERT_TRUE(first.WaitReady(seconds(90)));
    Deadline deadline(seconds(60));
    while (ReadAll(bootstrap_, Topic("events"), 0, seconds(5)).size() < 3 && !deadline.expired()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    first.Signal(SIGKILL);
    first.Wait();
  }
  DaemonProcess second(kDedupd, Args(1), log_);
  ASSERT_TRUE(second.WaitReady(seconds(90)));
  // Exactly once: every input has one outcome, and it is the expected one.
  ExpectFixtureOutcomes(Outcomes(lines.size()));
}

TEST_F(DaemonTest, MalformedFloodIsDeadLetteredWithReasonsAndTheDaemonStaysUp) {
  std::vector<std::string> input;
  std::map<std::string, int> want;
  for (int i = 0; i < 1000; ++i) {
    std::string n = std::to_string(i);
    input.push_back(R"({"url":"https://flood.example/)" + n + R"(","body":"unterminated)");
    input.push_back(R"({"body":"no url )" + n + R"("})");
    input.push_back(R"({"url":)" + n + R"(,"body":"x"})");
    input.push_back(R"({"url":"https://flood.example/e)" + n + R"(","body":""})");
    input.push_back("{\"url\":\"https://flood.example/u" + n + "\",\"body\":\"\xff\xfe" + n +
                    "\"}");
    input.push_back(R"({"url":"https://flood.example/big)" + n + R"(","body":")" +
                    std::string(300, 'x') + R"("})");
    if (i % 10 == 0) {
      input.push_back(R"({"url":"https://flood.example/good)" + n +
                      R"(","body":"Good page number )" + n + R"(: the council approved item )" + n +
                      R"( of the plan today after a long debate."})");
    }
  }
  want = {{"invalid_json", 1000}, {"missing_field", 1000}, {"wrong_type", 1000},
          {"empty_body", 1000},   {"invalid_utf8", 1000},  {"too_large", 1000}};
  CreateTopic(Topic("pages"), 3);
  ProduceLines(input, 0, input.size());
  auto args = Args(3);
  args.push_back("--processing.max_body_bytes=200");
  DaemonProcess daemon(kDedupd, args, log_);
  ASSERT_TRUE(daemon.WaitReady(seconds(90)));
  auto got = Outcomes(input.size());
  ASSERT_EQ(got.size(), input.size());
  std::map<std::string, int> reasons;
  int good = 0;
  for (const auto& [offset, v] : got) {
    if (v.starts_with("DLQ:"))
      ++reasons[v.substr(4)];
    else
      ++good;
  }
  EXPECT_EQ(reasons, want);
  EXPECT_EQ(good, 100);
  std::string body;
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/readyz", &body), 200) << body;
  EXPECT_NE(daemon.Metrics().find("dedupd_dead_letters_total{reason=\"too_large\"} 1000"),
            std::string::npos);
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(), 0);
}

}  // namespace
}  // namespace dedupd::e2e
