// Status: the outcome of one librdkafka call as a value: ok, or an error code
// with librdkafka's three transactional flags and its text.
//
// Result<T> (kafka/result.h) carries a message only; the delivery stage's
// decisions need the code (is the record refused for good?) and the flags
// (retry, abort or give the producer up), so its edge returns Status, which
// copies both out of RdKafka::Error or RdKafka::ErrorCode:
//   kafka::Status s = edge->CommitTransaction(10000);
//   if (!s.ok() && ClassifyTxnError(s) == TxnErrorAction::kAbort) ...;
// A fake edge (tests) builds them with Status::Retriable(code) and friends.
//
// Thread-safety: a value type.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <string>
#include <utility>

#include "kafka/handles.h"

namespace dedupd::kafka {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  // A plain error code (produce(), seek(), commitSync(), a delivery report):
  // none of the transactional flags.
  explicit Status(RdKafka::ErrorCode code, std::string detail = {})
      : code_(code), detail_(std::move(detail)) {}
  // Null (success) or an error of a transactional call.
  explicit Status(const RdKafka::Error* error) {
    if (error == nullptr) return;
    code_ = error->code();
    detail_ = error->str();
    fatal_ = error->is_fatal();
    abortable_ = error->txn_requires_abort();
    retriable_ = error->is_retriable();
  }
  static Status Retriable(RdKafka::ErrorCode code) { return Flagged(code, false, false, true); }
  static Status Abortable(RdKafka::ErrorCode code) { return Flagged(code, false, true, false); }
  static Status Fatal(RdKafka::ErrorCode code) { return Flagged(code, true, false, false); }

  bool ok() const { return code_ == RdKafka::ERR_NO_ERROR; }
  RdKafka::ErrorCode code() const { return code_; }
  const std::string& detail() const { return detail_; }
  bool fatal() const { return fatal_; }
  bool abortable() const { return abortable_; }
  bool retriable() const { return retriable_; }

  // "ERR_NAME: message [retriable|abortable|fatal]", as DescribeError().
  std::string Describe() const {
    std::string text = std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code_))) +
                       ": " + (detail_.empty() ? RdKafka::err2str(code_) : detail_);
    if (fatal_) text += " [fatal]";
    if (abortable_) text += " [abortable]";
    if (retriable_) text += " [retriable]";
    return text;
  }

 private:
  static Status Flagged(RdKafka::ErrorCode code, bool fatal, bool abortable, bool retriable) {
    Status s(code);
    s.fatal_ = fatal;
    s.abortable_ = abortable;
    s.retriable_ = retriable;
    return s;
  }

  RdKafka::ErrorCode code_ = RdKafka::ERR_NO_ERROR;
  std::string detail_;
  bool fatal_ = false;
  bool abortable_ = false;
  bool retriable_ = false;
};

// ClassifyTxnError (handles.h) for a Status; precondition: !ok().
inline TxnErrorAction ClassifyTxnError(const Status& status) {
  if (status.fatal()) return TxnErrorAction::kFatal;
  if (status.abortable()) return TxnErrorAction::kAbort;
  if (status.retriable()) return TxnErrorAction::kRetry;
  return TxnErrorAction::kFatal;
}

}  // namespace dedupd::kafka
