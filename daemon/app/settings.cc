#include "app/settings.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace dedupd::app {

classify::DetectOptions DetectOptionsFrom(const config::Config& cfg) {
  classify::DetectOptions o;
  o.shingle_k = static_cast<int>(cfg.GetInt("detect.shingle_k"));
  o.simhash_distance = static_cast<int>(cfg.GetInt("detect.simhash_distance"));
  o.near_dup_containment = cfg.GetDouble("detect.near_dup_containment");
  o.near_dup_jaccard = cfg.GetDouble("detect.near_dup_jaccard");
  o.passage_min_chars = static_cast<size_t>(cfg.GetInt("detect.passage_min_chars"));
  o.passage_sample = static_cast<size_t>(cfg.GetInt("detect.passage_sample"));
  o.max_candidates = static_cast<size_t>(cfg.GetInt("detect.max_candidates"));
  o.confirm_sketch_size = static_cast<size_t>(cfg.GetInt("detect.confirm_sketch_size"));
  o.confirm_from_text = o.confirm_sketch_size == 0;
  o.revert_history = static_cast<size_t>(cfg.GetInt("detect.revert_history"));
  o.history_versions = static_cast<size_t>(cfg.GetInt("state.history_versions"));
  o.repeats.min_run_blocks = static_cast<size_t>(cfg.GetInt("detect.repeat_min_blocks"));
  o.repeats.min_run_chars = static_cast<size_t>(cfg.GetInt("detect.repeat_min_chars"));
  o.boilerplate.min_pages = static_cast<uint32_t>(cfg.GetInt("detect.boilerplate_min_pages"));
  o.boilerplate.max_lines_per_site =
      static_cast<size_t>(cfg.GetInt("detect.boilerplate_max_lines_per_site"));
  return o;
}

PipelineOptions PipelineOptionsFrom(const config::Config& cfg) {
  PipelineOptions o;
  o.format = cfg.Get("output.format") == "json" ? emit::OutputFormat::kJson
                                                : emit::OutputFormat::kProtobuf;
  o.parse.max_message_bytes = static_cast<size_t>(cfg.GetInt("processing.max_message_bytes"));
  o.parse.max_body_bytes = static_cast<size_t>(cfg.GetInt("processing.max_body_bytes"));
  o.dlq_max_original_bytes = static_cast<size_t>(cfg.GetInt("dlq.max_original_bytes"));
  return o;
}

api::ApiOptions ApiOptionsFrom(const config::Config& cfg) {
  const classify::DetectOptions detect = DetectOptionsFrom(cfg);
  api::ApiOptions o;
  o.shingle_k = detect.shingle_k;
  o.diff = detect.diff;
  o.history_versions = detect.history_versions;
  return o;
}

metrics::HttpServerOptions HttpServerOptionsFrom(const config::Config& cfg) {
  metrics::HttpServerOptions o;
  o.threads = static_cast<int>(cfg.GetInt("http.threads"));
  o.request_timeout_ms = static_cast<int>(cfg.GetInt("http.request_timeout_ms"));
  o.max_request_bytes = static_cast<int>(cfg.GetInt("http.max_request_bytes"));
  o.max_query_bytes = static_cast<int>(cfg.GetInt("http.max_query_bytes"));
  return o;
}

std::string ExternalUrl(const config::Config& cfg, int port) {
  std::string url = cfg.Get("http.external_url");
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

metrics::OwnerRoutingOptions OwnerRoutingOptionsFrom(const config::Config& cfg, int port) {
  metrics::OwnerRoutingOptions o;
  o.self_url = ExternalUrl(cfg, port);
  const std::string peers = cfg.Get("http.peers");
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
  o.peer_timeout = std::chrono::milliseconds(cfg.GetInt("http.peer_timeout_ms"));
  return o;
}

}  // namespace dedupd::app
