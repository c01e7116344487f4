// HttpFront: the HTTP side of `dedupd run`: /metrics, /healthz and /readyz
// (delivery::Health), /v1/owner and the routing of each API request to the
// instance that owns its URL (metrics::OwnerRouter over an OwnershipIndex),
// and the read-only API and /ui/page (api::Api over the state store, served
// once the store is open).
//
//   HttpFront front(cfg);
//   if (!front.Start(cfg, health)) exit;          // metrics.port 0: nothing
//   front.ServeApi(store, ApiOptionsFrom(cfg));   // once the store is open
//   front.ownership().Assign({0, 3});             // the loop's hooks
//   front.Stop();                                  // before what it reads goes
//
// Thread-safety: the server's threads read the ownership, the API and the
// health; Start/ServeApi/Stop from the daemon's thread.
#pragma once

#include <atomic>
#include <memory>

#include "api/api.h"
#include "api/copy_index.h"
#include "app/ownership.h"
#include "config/config.h"
#include "delivery/health.h"
#include "metrics/http_server.h"
#include "metrics/owner_routing.h"
#include "state/store.h"

namespace dedupd::app {

class HttpFront {
 public:
  explicit HttpFront(const config::Settings& cfg);
  ~HttpFront() { Stop(); }

  // Registers every handler and starts the server on metrics.bind:port;
  // false (logged) when it cannot listen.
  bool Start(const config::Settings& cfg, const delivery::Health& health);
  void ServeApi(state::StateStore* store, api::ApiOptions options);
  void Stop() { http_.Stop(); }

  OwnershipIndex& ownership() { return ownership_; }
  api::CopyIndex& copies() { return copies_; }  // the detector's observer feeds it

 private:
  // Used by the server's threads: declared before http_ so that they outlive it.
  OwnershipIndex ownership_;
  std::unique_ptr<metrics::OwnerRouter> router_;
  api::CopyIndex copies_{api::kCopyIndexEdges};  // reverse copy edges for the API
  std::unique_ptr<api::Api> api_;                // read-only
  std::atomic<const api::Api*> api_ready_{nullptr};
  metrics::HttpServer http_;
};

}  // namespace dedupd::app
