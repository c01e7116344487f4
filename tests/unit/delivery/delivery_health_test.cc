// delivery::Health without a broker or a server: ready only with every
// condition met (each one alone makes it not ready, and /readyz says which),
// a stalled loop is not ready before /healthz fails, a broker outage is not
// ready but alive, a full store is named; dedupd_ready and the scrape-time
// gauges follow. Clocks are injected into the liveness and the broker watch.
#include <gtest/gtest.h>

#include <string>

#include "delivery/health.h"
#include "fake_edge.h"

namespace dedupd::delivery {
namespace {

using testing::FakeStore;
using testing::ManualClock;

class HealthTest : public ::testing::Test {
 protected:
  HealthTest()
      : metrics_(50),
        liveness_(std::chrono::seconds(60), Clocks()),
        brokers_([this] { return steady_; }),
        guard_(&store_, &clock_, &store_metrics_, StoreGuardHooks{}),
        health_(&liveness_, &brokers_, &guard_, &metrics_, &delivery_metrics_) {
    liveness_.Beat("consume");
    brokers_.OnStats(1);
  }
  metrics::Liveness::Clocks Clocks() {
    metrics::Liveness::Clocks c;
    c.steady = [this] { return steady_; };
    c.wall = [this] { return wall_; };
    return c;
  }
  void AllSet() {
    health_.loaded = true;
    health_.producer_ready = true;
    health_.joined = true;
  }
  bool Has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  std::chrono::steady_clock::time_point steady_ =
      std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::chrono::system_clock::time_point wall_ =
      std::chrono::system_clock::time_point{} + std::chrono::seconds(1'700'000'000);
  metrics::Metrics metrics_;
  StoreMetrics store_metrics_{*metrics_.registry()};
  DeliveryMetrics delivery_metrics_{*metrics_.registry()};
  metrics::Liveness liveness_;
  metrics::BrokerWatch brokers_;
  ManualClock clock_;
  FakeStore store_;
  StoreGuard guard_;
  Health health_;
};

TEST_F(HealthTest, ReadyOnlyWithEveryCondition) {
  EXPECT_FALSE(health_.Ready());
  AllSet();
  EXPECT_TRUE(health_.Ready());
  const metrics::HttpResponse ready = health_.Readyz();
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body,
            "ready\nstate_loaded=1\nproducer_ready=1\ngroup_joined=1\nrestoring=0\nbrokers_up=1\n"
            "broker_unavailable_seconds=0\nloop_stalled=0\nstate_store_writable=1\n");
  for (std::atomic<bool>* flag : {&health_.loaded, &health_.producer_ready, &health_.joined}) {
    *flag = false;
    EXPECT_FALSE(health_.Ready());
    EXPECT_EQ(health_.Readyz().status, 503);
    *flag = true;
  }
  health_.restoring = true;
  EXPECT_FALSE(health_.Ready());
  EXPECT_TRUE(Has(health_.Readyz().body, "not ready\n"));
  EXPECT_TRUE(Has(health_.Readyz().body, "restoring=1\n"));
}

TEST_F(HealthTest, AStalledLoopIsNotReadyBeforeItIsDead) {
  AllSet();
  steady_ += std::chrono::milliseconds(5001);
  EXPECT_TRUE(health_.Stalled());
  EXPECT_FALSE(health_.Ready());
  EXPECT_TRUE(Has(health_.Readyz().body, "loop_stalled=1\n"));
  EXPECT_EQ(health_.Healthz().status, 200);  // not yet health.liveness_timeout_ms
  steady_ += std::chrono::seconds(60);
  EXPECT_EQ(health_.Healthz().status, 503);
  liveness_.Beat("commit");
  EXPECT_EQ(health_.Healthz().status, 200);
  EXPECT_TRUE(health_.Ready());
}

TEST_F(HealthTest, ABrokerOutageIsNotReadyButAlive) {
  AllSet();
  brokers_.OnAllBrokersDown();
  steady_ += std::chrono::seconds(90);  // no progress meanwhile: waiting for the broker
  EXPECT_FALSE(health_.Ready());
  const std::string body = health_.Readyz().body;
  EXPECT_TRUE(Has(body, "brokers_up=0\n")) << body;
  EXPECT_TRUE(Has(body, "broker_unavailable_seconds=90\n")) << body;
  EXPECT_EQ(health_.Healthz().status, 200);
}

TEST_F(HealthTest, AStoreThatTakesNoWritesIsNamed) {
  AllSet();
  guard_.Note(StoreFault{"no_space", "/state: 10 MB free"}, false);
  EXPECT_FALSE(health_.Ready());
  const metrics::HttpResponse r = health_.Readyz();
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(Has(r.body, "state_store_writable=0\nstate_store=")) << r.body;
  EXPECT_TRUE(Has(r.body, "10 MB free")) << r.body;
}

TEST_F(HealthTest, TheGaugesFollow) {
  health_.Publish();
  EXPECT_TRUE(Has(metrics_.Render(), "\ndedupd_ready 0\n"));
  AllSet();
  health_.Publish();
  EXPECT_TRUE(Has(metrics_.Render(), "\ndedupd_ready 1\n"));
  health_.PublishNotReady();
  EXPECT_TRUE(Has(metrics_.Render(), "\ndedupd_ready 0\n"));
  const metrics::HttpResponse scrape = health_.Metrics();
  EXPECT_EQ(scrape.status, 200);
  EXPECT_TRUE(Has(scrape.body, "dedupd_loop_last_progress_timestamp_seconds 1700000000\n"))
      << scrape.body;
  EXPECT_TRUE(Has(scrape.body, "\ndedupd_brokers_up 1\n"));
}

}  // namespace
}  // namespace dedupd::delivery
