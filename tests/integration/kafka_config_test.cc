// dedupd::kafka without a broker: configuration errors name the property, the
// value and librdkafka's reason; result and handle types behave; and the admin
// helpers keep their deadline when nothing answers (127.0.0.1:1).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "kafka/result.h"

namespace dedupd::kafka {
namespace {

using ::testing::HasSubstr;

TEST(MakeConfTest, AcceptsGlobalAndTopicLevelProperties) {
  std::string error = "untouched";
  ConfPtr conf = MakeConf({{"bootstrap.servers", "127.0.0.1:9092"},
                           {"enable.idempotence", "true"},
                           {"auto.offset.reset", "earliest"}},  // topic-level
                          &error);
  ASSERT_TRUE(conf) << error;
  std::string value;
  ASSERT_EQ(conf->get("enable.idempotence", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "true");
  EXPECT_EQ(error, "untouched");
}

TEST(MakeConfTest, UnknownPropertyIsNamedWithItsValue) {
  std::string error;
  ConfPtr conf = MakeConf({{"bootstrap.servers", "x:1"}, {"no.such.property", "42"}}, &error);
  EXPECT_FALSE(conf);
  EXPECT_THAT(error, HasSubstr("'no.such.property'"));
  EXPECT_THAT(error, HasSubstr("'42'"));
  EXPECT_THAT(error, HasSubstr("No such configuration property"));  // librdkafka's words
}

TEST(MakeConfTest, InvalidValueCarriesLibrdkafkasReason) {
  std::string error;
  EXPECT_FALSE(MakeConf({{"linger.ms", "-5"}}, &error));
  EXPECT_THAT(error, HasSubstr("'linger.ms'='-5'"));
  EXPECT_THAT(error, HasSubstr("range"));
  EXPECT_NE(error.back(), '\n') << "one line, without librdkafka's trailing newline";

  EXPECT_FALSE(MakeConf({{"isolation.level", "read_sometimes"}}, &error));
  EXPECT_THAT(error, HasSubstr("'isolation.level'='read_sometimes'"));
  EXPECT_THAT(error, HasSubstr("Invalid value"));
}

TEST(MakeConfTest, SecretValuesAreNotEchoed) {
  EXPECT_TRUE(IsSecretProperty("sasl.password"));
  EXPECT_TRUE(IsSecretProperty("ssl.key.password"));
  EXPECT_TRUE(IsSecretProperty("ssl.key.pem"));
  EXPECT_TRUE(IsSecretProperty("sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(IsSecretProperty("bootstrap.servers"));
  EXPECT_TRUE(IsSecretProperty("ssl.key.location"));  // issue #14: every ssl.key.*
  EXPECT_TRUE(IsSecretProperty("ssl.keystore.password"));
  EXPECT_TRUE(IsSecretProperty("sasl.oauthbearer.config"));
  // An unknown property that looks secret: its value must stay out of the text.
  std::string error;
  EXPECT_FALSE(MakeConf({{"sasl.passwordz", "hunter2"}}, &error));
  EXPECT_THAT(error, HasSubstr("'sasl.passwordz'"));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("hunter2")));
}

TEST(MakeConfTest, NullErrorPointerIsAllowed) {
  EXPECT_FALSE(MakeConf({{"no.such.property", "1"}}, nullptr));
}

TEST(ResultTest, ValueOrError) {
  Result<std::string> good = std::string("v");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), "v");
  EXPECT_TRUE(good.error().empty());
  Result<std::string> bad = Failure{"why"};
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.error(), "why");
  Result<int> unexplained = Failure{""};
  EXPECT_FALSE(unexplained.ok());
  EXPECT_FALSE(unexplained.error().empty());
}

TEST(TopicPartitionListTest, OwnsAndMoves) {
  TopicPartitionList list;
  list.Add("t", 0);
  list.Add("t", 1, 42);
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list[0]->offset(), RdKafka::Topic::OFFSET_INVALID);
  EXPECT_EQ(list[1]->offset(), 42);
  TopicPartitionList moved = std::move(list);
  EXPECT_EQ(moved.size(), 2U);
  EXPECT_TRUE(list.empty());         // NOLINT(bugprone-use-after-move): moved-from state is defined
  EXPECT_TRUE(moved.out().empty());  // out() destroys the old elements
}

// Why: a start-up helper that hangs when the broker is unreachable would hang
// the daemon's start; each must give up at its deadline with a reason.
TEST(AdminDeadlineTest, UnreachableBrokerFailsWithinTheDeadline) {
  const Props props = {{"bootstrap.servers", "127.0.0.1:1"}, {"log_level", "0"}};
  std::string error;
  EXPECT_FALSE(EnsureTopics(props, {{"t", 1, 1, {}}}, std::chrono::milliseconds(1500), &error));
  EXPECT_FALSE(error.empty());

  Result<std::vector<int32_t>> parts = ListPartitions(props, "t", std::chrono::milliseconds(1500));
  EXPECT_FALSE(parts.ok());
  EXPECT_FALSE(parts.error().empty());

  Result<std::vector<Watermarks>> marks =
      HighWatermarks(props, "t", std::chrono::milliseconds(1500));
  EXPECT_FALSE(marks.ok());
  EXPECT_FALSE(marks.error().empty());
}

TEST(AdminSpecTest, InvalidSpecsAreRefusedBeforeAnyRequest) {
  const Props props = {{"bootstrap.servers", "127.0.0.1:1"}};
  std::string error;
  EXPECT_FALSE(EnsureTopics(props, {{"t", 0, 1, {}}}, std::chrono::milliseconds(10), &error));
  EXPECT_THAT(error, HasSubstr("partitions must be >= 1"));
  EXPECT_FALSE(EnsureTopics(props, {{"t", 1, 1, {}}, {"t", 1, 1, {}}},
                            std::chrono::milliseconds(10), &error));
  EXPECT_THAT(error, HasSubstr("listed twice"));
  EXPECT_FALSE(EnsureTopics({{"no.such.property", "1"}}, {{"t", 1, 1, {}}},
                            std::chrono::milliseconds(10), &error));
  EXPECT_THAT(error, HasSubstr("no.such.property"));
  EXPECT_TRUE(EnsureTopics(props, {}, std::chrono::milliseconds(10), &error));
}

}  // namespace
}  // namespace dedupd::kafka
