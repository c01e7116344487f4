// Figure extraction: what counts as a number, a date or an amount, and the
// canonical forms that make equal figures compare equal.
#include "diff/internal/figures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dedupd::diff::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Figures Of(std::string_view text) {
  Figures f;
  ExtractFigures(text, &f);
  f.Sort();
  return f;
}

TEST(Figures, ChineseNumeralsNeedANumericContext) {
  EXPECT_THAT(Of("力争未来几年取得较大进步").numbers, ElementsAre("几"));
  EXPECT_THAT(Of("力争未来三年取得较大进步").numbers, ElementsAre("3"));
  EXPECT_THAT(Of("第五次会议").numbers, ElementsAre("5"));
  EXPECT_THAT(Of("三十多年来").numbers, ElementsAre("30"));
  EXPECT_THAT(Of("三分之一的地区").numbers, ElementsAre("1/3"));
  EXPECT_THAT(Of("三亿五千万人").numbers, ElementsAre("350000000"));
  EXPECT_THAT(Of("一百零五项").numbers, ElementsAre("105"));
  // Words that merely contain numeral characters.
  EXPECT_THAT(Of("线上零售").numbers, IsEmpty());
  EXPECT_THAT(Of("统一大市场建设").numbers, IsEmpty());
  EXPECT_THAT(Of("一区一策").numbers, IsEmpty());
  EXPECT_THAT(Of("两岸青山·千里林带").numbers, IsEmpty());
  EXPECT_THAT(Of("十分重要").numbers, IsEmpty());
  EXPECT_THAT(Of("坚持全省一盘棋").numbers, IsEmpty());
  EXPECT_THAT(Of("进一步加强领导").numbers, IsEmpty());
  EXPECT_THAT(Of("第一时间发现、第一时间处置").numbers, IsEmpty());
  EXPECT_THAT(Of("第一时间发现").dates, IsEmpty());
  EXPECT_THAT(Of("二十四小时值班").numbers, ElementsAre("24"));
  EXPECT_THAT(Of("第一副组长").numbers, ElementsAre("1"));
  EXPECT_THAT(Of("长三角区域").numbers, IsEmpty());
}

TEST(Figures, ArabicNumbersAreCanonical) {
  EXPECT_THAT(Of("by a vote of 9 to 2").numbers, ElementsAre("2", "9"));
  EXPECT_EQ(Of("1,200 people").numbers, Of("1200 people").numbers);
  EXPECT_EQ(Of("4.50 km").numbers, Of("4.5 km").numbers);
  EXPECT_NE(Of("1,200 people").numbers, Of("1.200 people").numbers);
  EXPECT_THAT(Of("2020-2023").numbers, ElementsAre("2020", "2023"));
  EXPECT_THAT(Of("2020-2023").dates, IsEmpty());
}

TEST(Figures, SameValueInAnotherScriptOrScaleIsEqual) {
  EXPECT_EQ(Of("带动3亿人参与冰雪运动").numbers, Of("带动三亿人参与冰雪运动").numbers);
  EXPECT_EQ(Of("$4.2 billion").amounts, Of("$4,200 million").amounts);
  EXPECT_EQ(Of("5亿元").amounts, Of("五亿元").amounts);
  EXPECT_NE(Of("五年多年").numbers, Of("五千多年").numbers);
}

TEST(Figures, LinksAndIdentifiersAreNotFigures) {
  EXPECT_THAT(Of("visit https://ibn.fm/mR25P now").numbers, IsEmpty());
  EXPECT_THAT(Of("see newsdirect.com/news/x-585951130 and www.example.com/2024/05").numbers,
              ElementsAre("585951130"));  // only a scheme or www. marks a link
  EXPECT_THAT(Of("www.example.com/2024/05").numbers, IsEmpty());
  EXPECT_THAT(Of("mail press2024@city.example.gov").numbers, IsEmpty());
  EXPECT_THAT(Of("Media@GBAglobal.org203-378-2803").numbers, ElementsAre("203", "2803", "378"));
  EXPECT_THAT(Of("Media@GBAglobal.org203-378-2803").dates, IsEmpty());
  EXPECT_THAT(Of("code mR25P").numbers, IsEmpty());
  EXPECT_THAT(Of("the G20 summit").numbers, ElementsAre("20"));
}

TEST(Figures, EnglishNumberWords) {
  EXPECT_THAT(Of("upgrades at eleven stations").numbers, ElementsAre("11"));
  EXPECT_THAT(Of("one of the largest").numbers, IsEmpty());
  EXPECT_THAT(Of("Someone often").numbers, IsEmpty());  // no match inside words
}

TEST(Figures, Dates) {
  EXPECT_THAT(Of("2023年04月27日 18时46分").dates, ElementsAre("2023年4月27日18时46分"));
  EXPECT_EQ(Of("2023年04月27日").dates, Of("2023 年 4 月 27 日").dates);
  EXPECT_THAT(Of("4月27日,省推动").dates, ElementsAre("4月27日"));
  EXPECT_THAT(Of("审议了五大片区2023年重点任务清单").dates, ElementsAre("2023年"));
  EXPECT_THAT(Of("二〇二三年").dates, ElementsAre("2023年"));
  EXPECT_THAT(Of("未来三年").dates, IsEmpty());  // a duration, not a date
  EXPECT_THAT(Of("3个月").dates, IsEmpty());
  EXPECT_THAT(Of("March 14, 2024").dates, ElementsAre("m3-d14-y2024"));
  EXPECT_THAT(Of("scheduled for April 2.").dates, ElementsAre("m4-d2"));
  EXPECT_THAT(Of("on 27 April 2024").dates, ElementsAre("m4-d27-y2024"));
  EXPECT_THAT(Of("Sept. 3").dates, ElementsAre("m9-d3"));
  EXPECT_THAT(Of("2024-03-14").dates, ElementsAre("2024-3-14"));
  EXPECT_THAT(Of("14.03.2024").dates, ElementsAre("14-3-2024"));
  EXPECT_THAT(Of("version 1.2.3").dates, IsEmpty());
  EXPECT_THAT(Of("call 203-378-2803").dates, IsEmpty());
  EXPECT_THAT(Of("at 18:46").dates, ElementsAre("18:46"));
  EXPECT_THAT(Of("starting in March").dates, ElementsAre("m3"));
  EXPECT_THAT(Of("You may go").dates, IsEmpty());
  EXPECT_THAT(Of("May I").dates, IsEmpty());
}

TEST(Figures, Amounts) {
  EXPECT_THAT(Of("totals $4.2 billion").amounts, ElementsAre("$4200000000"));
  EXPECT_THAT(Of("$1.2 million").amounts, ElementsAre("$1200000"));
  EXPECT_THAT(Of("投资5亿元").amounts, ElementsAre("500000000元"));
  EXPECT_THAT(Of("补助50万元").amounts, ElementsAre("500000元"));
  EXPECT_THAT(Of("补助3.25万元").amounts, ElementsAre("32500元"));
  EXPECT_THAT(Of("增长3.5%").amounts, ElementsAre("3.5%"));
  EXPECT_THAT(Of("a 12 percent increase").amounts, ElementsAre("12%"));
  EXPECT_THAT(Of("提高0.5个百分点").amounts, ElementsAre("0.5pp"));
  EXPECT_THAT(Of("百分之五").amounts, ElementsAre("5%"));
  EXPECT_THAT(Of("¥300").amounts, ElementsAre("¥300"));
  EXPECT_THAT(Of("€20 and US$5").amounts, ElementsAre("us$5", "€20"));
  EXPECT_THAT(Of("五亿元").amounts, ElementsAre("500000000元"));
  EXPECT_NE(Of("$4.2 billion").amounts, Of("$4.2 million").amounts);
  EXPECT_NE(Of("$35").amounts, Of("€35").amounts);
  EXPECT_THAT(Of("down -3%").amounts, ElementsAre("-3%"));
}

TEST(Figures, NoFiguresInPlainText) {
  const Figures f = Of("The Mayor said the budget keeps our promise to riders.");
  EXPECT_THAT(f.numbers, IsEmpty());
  EXPECT_THAT(f.dates, IsEmpty());
  EXPECT_THAT(f.amounts, IsEmpty());
}

TEST(Figures, InvalidUtf8DoesNotCrash) {
  const Figures f = Of("\xE4\xB8 5\xFF\xFE年 \xF0\x9F");
  EXPECT_THAT(f.numbers, ElementsAre("5"));
}

}  // namespace
}  // namespace dedupd::diff::internal
