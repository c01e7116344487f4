#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
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
      {"kafka.group_instance_id", Type::kString, "",
       "Static group membership (group.instance.id), stable across restarts and unique in the "
       "group, e.g. the pod name; empty: dynamic membership (docs/kafka.md, rolling restarts)"},
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
      {"processing.threads", Type::kInt, "0",
       "Threads that parse and prepare pages for detection, the loop's included (verdicts stay "
       "in input order); 0: one per core",
       0, 256},
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
      {"state.min_free_bytes", Type::kInt, "268435456",
       "The state store takes no write while its volume has less free space than this: scan "
       "stops with an error, run goes not-ready and waits (docs/delivery.md, Full disk); 0: only "
       "a failed write stops it",
       0, 1099511627776},
      {"state.blob_min_bytes", Type::kInt, "1024",
       "States stored in at least this many bytes go to RocksDB blob files, written once instead "
       "of again at every compaction (docs/delivery.md, Blob files); 0: all in the tables. Takes "
       "effect for what is written after a restart; a store written either way reads both",
       0, 1073741824},
      {"state.history_versions", Type::kInt, "10",
       "Versions (with their text) kept per URL for the API and the page, the current one "
       "included; 1: only the current version's verdict and match; 0: no history (docs/api.md)",
       0, 1000},
      {"state.fingerprint_format", Type::kEnum, "compact",
       "Record written to the fingerprints topic: compact (format 5, no text) or full (format 4 "
       "with the page text, what versions before issue #15 write and the only one they read); "
       "full while a rolling upgrade from such a version runs, then compact (docs/design.md, The "
       "state record)",
       0, 0, "compact|full"},
      {"state.text_compression", Type::kEnum, "lz4-packed",
       "How the state's texts are compressed in the store and the changelog: lz4-packed (format "
       "7: CJK text packed to two bytes a character before LZ4; on CJK pages 0.85x lz4's bytes for"
       " half its CPU), lz4 (format 6; what versions of session 9 read) or zstd (format 4, level "
       "1; what versions before session 9 read); during a rolling upgrade the one the old version "
       "reads, then lz4-packed; all are always read (docs/delivery.md, State record cost, session"
       " 10)",
       0, 0, "lz4-packed|lz4|zstd"},
      {"output.format", Type::kEnum, "protobuf", "Encoding of every output", 0, 0, "protobuf|json"},
      {"dlq.max_original_bytes", Type::kInt, "65536",
       "Bytes of the original message kept in a dead letter", 0, 1073741824},
      {"metrics.port", Type::kInt, "9464", "Port of /metrics, /healthz and /readyz; 0 disables", 0,
       65535},
      {"metrics.bind", Type::kString, "0.0.0.0", "Address the metrics server binds"},
      {"health.liveness_timeout_ms", Type::kInt, "60000",
       "/healthz answers 503 once the processing loop has shown no progress for this long "
       "(waiting for a broker counts as progress); at least 3 times the loop's longest blocking "
       "Kafka call (10000 ms)",
       30000, 3600000},
      {"metrics.site_label_limit", Type::kInt, "50",
       "Distinct site label values before the rest count as \"other\"", 1, 10000},
      {"http.threads", Type::kInt, "256",
       "HTTP worker threads: connections served at once (probes, /metrics, the API); more wait "
       "in a queue (docs/api.md, Server)",
       4, 4096},
      {"http.request_timeout_ms", Type::kInt, "10000",
       "HTTP: time to read a request head and to write a response before the connection is "
       "dropped",
       100, 600000},
      {"http.max_request_bytes", Type::kInt, "16384",
       "HTTP: largest request head (request line and headers); larger gets a 4xx JSON error", 1024,
       1048576},
      {"http.max_query_bytes", Type::kInt, "8192",
       "HTTP: longest query string; longer gets 414 with a JSON error", 256, 1048576},
      {"http.external_url", Type::kString, "",
       "Base URL of this instance as users and other instances reach it (links in alerts and "
       "dashboards, redirects to the owner); empty: http://HOSTNAME:metrics.port"},
      {"http.peers", Type::kString, "",
       "Base URLs of the other instances, comma-separated, asked who owns a URL (docs/api.md, "
       "Several instances); empty: this instance answers alone"},
      {"http.peer_timeout_ms", Type::kInt, "1000",
       "Time to wait for the other instances' answer to who owns a URL", 50, 60000},
      {"log.level", Type::kEnum, "info", "Lowest level logged", 0, 0, "debug|info|warn|error"},
      {"log.format", Type::kEnum, "text", "Log line format", 0, 0, "text|json"},
      {"shutdown.grace_period_ms", Type::kInt, "10000",
       "On SIGTERM: time to finish the batch and commit before exiting", 0, 600000},
      {"alertmanager.enabled", Type::kBool, "false",
       "Post each edited release to Alertmanager's /api/v2/alerts"},
      {"alertmanager.url", Type::kString, "http://127.0.0.1:9093",
       "Alertmanager base URL, http:// or https://; several separated by commas (an HA "
       "cluster): each gets every batch"},
      {"alertmanager.min_severity", Type::kEnum, "minor", "Lowest revision severity posted", 0, 0,
       "cosmetic|minor|major"},
      {"alertmanager.batch_size", Type::kInt, "50", "Alerts per POST", 1, 10000},
      {"alertmanager.timeout_ms", Type::kInt, "5000", "HTTP timeout per POST", 100, 600000},
      {"alertmanager.retries", Type::kInt, "3", "Retries per batch before it is dropped", 0, 100},
      {"alertmanager.username", Type::kString, "",
       "Basic auth user; its password from alertmanager.password_file or "
       "DEDUPD_ALERTMANAGER_PASSWORD"},
      {"alertmanager.password_file", Type::kString, "",
       "File holding the basic auth password (read before each POST: a rotated Secret is "
       "picked up)"},
      {"alertmanager.password", Type::kSecret, "",
       "Basic auth password, from the environment only (DEDUPD_ALERTMANAGER_PASSWORD)"},
      {"alertmanager.bearer_token_file", Type::kString, "",
       "File holding a bearer token sent as Authorization: Bearer (read before each POST)"},
      {"alertmanager.bearer_token", Type::kSecret, "",
       "Bearer token, from the environment only (DEDUPD_ALERTMANAGER_BEARER_TOKEN)"},
      {"alertmanager.ca_file", Type::kString, "",
       "PEM file of the CAs an https:// Alertmanager's certificate is verified against; empty: "
       "the system CAs"},
      {"alertmanager.tls_insecure_skip_verify", Type::kBool, "false",
       "Accept any https:// certificate and host name (tests only; logged as a warning)"},
      {"alertmanager.generator_url", Type::kString, "",
       "generatorURL of each alert: {url} is replaced by the percent-encoded canonical URL, "
       "{from} and {to} by the previous and the new version; empty: no generatorURL"},
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
    case Type::kSecret: out << "a string, from the environment only"; break;
  }
  return out.str();
}

// Returns the canonical text of the value, or an empty optional-like flag.
bool Check(const Setting& s, const std::string& value, std::string* canonical) {
  switch (s.type) {
    case Type::kString:
    case Type::kSecret: *canonical = value; return true;
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

std::vector<std::string> SplitItems(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

// An http:// or https:// URL with a host and no user:password@ (credentials
// have their own settings, which are redacted; a URL is logged as it is).
bool IsHttpUrl(std::string_view url, bool* has_userinfo) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  *has_userinfo = authority.find('@') != std::string_view::npos;
  std::string_view host = authority.substr(authority.rfind('@') + 1);
  return !host.empty() && host.front() != ':';
}

// The URL with anything before '@' in its authority replaced by kRedacted.
std::string RedactUserinfo(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(kRedacted) + std::string(url.substr(at));
}

// Cross-setting checks of alertmanager.* (only when it is enabled).
void CheckAlertmanager(const std::map<std::string, std::string>& v,
                       std::vector<std::string>* errors) {
  const std::string& urls = v.at("alertmanager.url");
  std::vector<std::string> list = SplitItems(urls);
  bool ok = !list.empty();
  bool userinfo = false;
  for (const auto& u : list) {
    bool has = false;
    if (!IsHttpUrl(u, &has)) ok = false;
    userinfo = userinfo || has;
  }
  std::string shown;
  for (const auto& u : list) shown += (shown.empty() ? "" : ",") + RedactUserinfo(u);
  if (!ok) {
    errors->push_back("alertmanager.url = '" + shown +
                      "': expected http:// or https:// URLs separated by commas");
  } else if (userinfo) {
    errors->push_back("alertmanager.url = '" + shown +
                      "': expected no user:password@ in the URL; use alertmanager.username and "
                      "alertmanager.password_file (or DEDUPD_ALERTMANAGER_PASSWORD)");
  }
  auto set = [&](const char* key) { return !v.at(key).empty(); };
  bool basic = set("alertmanager.username");
  bool password = set("alertmanager.password") || set("alertmanager.password_file");
  bool bearer = set("alertmanager.bearer_token") || set("alertmanager.bearer_token_file");
  if (set("alertmanager.password") && set("alertmanager.password_file")) {
    errors->push_back(
        "alertmanager.password and alertmanager.password_file are both set: expected one");
  }
  if (set("alertmanager.bearer_token") && set("alertmanager.bearer_token_file")) {
    errors->push_back(
        "alertmanager.bearer_token and alertmanager.bearer_token_file are both set: expected one");
  }
  if (basic && bearer) {
    errors->push_back(
        "alertmanager.username and a bearer token are both set: expected basic auth or a bearer "
        "token, not both");
  }
  if (basic != password) {
    errors->push_back(std::string("alertmanager.username = '") + v.at("alertmanager.username") +
                      "' with the password " + (password ? "set" : "unset") +
                      ": expected both (basic auth) or neither");
  }
  const std::string& generator = v.at("alertmanager.generator_url");
  if (!generator.empty()) {
    bool has = false;
    bool valid = IsHttpUrl(generator, &has) && !has;
    for (size_t open = generator.find('{'); valid && open != std::string::npos;
         open = generator.find('{', open + 1)) {
      std::string_view rest = std::string_view(generator).substr(open);
      valid = rest.starts_with("{url}") || rest.starts_with("{from}") || rest.starts_with("{to}");
    }
    if (!valid) {
      errors->push_back("alertmanager.generator_url = '" + RedactUserinfo(generator) +
                        "': expected an http:// or https:// URL template whose only "
                        "placeholders are {url}, {from} and {to}");
    }
  }
}

}  // namespace

bool IsSecretKey(std::string_view key) {
  if (const Setting* s = Find(key); s != nullptr) return s->type == Type::kSecret;
  for (std::string_view prefix : {"kafka.consumer.", "kafka.producer.", "kafka.common."}) {
    if (key.starts_with(prefix)) {
      key.remove_prefix(prefix.size());
      break;
    }
  }
  return key.find("password") != std::string_view::npos ||
         key.find("secret") != std::string_view::npos || key.starts_with("sasl.oauthbearer.") ||
         key.starts_with("ssl.key.");
}

std::string ShowValue(std::string_view key, std::string_view value) {
  if (!IsSecretKey(key)) return std::string(value);
  return std::string(value.empty() ? kUnset : kRedacted);
}

std::vector<std::string> SplitList(std::string_view text) {
  return SplitItems(text);
}

const std::vector<Setting>& AllSettings() {
  return Table();
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
      // The value is not shown: a misspelt key may well be a secret's.
      errors->push_back(source + ": unknown key '" + key +
                        "'; see config/dedupd.yaml for the keys");
      return;
    }
    if (s->type == Type::kSecret && !value.empty() && !source.starts_with("env ")) {
      std::string env = "DEDUPD_" + std::string(key);
      std::replace(env.begin(), env.end(), '.', '_');
      std::transform(env.begin(), env.end(), env.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      errors->push_back(source + ": " + key + " = " + std::string(kRedacted) +
                        ": expected from the environment only (" + env +
                        ") or from the file named by " + key + "_file; the value was not used");
      return;
    }
    std::string canonical;
    if (!Check(*s, value, &canonical)) {
      std::string shown = IsSecretKey(key) ? ShowValue(key, value) : "'" + value + "'";
      errors->push_back(source + ": " + key + " = " + shown + ": expected " + Expected(*s));
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
      const std::string shown = IsSecretKey(o) ? std::string(kRedacted) : o;
      errors->push_back("flag: '" + shown + "': expected key=value");
      continue;
    }
    apply(o.substr(0, eq), o.substr(eq + 1), "flag");
  }
  // Cross-setting checks.
  if (out->values_["kafka.bootstrap_servers"].empty()) {
    errors->push_back("kafka.bootstrap_servers = '': expected host:port[,host:port]");
  }
  if (out->values_["alertmanager.enabled"] == "true") CheckAlertmanager(out->values_, errors);
  if (out->values_["state.dir"].empty()) {
    errors->push_back("state.dir = '': expected a directory path");
  }
  // The broker refuses other group instance ids at every JoinGroup, which
  // would leave the instance out of the group for good: refuse at start.
  if (const std::string& id = out->values_["kafka.group_instance_id"];
      id.size() > 249 || id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789._-") != std::string::npos) {
    errors->push_back("kafka.group_instance_id = '" + id +
                      "': expected at most 249 of a-z A-Z 0-9 . _ - (empty: dynamic membership)");
  }
  // A declared key without its field is the program's error, not the
  // user's; config_test catches it first.
  for (const std::string& problem : CheckBindings(Table())) {
    errors->push_back("internal error: " + problem);
  }
  FillSettings(out->values_, out->sources_, &out->settings_);
  out->settings_.kafka.common_properties = out->KafkaProperties("common");
  out->settings_.kafka.consumer_properties = out->KafkaProperties("consumer");
  out->settings_.kafka.producer_properties = out->KafkaProperties("producer");
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
      case Type::kSecret: type = "secret"; break;
    }
    std::string expected = Expected(s);
    for (size_t pos = expected.find('|'); pos != std::string::npos;
         pos = expected.find('|', pos + 2)) {
      expected.replace(pos, 1, "\\|");  // a bar inside a Markdown table cell
    }
    // An empty default is an empty cell: `` would not render as code.
    std::string default_cell =
        s.default_value.empty() ? "" : "`" + std::string(s.default_value) + "`";
    out << "| `" << s.key << "` | " << type << " | " << default_cell << " | " << expected << " | "
        << s.description << " |\n";
  }
  out << "| `kafka.consumer.*`, `kafka.producer.*`, `kafka.common.*` | string | | any librdkafka "
         "property | passed to librdkafka unchanged (SASL, TLS, timeouts); where dedupd's "
         "default differs from librdkafka's (producer `linger.ms` 50, consumers' "
         "`queued.max.messages.kbytes` 262144, `reconnect.backoff.max.ms` 1000: docs/kafka.md), "
         "the value set here wins |\n";
  return out.str();
}

}  // namespace dedupd::config
