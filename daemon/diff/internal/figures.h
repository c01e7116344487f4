// Finds the figures in a sentence: numbers, dates/times and money amounts or
// percentages, each in a canonical form, so that two versions of a sentence
// can be compared on their figures alone ("几年" -> "三年" changes a number;
// "2023年04月27日" and "2023年4月27日" are the same date).
//
//   Figures f;
//   ExtractFigures("The budget totals $4.2 billion.", &f);  // amounts {"$4200000000"}
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dedupd::diff::internal {

struct Figures {
  // Every numeric value, including those inside dates and amounts: Arabic
  // numbers (leading zeros, thousands separators and trailing fraction zeros
  // dropped; 万/亿/million/billion scale them: 3亿 = 300000000), Chinese
  // numerals in a numeric context (followed by a measure word or unit, or
  // after 第), English number words (two..ninety, hundred, thousand, million;
  // not "one", which is mostly an article). Numbers inside links are skipped.
  std::vector<std::string> numbers;
  // Chinese date/time chains (2023年4月27日, 18时46分), ISO and slashed dates,
  // hh:mm times, English month + day/year (april 27 2024, 27 april).
  std::vector<std::string> dates;
  // Currency symbol or code + number, number + currency word (元, 万元, 美元,
  // dollars, yuan ...), percentages (%, percent, 个百分点, 百分之五).
  std::vector<std::string> amounts;

  void Clear() {
    numbers.clear();
    dates.clear();
    amounts.clear();
  }
  void Sort();
  friend bool operator==(const Figures&, const Figures&) = default;
};

// Appends the figures of `text` to *out (unsorted).
void ExtractFigures(std::string_view text, Figures* out);

}  // namespace dedupd::diff::internal
