#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dedupd::metrics {
namespace {

// Boot time (btime of /proc/stat), seconds since the epoch; 0 if unknown.
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

prometheus::MetricFamily One(const char* name, const char* help, prometheus::MetricType type,
                             double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

}  // namespace

bool ReadProcessSample(const std::string& proc_dir, ProcessSample* out, std::string* error) {
  std::ifstream in(proc_dir + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) {
    *error = "cannot read " + proc_dir + "/stat";
    return false;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the
  // fields are counted from the last ')'; field 3 (state) is the first after it.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    *error = proc_dir + "/stat: no ')'";
    return false;
  }
  std::istringstream fields(stat.substr(close + 1));
  std::vector<std::string> f;
  for (std::string tok; fields >> tok;) f.push_back(tok);
  // proc(5) numbers the fields from 1: utime 14, stime 15, starttime 22,
  // vsize 23, rss 24; f[0] is field 3.
  if (f.size() < 22) {
    *error = proc_dir + "/stat: " + std::to_string(f.size() + 2) + " fields";
    return false;
  }
  const auto field = [&f](int n) {
    return std::strtod(f[static_cast<size_t>(n - 3)].c_str(), nullptr);
  };
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  out->cpu_seconds = (field(14) + field(15)) / ticks;
  out->start_time_seconds = BootTime() + field(22) / ticks;
  out->virtual_bytes = field(23);
  out->resident_bytes = field(24) * page;
  std::error_code ec;
  size_t fds = 0;
  for (std::filesystem::directory_iterator it(proc_dir + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (ec) {
    *error = "cannot list " + proc_dir + "/fd: " + ec.message();
    return false;
  }
  out->open_fds = static_cast<double>(fds);
  rlimit limit{};
  out->max_fds = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<double>(limit.rlim_cur) : 0;
  return true;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  ProcessSample s;
  std::string error;
  if (!ReadProcessSample("/proc/self", &s, &error)) return {};
  using prometheus::MetricType;
  return {
      One("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
          MetricType::Counter, s.cpu_seconds),
      One("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
          s.resident_bytes),
      One("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
          s.virtual_bytes),
      One("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, s.open_fds),
      One("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
          s.max_fds),
      One("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          MetricType::Gauge, s.start_time_seconds),
  };
}

}  // namespace dedupd::metrics
