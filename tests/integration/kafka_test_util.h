// Helpers for the Kafka integration tests: the broker address from the CTest
// fixture, unique topic/group names, deadlines, and bounded produce/consume
// loops that record what happened for the assertions.
//
//   class MyTest : public dedupd::kafka::testing::KafkaTest {};
//   TEST_F(MyTest, X) { std::string topic = Unique("x"); ... Base() ... }
//
// Thread-safety: none needed; the tests are single-threaded (librdkafka calls
// the delivery-report callback from poll()/flush() on the calling thread).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"

namespace dedupd::kafka::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

class Deadline {
 public:
  explicit Deadline(milliseconds timeout) : end_(Clock::now() + timeout) {}
  bool expired() const { return Clock::now() >= end_; }
  int remaining_ms() const {
    const auto left = std::chrono::duration_cast<milliseconds>(end_ - Clock::now()).count();
    return left < 1 ? 1 : static_cast<int>(left);
  }
  // For per-call waits inside a loop: at most `slice`, never past the deadline.
  int slice_ms(int slice) const { return std::min(slice, remaining_ms()); }

 private:
  Clock::time_point end_;
};

// The fixture writes "127.0.0.1:PORT" into the file that
// DEDUPD_TEST_BOOTSTRAP_FILE names. Missing -> the test fails (never skips:
// an integration test that silently does nothing proves nothing).
inline Result<std::string> ReadBootstrap() {
  const char* path = std::getenv("DEDUPD_TEST_BOOTSTRAP_FILE");
  if (path == nullptr || *path == '\0') {
    return Failure{
        "DEDUPD_TEST_BOOTSTRAP_FILE is not set (run through ctest, or start "
        "scripts/kafka and point it at a file holding host:port)"};
  }
  std::ifstream in(path);
  std::string bootstrap;
  if (!(in >> bootstrap) || bootstrap.empty()) {
    return Failure{std::string("cannot read a bootstrap address from ") + path};
  }
  return bootstrap;
}

struct Record {
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  std::string value;
};

// Counts delivery reports; msg_opaque carries the produce() call's index.
class DeliveryLog : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    const auto index = static_cast<size_t>(reinterpret_cast<uintptr_t>(message.msg_opaque()));
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      ++errors;
      if (first_error.empty()) first_error = message.errstr();
      return;
    }
    ++acked;
    if (index >= records.size()) records.resize(index + 1);
    records[index] = {message.partition(), message.offset(), {}, {}};
  }
  int64_t acked = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<Record> records;  // by produce index: where each message landed
};

// Counts statistics events and keeps the latest JSON.
class StatsLog : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_STATS) {
      ++count;
      last = event.str();
    } else if (event.type() == RdKafka::Event::EVENT_ERROR && event.fatal()) {
      fatal = event.str();
    }
  }
  int64_t count = 0;
  std::string last;
  std::string fatal;
};

struct Consumed {
  std::vector<Record> records;
  std::set<int32_t> eof;  // partitions whose end was reported since the last record there
  std::vector<std::string> errors;
};

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> bootstrap = ReadBootstrap();
    ASSERT_TRUE(bootstrap.ok()) << bootstrap.error();
    bootstrap_ = bootstrap.value();
  }

  Props Base() const { return {{"bootstrap.servers", bootstrap_}}; }

  static Props With(Props props, const Props& more) {
    for (const auto& [k, v] : more) props[k] = v;
    return props;
  }

  // Unique per test, process and call: the broker is shared by every
  // integration test of the run and by earlier runs.
  static std::string Unique(const std::string& prefix) {
    static std::atomic<int> counter{0};
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!ok) c = '-';
    }
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return prefix + "-" + test + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::duration_cast<milliseconds>(now).count()) + "-" +
           std::to_string(counter++);
  }

  void CreateTopic(const std::string& name, int32_t partitions) {
    std::string error;
    ASSERT_TRUE(EnsureTopics(Base(), {{name, partitions, 1, {}}}, seconds(60), &error)) << error;
  }

  static ProducerPtr MakeProducer(const Props& props, RdKafka::DeliveryReportCb* dr,
                                  RdKafka::EventCb* events = nullptr) {
    std::string error;
    ConfPtr conf = MakeConf(props, &error);
    EXPECT_TRUE(conf) << error;
    if (!conf) return nullptr;
    std::string errstr;
    if (dr != nullptr) {
      EXPECT_EQ(conf->set("dr_cb", dr, errstr), RdKafka::Conf::CONF_OK) << errstr;
    }
    if (events != nullptr) {
      EXPECT_EQ(conf->set("event_cb", events, errstr), RdKafka::Conf::CONF_OK) << errstr;
    }
    ProducerPtr producer(RdKafka::Producer::create(conf.get(), errstr));
    EXPECT_TRUE(producer) << errstr;
    return producer;
  }

  static KafkaConsumerPtr MakeConsumer(const Props& props, RdKafka::EventCb* events = nullptr) {
    std::string error;
    ConfPtr conf = MakeConf(props, &error);
    EXPECT_TRUE(conf) << error;
    if (!conf) return nullptr;
    std::string errstr;
    if (events != nullptr) {
      EXPECT_EQ(conf->set("event_cb", events, errstr), RdKafka::Conf::CONF_OK) << errstr;
    }
    KafkaConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    EXPECT_TRUE(consumer) << errstr;
    return consumer;
  }

  // produce() with retry while the local queue is full; the index travels as
  // msg_opaque to DeliveryLog. Returns false (and records a failure) on any
  // other error or at the deadline.
  static bool Produce(RdKafka::Producer& producer, const std::string& topic, int32_t partition,
                      const std::string& key, const std::string& value, size_t index,
                      const Deadline& deadline) {
    while (true) {
      const RdKafka::ErrorCode err =
          producer.produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                           const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                           reinterpret_cast<void*>(static_cast<uintptr_t>(index)));
      if (err == RdKafka::ERR_NO_ERROR) {
        producer.poll(0);  // serve delivery reports as we go
        return true;
      }
      if (err != RdKafka::ERR__QUEUE_FULL || deadline.expired()) {
        ADD_FAILURE() << "produce #" << index << " to " << topic << ": " << DescribeError(err);
        return false;
      }
      producer.poll(deadline.slice_ms(100));
    }
  }

  // Produces every value to `topic` (a partition, or PARTITION_UA to let the
  // key choose) under key_of(value) with an idempotent producer, as produce
  // indexes first_index, first_index + 1, ...; fails the test unless every
  // one is acknowledged.
  void ProduceAll(const std::string& topic, int32_t partition, std::span<const std::string> values,
                  const std::function<std::string(const std::string&)>& key_of,
                  size_t first_index = 0) const {
    DeliveryLog log;
    auto producer = MakeProducer(With(Base(), {{"enable.idempotence", "true"}}), &log);
    ASSERT_TRUE(producer);
    Deadline deadline(seconds(60));
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_TRUE(Produce(*producer, topic, partition, key_of(values[i]), values[i],
                          first_index + i, deadline));
    }
    producer->flush(30000);
    ASSERT_EQ(log.errors, 0) << log.first_error;
    ASSERT_EQ(log.acked, static_cast<int64_t>(values.size()));
  }

  // Consumes until `done(consumed)` holds or the deadline passes; stops early
  // after `max_records` (a runaway loop must end). consume() also serves the
  // consumer's callbacks (rebalance, stats).
  static Consumed ConsumeUntil(RdKafka::KafkaConsumer& consumer, const std::string& topic,
                               const std::function<bool(const Consumed&)>& done,
                               const Deadline& deadline, size_t max_records) {
    Consumed out;
    while (!done(out) && !deadline.expired() && out.records.size() < max_records) {
      MessagePtr m(consumer.consume(deadline.slice_ms(200)));
      // if-chain, not switch: RdKafka::ErrorCode has ~150 enumerators and
      // -Wswitch-enum would want every one.
      const RdKafka::ErrorCode err = m->err();
      if (err == RdKafka::ERR_NO_ERROR) {
        if (m->topic_name() != topic) {
          out.errors.push_back("record from unexpected topic " + m->topic_name());
          continue;
        }
        out.eof.erase(m->partition());
        out.records.push_back({m->partition(), m->offset(),
                               m->key() != nullptr ? *m->key() : std::string(),
                               std::string(static_cast<const char*>(m->payload()), m->len())});
      } else if (err == RdKafka::ERR__PARTITION_EOF) {
        out.eof.insert(m->partition());
      } else if (err != RdKafka::ERR__TIMED_OUT) {
        out.errors.push_back(DescribeError(err) + " " + m->errstr());
      }
    }
    return out;
  }

  // Waits until no transaction is pending on `topic`: last stable offset ==
  // high watermark on every partition. commit_transaction()/abort_transaction()
  // return once the coordinator has logged the decision; the markers reach the
  // partitions shortly after, and until then a read_committed reader's end of
  // partition (EOF) is the old last stable offset.
  ::testing::AssertionResult WaitStable(const std::string& topic, const Deadline& deadline) const {
    std::string last;
    while (true) {
      Result<std::vector<Watermarks>> stable =
          HighWatermarks(With(Base(), {{"isolation.level", "read_committed"}}), topic,
                         milliseconds(deadline.remaining_ms()));
      Result<std::vector<Watermarks>> high =
          HighWatermarks(With(Base(), {{"isolation.level", "read_uncommitted"}}), topic,
                         milliseconds(deadline.remaining_ms()));
      if (!stable.ok()) return ::testing::AssertionFailure() << stable.error();
      if (!high.ok()) return ::testing::AssertionFailure() << high.error();
      bool equal = stable.value().size() == high.value().size();
      last.clear();
      for (size_t i = 0; equal && i < high.value().size(); ++i) {
        equal = stable.value()[i].high == high.value()[i].high;
        last += " [" + std::to_string(i) + "] " + std::to_string(stable.value()[i].high) + "/" +
                std::to_string(high.value()[i].high);
      }
      if (equal) return ::testing::AssertionSuccess();
      if (deadline.expired()) {
        return ::testing::AssertionFailure()
               << topic << ": stable/high offsets still differ:" << last;
      }
      std::this_thread::sleep_for(milliseconds(deadline.slice_ms(50)));
    }
  }

  // Until every one of `partitions` partitions has reported its end.
  static std::function<bool(const Consumed&)> AllAtEof(int32_t partitions) {
    return [partitions](const Consumed& c) {
      return static_cast<int32_t>(c.eof.size()) == partitions;
    };
  }

  std::string bootstrap_;
};

}  // namespace dedupd::kafka::testing
