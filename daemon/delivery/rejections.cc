#include "delivery/rejections.h"

#include <algorithm>

#include "common/log.h"
#include "kafka/handles.h"

namespace dedupd::delivery {

void RejectionBook::Reject(int32_t partition, int64_t offset, const std::string& detail,
                           bool certain, bool announce) {
  const std::pair<int32_t, int64_t> at{partition, offset};
  auto it = rejected_.find(at);
  if (it == rejected_.end()) {
    if (rejected_.size() >= kMaxRejected) {
      if (overflow_++ % 1000 == 0) {
        log::Warn("too many rejected input messages remembered; the others are retried as usual",
                  {{"partition", std::to_string(partition)},
                   {"offset", std::to_string(offset)},
                   {"limit", std::to_string(kMaxRejected)}});
      }
      return;
    }
    Rejection rejection;
    rejection.detail = detail;
    rejection.certain = certain;
    it = rejected_.emplace(at, std::move(rejection)).first;
    if (!certain) ++suspects_;
  } else if (it->second.certain) {
    // It was being dead-lettered: its dead letter was refused.
    ++it->second.dead_letter_refusals;
    it->second.dead_letter_error = detail;
  } else {
    it->second.detail = detail;
    if (certain) {
      it->second.certain = true;
      --suspects_;
    }
  }
  if (!announce) return;
  log::Warn(certain ? "Kafka refused an output record for good: its input message is "
                      "dead-lettered (output_rejected) when the batch is retried"
                    : "Kafka refused output records of this input message together with "
                      "other inputs' records: it is retried in a commit of its own",
            {{"partition", std::to_string(partition)},
             {"offset", std::to_string(offset)},
             {"error", detail}});
}

// Each input has at most one record per topic, and the broker refuses a
// whole batch of records of one partition at once: refusals of one input's
// records only are that input's; refusals spread over several inputs may
// only mean that they shared a refused batch with the culprit.
void RejectionBook::Note(const std::vector<RecordRejection>& rejections,
                         const std::vector<std::pair<int32_t, int64_t>>& inputs) {
  std::map<uint32_t, const RecordRejection*> by_input;
  for (const auto& r : rejections) {
    if (r.input < inputs.size()) by_input.try_emplace(r.input, &r);
  }
  const bool alone = by_input.size() == 1;
  std::string offsets;  // for one log line when several inputs are suspected
  for (const auto& [input, r] : by_input) {
    std::string detail = "the broker refused the " + KindName(r->kind) + " record for topic '" +
                         r->topic + "' (" + std::to_string(r->bytes) +
                         " bytes): " + kafka::DescribeError(r->code);
    if (!r->error.empty() && r->error != RdKafka::err2str(r->code)) detail += " (" + r->error + ")";
    const auto [partition, offset] = inputs[input];
    Reject(partition, offset, detail, alone, alone);
    if (!alone && offsets.size() < 200) {
      offsets +=
          (offsets.empty() ? "" : ",") + std::to_string(partition) + ":" + std::to_string(offset);
    }
  }
  if (!alone && !by_input.empty()) {
    log::Warn(
        "Kafka refused output records of several input messages together (a batch of records "
        "holds several inputs' records): each of them is retried in a commit of its own to find "
        "the one that made a refused record",
        {{"inputs", std::to_string(by_input.size())},
         {"offsets", offsets},
         {"error", kafka::DescribeError(by_input.begin()->second->code)}});
  }
}

void RejectionBook::Forget(const std::function<bool(int32_t, int64_t)>& done) {
  for (auto it = rejected_.begin(); it != rejected_.end();) {
    if (!done(it->first.first, it->first.second)) {
      ++it;
      continue;
    }
    if (!it->second.certain) --suspects_;
    it = rejected_.erase(it);
  }
}

Rejection* RejectionBook::FindCertain(int32_t partition, int64_t offset) {
  auto it = rejected_.find({partition, offset});
  return it != rejected_.end() && it->second.certain ? &it->second : nullptr;
}

int RejectionBook::MaxDeadLetterRefusals() const {
  int refusals = 0;
  for (const auto& [at, r] : rejected_) refusals = std::max(refusals, r.dead_letter_refusals);
  return refusals;
}

}  // namespace dedupd::delivery
