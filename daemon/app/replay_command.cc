// `dedupd replay`: the Kafka side of a replay (replay/replay.h). Derives the
// replay's configuration from the live one, takes each input partition's end
// (last stable offset) and start (--from) from the broker, and runs the
// daemon's loop with a ReplayRun until every partition reached its end.
#include "app/replay_command.h"

#include <filesystem>
#include <iostream>

#include "app/run.h"
#include "common/log.h"
#include "kafka/admin.h"

namespace dedupd::app {

int RunReplay(const std::string& config_file, char** environ_vars,
              const std::vector<std::string>& overrides, const ReplayArgs& args) {
  std::vector<std::string> errors;
  config::Config live;
  if (!config::LoadConfig(config_file, environ_vars, overrides, &live, &errors)) {
    for (const auto& e : errors) std::cerr << "dedupd replay: " << e << "\n";
    return 2;
  }
  auto from = ParseReplayFrom(args.from);
  if (!from.ok()) {
    std::cerr << "dedupd replay: " << from.error() << "\n";
    return 2;
  }
  auto names = DeriveReplay(live.settings(), args.prefix, args.state_dir);
  if (!names.ok()) {
    std::cerr << "dedupd replay: " << names.error() << "\n";
    return 2;
  }
  std::vector<std::string> all = overrides;
  all.insert(all.end(), names.value().overrides.begin(), names.value().overrides.end());
  config::Config cfg;
  if (!config::LoadConfig(config_file, environ_vars, all, &cfg, &errors)) {
    std::cerr << "dedupd replay: the replay's configuration is invalid:\n";
    for (const auto& e : errors) std::cerr << "  " << e << "\n";
    return 2;
  }

  // The input's partitions and their ends, as a read_committed reader sees
  // them now: the replay stops there.
  kafka::Props props = cfg.settings().kafka.consumer_properties;
  props["bootstrap.servers"] = cfg.settings().kafka.bootstrap_servers;
  props.try_emplace("isolation.level", "read_committed");
  const std::string& input = names.value().input;
  auto marks = kafka::HighWatermarks(props, input, std::chrono::seconds(30));
  if (!marks.ok()) {
    log::Error("replay: cannot read the input topic's offsets",
               {{"topic", input}, {"error", marks.error()}});
    return 1;
  }
  std::map<int32_t, Watermark> by_partition;
  for (const auto& m : marks.value()) by_partition[m.partition] = {m.low, m.high};
  std::map<int32_t, int64_t> time_offsets;
  if (from.value().kind == ReplayFrom::Kind::kTimestamp) {
    auto offsets =
        kafka::OffsetsForTime(props, input, from.value().timestamp_ms, std::chrono::seconds(30));
    if (!offsets.ok()) {
      log::Error("replay: cannot find the offsets for --from",
                 {{"from", args.from}, {"error", offsets.error()}});
      return 1;
    }
    time_offsets = offsets.value();
  }
  auto ranges = PlanReplay(from.value(), by_partition, time_offsets);
  if (!ranges.ok()) {
    std::cerr << "dedupd replay: " << ranges.error() << "\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(names.value().state_dir, ec);
  if (ec) {
    log::Error("replay: cannot create its state directory",
               {{"dir", names.value().state_dir}, {"error", ec.message()}});
    return 1;
  }
  int64_t total = 0;
  std::string planned;
  for (const auto& [partition, r] : ranges.value()) {
    total += r.end - r.start;
    if (planned.size() < 400) {
      planned += (planned.empty() ? "" : ",") + std::to_string(partition) + ":" +
                 std::to_string(r.start) + ".." + std::to_string(r.end);
    }
  }
  log::Info("replay starting", {{"from", args.from},
                                {"prefix", names.value().prefix},
                                {"input", input},
                                {"ranges", planned},
                                {"messages", std::to_string(total)},
                                {"events_topic", names.value().replay.events},
                                {"group", names.value().group},
                                {"state_dir", names.value().state_dir}});
  ReplayRun run(names.value(), ranges.value());
  const int code = RunDaemon(cfg.settings(), &run);
  std::cout << run.Summary() << std::flush;
  if (code != 0) return code;
  return run.finished() ? 0 : 3;
}

}  // namespace dedupd::app
