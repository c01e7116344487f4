// UrlTable: URLs in zstd-compressed blocks of 16 with prefix sharing, and a
// tag table over their hashes (url_table.h).
#include "index/url_table.h"

#define ZSTD_STATIC_LINKING_ONLY   // ZSTD_f_zstd1_magicless
#define ZDICT_STATIC_LINKING_ONLY  // ZDICT_trainFromBuffer_fastCover
#include <xxhash.h>
#include <zdict.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dedupd::index {
namespace {

uint32_t TagOf(std::string_view url) {
  return static_cast<uint32_t>(XXH3_64bits(url.data(), url.size()) >> 32);
}

// "https://host.example/path" -> "https://host.example"; the whole URL if it
// has no path.
size_t PrefixLength(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
  const size_t slash = url.find('/', from);
  return slash == std::string_view::npos ? url.size() : slash;
}

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

uint64_t GetVarint(const uint8_t** p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = *(*p)++;
    v |= uint64_t{b & 0x7Fu} << shift;
    if (b < 0x80) return v;
  }
}

// A record: its prefix number and the rest of the URL.
struct Record {
  uint64_t prefix;
  std::string_view rest;
};

Record NextRecord(const uint8_t** p) {
  const uint64_t prefix = GetVarint(p);
  const uint64_t length = GetVarint(p);
  const Record r{prefix, std::string_view(reinterpret_cast<const char*>(*p), length)};
  *p += length;
  return r;
}

// The frames carry no magic number, content size, checksum or dictionary id:
// the block header holds the sizes and the block's number the dictionary.
void SetFrameParameters(ZSTD_CCtx* cctx) {
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
}

// Each thread's decompression context (const methods run concurrently).
ZSTD_DCtx* ThreadDCtx() {
  struct Holder {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    Holder() { ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless); }
    ~Holder() { ZSTD_freeDCtx(dctx); }
  };
  thread_local Holder holder;
  return holder.dctx;
}

// Each thread's decoding state. The last block it decoded (the detector
// often looks the same URL up twice in a row: Find, then Add, which finds
// first; a sealed block never changes), keyed by the table's id (never
// reused), as a view: into the arena for a block stored raw, into a slot's
// buffer, or into `raw`. And a slot for each of the newest kSlots
// dictionaries: a copy of the dictionary's bytes with room after them, where
// that dictionary's blocks are decoded. zstd then reads the dictionary as
// the output's own prefix and copies a match from it inline; from a separate
// dictionary it makes a memmove call per match (most of a URL's bytes come
// from the dictionary), ~0.3% of a scan's profile (issue #11 item 3).
struct ThreadDecoder {
  static constexpr size_t kSlots = 4;
  static constexpr size_t kRoom = 8192;  // a block's records (16 URLs) + zstd's 32 B margin
  struct Slot {
    uint64_t table = 0;
    size_t dictionary = 0;  // its number + 1, as UrlTable::DictionaryOf
    size_t dictionary_bytes = 0;
    std::unique_ptr<char[]> buffer;  // the dictionary's bytes, then kRoom
    ZSTD_DDict* ddict = nullptr;     // by reference to buffer
    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { ZSTD_freeDDict(ddict); }
  };
  Slot slots[kSlots];
  uint64_t table = 0;
  size_t block = 0;
  std::string_view records;
  std::string raw;
};

ThreadDecoder& Decoder() {
  thread_local ThreadDecoder decoder;
  return decoder;
}

}  // namespace

namespace {
std::atomic<uint64_t> next_table_id{1};
}  // namespace

UrlTable::UrlTable() : id_(next_table_id.fetch_add(1, std::memory_order_relaxed)) {
  prefixes_.emplace_back();
  prefix_numbers_.emplace(std::string(), 0);
}

UrlTable::~UrlTable() {
  for (Dictionary& d : dictionaries_) ZSTD_freeDDict(d.ddict);
  ZSTD_freeCDict(cdict_);
  ZSTD_freeCCtx(cctx_);
}

uint32_t UrlTable::PrefixNumber(std::string_view prefix) {
  if (auto it = prefix_numbers_.find(prefix); it != prefix_numbers_.end()) {
    return it->second;
  }
  // A stream of ever new hosts would make the table cost more than it
  // saves: past kMaxPrefixes, URLs are kept whole under prefix 0 ("").
  if (prefixes_.size() >= kMaxPrefixes) return 0;
  auto [it, added] =
      prefix_numbers_.try_emplace(std::string(prefix), static_cast<uint32_t>(prefixes_.size()));
  if (added) prefixes_.emplace_back(prefix);
  return it->second;
}

DocId UrlTable::Add(std::string_view url) {
  if (auto found = Find(url)) return *found;
  const auto doc = static_cast<DocId>(size_);
  size_t cut = PrefixLength(url);
  const uint32_t prefix = PrefixNumber(url.substr(0, cut));
  if (prefix == 0) cut = 0;
  const std::string_view rest = url.substr(cut);
  PutVarint(prefix, &pending_);
  PutVarint(rest.size(), &pending_);
  pending_.append(rest);
  ids_.Insert(TagOf(url), doc);
  ++size_;
  if ((size_ & ((size_t{1} << kStrideBits) - 1)) == 0) {
    if (size_ == next_training_) {
      Train();
      next_training_ *= 4;
    }
    Seal();
  }
  return doc;
}

void UrlTable::Train() {
  // The samples: the records of the last blocks and of pending_, one each.
  std::string samples;
  std::vector<size_t> sizes;
  const size_t blocks = kTrainingRecords >> kStrideBits;
  std::string raw;
  auto add_records = [&](std::string_view block) {
    const auto* p = reinterpret_cast<const uint8_t*>(block.data());
    const auto* end = p + block.size();
    while (p < end) {
      const uint8_t* start = p;
      NextRecord(&p);
      samples.append(reinterpret_cast<const char*>(start), static_cast<size_t>(p - start));
      sizes.push_back(static_cast<size_t>(p - start));
    }
  };
  for (size_t b = Blocks() > blocks - 1 ? Blocks() - (blocks - 1) : 0; b < Blocks(); ++b) {
    Block(b, &raw);
    add_records(raw);
  }
  add_records(pending_);
  Dictionary d;
  d.first_block = Blocks();
  d.bytes.resize(std::min(kDictionaryBytes, samples.size() / 8));
  ZDICT_fastCover_params_t params{};
  params.k = 200;  // segment and d-mer sizes fixed: one pass, no search over them
  params.d = 8;
  params.f = 20;
  params.accel = 1;
  params.zParams.compressionLevel = kLevel;
  const size_t n =
      ZDICT_trainFromBuffer_fastCover(d.bytes.data(), d.bytes.size(), samples.data(), sizes.data(),
                                      static_cast<unsigned>(sizes.size()), params);
  // Too few or too uniform samples: the blocks keep the last dictionary.
  if (ZDICT_isError(n)) return;
  d.bytes.resize(n);
  d.bytes.shrink_to_fit();
  // By reference: d.bytes is the one copy (its buffer does not move with d).
  d.ddict = ZSTD_createDDict_byReference(d.bytes.data(), d.bytes.size());
  // Level 3's tables for ~1 KiB blocks and this dictionary, capped at 2^14
  // entries: 128 KiB instead of 400 (a 32 KiB dictionary has no more
  // positions to file; the blocks come out the same size within 1%).
  ZSTD_compressionParameters cparams = ZSTD_getCParams(kLevel, pending_.size() + 1, d.bytes.size());
  cparams.hashLog = std::min(cparams.hashLog, 14u);
  cparams.chainLog = std::min(cparams.chainLog, 14u);
  ZSTD_CDict* cdict = ZSTD_createCDict_advanced(d.bytes.data(), d.bytes.size(), ZSTD_dlm_byRef,
                                                ZSTD_dct_auto, cparams, ZSTD_defaultCMem);
  if (cctx_ == nullptr) cctx_ = ZSTD_createCCtx();
  if (d.ddict == nullptr || cdict == nullptr || cctx_ == nullptr) {
    ZSTD_freeDDict(d.ddict);
    ZSTD_freeCDict(cdict);
    return;
  }
  ZSTD_freeCDict(cdict_);
  cdict_ = cdict;
  // The frame parameters and the dictionary stay with cctx_ from block to block.
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  SetFrameParameters(cctx_);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, kLevel);
  ZSTD_CCtx_refCDict(cctx_, cdict_);
  dictionaries_.push_back(std::move(d));
}

void UrlTable::Seal() {
  // The stored block: varint raw size, varint stored size, stored bytes; a
  // stored size below the raw size means a zstd frame.
  thread_local std::string block;
  block.clear();
  std::string_view stored = pending_;
  thread_local std::string frame;
  if (cdict_ != nullptr) {
    frame.resize(ZSTD_compressBound(pending_.size()));
    const size_t n =
        ZSTD_compress2(cctx_, frame.data(), frame.size(), pending_.data(), pending_.size());
    if (!ZSTD_isError(n) && n > 0 && n < pending_.size())
      stored = std::string_view(frame.data(), n);
  }
  PutVarint(pending_.size(), &block);
  PutVarint(stored.size(), &block);
  block.append(stored);
  // A block never straddles two chunks (zstd wants it contiguous); one
  // longer than a chunk gets a chunk of its own.
  if (chunks_.empty() || chunk_used_ + block.size() > chunk_bytes_.back()) {
    const size_t bytes = std::max(kChunk, block.size());
    chunks_.push_back(std::make_unique<uint8_t[]>(bytes));
    chunk_bytes_.push_back(static_cast<uint32_t>(bytes));
    chunk_first_block_.push_back(static_cast<uint32_t>(Blocks()));
    chunk_used_ = 0;
  }
  offset_.push_back(static_cast<uint16_t>(chunk_used_));  // < kChunk, or 0
  std::copy(block.begin(), block.end(), chunks_.back().get() + chunk_used_);
  chunk_used_ += block.size();
  stored_bytes_ += block.size();
  pending_.clear();
}

const uint8_t* UrlTable::At(size_t b) const {
  const size_t chunk = static_cast<size_t>(
      std::upper_bound(chunk_first_block_.begin(), chunk_first_block_.end(), b) -
      chunk_first_block_.begin() - 1);
  return chunks_[chunk].get() + offset_[b];
}

size_t UrlTable::DictionaryOf(size_t b) const {
  // The last dictionary whose first block is <= b (there are a dozen at most).
  size_t k = dictionaries_.size();
  while (k > 0 && dictionaries_[k - 1].first_block > b) --k;
  return k;  // 0: before any dictionary; else dictionaries_[k - 1]
}

void UrlTable::Block(size_t b, std::string* raw) const {
  const uint8_t* p = At(b);
  const uint64_t raw_size = GetVarint(&p);
  const uint64_t stored_size = GetVarint(&p);
  if (stored_size == raw_size) {
    raw->assign(reinterpret_cast<const char*>(p), raw_size);
    return;
  }
  raw->resize(raw_size);
  const size_t k = DictionaryOf(b);
  ZSTD_DCtx* dctx = ThreadDCtx();
  size_t n = 0;  // (a compressed block before any dictionary: broken)
  if (k > 0) {
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);  // keeps the magicless format
    ZSTD_DCtx_refDDict(dctx, dictionaries_[k - 1].ddict);
    n = ZSTD_decompressDCtx(dctx, raw->data(), raw->size(), p, stored_size);
  }
  // Only a broken arena (a bug, or memory corruption) gets here: a wrong URL
  // would mislabel pages, so stop.
  if (k == 0 || ZSTD_isError(n) || n != raw_size) {
    std::fprintf(stderr, "UrlTable: block %zu does not decode: %s\n", b,
                 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
    std::abort();
  }
}

std::string_view UrlTable::Decode(size_t b) const {
  const uint8_t* p = At(b);
  const uint64_t raw_size = GetVarint(&p);
  const uint64_t stored_size = GetVarint(&p);
  // Stored raw: read in place (the arena's chunks never move).
  if (stored_size == raw_size) return {reinterpret_cast<const char*>(p), raw_size};
  ThreadDecoder& t = Decoder();
  const size_t k = DictionaryOf(b);
  if (k > 0 && k + ThreadDecoder::kSlots > dictionaries_.size() &&
      raw_size + 32 <= ThreadDecoder::kRoom) {
    ThreadDecoder::Slot& slot = t.slots[k % ThreadDecoder::kSlots];
    if (slot.table != id_ || slot.dictionary != k) {
      slot.table = 0;
      ZSTD_freeDDict(slot.ddict);
      slot.ddict = nullptr;
      if (!slot.buffer)
        slot.buffer = std::make_unique<char[]>(kDictionaryBytes + ThreadDecoder::kRoom);
      const std::string& bytes = dictionaries_[k - 1].bytes;
      std::memcpy(slot.buffer.get(), bytes.data(), bytes.size());
      slot.ddict = ZSTD_createDDict_byReference(slot.buffer.get(), bytes.size());
      if (slot.ddict != nullptr) {
        slot.table = id_;
        slot.dictionary = k;
        slot.dictionary_bytes = bytes.size();
      }
    }
    if (slot.ddict != nullptr) {
      char* out = slot.buffer.get() + slot.dictionary_bytes;
      ZSTD_DCtx* dctx = ThreadDCtx();
      ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);  // keeps the magicless format
      ZSTD_DCtx_refDDict(dctx, slot.ddict);
      const size_t n = ZSTD_decompressDCtx(dctx, out, ThreadDecoder::kRoom, p, stored_size);
      // As Block(): a broken arena must not mislabel pages.
      if (ZSTD_isError(n) || n != raw_size) {
        std::fprintf(stderr, "UrlTable: block %zu does not decode: %s\n", b,
                     ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
        std::abort();
      }
      return {out, raw_size};
    }
  }
  Block(b, &t.raw);  // an older dictionary's block, or a long one
  return t.raw;
}

std::string_view UrlTable::Records(size_t b) const {
  if (b >= Blocks()) return pending_;
  ThreadDecoder& t = Decoder();
  if (t.table != id_ || t.block != b) {
    t.table = 0;  // (if Decode stops the process half way)
    t.records = Decode(b);
    t.table = id_;
    t.block = b;
  }
  return t.records;
}

void UrlTable::Url(DocId doc, std::string* out) const {
  out->clear();
  const std::string_view records = Records(doc >> kStrideBits);
  const auto* p = reinterpret_cast<const uint8_t*>(records.data());
  for (DocId d = doc & ~((DocId{1} << kStrideBits) - 1); d < doc; ++d) NextRecord(&p);
  const Record r = NextRecord(&p);
  out->append(prefixes_[r.prefix]);
  out->append(r.rest);
}

std::string UrlTable::Url(DocId doc) const {
  std::string out;
  Url(doc, &out);
  return out;
}

std::optional<DocId> UrlTable::Find(std::string_view url) const {
  std::optional<DocId> found;
  // Compared in place, prefix and rest: no URL built.
  ids_.ForEach(TagOf(url), [&](DocId d) {
    const std::string_view records = Records(d >> kStrideBits);
    const auto* p = reinterpret_cast<const uint8_t*>(records.data());
    for (DocId e = d & ~((DocId{1} << kStrideBits) - 1); e < d; ++e) NextRecord(&p);
    const Record r = NextRecord(&p);
    const std::string_view prefix = prefixes_[r.prefix];
    if (url.size() == prefix.size() + r.rest.size() && url.starts_with(prefix) &&
        url.substr(prefix.size()) == r.rest) {
      found = d;
    }
    return !found;
  });
  return found;
}

size_t UrlTable::ArenaBytes() const {
  size_t bytes = chunks_.capacity() * sizeof(void*) +
                 (chunk_bytes_.capacity() + chunk_first_block_.capacity()) * sizeof(uint32_t) +
                 offset_.capacity() * sizeof(uint16_t) + pending_.capacity() +
                 prefixes_.capacity() * sizeof(std::string) +
                 dictionaries_.capacity() * sizeof(Dictionary);
  for (size_t c : chunk_bytes_) bytes += c;
  // The prefix table: each prefix twice (vector and map key), a map node each.
  for (const std::string& p : prefixes_)
    bytes += 2 * (p.capacity() > 15 ? p.capacity() + 1 : 0) + 64;
  for (const Dictionary& d : dictionaries_)
    bytes += d.bytes.capacity() + ZSTD_sizeof_DDict(d.ddict);
  bytes += ZSTD_sizeof_CDict(cdict_) + ZSTD_sizeof_CCtx(cctx_);
  return bytes;
}

}  // namespace dedupd::index
