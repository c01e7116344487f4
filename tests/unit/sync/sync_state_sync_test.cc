// The state sync stage (sync/state_sync.h) without a broker: the restore of
// changelog partitions waits for an open transaction to end and gives up at
// its deadline, reads from the offset the store reflects (from the start when
// that is past the end), stores the offsets it read up to with the states,
// and gives up on a read that makes no progress; the fingerprints topic's
// bootstrap reads every partition, skips records whose version the detector
// holds on their header, counts undecodable ones; its tail reads what
// arrived, at most once per tail_interval. Time is a manual clock: the
// timeouts cost nothing.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "fake_sync_edge.h"
#include "metrics/metrics.h"
#include "state/store.h"
#include "state/url_state.h"
#include "sync/state_sync.h"

namespace dedupd::sync {
namespace {

// StateSync's results are kafka::Status values: the reason of a failure in detail().
::testing::AssertionResult Ok(const kafka::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.detail();
}

using testing::FakeSyncEdge;
using testing::ManualClock;

state::UrlState State(const std::string& url, uint32_t version, std::mt19937_64& rng) {
  state::UrlState s;
  s.canonical_url = url;
  s.site = "site.example";
  s.version = version;
  s.content_hash = {rng(), rng()};
  s.simhash = SimHash64{rng()};
  for (int p = 0; p < 8; ++p) s.paragraph_hashes.push_back(rng());
  std::sort(s.paragraph_hashes.begin(), s.paragraph_hashes.end());
  for (int k = 0; k < 64; ++k) s.sketch.push_back(static_cast<uint32_t>(rng() % (1u << 28)));
  std::sort(s.sketch.begin(), s.sketch.end());
  s.sketch.erase(std::unique(s.sketch.begin(), s.sketch.end()), s.sketch.end());
  s.shingle_count = 1600;
  s.sketch_known = true;
  s.line_hashes_known = true;
  s.history_full = false;
  return s;
}

std::string Url(int i) {
  return "https://site.example/page/" + std::to_string(i);
}

class StateSyncTest : public ::testing::Test {
 protected:
  StateSyncTest()
      : store_(state::NewMemoryStore()),
        detector_(classify::DetectOptions{}, store_.get()),
        metrics_(50),
        sync_metrics_(*metrics_.registry()),
        edge_(&clock_) {
    options_.changelog_topic = "state";
    options_.fingerprints_topic = "fingerprints";
    options_.stable_timeout = std::chrono::milliseconds(2000);
    options_.on_changelog_record = [this](std::string_view url, int32_t p) {
      recorded_.emplace_back(std::string(url), p);
    };
  }
  StateSync& Sync() {
    if (!sync_) {
      sync_ = std::make_unique<StateSync>(options_, &edge_, &clock_, &detector_, store_.get(),
                                          &metrics_, &sync_metrics_);
    }
    return *sync_;
  }
  void AppendChangelog(int32_t partition, int i, uint32_t version = 1) {
    edge_.Append("state", partition, Url(i),
                 state::EncodeFingerprintRecord(State(Url(i), version, rng_)));
  }
  void AppendFingerprint(int32_t partition, int i, uint32_t version = 1) {
    edge_.Append("fingerprints", partition, Url(i),
                 state::EncodeFingerprintRecord(State(Url(i), version, rng_)));
  }
  std::optional<std::string> StoredOffset(int32_t partition) {
    return store_->GetMetadata(StateSync::ChangelogKey("state", partition));
  }

  std::mt19937_64 rng_{7};
  state::StateStorePtr store_;
  classify::Detector detector_;
  metrics::Metrics metrics_;
  SyncMetrics sync_metrics_;
  ManualClock clock_;
  FakeSyncEdge edge_;
  StateSyncOptions options_;
  std::unique_ptr<StateSync> sync_;
  std::vector<std::pair<std::string, int32_t>> recorded_;
};

TEST_F(StateSyncTest, RestoreWaitsForAnOpenTransactionThenReadsToTheEnd) {
  for (int i = 0; i < 3; ++i) AppendChangelog(0, i);
  for (int i = 3; i < 5; ++i) AppendChangelog(1, i);
  // Partition 0's last transaction is still open for two queries.
  edge_.stable_answers["state"] = {{{0, 2}}, {{0, 2}}};
  sync_metrics_.SetRestoreRemaining(99);
  const auto started = clock_.Now();
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  EXPECT_EQ(clock_.slept(), std::chrono::milliseconds(200));  // two waits of 100 ms
  ASSERT_EQ(edge_.opened.size(), 1u);
  EXPECT_EQ(edge_.opened[0], (Offsets{{0, 0}}));  // partition 1 is not read
  EXPECT_EQ(Sync().last().records, 3u);
  EXPECT_EQ(Sync().last().applied, 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store_->Get(Url(i)).has_value()) << i;
  EXPECT_FALSE(store_->Get(Url(3)).has_value());
  EXPECT_EQ(StoredOffset(0), "3");
  EXPECT_FALSE(StoredOffset(1).has_value());
  EXPECT_EQ(recorded_.size(), 3u);
  EXPECT_EQ(recorded_[0], std::make_pair(Url(0), 0));
  EXPECT_EQ(sync_metrics_.restore_remaining(), 0);
  EXPECT_GE(clock_.Now() - started, std::chrono::milliseconds(200));
}

TEST_F(StateSyncTest, RestoreGivesUpWhenTheTransactionNeverEnds) {
  AppendChangelog(0, 0);
  for (int i = 0; i < 100; ++i) edge_.stable_answers["state"].push_back({{0, 0}});
  const kafka::Status failed = Sync().RestorePartitions({0});
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.detail().find("did not become stable within 2000 ms"), std::string::npos)
      << failed.detail();
  EXPECT_TRUE(edge_.opened.empty());
  EXPECT_GE(clock_.slept(), std::chrono::milliseconds(2000));
  EXPECT_LE(clock_.slept(), std::chrono::milliseconds(2100));
}

TEST_F(StateSyncTest, RestoreRetriesFailedQueriesUntilTheBrokerAnswers) {
  AppendChangelog(0, 0);
  edge_.failing_queries = 5;  // lso and hw: two per attempt
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  EXPECT_EQ(StoredOffset(0), "1");
}

TEST_F(StateSyncTest, RestoreOfAnUnknownPartitionFails) {
  AppendChangelog(0, 0);
  const kafka::Status failed = Sync().RestorePartitions({4});
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.detail().find("has no partition 4"), std::string::npos) << failed.detail();
}

TEST_F(StateSyncTest, RestoreReadsOnlyWhatChangedSinceTheStoredOffset) {
  for (int i = 0; i < 3; ++i) AppendChangelog(0, i);
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  AppendChangelog(0, 3);
  AppendChangelog(0, 0, 2);  // a new version of page 0
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  ASSERT_EQ(edge_.opened.size(), 2u);
  EXPECT_EQ(edge_.opened[1], (Offsets{{0, 3}}));
  EXPECT_EQ(Sync().last().records, 2u);
  EXPECT_EQ(StoredOffset(0), "5");
  EXPECT_EQ(store_->Get(Url(0))->version, 2u);
  // Nothing new: no reader at all.
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  EXPECT_EQ(edge_.opened.size(), 2u);
}

TEST_F(StateSyncTest, AStoredOffsetPastTheEndRestoresFromTheStart) {
  for (int i = 0; i < 2; ++i) AppendChangelog(0, i);
  std::string error;
  ASSERT_TRUE(store_->Commit({{StateSync::ChangelogKey("state", 0), "99"}}, &error)) << error;
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  ASSERT_EQ(edge_.opened.size(), 1u);
  EXPECT_EQ(edge_.opened[0], (Offsets{{0, 0}}));
  EXPECT_EQ(StoredOffset(0), "2");
}

TEST_F(StateSyncTest, AReadWithoutProgressGivesUpAtTheTimeout) {
  AppendChangelog(0, 0);
  edge_.stall = true;
  const auto started = clock_.Now();
  const kafka::Status failed = Sync().RestorePartitions({0});
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.detail().find("made no progress for 2000 ms"), std::string::npos)
      << failed.detail();
  EXPECT_GT(clock_.Now() - started, std::chrono::milliseconds(2000));
  EXPECT_LT(clock_.Now() - started, std::chrono::milliseconds(2600));
}

TEST_F(StateSyncTest, ReadErrorsAreRetriedAndCounted) {
  for (int i = 0; i < 2; ++i) AppendChangelog(0, i);
  edge_.read_errors = 3;
  ASSERT_TRUE(Ok(Sync().RestorePartitions({0})));
  EXPECT_EQ(StoredOffset(0), "2");
  EXPECT_NE(metrics_.Render().find(R"(dedupd_kafka_errors_total{kind="state_read"} 3)"),
            std::string::npos);
}

TEST_F(StateSyncTest, ACancelledRestoreStops) {
  AppendChangelog(0, 0);
  edge_.stable_answers["state"] = {{{0, 0}}};
  options_.cancelled = [] { return true; };
  const kafka::Status failed = Sync().RestorePartitions({0});
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.detail(), "interrupted");
}

TEST_F(StateSyncTest, BootstrapReadsEveryPartitionAndCountsUndecodableRecords) {
  for (int i = 0; i < 4; ++i) AppendFingerprint(i % 2, i);
  edge_.Append("fingerprints", 1, Url(9), "not a state record");
  edge_.Append("fingerprints", 0, Url(4), "");  // a tombstone
  edge_.AddPartition("fingerprints", 2);        // empty
  ASSERT_TRUE(Ok(Sync().Bootstrap()));
  ASSERT_EQ(edge_.opened.size(), 1u);
  EXPECT_EQ(edge_.opened[0], (Offsets{{0, 0}, {1, 0}, {2, 0}}));
  EXPECT_EQ(Sync().last().records, 6u);
  EXPECT_EQ(Sync().last().applied, 4u);
  EXPECT_EQ(Sync().last().corrupt, 1u);
  EXPECT_EQ(detector_.IndexedDocuments(), 4u);
  // Memory only: the store keeps the URLs this instance owns.
  EXPECT_FALSE(store_->Get(Url(0)).has_value());
  EXPECT_TRUE(recorded_.empty());
  EXPECT_NE(metrics_.Render().find(R"(dedupd_kafka_errors_total{kind="state_record"} 1)"),
            std::string::npos);
}

TEST_F(StateSyncTest, BootstrapStopsAtTheStableEndAndTailReadsTheRest) {
  for (int i = 0; i < 3; ++i) AppendFingerprint(0, i);
  // A transaction is open on the last record: the bootstrap does not wait.
  edge_.stable_answers["fingerprints"] = {{{0, 2}}};
  ASSERT_TRUE(Ok(Sync().Bootstrap()));
  EXPECT_GE(Sync().last().records, 2u);
  ASSERT_TRUE(Ok(Sync().Tail(100)));
  EXPECT_EQ(Sync().last().records + Sync().tailed().records, 3u);
  EXPECT_EQ(detector_.IndexedDocuments(), 3u);
}

TEST_F(StateSyncTest, TailSkipsHeldVersionsAndReadsAtMostOncePerInterval) {
  AppendFingerprint(0, 0);
  ASSERT_TRUE(Ok(Sync().Bootstrap()));
  ASSERT_EQ(detector_.IndexedDocuments(), 1u);
  ASSERT_TRUE(Ok(Sync().Tail(100)));  // nothing new
  EXPECT_EQ(Sync().tailed().records, 0u);

  // This instance's own record (the version held) and another's new page.
  edge_.Append("fingerprints", 0, Url(0), edge_.logs["fingerprints"][0][0].value);
  AppendFingerprint(0, 1);
  ASSERT_TRUE(Ok(Sync().Tail(100)));  // within tail_interval of the last
  EXPECT_EQ(Sync().tailed().records, 0u);
  clock_.Advance(options_.tail_interval);
  ASSERT_TRUE(Ok(Sync().Tail(100)));
  EXPECT_EQ(Sync().tailed().records, 2u);
  EXPECT_EQ(Sync().tailed().skipped, 1u);
  EXPECT_EQ(Sync().tailed().applied, 1u);
  EXPECT_EQ(detector_.IndexedDocuments(), 2u);

  // At most max_records a call; the rest comes next time.
  for (int i = 2; i < 7; ++i) AppendFingerprint(0, i);
  clock_.Advance(options_.tail_interval);
  ASSERT_TRUE(Ok(Sync().Tail(3)));
  EXPECT_EQ(detector_.IndexedDocuments(), 5u);
  clock_.Advance(options_.tail_interval);
  ASSERT_TRUE(Ok(Sync().Tail(3)));
  EXPECT_EQ(detector_.IndexedDocuments(), 7u);
}

TEST_F(StateSyncTest, TailBeforeBootstrapReadsNothing) {
  AppendFingerprint(0, 0);
  ASSERT_TRUE(Ok(Sync().Tail(100)));
  EXPECT_TRUE(edge_.opened.empty());
  EXPECT_EQ(detector_.IndexedDocuments(), 0u);
}

TEST(CommittedMetadata, NamesTheInputPositionsAndTheChangelogOffsets) {
  const auto meta = StateSync::CommittedMetadata("pages", {{0, 12}, {3, 7}}, "state", {{0, 40}});
  EXPECT_EQ(meta,
            (std::map<std::string, std::string>{
                {"offset/pages/0", "12"}, {"offset/pages/3", "7"}, {"changelog/state/0", "40"}}));
}

}  // namespace
}  // namespace dedupd::sync
