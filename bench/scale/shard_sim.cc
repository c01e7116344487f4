// Simulation of ONE index shard of the sharded design (docs/scale.md) at its
// planned size, and of today's global SimHash index at 10^8 documents.
//
//   bench_scale_shard --kind band --corpus 1000000000 --ranges 64 --insert-rate 781 --probe-rate
//   781 bench_scale_shard --kind passage --corpus 1000000000 --ranges 256 --insert-rate 1563
//   --probe-rate 1563 bench_scale_shard --kind global --docs 100000000 [--passages 8]
//
// band: one SimHash shard owning 1/ranges of the 16-bit block values of ONE of
// the four permuted tables (Manku et al. 2007, k = 3). It holds corpus/ranges
// entries, and each block value (bucket) holds corpus/2^16 of them, as it would
// in a corpus of `corpus` documents. passage: one passage-hash shard, a
// dedupd::index::ParagraphIndex holding corpus * 8 / ranges postings. global:
// today's single-stage index, dedupd::index::SimHashIndex(3) (+ optionally the
// ParagraphIndex with `passages` hashes per document) filled to `docs`.
//
// Phases: (1) load: the shard is filled one record at a time, as a restore
// from its entries partition applies them (ns per record, memory per entry);
// (2) paced: for `seconds`, inserts and probes arrive evenly spaced at the given
// rates, interleaved (1 in 10 inserts revises a document already held, 1 in 100
// is a re-delivery of a (URL, version) already applied and must change
// nothing); each op's service time and its sojourn (scheduled arrival to
// completion, so waiting behind an earlier op counts) give p50/p99/p99.9, and
// so does each op's thread CPU time; CPU share = process CPU / wall;
// (3) saturated: probes, then inserts, back to back, per thread CPU second.
// Answer bytes are counted with the record layout of docs/scale.md (the
// candidate's sketch travels in the answer), not produced.
//
// Why the band shard is not a SimHashIndex: that class always builds
// max_distance + 1 tables over every document, and a band shard holds one
// table's slice. BandTable below is that one table: the same 12-byte entry
// (32 "hi" bits scanned with popcount, then 16 low bits and the doc id), with the
// bucket = the block value itself (a shard's bucket count is 2^16 / ranges).
// Thread-safety: a single-threaded program.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "index/paragraph_index.h"
#include "index/simhash_index.h"
#include "index/tag_table.h"

namespace {

using Clock = std::chrono::steady_clock;
using dedupd::SimHash64;
using dedupd::index::DocId;
using dedupd::index::Neighbor;
using dedupd::index::ParagraphIndex;
using dedupd::index::SimHashIndex;

// Answer record layout (docs/scale.md, "Records"): a header per answer (page
// id, attempt, shard, entries offset, candidate count) and per candidate the
// URL (80 B: the corpus's are 67 median, 90 mean), version, distance or shared
// count, shingle count, sketch length and 64 sketch values of 4 bytes.
constexpr double kAnswerHeaderBytes = 40;
constexpr double kCandidateBytes = 80 + 4 + 4 + 4 + 4 + 64 * 4;
constexpr int kMaxDistance = 3;

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages_total = 0, resident = 0;
  f >> pages_total >> resident;
  return resident * 4096;
}

// This thread's CPU time: on a machine shared with other work, an op's wall
// time includes the time the scheduler gave to others; its CPU time does not.
double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

uint64_t SplitMix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One permuted table's slice: the fingerprints whose top 16 bits (the block
// this table leads with; tables are symmetric, so table 0 stands for any) lie
// in [first_block, first_block + blocks).
class BandTable {
 public:
  BandTable(uint32_t first_block, uint32_t blocks) : first_(first_block), buckets_(blocks) {}

  void Insert(DocId doc, uint64_t h) {
    Bucket& b = buckets_[BucketOf(h)];
    if (b.hi.size() == b.hi.capacity()) {  // grow by 1/8, as the daemon's slack
      const size_t want = b.hi.size() + b.hi.size() / 8 + 8;
      b.hi.reserve(want);
      b.tail.reserve(want);
    }
    b.hi.push_back(static_cast<uint32_t>(h >> 16));
    b.tail.push_back({static_cast<uint16_t>(h), 0, doc});
  }

  bool Remove(DocId doc, uint64_t h) {
    Bucket& b = buckets_[BucketOf(h)];
    const uint32_t hi = static_cast<uint32_t>(h >> 16);
    for (size_t i = 0; i < b.hi.size(); ++i) {
      if (b.hi[i] == hi && b.tail[i].doc == doc && b.tail[i].lo == static_cast<uint16_t>(h)) {
        b.hi[i] = b.hi.back();
        b.tail[i] = b.tail.back();
        b.hi.pop_back();
        b.tail.pop_back();
        return true;
      }
    }
    return false;
  }

  // Every entry of h's bucket within k bits of h (the probe's block equals the
  // bucket's, so only the other 48 bits can differ).
  __attribute__((target("popcnt"))) void Query(uint64_t h, int k,
                                               std::vector<Neighbor>* out) const {
    out->clear();
    const Bucket& b = buckets_[BucketOf(h)];
    const uint32_t qhi = static_cast<uint32_t>(h >> 16);
    const uint16_t qlo = static_cast<uint16_t>(h);
    const uint32_t* hi = b.hi.data();
    for (size_t i = 0, n = b.hi.size(); i < n; ++i) {
      int d = __builtin_popcount(hi[i] ^ qhi);
      if (d <= k) {
        d += __builtin_popcount(static_cast<uint32_t>(b.tail[i].lo ^ qlo));
        if (d <= k) out->push_back({b.tail[i].doc, d});
      }
    }
  }

  size_t MemoryBytes() const {
    size_t bytes = buckets_.capacity() * sizeof(Bucket);
    for (const Bucket& b : buckets_) {
      bytes += b.hi.capacity() * sizeof(uint32_t) + b.tail.capacity() * sizeof(Tail);
    }
    return bytes;
  }

 private:
  struct Tail {
    uint16_t lo;
    uint16_t unused;
    DocId doc;
  };
  struct Bucket {
    std::vector<uint32_t> hi;
    std::vector<Tail> tail;
  };
  size_t BucketOf(uint64_t h) const { return static_cast<size_t>((h >> 48) - first_); }

  uint32_t first_;
  std::vector<Bucket> buckets_;
};

// What every shard keeps per document besides its index entries: the URL key
// (an index::TagTable from its top 32 bits to doc ids, confirmed against
// url_key: exact, where a ParagraphIndex's 32-bit tag alone took ~n/2^32 of
// new URLs for another's), the version (inserts are idempotent by (URL, version))
// and the indexed value (to remove it when the next version arrives).
struct DocTable {
  dedupd::index::TagTable url_to_doc;
  std::vector<uint64_t> url_key;
  std::vector<uint32_t> version;
  std::vector<uint64_t> value;  // SimHash (band) or the passage hash (passage)

  size_t MemoryBytes() const {
    return url_to_doc.MemoryBytes() + url_key.capacity() * 8 + version.capacity() * 4 +
           value.capacity() * 8;
  }
};

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

Percentiles Summarise(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

struct Options {
  std::string kind = "band";
  double corpus = 1e9;
  size_t ranges = 64;
  size_t docs = 0;  // global: documents; band/passage: derived from corpus / ranges
  size_t passages = 0;
  double insert_rate = 781;
  double probe_rate = 781;
  double seconds = 20;
  size_t saturated_ops = 200000;
  bool check = false;  // compare probes with a brute-force scan; exit 1 on a difference
  std::string json;
};

// The shard under test behind one interface: Load/Insert/Probe by URL key.
class Shard {
 public:
  virtual ~Shard() = default;
  // Applies (url, version, value); returns false when it changed nothing (a
  // re-delivery of a version already held, or an older one).
  virtual bool Apply(uint64_t url, uint32_t version, uint64_t value) = 0;
  // Candidates for a probe value; returns their count.
  virtual size_t Probe(uint64_t value) = 0;
  virtual size_t Entries() const = 0;
  virtual size_t IndexBytes() const = 0;
  virtual size_t MetaBytes() const = 0;
  // A value near `value` that a probe routed to this shard could carry.
  virtual uint64_t NearValue(uint64_t value, std::mt19937_64& rng) const = 0;
  virtual uint64_t RandomValue(std::mt19937_64& rng) const = 0;
  // What Probe must find, by scanning every held document's indexed value.
  virtual size_t BruteForce(uint64_t value) const = 0;
};

// Shared bookkeeping: URL key -> doc, idempotent by version, remove-then-insert.
class DocShard : public Shard {
 public:
  bool Apply(uint64_t url, uint32_t version, uint64_t value) override {
    const uint32_t tag = static_cast<uint32_t>(url >> 32);
    DocId held = dedupd::index::TagTable::kNoDoc;
    docs_.url_to_doc.ForEach(tag, [&](DocId d) {
      if (docs_.url_key[d] != url) return true;
      held = d;
      return false;
    });
    if (held != dedupd::index::TagTable::kNoDoc) {
      const DocId doc = held;
      if (docs_.version[doc] >= version) return false;  // already applied
      RemoveEntry(doc, docs_.value[doc]);
      docs_.version[doc] = version;
      docs_.value[doc] = value;
      InsertEntry(doc, value);
      return true;
    }
    const DocId doc = static_cast<DocId>(docs_.url_key.size());
    docs_.url_key.push_back(url);
    docs_.version.push_back(version);
    docs_.value.push_back(value);
    docs_.url_to_doc.Insert(tag, doc);
    InsertEntry(doc, value);
    return true;
  }
  size_t Entries() const override { return docs_.url_key.size(); }
  size_t MetaBytes() const override { return docs_.MemoryBytes(); }
  void Reserve(size_t n) {
    docs_.url_key.reserve(n);
    docs_.version.reserve(n);
    docs_.value.reserve(n);
  }
  uint64_t ValueOf(size_t doc) const { return docs_.value[doc]; }
  uint64_t UrlOf(size_t doc) const { return docs_.url_key[doc]; }
  uint32_t VersionOf(size_t doc) const { return docs_.version[doc]; }

 protected:
  virtual void InsertEntry(DocId doc, uint64_t value) = 0;
  virtual void RemoveEntry(DocId doc, uint64_t value) = 0;

 private:
  DocTable docs_;
};

class BandShard : public DocShard {
 public:
  BandShard(uint32_t first_block, uint32_t blocks)
      : first_(first_block), blocks_(blocks), table_(first_block, blocks) {}
  size_t Probe(uint64_t value) override {
    table_.Query(value, kMaxDistance, &near_);
    return near_.size();
  }
  size_t IndexBytes() const override { return table_.MemoryBytes(); }
  // A copy within 0..3 bits, flipped outside the block (a copy that differs
  // inside this table's block is found by another table's shard).
  uint64_t NearValue(uint64_t value, std::mt19937_64& rng) const override {
    for (int b = static_cast<int>(rng() % 4); b > 0; --b) value ^= uint64_t{1} << (rng() % 48);
    return value;
  }
  size_t BruteForce(uint64_t value) const override {
    size_t n = 0;
    for (size_t d = 0; d < Entries(); ++d) {
      const uint64_t v = ValueOf(d);
      n += (v >> 48) == (value >> 48) && std::popcount(v ^ value) <= kMaxDistance;
    }
    return n;
  }
  uint64_t RandomValue(std::mt19937_64& rng) const override {
    const uint64_t block = first_ + rng() % blocks_;
    return (block << 48) | (rng() & ((uint64_t{1} << 48) - 1));
  }

 protected:
  void InsertEntry(DocId doc, uint64_t value) override { table_.Insert(doc, value); }
  void RemoveEntry(DocId doc, uint64_t value) override { table_.Remove(doc, value); }

 private:
  uint32_t first_, blocks_;
  BandTable table_;
  std::vector<Neighbor> near_;
};

class PassageShard : public DocShard {
 public:
  size_t Probe(uint64_t value) override {
    const uint64_t key[1] = {value};
    index_.Query(key, 1, 16, &shared_);
    return shared_.size();
  }
  size_t IndexBytes() const override { return index_.MemoryBytes(); }
  uint64_t NearValue(uint64_t value, std::mt19937_64&) const override { return value; }
  uint64_t RandomValue(std::mt19937_64& rng) const override { return rng() | 1; }
  size_t BruteForce(uint64_t value) const override {
    size_t n = 0;
    for (size_t d = 0; d < Entries(); ++d) n += ValueOf(d) == value;
    return n > 64 ? 0 : std::min<size_t>(n, 16);  // boilerplate cut-off; max_results
  }

 protected:
  void InsertEntry(DocId doc, uint64_t value) override {
    const uint64_t key[1] = {value};
    index_.Insert(doc, key);
  }
  void RemoveEntry(DocId doc, uint64_t value) override {
    const uint64_t key[1] = {value};
    index_.Remove(doc, key);
  }

 private:
  ParagraphIndex index_;
  std::vector<std::pair<DocId, uint32_t>> shared_;
};

struct Op {
  bool probe;
  double at;  // scheduled arrival, seconds from the phase's start
};

int RunShard(const Options& o, std::string* json) {
  std::mt19937_64 rng(42);
  std::unique_ptr<DocShard> shard;
  size_t planned = 0;
  if (o.kind == "band") {
    const uint32_t blocks = static_cast<uint32_t>(65536 / o.ranges);
    planned = static_cast<size_t>(o.corpus / static_cast<double>(o.ranges));
    shard = std::make_unique<BandShard>(/*first_block=*/0, blocks);
  } else {
    planned = static_cast<size_t>(o.corpus * 8 / static_cast<double>(o.ranges));
    shard = std::make_unique<PassageShard>();
  }
  if (o.docs) planned = o.docs;
  // Room for the paced and saturated inserts too: a doubling of the per-doc
  // arrays mid-run would be a stall of this program, not of a shard (which
  // would grow them in chunks).
  shard->Reserve(planned + static_cast<size_t>(o.insert_rate * o.seconds) + o.saturated_ops + 1);
  const size_t rss0 = RssBytes();
  // (1) Load: one record at a time; every 10th a near copy of an earlier one.
  std::fprintf(stderr, "%s shard: loading %zu entries\n", o.kind.c_str(), planned);
  const auto load_start = Clock::now();
  const double cpu_load0 = CpuSeconds();
  for (size_t d = 0; d < planned; ++d) {
    uint64_t v = shard->RandomValue(rng);
    if (d > 0 && d % 10 == 0) v = shard->NearValue(shard->ValueOf(rng() % d), rng);
    shard->Apply(SplitMix(d), 1, v);
    if ((d + 1) % 10000000 == 0) std::fprintf(stderr, "  %zu\n", d + 1);
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  const double load_cpu = CpuSeconds() - cpu_load0;
  const size_t rss_loaded = RssBytes();
  const double n = static_cast<double>(shard->Entries());

  // (2) Paced: inserts and probes evenly spaced, interleaved.
  std::vector<Op> ops;
  for (double t = 0; t < o.seconds; t += 1.0 / o.insert_rate) ops.push_back({false, t});
  for (double t = 0.5 / o.probe_rate; t < o.seconds; t += 1.0 / o.probe_rate) {
    ops.push_back({true, t});
  }
  std::sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) { return a.at < b.at; });
  std::vector<double> insert_us, probe_us, insert_sojourn_us, probe_sojourn_us;
  std::vector<double> insert_cpu_us, probe_cpu_us;
  size_t candidates = 0, probes = 0, inserts = 0, skipped = 0, next_url = planned;
  const double cpu0 = CpuSeconds();
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake at the op's time, not up to 50 µs later
  const auto start = Clock::now();
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    const auto due =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(op.at));
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    const size_t held = shard->Entries();
    // Inputs prepared before the clock starts.
    uint64_t url = 0, value = 0;
    uint32_t version = 1;
    if (op.probe) {
      value =
          (i % 2) ? shard->NearValue(shard->ValueOf(rng() % held), rng) : shard->RandomValue(rng);
    } else if (++inserts % 100 == 1) {  // a re-delivery: must change nothing
      const size_t d = rng() % held;
      url = shard->UrlOf(d);
      version = shard->VersionOf(d);
      value = shard->RandomValue(rng);
    } else if (inserts % 10 == 3) {  // a revision of a held document
      const size_t d = rng() % held;
      url = shard->UrlOf(d);
      version = shard->VersionOf(d) + 1;
      value = shard->NearValue(shard->ValueOf(d), rng);
    } else {
      url = SplitMix(next_url++);
      value = shard->RandomValue(rng);
    }
    const double cpu_a = ThreadCpuMicros();
    const auto a = Clock::now();
    if (op.probe) {
      candidates += shard->Probe(value);
      ++probes;
    } else if (!shard->Apply(url, version, value)) {
      ++skipped;
    }
    const auto b = Clock::now();
    (op.probe ? probe_cpu_us : insert_cpu_us).push_back(ThreadCpuMicros() - cpu_a);
    const double service = std::chrono::duration<double, std::micro>(b - a).count();
    const double sojourn = std::chrono::duration<double, std::micro>(b - due).count();
    (op.probe ? probe_us : insert_us).push_back(service);
    (op.probe ? probe_sojourn_us : insert_sojourn_us).push_back(sojourn);
  }
  const double paced_wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double paced_cpu = CpuSeconds() - cpu0;

  // (3) Saturated: back to back, per CPU second of this thread (wall time
  // would count other people's work on a shared machine).
  std::vector<uint64_t> values(o.saturated_ops);
  for (auto& v : values) v = shard->NearValue(shard->ValueOf(rng() % shard->Entries()), rng);
  double t0 = ThreadCpuMicros();
  size_t saturated_candidates = 0;
  for (uint64_t v : values) saturated_candidates += shard->Probe(v);
  const double probe_sat = static_cast<double>(values.size()) * 1e6 / (ThreadCpuMicros() - t0);
  for (auto& v : values) v = shard->RandomValue(rng);
  t0 = ThreadCpuMicros();
  for (uint64_t v : values) shard->Apply(SplitMix(next_url++), 1, v);
  const double insert_sat = static_cast<double>(values.size()) * 1e6 / (ThreadCpuMicros() - t0);

  // (4) Check: the shard's answers against a scan of everything it holds,
  // after the revisions and re-deliveries above (a shard that lost or kept a
  // stale entry would differ).
  size_t mismatches = 0;
  if (o.check) {
    for (int q = 0; q < 2000; ++q) {
      const uint64_t v = (q % 2) ? shard->NearValue(shard->ValueOf(rng() % shard->Entries()), rng)
                                 : shard->RandomValue(rng);
      if (shard->Probe(v) != shard->BruteForce(v)) ++mismatches;
    }
    std::fprintf(stderr, "check: %zu of 2000 probes differ from the brute-force scan\n",
                 mismatches);
  }
  const Percentiles is = Summarise(insert_us), ps = Summarise(probe_us);
  const Percentiles isj = Summarise(insert_sojourn_us), psj = Summarise(probe_sojourn_us);
  const Percentiles ic = Summarise(insert_cpu_us), pc = Summarise(probe_cpu_us);
  const double mean_candidates =
      probes ? static_cast<double>(candidates) / static_cast<double>(probes) : 0;
  const double answer_bytes = kAnswerHeaderBytes + mean_candidates * kCandidateBytes;
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "{\"kind\":\"%s\",\"corpus\":%.0f,\"ranges\":%zu,\"entries\":%.0f,"
      "\"bucket_entries\":%.0f,\"load_s\":%.2f,\"load_cpu_s\":%.2f,\"load_ns_per_entry\":%.0f,"
      "\"index_bytes_per_entry\":%.1f,\"meta_bytes_per_entry\":%.1f,"
      "\"rss_bytes_per_entry\":%.1f,\"rss_mib\":%.0f,"
      "\"insert_rate\":%.0f,\"probe_rate\":%.0f,\"paced_s\":%.1f,\"cpu_share\":%.4f,"
      "\"insert_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.1f},"
      "\"probe_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.1f},"
      "\"insert_cpu_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f},"
      "\"probe_cpu_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f},"
      "\"insert_sojourn_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f},"
      "\"probe_sojourn_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f},"
      "\"redeliveries_skipped\":%zu,\"mean_candidates\":%.3f,\"answer_bytes\":%.0f,"
      "\"saturated_probes_per_s\":%.0f,\"saturated_inserts_per_s\":%.0f,"
      "\"near_probe_candidates\":%.3f}",
      o.kind.c_str(), o.corpus, o.ranges, n, o.kind == "band" ? o.corpus / 65536.0 : 0.0, load_s,
      load_cpu, load_s * 1e9 / n, static_cast<double>(shard->IndexBytes()) / n,
      static_cast<double>(shard->MetaBytes()) / n, static_cast<double>(rss_loaded - rss0) / n,
      static_cast<double>(rss_loaded) / 1048576.0, o.insert_rate, o.probe_rate, paced_wall,
      paced_cpu / paced_wall, is.p50, is.p99, is.p999, is.max, ps.p50, ps.p99, ps.p999, ps.max,
      ic.p50, ic.p99, ic.p999, pc.p50, pc.p99, pc.p999, isj.p50, isj.p99, isj.p999, psj.p50,
      psj.p99, psj.p999, skipped, mean_candidates, answer_bytes, probe_sat, insert_sat,
      static_cast<double>(saturated_candidates) / static_cast<double>(values.size()));
  *json = buf;
  return mismatches == 0 ? 0 : 1;
}

// Today's single-stage index: every instance holds all four tables of every
// document (and the passage index, with --passages).
int RunGlobal(const Options& o, std::string* json) {
  std::mt19937_64 rng(42);
  SimHashIndex simhash(kMaxDistance);
  ParagraphIndex passages;
  const size_t docs = o.docs ? o.docs : 100000000;
  simhash.Reserve(docs);
  std::vector<uint64_t> hashes;
  hashes.reserve(docs);
  const size_t rss0 = RssBytes();
  std::vector<uint64_t> ps(o.passages);
  std::string checkpoints;
  double insert_s = 0;
  size_t stretch_start = 0;
  const auto load_start = Clock::now();
  for (size_t d = 0; d < docs; ++d) {
    uint64_t h = rng();
    for (size_t k = 0; k < ps.size(); ++k) ps[k] = SplitMix(d * 8 + k);
    if (d > 0 && d % 10 == 0) {
      const size_t src = rng() % d;
      h = hashes[src];
      for (int b = static_cast<int>(rng() % 4); b > 0; --b) h ^= uint64_t{1} << (rng() % 64);
      for (size_t k = 0; k < ps.size() / 2; ++k) ps[k] = SplitMix(src * 8 + k);
    }
    hashes.push_back(h);
    const auto a = Clock::now();
    simhash.Insert(static_cast<DocId>(d), SimHash64{h});
    if (!ps.empty()) passages.Insert(static_cast<DocId>(d), ps);
    insert_s += std::chrono::duration<double>(Clock::now() - a).count();
    if ((d + 1) % 10000000 == 0 || d + 1 == docs) {
      // Queries at this size: half near copies, half random.
      std::vector<Neighbor> near;
      std::vector<std::pair<DocId, uint32_t>> shared;
      std::vector<double> q_us;
      for (int q = 0; q < 20000; ++q) {
        const uint64_t v =
            (q % 2) ? hashes[rng() % (d + 1)] ^ (uint64_t{1} << (rng() % 64)) : rng();
        const auto qa = Clock::now();
        simhash.Query(SimHash64{v}, kMaxDistance, &near);
        if (!ps.empty()) passages.Query(ps, 1, 16, &shared);
        q_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - qa).count());
      }
      const Percentiles qp = Summarise(q_us);
      const double n = static_cast<double>(d + 1);
      const double rss = static_cast<double>(RssBytes() - rss0) - 8.0 * n;  // minus `hashes`
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s{\"docs\":%.0f,\"insert_ns\":%.0f,\"query_us\":{\"p50\":%.2f,\"p99\":%.2f},"
                    "\"simhash_bytes_per_doc\":%.1f,\"passage_bytes_per_doc\":%.1f,"
                    "\"rss_bytes_per_doc\":%.1f,\"wall_s\":%.0f}",
                    checkpoints.empty() ? "" : ",", n,
                    insert_s * 1e9 / static_cast<double>(d + 1 - stretch_start), qp.p50, qp.p99,
                    static_cast<double>(simhash.MemoryBytes()) / n,
                    static_cast<double>(passages.MemoryBytes()) / n, rss / n,
                    std::chrono::duration<double>(Clock::now() - load_start).count());
      checkpoints += buf;
      std::fprintf(stderr, "%s\n", buf);
      insert_s = 0;
      stretch_start = d + 1;
    }
  }
  *json = "{\"kind\":\"global\",\"passages\":" + std::to_string(o.passages) + ",\"checkpoints\":[" +
          checkpoints + "]}";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--kind") {
      o.kind = v;
    } else if (a == "--corpus") {
      o.corpus = std::stod(v);
    } else if (a == "--ranges") {
      o.ranges = std::stoull(v);
    } else if (a == "--docs") {
      o.docs = static_cast<size_t>(std::stod(v));
    } else if (a == "--passages") {
      o.passages = std::stoull(v);
    } else if (a == "--insert-rate") {
      o.insert_rate = std::stod(v);
    } else if (a == "--probe-rate") {
      o.probe_rate = std::stod(v);
    } else if (a == "--seconds") {
      o.seconds = std::stod(v);
    } else if (a == "--saturated-ops") {
      o.saturated_ops = std::stoull(v);
    } else if (a == "--check") {
      o.check = v == "1";
    } else if (a == "--json") {
      o.json = v;
    } else {
      o.kind.clear();
      break;
    }
  }
  if ((argc % 2) != 1 || (o.kind != "band" && o.kind != "passage" && o.kind != "global") ||
      o.ranges == 0 || (o.kind == "band" && (65536 % o.ranges) != 0) || o.insert_rate <= 0 ||
      o.probe_rate <= 0) {
    std::fprintf(stderr,
                 "usage: bench_scale_shard --kind band|passage|global [--corpus N] [--ranges R "
                 "(band: divides 65536)] [--docs N] [--passages P] [--insert-rate R/s] "
                 "[--probe-rate R/s] [--seconds S] [--saturated-ops N] [--check 1] [--json OUT]\n");
    return 2;
  }
  std::string json;
  const int rc = o.kind == "global" ? RunGlobal(o, &json) : RunShard(o, &json);
  std::printf("%s\n", json.c_str());
  if (!o.json.empty()) std::ofstream(o.json) << json << "\n";
  return rc;
}
