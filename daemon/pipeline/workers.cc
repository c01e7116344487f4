#include "pipeline/workers.h"

#include <algorithm>
#include <chrono>

namespace dedupd::app {

size_t WorkerThreads(size_t configured) {
  if (configured > 0) return configured;
  return std::max<size_t>(1, std::thread::hardware_concurrency());
}

Workers::Workers(const Pipeline* pipeline, size_t threads, size_t capacity, Encoder encode)
    : pipeline_(pipeline),
      threads_(std::max<size_t>(1, threads)),
      speculate_(threads_ > 1 ? classify::Speculate::kYes : classify::Speculate::kNo),
      encode_(std::move(encode)) {
  // Enough messages in flight that no worker waits for the next one while
  // the pipeline's thread decides and produces the oldest, and that a
  // worker woken finds a run of jobs (wake_at_): 16 per thread, woken at
  // half the ring. With 4 per thread woken at a quarter (2 jobs with 2
  // threads) `dedupd run` woke its worker 10,000-18,000 times per 30,000
  // pages, and each wake-up preempted the loop's thread on its own core
  // (docs/delivery.md, "Ring size and wake-ups").
  if (capacity == 0) capacity = threads_ == 1 ? 1 : 16 * threads_;
  slots_.reserve(capacity);
  for (size_t i = 0; i < capacity; ++i) slots_.push_back(std::make_unique<Slot>());
  stage_.assign(capacity, Stage::kSubmitted);
  wake_at_ = std::max<size_t>(1, capacity / 2);
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
    stage_[tail_ % slots_.size()] = Stage::kSubmitted;
    ++tail_;
    wake = WakeLocked();
  }
  if (wake) work_.notify_one();
}

bool Workers::WakeLocked() {
  // A wake-up is a system call and a context switch on each side: only for
  // a worker that sleeps, and only once wake_at_ jobs wait for it, so that
  // it takes them in one go instead of sleeping and waking for each page.
  // Until then the pipeline's thread takes the oldest itself when it needs
  // it (Help, Front): no job waits for a sleeping worker.
  if (idle_ == 0) return false;
  const uint64_t pending = (decided_ - encode_claimed_) + (tail_ - claimed_);
  if (pending < wake_at_) return false;
  ++stats_.wakeups;
  return true;
}

bool Workers::RunJob(std::unique_lock<std::mutex>& lock, parse::PageParser* parser, bool here) {
  // Encoding first: its slots are older, and the oldest is what the
  // pipeline's thread produces next. Slots with nothing to encode are
  // skipped (Decided(false)).
  while (encode_claimed_ < decided_ && stage_[encode_claimed_ % slots_.size()] == Stage::kEncoded) {
    ++encode_claimed_;
  }
  if (encode_claimed_ < decided_) {
    const size_t at = encode_claimed_++ % slots_.size();
    ++preparing_;
    lock.unlock();
    encode_(*slots_[at]);
    lock.lock();
    stage_[at] = Stage::kEncoded;
    --preparing_;
    ++(here ? stats_.encoded_here : stats_.encoded_by_workers);
  } else if (claimed_ < tail_) {
    const size_t at = claimed_++ % slots_.size();
    ++preparing_;
    lock.unlock();
    Slot& slot = *slots_[at];
    pipeline_->Prepare(slot.message, parser, &slot.result, &slot.prepared, speculate_);
    lock.lock();
    stage_[at] = Stage::kPrepared;
    --preparing_;
    ++(here ? stats_.prepared_here : stats_.prepared_by_workers);
  } else {
    return false;
  }
  // A wake-up only for a pipeline's thread that sleeps (Help, Front, Clear).
  if (!here && waiting_) ready_cv_.notify_all();
  return true;
}

void Workers::Work(parse::PageParser* parser) {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (RunJob(lock, parser, /*here=*/false)) continue;
    ++idle_;
    work_.wait(lock, [this] { return stop_ || encode_claimed_ < decided_ || claimed_ < tail_; });
    --idle_;
  }
}

Workers::Slot& Workers::Front() {
  const size_t at = head_ % slots_.size();
  std::unique_lock lock(mu_);
  // Until the oldest is ready, this thread prepares what no worker has taken
  // (the oldest first): it never sleeps while there is work, and a worker
  // the scheduler has put aside holds up at most the page it took.
  while (stage_[at] == Stage::kSubmitted) {
    if (RunJob(lock, parsers_[0].get(), /*here=*/true)) continue;
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

Workers::Slot* Workers::Decidable() {
  std::lock_guard lock(mu_);
  if (decided_ == tail_ || stage_[decided_ % slots_.size()] != Stage::kPrepared) return nullptr;
  return slots_[decided_ % slots_.size()].get();
}

void Workers::Decided(bool encode) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    const size_t at = decided_ % slots_.size();
    ++decided_;
    if (!encode_ || !encode) {
      stage_[at] = Stage::kEncoded;
    } else {
      stage_[at] = Stage::kDecided;
      wake = WakeLocked();
    }
  }
  if (wake) work_.notify_one();
}

Workers::Slot* Workers::Producible() {
  std::lock_guard lock(mu_);
  if (head_ == decided_ || stage_[head_ % slots_.size()] != Stage::kEncoded) return nullptr;
  return slots_[head_ % slots_.size()].get();
}

void Workers::Help() {
  std::unique_lock lock(mu_);
  if (RunJob(lock, parsers_[0].get(), /*here=*/true)) return;
  // Nothing to take: every job left is a worker's. Sleeps until the oldest
  // undecided is prepared or the oldest decided is encoded (checked under
  // the lock the workers change them under: no wake-up is lost).
  const auto progress = [this] {
    return (decided_ < tail_ && stage_[decided_ % slots_.size()] == Stage::kPrepared) ||
           (head_ < decided_ && stage_[head_ % slots_.size()] == Stage::kEncoded) ||
           preparing_ == 0;
  };
  if (progress()) return;
  const auto since = std::chrono::steady_clock::now();
  waiting_ = true;
  ready_cv_.wait(lock, progress);
  waiting_ = false;
  ++stats_.waits;
  stats_.wait_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void Workers::PopFront() {
  std::lock_guard lock(mu_);
  if (decided_ == head_) {  // Front() without Decided(): decided, nothing to encode
    ++decided_;
    encode_claimed_ = std::max(encode_claimed_, decided_);
  }
  ++head_;
}

Workers::Stats Workers::stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

void Workers::Clear() {
  std::unique_lock lock(mu_);
  claimed_ = tail_;  // what no worker took is not prepared
  encode_claimed_ = decided_;
  waiting_ = true;
  ready_cv_.wait(lock, [this] { return preparing_ == 0; });
  waiting_ = false;
  head_ = decided_ = encode_claimed_ = tail_;
}

}  // namespace dedupd::app
