// Maps the typed settings (config/settings.h) onto the options of each stage,
// so a stage never sees the configuration, let alone its keys.
//
//   classify::Detector detector(DetectOptionsFrom(cfg.settings()), store);
//
// Thread-safety: pure functions.
#pragma once

#include "api/api.h"
#include "classify/detector.h"
#include "config/settings.h"
#include "delivery/topics.h"
#include "metrics/http_server.h"
#include "metrics/owner_routing.h"
#include "pipeline/pipeline.h"

namespace dedupd::app {

classify::DetectOptions DetectOptionsFrom(const config::Settings& cfg);
// The API's options from the same settings (shingles, diff, history_versions).
api::ApiOptions ApiOptionsFrom(const config::Settings& cfg);
PipelineOptions PipelineOptionsFrom(const config::Settings& cfg);
metrics::HttpServerOptions HttpServerOptionsFrom(const config::Settings& cfg);
// http.external_url, or http://HOSTNAME:PORT when it is empty (PORT: the
// server's actual port, so `--metrics-port 0` advertises the right one).
std::string ExternalUrl(const config::Settings& cfg, int port);
metrics::OwnerRoutingOptions OwnerRoutingOptionsFrom(const config::Settings& cfg, int port);
// The topics `dedupd run` prepares at start (topics.*, kafka.create_topics,
// kafka.partitions, kafka.replication_factor).
delivery::TopicPlan TopicPlanFrom(const config::Settings& cfg);

}  // namespace dedupd::app
