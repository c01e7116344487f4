// Which URLs this instance owns now, for the HTTP routing of several
// instances (metrics/owner_routing.h, docs/api.md "Several instances"): a
// URL is owned here when its input partition is assigned here. The partition
// a URL is on is decided by the scrapers' producer, so it is learnt, not
// computed: from the input messages this instance processes and from the
// changelog records its restores read (changelog partition p = input
// partition p). Kept in memory as XXH3-64 of the URL -> partition (about 40
// bytes per URL seen).
//
//   OwnershipIndex owned;
//   owned.Record("https://a.example/x", 3);   // processed or restored
//   owned.Assign({3});                        // after the restore of partition 3
//   owned.Owns("https://a.example/x");        // true
//   owned.Revoke({3});                        // false again
//
// A URL not seen since this process started (a restart restores only the
// changelog records past the store's offsets) is not known as owned: the
// router then answers from the local store, which holds the URLs this
// instance owns or owned (not the other instances': docs/delivery.md, "What
// is stored where"), so another instance answers 404 for it until its owner
// has seen it again.
//
// Thread-safety: every method is thread-safe (the loop thread writes, the
// HTTP server's worker threads read).
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dedupd::app {

class OwnershipIndex {
 public:
  void Record(std::string_view canonical_url, int32_t partition);
  void Assign(const std::vector<int32_t>& partitions);
  void Revoke(const std::vector<int32_t>& partitions);
  void RevokeAll();
  bool Owns(std::string_view canonical_url) const;
  std::vector<int32_t> Assigned() const;
  size_t Known() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, int32_t> partition_of_;
  std::set<int32_t> assigned_;
};

}  // namespace dedupd::app
