#include <functional>
#include <mutex>
#include <string_view>
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
    if (auto it = committed_.find(url); it != committed_.end()) return it->second;
    return std::nullopt;
  }
  // The state is copied into a staged node: one an earlier Commit() or
  // Rollback() left (its state assigned, its buffers reused) when there is
  // one, so that a URL seen again allocates nothing.
  void Put(const UrlState& s) override {
    Map::node_type node;
    if (auto it = staged_.find(s.canonical_url); it != staged_.end()) {
      node = staged_.extract(it);
      node.mapped() = s;
    } else if (!spare_.empty()) {
      node = std::move(spare_.back());
      spare_.pop_back();
      node.mapped() = s;
    } else {
      // A new node, keyed for now by the caller's URL, then by its own.
      node = staged_.extract(staged_.emplace(s.canonical_url, s).first);
    }
    Stage(std::move(node));
  }
  // As Put(), without the copy: the state is swapped into the node, and
  // *s gets the node's old one (a spare's: a state Commit() replaced or
  // Rollback() dropped), whose buffers the caller's next state reuses. A
  // new URL with no spare left costs the node alone.
  bool PutTaking(UrlState* s) override {
    Map::node_type node;
    if (auto it = staged_.find(s->canonical_url); it != staged_.end()) {
      node = staged_.extract(it);
    } else if (!spare_.empty()) {
      node = std::move(spare_.back());
      spare_.pop_back();
    } else {
      node = staged_.extract(staged_.try_emplace(s->canonical_url).first);
    }
    std::swap(node.mapped(), *s);
    Stage(std::move(node));
    return true;
  }
  // Staged nodes move into committed_ whole (a new URL), or swap their state
  // with the committed one (a URL already there) and are kept as spares.
  bool Commit(const std::map<std::string, std::string>& metadata, std::string*) override {
    std::lock_guard lock(committed_mutex_);  // the owner's reads need none: it is the writer
    while (!staged_.empty()) {
      Map::node_type node = staged_.extract(staged_.begin());
      if (auto it = committed_.find(node.key()); it != committed_.end()) {
        std::swap(it->second, node.mapped());
        // The URLs are equal: each node takes its own back, which its key
        // views.
        std::swap(it->second.canonical_url, node.mapped().canonical_url);
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
  struct UrlHash {
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // A node's key views its own state's canonical_url (a node's state never
  // moves; Stage() points the key at it, Commit() keeps each node's URL in
  // it): the URL is held once, and a new URL costs one allocation less.
  using Map = std::unordered_map<std::string_view, UrlState, UrlHash>;

  void Stage(Map::node_type node) {
    node.key() = node.mapped().canonical_url;
    staged_.insert(std::move(node));
  }

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
