#include "state/url_state.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <memory>

#include "state/text_pack.h"

namespace dedupd::state {
namespace {

// 1: session-1 format. 2: adds the line hashes after the paragraph hashes.
// 3: adds the confirmation sketch after the line hashes (shingle count, then
// the sketch's length and its 32-bit values).
// 4: format 3, with a shingle count of kSketchUnknown for a state whose sketch
// is not known (read from a format-2 record: the detector derives it the first
// time the page is a candidate), and the version history after the text
// (EncodeHistory).
constexpr uint8_t kFormatVersion = 4;
constexpr uint8_t kFormatHistory = 4;
// 5: the fingerprint record, no text (fingerprint_record.cc).
constexpr uint8_t kFormatFingerprint = 5;
// 6: format 4 with the text and the history's texts in LZ4 blocks instead of
// zstd frames (state.text_compression = lz4; docs/delivery.md, "Run loop
// cost, session 9"). Every field is where format 4 has it.
constexpr uint8_t kFormatLz4 = 6;
// 7: format 6 with the state's own text packed (text_pack.h) before LZ4, at
// a higher acceleration (state.text_compression = lz4-packed;
// docs/delivery.md, "State record cost, session 10"). The history's texts
// are format 6's. Every field is where format 4 has it.
constexpr uint8_t kFormatPacked = 7;

// Formats of a state record with text (1-4 zstd, 6 LZ4, 7 packed LZ4).
bool KnownTextFormat(uint8_t format) {
  return (format >= 1 && format <= kFormatVersion) || format == kFormatLz4 ||
         format == kFormatPacked;
}

// The codec of a record's own text, by its format.
TextCompression CodecOf(uint8_t format) {
  return format == kFormatLz4      ? TextCompression::kLz4
         : format == kFormatPacked ? TextCompression::kLz4Packed
                                   : TextCompression::kZstd;
}

// The history's texts of a packed record are format 6's (LZ4 against the
// current text as it is): packing them against a packed dictionary saved
// nothing measurable and would need the dictionary packed on every decode.
TextCompression HistoryCodec(TextCompression codec) {
  switch (codec) {
    case TextCompression::kLz4:
    case TextCompression::kLz4Packed: return TextCompression::kLz4;
    case TextCompression::kZstd: return TextCompression::kZstd;
  }
  return codec;
}

// Format 7's text: a byte saying how (kRawLz4: LZ4 of the text as format 6
// writes it; kPackedLz4: the packed size as u32, then LZ4 of PackText's
// output), then the LZ4 block. Packing is kept where it saves at least a
// tenth of the bytes (CJK text); otherwise (ASCII, Latin) the text is
// compressed as in format 6, at acceleration 1.
constexpr uint8_t kRawLz4 = 0;
constexpr uint8_t kPackedLz4 = 1;
// LZ4 finds little in packed CJK text (0.69 -> 0.68 of the text's bytes at
// acceleration 8, 0.61 at 1 for four times the time): measured on the 30k
// zh stream, docs/delivery.md.
constexpr int kPackedAcceleration = 8;
constexpr uint32_t kMaxSketch = 1u << 16;
constexpr uint32_t kSketchUnknown = 0xFFFFFFFFu;
constexpr uint32_t kMaxVersions = 1024;

void PutU32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), 4);
}
void PutU64(std::string* out, uint64_t v) {
  out->append(reinterpret_cast<const char*>(&v), 8);
}
// A vector of fixed-width values in one append: the same bytes as one
// PutU32/PutU64 per value (host order, little-endian, as those write), a
// fraction of the calls (a state carries ~100-300 hashes and sketch values).
static_assert(std::endian::native == std::endian::little,
              "the state record is little-endian: PutArray and Reader::Array copy host order");
template <typename T>
void PutArray(std::string* out, const std::vector<T>& values) {
  out->append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
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
  // n fixed-width values into *values (PutArray's bytes); false, and ok
  // false, when fewer bytes are left.
  template <typename T>
  bool Array(size_t n, std::vector<T>* values) {
    if (!ok || in.size() / sizeof(T) < n) {
      ok = false;
      return false;
    }
    values->resize(n);
    if (n > 0) std::memcpy(values->data(), in.data(), n * sizeof(T));
    in.remove_prefix(n * sizeof(T));
    return true;
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

// zstd level of the state's texts. 1, not 3: on the generated zh pages of
// issue #12 level 3 spent ~20% of `dedupd run`'s CPU for a ratio of 0.572
// where level 1 gives 0.591 (3.3% more bytes) in ~30% less time
// (docs/delivery.md, "Run loop cost"). The level is not part of the format:
// records of any level decode alike.
constexpr int kTextLevel = 1;

// state.text_compression, process-wide (SetTextCompression).
std::atomic<TextCompression> text_compression{TextCompression::kLz4Packed};

// One compression and one decompression context per thread, freed with it
// (the HTTP server's workers decode too): ZSTD_compress()/ZSTD_decompress()
// would allocate and initialise a new one for every text.
ZSTD_CCtx* CompressContext() {
  thread_local const std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> owner(ZSTD_createCCtx(),
                                                                                &ZSTD_freeCCtx);
  return owner.get();
}
ZSTD_DCtx* DecompressContext() {
  thread_local const std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> owner(ZSTD_createDCtx(),
                                                                                &ZSTD_freeDCtx);
  return owner.get();
}

// LZ4's streaming state, for a history compressed against a dictionary; one
// per thread, as the zstd contexts.
LZ4_stream_t* Lz4Stream() {
  thread_local const std::unique_ptr<LZ4_stream_t, decltype(&LZ4_freeStream)> owner(
      LZ4_createStream(), &LZ4_freeStream);
  return owner.get();
}

// Packing saves at most a byte per three-byte character: a text with fewer
// than a tenth of its bytes leading one (ASCII, Latin) is not even packed.
// Eight bytes at a time, counted in byte lanes (a byte loop, or a popcount,
// which is a libgcc call without -mpopcnt, cost ~20% of format 6's encode
// on English text).
bool WorthPacking(std::string_view text) {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full;
  size_t leads = 0, i = 0;
  while (i + 8 <= text.size()) {
    uint64_t lanes = 0;  // a lead count per byte lane, each < 256
    for (int n = 0; n < 255 && i + 8 <= text.size(); ++n, i += 8) {
      uint64_t x;
      std::memcpy(&x, text.data() + i, 8);
      // Zero in the bytes whose high nibble is 0xE; the high bit of every
      // zero byte of t, moved to the lane's low bit (no carries between
      // bytes: a byte's low 7 bits plus 0x7F stay within it).
      const uint64_t t = (x & 0xF0F0F0F0F0F0F0F0ull) ^ 0xE0E0E0E0E0E0E0E0ull;
      lanes += (~(((t & kLow7) + kLow7) | t | kLow7)) >> 7;
    }
    for (int b = 0; b < 8; ++b) leads += (lanes >> (8 * b)) & 0xFF;
  }
  for (; i < text.size(); ++i) leads += (static_cast<uint8_t>(text[i]) & 0xF0) == 0xE0 ? 1 : 0;
  return leads >= text.size() / 10;
}

// PackText's output and LZ4's, per thread: a text packed for format 7.
std::string& PackBuffer() {
  thread_local std::string buffer;
  return buffer;
}

size_t CompressBound(TextCompression codec, size_t size) {
  switch (codec) {
    case TextCompression::kLz4Packed: {
      const size_t packed = size + size / 4 + 8;  // PackText's bound
      return packed > LZ4_MAX_INPUT_SIZE
                 ? 0
                 : 5 + static_cast<size_t>(LZ4_compressBound(static_cast<int>(packed)));
    }
    case TextCompression::kLz4:
      return size > LZ4_MAX_INPUT_SIZE
                 ? 0
                 : static_cast<size_t>(LZ4_compressBound(static_cast<int>(size)));
    case TextCompression::kZstd: return ZSTD_compressBound(size);
  }
  return 0;
}

// Compresses `text` into [dst, dst + capacity) against `dictionary` (a
// raw-content dictionary; may be empty); returns the compressed size, 0 on
// failure (which the decoder refuses: never a silent empty text).
size_t Compress(TextCompression codec, std::string_view text, std::string_view dictionary,
                char* dst, size_t capacity) {
  switch (codec) {
    case TextCompression::kLz4Packed: {
      // The text alone (a history is compressed as format 6's).
      if (!dictionary.empty() || text.size() > LZ4_MAX_INPUT_SIZE || capacity < 5) return 0;
      std::string& packed = PackBuffer();
      const int cap = static_cast<int>(std::min<size_t>(capacity - 5, LZ4_MAX_INPUT_SIZE));
      if (WorthPacking(text) && PackText(text, &packed) &&
          packed.size() <= text.size() - text.size() / 10) {
        dst[0] = static_cast<char>(kPackedLz4);
        const auto packed_size = static_cast<uint32_t>(packed.size());
        std::memcpy(dst + 1, &packed_size, 4);
        const int n = LZ4_compress_fast(packed.data(), dst + 5, static_cast<int>(packed.size()),
                                        cap, kPackedAcceleration);
        return n > 0 ? 5 + static_cast<size_t>(n) : 0;
      }
      dst[0] = static_cast<char>(kRawLz4);
      const int n = LZ4_compress_default(
          text.data(), dst + 1, static_cast<int>(text.size()),
          static_cast<int>(std::min<size_t>(capacity - 1, LZ4_MAX_INPUT_SIZE)));
      return n > 0 ? 1 + static_cast<size_t>(n) : 0;
    }
    case TextCompression::kLz4: {
      if (text.size() > LZ4_MAX_INPUT_SIZE) return 0;
      const int cap = static_cast<int>(std::min<size_t>(capacity, LZ4_MAX_INPUT_SIZE));
      int n = 0;
      if (dictionary.empty()) {
        n = LZ4_compress_default(text.data(), dst, static_cast<int>(text.size()), cap);
      } else {
        // LZ4 keeps the last 64 KiB of the dictionary, as the decoder reads it.
        LZ4_stream_t* stream = Lz4Stream();
        const std::string_view dict = dictionary.substr(
            dictionary.size() > (64u << 10) ? dictionary.size() - (64u << 10) : 0);
        LZ4_loadDict(stream, dict.data(), static_cast<int>(dict.size()));
        n = LZ4_compress_fast_continue(stream, text.data(), dst, static_cast<int>(text.size()), cap,
                                       1);
      }
      return n > 0 ? static_cast<size_t>(n) : 0;
    }
    case TextCompression::kZstd: {
      const size_t n =
          dictionary.empty()
              ? ZSTD_compressCCtx(CompressContext(), dst, capacity, text.data(), text.size(),
                                  kTextLevel)
              : ZSTD_compress_usingDict(CompressContext(), dst, capacity, text.data(), text.size(),
                                        dictionary.data(), dictionary.size(), kTextLevel);
      return ZSTD_isError(n) ? 0 : n;
    }
  }
  return 0;
}

// Decompresses exactly dst.size() bytes; false on any error or another size.
bool Decompress(TextCompression codec, std::string_view compressed, std::string_view dictionary,
                std::string* dst) {
  switch (codec) {
    case TextCompression::kLz4Packed: {
      if (!dictionary.empty() || compressed.empty()) return false;
      const auto how = static_cast<uint8_t>(compressed[0]);
      if (how == kRawLz4) {
        return Decompress(TextCompression::kLz4, compressed.substr(1), {}, dst);
      }
      uint32_t packed_size = 0;
      if (how != kPackedLz4 || compressed.size() < 5) return false;
      std::memcpy(&packed_size, compressed.data() + 1, 4);
      // PackText's bound: anything larger is corrupt.
      if (packed_size > dst->size() + dst->size() / 4 + 8) return false;
      std::string& packed = PackBuffer();
      packed.resize(packed_size);
      return Decompress(TextCompression::kLz4, compressed.substr(5), {}, &packed) &&
             UnpackText(packed, dst);
    }
    case TextCompression::kLz4: {
      if (compressed.size() > LZ4_MAX_INPUT_SIZE || dst->size() > LZ4_MAX_INPUT_SIZE) return false;
      const std::string_view dict =
          dictionary.substr(dictionary.size() > (64u << 10) ? dictionary.size() - (64u << 10) : 0);
      const int n = LZ4_decompress_safe_usingDict(
          compressed.data(), dst->data(), static_cast<int>(compressed.size()),
          static_cast<int>(dst->size()), dict.data(), static_cast<int>(dict.size()));
      return n >= 0 && static_cast<size_t>(n) == dst->size();
    }
    case TextCompression::kZstd: {
      const size_t n = dictionary.empty()
                           ? ZSTD_decompressDCtx(DecompressContext(), dst->data(), dst->size(),
                                                 compressed.data(), compressed.size())
                           : ZSTD_decompress_usingDict(
                                 DecompressContext(), dst->data(), dst->size(), compressed.data(),
                                 compressed.size(), dictionary.data(), dictionary.size());
      return !ZSTD_isError(n) && n == dst->size();
    }
  }
  return false;
}

// Appends PutStr(compressed text) to `out`, compressed in place (no
// temporary buffer).
void PutCompressed(std::string* out, std::string_view text, TextCompression codec) {
  const size_t at = out->size();
  out->resize(at + 4 + CompressBound(codec, text.size()));
  const size_t n = Compress(codec, text, {}, out->data() + at + 4, out->size() - at - 4);
  const auto size = static_cast<uint32_t>(n);
  std::memcpy(out->data() + at, &size, 4);
  out->resize(at + 4 + n);
}

}  // namespace

void SetTextCompression(TextCompression codec) {
  text_compression.store(codec, std::memory_order_relaxed);
}
TextCompression GetTextCompression() {
  return text_compression.load(std::memory_order_relaxed);
}

void EncodeHistory(const std::vector<VersionRecord>& versions, HistoryPart part,
                   std::string_view dictionary, std::string* out, TextCompression codec) {
  codec = HistoryCodec(codec);
  const size_t n = part == HistoryPart::kLatest ? std::min<size_t>(versions.size(), 1)
                                                : std::min<size_t>(versions.size(), kMaxVersions);
  out->push_back(static_cast<char>(part == HistoryPart::kLatest ? 1 : 0));
  PutU32(out, static_cast<uint32_t>(n));
  std::string texts;  // earlier versions' texts, one after another
  for (size_t i = 0; i < n; ++i) {
    const VersionRecord& v = versions[i];
    PutU32(out, v.version);
    PutU64(out, static_cast<uint64_t>(v.fetched_at_ms));
    PutU64(out, v.content_hash.low);
    PutU64(out, v.content_hash.high);
    out->push_back(static_cast<char>(v.verdict));
    out->push_back(static_cast<char>(v.severity));
    PutU32(out, v.flags);
    PutStr(out, v.copy_of);
    PutU32(out, v.copy_of_version);
    out->append(reinterpret_cast<const char*>(&v.containment), 4);
    out->append(reinterpret_cast<const char*>(&v.jaccard), 4);
    out->push_back(static_cast<char>(v.distance));
    out->push_back(static_cast<char>(v.found_by));
    PutU32(out, v.boilerplate_blocks);
    // versions[0]'s text is the state's own; kLatest carries no text at all.
    const bool with_text = part == HistoryPart::kFull && i > 0;
    PutU32(out, with_text ? static_cast<uint32_t>(v.text.size()) : 0);
    if (with_text) texts.append(v.text);
  }
  PutU32(out, static_cast<uint32_t>(texts.size()));
  // The current text as a raw-content dictionary: an earlier version costs
  // about what differs from the current one, not a whole text. Compressed
  // straight into `out` after its length.
  const size_t at = out->size();
  out->resize(at + 4 + (texts.empty() ? 0 : CompressBound(codec, texts.size())));
  const size_t size = texts.empty() ? 0
                                    : Compress(codec, texts, dictionary, out->data() + at + 4,
                                               out->size() - at - 4);
  const auto size32 = static_cast<uint32_t>(size);
  std::memcpy(out->data() + at, &size32, 4);
  out->resize(at + 4 + size);
}

bool DecodeHistory(std::string_view* in, std::vector<VersionRecord>* versions, bool with_text,
                   std::string_view dictionary, bool* full, TextCompression codec) {
  codec = HistoryCodec(codec);
  Reader r{*in};
  const auto part = r.Get<uint8_t>();
  if (part > 1) return false;
  if (full != nullptr) *full = part == 0;
  const uint32_t n = r.Get<uint32_t>();
  if (!r.ok || n > kMaxVersions) return false;
  versions->assign(n, VersionRecord{});
  std::vector<uint32_t> sizes(n);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    VersionRecord& v = (*versions)[i];
    v.version = r.Get<uint32_t>();
    v.fetched_at_ms = static_cast<int64_t>(r.Get<uint64_t>());
    v.content_hash.low = r.Get<uint64_t>();
    v.content_hash.high = r.Get<uint64_t>();
    v.verdict = r.Get<uint8_t>();
    v.severity = r.Get<int8_t>();
    v.flags = r.Get<uint32_t>();
    v.copy_of = r.Str();
    v.copy_of_version = r.Get<uint32_t>();
    v.containment = r.Get<float>();
    v.jaccard = r.Get<float>();
    v.distance = r.Get<uint8_t>();
    v.found_by = r.Get<uint8_t>();
    v.boilerplate_blocks = r.Get<uint32_t>();
    sizes[i] = r.Get<uint32_t>();
    total += sizes[i];
  }
  const uint32_t texts_size = r.Get<uint32_t>();
  std::string_view compressed = r.Str();
  if (!r.ok || texts_size != total || texts_size > (256u << 20)) return false;
  if (with_text && texts_size > 0) {
    std::string texts(texts_size, '\0');
    if (!Decompress(codec, compressed, dictionary, &texts)) return false;
    size_t off = 0;
    for (uint32_t i = 0; i < n; ++i) {
      (*versions)[i].text = texts.substr(off, sizes[i]);
      off += sizes[i];
    }
  }
  *in = r.in;
  return true;
}

std::string EncodeUrlState(const UrlState& s, HistoryPart history) {
  // A state known only from another instance's fingerprint record has no
  // text to write: it stays a fingerprint record (with its URL), so that a
  // reload still knows the text is not here.
  if (!s.text_known) return EncodeFingerprintRecord(s, /*with_url=*/true);
  // The codec: state.text_compression for the store and the changelog; zstd
  // for format 1 and for kLatest (state.fingerprint_format = full: the
  // record for versions that read format 4 and nothing newer).
  const TextCompression codec = s.line_hashes_known && history == HistoryPart::kFull
                                    ? text_compression.load(std::memory_order_relaxed)
                                    : TextCompression::kZstd;
  std::string out;
  // Room for everything but the history's texts: the text is compressed in
  // place (PutCompressed), into its bound.
  out.reserve(128 + s.canonical_url.size() + s.site.size() + s.title.size() +
              16 * s.history.size() + 8 * (s.paragraph_hashes.size() + s.line_hashes.size()) +
              4 * s.sketch.size() + CompressBound(codec, s.text.size()) +
              64 * (s.versions.size() + 1));
  // A state whose line hashes are not known (read from a format-1 record) is
  // written as format 1 again, so that a later load still computes them (and
  // without history, which such a record never had). Every other state is
  // format 4 (zstd) or 6 (LZ4); one without a sketch says so
  // (kSketchUnknown), for the same reason.
  uint8_t format = kFormatVersion;
  switch (codec) {
    case TextCompression::kLz4: format = kFormatLz4; break;
    case TextCompression::kLz4Packed: format = kFormatPacked; break;
    case TextCompression::kZstd: format = kFormatVersion; break;
  }
  if (!s.line_hashes_known) format = 1;
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
  PutArray(&out, s.paragraph_hashes);
  if (s.line_hashes_known) {
    PutU32(&out, static_cast<uint32_t>(s.line_hashes.size()));
    PutArray(&out, s.line_hashes);
  }
  if (format >= 3) {
    PutU32(&out, s.sketch_known ? s.shingle_count : kSketchUnknown);
    PutU32(&out, s.sketch_known ? static_cast<uint32_t>(s.sketch.size()) : 0);
    if (s.sketch_known) PutArray(&out, s.sketch);
  }
  PutStr(&out, s.title);
  PutU32(&out, static_cast<uint32_t>(s.text.size()));
  PutCompressed(&out, s.text, codec);
  if (s.line_hashes_known) EncodeHistory(s.versions, history, s.text, &out, codec);
  return out;
}

bool PeekUrlState(std::string_view bytes, std::string_view* canonical_url, uint32_t* version) {
  Reader r{bytes};
  const auto format = r.Get<uint8_t>();
  if (!r.ok || !KnownTextFormat(format)) return false;
  *canonical_url = r.Str();
  r.Str();  // site
  *version = r.Get<uint32_t>();
  return r.ok;
}

bool DecodeUrlState(std::string_view bytes, UrlState* s, TextPart text) {
  Reader r{bytes};
  const auto format = r.Get<uint8_t>();
  if (r.ok && format == kFormatFingerprint) return DecodeStateRecord({}, bytes, s, text);
  if (!r.ok || !KnownTextFormat(format)) return false;
  const TextCompression codec = CodecOf(format);
  s->text_known = true;
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
  if (!r.ok || np > (1u << 20) || !r.Array(np, &s->paragraph_hashes)) return false;
  s->line_hashes.clear();
  s->line_hashes_known = format >= 2;
  if (s->line_hashes_known) {
    const uint32_t nl = r.Get<uint32_t>();
    if (!r.ok || nl > (1u << 24) || !r.Array(nl, &s->line_hashes)) return false;
  }
  s->sketch.clear();
  s->shingle_count = 0;
  s->sketch_known = format >= 3;
  if (s->sketch_known) {
    s->shingle_count = r.Get<uint32_t>();
    const uint32_t ns = r.Get<uint32_t>();
    if (!r.ok || ns > kMaxSketch || !r.Array(ns, &s->sketch)) return false;
    if (format >= 4 && s->shingle_count == kSketchUnknown) {
      if (ns != 0) return false;
      s->shingle_count = 0;
      s->sketch_known = false;
    }
  }
  s->title = r.Str();
  uint32_t text_size = r.Get<uint32_t>();
  std::string_view compressed = r.Str();
  if (!r.ok || text_size > (256u << 20)) return false;
  s->versions.clear();
  s->history_full = true;
  const bool skip_text = text == TextPart::kSkipIfIndexed && s->line_hashes_known;
  if (skip_text) {
    s->text.clear();
  } else {
    s->text.resize(text_size);
    if (text_size > 0 && !Decompress(codec, compressed, {}, &s->text)) return false;
  }
  // The history's texts are compressed against the current text.
  if (format >= kFormatHistory &&
      !DecodeHistory(&r.in, &s->versions, !skip_text, s->text, &s->history_full, codec)) {
    return false;
  }
  return r.in.empty();
}

}  // namespace dedupd::state
