// dedupd: streaming deduplication and change-monitor daemon. A thin main:
// parse the command line, load configuration, hand over to a command.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "app/replay_command.h"
#include "app/run.h"
#include "app/scan.h"
#include "common/log.h"
#include "config/config.h"
#include "replay/replay.h"
#include "state/url_state.h"

extern char** environ;

namespace {

constexpr const char* kUsage =
    R"(dedupd - streaming deduplication and change monitor for scraped pages

Usage:
  dedupd run   [--config FILE] [--set KEY=VALUE]... [--KEY=VALUE]...
        Consume pages from Kafka, publish events, diffs and dead letters.
  dedupd replay --to-prefix P [--from earliest|TIME|EPOCH_MS|P:OFF,...] [--state-dir DIR]
               [--config FILE] [--set KEY=VALUE]...
        Re-run detection over the input topic's history with the current
        configuration into P + each output topic name, with its own group
        (P + kafka.group_id), transactional id and state (default
        <state.dir>/replay-P); the live group's offsets and state are never
        touched and nothing is posted to Alertmanager. Stops by itself at the
        end offsets taken at start and prints a summary. TIME is RFC 3339.
        docs/runbook.md, "Replaying after a rule change".
  dedupd scan  [FILE|-] [--state-dir DIR] [--format json|text] [--metrics-port P]
               [--hold SECONDS] [--config FILE] [--set KEY=VALUE]...
        Run the same pipeline on JSON lines (file or stdin) without Kafka
        (on processing.threads threads: --set processing.threads=N);
        one output record per input line on stdout. State is in memory
        unless --state-dir keeps it. --hold keeps serving /metrics, the API
        and /ui/page (docs/api.md) that long after the input ends (port P,
        or any free port without --metrics-port; the log says which).
  dedupd check-config [FILE] [--set KEY=VALUE]...
        Validate a configuration and print every effective value and its source.
  dedupd config-docs
        Print the table of every setting (Markdown).
  dedupd --help | --version

Every setting can come from the YAML file (config/dedupd.yaml documents them
all), from the environment (DEDUPD_SECTION_KEY, e.g. DEDUPD_KAFKA_BOOTSTRAP_SERVERS)
or from the command line (--set kafka.bootstrap_servers=HOST:PORT or
--kafka.bootstrap_servers=HOST:PORT). librdkafka properties pass through as
kafka.consumer.*, kafka.producer.* and kafka.common.*.
)";

struct Args {
  std::string command;
  std::string config_file;
  std::vector<std::string> overrides;
  std::vector<std::string> positional;
  dedupd::app::ScanArgs scan;
  dedupd::app::ReplayArgs replay;
};

bool ParseArgs(int argc, char** argv, Args* a, std::string* error) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) {
        *error = arg + " needs a value";
        return false;
      }
      *out = args[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      a->command = "help";
    } else if (arg == "--version") {
      a->command = "version";
    } else if (arg == "--config" || arg == "-c") {
      if (!value(&a->config_file)) return false;
    } else if (arg == "--set") {
      if (!value(&v)) return false;
      a->overrides.push_back(v);
    } else if (arg == "--from") {
      if (!value(&a->replay.from)) return false;
    } else if (arg.starts_with("--from=")) {
      a->replay.from = arg.substr(7);
    } else if (arg == "--to-prefix") {
      if (!value(&a->replay.prefix)) return false;
    } else if (arg.starts_with("--to-prefix=")) {
      a->replay.prefix = arg.substr(12);
    } else if (arg == "--state-dir") {
      if (!value(&a->scan.state_dir)) return false;
    } else if (arg == "--format") {
      if (!value(&a->scan.format)) return false;
      if (a->scan.format != "json" && a->scan.format != "text") {
        *error = "--format '" + a->scan.format + "': expected json or text";
        return false;
      }
    } else if (arg == "--metrics-port") {
      if (!value(&v)) return false;
      a->scan.metrics_port = std::atoi(v.c_str());
    } else if (arg == "--hold") {
      if (!value(&v)) return false;
      a->scan.hold_seconds = std::atoi(v.c_str());
    } else if (arg.starts_with("--") && arg.find('=') != std::string::npos) {
      a->overrides.push_back(arg.substr(2));  // --key=value
    } else if (arg.starts_with("--") && arg.size() > 2) {
      *error = "unknown option '" + arg + "' (see dedupd --help)";
      return false;
    } else if (a->command.empty()) {
      a->command = arg;
    } else {
      a->positional.push_back(arg);
    }
  }
  return true;
}

dedupd::log::Level LogLevel(dedupd::config::LogLevel level) {
  switch (level) {
    case dedupd::config::LogLevel::kDebug: return dedupd::log::Level::kDebug;
    case dedupd::config::LogLevel::kInfo: return dedupd::log::Level::kInfo;
    case dedupd::config::LogLevel::kWarn: return dedupd::log::Level::kWarn;
    case dedupd::config::LogLevel::kError: return dedupd::log::Level::kError;
  }
  return dedupd::log::Level::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, &args, &error)) {
    std::cerr << "dedupd: " << error << "\n";
    return 2;
  }
  if (args.command.empty() || args.command == "help") {
    std::cout << kUsage;
    return args.command.empty() ? 2 : 0;
  }
  if (args.command == "version") {
    std::cout << "dedupd " << DEDUPD_VERSION << "\n";
    return 0;
  }
  if (args.command == "config-docs") {
    std::cout << dedupd::config::DescribeSettings();
    return 0;
  }
  if (args.command == "check-config" && !args.positional.empty()) {
    args.config_file = args.positional[0];
  }
  dedupd::config::Config cfg;
  std::vector<std::string> errors;
  if (!dedupd::config::LoadConfig(args.config_file, environ, args.overrides, &cfg, &errors)) {
    std::cerr << "dedupd: invalid configuration:\n";
    for (const auto& e : errors) std::cerr << "  " << e << "\n";
    return 2;
  }
  const dedupd::config::Settings& settings = cfg.settings();
  dedupd::log::SetLevel(LogLevel(settings.log.level));
  dedupd::log::SetFormat(settings.log.format == dedupd::config::LogFormat::kJson
                             ? dedupd::log::Format::kJson
                             : dedupd::log::Format::kText);
  switch (settings.state.text_compression) {
    case dedupd::config::TextCompression::kLz4:
      dedupd::state::SetTextCompression(dedupd::state::TextCompression::kLz4);
      break;
    case dedupd::config::TextCompression::kZstd:
      dedupd::state::SetTextCompression(dedupd::state::TextCompression::kZstd);
      break;
    case dedupd::config::TextCompression::kLz4Packed:
      dedupd::state::SetTextCompression(dedupd::state::TextCompression::kLz4Packed);
      break;
  }

  if (args.command == "check-config") {
    // Secrets (config::IsSecretKey) show as "(redacted)", or "(unset)".
    using dedupd::config::ShowValue;
    for (const auto& [key, value] : cfg.Values()) {
      std::cout << key << " = " << ShowValue(key, value) << "    (" << cfg.Sources().at(key)
                << ")\n";
    }
    for (const auto& [key, value] : cfg.KafkaProperties("consumer")) {
      std::cout << "kafka consumer property " << key << " = " << ShowValue(key, value) << "\n";
    }
    for (const auto& [key, value] : cfg.KafkaProperties("producer")) {
      std::cout << "kafka producer property " << key << " = " << ShowValue(key, value) << "\n";
    }
    std::cout << "configuration is valid\n";
    return 0;
  }
  if (args.command == "scan") {
    if (!args.positional.empty()) args.scan.input = args.positional[0];
    return dedupd::app::RunScan(settings, args.scan);
  }
  if (args.command == "replay") {
    args.replay.state_dir = args.scan.state_dir;
    return dedupd::app::RunReplay(args.config_file, environ, args.overrides, args.replay);
  }
  if (args.command == "run") {
    return dedupd::app::RunDaemon(settings);
  }
  std::cerr << "dedupd: unknown command '" << args.command << "' (see dedupd --help)\n";
  return 2;
}
