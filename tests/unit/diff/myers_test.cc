// Myers' O(ND) diff against a plain dynamic-programming LCS: the edit script
// must be minimal and consistent, and the bound must hold.
#include "diff/internal/myers.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace dedupd::diff::internal {
namespace {

size_t LcsLength(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
    }
  }
  return t[a.size()][b.size()];
}

// The unmarked elements of both sides must be the same sequence.
void ExpectConsistent(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b,
                      const std::vector<uint8_t>& ca, const std::vector<uint8_t>& cb) {
  std::vector<uint32_t> ka, kb;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ca[i] == 0) ka.push_back(a[i]);
  }
  for (size_t j = 0; j < b.size(); ++j) {
    if (cb[j] == 0) kb.push_back(b[j]);
  }
  EXPECT_EQ(ka, kb);
}

TEST(Myers, MinimalOnRandomSequences) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    const uint32_t alphabet = 2 + rng() % 6;
    std::vector<uint32_t> a(rng() % 40), b(rng() % 40);
    for (auto& x : a) x = rng() % alphabet;
    if (iter % 3 == 0) {  // a related pair: b is a with some edits
      b = a;
      for (int e = 0; e < 4 && !b.empty(); ++e) {
        const size_t p = rng() % b.size();
        if (rng() % 2 == 0) {
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(p));
        } else {
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(p), rng() % alphabet);
        }
      }
    } else {
      for (auto& x : b) x = rng() % alphabet;
    }
    std::vector<uint8_t> ca, cb;
    const MyersOutcome r = MyersDiff(a, b, 1000, &ca, &cb);
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(r.cost, a.size() + b.size() - 2 * LcsLength(a, b)) << "iteration " << iter;
    ExpectConsistent(a, b, ca, cb);
  }
}

TEST(Myers, EmptySides) {
  std::vector<uint8_t> ca, cb;
  const std::vector<uint32_t> none, three = {1, 2, 3};
  EXPECT_EQ(MyersDiff(none, none, 10, &ca, &cb).cost, 0u);
  MyersOutcome r = MyersDiff(none, three, 10, &ca, &cb);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.cost, 3u);
  EXPECT_EQ(cb, (std::vector<uint8_t>{1, 1, 1}));
  r = MyersDiff(three, none, 10, &ca, &cb);
  EXPECT_EQ(r.cost, 3u);
  EXPECT_EQ(ca, (std::vector<uint8_t>{1, 1, 1}));
}

TEST(Myers, InsertionInTheMiddle) {
  const std::vector<uint32_t> a = {1, 2, 3, 4}, b = {1, 2, 9, 3, 4};
  std::vector<uint8_t> ca, cb;
  const MyersOutcome r = MyersDiff(a, b, 10, &ca, &cb);
  EXPECT_EQ(r.cost, 1u);
  EXPECT_EQ(ca, (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(cb, (std::vector<uint8_t>{0, 0, 1, 0, 0}));
}

TEST(Myers, GivesUpPastTheBound) {
  std::mt19937 rng(7);
  std::vector<uint32_t> a(2000), b(2000);
  for (auto& x : a) x = rng();
  for (auto& x : b) x = rng();
  std::vector<uint8_t> ca, cb;
  const MyersOutcome r = MyersDiff(a, b, 100, &ca, &cb);
  EXPECT_FALSE(r.complete);
  // Searching to D = 100 costs about D^2 diagonals, not N * M.
  EXPECT_LT(r.work, 100'000u);
}

TEST(Myers, BoundIsExactEnoughForCallers) {
  // D = 6: complete with max_cost 6, and a caller comparing cost with 5 sees 6 > 5.
  const std::vector<uint32_t> a = {1, 2, 3, 4, 5, 6}, b = {1, 7, 8, 9, 5, 6};
  std::vector<uint8_t> ca, cb;
  MyersOutcome r = MyersDiff(a, b, 6, &ca, &cb);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.cost, 6u);
  r = MyersDiff(a, b, 5, &ca, &cb);
  EXPECT_TRUE(!r.complete || r.cost > 5);
  r = MyersDiff(a, b, 0, &ca, &cb);
  EXPECT_TRUE(!r.complete || r.cost > 0);
}

}  // namespace
}  // namespace dedupd::diff::internal
