// The per-document tables behind a document another instance owns (issue
// #15, session 6): the SimHash held once (index::SimHashIndex::Hash), the
// packed Current, the sketch metadata and by_content_'s DocId-only slots
// stay within their bytes and still give a match its SimHash distance and
// full content hash.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "foreign_state.h"
#include "state/store.h"

namespace dedupd::classify {
namespace {

state::UrlState Foreign(size_t i, std::mt19937_64& rng) {
  return ForeignState(
      "https://www.site" + std::to_string(i % 40) + ".example/a/" + std::to_string(i), i, rng);
}

TEST(DetectorDocTables, SimHashCurrentSketchAndContentTakeUnder176Bytes) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::mt19937_64 rng(1);
  constexpr size_t kDocs = 100000;
  ASSERT_NO_FATAL_FAILURE(ApplyForeignStates(&detector, kDocs, rng, Foreign));
  const Detector::MemoryUsage m = detector.Memory();
  auto per_doc = [](size_t bytes) { return static_cast<double>(bytes) / kDocs; };
  // Before, at this size: Current 32.8 B (its own SimHash copy, 8-byte
  // alignment), index entries with 16 low bits (10 B a table) 64.1, 8 B of
  // sketch metadata (105.2), 8-byte by_content_ slots (11.2): 213 B. Now
  // ~21.5 + 43.8 + 103.2 + 5.6 (at 10^6: 21.1 + 36.5 + 102.2 + 5.2); Current
  // 18 B since session 8 (the version in 14 bits beside the flags): ~18.4.
  EXPECT_LE(per_doc(m.current), 19.0);
  EXPECT_LT(per_doc(m.simhash_index), 46.0);
  EXPECT_LE(per_doc(m.sketches), 103.5);
  EXPECT_LT(per_doc(m.by_content), 6.5);
  EXPECT_LT(per_doc(m.current + m.simhash_index + m.sketches + m.by_content), 176.0);
}

// Current is packed, but a version keeps all 32 bits (a record may carry
// any), and by_content_ membership is its own bit: a URL applied at version 0
// twice, then at real versions, ends with one entry (a 31-bit field read
// 3,000,000,000 back as 852,516,352).
TEST(DetectorDocTables, CurrentKeepsThe32BitVersion) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::mt19937_64 rng(5);
  std::vector<state::UrlState> batch;
  for (const uint32_t version : {0u, 0u, 7u, 3'000'000'000u}) {
    state::UrlState s = Foreign(1, rng);
    s.version = version;
    batch.push_back(s);
  }
  for (size_t i = 2; i < 3000; ++i) batch.push_back(Foreign(i, rng));
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(detector.ApplyFingerprints(&batch, &applied, &error)) << error;
  EXPECT_EQ(applied, batch.size());
  const std::string url = Foreign(1, rng).canonical_url;
  EXPECT_TRUE(detector.HoldsVersion(url, 3'000'000'000u));
  EXPECT_FALSE(detector.HoldsVersion(url, 3'000'000'001u));
  EXPECT_EQ(detector.IndexedDocuments(), 2998u + 1u);
}

// Each URL on its own site: lines seen on several URLs of one site would be
// learnt as its boilerplate.
parse::ParsedPage Page(const std::string& url, const std::string& text) {
  parse::ParsedPage p;
  p.url = p.canonical_url = url;
  p.host = p.site = url.substr(8, url.find('/', 8) - 8);
  p.content_type = "text/plain";
  p.body = text;
  return p;
}

const char* const kText =
    "The city council approved the new school budget on Monday after a long debate.\n"
    "Teachers will receive a modest raise, and two closed libraries will reopen in spring.\n"
    "The mayor said the plan balances the needs of families with the city's debts.\n"
    "Opponents argued that the raise was too small to keep experienced teachers.\n"
    "A final vote on the transport plan is expected at the next meeting in March.\n";

// A document known only from another instance's fingerprint record: its
// SimHash comes from the index, its 128-bit content hash from Current.
TEST(DetectorDocTables, ARemoteDocumentKeepsItsSimHashAndContentHash) {
  auto owner_store = state::NewMemoryStore();
  Detector owner(DetectOptions{}, owner_store.get());
  const Outcome first = owner.Process(Page("https://a.example/x", kText), 1);
  ASSERT_EQ(first.verdict, Verdict::kNew);
  ASSERT_TRUE(first.stored.has_value());
  const state::UrlState record = *first.stored;
  ASSERT_NE(record.simhash.bits, 0u);

  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::vector<state::UrlState> batch = {record};
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(detector.ApplyFingerprints(&batch, &applied, &error)) << error;
  ASSERT_EQ(applied, 1u);

  // An exact copy under another URL: found through by_content_.
  const Outcome copy = detector.Process(Page("https://b.example/x", kText), 2);
  ASSERT_EQ(copy.verdict, Verdict::kDuplicate);
  EXPECT_EQ(copy.match->url, "https://a.example/x");
  EXPECT_EQ(copy.match->content_hash, record.content_hash);
  EXPECT_EQ(copy.match->distance, 0);
  detector.Rollback();

  // A near copy: the SimHash distance is to the record's SimHash.
  std::string near = kText;
  near += "Residents can read the full budget on the council's website from Tuesday.\n";
  const Outcome near_copy = detector.Process(Page("https://c.example/x", near), 3);
  ASSERT_EQ(near_copy.verdict, Verdict::kNearDuplicate);
  EXPECT_EQ(near_copy.match->url, "https://a.example/x");
  EXPECT_EQ(near_copy.match->content_hash, record.content_hash);
  EXPECT_EQ(near_copy.match->distance, HammingDistance(near_copy.simhash, record.simhash));
  detector.Rollback();

  // The URL itself revised here: the previous version is the record's.
  const Outcome revised = detector.Process(Page("https://a.example/x", near), 4);
  ASSERT_EQ(revised.verdict, Verdict::kRevised);
  EXPECT_EQ(revised.version, 2u);
  EXPECT_EQ(revised.match->content_hash, record.content_hash);
  EXPECT_EQ(revised.match->distance, HammingDistance(revised.simhash, record.simhash));
  ASSERT_TRUE(revised.stored.has_value());
  ASSERT_FALSE(revised.stored->history.empty());
  EXPECT_EQ(revised.stored->history.front(), record.content_hash);
  // Rolled back, the record's version is indexed again: the copy still matches.
  detector.Rollback();
  const Outcome again = detector.Process(Page("https://d.example/x", kText), 5);
  ASSERT_EQ(again.verdict, Verdict::kDuplicate);
  EXPECT_EQ(again.match->url, "https://a.example/x");
}

// The version's 14 bits in Current hold up to 16,382; a larger one lives in
// the overflow map, exactly: HoldsVersion, a match's version and a REVISED
// page's next version read it, and a smaller version replacing it (from the
// changelog) leaves the map.
TEST(DetectorDocTables, AVersionPastFourteenBitsIsKeptExactly) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::mt19937_64 rng(9);
  for (const uint32_t version : {16'382u, 16'383u, 16'384u, 70'000u}) {
    state::UrlState s = Foreign(1, rng);
    s.version = version;
    std::vector<state::UrlState> batch = {s};
    size_t applied = 0;
    std::string error;
    ASSERT_TRUE(detector.ApplyFingerprints(&batch, &applied, &error)) << error;
    ASSERT_EQ(applied, 1u);
    const std::string url = s.canonical_url;
    EXPECT_TRUE(detector.HoldsVersion(url, version));
    EXPECT_FALSE(detector.HoldsVersion(url, version + 1));
  }
  const Outcome revised = detector.Process(Page(Foreign(1, rng).canonical_url,
                                                "A wholly new text of its own, line one.\n"
                                                "And the second line of that new text.\n"),
                                           7);
  ASSERT_EQ(revised.verdict, Verdict::kRevised);
  EXPECT_EQ(revised.version, 70'001u);
  EXPECT_EQ(revised.match->version, 70'000u);
  std::string commit_error;
  ASSERT_TRUE(detector.Commit({}, &commit_error)) << commit_error;
  EXPECT_TRUE(detector.HoldsVersion(Foreign(1, rng).canonical_url, 70'001u));
  EXPECT_FALSE(detector.HoldsVersion(Foreign(1, rng).canonical_url, 70'002u));
}

}  // namespace
}  // namespace dedupd::classify
