#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

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
  const UrlState* Peek(std::string_view url) override {
    if (auto it = staged_.find(url); it != staged_.end()) return &it->second;
    if (auto it = committed_.find(url); it != committed_.end()) return &it->second;
    return nullptr;
  }
  std::optional<UrlState> GetCommitted(std::string_view url) override {
    std::lock_guard lock(committed_mutex_);
    if (auto it = committed_.find(std::string(url)); it != committed_.end()) return it->second;
    return std::nullopt;
  }
  // The state is copied into a staged node: one an earlier Commit() or
  // Rollback() left (its key and state assigned, their buffers reused) when
  // there is one, so that a URL seen again allocates nothing.
  void Put(const UrlState& s) override {
    if (auto it = staged_.find(s.canonical_url); it != staged_.end()) {
      it->second = s;
      return;
    }
    if (spare_.empty()) {
      staged_.emplace(s.canonical_url, s);
      return;
    }
    Map::node_type node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = s.canonical_url;
    node.mapped() = s;
    staged_.insert(std::move(node));
  }
  // Staged nodes move into committed_ whole (a new URL), or swap their state
  // with the committed one (a URL already there) and are kept as spares.
  bool Commit(const std::map<std::string, std::string>& metadata, std::string*) override {
    std::lock_guard lock(committed_mutex_);  // the owner's reads need none: it is the writer
    while (!staged_.empty()) {
      Map::node_type node = staged_.extract(staged_.begin());
      if (auto it = committed_.find(node.key()); it != committed_.end()) {
        std::swap(it->second, node.mapped());
        Keep(std::move(node));
      } else {
        committed_.insert(std::move(node));
      }
    }
    for (const auto& [k, v] : metadata) metadata_[k] = v;
    return true;
  }
  void Rollback() override {
    while (!staged_.empty()) Keep(staged_.extract(staged_.begin()));
  }
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

  // A few spare nodes: enough for the pages of one transaction to reuse the
  // last one's, without holding many old states' texts.
  void Keep(Map::node_type node) {
    if (spare_.size() < kMaxSpareNodes) spare_.push_back(std::move(node));
  }
  static constexpr size_t kMaxSpareNodes = 16;

  std::mutex committed_mutex_;  // committed_ written (Commit) vs GetCommitted()
  Map committed_;
  Map staged_;
  std::vector<Map::node_type> spare_;  // nodes whose buffers Put() reuses
  std::map<std::string, std::string> metadata_;
};

}  // namespace

StateStorePtr NewMemoryStore() {
  return std::make_unique<MemoryStore>();
}

}  // namespace dedupd::state
