// The RocksDB store as `dedupd run` opens it (issue #12): the state record is
// encoded once, at Put(), and those bytes are both what the store writes and
// what the daemon sends to the changelog; and there is no RocksDB WAL, which
// the changelog and the offsets stored with every write make redundant
// (docs/delivery.md, "The store is a cache"). The crash test is the argument
// of that section: a process that dies without closing the store loses a
// suffix of its commits, never part of one, so the offsets stored say exactly
// which commits the store holds.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "common/tmpfs.h"
#include "state/store.h"
#include "unit/state/random_state.h"

namespace dedupd::state {
namespace {

class NoWalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dedupd-nowal-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(NoWalTest, TheStagedRecordIsTheEncodedStateAndWhatIsStored) {
  std::string error;
  auto store = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
  ASSERT_TRUE(store) << error;
  std::mt19937_64 rng(3);
  const UrlState s = RandomTextState(1, 2000, rng);
  EXPECT_EQ(store->StagedRecord(s.canonical_url), nullptr);
  store->Put(s);
  const std::string* record = store->StagedRecord(s.canonical_url);
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(*record, EncodeUrlState(s));
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(*record, &back));
  EXPECT_EQ(back.text, s.text);
  // A second Put of the URL in the batch: the record follows it.
  UrlState v2 = s;
  v2.version = 2;
  store->Put(v2);
  EXPECT_EQ(*store->StagedRecord(s.canonical_url), EncodeUrlState(v2));
  ASSERT_TRUE(store->Commit({{"last", "1"}}, &error)) << error;
  EXPECT_EQ(store->StagedRecord(s.canonical_url), nullptr);  // committed: nothing staged
  // Closed (the memtable is flushed: no WAL) and opened again: it is there.
  store.reset();
  store = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
  ASSERT_TRUE(store) << error;
  auto got = store->Get(s.canonical_url);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->version, 2u);
  EXPECT_EQ(got->text, s.text);
  EXPECT_EQ(store->GetMetadata("last"), "1");
  // The in-memory store keeps no records: the daemon then encodes itself.
  auto memory = NewMemoryStore();
  memory->Put(s);
  EXPECT_EQ(memory->StagedRecord(s.canonical_url), nullptr);
}

constexpr int kBatches = 5000;
constexpr int kPerBatch = 4;

// The child of the test below, run as a process of its own (this binary
// again, with DEDUPD_NO_WAL_CHILD_DIR set): a fork of the test process would
// inherit RocksDB's thread pool without its threads, and never flush.
TEST(NoWalChild, CommitsThenDiesWithoutClosing) {
  const char* dir = std::getenv("DEDUPD_NO_WAL_CHILD_DIR");
  if (dir == nullptr) GTEST_SKIP() << "the child of AKilledProcessLosesASuffixOfWholeCommits";
  std::string error;
  auto store = OpenRocksStore(dir, {.disable_wal = true}, &error);
  if (!store) _exit(2);
  std::mt19937_64 rng(5);
  for (int b = 0; b < kBatches; ++b) {
    for (int k = 0; k < kPerBatch; ++k)
      store->Put(RandomTextState(b * kPerBatch + k, 8 << 10, rng));
    if (!store->Commit({{"last", std::to_string(b)}}, &error)) _exit(3);
  }
  _exit(0);  // no close, no flush: a crash as far as RocksDB can tell
}

// A child process commits batches (states b*4 .. b*4+3 with "last" = b) and
// dies with _exit() at once, without closing the store: what RocksDB had not
// flushed is lost. Whatever "last" the reopened store says, exactly the
// states of batches 0..last are there: a prefix of the commits, each whole.
// ~130 MB: more than the six 16 MB write buffers RocksDB holds before writes
// wait for a flush, so some flushes happened, and the last ones did not.
TEST_F(NoWalTest, AKilledProcessLosesASuffixOfWholeCommits) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv("DEDUPD_NO_WAL_CHILD_DIR", dir_.c_str(), 1);
    ::execl("/proc/self/exe", "state_no_wal_test",
            "--gtest_filter=NoWalChild.CommitsThenDiesWithoutClosing", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  std::string error;
  auto store = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
  ASSERT_TRUE(store) << error;
  const auto last_text = store->GetMetadata("last");
  const int last = last_text ? std::stoi(*last_text) : -1;
  std::cerr << "after the kill the store holds batches 0.." << last << " of 0.." << kBatches - 1
            << "\n";
  EXPECT_LT(last, kBatches - 1) << "nothing was lost: the test shows nothing";
  EXPECT_GE(last, 0) << "nothing was flushed: the test shows nothing";
  int wrong = 0;
  for (int b = 0; b < kBatches; ++b) {
    for (int k = 0; k < kPerBatch; ++k) {
      const int i = b * kPerBatch + k;
      const bool stored = store->Get("https://a.example/page-" + std::to_string(i)).has_value();
      if (stored != (b <= last) && wrong++ < 10) {
        ADD_FAILURE() << "state " << i << " of batch " << b << " stored: " << stored
                      << "; the stored offsets say batches 0.." << last;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
}

// The switch back to the WAL when the volume nearly fills up (less free
// space than the memtables can hold): the child commits 200 batches without
// the WAL on a 128 MiB tmpfs (too few for a flush), takes all but 64 MiB with
// a ballast file, commits 200 more (now with the WAL) and dies. Without the
// flush before the first WAL write, the reopened store would replay the last
// 200 batches from the WAL over the lost first 200: states missing under a
// "last" that says 399.
TEST(NoWalChild, CommitsAcrossTheSwitchToTheWalThenDies) {
  const char* dir = std::getenv("DEDUPD_NO_WAL_SWITCH_DIR");
  if (dir == nullptr) GTEST_SKIP() << "the child of TheSwitchBackToTheWalLeavesNoHole";
  std::string error;
  auto store = OpenRocksStore(std::string(dir) + "/state", {.disable_wal = true}, &error);
  if (!store) _exit(2);
  std::mt19937_64 rng(9);
  for (int b = 0; b < 400; ++b) {
    if (b == 200) {
      dedupd::testing::SmallTmpfs::Fill(std::string(dir) + "/ballast",
                                        (128u << 20) - (64u << 20) - (4u << 20));
    }
    for (int k = 0; k < 4; ++k) store->Put(RandomTextState(b * 4 + k, 8 << 10, rng));
    if (!store->Commit({{"last", std::to_string(b)}}, &error)) _exit(3);
  }
  _exit(0);
}

TEST(NoWalSwitch, TheSwitchBackToTheWalLeavesNoHole) {
  dedupd::testing::SmallTmpfs fs(128u << 20);
  if (!fs.mounted()) GTEST_SKIP() << fs.why();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv("DEDUPD_NO_WAL_SWITCH_DIR", fs.path().c_str(), 1);
    ::execl("/proc/self/exe", "state_no_wal_test",
            "--gtest_filter=NoWalChild.CommitsAcrossTheSwitchToTheWalThenDies", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  std::filesystem::remove(fs.path() + "/ballast");
  std::string error;
  auto store = OpenRocksStore(fs.path() + "/state", {.disable_wal = true}, &error);
  ASSERT_TRUE(store) << error;
  const auto last_text = store->GetMetadata("last");
  const int last = last_text ? std::stoi(*last_text) : -1;
  std::cerr << "after the kill the store holds batches 0.." << last << " of 0..399\n";
  int wrong = 0;
  for (int b = 0; b < 400; ++b) {
    for (int k = 0; k < 4; ++k) {
      const bool stored =
          store->Get("https://a.example/page-" + std::to_string(b * 4 + k)).has_value();
      if (stored != (b <= last) && wrong++ < 10) {
        ADD_FAILURE() << "batch " << b << " stored: " << stored << "; \"last\" is " << last;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
  // The commits made with the WAL survive the kill: at least up to the last.
  EXPECT_EQ(last, 399);
}

}  // namespace
}  // namespace dedupd::state
