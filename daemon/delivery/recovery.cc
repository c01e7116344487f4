#include "delivery/recovery.h"

#include <utility>

#include "common/log.h"

namespace dedupd::delivery {

Recovery::Recovery(Batch* batch, ProducerEdge* producer, ConsumerEdge* consumer, Clock* clock,
                   RecoveryOptions options, RecoveryHooks hooks)
    : batch_(batch),
      producer_(producer),
      consumer_(consumer),
      clock_(clock),
      options_(options),
      hooks_(std::move(hooks)) {}

bool Recovery::ProducerRecoverable(bool loop_fatal, bool client_fatal) {
  const bool producer_fatal = !producer_->FatalError().ok();
  if (loop_fatal ? !batch_->producer_lost() : !producer_fatal) return false;
  return !client_fatal || producer_fatal;
}

bool Recovery::RecoverProducer() {
  const std::string reason = producer_->FatalError().detail();
  log::Warn("re-creating the producer (same transactional.id) instead of exiting",
            {{"detail", reason.empty() ? "a transactional call failed (logged above)" : reason}});
  hooks_.beat("re-creating the producer");
  hooks_.producer_ready(false);
  hooks_.destroy_producer();
  const Offsets batch_first = batch_->Drop();
  std::string error;
  if (!hooks_.create_producer(&error)) {
    log::Error("cannot re-create the producer", {{"error", error}});
    return false;
  }
  if (options_.exactly_once && !batch_->InitTransactions()) return false;
  hooks_.producer_ready(true);
  if (!Resync(*consumer_, *clock_, batch_first, options_.call_timeout_ms, hooks_.resync)) {
    return false;
  }
  batch_->ClearProducerLost();
  log::Info("producer re-created; processing resumes from the committed offsets");
  return true;
}

CommitOutcome Recovery::ConsumerLost(bool loop_fatal) {
  CommitOutcome outcome = CommitOutcome::kCommitted;
  if (!loop_fatal && batch_->open()) outcome = batch_->Abort("consumer failed", Rewind::kNo);
  batch_->ClearFirstOffsets();
  batch_->rejections().Forget([](int32_t, int64_t) { return true; });
  hooks_.give_up_all();
  return outcome;
}

}  // namespace dedupd::delivery
