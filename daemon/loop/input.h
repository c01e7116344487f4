// InputEdge: the group consumer as the loop (loop/loop.h) reads it: one
// message at a time, whether the consumer failed for good, and its close
// and re-creation. loop/rdkafka_input.h is librdkafka's; the loop's unit
// tests use a fake (tests/unit/loop/fake_input.h).
//
//   auto next = input.Consume(100);         // Result<optional<InputMessage>>
//   if (!next.ok()) count the error;        // else nothing (timeout, EOF) or a message
//   if (auto why = input.Failure()) { input.Close(); input.Open(); }
//
// Thread-safety: the loop thread's; Consume() and Close() may run the
// rebalance callback on it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kafka/result.h"
#include "kafka/status.h"

namespace dedupd::loop {

// One consumed message. key and value view bytes `owner` keeps alive (the
// librdkafka message), for as long as the loop holds the message.
struct InputMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  // The Kafka timestamp (ms) as librdkafka gives it; has_timestamp false when
  // the message carries none (MSG_TIMESTAMP_NOT_AVAILABLE).
  int64_t timestamp = -1;
  bool has_timestamp = false;
  std::string_view key;  // empty: none
  std::string_view value;
  std::shared_ptr<const void> owner;
};

class InputEdge {
 public:
  virtual ~InputEdge() = default;
  // The next message within timeout_ms; nullopt on a timeout or a
  // partition's end; a Failure on a consume error (ERR__FATAL included: the
  // loop then asks Failure()).
  virtual kafka::Result<std::optional<InputMessage>> Consume(int timeout_ms) = 0;
  // The reason the consumer failed for good (a static member fenced by the
  // group coordinator), or nullopt while it works.
  virtual std::optional<std::string> Failure() = 0;
  // close() and destroy: leaves the group (unless a static member), runs the
  // rebalance callback.
  virtual void Close() = 0;
  // Creates the consumer and subscribes to the input topic.
  virtual kafka::Status Open() = 0;
};

}  // namespace dedupd::loop
