// Text stage throughput (bytes/s of input) on ~64 KiB of CJK text (the seed
// page sc-gov-release.txt repeated) and of English text (en-release.txt
// repeated), with XXH3-64 over the same bytes as the reference. Results and
// the command line are in docs/text.md.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <xxhash.h>

#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "text/extract.h"
#include "text/internal/html_stream.h"
#include "text/normalize.h"
#include "text/repeats.h"
#include "text/segment.h"

namespace dedupd::text {
namespace {

constexpr size_t kTargetBytes = 64 * 1024;

std::string ReadFixture(const char* name) {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

enum class Lang { kCjk, kEnglish };

const std::string& Source(Lang lang) {
  static const std::string cjk = ReadFixture("sc-gov-release.txt");
  static const std::string en = ReadFixture("en-release.txt");
  return lang == Lang::kCjk ? cjk : en;
}

// The fixture repeated to ~64 KiB. With `unique`, every copy's lines carry the
// copy number, so that repeat detection finds nothing to collapse.
std::string PlainText(Lang lang, bool unique) {
  const std::string& src = Source(lang);
  std::string out;
  for (int copy = 0; out.size() < kTargetBytes; ++copy) {
    if (!unique) {
      out += src;
      out += '\n';
      continue;
    }
    std::istringstream lines(src);
    std::string line;
    while (std::getline(lines, line)) {
      out += line;
      if (!line.empty()) out += " (" + std::to_string(copy) + ")";
      out += '\n';
    }
  }
  return out;
}

// The same text as an HTML page: head with style and script, nav, one <p>
// per line inside div.content, footer.
std::string HtmlPage(Lang lang) {
  std::string html =
      "<!DOCTYPE html><html><head><meta charset=utf-8><title>Benchmark page</title>"
      "<style>body{margin:0 auto}.content p{line-height:1.8}</style>"
      "<script>var _hmt=_hmt||[];(function(){var s=document.createElement('script');})();</script>"
      "</head><body><nav><ul><li><a href=/>Home</a></li><li><a href=/news>News</a></li></ul></nav>"
      "<div class=content>\n";
  const std::string text = PlainText(lang, true);
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    html += "<p>" + line + "</p>\n";
  }
  html += "</div><footer><p>Copyright &copy; Example</p></footer></body></html>";
  return html;
}

std::vector<std::string_view> BlockViews(const ExtractedText& t) {
  std::vector<std::string_view> v;
  for (const Block& b : t.blocks) v.push_back(b.text);
  return v;
}

void BM_Xxh3Reference(benchmark::State& state, Lang lang) {
  const std::string text = PlainText(lang, true);
  for (auto _ : state) benchmark::DoNotOptimize(XXH3_64bits(text.data(), text.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_NormalizeForMatch(benchmark::State& state, Lang lang) {
  const std::string text = PlainText(lang, true);
  std::string out;
  for (auto _ : state) {
    NormalizeForMatch(text, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_ContentKey(benchmark::State& state, Lang lang) {
  const std::string text = PlainText(lang, true);
  std::string out;
  for (auto _ : state) {
    ContentKey(text, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_SplitPlainText(benchmark::State& state, Lang lang) {
  const std::string text = PlainText(lang, true);
  for (auto _ : state) benchmark::DoNotOptimize(SplitPlainText(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

// SplitSentencesInto as the detector calls it (one vector reused), or the
// reference loop (byte-at-a-time terminator search) the fast one replaced.
void BM_SplitSentences(benchmark::State& state, Lang lang, bool reference) {
  const std::string text = PlainText(lang, true);
  const ExtractedText t = SplitPlainText(text);
  size_t bytes = 0;
  for (const Block& b : t.blocks) bytes += b.text.size();
  std::vector<std::string_view> out;
  for (auto _ : state) {
    out.clear();
    for (const Block& b : t.blocks) {
      if (reference) {
        internal::SplitSentencesReference(b.text, &out);
      } else {
        SplitSentencesInto(b.text, &out);
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_FindRepeats(benchmark::State& state, Lang lang, bool unique) {
  const std::string text = PlainText(lang, unique);
  const ExtractedText t = SplitPlainText(text);
  const std::vector<std::string_view> blocks = BlockViews(t);
  for (auto _ : state) benchmark::DoNotOptimize(FindRepeats(blocks));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_ExtractHtml(benchmark::State& state, Lang lang) {
  const std::string html = HtmlPage(lang);
  for (auto _ : state) benchmark::DoNotOptimize(ExtractHtml(html));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * html.size()));
  state.counters["page_bytes"] = static_cast<double>(html.size());
}

// The corpus's HTML pages (tests/data/corpus/dev.jsonl, content_type
// text/html): all 159, or only the 16 real cctv article pages (those with
// their #content_area), each page extracted once per iteration.
enum class HtmlSet { kCorpus, kCctv };
enum class HtmlPath { kReference, kStreaming, kPublic };

const std::vector<std::string>& CorpusHtml(HtmlSet set) {
  static const auto pages = [] {
    std::vector<std::string> all, cctv;
    std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl", std::ios::binary);
    std::string line;
    simdjson::dom::parser parser;
    while (std::getline(in, line)) {
      simdjson::dom::element e;
      std::string_view type, body;
      if (parser.parse(line).get(e) != simdjson::SUCCESS ||
          e["content_type"].get(type) != simdjson::SUCCESS ||
          e["body"].get(body) != simdjson::SUCCESS || type.find("html") == std::string_view::npos) {
        continue;
      }
      all.emplace_back(body);
      if (body.find("content_area") != std::string_view::npos) cctv.emplace_back(body);
    }
    return std::pair{all, cctv};
  }();
  return set == HtmlSet::kCorpus ? pages.first : pages.second;
}

void BM_HtmlPages(benchmark::State& state, HtmlSet set, HtmlPath path) {
  const std::vector<std::string>& pages = CorpusHtml(set);
  size_t bytes = 0;
  for (const std::string& p : pages) bytes += p.size();
  ExtractedText out;
  for (auto _ : state) {
    for (const std::string& p : pages) {
      switch (path) {
        case HtmlPath::kReference: out = internal::ExtractHtmlReference(p); break;
        case HtmlPath::kStreaming:
          if (!internal::ExtractHtmlStreaming(p, &out)) state.SkipWithError("gave up");
          break;
        case HtmlPath::kPublic: ExtractHtml(p, &out); break;
      }
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["pages"] = static_cast<double>(pages.size());
}

// The per-page hot path for a plain-text page: blocks, repeats (which also
// yields the canonical content key), and each kept block's matching form for
// the shingles. Every page takes this path.
void BM_TextStagePlain(benchmark::State& state, Lang lang) {
  const std::string text = PlainText(lang, true);
  std::string match;
  for (auto _ : state) {
    const ExtractedText t = SplitPlainText(text);
    const std::vector<std::string_view> blocks = BlockViews(t);
    const RepeatResult r = FindRepeats(blocks);
    benchmark::DoNotOptimize(XXH3_64bits(r.content_key.data(), r.content_key.size()));
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (!r.keep[i]) continue;
      NormalizeForMatch(blocks[i], &match);
      benchmark::DoNotOptimize(match.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

// The same plus sentence segmentation, which only pages that get a diff
// (REVISED, NEAR_DUPLICATE) need.
void BM_TextStagePlainWithSentences(benchmark::State& state, Lang lang) {
  const std::string text = PlainText(lang, true);
  std::string match;
  for (auto _ : state) {
    const ExtractedText t = SplitPlainText(text);
    const std::vector<std::string_view> blocks = BlockViews(t);
    const RepeatResult r = FindRepeats(blocks);
    benchmark::DoNotOptimize(XXH3_64bits(r.content_key.data(), r.content_key.size()));
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (!r.keep[i]) continue;
      NormalizeForMatch(blocks[i], &match);
      benchmark::DoNotOptimize(match.data());
      benchmark::DoNotOptimize(SplitSentences(blocks[i]));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

// What the detector does to a plain-text page's blocks before shingling:
// the content keys and repeats, then each block's sentences, their matching
// forms and the block's form. kSeparate: as main did until session 7 (a
// ContentKey pass per block in FindRepeats, a NormalizeForMatch pass per
// sentence); kOnePass: PageForms (both forms from one pass per sentence,
// the block's form the run of its sentences' forms in one buffer) and
// FindRepeatsInKeys on its keys.
enum class FormsPath { kSeparate, kOnePass };

void BM_BlockForms(benchmark::State& state, Lang lang, FormsPath path) {
  const std::string text = PlainText(lang, true);
  ExtractedText t;
  SplitPlainText(text, &t);
  const std::vector<std::string_view> blocks = BlockViews(t);
  std::vector<std::string_view> sentences;
  std::vector<std::string> sentence_forms, forms(blocks.size());
  PageForms page;
  RepeatResult r;
  for (auto _ : state) {
    sentences.clear();
    if (path == FormsPath::kSeparate) {
      FindRepeats(blocks, {}, &r);
      for (size_t i = 0; i < blocks.size(); ++i) {
        const size_t first = sentences.size();
        SplitSentencesInto(blocks[i], &sentences);
        if (sentence_forms.size() < sentences.size()) sentence_forms.resize(sentences.size());
        for (size_t k = first; k < sentences.size(); ++k) {
          NormalizeForMatch(sentences[k], &sentence_forms[k]);
        }
        NormalizeBlockFromSentences(
            blocks[i], std::span<const std::string_view>(sentences).subspan(first),
            std::span<const std::string>(sentence_forms).subspan(first, sentences.size() - first),
            &forms[i]);
      }
    } else {
      page.Clear();
      for (const std::string_view b : blocks) page.Append(b);
      FindRepeatsInKeys(blocks.size(), page.Keys(), page.KeyEnds(), {}, &r);
      benchmark::DoNotOptimize(page.Keys().data());
    }
    benchmark::DoNotOptimize(r.content_key.data());
    benchmark::DoNotOptimize(forms.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

BENCHMARK_CAPTURE(BM_BlockForms, cjk_separate, Lang::kCjk, FormsPath::kSeparate);
BENCHMARK_CAPTURE(BM_BlockForms, cjk_one_pass, Lang::kCjk, FormsPath::kOnePass);
BENCHMARK_CAPTURE(BM_BlockForms, en_separate, Lang::kEnglish, FormsPath::kSeparate);
BENCHMARK_CAPTURE(BM_BlockForms, en_one_pass, Lang::kEnglish, FormsPath::kOnePass);
BENCHMARK_CAPTURE(BM_Xxh3Reference, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_Xxh3Reference, en, Lang::kEnglish);
BENCHMARK_CAPTURE(BM_NormalizeForMatch, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_NormalizeForMatch, en, Lang::kEnglish);
BENCHMARK_CAPTURE(BM_ContentKey, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_ContentKey, en, Lang::kEnglish);
BENCHMARK_CAPTURE(BM_SplitPlainText, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_SplitPlainText, en, Lang::kEnglish);
BENCHMARK_CAPTURE(BM_SplitSentences, cjk, Lang::kCjk, false);
BENCHMARK_CAPTURE(BM_SplitSentences, en, Lang::kEnglish, false);
BENCHMARK_CAPTURE(BM_SplitSentences, cjk_reference, Lang::kCjk, true);
BENCHMARK_CAPTURE(BM_SplitSentences, en_reference, Lang::kEnglish, true);
BENCHMARK_CAPTURE(BM_FindRepeats, cjk_unique, Lang::kCjk, true);
BENCHMARK_CAPTURE(BM_FindRepeats, cjk_repeated, Lang::kCjk, false);
BENCHMARK_CAPTURE(BM_FindRepeats, en_unique, Lang::kEnglish, true);
BENCHMARK_CAPTURE(BM_ExtractHtml, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_ExtractHtml, en, Lang::kEnglish);
BENCHMARK_CAPTURE(BM_HtmlPages, corpus_reference, HtmlSet::kCorpus, HtmlPath::kReference);
BENCHMARK_CAPTURE(BM_HtmlPages, corpus_streaming, HtmlSet::kCorpus, HtmlPath::kStreaming);
BENCHMARK_CAPTURE(BM_HtmlPages, corpus_public, HtmlSet::kCorpus, HtmlPath::kPublic);
BENCHMARK_CAPTURE(BM_HtmlPages, cctv_reference, HtmlSet::kCctv, HtmlPath::kReference);
BENCHMARK_CAPTURE(BM_HtmlPages, cctv_streaming, HtmlSet::kCctv, HtmlPath::kStreaming);
BENCHMARK_CAPTURE(BM_HtmlPages, cctv_public, HtmlSet::kCctv, HtmlPath::kPublic);
BENCHMARK_CAPTURE(BM_TextStagePlain, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_TextStagePlain, en, Lang::kEnglish);
BENCHMARK_CAPTURE(BM_TextStagePlainWithSentences, cjk, Lang::kCjk);
BENCHMARK_CAPTURE(BM_TextStagePlainWithSentences, en, Lang::kEnglish);

}  // namespace
}  // namespace dedupd::text
