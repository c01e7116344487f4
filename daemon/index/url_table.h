// UrlTable: the URL of every DocId and the DocId of every URL, for the
// detector's documents (which are never forgotten, so DocIds are dense and
// permanent). One arena of records instead of a std::string and a hash-map
// node per URL (~170 B per 70-byte URL), so that the documents an instance
// does not own cost little more than their URLs' bytes (issue #15).
//
//   index::UrlTable urls;
//   DocId d = urls.Add("https://www.example.com/a/1.html");
//   urls.Find("https://www.example.com/a/1.html");  // d
//   urls.Url(d);                                     // the URL again
//
// A record is the URL's prefix number (the scheme and host up to the first
// '/' of the path: a site's URLs share it, and the prefix table holds it
// once; at most 65,536 prefixes, URLs of further hosts are kept whole), the rest's length (varint)
// and the rest's bytes, appended to 64 KiB blocks. Every 16th DocId keeps its record's position;
// Url(d) walks at most 15 records from there. Find looks a 32-bit tag of the URL's hash up in a
// TagTable (~11 B per URL) and compares the URLs under that tag.
// Thread-safety: const methods may run concurrently; Add needs exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/tag_table.h"

namespace dedupd::index {

class UrlTable {
 public:
  // The URL's DocId, the next one (size()) for a URL not yet held.
  DocId Add(std::string_view url);
  std::optional<DocId> Find(std::string_view url) const;
  // The URL of doc (< size()).
  std::string Url(DocId doc) const;
  void Url(DocId doc, std::string* out) const;

  size_t size() const { return size_; }
  // The records, the positions and the prefix table; the TagTable apart.
  size_t ArenaBytes() const;
  size_t IdBytes() const { return ids_.MemoryBytes(); }

 private:
  static constexpr size_t kBlock = size_t{64} << 10;
  static constexpr int kStrideBits = 4;  // a position kept every 16 DocIds
  static constexpr size_t kMaxPrefixes = size_t{1} << 16;
  uint32_t PrefixNumber(std::string_view prefix);
  void PrefixNumber0();
  // The record at `pos`: appends its URL to *out, returns the next record's position.
  uint64_t Decode(uint64_t pos, std::string* out) const;
  uint8_t ByteAt(uint64_t pos) const { return blocks_[pos / kBlock][pos % kBlock]; }

  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  uint64_t end_ = 0;                // arena bytes used
  std::vector<uint64_t> position_;  // record of DocId i << kStrideBits
  std::vector<std::string> prefixes_;
  std::unordered_map<std::string, uint32_t> prefix_numbers_;
  TagTable ids_;
  size_t size_ = 0;
};

}  // namespace dedupd::index
