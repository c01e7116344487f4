#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "state/store.h"

namespace dedupd::state {
namespace {

// Keys: "u/<canonical url>" -> EncodeUrlState; "m/<name>" -> metadata.
constexpr std::string_view kUrlPrefix = "u/";
constexpr std::string_view kMetaPrefix = "m/";

// RocksDB's own log lines (warnings and errors only) go to dedupd's log on
// stderr instead of a LOG file in the state directory. That file is what made
// a full volume abort the process: once one of its writes failed for lack of
// space, RocksDB's next log line into it (the one reporting the failed write)
// tripped an assertion of Debian's librocksdb (built with assertions:
// `Assertion 'sync_without_flush_called_' failed`, SIGABRT, exit 134).
class ForwardingLogger final : public rocksdb::Logger {
 public:
  ForwardingLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char text[1024];
    std::vsnprintf(text, sizeof text, format, ap);
    std::string_view line(text);
    while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      log::Error("rocksdb", {{"message", std::string(line)}});
    } else {
      log::Warn("rocksdb", {{"message", std::string(line)}});
    }
  }
};

// RocksDB's own recovery from ENOSPC (its SstFileManager) waits for as much
// free space as a whole write buffer (16 MiB here) before it even tries (on a
// small volume: for ever), and resumes with DB::Resume(), which can keep a
// failed WAL writer (below). The store reopens RocksDB itself instead
// (CheckWritable(), once the volume has state.min_free_bytes free), so
// RocksDB's recovery is turned off.
class ManualRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

std::string Bytes(uint64_t n) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MiB (%llu bytes)", static_cast<double>(n) / (1 << 20),
                static_cast<unsigned long long>(n));
  return text;
}

class RocksStore final : public StateStore {
 public:
  RocksStore(std::string dir, rocksdb::Options options, RocksStoreOptions store_options,
             std::unique_ptr<rocksdb::DB> db)
      : dir_(std::move(dir)),
        options_(std::move(options)),
        store_options_(store_options),
        db_(std::move(db)) {}
  ~RocksStore() override {
    if (db_) db_->Close();
  }

  std::optional<UrlState> Get(std::string_view url) override {
    if (auto it = staged_.find(url); it != staged_.end()) return it->second.state;
    if (!db_) return std::nullopt;
    std::string value;
    auto status =
        db_->Get(rocksdb::ReadOptions(), std::string(kUrlPrefix) + std::string(url), &value);
    if (!status.ok()) return std::nullopt;
    UrlState s;
    if (!DecodeUrlState(value, &s)) return std::nullopt;  // corrupt entry: treated as unseen
    return s;
  }
  std::optional<UrlState> GetCommitted(std::string_view url) override {
    std::shared_lock lock(db_mutex_);  // against a reopen; RocksDB's Get is thread-safe
    if (!db_) return std::nullopt;
    std::string value;
    auto status =
        db_->Get(rocksdb::ReadOptions(), std::string(kUrlPrefix) + std::string(url), &value);
    if (!status.ok()) return std::nullopt;
    UrlState s;
    if (!DecodeUrlState(value, &s)) return std::nullopt;
    return s;
  }
  // Get() without its copies: a staged state is returned where it is staged,
  // a committed one is read without copying the value (PinnableSlice) and
  // decoded into peeked_, whose strings and vectors keep their capacity from
  // one page to the next. The detector peeks once per stored page.
  const UrlState* Peek(std::string_view url) override {
    if (auto it = staged_.find(url); it != staged_.end()) return &it->second.state;
    if (!db_) return nullptr;
    peek_key_.assign(kUrlPrefix);
    peek_key_.append(url);
    peek_value_.Reset();
    auto status =
        db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), peek_key_, &peek_value_);
    if (!status.ok()) return nullptr;
    const bool ok =
        DecodeUrlState(std::string_view(peek_value_.data(), peek_value_.size()), &peeked_);
    peek_value_.Reset();
    return ok ? &peeked_ : nullptr;  // corrupt entry: treated as unseen, as by Get()
  }
  // Encoded here, once: Commit() writes these bytes, and `dedupd run` sends
  // the same bytes to the changelog (StagedRecord).
  void Put(const UrlState& s) override {
    Staged& staged = Stage(s.canonical_url);
    staged.state = s;
    if (defer_encoding_) {
      ++staged.unadopted;
    } else {
      staged.record = EncodeUrlState(s);
    }
  }
  const std::string* StagedRecord(std::string_view url) const override {
    auto it = staged_.find(url);
    return it == staged_.end() || it->second.unadopted > 0 ? nullptr : &it->second.record;
  }
  void DeferEncoding() override { defer_encoding_ = true; }
  // The records come in the order of the Put()s: when none is outstanding,
  // the last one adopted is the last state's.
  void AdoptRecord(std::string_view url, std::string record) override {
    auto it = staged_.find(url);
    if (it == staged_.end() || it->second.unadopted == 0) return;
    --it->second.unadopted;
    it->second.record = std::move(record);
  }
  bool Commit(const std::map<std::string, std::string>& metadata, std::string* error) override {
    // Under the bound, RocksDB is not even asked: its out-of-space path
    // (read-only until reopened) is kept for what the bound cannot foresee.
    if (auto refused = LowSpace(); refused || !db_) {
      last_error_ = refused ? *refused : reopen_failure_;
      if (error != nullptr) *error = last_error_->message;
      return false;
    }
    // The batch is the store's, its buffer kept from commit to commit: a
    // transaction's batch holds every state record (~10 MB for 2,000 pages),
    // and a new one per commit grew by doubling (each step a copy of what it
    // held) into freshly mapped pages (a page fault per 4 KiB): ~5% of
    // `dedupd run`'s CPU in the profile of docs/benchmarks.md, "Run loop
    // cost, session 9".
    rocksdb::WriteBatch& batch = batch_;
    batch.Clear();
    std::string key;  // one buffer for every key: the batch copies it
    for (auto& [k, v] : staged_) {
      if (v.unadopted > 0) {  // DeferEncoding(): not adopted (or Put() again since)
        v.record = EncodeUrlState(v.state);
        v.unadopted = 0;
      }
      key.assign(kUrlPrefix);
      key.append(k);
      batch.Put(key, v.record);
    }
    for (const auto& [k, v] : metadata) batch.Put(std::string(kMetaPrefix) + k, v);
    // Without the WAL unless the volume is nearly full: then the WAL is
    // written as before, so that ENOSPC (or the bound) is met by the commit
    // that fills the volume and the out-of-space path stays the one tested
    // with the WAL. Before the first WAL write, the writes made without it
    // are flushed: a crash must not replay later batches from the WAL over
    // a hole where earlier ones were lost.
    const bool wal = !store_options_.disable_wal || NearlyFull();
    rocksdb::Status status;
    if (wal && unflushed_without_wal_) {
      rocksdb::FlushOptions flush;
      flush.allow_write_stall = true;
      status = db_->Flush(flush);
      if (status.ok()) unflushed_without_wal_ = false;
    }
    if (status.ok()) {
      rocksdb::WriteOptions write_options;
      write_options.disableWAL = !wal;
      status = db_->Write(write_options, &batch);
      if (status.ok() && !wal) unflushed_without_wal_ = true;
    }
    if (!status.ok()) {
      // RocksDB keeps refusing writes (its background error) until reopened:
      // CheckWritable() does that once the space is back.
      needs_reopen_ = true;
      last_error_ = Failed(status);
      if (error != nullptr) *error = last_error_->message;
      return false;
    }
    last_error_.reset();
    RecycleStaged();
    // A batch far larger than usual (a restore's) is not kept.
    if (batch.GetDataSize() > kKeptBatchBytes) batch_ = rocksdb::WriteBatch();
    return true;
  }
  void Rollback() override { RecycleStaged(); }
  std::optional<StoreError> CheckWritable() override {
    if (auto low = LowSpace()) return low;
    if (!needs_reopen_ && db_) return std::nullopt;
    if (unflushed_without_wal_ && db_) {
      // The memtables hold writes made without the WAL: a reopen would drop
      // them, under later commits' offsets. Resume() flushes them first.
      rocksdb::Status status = db_->Resume();
      if (status.ok()) status = db_->Flush(rocksdb::FlushOptions());
      if (!status.ok()) return Failed(status);
      unflushed_without_wal_ = false;
      needs_reopen_ = false;
      log::Info("state store resumed after a failed write", {{"dir", dir_}});
      return std::nullopt;
    }
    // Closed and opened again, not DB::Resume(): after a failed WAL write,
    // RocksDB 7.8's Resume() can report success and keep the failed WAL
    // writer when it has no memtable to flush, and the next write then trips
    // the same assertion as the LOG file did (seen in full_disk_e2e_test).
    // Open replays the WAL, drops a record torn by the failed write (never
    // acknowledged: point-in-time recovery) and starts a new WAL.
    std::unique_lock lock(db_mutex_);  // GetCommitted() readers wait for the reopen
    if (db_) {
      db_->Close();  // avoid_flush_during_shutdown: writes nothing
      db_.reset();
    }
    rocksdb::DB* raw = nullptr;
    rocksdb::Status status = rocksdb::DB::Open(options_, dir_, &raw);
    if (!status.ok()) {
      reopen_failure_ = {status.IsNoSpace() ? StoreErrorKind::kNoSpace : StoreErrorKind::kIo,
                         "cannot reopen the state store in '" + dir_ + "': " + status.ToString()};
      return reopen_failure_;
    }
    db_.reset(raw);
    needs_reopen_ = false;
    log::Info("state store reopened after a failed write", {{"dir", dir_}});
    return std::nullopt;
  }
  std::optional<StoreError> LastError() const override { return last_error_; }
  std::optional<std::string> GetMetadata(std::string_view key) override {
    std::string value;
    if (!db_ ||
        !db_->Get(rocksdb::ReadOptions(), std::string(kMetaPrefix) + std::string(key), &value)
             .ok()) {
      return std::nullopt;
    }
    return value;
  }
  void ForEach(const std::function<bool(const UrlState&)>& visit, TextPart text) override {
    if (!db_) return;
    rocksdb::ReadOptions options;
    options.fill_cache = false;  // one sequential pass: keep the block cache for lookups
    options.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(std::string(kUrlPrefix)); it->Valid() && it->key().starts_with(kUrlPrefix.data());
         it->Next()) {
      UrlState s;
      if (DecodeUrlState(std::string_view(it->value().data(), it->value().size()), &s, text) &&
          !visit(s)) {
        return;
      }
    }
  }
  size_t ApproximateBytes() override {
    if (!db_) return 0;
    uint64_t bytes = 0;
    db_->GetIntProperty("rocksdb.total-sst-files-size", &bytes);
    uint64_t blobs = 0;  // the values of blob_min_bytes or more
    db_->GetIntProperty("rocksdb.total-blob-file-size", &blobs);
    uint64_t mem = 0;
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    return bytes + blobs + mem;
  }
  size_t Count() override {
    if (!db_) return 0;
    uint64_t n = 0;
    db_->GetIntProperty("rocksdb.estimate-num-keys", &n);
    return n;
  }

 private:
  // Space for unprivileged writers (f_bavail), as the daemon's user sees it.
  std::optional<uint64_t> FreeBytes() const {
    struct statvfs fs {};
    if (statvfs(dir_.c_str(), &fs) != 0) return std::nullopt;
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
  std::optional<StoreError> LowSpace() const {
    if (store_options_.min_free_bytes == 0) return std::nullopt;
    auto free = FreeBytes();
    if (!free || *free >= store_options_.min_free_bytes) return std::nullopt;
    return StoreError{StoreErrorKind::kNoSpace, "the state store's volume is nearly full: '" +
                                                    dir_ + "' has " + Bytes(*free) +
                                                    " free, under state.min_free_bytes (" +
                                                    Bytes(store_options_.min_free_bytes) + ")"};
  }
  // Less free space than the bound plus what the memtables can hold: a
  // background flush of writes made without the WAL could meet a full volume.
  bool NearlyFull() const {
    auto free = FreeBytes();
    const uint64_t memtables =
        static_cast<uint64_t>(options_.write_buffer_size) * options_.max_write_buffer_number;
    return free && *free < store_options_.min_free_bytes + memtables;
  }
  StoreError Failed(const rocksdb::Status& status) const {
    auto free = FreeBytes();
    std::string where = "'" + dir_ + "'" + (free ? " (" + Bytes(*free) + " free)" : "");
    if (status.IsNoSpace()) {
      return {StoreErrorKind::kNoSpace,
              "the state store's volume is full: " + where + ": " + status.ToString()};
    }
    return {StoreErrorKind::kIo,
            "the state store cannot write to " + where + ": " + status.ToString()};
  }

  std::string dir_;
  rocksdb::Options options_;
  RocksStoreOptions store_options_;
  std::unique_ptr<rocksdb::DB> db_;  // null only after a reopen that failed
  std::shared_mutex db_mutex_;       // db_ replaced (unique) vs GetCommitted() (shared)
  struct Staged {
    UrlState state;
    std::string record;      // EncodeUrlState(state) when `unadopted` is 0
    uint32_t unadopted = 0;  // DeferEncoding(): Put()s whose record is not adopted yet
  };
  bool defer_encoding_ = false;
  // Looked up by std::string_view without building a std::string per page
  // (StagedRecord and AdoptRecord run once per stored page in `dedupd run`).
  struct UrlHash {
    using is_transparent = void;
    size_t operator()(std::string_view url) const { return std::hash<std::string_view>()(url); }
  };
  using StagedMap = std::unordered_map<std::string, Staged, UrlHash, std::equal_to<>>;
  StagedMap staged_;
  // The entries of committed (or rolled back) batches, kept with their
  // buffers: a Put() of a new URL takes one, and copying a state into it
  // reuses the capacity of its strings and vectors. A fresh entry per page,
  // destroyed at the commit, cost a malloc and a free per string and vector
  // of every state: ~2.5% of `dedupd run`'s CPU, on the loop thread
  // (docs/benchmarks.md, session 12). Bounded: up to kMaxSpare entries, none
  // holding more than kMaxSpareBytes, kMaxSpareTotalBytes in all (a batch
  // of large pages is freed at its commit, as before, not kept).
  static constexpr size_t kMaxSpare = 4096;
  static constexpr size_t kMaxSpareBytes = 256u << 10;
  static constexpr size_t kMaxSpareTotalBytes = 64u << 20;
  struct Spare {
    StagedMap::node_type node;
    size_t bytes;  // HeldBytes(), taken when it was kept
  };
  std::vector<Spare> spare_;
  size_t spare_bytes_ = 0;  // the sum of spare_'s bytes
  // The staged entry of `url`: the one staged already, else a spare one
  // (recycled), else a new one.
  Staged& Stage(std::string_view url) {
    if (auto it = staged_.find(url); it != staged_.end()) return it->second;
    if (spare_.empty()) return staged_.try_emplace(std::string(url)).first->second;
    StagedMap::node_type node = std::move(spare_.back().node);
    spare_bytes_ -= spare_.back().bytes;
    spare_.pop_back();
    node.key().assign(url);
    node.mapped().unadopted = 0;
    return staged_.insert(std::move(node)).position->second;
  }
  // Empties staged_ into spare_ (what the bounds turn away is freed).
  void RecycleStaged() {
    while (!staged_.empty()) {
      StagedMap::node_type node = staged_.extract(staged_.begin());
      const size_t bytes = HeldBytes(node.mapped());
      if (spare_.size() < kMaxSpare && bytes <= kMaxSpareBytes &&
          spare_bytes_ + bytes <= kMaxSpareTotalBytes) {
        spare_bytes_ += bytes;
        spare_.push_back({std::move(node), bytes});
      }
    }
  }
  static size_t HeldBytes(const Staged& staged) {
    const UrlState& s = staged.state;
    size_t bytes = staged.record.capacity() + s.text.capacity() + s.title.capacity() +
                   s.canonical_url.capacity() + s.site.capacity() +
                   s.history.capacity() * sizeof(ContentHash128) +
                   (s.paragraph_hashes.capacity() + s.line_hashes.capacity()) * sizeof(uint64_t) +
                   s.sketch.capacity() * sizeof(uint32_t) +
                   s.versions.capacity() * sizeof(VersionRecord);
    for (const VersionRecord& v : s.versions) bytes += v.text.capacity() + v.copy_of.capacity();
    return bytes;
  }
  // Commit()'s, reused (its buffer keeps its capacity), up to this size.
  static constexpr size_t kKeptBatchBytes = 64u << 20;
  rocksdb::WriteBatch batch_;
  // Peek()'s, reused from call to call.
  std::string peek_key_;
  rocksdb::PinnableSlice peek_value_;
  UrlState peeked_;
  std::optional<StoreError> last_error_;
  bool needs_reopen_ = false;           // a write failed: RocksDB refuses writes until reopened
  bool unflushed_without_wal_ = false;  // the memtables may hold writes made without the WAL
  StoreError reopen_failure_{StoreErrorKind::kIo, ""};  // why db_ is null
};

}  // namespace

std::string_view StoreErrorKindName(StoreErrorKind kind) {
  switch (kind) {
    case StoreErrorKind::kNoSpace: return "no_space";
    case StoreErrorKind::kIo: return "io";
  }
  return "io";
}

StateStorePtr OpenRocksStore(const std::string& dir, const RocksStoreOptions& store_options,
                             std::string* error) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction(64 << 20);
  options.info_log = std::make_shared<ForwardingLogger>();
  options.listeners.push_back(std::make_shared<ManualRecovery>());
  // With the WAL, it holds everything written (the store is a cache:
  // docs/delivery.md), so closing needs no write: a close on a full volume
  // cannot fail half way. Without it, closing flushes the memtables (a flush
  // that fails leaves the store behind the changelog, which is allowed).
  options.avoid_flush_during_shutdown = !store_options.disable_wal;
  // Without the WAL a crash loses the memtables not yet flushed. With one
  // column family that is a suffix of whole write batches: a batch goes into
  // one memtable (memtables switch between writes), and flushes are installed
  // in the order the memtables were created. Not atomic_flush, which RocksDB
  // documents for this (issue #9338) with several column families: with
  // librocksdb 7.8.3 it hung flushes on a full volume and lost a commit
  // after a resume (state_full_disk_test); docs/delivery.md.
  // The values are zstd-compressed already (EncodeUrlState): RocksDB's block
  // compression (LZ4/Snappy from level 2 on, as OptimizeLevelStyleCompaction
  // sets it) would cost CPU on every compaction and block read for almost
  // no space (docs/benchmarks.md, "Loop overhead, issue #12").
  options.compression = rocksdb::kNoCompression;
  // Bloom filters, in the tables and the memtables: about half of the pages
  // of a crawl are new URLs, and the detector looks each one up first
  // (Peek). Without a filter a miss searches the memtables and reads an
  // index and a data block of every level; with 10 bits per key it reads
  // almost nothing (docs/delivery.md, "Run loop cost").
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
  options.compression_per_level.clear();
  // Most states are a few KiB (their texts) behind a key of ~60 bytes, and
  // every compaction that moves a table down a level copies its values
  // again: with the store growing, RocksDB's background threads became the
  // largest cost of `run` after detection (0.012-0.021 ms a page in the
  // second half of a 30,000-page run: a fifth to a third of what `scan`
  // spends on the page).
  // In blob files a value is written once, at the flush; compactions move
  // the key and a reference, and the garbage collection relocates only the
  // live values of the oldest quarter of the blob files (RocksDB's default
  // cutoff) when a compaction reaches them. Values are compressed already
  // (no blob compression). docs/delivery.md, "Blob files"; figures in
  // docs/benchmarks.md, "Session 14".
  if (store_options.blob_min_bytes > 0) {
    options.enable_blob_files = true;
    options.min_blob_size = store_options.blob_min_bytes;
    options.enable_blob_garbage_collection = true;
  }
  // Created first: RocksDB logs an error for a missing directory even when
  // it goes on to create it.
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok()) {
    if (error != nullptr) *error = "cannot open state store in '" + dir + "': " + status.ToString();
    return nullptr;
  }
  return std::make_unique<RocksStore>(dir, options, store_options,
                                      std::unique_ptr<rocksdb::DB>(raw));
}

StateStorePtr OpenRocksStore(const std::string& dir, std::string* error) {
  return OpenRocksStore(dir, RocksStoreOptions{}, error);
}

}  // namespace dedupd::state
