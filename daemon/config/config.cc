#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace dedupd::config {
namespace {

constexpr double kMaxInt = 9.0e15;

// The one declaration of every setting. Keep config/dedupd.yaml in step: a
// unit test checks that it documents exactly these keys with these defaults.
const std::vector<Setting>& Table() {
  static const std::vector<Setting> table = {
      {"kafka.bootstrap_servers", Type::kString, "127.0.0.1:9092",
       "Kafka brokers, host:port[,host:port...]"},
      {"kafka.group_id", Type::kString, "dedupd", "Consumer group shared by all instances"},
      {"kafka.client_id", Type::kString, "dedupd", "client.id reported to the brokers"},
      {"kafka.transactional_id", Type::kString, "dedupd-0",
       "Transactional id of this instance slot (stable across restarts; one per instance)"},
      {"kafka.create_topics", Type::kBool, "true",
       "Create missing topics at start (input with kafka.partitions partitions, outputs alike)"},
      {"kafka.partitions", Type::kInt, "6", "Partitions of topics created at start", 1, 10000},
      {"kafka.replication_factor", Type::kInt, "1", "Replication factor of topics created at start",
       1, 16},
      {"kafka.statistics_interval_ms", Type::kInt, "5000",
       "librdkafka statistics interval (consumer lag metrics); 0 disables", 0, 3600000},
      {"topics.input", Type::kString, "pages", "Input topic of scraped pages (JSON)"},
      {"topics.events", Type::kString, "page-events", "PageEvent output topic"},
      {"topics.diffs", Type::kString, "page-diffs", "PageDiff output topic"},
      {"topics.dlq", Type::kString, "pages-dlq", "DeadLetter output topic"},
      {"topics.state", Type::kString, "dedupd-state",
       "Compacted per-URL state changelog, partitioned like the input; when not set anywhere: "
       "<kafka.group_id>-state"},
      {"topics.fingerprints", Type::kString, "dedupd-fingerprints",
       "Compacted fingerprints topic feeding every instance's global index; when not set "
       "anywhere: <kafka.group_id>-fingerprints"},
      {"processing.mode", Type::kEnum, "exactly_once",
       "exactly_once (Kafka transactions) or at_least_once (commit after delivery)", 0, 0,
       "exactly_once|at_least_once"},
      {"processing.batch_size", Type::kInt, "500", "Messages consumed per batch", 1, 100000},
      {"processing.commit_interval_ms", Type::kInt, "1000",
       "Commit (transaction) at least this often", 10, 600000},
      {"processing.commit_messages", Type::kInt, "2000",
       "Commit (transaction) after this many input messages", 1, 1000000},
      {"processing.max_message_bytes", Type::kInt, "9437184",
       "Input messages larger than this are dead-lettered as too_large", 1024, 1073741824},
      {"processing.max_body_bytes", Type::kInt, "8388608",
       "Bodies larger than this are dead-lettered as too_large", 1, 1073741824},
      {"detect.shingle_k", Type::kInt, "4", "Tokens per shingle (each CJK character, each word)", 1,
       16},
      {"detect.simhash_distance", Type::kInt, "3",
       "SimHash neighbourhood searched for near-duplicate candidates (bits of 64)", 0, 8},
      {"detect.near_dup_containment", Type::kDouble, "0.8",
       "Near duplicate: shared shingles / the smaller set, at least", 0, 1},
      {"detect.near_dup_jaccard", Type::kDouble, "0.3",
       "Near duplicate: shared shingles / union of the sets, at least", 0, 1},
      {"detect.passage_min_chars", Type::kInt, "24",
       "Sentences at least this long (characters) are passage fingerprints", 1, 100000},
      {"detect.passage_sample", Type::kInt, "8",
       "Passage fingerprints kept per page (the smallest hashes) for the candidate index", 1, 1024},
      {"detect.max_candidates", Type::kInt, "16", "Near-duplicate candidates confirmed per page", 1,
       1000},
      {"detect.confirm_sketch_size", Type::kInt, "64",
       "Shingle hashes kept per page (the smallest, 32-bit) to confirm near-duplicate candidates; "
       "0: re-fingerprint each candidate's stored text instead (slow; the reference)",
       0, 4096},
      {"detect.revert_history", Type::kInt, "8",
       "Earlier versions remembered per URL for the REVERTED flag", 0, 1000},
      {"detect.repeat_min_blocks", Type::kInt, "3",
       "A repeated run must span at least this many blocks", 1, 1000},
      {"detect.repeat_min_chars", Type::kInt, "200",
       "A repeated run must hold at least this many characters", 1, 10000000},
      {"detect.boilerplate_min_pages", Type::kInt, "3",
       "A line on at least this many pages of a site is boilerplate", 2, 1000000},
      {"detect.boilerplate_max_lines_per_site", Type::kInt, "8192",
       "Boilerplate table bound per site (counts halve when full)", 16, 100000000},
      {"state.dir", Type::kString, "./dedupd-state", "Directory of the embedded state store"},
      {"state.restore_timeout_ms", Type::kInt, "120000",
       "A state restore waits this long for a changelog partition without open transactions "
       "(and for progress) before the instance exits to be restarted",
       1000, 3600000},
      {"output.format", Type::kEnum, "protobuf", "Encoding of every output", 0, 0, "protobuf|json"},
      {"dlq.max_original_bytes", Type::kInt, "65536",
       "Bytes of the original message kept in a dead letter", 0, 1073741824},
      {"metrics.port", Type::kInt, "9464", "Port of /metrics, /healthz and /readyz; 0 disables", 0,
       65535},
      {"metrics.bind", Type::kString, "0.0.0.0", "Address the metrics server binds"},
      {"metrics.site_label_limit", Type::kInt, "50",
       "Distinct site label values before the rest count as \"other\"", 1, 10000},
      {"log.level", Type::kEnum, "info", "Lowest level logged", 0, 0, "debug|info|warn|error"},
      {"log.format", Type::kEnum, "text", "Log line format", 0, 0, "text|json"},
      {"shutdown.grace_period_ms", Type::kInt, "10000",
       "On SIGTERM: time to finish the batch and commit before exiting", 0, 600000},
      {"alertmanager.enabled", Type::kBool, "false",
       "Post each edited release to Alertmanager's /api/v2/alerts"},
      {"alertmanager.url", Type::kString, "http://127.0.0.1:9093", "Alertmanager base URL"},
      {"alertmanager.min_severity", Type::kEnum, "minor", "Lowest revision severity posted", 0, 0,
       "cosmetic|minor|major"},
      {"alertmanager.batch_size", Type::kInt, "50", "Alerts per POST", 1, 10000},
      {"alertmanager.timeout_ms", Type::kInt, "5000", "HTTP timeout per POST", 100, 600000},
      {"alertmanager.retries", Type::kInt, "3", "Retries per batch before it is dropped", 0, 100},
  };
  return table;
}

const Setting* Find(std::string_view key) {
  for (const auto& s : Table()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::string Expected(const Setting& s) {
  std::ostringstream out;
  switch (s.type) {
    case Type::kString: out << "a string"; break;
    case Type::kBool: out << "true or false"; break;
    case Type::kInt:
      out << "an integer from " << static_cast<long long>(s.min) << " to "
          << static_cast<long long>(s.max);
      break;
    case Type::kDouble: out << "a number from " << s.min << " to " << s.max; break;
    case Type::kEnum: out << "one of " << s.allowed; break;
  }
  return out.str();
}

// Returns the canonical text of the value, or an empty optional-like flag.
bool Check(const Setting& s, const std::string& value, std::string* canonical) {
  switch (s.type) {
    case Type::kString: *canonical = value; return true;
    case Type::kBool: {
      std::string v = value;
      std::transform(v.begin(), v.end(), v.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (v == "true" || v == "1" || v == "yes" || v == "on") {
        *canonical = "true";
        return true;
      }
      if (v == "false" || v == "0" || v == "no" || v == "off") {
        *canonical = "false";
        return true;
      }
      return false;
    }
    case Type::kInt: {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || n < s.min || n > s.max ||
          std::fabs(static_cast<double>(n)) > kMaxInt) {
        return false;
      }
      *canonical = std::to_string(n);
      return true;
    }
    case Type::kDouble: {
      char* end = nullptr;
      double d = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(d) || d < s.min ||
          d > s.max) {
        return false;
      }
      *canonical = value;
      return true;
    }
    case Type::kEnum: {
      std::string_view allowed = s.allowed;
      while (!allowed.empty()) {
        size_t bar = allowed.find('|');
        if (allowed.substr(0, bar) == value) {
          *canonical = value;
          return true;
        }
        if (bar == std::string_view::npos) break;
        allowed.remove_prefix(bar + 1);
      }
      return false;
    }
  }
  return false;
}

bool IsPassthrough(std::string_view key, std::string* rest) {
  for (std::string_view prefix : {"kafka.consumer.", "kafka.producer.", "kafka.common."}) {
    if (key.starts_with(prefix) && key.size() > prefix.size()) {
      *rest = std::string(key.substr(6));  // "consumer.<prop>"
      return true;
    }
  }
  return false;
}

void Flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* out,
             std::vector<std::string>* errors) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      std::string full = prefix.empty() ? key : prefix + "." + key;
      std::string rest;
      // librdkafka properties contain dots themselves: a nested map under
      // kafka.consumer is flattened the same way, so both spellings work.
      Flatten(kv.second, full, out, errors);
    }
  } else if (node.IsScalar()) {
    out->emplace_back(prefix, node.Scalar());
  } else if (node.IsNull()) {
    out->emplace_back(prefix, "");
  } else {
    errors->push_back(prefix + ": expected a scalar value, found a list");
  }
}

}  // namespace

const std::vector<Setting>& AllSettings() {
  return Table();
}

const std::string& Config::Get(std::string_view key) const {
  static const std::string kEmpty;
  auto it = values_.find(std::string(key));
  return it == values_.end() ? kEmpty : it->second;
}

int64_t Config::GetInt(std::string_view key) const {
  return std::stoll(Get(key));
}
double Config::GetDouble(std::string_view key) const {
  return std::stod(Get(key));
}
bool Config::GetBool(std::string_view key) const {
  return Get(key) == "true";
}

std::map<std::string, std::string> Config::KafkaProperties(std::string_view role) const {
  std::map<std::string, std::string> props;
  for (const auto& [k, v] : passthrough_) {
    if (k.starts_with("common.")) props[k.substr(7)] = v;
  }
  std::string prefix = std::string(role) + ".";
  for (const auto& [k, v] : passthrough_) {
    if (k.starts_with(prefix)) props[k.substr(prefix.size())] = v;
  }
  return props;
}

bool LoadConfig(const std::string& yaml_path, char** environ_vars,
                const std::vector<std::string>& overrides, Config* out,
                std::vector<std::string>* errors) {
  *out = Config{};
  for (const auto& s : Table()) {
    out->values_[std::string(s.key)] = std::string(s.default_value);
    out->sources_[std::string(s.key)] = "default";
  }
  size_t errors_before = errors->size();

  auto apply = [&](const std::string& key, const std::string& value, const std::string& source) {
    std::string rest;
    if (IsPassthrough(key, &rest)) {
      out->passthrough_[rest] = value;
      out->sources_[key] = source;
      return;
    }
    const Setting* s = Find(key);
    if (s == nullptr) {
      errors->push_back(source + ": unknown key '" + key + "' (value '" + value +
                        "'); see config/dedupd.yaml for the keys");
      return;
    }
    std::string canonical;
    if (!Check(*s, value, &canonical)) {
      errors->push_back(source + ": " + key + " = '" + value + "': expected " + Expected(*s));
      return;
    }
    out->values_[key] = canonical;
    out->sources_[key] = source;
  };

  if (!yaml_path.empty()) {
    try {
      YAML::Node root = YAML::LoadFile(yaml_path);
      std::vector<std::pair<std::string, std::string>> flat;
      if (!root.IsNull()) Flatten(root, "", &flat, errors);
      for (const auto& [k, v] : flat) apply(k, v, "file " + yaml_path);
    } catch (const YAML::Exception& e) {
      errors->push_back("file " + yaml_path + ": " + e.what());
    }
  }
  if (environ_vars != nullptr) {
    for (char** e = environ_vars; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (!entry.starts_with("DEDUPD_")) continue;
      size_t eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      std::string name(entry.substr(7, eq - 7));
      std::string value(entry.substr(eq + 1));
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      // Passthrough: KAFKA_CONSUMER_SESSION_TIMEOUT_MS -> kafka.consumer.session.timeout.ms
      bool matched = false;
      for (std::string_view role : {"kafka_consumer_", "kafka_producer_", "kafka_common_"}) {
        if (lower.starts_with(role)) {
          std::string prop = lower.substr(role.size());
          std::replace(prop.begin(), prop.end(), '_', '.');
          std::string r(role.substr(6, role.size() - 7));
          apply("kafka." + r + "." + prop, value, "env DEDUPD_" + name);
          matched = true;
        }
      }
      if (matched) continue;
      for (const auto& s : Table()) {
        std::string env_name(s.key);
        std::replace(env_name.begin(), env_name.end(), '.', '_');
        if (env_name == lower) {
          apply(std::string(s.key), value, "env DEDUPD_" + name);
          matched = true;
          break;
        }
      }
      // Variables that name no setting are ignored: DEDUPD_ is also used by
      // the project's scripts and tests (e.g. DEDUPD_CACHE).
    }
  }
  for (const auto& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos) {
      errors->push_back("flag: '" + o + "': expected key=value");
      continue;
    }
    apply(o.substr(0, eq), o.substr(eq + 1), "flag");
  }
  // Cross-setting checks.
  if (out->values_["kafka.bootstrap_servers"].empty()) {
    errors->push_back("kafka.bootstrap_servers = '': expected host:port[,host:port]");
  }
  if (out->values_["alertmanager.enabled"] == "true" &&
      !out->values_["alertmanager.url"].starts_with("http://")) {
    errors->push_back("alertmanager.url = '" + out->values_["alertmanager.url"] +
                      "': expected an http:// URL (use a local TLS proxy for https)");
  }
  if (out->values_["state.dir"].empty()) {
    errors->push_back("state.dir = '': expected a directory path");
  }
  return errors->size() == errors_before;
}

std::string DescribeSettings() {
  std::ostringstream out;
  out << "| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
  for (const auto& s : Table()) {
    std::string_view type;
    switch (s.type) {
      case Type::kString: type = "string"; break;
      case Type::kInt: type = "int"; break;
      case Type::kDouble: type = "number"; break;
      case Type::kBool: type = "bool"; break;
      case Type::kEnum: type = "enum"; break;
    }
    std::string expected = Expected(s);
    for (size_t pos = expected.find('|'); pos != std::string::npos;
         pos = expected.find('|', pos + 2)) {
      expected.replace(pos, 1, "\\|");  // a bar inside a Markdown table cell
    }
    out << "| `" << s.key << "` | " << type << " | `" << s.default_value << "` | " << expected
        << " | " << s.description << " |\n";
  }
  out << "| `kafka.consumer.*`, `kafka.producer.*`, `kafka.common.*` | string | | any librdkafka "
         "property | passed to librdkafka unchanged (SASL, TLS, timeouts) |\n";
  return out.str();
}

}  // namespace dedupd::config
