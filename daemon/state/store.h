// StateStore: where per-URL state lives. An edge of the system, so it is an
// interface: MemoryStore for tests and throw-away scans, RocksStore for the
// daemon (data directory). Writes are staged in a batch and applied by
// Commit(), so that the Kafka transaction that carries the same changes can
// commit first (exactly-once; docs/delivery.md).
//
//   auto store = OpenRocksStore("/var/lib/dedupd", &error);
//   store->Put(state);            // staged
//   store->Commit(meta);          // durable, atomically with the metadata
//
// Thread-safety: not thread-safe; one store per pipeline.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "state/url_state.h"

namespace dedupd::state {

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Reads see staged writes.
  virtual std::optional<UrlState> Get(std::string_view canonical_url) = 0;
  virtual void Put(const UrlState& state) = 0;
  // Applies staged writes together with metadata entries (e.g. changelog
  // offsets). Returns false with *error on an I/O failure.
  virtual bool Commit(const std::map<std::string, std::string>& metadata, std::string* error) = 0;
  // Drops staged writes.
  virtual void Rollback() = 0;
  virtual std::optional<std::string> GetMetadata(std::string_view key) = 0;
  // Visits every committed state (for rebuilding indexes at start). Stops
  // when the visitor returns false. With TextPart::kSkipIfIndexed a store
  // that keeps states serialised may leave `text` empty where the state
  // carries its line hashes (line_hashes_known): a start-up that only rebuilds
  // the indexes and the boilerplate model needs no text.
  virtual void ForEach(const std::function<bool(const UrlState&)>& visit, TextPart text) = 0;
  virtual size_t ApproximateBytes() = 0;
  virtual size_t Count() = 0;
};

using StateStorePtr = std::unique_ptr<StateStore>;

StateStorePtr NewMemoryStore();
// Opens (creating if needed) a RocksDB store in `dir`; nullptr with *error.
StateStorePtr OpenRocksStore(const std::string& dir, std::string* error);

}  // namespace dedupd::state
