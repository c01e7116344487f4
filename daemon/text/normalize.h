// Text normalisation for the fingerprint path: UTF-8 repair, the "matching
// form" that shingles and SimHash are computed on, and the "content key" whose
// hash decides UNCHANGED / DUPLICATE. The rules and their reasons are in
// docs/text.md.
//
//   std::string m = NormalizeForMatch("５ 月 ３ 日，Ｈｅｌｌｏ！");  // "5月3日,hello!"
//   std::string k = ContentKey("A  b\r\n 中　文");                  // "Ab中文"
//
// Thread-safety: all functions are reentrant (scratch space is thread_local).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dedupd::text {

// Replaces every ill-formed UTF-8 sequence by U+FFFD (one per maximal
// subpart, as WHATWG and Python do) and counts the replacements in *replaced
// when it is not null. Valid input is returned unchanged.
std::string RepairUtf8(std::string_view in, size_t* replaced = nullptr);

// True iff `in` is well-formed UTF-8 (the rules of RepairUtf8). SIMD: one of
// simdjson's haswell / westmere / fallback kernels, picked once per process.
bool IsValidUtf8(std::string_view in);
// The kernel IsValidUtf8 runs ("haswell", "westmere" or "fallback").
std::string_view Utf8ValidatorName();

// Matching form, for fingerprints: NFKC + case fold (utf8proc_NFKC_Casefold
// semantics: full-width -> half-width, U+3000 -> space), CJK and Latin
// punctuation unified (，->,  。->.  ！->!  ？->?  ；->;  ：->:  “”„«»「」『』 -> "
// ‘’‹› -> '  （）->()  【】〔〕〖〗 -> []  、->,  dashes and minus -> -  … -> ...),
// control / zero-width / format characters removed, whitespace runs -> one
// ASCII space, spaces adjacent to a CJK character removed (so "5 月 3 日" ==
// "5月3日"; Hangul is not CJK here), trimmed. Invalid UTF-8 is repaired
// first. Idempotent: NormalizeForMatch(NormalizeForMatch(x)) ==
// NormalizeForMatch(x).
std::string NormalizeForMatch(std::string_view utf8);
// Same, into *out, reusing its capacity (the hot path).
void NormalizeForMatch(std::string_view utf8, std::string* out);

// The matching form of `block` from those of its sentences, without
// normalising the block again: `sentences` are SplitSentences(block) (views
// into it, in order) and forms[i] is NormalizeForMatch(sentences[i]). The
// result is NormalizeForMatch(block): the sentences' forms joined, with one
// space where the gap between two had White_Space and neither side is CJK.
// Where that does not hold as it stands (a sentence that starts with a
// combining mark or a control character, ends with one that takes
// utf8proc's path, ...), the block is normalised after all.
void NormalizeBlockFromSentences(std::string_view block,
                                 std::span<const std::string_view> sentences,
                                 std::span<const std::string> forms, std::string* out);

// Everything the detector needs of a page's blocks, with one normalising
// pass per sentence and every matching form written once, into one buffer
// reused page after page: each block's sentences (SplitSentencesInto; views
// into the block), their matching forms, the block's matching form (as
// NormalizeBlockFromSentences gives it) and its ContentKey. Where the join
// vouches for the block (nearly always), the block's form IS the run of its
// sentences' forms in the buffer (with the spaces the join puts between
// them), not a copy of them, and its key is its sentences' keys; otherwise
// both block forms are computed from the block itself. Equal to the forms
// computed one by one (tested on random text, the corpus and the fixtures).
// Once its buffers have grown to the largest page, a page allocates
// nothing, however its text is split into blocks and sentences.
//
//   PageForms forms;                       // one per thread or page in flight
//   forms.Clear();
//   for (std::string_view b : blocks) forms.Append(b);
//   std::string_view f = forms.BlockForm(0);    // NormalizeForMatch(blocks[0])
//   std::string_view s = forms.SentenceForm(0); // NormalizeForMatch(first sentence)
//
// Views it returns stay valid until the next Append or Clear (and the
// sentences as long as the blocks' text).
class PageForms {
 public:
  // Forgets the blocks, keeping every buffer's capacity.
  void Clear();
  // Appends `block`'s sentences and forms, as block number blocks().
  void Append(std::string_view block);
  // Keeps only the blocks i with keep[i] (FindRepeats's RepeatResult::keep;
  // blocks past its end are kept), as if only they had been appended, except
  // for the content keys, which are dropped. Moves no text.
  void Keep(const std::vector<bool>& keep);

  size_t blocks() const { return blocks_.size(); }
  std::string_view BlockForm(size_t i) const { return View(blocks_[i].form); }
  // Block i's sentences are [FirstSentence(i), FirstSentence(i + 1)).
  size_t FirstSentence(size_t i) const {
    return i < blocks_.size() ? blocks_[i].first_sentence : sentences_.size();
  }
  size_t sentences() const { return sentences_.size(); }
  std::string_view Sentence(size_t k) const { return sentences_[k]; }
  std::string_view SentenceForm(size_t k) const { return View(sentence_forms_[k]); }

  // The blocks' content keys, concatenated (for FindRepeatsInKeys); block
  // i's key ends at KeyEnds()[i].
  std::string_view Keys() const { return {keys_.data(), keys_end_}; }
  std::span<const size_t> KeyEnds() const { return key_ends_; }

 private:
  struct Range {
    size_t begin = 0;
    size_t size = 0;
  };
  struct BlockEntry {
    Range form;
    size_t first_sentence = 0;
  };
  std::string_view View(Range r) const { return {text_.data() + r.begin, r.size}; }

  // Every matching form: [0, text_end_) is in use; text_ is never shrunk
  // (its size is how much of it has been written once, so growing into it
  // again writes no zeros).
  std::string text_;
  size_t text_end_ = 0;
  std::string keys_;  // likewise, keys_end_ bytes in use
  size_t keys_end_ = 0;
  std::vector<BlockEntry> blocks_;
  std::vector<std::string_view> sentences_;
  std::vector<Range> sentence_forms_;
  std::vector<size_t> key_ends_;
};

// Content-key form, for the exact-content hash: NFKC WITHOUT case fold (a
// capitalisation edit is a real revision), control / zero-width / format
// characters removed, ALL whitespace removed. A whitespace-only change (CRLF,
// indents, NBSP, U+3000, spaces between CJK and digits) leaves it unchanged.
// This is the corpus labeller's content key (tests/data/corpus/README.md).
std::string ContentKey(std::string_view utf8);
void ContentKey(std::string_view utf8, std::string* out);

// Number of code points in a valid UTF-8 string (ill-formed bytes count as
// one each). Used for character-based thresholds and ratios.
size_t CountCodePoints(std::string_view utf8);

namespace internal {
// The same forms without the 16-byte (SSE2) steps: the byte-at-a-time loops
// the fast paths must agree with, byte for byte. For tests and benchmarks.
void NormalizeForMatchScalar(std::string_view utf8, std::string* out);
void ContentKeyScalar(std::string_view utf8, std::string* out);
// Both forms of `utf8` in one pass: the matching form into *match and the
// content key appended to *key. Only for text the pass's fast paths cover
// (no character that needs utf8proc, no bad bytes): otherwise it returns
// false, leaves *key as it was and *match unspecified.
bool NormalizeBothFast(std::string_view utf8, std::string* match, std::string* key);
// CountCodePoints' kernels: SSE2 (every x86-64) and AVX-512 BW+VL, which
// CountCodePoints runs when the CPU has it (CpuHasAvx512Bw). Tests check
// both against the definition.
size_t CountCodePointsSse2(std::string_view utf8);
bool CpuHasAvx512Bw();
size_t CountCodePointsAvx512(std::string_view utf8);  // only if CpuHasAvx512Bw()
// NormalizeBlockFromSentences's join alone: false when it cannot vouch for
// the result (*out is then unspecified). For tests (PageForms makes the same
// checks as it writes the sentences' forms).
bool JoinSentenceForms(std::string_view block, std::span<const std::string_view> sentences,
                       std::span<const std::string> forms, std::string* out);
}  // namespace internal

}  // namespace dedupd::text
