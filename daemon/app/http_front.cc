#include "app/http_front.h"

#include <string>
#include <utility>

#include "app/settings.h"
#include "common/log.h"

namespace dedupd::app {

HttpFront::HttpFront(const config::Settings& cfg) : http_(HttpServerOptionsFrom(cfg)) {}

bool HttpFront::Start(const config::Settings& cfg, const delivery::Health& health) {
  const int port = cfg.metrics.port;
  if (port <= 0) return true;
  health.Register(&http_);
  // Several instances: /v1/owner answers for the URLs this instance owns;
  // the API's handlers are registered through router_->RouteToOwner().
  router_ = std::make_unique<metrics::OwnerRouter>(
      OwnerRoutingOptionsFrom(cfg, port),
      [this](const std::string& url) { return ownership_.Owns(url); });
  router_->Register(&http_);
  // The API and /ui/page (docs/api.md), each request routed to the URL's owner.
  api::Api::RegisterDeferred(&http_, &api_ready_, [this](metrics::HttpHandler handler) {
    return router_->RouteToOwner(std::move(handler));
  });
  if (std::string error; !http_.Start(cfg.metrics.bind, port, &error)) {
    log::Error("cannot start the metrics server", {{"error", error}});
    return false;
  }
  log::Info("metrics", {{"url", "http://" + cfg.metrics.bind + ":" + std::to_string(http_.port()) +
                                    "/metrics"}});
  return true;
}

void HttpFront::ServeApi(state::StateStore* store, api::ApiOptions options) {
  api_ = std::make_unique<api::Api>(store, &copies_, std::move(options));
  api_ready_.store(api_.get(), std::memory_order_release);
}

}  // namespace dedupd::app
