#include "state/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

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
  VersionRecord current;
  current.version = version;
  current.fetched_at_ms = s.fetched_at_ms;
  current.content_hash = s.content_hash;
  current.verdict = 4;
  current.copy_of = "https://b.example/original";
  current.copy_of_version = 2;
  current.containment = 0.9f;
  current.jaccard = 0.7f;
  current.distance = 3;
  current.found_by = 3;
  current.boilerplate_blocks = 5;
  VersionRecord earlier;
  earlier.version = version - 1;
  earlier.verdict = 2;
  earlier.severity = 2;
  earlier.flags = 2;
  earlier.text = "第一段。\nSecond block, earlier text.";
  s.versions = {current, earlier};
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
  ASSERT_EQ(a.versions.size(), b.versions.size());
  for (size_t i = 0; i < a.versions.size(); ++i) {
    const VersionRecord &x = a.versions[i], &y = b.versions[i];
    EXPECT_EQ(x.version, y.version) << i;
    EXPECT_EQ(x.fetched_at_ms, y.fetched_at_ms) << i;
    EXPECT_EQ(x.content_hash, y.content_hash) << i;
    EXPECT_EQ(x.verdict, y.verdict) << i;
    EXPECT_EQ(x.severity, y.severity) << i;
    EXPECT_EQ(x.flags, y.flags) << i;
    EXPECT_EQ(x.copy_of, y.copy_of) << i;
    EXPECT_EQ(x.copy_of_version, y.copy_of_version) << i;
    EXPECT_EQ(x.containment, y.containment) << i;
    EXPECT_EQ(x.jaccard, y.jaccard) << i;
    EXPECT_EQ(x.distance, y.distance) << i;
    EXPECT_EQ(x.found_by, y.found_by) << i;
    EXPECT_EQ(x.boilerplate_blocks, y.boilerplate_blocks) << i;
    // versions[0]'s text is the state's own and is not stored twice.
    EXPECT_EQ(i == 0 ? std::string() : x.text, y.text) << i;
  }
}

// Format 4 (zstd, state.text_compression = zstd) for the tests that take its
// bytes apart; formats 6 and 7 (LZ4, packed LZ4: the default) have the same
// layout around their texts (text_compression_test.cc, text_pack_test.cc).
struct WritingFormat4 {
  WritingFormat4() { SetTextCompression(TextCompression::kZstd); }
  ~WritingFormat4() { SetTextCompression(before_); }
  WritingFormat4(const WritingFormat4&) = delete;
  WritingFormat4& operator=(const WritingFormat4&) = delete;
  const TextCompression before_ = GetTextCompression();
};

TEST(UrlState, EncodeDecodeRoundTrip) {
  UrlState s = Sample("https://a.example/x", 3);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(EncodeUrlState(s), &back));
  ExpectSame(s, back);
}

TEST(UrlState, LineHashesLetTheLoaderSkipTheText) {
  const WritingFormat4 format4;
  UrlState s = Sample("https://a.example/x", 3);
  s.line_hashes = {7, 8, 9};
  s.line_hashes_known = true;
  const std::string bytes = EncodeUrlState(s);
  EXPECT_EQ(bytes[0], 4);
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
  s.versions.clear();  // such a record never had a history either
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

// Format 4 carries the confirmation sketch; the loader reads it without the text.
TEST(UrlState, FormatFourCarriesTheSketch) {
  const WritingFormat4 format4;
  const UrlState s = WithSketch(Sample("https://a.example/x", 3));
  const std::string bytes = EncodeUrlState(s);
  EXPECT_EQ(bytes[0], 4);
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

// The history block of a state without versions: part, count, texts size,
// empty compressed texts.
constexpr size_t kEmptyHistoryBytes = 13;
// The sketch fields of a state whose sketch is not known (format 4).
const std::string kUnknownSketch("\xff\xff\xff\xff\0\0\0\0", 8);

// Records of format 3 (issue #11's first form: the sketch, no history) still
// read, with no versions and as the owner's.
TEST(UrlState, FormatThreeRecordsAreStillRead) {
  const WritingFormat4 format4;
  UrlState s = WithSketch(Sample("https://a.example/x", 3));
  s.versions.clear();
  std::string bytes = EncodeUrlState(s);
  ASSERT_EQ(bytes[0], 4);
  bytes.resize(bytes.size() - kEmptyHistoryBytes);
  bytes[0] = 3;
  UrlState back;
  back.versions.resize(3);  // stale content must be cleared
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSame(s, back);
  EXPECT_TRUE(back.versions.empty());
  EXPECT_TRUE(back.history_full);
}

// Records of formats 1 and 2 (as older dedupd wrote them: the same layout
// without the sketch and the history) still read, without a sketch; a state
// without a sketch says so in format 4, so that the detector derives it.
TEST(UrlState, FormatsOneAndTwoStillReadWithoutASketch) {
  const WritingFormat4 format4;
  UrlState s = Sample("https://a.example/x", 3);
  s.versions.clear();
  const std::string v4 = EncodeUrlState(s);
  ASSERT_EQ(v4[0], 4);
  // Format 2: no sketch fields, no history block.
  std::string v2 = v4.substr(0, v4.size() - kEmptyHistoryBytes);
  const size_t sketch_at = v2.rfind(kUnknownSketch);
  ASSERT_NE(sketch_at, std::string::npos);
  v2.erase(sketch_at, kUnknownSketch.size());
  v2[0] = 2;
  UrlState back = WithSketch(Sample("https://b.example/y", 1));  // decoding clears it
  ASSERT_TRUE(DecodeUrlState(v2, &back));
  EXPECT_FALSE(back.sketch_known);
  EXPECT_TRUE(back.sketch.empty());
  ExpectSame(s, back);
  EXPECT_EQ(EncodeUrlState(back), v4);  // written again without a sketch
  UrlState again;
  ASSERT_TRUE(DecodeUrlState(v4, &again));
  EXPECT_FALSE(again.sketch_known);
  s.line_hashes.clear();
  s.line_hashes_known = false;
  const std::string v1 = EncodeUrlState(WithSketch(s));  // no line hashes: format 1
  ASSERT_EQ(v1[0], 1);
  ASSERT_TRUE(DecodeUrlState(v1, &back));
  EXPECT_FALSE(back.sketch_known);
  EXPECT_FALSE(back.line_hashes_known);
  ExpectSame(s, back);
}

TEST(UrlState, HistoryRoundTripKeepsEveryVersionsText) {
  UrlState s = WithSketch(Sample("https://a.example/x", 12));
  s.versions.resize(1);
  for (uint32_t v = 11; v >= 3; --v) {
    VersionRecord r;
    r.version = v;
    r.text = "第" + std::to_string(v) + "版。\nSame second block.";
    s.versions.push_back(r);
  }
  const std::string bytes = EncodeUrlState(s);
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(bytes, &back));
  ExpectSame(s, back);
  EXPECT_TRUE(back.history_full);
  // The loader skips the texts, history included, and keeps the rest.
  UrlState indexed;
  ASSERT_TRUE(DecodeUrlState(bytes, &indexed, TextPart::kSkipIfIndexed));
  ASSERT_EQ(indexed.versions.size(), 10u);
  EXPECT_TRUE(indexed.versions[5].text.empty());
  EXPECT_EQ(indexed.versions[0].copy_of, "https://b.example/original");
  EXPECT_EQ(indexed.sketch, s.sketch);
}

// The fingerprints topic's record: the current version's edge, no texts.
TEST(UrlState, LatestPartCarriesOnlyTheCurrentVersionWithoutText) {
  UrlState s = Sample("https://a.example/x", 3);
  const std::string full = EncodeUrlState(s);
  const std::string slim = EncodeUrlState(s, HistoryPart::kLatest);
  EXPECT_LT(slim.size(), full.size());
  UrlState back;
  ASSERT_TRUE(DecodeUrlState(slim, &back));
  EXPECT_FALSE(back.history_full);
  ASSERT_EQ(back.versions.size(), 1u);
  EXPECT_EQ(back.versions[0].copy_of, "https://b.example/original");
  EXPECT_EQ(back.text, s.text);  // the current text: candidates are confirmed on it
}

TEST(UrlState, CorruptBytesAreRejectedNotCrashed) {
  const WritingFormat4 format4;
  std::string bytes = EncodeUrlState(WithSketch(Sample("https://a.example/x", 1)));
  ASSERT_EQ(bytes[0], 4);
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

// Peek() is Get() without the copy where the store can (MemoryStore); the
// RocksDB store decodes into a state it keeps. Both see staged writes.
TEST_P(StoreTest, PeekSeesWhatGetSees) {
  EXPECT_EQ(store_->Peek("https://a.example/1"), nullptr);
  store_->Put(Sample("https://a.example/1", 1));
  const UrlState* staged = store_->Peek("https://a.example/1");
  ASSERT_NE(staged, nullptr);
  ExpectSame(*staged, Sample("https://a.example/1", 1));
  std::string error;
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  store_->Put(Sample("https://a.example/2", 2));
  const UrlState* committed = store_->Peek("https://a.example/1");
  ASSERT_NE(committed, nullptr);
  ExpectSame(*committed, *store_->Get("https://a.example/1"));
  store_->Rollback();
  EXPECT_EQ(store_->Peek("https://a.example/2"), nullptr);
}

// The API's read: committed states only, from any thread while the owner
// writes (run under TSan in CI's sanitizer job).
TEST_P(StoreTest, GetCommittedSeesOnlyCommittedStatesFromAnyThread) {
  store_->Put(Sample("https://a.example/1", 1));
  EXPECT_FALSE(store_->GetCommitted("https://a.example/1"));
  std::string error;
  ASSERT_TRUE(store_->Commit({}, &error)) << error;
  ASSERT_TRUE(store_->GetCommitted("https://a.example/1"));
  std::atomic<bool> stop{false};
  std::atomic<int> seen{0};
  std::thread reader([&] {
    while (!stop) {
      if (auto s = store_->GetCommitted("https://a.example/1")) seen += s->version > 0;
    }
  });
  for (uint32_t v = 2; v < 200; ++v) {
    store_->Put(Sample("https://a.example/1", v));
    ASSERT_TRUE(store_->Commit({}, &error)) << error;
  }
  for (int i = 0; i < 200 && seen.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the reader may start late
  }
  stop = true;
  reader.join();
  EXPECT_GT(seen.load(), 0);
  EXPECT_EQ(store_->GetCommitted("https://a.example/1")->version, 199u);
}

INSTANTIATE_TEST_SUITE_P(MemoryAndRocks, StoreTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Rocks" : "Memory"; });

}  // namespace
}  // namespace dedupd::state
