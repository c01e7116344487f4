// The librdkafka implementation of the delivery edge (delivery/edge.h): the
// daemon's transactional (or idempotent) producer, which it re-creates after
// the producer is lost, and a view of its group consumer.
//
//   RdKafkaProducer producer("pages", [&] { return consumer.get(); });
//   if (!producer.Create(pconf.get(), batch.tracker(), &error)) exit;
//   ... producer.Destroy(); producer.Create(pconf.get(), batch.tracker(), &error);
//
// The consumer is looked up through a function on every call because the
// daemon re-creates it too (a fenced static member).
//
// Thread-safety: the loop thread's; librdkafka calls the delivery report
// sink from Poll()/Flush() and the transactional calls, on that thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "delivery/edge.h"
#include "delivery/rebalance.h"
#include "kafka/handles.h"

namespace dedupd::delivery {

class RdKafkaProducer final : public ProducerEdge {
 public:
  using ConsumerFn = std::function<RdKafka::KafkaConsumer*()>;
  // `input_topic` and `consumer`: the offsets and group metadata of
  // SendOffsetsToTransaction.
  RdKafkaProducer(std::string input_topic, ConsumerFn consumer);
  // Creates the producer from `conf`, its delivery reports going to `sink`
  // (dr_cb is set on `conf`).
  bool Create(RdKafka::Conf* conf, DeliveryReportSink* sink, std::string* error);
  // Purges every queued and in-flight record, without waiting, and destroys
  // the producer (it is lost: nothing of its open transaction may go out).
  void Destroy();
  bool created() const { return producer_ != nullptr; }
  // The topics' partitions and leaders looked up now, before the first
  // record to them, and their handles kept while the producer lives.
  // librdkafka 2.0.2 otherwise learns a topic only after its first record,
  // at its next metadata refresh (0.5-0.75 s after it in bench/e2e), and
  // holds that record back until then: every start's first transaction waited
  // for it in commit_transaction (docs/delivery.md, "The producer's topics").
  // Not ok: a topic whose partitions did not all have a leader within
  // `timeout_ms` (the first one named); its records then wait as before.
  kafka::Status LearnTopics(const std::vector<std::string>& topics, int timeout_ms);

  kafka::Status Produce(const std::string& topic, int32_t partition, std::string_view key,
                        std::string_view value, uint64_t tag) override;
  void Poll(int timeout_ms) override;
  void Flush(int timeout_ms) override;
  int OutqLen() override;
  kafka::Status InitTransactions(int timeout_ms) override;
  kafka::Status BeginTransaction() override;
  kafka::Status SendOffsetsToTransaction(const Offsets& offsets, int timeout_ms) override;
  kafka::Status CommitTransaction(int timeout_ms) override;
  kafka::Status AbortTransaction(int timeout_ms) override;
  kafka::Status FatalError() override;

 private:
  class Reports final : public RdKafka::DeliveryReportCb {
   public:
    void dr_cb(RdKafka::Message& message) override;
    DeliveryReportSink* sink = nullptr;
  };

  std::string input_topic_;
  ConsumerFn consumer_;
  // Outlives producer_ (declared first, destroyed last): librdkafka calls it.
  Reports reports_;
  kafka::ProducerPtr producer_;
  // LearnTopics' handles; destroyed before the producer (declared after it).
  std::vector<std::unique_ptr<RdKafka::Topic>> topics_;
};

class RdKafkaConsumer final : public ConsumerEdge {
 public:
  RdKafkaConsumer(std::string input_topic, RdKafkaProducer::ConsumerFn consumer)
      : input_topic_(std::move(input_topic)), consumer_(std::move(consumer)) {}

  Offsets Positions() override;
  kafka::Result<std::vector<int32_t>> Assignment() override;
  kafka::Result<Offsets> Committed(const std::vector<int32_t>& partitions, int timeout_ms) override;
  kafka::Status Seek(int32_t partition, int64_t offset, int timeout_ms) override;
  std::optional<std::pair<int32_t, int64_t>> ConsumeOne(int timeout_ms) override;
  kafka::Status CommitSync(const Offsets& offsets) override;
  bool Failed() override;
  kafka::Status Pause(const std::vector<int32_t>& partitions) override;
  kafka::Status Resume(const std::vector<int32_t>& partitions) override;

 private:
  std::string input_topic_;
  RdKafkaProducer::ConsumerFn consumer_;
};

// The group consumer inside its rebalance callback (one per callback).
class RdKafkaRebalanceEdge final : public RebalanceEdge {
 public:
  RdKafkaRebalanceEdge(RdKafka::KafkaConsumer* consumer, std::string input_topic)
      : consumer_(consumer), input_topic_(std::move(input_topic)) {}

  RebalanceProtocol protocol() override;
  bool AssignmentLost() override;
  kafka::Result<Offsets> Committed(const std::vector<int32_t>& partitions, int timeout_ms) override;
  kafka::Status Assign(const Offsets& offsets) override;
  kafka::Status Unassign(const std::vector<int32_t>& partitions, bool incremental) override;

 private:
  RdKafka::KafkaConsumer* consumer_;
  std::string input_topic_;
};

}  // namespace dedupd::delivery
