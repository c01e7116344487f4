// Logging: one line per event on stderr, as text or as JSON lines, with a
// level. Deliberately small: the daemon logs lifecycle events and problems,
// never per-page chatter above debug.
//
//   log::SetFormat(log::Format::kJson); log::SetLevel(log::Level::kInfo);
//   log::Info("restored", {{"partition", "3"}, {"urls", "120000"}});
//
// Thread-safety: thread-safe (one write per line).
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/json.h"

namespace dedupd::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

struct Settings {
  Level level = Level::kInfo;
  Format format = Format::kText;
};

inline Settings& Global() {
  static Settings s;
  return s;
}
inline void SetLevel(Level l) {
  Global().level = l;
}
inline void SetFormat(Format f) {
  Global().format = f;
}

inline bool ParseLevel(std::string_view s, Level* out) {
  if (s == "debug")
    *out = Level::kDebug;
  else if (s == "info")
    *out = Level::kInfo;
  else if (s == "warn")
    *out = Level::kWarn;
  else if (s == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

using Fields = std::initializer_list<std::pair<std::string_view, std::string>>;

inline void Write(Level level, std::string_view message, Fields fields) {
  if (level < Global().level) return;
  static constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[80];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  std::string_view name = kNames[static_cast<int>(level)];
  if (Global().format == Format::kJson) {
    line.append("{\"ts\":\"")
        .append(ts)
        .append("\",\"level\":\"")
        .append(name)
        .append("\",\"msg\":\"");
    AppendJsonEscaped(&line, message);
    line.append("\"");
    for (const auto& [k, v] : fields) {
      line.append(",\"").append(k).append("\":\"");
      AppendJsonEscaped(&line, v);
      line.append("\"");
    }
    line.append("}\n");
  } else {
    line.append(ts).append(" ").append(name).append(" ").append(message);
    for (const auto& [k, v] : fields) line.append(" ").append(k).append("=").append(v);
    line.append("\n");
  }
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

inline void Debug(std::string_view m, Fields f = {}) {
  Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, Fields f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, Fields f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, Fields f = {}) {
  Write(Level::kError, m, f);
}

}  // namespace dedupd::log
