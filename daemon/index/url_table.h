// UrlTable: the URL of every DocId and the DocId of every URL, for the
// detector's documents (which are never forgotten, so DocIds are dense and
// permanent). Compressed blocks of 16 URLs in an arena instead of a
// std::string and a hash-map node per URL (~170 B per 70-byte URL), so that
// the documents an instance does not own cost a fraction of their URLs'
// bytes (issue #15).
//
//   index::UrlTable urls;
//   DocId d = urls.Add("https://www.example.com/a/1.html");
//   urls.Find("https://www.example.com/a/1.html");  // d
//   urls.Url(d);                                     // the URL again
//
// A record is the URL's prefix number (the scheme and host up to the first
// '/' of the path: a site's URLs share it, and the prefix table holds it
// once; at most 65,536 prefixes, URLs of further hosts are kept whole), the
// rest's length (varint) and the rest's bytes. The records of DocIds 16b ..
// 16b+15 form block b, kept as one zstd frame compressed against a
// dictionary trained on the table's own recent records (or raw, when that is
// not smaller); the unfinished last block stays raw. Dictionaries are trained
// when the table reaches 256, 1 Ki, 4 Ki, ... URLs (x4 each time) from its
// last <= 16 Ki records, so the dictionary follows the stream's hosts; every
// dictionary is kept, and a block names the one it was made with (by its
// number), so older blocks stay decodable. Url(d) decompresses d's block
// (~4 us on the shared 2-core VM; each thread keeps its last decoded block;
// a block of the newest 4 dictionaries is decoded after the thread's copy of
// its dictionary, which zstd reads as a prefix, faster) and walks it. Find
// looks a 32-bit tag of the URL's hash up in a TagTable (~11 B per URL) and
// compares the URLs under that tag in place.
// Thread-safety: const methods may run concurrently (each thread decodes with
// its own zstd context); Add needs exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/tag_table.h"

struct ZSTD_CCtx_s;
struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace dedupd::index {

class UrlTable {
 public:
  UrlTable();
  ~UrlTable();
  UrlTable(const UrlTable&) = delete;
  UrlTable& operator=(const UrlTable&) = delete;

  // The URL's DocId, the next one (size()) for a URL not yet held.
  DocId Add(std::string_view url);
  std::optional<DocId> Find(std::string_view url) const;
  // The URL of doc (< size()).
  std::string Url(DocId doc) const;
  void Url(DocId doc, std::string* out) const;

  size_t size() const { return size_; }
  // The blocks, their positions, the dictionaries and zstd's state for them,
  // and the prefix table; the TagTable apart. Not counted: each reading
  // thread's decompression context (~95 KiB), last decoded block (~1 KiB) and
  // copies of the newest 4 dictionaries (~70 KiB each with zstd's tables).
  size_t ArenaBytes() const;
  size_t IdBytes() const { return ids_.MemoryBytes(); }
  // The stored blocks and the unfinished one: the URLs' own bytes, without
  // the fixed costs (chunk slack, dictionaries, zstd's tables) that
  // ArenaBytes adds (for benchmarks on small URL sets).
  size_t StoredBytes() const { return stored_bytes_ + pending_.size(); }
  // How many dictionaries have been trained (for tests and benchmarks).
  size_t Dictionaries() const { return dictionaries_.size(); }

 private:
  static constexpr int kStrideBits = 4;  // 16 records a block
  static constexpr size_t kChunk = size_t{64} << 10;
  static constexpr size_t kMaxPrefixes = size_t{1} << 16;
  static constexpr size_t kFirstTraining = 256;      // URLs
  static constexpr size_t kTrainingRecords = 16384;  // the most recent ones
  static constexpr size_t kDictionaryBytes = 32768;  // at most
  static constexpr int kLevel = 3;

  struct Dictionary {
    size_t first_block = 0;  // the blocks from here on (to the next one's) use it
    std::string bytes;
    ZSTD_DDict_s* ddict = nullptr;
  };

  uint32_t PrefixNumber(std::string_view prefix);
  // Compresses pending_ (16 records) into the arena as the next block.
  void Seal();
  // A new dictionary from the last kTrainingRecords records (pending_ last).
  void Train();
  // Block b's records (raw) into *raw.
  void Block(size_t b, std::string* raw) const;
  // Block b's records (b < Blocks()), decoded into the thread's buffers (or
  // read in place): valid until this thread's next Decode().
  std::string_view Decode(size_t b) const;
  // Block b's records, pending_'s for b == Blocks(): the thread's last
  // decoded block kept, valid until this thread decodes another.
  std::string_view Records(size_t b) const;
  size_t DictionaryOf(size_t b) const;
  // The first byte of block b.
  const uint8_t* At(size_t b) const;
  size_t Blocks() const { return offset_.size(); }

  // The blocks in chunks of 64 KiB (a longer block in a chunk of its own);
  // block b starts offset_[b] bytes into the last chunk whose first block is
  // <= b (2 bytes a block where a 64-bit position took 8).
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
  std::vector<uint32_t> chunk_bytes_;
  std::vector<uint32_t> chunk_first_block_;
  size_t chunk_used_ = 0;  // bytes used in the last chunk
  std::vector<uint16_t> offset_;
  size_t stored_bytes_ = 0;
  std::string pending_;  // the records of the unfinished block
  std::vector<std::string> prefixes_;
  // Looked up by a view of the URL (no string built per Add()).
  struct PrefixHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, PrefixHash, std::equal_to<>> prefix_numbers_;
  std::vector<Dictionary> dictionaries_;
  ZSTD_CDict_s* cdict_ = nullptr;  // the newest dictionary's
  ZSTD_CCtx_s* cctx_ = nullptr;
  size_t next_training_ = kFirstTraining;
  TagTable ids_;
  size_t size_ = 0;
  const uint64_t id_;  // this table's, for the threads' decoded-block caches
};

}  // namespace dedupd::index
