// Boilerplate: per-site learning of the lines that appear on many pages of a
// site (header, footer, share buttons, disclaimers), so that they are left out
// of the fingerprint before it is computed (Henzinger, SIGIR 2006: on
// same-site pairs, SimHash and shingling lose their precision to templates).
//
//   BoilerplateModel model(BoilerplateOptions{});
//   model.Observe("sc.gov.cn", url_hash, line_hashes);     // once per page
//   bool skip = model.IsBoilerplate("sc.gov.cn", line_hash);
//
// Lines are keyed on the top 32 bits of their hash (state::LineKey), what
// the fingerprints topic carries: two lines of one site that collide there
// are one line to the model (a chance of ~n/2^32 per lookup with n lines
// held for the site, n <= max_lines_per_site).
// A line counts once per page, and a page is counted only if its URL differs
// from the last URL that carried the line (a re-scrape of one URL does not
// make its text boilerplate). Memory is bounded per site and in the number of
// sites; counts decay by halving when a site's table is full, so a footer that
// stops appearing is forgotten.
// Thread-safety: not thread-safe, not even the const methods (IsBoilerplate
// remembers its last site lookup); one model per pipeline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dedupd::classify {

struct BoilerplateOptions {
  uint32_t min_pages = 3;  // a line on at least this many pages of the site is boilerplate
  size_t max_lines_per_site = 8192;  // table bound; when full, counts halve and zeros are dropped
  size_t max_sites = 4096;           // sites beyond this share one table ("other")
};

class BoilerplateModel {
 public:
  explicit BoilerplateModel(BoilerplateOptions options = {});

  void Observe(std::string_view site, uint64_t url_hash, std::span<const uint64_t> line_hashes);
  bool IsBoilerplate(std::string_view site, uint64_t line_hash) const;
  size_t SiteCount() const { return sites_.size(); }
  size_t MemoryBytes() const;

 private:
  // One site's lines: open addressing with linear probing over a power-of-two
  // array, at most half full (a node-based map cost an allocation and a cache
  // miss per line, most of a restore's CPU: docs/delivery.md). pages == 0
  // marks an empty slot (a kept line has pages >= 1).
  struct Entry {
    uint64_t line = 0;
    uint64_t last_url = 0;
    uint32_t pages = 0;
  };
  struct Table {
    std::vector<Entry> slots;
    size_t size = 0;
    Entry* Find(uint64_t line);
    const Entry* Find(uint64_t line) const;
    Entry* Insert(uint64_t line);  // the line's entry, a new one with pages 0 if absent
    void Rehash(size_t capacity);
  };
  Table* TableFor(std::string_view site);
  const Table* FindTable(std::string_view site) const;
  void Decay(Table* table);

  // Looked up by string_view (C++20 heterogeneous lookup): a page's site is
  // looked up once per block, and a key string built for each lookup
  // allocated whenever the site name is longer than the small-string buffer.
  struct SiteHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  BoilerplateOptions options_;
  std::unordered_map<std::string, Table, SiteHash, std::equal_to<>> sites_;
  // FindTable's last answer: the detector asks about every block of a page,
  // all of one site, and hashing the site name each time (plus the bucket
  // walk) cost ~2% of a scan. Valid while no site is added (TableFor clears
  // it); the tables themselves never move (map nodes are stable).
  mutable std::string last_site_;
  mutable const Table* last_table_ = nullptr;
  mutable bool last_valid_ = false;
};

}  // namespace dedupd::classify
