// The Kafka clients' event callback (delivery/client_events.h) fed with
// hand-made events: lag only for owned partitions, broker state, fatal.
#include <gtest/gtest.h>

#include <string>

#include "delivery/client_events.h"

namespace dedupd::delivery {
namespace {

class FakeEvent final : public RdKafka::Event {
 public:
  FakeEvent(Type type, std::string str, RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR,
            bool fatal = false)
      : type_(type), str_(std::move(str)), err_(err), fatal_(fatal) {}
  Type type() const override { return type_; }
  RdKafka::ErrorCode err() const override { return err_; }
  Severity severity() const override { return EVENT_SEVERITY_INFO; }
  std::string fac() const override { return "TEST"; }
  std::string str() const override { return str_; }
  int throttle_time() const override { return 0; }
  std::string broker_name() const override { return ""; }
  int broker_id() const override { return -1; }
  bool fatal() const override { return fatal_; }

 private:
  Type type_;
  std::string str_;
  RdKafka::ErrorCode err_;
  bool fatal_;
};

// Statistics with one broker in `state` and partitions 0 and 1 of "pages",
// each 10 messages behind its last stable offset.
std::string Stats(const std::string& state) {
  return R"({"name":"c","type":"consumer","brokers":{"b:9092/1":{"name":"b:9092/1","nodeid":1,)"
         R"("source":"learned","state":")" +
         state +
         R"("}},"topics":{"pages":{"topic":"pages","partitions":{)"
         R"("0":{"partition":0,"desired":true,"ls_offset":110,"hi_offset":110,"app_offset":100},)"
         R"("1":{"partition":1,"desired":true,"ls_offset":60,"hi_offset":60,"app_offset":50}}}}})";
}

TEST(ClientEvents, ExportsLagOnlyForOwnedPartitionsAndFollowsTheBrokers) {
  metrics::Metrics metrics;
  DeliveryMetrics delivery_metrics(*metrics.registry());
  ClientEvents events(&metrics, &delivery_metrics, "pages");
  EXPECT_EQ(events.brokers_up(), -1) << "unknown before any statistics";
  events.SetOwned(1, true);
  FakeEvent stats(RdKafka::Event::EVENT_STATS, Stats("UP"));
  events.event_cb(stats);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find(R"(dedupd_consumer_lag_messages{partition="1",topic="pages"} 10)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find(R"(dedupd_consumer_lag_messages{partition="0")"), std::string::npos)
      << "partition 0 is not this instance's";
  EXPECT_EQ(events.brokers_up(), 1);
  EXPECT_FALSE(events.brokers().Unavailable());

  FakeEvent down(RdKafka::Event::EVENT_ERROR, "all down", RdKafka::ERR__ALL_BROKERS_DOWN);
  events.event_cb(down);
  EXPECT_TRUE(events.brokers().Unavailable()) << "at once, not at the next statistics";
  EXPECT_FALSE(events.fatal());
  events.event_cb(stats);
  EXPECT_FALSE(events.brokers().Unavailable());

  events.SetOwned(1, false);
  EXPECT_TRUE(events.owned().empty());
}

TEST(ClientEvents, RemembersAFatalErrorUntilCleared) {
  metrics::Metrics metrics;
  DeliveryMetrics delivery_metrics(*metrics.registry());
  ClientEvents events(&metrics, &delivery_metrics, "pages");
  FakeEvent transport(RdKafka::Event::EVENT_ERROR, "timeout", RdKafka::ERR__TRANSPORT);
  events.event_cb(transport);
  EXPECT_FALSE(events.fatal());
  FakeEvent fenced(RdKafka::Event::EVENT_ERROR, "fenced", RdKafka::ERR__FENCED, true);
  events.event_cb(fenced);
  EXPECT_TRUE(events.fatal());
  EXPECT_NE(metrics.Render().find(R"(dedupd_kafka_errors_total{kind="fatal"} 1)"),
            std::string::npos);
  events.ClearFatal();
  EXPECT_FALSE(events.fatal());
}

}  // namespace
}  // namespace dedupd::delivery
