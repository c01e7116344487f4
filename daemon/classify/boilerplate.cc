#include "classify/boilerplate.h"

#include "state/url_state.h"

namespace dedupd::classify {

namespace {
constexpr std::string_view kOverflowSite = "\x01other";
}

BoilerplateModel::BoilerplateModel(BoilerplateOptions options) : options_(options) {}

BoilerplateModel::Table* BoilerplateModel::TableFor(std::string_view site) {
  auto it = sites_.find(site);
  if (it != sites_.end()) return &it->second;
  if (sites_.size() >= options_.max_sites) return &sites_[std::string(kOverflowSite)];
  return &sites_[std::string(site)];
}

const BoilerplateModel::Table* BoilerplateModel::FindTable(std::string_view site) const {
  auto it = sites_.find(site);
  if (it == sites_.end()) it = sites_.find(kOverflowSite);
  return it == sites_.end() ? nullptr : &it->second;
}

void BoilerplateModel::Decay(Table* table) {
  for (auto it = table->begin(); it != table->end();) {
    it->second.pages /= 2;
    if (it->second.pages == 0) {
      it = table->erase(it);
    } else {
      ++it;
    }
  }
}

void BoilerplateModel::Observe(std::string_view site, uint64_t url_hash,
                               std::span<const uint64_t> line_hashes) {
  Table* table = TableFor(site);
  for (uint64_t line_hash : line_hashes) {
    // Keyed on the line hash's top 32 bits, all that a fingerprint record
    // carries (state::LineKey): a model that learns from other instances'
    // records then learns exactly what one that saw their pages would.
    const uint64_t h = state::LineKey(line_hash);
    if (table->size() >= options_.max_lines_per_site && !table->contains(h)) Decay(table);
    Entry& e = (*table)[h];
    if (e.pages == 0 || e.last_url != url_hash) {
      ++e.pages;
      e.last_url = url_hash;
    }
  }
}

bool BoilerplateModel::IsBoilerplate(std::string_view site, uint64_t line_hash) const {
  const Table* table = FindTable(site);
  if (table == nullptr) return false;
  auto it = table->find(state::LineKey(line_hash));
  return it != table->end() && it->second.pages >= options_.min_pages;
}

size_t BoilerplateModel::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [site, table] : sites_) {
    bytes += site.capacity() + table.bucket_count() * sizeof(void*) +
             table.size() * (sizeof(uint64_t) + sizeof(Entry) + 2 * sizeof(void*));
  }
  return bytes;
}

}  // namespace dedupd::classify
