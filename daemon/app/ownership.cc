#include "app/ownership.h"

#include <xxhash.h>

namespace dedupd::app {
namespace {

uint64_t Key(std::string_view url) {
  return XXH3_64bits(url.data(), url.size());
}

}  // namespace

void OwnershipIndex::Record(std::string_view canonical_url, int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  partition_of_[Key(canonical_url)] = partition;
}

void OwnershipIndex::Assign(const std::vector<int32_t>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  assigned_.insert(partitions.begin(), partitions.end());
}

void OwnershipIndex::Revoke(const std::vector<int32_t>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int32_t p : partitions) assigned_.erase(p);
}

void OwnershipIndex::RevokeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  assigned_.clear();
}

bool OwnershipIndex::Owns(std::string_view canonical_url) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partition_of_.find(Key(canonical_url));
  return it != partition_of_.end() && assigned_.count(it->second) != 0;
}

std::vector<int32_t> OwnershipIndex::Assigned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {assigned_.begin(), assigned_.end()};
}

size_t OwnershipIndex::Known() const {
  std::lock_guard<std::mutex> lock(mu_);
  return partition_of_.size();
}

}  // namespace dedupd::app
