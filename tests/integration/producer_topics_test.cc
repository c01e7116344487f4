// delivery::RdKafkaProducer::LearnTopics against the real broker: a producer
// made moments after its topics were created knows every partition's leader
// before its first record (librdkafka's own statistics say so), where one
// that did not learn them knows nothing of them; a topic that does not exist
// is refused by name within the timeout, and the producer stays usable.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "delivery/rdkafka_edge.h"
#include "kafka/stats.h"
#include "kafka_test_util.h"

namespace dedupd::kafka::testing {
namespace {

class ProducerTopicsTest : public KafkaTest {
 protected:
  // A producer as the daemon makes one (delivery::RdKafkaProducer), with
  // statistics every 50 ms to `stats`.
  bool Make(delivery::RdKafkaProducer* producer, StatsLog* stats) {
    std::string error;
    ConfPtr conf = MakeConf(With(Base(), {{"statistics.interval.ms", "50"}}), &error);
    if (!conf) {
      ADD_FAILURE() << error;
      return false;
    }
    EXPECT_EQ(conf->set("event_cb", stats, error), RdKafka::Conf::CONF_OK) << error;
    EXPECT_TRUE(producer->Create(conf.get(), nullptr, &error)) << error;
    return producer->created();
  }

  // The leaders by partition of `topic` in the first statistics snapshot
  // taken from now on (none: the producer knows no partition of it).
  static std::map<int32_t, int32_t> LeadersInNextStats(delivery::RdKafkaProducer& producer,
                                                       StatsLog& stats, const std::string& topic) {
    const int64_t seen = stats.count;
    const Deadline deadline(std::chrono::seconds(30));
    while (stats.count < seen + 2 && !deadline.expired()) producer.Poll(20);
    EXPECT_GE(stats.count, seen + 2) << "no statistics within 30 s";
    std::map<int32_t, int32_t> leaders;
    Result<Stats> parsed = ParseStats(stats.last);
    EXPECT_TRUE(parsed.ok()) << parsed.error();
    if (!parsed.ok()) return leaders;
    for (const PartitionStats& p : parsed.value().partitions) {
      if (p.topic == topic && p.partition >= 0) leaders[p.partition] = p.leader;
    }
    return leaders;
  }
};

TEST_F(ProducerTopicsTest, LearnedTopicsHaveEveryLeaderBeforeTheFirstRecord) {
  const std::string three = Unique("learn-three");
  const std::string one = Unique("learn-one");
  CreateTopic(three, 3);
  CreateTopic(one, 1);

  StatsLog learned_stats;
  delivery::RdKafkaProducer learned("unused-input", [] { return nullptr; });
  ASSERT_TRUE(Make(&learned, &learned_stats));
  const kafka::Status status = learned.LearnTopics({three, one}, 30000);
  ASSERT_TRUE(status.ok()) << status.detail();
  const std::map<int32_t, int32_t> three_leaders =
      LeadersInNextStats(learned, learned_stats, three);
  ASSERT_EQ(three_leaders.size(), 3U);
  for (const auto& [partition, leader] : three_leaders) {
    EXPECT_GE(leader, 0) << three << " [" << partition << "]";
  }
  const std::map<int32_t, int32_t> one_leaders = LeadersInNextStats(learned, learned_stats, one);
  ASSERT_EQ(one_leaders.size(), 1U);
  EXPECT_GE(one_leaders.at(0), 0);

  // What the statistics show without the lookup: nothing of the topic until
  // a record goes to it (and then only after librdkafka's next refresh).
  StatsLog plain_stats;
  delivery::RdKafkaProducer plain("unused-input", [] { return nullptr; });
  ASSERT_TRUE(Make(&plain, &plain_stats));
  EXPECT_TRUE(LeadersInNextStats(plain, plain_stats, three).empty());
}

TEST_F(ProducerTopicsTest, AMissingTopicIsNamedWithinTheTimeoutAndTheProducerStaysUsable) {
  const std::string present = Unique("learn-present");
  const std::string missing = Unique("learn-missing");  // never created
  CreateTopic(present, 1);

  StatsLog stats;
  delivery::RdKafkaProducer producer("unused-input", [] { return nullptr; });
  ASSERT_TRUE(Make(&producer, &stats));
  const auto start = std::chrono::steady_clock::now();
  const kafka::Status status = producer.LearnTopics({present, missing}, 1500);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.detail().find("'" + missing + "'"), std::string::npos) << status.detail();
  EXPECT_EQ(status.detail().find("'" + present + "'"), std::string::npos) << status.detail();
  // Bounded by the timeout (with room for one metadata round trip), not by
  // librdkafka's own request timeouts.
  EXPECT_LT(took, std::chrono::seconds(10));

  // The topic learned before the missing one stays known, and records go out.
  const std::map<int32_t, int32_t> leaders = LeadersInNextStats(producer, stats, present);
  ASSERT_EQ(leaders.size(), 1U);
  EXPECT_GE(leaders.at(0), 0);
  ASSERT_TRUE(producer.Produce(present, 0, "k", "v", 1).ok());
  producer.Flush(30000);
  EXPECT_EQ(producer.OutqLen(), 0);
}

}  // namespace
}  // namespace dedupd::kafka::testing
