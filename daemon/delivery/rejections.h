// RejectionBook: the input messages whose outputs Kafka refused for good, by
// (partition, offset), remembered across the abort and rewind of their batch
// so that the retry dead-letters them (reason output_rejected) instead of
// processing them again (docs/delivery.md, "Records Kafka refuses").
//
// An entry is *certain* when the input's own record was refused, and a
// *suspect* when the broker refused records of several inputs together (one
// broker batch can hold several inputs' records): while any suspect is
// remembered, the loop commits every input alone, so that a refusal names its
// culprit.
//
//   book.Note(tracker.TakeRejections(), batch_inputs);  // after an abort
//   if (auto* r = book.FindCertain(p, offset)) dead-letter it;
//   if (book.suspects() > 0) commit after this input;
//   book.Forget([&](p, o) { return o < committed[p]; });
//
// Thread-safety: none; the loop thread's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "delivery/tracker.h"

namespace dedupd::delivery {

// An input message one of whose records Kafka refused for good.
struct Rejection {
  std::string detail;  // which record, its size, Kafka's error
  // True when this input's own record was refused: the retry dead-letters
  // it. False when the broker refused records of several inputs together:
  // the retry processes it in a transaction of its own to find out.
  bool certain = false;
  int dead_letter_refusals = 0;  // its output_rejected dead letter was refused too
  std::string dead_letter_error;
};

class RejectionBook {
 public:
  // At most this many entries (a batch holds at most
  // processing.commit_messages inputs, and entries only live until the
  // batch's retry commits); more are retried as usual.
  static constexpr size_t kMaxRejected = 100000;

  // Kafka refused a record of the input at (partition, offset). A second
  // refusal of a certain entry is its dead letter's refusal.
  void Reject(int32_t partition, int64_t offset, const std::string& detail, bool certain,
              bool announce = true);
  // After an abort: the aborted batch's refused records, traced back to their
  // inputs (`inputs`: the batch's (partition, offset) by input index). One
  // input: it made them (certain); several: each a suspect.
  void Note(const std::vector<RecordRejection>& rejections,
            const std::vector<std::pair<int32_t, int64_t>>& inputs);
  // Removes the entries `done` says are settled.
  void Forget(const std::function<bool(int32_t partition, int64_t offset)>& done);
  // The certain entry at (partition, offset), or null.
  Rejection* FindCertain(int32_t partition, int64_t offset);
  size_t suspects() const { return suspects_; }
  size_t size() const { return rejected_.size(); }
  bool empty() const { return rejected_.empty(); }
  // The most refusals of any entry's dead letter.
  int MaxDeadLetterRefusals() const;

 private:
  std::map<std::pair<int32_t, int64_t>, Rejection> rejected_;
  size_t suspects_ = 0;  // entries that are not certain
  uint64_t overflow_ = 0;
};

}  // namespace dedupd::delivery
