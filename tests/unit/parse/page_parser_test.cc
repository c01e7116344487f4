#include "parse/page_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace dedupd::parse {
namespace {

struct Parsed {
  bool ok;
  ParsedPage page;
  ParseError error;
};

Parsed P(std::string_view json, ParseOptions options = {}) {
  PageParser parser(options);
  Parsed r;
  r.ok = parser.Parse(json, &r.page, &r.error);
  return r;
}

TEST(PageParser, AcceptsTheContractFields) {
  auto r =
      P(R"({"url":"https://WWW.A.example/x?utm_source=q","body":"hello","content_type":"Text/HTML",
                "title":"T","fetched_at":"2024-03-14T17:00:00Z","status":200,"extra":[1,2]})");
  ASSERT_TRUE(r.ok) << r.error.detail;
  EXPECT_EQ(r.page.canonical_url, "https://www.a.example/x");
  EXPECT_EQ(r.page.site, "a.example");
  EXPECT_EQ(r.page.content_type, "text/html");
  EXPECT_EQ(r.page.title, "T");
  EXPECT_EQ(r.page.fetched_at_ms, 1710435600000);
  EXPECT_EQ(r.page.status, 200);
}

TEST(PageParser, FetchedAtAsEpochMillisAndOffsets) {
  EXPECT_EQ(
      P(R"({"url":"http://a.example/","body":"x","fetched_at":1710435600123})").page.fetched_at_ms,
      1710435600123);
  EXPECT_EQ(
      P(R"({"url":"http://a.example/","body":"x","fetched_at":"2024-03-15T01:00:00.5+08:00"})")
          .page.fetched_at_ms,
      1710435600500);
}

TEST(PageParser, SiteFieldOverridesTheHost) {
  EXPECT_EQ(P(R"({"url":"http://a.example/","body":"x","site":"group-1"})").page.site, "group-1");
}

TEST(PageParser, DeadLetterReasons) {
  EXPECT_EQ(P(R"({"url": "https://a.example/x", "body": "unterminated)").error.code,
            ErrorCode::kInvalidJson);
  EXPECT_EQ(P("").error.code, ErrorCode::kInvalidJson);
  EXPECT_EQ(P(R"({"body":"no url here"})").error.code, ErrorCode::kMissingField);
  EXPECT_EQ(P(R"({"url":"http://a.example/"})").error.code, ErrorCode::kMissingField);
  EXPECT_EQ(P(R"({"url": 42, "body": "x"})").error.code, ErrorCode::kWrongType);
  EXPECT_EQ(P(R"([1,2,3])").error.code, ErrorCode::kWrongType);
  EXPECT_EQ(P(R"({"url":"http://a.example/","body":"x","fetched_at":"yesterday"})").error.code,
            ErrorCode::kWrongType);
  EXPECT_EQ(P(R"({"url":"http://a.example/","body":"x","status":"200"})").error.code,
            ErrorCode::kWrongType);
  EXPECT_EQ(P(R"({"url":"http://a.example/","body":""})").error.code, ErrorCode::kEmptyBody);
  EXPECT_EQ(P("{\"url\":\"http://a.example/\",\"body\":\" \\n\xe3\x80\x80 \"}").error.code,
            ErrorCode::kEmptyBody);
  EXPECT_EQ(P(R"({"url":"mailto:x@a.example","body":"x"})").error.code, ErrorCode::kInvalidUrl);
}

TEST(PageParser, InvalidUtf8InARequiredFieldIsDeadLettered) {
  auto r = P("{\"url\":\"https://a.example/\",\"body\":\"\xff\xfe broken \xc3\x28 bytes\"}");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.code, ErrorCode::kInvalidUtf8);
  EXPECT_NE(r.error.detail.find("body"), std::string::npos);
}

TEST(PageParser, InvalidUtf8InAnOptionalFieldIsRepairedAndCounted) {
  auto r =
      P("{\"url\":\"https://a.example/\",\"title\":\"a\xff"
        "b\",\"body\":\"fine\"}");
  ASSERT_TRUE(r.ok) << r.error.detail;
  EXPECT_EQ(r.page.title,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(r.page.repaired_utf8, 1u);
}

TEST(PageParser, SizeLimits) {
  ParseOptions small;
  small.max_body_bytes = 10;
  small.max_message_bytes = 100;
  EXPECT_EQ(P(R"({"url":"http://a.example/","body":"01234567890123"})", small).error.code,
            ErrorCode::kTooLarge);
  EXPECT_EQ(P(std::string(200, ' '), small).error.code, ErrorCode::kTooLarge);
}

TEST(PageParser, ParserIsReusableAcrossGoodAndBadMessages) {
  PageParser parser;
  ParsedPage page;
  ParseError error;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(parser.Parse(R"({"url":"http://a.example/1","body":"one"})", &page, &error));
    EXPECT_EQ(page.body, "one");
    EXPECT_FALSE(parser.Parse("{bad", &page, &error));
    EXPECT_FALSE(parser.Parse("{\"url\":\"http://a.example/\",\"body\":\"\xff\"}", &page, &error));
    EXPECT_TRUE(parser.Parse(R"({"url":"http://a.example/2","body":"two"})", &page, &error));
    EXPECT_EQ(page.body, "two");
  }
}

TEST(PageParser, FixtureMalformedLinesGetTheExpectedReasons) {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 17u);
  const std::vector<std::pair<int, ErrorCode>> expected = {
      {12, ErrorCode::kInvalidJson}, {13, ErrorCode::kMissingField}, {14, ErrorCode::kWrongType},
      {15, ErrorCode::kEmptyBody},   {16, ErrorCode::kWrongType},    {17, ErrorCode::kInvalidUtf8}};
  PageParser parser;
  for (const auto& [line, code] : expected) {
    ParsedPage page;
    ParseError error;
    EXPECT_FALSE(parser.Parse(lines[line - 1], &page, &error)) << "line " << line;
    EXPECT_EQ(ReasonCode(error.code), ReasonCode(code)) << "line " << line << ": " << error.detail;
  }
  for (int line = 1; line <= 11; ++line) {
    ParsedPage page;
    ParseError error;
    EXPECT_TRUE(parser.Parse(lines[line - 1], &page, &error))
        << "line " << line << ": " << error.detail;
  }
}

}  // namespace
}  // namespace dedupd::parse
