// UrlTable: URLs in an arena with prefix sharing, and a tag table over their
// hashes (url_table.h).
#include "index/url_table.h"

#include <xxhash.h>

#include <algorithm>

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

}  // namespace

uint32_t UrlTable::PrefixNumber(std::string_view prefix) {
  if (prefixes_.empty()) PrefixNumber0();
  if (auto it = prefix_numbers_.find(std::string(prefix)); it != prefix_numbers_.end()) {
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
  if ((doc & ((1u << kStrideBits) - 1)) == 0) position_.push_back(end_);
  size_t cut = PrefixLength(url);
  const uint32_t prefix = PrefixNumber(url.substr(0, cut));
  if (prefix == 0) cut = 0;
  const std::string_view rest = url.substr(cut);
  uint8_t record[20];
  size_t n = 0;
  for (uint64_t v : {uint64_t{prefix}, uint64_t{rest.size()}}) {
    while (v >= 0x80) {
      record[n++] = static_cast<uint8_t>(v | 0x80);
      v >>= 7;
    }
    record[n++] = static_cast<uint8_t>(v);
  }
  auto append = [&](const uint8_t* bytes, size_t len) {
    while (len > 0) {
      if (end_ / kBlock == blocks_.size()) blocks_.push_back(std::make_unique<uint8_t[]>(kBlock));
      const size_t room = kBlock - end_ % kBlock;
      const size_t take = std::min(room, len);
      std::copy_n(bytes, take, &blocks_[end_ / kBlock][end_ % kBlock]);
      end_ += take;
      bytes += take;
      len -= take;
    }
  };
  append(record, n);
  append(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
  ids_.Insert(TagOf(url), doc);
  ++size_;
  return doc;
}

void UrlTable::PrefixNumber0() {
  prefixes_.emplace_back();
  prefix_numbers_.emplace(std::string(), 0);
}

uint64_t UrlTable::Decode(uint64_t pos, std::string* out) const {
  uint64_t fields[2] = {0, 0};
  for (uint64_t& v : fields) {
    for (int shift = 0;; shift += 7) {
      const uint8_t b = ByteAt(pos++);
      v |= uint64_t{b & 0x7Fu} << shift;
      if (b < 0x80) break;
    }
  }
  if (out != nullptr) {
    out->append(prefixes_[fields[0]]);
    for (uint64_t i = 0; i < fields[1]; ++i) out->push_back(static_cast<char>(ByteAt(pos + i)));
  }
  return pos + fields[1];
}

void UrlTable::Url(DocId doc, std::string* out) const {
  out->clear();
  uint64_t pos = position_[doc >> kStrideBits];
  for (DocId d = doc & ~((DocId{1} << kStrideBits) - 1); d < doc; ++d) pos = Decode(pos, nullptr);
  Decode(pos, out);
}

std::string UrlTable::Url(DocId doc) const {
  std::string out;
  Url(doc, &out);
  return out;
}

std::optional<DocId> UrlTable::Find(std::string_view url) const {
  std::optional<DocId> found;
  thread_local std::string held;
  ids_.ForEach(TagOf(url), [&](DocId d) {
    Url(d, &held);
    if (held == url) found = d;
    return !found;
  });
  return found;
}

size_t UrlTable::ArenaBytes() const {
  size_t bytes = blocks_.size() * kBlock + blocks_.capacity() * sizeof(void*) +
                 position_.capacity() * sizeof(uint64_t) +
                 prefixes_.capacity() * sizeof(std::string);
  // The prefix table: each prefix twice (vector and map key), a map node each.
  for (const std::string& p : prefixes_)
    bytes += 2 * (p.capacity() > 15 ? p.capacity() + 1 : 0) + 64;
  return bytes;
}

}  // namespace dedupd::index
