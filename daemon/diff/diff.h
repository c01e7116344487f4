// Sentence-level diff of two versions of a page, with what changed inside each
// changed sentence and how significant the revision is. The classify stage
// calls it for REVISED and NEAR_DUPLICATE pages; emit turns the result into a
// PageDiff (hunks, unified rendering, significance, severity). See docs/diff.md.
//
//   DiffResult d = DiffSentences(old_sentences, new_sentences);
//   if (d.significance.severity == Severity::kMajor) Page(RenderUnified(...));
//
// Thread-safety: free functions over values; no shared state. Safe to call
// from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dedupd::diff {

// One sentence of a page, as the text stage segments it.
struct Sentence {
  std::string text;    // original text (for display), valid UTF-8
  std::string key;     // comparison key computed by the caller (normalised, whitespace
                       // removed): equal keys = same sentence
  uint32_t block = 0;  // index of the block (line/paragraph) it comes from, 0-based
};

// A sentence whose text and key are held elsewhere (the detector's diffs:
// each side's text copied once, not a string per sentence). The diff reads
// sentences through these; a Sentence is one too (Views()).
struct SentenceView {
  std::string_view text;
  std::string_view key;
  uint32_t block = 0;
};

// *out = views of `sentences` (replaced; valid while they are unchanged).
void Views(const std::vector<Sentence>& sentences, std::vector<SentenceView>* out);

// A byte range [begin, end) inside Sentence::text that changed. Always on
// UTF-8 code point boundaries.
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

enum class HunkKind : uint8_t {
  kAdded,    // sentences only in the new side (old range empty)
  kRemoved,  // sentences only in the old side (new range empty)
  kChanged,  // sentence i of the old range became sentence i of the new range
             // (unless `coarse`, see Hunk)
};

// A contiguous run of differences.
//
// Ranges are sentence indexes [begin, end) into the two sides. Block ranges
// are inclusive. For an empty side (the old side of kAdded, the new side of
// kRemoved) begin == end is the insertion point and both blocks name the block
// of the sentence just before it (0 at the start of the page).
//
// kChanged hunks normally have as many old as new sentences, paired in order,
// and old_spans/new_spans hold one span list per sentence. A coarse hunk
// (coarse == true, only when DiffResult::truncated) is "everything between the
// common head and tail changed": the two ranges may differ in length and the
// span lists are empty.
struct Hunk {
  HunkKind kind = HunkKind::kChanged;
  uint32_t old_begin = 0, old_end = 0, new_begin = 0, new_end = 0;
  uint32_t old_first_block = 0, old_last_block = 0, new_first_block = 0, new_last_block = 0;
  std::vector<std::string> old_text, new_text;  // the sentences of the hunk
  // kChanged: per sentence, what changed inside it (characters for CJK, words
  // for Latin and digits); empty for kAdded/kRemoved and coarse hunks.
  std::vector<std::vector<Span>> old_spans, new_spans;
  bool coarse = false;
};

enum class Severity : uint8_t {
  kCosmetic,  // punctuation or symbols only
  kMinor,     // wording changed; no figure, date or amount; a small share of the text
  kMajor,     // a number, date or amount changed, or a large share of the text
};

// How much a revision matters; docs/diff.md has the rules and the reasons.
struct Significance {
  double changed_fraction = 0;  // share of the text (code points of keys) changed, 0..1
  uint32_t sentences_added = 0, sentences_removed = 0, sentences_changed = 0;
  uint64_t chars_added = 0, chars_removed = 0;  // code points of keys
  bool numbers_changed = false;  // a number differs (Arabic digits, Chinese numerals in a
                                 // numeric context such as 几年 -> 三年, English number words)
  bool dates_changed = false;    // a date or time expression differs
  bool amounts_changed = false;  // a money amount or a percentage differs
  Severity severity = Severity::kCosmetic;
};

struct DiffOptions {
  // Per side, after the common head and tail are set aside; beyond it the diff
  // is one coarse hunk and `truncated` is set. Keeps memory and time linear.
  size_t max_sentences = 20000;
  // Bound on D (sentences removed + added) in Myers' O(ND); past it: one coarse
  // hunk and `truncated`. Work is O((N+M) * max_edit_cost) at worst.
  size_t max_edit_cost = 4000;
  // A removed and an added sentence in the same place whose keys have a
  // code-point similarity 2*LCS/(|a|+|b|) >= this are one changed sentence.
  double pair_similarity = 0.5;
};

struct DiffResult {
  std::vector<Hunk> hunks;
  Significance significance;
  bool truncated = false;  // a bound was hit: some of the diff is coarse
};

DiffResult DiffSentences(const std::vector<Sentence>& old_side,
                         const std::vector<Sentence>& new_side, const DiffOptions& options = {});
// The same into *result, which may hold an earlier diff: its hunks (their
// strings and span lists) serve this one's, and the diff's working arrays are
// kept per thread, so a diff no bigger than earlier ones allocates nothing.
void DiffSentences(const std::vector<Sentence>& old_side, const std::vector<Sentence>& new_side,
                   const DiffOptions& options, DiffResult* result);

// What changed inside one sentence: tokens are code points for CJK, runs of
// letters/digits for other scripts (a number such as 4.2 or 1,200 is one
// token), single punctuation marks; whitespace is not a token. Adjacent
// changed tokens (separated by whitespace at most) are merged into one span.
struct SentenceSpans {
  std::vector<Span> old_spans, new_spans;
};
// The same over views: no copy of any sentence.
void DiffSentences(const std::vector<SentenceView>& old_side,
                   const std::vector<SentenceView>& new_side, const DiffOptions& options,
                   DiffResult* result);

SentenceSpans DiffWithinSentence(std::string_view old_text, std::string_view new_text);

// Unified diff, one sentence per line, sentence numbers 1-based as lines:
//   --- old_label / +++ new_label / @@ -a,b +c,d @@ block N / ' ', '-', '+' lines
// with `context` unchanged sentences around each hunk (hunks whose context
// touches are merged, as diff does). Line breaks inside a sentence are shown
// as spaces. Returns "" when there are no hunks.
std::string RenderUnified(const std::vector<Sentence>& old_side,
                          const std::vector<Sentence>& new_side, const DiffResult& diff,
                          std::string_view old_label, std::string_view new_label, int context = 1);
// The same into *out (replaced; its capacity reused).
void RenderUnified(const std::vector<Sentence>& old_side, const std::vector<Sentence>& new_side,
                   const DiffResult& diff, std::string_view old_label, std::string_view new_label,
                   int context, std::string* out);

// The same over views.
void RenderUnified(const std::vector<SentenceView>& old_side,
                   const std::vector<SentenceView>& new_side, const DiffResult& diff,
                   std::string_view old_label, std::string_view new_label, int context,
                   std::string* out);

// For a console: one line per sentence, git --word-diff style. A changed
// sentence shows its common text with [-removed-]{+added+} marks; an added
// sentence is {+...+}, a removed one [-...-].
std::string RenderWordDiff(const Hunk& hunk);

std::string_view SeverityName(Severity s);  // "cosmetic" | "minor" | "major"
std::string_view HunkKindName(HunkKind k);  // "added" | "removed" | "changed"

}  // namespace dedupd::diff
