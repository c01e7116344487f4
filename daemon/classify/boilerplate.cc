#include "classify/boilerplate.h"

#include <algorithm>
#include <utility>

#include "state/url_state.h"

namespace dedupd::classify {

namespace {
constexpr std::string_view kOverflowSite = "\x01other";
}

BoilerplateModel::BoilerplateModel(BoilerplateOptions options) : options_(options) {}

BoilerplateModel::Table* BoilerplateModel::TableFor(std::string_view site) {
  auto it = sites_.find(site);
  if (it != sites_.end()) return &it->second;
  last_valid_ = false;  // a new table may change FindTable's answer for any site
  if (sites_.size() >= options_.max_sites) return &sites_[std::string(kOverflowSite)];
  return &sites_[std::string(site)];
}

const BoilerplateModel::Table* BoilerplateModel::FindTable(std::string_view site) const {
  if (last_valid_ && site == last_site_) return last_table_;
  auto it = sites_.find(site);
  if (it == sites_.end()) it = sites_.find(kOverflowSite);
  last_table_ = it == sites_.end() ? nullptr : &it->second;
  last_site_.assign(site);
  last_valid_ = true;
  return last_table_;
}

namespace {
size_t Home(uint64_t line, size_t capacity) {
  return static_cast<size_t>((line * 0x9e3779b97f4a7c15ULL) >> 32) & (capacity - 1);
}
}  // namespace

BoilerplateModel::Entry* BoilerplateModel::Table::Find(uint64_t line) {
  return const_cast<Entry*>(std::as_const(*this).Find(line));
}

const BoilerplateModel::Entry* BoilerplateModel::Table::Find(uint64_t line) const {
  if (slots.empty()) return nullptr;
  for (size_t i = Home(line, slots.size());; i = (i + 1) & (slots.size() - 1)) {
    const Entry& e = slots[i];
    if (e.pages == 0) return nullptr;
    if (e.line == line) return &e;
  }
}

void BoilerplateModel::Table::Rehash(size_t capacity) {
  std::vector<Entry> old = std::move(slots);
  slots.assign(capacity, Entry{});
  for (const Entry& e : old) {
    if (e.pages == 0) continue;
    size_t i = Home(e.line, capacity);
    while (slots[i].pages != 0) i = (i + 1) & (capacity - 1);
    slots[i] = e;
  }
}

BoilerplateModel::Entry* BoilerplateModel::Table::Insert(uint64_t line) {
  if ((size + 1) * 2 > slots.size()) Rehash(std::max<size_t>(16, slots.size() * 2));
  for (size_t i = Home(line, slots.size());; i = (i + 1) & (slots.size() - 1)) {
    Entry& e = slots[i];
    if (e.pages == 0) {
      e.line = line;
      e.last_url = 0;
      ++size;
      return &e;
    }
    if (e.line == line) return &e;
  }
}

void BoilerplateModel::Decay(Table* table) {
  // Halve every count and drop the zeros; the survivors are re-filed (no
  // tombstones), in an array of the same size.
  table->size = 0;
  for (Entry& e : table->slots) {
    e.pages /= 2;
    if (e.pages != 0) ++table->size;
  }
  table->Rehash(table->slots.size());
}

void BoilerplateModel::Observe(std::string_view site, uint64_t url_hash,
                               std::span<const uint64_t> line_hashes) {
  Table* table = TableFor(site);
  for (uint64_t line_hash : line_hashes) {
    // Keyed on the line hash's top 32 bits, all that a fingerprint record
    // carries (state::LineKey): a model that learns from other instances'
    // records then learns exactly what one that saw their pages would.
    const uint64_t h = state::LineKey(line_hash);
    if (table->size >= options_.max_lines_per_site && table->Find(h) == nullptr) Decay(table);
    Entry& e = *table->Insert(h);
    if (e.pages == 0 || e.last_url != url_hash) {
      ++e.pages;
      e.last_url = url_hash;
    }
  }
}

bool BoilerplateModel::IsBoilerplate(std::string_view site, uint64_t line_hash) const {
  const Table* table = FindTable(site);
  if (table == nullptr) return false;
  const Entry* e = table->Find(state::LineKey(line_hash));
  return e != nullptr && e->pages >= options_.min_pages;
}

size_t BoilerplateModel::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [site, table] : sites_) {
    bytes += site.capacity() + table.slots.capacity() * sizeof(Entry);
  }
  return bytes;
}

}  // namespace dedupd::classify
