// ExtractHtml, SplitPlainText, SniffBodyKind: one behaviour per test.
#include "text/extract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "text/internal/html_stream.h"
#include "text/normalize.h"
#include "text/segment.h"
#include "unit/text/text_test_util.h"

namespace dedupd::text {
namespace {

using testing::ContentKeyOf;
using ::testing::ElementsAre;
using testing::Fixture;
using testing::Texts;

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

bool AllValidUtf8(const ExtractedText& t) {
  for (const Block& b : t.blocks) {
    if (!IsValidUtf8(b.text) || b.text.empty()) return false;
  }
  return IsValidUtf8(t.title);
}

// --- HTML ----------------------------------------------------------------

// gumbo turns control characters into U+FFFD; the plain path keeps them in
// the text and drops them from the content key. The same words served as
// text/plain and as HTML must have one content key (else: a false REVISED).
TEST(ExtractHtml, ControlCharactersGiveThePlainTextContentKey) {
  using namespace std::string_literals;
  const std::string words =
      "He said \xC2\x93hello\xC2\x94 to\x01 the\x7F re\x00porters\xC2\x85today, "
      "\xE4\xB8\xAD\xC2\x80\xE6\x96\x87 tab\there."s;
  ASSERT_NE(words.find('\0'), std::string::npos);  // the NUL is in
  const ExtractedText plain = SplitPlainText(words);
  const ExtractedText html = ExtractHtml("<html><body><p>" + words + "</p></body></html>");
  EXPECT_EQ(ContentKeyOf(html), ContentKeyOf(plain));
  for (const Block& b : html.blocks) {
    EXPECT_EQ(b.text.find("\xEF\xBF\xBD"), std::string::npos) << b.text;  // no U+FFFD
  }
  // Without controls nothing is rewritten: entities and markup as before.
  EXPECT_THAT(Texts(ExtractHtml("<p>a &amp; b\tc</p>")), ElementsAre("a & b c"));
}

// A control removed from the middle of a multi-byte sequence must not join
// the bytes around it into a character (found by fuzz_extract: C2, NULs, 9C
// became U+009C, which the reference turns into U+FFFD and the streaming pass
// kept). The cut sequence is decoded as if the control were still there.
TEST(ExtractHtml, ARemovedControlDoesNotJoinTheBytesAroundIt) {
  using namespace std::string_literals;
  const std::string cases[] = {
      "a\xC2\x00\x00\x9C b"s,      // lone lead, NULs, lone continuation
      "a\xE4\xB8\x00\xAD b"s,      // would become U+4E2D
      "a\xF0\x9F\x01\x98\x80 b"s,  // would become U+1F600
      "a\xE4\xB8\xC2\x80\xAD b"s,  // a C1 control in the middle
      "a\xE4\xB8\x7F\x7F\xAD b"s,  // DEL
  };
  for (const std::string& words : cases) {
    const std::string html = "<p>" + words + "</p>";
    const ExtractedText streamed = ExtractHtml(html);
    const ExtractedText reference = internal::ExtractHtmlReference(html);
    EXPECT_EQ(streamed.blocks, reference.blocks) << html;
    EXPECT_EQ(ContentKeyOf(streamed), ContentKeyOf(SplitPlainText(words))) << html;
    ASSERT_EQ(streamed.blocks.size(), 1u) << html;
    const std::string& text = streamed.blocks[0].text;
    EXPECT_EQ(text.find("\xE4\xB8\xAD"), std::string::npos) << text;
    EXPECT_EQ(text.find("\xF0\x9F\x98\x80"), std::string::npos) << text;
    EXPECT_EQ(text.find("\xC2\x9C"), std::string::npos) << text;
    EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos) << text;  // U+FFFD
  }
}

TEST(ExtractHtml, DecodesEntities) {
  const ExtractedText t = ExtractHtml(
      "<p>A &amp; B &lt;C&gt; &quot;q&quot; &#20013;&#x6587; &copy;&nbsp;x &bogus;</p>");
  EXPECT_THAT(Texts(t), ElementsAre("A & B <C> \"q\" 中文 ©\u00A0x &bogus;"));
}

TEST(ExtractHtml, DropsScriptStyleAndComments) {
  const ExtractedText t = ExtractHtml(
      "<p>a<script>var x = '<p>no</p>';</script>b<!-- hidden <p>no</p> -->c"
      "<style>p { color: red }</style></p>");
  EXPECT_THAT(Texts(t), ElementsAre("abc"));
}

TEST(ExtractHtml, DropsNoscriptTemplateAndSvg) {
  const ExtractedText t = ExtractHtml(
      "<p>kept</p><noscript><p>enable js</p></noscript><template><p>tpl</p></template>"
      "<svg><text>label</text><title>svg title</title></svg><iframe>frame</iframe>");
  EXPECT_THAT(Texts(t), ElementsAre("kept"));
}

TEST(ExtractHtml, DropsHeadButKeepsTitle) {
  const ExtractedText t = ExtractHtml(
      "<html><head><title>  The\n  Title </title><meta name=x content=y>"
      "<style>x{}</style></head><body><p>body</p></body></html>");
  EXPECT_EQ(t.title, "The Title");
  EXPECT_THAT(Texts(t), ElementsAre("body"));
}

TEST(ExtractHtml, MarksChromeBlocks) {
  const ExtractedText t = ExtractHtml(
      "<header><p>site name</p></header><nav><ul><li>Home</li></ul></nav>"
      "<main><p>article</p><aside>related</aside></main>"
      "<footer><div><p>copyright</p></div></footer>");
  ASSERT_EQ(t.blocks.size(), 5u);
  EXPECT_EQ(t.blocks[0], (Block{"site name", true}));
  EXPECT_EQ(t.blocks[1], (Block{"Home", true}));
  EXPECT_EQ(t.blocks[2], (Block{"article", false}));
  EXPECT_EQ(t.blocks[3], (Block{"related", true}));
  EXPECT_EQ(t.blocks[4], (Block{"copyright", true}));
  EXPECT_EQ(JoinContent(t), "article");
}

TEST(ExtractHtml, SiteHeadAndFootDivsAreContent) {
  // The corpus labeller treats div.site-head / div.site-foot as content.
  const ExtractedText t = ExtractHtml(
      "<div class=site-head><p>北方政务服务网</p></div><div class=content><p>正文</p></div>"
      "<div class=site-foot><p>版权所有</p></div><footer><p>本站</p></footer>");
  EXPECT_EQ(JoinContent(t), "北方政务服务网\n正文\n版权所有");
}

TEST(ExtractHtml, BlockElementsEndBlocksAndInlineElementsJoin) {
  const ExtractedText t = ExtractHtml(
      "<div>a<b>b</b>c<br>d<p>e</p>f</div><ul><li>1</li><li>2</li></ul>"
      "<h2>Head<i>ing</i></h2><p>Hello <em>big</em> <a href=#>world</a></p>");
  EXPECT_THAT(Texts(t), ElementsAre("abc", "d", "e", "f", "1", "2", "Heading", "Hello big world"));
}

TEST(ExtractHtml, CollapsesSourceWhitespaceOutsidePre) {
  const ExtractedText t = ExtractHtml("<p>  one \n\t two  </p><pre>x  y\n  z</pre>");
  EXPECT_THAT(Texts(t), ElementsAre("one two", "x  y", "z"));
}

TEST(ExtractHtml, KeepsNonBreakingAndIdeographicSpacesInside) {
  const ExtractedText t = ExtractHtml("<p>\u3000\u3000正文&nbsp;&nbsp;开始</p>");
  EXPECT_THAT(Texts(t), ElementsAre("正文\u00A0\u00A0开始"));
}

TEST(ExtractHtml, TableCellsAreBlocks) {
  const ExtractedText t =
      ExtractHtml("<table><tr><th>Name</th><td>Value</td></tr><tr><td>a</td></tr></table>");
  EXPECT_THAT(Texts(t), ElementsAre("Name", "Value", "a"));
}

TEST(ExtractHtml, ToleratesUnclosedTags) {
  const ExtractedText t = ExtractHtml("<div><p>one<p>two<li>three<div>four<span>five");
  EXPECT_THAT(Texts(t), ElementsAre("one", "two", "three", "fourfive"));
}

// gumbo 0.10.1 leaks an ignored doctype token inside a <noscript> in the
// head; the pre-pass drops every doctype that is not the first markup (HTML
// ignores those anyway). Under the sanitizer build (CI) the leak itself would
// fail this test.
TEST(ExtractHtml, MisplacedDoctypesChangeNothingAndDoNotLeak) {
  EXPECT_THAT(Texts(ExtractHtml("<noscript><!DOCTYPE html>x")), ElementsAre("x"));
  EXPECT_THAT(Texts(ExtractHtml("<html><head><noscript><!doctype html PUBLIC \"a\" \"b\">"
                                "</noscript><title>t</title><body><p>x")),
              ElementsAre("x"));
  // Each page extracts as the same page without its misplaced doctypes.
  const std::pair<std::string_view, std::string_view> pairs[] = {
      {"<p>a</p><!DOCTYPE html><p>b</p>", "<p>a</p><p>b</p>"},
      {"a<!DOCTYPE html>b", "ab"},
      {"<!DOCTYPE html><!DOCTYPE html><p>a<p>b", "<!DOCTYPE html><p>a<p>b"},
      {"<table><!DOCTYPE x><tr><td>a</td></tr></table>", "<table><tr><td>a</td></tr></table>"}};
  for (const auto& [with, without] : pairs) {
    EXPECT_EQ(Texts(ExtractHtml(with)), Texts(ExtractHtml(without))) << with;
  }
  // The first markup may be a doctype after a BOM, whitespace, comments or
  // an XML declaration; text inside <title> that looks like one is text.
  EXPECT_EQ(ExtractHtml("\xEF\xBB\xBF <!-- c --><?xml version=\"1.0\"?>\n<!DOCTYPE html>"
                        "<title>a <!DOCTYPE b</title><p>x")
                .title,
            "a <!DOCTYPE b");
}

TEST(ExtractHtml, ToleratesGarbageBytes) {
  const ExtractedText t = ExtractHtml(
      "\xFF\xFE<p>\x80"
      "abc\xC3</p><<<>>><p <x </ >\0tail");
  EXPECT_TRUE(AllValidUtf8(t));
  EXPECT_FALSE(t.blocks.empty());
}

TEST(ExtractHtml, SurvivesTenThousandNestedElements) {
  const std::string html =
      Repeat("<div>", 10000) + "deep" + Repeat("</div>", 10000) + "<p>after</p>";
  const ExtractedText t = ExtractHtml(html);
  EXPECT_THAT(Texts(t), ElementsAre("deep", "after"));
}

TEST(ExtractHtml, SurvivesDeepUnclosedNestingOfManyKinds) {
  const std::string html = Repeat("<div><span><section><ul><li><table><td>", 20000) + "bottom";
  const ExtractedText t = ExtractHtml(html);
  ASSERT_FALSE(t.blocks.empty());
  EXPECT_EQ(t.blocks.back().text, "bottom");
}

TEST(ExtractHtml, FlattensNestingBeyondTheLimitButKeepsText) {
  std::string html;
  for (int i = 0; i < 2000; ++i) html += "<div>" + std::to_string(i);
  const ExtractedText t = ExtractHtml(html);
  ASSERT_EQ(t.blocks.size(), 2000u);  // deep divs become <br>: the blocks survive
  EXPECT_EQ(t.blocks[1999].text, "1999");
}

TEST(ExtractHtml, SurvivesFormattingElementBomb) {
  std::string html;
  for (int i = 0; i < 5000; ++i) html += "<b id=" + std::to_string(i) + ">";
  html += Repeat("<p>x</p>", 2000);
  const ExtractedText t = ExtractHtml(html);
  EXPECT_EQ(t.blocks.size(), 2000u);
}

TEST(ExtractHtml, DeepNestingInsideSvgAndComments) {
  const std::string html =
      "<svg>" + Repeat("<g>", 50000) + "</svg><!-- " + Repeat("<div>", 1000) + " --><p>ok</p>";
  EXPECT_THAT(Texts(ExtractHtml(html)), ElementsAre("ok"));
}

TEST(ExtractHtml, EmptyAndTextOnlyInput) {
  EXPECT_TRUE(ExtractHtml("").blocks.empty());
  EXPECT_THAT(Texts(ExtractHtml("just text")), ElementsAre("just text"));
}

TEST(ExtractHtml, EnglishReleaseMatchesItsPlainTextVersion) {
  const ExtractedText html = ExtractHtml(Fixture("en-release.html"));
  const ExtractedText text = SplitPlainText(Fixture("en-release.txt"));
  EXPECT_EQ(html.title, "City Council Approves 2024 Budget, Expands Transit Funding");
  // The HTML's article is the text version's first 7 lines; the text version
  // adds a media contact and the footer, which the HTML has in <footer>.
  ExtractedText article = text;
  article.blocks.resize(7);
  EXPECT_EQ(ContentKeyOf(html), ContentKeyOf(article));
  std::vector<std::string_view> html_sentences, text_sentences;
  for (const Block& b : html.blocks) {
    if (b.chrome) continue;
    for (auto s : SplitSentences(b.text)) html_sentences.push_back(s);
  }
  for (const Block& b : article.blocks) {
    for (auto s : SplitSentences(b.text)) text_sentences.push_back(s);
  }
  EXPECT_EQ(html_sentences, text_sentences);
  EXPECT_EQ(html_sentences.size(), 10u);
}

TEST(ExtractHtml, EnglishReleaseChromeIsNavAndFooter) {
  const ExtractedText html = ExtractHtml(Fixture("en-release.html"));
  std::vector<std::string> chrome;
  for (const Block& b : html.blocks) {
    if (b.chrome) chrome.push_back(b.text);
  }
  EXPECT_THAT(chrome, ElementsAre("Home", "News", "Contact",
                                  "Share on Facebook | Share on X | Print this page",
                                  "Copyright © City of Example. All rights reserved."));
}

// --- plain text ----------------------------------------------------------

TEST(SplitPlainText, OneBlockPerNonBlankLine) {
  const ExtractedText t = SplitPlainText("a\r\nb\rc\nd\u2028e\u2029f\xC2\x85g\n\n \t\n\u3000\nh");
  EXPECT_THAT(Texts(t), ElementsAre("a", "b", "c", "d", "e", "f", "g", "h"));
}

TEST(SplitPlainText, FindsBreaksInsideLongAsciiRuns) {
  const ExtractedText t = SplitPlainText(
      "The City Council today approved\rthe 2024 operating budget\r\nby a vote of 9 to 2.\n"
      "It totals $4.2 billion.");
  EXPECT_THAT(Texts(t), ElementsAre("The City Council today approved", "the 2024 operating budget",
                                    "by a vote of 9 to 2.", "It totals $4.2 billion."));
}

TEST(SplitPlainText, TrimsButKeepsInnerSpacing) {
  const ExtractedText t = SplitPlainText("\u3000\u3000  • 来源:  川观新闻  \n\u200Bx\u200B");
  EXPECT_THAT(Texts(t), ElementsAre("• 来源:  川观新闻", "x"));
}

TEST(SplitPlainText, RepairsInvalidUtf8) {
  const ExtractedText t = SplitPlainText("ok\n\xFF\xFEzz\n");
  EXPECT_THAT(Texts(t), ElementsAre("ok", "\uFFFD\uFFFDzz"));
}

TEST(SplitPlainText, SeedPageLines) {
  const ExtractedText t = SplitPlainText(Fixture("sc-gov-release.txt"));
  ASSERT_EQ(t.blocks.size(), 25u);
  EXPECT_EQ(t.blocks[4].text, "• 2023年04月27日 18时46分");
  EXPECT_TRUE(t.title.empty());
}

// SplitPlainTextLines: the same lines as views, into the text itself when
// it is valid UTF-8 (no copy), into the repaired copy when it is not.
TEST(SplitPlainTextLines, SameLinesAsSplitPlainTextAsViews) {
  const std::string inputs[] = {
      "a\r\nb\rc\nd\u2028e\u2029f\xC2\x85g\n\n \t\n\u3000\nh",
      "\u3000\u3000  • 来源:  川观新闻  \n\u200Bx\u200B",
      "The City Council today approved\rthe 2024 operating budget\r\nby a vote of 9 to 2.\n",
      "\n\n",
      "",
      "one line, no break",
      "ok\n\xFF\xFEzz\n",
      "\xE2\x80\n\xC2",
      Fixture("sc-gov-release.txt"),
      Fixture("en-release.txt")};
  std::vector<std::string_view> lines{"stale"};
  std::string repaired = "stale";
  for (const std::string& in : inputs) {
    SplitPlainTextLines(in, &lines, &repaired);
    std::vector<std::string> got(lines.begin(), lines.end());
    EXPECT_EQ(got, Texts(SplitPlainText(in))) << in;
    const bool valid = IsValidUtf8(in);
    for (std::string_view line : lines) {
      const std::string_view source = valid ? std::string_view(in) : std::string_view(repaired);
      EXPECT_TRUE(line.data() >= source.data() &&
                  line.data() + line.size() <= source.data() + source.size())
          << "not a view into the " << (valid ? "text" : "repaired text") << ": " << line;
    }
  }
}

// --- sniffing ------------------------------------------------------------

TEST(SniffBodyKind, TrustsTheContentType) {
  EXPECT_EQ(SniffBodyKind("text/html; charset=utf-8", "plain words"), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("TEXT/HTML", ""), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("application/xhtml+xml", ""), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("text/plain; charset=utf-8", "<html><p>x</p></html>"), BodyKind::kPlain);
}

TEST(SniffBodyKind, SniffsWhenTheTypeIsMissingOrUnknown) {
  EXPECT_EQ(SniffBodyKind("", "\xEF\xBB\xBF  <!DOCTYPE html><html>"), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("", "<p>para</p>"), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("", "<div class=x>"), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("", "<!-- c --><p>"), BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("application/octet-stream", "<?xml version=\"1.0\"?>\n<html>"),
            BodyKind::kHtml);
  EXPECT_EQ(SniffBodyKind("", "王晓晖主持召开会议\n<p> is a tag"), BodyKind::kPlain);
  EXPECT_EQ(SniffBodyKind("", "<pre-formatted> text"), BodyKind::kPlain);
  EXPECT_EQ(SniffBodyKind("", ""), BodyKind::kPlain);
}

}  // namespace
}  // namespace dedupd::text
