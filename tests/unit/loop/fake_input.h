// A fake group consumer for the loop's unit tests (loop::InputEdge): a log of
// messages per partition, read round-robin from each partition's position;
// the seeks the batch makes on the fake delivery consumer
// (delivery::testing::FakeConsumer) move the positions, and every message
// consumed advances that consumer's positions() (what a commit sends).
//
//   FakeInput input(&consumer);
//   input.Append(0, "https://a.example/1", page_json);   // partition 0, offset 0
//   auto next = input.Consume(0);                         // that message
//
// Thread-safety: the test's thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fake_edge.h"
#include "loop/input.h"

namespace dedupd::loop::testing {

class FakeInput final : public InputEdge {
 public:
  explicit FakeInput(delivery::testing::FakeConsumer* consumer) : consumer_(consumer) {}

  void Append(int32_t partition, std::string key, std::string value) {
    log_[partition].push_back(
        std::make_shared<std::pair<std::string, std::string>>(std::move(key), std::move(value)));
    next_.try_emplace(partition, 0);
    consumer_->positions.try_emplace(partition, 0);
  }

  kafka::Result<std::optional<InputMessage>> Consume(int) override {
    ++consumes;
    for (; seeks_seen_ < consumer_->seeks.size(); ++seeks_seen_) {
      const auto& [partition, offset] = consumer_->seeks[seeks_seen_];
      next_[partition] = offset;
      consumer_->positions[partition] = offset;
    }
    if (errors > 0) {
      --errors;
      return kafka::Failure{"Broker: Not coordinator"};
    }
    // Round-robin over the partitions with something left.
    for (size_t i = 0; i < next_.size(); ++i) {
      auto at = next_.begin();
      std::advance(at, (turn_ + i) % next_.size());
      auto& [partition, offset] = *at;
      const auto& messages = log_[partition];
      if (offset >= static_cast<int64_t>(messages.size())) continue;
      turn_ = turn_ + i + 1;
      const auto& kv = messages[static_cast<size_t>(offset)];
      InputMessage m;
      m.partition = partition;
      m.offset = offset;
      m.timestamp = 1700000000000 + offset;
      m.has_timestamp = true;
      m.key = kv->first;
      m.value = kv->second;
      m.owner = kv;
      consumer_->positions[partition] = ++offset;
      return std::optional<InputMessage>(std::move(m));
    }
    return std::optional<InputMessage>{};
  }
  std::optional<std::string> Failure() override { return failure; }
  void Close() override { ++closes; }
  kafka::Status Open() override {
    ++opens;
    failure.reset();
    return {};
  }

  int errors = 0;                      // consume errors to answer first
  std::optional<std::string> failure;  // Failure(); cleared by Open()
  int consumes = 0, closes = 0, opens = 0;

 private:
  delivery::testing::FakeConsumer* consumer_;
  std::map<int32_t, std::vector<std::shared_ptr<std::pair<std::string, std::string>>>> log_;
  std::map<int32_t, int64_t> next_;
  size_t turn_ = 0;
  size_t seeks_seen_ = 0;
};

}  // namespace dedupd::loop::testing
