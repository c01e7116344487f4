#include "app/settings.h"

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

}  // namespace dedupd::app
