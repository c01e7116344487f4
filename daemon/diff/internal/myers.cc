#include "diff/internal/myers.h"

#include <algorithm>
#include <limits>

namespace dedupd::diff::internal {
namespace {

// The split-at-the-overlap formulation follows diff-match-patch's bisect:
// when the forward and backward searches meet on a diagonal, the end of the
// forward snake is a point on an optimal path, and the two sub-problems each
// need about half the edits (so the recursion is O(log D) deep).
class Myers {
 public:
  // v1 and v2: the caller's (per thread, reused call after call).
  Myers(const uint32_t* a, const uint32_t* b, uint8_t* a_changed, uint8_t* b_changed, int64_t max_d,
        std::vector<int64_t>* v1, std::vector<int64_t>* v2)
      : a_(a),
        b_(b),
        a_changed_(a_changed),
        b_changed_(b_changed),
        max_d_(max_d),
        v1_(*v1),
        v2_(*v2) {
    const size_t len = static_cast<size_t>(2 * max_d_ + 3);
    v1_.resize(len);
    v2_.resize(len);
  }

  // Solves a[a0, a1) against b[b0, b1). Returns false only when the top-level
  // search runs past max_d_.
  bool Compare(int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
    while (a0 < a1 && b0 < b1 && a_[a0] == b_[b0]) {
      ++a0;
      ++b0;
      ++work_;
    }
    while (a0 < a1 && b0 < b1 && a_[a1 - 1] == b_[b1 - 1]) {
      --a1;
      --b1;
      ++work_;
    }
    if (a0 == a1) {
      std::fill(b_changed_ + b0, b_changed_ + b1, uint8_t{1});
      return true;
    }
    if (b0 == b1) {
      std::fill(a_changed_ + a0, a_changed_ + a1, uint8_t{1});
      return true;
    }
    int64_t x = 0;
    int64_t y = 0;
    if (!Bisect(a0, a1 - a0, b0, b1 - b0, &x, &y)) {
      if (top_) return false;
      MarkAll(a0, a1, b0, b1);  // cannot happen (halves need fewer edits); stay correct
      return true;
    }
    if ((x == 0 && y == 0) || (x == a1 - a0 && y == b1 - b0)) {
      MarkAll(a0, a1, b0, b1);  // a split that makes no progress: never recurse forever
      return true;
    }
    top_ = false;
    return Compare(a0, a0 + x, b0, b0 + y) && Compare(a0 + x, a1, b0 + y, b1);
  }

  uint64_t work() const { return work_; }

 private:
  void MarkAll(int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
    std::fill(a_changed_ + a0, a_changed_ + a1, uint8_t{1});
    std::fill(b_changed_ + b0, b_changed_ + b1, uint8_t{1});
  }

  // Finds a split point (x, y), relative to (a0, b0), on an optimal path.
  bool Bisect(int64_t a0, int64_t n, int64_t b0, int64_t m, int64_t* sx, int64_t* sy) {
    const uint32_t* a = a_ + a0;
    const uint32_t* b = b_ + b0;
    const int64_t dlim = std::min((n + m + 1) / 2, max_d_);
    const int64_t off = dlim + 1;
    const int64_t len = 2 * dlim + 3;
    std::fill(v1_.begin(), v1_.begin() + len, int64_t{-1});
    std::fill(v2_.begin(), v2_.begin() + len, int64_t{-1});
    v1_[off + 1] = 0;
    v2_[off + 1] = 0;
    const int64_t delta = n - m;
    const bool front = (delta % 2) != 0;  // odd: the paths meet during a forward step
    int64_t k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    for (int64_t d = 0; d <= dlim; ++d) {
      for (int64_t k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
        const int64_t k1o = off + k1;
        int64_t x1 = (k1 == -d || (k1 != d && v1_[k1o - 1] < v1_[k1o + 1])) ? v1_[k1o + 1]
                                                                            : v1_[k1o - 1] + 1;
        int64_t y1 = x1 - k1;
        ++work_;
        while (x1 < n && y1 < m && a[x1] == b[y1]) {
          ++x1;
          ++y1;
          ++work_;
        }
        v1_[k1o] = x1;
        if (x1 > n) {
          k1end += 2;  // ran off the right of the edit graph
        } else if (y1 > m) {
          k1start += 2;  // ran off the bottom
        } else if (front) {
          const int64_t k2o = off + delta - k1;
          if (k2o >= 0 && k2o < len && v2_[k2o] != -1 && x1 >= n - v2_[k2o]) {
            *sx = x1;
            *sy = y1;
            return true;
          }
        }
      }
      for (int64_t k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
        const int64_t k2o = off + k2;
        int64_t x2 = (k2 == -d || (k2 != d && v2_[k2o - 1] < v2_[k2o + 1])) ? v2_[k2o + 1]
                                                                            : v2_[k2o - 1] + 1;
        int64_t y2 = x2 - k2;
        ++work_;
        while (x2 < n && y2 < m && a[n - x2 - 1] == b[m - y2 - 1]) {
          ++x2;
          ++y2;
          ++work_;
        }
        v2_[k2o] = x2;
        if (x2 > n) {
          k2end += 2;
        } else if (y2 > m) {
          k2start += 2;
        } else if (!front) {
          const int64_t k1o = off + delta - k2;
          if (k1o >= 0 && k1o < len && v1_[k1o] != -1) {
            const int64_t x1 = v1_[k1o];
            const int64_t y1 = x1 - (k1o - off);
            if (x1 >= n - x2) {
              *sx = x1;
              *sy = y1;
              return true;
            }
          }
        }
      }
    }
    return false;
  }

  const uint32_t* a_;
  const uint32_t* b_;
  uint8_t* a_changed_;
  uint8_t* b_changed_;
  int64_t max_d_;
  bool top_ = true;
  uint64_t work_ = 0;
  std::vector<int64_t>& v1_;
  std::vector<int64_t>& v2_;
};

}  // namespace

MyersOutcome MyersDiff(std::span<const uint32_t> a, std::span<const uint32_t> b, size_t max_cost,
                       std::vector<uint8_t>* a_changed, std::vector<uint8_t>* b_changed) {
  a_changed->assign(a.size(), 0);
  b_changed->assign(b.size(), 0);
  MyersOutcome outcome;
  // The paths meet at step ceil(D/2); searching that far bounds D by max_cost
  // (+1 for odd bounds, which the caller's comparison of `cost` catches).
  const auto total = static_cast<int64_t>(a.size() + b.size());
  const int64_t cap = static_cast<int64_t>(
      std::min<size_t>(max_cost, static_cast<size_t>(std::numeric_limits<int32_t>::max())));
  const int64_t max_d = std::min((total + 1) / 2, (cap + 1) / 2);
  // The search arrays are kept per thread (released after a bound over 64K):
  // the diff calls this once per sentence pair it compares.
  thread_local std::vector<int64_t> v1, v2;
  Myers myers(a.data(), b.data(), a_changed->data(), b_changed->data(), max_d, &v1, &v2);
  outcome.complete =
      myers.Compare(0, static_cast<int64_t>(a.size()), 0, static_cast<int64_t>(b.size()));
  outcome.work = myers.work();
  if (v1.capacity() > (size_t{1} << 16)) {
    v1 = {};
    v2 = {};
  }
  if (!outcome.complete) return outcome;
  for (uint8_t c : *a_changed) outcome.cost += c;
  for (uint8_t c : *b_changed) outcome.cost += c;
  return outcome;
}

}  // namespace dedupd::diff::internal
