#include "kafka/config.h"

#include <string_view>

namespace dedupd::kafka {

bool IsSecretProperty(const std::string& name) {
  // Substrings rather than a list of names: librdkafka adds properties over
  // time, and a false positive only costs a redacted value in an error text.
  for (std::string_view marker : {"password", "secret", "key.pem", "oauthbearer.config"}) {
    if (name.find(marker) != std::string::npos) return true;
  }
  return false;
}

ConfPtr MakeConf(const Props& props, std::string* error) {
  ConfPtr conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [name, value] : props) {
    std::string errstr;
    if (conf->set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
      if (error != nullptr) {
        const std::string shown = IsSecretProperty(name) ? "(redacted)" : "'" + value + "'";
        std::string why = "kafka property '" + name + "'=";
        why += shown;
        why += ": ";
        // librdkafka ends some messages with a newline; error texts are one line.
        while (!errstr.empty() && (errstr.back() == '\n' || errstr.back() == ' ')) {
          errstr.pop_back();
        }
        why += errstr;
        *error = std::move(why);
      }
      return nullptr;
    }
  }
  return conf;
}

}  // namespace dedupd::kafka
