// The RocksDB store on the per-page path (issue #12 item 2): the detector
// peeks at a URL's state once per stored page. Peek() returns a staged state
// where it is staged, and decodes a committed one into a state the store
// keeps, so that in steady state neither copies a state nor allocates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "state/store.h"
#include "unit/counting_new.h"
#include "unit/state/reuse_state.h"

namespace dedupd::state {
namespace {

class RocksStoreReuse : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("dedupd-rocks-reuse-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::string error;
    store_ = OpenRocksStore(dir_.string(), RocksStoreOptions{.disable_wal = true}, &error);
    ASSERT_TRUE(store_) << error;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  StateStorePtr store_;
};

TEST_F(RocksStoreReuse, PeekOfAStagedStateReadsInPlaceOnceWarm) {
  const UrlState v1 = ReuseVersion(1, std::string(4000, 'y'));
  store_->Put(v1);
  // Warms the key buffer (a longer URL, not stored).
  ASSERT_EQ(store_->Peek(v1.canonical_url + "/longer"), nullptr);
  const UrlState* peeked = nullptr;
  {
    CountingNew counting;
    peeked = store_->Peek(v1.canonical_url);
    EXPECT_EQ(counting.Count(), 0u);
  }
  ASSERT_NE(peeked, nullptr);
  EXPECT_EQ(peeked->version, 1u);
  EXPECT_EQ(peeked->text, v1.text);
}

TEST_F(RocksStoreReuse, PeekOfACommittedStateAllocatesNothingOnceWarm) {
  std::string error;
  const std::map<std::string, std::string> none;
  const UrlState v1 = ReuseVersion(1, std::string(4000, 'y'));
  UrlState other = ReuseVersion(7, std::string(4000, 'z'));
  other.canonical_url = "https://a.example/news/2026/12/06/another-article-with-a-long-path.html";
  store_->Put(v1);
  store_->Put(other);
  ASSERT_TRUE(store_->Commit(none, &error)) << error;
  ASSERT_NE(store_->Peek(other.canonical_url), nullptr);  // warms the buffers
  const UrlState* peeked = nullptr;
  {
    CountingNew counting;
    peeked = store_->Peek(v1.canonical_url);
    EXPECT_EQ(counting.Count(), 0u);
  }
  ASSERT_NE(peeked, nullptr);
  EXPECT_EQ(peeked->version, 1u);
  EXPECT_EQ(peeked->text, v1.text);
  EXPECT_EQ(peeked->title, v1.title);
  EXPECT_EQ(peeked->line_hashes, v1.line_hashes);
  EXPECT_EQ(peeked->sketch, v1.sketch);
  EXPECT_EQ(store_->Peek("https://a.example/missing"), nullptr);
}

// `dedupd run` (DeferEncoding) hands each stored page's record over and reads
// it back for the changelog by the URL's view: neither builds a std::string.
TEST_F(RocksStoreReuse, AdoptRecordAndStagedRecordAllocateNothing) {
  store_->DeferEncoding();
  const UrlState v1 = ReuseVersion(1, std::string(4000, 'y'));
  store_->Put(v1);
  const std::string_view url = v1.canonical_url;
  std::string record = EncodeUrlState(v1);
  const std::string expected = record;
  ASSERT_EQ(store_->StagedRecord(url), nullptr);  // not adopted yet
  const std::string* staged = nullptr;
  {
    CountingNew counting;
    store_->AdoptRecord(url, std::move(record));
    staged = store_->StagedRecord(url);
    EXPECT_EQ(counting.Count(), 0u);
  }
  ASSERT_NE(staged, nullptr);
  EXPECT_EQ(*staged, expected);
  std::string error;
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  const UrlState* peeked = store_->Peek(url);
  ASSERT_NE(peeked, nullptr);
  EXPECT_EQ(peeked->text, v1.text);
}

// `dedupd run` stages a copy of every stored page's state until the commit
// (reads see staged writes). The copies go into the entries of earlier
// batches, whose strings and vectors keep their capacity: once a batch of the
// same shape has been committed, staging the next allocates nothing, and what
// a recycled entry held before (more versions, a longer text) does not show.
TEST_F(RocksStoreReuse, PutIntoACommittedBatchsEntriesAllocatesNothing) {
  store_->DeferEncoding();
  std::string error;
  constexpr int kPages = 50;
  auto page = [](int batch, int i, size_t versions) {
    UrlState s = ReuseVersion(static_cast<uint32_t>(versions), std::string(3000, 'a' + batch));
    // URLs of one length: a recycled key or URL that is too short grows,
    // as it may in a real stream.
    s.canonical_url += "?batch=" + std::to_string(batch) + "&page=" + std::to_string(100 + i);
    for (size_t v = 1; v <= versions; ++v) {
      VersionRecord record;
      record.version = static_cast<uint32_t>(v);
      record.text = std::string(500, 'v');
      record.copy_of = "https://b.example/a-copied-page-with-a-long-url/" + std::to_string(v);
      s.versions.push_back(record);
    }
    return s;
  };
  // Batch 0: three versions each, committed (its entries are kept).
  for (int i = 0; i < kPages; ++i) store_->Put(page(0, i, 3));
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  // Batch 1: other URLs, one version each, built before counting.
  std::vector<UrlState> next;
  for (int i = 0; i < kPages; ++i) next.push_back(page(1, i, 1));
  {
    CountingNew counting;
    for (const UrlState& s : next) store_->Put(s);
    EXPECT_EQ(counting.Count(), 0u);
  }
  // What is staged is batch 1's states, whole, before and after the commit.
  for (const UrlState& s : next) {
    const UrlState* staged = store_->Peek(s.canonical_url);
    ASSERT_NE(staged, nullptr);
    EXPECT_EQ(EncodeUrlState(*staged), EncodeUrlState(s));
  }
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  for (int i : {0, kPages - 1}) {
    auto committed = store_->Get(next[i].canonical_url);
    ASSERT_TRUE(committed.has_value());
    EXPECT_EQ(committed->versions.size(), 1u);
    EXPECT_EQ(committed->text, next[i].text);
    EXPECT_EQ(EncodeUrlState(*committed), EncodeUrlState(next[i]));
    auto earlier = store_->Get(page(0, i, 3).canonical_url);
    ASSERT_TRUE(earlier.has_value());
    EXPECT_EQ(earlier->versions.size(), 3u);
  }
}

// A rolled-back batch's entries are recycled too, and what it staged is gone.
TEST_F(RocksStoreReuse, RollbackRecyclesAndForgets) {
  store_->DeferEncoding();
  const UrlState v1 = ReuseVersion(1, std::string(4000, 'y'));
  store_->Put(v1);
  store_->Rollback();
  EXPECT_EQ(store_->Peek(v1.canonical_url), nullptr);
  UrlState other = v1;
  other.canonical_url.back() = 'X';  // another URL of the same length
  {
    CountingNew counting;
    store_->Put(other);
    EXPECT_EQ(counting.Count(), 0u);
  }
  std::string error;
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  EXPECT_FALSE(store_->Get(v1.canonical_url).has_value());
  ASSERT_TRUE(store_->Get(other.canonical_url).has_value());
}

// The spare entries are bounded: one that holds a large page (over 256 KiB)
// is freed at the commit, as before, so the next Put() allocates afresh.
TEST_F(RocksStoreReuse, AnEntryHoldingALargePageIsNotKept) {
  store_->DeferEncoding();
  std::string error;
  UrlState large = ReuseVersion(1, std::string(300u << 10, 'L'));
  store_->Put(large);
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  UrlState small = ReuseVersion(1, std::string(4000, 's'));
  small.canonical_url.back() = 'X';  // another URL of the same length
  {
    CountingNew counting;
    store_->Put(small);
    EXPECT_GT(counting.Count(), 0u);
  }
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  small.canonical_url.back() = 'Y';  // and now a small entry was kept
  {
    CountingNew counting;
    store_->Put(small);
    EXPECT_EQ(counting.Count(), 0u);
  }
}

}  // namespace
}  // namespace dedupd::state
