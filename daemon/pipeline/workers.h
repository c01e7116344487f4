// Workers: detection on every core with verdicts and outputs in input
// order. A ring of input messages that worker threads parse and prepare
// (Pipeline::Prepare: the part of detection that depends on the page alone)
// while the pipeline's thread decides them (Pipeline::Finish without
// outputs: boilerplate learning, the fingerprint, the verdict, state
// staging) one by one in the order they were submitted; then, with an
// encoder, the workers encode a decided message's outputs (event, diff,
// state records) while the pipeline's thread decides the next ones, and the
// pipeline's thread takes them back, oldest first (docs/delivery.md,
// "Workers").
//
//   Workers workers(&pipeline, WorkerThreads(cfg.processing.threads), 0, encode);
//   Workers::Slot& slot = workers.Acquire();      // when !workers.Full()
//   slot.storage = line;                           // bytes owned by the slot, or
//   slot.message = {slot.storage, {}, source};     // views the caller keeps alive
//   workers.Submit();
//   if (Workers::Slot* next = workers.Decidable()) {   // the oldest undecided, prepared
//     pipeline.Finish(next->message, &next->prepared, nullptr, &next->result);
//     workers.Decided();                           // to the encoder (a worker)
//   } else if (Workers::Slot* done = workers.Producible()) {  // the oldest, encoded
//     ... produce done->records ...;
//     workers.PopFront();
//   } else {
//     workers.Help();  // prepares or encodes something here, or waits for a worker
//   }
//
// Without an encoder (`dedupd scan`): Front() is the oldest, prepared
// (waits, or prepares it here), then PopFront().
//
// With one thread there is no worker thread: every step runs on the caller's
// thread, exactly as Pipeline::Process() does. With more, the caller's thread
// is one of them (Help() takes the oldest job nobody has taken, encoding
// first), and pages are prepared with a speculative fingerprint
// (classify::Speculate::kYes).
// Thread-safety: every member is called from the pipeline's thread; the
// workers only run Pipeline::Prepare() (const, thread-safe) and the encoder
// on slots they have taken, each with a parser of its own. The encoder
// reads only its slot (and what is const).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "classify/detector.h"
#include "parse/page_parser.h"
#include "pipeline/pipeline.h"

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
    // The encoder's outputs (Decided() with an encoder), reused slot after slot.
    std::vector<OutputRecord> records;
    std::string state_record;
    std::string fingerprint_record;
  };
  // Encodes a decided slot's outputs into it; runs on any of the threads.
  using Encoder = std::function<void(Slot&)>;

  // `capacity`: messages in flight at most (0: 16 per thread, 1 with one
  // thread). `encode`: the encoding stage (none: a message is done when
  // decided).
  Workers(const Pipeline* pipeline, size_t threads, size_t capacity = 0, Encoder encode = nullptr);
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
  // Without an encoder: the oldest submitted slot, prepared (precondition:
  // !Empty()); waits, or prepares here. Then PopFront().
  Slot& Front();

  // The decision stage, in input order. Undecided(): submitted, not decided.
  size_t Undecided() const { return tail_ - decided_; }
  // Decided, not popped (the oldest `DecidedAhead()` slots).
  size_t DecidedAhead() const { return decided_ - head_; }
  // The oldest undecided slot when it is prepared, else nullptr (no wait).
  Slot* Decidable();
  // It is decided: to the encoder (`encode`: false, when it has nothing to
  // encode), else done.
  void Decided(bool encode = true);
  // The oldest slot when it is decided and encoded, else nullptr (no wait).
  Slot* Producible();
  // Neither of those: runs the oldest job nobody has taken here (an
  // encoding first, it is older), else sleeps until a worker finishes one.
  void Help();

  // The oldest slot is done with (decided: Front(), or produced).
  void PopFront();
  // Drops every submitted slot, after the workers are done with those they took.
  void Clear();

  // Pages prepared on the pipeline's thread and by the workers, and the
  // time the pipeline's thread slept waiting for a worker's page.
  struct Stats {
    uint64_t prepared_here = 0;
    uint64_t prepared_by_workers = 0;
    uint64_t encoded_here = 0;
    uint64_t encoded_by_workers = 0;
    uint64_t waits = 0;
    double wait_seconds = 0;
    uint64_t wakeups = 0;  // of a sleeping worker
  };
  Stats stats();

 private:
  // A slot's stage (guarded by mu_).
  enum class Stage : uint8_t { kSubmitted, kPrepared, kDecided, kEncoded };
  // The oldest job nobody has taken, taken (under `lock`); run with it
  // released. False: none.
  bool RunJob(std::unique_lock<std::mutex>& lock, parse::PageParser* parser, bool here);
  // Whether to wake a sleeping worker for the jobs waiting (under mu_).
  bool WakeLocked();
  void Work(parse::PageParser* parser);

  const Pipeline* pipeline_;
  const size_t threads_;
  const classify::Speculate speculate_;
  const Encoder encode_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Stage> stage_;  // by slot (guarded by mu_)
  // Sequence numbers of submitted messages: [head_, tail_) in flight,
  // [head_, decided_) decided, [claimed_, tail_) not taken by any thread for
  // Prepare() yet, [encode_claimed_, decided_) not taken for encoding.
  // head_, decided_ and tail_ change on the pipeline's thread only (decided_
  // and tail_ under mu_: the workers read them); claimed_, encode_claimed_
  // and stage_ under mu_.
  uint64_t head_ = 0;
  uint64_t decided_ = 0;
  uint64_t tail_ = 0;
  uint64_t claimed_ = 0;
  uint64_t encode_claimed_ = 0;
  size_t preparing_ = 0;  // jobs taken by workers and not done yet (guarded by mu_)
  size_t idle_ = 0;       // workers waiting for a message (guarded by mu_)
  size_t wake_at_ = 1;    // jobs waiting that wake a sleeping worker (WakeLocked)
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
