// Parse(..., zero_padded = true): a message followed by kPadding zero bytes
// is parsed where it is (`dedupd scan`'s lines, session 9), with the same
// result, page or dead-letter reason and detail, as the copy it replaces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse/page_parser.h"
#include "unit/counting_new.h"

namespace dedupd::parse {
namespace {

// `message` with kPadding zero bytes after it.
std::string Padded(std::string_view message) {
  std::string s(message);
  s.resize(message.size() + kPadding, '\0');
  return s;
}

void ExpectSame(const ParsedPage& a, const ParsedPage& b) {
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.canonical_url, b.canonical_url);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.site, b.site);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.content_type, b.content_type);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.fetched_at_ms, b.fetched_at_ms);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.repaired_utf8, b.repaired_utf8);
}

TEST(PageParserPadded, SameResultAsTheCopy) {
  const std::vector<std::string> messages = {
      R"({"url":"https://WWW.A.example/x?utm_source=q","body":"hello","content_type":"Text/HTML",
          "title":"T","fetched_at":"2024-03-14T17:00:00Z","status":200,"extra":[1,2]})",
      R"({"url":"http://a.example/","body":"x","fetched_at":1710435600123})",
      R"({"url":"http://a.example/","body":"x","status":12)",  // unclosed, a number last
      R"({"url":"http://a.example/","body":"x","status":tru)",
      R"({"url":"http://a.example/","body":"x)",
      R"({"url":"http://a.example/","body":"   "})",
      R"({"url":"ftp://a.example/","body":"x"})",
      R"({"body":"x"})",
      R"({"url":"http://a.example/","body":7})",
      "{\"url\":\"http://a.example/\",\"body\":\"bad \xFF utf-8\"}",
      "{\"url\":\"http://a.example/\",\"body\":\"ok\",\"title\":\"bad \xC3\"}",
      "123",
      "true",
      "\"a string\"",
      "[1,2]",
      "",
      "   ",
      "{",
      "{}",
  };
  PageParser copying;
  PageParser in_place;
  for (const std::string& m : messages) {
    ParsedPage a, b;
    ParseError ea, eb;
    const bool ok_a = copying.Parse(m, &a, &ea);
    const std::string padded = Padded(m);
    const bool ok_b = in_place.Parse(std::string_view(padded.data(), m.size()), &b, &eb,
                                     /*zero_padded=*/true);
    ASSERT_EQ(ok_a, ok_b) << m;
    if (ok_a) {
      ExpectSame(a, b);
    } else {
      EXPECT_EQ(ea.code, eb.code) << m;
      EXPECT_EQ(ea.detail, eb.detail) << m;
    }
  }
}

TEST(PageParserPadded, ParsesInPlaceWithoutCopyingTheMessage) {
  const std::string body(2 << 20, 'x');
  const std::string padded = Padded(R"({"url":"http://a.example/big","body":")" + body + R"("})");
  const std::string_view message(padded.data(), padded.size() - kPadding);
  PageParser parser;
  ParsedPage page;
  ParseError error;
  ASSERT_TRUE(parser.Parse(R"({"url":"http://a.example/","body":"x"})", &page, &error));
  size_t bytes = 0;
  {
    CountingNew counting;
    ASSERT_TRUE(parser.Parse(message, &page, &error, /*zero_padded=*/true)) << error.detail;
    bytes = counting.Bytes();
  }
  EXPECT_EQ(page.body, body);
  // The body's string and simdjson's buffers for a 2 MiB document: 13.99 MB.
  // Copied into the parser's buffer (zero_padded = false, the only way
  // before), 20.28 MB: 2 MiB for the copy, then 4 MiB as the padding grew it.
  EXPECT_LT(bytes, size_t{16} << 20) << bytes;
}

}  // namespace
}  // namespace dedupd::parse
