// Realistic synthetic URLs from a few real ones (bench_doc_memory,
// bench_url_bytes, bench_index's UrlTable benchmarks): hosts and path
// templates kept, ids and slug words varied.
//
//   auto words = dedupd::bench::PathWords(real_urls);
//   std::string u = dedupd::bench::UrlLike(real_urls[i], words, rng);
// Thread-safety: plain functions; the caller owns the generator.
#pragma once

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dedupd::bench {

// Where the URL's last path segment begins (the one before a final '/').
inline size_t SlugStart(const std::string& url) {
  size_t end = url.size();
  if (end > 0 && url[end - 1] == '/') --end;
  const size_t slash = url.rfind('/', end == 0 ? 0 : end - 1);
  return slash == std::string::npos ? 0 : slash + 1;
}

// A URL like the profile's: its host and every byte outside letter and digit
// runs kept (so hosts, path templates and lengths stay realistic), and in the
// path each run varied as its kind varies between a site's pages: a number of
// up to 4 digits (a year, a month, a section) kept; a longer one (an id)
// random, as long; a lower-case word of the last path segment (a slug's, not
// an extension after a '.') drawn from the profile's slug words, while the
// directories' words stay; any other run (a hash-like id: mixed case, letters
// and digits) random, character class by character class. (Until session 6 the URL was
// the profile URL with its last digit run replaced by a serial number: 1,200
// real URLs repeated ~800 times each, which a compressor trained on the first
// URLs turns into little more than the serial.)
inline std::string UrlLike(const std::string& url, const std::vector<std::string>& words,
                           std::mt19937_64& rng) {
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return url + "/" + std::to_string(rng() % 1000000000);
  std::string out = url.substr(0, path);
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  const size_t slug = SlugStart(url);
  for (size_t i = path; i < url.size();) {
    if (!alnum(url[i])) {
      out += url[i++];
      continue;
    }
    size_t end = i;
    bool digits = true, lower = true;
    for (; end < url.size() && alnum(url[end]); ++end) {
      digits = digits && url[end] >= '0' && url[end] <= '9';
      lower = lower && url[end] >= 'a' && url[end] <= 'z';
    }
    const std::string_view run(url.data() + i, end - i);
    if (digits && run.size() <= 4) {
      out += run;
    } else if (lower && (i < slug || url[i - 1] == '.' || words.empty())) {
      out += run;
    } else if (lower) {
      out += words[rng() % words.size()];
    } else {
      for (char c : run) {
        if (c >= '0' && c <= '9') {
          out += static_cast<char>('0' + rng() % 10);
        } else if (c >= 'a' && c <= 'z') {
          out += static_cast<char>('a' + rng() % 26);
        } else {
          out += static_cast<char>('A' + rng() % 26);
        }
      }
    }
    i = end;
  }
  return out;
}

// The lower-case words of the profile URLs' last path segments (not after a
// '.'), with their multiplicity.
inline std::vector<std::string> PathWords(const std::vector<std::string>& urls) {
  std::vector<std::string> words;
  for (const std::string& url : urls) {
    const size_t scheme = url.find("://");
    const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (path == std::string::npos) continue;
    size_t i = std::max(path, SlugStart(url));
    while (i < url.size()) {
      size_t end = i;
      while (end < url.size() && url[end] >= 'a' && url[end] <= 'z') ++end;
      const bool word =
          end > i && (end == url.size() || !std::isalnum(static_cast<unsigned char>(url[end]))) &&
          !std::isalnum(static_cast<unsigned char>(url[i - 1])) && url[i - 1] != '.';
      if (word) words.push_back(url.substr(i, end - i));
      i = end > i ? end : i + 1;
    }
  }
  return words;
}

}  // namespace dedupd::bench
