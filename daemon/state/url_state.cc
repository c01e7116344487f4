#include "state/url_state.h"

#include <zstd.h>

#include <cstring>

namespace dedupd::state {
namespace {

// 1: session-1 format. 2: adds the line hashes after the paragraph hashes.
// 3: adds the confirmation sketch after the line hashes (shingle count, then
// the sketch's length and its 32-bit values).
constexpr uint8_t kFormatVersion = 3;
constexpr uint32_t kMaxSketch = 1u << 16;

void PutU32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), 4);
}
void PutU64(std::string* out, uint64_t v) {
  out->append(reinterpret_cast<const char*>(&v), 8);
}
void PutStr(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  template <typename T>
  T Get() {
    T v{};
    if (in.size() < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view Str() {
    uint32_t n = Get<uint32_t>();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string_view s = in.substr(0, n);
    in.remove_prefix(n);
    return s;
  }
};

}  // namespace

std::string EncodeUrlState(const UrlState& s) {
  std::string out;
  out.reserve(128 + s.canonical_url.size() + s.text.size() / 2);
  // A state whose line hashes are not known (read from a format-1 record) is
  // written as format 1 again, so that a later load still computes them.
  // A state without a sketch (read from a format-2 record) is written as
  // format 2 again, for the same reason.
  const uint8_t format = !s.line_hashes_known ? 1 : s.sketch_known ? kFormatVersion : 2;
  out.push_back(static_cast<char>(format));
  PutStr(&out, s.canonical_url);
  PutStr(&out, s.site);
  PutU32(&out, s.version);
  PutU64(&out, s.content_hash.low);
  PutU64(&out, s.content_hash.high);
  PutU64(&out, s.simhash.bits);
  PutU64(&out, static_cast<uint64_t>(s.fetched_at_ms));
  PutU32(&out, static_cast<uint32_t>(s.history.size()));
  for (const auto& h : s.history) {
    PutU64(&out, h.low);
    PutU64(&out, h.high);
  }
  PutU32(&out, static_cast<uint32_t>(s.paragraph_hashes.size()));
  for (uint64_t h : s.paragraph_hashes) PutU64(&out, h);
  if (s.line_hashes_known) {
    PutU32(&out, static_cast<uint32_t>(s.line_hashes.size()));
    for (uint64_t h : s.line_hashes) PutU64(&out, h);
  }
  if (format >= 3) {
    PutU32(&out, s.shingle_count);
    PutU32(&out, static_cast<uint32_t>(s.sketch.size()));
    for (uint32_t v : s.sketch) PutU32(&out, v);
  }
  PutStr(&out, s.title);
  std::string compressed(ZSTD_compressBound(s.text.size()), '\0');
  size_t n = ZSTD_compress(compressed.data(), compressed.size(), s.text.data(), s.text.size(), 3);
  if (ZSTD_isError(n)) n = 0;
  compressed.resize(n);
  PutU32(&out, static_cast<uint32_t>(s.text.size()));
  PutStr(&out, compressed);
  return out;
}

bool DecodeUrlState(std::string_view bytes, UrlState* s, TextPart text) {
  Reader r{bytes};
  const auto format = r.Get<uint8_t>();
  if (!r.ok || format < 1 || format > kFormatVersion) return false;
  s->canonical_url = r.Str();
  s->site = r.Str();
  s->version = r.Get<uint32_t>();
  s->content_hash.low = r.Get<uint64_t>();
  s->content_hash.high = r.Get<uint64_t>();
  s->simhash.bits = r.Get<uint64_t>();
  s->fetched_at_ms = static_cast<int64_t>(r.Get<uint64_t>());
  uint32_t nh = r.Get<uint32_t>();
  if (!r.ok || nh > 4096) return false;
  s->history.resize(nh);
  for (auto& h : s->history) {
    h.low = r.Get<uint64_t>();
    h.high = r.Get<uint64_t>();
  }
  uint32_t np = r.Get<uint32_t>();
  if (!r.ok || np > (1u << 20)) return false;
  s->paragraph_hashes.resize(np);
  for (auto& h : s->paragraph_hashes) h = r.Get<uint64_t>();
  s->line_hashes.clear();
  s->line_hashes_known = format >= 2;
  if (s->line_hashes_known) {
    const uint32_t nl = r.Get<uint32_t>();
    if (!r.ok || nl > (1u << 24) || r.in.size() / 8 < nl) return false;
    s->line_hashes.resize(nl);
    for (auto& h : s->line_hashes) h = r.Get<uint64_t>();
  }
  s->sketch.clear();
  s->shingle_count = 0;
  s->sketch_known = format >= 3;
  if (s->sketch_known) {
    s->shingle_count = r.Get<uint32_t>();
    const uint32_t ns = r.Get<uint32_t>();
    if (!r.ok || ns > kMaxSketch || r.in.size() / 4 < ns) return false;
    s->sketch.resize(ns);
    for (auto& v : s->sketch) v = r.Get<uint32_t>();
  }
  s->title = r.Str();
  uint32_t text_size = r.Get<uint32_t>();
  std::string_view compressed = r.Str();
  if (!r.ok || text_size > (256u << 20)) return false;
  if (text == TextPart::kSkipIfIndexed && s->line_hashes_known) {
    s->text.clear();
    return r.in.empty();
  }
  s->text.resize(text_size);
  if (text_size > 0) {
    size_t n = ZSTD_decompress(s->text.data(), text_size, compressed.data(), compressed.size());
    if (ZSTD_isError(n) || n != text_size) return false;
  }
  return r.in.empty();
}

}  // namespace dedupd::state
