// The loop of `dedupd run` (loop/loop.h) without a broker: fake producer and
// consumer edges, a fake input and the manual clock, with the real pipeline,
// workers and batch. Each test names the behaviour it would catch broken.
#include "loop/loop.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "delivery/client_events.h"
#include "delivery/health.h"
#include "delivery/store_guard.h"
#include "fake_edge.h"
#include "fake_input.h"
#include "metrics/liveness.h"
#include "metrics/metrics.h"
#include "pipeline/pipeline.h"
#include "state/store.h"
#include "sync/store_edge.h"

namespace dedupd::loop {
namespace {

using delivery::testing::FakeConsumer;
using delivery::testing::FakeProducer;
using delivery::testing::ManualClock;
using delivery::testing::Produced;
using testing::FakeInput;

std::string Url(int i) {
  return "https://news.example/a/" + std::to_string(i);
}

// A distinct article per page: every page is NEW and stored.
std::string Page(int i) {
  static const char* const kWords[] = {"river",    "harbour", "council", "budget", "library",
                                       "festival", "railway", "school",  "market", "bridge"};
  std::string body = "Report " + std::to_string(i) + ":";
  for (int w = 0; w < 40; ++w) body += std::string(" ") + kWords[(i * 7 + w * (i + 3)) % 10];
  return R"({"url": ")" + Url(i) +
         R"(", "fetched_at": "2024-05-01T08:00:00Z", "content_type": "text/plain", "body": ")" +
         body + R"("})";
}

class LoopTest : public ::testing::Test {
 protected:
  LoopTest()
      : store_(state::NewMemoryStore()),
        detector_(std::make_unique<classify::Detector>(classify::DetectOptions{}, store_.get())),
        pipeline_(app::PipelineOptions{}, detector_.get(), &metrics_),
        store_edge_(&store_, &detector_),
        guard_(&store_edge_, &clock_, &store_metrics_, delivery::StoreGuardHooks{}),
        health_(&liveness_, &events_.brokers(), &guard_, &metrics_, &delivery_metrics_) {
    options_.batch_size = 100;
    options_.commit_messages = 1000;
    options_.commit_interval = std::chrono::milliseconds(1000);
    options_.threads = 2;
    options_.batch.retry_pause = std::chrono::milliseconds(10);
  }

  Loop& Make() {
    LoopParts parts{&pipeline_, detector_.get(), store_.get(), &producer_,         &consumer_,
                    &input_,    &clock_,         &metrics_,    &delivery_metrics_, &events_,
                    &health_,   &liveness_,      &guard_,      &store_edge_,       nullptr};
    LoopHooks hooks;
    hooks.stored = [this](std::string_view url, int32_t p) {
      stored_.emplace_back(std::string(url), p);
    };
    hooks.restore = [this](const std::vector<int32_t>& ids) {
      restored_.insert(restored_.end(), ids.begin(), ids.end());
      return kafka::Status();
    };
    hooks.destroy_producer = [this] { producer_.sink = nullptr; };
    hooks.create_producer = [this](delivery::DeliveryReportSink* sink, std::string*) {
      ++created_;
      producer_.fatal = {};
      producer_.sink = sink;
      return true;
    };
    loop_ = std::make_unique<Loop>(options_, parts, std::move(hooks));
    producer_.sink = loop_->batch().tracker();
    return *loop_;
  }

  // Turns until the input is drained and the batch committed (bounded).
  void Drain(int max_turns = 50) {
    for (int i = 0; i < max_turns; ++i) {
      ASSERT_TRUE(loop_->Turn()) << "turn " << i;
      if (loop_->batch().uncommitted() == 0 && input_.consumes > 0 && Left() == 0) return;
      clock_.Advance(options_.commit_interval);
    }
    FAIL() << "not drained";
  }
  size_t Left() {
    size_t left = 0;
    for (const auto& [p, pos] : consumer_.positions) left += static_cast<size_t>(ends_[p] - pos);
    return left;
  }
  void Add(int32_t partition, int page) {
    input_.Append(partition, Url(page), Page(page));
    ++ends_[partition];
  }
  void AddRaw(int32_t partition, std::string key, std::string value) {
    input_.Append(partition, std::move(key), std::move(value));
    ++ends_[partition];
  }
  std::vector<const Produced*> On(const std::string& topic) const {
    std::vector<const Produced*> out;
    for (const auto& p : producer_.produced) {
      if (p.topic == topic) out.push_back(&p);
    }
    return out;
  }
  std::string Rendered() { return metrics_.Render(); }

  ManualClock clock_;
  metrics::Metrics metrics_;
  delivery::DeliveryMetrics delivery_metrics_{*metrics_.registry()};
  delivery::StoreMetrics store_metrics_{*metrics_.registry()};
  delivery::ClientEvents events_{&metrics_, &delivery_metrics_, "pages"};
  metrics::Liveness liveness_{std::chrono::seconds(60)};
  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  app::Pipeline pipeline_;
  sync::DetectorStoreEdge store_edge_;
  delivery::StoreGuard guard_;
  delivery::Health health_;
  FakeProducer producer_;
  FakeConsumer consumer_;
  FakeInput input_{&consumer_};
  LoopOptions options_;
  std::map<int32_t, int64_t> ends_;
  std::vector<std::pair<std::string, int32_t>> stored_;
  std::vector<int32_t> restored_;
  int created_ = 0;
  std::unique_ptr<Loop> loop_;
};

// Broken if outputs leave out of input order (per partition), or the state
// record goes to another changelog partition than its input's.
TEST_F(LoopTest, OutputsAreProducedInInputOrderPerPartition) {
  for (int i = 0; i < 12; ++i) Add(i % 3, i);
  Make();
  Drain();
  const auto events = On("events");
  ASSERT_EQ(events.size(), 12u);
  std::map<int32_t, std::vector<std::string>> seen, expected;
  for (int i = 0; i < 12; ++i) expected[i % 3].push_back(Url(i));
  for (const auto* e : events) {
    const int i = std::stoi(e->key.substr(e->key.rfind('/') + 1));
    seen[i % 3].push_back(e->key);
  }
  EXPECT_EQ(seen, expected);
  const auto changelog = On("state");
  ASSERT_EQ(changelog.size(), 12u);
  for (const auto* c : changelog) {
    const int i = std::stoi(c->key.substr(c->key.rfind('/') + 1));
    EXPECT_EQ(c->partition, i % 3) << c->key;
  }
  EXPECT_EQ(On("fingerprints").size(), 12u);
  EXPECT_EQ(stored_.size(), 12u);
  EXPECT_EQ(producer_.Count("commit"), 1u);
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 4}, {1, 4}, {2, 4}}));
}

// Broken if the batch commits before commit_messages inputs or never at them.
TEST_F(LoopTest, ABatchCommitsAtCommitMessages) {
  options_.batch_size = 1;
  options_.commit_messages = 3;
  for (int i = 0; i < 6; ++i) Add(0, i);
  Make();
  ASSERT_TRUE(loop_->Turn());
  ASSERT_TRUE(loop_->Turn());
  EXPECT_EQ(producer_.Count("commit"), 0u);
  EXPECT_EQ(loop_->batch().uncommitted(), 2u);
  ASSERT_TRUE(loop_->Turn());  // the third input
  EXPECT_EQ(producer_.Count("commit"), 1u);
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 3}}));
  EXPECT_EQ(loop_->batch().uncommitted(), 0u);
}

// Broken if the batch waits past commit_interval (or commits before it).
TEST_F(LoopTest, ABatchCommitsAtTheInterval) {
  Add(0, 0);
  Make();
  ASSERT_TRUE(loop_->Turn());
  EXPECT_EQ(producer_.Count("commit"), 0u);
  clock_.Advance(std::chrono::milliseconds(999));
  ASSERT_TRUE(loop_->Turn());
  EXPECT_EQ(producer_.Count("commit"), 0u);
  clock_.Advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(loop_->Turn());
  EXPECT_EQ(producer_.Count("commit"), 1u);
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 1}}));
}

// Broken if an abort rewinds only the inputs already decided: partition 1's
// messages were only read ahead (Batch::NoteConsumed) when the first
// message's produce failed; all of them must be consumed again and end up
// produced once each after the retry.
TEST_F(LoopTest, AnAbortRewindsOverReadAheadMessages) {
  Add(0, 0);
  Add(1, 1);
  Add(0, 2);
  Add(1, 3);
  producer_.produce_results = {kafka::Status(RdKafka::ERR__STATE, "injected")};
  Make();
  ASSERT_TRUE(loop_->Turn());
  EXPECT_EQ(producer_.Count("abort"), 1u);
  EXPECT_EQ(loop_->read_ahead(), 0u);
  std::map<int32_t, int64_t> sought(consumer_.seeks.begin(), consumer_.seeks.end());
  EXPECT_EQ(sought, (std::map<int32_t, int64_t>{{0, 0}, {1, 0}}));
  Drain();
  EXPECT_EQ(producer_.Count("commit"), 1u);
  std::set<std::string> committed_keys;
  // The records of the aborted attempt are in `produced` too (the fake keeps
  // them); the committed transaction's are the last four events.
  const auto events = On("events");
  ASSERT_GE(events.size(), 4u);
  for (size_t i = events.size() - 4; i < events.size(); ++i) committed_keys.insert(events[i]->key);
  EXPECT_EQ(committed_keys, (std::set<std::string>{Url(0), Url(1), Url(2), Url(3)}));
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 2}, {1, 2}}));
}

// Broken if a page the pipeline rejects is not produced to the DLQ topic, or
// not counted, or stops the loop.
TEST_F(LoopTest, ADeadLetteredMessageGoesToTheDlqAndIsCounted) {
  Add(0, 0);
  AddRaw(0, "k", "not json at all");
  Add(0, 2);
  Make();
  Drain();
  const auto dlq = On("dlq");
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]->key, "k");
  EXPECT_EQ(On("events").size(), 2u);
  EXPECT_NE(Rendered().find("dedupd_dead_letters_total{reason="), std::string::npos);
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 3}}));
}

// Broken if a record the broker refused is committed without it, or its input
// is not dead-lettered (output_rejected) on the retry while the others'
// outputs go out.
TEST_F(LoopTest, ARefusedRecordDeadLettersItsInputOnTheRetry) {
  Add(0, 0);
  Add(0, 1);
  producer_.refuse = [](const Produced& p) { return p.topic == "events" && p.key == Url(1); };
  Make();
  for (int i = 0; i < 20 && producer_.Count("commit") < 3; ++i) {
    ASSERT_TRUE(loop_->Turn());
    clock_.Advance(options_.commit_interval);
    if (producer_.Count("abort") > 0) producer_.refuse = [](const Produced&) { return false; };
  }
  EXPECT_GE(producer_.Count("abort"), 1u);
  const auto dlq = On("dlq");
  ASSERT_FALSE(dlq.empty());
  EXPECT_EQ(dlq.back()->key, Url(1));
  EXPECT_NE(Rendered().find(R"(dedupd_dead_letters_total{reason="output_rejected"} 1)"),
            std::string::npos);
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 2}}));
  EXPECT_EQ(loop_->batch().uncommitted(), 0u);
}

// Broken if a producer that raised a fatal error stops the loop instead of
// being re-created (same configuration), the partitions restored and sought
// to their committed offsets, and the input processed.
TEST_F(LoopTest, ALostProducerIsRecreatedAndTheInputProcessed) {
  Add(0, 0);
  Add(0, 1);
  consumer_.assignment = {0};
  consumer_.committed = {{0, 0}};
  producer_.fatal = kafka::Status::Fatal(RdKafka::ERR__FENCED);
  Make();
  ASSERT_TRUE(loop_->Turn());  // the batch cannot begin: the producer is lost
  EXPECT_TRUE(loop_->fatal());
  ASSERT_TRUE(loop_->Turn());  // re-created, resynced
  EXPECT_EQ(created_, 1);
  EXPECT_FALSE(loop_->fatal());
  EXPECT_EQ(restored_, (std::vector<int32_t>{0}));
  Drain();
  EXPECT_EQ(On("events").size(), 2u);
  EXPECT_EQ(producer_.sent_offsets, (delivery::Offsets{{0, 2}}));
  EXPECT_EQ(loop_->Stop(), 0);
}

// Broken if a consume error stops the loop or is not counted.
TEST_F(LoopTest, AConsumeErrorIsCountedAndTheLoopGoesOn) {
  Add(0, 0);
  input_.errors = 1;
  Make();
  Drain();
  EXPECT_EQ(On("events").size(), 1u);
  EXPECT_NE(Rendered().find(R"(dedupd_kafka_errors_total{kind="consume"} 1)"), std::string::npos);
}

// Broken if a consumer that failed for good is not closed and re-created.
TEST_F(LoopTest, AFailedConsumerIsRecreated) {
  Add(0, 0);
  Make();
  input_.failure = "Fatal error: fenced";
  ASSERT_TRUE(loop_->Turn());
  EXPECT_EQ(input_.closes, 1);
  EXPECT_EQ(input_.opens, 1);
  Drain();
  EXPECT_EQ(On("events").size(), 1u);
}

}  // namespace
}  // namespace dedupd::loop
