// The in-memory store on the per-page path (issue #11 item 3): Put() of a URL
// already committed copies the state into a node an earlier Commit() or
// Rollback() left, so that in steady state a Put + Commit allocates nothing;
// what Get() returns is unchanged.
#include <gtest/gtest.h>

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
  s.text = text;
  s.title = "一个足够长的标题，不放进内联缓冲区";
  return s;
}

TEST(MemoryStoreReuse, PutAndCommitOfAKnownUrlAllocateNothing) {
  const std::map<std::string, std::string> none;
  std::string error;
  StateStorePtr store = NewMemoryStore();
  const std::string text(400, 'x');
  store->Put(Version(1, text));
  ASSERT_TRUE(store->Commit(none, &error));
  store->Put(Version(2, text));
  ASSERT_TRUE(store->Commit(none, &error));  // leaves version 1's node as a spare
  store->Put(Version(9, text));
  store->Rollback();  // leaves its node as a spare

  const UrlState v3 = Version(3, text);
  const UrlState v4 = Version(4, text);
  {
    CountingNew counting;
    store->Put(v3);
    ASSERT_TRUE(store->Commit(none, &error));
    store->Put(v4);
    ASSERT_TRUE(store->Commit(none, &error));
    EXPECT_EQ(counting.Count(), 0u);
  }
  const auto got = store->Get(v4.canonical_url);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->version, 4u);
  EXPECT_EQ(got->text, text);
  EXPECT_EQ(got->title, v4.title);
  EXPECT_EQ(got->line_hashes, v4.line_hashes);
  EXPECT_EQ(store->Count(), 1u);

  store->Put(Version(5, "changed"));
  EXPECT_EQ(store->Get(v4.canonical_url)->text, "changed");  // staged, read back
  store->Rollback();
  EXPECT_EQ(store->Get(v4.canonical_url)->version, 4u);
  EXPECT_EQ(store->GetCommitted(v4.canonical_url)->version, 4u);
}

TEST(MemoryStoreReuse, PeekReadsInPlace) {
  // Peek() sees what Get() sees (staged writes too) without copying the
  // state: no allocation, however long its text and history.
  const std::map<std::string, std::string> none;
  std::string error;
  StateStorePtr store = NewMemoryStore();
  const std::string text(4000, 'y');
  UrlState v1 = Version(1, text);
  v1.versions.resize(3);
  v1.versions[1].text = text;
  store->Put(v1);
  ASSERT_TRUE(store->Commit(none, &error));
  const UrlState* peeked = nullptr;
  {
    CountingNew counting;
    peeked = store->Peek(v1.canonical_url);
    EXPECT_EQ(store->Peek("https://a.example/never-seen"), nullptr);
    EXPECT_EQ(counting.Count(), 0u);  // Get() copies: 8 allocations here
  }
  ASSERT_NE(peeked, nullptr);
  EXPECT_EQ(peeked->version, 1u);
  EXPECT_EQ(peeked->text, text);
  EXPECT_EQ(peeked->versions.size(), 3u);
  store->Put(Version(2, "staged"));
  peeked = store->Peek(v1.canonical_url);
  ASSERT_NE(peeked, nullptr);
  EXPECT_EQ(peeked->version, 2u);
  EXPECT_EQ(peeked->text, "staged");
  store->Rollback();
  EXPECT_EQ(store->Peek(v1.canonical_url)->version, 1u);
}

}  // namespace
}  // namespace dedupd::state
