#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <unordered_map>

#include "state/store.h"

namespace dedupd::state {
namespace {

// Keys: "u/<canonical url>" -> EncodeUrlState; "m/<name>" -> metadata.
constexpr std::string_view kUrlPrefix = "u/";
constexpr std::string_view kMetaPrefix = "m/";

class RocksStore final : public StateStore {
 public:
  explicit RocksStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
  ~RocksStore() override {
    if (db_) db_->Close();
  }

  std::optional<UrlState> Get(std::string_view url) override {
    std::string key(url);
    if (auto it = staged_.find(key); it != staged_.end()) return it->second;
    std::string value;
    auto status = db_->Get(rocksdb::ReadOptions(), std::string(kUrlPrefix) + key, &value);
    if (!status.ok()) return std::nullopt;
    UrlState s;
    if (!DecodeUrlState(value, &s)) return std::nullopt;  // corrupt entry: treated as unseen
    return s;
  }
  void Put(const UrlState& s) override { staged_[s.canonical_url] = s; }
  bool Commit(const std::map<std::string, std::string>& metadata, std::string* error) override {
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : staged_) batch.Put(std::string(kUrlPrefix) + k, EncodeUrlState(v));
    for (const auto& [k, v] : metadata) batch.Put(std::string(kMetaPrefix) + k, v);
    auto status = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!status.ok()) {
      if (error != nullptr) *error = status.ToString();
      return false;
    }
    staged_.clear();
    return true;
  }
  void Rollback() override { staged_.clear(); }
  std::optional<std::string> GetMetadata(std::string_view key) override {
    std::string value;
    if (!db_->Get(rocksdb::ReadOptions(), std::string(kMetaPrefix) + std::string(key), &value)
             .ok()) {
      return std::nullopt;
    }
    return value;
  }
  void ForEach(const std::function<bool(const UrlState&)>& visit, TextPart text) override {
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
    uint64_t bytes = 0;
    db_->GetIntProperty("rocksdb.total-sst-files-size", &bytes);
    uint64_t mem = 0;
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    return bytes + mem;
  }
  size_t Count() override {
    uint64_t n = 0;
    db_->GetIntProperty("rocksdb.estimate-num-keys", &n);
    return n;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::unordered_map<std::string, UrlState> staged_;
};

}  // namespace

StateStorePtr OpenRocksStore(const std::string& dir, std::string* error) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction(64 << 20);
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok()) {
    if (error != nullptr) *error = "cannot open state store in '" + dir + "': " + status.ToString();
    return nullptr;
  }
  return std::make_unique<RocksStore>(std::unique_ptr<rocksdb::DB>(raw));
}

}  // namespace dedupd::state
