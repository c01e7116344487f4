// Repeat detection: hash each block, then for every block that occurred
// before, extend the match greedily in both copies, tolerating small gaps.
// See docs/text.md ("Repeated content").
#include "text/repeats.h"

#include <utf8proc.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "text/internal/utf8.h"
#include "text/normalize.h"

namespace dedupd::text {
namespace {

// How many earlier occurrences of a block are tried as the source of a copy:
// the first one and the most recent ones. Bounds the work on pages made of
// one line repeated thousands of times.
constexpr size_t kMaxCandidates = 8;

// Alignment steps allowed per block. A normal page uses a handful; a hostile
// one (thousands of short lines that all match but never form a qualifying
// run) would otherwise cost O(blocks x 200). When the budget is spent the
// remaining blocks are kept: the result is still valid, just incomplete.
constexpr size_t kStepsPerBlock = 256;

bool IsBulletOrPunct(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
           (cp >= 0x7B && cp <= 0x7E);
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO: return true;
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: return false;
  }
  return false;
}

std::string_view StripLeadingPunct(std::string_view key) {
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  const auto* const end = p + key.size();
  while (p < end) {
    const internal::Decoded d = internal::DecodeUtf8(p, end);
    if (!IsBulletOrPunct(d.cp)) break;
    p += d.len;
  }
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(end - p)};
}

constexpr size_t kNone = static_cast<size_t>(-1);

// Earlier occurrences of each block key: an open-addressing table from key
// hash to the first and the latest block with that key, and for every block
// the previous block with the same key. No allocation per key.
class OccurrenceIndex {
 public:
  struct Slot {
    uint64_t hash = 0;
    size_t first = kNone;  // kNone: the slot is free
    size_t last = kNone;
  };

  // slots and previous are the caller's buffers (kept from page to page).
  OccurrenceIndex(size_t blocks, std::vector<Slot>* slots, std::vector<size_t>* previous)
      : slots_(*slots), previous_(*previous) {
    slots_.assign(std::bit_ceil(std::max<size_t>(16, 2 * blocks)), Slot{});
    previous_.assign(blocks, kNone);
  }

  const Slot* Find(uint64_t hash) const {
    const Slot& s = slots_[Probe(hash)];
    return s.first == kNone ? nullptr : &s;
  }

  void Add(uint64_t hash, size_t block) {
    Slot& s = slots_[Probe(hash)];
    if (s.first == kNone) {
      s.hash = hash;
      s.first = block;
    } else {
      previous_[block] = s.last;
    }
    s.last = block;
  }

  // The previous block with the same key as `block`, or kNone.
  size_t Previous(size_t block) const { return previous_[block]; }

 private:
  size_t Probe(uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    size_t at = static_cast<size_t>(hash) & mask;
    while (slots_[at].first != kNone && slots_[at].hash != hash) at = (at + 1) & mask;
    return at;
  }

  std::vector<Slot>& slots_;
  std::vector<size_t>& previous_;
};

struct Aligned {
  size_t source_last = 0;
  size_t copy_last = 0;
  size_t matched = 0;
  size_t chars = 0;
};

class Aligner {
 public:
  // next and nonempty_before are the caller's buffers (kept from page to page).
  Aligner(const std::vector<uint64_t>& hash, const std::vector<bool>& empty,
          const std::vector<size_t>& chars, size_t max_gap, std::vector<size_t>* next,
          std::vector<size_t>* nonempty_before)
      : hash_(hash),
        chars_(chars),
        max_gap_(max_gap),
        next_(*next),
        nonempty_before_(*nonempty_before) {
    // next_[k]: the first block >= k with a non-empty key (n if none).
    const size_t n = hash.size();
    next_.assign(n + 1, n);
    for (size_t k = n; k-- > 0;) next_[k] = empty[k] ? next_[k + 1] : k;
    nonempty_before_.assign(n + 1, 0);
    for (size_t k = 0; k < n; ++k) nonempty_before_[k + 1] = nonempty_before_[k] + !empty[k];
  }

  // Non-empty blocks in [begin, end).
  size_t NonEmptyIn(size_t begin, size_t end) const {
    return nonempty_before_[end] - nonempty_before_[begin];
  }

  // Extends the match source i -> copy j forward. The source stays before the
  // copy (every source block < j); each step skips at most max_gap non-empty
  // blocks on either side and prefers the smallest total skip.
  Aligned Extend(size_t i, size_t j, size_t* budget) const {
    const size_t n = hash_.size();
    Aligned a{i, j, 1, chars_[j]};
    for (;;) {
      if (*budget == 0) return a;
      --*budget;
      bool found = false;
      size_t best_a = 0, best_b = 0;
      for (size_t total = 0; total <= 2 * max_gap_ && !found; ++total) {
        for (size_t gi = 0; gi <= std::min(total, max_gap_) && !found; ++gi) {
          const size_t gj = total - gi;
          if (gj > max_gap_) continue;
          const size_t sa = Nth(a.source_last + 1, gi);
          const size_t sb = Nth(a.copy_last + 1, gj);
          if (sa >= j || sb >= n) continue;
          if (hash_[sa] == hash_[sb]) {
            found = true;
            best_a = sa;
            best_b = sb;
          }
        }
      }
      if (!found) return a;
      a.source_last = best_a;
      a.copy_last = best_b;
      ++a.matched;
      a.chars += chars_[best_b];
    }
  }

 private:
  // The (skip+1)-th non-empty block at or after k.
  size_t Nth(size_t k, size_t skip) const {
    const size_t n = hash_.size();
    size_t at = k <= n ? next_[k] : n;
    for (size_t s = 0; s < skip && at < n; ++s) at = next_[at + 1];
    return at;
  }

  const std::vector<uint64_t>& hash_;
  const std::vector<size_t>& chars_;
  size_t max_gap_;
  std::vector<size_t>& next_;
  std::vector<size_t>& nonempty_before_;  // prefix counts of non-empty blocks
};

// FindRepeats' per-block arrays, kept per thread from page to page: a page
// no bigger than an earlier one allocates nothing. Released after a page
// bigger than kMaxKeptBlocks blocks, so that one huge page does not keep its
// memory for ever.
struct Scratch {
  std::vector<uint64_t> hash;
  std::vector<bool> empty;
  std::vector<size_t> chars;
  std::vector<size_t> key_end;  // block k's key is keys[key_end[k-1], key_end[k])
  std::string keys;
  std::string key;
  std::vector<OccurrenceIndex::Slot> slots;
  std::vector<size_t> previous;
  std::vector<size_t> next;
  std::vector<size_t> nonempty_before;
};
constexpr size_t kMaxKeptBlocks = 4096;
constexpr size_t kMaxKeptKeyBytes = 1 << 20;
thread_local Scratch tls_scratch;

}  // namespace

namespace {

// FindRepeats on the blocks' content keys: n blocks, block k's key is
// keys[key_end[k-1], key_end[k]). out->content_key is left empty when every
// block is kept (the content key is `keys` itself), otherwise it is the kept
// blocks' keys.
void FindRepeatsImpl(size_t n, std::string_view keys, std::span<const size_t> key_end,
                     const RepeatOptions& options, Scratch& scratch, RepeatResult* out) {
  RepeatResult& result = *out;
  result.keep.assign(n, true);
  result.repeated_fraction = 0;
  result.has_repeats = false;
  result.runs.clear();
  result.content_key.clear();
  if (n == 0) return;

  std::vector<uint64_t>& hash = scratch.hash;
  std::vector<bool>& empty = scratch.empty;
  std::vector<size_t>& chars = scratch.chars;
  hash.resize(n);
  empty.resize(n);
  chars.resize(n);
  size_t total_chars = 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t begin = k == 0 ? 0 : key_end[k - 1];
    const std::string_view key(keys.data() + begin, key_end[k] - begin);
    chars[k] = CountCodePoints(key);
    total_chars += chars[k];
    const std::string_view stripped = StripLeadingPunct(key);
    empty[k] = stripped.empty();
    // XXH3, not std::hash (murmur, byte at a time: 1% of a scan's CPU). Only
    // equality of these hashes is used, never their values.
    hash[k] = XXH3_64bits(stripped.data(), stripped.size());
  }

  const Aligner aligner(hash, empty, chars, options.max_gap, &scratch.next,
                        &scratch.nonempty_before);
  OccurrenceIndex seen(n, &scratch.slots, &scratch.previous);
  size_t dropped_chars = 0;
  size_t budget = kStepsPerBlock * n;
  size_t j = 0;
  while (j < n && budget > 0) {
    const OccurrenceIndex::Slot* earlier = empty[j] ? nullptr : seen.Find(hash[j]);
    if (earlier == nullptr) {
      if (!empty[j]) seen.Add(hash[j], j);
      ++j;
      continue;
    }
    Aligned best;
    size_t best_source = 0;
    auto consider = [&](size_t i) {
      const Aligned a = aligner.Extend(i, j, &budget);
      if (a.chars > best.chars || (a.chars == best.chars && a.matched > best.matched)) {
        best = a;
        best_source = i;
      }
    };
    consider(earlier->first);
    size_t tried = 1;
    for (size_t i = earlier->last; i != kNone && i != earlier->first && tried < kMaxCandidates;
         i = seen.Previous(i), ++tried) {
      consider(i);
    }

    const size_t span = std::max(aligner.NonEmptyIn(best_source, best.source_last + 1),
                                 aligner.NonEmptyIn(j, best.copy_last + 1));
    const bool dense =
        static_cast<double>(best.matched) >= options.min_match_density * static_cast<double>(span);
    const bool long_run =
        best.matched >= options.min_run_blocks && best.chars >= options.min_run_chars;
    const bool large_share = best.chars >= options.min_fraction_run_chars &&
                             static_cast<double>(best.chars) >=
                                 options.min_page_fraction * static_cast<double>(total_chars);
    if (!dense || (!long_run && !large_share)) {
      seen.Add(hash[j], j);
      ++j;
      continue;
    }
    RepeatRun run;
    run.source_begin = best_source;
    run.source_end = best.source_last + 1;
    run.copy_begin = j;
    run.copy_end = best.copy_last + 1;
    run.matched_blocks = best.matched;
    for (size_t k = run.copy_begin; k < run.copy_end; ++k) {
      result.keep[k] = false;
      run.chars += chars[k];
      if (!empty[k]) seen.Add(hash[k], k);
    }
    dropped_chars += run.chars;
    result.runs.push_back(run);
    j = run.copy_end;
  }
  if (!result.runs.empty()) {
    result.content_key.reserve(keys.size());
    for (size_t k = 0; k < n; ++k) {
      if (!result.keep[k]) continue;
      const size_t begin = k == 0 ? 0 : key_end[k - 1];
      result.content_key.append(keys.substr(begin, key_end[k] - begin));
    }
  }
  result.has_repeats = !result.runs.empty();
  result.repeated_fraction =
      total_chars == 0 ? 0.0
                       : static_cast<double>(dropped_chars) / static_cast<double>(total_chars);
}

}  // namespace

void FindRepeats(const std::vector<std::string_view>& blocks, const RepeatOptions& options,
                 RepeatResult* out) {
  const size_t n = blocks.size();
  Scratch& scratch = tls_scratch;
  std::vector<size_t>& key_end = scratch.key_end;
  key_end.resize(n);
  std::string& keys = scratch.keys;
  keys.clear();
  size_t total_bytes = 0;
  for (const std::string_view b : blocks) total_bytes += b.size();
  keys.reserve(total_bytes);
  std::string& key = scratch.key;
  for (size_t k = 0; k < n; ++k) {
    ContentKey(blocks[k], &key);
    keys.append(key);
    key_end[k] = keys.size();
  }
  FindRepeatsImpl(n, keys, key_end, options, scratch, out);
  if (!out->has_repeats)
    out->content_key.swap(keys);  // keys keeps the old buffer for the next page
  if (n > kMaxKeptBlocks || keys.capacity() > kMaxKeptKeyBytes) scratch = Scratch{};
}

void FindRepeatsInKeys(size_t blocks, std::string_view keys, std::span<const size_t> key_end,
                       const RepeatOptions& options, RepeatResult* out) {
  Scratch& scratch = tls_scratch;
  FindRepeatsImpl(std::min(blocks, key_end.size()), keys, key_end, options, scratch, out);
  if (blocks > kMaxKeptBlocks) scratch = Scratch{};
}

RepeatResult FindRepeats(const std::vector<std::string_view>& blocks,
                         const RepeatOptions& options) {
  RepeatResult result;
  FindRepeats(blocks, options, &result);
  return result;
}

}  // namespace dedupd::text
