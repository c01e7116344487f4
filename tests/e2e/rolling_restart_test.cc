// Rolling restarts against the real broker, with the real `dedupd run`:
//  - with static membership (kafka.group_instance_id) and cooperative
//    rebalancing (the defaults the Helm chart uses), an instance restarted
//    with the same instance id gets its partitions back without the other
//    instance having any partition revoked, and a third instance joining
//    takes partitions from the others incrementally;
//  - with the assignor dedupd used before (eager `range`, dynamic
//    membership), the same restart revokes every partition of the other
//    instance twice: the contrast that shows the first check can fail;
//  - in both, an instance whose partitions moved away exports no lag series
//    for them (dedupd_consumer_lag_messages), and every input comes out once.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"

namespace dedupd::e2e {
namespace {

using std::chrono::seconds;

const std::string kDedupd = DEDUPD_BINARY;
constexpr int kPartitions = 6;

// Pages with distinct URLs and text, keyed by URL: the default partitioner
// spreads them over every partition.
std::vector<std::string> Pages(size_t from, size_t to) {
  std::vector<std::string> out;
  for (size_t i = from; i < to; ++i) {
    out.push_back(R"({"url": "https://rolling.example.org/page/)" + std::to_string(i) +
                  R"(", "fetched_at": "2024-01-01T00:00:00Z", "content_type": "text/plain", )"
                  R"("title": "Page )" +
                  std::to_string(i) + R"(", "body": "This is page number )" + std::to_string(i) +
                  " of the rolling restart test. Its paragraph " + std::to_string(i * 7919) +
                  R"( is its own, and nothing else in the input repeats it."})");
  }
  return out;
}

double MetricValue(const std::string& text, const std::string& series) {
  std::smatch m;
  const std::regex re("(^|\n)" +
                      std::regex_replace(series, std::regex(R"([{}\[\]().*+?^$|\\])"), R"(\$&)") +
                      " ([0-9.e+-]+)");
  return std::regex_search(text, m, re) ? std::stod(m[2].str()) : -1;
}

// The input partitions an instance exports lag for.
std::set<int> LagPartitions(const std::string& text, const std::string& topic) {
  std::set<int> out;
  const std::regex re(R"re(dedupd_consumer_lag_messages\{partition="(\d+)",topic="([^"]+)"\})re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    if ((*it)[2].str() == topic) out.insert(std::stoi((*it)[1].str()));
  }
  return out;
}

class RollingRestartTest : public DaemonFixture {
 protected:
  RollingRestartTest() : DaemonFixture("roll") {}

  // One instance slot: its own transactional id, state directory and (when
  // static) group instance id; the group, topics and broker are shared.
  std::vector<std::string> SlotArgs(const std::string& slot, bool static_member) const {
    auto args = Args(kPartitions);
    for (auto& a : args) {
      if (a.rfind("--kafka.transactional_id=", 0) == 0) a += "-" + slot;
      if (a.rfind("--state.dir=", 0) == 0) a += "-" + slot;
    }
    args.push_back("--kafka.client_id=" + id_ + "-" + slot);
    args.push_back("--kafka.consumer.session.timeout.ms=30000");
    args.push_back("--kafka.consumer.heartbeat.interval.ms=1000");
    if (static_member) {
      args.push_back("--kafka.group_instance_id=" + id_ + "-" + slot);
    } else {
      args.push_back("--kafka.consumer.partition.assignment.strategy=range");
    }
    return args;
  }
  void TearDown() override {
    for (const char* slot : {"a", "b", "c"}) {
      std::filesystem::remove_all(state_dir_.string() + "-" + slot);
    }
    DaemonFixture::TearDown();
  }
  void Produce(size_t from, size_t to) {
    auto pages = Pages(from, to);
    ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA, pages, KeyOf, from);
  }
  static double Assigned(const DaemonProcess& d) {
    return MetricValue(d.Metrics(), "dedupd_assigned_partitions");
  }
  static double Revoked(const DaemonProcess& d) {
    return MetricValue(d.Metrics(), R"(dedupd_rebalances_total{kind="revoked"})");
  }
  // Waits until the instances own every partition between them.
  static bool WaitAssigned(const std::vector<const DaemonProcess*>& ds, seconds timeout) {
    Deadline deadline(timeout);
    while (!deadline.expired()) {
      double sum = 0;
      bool each = true;
      for (const auto* d : ds) {
        const double n = Assigned(*d);
        sum += n;
        each = each && n > 0;
      }
      if (each && sum == kPartitions) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
  // Every instance exports lag for exactly the partitions it owns: as many
  // series as dedupd_assigned_partitions says, no partition exported twice,
  // all of them exported once statistics came in. Checked over several
  // statistics intervals (1 s), so that a late callback re-creating a
  // revoked partition's series would be seen.
  void ExpectLagOnlyForOwnedPartitions(const std::vector<const DaemonProcess*>& ds) {
    Deadline deadline(seconds(20));
    std::string why;
    int good_rounds = 0;
    while (!deadline.expired() && good_rounds < 4) {
      std::this_thread::sleep_for(std::chrono::milliseconds(750));
      std::map<int, int> exporters;
      why.clear();
      for (const auto* d : ds) {
        const std::string text = d->Metrics();
        const auto lag = LagPartitions(text, Topic("pages"));
        const double owned = MetricValue(text, "dedupd_assigned_partitions");
        if (static_cast<double>(lag.size()) != owned) {
          why += "an instance owns " + std::to_string(owned) + " partitions but exports lag for " +
                 std::to_string(lag.size()) + "; ";
        }
        for (int p : lag) ++exporters[p];
      }
      for (const auto& [p, n] : exporters) {
        if (n > 1)
          why += "partition " + std::to_string(p) + " exported by " + std::to_string(n) + "; ";
      }
      if (exporters.size() != kPartitions) why += " (not every partition has a lag series yet)";
      good_rounds = why.empty() ? good_rounds + 1 : 0;
    }
    EXPECT_GE(good_rounds, 4) << why;
  }
  // Every input offset of every partition exactly once in the committed
  // events (the pages are all valid: no dead letters).
  void ExpectEachInputOnce(size_t inputs) {
    std::vector<kafka::testing::Record> events;
    Deadline deadline(seconds(120));
    while (!deadline.expired()) {
      events = ReadAll(bootstrap_, Topic("events"), inputs, seconds(20));
      if (events.size() >= inputs) break;
    }
    std::map<std::pair<int32_t, int64_t>, int> seen;
    for (const auto& r : events) {
      v1::PageEvent e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      ++seen[{e.source().partition(), e.source().offset()}];
    }
    EXPECT_EQ(events.size(), inputs);
    EXPECT_EQ(seen.size(), inputs);
    for (const auto& [at, n] : seen) {
      EXPECT_EQ(n, 1) << "input " << at.first << ":" << at.second;
    }
  }
};

TEST_F(RollingRestartTest, StaticCooperativeRestartRevokesNothingFromTheOthers) {
  DaemonProcess a(kDedupd, SlotArgs("a", true), log_);
  ASSERT_TRUE(a.WaitReady(seconds(90))) << "log: " << log_;
  DaemonProcess b(kDedupd, SlotArgs("b", true), log_);
  ASSERT_TRUE(b.WaitReady(seconds(90)));
  ASSERT_TRUE(WaitAssigned({&a, &b}, seconds(60)));
  Produce(0, 120);
  ExpectLagOnlyForOwnedPartitions({&a, &b});
  const double b_revoked = Revoked(b);
  const double b_assigned = Assigned(b);
  const double a_assigned = Assigned(a);
  ASSERT_GE(b_revoked, 0);

  // A rolling restart of `a`: SIGTERM, then the same slot again.
  a.Signal(SIGTERM);
  ASSERT_EQ(a.Wait(), 0);
  Produce(120, 240);  // `b` keeps processing; `a`'s partitions wait for it
  DaemonProcess a2(kDedupd, SlotArgs("a", true), log_);
  ASSERT_TRUE(a2.WaitReady(seconds(90)));
  Deadline back(seconds(30));
  while (!back.expired() && Assigned(a2) != a_assigned) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Assigned(a2), a_assigned) << "the restarted member gets its partitions back";
  Produce(240, 300);
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(Revoked(b), b_revoked) << "the other instance had partitions revoked";
  EXPECT_EQ(Assigned(b), b_assigned);
  ExpectLagOnlyForOwnedPartitions({&a2, &b});

  // A third instance joins: cooperative rebalancing moves partitions to it
  // one step at a time; those moved away leave no lag series behind.
  DaemonProcess c(kDedupd, SlotArgs("c", true), log_);
  ASSERT_TRUE(c.WaitReady(seconds(90)));
  ASSERT_TRUE(WaitAssigned({&a2, &b, &c}, seconds(60)));
  Produce(300, 400);
  EXPECT_GT(Revoked(a2) + Revoked(b), b_revoked) << "partitions moved to the new instance";
  ExpectLagOnlyForOwnedPartitions({&a2, &b, &c});
  ExpectEachInputOnce(400);
  for (auto* d : {&a2, &b, &c}) {
    d->Signal(SIGTERM);
    EXPECT_EQ(d->Wait(), 0);
  }
}

// dedupd before issue 14: an eager rebalance takes every partition from the
// other instance when one leaves and again when it comes back.
// A static member fenced by the group coordinator (what a broker restart can
// do to librdkafka 2.0.2's static members: the member rejoins under a new
// member id and the coordinator fences the old one) gets ERR__FATAL from
// consume() for good. Here another consumer joins under the daemon's group
// instance id, which fences the daemon's consumer the same way: the daemon
// must re-create its consumer in-process and go on, not stall (the old
// behaviour: every later input waits forever) and not exit.
TEST_F(RollingRestartTest, FencedStaticMemberIsRecreatedInProcess) {
  DaemonProcess a(kDedupd, SlotArgs("a", true), log_);
  ASSERT_TRUE(a.WaitReady(seconds(90))) << "log: " << log_;
  ASSERT_TRUE(WaitAssigned({&a}, seconds(60)));
  Produce(0, 60);
  {
    std::string error;
    auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap_},
                                 {"group.id", id_},
                                 {"group.instance.id", id_ + "-a"},
                                 {"session.timeout.ms", "30000"},
                                 {"partition.assignment.strategy", "cooperative-sticky"},
                                 {"enable.auto.commit", "false"},
                                 {"log_level", "2"}},
                                &error);
    ASSERT_TRUE(conf) << error;
    std::string errstr;
    kafka::KafkaConsumerPtr usurper(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    ASSERT_TRUE(usurper) << errstr;
    ASSERT_EQ(usurper->subscribe({Topic("pages")}), RdKafka::ERR_NO_ERROR);
    Deadline joined(seconds(30));
    bool has_partitions = false;
    while (!joined.expired() && !has_partitions) {
      kafka::MessagePtr m(usurper->consume(200));
      kafka::TopicPartitionList assigned;
      has_partitions =
          usurper->assignment(assigned.out()) == RdKafka::ERR_NO_ERROR && !assigned.get().empty();
    }
    EXPECT_TRUE(has_partitions) << "the second consumer never joined under the instance id";
    // Closed here: a static member does not leave the group.
  }
  Produce(60, 120);
  ExpectEachInputOnce(120);
  // Still running: Wait() gives -1 only when the process has not exited.
  EXPECT_EQ(a.Wait(std::chrono::milliseconds(500)), -1) << "the daemon exited; log: " << log_;
  EXPECT_GE(MetricValue(a.Metrics(), R"(dedupd_rebalances_total{kind="lost"})"), 1);
  a.Signal(SIGTERM);
  EXPECT_EQ(a.Wait(), 0);
}

TEST_F(RollingRestartTest, EagerDynamicRestartRevokesTheOthersPartitions) {
  DaemonProcess a(kDedupd, SlotArgs("a", false), log_);
  ASSERT_TRUE(a.WaitReady(seconds(90))) << "log: " << log_;
  DaemonProcess b(kDedupd, SlotArgs("b", false), log_);
  ASSERT_TRUE(b.WaitReady(seconds(90)));
  ASSERT_TRUE(WaitAssigned({&a, &b}, seconds(60)));
  Produce(0, 120);
  const double b_revoked = Revoked(b);

  a.Signal(SIGTERM);
  ASSERT_EQ(a.Wait(), 0);
  Deadline all(seconds(30));
  while (!all.expired() && Assigned(b) != kPartitions) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Assigned(b), kPartitions) << "a dynamic member leaves: `b` takes over";
  Produce(120, 240);
  DaemonProcess a2(kDedupd, SlotArgs("a", false), log_);
  ASSERT_TRUE(a2.WaitReady(seconds(90)));
  ASSERT_TRUE(WaitAssigned({&a2, &b}, seconds(60)));
  EXPECT_GE(Revoked(b), b_revoked + 2) << "eager: revoked when `a` left and when it came back";
  // `b` gave back the partitions it held while `a` was away: no lag series
  // of them stays behind in its scrape. (A partition has a lag series once
  // its owner consumed from it: new input for every partition.)
  Produce(240, 300);
  ExpectLagOnlyForOwnedPartitions({&a2, &b});
  ExpectEachInputOnce(300);
  for (auto* d : {&a2, &b}) {
    d->Signal(SIGTERM);
    EXPECT_EQ(d->Wait(), 0);
  }
}

}  // namespace
}  // namespace dedupd::e2e
