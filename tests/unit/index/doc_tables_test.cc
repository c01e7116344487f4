// The detector's per-document tables: TagTable (insertion order per tag,
// removal, growth, against a model), UrlTable (every URL back, ids found,
// prefixes shared and bounded) and SketchStore (16-bit sketches give the
// exact sketches' estimates within the stated bound).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "index/paged_array.h"
#include "index/sketch_store.h"
#include "index/tag_table.h"
#include "index/url_table.h"

namespace dedupd::index {
namespace {

std::vector<DocId> Docs(const TagTable& t, uint32_t tag) {
  std::vector<DocId> out;
  t.ForEach(tag, [&](DocId d) {
    out.push_back(d);
    return true;
  });
  return out;
}

TEST(TagTable, KeepsInsertionOrderPerTagThroughRemovalAndGrowth) {
  TagTable t;
  t.Insert(5, 30);
  t.Insert(5, 10);
  t.Insert(7, 1);
  t.Insert(5, 20);
  EXPECT_EQ(Docs(t, 5), (std::vector<DocId>{30, 10, 20}));
  EXPECT_TRUE(t.Remove(5, 10));
  EXPECT_FALSE(t.Remove(5, 10));
  EXPECT_EQ(Docs(t, 5), (std::vector<DocId>{30, 20}));
  for (DocId d = 100; d < 5000; ++d) t.Insert(d % 97, d);  // grows many times
  std::vector<DocId> five = Docs(t, 5);
  ASSERT_GE(five.size(), 2u);
  EXPECT_EQ(five[0], 30u);
  EXPECT_EQ(five[1], 20u);
  EXPECT_TRUE(std::is_sorted(five.begin() + 2, five.end()));
  int stopped = 0;
  t.ForEach(5, [&](DocId) { return ++stopped < 2; });
  EXPECT_EQ(stopped, 2);
  EXPECT_EQ(t.size(), 3u + 4900u);
}

// Issue #15, session 7: an entry is 6 bytes (the tag's low 16 bits and the
// DocId; the bucket stands for the top 16), with at most 1/8 + one slot per
// bucket of slack and the 512 KiB directory: < 7.5 bytes per entry at 2 M
// entries (the 8-byte slots at 64-80% load before: 10-12.5).
TEST(TagTable, AnEntryTakesAtMost7Point5BytesAt2MEntries) {
  TagTable t;
  std::mt19937_64 rng(7);
  double worst = 0;
  for (DocId d = 0; d < 2'000'000; ++d) {
    t.Insert(static_cast<uint32_t>(rng()), d);
    if (d >= 1'900'000 && d % 1000 == 0) {
      worst = std::max(worst, static_cast<double>(t.MemoryBytes()) / static_cast<double>(t.size()));
    }
  }
  EXPECT_LT(worst, 7.5);
  EXPECT_GT(worst, 6.0);
}

TEST(TagTable, MatchesModelUnderRandomChurn) {
  TagTable t;
  std::map<uint32_t, std::vector<DocId>> model;
  std::mt19937_64 rng(3);
  for (int step = 0; step < 60000; ++step) {
    const auto tag = static_cast<uint32_t>(rng() % 300) * 0x01010101u;  // clustered homes
    auto& docs = model[tag];
    if (!docs.empty() && rng() % 3 == 0) {
      const size_t i = rng() % docs.size();
      ASSERT_TRUE(t.Remove(tag, docs[i]));  // removes the oldest entry of that doc
      docs.erase(std::find(docs.begin(), docs.end(), docs[i]));
    } else {
      const auto d = static_cast<DocId>(rng() % 100000);
      t.Insert(tag, d);
      docs.push_back(d);
    }
    if (step % 1000 == 0) {
      for (const auto& [k, v] : model) ASSERT_EQ(Docs(t, k), v) << "step " << step;
    }
  }
}

TEST(UrlTable, GivesEveryUrlBackAndFindsItsId) {
  UrlTable urls;
  std::vector<std::string> all;
  std::mt19937_64 rng(5);
  for (size_t i = 0; i < 20000; ++i) {
    std::string u;
    switch (i % 4) {
      case 0:
        u = "https://www.site" + std::to_string(rng() % 50) + ".example/news/" + std::to_string(i) +
            ".html";
        break;
      case 1:
        u = "http://x.example";
        u += std::to_string(i);
        break;  // no path
      case 2: u = "no-scheme/" + std::string(rng() % 300, 'a') + std::to_string(i); break;  // long
      case 3: u = std::to_string(i); break;
    }
    EXPECT_EQ(urls.Add(u), static_cast<DocId>(i));
    all.push_back(u);
  }
  EXPECT_EQ(urls.Add(all[123]), 123u);  // held once
  EXPECT_EQ(urls.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(urls.Url(static_cast<DocId>(i)), all[i]);
    ASSERT_EQ(urls.Find(all[i]), std::optional<DocId>(static_cast<DocId>(i)));
  }
  EXPECT_EQ(urls.Find("https://www.site1.example/news/none.html"), std::nullopt);
  EXPECT_EQ(urls.Find(""), std::nullopt);
}

TEST(UrlTable, SharesHostPrefixesAndBoundsTheirTable) {
  UrlTable urls;
  size_t bytes = 0;
  for (size_t i = 0; i < 100000; ++i) {
    const std::string u = "https://www.example-news-site.example/xxgk/2025-01/05/content_" +
                          std::to_string(1000000 + i) + ".htm";
    urls.Add(u);
    bytes += u.size();
  }
  // The 37-byte host prefix is held once: each record is its 2-byte header
  // and the path.
  EXPECT_LT(urls.ArenaBytes(), bytes - 30 * 100000);
  UrlTable many;
  for (size_t i = 0; i < 70000; ++i) many.Add("https://h" + std::to_string(i) + ".example/p");
  for (size_t i = 0; i < 70000; i += 999) {
    EXPECT_EQ(many.Url(static_cast<DocId>(i)), "https://h" + std::to_string(i) + ".example/p");
  }
}

// The page's bottom-k sketch of a random set of n shingles (as BottomK32).
std::vector<uint32_t> Sketch(const std::vector<uint64_t>& set, size_t k) {
  std::vector<uint32_t> out;
  fingerprint::BottomK32(set, k, &out);
  return out;
}

TEST(SketchStore, QuantisedEstimatesStayWithinTheBound) {
  constexpr size_t k = 64;
  std::mt19937_64 rng(11);
  SketchStore store(k);
  store.Resize(1);
  double sum_dc = 0, sum_dj = 0, max_dc = 0, max_dj = 0;
  size_t differ = 0;
  const int pairs = 2000;
  for (int p = 0; p < pairs; ++p) {
    // Two sets sharing a fraction of their shingles, of sizes 20 to 3000.
    // Sizes at most 3.3x apart: Jaccard >= 0.3 (the verdict's other test)
    // is impossible beyond, so only these pairs can be decided differently.
    const size_t na = 20 + rng() % 3000;
    const size_t nb = std::max<size_t>(20, na * (30 + rng() % 300) / 100);
    const double share = static_cast<double>(rng() % 1001) / 1000.0;
    std::vector<uint64_t> a, b;
    for (size_t i = 0; i < na; ++i) a.push_back(rng());
    for (size_t i = 0; i < nb; ++i) {
      b.push_back(i < na && static_cast<double>(rng() % 1000) < share * 1000 ? a[i] : rng());
    }
    const auto sa = Sketch(a, k), sb = Sketch(b, k);
    const auto exact = fingerprint::CompareSketches(sa, a.size(), sb, b.size());
    store.Set(0, sb, static_cast<uint32_t>(b.size()));
    const auto quantised = store.Compare(0, sa, a.size());
    const double dc = std::abs(quantised.containment - exact.containment);
    const double dj = std::abs(quantised.jaccard - exact.jaccard);
    sum_dc += dc;
    sum_dj += dj;
    max_dc = std::max(max_dc, dc);
    max_dj = std::max(max_dj, dj);
    differ += dc > 0 || dj > 0;
  }
  // docs/fingerprint.md: with 12-bit gaps (~2^15.7 cells across a sketch's
  // span) a page value shares a cell with a different held value in a few
  // percent of the pairs (48 of 2,000 gave other estimates when this was
  // written; 3 with 16-bit gaps), and then moves an estimate by a sample or
  // two (observed at most 0.056 for containment, 0.031 for Jaccard; means
  // 0.0007 and 0.0003).
  EXPECT_LT(sum_dc / pairs, 0.001);
  EXPECT_LT(sum_dj / pairs, 0.0005);
  EXPECT_LE(max_dc, 0.07);
  EXPECT_LE(max_dj, 0.05);
  EXPECT_LT(differ, static_cast<size_t>(pairs * 3 / 100));
  // A sketch against itself is still a perfect match.
  std::vector<uint64_t> s;
  for (size_t i = 0; i < 1500; ++i) s.push_back(rng());
  store.Set(0, Sketch(s, k), 1500);
  const auto self = store.Compare(0, Sketch(s, k), 1500);
  EXPECT_DOUBLE_EQ(self.containment, 1.0);
  EXPECT_DOUBLE_EQ(self.jaccard, 1.0);
}

TEST(SketchStore, KeepsSketchesLongerThan255Values) {
  // detect.confirm_sketch_size goes up to 4,096 (the sweeps used 96-4,096).
  constexpr size_t k = 300;
  SketchStore store(k);
  store.Resize(2);
  std::mt19937_64 rng(2);
  std::vector<uint64_t> a, b;
  for (size_t i = 0; i < 2000; ++i) a.push_back(rng());
  for (size_t i = 0; i < 2000; ++i) b.push_back(i < 1500 ? a[i] : rng());
  const auto sa = Sketch(a, k), sb = Sketch(b, k);
  ASSERT_EQ(sb.size(), k);
  store.Set(1, sb, 2000);
  const auto exact = fingerprint::CompareSketches(sa, 2000, sb, 2000);
  const auto quantised = store.Compare(1, sa, 2000);
  EXPECT_NEAR(quantised.jaccard, exact.jaccard, 2.0 / k);
  EXPECT_NEAR(quantised.containment, exact.containment, 2.0 / k);
  EXPECT_GT(exact.jaccard, 0.4);
}

TEST(SketchStore, KnownForgetAndTheShift) {
  SketchStore store(64);
  store.Resize(3);
  EXPECT_FALSE(store.Known(2));
  const std::vector<uint32_t> small = {1, 5, 4095};
  EXPECT_EQ(SketchStore::ShiftFor(small), 0);
  EXPECT_EQ(SketchStore::ShiftFor(std::vector<uint32_t>{1, 5, 4101}), 1);   // a gap of 4096
  EXPECT_EQ(SketchStore::ShiftFor(std::vector<uint32_t>{1, 1u << 20}), 9);  // 2^20 >> 8 = 4096
  EXPECT_EQ(SketchStore::ShiftFor(std::vector<uint32_t>{~0u}), 20);
  store.Set(2, small, 3);
  EXPECT_TRUE(store.Known(2));
  EXPECT_EQ(store.ShingleCount(2), 3u);
  const auto e = store.Compare(2, small, 3);  // whole sets, shift 0: exact
  EXPECT_DOUBLE_EQ(e.containment, 1.0);
  store.Forget(2);
  EXPECT_FALSE(store.Known(2));
  // One page each: metadata (5 B), code lengths (1 B), block runs (4 B), arena.
  EXPECT_LE(store.MemoryBytes(), 4096u * 10 + 32768u * 8 + 256);
}

// Issue #15: 12-bit gaps, Rice-coded (session 9): 5 B of metadata, 1 B of
// code length, 0.25 B of block offset and ~86 B of code per document at
// k = 64 for sketches of 1,000-5,000 shingles (fixed 12-bit gaps took 96 B
// of words, 101 B in all).
TEST(SketchStore, ADocumentTakesUnder95BytesAt64) {
  constexpr DocId kDocs = 20'000;
  SketchStore store(64);
  store.Resize(100'000);
  std::mt19937_64 rng(5);
  std::vector<uint64_t> set;
  for (DocId d = 0; d < kDocs; ++d) {
    set.clear();
    const size_t n = 1000 + rng() % 4000;
    for (size_t i = 0; i < n; ++i) set.push_back(rng());
    store.Set(d, Sketch(set, 64), static_cast<uint32_t>(n));
  }
  // The codes' bytes (the arena's words in use), and the slots' 6.25 B.
  const double code = static_cast<double>(store.ArenaWords() * 8) / kDocs;
  EXPECT_LE(code, 95.0 - 6.25);
  EXPECT_GE(code, 70.0);
  // All told: the slots, the codes, up to one arena page of 256 KiB more.
  EXPECT_LE(store.MemoryBytes(), 100'000 * 6.3 + store.ArenaWords() * 8 + (256u << 10) + 65536);
  EXPECT_EQ(store.GarbageWords(), 0u);  // codes appended in DocId order: no run left behind
  // The packed metadata keeps what the estimate reads: the exact count (a
  // page's shingles never reach 2^30), the size, the shift, known or not.
  const std::vector<uint32_t> values = {7, 4000, 1u << 20};
  store.Set(5, values, 1'000'000'000);
  EXPECT_TRUE(store.Known(5));
  EXPECT_EQ(store.ShingleCount(5), 1'000'000'000u);
  // 3 values of a set of 10^9 (fewer than min(k, count)): the size is held
  // apart, and read back: the same 3 values estimate 1, a page holding 2 of
  // them and another one shares 2 of the 4 in the union's bottom sample.
  EXPECT_DOUBLE_EQ(store.Compare(5, values, 1'000'000'000).jaccard, 1.0);
  EXPECT_DOUBLE_EQ(store.Compare(5, std::vector<uint32_t>{7, 4000, 5000}, 1'000'000'000).jaccard,
                   fingerprint::CompareSketches(std::vector<uint32_t>{7, 4000, 5000}, 1'000'000'000,
                                                values, 1'000'000'000)
                       .jaccard);
  store.Set(6, values, 4'000'000'000u);  // no page has so many: held as 2^30 - 1
  EXPECT_EQ(store.ShingleCount(6), (1u << 30) - 1);
  store.Set(7, values, 3);  // the whole set: the exact path
  EXPECT_DOUBLE_EQ(store.Compare(7, values, 3).jaccard, 1.0);
  EXPECT_DOUBLE_EQ(store.Compare(7, std::vector<uint32_t>{7, 4000}, 2).containment, 1.0);
  EXPECT_DOUBLE_EQ(store.Compare(7, std::vector<uint32_t>{7, 4000}, 2).jaccard, 2.0 / 3.0);
  store.Forget(7);
  EXPECT_FALSE(store.Known(7));
  EXPECT_EQ(store.ShingleCount(7), 3u);
  // Gaps straddling two words come back whole: every value kept, in order.
  rng.seed(3);
  set.clear();
  for (size_t i = 0; i < 5000; ++i) set.push_back(rng());
  const auto sketch = Sketch(set, 64);
  store.Set(99'999, sketch, 5000);
  const auto self = store.Compare(99'999, sketch, 5000);
  EXPECT_DOUBLE_EQ(self.jaccard, 1.0);
  EXPECT_DOUBLE_EQ(self.containment, 1.0);
}

// Session 9: the Rice codes hold every quantised value exactly, through
// rewrites of a block's run (a code of another length), runs left behind and
// compactions, for every parameter (sets of 65 to 10^6 shingles: spans from
// a few cells to the whole range), the fixed 12-bit fallback and sketches
// shorter than k.
TEST(SketchStore, RiceCodesGiveBackEveryValueThroughRewritesAndCompaction) {
  constexpr DocId kDocs = 3000;
  SketchStore store(64);
  store.Resize(kDocs);
  std::mt19937_64 rng(9);
  std::vector<std::vector<uint32_t>> model(kDocs);
  std::vector<uint32_t> got;
  size_t compactions = 0, garbage_before = 0;
  for (int round = 0; round < 40'000; ++round) {
    const DocId d = round < static_cast<int>(kDocs) ? static_cast<DocId>(round)
                                                    : static_cast<DocId>(rng() % kDocs);
    std::vector<uint32_t> sketch;
    switch (rng() % 4) {
      case 0: {  // 64 values spread as a bottom-k sketch's of 65 to ~2^32 shingles
        const uint64_t span = 64 + rng() % (rng() % 2 ? (uint64_t{1} << 32) - 64 : 100'000);
        for (int i = 0; i < 64; ++i) sketch.push_back(static_cast<uint32_t>(rng() % span));
        break;
      }
      case 1:  // a short one (a whole small set)
        for (size_t i = 0, n = rng() % 10; i < n; ++i)
          sketch.push_back(static_cast<uint32_t>(rng()));
        break;
      case 2:  // one wide gap among narrow ones: the fixed 12-bit code wins
        for (uint32_t i = 0; i < 63; ++i)
          sketch.push_back(i * 4000 + static_cast<uint32_t>(rng() % 3));
        sketch.push_back(63 * 4000 + 4095);
        break;
      default:  // equal cells (gaps of 0) and gaps of 4095
        for (uint32_t i = 0; i < 64; ++i) sketch.push_back(i / 2 * 4095 + i % 2);
        break;
    }
    std::sort(sketch.begin(), sketch.end());
    sketch.erase(std::unique(sketch.begin(), sketch.end()), sketch.end());
    store.Set(d, sketch, static_cast<uint32_t>(std::max<size_t>(sketch.size(), 100)));
    const int shift = SketchStore::ShiftFor(sketch);
    model[d].clear();
    for (const uint32_t v : sketch) model[d].push_back(v >> shift);
    compactions += store.GarbageWords() < garbage_before;
    garbage_before = store.GarbageWords();
    if (round % 97 == 0 || round == 39'999) {
      for (DocId e = 0; e < kDocs && e <= static_cast<DocId>(round); ++e) {
        store.Quantised(e, &got);
        ASSERT_EQ(got, model[e]) << "doc " << e << " round " << round;
      }
    }
  }
  EXPECT_GT(compactions, 3u);  // the runs left behind were compacted several times
}

// Two held values in one cell stay two samples (a cut to one would make the
// held whole set {A, B, C} look like the page's {A, C}: Jaccard 1, not 2/3).
TEST(SketchStore, ValuesSharingACellStayDistinct) {
  SketchStore store(64);
  store.Resize(1);
  const std::vector<uint32_t> held = {0x1000, 0x1001, 0x7FFFF};  // shift 7: 0x1000, 0x1001 -> 32
  ASSERT_EQ(SketchStore::ShiftFor(held), 7);
  store.Set(0, held, 3);
  const auto e = store.Compare(0, std::vector<uint32_t>{0x1000, 0x7FFFF}, 2);
  EXPECT_DOUBLE_EQ(e.containment, 1.0);
  EXPECT_DOUBLE_EQ(e.jaccard, 2.0 / 3.0);
  const auto same = store.Compare(0, held, 3);
  EXPECT_DOUBLE_EQ(same.jaccard, 1.0);
}

TEST(PagedArray, GrowsWithoutMovingElements) {
  PagedArray<uint64_t, 4> a;
  a.emplace_back() = 7;
  const uint64_t* first = &a[0];
  for (uint64_t i = 1; i < 1000; ++i) a.push_back(i);
  EXPECT_EQ(first, &a[0]);
  EXPECT_EQ(a[0], 7u);
  EXPECT_EQ(a[999], 999u);
  EXPECT_EQ(a.size(), 1000u);
}

}  // namespace
}  // namespace dedupd::index
