#include "sync/rdkafka_sync_edge.h"

#include <utility>

#include "kafka/admin.h"

namespace dedupd::sync {
namespace {

// A reader owns its consumer and the last message it returned, whose key
// and value the ReadEvent views until the next Read().
class RdKafkaStateReader final : public StateReader {
 public:
  explicit RdKafkaStateReader(kafka::KafkaConsumerPtr consumer) : consumer_(std::move(consumer)) {}

  ReadEvent Read(int timeout_ms) override {
    last_.reset(consumer_->consume(timeout_ms));
    ReadEvent e;
    if (!last_) return e;
    const RdKafka::ErrorCode err = last_->err();
    e.partition = last_->partition();
    e.offset = last_->offset();
    if (err == RdKafka::ERR_NO_ERROR) {
      e.kind = ReadEvent::Kind::kRecord;
      if (last_->key_pointer() != nullptr) {
        e.key = std::string_view(static_cast<const char*>(last_->key_pointer()), last_->key_len());
      }
      if (last_->payload() != nullptr) {
        e.value = std::string_view(static_cast<const char*>(last_->payload()), last_->len());
      }
    } else if (err == RdKafka::ERR__PARTITION_EOF) {
      e.kind = ReadEvent::Kind::kEnd;
    } else if (err == RdKafka::ERR__TIMED_OUT) {
      e.kind = ReadEvent::Kind::kNothing;
    } else {
      e.kind = ReadEvent::Kind::kError;
      e.error = kafka::DescribeError(err) + " " + last_->errstr();
    }
    return e;
  }

 private:
  // Destroyed before the consumer (members go in reverse order).
  kafka::KafkaConsumerPtr consumer_;
  kafka::MessagePtr last_;
};

}  // namespace

RdKafkaSyncEdge::RdKafkaSyncEdge(kafka::Props props, kafka::Props admin_props,
                                 RdKafka::EventCb* events, std::string reader_group)
    : props_(std::move(props)),
      admin_props_(std::move(admin_props)),
      events_(events),
      reader_group_(std::move(reader_group)) {}

kafka::Result<std::vector<int32_t>> RdKafkaSyncEdge::Partitions(const std::string& topic,
                                                                std::chrono::milliseconds timeout) {
  return kafka::ListPartitions(admin_props_, topic, timeout);
}

kafka::Result<std::vector<kafka::Watermarks>> RdKafkaSyncEdge::Watermarks(
    const std::string& topic, Isolation isolation, std::chrono::milliseconds timeout) {
  kafka::Props props = admin_props_;
  switch (isolation) {
    case Isolation::kCommitted: props["isolation.level"] = "read_committed"; break;
    case Isolation::kUncommitted: props["isolation.level"] = "read_uncommitted"; break;
  }
  return kafka::HighWatermarks(props, topic, timeout);
}

kafka::Result<StateReaderPtr> RdKafkaSyncEdge::OpenReader(const std::string& topic,
                                                          const Offsets& from) {
  kafka::Props props = props_;
  props["group.id"] = reader_group_;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  props["isolation.level"] = "read_committed";
  props["auto.offset.reset"] = "earliest";
  props.erase("transactional.id");
  std::string error;
  kafka::ConfPtr conf = kafka::MakeConf(props, &error);
  if (!conf) return kafka::Failure{error};
  std::string errstr;
  if (events_ != nullptr) conf->set("event_cb", events_, errstr);
  kafka::KafkaConsumerPtr reader(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!reader) return kafka::Failure{"cannot create the state reader: " + errstr};
  kafka::TopicPartitionList tpl;
  for (const auto& [p, offset] : from) tpl.Add(topic, p, offset);
  if (auto err = reader->assign(tpl.get()); err != RdKafka::ERR_NO_ERROR) {
    return kafka::Failure{"cannot assign the reader of '" + topic +
                          "': " + kafka::DescribeError(err)};
  }
  return StateReaderPtr(std::make_unique<RdKafkaStateReader>(std::move(reader)));
}

}  // namespace dedupd::sync
