// CopyIndex: the recent edits of each site (/ui/site), and the reverse edges "B is a copy of A"
// that /v1/pages and /ui/page list under A. Each state record carries what its current version is a
// copy of (UrlState::versions[0].copy_of, also in the fingerprints topic's slim record), so every
// instance learns every edge from the states it loads, processes or reads from Kafka, and keeps a
// bounded map of them.
//
//   CopyIndex copies(200000);
//   detector.SetStateObserver([&](const state::UrlState& s) { copies.Observe(s); });
//   for (const CopyEdge& e : copies.CopiesOf("https://a.example/x")) ...
//
// Thread-safety: thread-safe (one mutex); Observe on the processing loop,
// CopiesOf from the HTTP threads.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "state/url_state.h"

namespace dedupd::api {

// The bound the daemon uses: 200,000 edges, about 40 MB at most.
inline constexpr size_t kCopyIndexEdges = 200000;

struct CopyEdge {
  std::string copy;  // the URL that is a copy
  uint32_t copy_version = 0;
  uint32_t of_version = 0;  // the version of the original it matched
  uint8_t verdict = 0;      // DUPLICATE or NEAR_DUPLICATE (dedupd::Verdict)
  float containment = 0, jaccard = 0;
  uint8_t distance = 0, found_by = 0;
  int64_t fetched_at_ms = 0;
};

// One REVISED version seen for a site: what /ui/site lists (the dashboards'
// revision panels link there, since no metric carries a URL).
struct SiteEdit {
  std::string url;
  uint32_t version = 0;
  uint32_t from_version = 0;  // the version it revised
  int8_t severity = -1;       // static_cast of diff::Severity
  int64_t fetched_at_ms = 0;
};

// Recent edits kept per site, and sites kept (the oldest site seen first goes).
inline constexpr size_t kRecentEditsPerSite = 50;
inline constexpr size_t kRecentEditSites = 5000;

class CopyIndex {
 public:
  // At most `max_edges` edges are kept; the oldest learnt go first.
  explicit CopyIndex(size_t max_edges) : max_edges_(max_edges) {}

  void Observe(const state::UrlState& s);
  std::vector<CopyEdge> CopiesOf(std::string_view original) const;
  // The site's most recent REVISED versions this instance has seen (its own
  // and, through the fingerprints topic, every instance's), newest first.
  std::vector<SiteEdit> RecentEdits(std::string_view site) const;
  size_t size() const;

 private:
  size_t max_edges_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<CopyEdge>> by_original_;
  std::deque<std::pair<std::string, std::string>> order_;  // (original, copy), oldest first
  std::unordered_map<std::string, std::deque<SiteEdit>> edits_by_site_;  // newest first
  std::deque<std::string> site_order_;                                   // oldest site first
};

}  // namespace dedupd::api
