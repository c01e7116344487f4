// Topic preparation at start (delivery/topics.h) against a fake admin edge:
// which topics are created, with how many partitions, and when the answer is
// final.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "delivery/topics.h"
#include "unit/delivery/fake_edge.h"

namespace dedupd::delivery {
namespace {

class FakeAdmin final : public TopicAdmin {
 public:
  std::map<std::string, int32_t> topics;
  std::vector<kafka::TopicSpec> created;
  bool broker_down = false;

  kafka::Result<int32_t> PartitionCount(const std::string& topic) override {
    if (broker_down) return kafka::Failure{"all brokers down"};
    auto it = topics.find(topic);
    if (it == topics.end()) return kafka::Failure{"unknown topic"};
    return it->second;
  }
  kafka::Status Create(const std::vector<kafka::TopicSpec>& specs) override {
    if (broker_down) return kafka::Status(RdKafka::ERR__TRANSPORT, "all brokers down");
    for (const auto& spec : specs) {
      created.push_back(spec);
      topics.try_emplace(spec.name, spec.partitions);
    }
    return {};
  }
};

TopicPlan Plan(bool create = true) {
  return {"pages", "state", "fingerprints", {"events", "diffs", "dlq"}, create, 6, 1};
}

TEST(PrepareTopics, CreatesWhatIsMissingWithTheInputsPartitionCountForStateTopics) {
  FakeAdmin admin;
  admin.topics = {{"pages", 4}, {"events", 6}};
  const TopicsPrepared r = PrepareTopics(Plan(), &admin);
  ASSERT_EQ(r.outcome, TopicsOutcome::kReady) << r.error;
  std::map<std::string, kafka::TopicSpec> by_name;
  for (const auto& spec : admin.created) by_name[spec.name] = spec;
  ASSERT_EQ(by_name.size(), 4u);
  EXPECT_EQ(by_name["diffs"].partitions, 6);  // outputs: kafka.partitions
  EXPECT_EQ(by_name["dlq"].partitions, 6);
  EXPECT_EQ(by_name["state"].partitions, 4);  // the input's count
  EXPECT_EQ(by_name["fingerprints"].partitions, 4);
  EXPECT_EQ(by_name["state"].configs.at("cleanup.policy"), "compact");
  EXPECT_EQ(by_name["fingerprints"].configs.at("cleanup.policy"), "compact");
  EXPECT_TRUE(by_name["diffs"].configs.empty());
}

TEST(PrepareTopics, AMissingInputIsCreatedFirst) {
  FakeAdmin admin;
  ASSERT_EQ(PrepareTopics(Plan(), &admin).outcome, TopicsOutcome::kReady);
  ASSERT_FALSE(admin.created.empty());
  EXPECT_EQ(admin.created.front().name, "pages");
  EXPECT_EQ(admin.topics["state"], 6);
}

TEST(PrepareTopics, AChangelogThatDoesNotMatchTheInputIsFinal) {
  FakeAdmin admin;
  admin.topics = {{"pages", 4}, {"state", 3}, {"fingerprints", 4}};
  const TopicsPrepared r = PrepareTopics(Plan(), &admin);
  EXPECT_EQ(r.outcome, TopicsOutcome::kPermanent);
  EXPECT_NE(r.error.find("has 3 partitions but the input 'pages' has 4"), std::string::npos)
      << r.error;
}

TEST(PrepareTopics, WithoutCreateTopicsAMissingTopicIsRetriedNotCreated) {
  FakeAdmin admin;
  admin.topics = {{"pages", 2}, {"state", 2}, {"fingerprints", 2}, {"events", 1}, {"diffs", 1}};
  TopicsPrepared r = PrepareTopics(Plan(false), &admin);
  EXPECT_EQ(r.outcome, TopicsOutcome::kRetry);
  EXPECT_NE(r.error.find("missing topic 'dlq'"), std::string::npos) << r.error;
  EXPECT_TRUE(admin.created.empty());

  admin.topics.erase("pages");
  r = PrepareTopics(Plan(false), &admin);
  EXPECT_EQ(r.outcome, TopicsOutcome::kRetry);
  EXPECT_NE(r.error.find("input topic 'pages'"), std::string::npos) << r.error;
}

TEST(PrepareTopics, ABrokerThatIsDownIsRetried) {
  FakeAdmin admin;
  admin.broker_down = true;
  const TopicsPrepared r = PrepareTopics(Plan(), &admin);
  EXPECT_EQ(r.outcome, TopicsOutcome::kRetry);
  EXPECT_NE(r.error.find("all brokers down"), std::string::npos) << r.error;
}

// At start, the broker may not be up yet: retried with a growing back-off
// (on the manual clock) until it is; a permanent answer is not retried.
TEST(PrepareTopicsUntilReady, RetriesWithBackOffUntilTheBrokerAnswers) {
  FakeAdmin admin;
  admin.broker_down = true;
  testing::ManualClock clock;
  TopicsWaitHooks hooks;
  int failures = 0;
  hooks.failed = [&] {
    if (++failures == 7) admin.broker_down = false;
  };
  ASSERT_TRUE(PrepareTopicsUntilReady(Plan(), &admin, &clock, hooks));
  EXPECT_EQ(failures, 7);
  // 0.5 + 1 + 2 + 4 + 8 + 8 + 8 s.
  EXPECT_EQ(clock.slept(), std::chrono::milliseconds(31500));
  EXPECT_FALSE(admin.created.empty());
}

TEST(PrepareTopicsUntilReady, APermanentAnswerOrASignalStops) {
  FakeAdmin admin;
  testing::ManualClock clock;
  admin.topics = {{"pages", 4}, {"state", 3}, {"fingerprints", 4}};
  EXPECT_FALSE(PrepareTopicsUntilReady(Plan(), &admin, &clock, {}));
  EXPECT_EQ(clock.slept(), std::chrono::milliseconds(0));
  FakeAdmin down;
  down.broker_down = true;
  TopicsWaitHooks hooks;
  hooks.cancelled = [] { return true; };
  EXPECT_FALSE(PrepareTopicsUntilReady(Plan(), &down, &clock, hooks));
}

}  // namespace
}  // namespace dedupd::delivery
