// Builds librdkafka configuration objects from plain string properties.
//
// dedupd passes librdkafka properties through unchanged (kafka.consumer.*,
// kafka.producer.* in the YAML); this is where they meet librdkafka, so a bad
// one is refused with the property, the value and librdkafka's own message.
//
//   std::string error;
//   ConfPtr conf = MakeConf({{"bootstrap.servers", b}, {"enable.idempotence", "true"}}, &error);
//   if (!conf) return Fail(error);  // "kafka property 'acks'='x': Invalid value ..."
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <map>
#include <string>

#include "kafka/handles.h"

namespace dedupd::kafka {

using Props = std::map<std::string, std::string>;

// A global (CONF_GLOBAL) configuration with every property set, in map order.
// Topic-level properties (auto.offset.reset, ...) are accepted too: librdkafka
// forwards them to the default topic configuration. Returns null on the first
// property librdkafka refuses and writes the reason to *error (if non-null).
// Values of secret properties (see IsSecretProperty) are not echoed.
ConfPtr MakeConf(const Props& props, std::string* error);

// True for properties whose values must not appear in logs or error text
// (sasl.password, ssl.key.password, ssl.key.pem, sasl.oauthbearer.config, ...):
// config::IsSecretKey, the one definition shared with the configuration.
bool IsSecretProperty(const std::string& name);

}  // namespace dedupd::kafka
