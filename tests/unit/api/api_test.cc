// The API's queries, JSON, HTML escaping and the history bound, over a real
// Detector and a MemoryStore (no HTTP server: the handlers are called).
#include "api/api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/html.h"

namespace dedupd::api {
namespace {

using metrics::HttpRequest;
using metrics::HttpResponse;

HttpRequest Get(std::string path, std::string query) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = query;
  r.params = metrics::ParseQuery(query);
  return r;
}

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class ApiTest : public ::testing::Test {
 protected:
  void Init(size_t history_versions) {
    store_ = state::NewMemoryStore();
    classify::DetectOptions options;
    options.history_versions = history_versions;
    detector_ = std::make_unique<classify::Detector>(options, store_.get());
    detector_->SetStateObserver([this](const state::UrlState& s) { copies_.Observe(s); });
    ApiOptions api_options;
    api_options.history_versions = history_versions;
    api_ = std::make_unique<Api>(store_.get(), &copies_, api_options);
  }
  classify::Outcome Feed(const std::string& url, const std::string& body, int64_t at_ms) {
    parse::ParsedPage page;
    page.url = page.canonical_url = url;
    page.site = url.substr(8, url.find('/', 8) - 8);
    page.body = body;
    page.content_type = "text/plain";
    classify::Outcome out = detector_->Process(page, at_ms);
    std::string error;
    EXPECT_TRUE(detector_->Commit({}, &error)) << error;
    return out;
  }
  simdjson::dom::element Json(const HttpResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
    auto doc = parser_.parse(r.body);
    EXPECT_FALSE(doc.error()) << r.body;
    return doc.value();
  }

  state::StateStorePtr store_;
  std::unique_ptr<classify::Detector> detector_;
  CopyIndex copies_{1000};
  std::unique_ptr<Api> api_;
  simdjson::dom::parser parser_;
};

const char kUrl[] = "https://news.example.cn/a/1.html";

std::string Release(int n) {
  return "四川省召开会议，部署第" + std::to_string(n) +
         "项工作。\n会议强调，要坚持以成渝地区双城经济圈建设引领推动区域协调发展。\n"
         "会议要求，各地各部门要加强领导，形成工作合力，确保各项任务落地见效。";
}

// The last N versions are kept, newest first; older ones answer 410, unknown
// ones 404.
TEST_F(ApiTest, HistoryKeepsTheLastNVersions) {
  Init(10);
  for (int v = 1; v <= 12; ++v) Feed(kUrl, Release(v), 1700000000000 + v * 1000);
  auto s = store_->GetCommitted(kUrl);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->versions.size(), 10u);
  EXPECT_EQ(s->versions.front().version, 12u);
  EXPECT_EQ(s->versions.back().version, 3u);
  EXPECT_EQ(s->versions[1].text, Release(11));

  auto pages = Json(api_->Pages(Get("/v1/pages", "url=" + UrlEncode(kUrl))), 200);
  EXPECT_EQ(pages["versions"].get_array().size(), 10u);
  EXPECT_EQ(int64_t(pages["versions"].at(0)["version"]), 12);
  EXPECT_EQ(std::string_view(pages["versions"].at(0)["verdict"]), "REVISED");
  EXPECT_EQ(std::string_view(pages["versions"].at(0)["severity"]), "major");  // 11 -> 12

  auto diff = Json(api_->Diff(Get("/v1/diff", "url=" + UrlEncode(kUrl) + "&from=3&to=12")), 200);
  auto hunk = diff["hunks"].at(0);
  EXPECT_EQ(std::string_view(hunk["kind"]), "changed");
  EXPECT_EQ(std::string_view(hunk["new_text"].at(0)), "四川省召开会议，部署第12项工作。");
  EXPECT_EQ(int64_t(diff["significance"]["sentences_changed"]), 1);
  auto span = hunk["new_spans"].at(0).at(0);
  const std::string sentence = "四川省召开会议，部署第12项工作。";
  EXPECT_EQ(
      sentence.substr(uint64_t(span["begin"]), uint64_t(span["end"]) - uint64_t(span["begin"])),
      "12");

  auto gone = Json(api_->Diff(Get("/v1/diff", "url=" + UrlEncode(kUrl) + "&from=2&to=12")), 410);
  EXPECT_EQ(std::string_view(gone["error"]["code"]), "version_gone");
  Json(api_->Diff(Get("/v1/diff", "url=" + UrlEncode(kUrl) + "&from=3&to=13")), 404);
  Json(api_->Diff(Get("/v1/diff", "url=" + UrlEncode(kUrl) + "&from=x&to=12")), 400);
}

// /ui/site: where the dashboards' revision panels link (no metric carries a
// URL): the site's edits, newest first, each linked to its page with the two
// versions preselected; a site without edits and a missing parameter too.
TEST_F(ApiTest, SitePageListsTheSitesRecentEditsWithLinks) {
  Init(10);
  for (int v = 1; v <= 3; ++v) Feed(kUrl, Release(v), 1700000000000 + v * 1000);
  const std::string url(kUrl);
  const std::string site = url.substr(8, url.find('/', 8) - 8);
  const HttpResponse r = api_->Site(Get("/ui/site", "site=" + UrlEncode(site)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(Header(r, "Content-Security-Policy").find("script-src 'none'"), std::string::npos);
  const std::string newest = "/ui/page?url=" + UrlEncode(kUrl) + "&amp;from=2&amp;to=3";
  const std::string older = "/ui/page?url=" + UrlEncode(kUrl) + "&amp;from=1&amp;to=2";
  ASSERT_NE(r.body.find(newest), std::string::npos) << r.body;
  ASSERT_NE(r.body.find(older), std::string::npos) << r.body;
  EXPECT_LT(r.body.find(newest), r.body.find(older));
  const auto edits = copies_.RecentEdits(site);
  ASSERT_EQ(edits.size(), 2u);  // v1 was NEW
  EXPECT_EQ(edits[0].version, 3u);
  EXPECT_EQ(edits[0].from_version, 2u);

  const HttpResponse none = api_->Site(Get("/ui/site", "site=%3Cscript%3Ex.example"));
  EXPECT_EQ(none.status, 200);
  EXPECT_NE(none.body.find("No edit of this site seen yet"), std::string::npos);
  EXPECT_EQ(none.body.find("<script>"), std::string::npos);  // the site name is escaped
  EXPECT_NE(none.body.find("&lt;script&gt;x.example"), std::string::npos);
  EXPECT_EQ(api_->Site(Get("/ui/site", "")).status, 400);
}

TEST_F(ApiTest, HistoryOffOrCurrentOnly) {
  Init(0);
  Feed(kUrl, Release(1), 1700000000000);
  Feed(kUrl, Release(2), 1700000001000);
  EXPECT_TRUE(store_->GetCommitted(kUrl)->versions.empty());
  // The current version is still answered, from the state itself.
  auto pages = Json(api_->Pages(Get("/v1/pages", "url=" + UrlEncode(kUrl))), 200);
  EXPECT_EQ(pages["versions"].get_array().size(), 1u);
  Json(api_->Diff(Get("/v1/diff", "url=" + UrlEncode(kUrl) + "&from=1&to=2")), 410);

  Init(1);
  Feed(kUrl, Release(1), 1700000000000);
  Feed(kUrl, Release(2), 1700000001000);
  auto s = store_->GetCommitted(kUrl);
  ASSERT_EQ(s->versions.size(), 1u);
  EXPECT_EQ(s->versions[0].verdict, static_cast<uint8_t>(Verdict::kRevised));
}

TEST_F(ApiTest, BadRequestsGetJsonErrors) {
  Init(10);
  Feed(kUrl, Release(1), 1700000000000);
  EXPECT_EQ(std::string_view(Json(api_->Pages(Get("/v1/pages", "")), 400)["error"]["code"]),
            "missing_parameter");
  EXPECT_EQ(
      std::string_view(Json(api_->Pages(Get("/v1/pages", "url=https%3A%2F%2Fnone.example%2F")),
                            404)["error"]["code"]),
      "unknown_url");
  Json(api_->Match(Get("/v1/match", "url=" + UrlEncode(kUrl))), 400);
  EXPECT_EQ(std::string_view(Json(api_->Pages(Get("/v1/pages", "url=" + std::string(5000, 'a'))),
                                  414)["error"]["code"]),
            "query_too_long");
  EXPECT_EQ(api_->Page(Get("/ui/page", "url=nope")).status, 404);
}

TEST_F(ApiTest, CopiesAndTheMatchExplanation) {
  Init(10);
  const std::string original =
      "成渝地区双城经济圈建设领导小组召开第五次全体会议，审议了重点任务清单。\n"
      "会议强调，要坚持以成渝地区双城经济圈建设引领推动区域协调发展，形成各有优势的区域格局。\n"
      "会议要求，要把县域经济发展摆在重要位置来抓，力争未来三年取得较大进步。\n"
      "会议指出，要加强组织领导，强化统筹协调，形成齐抓共管的强大合力。";
  Feed("https://gov.example.cn/r.html", original, 1700000000000);
  auto out = Feed("https://mirror.example.org/r.html",
                  original + "\n转载自四川省人民政府网站，编辑：张三。", 1700000100000);
  ASSERT_EQ(out.verdict, Verdict::kNearDuplicate);
  ASSERT_TRUE(out.match);
  EXPECT_NE(out.match->found_by, 0);

  auto pages =
      Json(api_->Pages(Get("/v1/pages", "url=" + UrlEncode("https://gov.example.cn/r.html"))), 200);
  ASSERT_EQ(pages["copies"].get_array().size(), 1u);
  EXPECT_EQ(std::string_view(pages["copies"].at(0)["url"]), "https://mirror.example.org/r.html");
  EXPECT_EQ(std::string_view(pages["copies"].at(0)["verdict"]), "NEAR_DUPLICATE");
  auto copy = Json(
      api_->Pages(Get("/v1/pages", "url=" + UrlEncode("https://mirror.example.org/r.html"))), 200);
  EXPECT_EQ(std::string_view(copy["copy_of"]["url"]), "https://gov.example.cn/r.html");

  auto match =
      Json(api_->Match(Get("/v1/match", "url=" + UrlEncode("https://mirror.example.org/r.html") +
                                            "&of=" + UrlEncode("https://gov.example.cn/r.html"))),
           200);
  EXPECT_DOUBLE_EQ(double(match["containment"]["of_in_url"]), 1.0);  // all of it copied
  EXPECT_LT(double(match["containment"]["url_in_of"]), 1.0);         // plus a credit line
  EXPECT_GT(double(match["jaccard"]), 0.5);
  EXPECT_EQ(std::string_view(match["recorded"]["verdict"]), "NEAR_DUPLICATE");
  EXPECT_GT(match["recorded"]["found_by"].get_array().size(), 0u);
  EXPECT_EQ(int64_t(match["sentences"]["shared"]), 4);  // the original's 4 sentences, in order
  ASSERT_EQ(match["shared_passages"].get_array().size(), 1u);
  EXPECT_NE(std::string_view(match["summary"]).find("NEAR_DUPLICATE"), std::string_view::npos);

  // Not a recorded pair: numbers now, no "recorded".
  Feed("https://other.example.com/x", Release(1), 1700000200000);
  auto unrelated =
      Json(api_->Match(Get("/v1/match", "url=" + UrlEncode("https://other.example.com/x") +
                                            "&of=" + UrlEncode("https://gov.example.cn/r.html"))),
           200);
  EXPECT_TRUE(unrelated["recorded"].is_null());
}

// A partition that moves here: its URLs were known from the fingerprints
// topic (slim records), and the changelog restore brings the full ones.
TEST_F(ApiTest, ChangelogRestoreReplacesASlimRecordOfTheSameVersion) {
  Init(10);
  Feed(kUrl, Release(1), 1700000000000);
  Feed(kUrl, Release(2), 1700000001000);
  state::UrlState full = *store_->GetCommitted(kUrl);
  ASSERT_EQ(full.versions.size(), 2u);
  state::UrlState slim;
  ASSERT_TRUE(
      state::DecodeUrlState(state::EncodeUrlState(full, state::HistoryPart::kLatest), &slim));
  // Re-encode the full one, as the changelog holds it (versions[0] without text).
  state::UrlState restored;
  ASSERT_TRUE(state::DecodeUrlState(state::EncodeUrlState(full), &restored));

  Init(10);
  std::string error;
  size_t applied = 0;
  ASSERT_TRUE(detector_->ApplyCommitted({slim}, false, {}, &applied, &error)) << error;
  EXPECT_EQ(applied, 1u);
  EXPECT_FALSE(api_->OwnsUrl(kUrl));
  ASSERT_TRUE(detector_->ApplyCommitted({slim}, false, {}, &applied, &error)) << error;
  EXPECT_EQ(applied, 0u);  // the same record again: skipped
  ASSERT_TRUE(detector_->ApplyCommitted({restored}, true, {}, &applied, &error)) << error;
  EXPECT_EQ(applied, 1u);
  EXPECT_TRUE(api_->OwnsUrl(kUrl));
  EXPECT_EQ(store_->GetCommitted(kUrl)->versions.size(), 2u);
  EXPECT_EQ(store_->GetCommitted(kUrl)->versions[1].text, Release(1));
}

TEST(Html, EscapesEveryMarkupCharacterAndBidiControl) {
  EXPECT_EQ(Html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(Html("\"><img src=x onerror='alert(1)'>"),
            "&quot;&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt;");
  EXPECT_EQ(Html("a&b"), "a&amp;b");
  EXPECT_EQ(Html("\xE2\x80\xAE"
                 "abc"),
            "[U+202E]abc");                       // RIGHT-TO-LEFT OVERRIDE: named
  EXPECT_EQ(Html("\xE2\x81\xA6x"), "[U+2066]x");  // LEFT-TO-RIGHT ISOLATE
  EXPECT_EQ(Html("a\xE2\x80\x8B"
                 "b"),
            "a\xE2\x80\x8B"
            "b");  // ZERO WIDTH SPACE: harmless, kept
  EXPECT_EQ(Html("中文"), "中文");
  EXPECT_EQ(Html("a\xFF"
                 "b"),
            "a\xEF\xBF\xBD"
            "b");  // invalid UTF-8
  EXPECT_EQ(Html(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Html("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(UrlEncode("https://a.example/x?y=1&z"), "https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z");
}

TEST_F(ApiTest, HostilePageTextIsInertInThePage) {
  Init(10);
  const std::string hostile =
      "Title <script>alert(1)</script> here.\n\"><img src=x onerror=alert(2)> breaks out?\n"
      "\xE2\x80\xAE"
      "desrever si txet sihT and a zero\xE2\x80\x8Bwidth space.";
  Feed("https://evil.example/p", hostile, 1700000000000);
  Feed("https://evil.example/p", hostile + "\nAnd <b>one</b> more <script>x</script> line.",
       1700000001000);
  // The diff (v1 -> v2, unchanged sentences folded) and the text of v1.
  HttpResponse r = api_->Page(Get("/ui/page", "url=" + UrlEncode("https://evil.example/p")));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("&lt;b&gt;one&lt;/b&gt; more &lt;script&gt;x&lt;/script&gt;"),
            std::string::npos);
  HttpResponse text =
      api_->Page(Get("/ui/page", "url=" + UrlEncode("https://evil.example/p") + "&to=1"));
  ASSERT_EQ(text.status, 200);
  for (const std::string& body : {r.body, text.body}) {
    EXPECT_EQ(body.find("<script"), std::string::npos);
    EXPECT_EQ(body.find("<img"), std::string::npos);
    EXPECT_EQ(body.find("<b>"), std::string::npos);
    EXPECT_EQ(body.find("\xE2\x80\xAE"), std::string::npos);
  }
  EXPECT_NE(text.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(text.body.find("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
  // The text stage may already drop the override; whatever reaches the page
  // shows it by name, never as the control itself (checked above).
  const size_t reversed = text.body.find("desrever si txet");
  ASSERT_NE(reversed, std::string::npos);
  const std::string before = text.body.substr(reversed >= 8 ? reversed - 8 : 0, 8);
  EXPECT_TRUE(before == "[U+202E]" || before.find('>') != std::string::npos) << before;
  EXPECT_NE(text.body.find("<p dir=\"auto\">"), std::string::npos);  // each line isolated
  EXPECT_NE(text.body.find("Text of v1"), std::string::npos);
  EXPECT_EQ(text.body.find("one</b>"), std::string::npos);  // v2's line is not v1's text
  EXPECT_EQ(text.body.find("And &lt;b&gt;one"), std::string::npos);
  const std::string csp = Header(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
}

TEST(Query, ParsesAndPercentDecodes) {
  auto q =
      metrics::ParseQuery("url=https%3A%2F%2Fa.example%2F%E4%B8%AD&from=1&x=a+b&flag&bad=%zz%4");
  ASSERT_EQ(q.count("url"), 1u);
  EXPECT_EQ(q.find("url")->second, "https://a.example/中");
  EXPECT_EQ(q.find("from")->second, "1");
  EXPECT_EQ(q.find("x")->second, "a b");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("bad")->second, "%zz%4");  // invalid escapes kept as they are
  HttpRequest r;
  r.params = q;
  EXPECT_EQ(*r.Param("from"), "1");
  EXPECT_EQ(r.Param("to"), nullptr);
}

TEST(CopyIndex, IsBounded) {
  CopyIndex index(3);
  for (int i = 0; i < 5; ++i) {
    state::UrlState s;
    s.canonical_url = "https://copy.example/" + std::to_string(i);
    s.versions.resize(1);
    s.versions[0].copy_of = "https://a.example/";
    index.Observe(s);
    index.Observe(s);  // seen again: not a second edge
  }
  EXPECT_EQ(index.size(), 3u);
  auto copies = index.CopiesOf("https://a.example/");
  ASSERT_EQ(copies.size(), 3u);
  EXPECT_EQ(copies[0].copy, "https://copy.example/2");  // the oldest two went first
}

}  // namespace
}  // namespace dedupd::api
