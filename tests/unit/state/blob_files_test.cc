// The RocksDB store's blob files (state.blob_min_bytes, docs/delivery.md,
// "Blob files"): a state stored in at least that many bytes is written to a
// blob file at the flush and the tables keep its key and a reference, so a
// compaction does not copy it again; every state reads back the same either
// way, and a store written with one setting reads on under the other.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "state/store.h"
#include "unit/state/random_state.h"

namespace dedupd::state {
namespace {

class BlobFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dedupd-blob-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Bytes in the store's files whose names end with `suffix`.
  uint64_t FileBytes(const std::string& suffix) const {
    uint64_t bytes = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > suffix.size() && name.ends_with(suffix)) bytes += entry.file_size();
    }
    return bytes;
  }

  std::filesystem::path dir_;
};

// Pages 0..n-1 put in batches of 50 and committed, every seventh one small.
std::vector<UrlState> Write(StateStore& store, int n, uint64_t version, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<UrlState> pages;
  std::string error;
  for (int i = 0; i < n; ++i) {
    pages.push_back(RandomTextState(i, i % 7 == 0 ? 20 : 3000, rng, version));
    store.Put(pages.back());
    if (i % 50 == 49 || i == n - 1) {
      EXPECT_TRUE(store.Commit({{"last", std::to_string(i)}}, &error)) << error;
    }
  }
  return pages;
}

void ExpectStored(StateStore& store, const std::vector<UrlState>& pages) {
  for (const UrlState& want : pages) {
    const auto got = store.Get(want.canonical_url);
    ASSERT_TRUE(got.has_value()) << want.canonical_url;
    EXPECT_EQ(got->version, want.version) << want.canonical_url;
    EXPECT_EQ(got->text, want.text) << want.canonical_url;
  }
  size_t visited = 0;
  store.ForEach(
      [&visited](const UrlState&) {
        ++visited;
        return true;
      },
      TextPart::kDecode);
  EXPECT_EQ(visited, pages.size());
}

TEST_F(BlobFilesTest, LargeStatesAreWrittenToBlobFilesAndTheTablesKeepOnlyTheirKeys) {
  std::string error;
  auto store = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);  // the defaults
  ASSERT_TRUE(store) << error;
  const std::vector<UrlState> pages = Write(*store, 600, 1, 11);
  store.reset();  // closed: the memtables are flushed (no WAL)
  const uint64_t blobs = FileBytes(".blob");
  const uint64_t tables = FileBytes(".sst");
  // ~514 large states of ~2.4 KB stored: in the blob files; the tables hold
  // the keys, references, the small states, the metadata and the filters.
  EXPECT_GT(blobs, 514u * 2000u);
  EXPECT_LT(tables, blobs / 5);
  store = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
  ASSERT_TRUE(store) << error;
  ExpectStored(*store, pages);
  // dedupd_state_bytes counts the blob files too.
  EXPECT_GE(store->ApproximateBytes(), blobs);
  EXPECT_EQ(store->GetMetadata("last"), "599");
}

TEST_F(BlobFilesTest, ZeroKeepsEveryStateInTheTables) {
  std::string error;
  auto store = OpenRocksStore(dir_.string(), {.disable_wal = true, .blob_min_bytes = 0}, &error);
  ASSERT_TRUE(store) << error;
  const std::vector<UrlState> pages = Write(*store, 300, 1, 12);
  store.reset();
  EXPECT_EQ(FileBytes(".blob"), 0u);
  EXPECT_GT(FileBytes(".sst"), 257u * 2000u);
  store = OpenRocksStore(dir_.string(), {.disable_wal = true, .blob_min_bytes = 0}, &error);
  ASSERT_TRUE(store) << error;
  ExpectStored(*store, pages);
}

// Turning the setting on or off needs no migration: the store reads what
// was written either way, and new versions of old pages replace them.
TEST_F(BlobFilesTest, AStoreReadsOnAfterTheSettingChangesEitherWay) {
  std::string error;
  auto store = OpenRocksStore(dir_.string(), {.disable_wal = true, .blob_min_bytes = 0}, &error);
  ASSERT_TRUE(store) << error;
  std::vector<UrlState> pages = Write(*store, 200, 1, 13);
  store.reset();
  store = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
  ASSERT_TRUE(store) << error;
  ExpectStored(*store, pages);
  // Pages 0..99 in version 2 (into blob files), 100..199 still version 1.
  const std::vector<UrlState> second = Write(*store, 100, 2, 14);
  std::copy(second.begin(), second.end(), pages.begin());
  store.reset();
  EXPECT_GT(FileBytes(".blob"), 0u);
  store = OpenRocksStore(dir_.string(), {.disable_wal = true, .blob_min_bytes = 0}, &error);
  ASSERT_TRUE(store) << error;
  ExpectStored(*store, pages);
}

}  // namespace
}  // namespace dedupd::state
