// The rebalance metrics (dedupd_rebalances_total, dedupd_assigned_partitions)
// exist at 0 before the first rebalance, and a partition's lag series goes
// away when the instance gives the partition up: a frozen value left behind
// would be summed with its new owner's by every dashboard and alert.
// Declared by the delivery stage (delivery/delivery_metrics.h).
#include <gtest/gtest.h>

#include <string>

#include "delivery/delivery_metrics.h"
#include "metrics/metrics.h"

namespace dedupd::delivery {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(RebalanceMetrics, KindsArePreCreatedAtZero) {
  metrics::Metrics all;  // rendered as /metrics is
  DeliveryMetrics m(*all.registry());
  const std::string text = all.Render();
  for (const char* kind : {"assigned", "revoked", "lost"}) {
    EXPECT_TRUE(HasLine(text, std::string("dedupd_rebalances_total{kind=\"") + kind + "\"} 0"))
        << kind << "\n"
        << text;
  }
  EXPECT_TRUE(HasLine(text, "dedupd_assigned_partitions 0")) << text;
}

TEST(RebalanceMetrics, CountsByKindAndSetsTheAssignedGauge) {
  metrics::Metrics all;  // rendered as /metrics is
  DeliveryMetrics m(*all.registry());
  m.CountRebalance("assigned");
  m.CountRebalance("assigned");
  m.CountRebalance("lost");
  m.SetAssignedPartitions(4);
  const std::string text = all.Render();
  EXPECT_TRUE(HasLine(text, "dedupd_rebalances_total{kind=\"assigned\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "dedupd_rebalances_total{kind=\"revoked\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "dedupd_rebalances_total{kind=\"lost\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "dedupd_assigned_partitions 4")) << text;
}

TEST(RebalanceMetrics, RemovedLagSeriesIsGoneAndOthersStay) {
  metrics::Metrics all;  // rendered as /metrics is
  DeliveryMetrics m(*all.registry());
  m.SetConsumerLag("pages", 0, 5);
  m.SetConsumerLag("pages", 1, 7);
  m.SetConsumerLag("pages", 2, 9);
  std::string text = all.Render();
  ASSERT_TRUE(HasLine(text, "dedupd_consumer_lag_messages{partition=\"1\",topic=\"pages\"} 7"))
      << text;

  m.RemoveConsumerLag("pages", 1);
  text = all.Render();
  EXPECT_EQ(text.find("dedupd_consumer_lag_messages{partition=\"1\""), std::string::npos) << text;
  EXPECT_TRUE(HasLine(text, "dedupd_consumer_lag_messages{partition=\"0\",topic=\"pages\"} 5"))
      << text;
  EXPECT_TRUE(HasLine(text, "dedupd_consumer_lag_messages{partition=\"2\",topic=\"pages\"} 9"))
      << text;

  // Removing what is not there (a partition never reported, or removed
  // twice) is harmless; setting it again brings the series back.
  m.RemoveConsumerLag("pages", 1);
  m.RemoveConsumerLag("other", 0);
  m.SetConsumerLag("pages", 1, 3);
  text = all.Render();
  EXPECT_TRUE(HasLine(text, "dedupd_consumer_lag_messages{partition=\"1\",topic=\"pages\"} 3"))
      << text;
}

}  // namespace
}  // namespace dedupd::delivery
