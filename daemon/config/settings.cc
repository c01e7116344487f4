#include "config/settings.h"

#include <charconv>
#include <concepts>
#include <cstdlib>
#include <limits>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace dedupd::config {
namespace {

template <class E>
using Names = std::span<const std::pair<std::string_view, E>>;

constexpr std::pair<std::string_view, ProcessingMode> kModes[] = {
    {"exactly_once", ProcessingMode::kExactlyOnce},
    {"at_least_once", ProcessingMode::kAtLeastOnce}};
constexpr std::pair<std::string_view, FingerprintFormat> kFingerprintFormats[] = {
    {"compact", FingerprintFormat::kCompact}, {"full", FingerprintFormat::kFull}};
constexpr std::pair<std::string_view, TextCompression> kTextCompressions[] = {
    {"lz4", TextCompression::kLz4},
    {"zstd", TextCompression::kZstd},
    {"lz4-packed", TextCompression::kLz4Packed}};
constexpr std::pair<std::string_view, OutputFormat> kOutputFormats[] = {
    {"protobuf", OutputFormat::kProtobuf}, {"json", OutputFormat::kJson}};
constexpr std::pair<std::string_view, LogLevel> kLogLevels[] = {{"debug", LogLevel::kDebug},
                                                                {"info", LogLevel::kInfo},
                                                                {"warn", LogLevel::kWarn},
                                                                {"error", LogLevel::kError}};
constexpr std::pair<std::string_view, LogFormat> kLogFormats[] = {{"text", LogFormat::kText},
                                                                  {"json", LogFormat::kJson}};
constexpr std::pair<std::string_view, Severity> kSeverities[] = {
    {"cosmetic", Severity::kCosmetic}, {"minor", Severity::kMinor}, {"major", Severity::kMajor}};

// The one place where a key meets its field. The visitor fills the fields
// (Filler) or checks them against the table (Checker); the field's C++ type
// picks the visitor's overload, so a binding states its type once.
template <class Visitor>
void BindSettings(Settings& s, Visitor& v) {
  v("kafka.bootstrap_servers", &s.kafka.bootstrap_servers);
  v("kafka.group_id", &s.kafka.group_id);
  v("kafka.client_id", &s.kafka.client_id);
  v("kafka.transactional_id", &s.kafka.transactional_id);
  v("kafka.group_instance_id", &s.kafka.group_instance_id);
  v("kafka.create_topics", &s.kafka.create_topics);
  v("kafka.partitions", &s.kafka.partitions);
  v("kafka.replication_factor", &s.kafka.replication_factor);
  v("kafka.statistics_interval_ms", &s.kafka.statistics_interval);
  v("topics.input", &s.topics.input);
  v("topics.events", &s.topics.events);
  v("topics.diffs", &s.topics.diffs);
  v("topics.dlq", &s.topics.dlq);
  v("topics.state", &s.topics.state);
  v("topics.fingerprints", &s.topics.fingerprints);
  v("processing.mode", &s.processing.mode, Names<ProcessingMode>(kModes));
  v("processing.batch_size", &s.processing.batch_size);
  v("processing.threads", &s.processing.threads);
  v("processing.commit_interval_ms", &s.processing.commit_interval);
  v("processing.commit_messages", &s.processing.commit_messages);
  v("processing.max_message_bytes", &s.processing.max_message_bytes);
  v("processing.max_body_bytes", &s.processing.max_body_bytes);
  v("detect.shingle_k", &s.detect.shingle_k);
  v("detect.simhash_distance", &s.detect.simhash_distance);
  v("detect.near_dup_containment", &s.detect.near_dup_containment);
  v("detect.near_dup_jaccard", &s.detect.near_dup_jaccard);
  v("detect.passage_min_chars", &s.detect.passage_min_chars);
  v("detect.passage_sample", &s.detect.passage_sample);
  v("detect.max_candidates", &s.detect.max_candidates);
  v("detect.confirm_sketch_size", &s.detect.confirm_sketch_size);
  v("detect.revert_history", &s.detect.revert_history);
  v("detect.repeat_min_blocks", &s.detect.repeat_min_blocks);
  v("detect.repeat_min_chars", &s.detect.repeat_min_chars);
  v("detect.boilerplate_min_pages", &s.detect.boilerplate_min_pages);
  v("detect.boilerplate_max_lines_per_site", &s.detect.boilerplate_max_lines_per_site);
  v("state.dir", &s.state.dir);
  v("state.restore_timeout_ms", &s.state.restore_timeout);
  v("state.min_free_bytes", &s.state.min_free_bytes);
  v("state.blob_min_bytes", &s.state.blob_min_bytes);
  v("state.history_versions", &s.state.history_versions);
  v("state.fingerprint_format", &s.state.fingerprint_format,
    Names<FingerprintFormat>(kFingerprintFormats));
  v("state.text_compression", &s.state.text_compression, Names<TextCompression>(kTextCompressions));
  v("output.format", &s.output.format, Names<OutputFormat>(kOutputFormats));
  v("dlq.max_original_bytes", &s.dlq.max_original_bytes);
  v("metrics.port", &s.metrics.port);
  v("metrics.bind", &s.metrics.bind);
  v("health.liveness_timeout_ms", &s.health.liveness_timeout);
  v("metrics.site_label_limit", &s.metrics.site_label_limit);
  v("http.threads", &s.http.threads);
  v("http.request_timeout_ms", &s.http.request_timeout);
  v("http.max_request_bytes", &s.http.max_request_bytes);
  v("http.max_query_bytes", &s.http.max_query_bytes);
  v("http.external_url", &s.http.external_url);
  v("http.peers", &s.http.peers);
  v("http.peer_timeout_ms", &s.http.peer_timeout);
  v("log.level", &s.log.level, Names<LogLevel>(kLogLevels));
  v("log.format", &s.log.format, Names<LogFormat>(kLogFormats));
  v("shutdown.grace_period_ms", &s.shutdown.grace_period);
  v("alertmanager.enabled", &s.alertmanager.enabled);
  v("alertmanager.url", &s.alertmanager.urls);
  v("alertmanager.min_severity", &s.alertmanager.min_severity, Names<Severity>(kSeverities));
  v("alertmanager.batch_size", &s.alertmanager.batch_size);
  v("alertmanager.timeout_ms", &s.alertmanager.timeout);
  v("alertmanager.retries", &s.alertmanager.retries);
  v("alertmanager.username", &s.alertmanager.username);
  v("alertmanager.password_file", &s.alertmanager.password_file);
  v("alertmanager.password", &s.alertmanager.password);
  v("alertmanager.bearer_token_file", &s.alertmanager.bearer_token_file);
  v("alertmanager.bearer_token", &s.alertmanager.bearer_token);
  v("alertmanager.ca_file", &s.alertmanager.ca_file);
  v("alertmanager.tls_insecure_skip_verify", &s.alertmanager.tls_insecure_skip_verify);
  v("alertmanager.generator_url", &s.alertmanager.generator_url);
}

template <class T>
concept Integer = std::integral<T> && !std::same_as<T, bool>;

// Parses validated text: LoadConfig has checked every value against its
// declaration, so nothing here can fail (an unparsable value would read 0).
class Filler {
 public:
  explicit Filler(const std::map<std::string, std::string>& values) : values_(values) {}

  void operator()(std::string_view key, std::string* field) { *field = Text(key); }
  void operator()(std::string_view key, std::vector<std::string>* field) {
    *field = SplitList(Text(key));
  }
  void operator()(std::string_view key, bool* field) { *field = Text(key) == "true"; }
  void operator()(std::string_view key, double* field) {
    *field = std::strtod(Text(key).c_str(), nullptr);
  }
  template <Integer T>
  void operator()(std::string_view key, T* field) {
    *field = static_cast<T>(Int(key));
  }
  void operator()(std::string_view key, std::chrono::milliseconds* field) {
    *field = std::chrono::milliseconds(Int(key));
  }
  template <class E>
  void operator()(std::string_view key, E* field, Names<E> names) {
    for (const auto& [name, value] : names) {
      if (name == Text(key)) *field = value;
    }
  }

 private:
  const std::string& Text(std::string_view key) const {
    static const std::string kEmpty;
    auto it = values_.find(std::string(key));
    return it == values_.end() ? kEmpty : it->second;
  }
  int64_t Int(std::string_view key) const {
    const std::string& text = Text(key);
    int64_t n = 0;
    std::from_chars(text.data(), text.data() + text.size(), n);
    return n;
  }

  const std::map<std::string, std::string>& values_;
};

class Checker {
 public:
  explicit Checker(const std::vector<Setting>& table) : table_(table) {}

  void operator()(std::string_view key, std::string*) {
    Expect(key, "a string field",
           [](const Setting& s) { return s.type == Type::kString || s.type == Type::kSecret; });
  }
  void operator()(std::string_view key, std::vector<std::string>*) {
    Expect(key, "a list field", [](const Setting& s) { return s.type == Type::kString; });
  }
  void operator()(std::string_view key, bool*) {
    Expect(key, "a bool field", [](const Setting& s) { return s.type == Type::kBool; });
  }
  void operator()(std::string_view key, double*) {
    Expect(key, "a double field", [](const Setting& s) { return s.type == Type::kDouble; });
  }
  // The declared range must fit the field, or a valid value would wrap.
  template <Integer T>
  void operator()(std::string_view key, T*) {
    const std::string field = "a " + std::to_string(sizeof(T) * 8) + "-bit integer field (" +
                              std::to_string(std::numeric_limits<T>::min()) + " to " +
                              std::to_string(std::numeric_limits<T>::max()) + ")";
    Expect(key, field, [](const Setting& s) {
      return s.type == Type::kInt && s.min >= static_cast<double>(std::numeric_limits<T>::min()) &&
             s.max <= static_cast<double>(std::numeric_limits<T>::max());
    });
  }
  // Milliseconds only for keys that say so.
  void operator()(std::string_view key, std::chrono::milliseconds*) {
    Expect(key, "a milliseconds field (only for a key ending in _ms)",
           [key](const Setting& s) { return s.type == Type::kInt && key.ends_with("_ms"); });
  }
  // The enum's names are exactly the allowed values.
  template <class E>
  void operator()(std::string_view key, E*, Names<E> names) {
    std::string field = "an enum field named";
    for (const auto& [name, value] : names) field += " " + std::string(name);
    Expect(key, field, [names](const Setting& s) {
      if (s.type != Type::kEnum) return false;
      std::set<std::string_view> allowed;
      for (std::string_view rest = s.allowed; !rest.empty();) {
        size_t bar = rest.find('|');
        allowed.insert(rest.substr(0, bar));
        rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
      }
      std::set<std::string_view> named;
      for (const auto& [name, value] : names) named.insert(name);
      return named == allowed && named.size() == names.size();
    });
  }

  std::vector<std::string> Problems() {
    for (const Setting& s : table_) {
      if (bound_.count(s.key) == 0) {
        problems_.push_back(std::string(s.key) +
                            ": declared but bound to no field of config::Settings (add one in "
                            "daemon/config/settings.h and its line in BindSettings)");
      }
    }
    return problems_;
  }

 private:
  static std::string Declared(const Setting& s) {
    switch (s.type) {
      case Type::kString: return "a string";
      case Type::kSecret: return "a secret string";
      case Type::kBool: return "a bool";
      case Type::kDouble: return "a number";
      case Type::kInt:
        return "an integer from " + std::to_string(static_cast<long long>(s.min)) + " to " +
               std::to_string(static_cast<long long>(s.max));
      case Type::kEnum: return "one of " + std::string(s.allowed);
    }
    return "";
  }

  template <class Fits>
  void Expect(std::string_view key, std::string_view field, Fits fits) {
    if (!bound_.insert(key).second) {
      problems_.push_back(std::string(key) + ": bound to two fields");
      return;
    }
    for (const Setting& s : table_) {
      if (s.key != key) continue;
      if (!fits(s)) {
        problems_.push_back(std::string(key) + ": declared as " + Declared(s) + ", bound to " +
                            std::string(field));
      }
      return;
    }
    problems_.push_back(std::string(key) + ": bound to a field but not declared in the table");
  }

  const std::vector<Setting>& table_;
  std::set<std::string_view> bound_;
  std::vector<std::string> problems_;
};

template <class E>
const char* NameOf(Names<E> names, E value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name.data();  // the literals above: NUL-terminated
  }
  return "";
}

}  // namespace

const char* Name(ProcessingMode mode) {
  return NameOf(Names<ProcessingMode>(kModes), mode);
}
const char* Name(Severity severity) {
  return NameOf(Names<Severity>(kSeverities), severity);
}

void FillSettings(const std::map<std::string, std::string>& values,
                  const std::map<std::string, std::string>& sources, Settings* out) {
  Filler filler(values);
  BindSettings(*out, filler);
  auto source = [&](const char* key) {
    auto it = sources.find(key);
    return it == sources.end() ? std::string() : it->second;
  };
  // The internal topics belong to one consumer group: set nowhere, they are
  // named after it. With the default group this gives the documented
  // defaults, dedupd-state and dedupd-fingerprints.
  if (source("topics.state") == "default") out->topics.state = out->kafka.group_id + "-state";
  if (source("topics.fingerprints") == "default") {
    out->topics.fingerprints = out->kafka.group_id + "-fingerprints";
  }
  out->kafka.create_topics_from_flag = source("kafka.create_topics") == "flag";
}

Settings DefaultSettings() {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> sources;
  for (const Setting& s : AllSettings()) {
    values[std::string(s.key)] = std::string(s.default_value);
    sources[std::string(s.key)] = "default";
  }
  Settings settings;
  FillSettings(values, sources, &settings);
  return settings;
}

std::vector<std::string> CheckBindings(const std::vector<Setting>& table) {
  Settings scratch;
  Checker checker(table);
  BindSettings(scratch, checker);
  return checker.Problems();
}

}  // namespace dedupd::config
