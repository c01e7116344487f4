#include "app/settings.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace dedupd::app {

classify::DetectOptions DetectOptionsFrom(const config::Settings& cfg) {
  classify::DetectOptions o;
  o.shingle_k = cfg.detect.shingle_k;
  o.simhash_distance = cfg.detect.simhash_distance;
  o.near_dup_containment = cfg.detect.near_dup_containment;
  o.near_dup_jaccard = cfg.detect.near_dup_jaccard;
  o.passage_min_chars = cfg.detect.passage_min_chars;
  o.passage_sample = cfg.detect.passage_sample;
  o.max_candidates = cfg.detect.max_candidates;
  o.confirm_sketch_size = cfg.detect.confirm_sketch_size;
  o.confirm_from_text = o.confirm_sketch_size == 0;
  o.revert_history = cfg.detect.revert_history;
  o.history_versions = cfg.state.history_versions;
  o.repeats.min_run_blocks = cfg.detect.repeat_min_blocks;
  o.repeats.min_run_chars = cfg.detect.repeat_min_chars;
  o.boilerplate.min_pages = cfg.detect.boilerplate_min_pages;
  o.boilerplate.max_lines_per_site = cfg.detect.boilerplate_max_lines_per_site;
  return o;
}

PipelineOptions PipelineOptionsFrom(const config::Settings& cfg) {
  PipelineOptions o;
  o.format = cfg.output.format == config::OutputFormat::kJson ? emit::OutputFormat::kJson
                                                              : emit::OutputFormat::kProtobuf;
  o.parse.max_message_bytes = cfg.processing.max_message_bytes;
  o.parse.max_body_bytes = cfg.processing.max_body_bytes;
  o.dlq_max_original_bytes = cfg.dlq.max_original_bytes;
  return o;
}

api::ApiOptions ApiOptionsFrom(const config::Settings& cfg) {
  const classify::DetectOptions detect = DetectOptionsFrom(cfg);
  api::ApiOptions o;
  o.shingle_k = detect.shingle_k;
  o.diff = detect.diff;
  o.history_versions = detect.history_versions;
  return o;
}

metrics::HttpServerOptions HttpServerOptionsFrom(const config::Settings& cfg) {
  metrics::HttpServerOptions o;
  o.threads = cfg.http.threads;
  o.request_timeout_ms = static_cast<int>(cfg.http.request_timeout.count());
  o.max_request_bytes = cfg.http.max_request_bytes;
  o.max_query_bytes = cfg.http.max_query_bytes;
  return o;
}

std::string ExternalUrl(const config::Settings& cfg, int port) {
  std::string url = cfg.http.external_url;
  if (url.empty()) {
    char host[256] = {0};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      std::snprintf(host, sizeof host, "localhost");
    }
    url = std::string("http://") + host + ":" + std::to_string(port);
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

metrics::OwnerRoutingOptions OwnerRoutingOptionsFrom(const config::Settings& cfg, int port) {
  metrics::OwnerRoutingOptions o;
  o.self_url = ExternalUrl(cfg, port);
  const std::string peers = cfg.http.peers;
  size_t start = 0;
  while (start <= peers.size()) {
    size_t comma = peers.find(',', start);
    std::string peer =
        peers.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!peer.empty() && (peer.front() == ' ' || peer.front() == '\t')) peer.erase(0, 1);
    while (!peer.empty() && (peer.back() == ' ' || peer.back() == '\t' || peer.back() == '/')) {
      peer.pop_back();
    }
    if (!peer.empty() && peer != o.self_url) o.peers.push_back(peer);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  o.peer_timeout = cfg.http.peer_timeout;
  return o;
}

delivery::TopicPlan TopicPlanFrom(const config::Settings& cfg) {
  return {cfg.topics.input,
          cfg.topics.state,
          cfg.topics.fingerprints,
          {cfg.topics.events, cfg.topics.diffs, cfg.topics.dlq},
          cfg.kafka.create_topics,
          cfg.kafka.partitions,
          cfg.kafka.replication_factor};
}

}  // namespace dedupd::app
