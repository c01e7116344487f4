// Clock: the steady time the delivery stage reads and sleeps on, injected so
// that its timeouts and back-offs can be tested without waiting.
//
//   delivery::SteadyClock clock;                 // production
//   auto started = clock.Now();
//   clock.SleepFor(std::chrono::milliseconds(200));  // a retry's pause
// Tests pass a manual clock whose SleepFor only advances Now().
//
// Thread-safety: SteadyClock is stateless; a test clock is the test's own.
#pragma once

#include <chrono>
#include <thread>

namespace dedupd::delivery {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual void SleepFor(std::chrono::milliseconds duration) = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
};

}  // namespace dedupd::delivery
