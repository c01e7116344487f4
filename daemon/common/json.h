// JSON string escaping for the few places that write JSON by hand (log lines,
// Alertmanager alerts), where pulling in a JSON library would be overkill.
//
//   std::string out;
//   AppendJsonEscaped(&out, "say \"hi\"\n");   // say \"hi\"\n   (no quotes added)
//
// Thread-safety: pure functions. Input is written byte for byte except the
// characters JSON requires to be escaped, so valid UTF-8 stays valid.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace dedupd {

inline void AppendJsonEscaped(std::string* out, std::string_view s) {
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

}  // namespace dedupd
