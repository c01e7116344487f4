// Record tags, the delivery tracker and the book of refused inputs
// (delivery/tags.h, tracker.h, rejections.h), without a broker.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "delivery/rejections.h"
#include "delivery/tags.h"
#include "delivery/tracker.h"

namespace dedupd::delivery {
namespace {

TEST(RecordTag, RoundTripsBatchInputAndKind) {
  const RecordTagParts parts = SplitTag(RecordTag(0xfedcba98u, 12345, RecordKind::kFingerprint));
  EXPECT_EQ(parts.batch, 0xfedcba98u);
  EXPECT_EQ(parts.input, 12345u);
  EXPECT_EQ(parts.kind, RecordKind::kFingerprint);
  // An input index past the field saturates instead of spilling into the batch.
  const RecordTagParts big = SplitTag(RecordTag(7, 0xffffffffu, RecordKind::kEvent));
  EXPECT_EQ(big.batch, 7u);
  EXPECT_EQ(big.input, kMaxTaggedInputs);
}

DeliveryReport Report(uint32_t batch, uint32_t input, RecordKind kind, int32_t partition,
                      int64_t offset, RdKafka::ErrorCode error = RdKafka::ERR_NO_ERROR) {
  DeliveryReport r;
  r.tag = RecordTag(batch, input, kind);
  r.error = error;
  r.topic = "t";
  r.partition = partition;
  r.offset = offset;
  r.bytes = 42;
  return r;
}

TEST(DeliveryTracker, CountsOnlyItsBatchsChangelogReachAndRefusals) {
  metrics::Metrics m;
  DeliveryTracker tracker(&m);
  tracker.StartBatch(2);
  tracker.OnDeliveryReport(Report(2, 0, RecordKind::kChangelog, 1, 9));
  tracker.OnDeliveryReport(Report(2, 1, RecordKind::kChangelog, 1, 4));     // reports out of order
  tracker.OnDeliveryReport(Report(2, 1, RecordKind::kFingerprint, 5, 50));  // not the changelog
  tracker.OnDeliveryReport(Report(1, 0, RecordKind::kChangelog, 2, 70));    // an older batch
  tracker.OnDeliveryReport(
      Report(1, 3, RecordKind::kEvent, 0, -1, RdKafka::ERR_MSG_SIZE_TOO_LARGE));  // older
  tracker.OnDeliveryReport(
      Report(2, 1, RecordKind::kDiff, 0, -1, RdKafka::ERR_RECORD_LIST_TOO_LARGE));
  tracker.OnDeliveryReport(
      Report(2, 0, RecordKind::kEvent, 0, -1, RdKafka::ERR__MSG_TIMED_OUT));  // not for good
  EXPECT_EQ(tracker.Reached(), (std::map<int32_t, int64_t>{{1, 10}}));
  EXPECT_EQ(tracker.failed(), 3u);
  EXPECT_EQ(tracker.BatchFailed(), 2u);  // the older batch's refusal left out
  const std::vector<RecordRejection> rejections = tracker.TakeRejections();
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].input, 1u);
  EXPECT_EQ(rejections[0].kind, RecordKind::kDiff);
  EXPECT_TRUE(tracker.TakeRejections().empty());
  tracker.StartBatch(3);
  EXPECT_TRUE(tracker.Reached().empty());
  EXPECT_EQ(tracker.BatchFailed(), 0u);
}

RecordRejection Refused(uint32_t input) {
  RecordRejection r;
  r.input = input;
  r.kind = RecordKind::kChangelog;
  r.topic = "state";
  r.code = RdKafka::ERR_MSG_SIZE_TOO_LARGE;
  return r;
}

TEST(RejectionBook, OneInputIsCertainSeveralAreSuspects) {
  const std::vector<std::pair<int32_t, int64_t>> inputs = {{0, 10}, {0, 11}, {1, 3}};
  RejectionBook book;
  book.Note({Refused(1), Refused(1)}, inputs);  // two records of one input
  EXPECT_NE(book.FindCertain(0, 11), nullptr);
  EXPECT_EQ(book.suspects(), 0u);

  RejectionBook shared;
  shared.Note({Refused(0), Refused(2), Refused(7)}, inputs);  // 7: not in the batch
  EXPECT_EQ(shared.size(), 2u);
  EXPECT_EQ(shared.suspects(), 2u);
  EXPECT_EQ(shared.FindCertain(0, 10), nullptr);
  // A later refusal of a suspect alone makes it certain.
  shared.Note({Refused(0)}, {{1, 3}});
  EXPECT_NE(shared.FindCertain(1, 3), nullptr);
  EXPECT_EQ(shared.suspects(), 1u);
  shared.Forget([](int32_t partition, int64_t) { return partition == 0; });
  EXPECT_EQ(shared.size(), 1u);
  EXPECT_EQ(shared.suspects(), 0u);
}

TEST(RejectionBook, ARefusalOfACertainEntryIsItsDeadLettersRefusal) {
  RejectionBook book;
  book.Reject(0, 5, "too large", true, false);
  EXPECT_EQ(book.MaxDeadLetterRefusals(), 0);
  book.Reject(0, 5, "dead letter refused", true, false);
  Rejection* r = book.FindCertain(0, 5);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->dead_letter_refusals, 1);
  EXPECT_EQ(r->dead_letter_error, "dead letter refused");
  EXPECT_EQ(r->detail, "too large");
}

}  // namespace
}  // namespace dedupd::delivery
