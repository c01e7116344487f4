// The indexes on the per-page path (issue #11 item 3, session 10): a passage
// query and a passage insert or removal work in reused buffers (the distinct
// tags, the hits), and a URL of a known prefix is added without building a
// string to look its prefix up, so that in steady state they allocate
// nothing (before: a vector of tags per call and one of hits per query, and
// one string per Add() whose prefix is longer than std::string's inline
// buffer).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "index/paragraph_index.h"
#include "index/url_table.h"
#include "unit/counting_new.h"

namespace dedupd::index {
namespace {

std::vector<uint64_t> Hashes(uint64_t seed, size_t n) {
  std::vector<uint64_t> h;
  for (size_t i = 0; i < n; ++i) h.push_back((seed * 1000 + i) * 0x9E3779B97F4A7C15ull + 17);
  return h;
}

TEST(IndexReuse, PassageQueryInsertAndRemoveAllocateNothingOnceGrown) {
  ParagraphIndex idx(/*max_postings=*/8);
  for (DocId d = 0; d < 200; ++d) idx.Insert(d, Hashes(d % 50, 7));
  const std::vector<uint64_t> query = Hashes(3, 7);
  std::vector<std::pair<DocId, uint32_t>> out;
  idx.Query(query, 2, 10, &out);  // warm-up: the thread's buffers grow
  idx.Remove(3, query);
  idx.Insert(3, query);
  size_t allocations = 0;
  {
    CountingNew counting;
    for (int round = 0; round < 5; ++round) {
      idx.Query(query, 2, 10, &out);
      idx.Remove(3, query);
      idx.Insert(3, query);
    }
    allocations = counting.Count();
  }
  EXPECT_EQ(allocations, 0u);  // before: 45 (vectors of tags and of hits)
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].second, 7u);  // the documents holding seed 3's passages
}

TEST(IndexReuse, AddingAUrlOfAKnownLongPrefixBuildsNoString) {
  UrlTable urls;
  const std::string host = "https://www.a-rather-long-host-name.example";
  for (int i = 0; i < 10; ++i) urls.Add(host + "/warm/" + std::to_string(i));
  std::vector<std::string> more;
  for (int i = 0; i < 40; ++i) more.push_back(host + "/n/" + std::to_string(i));
  size_t allocations = 0;
  {
    CountingNew counting;
    for (const std::string& url : more) urls.Add(url);
    allocations = counting.Count();
  }
  // The pending block and the id table grow now and then (a few); a string
  // per Add() made 40 more (49 in all before).
  EXPECT_LT(allocations, 10u);
  for (size_t i = 0; i < more.size(); ++i) {
    const auto doc = urls.Find(more[i]);
    ASSERT_TRUE(doc.has_value());
    EXPECT_EQ(urls.Url(*doc), more[i]);
  }
}

}  // namespace
}  // namespace dedupd::index
