// BoilerplateModel keeps each site's lines in an open-addressing table (it
// was a std::unordered_map: an allocation and a cache miss per line, most of
// a restore's CPU). These tests drive it and a reference model written the
// old way with the same random page streams, decays included, and require
// the same answers for every line.
#include "classify/boilerplate.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace dedupd::classify {
namespace {

// The model as it was: one std::unordered_map per site.
class ReferenceModel {
 public:
  explicit ReferenceModel(BoilerplateOptions options) : options_(options) {}
  void Observe(const std::string& site, uint64_t url_hash, const std::vector<uint64_t>& lines) {
    auto& table = sites_.size() >= options_.max_sites && !sites_.contains(site)
                      ? sites_["\x01other"]
                      : sites_[site];
    for (uint64_t h : lines) {
      if (table.size() >= options_.max_lines_per_site && !table.contains(h)) {
        for (auto it = table.begin(); it != table.end();) {
          it->second.pages /= 2;
          it = it->second.pages == 0 ? table.erase(it) : std::next(it);
        }
      }
      Entry& e = table[h];
      if (e.pages == 0 || e.last_url != url_hash) {
        ++e.pages;
        e.last_url = url_hash;
      }
    }
  }
  bool IsBoilerplate(const std::string& site, uint64_t h) const {
    auto it = sites_.find(site);
    if (it == sites_.end()) it = sites_.find("\x01other");
    if (it == sites_.end()) return false;
    auto e = it->second.find(h);
    return e != it->second.end() && e->second.pages >= options_.min_pages;
  }

 private:
  struct Entry {
    uint32_t pages = 0;
    uint64_t last_url = 0;
  };
  BoilerplateOptions options_;
  std::unordered_map<std::string, std::unordered_map<uint64_t, Entry>> sites_;
};

void Compare(BoilerplateOptions options, int pages, int seed) {
  BoilerplateModel model(options);
  ReferenceModel reference(options);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::vector<uint64_t> seen;
  for (int p = 0; p < pages; ++p) {
    const std::string site = "s" + std::to_string(rng() % 7) + ".example";
    const uint64_t url = rng() % 400;  // URLs fetched again now and then
    std::vector<uint64_t> lines;
    // Distinct lines differ in their top 32 bits, the key the model keeps
    // (state::LineKey), so that the 64-bit reference gives the same answers.
    auto line = [](uint64_t x) { return x << 32 | (x == 0 ? 0 : 0x5bd1e995u); };
    for (uint64_t k = 0; k < 3; ++k) lines.push_back(line(1000 + k));  // a template, on every page
    const int unique = 5 + static_cast<int>(rng() % 20);
    for (int i = 0; i < unique; ++i) lines.push_back(line(rng() % 5000));  // some repeat
    if (p % 3 == 0) lines.push_back(0);  // a zero hash is a line too
    seen.insert(seen.end(), lines.begin(), lines.end());
    // Asked about the page's site right before and after it is observed (the
    // detector's order), so that a remembered answer must follow the update.
    ASSERT_EQ(model.IsBoilerplate(site, lines[0]), reference.IsBoilerplate(site, lines[0]));
    model.Observe(site, url, lines);
    reference.Observe(site, url, lines);
    ASSERT_EQ(model.IsBoilerplate(site, lines[0]), reference.IsBoilerplate(site, lines[0]))
        << "page " << p;
    if (p % 97 == 0 || p + 1 == pages) {
      for (int s = 0; s < 8; ++s) {
        const std::string name = "s" + std::to_string(s) + ".example";
        for (uint64_t h : seen) {
          ASSERT_EQ(model.IsBoilerplate(name, h), reference.IsBoilerplate(name, h))
              << "page " << p << " site " << name << " line " << h;
        }
      }
      seen.clear();
    }
  }
}

TEST(BoilerplateModel, SameAnswersAsTheMapWithoutDecay) {
  Compare({}, 3000, 1);
}

TEST(BoilerplateModel, SameAnswersAsTheMapWithDecays) {
  BoilerplateOptions options;
  options.max_lines_per_site = 300;  // the unique lines fill it again and again
  Compare(options, 3000, 2);
}

TEST(BoilerplateModel, SameAnswersAsTheMapWithTheOverflowSite) {
  BoilerplateOptions options;
  options.max_sites = 3;  // sites past the third share one table
  options.max_lines_per_site = 500;
  Compare(options, 3000, 3);
}

// The model remembers its last site lookup; a site (or the overflow table)
// added after a lookup that found nothing must be found by the next one.
TEST(BoilerplateModel, ASiteAskedAboutBeforeItsFirstPageIsFoundAfterIt) {
  BoilerplateOptions options;
  options.min_pages = 1;
  options.max_sites = 1;
  BoilerplateModel model(options);
  const uint64_t line = 42ull << 32, other = 7ull << 32;
  EXPECT_FALSE(model.IsBoilerplate("a.example", line));
  model.Observe("a.example", 1, std::vector<uint64_t>{line});
  EXPECT_TRUE(model.IsBoilerplate("a.example", line));
  // "b.example" is past max_sites: no table, and no overflow table yet ...
  EXPECT_FALSE(model.IsBoilerplate("b.example", other));
  model.Observe("b.example", 1, std::vector<uint64_t>{other});
  // ... until its page creates the overflow table, which answers for it.
  EXPECT_TRUE(model.IsBoilerplate("b.example", other));
  EXPECT_TRUE(model.IsBoilerplate("a.example", line));
  EXPECT_FALSE(model.IsBoilerplate("a.example", other));
}

TEST(BoilerplateModel, ALineOnThreePagesIsBoilerplateAndARefetchDoesNotCount) {
  BoilerplateModel model;
  // Line hashes that differ in their top 32 bits (the model's key).
  const uint64_t footer = 42ull << 32, story = 7ull << 32;
  model.Observe("a.example", 1, std::vector<uint64_t>{footer, story});
  model.Observe("a.example", 1, std::vector<uint64_t>{footer});  // the same URL again
  model.Observe("a.example", 2, std::vector<uint64_t>{footer});
  EXPECT_FALSE(model.IsBoilerplate("a.example", footer));
  model.Observe("a.example", 3, std::vector<uint64_t>{footer});
  EXPECT_TRUE(model.IsBoilerplate("a.example", footer));
  EXPECT_FALSE(model.IsBoilerplate("a.example", story));
  EXPECT_FALSE(model.IsBoilerplate("b.example", footer));
  // Keyed on the top 32 bits (state::LineKey, what a fingerprint record
  // carries): a hash that differs only below them is the same line.
  EXPECT_TRUE(model.IsBoilerplate("a.example", footer | 0x1234));
  EXPECT_GT(model.MemoryBytes(), 0u);
}

}  // namespace
}  // namespace dedupd::classify
