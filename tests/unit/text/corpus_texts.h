// The texts the text stage's fast paths are checked on against their
// reference loops: every fixture and every body of the labelled dev corpus.
// Needs simdjson (link the test with simdjson::simdjson).
//
//   for (const std::string& t : testing::CorpusAndFixtureTexts()) Check(t);
//
// Thread-safety: pure function (reads files).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "unit/text/text_test_util.h"

namespace dedupd::text::testing {

// Every fixture text and every body of the labelled dev corpus: the inputs
// the fast paths are checked against their reference loops on.
inline std::vector<std::string> CorpusAndFixtureTexts() {
  std::vector<std::string> texts;
  for (const char* name :
       {"en-release.txt", "en-release-revised.txt", "en-release.html", "sc-gov-release.txt",
        "sc-gov-release-revised.txt", "sc-gov-release-doubled.txt", "sc-gov-other-release.txt",
        "sc-news-syndicated.txt", "pages.jsonl"}) {
    texts.push_back(Fixture(name));
  }
  const std::string corpus = ReadFile(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl");
  simdjson::dom::parser parser;
  size_t begin = 0;
  while (begin < corpus.size()) {
    size_t end = corpus.find('\n', begin);
    if (end == std::string::npos) end = corpus.size();
    simdjson::dom::element e;
    std::string_view body;
    if (parser.parse(corpus.substr(begin, end - begin)).get(e) == simdjson::SUCCESS &&
        e["body"].get(body) == simdjson::SUCCESS) {
      texts.emplace_back(body);
    }
    begin = end + 1;
  }
  return texts;
}

}  // namespace dedupd::text::testing
