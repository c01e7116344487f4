// The real `dedupd check-config`, as an operator runs it, with secrets given
// by the YAML file, the environment and flags (issue #14): none of them may
// appear in stdout or stderr, of a valid or an invalid configuration, while
// key names and non-secret values still do. The unit tests in config_test.cc
// check the configuration layer; this one checks every path to the terminal.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CheckConfigSecrets : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dedupd-check-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Runs dedupd with a clean environment plus `env` ("NAME=value", no quotes
  // needed: the test's values are shell-safe).
  Output Run(const std::vector<std::string>& env, const std::string& args) {
    std::string command = "env -i";
    for (const auto& e : env) command += " '" + e + "'";
    command += " '" DEDUPD_BINARY "' " + args + " >'" + dir_ + "/out' 2>'" + dir_ + "/err'";
    int status = std::system(command.c_str());
    Output o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = Slurp(dir_ + "/out");
    o.err = Slurp(dir_ + "/err");
    return o;
  }

  std::string dir_;
};

// Every secret of the test, by where it was given.
const std::vector<std::string> kSecrets = {
    "yaml-common-sasl-pw-1", "yaml-ssl-key-pem-2",   "yaml-oauth-secret-3", "yaml-keystore-pw-4",
    "env-consumer-pw-5",     "env-am-password-6",    "env-oauth-config-7",  "flag-producer-pw-8",
    "flag-ssl-key-pw-9",     "yaml-typo-secret-10",  "yaml-am-token-11",    "flag-am-password-12",
    "url-password-13",       "flag-malformed-pw-14",
};

void ExpectNoSecret(const Output& o) {
  for (const auto& s : kSecrets) {
    EXPECT_EQ(o.out.find(s), std::string::npos) << s << " on stdout:\n" << o.out;
    EXPECT_EQ(o.err.find(s), std::string::npos) << s << " on stderr:\n" << o.err;
  }
}

void ExpectLine(const std::string& text, const std::string& line) {
  EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
}

TEST_F(CheckConfigSecrets, AValidConfigurationListsKeysAndRedactsEverySecret) {
  std::string yaml = Write("dedupd.yaml",
                           "kafka:\n"
                           "  common:\n"
                           "    security.protocol: SASL_SSL\n"
                           "    sasl.username: visible-user\n"
                           "    sasl.password: yaml-common-sasl-pw-1\n"
                           "    ssl.keystore.password: yaml-keystore-pw-4\n"
                           "    sasl:\n"
                           "      oauthbearer:\n"
                           "        client.secret: yaml-oauth-secret-3\n"
                           "  producer:\n"
                           "    ssl.key.pem: yaml-ssl-key-pem-2\n"
                           "    linger.ms: 20\n"
                           "alertmanager:\n"
                           "  enabled: true\n"
                           "  url: https://am-0.example:9093,https://am-1.example:9093\n"
                           "  username: am-user\n"
                           "  ca_file: /etc/dedupd/am-ca.pem\n");
  Output o = Run({"DEDUPD_KAFKA_CONSUMER_SASL_PASSWORD=env-consumer-pw-5",
                  "DEDUPD_ALERTMANAGER_PASSWORD=env-am-password-6",
                  "DEDUPD_KAFKA_CONSUMER_SASL_OAUTHBEARER_CONFIG=env-oauth-config-7"},
                 "check-config '" + yaml +
                     "' --set kafka.producer.sasl.password=flag-producer-pw-8"
                     " --kafka.common.ssl.key.password=flag-ssl-key-pw-9");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  ExpectNoSecret(o);
  ExpectLine(o.out, "kafka consumer property sasl.password = (redacted)");
  ExpectLine(o.out, "kafka producer property sasl.password = (redacted)");
  ExpectLine(o.out, "kafka consumer property sasl.oauthbearer.client.secret = (redacted)");
  ExpectLine(o.out, "kafka consumer property sasl.oauthbearer.config = (redacted)");
  ExpectLine(o.out, "kafka producer property ssl.key.pem = (redacted)");
  ExpectLine(o.out, "kafka producer property ssl.key.password = (redacted)");
  ExpectLine(o.out, "kafka consumer property ssl.keystore.password = (redacted)");
  ExpectLine(o.out, "alertmanager.password = (redacted)    (env DEDUPD_ALERTMANAGER_PASSWORD)");
  ExpectLine(o.out, "alertmanager.bearer_token = (unset)    (default)");
  // Non-secret values are shown as they are.
  ExpectLine(o.out, "kafka consumer property sasl.username = visible-user");
  ExpectLine(o.out, "kafka producer property security.protocol = SASL_SSL");
  ExpectLine(o.out, "kafka producer property linger.ms = 20");
  ExpectLine(o.out, "alertmanager.username = am-user");
  ExpectLine(o.out, "alertmanager.url = https://am-0.example:9093,https://am-1.example:9093");
  ExpectLine(o.out, "alertmanager.ca_file = /etc/dedupd/am-ca.pem");
  ExpectLine(o.out, "configuration is valid");
}

TEST_F(CheckConfigSecrets, AnInvalidConfigurationNamesTheProblemsWithoutTheSecrets) {
  std::string yaml = Write("dedupd.yaml",
                           "kafka:\n"
                           "  common:\n"
                           "    sasl.password: yaml-common-sasl-pw-1\n"
                           "  consumr:\n"  // a typo: the key is unknown
                           "    sasl.password: yaml-typo-secret-10\n"
                           "metrics:\n"
                           "  port: 99999\n"
                           "alertmanager:\n"
                           "  enabled: true\n"
                           "  url: https://am-user:url-password-13@am.example:9093\n"
                           "  bearer_token: yaml-am-token-11\n");
  Output o = Run({"DEDUPD_KAFKA_CONSUMER_SASL_PASSWORD=env-consumer-pw-5",
                  "DEDUPD_ALERTMANAGER_PASSWORD=env-am-password-6"},
                 "check-config '" + yaml +
                     "' --set alertmanager.password=flag-am-password-12"
                     " --set kafka.common.sasl.password:flag-malformed-pw-14");
  EXPECT_EQ(o.exit_code, 2);
  ExpectNoSecret(o);
  ExpectLine(o.err, "dedupd: invalid configuration:");
  ExpectLine(o.err, "unknown key 'kafka.consumr.sasl.password'");
  ExpectLine(o.err, "metrics.port = '99999': expected an integer from 0 to 65535");
  ExpectLine(o.err, "alertmanager.bearer_token = (redacted): expected from the environment only");
  ExpectLine(o.err, "flag: alertmanager.password = (redacted)");
  ExpectLine(o.err, "flag: '(redacted)': expected key=value");
  ExpectLine(o.err, "alertmanager.url = 'https://(redacted)@am.example:9093'");
}

}  // namespace
