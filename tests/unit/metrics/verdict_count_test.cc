// Metrics::CountVerdict, CountRevision and CountRepeatedContent on the
// per-page path (issue #11 item 3): they count without allocating (the series
// are looked up once, at construction or at a site's first page; a label map
// per call would allocate).
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

TEST(VerdictCount, CountsRevisionsAndRepeatsPerSiteWithoutAllocating) {
  // A site label's series are looked up once; later pages of the site (and of
  // sites over the label limit, counted as "other") allocate nothing.
  Metrics m(/*site_label_limit=*/2);
  const std::string a = "a-site-name-longer-than-sso.example", b = "b.example";
  const std::string c = "c-over-the-limit.example", d = "d-over-the-limit.example";
  for (const std::string* site : {&a, &b, &c}) {
    m.CountRevision(*site, "minor");
    m.CountRevision(*site, "major");
    m.CountRevision(*site, "cosmetic");
    m.CountRepeatedContent(*site);
  }
  {
    CountingNew counting;
    for (int i = 0; i < 3; ++i) {
      m.CountRevision(a, "major");
      m.CountRevision(b, "minor");
      m.CountRevision(c, "cosmetic");
      m.CountRevision(d, "cosmetic");  // first sight, but "other" is known
      m.CountRepeatedContent(a);
      m.CountRepeatedContent(d);
      m.CountFlag("REPEATED_CONTENT");
      m.CountFlag("REVERTED");
    }
    EXPECT_EQ(counting.Count(), 0u);
  }
  const std::string text = m.Render();
  auto has = [&text](const std::string& line) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  };
  has("dedupd_revisions_total{severity=\"major\",site=\"" + a + "\"} 4");
  has("dedupd_revisions_total{severity=\"minor\",site=\"" + a + "\"} 1");
  has("dedupd_revisions_total{severity=\"minor\",site=\"b.example\"} 4");
  has("dedupd_revisions_total{severity=\"cosmetic\",site=\"other\"} 7");
  has("dedupd_revisions_total{severity=\"major\",site=\"other\"} 1");
  has("dedupd_repeated_content_pages_total{site=\"" + a + "\"} 4");
  has("dedupd_repeated_content_pages_total{site=\"other\"} 4");
  EXPECT_EQ(text.find(c), std::string::npos);
  has("dedupd_flags_total{flag=\"REPEATED_CONTENT\"} 3");
  has("dedupd_flags_total{flag=\"REVERTED\"} 3");
  has("dedupd_flags_total{flag=\"BOILERPLATE_ONLY\"} 0");
}

}  // namespace
}  // namespace dedupd::metrics
