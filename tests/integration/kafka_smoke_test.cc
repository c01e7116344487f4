// Proves the toolchain dedupd's delivery guarantees rest on, against the real
// broker: librdkafka 2.0.2's idempotent producer, consumer groups with manual
// commits, transactions (abort/commit under read_committed) and
// consume-transform-produce with send_offsets_to_transaction. Every loop is
// bounded by a count and by a deadline.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "kafka/admin.h"
#include "kafka/handles.h"
#include "kafka_test_util.h"

namespace dedupd::kafka::testing {
namespace {

constexpr int kTxnTimeoutMs = 20000;
constexpr int kCallTimeoutMs = 30000;

class KafkaSmokeTest : public KafkaTest {
 protected:
  Props ConsumerProps(const std::string& group, const std::string& isolation) const {
    return With(Base(), {{"group.id", group},
                         {"enable.auto.commit", "false"},
                         {"auto.offset.reset", "earliest"},
                         {"partition.assignment.strategy", "range"},
                         {"enable.partition.eof", "true"},
                         {"isolation.level", isolation}});
  }

  Props TxnProducerProps() const {
    return With(Base(), {{"transactional.id", Unique("txn")},
                         {"transaction.timeout.ms", std::to_string(kTxnTimeoutMs)}});
  }

  // For ASSERT_TRUE(TxnOk(producer->commit_transaction(...))): takes
  // ownership of the returned error and describes it on failure.
  static ::testing::AssertionResult TxnOk(RdKafka::Error* raw) {
    ErrorPtr error(raw);
    if (!error) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << DescribeError(*error);
  }

  // Committed offsets of `group` on every partition of `topic`, read through
  // `consumer` (which must belong to the group).
  static std::map<int32_t, int64_t> Committed(RdKafka::KafkaConsumer& consumer,
                                              const std::string& topic, int32_t partitions) {
    TopicPartitionList list;
    for (int32_t p = 0; p < partitions; ++p) list.Add(topic, p);
    const RdKafka::ErrorCode err = consumer.committed(list.get(), kCallTimeoutMs);
    EXPECT_EQ(err, RdKafka::ERR_NO_ERROR) << DescribeError(err);
    std::map<int32_t, int64_t> out;
    for (RdKafka::TopicPartition* tp : list) out[tp->partition()] = tp->offset();
    return out;
  }

  std::map<int32_t, int64_t> Ends(const std::string& topic) const {
    std::map<int32_t, int64_t> out;
    Result<std::vector<Watermarks>> marks = HighWatermarks(Base(), topic, seconds(30));
    EXPECT_TRUE(marks.ok()) << marks.error();
    if (!marks.ok()) return out;
    for (const Watermarks& w : marks.value()) out[w.partition] = w.high;
    return out;
  }
};

TEST_F(KafkaSmokeTest, IdempotentProduceThenGroupConsumeCommitAndNothingTwice) {
  constexpr int kMessages = 10000;
  constexpr int32_t kPartitions = 3;
  const std::string topic = Unique("smoke");
  const std::string group = Unique("group");
  CreateTopic(topic, kPartitions);

  // Produce: keyed, idempotent; every message acknowledged, none failed.
  DeliveryLog deliveries;
  {
    ProducerPtr producer =
        MakeProducer(With(Base(), {{"enable.idempotence", "true"}}), &deliveries);
    ASSERT_TRUE(producer);
    const Deadline deadline(seconds(60));
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(Produce(*producer, topic, RdKafka::Topic::PARTITION_UA,
                          "key-" + std::to_string(i), std::to_string(i), static_cast<size_t>(i),
                          deadline));
    }
    const RdKafka::ErrorCode flushed = producer->flush(deadline.remaining_ms());
    ASSERT_EQ(flushed, RdKafka::ERR_NO_ERROR) << DescribeError(flushed);
    EXPECT_EQ(producer->outq_len(), 0);
    std::string fatal;
    EXPECT_EQ(producer->fatal_error(fatal), RdKafka::ERR_NO_ERROR) << fatal;
  }
  ASSERT_EQ(deliveries.errors, 0) << deliveries.first_error;
  ASSERT_EQ(deliveries.acked, kMessages);
  ASSERT_EQ(deliveries.records.size(), static_cast<size_t>(kMessages));
  std::map<int32_t, int64_t> per_partition;
  for (const Record& r : deliveries.records) ++per_partition[r.partition];
  EXPECT_EQ(per_partition.size(), static_cast<size_t>(kPartitions))
      << "10,000 distinct keys should reach every partition";

  // The broker agrees: the high watermarks sum to the count (no duplicates
  // written by retries).
  std::map<int32_t, int64_t> ends = Ends(topic);
  int64_t total = 0;
  for (const auto& [p, high] : ends) {
    EXPECT_EQ(high, per_partition[p]) << "partition " << p;
    total += high;
  }
  EXPECT_EQ(total, kMessages);

  // Consume in a group: every message once, at the offset its delivery report
  // named, and in produce order within each partition.
  {
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(group, "read_committed"));
    ASSERT_TRUE(consumer);
    ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);
    const Deadline deadline(seconds(90));
    Consumed got = ConsumeUntil(
        *consumer, topic,
        [&](const Consumed& c) {
          return c.records.size() >= kMessages && AllAtEof(kPartitions)(c);
        },
        deadline, kMessages + 1000);
    EXPECT_TRUE(got.errors.empty()) << got.errors.front();
    ASSERT_EQ(got.records.size(), static_cast<size_t>(kMessages));

    std::vector<int> seen(kMessages, 0);
    std::map<int32_t, int> last_index;  // per partition: produce index of the previous record
    for (const Record& r : got.records) {
      const int i = std::stoi(r.value);
      ASSERT_GE(i, 0);
      ASSERT_LT(i, kMessages);
      ++seen[static_cast<size_t>(i)];
      EXPECT_EQ(r.key, "key-" + std::to_string(i));
      EXPECT_EQ(r.partition, deliveries.records[static_cast<size_t>(i)].partition) << i;
      EXPECT_EQ(r.offset, deliveries.records[static_cast<size_t>(i)].offset) << i;
      auto prev = last_index.find(r.partition);
      if (prev != last_index.end()) {
        EXPECT_LT(prev->second, i) << "out of produce order in partition " << r.partition;
      }
      last_index[r.partition] = i;
    }
    for (int i = 0; i < kMessages; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << "#" << i;

    const RdKafka::ErrorCode committed = consumer->commitSync();
    ASSERT_EQ(committed, RdKafka::ERR_NO_ERROR) << DescribeError(committed);
    EXPECT_EQ(Committed(*consumer, topic, kPartitions), ends);
    ASSERT_EQ(consumer->close(), RdKafka::ERR_NO_ERROR);
  }

  // A new member of the group starts at the committed offsets: nothing twice.
  {
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(group, "read_committed"));
    ASSERT_TRUE(consumer);
    ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);
    Consumed again =
        ConsumeUntil(*consumer, topic, AllAtEof(kPartitions), Deadline(seconds(60)), 1000);
    EXPECT_TRUE(again.errors.empty()) << again.errors.front();
    EXPECT_EQ(again.eof.size(), static_cast<size_t>(kPartitions)) << "end of partitions not seen";
    EXPECT_TRUE(again.records.empty()) << again.records.size() << " records delivered twice";
  }
}

TEST_F(KafkaSmokeTest, ReadCommittedSeesOnlyTheCommittedTransaction) {
  constexpr int kPerTxn = 100;
  constexpr int32_t kPartitions = 3;
  const std::string topic = Unique("txn");
  CreateTopic(topic, kPartitions);

  DeliveryLog deliveries;
  {
    ProducerPtr producer = MakeProducer(TxnProducerProps(), &deliveries);
    ASSERT_TRUE(producer);
    ASSERT_TRUE(TxnOk(producer->init_transactions(kCallTimeoutMs)));
    const Deadline deadline(seconds(60));

    ASSERT_TRUE(TxnOk(producer->begin_transaction()));
    for (int i = 0; i < kPerTxn; ++i) {
      ASSERT_TRUE(Produce(*producer, topic, RdKafka::Topic::PARTITION_UA, "k" + std::to_string(i),
                          "aborted-" + std::to_string(i), static_cast<size_t>(i), deadline));
    }
    // Flush first so that the aborted records really are in the log (the
    // read_uncommitted check below proves it); abort alone may purge them.
    ASSERT_EQ(producer->flush(deadline.remaining_ms()), RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(deliveries.acked, kPerTxn) << deliveries.first_error;
    ASSERT_TRUE(TxnOk(producer->abort_transaction(kCallTimeoutMs)));

    ASSERT_TRUE(TxnOk(producer->begin_transaction()));
    for (int i = 0; i < kPerTxn; ++i) {
      ASSERT_TRUE(Produce(*producer, topic, RdKafka::Topic::PARTITION_UA, "k" + std::to_string(i),
                          "committed-" + std::to_string(i), static_cast<size_t>(kPerTxn + i),
                          deadline));
    }
    ASSERT_TRUE(TxnOk(producer->commit_transaction(kCallTimeoutMs)));
    EXPECT_EQ(producer->outq_len(), 0);
  }
  EXPECT_EQ(deliveries.errors, 0) << deliveries.first_error;
  EXPECT_EQ(deliveries.acked, 2 * kPerTxn);
  ASSERT_TRUE(WaitStable(topic, Deadline(seconds(30))));

  // read_committed: exactly the committed 100, once each, in order per partition.
  {
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(Unique("rc"), "read_committed"));
    ASSERT_TRUE(consumer);
    ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);
    Consumed got =
        ConsumeUntil(*consumer, topic, AllAtEof(kPartitions), Deadline(seconds(60)), 1000);
    EXPECT_TRUE(got.errors.empty()) << got.errors.front();
    ASSERT_EQ(got.eof.size(), static_cast<size_t>(kPartitions)) << "end of partitions not seen";
    std::multiset<std::string> values;
    std::map<int32_t, int> last;
    for (const Record& r : got.records) {
      values.insert(r.value);
      ASSERT_EQ(r.value.rfind("committed-", 0), 0U) << "read_committed delivered " << r.value;
      const int i = std::stoi(r.value.substr(10));
      if (last.count(r.partition) != 0) {
        EXPECT_LT(last[r.partition], i);
      }
      last[r.partition] = i;
    }
    EXPECT_EQ(got.records.size(), static_cast<size_t>(kPerTxn));
    for (int i = 0; i < kPerTxn; ++i) {
      EXPECT_EQ(values.count("committed-" + std::to_string(i)), 1U) << i;
    }
  }

  // Control: read_uncommitted sees the aborted records too, so the filter
  // above was really exercised.
  {
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(Unique("ru"), "read_uncommitted"));
    ASSERT_TRUE(consumer);
    ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);
    Consumed got =
        ConsumeUntil(*consumer, topic, AllAtEof(kPartitions), Deadline(seconds(60)), 1000);
    EXPECT_TRUE(got.errors.empty()) << got.errors.front();
    EXPECT_EQ(got.records.size(), static_cast<size_t>(2 * kPerTxn));
  }
}

TEST_F(KafkaSmokeTest, ConsumeTransformProduceCommitsOffsetsInTheTransaction) {
  constexpr int kMessages = 500;
  constexpr int kInputTxns = 5;
  constexpr int32_t kPartitions = 3;
  const std::string input = Unique("ctp-in");
  const std::string output = Unique("ctp-out");
  const std::string group = Unique("ctp-group");
  CreateTopic(input, kPartitions);
  CreateTopic(output, kPartitions);

  // The input is itself written in transactions, so its partitions contain
  // commit markers: the consumer's position() must step over them.
  {
    DeliveryLog deliveries;
    ProducerPtr producer = MakeProducer(TxnProducerProps(), &deliveries);
    ASSERT_TRUE(producer);
    ASSERT_TRUE(TxnOk(producer->init_transactions(kCallTimeoutMs)));
    const Deadline deadline(seconds(60));
    for (int t = 0; t < kInputTxns; ++t) {
      ASSERT_TRUE(TxnOk(producer->begin_transaction()));
      for (int j = 0; j < kMessages / kInputTxns; ++j) {
        const int i = t * (kMessages / kInputTxns) + j;
        ASSERT_TRUE(Produce(*producer, input, RdKafka::Topic::PARTITION_UA,
                            "url-" + std::to_string(i), "page-" + std::to_string(i),
                            static_cast<size_t>(i), deadline));
      }
      ASSERT_TRUE(TxnOk(producer->commit_transaction(kCallTimeoutMs)));
    }
    ASSERT_EQ(deliveries.acked, kMessages) << deliveries.first_error;
  }

  // Copy input -> output in one transaction that also carries the offsets.
  {
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(group, "read_committed"));
    ASSERT_TRUE(consumer);
    DeliveryLog deliveries;
    ProducerPtr producer = MakeProducer(TxnProducerProps(), &deliveries);
    ASSERT_TRUE(producer);
    ASSERT_TRUE(TxnOk(producer->init_transactions(kCallTimeoutMs)));
    ASSERT_EQ(consumer->subscribe({input}), RdKafka::ERR_NO_ERROR);
    ASSERT_TRUE(TxnOk(producer->begin_transaction()));

    const Deadline deadline(seconds(90));
    size_t produced = 0;
    Consumed got = ConsumeUntil(
        *consumer, input,
        [&](const Consumed& c) {
          // Transform as we go: the records consumed since the last check.
          for (; produced < c.records.size(); ++produced) {
            const Record& r = c.records[produced];
            if (!Produce(*producer, output, RdKafka::Topic::PARTITION_UA, r.key, "seen:" + r.value,
                         produced, deadline)) {
              return true;
            }
          }
          // All records, and the end of every partition (past its last commit
          // marker) before position() is read.
          return c.records.size() >= kMessages && AllAtEof(kPartitions)(c);
        },
        deadline, kMessages + 100);
    EXPECT_TRUE(got.errors.empty()) << got.errors.front();
    ASSERT_EQ(got.records.size(), static_cast<size_t>(kMessages));
    ASSERT_EQ(produced, static_cast<size_t>(kMessages));

    TopicPartitionList positions;
    ASSERT_EQ(consumer->assignment(positions.out()), RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(positions.size(), static_cast<size_t>(kPartitions));
    ASSERT_EQ(consumer->position(positions.get()), RdKafka::ERR_NO_ERROR);
    const std::map<int32_t, int64_t> ends = Ends(input);
    for (RdKafka::TopicPartition* tp : positions) {
      EXPECT_EQ(tp->offset(), ends.at(tp->partition()))
          << "position() of partition " << tp->partition()
          << " is not the end of the log (commit marker not stepped over?)";
    }
    ConsumerGroupMetadataPtr group_metadata(consumer->groupMetadata());
    ASSERT_TRUE(group_metadata);
    ASSERT_TRUE(TxnOk(producer->send_offsets_to_transaction(positions.get(), group_metadata.get(),
                                                            kCallTimeoutMs)));
    ASSERT_TRUE(TxnOk(producer->commit_transaction(kCallTimeoutMs)));
    EXPECT_EQ(deliveries.errors, 0) << deliveries.first_error;
    EXPECT_EQ(deliveries.acked, kMessages);
    // The consumer never commits by itself (enable.auto.commit=false, and
    // close() commits nothing): the offsets can only come from the transaction.
    ASSERT_EQ(consumer->close(), RdKafka::ERR_NO_ERROR);
  }

  // The output holds every transformed record exactly once.
  {
    ASSERT_TRUE(WaitStable(output, Deadline(seconds(30))));
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(Unique("check"), "read_committed"));
    ASSERT_TRUE(consumer);
    ASSERT_EQ(consumer->subscribe({output}), RdKafka::ERR_NO_ERROR);
    Consumed got = ConsumeUntil(
        *consumer, output,
        [&](const Consumed& c) {
          return c.records.size() >= kMessages && AllAtEof(kPartitions)(c);
        },
        Deadline(seconds(60)), kMessages + 100);
    EXPECT_TRUE(got.errors.empty()) << got.errors.front();
    std::multiset<std::string> values;
    for (const Record& r : got.records) values.insert(r.value);
    EXPECT_EQ(got.records.size(), static_cast<size_t>(kMessages));
    for (int i = 0; i < kMessages; ++i) {
      EXPECT_EQ(values.count("seen:page-" + std::to_string(i)), 1U) << i;
    }
  }

  // The group's committed offsets are the end of the input; a new member
  // receives nothing.
  {
    KafkaConsumerPtr consumer = MakeConsumer(ConsumerProps(group, "read_committed"));
    ASSERT_TRUE(consumer);
    EXPECT_EQ(Committed(*consumer, input, kPartitions), Ends(input));
    ASSERT_EQ(consumer->subscribe({input}), RdKafka::ERR_NO_ERROR);
    Consumed again =
        ConsumeUntil(*consumer, input, AllAtEof(kPartitions), Deadline(seconds(60)), 1000);
    EXPECT_TRUE(again.errors.empty()) << again.errors.front();
    EXPECT_EQ(again.eof.size(), static_cast<size_t>(kPartitions)) << "end of partitions not seen";
    EXPECT_TRUE(again.records.empty()) << again.records.size() << " input records seen again";
  }
}

}  // namespace
}  // namespace dedupd::kafka::testing
