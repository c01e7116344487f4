// StateStore::DeferEncoding (docs/delivery.md, "Workers"): `dedupd run`
// encodes a staged state on a worker and hands the bytes to the store in the
// order of the Put()s (AdoptRecord). Whatever the interleaving of Put(),
// AdoptRecord() and Put()s nobody adopts (fingerprint records of other
// instances, restores), Commit() writes the encoding of the last state
// staged for each URL.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "state/store.h"
#include "state/url_state.h"

namespace dedupd::state {
namespace {

class DeferredEncodingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dedupd-deferred-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::string error;
    store_ = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
    ASSERT_TRUE(store_) << error;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // The committed state's encoding ("" when none).
  std::string Committed(const std::string& url) {
    auto s = store_->GetCommitted(url);
    return s ? EncodeUrlState(*s) : "";
  }
  void Commit() {
    std::string error;
    ASSERT_TRUE(store_->Commit({}, &error)) << error;
  }
  std::filesystem::path dir_;
  StateStorePtr store_;
};

UrlState Version(uint32_t version, const std::string& text) {
  UrlState s;
  s.canonical_url = "https://a.example/page";
  s.site = "a.example";
  s.version = version;
  s.content_hash = {version, 7};
  s.text = text;
  return s;
}

TEST_F(DeferredEncodingTest, PutStagesWithoutEncodingUntilTheRecordIsAdopted) {
  store_->DeferEncoding();
  const UrlState v1 = Version(1, "first text of the page");
  store_->Put(v1);
  EXPECT_EQ(store_->StagedRecord(v1.canonical_url), nullptr);
  ASSERT_TRUE(store_->Get(v1.canonical_url));  // reads see the staged state
  EXPECT_EQ(store_->Get(v1.canonical_url)->text, v1.text);
  store_->AdoptRecord(v1.canonical_url, EncodeUrlState(v1));
  ASSERT_NE(store_->StagedRecord(v1.canonical_url), nullptr);
  EXPECT_EQ(*store_->StagedRecord(v1.canonical_url), EncodeUrlState(v1));
  Commit();
  EXPECT_EQ(Committed(v1.canonical_url), EncodeUrlState(v1));
}

// Two pages of one URL decided before the first is produced: the records
// come in the order of the Put()s, the last one wins only when it arrives.
TEST_F(DeferredEncodingTest, TheLastPutsRecordWins) {
  store_->DeferEncoding();
  const UrlState v1 = Version(1, "first text");
  const UrlState v2 = Version(2, "second text, revised");
  store_->Put(v1);
  store_->Put(v2);
  store_->AdoptRecord(v1.canonical_url, EncodeUrlState(v1));
  EXPECT_EQ(store_->StagedRecord(v1.canonical_url), nullptr);  // v2's is still to come
  store_->AdoptRecord(v1.canonical_url, EncodeUrlState(v2));
  ASSERT_NE(store_->StagedRecord(v1.canonical_url), nullptr);
  EXPECT_EQ(*store_->StagedRecord(v1.canonical_url), EncodeUrlState(v2));
  Commit();
  EXPECT_EQ(Committed(v1.canonical_url), EncodeUrlState(v2));
}

// A Put() nobody adopts (another instance's fingerprint record applied
// between a page's decision and its record): encoded at Commit().
TEST_F(DeferredEncodingTest, AStateNobodyAdoptsIsEncodedAtCommit) {
  store_->DeferEncoding();
  const UrlState page = Version(1, "the page's text");
  const UrlState remote = Version(3, "");
  store_->Put(page);
  store_->Put(remote);
  store_->AdoptRecord(page.canonical_url, EncodeUrlState(page));
  EXPECT_EQ(store_->StagedRecord(page.canonical_url), nullptr);
  Commit();
  EXPECT_EQ(Committed(page.canonical_url), EncodeUrlState(remote));

  const UrlState alone = Version(4, "never adopted");
  store_->Put(alone);
  Commit();
  EXPECT_EQ(Committed(alone.canonical_url), EncodeUrlState(alone));
}

TEST_F(DeferredEncodingTest, RecordsOfNothingStagedAreIgnored) {
  store_->DeferEncoding();
  const UrlState v1 = Version(1, "text");
  store_->AdoptRecord(v1.canonical_url, "garbage");  // nothing staged
  store_->Put(v1);
  store_->Rollback();
  store_->AdoptRecord(v1.canonical_url, "garbage");  // rolled back
  Commit();
  EXPECT_EQ(Committed(v1.canonical_url), "");
  // Without DeferEncoding() Put() encodes and adopts nothing.
  std::string error;
  const UrlState v2 = Version(2, "text two");
  store_.reset();
  store_ = OpenRocksStore(dir_.string(), {.disable_wal = true}, &error);
  ASSERT_TRUE(store_) << error;
  store_->Put(v2);
  store_->AdoptRecord(v2.canonical_url, "garbage");
  EXPECT_EQ(*store_->StagedRecord(v2.canonical_url), EncodeUrlState(v2));
  Commit();
  EXPECT_EQ(Committed(v2.canonical_url), EncodeUrlState(v2));
}

}  // namespace
}  // namespace dedupd::state
