// The text stage against the labelled development corpus
// (tests/data/corpus/): repeat detection on every doubled capture, no
// repeats on (almost) any plain new article, and the content-key rule the
// labeller used (README.md, "Content key") reproduced by
// ContentKey(JoinContent(...)) for plain text and HTML alike.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "text/extract.h"
#include "text/normalize.h"
#include "text/repeats.h"
#include "unit/text/text_test_util.h"

namespace dedupd::text {
namespace {

struct Message {
  size_t line = 0;  // 1-based
  std::string url;
  std::string content_type;
  std::string body;
  std::string verdict;
  std::string label;
  std::string format;
  std::string match;
  std::vector<std::string> match_any;
};

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::string all = testing::ReadFile(path);
  size_t begin = 0;
  while (begin < all.size()) {
    size_t end = all.find('\n', begin);
    if (end == std::string::npos) end = all.size();
    if (end > begin) lines.push_back(all.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

std::string StringField(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

const std::vector<Message>& Corpus() {
  static const std::vector<Message> corpus = [] {
    const std::string dir = std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/";
    const std::vector<std::string> input = Lines(dir + "dev.jsonl");
    const std::vector<std::string> expected = Lines(dir + "dev-expected.jsonl");
    std::vector<Message> out;
    if (input.size() != expected.size()) return out;
    simdjson::dom::parser parser;
    for (size_t i = 0; i < input.size(); ++i) {
      Message m;
      m.line = i + 1;
      simdjson::dom::element in;
      if (parser.parse(input[i]).get(in) != simdjson::SUCCESS) return std::vector<Message>{};
      m.url = StringField(in, "url");
      m.content_type = StringField(in, "content_type");
      m.body = StringField(in, "body");
      simdjson::dom::element ex;
      if (parser.parse(expected[i]).get(ex) != simdjson::SUCCESS) return std::vector<Message>{};
      m.verdict = StringField(ex, "verdict");
      m.label = StringField(ex, "label");
      m.format = StringField(ex, "format");
      m.match = StringField(ex, "match");
      simdjson::dom::array any;
      if (ex["match_any"].get(any) == simdjson::SUCCESS) {
        for (simdjson::dom::element u : any) {
          std::string_view s;
          if (u.get(s) == simdjson::SUCCESS) m.match_any.emplace_back(s);
        }
      }
      out.push_back(std::move(m));
    }
    return out;
  }();
  return corpus;
}

ExtractedText Extract(const Message& m) {
  return SniffBodyKind(m.content_type, m.body) == BodyKind::kHtml ? ExtractHtml(m.body)
                                                                  : SplitPlainText(m.body);
}

std::vector<std::string_view> ContentViews(const ExtractedText& t) {
  std::vector<std::string_view> v;
  for (const Block& b : t.blocks) {
    if (!b.chrome) v.push_back(b.text);
  }
  return v;
}

TEST(Corpus, Loads) {
  ASSERT_EQ(Corpus().size(), 1594u);
  size_t html = 0;
  for (const Message& m : Corpus()) {
    EXPECT_EQ(SniffBodyKind(m.content_type, m.body) == BodyKind::kHtml, m.format == "html")
        << "line " << m.line;
    html += m.format == "html";
  }
  EXPECT_EQ(html, 159u);
}

TEST(Corpus, RepeatDetectorFlagsDoubledCapturesAndAlmostNoNewArticles) {
  size_t doubled = 0, doubled_flagged = 0, fresh = 0, fresh_flagged = 0, other_flagged = 0;
  for (const Message& m : Corpus()) {
    const RepeatResult r = FindRepeats(ContentViews(Extract(m)));
    if (m.label == "near_dup_doubled") {
      ++doubled;
      doubled_flagged += r.has_repeats;
      EXPECT_TRUE(r.has_repeats) << "line " << m.line;
      EXPECT_NEAR(r.repeated_fraction, 0.5, 0.02) << "line " << m.line;
    } else if (m.label == "new") {
      ++fresh;
      fresh_flagged += r.has_repeats;
      if (r.has_repeats) ADD_FAILURE() << "new article flagged: line " << m.line;
    } else {
      other_flagged += r.has_repeats;
      if (r.has_repeats) std::printf("flagged (%s): line %zu\n", m.label.c_str(), m.line);
    }
  }
  std::printf("near_dup_doubled flagged %zu/%zu, new flagged %zu/%zu, other labels flagged %zu\n",
              doubled_flagged, doubled, fresh_flagged, fresh, other_flagged);
  ::testing::Test::RecordProperty("doubled_flagged", static_cast<int>(doubled_flagged));
  ::testing::Test::RecordProperty("new_flagged", static_cast<int>(fresh_flagged));
  EXPECT_EQ(doubled, 37u);
  EXPECT_EQ(doubled_flagged, doubled);
  EXPECT_EQ(fresh_flagged, 0u);
}

// Collapsing the repeats makes a doubled capture's key equal to its source's.
TEST(Corpus, CollapsedDoubledCaptureHasTheSourcesKey) {
  std::map<std::string, std::vector<std::string>> keys_by_url;
  size_t checked = 0;
  for (const Message& m : Corpus()) {
    const ExtractedText t = Extract(m);
    const std::vector<std::string_view> blocks = ContentViews(t);
    const RepeatResult r = FindRepeats(blocks);
    std::string kept;
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (r.keep[i]) kept += ContentKey(blocks[i]);
    }
    if (m.label == "near_dup_doubled") {
      const auto it = keys_by_url.find(m.match);
      ASSERT_NE(it, keys_by_url.end()) << "line " << m.line;
      bool found = false;
      for (const std::string& k : it->second) found = found || k == kept;
      EXPECT_TRUE(found) << "line " << m.line;
      ++checked;
    }
    keys_by_url[m.url].push_back(ContentKey(JoinContent(t)));
  }
  EXPECT_EQ(checked, 37u);
}

// The brief's case in particular: an unchanged_* page whose current or
// previous fetch is an HTML rendering has the same content key as the other
// (mostly plain-text) fetch.
TEST(Corpus, HtmlRenderingsOfUnchangedPagesKeepTheirKey) {
  std::map<std::string, const Message*> last_by_url;
  size_t checked = 0;
  for (const Message& m : Corpus()) {
    const auto prev = last_by_url.find(m.url);
    if (m.label.rfind("unchanged_", 0) == 0 && prev != last_by_url.end() &&
        (m.format == "html" || prev->second->format == "html")) {
      EXPECT_EQ(ContentKey(JoinContent(Extract(m))),
                ContentKey(JoinContent(Extract(*prev->second))))
          << m.label << " line " << m.line << " (" << m.format << ") vs line " << prev->second->line
          << " (" << prev->second->format << ")";
      ++checked;
    }
    last_by_url[m.url] = &m;
  }
  std::printf("unchanged_* pairs involving HTML: %zu\n", checked);
  EXPECT_GE(checked, 10u);
}

// UNCHANGED: same key as the URL's last message; REVISED: a different key;
// DUPLICATE: the same key as an earlier message at the matched URL. This is
// the labeller's rule; HTML goes through ExtractHtml and drops chrome.
TEST(Corpus, ContentKeyReproducesTheLabels) {
  std::map<std::string, std::vector<std::string>> keys_by_url;
  size_t unchanged = 0, revised = 0, duplicate = 0, html_involved = 0, failures = 0;
  for (const Message& m : Corpus()) {
    const std::string key = ContentKey(JoinContent(Extract(m)));
    auto& history = keys_by_url[m.url];
    if (m.verdict == "UNCHANGED" || m.verdict == "REVISED") {
      ASSERT_FALSE(history.empty()) << "line " << m.line;
      const bool same = history.back() == key;
      const bool want_same = m.verdict == "UNCHANGED";
      if (same != want_same) {
        ++failures;
        ADD_FAILURE() << m.verdict << " (" << m.label << ", " << m.format << ") line " << m.line;
      }
      (want_same ? unchanged : revised) += 1;
    } else if (m.verdict == "DUPLICATE") {
      std::vector<std::string> urls = m.match_any;
      if (urls.empty()) urls.push_back(m.match);
      bool found = false;
      for (const std::string& u : urls) {
        for (const std::string& k : keys_by_url[u]) found = found || k == key;
      }
      if (!found) {
        ++failures;
        ADD_FAILURE() << "DUPLICATE (" << m.label << ", " << m.format << ") line " << m.line;
      }
      ++duplicate;
    }
    html_involved += m.format == "html" && (m.verdict == "UNCHANGED" || m.verdict == "DUPLICATE");
    history.push_back(key);
  }
  std::printf(
      "checked UNCHANGED %zu, REVISED %zu, DUPLICATE %zu (HTML among UNCHANGED/DUPLICATE: %zu), "
      "failures %zu\n",
      unchanged, revised, duplicate, html_involved, failures);
  EXPECT_EQ(unchanged, 228u);
  EXPECT_EQ(failures, 0u);
}

}  // namespace
}  // namespace dedupd::text
