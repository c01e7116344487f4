// Workers: detection on every core with verdicts in input order. A ring of
// input messages that worker threads parse and prepare (Pipeline::Prepare:
// the part of detection that depends on the page alone) while the
// pipeline's thread finishes them (Pipeline::Finish: boilerplate learning,
// the fingerprint, the verdict, state staging, the outputs) one by one in
// the order they were submitted (docs/delivery.md, "Workers").
//
//   Workers workers(&pipeline, WorkerThreads(cfg.processing.threads));
//   Workers::Slot& slot = workers.Acquire();      // when !workers.Full()
//   slot.storage = line;                           // bytes owned by the slot, or
//   slot.message = {slot.storage, {}, source};     // views the caller keeps alive
//   workers.Submit();
//   Workers::Slot& next = workers.Front();         // prepared: waits, or prepares it here
//   pipeline.Finish(next.message, &next.prepared, &records, &next.result);
//   workers.PopFront();
//
// With one thread there is no worker thread: Front() prepares the message on
// the caller's thread, exactly as Pipeline::Process() does. With more, the
// caller's thread is one of them (it prepares the oldest message itself when
// no worker has taken it, and any other while a worker holds the oldest),
// and pages are prepared with a speculative
// fingerprint (classify::Speculate::kYes).
// Thread-safety: every member is called from the pipeline's thread; the
// workers only run Pipeline::Prepare() (const, thread-safe) on slots they
// have taken, each with a parser of its own.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/pipeline.h"
#include "classify/detector.h"
#include "parse/page_parser.h"

namespace dedupd::app {

// processing.threads: 0 means one per core (std::thread::hardware_concurrency,
// 1 when it is unknown).
size_t WorkerThreads(size_t configured);

class Workers {
 public:
  struct Slot {
    std::string storage;  // the message's bytes when the caller has none to keep
    InputMessage message;
    PipelineResult result;  // Prepare()'s part, then Finish()'s
    classify::PreparedPage prepared;
  };

  // `capacity`: messages in flight at most (0: 4 per thread, 1 with one thread).
  Workers(const Pipeline* pipeline, size_t threads, size_t capacity = 0);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  size_t threads() const { return threads_; }
  size_t capacity() const { return slots_.size(); }
  size_t size() const { return tail_ - head_; }  // submitted, not popped
  bool Full() const { return size() == slots_.size(); }
  bool Empty() const { return tail_ == head_; }

  // The next free slot (precondition: !Full()); Submit() hands it to the workers.
  Slot& Acquire() { return *slots_[tail_ % slots_.size()]; }
  void Submit();
  // The oldest submitted slot, prepared (precondition: !Empty()).
  Slot& Front();
  void PopFront();
  // Drops every submitted slot, after the workers are done with those they took.
  void Clear();

  // Pages prepared on the pipeline's thread and by the workers, and the
  // time the pipeline's thread slept waiting for a worker's page.
  struct Stats {
    uint64_t prepared_here = 0;
    uint64_t prepared_by_workers = 0;
    uint64_t waits = 0;
    double wait_seconds = 0;
  };
  Stats stats();

 private:
  void Work(parse::PageParser* parser);

  const Pipeline* pipeline_;
  const size_t threads_;
  const classify::Speculate speculate_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<uint8_t> ready_;  // by slot: Prepare() done (guarded by mu_)
  // Sequence numbers of submitted messages: [head_, tail_) in flight,
  // [claimed_, tail_) not taken by any thread yet. head_ and tail_ change on
  // the pipeline's thread only; claimed_ and ready_ under mu_.
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
  uint64_t claimed_ = 0;
  size_t preparing_ = 0;  // slots taken by workers and not ready yet (guarded by mu_)
  size_t idle_ = 0;       // workers waiting for a message (guarded by mu_)
  bool waiting_ = false;  // the pipeline's thread waits for a worker (guarded by mu_)
  bool stop_ = false;
  Stats stats_;  // guarded by mu_
  std::mutex mu_;
  std::condition_variable work_;      // workers: a message was submitted, or stop
  std::condition_variable ready_cv_;  // the pipeline's thread: a slot is ready
  // parsers_[0] is the pipeline's thread's; one more per worker thread. The
  // threads are joined (destructor) before the parsers and slots go.
  std::vector<std::unique_ptr<parse::PageParser>> parsers_;
  std::vector<std::thread> workers_;
};

}  // namespace dedupd::app
