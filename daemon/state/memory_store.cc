#include <functional>
#include <mutex>
#include <unordered_map>

#include "state/store.h"

namespace dedupd::state {
namespace {

class MemoryStore final : public StateStore {
 public:
  std::optional<UrlState> Get(std::string_view url) override {
    if (auto it = staged_.find(url); it != staged_.end()) return it->second;
    if (auto it = committed_.find(url); it != committed_.end()) return it->second;
    return std::nullopt;
  }
  std::optional<UrlState> GetCommitted(std::string_view url) override {
    std::lock_guard lock(committed_mutex_);
    if (auto it = committed_.find(std::string(url)); it != committed_.end()) return it->second;
    return std::nullopt;
  }
  void Put(const UrlState& s) override { staged_[s.canonical_url] = s; }
  bool Commit(const std::map<std::string, std::string>& metadata, std::string*) override {
    std::lock_guard lock(committed_mutex_);  // the owner's reads need none: it is the writer
    for (auto& [k, v] : staged_) committed_[k] = std::move(v);
    staged_.clear();
    for (const auto& [k, v] : metadata) metadata_[k] = v;
    return true;
  }
  void Rollback() override { staged_.clear(); }
  std::optional<std::string> GetMetadata(std::string_view key) override {
    auto it = metadata_.find(std::string(key));
    if (it == metadata_.end()) return std::nullopt;
    return it->second;
  }
  void ForEach(const std::function<bool(const UrlState&)>& visit, TextPart) override {
    for (const auto& [k, v] : committed_) {
      if (!visit(v)) return;
    }
  }
  size_t ApproximateBytes() override {
    size_t bytes = 0;
    for (const auto& [k, v] : committed_) bytes += k.size() + v.text.size() + 128;
    return bytes;
  }
  size_t Count() override { return committed_.size(); }

 private:
  // Looked up by string_view (C++20 heterogeneous lookup): no key string
  // built per Get().
  struct UrlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, UrlState, UrlHash, std::equal_to<>>;
  std::mutex committed_mutex_;  // committed_ written (Commit) vs GetCommitted()
  Map committed_;
  Map staged_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace

StateStorePtr NewMemoryStore() {
  return std::make_unique<MemoryStore>();
}

}  // namespace dedupd::state
