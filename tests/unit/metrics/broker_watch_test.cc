// Broker availability with an injected clock: unknown before any news, down at
// once on ERR__ALL_BROKERS_DOWN, the time without a broker counted from the
// last statistics that saw one up, and up again with the next statistics.
#include "metrics/broker_watch.h"

#include <gtest/gtest.h>

namespace dedupd::metrics {
namespace {

using std::chrono::seconds;

struct FakeClock {
  BrokerWatch::Steady::time_point now{seconds(500)};
};

TEST(BrokerWatch, UnknownBeforeAnyNews) {
  FakeClock clock;
  BrokerWatch watch([&clock] { return clock.now; });
  EXPECT_EQ(watch.BrokersUp(), -1);
  EXPECT_FALSE(watch.Unavailable());
  clock.now += seconds(30);
  EXPECT_EQ(watch.UnavailableSeconds(), 0);
}

TEST(BrokerWatch, OutageFromAllBrokersDownUntilStatisticsShowOneUp) {
  FakeClock clock;
  BrokerWatch watch([&clock] { return clock.now; });
  watch.OnStats(3);
  EXPECT_EQ(watch.BrokersUp(), 3);
  EXPECT_FALSE(watch.Unavailable());
  clock.now += seconds(4);  // the last connection goes between two statistics
  watch.OnAllBrokersDown();
  EXPECT_TRUE(watch.Unavailable());
  EXPECT_EQ(watch.BrokersUp(), 0);
  EXPECT_DOUBLE_EQ(watch.UnavailableSeconds(), 4);
  clock.now += seconds(600);
  watch.OnStats(0);
  EXPECT_TRUE(watch.Unavailable());
  EXPECT_DOUBLE_EQ(watch.UnavailableSeconds(), 604);
  watch.OnStats(1);
  EXPECT_FALSE(watch.Unavailable());
  EXPECT_EQ(watch.BrokersUp(), 1);
  EXPECT_EQ(watch.UnavailableSeconds(), 0);
}

TEST(BrokerWatch, StatisticsAloneShowAnOutage) {
  FakeClock clock;
  BrokerWatch watch([&clock] { return clock.now; });
  watch.OnStats(1);
  clock.now += seconds(5);
  watch.OnStats(0);
  EXPECT_TRUE(watch.Unavailable());
  clock.now += seconds(5);
  EXPECT_DOUBLE_EQ(watch.UnavailableSeconds(), 10);
}

TEST(BrokerWatch, NeverUpCountsFromTheStart) {
  FakeClock clock;
  BrokerWatch watch([&clock] { return clock.now; });
  clock.now += seconds(7);
  watch.OnAllBrokersDown();
  EXPECT_DOUBLE_EQ(watch.UnavailableSeconds(), 7);
}

}  // namespace
}  // namespace dedupd::metrics
