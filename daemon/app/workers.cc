#include "app/workers.h"

#include <algorithm>
#include <chrono>

namespace dedupd::app {

size_t WorkerThreads(size_t configured) {
  if (configured > 0) return configured;
  return std::max<size_t>(1, std::thread::hardware_concurrency());
}

Workers::Workers(const Pipeline* pipeline, size_t threads, size_t capacity)
    : pipeline_(pipeline),
      threads_(std::max<size_t>(1, threads)),
      speculate_(threads_ > 1 ? classify::Speculate::kYes : classify::Speculate::kNo) {
  // Enough messages in flight that no worker waits for the next one while
  // the pipeline's thread finishes the oldest.
  if (capacity == 0) capacity = threads_ == 1 ? 1 : 4 * threads_;
  slots_.reserve(capacity);
  for (size_t i = 0; i < capacity; ++i) slots_.push_back(std::make_unique<Slot>());
  ready_.assign(capacity, 0);
  for (size_t i = 0; i < threads_; ++i) {
    parsers_.push_back(std::make_unique<parse::PageParser>(pipeline_->options().parse));
  }
  for (size_t i = 1; i < threads_; ++i) {
    workers_.emplace_back([this, parser = parsers_[i].get()] { Work(parser); });
  }
}

Workers::~Workers() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  for (auto& t : workers_) t.join();
}

void Workers::Submit() {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    ready_[tail_ % slots_.size()] = 0;
    ++tail_;
    wake = idle_ > 0;  // a wake-up is a system call: only for a worker that sleeps
  }
  if (wake) work_.notify_one();
}

void Workers::Work(parse::PageParser* parser) {
  std::unique_lock lock(mu_);
  while (true) {
    if (!stop_ && claimed_ == tail_) {
      ++idle_;
      work_.wait(lock, [this] { return stop_ || claimed_ < tail_; });
      --idle_;
    }
    if (stop_) return;
    const size_t at = claimed_++ % slots_.size();
    ++preparing_;
    lock.unlock();
    Slot& slot = *slots_[at];
    pipeline_->Prepare(slot.message, parser, &slot.result, &slot.prepared, speculate_);
    lock.lock();
    ready_[at] = 1;
    --preparing_;
    ++stats_.prepared_by_workers;
    if (waiting_) ready_cv_.notify_all();
  }
}

Workers::Slot& Workers::Front() {
  const size_t at = head_ % slots_.size();
  std::unique_lock lock(mu_);
  // Until the oldest is ready, this thread prepares what no worker has taken
  // (the oldest first): it never sleeps while there is work, and a worker
  // the scheduler has put aside holds up at most the page it took.
  while (ready_[at] == 0) {
    if (claimed_ < tail_) {
      const size_t next = claimed_++ % slots_.size();
      lock.unlock();
      Slot& slot = *slots_[next];
      pipeline_->Prepare(slot.message, parsers_[0].get(), &slot.result, &slot.prepared, speculate_);
      lock.lock();
      ready_[next] = 1;
      ++stats_.prepared_here;
      continue;
    }
    const auto since = std::chrono::steady_clock::now();
    waiting_ = true;
    ready_cv_.wait(lock);
    waiting_ = false;
    ++stats_.waits;
    stats_.wait_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  }
  return *slots_[at];
}

void Workers::PopFront() {
  std::lock_guard lock(mu_);
  ready_[head_ % slots_.size()] = 0;
  ++head_;
}

Workers::Stats Workers::stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

void Workers::Clear() {
  std::unique_lock lock(mu_);
  claimed_ = tail_;  // what no worker took is not prepared
  waiting_ = true;
  ready_cv_.wait(lock, [this] { return preparing_ == 0; });
  waiting_ = false;
  std::fill(ready_.begin(), ready_.end(), 0);
  head_ = tail_;
}

}  // namespace dedupd::app
