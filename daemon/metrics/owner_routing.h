// Several instances (issue #13 item 3): each URL belongs to the instance that
// owns its input partition; any instance answers any request for a URL by
// answering itself when it owns the URL, else by redirecting (307) to the
// owner, which it finds by asking the other instances (http.peers) in
// parallel: GET <peer>/v1/owner?url=U answers 200 {"owner": "<its base URL>"}
// only on the owner. When no peer claims the URL (unknown URL, the owner down
// or slow, or a rebalance in flight), this instance answers itself, from its
// store: the URLs it owns or owned (the other instances' are in memory only,
// docs/delivery.md "What is stored where"); the handler answers 404 for a URL
// it does not have. docs/api.md, "Several instances".
//
//   OwnerRouter router(OwnerRoutingOptionsFrom(cfg, port),
//                      [&](const std::string& url) { return ownership.Owns(url); });
//   router.Register(&server);                                    // GET /v1/owner
//   server.Handle("/v1/pages", router.RouteToOwner(PagesHandler));  // needs ?url=
//
// Thread-safety: after construction all methods are const and may run on
// any number of server threads at once; the OwnsUrl predicate must be
// thread-safe (it runs on the server's worker threads).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "metrics/http_server.h"

namespace dedupd::metrics {

struct OwnerRoutingOptions {
  std::string self_url;            // this instance's base URL (http.external_url)
  std::vector<std::string> peers;  // the others' base URLs (http.peers), without self_url
  std::chrono::milliseconds peer_timeout{1000};  // http.peer_timeout_ms
};

class OwnerRouter {
 public:
  // True when this instance owns `url` now (its input partition is assigned
  // here and the URL is in this instance's state).
  using OwnsUrl = std::function<bool(const std::string& url)>;

  OwnerRouter(OwnerRoutingOptions options, OwnsUrl owns);

  // GET /v1/owner?url=U: 200 {"url": U, "owner": self_url} when this instance
  // owns U, 404 JSON otherwise, 400 JSON without url. Never asks the peers.
  HttpResponse OwnerEndpoint(const HttpRequest& request) const;
  // Registers OwnerEndpoint as /v1/owner, and /v1/locate, routed through
  // RouteToOwner: 200 {"url", "instance": the base URL of the instance that
  // answered, "owned": true} on the owner (a request elsewhere is redirected
  // there); 404 JSON when no instance owns the URL.
  void Register(HttpServer* server) const;

  // Wraps a handler of requests that carry ?url=: the handler runs here when
  // this instance owns the URL or no peer claims it; otherwise the answer is
  // 307 to <owner>/<same path>?<same query>. A request without url goes
  // straight to the handler (it answers the 400).
  HttpServer::Handler RouteToOwner(HttpServer::Handler handler) const;

  // The base URL of the peer that owns `url`, asking all peers in parallel,
  // each for at most peer_timeout; nullopt when none claims it.
  std::optional<std::string> FindOwner(const std::string& url) const;

  const OwnerRoutingOptions& options() const { return options_; }

 private:
  OwnerRoutingOptions options_;
  OwnsUrl owns_;
};

}  // namespace dedupd::metrics
