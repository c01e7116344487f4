// The streaming HTML extractor against the gumbo reference path: the same
// blocks and title on every HTML page of the corpus and the fixtures, on
// every named character reference, on hand-written tricky markup and on
// generated random markup; and no allocation per page in steady state.
#include "text/internal/html_stream.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "text/extract.h"
#include "unit/text/text_test_util.h"

// Counts heap allocations (for the steady-state test).
namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
// Every form a library may call (simdjson's shared library allocates with the
// nothrow form and frees through the sized delete above): all on malloc, so
// that AddressSanitizer sees matching pairs.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace dedupd::text {
namespace {

struct Page {
  std::string name;
  std::string body;
};

// Every HTML body of a JSON-lines file (content_type containing "html").
std::vector<Page> HtmlPages(const std::string& path, const std::string& prefix) {
  std::vector<Page> pages;
  const std::string all = testing::ReadFile(path);
  simdjson::dom::parser parser;
  size_t begin = 0;
  size_t line = 0;
  while (begin < all.size()) {
    size_t end = all.find('\n', begin);
    if (end == std::string::npos) end = all.size();
    ++line;
    if (end > begin) {
      simdjson::dom::element e;
      if (parser.parse(all.substr(begin, end - begin)).get(e) == simdjson::SUCCESS) {
        std::string_view type, body, url;
        const bool ok = e["content_type"].get(type) == simdjson::SUCCESS &&
                        e["body"].get(body) == simdjson::SUCCESS &&
                        e["url"].get(url) == simdjson::SUCCESS;
        if (ok && type.find("html") != std::string_view::npos) {
          pages.push_back(
              {prefix + ":" + std::to_string(line) + " " + std::string(url), std::string(body)});
        }
      }
    }
    begin = end + 1;
  }
  return pages;
}

std::vector<Page> AllHtmlPages() {
  const std::string dir = DEDUPD_TEST_DATA_DIR;
  std::vector<Page> pages = HtmlPages(dir + "/corpus/dev.jsonl", "dev.jsonl");
  for (Page& p : HtmlPages(dir + "/fixtures/pages.jsonl", "pages.jsonl")) {
    pages.push_back(std::move(p));
  }
  pages.push_back({"fixtures/en-release.html", testing::Fixture("en-release.html")});
  return pages;
}

std::string Describe(const ExtractedText& t) {
  std::string out = "title=[" + t.title + "]\n";
  for (const Block& b : t.blocks) out += (b.chrome ? "  C [" : "  - [") + b.text + "]\n";
  return out;
}

// The streaming path must not give up on these pages, and must agree.
TEST(HtmlStream, EqualsTheReferenceOnEveryCorpusAndFixturePage) {
  const std::vector<Page> pages = AllHtmlPages();
  ASSERT_GE(pages.size(), 159u + 2u);
  size_t blocks = 0;
  for (const Page& p : pages) {
    const ExtractedText ref = internal::ExtractHtmlReference(p.body);
    ExtractedText fast;
    ASSERT_TRUE(internal::ExtractHtmlStreaming(p.body, &fast)) << "gave up on " << p.name;
    EXPECT_EQ(fast.title, ref.title) << p.name;
    EXPECT_EQ(fast.blocks, ref.blocks) << p.name << "\nstreaming:\n"
                                       << Describe(fast) << "reference:\n"
                                       << Describe(ref);
    blocks += ref.blocks.size();
  }
  std::printf("%zu HTML pages, %zu blocks: identical\n", pages.size(), blocks);
}

void ExpectSame(const std::string& html, bool must_not_give_up = false) {
  const ExtractedText ref = internal::ExtractHtmlReference(html);
  ExtractedText fast;
  const bool ok = internal::ExtractHtmlStreaming(html, &fast);
  if (must_not_give_up) {
    EXPECT_TRUE(ok) << html;
  }
  if (ok) {
    EXPECT_EQ(fast.title, ref.title) << html;
    EXPECT_EQ(fast.blocks, ref.blocks) << html << "\nstreaming:\n"
                                       << Describe(fast) << "reference:\n"
                                       << Describe(ref);
  }
  // Whatever the streaming pass does, ExtractHtml gives the reference's result.
  const ExtractedText public_result = ExtractHtml(html);
  EXPECT_EQ(public_result.blocks, ref.blocks) << html;
  EXPECT_EQ(public_result.title, ref.title) << html;
}

TEST(HtmlStream, DecodesEveryNamedReferenceAsTheReference) {
  // All 2,231 names (the table is compiled in from the same WHATWG list
  // gumbo uses), with ';', and followed by letters and digits.
  struct Ref {
    std::string_view name;
    std::string_view value;
  };
  static constexpr Ref kRefs[] = {
#include "text/internal/html_entities.inc"
  };
  size_t names = 0;
  for (const Ref& r : kRefs) {
    const std::string name(r.name);
    ExpectSame("<p>x &" + name + " y</p>", true);
    ExpectSame("<p>&" + name + "abc9;</p>", true);
    ++names;
  }
  EXPECT_EQ(names, 2231u);
}

TEST(HtmlStream, NumericAndMalformedReferences) {
  for (const char* ref :
       {"&#0;",      "&#1;",       "&#9;",       "&#10;",          "&#13;",    "&#32;",
        "&#65",      "&#x41;",     "&#X41",      "&#x;",           "&#;",      "&#",
        "&#x",       "&#128;",     "&#x80;",     "&#x9F;",         "&#x81;",   "&#xD800;",
        "&#xDFFF;",  "&#x10FFFF;", "&#x110000;", "&#99999999999;", "&#xFFFE;", "&#xFDD0;",
        "&#x1F600;", "&amp",       "&ampx",      "&amp;x",         "&notit;",  "&notin;",
        "&noti",     "&;",         "& ",         "&&amp;",         "&<b>",     "&lt",
        "&LT;",      "&Lt;",       "&nbsp",      "&nbsp;&nbsp;",   "&copy2",   "&bogus;",
        "&#x20;x",   "&#12288;"}) {
    ExpectSame(std::string("<p>a") + ref + "b</p><p>" + ref + "</p>" + ref, true);
    ExpectSame(std::string("<title>t") + ref + "u</title><pre>" + ref + "\n" + ref + "</pre>",
               true);
  }
}

TEST(HtmlStream, TrickyMarkupMatchesTheReference) {
  const char* const cases[] = {
      "",
      "plain text only",
      "  <p>one<p>two<p>three",
      "<html><head><title> A \n title </title><meta charset=utf-8><style>p{}</style></head>"
      "<body><p>x</p></body></html>",
      "<head><title>first</title><title>second</title></head><body>b",
      "<head><title></title></head><body><title>body title</title>x",
      "<title>one</title><p>x</p><title>two</title>",
      "<head><noscript><link rel=x></noscript><title>t</title></head><p>a",
      "<head><noscript><p>visible</p></noscript></head><p>a",
      "<head><noscript>text</noscript></head>",
      "<noscript>hidden</noscript><p>a</p>",
      "<head><template><p>no</p><title>x</title></template><title>t</title></head>b",
      "<body><template><div>no</div></template>yes",
      "<script>if (a < b && c > d) document.write('</p>')</script>after",
      "<script><!-- document.write('<script>x</script>'); --></script>after",
      "<script><!--<script>x</script>--></script>after",
      "<script><!-->visible?</script>after",
      "<script>a</SCRIPT >after",
      "<script>a</scripty>b</script>after",
      "<style>a</style x=\">\">after",
      "<textarea>\nline &amp; <b>not bold</b></textarea>after",
      "<xmp><b>raw</b> &amp;</xmp>after",
      "<pre>\nfirst\r\nsecond\rthird\n\n  indented  </pre>after",
      "<pre>a<b>b\nc</b>d</pre>",
      "<p>text<pre>\n\nx</pre>",
      "<listing>\nx\ny</listing>",
      "<plaintext><p>all &amp; text</p>",
      "<nav><a>Home</a> | <a>News</a></nav><p>Body</p><footer>c</footer>",
      "<header><p>h</p></header><aside>s<div>t</div></aside>x",
      "<nav><p>a</div>b</nav>c",
      "<div><nav>x</div>y",
      "<nav>x</span>y</nav>z",
      "<ul><li>a<li>b<ul><li>c</ul><li>d</ul>",
      "<dl><dt>a<dd>b<dt>c</dl>",
      "<li>a<div><li>b</div>",
      "<li>a<nav><li>b</nav>",
      "<h1>a<h2>b</h1>c</h2>d",
      "<p>a<h1>b</p>c",
      "<b>bold <i>both</b> italic</i> plain",
      "<a href=x>link <b>bold</a> after",
      "<a>one<a>two</a>",
      "<a><div>block in link</div></a>after",
      "<p>x</p></p>y",
      "</br>a</br>b",
      "<br/>a<br />b<hr>c<hr/>d",
      "<div>a<!-- comment -->b<!---->c<!-->d<!--->e--></div>",
      "<!-- unterminated <p>x",
      "<!DOCTYPE html><p>a<!DOCTYPE html>b",
      "<?xml version=\"1.0\"?><p>a</p>",
      "<p>a < b and c<d</p>",
      "<p>a </ b> c</p>",
      "<p>a </> b</p>",
      "<p x='1>2' y=\"3>4\" z=5>6</p>",
      "<p x=a'b>c</p>",
      "<p =x>y</p>",
      "<p/x>y</p>",
      "<div class=\"unterminated>text",
      "<p>a</p><",
      "<p>a</",
      "<p>a</p",
      "<svg><title>icon</title><path d='M0'/><text>no</text></svg>after",
      "<svg/>after",
      "<p>a<svg><g><g></g></g></svg>b</p>",
      "<svg><![CDATA[x]]></svg>y",
      "<form><div>a</div></form><form>b</form>",
      "<form>a<form>b</form>c",
      "<button>a<button>b</button>",
      "<select><option>a<option>b</select>",
      "<option>a<option>b<optgroup>c",
      "<table><tr><td>a<td>b</table>",
      "<td>outside a table</td>x",
      "<math><mi>x</mi></math>",
      "<frameset><frame></frameset>",
      "<ruby>漢<rt>kan</rt></ruby>",
      "<center>c</center><marquee>m</marquee><object>o</object>",
      "<video>v</video><audio>a</audio><canvas>c</canvas>",
      "<custom-element>x<other>y</custom-element>z</other>",
      "<p>\xE4\xB8\xAD\xE6\x96\x87 <b>\xE5\xAD\x97</b>\xE3\x80\x80\xE5\xAD\x97</p>",
      "<p>\xEF\xB7\x90 nonchar</p>",
      "<p>bad \xFF utf8 \xC3</p>",
      "<p>ctl\x01\x7F \xC2\x85 nel\xC2\x9F</p>",
      "<p>\xE2\x80\x8B zero width \xE2\x80\x8B</p>",
      "<body>a</body>b</html>c",
      "<html><body><p>a</body><nav>n</nav>",
      "</head><title>late</title>x",
      "<head></head><style>s</style><p>x",
      "<iframe><p>no</p></iframe><noembed>no</noembed><noframes>no</noframes>ok",
      "<image src=x>a<isindex>",
      "<b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b>x",
      "<p>1<p>2</p>3</p>4",
      "<address>a<p>b</address>c",
      "<details><summary>s</summary>d</details>",
      // Found by a larger run of generated markup (see docs/text.md):
      "<svg/><plaintext><!DOCTYPE html>text",
      "<svg/><textarea>a<!DOCTYPE html>b</textarea>",
      "<object><footer>a<marquee>b</object>c",
      "<marquee><nav>a<object>b</marquee>c",
      "<template><col><textarea><p>x</template><footer>y</footer>",
      "<form>a</form>b",
      "<form>a<!--c--></form>b",
      "<form>a</aside></form>b",
      "<x-a>a<video>v</x-b>w",
      // Found by fuzz_extract: the reference's limiter removes the second
      // doctype, and "<" + "le>" becomes a tag.
      "<head><noscript><!DOCTYPE html><html a=b><<!DOCTYPE html>le>x</style></noscript>",
      // The list of active formatting elements: a b closed by </p> is
      // re-opened before the next element, and </b> then closes that too.
      "<p><b></p><optgroup>a</b>c",
      "<h3><nobr></h1><optgroup>a</nobr>b",
      "<p><i>x</p>y<video>z</i>w",
      "<p><b>x</p><object><b>y</object>z</b>",
      "<template><p><b>x</p></template>y</b>z",
      "<b><b><b><b>x</p>y",
      "<a>1<a>2</p>3</a>4",
      // Found by fuzz_extract: text buffered before </form> inside <pre>.
      "<pre>x<form>a</form>b</pre>",
      // Found by fuzz_extract: an end tag's name that the document ends right
      // after is text (not so with a space or '/' after it: the tag is dropped).
      "<head><title>a</title",
      "<title>a</title ",
      "<title>a</title/",
      "<textarea>a</textarea",
      "<xmp>a</xmp",
      "<p>x<script>a</script",
  };
  for (const char* html : cases) ExpectSame(html);
}

// 100,000 comments and no "--!>": each comment's end used to be looked for
// with two find()s, one of which ran to the end of the page every time
// (quadratic: minutes for this page, in both paths). Now one pass.
TEST(HtmlStream, ManyCommentsCostLinearTime) {
  std::string html = "<p>start";
  for (int i = 0; i < 100000; ++i) html += "<!--c-->x";
  html += "</p>";
  ExpectSame(html, true);
  EXPECT_EQ(ExtractHtml(html).blocks.size(), 1u);
}

// Random documents from a small alphabet of markup fragments: wherever the
// streaming pass does not give up it must agree with the reference.
TEST(HtmlStream, GeneratedMarkupMatchesTheReference) {
  const char* const pieces[] = {
      "<p>",
      "</p>",
      "<div>",
      "</div>",
      "<nav>",
      "</nav>",
      "<footer>",
      "</footer>",
      "<li>",
      "</li>",
      "<ul>",
      "</ul>",
      "<b>",
      "</b>",
      "<i>",
      "</i>",
      "<a>",
      "</a>",
      "<span>",
      "</span>",
      "<br>",
      "<pre>",
      "</pre>",
      "<h1>",
      "</h1>",
      "<h2>",
      "</h2>",
      "<script>x<y</script>",
      "<style>s</style>",
      "<!--c-->",
      "<title>t&amp;t</title>",
      "<head>",
      "</head>",
      "<body>",
      "</body>",
      "<noscript>",
      "</noscript>",
      "<template>",
      "</template>",
      "<svg>",
      "</svg>",
      "<form>",
      "</form>",
      "<button>",
      "</button>",
      "<dd>",
      "<dt>",
      "</dd>",
      "<x-y>",
      "</x-y>",
      "<textarea>",
      "</textarea>",
      "<aside>",
      "</aside>",
      "<section>",
      "</section>",
      "<option>",
      "<hr>",
      "text",
      " ",
      "\n",
      "&amp;",
      "&nbsp;",
      "&#x4E2D;",
      "中文",
      "\r\n",
      "<",
      "&",
      "</br>",
      "<meta x=y>",
      "<p class='a>b'>",
      "<listing>",
      "</listing>",
      "<center>",
      "</center>",
      "<em>",
      "</em>",
      "<font>",
      "</font>",
  };
  std::mt19937 rng(20261206);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1);
  std::uniform_int_distribution<size_t> length(1, 40);
  size_t compared = 0;
  for (int doc = 0; doc < 20000; ++doc) {
    std::string html;
    const size_t n = length(rng);
    for (size_t k = 0; k < n; ++k) html += pieces[pick(rng)];
    const ExtractedText ref = internal::ExtractHtmlReference(html);
    ExtractedText fast;
    if (!internal::ExtractHtmlStreaming(html, &fast)) continue;
    ++compared;
    ASSERT_EQ(fast.blocks, ref.blocks) << html << "\nstreaming:\n"
                                       << Describe(fast) << "reference:\n"
                                       << Describe(ref);
    ASSERT_EQ(fast.title, ref.title) << html;
  }
  std::printf("%zu of 20000 generated documents compared (the rest went to the reference)\n",
              compared);
  EXPECT_GT(compared, 10000u);
}

TEST(HtmlStream, AllocatesNothingPerPageInSteadyState) {
  const std::vector<Page> pages = AllHtmlPages();
  ExtractedText out;
  for (const Page& p : pages) ExtractHtml(p.body, &out);  // warm-up: buffers grow
  const size_t before = g_allocations.load();
  for (const Page& p : pages) ExtractHtml(p.body, &out);
  EXPECT_EQ(g_allocations.load() - before, 0u);
}

}  // namespace
}  // namespace dedupd::text
