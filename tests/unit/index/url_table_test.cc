// UrlTable's compressed blocks (session 6, issue #15): real-shaped URLs take
// under half their bytes; every URL of every shape (non-ASCII, binary, very
// long, no path, empty) reads back exactly across block, chunk and dictionary
// boundaries; Find finds each held URL's id and nothing else; concurrent
// readers decode with their own contexts; a thread's decoded-block cache is
// per table.
#include "index/url_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace dedupd::index {
namespace {

// The corpus's URLs in stream order (the "url" fields of dev.jsonl).
std::vector<std::string> CorpusUrls() {
  std::vector<std::string> urls;
  std::ifstream in(DEDUPD_TEST_DATA_DIR "/corpus/dev.jsonl");
  const std::string key = "{\"url\": \"";
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t end = line.find('"', key.size());
    if (end != std::string::npos) urls.push_back(line.substr(key.size(), end - key.size()));
  }
  return urls;
}

// The URL with each run of more than 4 digits (an id) replaced by random
// digits: another page of the same site.
std::string AnotherPage(const std::string& url, std::mt19937_64& rng) {
  std::string out = url;
  for (size_t i = 0; i < out.size();) {
    size_t end = i;
    while (end < out.size() && out[end] >= '0' && out[end] <= '9') ++end;
    if (end - i > 4) {
      for (size_t k = i; k < end; ++k) out[k] = static_cast<char>('0' + rng() % 10);
    }
    i = end > i ? end : i + 1;
  }
  return out;
}

TEST(UrlTableCompression, RealShapedUrlsTakeUnderHalfTheirBytes) {
  const std::vector<std::string> real = CorpusUrls();
  ASSERT_GT(real.size(), 1000u);
  std::mt19937_64 rng(3);
  UrlTable urls;
  std::vector<std::string> all;
  double bytes = 0;
  while (all.size() < 100000) {
    std::string u = AnotherPage(real[rng() % real.size()], rng);
    if (urls.Add(u) != all.size()) continue;  // (the same id drawn twice)
    bytes += static_cast<double>(u.size());
    all.push_back(std::move(u));
  }
  // Before session 6 a record kept the path whole: ~75% of the URL's bytes.
  EXPECT_LT(static_cast<double>(urls.ArenaBytes()), 0.5 * bytes)
      << urls.ArenaBytes() / all.size() << " B/URL for " << bytes / all.size() << " B URLs";
  for (size_t i = 0; i < all.size(); i += 7) {
    ASSERT_EQ(urls.Url(static_cast<DocId>(i)), all[i]);
    ASSERT_EQ(urls.Find(all[i]), std::optional<DocId>(static_cast<DocId>(i)));
  }
}

// A URL of shape i % 8: corpus-like, non-ASCII path, percent-encoded, no
// path, very long, random bytes (incompressible, '\0' included), empty.
std::string Shaped(size_t i, const std::vector<std::string>& real, std::mt19937_64& rng) {
  switch (i % 8) {
    case 0:
    case 1: return AnotherPage(real[rng() % real.size()], rng) + "?n=" + std::to_string(i);
    case 2: return "https://新闻.example.cn/国内/2025/" + std::to_string(i) + "/政策解读.html";
    case 3: return "https://www.example.org/wiki/%E4%B8%AD%E6%96%87_" + std::to_string(i);
    case 4: return "http://h" + std::to_string(i % 300) + ".example" + std::to_string(i / 300);
    case 5: {
      // Every 1,000th a URL longer than a 64 KiB chunk.
      const size_t n = i % 1000 == 5 ? 70000 + rng() % 1000 : 200 + rng() % 3000;
      std::string u = "https://long.example/q?" + std::to_string(i) + "&x=";
      for (size_t k = 0; k < n; ++k) u += static_cast<char>('a' + rng() % 26);
      return u;
    }
    case 6: {
      std::string u = std::to_string(i) + ":";
      for (size_t k = 0, n = rng() % 120; k < n; ++k) u += static_cast<char>(rng() % 256);
      return u;
    }
    case 7: return i == 7 ? "" : "https://www.example.com/" + std::to_string(i);
  }
  return {};
}

TEST(UrlTableCompression, EveryShapeReadsBackAcrossBlocksAndDictionaries) {
  const std::vector<std::string> real = CorpusUrls();
  ASSERT_FALSE(real.empty());
  std::mt19937_64 rng(9);
  UrlTable urls;
  std::vector<std::string> all;
  std::unordered_map<std::string, DocId> model;
  for (size_t i = 0; all.size() < 70000; ++i) {
    std::string u = Shaped(i, real, rng);
    const auto [it, added] = model.try_emplace(u, static_cast<DocId>(all.size()));
    ASSERT_EQ(urls.Add(u), it->second) << i;
    if (added) all.push_back(std::move(u));
    // Mid-block reads see the unfinished block.
    if (i % 997 == 0) {
      ASSERT_EQ(urls.Url(it->second), it->first);
    }
  }
  ASSERT_EQ(urls.size(), all.size());
  // Dictionaries trained at 256, 1k, 4k, 16k and 64k URLs; the blocks of
  // every one of them still decode.
  EXPECT_EQ(urls.Dictionaries(), 5u);
  std::string back;
  for (size_t i = 0; i < all.size(); ++i) {
    urls.Url(static_cast<DocId>(i), &back);
    ASSERT_EQ(back, all[i]) << i;
    ASSERT_EQ(urls.Find(all[i]), std::optional<DocId>(static_cast<DocId>(i))) << i;
  }
  // Find is never wrong: near misses of held URLs are found only if held.
  for (size_t i = 0; i < all.size(); i += 3) {
    for (std::string miss : {all[i] + "x", all[i].substr(0, all[i].size() / 2), all[i] + "/"}) {
      const auto it = model.find(miss);
      ASSERT_EQ(urls.Find(miss),
                it == model.end() ? std::nullopt : std::optional<DocId>(it->second));
    }
  }
}

TEST(UrlTableCompression, ConcurrentReadersGetTheSameUrls) {
  const std::vector<std::string> real = CorpusUrls();
  ASSERT_FALSE(real.empty());
  std::mt19937_64 rng(4);
  UrlTable urls;
  std::vector<std::string> all;
  while (all.size() < 20000) {
    std::string u = AnotherPage(real[rng() % real.size()], rng) + "#" + std::to_string(all.size());
    urls.Add(u);
    all.push_back(std::move(u));
  }
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::string back;
      for (size_t i = static_cast<size_t>(t); i < all.size(); i += 2) {
        urls.Url(static_cast<DocId>(i), &back);
        if (back != all[i] || urls.Find(all[i]) != std::optional<DocId>(static_cast<DocId>(i))) {
          ++wrong[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

// Each thread keeps its last decoded block: two tables read in turn, and a
// table made where a destroyed one was, must not see each other's.
TEST(UrlTableCompression, TheDecodedBlockCacheIsPerTable) {
  auto fill = [](UrlTable* t, const std::string& host) {
    for (int i = 0; i < 5000; ++i) t->Add("https://" + host + "/p/" + std::to_string(i * 7919));
  };
  UrlTable a, b;
  fill(&a, "a.example");
  fill(&b, "b.example");
  for (DocId d = 0; d < 4000; d += 3) {
    ASSERT_EQ(a.Url(d), "https://a.example/p/" + std::to_string(d * 7919));
    ASSERT_EQ(b.Url(d), "https://b.example/p/" + std::to_string(d * 7919));
  }
  for (int round = 0; round < 3; ++round) {
    auto t = std::make_unique<UrlTable>();
    const std::string host = "r" + std::to_string(round) + ".example";
    fill(t.get(), host);
    ASSERT_EQ(t->Url(100), "https://" + host + "/p/" + std::to_string(100 * 7919));
  }
}

}  // namespace
}  // namespace dedupd::index
