// DeliveryTracker: counts delivery reports, remembers the records of the open
// batch that Kafka refused for good (kafka::IsRecordRejection), and how far
// this batch's changelog records reached in each partition: the store commit
// after the Kafka commit records it, so that a later restore starts after
// this instance's own writes. Reports of an older (aborted) batch carry
// another batch tag and are ignored.
//
//   DeliveryTracker tracker(&metrics);
//   tracker.StartBatch(7);                  // reports of batch 7 count from now
//   edge->Poll(0);                          // -> tracker.OnDeliveryReport(...)
//   for (auto [p, next] : tracker.Reached()) store "changelog offset p" = next;
//
// Thread-safety: the edge serves reports on the loop thread; the accessors
// lock anyway (a report may be served from Flush() while another thread reads
// failed()).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "delivery/edge.h"
#include "delivery/tags.h"
#include "metrics/metrics.h"

namespace dedupd::delivery {

// A record of the open batch that Kafka refused for good.
struct RecordRejection {
  uint32_t input = 0;  // index of its input message in the batch
  RecordKind kind = RecordKind::kEvent;
  std::string topic;
  size_t bytes = 0;  // key + value
  RdKafka::ErrorCode code = RdKafka::ERR_NO_ERROR;
  std::string error;  // librdkafka's text
};

class DeliveryTracker final : public DeliveryReportSink {
 public:
  explicit DeliveryTracker(metrics::Metrics* metrics) : metrics_(metrics) {}
  void OnDeliveryReport(const DeliveryReport& report) override;
  void StartBatch(uint32_t tag);
  // Changelog partition -> offset after this batch's last changelog record there.
  std::map<int32_t, int64_t> Reached();
  std::vector<RecordRejection> TakeRejections();
  uint64_t failed() const { return failed_.load(); }
  // Failed reports of the open batch's records (since StartBatch), whenever
  // they were served: at-least-once commits a batch only when it is 0.
  uint64_t BatchFailed();
  std::string last_error();

 private:
  metrics::Metrics* metrics_;
  std::atomic<uint64_t> failed_{0};
  std::mutex mu_;
  std::string last_error_;
  uint32_t batch_ = 0;
  uint64_t batch_failed_ = 0;
  std::map<int32_t, int64_t> reached_;
  std::vector<RecordRejection> rejections_;
};

}  // namespace dedupd::delivery
