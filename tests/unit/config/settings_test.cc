// The typed settings (config/settings.h): every declared key has a field of
// its type, every key reaches its field, and no code outside daemon/config
// reads a setting by its key.
#include "config/settings.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.h"

namespace dedupd::config {
namespace {

std::string Joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  return all;
}

bool Mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

std::vector<Setting> TableWith(std::string_view key, void (*change)(Setting*)) {
  std::vector<Setting> table = AllSettings();
  for (Setting& s : table) {
    if (s.key == key) change(&s);
  }
  return table;
}

// The test that fails when a key is declared and its field forgotten.
TEST(Settings, EveryDeclaredKeyIsBoundToOneFieldOfItsType) {
  EXPECT_EQ(Joined(CheckBindings(AllSettings())), "");
}

TEST(Settings, ADeclaredKeyWithoutAFieldIsCaught) {
  std::vector<Setting> table = AllSettings();
  table.push_back({"processing.new_knob", Type::kInt, "1", "a key added without its field", 0, 9});
  const auto problems = CheckBindings(table);
  ASSERT_EQ(problems.size(), 1u) << Joined(problems);
  EXPECT_NE(problems[0].find("processing.new_knob: declared but bound to no field"),
            std::string::npos)
      << problems[0];
}

TEST(Settings, ABindingWithoutADeclarationIsCaught) {
  std::vector<Setting> table = AllSettings();
  std::erase_if(table, [](const Setting& s) { return s.key == "detect.shingle_k"; });
  EXPECT_TRUE(
      Mentions(CheckBindings(table), "detect.shingle_k: bound to a field but not declared"));
}

TEST(Settings, AFieldOfTheWrongTypeIsCaught) {
  // A bool field for an int setting, a string field for an int setting.
  EXPECT_TRUE(Mentions(
      CheckBindings(TableWith("kafka.create_topics", [](Setting* s) { s->type = Type::kInt; })),
      "kafka.create_topics: declared as an integer from 0 to 0, bound to a bool field"));
  EXPECT_TRUE(
      Mentions(CheckBindings(TableWith("metrics.bind", [](Setting* s) { s->type = Type::kInt; })),
               "metrics.bind: declared as an integer from 0 to 0, bound to a string field"));
  EXPECT_TRUE(Mentions(
      CheckBindings(TableWith("detect.near_dup_jaccard", [](Setting* s) { s->type = Type::kInt; })),
      "detect.near_dup_jaccard: declared as an integer from 0 to 1, bound to a double field"));
  // An int16_t field cannot hold a range widened past 32767, nor a size_t a
  // negative minimum: a valid value would wrap.
  EXPECT_TRUE(Mentions(
      CheckBindings(TableWith("kafka.replication_factor", [](Setting* s) { s->max = 40000; })),
      "kafka.replication_factor: declared as an integer from 1 to 40000, bound to a 16-bit "
      "integer field (-32768 to 32767)"));
  EXPECT_TRUE(
      Mentions(CheckBindings(TableWith("processing.batch_size", [](Setting* s) { s->min = -1; })),
               "processing.batch_size: declared as an integer from -1 to 100000, bound to a 64-bit "
               "integer field (0 to 18446744073709551615)"));
  // An enum whose names are not exactly the allowed values.
  EXPECT_TRUE(Mentions(
      CheckBindings(
          TableWith("processing.mode",
                    [](Setting* s) { s->allowed = "exactly_once|at_least_once|at_most_once"; })),
      "processing.mode: declared as one of exactly_once|at_least_once|at_most_once, bound to "
      "an enum field named exactly_once at_least_once"));
  // An integer field for a string setting.
  EXPECT_TRUE(Mentions(
      CheckBindings(TableWith("kafka.partitions", [](Setting* s) { s->type = Type::kString; })),
      "kafka.partitions: declared as a string, bound to a 32-bit integer field"));
}

// A valid value other than the default, for each type.
std::string OtherValue(const Setting& s) {
  switch (s.type) {
    case Type::kBool: return s.default_value == "true" ? "false" : "true";
    case Type::kInt: {
      const auto max = static_cast<int64_t>(s.max);
      return std::to_string(std::to_string(max) == s.default_value ? static_cast<int64_t>(s.min)
                                                                   : max);
    }
    case Type::kDouble: return s.default_value == "1" ? "0.5" : "1";
    case Type::kEnum: {
      std::string_view allowed = s.allowed;
      while (!allowed.empty()) {
        std::string_view name = allowed.substr(0, allowed.find('|'));
        if (name != s.default_value) return std::string(name);
        allowed.remove_prefix(std::min(allowed.size(), name.size() + 1));
      }
      return "";
    }
    case Type::kString:
    case Type::kSecret: return "x-changed";
  }
  return "";
}

// Each key reaches its own field: changing it changes the settings, and
// only through LoadConfig's validated value (the environment for a secret).
TEST(Settings, EveryKeyChangesItsField) {
  const Settings defaults = DefaultSettings();
  for (const Setting& s : AllSettings()) {
    const std::string value = OtherValue(s);
    ASSERT_FALSE(value.empty()) << s.key;
    Config cfg;
    std::vector<std::string> errors;
    std::string env_entry;
    std::vector<std::string> flags;
    if (s.type == Type::kSecret) {
      env_entry = "DEDUPD_" + std::string(s.key) + "=" + value;
      std::replace(env_entry.begin(), env_entry.begin() + static_cast<long>(env_entry.find('=')),
                   '.', '_');
      std::transform(env_entry.begin(), env_entry.begin() + static_cast<long>(env_entry.find('=')),
                     env_entry.begin(), [](unsigned char c) { return std::toupper(c); });
    } else {
      flags.push_back(std::string(s.key) + "=" + value);
    }
    char* env[] = {env_entry.data(), nullptr};
    ASSERT_TRUE(LoadConfig("", s.type == Type::kSecret ? env : nullptr, flags, &cfg, &errors))
        << s.key << ": " << Joined(errors);
    EXPECT_FALSE(cfg.settings() == defaults) << s.key << " = " << value << " left every field";
  }
}

TEST(Settings, DefaultsAreTheTablesAndTheInternalTopicsFollowTheGroup) {
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig("", nullptr, {}, &cfg, &errors)) << Joined(errors);
  const Settings& s = cfg.settings();
  EXPECT_TRUE(s == DefaultSettings());
  EXPECT_EQ(s.processing.mode, ProcessingMode::kExactlyOnce);
  EXPECT_EQ(s.processing.commit_interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(s.state.min_free_bytes, 268435456u);
  EXPECT_EQ(s.state.fingerprint_format, FingerprintFormat::kCompact);
  EXPECT_EQ(s.alertmanager.min_severity, Severity::kMinor);
  EXPECT_EQ(s.alertmanager.urls, std::vector<std::string>{"http://127.0.0.1:9093"});
  EXPECT_EQ(s.topics.state, "dedupd-state");
  EXPECT_EQ(s.topics.fingerprints, "dedupd-fingerprints");
  EXPECT_FALSE(s.kafka.create_topics_from_flag);

  ASSERT_TRUE(
      LoadConfig("", nullptr, {"kafka.group_id=news", "topics.fingerprints=fp"}, &cfg, &errors));
  EXPECT_EQ(cfg.settings().topics.state, "news-state");
  EXPECT_EQ(cfg.settings().topics.fingerprints, "fp");
}

TEST(Settings, TypedValuesFromTheCanonicalText) {
  char env1[] = "DEDUPD_PROCESSING_MODE=at_least_once";
  char env2[] = "DEDUPD_KAFKA_COMMON_SECURITY_PROTOCOL=SASL_SSL";
  char* env[] = {env1, env2, nullptr};
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig(
      "", env,
      {"kafka.create_topics=no", "state.min_free_bytes=1099511627776",
       "detect.near_dup_jaccard=0.45", "log.level=debug", "alertmanager.min_severity=major",
       "output.format=json", "kafka.consumer.fetch.max.bytes=1000", "kafka.producer.linger.ms=20"},
      &cfg, &errors))
      << Joined(errors);
  const Settings& s = cfg.settings();
  EXPECT_EQ(s.processing.mode, ProcessingMode::kAtLeastOnce);
  EXPECT_STREQ(Name(s.processing.mode), "at_least_once");
  EXPECT_FALSE(s.kafka.create_topics);
  EXPECT_TRUE(s.kafka.create_topics_from_flag);
  EXPECT_EQ(s.state.min_free_bytes, 1099511627776u);
  EXPECT_DOUBLE_EQ(s.detect.near_dup_jaccard, 0.45);
  EXPECT_EQ(s.log.level, LogLevel::kDebug);
  EXPECT_EQ(s.alertmanager.min_severity, Severity::kMajor);
  EXPECT_STREQ(Name(s.alertmanager.min_severity), "major");
  EXPECT_EQ(s.output.format, OutputFormat::kJson);
  // librdkafka's properties stay a map, the common ones merged under each role.
  EXPECT_EQ(s.kafka.common_properties, (Properties{{"security.protocol", "SASL_SSL"}}));
  EXPECT_EQ(s.kafka.consumer_properties,
            (Properties{{"fetch.max.bytes", "1000"}, {"security.protocol", "SASL_SSL"}}));
  EXPECT_EQ(s.kafka.producer_properties,
            (Properties{{"linger.ms", "20"}, {"security.protocol", "SASL_SSL"}}));
}

// Only daemon/config reads settings by key: no other source file under
// daemon/ holds a declared key as a string literal ("state.dir"), the
// argument of any lookup by key (Values().at, Sources().find, a Get).
TEST(Settings, NoCodeOutsideDaemonConfigNamesAKey) {
  const std::filesystem::path root = std::filesystem::path(DEDUPD_SOURCE_DIR) / "daemon";
  ASSERT_TRUE(std::filesystem::is_directory(root)) << root;
  std::vector<std::string> found;
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const std::filesystem::path& path = entry.path();
    const std::string ext = path.extension().string();
    if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
    if (path.lexically_relative(root).begin()->string() == "config") continue;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();
    ++files;
    for (const Setting& s : AllSettings()) {
      if (source.find("\"" + std::string(s.key) + "\"") != std::string::npos) {
        found.push_back(path.lexically_relative(root).string() + ": \"" + std::string(s.key) +
                        "\"");
      }
    }
  }
  EXPECT_GT(files, 50u) << "the walk found too few sources under " << root;
  EXPECT_EQ(Joined(found), "") << "read config::Settings (config/settings.h) instead";
}

}  // namespace
}  // namespace dedupd::config
