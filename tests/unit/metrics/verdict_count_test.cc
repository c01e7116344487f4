// Metrics::CountVerdict on the per-page path (issue #11 item 3): it counts
// into dedupd_pages_total{verdict=...} without allocating (the series are
// looked up once, at construction; a label map per call would allocate).
#include <gtest/gtest.h>

#include <string>

#include "metrics/metrics.h"
#include "unit/counting_new.h"

namespace dedupd::metrics {
namespace {

TEST(VerdictCount, CountsEachVerdictWithoutAllocating) {
  Metrics m;
  CountingNew counting;
  for (int i = 0; i < 3; ++i) {
    m.CountVerdict(Verdict::kNew);
    m.CountVerdict(Verdict::kRevised);
    m.CountVerdict(Verdict::kRevised);
    m.CountVerdict(Verdict::kNearDuplicate);
  }
  EXPECT_EQ(counting.Count(), 0u);
  const std::string text = m.Render();
  EXPECT_NE(text.find("dedupd_pages_total{verdict=\"NEW\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("dedupd_pages_total{verdict=\"REVISED\"} 6"), std::string::npos);
  EXPECT_NE(text.find("dedupd_pages_total{verdict=\"NEAR_DUPLICATE\"} 3"), std::string::npos);
  EXPECT_NE(text.find("dedupd_pages_total{verdict=\"UNCHANGED\"} 0"), std::string::npos);
  EXPECT_NE(text.find("dedupd_pages_total{verdict=\"DUPLICATE\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace dedupd::metrics
