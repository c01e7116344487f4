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

namespace dedupd::state {
namespace {

UrlState Version(uint32_t version, const std::string& text) {
  UrlState s;
  s.canonical_url = "https://a.example/news/2026/12/06/an-article-with-a-long-path.html";
  s.site = "a.example";
  s.version = version;
  s.history = {{3, 4}, {5, 6}};
  s.line_hashes = {11, 12, 13};
  s.line_hashes_known = true;
  s.sketch = {1, 2, 3};
  s.shingle_count = 3;
  s.sketch_known = true;
  s.text = text;
  s.title = "一个足够长的标题，不放进内联缓冲区";
  return s;
}

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
  const UrlState v1 = Version(1, std::string(4000, 'y'));
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
  const UrlState v1 = Version(1, std::string(4000, 'y'));
  UrlState other = Version(7, std::string(4000, 'z'));
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

}  // namespace
}  // namespace dedupd::state
