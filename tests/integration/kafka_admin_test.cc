// dedupd::kafka's admin helpers against the real broker: EnsureTopics creates,
// tolerates existing topics, applies configs, refuses partition-count
// mismatches and bad configs; ListPartitions / HighWatermarks report what the
// broker holds, including the last stable offset under read_committed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "kafka/admin.h"
#include "kafka/handles.h"
#include "kafka_test_util.h"

namespace dedupd::kafka::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class KafkaAdminTest : public KafkaTest {
 protected:
  // The topic's configuration as the broker reports it (DescribeConfigs), so
  // that EnsureTopics' configs are checked where they matter.
  std::map<std::string, std::string> DescribeTopicConfig(const std::string& topic) {
    std::map<std::string, std::string> out;
    DeliveryLog unused;
    ProducerPtr client = MakeProducer(Base(), &unused);
    if (!client) return out;
    rd_kafka_t* rk = client->c_ptr();
    rd_kafka_ConfigResource_t* resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &resource, 1, nullptr, queue);
    rd_kafka_ConfigResource_destroy(resource);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
    if (event == nullptr) {
      ADD_FAILURE() << "DescribeConfigs: no answer";
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ADD_FAILURE() << "DescribeConfigs: " << rd_kafka_event_error_string(event);
    } else {
      size_t n = 0;
      const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(event), &n);
      for (size_t i = 0; i < n; ++i) {
        size_t m = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &m);
        for (size_t j = 0; j < m; ++j) {
          const char* value = rd_kafka_ConfigEntry_value(entries[j]);
          out[rd_kafka_ConfigEntry_name(entries[j])] = value != nullptr ? value : "";
        }
      }
    }
    if (event != nullptr) rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    return out;
  }
};

TEST_F(KafkaAdminTest, EnsureTopicsCreatesAppliesConfigsAndIsIdempotent) {
  const std::string plain = Unique("plain");
  const std::string compacted = Unique("compacted");
  const std::vector<TopicSpec> specs = {
      {plain, 3, 1, {}},
      {compacted, 2, 1, {{"cleanup.policy", "compact"}, {"min.cleanable.dirty.ratio", "0.1"}}}};
  std::string error;
  ASSERT_TRUE(EnsureTopics(Base(), specs, seconds(60), &error)) << error;

  // Ready means usable at once: partitions listed, watermarks answerable.
  Result<std::vector<int32_t>> parts = ListPartitions(Base(), plain, seconds(30));
  ASSERT_TRUE(parts.ok()) << parts.error();
  EXPECT_THAT(parts.value(), ElementsAre(0, 1, 2));
  parts = ListPartitions(Base(), compacted, seconds(30));
  ASSERT_TRUE(parts.ok()) << parts.error();
  EXPECT_THAT(parts.value(), ElementsAre(0, 1));
  Result<std::vector<Watermarks>> marks = HighWatermarks(Base(), plain, seconds(30));
  ASSERT_TRUE(marks.ok()) << marks.error();
  ASSERT_EQ(marks.value().size(), 3U);
  for (const Watermarks& w : marks.value()) {
    EXPECT_EQ(w.low, 0) << w.partition;
    EXPECT_EQ(w.high, 0) << w.partition;
  }

  const std::map<std::string, std::string> config = DescribeTopicConfig(compacted);
  EXPECT_EQ(config.count("cleanup.policy") ? config.at("cleanup.policy") : "", "compact");
  EXPECT_EQ(config.count("min.cleanable.dirty.ratio") ? config.at("min.cleanable.dirty.ratio") : "",
            "0.1");

  // Again, and again mixed with a new topic: existing ones are success.
  ASSERT_TRUE(EnsureTopics(Base(), specs, seconds(60), &error)) << error;
  const std::string later = Unique("later");
  ASSERT_TRUE(EnsureTopics(Base(), {specs[0], {later, 1, 1, {}}}, seconds(60), &error)) << error;
  parts = ListPartitions(Base(), later, seconds(30));
  ASSERT_TRUE(parts.ok()) << parts.error();
  EXPECT_THAT(parts.value(), ElementsAre(0));
}

TEST_F(KafkaAdminTest, ExistingTopicWithOtherPartitionCountIsAnError) {
  const std::string topic = Unique("mismatch");
  CreateTopic(topic, 2);
  std::string error;
  EXPECT_FALSE(EnsureTopics(Base(), {{topic, 3, 1, {}}}, seconds(30), &error));
  EXPECT_THAT(error, HasSubstr(topic));
  EXPECT_THAT(error, HasSubstr("exists with 2 partitions, expected 3"));
}

TEST_F(KafkaAdminTest, BrokerRefusalsNameTheTopicAndTheReason) {
  const std::string bad_config = Unique("badconfig");
  const std::string too_many_replicas = Unique("replicas");
  const std::string fine = Unique("fine");
  std::string error;
  EXPECT_FALSE(EnsureTopics(Base(),
                            {{bad_config, 1, 1, {{"cleanup.policy", "sometimes"}}},
                             {too_many_replicas, 1, 3, {}},
                             {fine, 1, 1, {}}},
                            seconds(30), &error));
  EXPECT_THAT(error, HasSubstr("topic '" + bad_config + "': INVALID_CONFIG"));
  EXPECT_THAT(error, HasSubstr("topic '" + too_many_replicas + "': INVALID_REPLICATION_FACTOR"));
  EXPECT_THAT(error, ::testing::Not(HasSubstr(fine)));
}

TEST_F(KafkaAdminTest, UnknownTopicIsAnError) {
  const std::string missing = Unique("missing");
  Result<std::vector<int32_t>> parts = ListPartitions(Base(), missing, seconds(10));
  ASSERT_FALSE(parts.ok());
  EXPECT_THAT(parts.error(), HasSubstr("UNKNOWN_TOPIC_OR_PART"));
  Result<std::vector<Watermarks>> marks = HighWatermarks(Base(), missing, seconds(10));
  ASSERT_FALSE(marks.ok());
  EXPECT_THAT(marks.error(), HasSubstr("UNKNOWN_TOPIC_OR_PART"));
}

// Under read_committed (librdkafka's default) the end of a partition is its
// last stable offset: an open transaction's records do not count yet.
TEST_F(KafkaAdminTest, HighWatermarksFollowTheIsolationLevel) {
  const std::string topic = Unique("lso");
  CreateTopic(topic, 1);
  DeliveryLog deliveries;
  ProducerPtr producer = MakeProducer(
      With(Base(), {{"transactional.id", Unique("txn")}, {"transaction.timeout.ms", "20000"}}),
      &deliveries);
  ASSERT_TRUE(producer);
  ErrorPtr err(producer->init_transactions(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  const Deadline deadline(seconds(60));

  err.reset(producer->begin_transaction());
  ASSERT_FALSE(err) << DescribeError(*err);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Produce(*producer, topic, 0, "k", "committed", static_cast<size_t>(i), deadline));
  }
  err.reset(producer->commit_transaction(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  // Offsets 0-4 records, 5 the commit marker.

  err.reset(producer->begin_transaction());
  ASSERT_FALSE(err) << DescribeError(*err);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Produce(*producer, topic, 0, "k", "open", static_cast<size_t>(5 + i), deadline));
  }
  ASSERT_EQ(producer->flush(deadline.remaining_ms()), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(deliveries.acked, 8) << deliveries.first_error;
  // Offsets 6-8: records of the open transaction.

  auto high = [&](const std::string& isolation) -> int64_t {
    Result<std::vector<Watermarks>> marks =
        HighWatermarks(With(Base(), {{"isolation.level", isolation}}), topic, seconds(30));
    EXPECT_TRUE(marks.ok()) << marks.error();
    if (!marks.ok() || marks.value().size() != 1) return -1;
    return marks.value()[0].high;
  };
  EXPECT_EQ(high("read_uncommitted"), 9);
  EXPECT_EQ(high("read_committed"), 6);
  Result<std::vector<Watermarks>> defaults = HighWatermarks(Base(), topic, seconds(30));
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(defaults.value().at(0).high, 6) << "librdkafka's default isolation is read_committed";

  err.reset(producer->abort_transaction(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  // The abort marker at 9 ends the transaction: both ends meet at 10 (once
  // the marker is written: abort_transaction() does not wait for that).
  ASSERT_TRUE(WaitStable(topic, deadline));
  EXPECT_EQ(high("read_uncommitted"), 10);
  EXPECT_EQ(high("read_committed"), 10);
}

}  // namespace
}  // namespace dedupd::kafka::testing
