// Records Kafka refuses for good, end to end against the real local broker
// (docs/delivery.md, "Records Kafka refuses"): one page among good ones makes
// an output record that is too large, either for the producer's
// message.max.bytes (refused by produce(), checked before producing) or for
// the output topic's max.message.bytes (refused by the broker, seen in a
// delivery report). Its input message must go to the dead-letter topic with
// reason output_rejected and be counted; the good pages must get their
// events; none of the bad page's state may be written (a later small fetch
// of its URL is NEW); and the daemon must stay ready and move past it, in
// both delivery modes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>

#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"

namespace dedupd::e2e {
namespace {

using std::chrono::seconds;

const std::string kDedupd = DEDUPD_BINARY;

std::string Page(const std::string& url, const std::string& title, const std::string& body) {
  return R"({"url":")" + url + R"(","title":")" + title +
         R"(","content_type":"text/plain","body":")" + body + R"("})";
}

std::string GoodBody(int i, const std::string& extra = "") {
  return "Release number " + std::to_string(i) + " of the city council: the board approved item " +
         std::to_string(i * 7 + 3) + " of the budget plan after a debate of " +
         std::to_string(i + 2) + " hours. " + RandomWords(300, 1000 + i) + extra;
}

// The value of one series in a /metrics text, -1 when absent.
double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(metrics.c_str() + at + 1 + series.size() + 1);
}

// Whether the bad page is refused by the producer (its state record is over
// kafka.producer.message.max.bytes) or by the broker (its event is over the
// events topic's max.message.bytes, created small by the test).
enum class Refuser { kProducer, kBroker };

struct Case {
  Refuser refuser;
  std::string mode;
};

class RejectedOutputTest : public DaemonFixture, public ::testing::WithParamInterface<Case> {
 protected:
  RejectedOutputTest() : DaemonFixture("r") {}
  void ProduceLines(const std::vector<std::string>& lines) {
    ProduceAll(Topic("pages"), 0, lines, KeyOf);
  }
};

TEST_P(RejectedOutputTest, AnOversizedOutputDeadLettersItsInputAndThePartitionMovesOn) {
  const Case c = GetParam();
  const bool exactly_once = c.mode == "exactly_once";
  const std::string bad_url = "https://big.example/release/huge";
  std::string bad;
  if (c.refuser == Refuser::kProducer) {
    // About 80 KB of text: its state record (changelog and fingerprints,
    // zstd-compressed text) stays far above the producer's 20000 bytes.
    bad = Page(bad_url, "Huge release", RandomWords(80000, 7));
  } else {
    // A 6000-character title: the event is above the events topic's 4000.
    bad = Page(bad_url, RandomWords(6000, 7), GoodBody(99));
  }
  // Offsets: 0-4 good, 5 bad, 6-10 good, 11 a revision of the page at 0, 12
  // a small fetch of the bad page's URL (NEW: nothing of the bad fetch was
  // written), 13 good.
  std::vector<std::string> lines;
  std::map<int64_t, std::string> want;
  // In the broker case every good event is a few kB (a 1500-character
  // title), so that librdkafka's batches of several of them are refused
  // together too: the retry must tell the culprit from its neighbours.
  auto title = [&](int i) {
    return c.refuser == Refuser::kBroker ? RandomWords(1500, 500 + i)
                                         : "Release " + std::to_string(i);
  };
  for (int i = 0; i < 11; ++i) {
    if (i == 5) {
      lines.push_back(bad);
      want[5] = "DLQ:output_rejected";
      continue;
    }
    lines.push_back(
        Page("https://council.example/release/" + std::to_string(i), title(i), GoodBody(i)));
    want[i] = "NEW";
  }
  lines.push_back(Page("https://council.example/release/0", title(0),
                       GoodBody(0, " Amended: the amount is now 4,500,000 euros.")));
  want[11] = "REVISED";
  lines.push_back(Page(bad_url, "Huge release, fixed", GoodBody(12)));
  want[12] = "NEW";
  lines.push_back(Page("https://council.example/release/13", title(13), GoodBody(13)));
  want[13] = "NEW";

  CreateTopic(Topic("pages"), 1);
  auto args = Args(1, c.mode);
  if (c.refuser == Refuser::kProducer) {
    args.push_back("--kafka.producer.message.max.bytes=20000");
  } else {
    std::string error;
    ASSERT_TRUE(kafka::EnsureTopics(
        Base(), {{Topic("events"), 1, 1, {{"max.message.bytes", "4000"}}}}, seconds(60), &error))
        << error;
  }
  // All input first, so that the daemon takes the bad page in one batch with
  // good ones.
  ProduceLines(lines);
  DaemonProcess daemon(kDedupd, args, log_);
  ASSERT_TRUE(daemon.WaitReady(seconds(90))) << "daemon not ready; log " << log_;

  // Every input has its outcome. at_least_once may repeat the pages of an
  // aborted batch, and the repeat can see the state its first attempt
  // already wrote to the fingerprints topic (UNCHANGED instead of NEW,
  // docs/delivery.md): there only the dead letter and "a page, not a dead
  // letter" are checked.
  std::multimap<int64_t, std::string> got;
  std::vector<v1::DeadLetter> letters;
  std::vector<kafka::testing::Record> events;
  Deadline deadline(seconds(120));
  while (!deadline.expired()) {
    got.clear();
    letters.clear();
    events = ReadAll(bootstrap_, Topic("events"), 0, seconds(10));
    for (const auto& r : events) {
      v1::PageEvent e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      got.emplace(e.source().offset(), v1::Verdict_Name(e.verdict()));
    }
    for (const auto& r : ReadAll(bootstrap_, Topic("dlq"), 0, seconds(10))) {
      v1::DeadLetter d;
      ASSERT_TRUE(d.ParseFromString(r.value));
      got.emplace(d.source().offset(), "DLQ:" + d.reason_code());
      letters.push_back(d);
    }
    size_t covered = 0;
    for (const auto& [offset, w] : want) covered += got.count(offset) > 0 ? 1 : 0;
    if (covered == want.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  for (const auto& [offset, w] : want) {
    auto [from, to] = got.equal_range(offset);
    ASSERT_NE(from, to) << "no outcome for offset " << offset << "; log " << log_;
    for (auto it = from; it != to; ++it) {
      if (exactly_once || w.starts_with("DLQ:")) {
        EXPECT_EQ(it->second, w) << "offset " << offset;
      } else {
        EXPECT_FALSE(it->second.starts_with("DLQ:")) << "offset " << offset << ": " << it->second;
      }
    }
    if (exactly_once) {
      EXPECT_EQ(got.count(offset), 1u) << "offset " << offset << " twice";
    }
  }
  if (exactly_once) {
    EXPECT_EQ(got.size(), want.size()) << "exactly one outcome per input";
  }

  // The dead letter: reason, which output and why, the source, the original.
  // (exactly one in the committed output; at_least_once may repeat it.)
  ASSERT_GE(letters.size(), 1u);
  if (exactly_once) {
    EXPECT_EQ(letters.size(), 1u);
  }
  const v1::DeadLetter& d = letters.front();
  EXPECT_EQ(d.reason(), v1::DeadLetter::OUTPUT_REJECTED);
  EXPECT_EQ(d.reason_code(), "output_rejected");
  EXPECT_EQ(d.source().topic(), Topic("pages"));
  EXPECT_EQ(d.source().partition(), 0);
  EXPECT_EQ(d.source().offset(), 5);
  if (c.refuser == Refuser::kProducer) {
    EXPECT_NE(d.detail().find("state changelog record"), std::string::npos) << d.detail();
    EXPECT_NE(d.detail().find("message.max.bytes (20000"), std::string::npos) << d.detail();
    EXPECT_NE(d.detail().find("MSG_SIZE_TOO_LARGE"), std::string::npos) << d.detail();
    // The dead letter itself fits under message.max.bytes: a prefix of the original.
    EXPECT_TRUE(d.original_truncated());
    EXPECT_LT(d.original().size(), 20000u);
  } else {
    EXPECT_NE(d.detail().find("broker refused the event record for topic '" + Topic("events")),
              std::string::npos)
        << d.detail();
    EXPECT_NE(d.detail().find("TOO_LARGE"), std::string::npos) << d.detail();
    EXPECT_FALSE(d.original_truncated());
  }
  EXPECT_EQ(d.original_size(), bad.size());
  EXPECT_EQ(d.original(), bad.substr(0, d.original().size()));
  EXPECT_EQ(d.original_key(), bad_url);

  // No event of the bad fetch, and none of its state: the URL's only
  // changelog record is the small fetch's (version 1).
  for (const auto& r : events) {
    v1::PageEvent e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    EXPECT_NE(e.source().offset(), 5);
    if (exactly_once && e.canonical_url() == bad_url) {
      EXPECT_EQ(e.version(), 1u);
    }
  }
  // (at_least_once has no transaction: a record the broker refuses does not
  // take back the input's other records already written; only a record
  // refused by produce() is caught before any of them is produced.)
  size_t bad_states = 0;
  for (const auto& r : ReadAll(bootstrap_, id_ + "-state", 0, seconds(10))) {
    if (r.key == bad_url) {
      ++bad_states;
      EXPECT_LT(r.value.size(), 20000u);
    }
  }
  if (exactly_once || c.refuser == Refuser::kProducer) {
    EXPECT_EQ(bad_states, 1u) << "only the small fetch of the URL wrote state";
  }

  // Counted, still ready, and it moved past: a page produced now is processed.
  // The counters count processing: a batch that is aborted after the dead
  // letter was made (librdkafka 2.0.2 fails a transaction or two after the
  // epoch bump that follows a refusal by the broker) counts it again.
  std::string metrics = daemon.Metrics();
  const double dead = MetricValue(metrics, "dedupd_dead_letters_total{reason=\"output_rejected\"}");
  const double aborted = MetricValue(metrics, "dedupd_transactions_total{result=\"aborted\"}");
  EXPECT_GE(dead, 1) << metrics;
  EXPECT_LE(dead, 1 + aborted) << metrics;
  EXPECT_GE(aborted, 1) << "the refused record aborts its batch\n" << metrics;
  std::string body;
  EXPECT_EQ(HttpGet(daemon.metrics_port(), "/readyz", &body), 200) << body;
  ProduceLines({Page("https://council.example/release/late", title(14), GoodBody(14))});
  Deadline late(seconds(60));
  bool seen = false;
  while (!seen && !late.expired()) {
    for (const auto& r : ReadAll(bootstrap_, Topic("events"), 0, seconds(10))) {
      v1::PageEvent e;
      if (e.ParseFromString(r.value) && e.source().offset() == 14) seen = true;
    }
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_TRUE(seen) << "no event for the page after the dead letter; log " << log_;
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(), 0);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& param) {
  return std::string(param.param.refuser == Refuser::kProducer ? "Producer" : "Broker") +
         (param.param.mode == "exactly_once" ? "ExactlyOnce" : "AtLeastOnce");
}

INSTANTIATE_TEST_SUITE_P(Modes, RejectedOutputTest,
                         ::testing::Values(Case{Refuser::kProducer, "exactly_once"},
                                           Case{Refuser::kBroker, "exactly_once"},
                                           Case{Refuser::kProducer, "at_least_once"},
                                           Case{Refuser::kBroker, "at_least_once"}),
                         CaseName);

}  // namespace
}  // namespace dedupd::e2e
