// What the Detector keeps of a document another instance owns (issue #15,
// session 6): 8 bytes of fetch time and boilerplate count and the 16-bit
// prefixes of its filed passages' tags (and the tags of those counted in a
// boilerplate paragraph). These tests check that this is enough to
// answer as the full state did: the match's fetch time and boilerplate count
// come back exactly (out-of-range values too), its passages are found, taken
// out when a newer version replaces it, and put back exactly when a batch
// that replaced it is rolled back; and that it costs what docs/design.md says.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "state/store.h"

namespace dedupd::classify {
namespace {

parse::ParsedPage Page(const std::string& url, const std::string& text) {
  parse::ParsedPage p;
  p.url = p.canonical_url = url;
  // Each URL its own site: the boilerplate model learns lines per site, and
  // these tests share lines between URLs on purpose.
  p.host = p.site = url;
  p.content_type = "text/plain";
  p.body = text;
  return p;
}

// `n` long sentences, one per line, numbered from `first` under `topic`.
std::string Sentences(const std::string& topic, int first, int n) {
  static const char* kWords[] = {"harbour",  "council", "budget",  "railway",  "orchard", "museum",
                                 "festival", "bridge",  "library", "rainfall", "market",  "school"};
  std::string out;
  for (int i = first; i < first + n; ++i) {
    out += "The " + topic + " report number " + std::to_string(i) + " says the " + kWords[i % 12] +
           " and the " + kWords[(i * 7 + 3) % 12] + " near district " +
           std::to_string(i * 31 % 97) + " changed after " + kWords[(i * 5 + 1) % 12] + " talks.\n";
  }
  return out;
}

// The owner's record of `text` at `url`: what the fingerprints topic carries
// (no text), as another instance's Detector wrote it.
state::UrlState Record(const std::string& url, const std::string& text, int64_t fetched_at_ms) {
  auto store = state::NewMemoryStore();
  Detector owner(DetectOptions{}, store.get());
  Outcome out = owner.Process(Page(url, text), fetched_at_ms);
  EXPECT_TRUE(out.stored.has_value());
  state::UrlState s = *out.stored;
  s.text.clear();
  s.text_known = false;
  s.history_full = false;
  return s;
}

// Version 1 of another instance's document i: random content hash,
// SimHash and 8 passages (drawn from *rng in that order), text-free.
state::UrlState RandomRemote(std::mt19937_64* rng, size_t i, int64_t fetched_at_ms) {
  state::UrlState s;
  s.canonical_url = "https://other.example/doc/" + std::to_string(i);
  s.version = 1;
  s.content_hash = {(*rng)(), (*rng)()};
  s.simhash = SimHash64{(*rng)()};
  for (int p = 0; p < 8; ++p) s.paragraph_hashes.push_back((*rng)());
  s.fetched_at_ms = fetched_at_ms;
  s.history_full = false;
  return s;
}

void Apply(Detector* detector, state::UrlState s) {
  std::vector<state::UrlState> batch = {std::move(s)};
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(detector->ApplyFingerprints(&batch, &applied, &error)) << error;
  ASSERT_EQ(applied, 1u);
}

const std::string kOriginal = Sentences("harbour", 0, 12);
// The original re-posted with as much text of its own: SimHash moves, the
// shingle sets still confirm (containment ~1, Jaccard ~0.5).
const std::string kCopy = Sentences("harbour", 0, 12) + Sentences("weather", 100, 12);

TEST(DetectorRemote, MatchReportsTheRecordsFetchTimeAndBoilerplateExactly) {
  struct Case {
    int64_t fetched_at_ms;
    uint32_t boilerplate;
  };
  for (const Case c : {Case{1'765'432'109'876, 7}, Case{-1, 0},
                       Case{std::numeric_limits<int64_t>::max(), 3'000'000},
                       Case{std::numeric_limits<int64_t>::min(), 1'048'575},
                       // The 6-byte slot's edges (session 8): 42 bits of time, 62 blocks.
                       Case{(int64_t{1} << 42) - 1, 62}, Case{int64_t{1} << 42, 62}, Case{0, 63},
                       Case{1'765'432'109'876, 64}}) {
    auto store = state::NewMemoryStore();
    Detector detector(DetectOptions{}, store.get());
    state::UrlState r = Record("https://other.example/a", kOriginal, c.fetched_at_ms);
    ASSERT_FALSE(r.versions.empty());
    r.versions[0].boilerplate_blocks = c.boilerplate;
    Apply(&detector, r);
    const Outcome dup = detector.Process(Page("https://example.com/b", kOriginal), 5);
    ASSERT_EQ(dup.verdict, Verdict::kDuplicate);
    EXPECT_EQ(dup.match->url, "https://other.example/a");
    EXPECT_EQ(dup.match->fetched_at_ms, c.fetched_at_ms);
    detector.Rollback();
    const Outcome near = detector.Process(Page("https://example.com/c", kCopy), 6);
    ASSERT_EQ(near.verdict, Verdict::kNearDuplicate);
    EXPECT_EQ(near.match->url, "https://other.example/a");
    EXPECT_EQ(near.match->fetched_at_ms, c.fetched_at_ms);
    EXPECT_EQ(near.match->other_boilerplate_blocks, c.boilerplate);
    EXPECT_TRUE(near.match->found_by & kFoundByPassages);
    detector.Rollback();
  }
}

// The URL another instance owns is processed here (input not keyed by URL):
// its remote postings are taken out, then put back by the rollback from the
// tags memory keeps (RemoteState has no passage hashes), exactly: a newer
// record then takes out what the rollback filed and nothing is left over.
TEST(DetectorRemote, RollbackOfABatchThatReplacedARemoteDocumentRestoresItsPassages) {
  DetectOptions options;
  options.simhash_distance = 0;  // the copy is found through its passages only
  auto store = state::NewMemoryStore();
  Detector detector(options, store.get());
  Apply(&detector, Record("https://other.example/a", kOriginal, 1000));
  const size_t filed = detector.IndexedPassages();
  ASSERT_EQ(filed, 8u);  // passage_sample

  const Outcome found = detector.Process(Page("https://example.com/c", kCopy), 2);
  ASSERT_EQ(found.verdict, Verdict::kNearDuplicate);
  EXPECT_EQ(found.match->found_by, kFoundByPassages);
  detector.Rollback();
  EXPECT_EQ(detector.IndexedPassages(), filed);

  const std::string revision = Sentences("budget", 500, 12);
  const Outcome revised = detector.Process(Page("https://other.example/a", revision), 3);
  ASSERT_EQ(revised.verdict, Verdict::kRevised);
  EXPECT_EQ(revised.match->fetched_at_ms, 1000);
  EXPECT_EQ(detector.IndexedPassages(), revised.stored->paragraph_hashes.size());
  const Outcome gone = detector.Process(Page("https://example.com/c", kCopy), 4);
  EXPECT_EQ(gone.verdict, Verdict::kNew) << "the replaced version's passages are out";
  detector.Rollback();
  EXPECT_EQ(detector.IndexedPassages(), filed);

  // The same URL's version 2 from its owner: what the rollback put back is
  // taken out by the tags, and only version 2's passages stay.
  state::UrlState v2 = Record("https://other.example/a", Sentences("museum", 700, 3), 2000);
  v2.version = 2;
  ASSERT_EQ(v2.paragraph_hashes.size(), 3u);
  Apply(&detector, v2);
  EXPECT_EQ(detector.IndexedPassages(), 3u);
  EXPECT_EQ(detector.Process(Page("https://example.com/c", kCopy), 5).verdict, Verdict::kNew);
  detector.Rollback();
  EXPECT_EQ(detector.IndexedPassages(), 3u);
}

// A newer record of a remote document replaces its passages: the old ones
// are taken out by their tags, also where another document holds the same
// passages (the doc id tells the postings apart).
TEST(DetectorRemote, ANewerRecordTakesOutTheOldPassagesOnly) {
  DetectOptions options;
  options.simhash_distance = 0;
  auto store = state::NewMemoryStore();
  Detector detector(options, store.get());
  Apply(&detector, Record("https://other.example/a", kOriginal, 1000));
  Apply(&detector, Record("https://third.example/a", kOriginal + Sentences("sports", 300, 1), 900));
  state::UrlState v2 = Record("https://other.example/a", Sentences("budget", 500, 12), 2000);
  v2.version = 2;
  Apply(&detector, v2);
  const Outcome out = detector.Process(Page("https://example.com/c", kCopy), 3);
  ASSERT_EQ(out.verdict, Verdict::kNearDuplicate);
  EXPECT_EQ(out.match->url, "https://third.example/a");
  EXPECT_EQ(out.match->fetched_at_ms, 900);
}

// 6 bytes of fetch time and boilerplate count (8 before session 8); its
// passages are not kept (session 9: passage_sample tag prefixes of 2 bytes
// before, 22 B in all; an int64, two uint32 and 8 hashes of 8 bytes took 80):
// its postings carry its generation, half a byte in the passage index.
TEST(DetectorRemote, ADocumentKnownFromTheTopicKeeps6BytesToBeRemovedAgain) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::mt19937_64 rng(6);
  constexpr size_t kDocs = 65536;  // whole pages of both paged arrays
  std::vector<state::UrlState> batch;
  for (size_t i = 0; i < kDocs; ++i) {
    batch.push_back(RandomRemote(&rng, i, 1'765'000'000'000 + static_cast<int64_t>(i)));
  }
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(detector.ApplyFingerprints(&batch, &applied, &error)) << error;
  ASSERT_EQ(applied, kDocs);
  const Detector::MemoryUsage m = detector.Memory();
  EXPECT_LT(static_cast<double>(m.remote) / kDocs, 6.5);
  EXPECT_GE(static_cast<double>(m.remote) / kDocs, 6.0);
  // 8 postings of 8-byte slots at 64-80% load.
  EXPECT_LE(static_cast<double>(m.passage_index) / kDocs, 8 * 12.5);
}

// A passage 70 remote documents share is boilerplate (past 64 holders): it
// has no postings, so their prefixes do not find it; the index reported the
// tag each is counted under, so removing them (a batch that replaced one,
// rolled back; then newer records of all) takes out exactly what was filed,
// the boilerplate count included.
TEST(DetectorRemote, PassagesCountedAsBoilerplateAreTakenOutExactly) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::mt19937_64 rng(70);
  const uint64_t shared = rng();
  auto record = [&](int i, uint32_t version, bool with_shared) {
    state::UrlState s;
    s.canonical_url = "https://other.example/doc/" + std::to_string(i);
    s.version = version;
    s.content_hash = {rng(), rng()};
    s.simhash = SimHash64{rng()};
    for (int p = 0; p < 7; ++p) s.paragraph_hashes.push_back(rng());
    if (with_shared) s.paragraph_hashes.push_back(shared);
    s.fetched_at_ms = 1000 + i;
    s.history_full = false;
    return s;
  };
  constexpr int kDocs = 70;
  for (int i = 0; i < kDocs; ++i) Apply(&detector, record(i, 1, true));
  ASSERT_EQ(detector.IndexedPassages(), size_t{kDocs} * 8);  // the shared one counted

  const Outcome revised =
      detector.Process(Page("https://other.example/doc/3", Sentences("budget", 500, 12)), 5);
  ASSERT_EQ(revised.verdict, Verdict::kRevised);
  EXPECT_EQ(revised.match->fetched_at_ms, 1003);
  EXPECT_EQ(detector.IndexedPassages(),
            size_t{kDocs - 1} * 8 + revised.stored->paragraph_hashes.size());
  detector.Rollback();
  EXPECT_EQ(detector.IndexedPassages(), size_t{kDocs} * 8);

  // Version 2 of every one, without the shared passage: nothing of version 1
  // is left (a count not taken down would stay in postings()).
  for (int i = 0; i < kDocs; ++i) Apply(&detector, record(i, 2, false));
  EXPECT_EQ(detector.IndexedPassages(), size_t{kDocs} * 7);
  // The shared passage's count is gone: a new holder files a posting again,
  // which its own removal takes out by prefix.
  Apply(&detector, record(100, 1, true));
  Apply(&detector, record(100, 2, false));
  EXPECT_EQ(detector.IndexedPassages(), size_t{kDocs + 1} * 7);
}

// Trap (session 9): a sweep erases stale postings, among them those a
// rollback makes live again. A batch replaces enough documents known from
// the topic that a sweep is due: none runs while it is staged, so the
// rollback brings every document's passages back (a sweep is due by the
// 1,340th replacement); committed, the replaced versions' postings are gone.
TEST(DetectorRemote, NoSweepWhileABatchIsStaged) {
  auto store = state::NewMemoryStore();
  Detector detector(DetectOptions{}, store.get());
  std::mt19937_64 rng(12);
  constexpr size_t kDocs = 2000, kReplaced = 1400;
  std::vector<state::UrlState> batch;
  for (size_t i = 0; i < kDocs; ++i) {
    batch.push_back(RandomRemote(&rng, i, 1000));
  }
  size_t applied = 0;
  std::string error;
  ASSERT_TRUE(detector.ApplyFingerprints(&batch, &applied, &error)) << error;
  ASSERT_EQ(detector.IndexedPassages(), kDocs * 8);
  size_t filed = 0;
  auto replace = [&] {
    filed = 0;
    for (size_t i = 0; i < kReplaced; ++i) {
      const Outcome out = detector.Process(
          Page("https://other.example/doc/" + std::to_string(i),
               Sentences("budget" + std::to_string(i), static_cast<int>(i) * 20, 3)),
          5);
      ASSERT_EQ(out.verdict, Verdict::kRevised);
      filed += out.stored->paragraph_hashes.size();
    }
  };
  replace();
  ASSERT_EQ(detector.IndexedPassages(), (kDocs - kReplaced) * 8 + filed);
  detector.Rollback();
  EXPECT_EQ(detector.IndexedPassages(), kDocs * 8);
  replace();
  ASSERT_TRUE(detector.Commit({}, &error)) << error;
  EXPECT_EQ(detector.IndexedPassages(), (kDocs - kReplaced) * 8 + filed);
}

}  // namespace
}  // namespace dedupd::classify
