// The RocksDB store on a volume that fills up (docs/delivery.md, "Full
// disk"). Before the fix, the write that hit ENOSPC aborted the whole process
// inside RocksDB (`Assertion 'sync_without_flush_called_' failed`, exit 134):
// these tests then died instead of failing. Now a full volume is an error
// value, the staged batch is kept, and the store takes writes again once
// space is freed, with nothing lost.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/tmpfs.h"
#include "state/store.h"
#include "unit/state/random_state.h"

namespace dedupd::state {
namespace {

using dedupd::testing::SmallTmpfs;

// With the WAL (`dedupd scan --state-dir`) and with the store as `dedupd
// run` opens it (disable_wal: on a volume this small, under the bound plus
// what the memtables hold, it writes the WAL again, so the same out-of-space
// path applies).
class FullDiskWal : public ::testing::TestWithParam<bool> {};

TEST_P(FullDiskWal, RocksDbOutOfSpaceIsAnErrorThenResumesWithNothingLost) {
  // 3 MB for RocksDB, as in the report, plus 4 MB of ballast to free later
  // (enough for RocksDB to flush its memtable when it resumes).
  SmallTmpfs fs(7 << 20);
  if (!fs.mounted()) GTEST_SKIP() << fs.why();
  const std::string dir = fs.path() + "/state";
  const std::string ballast = fs.path() + "/ballast";
  ASSERT_EQ(SmallTmpfs::Fill(ballast, 4 << 20), 4u << 20);
  std::mt19937_64 rng(7);
  std::string error;
  // No bound: RocksDB itself runs into ENOSPC (the path that aborted).
  const RocksStoreOptions options{.min_free_bytes = 0, .disable_wal = GetParam()};
  auto store = OpenRocksStore(dir, options, &error);
  ASSERT_TRUE(store) << error;
  int committed = 0;
  bool failed = false;
  for (int i = 0; i < 200 && !failed; ++i) {
    store->Put(RandomTextState(i, 64 << 10, rng));
    if (store->Commit({{"last", std::to_string(i)}}, &error)) {
      committed = i + 1;
      continue;
    }
    failed = true;
  }
  ASSERT_TRUE(failed) << "the 3 MB volume never filled";
  ASSERT_GT(committed, 0);
  auto why = store->LastError();
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->kind, StoreErrorKind::kNoSpace) << why->message;
  EXPECT_NE(why->message.find(dir), std::string::npos) << why->message;
  EXPECT_NE(error.find("full"), std::string::npos) << error;
  // Still full: checks and retries fail cleanly, however often. (A check can
  // reopen RocksDB and call it writable while the volume is still full, as
  // the bound is off: the next write then fails again. With DB::Resume()
  // instead of a reopen, that next write aborted the process.)
  for (int retry = 0; retry < 3; ++retry) {
    store->CheckWritable();
    EXPECT_FALSE(store->Commit({{"last", std::to_string(committed)}}, &error));
    ASSERT_TRUE(store->LastError().has_value());
    EXPECT_EQ(store->LastError()->kind, StoreErrorKind::kNoSpace) << store->LastError()->message;
  }

  // Space back: the store resumes, and the kept batch commits on the retry.
  std::filesystem::remove(ballast);
  auto still = store->CheckWritable();
  ASSERT_FALSE(still.has_value()) << still->message;
  ASSERT_TRUE(store->Commit({{"last", std::to_string(committed)}}, &error)) << error;
  EXPECT_FALSE(store->LastError().has_value());
  store->Put(RandomTextState(1000, 1000, rng));
  ASSERT_TRUE(store->Commit({{"last", "1000"}}, &error)) << error;
  store.reset();

  // Reopened: every committed state, the retried one included, is there.
  store = OpenRocksStore(dir, options, &error);
  ASSERT_TRUE(store) << error;
  for (int i = 0; i <= committed; ++i) {
    auto s = store->Get("https://a.example/page-" + std::to_string(i));
    ASSERT_TRUE(s.has_value()) << i;
    EXPECT_EQ(s->text.size(), 64u << 10) << i;
  }
  EXPECT_TRUE(store->Get("https://a.example/page-1000").has_value());
  EXPECT_EQ(store->GetMetadata("last"), "1000");
}

INSTANTIATE_TEST_SUITE_P(Wal, FullDiskWal, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "NoWal" : "Wal"; });

TEST(FullDisk, UnderTheBoundWritesAreRefusedBeforeRocksDbSeesThem) {
  SmallTmpfs fs(3 << 20);
  if (!fs.mounted()) GTEST_SKIP() << fs.why();
  const std::string dir = fs.path() + "/state";
  const std::string ballast = fs.path() + "/ballast";
  std::mt19937_64 rng(11);
  std::string error;
  auto store = OpenRocksStore(dir, {.min_free_bytes = 1 << 20}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_FALSE(store->CheckWritable().has_value());
  store->Put(RandomTextState(0, 1000, rng));
  ASSERT_TRUE(store->Commit({}, &error)) << error;

  // Leave less than the bound free.
  SmallTmpfs::Fill(ballast, fs.FreeBytes() - (512 << 10));
  auto full = store->CheckWritable();
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->kind, StoreErrorKind::kNoSpace);
  EXPECT_NE(full->message.find(dir), std::string::npos) << full->message;
  EXPECT_NE(full->message.find("state.min_free_bytes"), std::string::npos) << full->message;
  store->Put(RandomTextState(1, 1000, rng));
  EXPECT_FALSE(store->Commit({{"k", "v"}}, &error));
  ASSERT_TRUE(store->LastError().has_value());
  EXPECT_EQ(store->LastError()->kind, StoreErrorKind::kNoSpace);
  EXPECT_TRUE(store->Get("https://a.example/page-1").has_value());  // kept staged

  std::filesystem::remove(ballast);
  EXPECT_FALSE(store->CheckWritable().has_value());
  ASSERT_TRUE(store->Commit({{"k", "v"}}, &error)) << error;
  store.reset();
  store = OpenRocksStore(dir, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_TRUE(store->Get("https://a.example/page-1").has_value());
  EXPECT_EQ(store->GetMetadata("k"), "v");
}

}  // namespace
}  // namespace dedupd::state
