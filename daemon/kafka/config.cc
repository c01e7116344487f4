#include "kafka/config.h"

#include <string_view>

#include "config/config.h"

namespace dedupd::kafka {

bool IsSecretProperty(const std::string& name) {
  return config::IsSecretKey(name);
}

ConfPtr MakeConf(const Props& props, std::string* error) {
  ConfPtr conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [name, value] : props) {
    std::string errstr;
    if (conf->set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
      if (error != nullptr) {
        const std::string shown =
            IsSecretProperty(name) ? config::ShowValue(name, value) : "'" + value + "'";
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
