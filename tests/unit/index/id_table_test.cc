// IdTable (the detector's by_content_): insertion order per tag through
// removal, re-keying and growth, against a model, with clustered tags; and
// its 4-byte slots.
#include "index/id_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

namespace dedupd::index {
namespace {

// The owner's keys: the tag of every DocId.
struct Keys {
  std::vector<uint32_t> tag;
  static uint32_t TagOf(const void* self, DocId d) {
    return static_cast<const Keys*>(self)->tag[d];
  }
};

std::vector<DocId> Docs(const IdTable& t, uint32_t tag) {
  std::vector<DocId> out;
  t.ForEach(tag, [&](DocId d) {
    out.push_back(d);
    return true;
  });
  return out;
}

TEST(IdTable, KeepsInsertionOrderPerTag) {
  Keys keys;
  keys.tag.assign(10000, 0);
  IdTable t(&Keys::TagOf, &keys);
  keys.tag[30] = keys.tag[10] = keys.tag[20] = 5;
  keys.tag[1] = 7;
  t.Insert(30);
  t.Insert(10);
  t.Insert(1);
  t.Insert(20);
  EXPECT_EQ(Docs(t, 5), (std::vector<DocId>{30, 10, 20}));
  EXPECT_TRUE(t.Remove(10));
  EXPECT_FALSE(t.Remove(10));
  EXPECT_EQ(Docs(t, 5), (std::vector<DocId>{30, 20}));
  for (DocId d = 100; d < 5000; ++d) {  // grows many times
    keys.tag[d] = d % 97;
    t.Insert(d);
  }
  std::vector<DocId> five = Docs(t, 5);
  ASSERT_GE(five.size(), 2u);
  EXPECT_EQ(five[0], 30u);
  EXPECT_EQ(five[1], 20u);
  EXPECT_TRUE(std::is_sorted(five.begin() + 2, five.end()));
  int stopped = 0;
  t.ForEach(5, [&](DocId) { return ++stopped < 2; });
  EXPECT_EQ(stopped, 2);
  EXPECT_EQ(t.size(), 3u + 4900u);
  // 4-byte slots at <= 80% load, grown by 1.25x: < 6.25 bytes per entry
  // (TagTable's 8-byte slots: < 12.5).
  EXPECT_LT(t.MemoryBytes(), t.size() * 25 / 4 + 128);
}

TEST(IdTable, MatchesModelUnderRandomChurn) {
  constexpr DocId kDocs = 20000;
  Keys keys;
  keys.tag.assign(kDocs, 0);
  std::vector<bool> in(kDocs, false);
  IdTable t(&Keys::TagOf, &keys);
  std::map<uint32_t, std::vector<DocId>> model;
  std::mt19937_64 rng(3);
  for (int step = 0; step < 80000; ++step) {
    const auto d = static_cast<DocId>(rng() % kDocs);
    if (in[d]) {
      auto& docs = model[keys.tag[d]];
      ASSERT_TRUE(t.Remove(d));
      docs.erase(std::find(docs.begin(), docs.end(), d));
      in[d] = false;
    } else {
      // A new key (a revised page): clustered homes, many docs per tag.
      keys.tag[d] = static_cast<uint32_t>(rng() % 300) * 0x01010101u;
      t.Insert(d);
      model[keys.tag[d]].push_back(d);
      in[d] = true;
    }
    if (step % 1000 == 0) {
      for (const auto& [k, v] : model) ASSERT_EQ(Docs(t, k), v) << "step " << step;
    }
  }
  size_t live = 0;
  for (const auto& [k, v] : model) live += v.size();
  EXPECT_EQ(t.size(), live);
}

}  // namespace
}  // namespace dedupd::index
