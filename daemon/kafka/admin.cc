#include "kafka/admin.h"

#include <algorithm>
#include <set>
#include <thread>

#include "kafka/handles.h"

namespace dedupd::kafka {
namespace {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds timeout) : end_(Clock::now() + timeout) {}
  bool expired() const { return Clock::now() >= end_; }
  // Milliseconds left, at least 1: librdkafka reads 0 as "do not wait" and -1
  // as "forever", neither of which a caller that still has time wants.
  int remaining_ms() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - Clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count(), 1, INT32_MAX));
  }

 private:
  Clock::time_point end_;
};

Props HelperProps(const Props& props) {
  Props out = props;
  out.erase("transactional.id");
  out["allow.auto.create.topics"] = "false";
  return out;
}

Result<ProducerPtr> MakeProducer(const Props& props) {
  std::string error;
  ConfPtr conf = MakeConf(HelperProps(props), &error);
  if (!conf) return Failure{error};
  std::string errstr;
  ProducerPtr producer(RdKafka::Producer::create(conf.get(), errstr));
  if (!producer) return Failure{"cannot create kafka client: " + errstr};
  return producer;
}

// Errors that a starting broker, a leadership change or a topic still being
// created cause, and that go away on their own: retried until the deadline.
// (Right after CreateTopics, KRaft metadata can already name a leader whose
// ListOffsets still answers NOT_LEADER_FOR_PARTITION.)
bool IsTransient(RdKafka::ErrorCode err) {
  return err == RdKafka::ERR_NOT_LEADER_FOR_PARTITION || err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
         err == RdKafka::ERR_REPLICA_NOT_AVAILABLE || err == RdKafka::ERR_BROKER_NOT_AVAILABLE ||
         err == RdKafka::ERR_REQUEST_TIMED_OUT || err == RdKafka::ERR_NETWORK_EXCEPTION ||
         err == RdKafka::ERR_UNKNOWN_LEADER_EPOCH || err == RdKafka::ERR_FENCED_LEADER_EPOCH ||
         err == RdKafka::ERR_OFFSET_NOT_AVAILABLE || err == RdKafka::ERR__TRANSPORT ||
         err == RdKafka::ERR__TIMED_OUT || err == RdKafka::ERR__ALL_BROKERS_DOWN;
}

void Backoff(const Deadline& deadline) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, deadline.remaining_ms())));
}

struct PartitionState {
  int32_t id = 0;
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  int32_t leader = -1;
};

struct TopicState {
  RdKafka::ErrorCode request_err = RdKafka::ERR_NO_ERROR;  // the metadata request itself
  std::string request_detail;
  RdKafka::ErrorCode err =
      RdKafka::ERR_NO_ERROR;               // the topic; UNKNOWN_TOPIC_OR_PART: no such topic
  std::vector<PartitionState> partitions;  // ascending by id

  RdKafka::ErrorCode first_error() const {
    return request_err != RdKafka::ERR_NO_ERROR ? request_err : err;
  }
  std::string Describe(const std::string& topic) const {
    if (request_err != RdKafka::ERR_NO_ERROR) {
      return "metadata for topic '" + topic + "': " + DescribeError(request_err) + request_detail;
    }
    return "topic '" + topic + "': " + DescribeError(err);
  }
};

// One metadata request for one topic, straight to a broker (not the cache).
TopicState DescribeTopic(RdKafka::Handle& handle, const std::string& topic, int timeout_ms) {
  TopicState state;
  std::string errstr;
  TopicPtr rkt(RdKafka::Topic::create(&handle, topic, nullptr, errstr));
  if (!rkt) {
    state.request_err = RdKafka::ERR__INVALID_ARG;
    state.request_detail = " (" + errstr + ")";
    return state;
  }
  RdKafka::Metadata* raw = nullptr;
  state.request_err = handle.metadata(false, rkt.get(), &raw, timeout_ms);
  MetadataPtr md(raw);
  if (state.request_err != RdKafka::ERR_NO_ERROR) return state;
  for (const RdKafka::TopicMetadata* t : *md->topics()) {
    if (t->topic() != topic) continue;
    state.err = t->err();
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      state.partitions.push_back({p->id(), p->err(), p->leader()});
    }
    std::sort(state.partitions.begin(), state.partitions.end(),
              [](const PartitionState& a, const PartitionState& b) { return a.id < b.id; });
    return state;
  }
  state.request_err = RdKafka::ERR__BAD_MSG;
  state.request_detail = " (topic missing from the response)";
  return state;
}

// DescribeTopic, repeated while the answer is transient.
TopicState DescribeTopicUntil(RdKafka::Handle& handle, const std::string& topic,
                              const Deadline& deadline) {
  while (true) {
    TopicState state = DescribeTopic(handle, topic, deadline.remaining_ms());
    if (!IsTransient(state.first_error()) || deadline.expired()) return state;
    Backoff(deadline);
  }
}

bool Ready(const TopicState& state, int32_t partitions) {
  if (state.err != RdKafka::ERR_NO_ERROR) return false;
  if (static_cast<int32_t>(state.partitions.size()) != partitions) return false;
  for (int32_t i = 0; i < partitions; ++i) {
    const PartitionState& p = state.partitions[static_cast<size_t>(i)];
    if (p.id != i || p.err != RdKafka::ERR_NO_ERROR || p.leader < 0) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += "; ";
    out += part;
  }
  return out;
}

std::string ValidateSpecs(const std::vector<TopicSpec>& topics) {
  std::set<std::string> seen;
  for (const TopicSpec& spec : topics) {
    if (spec.name.empty()) return "topic spec with an empty name";
    if (!seen.insert(spec.name).second) return "topic '" + spec.name + "' listed twice";
    if (spec.partitions < 1) {
      return "topic '" + spec.name + "': partitions must be >= 1, got " +
             std::to_string(spec.partitions);
    }
    if (spec.replication_factor < 1) {
      return "topic '" + spec.name + "': replication_factor must be >= 1, got " +
             std::to_string(spec.replication_factor);
    }
  }
  return "";
}

// Sends one CreateTopics request for all topics. Returns per-topic failures;
// topics that already existed are added to *existing.
std::vector<std::string> CreateTopics(rd_kafka_t* rk, const std::vector<TopicSpec>& topics,
                                      const Deadline& deadline, std::set<std::string>* existing) {
  std::vector<std::string> failures;
  char errstr[512] = {0};
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  auto destroy_new_topics = [&new_topics] {
    rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
    new_topics.clear();
  };
  for (const TopicSpec& spec : topics) {
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                                                    spec.replication_factor, errstr, sizeof errstr);
    if (nt == nullptr) {
      failures.push_back("topic '" + spec.name + "': " + errstr);
      continue;
    }
    new_topics.push_back(nt);
    for (const auto& [key, value] : spec.configs) {
      if (rd_kafka_NewTopic_set_config(nt, key.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string why = "topic '" + spec.name + "': cannot set config '";
        why += key;
        why += "'='";
        why += value;
        why += "'";
        failures.push_back(std::move(why));
      }
    }
  }
  if (!failures.empty()) {
    destroy_new_topics();
    return failures;
  }

  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  // The operation timeout makes the controller answer only once the topics are
  // created (or the time is up), so the metadata wait below is usually short.
  const int budget = deadline.remaining_ms();
  rd_kafka_AdminOptions_set_request_timeout(options, budget, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(options, budget, errstr, sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), options, queue);
  destroy_new_topics();  // CreateTopics copies them
  rd_kafka_AdminOptions_destroy(options);

  // The request timeout bounds the result; the extra second only covers the
  // result's trip through the queue.
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, deadline.remaining_ms() + 1000);
  if (event == nullptr) {
    failures.push_back("CreateTopics: no answer before the deadline");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failures.push_back(std::string("CreateTopics: ") +
                       rd_kafka_err2name(rd_kafka_event_error(event)) + ": " +
                       rd_kafka_event_error_string(event));
  } else if (const rd_kafka_CreateTopics_result_t* result =
                 rd_kafka_event_CreateTopics_result(event);
             result == nullptr) {
    failures.push_back("CreateTopics: unexpected event " + std::string(rd_kafka_event_name(event)));
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      const std::string name = rd_kafka_topic_result_name(results[i]);
      if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        existing->insert(name);
      } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* message = rd_kafka_topic_result_error_string(results[i]);
        failures.push_back("topic '" + name + "': " + rd_kafka_err2name(err) + ": " +
                           (message != nullptr ? message : rd_kafka_err2str(err)));
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  return failures;
}

}  // namespace

bool EnsureTopics(const Props& base_props, const std::vector<TopicSpec>& topics,
                  std::chrono::milliseconds timeout, std::string* error) {
  auto fail = [error](const std::string& why) {
    if (error != nullptr) *error = why;
    return false;
  };
  if (topics.empty()) return true;
  if (std::string bad = ValidateSpecs(topics); !bad.empty()) return fail(bad);
  const Deadline deadline(timeout);
  Result<ProducerPtr> client = MakeProducer(base_props);
  if (!client.ok()) return fail(client.error());
  RdKafka::Producer& producer = *client.value();

  std::set<std::string> existing;
  std::vector<std::string> failures = CreateTopics(producer.c_ptr(), topics, deadline, &existing);
  if (!failures.empty()) return fail(Join(failures));

  // Creation is acknowledged by the controller before every broker serves the
  // new partitions: wait until metadata shows each one with a leader.
  std::vector<const TopicSpec*> pending;
  pending.reserve(topics.size());
  for (const TopicSpec& spec : topics) pending.push_back(&spec);
  std::string last_problem;
  while (true) {
    std::vector<const TopicSpec*> still_pending;
    for (const TopicSpec* spec : pending) {
      const TopicState s = DescribeTopic(producer, spec->name, deadline.remaining_ms());
      if (s.request_err != RdKafka::ERR_NO_ERROR) {
        last_problem = s.Describe(spec->name);
        still_pending.push_back(spec);
        continue;
      }
      if (existing.count(spec->name) != 0 && s.err == RdKafka::ERR_NO_ERROR &&
          static_cast<int32_t>(s.partitions.size()) != spec->partitions) {
        failures.push_back("topic '" + spec->name + "' exists with " +
                           std::to_string(s.partitions.size()) + " partitions, expected " +
                           std::to_string(spec->partitions));
        continue;
      }
      if (!Ready(s, spec->partitions)) {
        last_problem =
            "topic '" + spec->name + "': " +
            (s.err != RdKafka::ERR_NO_ERROR
                 ? DescribeError(s.err)
                 : std::to_string(s.partitions.size()) + " of " + std::to_string(spec->partitions) +
                       " partitions visible or a leader missing");
        still_pending.push_back(spec);
        continue;
      }
      // Metadata names the leaders; the leaders must also answer for their
      // partitions (ListOffsets) before the topic counts as usable.
      for (const PartitionState& p : s.partitions) {
        int64_t low = 0;
        int64_t high = 0;
        const RdKafka::ErrorCode err = producer.query_watermark_offsets(
            spec->name, p.id, &low, &high, std::min(5000, deadline.remaining_ms()));
        if (err != RdKafka::ERR_NO_ERROR) {
          last_problem =
              "topic '" + spec->name + "' [" + std::to_string(p.id) + "]: " + DescribeError(err);
          still_pending.push_back(spec);
          break;
        }
      }
    }
    pending = std::move(still_pending);
    if (!failures.empty()) return fail(Join(failures));
    if (pending.empty()) return true;
    if (deadline.expired()) {
      return fail("topics not ready within " + std::to_string(timeout.count()) +
                  " ms: " + last_problem);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, deadline.remaining_ms())));
  }
}

Result<std::vector<int32_t>> ListPartitions(const Props& props, const std::string& topic,
                                            std::chrono::milliseconds timeout) {
  const Deadline deadline(timeout);
  Result<ProducerPtr> client = MakeProducer(props);
  if (!client.ok()) return Failure{client.error()};
  const TopicState state = DescribeTopicUntil(*client.value(), topic, deadline);
  if (state.first_error() != RdKafka::ERR_NO_ERROR) return Failure{state.Describe(topic)};
  std::vector<int32_t> ids;
  for (const PartitionState& p : state.partitions) ids.push_back(p.id);
  return ids;
}

Result<std::vector<Watermarks>> HighWatermarks(const Props& props, const std::string& topic,
                                               std::chrono::milliseconds timeout) {
  const Deadline deadline(timeout);
  std::string error;
  // A consumer handle, not a producer: ListOffsets carries the handle's
  // isolation.level, which decides between high watermark and last stable offset.
  ConfPtr conf = MakeConf(HelperProps(props), &error);
  if (!conf) return Failure{error};
  std::string errstr;
  SimpleConsumerPtr consumer(RdKafka::Consumer::create(conf.get(), errstr));
  if (!consumer) return Failure{"cannot create kafka client: " + errstr};

  const TopicState state = DescribeTopicUntil(*consumer, topic, deadline);
  if (state.first_error() != RdKafka::ERR_NO_ERROR) return Failure{state.Describe(topic)};
  std::vector<Watermarks> marks;
  for (const PartitionState& p : state.partitions) {
    Watermarks w;
    w.partition = p.id;
    while (true) {
      const RdKafka::ErrorCode err =
          consumer->query_watermark_offsets(topic, p.id, &w.low, &w.high, deadline.remaining_ms());
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (!IsTransient(err) || deadline.expired()) {
        return Failure{"watermarks of '" + topic + "' [" + std::to_string(p.id) +
                       "]: " + DescribeError(err)};
      }
      Backoff(deadline);
    }
    marks.push_back(w);
  }
  return marks;
}

Result<std::map<int32_t, int64_t>> OffsetsForTime(const Props& props, const std::string& topic,
                                                  int64_t timestamp_ms,
                                                  std::chrono::milliseconds timeout) {
  const Deadline deadline(timeout);
  std::string error;
  ConfPtr conf = MakeConf(HelperProps(props), &error);
  if (!conf) return Failure{error};
  std::string errstr;
  SimpleConsumerPtr consumer(RdKafka::Consumer::create(conf.get(), errstr));
  if (!consumer) return Failure{"cannot create kafka client: " + errstr};

  const TopicState state = DescribeTopicUntil(*consumer, topic, deadline);
  if (state.first_error() != RdKafka::ERR_NO_ERROR) return Failure{state.Describe(topic)};
  while (true) {
    TopicPartitionList query;
    for (const PartitionState& p : state.partitions) query.Add(topic, p.id, timestamp_ms);
    std::vector<RdKafka::TopicPartition*>& list = query.get();
    RdKafka::ErrorCode err = consumer->offsetsForTimes(list, deadline.remaining_ms());
    for (const auto* tp : list) {
      if (err == RdKafka::ERR_NO_ERROR && tp->err() != RdKafka::ERR_NO_ERROR) err = tp->err();
    }
    if (err == RdKafka::ERR_NO_ERROR) {
      std::map<int32_t, int64_t> offsets;
      for (const auto* tp : list) offsets[tp->partition()] = tp->offset() < 0 ? -1 : tp->offset();
      return offsets;
    }
    if (!IsTransient(err) || deadline.expired()) {
      return Failure{"offsets for time " + std::to_string(timestamp_ms) + " of '" + topic +
                     "': " + DescribeError(err)};
    }
    Backoff(deadline);
  }
}

}  // namespace dedupd::kafka
