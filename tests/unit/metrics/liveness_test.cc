// Liveness of the processing loop with injected clocks: a loop that keeps
// beating (idle polls, retry sleeps while the broker is away) is alive however
// long it waits; one that stops beating is stuck once the bound has passed,
// and alive again at its next beat.
#include "metrics/liveness.h"

#include <gtest/gtest.h>

#include <chrono>

namespace dedupd::metrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct FakeClocks {
  Liveness::Steady::time_point steady{seconds(1000)};
  Liveness::Wall::time_point wall{seconds(1700000000)};
  Liveness::Clocks Make() {
    return {[this] { return steady; }, [this] { return wall; }};
  }
  void Advance(milliseconds d) {
    steady += d;
    wall += d;
  }
};

TEST(Liveness, AliveWhileBeatingEvenForLongerThanTheBound) {
  FakeClocks clock;
  Liveness live(seconds(60), clock.Make());
  // Ten minutes of a broker outage: a retry every 10 s, each one a beat.
  for (int i = 0; i < 60; ++i) {
    clock.Advance(seconds(10));
    live.Beat("commit retry (brokers unavailable)");
    EXPECT_TRUE(live.Check().alive) << i;
  }
  EXPECT_EQ(live.Check().where, "commit retry (brokers unavailable)");
}

TEST(Liveness, StuckOnceTheBoundHasPassedWithoutABeatThenAliveAgain) {
  FakeClocks clock;
  Liveness live(seconds(60), clock.Make());
  live.Beat("consume");
  clock.Advance(seconds(60));
  EXPECT_TRUE(live.Check().alive) << "exactly at the bound is still alive";
  clock.Advance(milliseconds(1));
  Liveness::Status s = live.Check();
  EXPECT_FALSE(s.alive);
  EXPECT_EQ(s.since, milliseconds(60001));
  EXPECT_EQ(s.where, "consume");
  const std::string body = live.Describe(s);
  EXPECT_NE(body.find("stuck"), std::string::npos) << body;
  EXPECT_NE(body.find("seconds_since_progress=60.0"), std::string::npos) << body;
  EXPECT_NE(body.find("last_progress=consume"), std::string::npos) << body;
  live.Beat("commit");
  EXPECT_TRUE(live.Check().alive);
  EXPECT_EQ(live.Check().since, milliseconds(0));
}

TEST(Liveness, AliveAtStartUntilTheBoundAndTheTimestampFollowsTheWallClock) {
  FakeClocks clock;
  Liveness live(seconds(30), clock.Make());
  EXPECT_TRUE(live.Check().alive);
  EXPECT_EQ(live.Check().where, "start");
  EXPECT_DOUBLE_EQ(live.LastProgressUnixSeconds(), 1700000000.0);
  clock.Advance(milliseconds(2500));
  live.Beat("consume");
  EXPECT_DOUBLE_EQ(live.LastProgressUnixSeconds(), 1700000002.5);
  clock.Advance(seconds(31));
  EXPECT_FALSE(live.Check().alive) << "a start that never reaches the loop is stuck as well";
  EXPECT_DOUBLE_EQ(live.LastProgressUnixSeconds(), 1700000002.5);
}

TEST(Liveness, ABackwardStepOfTheClockIsNotNegative) {
  FakeClocks clock;
  Liveness live(seconds(30), clock.Make());
  live.Beat("consume");
  clock.steady -= seconds(5);
  EXPECT_TRUE(live.Check().alive);
  EXPECT_EQ(live.Check().since, milliseconds(0));
}

// A loop blocked in a Kafka call while no broker is up waits, it does not hang
// (librdkafka 2.0.2 can ignore a transactional call's timeout then, issue
// #5456): alive through the outage, and the stall counts again from the
// broker's return, so a call that stays blocked after it is a hang.
TEST(Liveness, AStallOverlappingABrokerOutageCountsFromTheBrokersReturn) {
  FakeClocks clock;
  Liveness live(seconds(60), clock.Make());
  BrokerWatch brokers([&clock] { return clock.steady; });
  brokers.OnStats(1);
  live.Beat("send_offsets_to_transaction");
  brokers.OnAllBrokersDown();
  clock.Advance(seconds(600));  // a 10-minute outage, the loop inside the call
  EXPECT_FALSE(live.Check().alive);
  Liveness::Status during = live.Check(brokers);
  EXPECT_TRUE(during.alive);
  EXPECT_TRUE(during.waiting_for_broker);
  EXPECT_NE(live.Describe(during).find("waiting_for_broker=1"), std::string::npos);
  brokers.OnStats(1);  // the broker is back; the call has not returned yet
  clock.Advance(seconds(59));
  EXPECT_TRUE(live.Check(brokers).alive);
  clock.Advance(seconds(2));  // 61 s after the return, still blocked: a hang
  Liveness::Status hung = live.Check(brokers);
  EXPECT_FALSE(hung.alive);
  EXPECT_FALSE(hung.waiting_for_broker);
  live.Beat("consume");
  EXPECT_TRUE(live.Check(brokers).alive);
}

// An outage that ended before the loop's last beat excuses nothing.
TEST(Liveness, AnOutageBeforeTheLastBeatExcusesNothing) {
  FakeClocks clock;
  Liveness live(seconds(60), clock.Make());
  BrokerWatch brokers([&clock] { return clock.steady; });
  brokers.OnAllBrokersDown();
  clock.Advance(seconds(5));
  brokers.OnStats(1);
  clock.Advance(seconds(1));
  live.Beat("consume");
  clock.Advance(seconds(61));
  EXPECT_FALSE(live.Check(brokers).alive);
}

}  // namespace
}  // namespace dedupd::metrics
