// The process_* metrics read from /proc/self: they move the way the process
// does (files opened, memory touched), and Metrics::Render() exports them with
// the names of the Prometheus client conventions.
#include "metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "metrics/metrics.h"

namespace dedupd::metrics {
namespace {

ProcessSample Sample() {
  ProcessSample s;
  std::string error;
  EXPECT_TRUE(ReadProcessSample("/proc/self", &s, &error)) << error;
  return s;
}

TEST(ProcessMetrics, OpenFdsGoUpByTheFilesOpened) {
  const ProcessSample before = Sample();
  std::vector<int> fds;
  for (int i = 0; i < 17; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const ProcessSample after = Sample();
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(after.open_fds - before.open_fds, 17);
  EXPECT_EQ(Sample().open_fds, before.open_fds);
  EXPECT_GE(after.max_fds, after.open_fds);
}

TEST(ProcessMetrics, ResidentMemoryGrowsAfterTouchingABuffer) {
  const ProcessSample before = Sample();
  constexpr size_t kBytes = 64 << 20;
  std::unique_ptr<char[]> buffer(new char[kBytes]);
  std::memset(buffer.get(), 1, kBytes);  // touched: resident now
  const ProcessSample after = Sample();
  volatile char keep = buffer[kBytes - 1];
  (void)keep;
  EXPECT_GE(after.resident_bytes - before.resident_bytes, 0.9 * kBytes);
  EXPECT_GE(after.virtual_bytes, after.resident_bytes);
}

TEST(ProcessMetrics, StartTimeIsNearNowAndCpuTimeGrows) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const ProcessSample s = Sample();
  EXPECT_LE(s.start_time_seconds, now + 1);
  EXPECT_GE(s.start_time_seconds, now - 120) << "the test process started minutes ago?";
  // Burn 0.3 s of CPU as the kernel counts it (on a loaded machine the wall
  // clock says little), bounded by 20 s of wall time.
  const auto cpu = [] {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  };
  const double cpu_start = cpu();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  volatile uint64_t spin = 0;
  while (cpu() - cpu_start < 0.3 && std::chrono::steady_clock::now() < until) spin = spin + 1;
  ASSERT_GE(cpu() - cpu_start, 0.3);
  // /proc counts in clock ticks (10 ms): 0.3 s shows as at least 0.25.
  EXPECT_GE(Sample().cpu_seconds - s.cpu_seconds, 0.25);
}

TEST(ProcessMetrics, UnreadableProcIsAnError) {
  ProcessSample s;
  std::string error;
  EXPECT_FALSE(ReadProcessSample("/nonexistent-proc", &s, &error));
  EXPECT_NE(error.find("/nonexistent-proc/stat"), std::string::npos) << error;
}

TEST(ProcessMetrics, RenderedWithTheConventionalNamesAndTypes) {
  Metrics m;
  const std::string text = m.Render();
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_virtual_memory_bytes gauge", "# TYPE process_open_fds gauge",
        "# TYPE process_max_fds gauge", "# TYPE process_start_time_seconds gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace dedupd::metrics
