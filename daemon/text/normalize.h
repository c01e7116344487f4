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

// Everything the detector needs of one block's text, with one normalising
// pass per sentence instead of one for each form: the block's sentences
// (SplitSentencesInto(block), appended to *sentences), their matching forms
// ((*sentence_forms)[first + i] for the i-th sentence appended, where first
// is sentences->size() on entry; the vector grows as needed and keeps its
// strings' capacity), the block's matching form in *form (as
// NormalizeBlockFromSentences gives it) and the block's ContentKey APPENDED
// to *keys. Each sentence's two forms come from one pass over it; the
// block's key is its sentences' keys joined, where the join of the matching
// forms vouches for the block (otherwise both block forms are computed from
// the block itself). Equal to the forms computed one by one (tested on
// random text, the corpus and the fixtures).
void NormalizeBlockForms(std::string_view block, std::vector<std::string_view>* sentences,
                         std::vector<std::string>* sentence_forms, std::string* form,
                         std::string* keys);

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
// the result (*out is then unspecified). For tests.
bool JoinSentenceForms(std::string_view block, std::span<const std::string_view> sentences,
                       std::span<const std::string> forms, std::string* out);
}  // namespace internal

}  // namespace dedupd::text
