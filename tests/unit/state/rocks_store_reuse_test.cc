// The RocksDB store on the per-page path (issue #12 item 2): the detector
// peeks at a URL's state once per stored page. Peek() returns a staged state
// where it is staged, and decodes a committed one into a state the store
// keeps, so that in steady state neither copies a state nor allocates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

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

}  // namespace
}  // namespace dedupd::state
