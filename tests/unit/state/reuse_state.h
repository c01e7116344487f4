// The state the store reuse tests put again and again
// (memory_store_reuse_test.cc, rocks_store_reuse_test.cc): one URL long
// enough not to fit a std::string's inline buffer, a title likewise, line
// hashes and a sketch, so that a copy or a lookup that builds a string shows
// as an allocation.
//
//   store->Put(ReuseVersion(1, std::string(4000, 'y')));
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>

#include "state/url_state.h"

namespace dedupd::state {

inline UrlState ReuseVersion(uint32_t version, const std::string& text) {
  UrlState s;
  s.canonical_url = "https://a.example/news/2026/12/06/an-article-with-a-long-path.html";
  s.site = "a.example";
  s.version = version;
  s.history = {{3, 4}, {5, 6}};
  s.line_hashes = {11, 12, 13};
  s.line_hashes_known = true;
  s.sketch = {1, 2, 3};
  s.shingle_count = 3;
  s.sketch_known = true;
  s.text = text;
  s.title = "一个足够长的标题，不放进内联缓冲区";
  return s;
}

}  // namespace dedupd::state
