// The body is unescaped straight into the page (issue #11 item 3, session
// 11): Parse() copies none of its bytes out of simdjson's string buffer
// (before: the body unescaped there, then assigned to the page, a memcpy of
// its size). The bytes memcpy and memmove copy are counted by a memcpy and
// memmove of this test binary's own (glibc's memcpy is its memmove). The
// page is the one the copying parser gave, for bodies long and short in
// turn, with escapes, and after failed messages.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "parse/page_parser.h"
#include "unit/counting_copies.h"

namespace dedupd::parse {
namespace {

// A JSON string's contents for `text` ('"', '\\' and control bytes escaped).
std::string Escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Message(std::string_view body) {
  return R"({"url":"https://news.example.com/a/1.html","content_type":"text/plain","body":")" +
         Escaped(body) + R"(","status":200})";
}

std::string Body(int lines, const std::string& tag) {
  std::string body;
  for (int i = 0; i < lines; ++i) {
    body += tag + "第" + std::to_string(i) + "段：\"引文\"\t这是一段足够长的文字 \\ 编号\n";
  }
  return body;
}

TEST(PageParserBody, TheBodyIsNotCopiedOutOfTheParser) {
  PageParser parser;
  ParsedPage page;
  ParseError error;
  const std::string body = Body(80, "长");
  ASSERT_GT(body.size(), 4000u);
  const std::string message = Message(body);
  ASSERT_TRUE(parser.Parse(message, &page, &error)) << error.detail;  // grown
  copied = 0;
  counting = true;
  const bool ok = parser.Parse(message, &page, &error);
  counting = false;
  ASSERT_TRUE(ok) << error.detail;
  EXPECT_EQ(page.body, body);
  if (!DEDUPD_COPIES_INTERCEPTED) {
    // The message into the parser's padded buffer (not zero_padded), the
    // URL and the other fields: the body's bytes are not among them.
    EXPECT_LT(copied.load(), message.size() + body.size() / 2)
        << "before: the message and the body, " << message.size() + body.size();
  }
}

TEST(PageParserBody, BodiesLongAndShortInTurnAndAfterFailures) {
  PageParser parser;
  ParsedPage page;
  ParseError error;
  const std::vector<std::string> bodies = {Body(40, "a"),           "x",       Body(3, "b"),
                                           Body(80, "c"),           "\\u4e2d", Body(1, "d"),
                                           "\xF0\x9F\x98\x80 emoji"};
  for (int round = 0; round < 2; ++round) {
    for (const std::string& body : bodies) {
      ASSERT_TRUE(parser.Parse(Message(body), &page, &error)) << error.detail;
      EXPECT_EQ(page.body, body);
      EXPECT_EQ(page.canonical_url, "https://news.example.com/a/1.html");
    }
  }
  // Escapes the JSON way: \u and a surrogate pair.
  ASSERT_TRUE(parser.Parse(
      R"({"url":"https://news.example.com/","body":"\u4e2d\u6587 \ud83d\ude00 \/ end"})", &page,
      &error));
  EXPECT_EQ(page.body, "\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 / end");
  // A message without a body, or failing before its body: the page has
  // none (not the last page's bytes).
  EXPECT_FALSE(parser.Parse(R"({"url":"https://news.example.com/"})", &page, &error));
  EXPECT_EQ(error.code, ErrorCode::kMissingField);
  EXPECT_TRUE(page.body.empty());
  ASSERT_TRUE(parser.Parse(Message(Body(50, "e")), &page, &error));
  EXPECT_FALSE(parser.Parse(R"({"url":"https://news.example.com/","body":17})", &page, &error));
  EXPECT_EQ(error.code, ErrorCode::kWrongType);
  EXPECT_TRUE(page.body.empty());
  ASSERT_TRUE(parser.Parse(Message(Body(50, "e")), &page, &error));
  EXPECT_FALSE(parser.Parse(R"({"url":"https://news.example.com/", "body":"abc)", &page, &error));
  EXPECT_TRUE(page.body.empty());
  ASSERT_TRUE(parser.Parse(Message(Body(50, "e")), &page, &error));
  EXPECT_FALSE(parser.Parse(R"({"url":"https://news.example.com/","body":"   "})", &page, &error));
  EXPECT_EQ(error.code, ErrorCode::kEmptyBody);
  EXPECT_EQ(page.body, "   ");  // read, as before
  // Invalid UTF-8 in the body, after a longer page.
  ASSERT_TRUE(parser.Parse(Message(Body(50, "e")), &page, &error));
  EXPECT_FALSE(
      parser.Parse("{\"url\":\"https://news.example.com/\",\"body\":\"a\xFF\"}", &page, &error));
  EXPECT_EQ(error.code, ErrorCode::kInvalidUtf8);
  // And a page again.
  ASSERT_TRUE(parser.Parse(Message("short"), &page, &error));
  EXPECT_EQ(page.body, "short");
}

}  // namespace
}  // namespace dedupd::parse
