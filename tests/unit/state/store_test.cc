#include "state/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace dedupd::state {
namespace {

UrlState Sample(std::string url, uint32_t version) {
  UrlState s;
  s.canonical_url = std::move(url);
  s.site = "a.example";
  s.version = version;
  s.content_hash = {1, 2};
  s.simhash = {0xdeadbeef};
  s.fetched_at_ms = 1700000000000;
  s.history = {{3, 4}, {5, 6}};
  s.paragraph_hashes = {7, 8, 9};
  s.line_hashes = {11, 12};
  s.line_hashes_known = true;
  s.text = "第一段。\nSecond block, with text.";
  s.title = "标题";
  return s;
}

void ExpectSame(const UrlState& a, const UrlState& b) {
  EXPECT_EQ(a.canonical_url, b.canonical_url);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.content_hash, b.content_hash);
  EXPECT_EQ(a.simhash, b.simhash);
  EXPECT_EQ(a.history, b.history);
  EXPECT_EQ(a.paragraph_hashes, b.paragraph_hashes);
  EXPECT_EQ(a.line_hashes, b.line_hashes);
  EXPECT_EQ(a.line_hashes_known, b.line_hashes_known);
  EXPECT_EQ(a.sketch, b.sketch);
  EXPECT_EQ(a.shingle_count, b.shingle_count);
  EXPECT_EQ(a.sketch_known, b.sketch_known);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.title, b.title);
}

TEST(UrlState, EncodeDecodeRoundTrip) {
  UrlState s = Sample("https://a.example/x", 3);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(EncodeUrlState(s), &back));
  ExpectSame(s, back);
}

TEST(UrlState, LineHashesLetTheLoaderSkipTheText) {
  UrlState s = Sample("https://a.example/x", 3);
  s.line_hashes = {7, 8, 9};
  s.line_hashes_known = true;
  const std::string bytes = EncodeUrlState(s);
  EXPECT_EQ(bytes[0], 2);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSame(s, back);
  UrlState indexed;
  ASSERT_TRUE(DecodeUrlState(bytes, &indexed, TextPart::kSkipIfIndexed));
  EXPECT_TRUE(indexed.text.empty());
  EXPECT_EQ(indexed.line_hashes, s.line_hashes);
  EXPECT_EQ(indexed.simhash, s.simhash);
  EXPECT_EQ(indexed.paragraph_hashes, s.paragraph_hashes);
  EXPECT_EQ(indexed.title, s.title);
}

// A state without line hashes (as read from a format-1 record) is written as
// format 1, and its text is always decoded: the loader needs it.
TEST(UrlState, FormatOneRecordsKeepTheirText) {
  UrlState s = Sample("https://a.example/x", 3);
  s.line_hashes.clear();
  s.line_hashes_known = false;
  const std::string bytes = EncodeUrlState(s);
  EXPECT_EQ(bytes[0], 1);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back, TextPart::kSkipIfIndexed));
  EXPECT_FALSE(back.line_hashes_known);
  ExpectSame(s, back);
}

UrlState WithSketch(UrlState s) {
  s.sketch = {3, 17, 4000000000u};
  s.shingle_count = 3;
  s.sketch_known = true;
  return s;
}

// Format 3 carries the confirmation sketch; the loader reads it without the text.
TEST(UrlState, FormatThreeCarriesTheSketch) {
  const UrlState s = WithSketch(Sample("https://a.example/x", 3));
  const std::string bytes = EncodeUrlState(s);
  EXPECT_EQ(bytes[0], 3);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSame(s, back);
  UrlState indexed;
  ASSERT_TRUE(DecodeUrlState(bytes, &indexed, TextPart::kSkipIfIndexed));
  EXPECT_TRUE(indexed.text.empty());
  EXPECT_TRUE(indexed.sketch_known);
  EXPECT_EQ(indexed.sketch, s.sketch);
  EXPECT_EQ(indexed.shingle_count, 3u);
}

// Records of formats 1 and 2 (as older dedupd wrote them: the same layout
// without the sketch) still read, without a sketch, and a state without a
// sketch is written as format 2 again, so that the detector derives it.
TEST(UrlState, FormatsOneAndTwoStillReadWithoutASketch) {
  UrlState s = Sample("https://a.example/x", 3);
  std::string v2 = EncodeUrlState(s);
  ASSERT_EQ(v2[0], 2);
  UrlState back = WithSketch(Sample("https://b.example/y", 1));  // decoding clears it
  ASSERT_TRUE(DecodeUrlState(v2, &back));
  EXPECT_FALSE(back.sketch_known);
  EXPECT_TRUE(back.sketch.empty());
  ExpectSame(s, back);
  EXPECT_EQ(EncodeUrlState(back), v2);
  s.line_hashes.clear();
  s.line_hashes_known = false;
  const std::string v1 = EncodeUrlState(WithSketch(s));  // no line hashes: format 1
  ASSERT_EQ(v1[0], 1);
  ASSERT_TRUE(DecodeUrlState(v1, &back));
  EXPECT_FALSE(back.sketch_known);
  EXPECT_FALSE(back.line_hashes_known);
  ExpectSame(s, back);
}

TEST(UrlState, CorruptBytesAreRejectedNotCrashed) {
  std::string bytes = EncodeUrlState(WithSketch(Sample("https://a.example/x", 1)));
  ASSERT_EQ(bytes[0], 3);
  UrlState back;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeUrlState(std::string_view(bytes).substr(0, cut), &back)) << cut;
    EXPECT_FALSE(
        DecodeUrlState(std::string_view(bytes).substr(0, cut), &back, TextPart::kSkipIfIndexed))
        << cut;
  }
  bytes[0] = 99;
  EXPECT_FALSE(DecodeUrlState(bytes, &back));
}

class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dedupd-store-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    std::string error;
    store_ = GetParam() ? OpenRocksStore(dir_.string(), &error) : NewMemoryStore();
    ASSERT_TRUE(store_) << error;
  }
  std::filesystem::path dir_;
  StateStorePtr store_;
};

TEST_P(StoreTest, StagedWritesAreVisibleAndRollBack) {
  store_->Put(Sample("https://a.example/1", 1));
  ASSERT_TRUE(store_->Get("https://a.example/1"));
  store_->Rollback();
  EXPECT_FALSE(store_->Get("https://a.example/1"));
}

TEST_P(StoreTest, CommitIsDurableWithMetadata) {
  store_->Put(Sample("https://a.example/1", 1));
  store_->Put(Sample("https://a.example/2", 2));
  std::string error;
  ASSERT_TRUE(store_->Commit({{"offset/pages/0", "42"}}, &error)) << error;
  if (GetParam()) Open();  // reopen: the data survives a restart
  auto s = store_->Get("https://a.example/2");
  ASSERT_TRUE(s);
  ExpectSame(*s, Sample("https://a.example/2", 2));
  EXPECT_EQ(store_->GetMetadata("offset/pages/0").value_or(""), "42");
  size_t n = 0;
  store_->ForEach([&](const UrlState&) { return ++n < 100; }, TextPart::kDecode);
  EXPECT_EQ(n, 2u);
}

INSTANTIATE_TEST_SUITE_P(MemoryAndRocks, StoreTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Rocks" : "Memory"; });

}  // namespace
}  // namespace dedupd::state
