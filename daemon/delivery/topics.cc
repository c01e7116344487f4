#include "delivery/topics.h"

#include <algorithm>
#include <map>

#include "common/log.h"

namespace dedupd::delivery {

TopicsPrepared PrepareTopics(const TopicPlan& plan, TopicAdmin* admin) {
  auto fail = [](TopicsOutcome outcome, std::string error) {
    return TopicsPrepared{outcome, std::move(error)};
  };
  // The input first: the changelog must have as many partitions as it has.
  auto input = admin->PartitionCount(plan.input);
  if (!input.ok()) {
    if (!plan.create) {
      return fail(TopicsOutcome::kRetry, "input topic '" + plan.input + "': " + input.error());
    }
    if (kafka::Status s =
            admin->Create({{plan.input, plan.partitions, plan.replication_factor, {}}});
        !s.ok()) {
      return fail(TopicsOutcome::kRetry, s.detail());
    }
    input = admin->PartitionCount(plan.input);
    if (!input.ok()) return fail(TopicsOutcome::kRetry, input.error());
  }
  const int32_t n = input.value();
  const std::map<std::string, std::string> compact = {{"cleanup.policy", "compact"}};
  std::vector<kafka::TopicSpec> missing;
  for (const auto& topic : plan.outputs) {
    if (admin->PartitionCount(topic).ok()) continue;
    missing.push_back({topic, plan.partitions, plan.replication_factor, {}});
  }
  if (auto state = admin->PartitionCount(plan.state); state.ok()) {
    if (state.value() != n) {
      return fail(TopicsOutcome::kPermanent,
                  "state changelog '" + plan.state + "' has " + std::to_string(state.value()) +
                      " partitions but the input '" + plan.input + "' has " + std::to_string(n) +
                      ": partition p of the changelog holds input partition p's URLs, so the "
                      "counts must be equal (docs/delivery.md)");
    }
  } else {
    missing.push_back({plan.state, n, plan.replication_factor, compact});
  }
  if (!admin->PartitionCount(plan.fingerprints).ok()) {
    missing.push_back({plan.fingerprints, n, plan.replication_factor, compact});
  }
  if (missing.empty()) return {};
  if (!plan.create) {
    return fail(TopicsOutcome::kRetry,
                "missing topic '" + missing.front().name + "' and kafka.create_topics is false");
  }
  if (kafka::Status s = admin->Create(missing); !s.ok()) {
    return fail(TopicsOutcome::kRetry, s.detail());
  }
  return {};
}

kafka::Result<int32_t> RdKafkaTopicAdmin::PartitionCount(const std::string& topic) {
  auto parts = kafka::ListPartitions(props_, topic, std::chrono::seconds(5));
  if (!parts.ok()) return kafka::Failure{parts.error()};
  return static_cast<int32_t>(parts.value().size());
}

kafka::Status RdKafkaTopicAdmin::Create(const std::vector<kafka::TopicSpec>& topics) {
  std::string error;
  if (kafka::EnsureTopics(props_, topics, create_timeout_, &error)) return {};
  return kafka::Status(RdKafka::ERR__FAIL, error);
}

bool PrepareTopicsUntilReady(const TopicPlan& plan, TopicAdmin* admin, Clock* clock,
                             const TopicsWaitHooks& hooks) {
  for (int attempt = 0;; ++attempt) {
    const TopicsPrepared topics = PrepareTopics(plan, admin);
    switch (topics.outcome) {
      case TopicsOutcome::kReady: return true;
      case TopicsOutcome::kPermanent:
        log::Error("topics do not fit together", {{"error", topics.error}});
        return false;
      case TopicsOutcome::kRetry: break;
    }
    hooks.failed();
    log::Warn("topics not ready yet; retrying", {{"error", topics.error}});
    hooks.beat("waiting for the topics");
    if (hooks.cancelled()) return false;
    clock->SleepFor(std::chrono::milliseconds(std::min(500 << std::min(attempt, 4), 8000)));
  }
}

}  // namespace dedupd::delivery
