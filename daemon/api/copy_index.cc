#include "api/copy_index.h"

#include <algorithm>

#include "common/types.h"

namespace dedupd::api {

void CopyIndex::Observe(const state::UrlState& s) {
  if (!s.versions.empty() && s.versions[0].verdict == static_cast<uint8_t>(Verdict::kRevised) &&
      !s.site.empty()) {
    SiteEdit edit;
    edit.url = s.canonical_url;
    edit.version = s.versions[0].version;
    edit.from_version = s.versions.size() > 1 ? s.versions[1].version : edit.version - 1;
    edit.severity = s.versions[0].severity;
    edit.fetched_at_ms = s.versions[0].fetched_at_ms;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = edits_by_site_.try_emplace(s.site);
    if (inserted) {
      site_order_.push_back(s.site);
      if (site_order_.size() > kRecentEditSites) {
        edits_by_site_.erase(site_order_.front());
        site_order_.pop_front();
        it = edits_by_site_.find(s.site);
      }
    }
    auto& edits = it->second;
    const bool seen = std::any_of(edits.begin(), edits.end(), [&](const SiteEdit& e) {
      return e.url == edit.url && e.version == edit.version;  // read back, or restored again
    });
    if (!seen) {
      edits.push_front(std::move(edit));
      if (edits.size() > kRecentEditsPerSite) edits.pop_back();
    }
  }
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
    // Not a structured binding: clang 14 cannot capture one in the lambda.
    const std::string& original = order_.front().first;
    const std::string& copy = order_.front().second;
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

std::vector<SiteEdit> CopyIndex::RecentEdits(std::string_view site) const {
  std::lock_guard lock(mutex_);
  auto it = edits_by_site_.find(std::string(site));
  if (it == edits_by_site_.end()) return {};
  return {it->second.begin(), it->second.end()};
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
