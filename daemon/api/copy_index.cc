#include "api/copy_index.h"

#include <algorithm>

namespace dedupd::api {

void CopyIndex::Observe(const state::UrlState& s) {
  if (s.versions.empty() || s.versions[0].copy_of.empty() || max_edges_ == 0) return;
  const state::VersionRecord& v = s.versions[0];
  CopyEdge edge;
  edge.copy = s.canonical_url;
  edge.copy_version = v.version;
  edge.of_version = v.copy_of_version;
  edge.verdict = v.verdict;
  edge.containment = v.containment;
  edge.jaccard = v.jaccard;
  edge.distance = v.distance;
  edge.found_by = v.found_by;
  edge.fetched_at_ms = v.fetched_at_ms;
  std::lock_guard lock(mutex_);
  auto& edges = by_original_[v.copy_of];
  auto same = std::find_if(edges.begin(), edges.end(),
                           [&](const CopyEdge& e) { return e.copy == edge.copy; });
  if (same != edges.end()) {
    *same = std::move(edge);  // the same edge seen again (restart, read back): updated
    return;
  }
  edges.push_back(std::move(edge));
  order_.emplace_back(v.copy_of, s.canonical_url);
  while (order_.size() > max_edges_) {
    const auto& [original, copy] = order_.front();
    if (auto it = by_original_.find(original); it != by_original_.end()) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const CopyEdge& e) { return e.copy == copy; }),
                 list.end());
      if (list.empty()) by_original_.erase(it);
    }
    order_.pop_front();
  }
}

std::vector<CopyEdge> CopyIndex::CopiesOf(std::string_view original) const {
  std::lock_guard lock(mutex_);
  auto it = by_original_.find(std::string(original));
  return it == by_original_.end() ? std::vector<CopyEdge>{} : it->second;
}

size_t CopyIndex::size() const {
  std::lock_guard lock(mutex_);
  return order_.size();
}

}  // namespace dedupd::api
