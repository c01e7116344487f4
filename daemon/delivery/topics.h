// Topic preparation at start: the input must exist (or be created), the
// outputs, the state changelog and the fingerprints topic are created when
// missing and allowed, and the changelog must have exactly as many
// partitions as the input (partition p of the changelog holds input
// partition p's URLs: docs/delivery.md). Behind a small admin edge so that
// the rules are tested without a broker.
//
//   RdKafkaTopicAdmin admin(common_props, std::chrono::seconds(15));
//   TopicsPrepared r = PrepareTopics(plan, &admin);
//   switch (r.outcome) { case TopicsOutcome::kReady: ...; case kRetry: ...; case kPermanent: ... }
//
// Thread-safety: PrepareTopics is a free function; an admin edge is not
// shared between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "delivery/clock.h"
#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/result.h"
#include "kafka/status.h"

namespace dedupd::delivery {

class TopicAdmin {
 public:
  virtual ~TopicAdmin() = default;
  // The topic's partition count; an error when it is unknown (or the broker
  // cannot be asked).
  virtual kafka::Result<int32_t> PartitionCount(const std::string& topic) = 0;
  // Creates the topics (existing ones count as created) and waits for them.
  virtual kafka::Status Create(const std::vector<kafka::TopicSpec>& topics) = 0;
};

struct TopicPlan {
  std::string input;
  std::string state;         // the compacted state changelog
  std::string fingerprints;  // the compacted fingerprints topic
  std::vector<std::string> outputs;
  bool create = true;  // kafka.create_topics
  int32_t partitions = 1;
  int16_t replication_factor = 1;
};

enum class TopicsOutcome {
  kReady,
  kRetry,      // not yet (the broker may not be up): try again later
  kPermanent,  // the topics do not fit together: retrying cannot help
};

struct TopicsPrepared {
  TopicsOutcome outcome = TopicsOutcome::kReady;
  std::string error;  // when not ready
};

TopicsPrepared PrepareTopics(const TopicPlan& plan, TopicAdmin* admin);

struct TopicsWaitHooks {
  std::function<void(const char* what)> beat = [](const char*) {};
  std::function<bool()> cancelled = [] { return false; };
  // A failed attempt (dedupd_kafka_errors_total{kind="admin"}).
  std::function<void()> failed = [] {};
};
// At start: PrepareTopics until the topics are ready (true), retried with a
// back-off of 0.5, 1, 2, 4, then 8 s while the broker may not be up yet;
// false on a permanent answer (logged) or cancelled().
bool PrepareTopicsUntilReady(const TopicPlan& plan, TopicAdmin* admin, Clock* clock,
                             const TopicsWaitHooks& hooks);

// The librdkafka admin edge (kafka/admin.h): each call its own short-lived client.
class RdKafkaTopicAdmin final : public TopicAdmin {
 public:
  RdKafkaTopicAdmin(kafka::Props props, std::chrono::milliseconds create_timeout)
      : props_(std::move(props)), create_timeout_(create_timeout) {}
  kafka::Result<int32_t> PartitionCount(const std::string& topic) override;
  kafka::Status Create(const std::vector<kafka::TopicSpec>& topics) override;

 private:
  kafka::Props props_;
  std::chrono::milliseconds create_timeout_;
};

}  // namespace dedupd::delivery
