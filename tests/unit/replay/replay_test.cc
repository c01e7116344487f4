// `dedupd replay` without a broker: parsing --from, the replay's names and
// configuration overrides (and the prefixes refused because they would write
// into a live topic), the ranges planned from watermarks, and the progress
// that decides when the replay stops.
#include "replay/replay.h"

#include <gtest/gtest.h>

#include "unit/delivery/fake_edge.h"
#include "unit/metrics/registry_lines.h"

namespace dedupd::app {
namespace {

using dedupd::testing::RegistryLines;

// The replay stage declares its own metric (replay/replay_metrics.h): name,
// help, type and its value outside a replay, as tests/ops/metric_names.txt
// and the dashboards have them.
TEST(ReplayMetrics, DeclaresTheRemainingMessagesGauge) {
  prometheus::Registry registry;
  ReplayMetrics metrics(registry);
  EXPECT_EQ(
      RegistryLines(registry),
      (dedupd::testing::Lines{
          "# HELP dedupd_replay_remaining_messages Input messages a `dedupd replay` still "
          "has to process before the end offsets taken at its start (0 outside a replay)",
          "# TYPE dedupd_replay_remaining_messages gauge", "dedupd_replay_remaining_messages 0"}));
}

config::Settings Load(const std::vector<std::string>& overrides) {
  config::Config cfg;
  std::vector<std::string> errors;
  EXPECT_TRUE(config::LoadConfig("", nullptr, overrides, &cfg, &errors))
      << (errors.empty() ? "" : errors.front());
  return cfg.settings();
}

TEST(ParseReplayFrom, Earliest) {
  auto from = ParseReplayFrom("earliest");
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from.value().kind, ReplayFrom::Kind::kEarliest);
}

TEST(ParseReplayFrom, Rfc3339Timestamps) {
  auto utc = ParseReplayFrom("2026-12-01T08:00:00Z");
  ASSERT_TRUE(utc.ok()) << utc.error();
  EXPECT_EQ(utc.value().kind, ReplayFrom::Kind::kTimestamp);
  EXPECT_EQ(utc.value().timestamp_ms, 1796112000000);
  auto offset = ParseReplayFrom("2026-12-01T09:00:00.250+01:00");
  ASSERT_TRUE(offset.ok()) << offset.error();
  EXPECT_EQ(offset.value().timestamp_ms, 1796112000250);
}

TEST(ParseReplayFrom, EpochMilliseconds) {
  auto from = ParseReplayFrom("1796112000000");
  ASSERT_TRUE(from.ok()) << from.error();
  EXPECT_EQ(from.value().kind, ReplayFrom::Kind::kTimestamp);
  EXPECT_EQ(from.value().timestamp_ms, 1796112000000);
}

TEST(ParseReplayFrom, OffsetLists) {
  auto from = ParseReplayFrom("0:123,1:456,7:0");
  ASSERT_TRUE(from.ok()) << from.error();
  EXPECT_EQ(from.value().kind, ReplayFrom::Kind::kOffsets);
  EXPECT_EQ(from.value().offsets, (std::map<int32_t, int64_t>{{0, 123}, {1, 456}, {7, 0}}));
  auto one = ParseReplayFrom("3:9");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value().offsets, (std::map<int32_t, int64_t>{{3, 9}}));
}

TEST(ParseReplayFrom, BadInputsSayWhatIsExpected) {
  struct Case {
    std::string text;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "needs a value"},
           {"123", "epoch milliseconds must be at least"},  // a bare offset, not a time
           {"0", "for offsets write PARTITION:OFFSET"},
           {"yesterday", "expected earliest, an RFC 3339 timestamp"},
           {"2026-13-01T00:00:00Z", "expected earliest"},
           {"2026-12-01", "expected earliest"},
           {"-5", "expected earliest"},
           {"0:1,", "'' is not PARTITION:OFFSET"},
           {"0:", "'0:' is not PARTITION:OFFSET"},
           {":5", "':5' is not PARTITION:OFFSET"},
           {"0:1:2", "'0:1:2' is not PARTITION:OFFSET"},
           {"0:1,0:2", "partition 0 is given twice"},
           {"0:1,x", "'x' is not PARTITION:OFFSET"},
           {"0:1,1:x", "'1:x' is not PARTITION:OFFSET"},
           {"0:99999999999999999999", "is not PARTITION:OFFSET"},
           {"99999999999999999999", "not a number of milliseconds"},
       }) {
    auto from = ParseReplayFrom(c.text);
    ASSERT_FALSE(from.ok()) << "'" << c.text << "' was accepted";
    EXPECT_NE(from.error().find(c.says), std::string::npos)
        << "'" << c.text << "': " << from.error();
  }
}

TEST(DeriveReplay, PrefixesEveryOutputTopicGroupTransactionalIdAndState) {
  config::Settings live = Load({"state.dir=/var/lib/dedupd"});
  auto names = DeriveReplay(live, "replay-", "");
  ASSERT_TRUE(names.ok()) << names.error();
  const ReplayNames& n = names.value();
  EXPECT_EQ(n.input, "pages");
  EXPECT_EQ(n.replay.events, "replay-page-events");
  EXPECT_EQ(n.replay.diffs, "replay-page-diffs");
  EXPECT_EQ(n.replay.dlq, "replay-pages-dlq");
  // The internal topics, named after the live group when set nowhere.
  EXPECT_EQ(n.live.state, "dedupd-state");
  EXPECT_EQ(n.replay.state, "replay-dedupd-state");
  EXPECT_EQ(n.replay.fingerprints, "replay-dedupd-fingerprints");
  EXPECT_EQ(n.group, "replay-dedupd");
  EXPECT_EQ(n.transactional_id, "replay-dedupd-0");
  EXPECT_EQ(n.state_dir, "/var/lib/dedupd/replay-replay-");

  // The overrides, applied after the live configuration, give a configuration
  // with those names, Alertmanager off and topic creation on.
  std::vector<std::string> all = {"state.dir=/var/lib/dedupd", "alertmanager.enabled=true",
                                  "kafka.create_topics=false"};
  config::Settings live2 = Load({"state.dir=/var/lib/dedupd"});
  all.insert(all.end(), n.overrides.begin(), n.overrides.end());
  config::Settings replay = Load(all);
  EXPECT_EQ(replay.topics.input, "pages");
  EXPECT_EQ(replay.topics.events, "replay-page-events");
  EXPECT_EQ(replay.topics.diffs, "replay-page-diffs");
  EXPECT_EQ(replay.topics.dlq, "replay-pages-dlq");
  EXPECT_EQ(replay.topics.state, "replay-dedupd-state");
  EXPECT_EQ(replay.topics.fingerprints, "replay-dedupd-fingerprints");
  EXPECT_EQ(replay.kafka.group_id, "replay-dedupd");
  EXPECT_EQ(replay.kafka.transactional_id, "replay-dedupd-0");
  EXPECT_EQ(replay.kafka.client_id, "replay-dedupd");
  EXPECT_EQ(replay.state.dir, "/var/lib/dedupd/replay-replay-");
  EXPECT_FALSE(replay.alertmanager.enabled);
  EXPECT_TRUE(replay.kafka.create_topics);
  // The detection settings are the live ones: that is the point of a replay.
  EXPECT_EQ(replay.detect.near_dup_jaccard, live2.detect.near_dup_jaccard);
}

TEST(DeriveReplay, ConfiguredNamesArePrefixedAsConfigured) {
  config::Settings live = Load({"kafka.group_id=news", "topics.input=in", "topics.events=ev",
                                "topics.state=st", "kafka.transactional_id=news-3"});
  auto names = DeriveReplay(live, "r.", "/tmp/replay-state");
  ASSERT_TRUE(names.ok()) << names.error();
  EXPECT_EQ(names.value().replay.events, "r.ev");
  EXPECT_EQ(names.value().replay.state, "r.st");
  EXPECT_EQ(names.value().replay.fingerprints, "r.news-fingerprints");
  EXPECT_EQ(names.value().group, "r.news");
  EXPECT_EQ(names.value().transactional_id, "r.news-3");
  EXPECT_EQ(names.value().state_dir, "/tmp/replay-state");
}

TEST(DeriveReplay, CreateTopicsFalseOnTheCommandLineIsKept) {
  // Sources are "flag" only for command-line overrides; LoadConfig's
  // overrides are the command line.
  config::Settings live = Load({"kafka.create_topics=false"});
  auto names = DeriveReplay(live, "r-", "");
  ASSERT_TRUE(names.ok());
  for (const auto& o : names.value().overrides) EXPECT_NE(o, "kafka.create_topics=true");
}

TEST(DeriveReplay, RefusesAnEmptyPrefix) {
  auto names = DeriveReplay(Load({}), "", "");
  ASSERT_FALSE(names.ok());
  EXPECT_NE(names.error().find("must not be empty"), std::string::npos) << names.error();
}

TEST(DeriveReplay, RefusesCharactersKafkaDoesNotAllow) {
  for (std::string bad : {"re play-", "r/", "r:", "ü-"}) {
    auto names = DeriveReplay(Load({}), bad, "");
    ASSERT_FALSE(names.ok()) << bad;
    EXPECT_NE(names.error().find("allow only letters"), std::string::npos) << names.error();
  }
}

TEST(DeriveReplay, RefusesAPrefixThatMakesAReplayTopicALiveTopic) {
  // The live diffs topic is "r-page-events": prefix "r-" would make the
  // replay's events topic the live diffs topic.
  auto diffs = DeriveReplay(Load({"topics.diffs=r-page-events"}), "r-", "");
  ASSERT_FALSE(diffs.ok());
  EXPECT_NE(diffs.error().find("events topic 'r-page-events' a topic the live deployment uses"),
            std::string::npos)
      << diffs.error();
  // ... or the replay's dead-letter topic the live input.
  auto input = DeriveReplay(Load({"topics.input=old-pages-dlq"}), "old-", "");
  ASSERT_FALSE(input.ok());
  EXPECT_NE(input.error().find("dlq topic 'old-pages-dlq'"), std::string::npos) << input.error();
  // ... or the replay's state topic the live fingerprints topic.
  auto internal = DeriveReplay(
      Load({"topics.state=x", "topics.fingerprints=r-x", "topics.events=e"}), "r-", "");
  ASSERT_FALSE(internal.ok());
  EXPECT_NE(internal.error().find("state topic 'r-x'"), std::string::npos) << internal.error();
}

TEST(DeriveReplay, RefusesTopicNamesOverKafkasLimit) {
  auto names = DeriveReplay(Load({}), std::string(240, 'r'), "");
  ASSERT_FALSE(names.ok());
  EXPECT_NE(names.error().find("249"), std::string::npos) << names.error();
}

TEST(DeriveReplay, RefusesTheLiveStateDirectory) {
  auto names = DeriveReplay(Load({"state.dir=/data/state"}), "r-", "/data/./state/");
  ASSERT_FALSE(names.ok());
  EXPECT_NE(names.error().find("is the live state directory"), std::string::npos) << names.error();
}

TEST(DeriveReplay, PrefixesAStaticMembershipIdWhenThereIsOne) {
  config::Settings with = Load({"kafka.group_instance_id=dedupd-1"});
  auto names = DeriveReplay(with, "r-", "");
  ASSERT_TRUE(names.ok());
  EXPECT_NE(std::find(names.value().overrides.begin(), names.value().overrides.end(),
                      "kafka.group_instance_id=r-dedupd-1"),
            names.value().overrides.end());
}

TEST(PlanReplay, EarliestStartsAtTheLogStartAndEndsAtTheStableEnd) {
  auto ranges = PlanReplay({}, {{0, {0, 17}}, {1, {5, 9}}, {2, {4, 4}}}, {});
  ASSERT_TRUE(ranges.ok());
  EXPECT_EQ(ranges.value().at(0).start, 0);
  EXPECT_EQ(ranges.value().at(0).end, 17);
  EXPECT_EQ(ranges.value().at(1).start, 5);
  EXPECT_EQ(ranges.value().at(2).start, 4);
  EXPECT_EQ(ranges.value().at(2).end, 4);
}

TEST(PlanReplay, TimestampUsesTheOffsetsForTimeAndNoneMeansNothingToReplay) {
  ReplayFrom from = ParseReplayFrom("2026-12-01T08:00:00Z").value();
  auto ranges = PlanReplay(from, {{0, {0, 17}}, {1, {0, 9}}}, {{0, 8}, {1, -1}});
  ASSERT_TRUE(ranges.ok());
  EXPECT_EQ(ranges.value().at(0).start, 8);
  EXPECT_EQ(ranges.value().at(1).start, 9);  // every message older: empty range
}

TEST(PlanReplay, ExplicitOffsets) {
  ReplayFrom from = ParseReplayFrom("0:3,1:1").value();
  auto ranges = PlanReplay(from, {{0, {0, 17}}, {1, {2, 9}}, {2, {0, 5}}}, {});
  ASSERT_TRUE(ranges.ok()) << ranges.error();
  EXPECT_EQ(ranges.value().at(0).start, 3);
  EXPECT_EQ(ranges.value().at(1).start, 2);  // below the log start: raised to it
  EXPECT_EQ(ranges.value().at(2).start, 5);  // not listed: not replayed
  auto past = PlanReplay(ParseReplayFrom("0:18").value(), {{0, {0, 17}}}, {});
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().find("offset 18 of partition 0 is past its end (17)"), std::string::npos)
      << past.error();
  auto missing = PlanReplay(ParseReplayFrom("4:0").value(), {{0, {0, 17}}}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("has no partition 4"), std::string::npos) << missing.error();
}

TEST(ReplayRun, FinishesWhenEveryPartitionsCommittedOffsetReachedItsEnd) {
  ReplayRun::Clock::time_point now{};
  ReplayNames names = DeriveReplay(Load({}), "r-", "").value();
  ReplayRun run(names, {{0, {0, 10}}, {1, {5, 8}}, {2, {3, 3}}}, std::chrono::seconds(5),
                [&now] { return now; });
  EXPECT_EQ(run.Partitions(), (std::vector<int32_t>{0, 1, 2}));
  auto p = run.Observe({});
  EXPECT_FALSE(p.caught_up);
  EXPECT_EQ(p.remaining, 13);
  EXPECT_EQ(run.StartOffset(0, -1001), 0);  // no committed offset: the plan's start
  EXPECT_EQ(run.StartOffset(1, -1001), 5);
  EXPECT_EQ(run.StartOffset(2, -1001), 3);
  EXPECT_EQ(run.StartOffset(9, -1001), -1);  // not planned: its end
  now += std::chrono::seconds(2);
  p = run.Observe({{0, 6}, {1, 8}});
  EXPECT_FALSE(p.caught_up);
  EXPECT_FALSE(p.confirm);
  EXPECT_EQ(p.remaining, 4);
  EXPECT_NE(run.ProgressLine().find("9/13 messages"), std::string::npos) << run.ProgressLine();
  EXPECT_NE(run.ProgressLine().find("4.5 msg/s, ETA 0.9 s"), std::string::npos)
      << run.ProgressLine();
  EXPECT_NE(run.ProgressLine().find(" 0:6/10 1:3/3 2:0/0"), std::string::npos)
      << run.ProgressLine();
  // Partition 1 reached its end: paused once, and its later messages skipped.
  EXPECT_EQ(p.reached_end, std::vector<int32_t>{1});
  EXPECT_TRUE(run.Observe({{0, 6}, {1, 8}}).reached_end.empty());
  EXPECT_TRUE(run.PastEnd(1, 8));
  EXPECT_FALSE(run.PastEnd(1, 7));
  EXPECT_FALSE(run.PastEnd(0, 9));
  EXPECT_TRUE(run.PastEnd(0, 10));
  EXPECT_TRUE(run.PastEnd(9, 0));  // not planned
  p = run.Observe({{0, 10}, {1, 8}});
  EXPECT_TRUE(p.caught_up);
  EXPECT_TRUE(p.confirm);
  EXPECT_EQ(p.remaining, 0);
  EXPECT_FALSE(run.finished()) << "positions alone do not finish a replay";

  // An aborted batch left partition 1's commit short of its end (its
  // position will be rewound): not finished, and the paused partition is
  // named to be resumed. Partition 2 (empty range, nothing committed) is done.
  auto c = run.Confirm({{0, 10}, {1, 6}, {2, -1001}});
  EXPECT_FALSE(c.finished);
  EXPECT_EQ(c.behind, std::vector<int32_t>{1});
  p = run.Observe({{0, 10}, {1, 6}});  // rewound
  EXPECT_FALSE(p.caught_up);
  EXPECT_EQ(p.remaining, 2);
  p = run.Observe({{0, 10}, {1, 8}});
  EXPECT_EQ(p.reached_end, std::vector<int32_t>{1}) << "paused again";
  EXPECT_TRUE(p.caught_up);
  EXPECT_FALSE(p.confirm) << "at most every 500 ms";
  now += std::chrono::seconds(1);
  EXPECT_TRUE(run.Observe({{0, 10}, {1, 8}}).confirm);
  c = run.Confirm({{0, 10}, {1, 8}});
  EXPECT_TRUE(c.finished);
  EXPECT_TRUE(c.behind.empty());
  EXPECT_TRUE(run.finished());
  EXPECT_FALSE(run.resumed());
}

// The loop's turn (ReplayRun::Finished) against a fake consumer: the gauge,
// a partition at its end paused, the committed offsets asked only once
// caught up with nothing uncommitted, a partition short of its end resumed.
TEST(ReplayRun, FinishedPausesAsksTheCommittedOffsetsAndResumes) {
  ReplayRun::Clock::time_point now{};
  ReplayNames names = DeriveReplay(Load({}), "r-", "").value();
  ReplayRun run(names, {{0, {0, 10}}, {1, {5, 8}}}, std::chrono::seconds(5),
                [&now] { return now; });
  delivery::testing::FakeConsumer consumer;
  prometheus::Registry registry;
  ReplayMetrics metrics(registry);
  EXPECT_EQ(run.StartOffset(0, -1001), 0);  // assigned
  EXPECT_EQ(run.StartOffset(1, -1001), 5);
  consumer.positions = {{0, 4}, {1, 8}};
  EXPECT_FALSE(run.Finished(consumer, false, &metrics));
  EXPECT_EQ(consumer.pause_calls, std::vector<std::string>{"pause 1"});
  EXPECT_EQ(RegistryLines(registry).count("dedupd_replay_remaining_messages 6"), 1u);
  EXPECT_EQ(consumer.committed_calls, 0u);
  consumer.positions = {{0, 10}, {1, 8}};
  // Caught up, but a batch is open: its commit comes first.
  EXPECT_FALSE(run.Finished(consumer, true, &metrics));
  EXPECT_EQ(consumer.committed_calls, 0u);
  now += std::chrono::seconds(1);
  // An aborted batch left partition 1's commit behind: resumed.
  consumer.committed = {{0, 10}, {1, 6}};
  EXPECT_FALSE(run.Finished(consumer, false, &metrics));
  EXPECT_EQ(consumer.committed_calls, 1u);
  EXPECT_EQ(consumer.pause_calls.back(), "resume 1");
  // A failed fetch is retried at a later turn.
  now += std::chrono::seconds(1);
  consumer.committed = {{0, 10}, {1, 8}};
  consumer.committed_failures = {"_TIMED_OUT"};
  EXPECT_FALSE(run.Finished(consumer, false, &metrics));
  now += std::chrono::seconds(1);
  EXPECT_TRUE(run.Finished(consumer, false, &metrics));
  EXPECT_TRUE(run.finished());
}

TEST(ReplayRun, ContinuesFromCommittedOffsets) {
  ReplayNames names = DeriveReplay(Load({}), "r-", "").value();
  ReplayRun run(names, {{0, {0, 10}}});
  EXPECT_EQ(run.StartOffset(0, 7), 7);
  EXPECT_TRUE(run.resumed());
  auto p = run.Observe({});
  EXPECT_EQ(p.remaining, 3);
  EXPECT_NE(run.ProgressLine().find("0/3 messages"), std::string::npos) << run.ProgressLine();
  EXPECT_TRUE(run.Observe({{0, 10}}).caught_up);
  EXPECT_FALSE(run.Confirm({{0, 7}}).finished);
  EXPECT_TRUE(run.Confirm({{0, 10}}).finished);
}

TEST(ReplayRun, EmptyRangesFinishAtOnce) {
  ReplayNames names = DeriveReplay(Load({}), "r-", "").value();
  ReplayRun run(names, {{0, {17, 17}}, {1, {0, 0}}});
  EXPECT_TRUE(run.Observe({}).caught_up);
  EXPECT_TRUE(run.Confirm({}).finished);
}

TEST(ReplayRun, NothingCommittedIsNotFinished) {
  ReplayNames names = DeriveReplay(Load({}), "r-", "").value();
  ReplayRun run(names, {{0, {0, 5}}});
  run.StartOffset(0, -1001);
  EXPECT_FALSE(run.Confirm({{0, -1001}}).finished);
  EXPECT_FALSE(run.Confirm({}).finished);
}

TEST(ReplayRun, SummaryNamesCountsAndTopics) {
  ReplayNames names = DeriveReplay(Load({}), "r-", "").value();
  ReplayRun run(names, {{0, {0, 3}}});
  run.StartOffset(0, -1001);
  PipelineResult event;
  event.outcome.verdict = Verdict::kRevised;
  run.Count(event);
  run.Count(event);
  PipelineResult dead;
  dead.kind = PipelineResult::Kind::kDeadLetter;
  run.Count(dead);
  run.Observe({{0, 3}});
  EXPECT_NE(run.Summary().find("replay interrupted"), std::string::npos);
  run.Confirm({{0, 3}});
  const std::string s = run.Summary();
  EXPECT_NE(s.find("replay finished"), std::string::npos) << s;
  EXPECT_NE(s.find("messages: 3 processed"), std::string::npos) << s;
  EXPECT_NE(s.find("NEW=0 UNCHANGED=0 REVISED=2 DUPLICATE=0 NEAR_DUPLICATE=0 DEAD_LETTER=1"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("events topic: r-page-events"), std::string::npos) << s;
  EXPECT_NE(s.find("consumer group: r-dedupd"), std::string::npos) << s;
}

}  // namespace
}  // namespace dedupd::app
