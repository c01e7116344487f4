// ParagraphIndex: postings, counting, boilerplate cut-off, and a randomized
// comparison with a simple map-of-sets model.
#include "index/paragraph_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace dedupd::index {
namespace {

using Result = std::vector<std::pair<DocId, uint32_t>>;

TEST(ParagraphIndex, SharedParagraphsRankCandidates) {
  ParagraphIndex idx;
  idx.Insert(1, std::vector<uint64_t>{10, 11, 12, 13});
  idx.Insert(2, std::vector<uint64_t>{10, 11, 99});
  idx.Insert(3, std::vector<uint64_t>{13});
  EXPECT_EQ(idx.size(), 5u);
  EXPECT_EQ(idx.postings(), 8u);
  Result out = {{77, 7}};
  idx.Query(std::vector<uint64_t>{10, 11, 12, 13, 50}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{1, 4}, {2, 2}, {3, 1}}));
  idx.Query(std::vector<uint64_t>{10, 11, 12, 13, 50}, 2, 10, &out);
  EXPECT_EQ(out, (Result{{1, 4}, {2, 2}}));
  idx.Query(std::vector<uint64_t>{10, 11, 12, 13, 50}, 1, 2, &out);
  EXPECT_EQ(out, (Result{{1, 4}, {2, 2}}));
  idx.Query(std::vector<uint64_t>{10, 11}, 0, 10, &out);  // min_shared 0 acts as 1
  EXPECT_EQ(out, (Result{{1, 2}, {2, 2}}));
  idx.Query(std::vector<uint64_t>{}, 1, 10, &out);
  EXPECT_TRUE(out.empty());
}

TEST(ParagraphIndex, RepeatedHashesCountOnce) {
  ParagraphIndex idx;
  idx.Insert(1, std::vector<uint64_t>{5, 6, 5, 6, 5});  // a doubled body
  EXPECT_EQ(idx.postings(), 2u);
  Result out;
  idx.Query(std::vector<uint64_t>{5, 5, 6, 6}, 3, 10, &out);
  EXPECT_TRUE(out.empty());
  idx.Query(std::vector<uint64_t>{5, 5, 6, 6}, 2, 10, &out);
  EXPECT_EQ(out, (Result{{1, 2}}));
  idx.Insert(1, std::vector<uint64_t>{5});  // already filed: no second posting
  EXPECT_EQ(idx.postings(), 2u);
}

TEST(ParagraphIndex, RemoveRevisesADocument) {
  ParagraphIndex idx;
  idx.Insert(1, std::vector<uint64_t>{1, 2, 3});
  idx.Insert(2, std::vector<uint64_t>{1, 2, 3});
  idx.Remove(1, std::vector<uint64_t>{1, 2, 3});
  idx.Insert(1, std::vector<uint64_t>{1, 4});
  Result out;
  idx.Query(std::vector<uint64_t>{1, 2, 3}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{2, 3}, {1, 1}}));
  idx.Remove(7, std::vector<uint64_t>{1, 2, 3, 1000});  // unknown: no effect
  idx.Query(std::vector<uint64_t>{1, 2, 3}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{2, 3}, {1, 1}}));
  idx.Remove(2, std::vector<uint64_t>{1, 2, 3});
  idx.Remove(1, std::vector<uint64_t>{1, 4});
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.postings(), 0u);
}

TEST(ParagraphIndex, BoilerplateParagraphsAreSkipped) {
  ParagraphIndex idx(/*max_postings=*/4);
  const uint64_t footer = 0xF00F;
  for (DocId d = 0; d < 5; ++d) idx.Insert(d, std::vector<uint64_t>{footer, 100 + d});
  Result out;
  // 5 holders > 4: the footer matches nothing, the article paragraph still does.
  idx.Query(std::vector<uint64_t>{footer, 102}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{2, 1}}));
  // At the limit it still counts.
  idx.Remove(4, std::vector<uint64_t>{footer, 104});
  idx.Query(std::vector<uint64_t>{footer}, 1, 10, &out);
  EXPECT_TRUE(out.empty()) << "stays boilerplate until all holders are gone";
  for (DocId d = 0; d < 4; ++d) idx.Remove(d, std::vector<uint64_t>{footer, 100 + d});
  EXPECT_EQ(idx.size(), 0u);
  idx.Insert(9, std::vector<uint64_t>{footer});
  idx.Query(std::vector<uint64_t>{footer}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{9, 1}}));

  ParagraphIndex at_limit(4);
  for (DocId d = 0; d < 4; ++d) at_limit.Insert(d, std::vector<uint64_t>{footer});
  at_limit.Query(std::vector<uint64_t>{footer}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));

  ParagraphIndex one(1);  // every shared paragraph is boilerplate
  one.Insert(1, std::vector<uint64_t>{7});
  one.Insert(2, std::vector<uint64_t>{7});
  one.Query(std::vector<uint64_t>{7}, 1, 10, &out);
  EXPECT_TRUE(out.empty());
  one.Remove(1, std::vector<uint64_t>{7});
  one.Query(std::vector<uint64_t>{7}, 1, 10, &out);
  EXPECT_TRUE(out.empty());
  one.Remove(2, std::vector<uint64_t>{7});
  EXPECT_EQ(one.size(), 0u);
}

// The model: paragraph -> holders, plus the sticky boilerplate flag. A
// paragraph is what the index keeps of a hash, its tag (with ~160,000 random
// hashes filed, some pairs share one: the stated approximation).
struct ModelEntry {
  std::set<DocId> docs;
  bool boilerplate = false;
};

std::set<uint32_t> Tags(const std::vector<uint64_t>& hashes) {
  std::set<uint32_t> tags;
  for (const uint64_t h : hashes) tags.insert(ParagraphIndex::Tag(h));
  return tags;
}

// Random inserts, removals and queries against the model. `by_generation`
// removes as the detector does for a document another instance owns
// (session 9): the tags the boilerplate listener reported for those counted
// in a boilerplate paragraph (RemoveTags), then Retire() for its postings,
// with a Sweep() when due; a third of the hashes share their tag's top 16
// bits with others. The model counts live holders only, so a stale posting
// counted against the cut-off (a paragraph turned boilerplate early) fails.
void Churn(bool by_generation) {
  const bool by_prefix = by_generation;
  constexpr size_t kMax = 8;
  constexpr uint64_t kMix = 0x9E3779B97F4A7C15ull;
  uint64_t inverse = kMix;
  for (int i = 0; i < 6; ++i) inverse *= 2 - kMix * inverse;
  ParagraphIndex idx(kMax);
  std::map<uint32_t, ModelEntry> model;
  std::map<DocId, std::vector<uint64_t>> filed;
  std::multimap<DocId, uint32_t> counted;  // (doc, tag) the listener reported
  idx.SetBoilerplateListener([&](DocId d, uint32_t tag) { counted.emplace(d, tag); });
  std::mt19937_64 rng(8);
  auto random_paragraphs = [&] {
    std::vector<uint64_t> v;
    const size_t n = 1 + rng() % 12;
    for (size_t i = 0; i < n; ++i) {
      // A small pool makes sharing (and boilerplate) common; the rest is unique.
      const uint64_t pick = rng() % 3;
      if (pick == 0) {
        v.push_back(rng() % 400);
      } else if (pick == 1 && by_prefix) {
        // Tags (p << 16) | x: 4 prefixes, 12 tags each (one probe run each).
        static constexpr uint64_t kPrefixes[] = {0x1234, 0x8888, 0xC001, 0xFFFF};
        const uint64_t mixed =
            (kPrefixes[rng() % 4] << 48) | ((rng() % 12) << 32) | (rng() & 0xFFFFFFFF);
        v.push_back(mixed * inverse);
      } else {
        v.push_back(rng());
      }
    }
    return v;
  };
  size_t sweeps = 0;
  auto remove = [&](DocId doc, const std::vector<uint64_t>& p) {
    if (!by_generation) {
      idx.Remove(doc, p);
      counted.erase(doc);  // as the detector drops them
      return;
    }
    (void)p;
    auto [c, end] = counted.equal_range(doc);
    std::vector<uint32_t> tags;
    for (; c != end; ++c) tags.push_back(c->second);
    counted.erase(doc);
    idx.RemoveTags(doc, tags);
    idx.Retire(doc);
    idx.Settle();
    if (idx.SweepDue(12)) {
      idx.Sweep();
      ++sweeps;
    }
  };
  for (int step = 0; step < 40000; ++step) {
    const DocId doc = static_cast<DocId>(rng() % 3000);
    auto it = filed.find(doc);
    if (it != filed.end()) {
      remove(doc, it->second);
      for (const uint32_t h : Tags(it->second)) {
        ModelEntry& e = model[h];
        e.docs.erase(doc);
        if (e.docs.empty()) model.erase(h);
      }
      filed.erase(it);
    }
    if (rng() % 4 != 0) {
      const std::vector<uint64_t> p = random_paragraphs();
      idx.Insert(doc, p);
      for (const uint32_t h : Tags(p)) {
        ModelEntry& e = model[h];
        e.docs.insert(doc);
        if (e.docs.size() > kMax) e.boilerplate = true;
      }
      filed[doc] = p;
    }
    if (step % 50 == 0) {
      const std::vector<uint64_t> q = random_paragraphs();
      const size_t min_shared = 1 + rng() % 2;
      std::map<DocId, uint32_t> counts;
      for (const uint32_t h : Tags(q)) {
        auto m = model.find(h);
        if (m == model.end() || m->second.boilerplate) continue;
        for (const DocId d : m->second.docs) ++counts[d];
      }
      Result want;
      for (const auto& [d, c] : counts) {
        if (c >= min_shared) want.emplace_back(d, c);
      }
      std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      if (want.size() > 20) want.resize(20);
      Result got;
      idx.Query(q, min_shared, 20, &got);
      ASSERT_EQ(got, want) << "step " << step;
      ASSERT_EQ(idx.size(), model.size());
      if (step % 1000 != 0) continue;
      size_t want_postings = 0;
      for (const auto& [tag, e] : model) want_postings += e.docs.size();
      ASSERT_EQ(idx.postings(), want_postings) << "step " << step;
      // The listener reported exactly the holders of boilerplate paragraphs.
      std::multiset<std::pair<DocId, uint32_t>> want_counted, got_counted;
      for (const auto& [tag, e] : model) {
        if (!e.boilerplate) continue;
        for (const DocId d : e.docs) want_counted.emplace(d, tag);
      }
      for (const auto& [d, tag] : counted) got_counted.emplace(d, tag);
      ASSERT_EQ(got_counted, want_counted) << "step " << step;
    }
  }
  EXPECT_GT(idx.MemoryBytes(), 0u);
  size_t boilerplate = 0;
  for (const auto& [tag, e] : model) boilerplate += e.boilerplate ? 1 : 0;
  EXPECT_GT(boilerplate, 10u);
  // Empty it completely: the table shrinks and everything is gone.
  for (const auto& [doc, p] : filed) remove(doc, p);
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.postings(), 0u);
  if (by_generation) {
    EXPECT_GT(sweeps, 2u);
  }
}

// Trap: a generation is 4 bits. A document retired and filed again 40
// times without a Sweep() has stale postings of every generation; a reused
// generation must not bring the old ones back (Retire erases a document's
// stale postings before its 16th generation).
TEST(ParagraphIndex, AGenerationIsNeverReusedWhileItsStalePostingsAreLeft) {
  ParagraphIndex idx;
  std::vector<uint64_t> other = {1000, 1001};
  idx.Insert(9, other);
  std::vector<std::vector<uint64_t>> versions;
  for (uint64_t v = 0; v < 40; ++v) {
    versions.push_back({v * 10 + 1, v * 10 + 2, 1000});
    idx.Insert(7, versions.back());
    Result out;
    for (uint64_t old = 0; old < v; ++old) {
      idx.Query(std::vector<uint64_t>{old * 10 + 1, old * 10 + 2}, 1, 10, &out);
      ASSERT_TRUE(out.empty()) << "version " << old << " came back at " << v;
    }
    idx.Query(versions.back(), 1, 10, &out);
    ASSERT_EQ(out, (Result{{7, 3}, {9, 1}})) << "version " << v;
    ASSERT_EQ(idx.postings(), 5u);
    ASSERT_EQ(idx.size(), 4u);
    idx.Retire(7);  // no Settle, no Sweep: every stale posting stays
  }
  Result out;
  idx.Query(std::vector<uint64_t>{1000}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{9, 1}}));
  idx.Sweep();
  EXPECT_EQ(idx.postings(), 2u);
}

// Trap: the boilerplate cut-off counts live holders. Two holders of a
// paragraph, one retired: a third holder makes two live ones, within
// max_postings 2, so the paragraph still finds its holders (counting the
// stale posting would turn it boilerplate and find nothing).
TEST(ParagraphIndex, TheCutOffCountsLiveHoldersOnly) {
  ParagraphIndex idx(2);
  std::vector<std::pair<DocId, uint32_t>> counted;
  idx.SetBoilerplateListener([&](DocId d, uint32_t tag) { counted.emplace_back(d, tag); });
  idx.Insert(1, std::vector<uint64_t>{50});
  idx.Insert(2, std::vector<uint64_t>{50});
  idx.Retire(1);
  idx.Insert(3, std::vector<uint64_t>{50});
  Result out;
  idx.Query(std::vector<uint64_t>{50}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{2, 1}, {3, 1}}));
  EXPECT_EQ(idx.postings(), 2u);
  EXPECT_TRUE(counted.empty());
  // A fourth makes three live holders: boilerplate, and the listener hears
  // of the live ones only (doc 1 holds no count to take out later).
  idx.Insert(4, std::vector<uint64_t>{50});
  idx.Query(std::vector<uint64_t>{50}, 1, 10, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(idx.postings(), 3u);
  const uint32_t tag = ParagraphIndex::Tag(50);
  EXPECT_EQ(counted, (std::vector<std::pair<DocId, uint32_t>>{{2, tag}, {3, tag}, {4, tag}}));
}

// Trap: a rolled-back batch restores a retired document's generation. Its
// postings are live again, and one the cut-off erased meanwhile (stale then)
// is reported, so the caller files it again: the paragraph is boilerplate
// and the restored document is counted in it, as if never retired.
TEST(ParagraphIndex, RestoreBringsBackARetiredDocumentAndReportsWhatTheCutOffErased) {
  ParagraphIndex idx(2);
  std::vector<std::pair<DocId, uint32_t>> unsettled;
  idx.SetUnsettledListener([&](DocId d, uint32_t tag) { unsettled.emplace_back(d, tag); });
  idx.Insert(1, std::vector<uint64_t>{50, 60});
  idx.Insert(2, std::vector<uint64_t>{50});
  const uint8_t generation = idx.Retire(1);  // staged: not settled
  idx.Insert(1, std::vector<uint64_t>{70});  // the batch's new version
  idx.Insert(3, std::vector<uint64_t>{50});
  idx.Insert(4, std::vector<uint64_t>{50});  // 2, 3, 4: boilerplate; 1's stale entry erased
  EXPECT_EQ(unsettled, (std::vector<std::pair<DocId, uint32_t>>{{1, ParagraphIndex::Tag(50)}}));
  // Rollback, in reverse: the new version's postings exactly, then 1's generation.
  idx.Remove(4, std::vector<uint64_t>{50});
  idx.Remove(3, std::vector<uint64_t>{50});
  idx.Remove(1, std::vector<uint64_t>{70});
  idx.Restore(1, generation);
  idx.InsertTags(1, std::vector<uint32_t>{unsettled[0].second});
  Result out;
  idx.Query(std::vector<uint64_t>{60, 70}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{1, 1}}));  // 60 live again, 70 gone
  // 50: still boilerplate, counting 1 and 2 as before the batch... as the
  // index without generations would (its count went 3 -> 1 -> 2).
  EXPECT_EQ(idx.postings(), 3u);
  idx.Remove(2, std::vector<uint64_t>{50});
  idx.Query(std::vector<uint64_t>{50}, 1, 10, &out);
  EXPECT_TRUE(out.empty()) << "1 is still counted in the boilerplate paragraph";
  idx.RemoveTags(1, std::vector<uint32_t>{ParagraphIndex::Tag(50)});
  EXPECT_EQ(idx.size(), 1u);  // 60
  // A settled retirement is not reported.
  idx.Settle();
  unsettled.clear();
  idx.Insert(5, std::vector<uint64_t>{80});
  idx.Insert(6, std::vector<uint64_t>{80});
  idx.Retire(5);
  idx.Settle();
  idx.Insert(7, std::vector<uint64_t>{80});
  idx.Insert(8, std::vector<uint64_t>{80});
  EXPECT_TRUE(unsettled.empty());
}

// Trap: a posting keeps 27 bits of DocId. A larger DocId files nothing
// (rather than a posting read back as another document's).
TEST(ParagraphIndex, DocIdsPast27BitsFileNoPassages) {
  ParagraphIndex idx;
  idx.Insert(ParagraphIndex::kMaxDocs, std::vector<uint64_t>{5, 6});
  idx.Insert(ParagraphIndex::kMaxDocs + 3, std::vector<uint64_t>{5});
  idx.Insert(3, std::vector<uint64_t>{5});
  Result out;
  idx.Query(std::vector<uint64_t>{5, 6}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{3, 1}}));
  EXPECT_EQ(idx.postings(), 1u);
  idx.Retire(ParagraphIndex::kMaxDocs + 3);
  idx.Remove(ParagraphIndex::kMaxDocs + 3, std::vector<uint64_t>{5});
  idx.Query(std::vector<uint64_t>{5, 6}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{3, 1}}));
}

TEST(ParagraphIndex, MatchesModelUnderRandomChurn) {
  Churn(/*by_prefix=*/false);
}

TEST(ParagraphIndex, RemovalByGenerationMatchesModelUnderRandomChurn) {
  Churn(/*by_generation=*/true);
}

// Issue #15, session 7: a posting takes a 6-byte entry (the tag's low 16
// bits and the doc id) in its prefix's bucket, which grows by 1/8, so with
// malloc's header and rounding it costs at most ~7.4 bytes once buckets hold
// ~25 entries (8-byte slots at 64-80% load took 10-12.5); the 1 MiB bucket
// directory adds 0.65 B a posting at 1.6 M postings.
TEST(ParagraphIndex, APostingTakesAtMost8Bytes) {
  ParagraphIndex idx;
  std::mt19937_64 rng(15);
  double worst = 0, best = 1e9;
  for (DocId doc = 0; doc < 200'000; ++doc) {
    std::vector<uint64_t> p(8);
    for (uint64_t& h : p) h = rng();
    idx.Insert(doc, p);
    if (doc >= 187'500 && doc % 1'000 == 0) {  // >= 1.5 M postings (postings() counts)
      const double per =
          static_cast<double>(idx.MemoryBytes()) / static_cast<double>(idx.postings());
      worst = std::max(worst, per);
      best = std::min(best, per);
    }
  }
  EXPECT_LE(worst, 8.0);
  EXPECT_GE(best, 6.0) << "an entry is 6 bytes";
}

// Hashes whose remixes (key * 0x9E3779B97F4A7C15) agree on the top 32 bits.
struct SameTag {
  static constexpr uint64_t kMix = 0x9E3779B97F4A7C15ull;
  uint64_t inverse = kMix;  // Newton's iteration for kMix^-1 mod 2^64
  SameTag() {
    for (int i = 0; i < 6; ++i) inverse *= 2 - kMix * inverse;
  }
  // The hash whose remix is `mixed`.
  uint64_t Unmix(uint64_t mixed) const { return mixed * inverse; }
};

// The stated approximation: a slot keeps the top 32 bits of the hash's remix,
// so two hashes whose remixes differ only in the low 32 bits are one
// paragraph. Random 64-bit hashes do so with probability 2^-32 per pair.
TEST(ParagraphIndex, HashesAgreeingOnTheKept32BitsAreOneParagraph) {
  const SameTag same;
  ASSERT_EQ(SameTag::kMix * same.inverse, 1u);
  const uint64_t a = 0x0123456789ABCDEFull;
  const uint64_t mixed = a * SameTag::kMix;
  const uint64_t b = same.Unmix(mixed ^ 0xFFFFFFFFull);        // low 32 flipped
  const uint64_t c = same.Unmix(mixed ^ (uint64_t{1} << 32));  // one kept bit flipped
  EXPECT_EQ(ParagraphIndex::Tag(a), ParagraphIndex::Tag(b));
  EXPECT_NE(ParagraphIndex::Tag(a), ParagraphIndex::Tag(c));
  ParagraphIndex idx;
  idx.Insert(1, std::vector<uint64_t>{a});
  Result out;
  idx.Query(std::vector<uint64_t>{b}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{1, 1}}));
  idx.Query(std::vector<uint64_t>{c}, 1, 10, &out);
  EXPECT_TRUE(out.empty());
  idx.Insert(2, std::vector<uint64_t>{b});
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_EQ(idx.postings(), 2u);
  // A remix below 2^16 is taken with bit 16 set (prefix 0 is left to
  // callers as "none").
  EXPECT_EQ(ParagraphIndex::Tag(0), 0x10000u);
  EXPECT_EQ(ParagraphIndex::Tag(same.Unmix(0xFFFFFFFFull)), 0x10000u);
  EXPECT_EQ(ParagraphIndex::Tag(same.Unmix(0x1234FFFFFFFFull)), 0x11234u);
  EXPECT_EQ(ParagraphIndex::Prefix(ParagraphIndex::Tag(0)), 1u);
}

// The detector keeps only the tags of a document another instance owns:
// removing by tags takes out exactly that document's postings, also where
// another document holds a paragraph of the same tag (the doc id tells them
// apart), and filing by tags is filing by the hashes.
TEST(ParagraphIndex, TagsFileAndRemoveWhatTheHashesWould) {
  const SameTag same;
  const uint64_t a = 0x0123456789ABCDEFull;
  const uint64_t a_twin = same.Unmix((a * SameTag::kMix) ^ 0x5A5A5A5Aull);  // a's tag
  const std::vector<uint64_t> one = {a, 11, 12};
  const std::vector<uint64_t> two = {a_twin, 13};
  ParagraphIndex idx;
  idx.Insert(1, one);
  idx.Insert(2, two);
  std::vector<uint32_t> one_tags;
  for (const uint64_t h : one) one_tags.push_back(ParagraphIndex::Tag(h));
  idx.RemoveTags(1, one_tags);
  EXPECT_EQ(idx.postings(), 2u);
  Result out;
  idx.Query(std::vector<uint64_t>{a, 11, 12, 13}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{2, 2}}));
  idx.InsertTags(1, one_tags);
  idx.Query(std::vector<uint64_t>{a, 11, 12, 13}, 1, 10, &out);
  EXPECT_EQ(out, (Result{{1, 3}, {2, 2}}));
  idx.Remove(1, one);
  idx.Remove(2, two);
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.postings(), 0u);
}

}  // namespace
}  // namespace dedupd::index
