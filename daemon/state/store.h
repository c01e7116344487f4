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
// A full volume is an error value, never an abort: the RocksDB store refuses
// a write while the free space of its volume is under a bound (so RocksDB is
// not driven into its out-of-space path), reports RocksDB's own ENOSPC as
// StoreErrorKind::kNoSpace, keeps the staged batch for a retry, and reopens
// RocksDB once space is back (docs/delivery.md, "Full disk"):
//
//   if (auto full = store->CheckWritable()) Wait(full->message);  // before a batch
//   if (!store->Commit(meta, &error) && store->LastError()) ...   // kept staged
//
// Thread-safety: not thread-safe; one store per pipeline, except
// GetCommitted(), which any thread may call at any time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "state/url_state.h"

namespace dedupd::state {

// Why the store cannot take a write.
enum class StoreErrorKind {
  kNoSpace,  // the volume's free space is under the bound, or a write hit ENOSPC
  kIo,       // any other write failure
};

struct StoreError {
  StoreErrorKind kind;
  std::string message;  // names the directory, the free space and what to do
};

std::string_view StoreErrorKindName(StoreErrorKind kind);  // "no_space" | "io"

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Reads see staged writes.
  virtual std::optional<UrlState> Get(std::string_view canonical_url) = 0;
  // The committed state of a URL (staged writes not seen). The one method
  // that is thread-safe: the HTTP API's threads call it while the owner
  // writes (docs/api.md).
  virtual std::optional<UrlState> GetCommitted(std::string_view canonical_url) = 0;
  // What Get() returns, without copying it where the store can: MemoryStore
  // points into its map; a store that keeps states serialised decodes into
  // a state it keeps (by default: Get()'s copy). Valid until the next call of
  // any method of the store. The detector reads a replaced version or an
  // exact copy's state this way once per page (issue #11 item 3).
  virtual const UrlState* Peek(std::string_view canonical_url) {
    peeked_ = Get(canonical_url);
    return peeked_ ? &*peeked_ : nullptr;
  }
  virtual void Put(const UrlState& state) = 0;
  // Put(*state), where the store may take *state's buffers instead of
  // copying them (MemoryStore). True when it did: *state then holds the
  // buffers of a state the store no longer needs, or none, its contents
  // unspecified (clear them before use). False when it did what Put() does
  // and left *state as it was (the default).
  virtual bool PutTaking(UrlState* state) {
    Put(*state);
    return false;
  }
  // The serialised state (EncodeUrlState) staged for this URL by the last
  // Put(), when the store keeps states serialised (RocksStore encodes at
  // Put()); nullptr otherwise. `dedupd run` sends these bytes as the state
  // changelog record, so that a state is encoded and compressed once for
  // the store and the changelog (issue #12). Valid until the next Put() of
  // the URL, Commit() or Rollback().
  virtual const std::string* StagedRecord(std::string_view canonical_url) const {
    (void)canonical_url;
    return nullptr;
  }
  // `dedupd run` with workers (docs/delivery.md, "Workers"): from now on
  // Put() stages a state without encoding it, and the caller hands the
  // encoded bytes over with AdoptRecord(), made on another thread, in the
  // order of the Put()s; a state Put() again since, or never adopted, is
  // encoded at Commit(). StagedRecord() is nullptr until adopted. No effect
  // on a store that does not keep states serialised.
  virtual void DeferEncoding() {}
  // EncodeUrlState() of the state of one Put() of this URL, in the order of
  // the Put()s; ignored when the URL has no staged state.
  virtual void AdoptRecord(std::string_view canonical_url, std::string record) {
    (void)canonical_url;
    (void)record;
  }
  // Applies staged writes together with metadata entries (e.g. changelog
  // offsets). Returns false with *error on an I/O failure or when the store
  // refuses the write for lack of space (LastError() says which); the staged
  // writes are then kept, for a retry or a Rollback().
  virtual bool Commit(const std::map<std::string, std::string>& metadata, std::string* error) = 0;
  // nullopt when a Commit() can go ahead now: the volume has the free space
  // the store requires and no failed write left it read-only. A store that a
  // failed write left read-only is reopened here once the space is back.
  virtual std::optional<StoreError> CheckWritable() { return std::nullopt; }
  // Why the last Commit() failed; nullopt after one that succeeded.
  virtual std::optional<StoreError> LastError() const { return std::nullopt; }
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

 private:
  std::optional<UrlState> peeked_;  // Peek()'s, for stores that do not override it
};

using StateStorePtr = std::unique_ptr<StateStore>;

StateStorePtr NewMemoryStore();
struct RocksStoreOptions {
  // A write is refused (kNoSpace) while the free space of the store's volume
  // is under this many bytes (the setting state.min_free_bytes); 0: only
  // RocksDB's own ENOSPC stops writes.
  uint64_t min_free_bytes = 0;
  // No RocksDB write-ahead log (`dedupd run`: the store is a cache of the
  // Kafka changelog, and every write carries the offsets it reflects, so a
  // crash that loses the last writes leaves it behind, never inconsistent;
  // docs/delivery.md, "The store is a cache"). The memtables are flushed at
  // close. While the volume has less free space than min_free_bytes plus
  // what the memtables can hold, writes use the WAL again (after a flush of
  // those made without it), so that a full volume shows at the commit that
  // meets it. Never for `dedupd scan --state-dir`, whose store is the only
  // copy.
  bool disable_wal = false;
  // States whose stored record is at least this many bytes go to RocksDB's
  // blob files (the setting state.blob_min_bytes): written once, at the
  // flush, where the tables would copy them again at every compaction that
  // moves them down a level; the tables keep the key and a reference. 0:
  // every state in the tables (docs/delivery.md, "Blob files").
  uint64_t blob_min_bytes = 1024;
};

// Opens (creating if needed) a RocksDB store in `dir`; nullptr with *error.
StateStorePtr OpenRocksStore(const std::string& dir, const RocksStoreOptions& options,
                             std::string* error);
StateStorePtr OpenRocksStore(const std::string& dir, std::string* error);

}  // namespace dedupd::state
