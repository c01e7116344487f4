// librdkafka statistics from live clients, parsed by dedupd::kafka::ParseStats:
// the per-partition offsets and the exported lag (ls_offset - app_offset under
// read_committed) are right across an open transaction, a commit and an abort,
// and librdkafka's own consumer_lag misses offsets committed in a transaction.
//
// With DEDUPD_STATS_CAPTURE_DIR set, the snapshots are also written there
// (consumer-stats.json, producer-stats.json): that is how the fixtures in
// tests/integration/data/ that kafka_stats_test parses were captured.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "kafka/handles.h"
#include "kafka/stats.h"
#include "kafka_test_util.h"

namespace dedupd::kafka::testing {
namespace {

class KafkaStatsLiveTest : public KafkaTest {
 protected:
  static void Capture(const std::string& name, const std::string& json) {
    const char* dir = std::getenv("DEDUPD_STATS_CAPTURE_DIR");
    if (dir == nullptr || *dir == '\0') return;
    std::ofstream out(std::string(dir) + "/" + name);
    out << json << "\n";
    EXPECT_TRUE(out.good()) << "cannot write " << dir << "/" << name;
  }

  // Serves `serve` (consume or poll) until a stats snapshot satisfies `want`;
  // returns the last snapshot either way.
  static Stats WaitForStats(StatsLog& log, const std::function<void()>& serve,
                            const std::function<bool(const Stats&)>& want, const Deadline& deadline,
                            std::string* raw) {
    Stats last;
    int64_t seen = log.count;
    while (!deadline.expired()) {
      serve();
      if (log.count == seen) continue;
      seen = log.count;
      Result<Stats> parsed = ParseStats(log.last);
      EXPECT_TRUE(parsed.ok()) << parsed.error();
      if (!parsed.ok()) break;
      last = std::move(parsed).value();
      *raw = log.last;
      if (want(last)) break;
    }
    return last;
  }

  static const PartitionStats* Find(const Stats& s, const std::string& topic, int32_t p) {
    for (const PartitionStats& ps : s.partitions) {
      if (ps.topic == topic && ps.partition == p) return &ps;
    }
    return nullptr;
  }
};

TEST_F(KafkaStatsLiveTest, ExportedLagAcrossOpenCommittedAndAbortedTransactions) {
  const std::string topic = Unique("stats");
  CreateTopic(topic, 2);
  const Deadline deadline(seconds(120));

  // Partition 0: 50 committed records (0-49), marker (50), 20 records of an
  // open transaction (51-70). Partition 1: 50 committed records, marker.
  DeliveryLog deliveries;
  StatsLog producer_stats;
  ProducerPtr producer = MakeProducer(With(Base(), {{"transactional.id", Unique("txn")},
                                                    {"transaction.timeout.ms", "30000"},
                                                    {"statistics.interval.ms", "1000"}}),
                                      &deliveries, &producer_stats);
  ASSERT_TRUE(producer);
  ErrorPtr err(producer->init_transactions(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  err.reset(producer->begin_transaction());
  ASSERT_FALSE(err) << DescribeError(*err);
  size_t n = 0;
  for (int32_t p = 0; p < 2; ++p) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          Produce(*producer, topic, p, "k" + std::to_string(i), "committed", n++, deadline));
    }
  }
  err.reset(producer->commit_transaction(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  err.reset(producer->begin_transaction());
  ASSERT_FALSE(err) << DescribeError(*err);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Produce(*producer, topic, 0, "k" + std::to_string(i), "open", n++, deadline));
  }
  ASSERT_EQ(producer->flush(deadline.remaining_ms()), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(deliveries.acked, 120) << deliveries.first_error;

  std::string raw;
  Stats ps = WaitForStats(
      producer_stats, [&] { producer->poll(100); },
      [&](const Stats& s) {
        const PartitionStats* p0 = Find(s, topic, 0);
        return s.eos && s.eos->txn_state == "InTransaction" && p0 != nullptr && p0->txmsgs == 70;
      },
      deadline, &raw);
  Capture("producer-stats.json", raw);
  EXPECT_EQ(ps.type, "producer");
  ASSERT_TRUE(ps.eos.has_value());
  EXPECT_EQ(ps.eos->txn_state, "InTransaction");
  EXPECT_EQ(ps.eos->idemp_state, "Assigned");
  EXPECT_GE(ps.eos->producer_id, 0);
  EXPECT_EQ(ps.txmsgs, 120);
  EXPECT_EQ(ps.msg_cnt, 0) << "everything was flushed";
  EXPECT_GE(ps.brokers_up, 1);
  EXPECT_EQ(ps.brokers_down, 0);

  // A read_committed consumer reads to the end of both partitions.
  StatsLog consumer_stats;
  KafkaConsumerPtr consumer = MakeConsumer(With(Base(), {{"group.id", Unique("group")},
                                                         {"enable.auto.commit", "false"},
                                                         {"auto.offset.reset", "earliest"},
                                                         {"enable.partition.eof", "true"},
                                                         {"isolation.level", "read_committed"},
                                                         {"statistics.interval.ms", "1000"}}),
                                           &consumer_stats);
  ASSERT_TRUE(consumer);
  ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);
  Consumed got = ConsumeUntil(
      *consumer, topic,
      [](const Consumed& c) { return c.records.size() >= 100 && c.eof.size() == 2; }, deadline,
      200);
  ASSERT_EQ(got.records.size(), 100U);
  ASSERT_EQ(got.eof.size(), 2U);

  auto serve = [&] {
    MessagePtr m(consumer->consume(100));
    EXPECT_NE(m->err(), RdKafka::ERR_NO_ERROR) << "unexpected record at offset " << m->offset();
  };
  Stats cs = WaitForStats(
      consumer_stats, serve,
      [&](const Stats& s) {
        const PartitionStats* p0 = Find(s, topic, 0);
        const PartitionStats* p1 = Find(s, topic, 1);
        return p0 != nullptr && p1 != nullptr && p0->app_offset >= 51 && p1->app_offset >= 51 &&
               p0->hi_offset == 71;
      },
      deadline, &raw);
  Capture("consumer-stats.json", raw);
  EXPECT_EQ(cs.type, "consumer");
  ASSERT_TRUE(cs.cgrp.has_value());
  EXPECT_EQ(cs.cgrp->assignment_size, 2);
  EXPECT_GE(cs.brokers_up, 1);
  const PartitionStats* p0 = Find(cs, topic, 0);
  const PartitionStats* p1 = Find(cs, topic, 1);
  ASSERT_NE(p0, nullptr);
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p0->hi_offset, 71);
  EXPECT_EQ(p0->ls_offset, 51);
  EXPECT_EQ(p1->hi_offset, 51);
  EXPECT_EQ(p1->ls_offset, 51);
  // app_offset steps over the commit marker: the application is at the end.
  EXPECT_EQ(p0->app_offset, 51);
  EXPECT_EQ(p1->app_offset, 51);
  EXPECT_EQ(ExportedLag(*p0, Isolation::kReadCommitted), 0);
  EXPECT_EQ(ExportedLag(*p1, Isolation::kReadCommitted), 0);
  // The high watermark counts the open transaction: not lag a reader could reduce.
  EXPECT_EQ(ExportedLag(*p0, Isolation::kReadUncommitted), 20);
  EXPECT_LT(p0->committed_offset, 0) << "nothing committed yet";

  // The positions are what a transaction would commit.
  TopicPartitionList positions;
  ASSERT_EQ(consumer->assignment(positions.out()), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(consumer->position(positions.get()), RdKafka::ERR_NO_ERROR);
  for (RdKafka::TopicPartition* tp : positions) EXPECT_EQ(tp->offset(), 51) << tp->partition();
  ASSERT_EQ(consumer->commitSync(positions.get()), RdKafka::ERR_NO_ERROR);

  // Abort: records 51-70 and the marker at 71 are skipped; both ends reach 72
  // and the exported lag stays 0 (the application position steps over them).
  err.reset(producer->abort_transaction(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  cs = WaitForStats(
      consumer_stats, serve,
      [&](const Stats& s) {
        const PartitionStats* q0 = Find(s, topic, 0);
        return q0 != nullptr && q0->ls_offset == 72 && q0->app_offset == 72 &&
               q0->committed_offset == 51;
      },
      deadline, &raw);
  p0 = Find(cs, topic, 0);
  ASSERT_NE(p0, nullptr);
  EXPECT_EQ(p0->hi_offset, 72);
  EXPECT_EQ(p0->ls_offset, 72);
  EXPECT_EQ(p0->app_offset, 72);
  EXPECT_EQ(p0->committed_offset, 51);
  EXPECT_EQ(ExportedLag(*p0, Isolation::kReadCommitted), 0);
  EXPECT_EQ(ExportedLag(*p0, Isolation::kReadUncommitted), 0);
  EXPECT_EQ(p0->consumer_lag, 21) << "librdkafka's own lag is ls_offset - committed_offset";

  // Offsets committed through a transaction (as dedupd commits them) reach the
  // broker but never the consumer's own view: committed_offset, and with it
  // librdkafka's consumer_lag, stay where the consumer's last own commit left
  // them. Hence dedupd exports ExportedLag(), not consumer_lag.
  ASSERT_EQ(consumer->position(positions.get()), RdKafka::ERR_NO_ERROR);
  ConsumerGroupMetadataPtr group_metadata(consumer->groupMetadata());
  err.reset(producer->begin_transaction());
  ASSERT_FALSE(err) << DescribeError(*err);
  err.reset(producer->send_offsets_to_transaction(positions.get(), group_metadata.get(), 30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  err.reset(producer->commit_transaction(30000));
  ASSERT_FALSE(err) << DescribeError(*err);
  int64_t broker_committed = -1;
  while (broker_committed != 72 && !deadline.expired()) {
    TopicPartitionList committed;
    committed.Add(topic, 0);
    ASSERT_EQ(consumer->committed(committed.get(), deadline.remaining_ms()), RdKafka::ERR_NO_ERROR);
    broker_committed = committed[0]->offset();
  }
  EXPECT_EQ(broker_committed, 72) << "the transaction committed the offsets";
  int fresh = 0;
  cs = WaitForStats(
      consumer_stats, serve, [&](const Stats&) { return ++fresh >= 2; }, deadline, &raw);
  EXPECT_GE(fresh, 2);
  p0 = Find(cs, topic, 0);
  ASSERT_NE(p0, nullptr);
  EXPECT_EQ(p0->committed_offset, 51) << "the consumer's view missed the transactional commit";
  EXPECT_EQ(p0->consumer_lag, 21);
  EXPECT_EQ(ExportedLag(*p0, Isolation::kReadCommitted), 0);
}

}  // namespace
}  // namespace dedupd::kafka::testing
