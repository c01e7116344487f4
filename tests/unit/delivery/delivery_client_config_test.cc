// The Kafka clients' properties (delivery/client_config.h): what delivery
// depends on is forced over the operator's, tuned defaults yield to them.
#include <gtest/gtest.h>

#include "delivery/client_config.h"

namespace dedupd::delivery {
namespace {

// The state readers start from the common properties, kafka.consumer.* over
// them; a configuration librdkafka refuses names the property; the producer's
// message.max.bytes is the one set, else the fallback given.
TEST(ClientConfig, ReaderPropsConfAndMessageMaxBytes) {
  const kafka::Props r = ReaderProps({{"client.id", "c"}, {"fetch.max.bytes", "1"}},
                                     {{"fetch.max.bytes", "2"}, {"isolation.level", "x"}});
  EXPECT_EQ(r, (kafka::Props{{"client.id", "c"},
                             {"fetch.max.bytes", "2"},
                             {"isolation.level", "x"},
                             {"queued.max.messages.kbytes", "262144"}}));
  EXPECT_EQ(ReaderProps({}, {{"queued.max.messages.kbytes", "1024"}})["queued.max.messages.kbytes"],
            "1024");
  auto bad = ClientConf({{"no.such.property", "1"}}, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("no.such.property"), std::string::npos) << bad.error();
  auto conf = ClientConf({{"message.max.bytes", "2000000"}}, nullptr);
  ASSERT_TRUE(conf.ok()) << conf.error();
  EXPECT_EQ(MessageMaxBytes(*conf.value(), 7), 2000000u);
}

TEST(ClientConfig, CommonForcesTheConnectionAndKeepsTheOperatorsBackoff) {
  kafka::Props c = CommonProps({{"bootstrap.servers", "old:1"}, {"security.protocol", "SSL"}},
                               "k1:9092", "dedupd-0");
  EXPECT_EQ(c["bootstrap.servers"], "k1:9092");
  EXPECT_EQ(c["client.id"], "dedupd-0");
  EXPECT_EQ(c["security.protocol"], "SSL");
  EXPECT_EQ(c["reconnect.backoff.max.ms"], "1000");
  c = CommonProps({{"reconnect.backoff.max.ms", "5000"}}, "k1:9092", "dedupd-0");
  EXPECT_EQ(c["reconnect.backoff.max.ms"], "5000");
}

TEST(ClientConfig, ProducerIsTransactionalOnlyInExactlyOnce) {
  const kafka::Props common = CommonProps({}, "k1:9092", "c");
  kafka::Props p =
      ProducerProps(common, {{"linger.ms", "5"}, {"transactional.id", "x"}}, true, "dedupd-txn-0");
  EXPECT_EQ(p["transactional.id"], "dedupd-txn-0") << "forced over the operator's";
  EXPECT_EQ(p["linger.ms"], "5") << "the operator's tuning wins";
  EXPECT_EQ(p["acks"], "all");
  EXPECT_EQ(p["enable.idempotence"], "true");
  EXPECT_EQ(p["transaction.timeout.ms"], "10000");
  EXPECT_EQ(p["bootstrap.servers"], "k1:9092");
  p = ProducerProps(common, {}, false, "dedupd-txn-0");
  EXPECT_EQ(p.count("transactional.id"), 0u);
  EXPECT_EQ(p.count("transaction.timeout.ms"), 0u);
  EXPECT_EQ(p["linger.ms"], "50");
}

TEST(ClientConfig, ConsumerCommitsNothingByItselfAndIsStaticOnlyWithAnInstanceId) {
  kafka::Props c = ConsumerProps({{"enable.auto.commit", "true"}, {"group.id", "x"}}, "dedupd", "",
                                 std::chrono::milliseconds(5000));
  EXPECT_EQ(c["group.id"], "dedupd");
  EXPECT_EQ(c["enable.auto.commit"], "false");
  EXPECT_EQ(c["enable.auto.offset.store"], "false");
  EXPECT_EQ(c["isolation.level"], "read_committed");
  EXPECT_EQ(c["partition.assignment.strategy"], "cooperative-sticky");
  EXPECT_EQ(c["statistics.interval.ms"], "5000");
  // A second of catch-up at 256 MB/s before librdkafka's fetcher stops and
  // naps (client_config.cc, kFetchQueueKbytes; docs/kafka.md, "Fetch queue").
  EXPECT_EQ(c["queued.max.messages.kbytes"], "262144");
  EXPECT_EQ(c.count("group.instance.id"), 0u);
  EXPECT_EQ(c.count("session.timeout.ms"), 0u);
  c = ConsumerProps({{"partition.assignment.strategy", "range"}}, "dedupd", "dedupd-1",
                    std::chrono::milliseconds(0));
  EXPECT_EQ(c["group.instance.id"], "dedupd-1");
  EXPECT_EQ(c["session.timeout.ms"], "120000");
  EXPECT_EQ(c["partition.assignment.strategy"], "range");
  c = ConsumerProps({{"queued.max.messages.kbytes", "65536"}}, "dedupd", "",
                    std::chrono::milliseconds(0));
  EXPECT_EQ(c["queued.max.messages.kbytes"], "65536") << "the operator's tuning wins";
}

}  // namespace
}  // namespace dedupd::delivery
