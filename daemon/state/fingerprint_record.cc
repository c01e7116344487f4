// The fingerprint record (format 5) and the format-independent record readers
// (DecodeStateRecord, PeekRecordHeader); see url_state.h and docs/design.md,
// "The state record". Little-endian fixed-width hashes (as formats 1-4),
// LEB128 varints for counts and small numbers, and the confirmation sketch as
// Golomb-Rice coded gaps: the sketch is the bottom-k of ~2^32 values, so its
// gaps are geometric and Rice coding with the best parameter costs about
// log2(mean gap) + 1.5 bits a value (~23 bits for a 1,500-shingle page instead
// of 32; LEB128 would take 4 bytes for most of them).
//
//   std::string value = EncodeFingerprintRecord(state);   // key: the canonical URL
//   RecordHeader h; PeekRecordHeader(key, value, &h);     // URL, version, hash only
//
// Thread-safety: free functions over values; no shared state.
#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

#include "state/url_state.h"

namespace dedupd::state {
namespace {

constexpr uint8_t kFormatFingerprint = 5;
// Flags byte after the format byte.
constexpr uint8_t kHasUrl = 1;          // the canonical URL is in the value
constexpr uint8_t kSiteFromHost = 2;    // site = the URL's host without its first N bytes
constexpr uint8_t kHasSketch = 4;       // shingle count and the Rice-coded sketch follow
constexpr uint8_t kHasVersion = 8;      // versions[0] (the copy edge) follows
constexpr uint8_t kVersionHeader = 16;  // ... with its own version, time and hash
constexpr uint8_t kHasLineHashes = 32;  // the line keys follow
constexpr uint8_t kKnownFlags = 63;
constexpr uint32_t kMaxSketch = 1u << 16;
constexpr uint32_t kMaxParagraphs = 1u << 20;
constexpr uint32_t kMaxLines = 1u << 24;
constexpr size_t kMaxString = 1u << 20;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutSigned(std::string* out, int64_t v) {  // zigzag
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
template <typename T>
void PutFixed(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) break;
      const auto b = static_cast<uint8_t>(in.front());
      in.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }
  uint32_t Varint32() {
    const uint64_t v = Varint();
    if (v > 0xFFFFFFFFu) ok = false;
    return static_cast<uint32_t>(v);
  }
  int64_t Signed() {
    const uint64_t v = Varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  template <typename T>
  T Fixed() {
    T v{};
    if (in.size() < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view Bytes() {
    const uint64_t n = Varint();
    if (!ok || n > kMaxString || in.size() < n) {
      ok = false;
      return {};
    }
    std::string_view s = in.substr(0, n);
    in.remove_prefix(n);
    return s;
  }
};

// The host of an absolute URL ("https://www.a.example:8080/x" -> "www.a.example").
std::string_view HostOf(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  return rest.substr(0, rest.find_first_of("/:?#"));
}

// Golomb-Rice coding of the sorted, distinct sketch: gaps (the first value,
// then each difference minus one) as a unary quotient and k low bits, LSB
// first in each byte. The bits gather in a 64-bit word that is written out a
// whole byte at a time: the writer that pushed every bit on its own was 2% of
// `dedupd run`'s CPU (4.3% of the loop's thread with two threads; issue #12,
// docs/delivery.md, "State record cost, session 10"). Same bytes.
class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  ~BitWriter() { Flush(); }
  BitWriter(const BitWriter&) = delete;
  BitWriter& operator=(const BitWriter&) = delete;
  // The n low bits of `bits`, n <= 32.
  void Put(uint64_t bits, int n) {
    acc_ |= (bits & ((uint64_t{1} << n) - 1)) << used_;
    used_ += n;
    if (used_ >= 32) Drain();
  }
  // q one bits, then a zero.
  void Unary(uint64_t q) {
    for (; q >= 32; q -= 32) Put(0xFFFFFFFFu, 32);
    Put((uint64_t{1} << q) - 1, static_cast<int>(q) + 1);
  }

 private:
  void Drain() {  // whole bytes out; fewer than 8 bits stay
    char bytes[8];
    const int n = used_ / 8;
    for (int i = 0; i < n; ++i) bytes[i] = static_cast<char>(acc_ >> (8 * i));
    out_->append(bytes, static_cast<size_t>(n));
    acc_ = n == 8 ? 0 : acc_ >> (8 * n);
    used_ -= 8 * n;
  }
  void Flush() {  // the last byte, its high bits zero
    Drain();
    if (used_ > 0) out_->push_back(static_cast<char>(acc_));
    used_ = 0;
    acc_ = 0;
  }
  std::string* out_;
  uint64_t acc_ = 0;
  int used_ = 0;  // bits held in acc_, < 32 between calls
};

void PutSketch(std::string* out, const std::vector<uint32_t>& sketch) {
  // The parameter with the fewest bits. bits(k) = sum(gap >> k) + n (1 + k)
  // is convex in k (bits(k + 1) - bits(k) = n - sum(ceil((gap >> k) / 2)),
  // which never decreases), so a descent from the parameter of the mean gap
  // finds the smallest k of least bits, as trying all 32 did, in ~3 passes
  // over the sketch instead of 32 (1.5% of `dedupd run`'s CPU, issue #12).
  const auto bits_of = [&sketch](int k) {
    uint64_t bits = 0, prev = 0;
    for (size_t i = 0; i < sketch.size(); ++i) {
      const uint64_t gap = sketch[i] - prev - (i > 0 ? 1 : 0);
      prev = sketch[i];
      bits += (gap >> k) + 1 + static_cast<uint64_t>(k);
    }
    return bits;
  };
  int best_k = 0;
  if (!sketch.empty()) {
    const uint64_t mean = sketch.back() / sketch.size();
    best_k = mean == 0 ? 0 : std::min(31, static_cast<int>(std::bit_width(mean)) - 1);
  }
  uint64_t best_bits = bits_of(best_k);
  while (best_k > 0) {  // down while not worse: the smallest k of the minimum
    const uint64_t bits = bits_of(best_k - 1);
    if (bits > best_bits) break;
    best_bits = bits;
    --best_k;
  }
  while (best_k < 31) {  // up while strictly better
    const uint64_t bits = bits_of(best_k + 1);
    if (bits >= best_bits) break;
    best_bits = bits;
    ++best_k;
  }
  out->push_back(static_cast<char>(best_k));
  BitWriter w(out);
  uint64_t prev = 0;
  for (size_t i = 0; i < sketch.size(); ++i) {
    const uint64_t gap = sketch[i] - prev - (i > 0 ? 1 : 0);
    prev = sketch[i];
    w.Unary(gap >> best_k);
    w.Put(gap, best_k);
  }
}

bool GetSketch(Reader* r, uint32_t n, std::vector<uint32_t>* sketch) {
  const auto k = r->Fixed<uint8_t>();
  if (!r->ok || k >= 32) return false;
  // Read 64 bits at a time (a restore decodes millions of these): the bits
  // from `pos` on, zeros past the end; a code that runs past the end fails.
  const std::string_view in = r->in;
  const size_t total = in.size() * 8;
  auto window = [in](size_t pos) {
    const size_t byte = pos >> 3;
    uint64_t w = 0;
    if (byte < in.size()) std::memcpy(&w, in.data() + byte, std::min<size_t>(8, in.size() - byte));
    return w >> (pos & 7);
  };
  const uint64_t low_mask = (uint64_t{1} << k) - 1;
  sketch->resize(n);
  size_t pos = 0;
  uint64_t prev = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t q = 0;
    for (;;) {  // the unary quotient: a run of ones, then a zero
      const auto ones = static_cast<size_t>(std::countr_one(window(pos)));
      if (ones < 56) {
        q += ones;
        pos += ones + 1;
        break;
      }
      q += 56;
      pos += 56;
      if (q > (uint64_t{1} << 32) || pos > total) return false;  // no gap is this long
    }
    const uint64_t value = prev + ((q << k) | (window(pos) & low_mask)) + (i > 0 ? 1 : 0);
    pos += k;
    if (pos > total || value > 0xFFFFFFFFu) return false;
    (*sketch)[i] = static_cast<uint32_t>(value);
    prev = value;
  }
  r->in.remove_prefix((pos + 7) / 8);
  return true;
}

bool DecodeFingerprint(std::string_view key, std::string_view bytes, UrlState* s) {
  Reader r{bytes};
  if (r.Fixed<uint8_t>() != kFormatFingerprint) return false;
  const auto flags = r.Fixed<uint8_t>();
  if (!r.ok || (flags & ~kKnownFlags) != 0) return false;
  if (flags & kHasUrl) {
    s->canonical_url = r.Bytes();
  } else {
    if (key.empty()) return false;  // DecodeUrlState: the URL is in the key
    s->canonical_url = key;
  }
  if (flags & kSiteFromHost) {
    const auto skip = r.Fixed<uint8_t>();
    const std::string_view host = HostOf(s->canonical_url);
    if (!r.ok || skip > host.size()) return false;
    s->site = host.substr(skip);
  } else {
    s->site = r.Bytes();
  }
  s->version = r.Varint32();
  s->content_hash.low = r.Fixed<uint64_t>();
  s->content_hash.high = r.Fixed<uint64_t>();
  s->simhash.bits = r.Fixed<uint64_t>();
  s->fetched_at_ms = r.Signed();
  const uint32_t np = r.Varint32();
  if (!r.ok || np > kMaxParagraphs || r.in.size() / 8 < np) return false;
  s->paragraph_hashes.resize(np);
  for (auto& h : s->paragraph_hashes) h = r.Fixed<uint64_t>();
  s->line_hashes.clear();
  s->line_hashes_known = (flags & kHasLineHashes) != 0;
  if (s->line_hashes_known) {
    const uint32_t nl = r.Varint32();
    if (!r.ok || nl > kMaxLines || r.in.size() / 4 < nl) return false;
    s->line_hashes.resize(nl);
    for (auto& h : s->line_hashes) h = static_cast<uint64_t>(r.Fixed<uint32_t>()) << 32;
  }
  s->sketch.clear();
  s->shingle_count = 0;
  s->sketch_known = (flags & kHasSketch) != 0;
  if (s->sketch_known) {
    s->shingle_count = r.Varint32();
    const uint32_t ns = r.Varint32();
    if (!r.ok || ns > kMaxSketch) return false;
    if (ns > 0 && !GetSketch(&r, ns, &s->sketch)) return false;
  }
  s->versions.clear();
  if (flags & kHasVersion) {
    VersionRecord v;
    v.version = s->version;
    v.fetched_at_ms = s->fetched_at_ms;
    v.content_hash = s->content_hash;
    if (flags & kVersionHeader) {
      v.version = r.Varint32();
      v.fetched_at_ms = r.Signed();
      v.content_hash.low = r.Fixed<uint64_t>();
      v.content_hash.high = r.Fixed<uint64_t>();
    }
    v.verdict = r.Fixed<uint8_t>();
    v.severity = r.Fixed<int8_t>();
    v.flags = r.Varint32();
    v.boilerplate_blocks = r.Varint32();
    v.copy_of = r.Bytes();
    if (!v.copy_of.empty()) {
      v.copy_of_version = r.Varint32();
      v.containment = r.Fixed<float>();
      v.jaccard = r.Fixed<float>();
      v.distance = r.Fixed<uint8_t>();
      v.found_by = r.Fixed<uint8_t>();
    }
    s->versions.push_back(std::move(v));
  }
  s->history.clear();
  s->title.clear();
  s->text.clear();
  s->history_full = false;
  s->text_known = false;
  return r.ok && r.in.empty();
}

}  // namespace

std::string EncodeFingerprintRecord(const UrlState& s, bool with_url) {
  std::string out;
  out.reserve(96 + s.canonical_url.size() + s.site.size() + 8 * s.paragraph_hashes.size() +
              4 * s.line_hashes.size() + 4 * s.sketch.size());
  const std::string_view host = HostOf(s.canonical_url);
  const bool site_from_host = !s.site.empty() && host.size() >= s.site.size() &&
                              host.size() - s.site.size() < 256 && host.ends_with(s.site);
  const bool version_record = !s.versions.empty();
  const VersionRecord* v = version_record ? &s.versions.front() : nullptr;
  const bool version_header =
      v != nullptr && (v->version != s.version || v->fetched_at_ms != s.fetched_at_ms ||
                       !(v->content_hash == s.content_hash));
  uint8_t flags = 0;
  if (with_url) flags |= kHasUrl;
  if (site_from_host) flags |= kSiteFromHost;
  if (s.sketch_known) flags |= kHasSketch;
  if (version_record) flags |= kHasVersion;
  if (version_header) flags |= kVersionHeader;
  if (s.line_hashes_known) flags |= kHasLineHashes;
  out.push_back(static_cast<char>(kFormatFingerprint));
  out.push_back(static_cast<char>(flags));
  if (with_url) PutBytes(&out, s.canonical_url);
  if (site_from_host) {
    out.push_back(static_cast<char>(host.size() - s.site.size()));
  } else {
    PutBytes(&out, s.site);
  }
  PutVarint(&out, s.version);
  PutFixed(&out, s.content_hash.low);
  PutFixed(&out, s.content_hash.high);
  PutFixed(&out, s.simhash.bits);
  PutSigned(&out, s.fetched_at_ms);
  PutVarint(&out, s.paragraph_hashes.size());
  for (uint64_t h : s.paragraph_hashes) PutFixed(&out, h);
  if (s.line_hashes_known) {
    PutVarint(&out, s.line_hashes.size());
    for (uint64_t h : s.line_hashes) PutFixed(&out, LineKey(h));
  }
  if (s.sketch_known) {
    PutVarint(&out, s.shingle_count);
    // Gaps need the sketch sorted and distinct, as BottomK32 makes it (and
    // CompareSketches reads it); a state built otherwise is normalised here.
    if (std::adjacent_find(s.sketch.begin(), s.sketch.end(), std::greater_equal<>()) ==
        s.sketch.end()) {
      PutVarint(&out, s.sketch.size());
      if (!s.sketch.empty()) PutSketch(&out, s.sketch);
    } else {
      std::vector<uint32_t> sorted = s.sketch;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      PutVarint(&out, sorted.size());
      PutSketch(&out, sorted);
    }
  }
  if (v != nullptr) {
    if (version_header) {
      PutVarint(&out, v->version);
      PutSigned(&out, v->fetched_at_ms);
      PutFixed(&out, v->content_hash.low);
      PutFixed(&out, v->content_hash.high);
    }
    out.push_back(static_cast<char>(v->verdict));
    out.push_back(static_cast<char>(v->severity));
    PutVarint(&out, v->flags);
    PutVarint(&out, v->boilerplate_blocks);
    PutBytes(&out, v->copy_of);
    if (!v->copy_of.empty()) {
      PutVarint(&out, v->copy_of_version);
      PutFixed(&out, v->containment);
      PutFixed(&out, v->jaccard);
      out.push_back(static_cast<char>(v->distance));
      out.push_back(static_cast<char>(v->found_by));
    }
  }
  return out;
}

bool DecodeStateRecord(std::string_view key, std::string_view value, UrlState* state,
                       TextPart text) {
  if (!value.empty() && static_cast<uint8_t>(value.front()) == kFormatFingerprint) {
    return DecodeFingerprint(key, value, state);
  }
  if (!DecodeUrlState(value, state, text)) return false;
  state->text_known = true;
  return true;
}

bool PeekRecordHeader(std::string_view key, std::string_view value, RecordHeader* h) {
  Reader r{value};
  h->format = r.Fixed<uint8_t>();
  // 1-4, 6 and 7 (format 4 with LZ4 texts, packed in 7) share their header;
  // 5 is this file's.
  if (!r.ok || h->format < 1 || h->format > kFormatFingerprint + 2) return false;
  if (h->format == kFormatFingerprint) {
    const auto flags = r.Fixed<uint8_t>();
    if (!r.ok || (flags & ~kKnownFlags) != 0) return false;
    h->url = (flags & kHasUrl) ? r.Bytes() : key;
    if (flags & kSiteFromHost) {
      r.Fixed<uint8_t>();
    } else {
      r.Bytes();
    }
    h->version = r.Varint32();
  } else {
    // Formats 1-4: u32-length URL and site, then the u32 version.
    auto str = [&r]() -> std::string_view {
      const auto n = r.Fixed<uint32_t>();
      if (!r.ok || r.in.size() < n) {
        r.ok = false;
        return {};
      }
      std::string_view s = r.in.substr(0, n);
      r.in.remove_prefix(n);
      return s;
    };
    h->url = str();
    str();
    h->version = r.Fixed<uint32_t>();
  }
  h->content_hash.low = r.Fixed<uint64_t>();
  h->content_hash.high = r.Fixed<uint64_t>();
  return r.ok && !h->url.empty();
}

}  // namespace dedupd::state
