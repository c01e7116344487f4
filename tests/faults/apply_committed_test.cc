// Detector::ApplyCommitted, the path through which states read back from
// Kafka (changelog restore, fingerprints topic) reach the store and the
// indexes: versions only move forward, an instance's own records read back
// are no-ops, the changelog wins a tie, the store commit carries the offsets,
// and a restored state decides verdicts exactly like a processed one.
#include <gtest/gtest.h>

#include "classify/detector.h"
#include "state/store.h"

namespace dedupd::classify {
namespace {

parse::ParsedPage Page(const std::string& url, const std::string& body) {
  parse::ParsedPage p;
  p.url = url;
  p.canonical_url = url;
  p.host = "a.example";
  p.site = "a.example";
  p.body = body;
  p.content_type = "text/plain";
  return p;
}

const std::string kBodyA =
    "The council approved 1200 dollars for the new bridge on Monday.\n\n"
    "Works start in spring and should end before the winter holidays.";
const std::string kBodyB =
    "The council approved 1500 dollars for the new bridge on Monday.\n\n"
    "Works start in spring and should end before the winter holidays.";

// The state that processing `body` at `url` writes (as another instance would
// have written it to the changelog), after `versions` fetches alternating A/B.
state::UrlState Written(const std::string& url, int versions) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  Outcome out;
  for (int i = 0; i < versions; ++i) {
    out = d.Process(Page(url, i % 2 == 0 ? kBodyA : kBodyB), 1000 + i);
    EXPECT_TRUE(d.Commit({}, nullptr));
  }
  EXPECT_TRUE(out.stored.has_value());
  return *out.stored;
}

TEST(ApplyCommitted, NewerVersionsApplyOlderAndKnownOnesAreSkipped) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  state::UrlState v1 = Written(url, 1);
  state::UrlState v2 = Written(url, 2);
  ASSERT_EQ(v1.version, 1u);
  ASSERT_EQ(v2.version, 2u);

  size_t applied = 99;
  std::string error;
  ASSERT_TRUE(d.ApplyCommitted({v2}, false, {{"fingerprints/t/0", "7"}}, &applied, &error))
      << error;
  EXPECT_EQ(applied, 1u);
  EXPECT_EQ(store->Get(url)->version, 2u);
  EXPECT_EQ(store->GetMetadata("fingerprints/t/0"), "7");
  EXPECT_EQ(d.IndexedDocuments(), 1u);

  // An older record (a late fingerprint) and the same record again: no-ops,
  // but the offsets they were read up to are still recorded.
  ASSERT_TRUE(d.ApplyCommitted({v1, v2}, true, {{"changelog/t/0", "9"}}, &applied, &error));
  EXPECT_EQ(applied, 0u);
  EXPECT_EQ(store->Get(url)->version, 2u);
  EXPECT_EQ(store->GetMetadata("changelog/t/0"), "9");
  EXPECT_EQ(d.IndexedDocuments(), 1u);
}

TEST(ApplyCommitted, SameVersionOtherContentOnlyReplacedByTheChangelog) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  state::UrlState mine = Written(url, 1);
  state::UrlState theirs = mine;
  theirs.content_hash.low ^= 1;
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(d.ApplyCommitted({mine}, false, {}, &applied, &error));
  ASSERT_TRUE(d.ApplyCommitted({theirs}, false, {}, &applied, &error));
  EXPECT_EQ(applied, 0u) << "a fingerprint record never replaces the same version";
  EXPECT_EQ(store->Get(url)->content_hash, mine.content_hash);
  ASSERT_TRUE(d.ApplyCommitted({theirs}, true, {}, &applied, &error));
  EXPECT_EQ(applied, 1u) << "the changelog is authoritative for its partition";
  EXPECT_EQ(store->Get(url)->content_hash, theirs.content_hash);
}

TEST(ApplyCommitted, RestoredStateDecidesLikeAProcessedOne) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  size_t applied = 0;
  std::string error;
  // v2 is B with A in its history: a re-fetch of A is a REVISED, REVERTED v3.
  ASSERT_TRUE(d.ApplyCommitted({Written(url, 2)}, true, {}, &applied, &error));
  Outcome same = d.Process(Page(url, kBodyB), 5000);
  EXPECT_EQ(same.verdict, Verdict::kUnchanged);
  EXPECT_EQ(same.version, 2u);
  EXPECT_FALSE(d.HasStaged()) << "UNCHANGED stages nothing";
  Outcome back = d.Process(Page(url, kBodyA), 6000);
  EXPECT_EQ(back.verdict, Verdict::kRevised);
  EXPECT_EQ(back.version, 3u);
  EXPECT_TRUE(back.flags.Has(Flag::kReverted));
  EXPECT_TRUE(d.HasStaged());
  // Never while a batch is staged: the store commit would carry the batch.
  EXPECT_FALSE(
      d.ApplyCommitted({Written("https://a.example/other", 1)}, false, {}, &applied, &error));
  d.Rollback();
  EXPECT_FALSE(d.HasStaged());
  // A copy at another URL is a DUPLICATE of the restored URL (content index).
  Outcome copy = d.Process(Page("https://b.example/copy", kBodyB), 7000);
  EXPECT_EQ(copy.verdict, Verdict::kDuplicate);
  ASSERT_TRUE(copy.match.has_value());
  EXPECT_EQ(copy.match->url, url);
}

TEST(ApplyCommitted, ReplacingAStateMovesItInTheIndexes) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(d.ApplyCommitted({Written(url, 1)}, true, {}, &applied, &error));
  ASSERT_TRUE(d.ApplyCommitted({Written(url, 2)}, true, {}, &applied, &error));
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  // The old content (A) is no longer the URL's current version ...
  EXPECT_NE(d.Process(Page("https://c.example/a", kBodyA), 1).verdict, Verdict::kDuplicate);
  d.Rollback();
  // ... the new one (B) is.
  EXPECT_EQ(d.Process(Page("https://c.example/b", kBodyB), 1).verdict, Verdict::kDuplicate);
}

// Detector::ApplyFingerprints: other instances' states, from the fingerprints
// topic, go to memory only; matches against them are answered from memory.

const std::string kLong =
    "The regional council approved a budget of 1200 dollars for the new bridge over the river.\n\n"
    "Construction works are expected to start in early spring and should end before winter.\n\n"
    "The mayor said the bridge would shorten the trip to the market town by twenty minutes.\n\n"
    "Local shop owners welcomed the decision and hope for more visitors from the valley.\n\n"
    "Critics argued that the money should have gone to the school roof instead of a bridge.";

state::UrlState WrittenBody(const std::string& url, const std::string& body, int64_t at) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  Outcome out = d.Process(Page(url, body), at);
  EXPECT_TRUE(d.Commit({}, nullptr));
  EXPECT_TRUE(out.stored.has_value());
  return *out.stored;
}

TEST(ApplyFingerprints, MemoryOnlyAndMatchesAreAnsweredFromMemory) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  std::vector<state::UrlState> states = {Written(url, 2)};
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error)) << error;
  EXPECT_EQ(applied, 1u);
  EXPECT_EQ(store->Count(), 0u) << "another instance's document is not stored here";
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  EXPECT_TRUE(d.HoldsVersion(url, 1));
  EXPECT_TRUE(d.HoldsVersion(url, 2));
  EXPECT_FALSE(d.HoldsVersion(url, 3));
  EXPECT_FALSE(d.HoldsVersion("https://a.example/other", 1));
  // The same record again (this instance's own, read back): skipped.
  states = {Written(url, 2)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  EXPECT_EQ(applied, 0u);

  // A copy at another URL: DUPLICATE of it, with what the memory holds.
  Outcome copy = d.Process(Page("https://b.example/copy", kBodyB), 7000);
  EXPECT_EQ(copy.verdict, Verdict::kDuplicate);
  ASSERT_TRUE(copy.match.has_value());
  EXPECT_EQ(copy.match->url, url);
  EXPECT_EQ(copy.match->version, 2u);
  EXPECT_EQ(copy.match->fetched_at_ms, 1001);
  d.Rollback();

  // Never while a batch is staged.
  d.Process(Page("https://b.example/x", kBodyA), 1);
  states = {Written("https://a.example/other", 1)};
  EXPECT_FALSE(d.ApplyFingerprints(&states, &applied, &error));
  d.Rollback();
}

TEST(ApplyFingerprints, ANearDuplicateOfARemoteDocumentHasItsExplanationButNoDiff) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/bridge";
  std::vector<state::UrlState> states = {WrittenBody(url, kLong, 4242)};
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  std::string near = kLong;
  near.replace(near.find("1200"), 4, "1500");
  Outcome out = d.Process(Page("https://b.example/bridge", near), 5000);
  ASSERT_EQ(out.verdict, Verdict::kNearDuplicate);
  ASSERT_TRUE(out.match.has_value());
  EXPECT_EQ(out.match->url, url);
  EXPECT_EQ(out.match->fetched_at_ms, 4242);
  EXPECT_GT(out.match->jaccard, 0.3);
  EXPECT_FALSE(out.diff.has_value()) << "the original's text is not on this instance";
  ASSERT_TRUE(d.Commit({}, &error));
  // The same page processed where the original is stored gets its diff.
  auto store2 = state::NewMemoryStore();
  Detector owner(DetectOptions{}, store2.get());
  ASSERT_TRUE(owner.ApplyCommitted({WrittenBody(url, kLong, 4242)}, true, {}, &applied, &error));
  Outcome there = owner.Process(Page("https://b.example/bridge", near), 5000);
  ASSERT_EQ(there.verdict, Verdict::kNearDuplicate);
  EXPECT_TRUE(there.diff.has_value());
}

TEST(ApplyFingerprints, ANewerVersionMovesTheDocumentInTheIndexes) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  size_t applied = 0;
  std::string error;
  std::vector<state::UrlState> states = {Written(url, 1)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  states = {Written(url, 2)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  EXPECT_EQ(applied, 1u);
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  EXPECT_NE(d.Process(Page("https://c.example/a", kBodyA), 1).verdict, Verdict::kDuplicate);
  d.Rollback();
  EXPECT_EQ(d.Process(Page("https://c.example/b", kBodyB), 1).verdict, Verdict::kDuplicate);
  d.Rollback();
  // An older record after the newer one: skipped.
  states = {Written(url, 1)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  EXPECT_EQ(applied, 0u);
}

TEST(ApplyFingerprints, TheChangelogStoresTheSameVersionWhenThePartitionMovesHere) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  size_t applied = 0;
  std::string error;
  std::vector<state::UrlState> states = {Written(url, 2)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  ASSERT_TRUE(
      d.ApplyCommitted({Written(url, 2)}, true, {{"changelog/t/0", "3"}}, &applied, &error));
  EXPECT_EQ(applied, 1u) << "the owner's record (with text and history) is stored";
  ASSERT_TRUE(store->Get(url).has_value());
  EXPECT_TRUE(store->Get(url)->history_full);
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  // Decided as the owner: UNCHANGED, then REVISED + REVERTED with a diff.
  EXPECT_EQ(d.Process(Page(url, kBodyB), 5000).verdict, Verdict::kUnchanged);
  Outcome back = d.Process(Page(url, kBodyA), 6000);
  EXPECT_EQ(back.verdict, Verdict::kRevised);
  EXPECT_EQ(back.version, 3u);
  EXPECT_TRUE(back.flags.Has(Flag::kReverted));
  EXPECT_TRUE(back.diff.has_value());
}

TEST(ApplyFingerprints, AnOwnedUrlSupersededByAnotherInstanceLeavesTheIndexesRight) {
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(d.ApplyCommitted({Written(url, 1)}, true, {}, &applied, &error));
  std::vector<state::UrlState> states = {Written(url, 2)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  EXPECT_EQ(applied, 1u);
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  EXPECT_NE(d.Process(Page("https://c.example/a", kBodyA), 1).verdict, Verdict::kDuplicate);
  d.Rollback();
  EXPECT_EQ(d.Process(Page("https://c.example/b", kBodyB), 1).verdict, Verdict::kDuplicate);
  d.Rollback();
  // The partition comes back: its changelog's v3 replaces what memory holds.
  ASSERT_TRUE(d.ApplyCommitted({Written(url, 3)}, true, {}, &applied, &error));
  EXPECT_EQ(applied, 1u);
  EXPECT_EQ(store->Get(url)->version, 3u);
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  EXPECT_EQ(d.Process(Page("https://c.example/a2", kBodyA), 1).verdict, Verdict::kDuplicate);
  d.Rollback();
}

TEST(ApplyFingerprints, ARemoteUrlProcessedHereContinuesItsVersionsAndRollsBack) {
  // Input not keyed by canonical URL: a URL another instance owns arrives
  // here. Its version continues from the one the memory holds.
  auto store = state::NewMemoryStore();
  Detector d(DetectOptions{}, store.get());
  const std::string url = "https://a.example/release";
  size_t applied = 0;
  std::string error;
  std::vector<state::UrlState> states = {Written(url, 2)};
  ASSERT_TRUE(d.ApplyFingerprints(&states, &applied, &error));
  EXPECT_EQ(d.Process(Page(url, kBodyB), 1).verdict, Verdict::kUnchanged);
  Outcome next = d.Process(Page(url, kBodyA), 2);
  EXPECT_EQ(next.verdict, Verdict::kRevised);
  EXPECT_EQ(next.version, 3u);
  d.Rollback();
  EXPECT_EQ(d.IndexedDocuments(), 1u);
  Outcome copy = d.Process(Page("https://b.example/copy", kBodyB), 3);
  EXPECT_EQ(copy.verdict, Verdict::kDuplicate);
  ASSERT_TRUE(copy.match.has_value());
  EXPECT_EQ(copy.match->version, 2u);
  EXPECT_EQ(copy.match->fetched_at_ms, 1001);
  d.Rollback();
}

}  // namespace
}  // namespace dedupd::classify
