// Sentence segmentation of one block (a paragraph or line), CJK-aware. The
// diff stage aligns revisions sentence by sentence, so a sentence here is the
// unit in which an edit is reported.
//
//   auto s = SplitSentences("会议指出，要加快。具体工作中，要把握关系！Mr. Smith paid $3.5
//   million.");
//   // {"会议指出，要加快。", "具体工作中，要把握关系！", "Mr. Smith paid $3.5 million."}
//
// Thread-safety: pure function.
#pragma once

#include <string_view>
#include <vector>

namespace dedupd::text {

// Sentences of one block in its original text. 。！？； (and ｡) end a sentence
// wherever they stand; their ASCII forms . ! ? ; end one only when followed by
// whitespace, a CJK character or the end of the block. A run of terminators
// ("?!", "！？", "...") stays together, and closing quotes and brackets right
// after it (” ’ 」 』 ） ) ] 】 》 " ') stay with the sentence. A '.' does not
// split after a Latin abbreviation (Mr. Dr. Inc. U.S. e.g. etc., see
// segment.cc), after a single capital initial (J. Smith), inside a number
// (3.5, 1,000.25), or before a lowercase word. Views point into `block`, are
// trimmed of whitespace and zero-width characters, and are never empty. Bytes
// that are not valid UTF-8 are treated as ordinary text.
std::vector<std::string_view> SplitSentences(std::string_view block);
// The same sentences appended to *out (no allocation once *out has grown).
void SplitSentencesInto(std::string_view block, std::vector<std::string_view>* out);

namespace internal {
// The same splitter with the byte-at-a-time search for terminators (every
// candidate lead byte decoded) that SplitSentencesInto's 16-byte search must
// agree with, sentence for sentence. For tests and benchmarks.
void SplitSentencesReference(std::string_view block, std::vector<std::string_view>* out);
// The 16-byte (SSE2) search, which SplitSentencesInto takes on CPUs without
// AVX2 (with it, 32 bytes at a time): for tests on every machine.
void SplitSentencesSse2(std::string_view block, std::vector<std::string_view>* out);
}  // namespace internal

}  // namespace dedupd::text
