// Helpers for the text stage's tests: read fixtures, split them into blocks.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "text/extract.h"
#include "text/normalize.h"

namespace dedupd::text::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string Fixture(std::string_view name) {
  return ReadFile(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/" + std::string(name));
}

inline std::vector<std::string_view> Views(const ExtractedText& t) {
  std::vector<std::string_view> v;
  for (const Block& b : t.blocks) v.push_back(b.text);
  return v;
}

inline std::vector<std::string> Texts(const ExtractedText& t) {
  std::vector<std::string> v;
  for (const Block& b : t.blocks) v.push_back(b.text);
  return v;
}

// ContentKey of the non-chrome blocks, joined: the exact-content key.
inline std::string ContentKeyOf(const ExtractedText& t) {
  return ContentKey(JoinContent(t));
}

}  // namespace dedupd::text::testing
