// The process_* metrics of the Prometheus client conventions
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds), read from /proc at each scrape. prometheus-cpp
// (Debian's 1.1) has no process collector, unlike the Go and Python clients.
//
//   ProcessSample s;
//   if (ReadProcessSample("/proc/self", &s)) use(s.resident_bytes);
//   registry-side: ProcessCollector collector; collector.Collect();
//
// Thread-safety: both are stateless and may be called from any thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace dedupd::metrics {

struct ProcessSample {
  double cpu_seconds = 0;         // user + system
  double resident_bytes = 0;      // RSS
  double virtual_bytes = 0;       // VSZ
  double open_fds = 0;            // entries of <proc>/fd
  double max_fds = 0;             // RLIMIT_NOFILE soft limit (of this process)
  double start_time_seconds = 0;  // unix time the process started
};

// Reads <proc_dir>/stat, <proc_dir>/fd and /proc/stat (boot time). False (and
// *error) when a file cannot be read or parsed.
bool ReadProcessSample(const std::string& proc_dir, ProcessSample* out, std::string* error);

class ProcessCollector : public prometheus::Collectable {
 public:
  // An unreadable /proc gives no process_* series rather than wrong ones.
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace dedupd::metrics
