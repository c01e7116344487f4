#include "config/config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <set>

namespace dedupd::config {
namespace {

const std::string kShipped = std::string(DEDUPD_SOURCE_DIR) + "/config/dedupd.yaml";

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/dedupd-config-XXXXXX";
  int fd = mkstemp(path);
  std::FILE* f = fdopen(fd, "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path;
}

TEST(Config, DefaultsLoadWithoutAFile) {
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig("", nullptr, {}, &cfg, &errors));
  EXPECT_EQ(cfg.Get("topics.input"), "pages");
  EXPECT_EQ(cfg.GetInt("metrics.port"), 9464);
}

TEST(Config, ShippedFileDocumentsExactlyTheDeclaredKeysWithTheirDefaults) {
  YAML::Node root = YAML::LoadFile(kShipped);
  std::set<std::string> in_file;
  for (const auto& section : root) {
    for (const auto& kv : section.second) {
      std::string key = section.first.as<std::string>() + "." + kv.first.as<std::string>();
      if (key == "kafka.common" || key == "kafka.consumer" || key == "kafka.producer") continue;
      in_file.insert(key);
      Config cfg;
      std::vector<std::string> errors;
      ASSERT_TRUE(LoadConfig("", nullptr, {}, &cfg, &errors));
      EXPECT_EQ(kv.second.as<std::string>(), cfg.Get(key)) << key;
    }
  }
  std::set<std::string> declared;
  for (const auto& s : AllSettings()) declared.insert(std::string(s.key));
  EXPECT_EQ(in_file, declared);
  Config cfg;
  std::vector<std::string> errors;
  EXPECT_TRUE(LoadConfig(kShipped, nullptr, {}, &cfg, &errors)) << errors.front();
}

TEST(Config, PrecedenceFileThenEnvThenFlag) {
  std::string path = WriteTemp("metrics:\n  port: 1000\ntopics:\n  input: from-file\n");
  char env1[] = "DEDUPD_METRICS_PORT=2000";
  char env2[] = "DEDUPD_KAFKA_CONSUMER_SESSION_TIMEOUT_MS=7000";
  char* env[] = {env1, env2, nullptr};
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig(path, env, {"topics.input=from-flag"}, &cfg, &errors));
  EXPECT_EQ(cfg.GetInt("metrics.port"), 2000);
  EXPECT_EQ(cfg.Get("topics.input"), "from-flag");
  EXPECT_EQ(cfg.Sources().at("metrics.port"), "env DEDUPD_METRICS_PORT");
  EXPECT_EQ(cfg.KafkaProperties("consumer").at("session.timeout.ms"), "7000");
  std::remove(path.c_str());
}

TEST(Config, PassthroughFromYamlBothSpellings) {
  std::string path = WriteTemp(
      "kafka:\n  common:\n    security.protocol: SASL_SSL\n  producer:\n    linger:\n      ms: "
      "20\n");
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig(path, nullptr, {}, &cfg, &errors));
  EXPECT_EQ(cfg.KafkaProperties("producer").at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(cfg.KafkaProperties("producer").at("linger.ms"), "20");
  EXPECT_EQ(cfg.KafkaProperties("consumer").count("linger.ms"), 0u);
  std::remove(path.c_str());
}

TEST(Config, InvalidValuesNameTheKeyTheValueAndWhatWasExpected) {
  Config cfg;
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadConfig("", nullptr,
                          {"metrics.port=99999", "output.format=xml", "detect.near_dup_jaccard=abc",
                           "no.such_key=1", "alertmanager.enabled=maybe"},
                          &cfg, &errors));
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_NE(errors[0].find("metrics.port = '99999': expected an integer from 0 to 65535"),
            std::string::npos)
      << errors[0];
  EXPECT_NE(errors[1].find("output.format = 'xml': expected one of protobuf|json"),
            std::string::npos)
      << errors[1];
  EXPECT_NE(errors[2].find("detect.near_dup_jaccard = 'abc'"), std::string::npos) << errors[2];
  EXPECT_NE(errors[3].find("unknown key 'no.such_key'"), std::string::npos) << errors[3];
  EXPECT_NE(errors[4].find("expected true or false"), std::string::npos) << errors[4];
}

TEST(Config, BrokenYamlIsReported) {
  std::string path = WriteTemp("kafka: [unclosed\n");
  Config cfg;
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadConfig(path, nullptr, {}, &cfg, &errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find(path), std::string::npos);
  std::remove(path.c_str());
}

// The liveness bound must stay well above the loop's longest blocking Kafka
// call (10 s, retried with signs of progress in between): a smaller one would
// restart instances that only wait for a broker.
TEST(Config, LivenessTimeoutBelowThreeKafkaCallTimeoutsIsRefused) {
  Config cfg;
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadConfig("", nullptr, {"health.liveness_timeout_ms=10000"}, &cfg, &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("health.liveness_timeout_ms = '10000': expected an integer from 30000"),
            std::string::npos)
      << errors[0];
  errors.clear();
  ASSERT_TRUE(LoadConfig("", nullptr, {}, &cfg, &errors));
  EXPECT_EQ(cfg.GetInt("health.liveness_timeout_ms"), 60000);
}

}  // namespace
}  // namespace dedupd::config
