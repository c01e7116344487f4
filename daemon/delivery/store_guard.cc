#include "delivery/store_guard.h"

#include <utility>

#include "common/log.h"

namespace dedupd::delivery {

namespace {

std::string Seconds(Clock::TimePoint from, Clock::TimePoint to) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(to - from).count());
}

}  // namespace

StoreGuard::StoreGuard(StoreEdge* store, Clock* clock, StoreMetrics* metrics, StoreGuardHooks hooks)
    : store_(store), clock_(clock), metrics_(metrics), hooks_(std::move(hooks)) {}

bool StoreGuard::Ready() {
  std::optional<StoreFault> fault = store_->CheckWritable();
  bool failed_write = false;
  if (!fault && unstored_) {
    std::string why;
    if (store_->Commit(*unstored_, &why)) {
      unstored_.reset();
    } else {
      fault = store_->LastError();
      if (!fault) fault = StoreFault{"io", why};
      failed_write = true;
    }
  }
  Note(fault, failed_write);
  return !fault;
}

bool StoreGuard::Wait(Clock::TimePoint deadline) {
  while (!Ready()) {
    if (hooks_.cancelled() || clock_->Now() >= deadline) return false;
    hooks_.beat("waiting for space on the state volume");
    clock_->SleepFor(std::chrono::seconds(1));
  }
  return true;
}

bool StoreGuard::HoldInput(ConsumerEdge& consumer) {
  hooks_.beat("holding input: the state store takes no writes");
  const auto consumed = consumer.ConsumeOne(1000);
  if (!consumed) return true;
  const auto [partition, offset] = *consumed;
  if (kafka::Status s = consumer.Seek(partition, offset, 10000); !s.ok()) {
    log::Error("cannot put a message back while the state store takes no writes",
               {{"partition", std::to_string(partition)},
                {"offset", std::to_string(offset)},
                {"error", s.Describe()}});
    return false;
  }
  for (int i = 0; i < 10 && !hooks_.cancelled(); ++i) {
    clock_->SleepFor(std::chrono::milliseconds(100));
  }
  return true;
}

void StoreGuard::CommitFailed(Meta meta, std::optional<StoreFault> fault, const std::string& why) {
  unstored_ = std::move(meta);
  Note(fault ? fault : StoreFault{"io", why}, true);
}

void StoreGuard::ChunkFailed(const StoreFault& fault) {
  if (!unstored_) unstored_.emplace();
  Note(fault, true);
}

void StoreGuard::Note(const std::optional<StoreFault>& fault, bool failed_write) {
  const bool was_writable = writable_.load();
  const auto now = clock_->Now();
  if (!fault) {
    if (was_writable) return;
    writable_ = true;
    metrics_->SetWritable(true);
    hooks_.changed(true);
    log::Info("state store writable again; taking input",
              {{"waited_seconds", Seconds(blocked_since_, now)}});
    return;
  }
  if (failed_write || was_writable) metrics_->CountError(fault->kind);
  {
    std::lock_guard lock(why_mu_);
    why_ = fault->message;
  }
  if (was_writable) blocked_since_ = now;
  writable_ = false;
  metrics_->SetWritable(false);
  hooks_.changed(false);
  if (was_writable || now - logged_ >= std::chrono::seconds(30)) {
    logged_ = now;
    log::Error(
        "the state store takes no writes: not ready, no new input until it does; retrying "
        "every second (free space on the state volume: docs/runbook.md, "
        "DedupdStateStoreNotWritable)",
        {{"kind", fault->kind},
         {"error", fault->message},
         {"waiting_seconds", Seconds(blocked_since_, now)}});
  }
}

}  // namespace dedupd::delivery
