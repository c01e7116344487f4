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
  EXPECT_EQ(cfg.settings().topics.input, "pages");
  EXPECT_EQ(cfg.settings().metrics.port, 9464);
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
      EXPECT_EQ(kv.second.as<std::string>(), cfg.Values().at(key)) << key;
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
  EXPECT_EQ(cfg.settings().metrics.port, 2000);
  EXPECT_EQ(cfg.settings().topics.input, "from-flag");
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

// --- Secrets (issue #14): one predicate, one way of showing, no echo. -------

TEST(Secrets, OnePredicateForLibrdkafkaPropertiesAndDeclaredSettings) {
  for (const char* key :
       {"sasl.password", "kafka.consumer.sasl.password", "kafka.common.ssl.key.password",
        "kafka.producer.ssl.key.pem", "ssl.key.location", "kafka.common.ssl.keystore.password",
        "kafka.common.sasl.oauthbearer.client.secret", "kafka.common.sasl.oauthbearer.config",
        "sasl.oauthbearer.client.id", "kafka.consumer.some.future.secret.thing",
        "alertmanager.password", "alertmanager.bearer_token"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (const char* key :
       {"kafka.bootstrap_servers", "kafka.common.sasl.username", "kafka.common.security.protocol",
        "kafka.common.ssl.certificate.location", "kafka.common.ssl.ca.location", "sasl.mechanisms",
        "alertmanager.username", "alertmanager.url", "alertmanager.password_file",
        "alertmanager.bearer_token_file", "metrics.port"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

TEST(Secrets, ShowValueRedactsSecretsAndSaysWhenOneIsUnset) {
  EXPECT_EQ(ShowValue("kafka.consumer.sasl.password", "hunter2"), "(redacted)");
  EXPECT_EQ(ShowValue("alertmanager.password", ""), "(unset)");
  EXPECT_EQ(ShowValue("kafka.consumer.sasl.username", "svc"), "svc");
  EXPECT_EQ(ShowValue("metrics.port", "9464"), "9464");
}

// Joined errors, for "the secret is in none of them".
std::string Joined(const std::vector<std::string>& errors) {
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  return all;
}

TEST(Secrets, ErrorsNeverEchoASecretValue) {
  std::string path = WriteTemp(
      "kafka:\n"
      "  consumr:\n"  // a typo: unknown key, whatever it holds
      "    sasl.password: typo-secret-1\n"
      "alertmanager:\n"
      "  bearer_token: file-token-2\n"  // secrets are not read from the file
      "  pasword: typo-secret-3\n"
      "metrics:\n"
      "  port: 99999\n");
  char env1[] = "DEDUPD_ALERTMANAGER_PASSWORD=env-password-4";  // allowed
  char* env[] = {env1, nullptr};
  Config cfg;
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadConfig(
      path, env,
      {"alertmanager.password=flag-password-5", "kafka.common.sasl.password:flag-malformed-6"},
      &cfg, &errors));
  std::string all = Joined(errors);
  for (const char* secret : {"typo-secret-1", "file-token-2", "typo-secret-3", "env-password-4",
                             "flag-password-5", "flag-malformed-6"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " in:\n" << all;
  }
  // Key names and non-secret values are still there.
  EXPECT_NE(all.find("unknown key 'kafka.consumr.sasl.password'"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown key 'alertmanager.pasword'"), std::string::npos) << all;
  EXPECT_NE(all.find("alertmanager.bearer_token = (redacted): expected from the environment "
                     "only (DEDUPD_ALERTMANAGER_BEARER_TOKEN)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("flag: alertmanager.password = (redacted)"), std::string::npos) << all;
  EXPECT_NE(all.find("flag: '(redacted)': expected key=value"), std::string::npos) << all;
  EXPECT_NE(all.find("metrics.port = '99999': expected an integer"), std::string::npos) << all;
  EXPECT_EQ(errors.size(), 6u) << all;
  std::remove(path.c_str());
}

TEST(Secrets, SecretSettingsComeFromTheEnvironment) {
  char env1[] = "DEDUPD_ALERTMANAGER_BEARER_TOKEN=env-token";
  char* env[] = {env1, nullptr};
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig("", env, {"alertmanager.enabled=true"}, &cfg, &errors)) << Joined(errors);
  EXPECT_EQ(cfg.settings().alertmanager.bearer_token, "env-token");
  EXPECT_EQ(cfg.Sources().at("alertmanager.bearer_token"), "env DEDUPD_ALERTMANAGER_BEARER_TOKEN");
  // An empty value in the file is "not set" (config/dedupd.yaml documents the key).
  EXPECT_TRUE(LoadConfig(kShipped, nullptr, {}, &cfg, &errors)) << Joined(errors);
}

// --- Alertmanager settings (issue #14) ---------------------------------------

std::vector<std::string> AlertmanagerErrors(std::vector<std::string> flags, char** env = nullptr) {
  flags.insert(flags.begin(), "alertmanager.enabled=true");
  Config cfg;
  std::vector<std::string> errors;
  LoadConfig("", env, flags, &cfg, &errors);
  return errors;
}

TEST(AlertmanagerConfig, HttpsAndSeveralUrlsAreAccepted) {
  EXPECT_TRUE(AlertmanagerErrors({"alertmanager.url=https://am.example:9093"}).empty());
  EXPECT_TRUE(
      AlertmanagerErrors({"alertmanager.url=http://am-0:9093/prefix, https://am-1:9093"}).empty());
  Config cfg;
  std::vector<std::string> errors;
  ASSERT_TRUE(
      LoadConfig("", nullptr, {"alertmanager.url= http://a:1 ,,https://b:2/x,"}, &cfg, &errors));
  EXPECT_EQ(cfg.settings().alertmanager.urls,
            (std::vector<std::string>{"http://a:1", "https://b:2/x"}));
}

TEST(AlertmanagerConfig, OtherSchemesAreRefusedWithKeyValueAndExpectation) {
  for (const char* url : {"ftp://am.example", "am.example:9093", "https://", "http://:9093", ""}) {
    auto errors = AlertmanagerErrors({std::string("alertmanager.url=") + url});
    ASSERT_EQ(errors.size(), 1u) << url;
    EXPECT_EQ(errors[0], std::string("alertmanager.url = '") + url +
                             "': expected http:// or https:// URLs separated by commas");
  }
  auto errors = AlertmanagerErrors({"alertmanager.url=http://ok:1,gopher://no:2"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("'http://ok:1,gopher://no:2'"), std::string::npos);
}

TEST(AlertmanagerConfig, CredentialsInTheUrlAreRefusedAndNotShown) {
  auto errors = AlertmanagerErrors({"alertmanager.url=https://admin:url-secret@am.example:9093/x"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].find("url-secret"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("'https://(redacted)@am.example:9093/x'"), std::string::npos)
      << errors[0];
  EXPECT_NE(errors[0].find("alertmanager.username"), std::string::npos);
}

TEST(AlertmanagerConfig, BasicAuthOrBearerNotBothAndNotHalf) {
  char pw[] = "DEDUPD_ALERTMANAGER_PASSWORD=pw";
  char token[] = "DEDUPD_ALERTMANAGER_BEARER_TOKEN=tok";
  char* env_pw[] = {pw, nullptr};
  char* env_both[] = {pw, token, nullptr};
  EXPECT_TRUE(AlertmanagerErrors({"alertmanager.username=u"}, env_pw).empty());
  EXPECT_TRUE(AlertmanagerErrors({"alertmanager.username=u", "alertmanager.password_file=/run/pw"})
                  .empty());
  EXPECT_TRUE(AlertmanagerErrors({"alertmanager.bearer_token_file=/run/token"}).empty());
  EXPECT_EQ(AlertmanagerErrors({"alertmanager.username=u"}).size(), 1u) << "no password";
  EXPECT_EQ(AlertmanagerErrors({}, env_pw).size(), 1u) << "a password without a user";
  EXPECT_EQ(AlertmanagerErrors({"alertmanager.username=u", "alertmanager.password_file=/p"}, env_pw)
                .size(),
            1u)
      << "password twice";
  auto both = AlertmanagerErrors({"alertmanager.username=u"}, env_both);
  ASSERT_EQ(both.size(), 1u);
  EXPECT_NE(both[0].find("basic auth or a bearer token, not both"), std::string::npos);
  EXPECT_EQ(Joined(both).find("pw\n"), std::string::npos);
}

TEST(AlertmanagerConfig, GeneratorUrlIsAnHttpTemplateWithKnownPlaceholders) {
  EXPECT_TRUE(AlertmanagerErrors({"alertmanager.generator_url=https://dedupd.example/diff?url={url}"
                                  "&from={from}&to={to}"})
                  .empty());
  auto errors = AlertmanagerErrors({"alertmanager.generator_url=https://x/{page}"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "alertmanager.generator_url = 'https://x/{page}': expected an http:// or https:// "
            "URL template whose only placeholders are {url}, {from} and {to}");
  EXPECT_EQ(AlertmanagerErrors({"alertmanager.generator_url=/relative/{url}"}).size(), 1u);
}

// kafka.group_instance_id: empty (dynamic membership) or an id the broker
// accepts (Kafka's rule for group.instance.id); the Helm chart's
// <namespace>.<release>.<pod name> fits.
TEST(Config, GroupInstanceIdIsEmptyOrAValidKafkaId) {
  for (const std::string ok : {"", "dedupd.dedupd-0", "ns_1.release-dedupd-12"}) {
    Config cfg;
    std::vector<std::string> errors;
    EXPECT_TRUE(LoadConfig("", nullptr, {"kafka.group_instance_id=" + ok}, &cfg, &errors)) << ok;
    EXPECT_EQ(cfg.settings().kafka.group_instance_id, ok);
  }
  for (const std::string& bad :
       {std::string("dedupd/0"), std::string("pod 0"), std::string(250, 'a')}) {
    Config cfg;
    std::vector<std::string> errors;
    EXPECT_FALSE(LoadConfig("", nullptr, {"kafka.group_instance_id=" + bad}, &cfg, &errors)) << bad;
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("kafka.group_instance_id"), std::string::npos) << errors[0];
  }
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
  EXPECT_EQ(cfg.settings().health.liveness_timeout, std::chrono::milliseconds(60000));
}

}  // namespace
}  // namespace dedupd::config
