// HTML escaping for the page for people (/ui/page). Page text is scraped and
// untrusted: every byte of it that reaches HTML goes through AppendHtml, the
// one escaping function, in element content and in quoted attribute values
// alike.
//
//   std::string out = "<p>";
//   AppendHtml(&out, "\"><img src=x onerror=alert(1)>");   // &quot;&gt;&lt;img ...
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace dedupd::api {

// Escapes & < > " ' and replaces bytes that are not valid UTF-8, and C0
// controls other than \n and \t, with U+FFFD; the bidi controls (U+202A..E,
// U+2066..9) are written as their names ("[U+202E]"), visible and without
// effect (the page also isolates every text element: unicode-bidi: isolate).
void AppendHtml(std::string* out, std::string_view text);
std::string Html(std::string_view text);

// Percent-encodes a query value (for links: ?url=...).
std::string UrlEncode(std::string_view value);

}  // namespace dedupd::api
