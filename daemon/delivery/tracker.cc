#include "delivery/tracker.h"

#include <algorithm>
#include <utility>

#include "kafka/handles.h"

namespace dedupd::delivery {

void DeliveryTracker::OnDeliveryReport(const DeliveryReport& report) {
  const RecordTagParts tag = SplitTag(report.tag);
  if (report.error != RdKafka::ERR_NO_ERROR) {
    failed_.fetch_add(1);
    metrics_->CountKafkaError("delivery");
    std::lock_guard lock(mu_);
    last_error_ = report.error_text;
    if (tag.batch == batch_) ++batch_failed_;
    if (tag.batch == batch_ && kafka::IsRecordRejection(report.error) &&
        rejections_.size() < kMaxTaggedInputs) {
      rejections_.push_back(
          {tag.input, tag.kind, report.topic, report.bytes, report.error, report.error_text});
    }
    return;
  }
  if (tag.kind != RecordKind::kChangelog) return;
  std::lock_guard lock(mu_);
  if (tag.batch != batch_) return;
  int64_t& reached = reached_[report.partition];
  reached = std::max(reached, report.offset + 1);
}

void DeliveryTracker::StartBatch(uint32_t tag) {
  std::lock_guard lock(mu_);
  batch_ = tag;
  batch_failed_ = 0;
  reached_.clear();
  rejections_.clear();
}

uint64_t DeliveryTracker::BatchFailed() {
  std::lock_guard lock(mu_);
  return batch_failed_;
}

std::map<int32_t, int64_t> DeliveryTracker::Reached() {
  std::lock_guard lock(mu_);
  return reached_;
}

std::vector<RecordRejection> DeliveryTracker::TakeRejections() {
  std::lock_guard lock(mu_);
  return std::exchange(rejections_, {});
}

std::string DeliveryTracker::last_error() {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace dedupd::delivery
