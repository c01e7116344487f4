// The typed settings: every key of the declaration table (config.cc) bound to
// one field, filled once by LoadConfig from the validated values. Stages and
// app/ take this struct (or a section of it, or their own options struct built
// from it); only daemon/config reads configuration keys.
//
//   config::Config cfg;
//   if (config::LoadConfig(path, environ, overrides, &cfg, &errors)) {
//     const config::Settings& s = cfg.settings();
//     int port = s.metrics.port;                          // metrics.port
//     auto timeout = s.state.restore_timeout;             // state.restore_timeout_ms
//   }
//
// A new setting gets a field here and one line in BindSettings (settings.cc);
// CheckBindings() refuses a declared key bound to no field, twice, or to a
// field of the wrong type (a bool for an int, an integer type too narrow for
// the declared range, an enum whose names differ from the allowed values);
// config_settings_test runs it on the shipped table, and LoadConfig reports
// what it finds as an internal error. A field type BindSettings has no
// overload for does not compile.
// Thread-safety: a plain value; immutable once loaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dedupd::config {

struct Setting;

enum class ProcessingMode { kExactlyOnce, kAtLeastOnce };
enum class FingerprintFormat { kCompact, kFull };
enum class TextCompression { kLz4, kZstd, kLz4Packed };
enum class OutputFormat { kProtobuf, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };
enum class Severity { kCosmetic, kMinor, kMajor };

// The name a value has in the configuration ("exactly_once", "minor"): for
// logs and for code that still takes the name.
const char* Name(ProcessingMode mode);
const char* Name(Severity severity);

using Properties = std::map<std::string, std::string>;  // librdkafka property -> value

// Each field is the key of the same name in its section (alertmanager.url:
// `urls`); a key ending in _ms is a std::chrono::milliseconds without the
// suffix. No default is repeated here: the table holds them.
struct Settings {
  struct Kafka {
    std::string bootstrap_servers;
    std::string group_id;
    std::string client_id;
    std::string transactional_id;
    std::string group_instance_id;  // empty: dynamic membership
    bool create_topics{};
    // Not a setting: kafka.create_topics was given on the command line (a
    // replay keeps that value; the file's is the live deployment's).
    bool create_topics_from_flag{};
    int32_t partitions{};
    int16_t replication_factor{};
    std::chrono::milliseconds statistics_interval{};
    // librdkafka passthrough (kafka.common.*, kafka.consumer.*,
    // kafka.producer.*): librdkafka's keys, not ours, so a map. The consumer
    // and producer maps have the common properties merged under their own.
    Properties common_properties;
    Properties consumer_properties;
    Properties producer_properties;
    bool operator==(const Kafka&) const = default;
  } kafka;
  struct Topics {
    std::string input;
    std::string events;
    std::string diffs;
    std::string dlq;
    // The names in effect: when topics.state / topics.fingerprints are set
    // nowhere, <kafka.group_id>-state / <kafka.group_id>-fingerprints (as
    // Kafka Streams names changelogs after the application id), so two
    // deployments with different groups never share state.
    std::string state;
    std::string fingerprints;
    bool operator==(const Topics&) const = default;
  } topics;
  struct Processing {
    ProcessingMode mode{};
    size_t batch_size{};
    size_t threads{};  // 0: one per core (app::WorkerThreads)
    std::chrono::milliseconds commit_interval{};
    size_t commit_messages{};
    size_t max_message_bytes{};
    size_t max_body_bytes{};
    bool operator==(const Processing&) const = default;
  } processing;
  struct Detect {
    int shingle_k{};
    int simhash_distance{};
    double near_dup_containment{};
    double near_dup_jaccard{};
    size_t passage_min_chars{};
    size_t passage_sample{};
    size_t max_candidates{};
    size_t confirm_sketch_size{};
    size_t revert_history{};
    size_t repeat_min_blocks{};
    size_t repeat_min_chars{};
    uint32_t boilerplate_min_pages{};
    size_t boilerplate_max_lines_per_site{};
    bool operator==(const Detect&) const = default;
  } detect;
  struct State {
    std::string dir;
    std::chrono::milliseconds restore_timeout{};
    uint64_t min_free_bytes{};
    uint64_t blob_min_bytes{};
    size_t history_versions{};
    FingerprintFormat fingerprint_format{};
    TextCompression text_compression{};
    bool operator==(const State&) const = default;
  } state;
  struct Output {
    OutputFormat format{};
    bool operator==(const Output&) const = default;
  } output;
  struct Dlq {
    size_t max_original_bytes{};
    bool operator==(const Dlq&) const = default;
  } dlq;
  struct Metrics {
    int port{};  // 0: disabled
    std::string bind;
    size_t site_label_limit{};
    bool operator==(const Metrics&) const = default;
  } metrics;
  struct Health {
    std::chrono::milliseconds liveness_timeout{};
    bool operator==(const Health&) const = default;
  } health;
  struct Http {
    int threads{};
    std::chrono::milliseconds request_timeout{};
    int max_request_bytes{};
    int max_query_bytes{};
    std::string external_url;  // empty: http://HOSTNAME:metrics.port
    std::string peers;         // comma-separated base URLs, as configured
    std::chrono::milliseconds peer_timeout{};
    bool operator==(const Http&) const = default;
  } http;
  struct Log {
    LogLevel level{};
    LogFormat format{};
    bool operator==(const Log&) const = default;
  } log;
  struct Shutdown {
    std::chrono::milliseconds grace_period{};
    bool operator==(const Shutdown&) const = default;
  } shutdown;
  struct Alertmanager {
    bool enabled{};
    std::vector<std::string> urls;  // alertmanager.url split at commas
    Severity min_severity{};
    size_t batch_size{};
    std::chrono::milliseconds timeout{};
    int retries{};
    std::string username;
    std::string password_file;
    std::string password;  // secret: never logged (config::ShowValue)
    std::string bearer_token_file;
    std::string bearer_token;  // secret
    std::string ca_file;
    bool tls_insecure_skip_verify{};
    std::string generator_url;
    bool operator==(const Alertmanager&) const = default;
  } alertmanager;
  bool operator==(const Settings&) const = default;
};

// Fills `out` from validated values (key -> canonical text, every declared
// key present) and where each came from ("default", "file ...", "env ...",
// "flag"); LoadConfig calls it. The defaults live in the table only: a
// default-constructed Settings holds zeros, DefaultSettings() the defaults.
void FillSettings(const std::map<std::string, std::string>& values,
                  const std::map<std::string, std::string>& sources, Settings* out);
Settings DefaultSettings();

// The bindings checked against `table`: one message per declared key bound to
// no field, per key bound twice or not declared, and per field whose type does
// not hold the declared type and range. Empty: every key has its field.
std::vector<std::string> CheckBindings(const std::vector<Setting>& table);

}  // namespace dedupd::config
