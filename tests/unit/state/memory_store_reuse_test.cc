// The in-memory store on the per-page path (issue #11 item 3): Put() of a URL
// already committed copies the state into a node an earlier Commit() or
// Rollback() left, so that in steady state a Put + Commit allocates nothing;
// what Get() returns is unchanged.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/store.h"
#include "unit/counting_new.h"
#include "unit/state/reuse_state.h"

namespace dedupd::state {
namespace {

TEST(MemoryStoreReuse, PutAndCommitOfAKnownUrlAllocateNothing) {
  const std::map<std::string, std::string> none;
  std::string error;
  StateStorePtr store = NewMemoryStore();
  const std::string text(400, 'x');
  store->Put(ReuseVersion(1, text));
  ASSERT_TRUE(store->Commit(none, &error));
  store->Put(ReuseVersion(2, text));
  ASSERT_TRUE(store->Commit(none, &error));  // leaves version 1's node as a spare
  store->Put(ReuseVersion(9, text));
  store->Rollback();  // leaves its node as a spare

  const UrlState v3 = ReuseVersion(3, text);
  const UrlState v4 = ReuseVersion(4, text);
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

  store->Put(ReuseVersion(5, "changed"));
  EXPECT_EQ(store->Get(v4.canonical_url)->text, "changed");  // staged, read back
  store->Rollback();
  EXPECT_EQ(store->Get(v4.canonical_url)->version, 4u);
  EXPECT_EQ(store->GetCommitted(v4.canonical_url)->version, 4u);
}

TEST(MemoryStoreReuse, ANewUrlIsHeldOnce) {
  // The map's key views the state's own URL: a new URL's Put() allocates
  // its node and the state's buffers, not a second copy of the URL (e3f9acc:
  // 3 allocations for this state, one of them the key). Every read still
  // finds every URL, long or short, after commits that swap states and
  // rollbacks that recycle nodes.
  const std::map<std::string, std::string> none;
  std::string error;
  StateStorePtr store = NewMemoryStore();
  UrlState bare;
  bare.canonical_url = "https://s.ex/0";
  store->Put(bare);  // the maps' bucket arrays
  ASSERT_TRUE(store->Commit(none, &error));
  bare.canonical_url = "https://a.example/news/2026/12/06/a-url-too-long-for-the-inline-buffer";
  {
    CountingNew counting;
    store->Put(bare);
    EXPECT_EQ(counting.Count(), 2u);  // the node, the URL
  }
  ASSERT_TRUE(store->Commit(none, &error));
  std::vector<std::string> urls = {"https://s.ex/1", bare.canonical_url};
  for (int i = 0; i < 40; ++i) {
    urls.push_back("https://a.example/" + std::string(static_cast<size_t>(i), 'p') + "/" +
                   std::to_string(i));
  }
  for (uint32_t round = 1; round <= 4; ++round) {
    for (const std::string& url : urls) {
      UrlState s = ReuseVersion(round, "text " + std::to_string(round) + " of " + url);
      s.canonical_url = url;
      store->Put(s);
    }
    if (round == 3) {
      store->Rollback();
    } else {
      ASSERT_TRUE(store->Commit(none, &error));
    }
  }
  EXPECT_EQ(store->Count(), urls.size() + 1);
  for (const std::string& url : urls) {
    const std::string copy = url;  // a different buffer than the store's
    const auto got = store->Get(copy);
    ASSERT_TRUE(got.has_value()) << url;
    EXPECT_EQ(got->canonical_url, url);
    EXPECT_EQ(got->version, 4u) << url;
    EXPECT_EQ(got->text, "text 4 of " + url);
    EXPECT_EQ(store->GetCommitted(copy)->version, 4u);
    ASSERT_NE(store->Peek(copy), nullptr);
  }
  size_t visited = 0;
  store->ForEach(
      [&](const UrlState& s) {
        visited += s.version == 4 ? 1 : 0;
        return true;
      },
      TextPart::kDecode);
  EXPECT_EQ(visited, urls.size());
}

TEST(MemoryStoreReuse, PeekReadsInPlace) {
  // Peek() sees what Get() sees (staged writes too) without copying the
  // state: no allocation, however long its text and history.
  const std::map<std::string, std::string> none;
  std::string error;
  StateStorePtr store = NewMemoryStore();
  const std::string text(4000, 'y');
  UrlState v1 = ReuseVersion(1, text);
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
  store->Put(ReuseVersion(2, "staged"));
  peeked = store->Peek(v1.canonical_url);
  ASSERT_NE(peeked, nullptr);
  EXPECT_EQ(peeked->version, 2u);
  EXPECT_EQ(peeked->text, "staged");
  store->Rollback();
  EXPECT_EQ(store->Peek(v1.canonical_url)->version, 1u);
}

TEST(MemoryStoreReuse, PutTakingKeepsTheBuffersAndHandsBackADroppedState) {
  // PutTaking() (session 10) swaps the state into the store instead of
  // copying it: a new URL costs its node alone, and a Put of a URL whose
  // committed state a Commit() replaced hands that state's buffers back
  // (Put() copies every buffer of it).
  const std::map<std::string, std::string> none;
  std::string error;
  StateStorePtr store = NewMemoryStore();
  const std::string text(4000, 'z');
  UrlState seed = ReuseVersion(1, "seed");
  seed.canonical_url = "https://a.example/seed";
  store->Put(seed);  // the maps' bucket arrays
  ASSERT_TRUE(store->Commit(none, &error));

  UrlState v1 = ReuseVersion(1, text);
  const char* const v1_text = v1.text.data();
  size_t allocations = 0;
  {
    CountingNew counting;
    EXPECT_TRUE(store->PutTaking(&v1));
    allocations = counting.Count();
  }
  EXPECT_EQ(allocations, 1u);    // the node
  EXPECT_TRUE(v1.text.empty());  // a new node's (default) state
  ASSERT_TRUE(store->Commit(none, &error));
  const UrlState* held = store->Peek(ReuseVersion(1, "").canonical_url);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->text.data(), v1_text);  // the caller's buffer, not a copy
  EXPECT_EQ(held->title, ReuseVersion(1, "").title);

  // Version 2 replaces it; the next PutTaking (another URL) gets version 1's
  // buffers back.
  UrlState v2 = ReuseVersion(2, "second");
  ASSERT_TRUE(store->PutTaking(&v2));
  ASSERT_TRUE(store->Commit(none, &error));
  UrlState other = ReuseVersion(1, "other");
  other.canonical_url = "https://a.example/news/2026/12/06/another-article-with-a-long-path.html";
  {
    CountingNew counting;
    ASSERT_TRUE(store->PutTaking(&other));
    allocations = counting.Count();
  }
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(other.text.data(), v1_text);  // version 1's, to reuse
  EXPECT_EQ(other.version, 1u);
  ASSERT_TRUE(store->Commit(none, &error));
  EXPECT_EQ(store->Get(ReuseVersion(1, "").canonical_url)->text, "second");
  EXPECT_EQ(
      store->Get("https://a.example/news/2026/12/06/another-article-with-a-long-path.html")->text,
      "other");
  EXPECT_EQ(store->Count(), 3u);

  // Staged twice in one batch: the second takes the first's node, and a
  // rollback leaves the committed state.
  UrlState v3 = ReuseVersion(3, "third");
  ASSERT_TRUE(store->PutTaking(&v3));
  UrlState v4 = ReuseVersion(4, "fourth");
  ASSERT_TRUE(store->PutTaking(&v4));
  EXPECT_EQ(v4.text, "third");
  EXPECT_EQ(store->Peek(ReuseVersion(1, "").canonical_url)->version, 4u);
  store->Rollback();
  EXPECT_EQ(store->Get(ReuseVersion(1, "").canonical_url)->version, 2u);
}

TEST(MemoryStoreReuse, PutTakingOfTheDefaultStoreCopies) {
  // A store without its own PutTaking() (RocksStore) puts a copy and leaves
  // the state as it was: the caller still has it.
  struct CopyingStore final : StateStore {
    std::optional<UrlState> Get(std::string_view) override { return last; }
    std::optional<UrlState> GetCommitted(std::string_view) override { return last; }
    void Put(const UrlState& s) override { last = s; }
    bool Commit(const std::map<std::string, std::string>&, std::string*) override { return true; }
    void Rollback() override {}
    std::optional<std::string> GetMetadata(std::string_view) override { return std::nullopt; }
    void ForEach(const std::function<bool(const UrlState&)>&, TextPart) override {}
    size_t ApproximateBytes() override { return 0; }
    size_t Count() override { return last ? 1 : 0; }
    std::optional<UrlState> last;
  } store;
  UrlState v1 = ReuseVersion(1, "text");
  EXPECT_FALSE(store.PutTaking(&v1));
  EXPECT_EQ(v1.text, "text");
  ASSERT_TRUE(store.last.has_value());
  EXPECT_EQ(store.last->text, "text");
}

}  // namespace
}  // namespace dedupd::state
