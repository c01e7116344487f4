// Configuration: every setting declared once (key, type, default, check,
// description) in config.cc; the YAML file, the environment and the command
// line override the defaults in that order. librdkafka properties pass through
// unchanged under kafka.consumer.*, kafka.producer.* and kafka.common.*.
//
//   Config cfg;
//   std::vector<std::string> errors;
//   if (!LoadConfig("config/dedupd.yaml", environ, {"--set", "output.format=json"}, &cfg, &errors))
//     for (auto& e : errors) std::cerr << e << "\n";   // key, value, what was expected
//   int port = cfg.settings().metrics.port;   // config/settings.h
//
// Environment: DEDUPD_<KEY> with dots as underscores, upper case
// (DEDUPD_KAFKA_BOOTSTRAP_SERVERS). Passthrough: DEDUPD_KAFKA_CONSUMER_<PROP>
// with the property's dots as underscores (DEDUPD_KAFKA_PRODUCER_SASL_USERNAME).
// Secrets: IsSecretKey() is the one definition of a setting or librdkafka
// property whose value is never shown; every listing and error message goes
// through ShowValue(). Settings of type kSecret (the Alertmanager password and
// bearer token) come from the environment only, never from the file or a flag.
// Thread-safety: immutable after loading.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"

namespace dedupd::config {

// kSecret: a string taken only from the environment (DEDUPD_<KEY>), never
// from the YAML file or a flag (a file is kept in Git, a flag shows in `ps`).
enum class Type { kString, kInt, kDouble, kBool, kEnum, kSecret };

struct Setting {
  std::string_view key;
  Type type;
  std::string_view default_value;
  std::string_view description;
  double min = 0;  // kInt / kDouble: inclusive range
  double max = 0;
  std::string_view allowed = {};  // kEnum: values separated by '|'
};

// Every declared setting, in documentation order.
const std::vector<Setting>& AllSettings();

class Config {
 public:
  // The typed settings, filled once by LoadConfig: what stages and app/ read.
  const Settings& settings() const { return settings_; }
  // librdkafka properties: common ones merged under consumer/producer ones.
  std::map<std::string, std::string> KafkaProperties(
      std::string_view role) const;  // "consumer" | "producer" | "common"
  // Every value as text and where it came from ("default", "file", "env",
  // "flag"): for check-config's listing only, not for reading a setting.
  const std::map<std::string, std::string>& Sources() const { return sources_; }
  const std::map<std::string, std::string>& Values() const { return values_; }

 private:
  friend bool LoadConfig(const std::string&, char**, const std::vector<std::string>&, Config*,
                         std::vector<std::string>*);
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> sources_;
  std::map<std::string, std::string>
      passthrough_;  // "consumer.<prop>", "producer.<prop>", "common.<prop>"
  Settings settings_;
};

// Loads defaults, then `yaml_path` (empty: none), then `environ` (may be
// null), then `overrides` ("key=value" strings from --set / --key=value).
// Returns false with one message per problem.
bool LoadConfig(const std::string& yaml_path, char** environ_vars,
                const std::vector<std::string>& overrides, Config* out,
                std::vector<std::string>* errors);

// True for keys whose values must not appear in any output (check-config,
// configuration errors, logs): declared settings of Type::kSecret, and
// librdkafka properties, with or without their kafka.consumer. /
// kafka.producer. / kafka.common. prefix, whose name contains "password" or
// "secret", or starts with "sasl.oauthbearer." or "ssl.key.". Substrings rather
// than a list: librdkafka adds properties over time, and a false positive only
// costs a redacted value.
bool IsSecretKey(std::string_view key);

// How the value of `key` is shown: the value itself, or kRedacted for a
// secret (kUnset for an empty one).
inline constexpr std::string_view kRedacted = "(redacted)";
inline constexpr std::string_view kUnset = "(unset)";
std::string ShowValue(std::string_view key, std::string_view value);

// A comma-separated value split into its non-empty, trimmed items.
std::vector<std::string> SplitList(std::string_view text);

// Markdown table of every setting (docs/configuration.md is generated from it).
std::string DescribeSettings();

}  // namespace dedupd::config
