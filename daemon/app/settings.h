// Maps the loaded configuration onto the typed options of each stage, so a
// stage never reads configuration keys itself.
#pragma once

#include "api/api.h"
#include "app/pipeline.h"
#include "classify/detector.h"
#include "config/config.h"
#include "metrics/http_server.h"
#include "metrics/owner_routing.h"

namespace dedupd::app {

classify::DetectOptions DetectOptionsFrom(const config::Config& cfg);
// The API's options from the same settings (shingles, diff, history_versions).
api::ApiOptions ApiOptionsFrom(const config::Config& cfg);
PipelineOptions PipelineOptionsFrom(const config::Config& cfg);
metrics::HttpServerOptions HttpServerOptionsFrom(const config::Config& cfg);
// http.external_url, or http://HOSTNAME:PORT when it is empty (PORT: the
// server's actual port, so `--metrics-port 0` advertises the right one).
std::string ExternalUrl(const config::Config& cfg, int port);
metrics::OwnerRoutingOptions OwnerRoutingOptionsFrom(const config::Config& cfg, int port);

}  // namespace dedupd::app
