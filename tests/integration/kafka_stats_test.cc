// ParseStats on statistics JSON captured from real librdkafka 2.0.2 clients
// (tests/integration/data/, written by kafka_stats_live_test with
// DEDUPD_STATS_CAPTURE_DIR): a read_committed consumer at the end of two
// partitions while partition 0 holds an open transaction, and the
// transactional producer of that transaction.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "kafka/stats.h"

namespace dedupd::kafka {
namespace {

std::string ReadFixture(const std::string& name) {
  const std::string path = std::string(DEDUPD_SOURCE_DIR) + "/tests/integration/data/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string ReplaceFirst(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(StatsTest, ConsumerSnapshotOffsetsAndLag) {
  Result<Stats> parsed = ParseStats(ReadFixture("consumer-stats.json"));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const Stats& s = parsed.value();
  EXPECT_EQ(s.name, "rdkafka#consumer-3");
  EXPECT_EQ(s.client_id, "rdkafka");
  EXPECT_EQ(s.type, "consumer");
  EXPECT_EQ(s.time, 1795804156);
  EXPECT_EQ(s.tx, 18);
  EXPECT_EQ(s.rx, 17);
  EXPECT_EQ(s.tx_bytes, 2811);
  EXPECT_EQ(s.rx_bytes, 5049);
  EXPECT_EQ(s.txmsgs, 0);
  // 100 records and the 2 commit markers: rxmsgs counts control records too.
  EXPECT_EQ(s.rxmsgs, 102);
  EXPECT_EQ(s.msg_cnt, 0);

  // The bootstrap broker took node id 1 (source "configured"); the logical
  // GroupCoordinator entry mirrors it and must not be counted twice.
  ASSERT_EQ(s.brokers.size(), 2U);
  EXPECT_EQ(s.brokers[0].name, "127.0.0.1:49591/1");
  EXPECT_EQ(s.brokers[0].source, "configured");
  EXPECT_EQ(s.brokers[0].nodeid, 1);
  EXPECT_EQ(s.brokers[0].state, "UP");
  EXPECT_EQ(s.brokers[1].name, "GroupCoordinator");
  EXPECT_EQ(s.brokers[1].source, "logical");
  EXPECT_EQ(s.brokers_up, 1);
  EXPECT_EQ(s.brokers_down, 0);
  EXPECT_EQ(s.brokers_other, 0);

  // Two real partitions; librdkafka's internal partition -1 is left out.
  ASSERT_EQ(s.partitions.size(), 2U);
  const PartitionStats& p0 = s.partitions[0];
  const PartitionStats& p1 = s.partitions[1];
  EXPECT_EQ(p0.topic.rfind("stats-", 0), 0U) << p0.topic;
  EXPECT_EQ(p0.topic, p1.topic);
  EXPECT_EQ(p0.partition, 0);
  EXPECT_EQ(p1.partition, 1);
  EXPECT_EQ(p0.leader, 1);
  EXPECT_TRUE(p0.desired);
  EXPECT_EQ(p0.fetch_state, "active");
  EXPECT_EQ(p0.lo_offset, 0);
  EXPECT_EQ(p0.hi_offset, 71);  // includes the open transaction's 20 records
  EXPECT_EQ(p0.ls_offset, 51);  // stops before them
  EXPECT_EQ(p0.app_offset, 51);
  EXPECT_EQ(p0.stored_offset, 51);
  EXPECT_EQ(p0.committed_offset, -1001);  // RD_KAFKA_OFFSET_INVALID: nothing committed
  EXPECT_EQ(p0.next_offset, 51);
  EXPECT_EQ(p0.eof_offset, 51);
  EXPECT_EQ(p0.consumer_lag, -1);
  EXPECT_EQ(p0.fetchq_cnt, 0);
  EXPECT_EQ(p0.rxmsgs, 51);
  EXPECT_EQ(p1.hi_offset, 51);
  EXPECT_EQ(p1.ls_offset, 51);
  EXPECT_EQ(p1.app_offset, 51);

  EXPECT_EQ(ExportedLag(p0, Isolation::kReadCommitted), 0);
  EXPECT_EQ(ExportedLag(p0, Isolation::kReadUncommitted), 20);
  EXPECT_EQ(ExportedLag(p1, Isolation::kReadCommitted), 0);
  EXPECT_EQ(ExportedLag(p1, Isolation::kReadUncommitted), 0);

  ASSERT_TRUE(s.cgrp.has_value());
  EXPECT_EQ(s.cgrp->state, "up");
  EXPECT_EQ(s.cgrp->join_state, "steady");
  EXPECT_EQ(s.cgrp->rebalance_cnt, 1);
  EXPECT_EQ(s.cgrp->assignment_size, 2);
  EXPECT_FALSE(s.eos.has_value());
}

TEST(StatsTest, TransactionalProducerSnapshot) {
  Result<Stats> parsed = ParseStats(ReadFixture("producer-stats.json"));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const Stats& s = parsed.value();
  EXPECT_EQ(s.type, "producer");
  EXPECT_EQ(s.txmsgs, 120);
  EXPECT_EQ(s.txmsg_bytes, 1310);
  EXPECT_EQ(s.rxmsgs, 0);
  EXPECT_EQ(s.msg_cnt, 0);
  EXPECT_EQ(s.brokers_up, 1);
  ASSERT_EQ(s.brokers.size(), 2U);
  EXPECT_EQ(s.brokers[1].name, "TxnCoordinator");
  ASSERT_EQ(s.partitions.size(), 2U);
  EXPECT_EQ(s.partitions[0].txmsgs, 70);
  EXPECT_EQ(s.partitions[1].txmsgs, 50);
  EXPECT_FALSE(s.partitions[0].desired);
  // A producer consumes nothing: no lag to export.
  EXPECT_EQ(ExportedLag(s.partitions[0], Isolation::kReadCommitted), std::nullopt);
  ASSERT_TRUE(s.eos.has_value());
  EXPECT_EQ(s.eos->idemp_state, "Assigned");
  EXPECT_EQ(s.eos->txn_state, "InTransaction");
  EXPECT_EQ(s.eos->producer_id, 5);
  EXPECT_EQ(s.eos->producer_epoch, 0);
  EXPECT_EQ(s.eos->epoch_cnt, 1);
  EXPECT_FALSE(s.cgrp.has_value());
}

TEST(StatsTest, BrokerStatesAreCounted) {
  std::string json = ReadFixture("consumer-stats.json");
  json = ReplaceFirst(json, "\"state\":\"UP\"", "\"state\":\"DOWN\"");
  Result<Stats> down = ParseStats(json);
  ASSERT_TRUE(down.ok()) << down.error();
  EXPECT_EQ(down.value().brokers_up, 0);
  EXPECT_EQ(down.value().brokers_down, 1);
  json = ReplaceFirst(json, "\"state\":\"DOWN\"", "\"state\":\"CONNECT\"");
  Result<Stats> connecting = ParseStats(json);
  ASSERT_TRUE(connecting.ok()) << connecting.error();
  EXPECT_EQ(connecting.value().brokers_up, 0);
  EXPECT_EQ(connecting.value().brokers_down, 0);
  EXPECT_EQ(connecting.value().brokers_other, 1);
}

TEST(StatsTest, ParserIsReusable) {
  StatsParser parser;
  const std::string consumer = ReadFixture("consumer-stats.json");
  const std::string producer = ReadFixture("producer-stats.json");
  for (int i = 0; i < 3; ++i) {
    Result<Stats> a = parser.Parse(consumer);
    Result<Stats> b = parser.Parse(producer);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.value().type, "consumer");
    EXPECT_EQ(b.value().type, "producer");
  }
}

TEST(StatsTest, InvalidInputIsAnErrorNotACrash) {
  EXPECT_FALSE(ParseStats("").ok());
  EXPECT_FALSE(ParseStats("{\"name\": ").ok());
  Result<Stats> array = ParseStats("[1,2]");
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.error().find("not an object"), std::string::npos) << array.error();
  const std::string truncated = ReadFixture("consumer-stats.json").substr(0, 1000);
  EXPECT_FALSE(ParseStats(truncated).ok());
}

TEST(StatsTest, MissingAndMistypedFieldsKeepDefaults) {
  Result<Stats> parsed =
      ParseStats(R"({"type":"consumer","rxmsgs":"many","topics":{"t":{"partitions":{)"
                 R"("0":{"partition":0,"hi_offset":10},"-1":{"partition":-1}}}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const Stats& s = parsed.value();
  EXPECT_EQ(s.rxmsgs, 0);
  EXPECT_TRUE(s.brokers.empty());
  ASSERT_EQ(s.partitions.size(), 1U);
  EXPECT_EQ(s.partitions[0].topic, "t");
  EXPECT_EQ(s.partitions[0].hi_offset, 10);
  EXPECT_EQ(s.partitions[0].ls_offset, -1);
  EXPECT_EQ(ExportedLag(s.partitions[0], Isolation::kReadUncommitted), std::nullopt);
  EXPECT_FALSE(s.cgrp.has_value());
}

TEST(StatsTest, ExportedLagRules) {
  PartitionStats p;
  p.hi_offset = 100;
  p.ls_offset = 90;
  p.app_offset = -1001;
  EXPECT_EQ(ExportedLag(p, Isolation::kReadCommitted), std::nullopt);  // not consumed yet
  p.app_offset = 40;
  EXPECT_EQ(ExportedLag(p, Isolation::kReadCommitted), 50);
  EXPECT_EQ(ExportedLag(p, Isolation::kReadUncommitted), 60);
  p.app_offset = 95;  // offsets sampled at different moments
  EXPECT_EQ(ExportedLag(p, Isolation::kReadCommitted), 0);
  p.ls_offset = -1001;
  EXPECT_EQ(ExportedLag(p, Isolation::kReadCommitted), std::nullopt);  // end unknown
}

}  // namespace
}  // namespace dedupd::kafka
