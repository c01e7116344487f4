#include "diff/internal/figures.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "diff/internal/unicode.h"

namespace dedupd::diff::internal {
namespace {

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool IsAsciiLetter(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char32_t Lower(char32_t c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

// Value of a Chinese numeral character: 0..9 for digits, the multiplier for
// 十百千万亿, -1 for 几 (an indefinite number), -2 if not a numeral.
int64_t ChineseNumeral(char32_t c) {
  switch (c) {
    case U'〇':
    case U'零': return 0;
    case U'一': return 1;
    case U'二':
    case U'两': return 2;
    case U'三': return 3;
    case U'四': return 4;
    case U'五': return 5;
    case U'六': return 6;
    case U'七': return 7;
    case U'八': return 8;
    case U'九': return 9;
    case U'十': return 10;
    case U'百': return 100;
    case U'千': return 1000;
    case U'万': return 10000;
    case U'亿': return 100000000;
    case U'几': return -1;
    default: return -2;
  }
}
bool IsChineseNumeral(char32_t c) {
  return ChineseNumeral(c) != -2;
}

// Measure words and units after which a Chinese numeral is a quantity
// (几年, 三个, 第五次, 五亿). Deliberately without 点 (一点 = "a little"),
// 分 (十分 = "very"; handled with 钟/之), 大 (五大片区 reads as a name), 起
// (一起 = "together"), 步 (进一步 = "further"), 里 (千里 in set phrases), 角
// (长三角 = the Yangtze delta).
bool IsChineseMeasureWord(char32_t c) {
  static constexpr std::u32string_view kMeasure =
      U"年月日号时秒天周个次名人位项条件家所座台辆架艘倍岁元米吨户批期届轮种类章款场例"
      U"公亩斤只头本张篇份支套间层趟遍宗";
  return kMeasure.find(c) != std::u32string_view::npos;
}

bool IsCurrencySymbol(char32_t c) {
  switch (c) {
    case U'$':
    case U'¥':
    case U'￥':
    case U'€':
    case U'£':
    case U'￡':
    case U'₹':
    case U'₩':
    case U'₽':
    case U'＄': return true;
    default: return false;
  }
}

constexpr std::array<std::u32string_view, 12> kMonths = {
    U"january", U"february", U"march",     U"april",   U"may",      U"june",
    U"july",    U"august",   U"september", U"october", U"november", U"december"};

struct NumberWord {
  std::u32string_view word;
  std::string_view value;
};
// "one" is left out on purpose: it is far more often a pronoun or an article
// ("one of the", "no one") than a figure; "one" -> "two" is still caught by "two".
constexpr std::array<NumberWord, 30> kNumberWords = {{
    {U"zero", "0"},        {U"two", "2"},           {U"three", "3"},     {U"four", "4"},
    {U"five", "5"},        {U"six", "6"},           {U"seven", "7"},     {U"eight", "8"},
    {U"nine", "9"},        {U"ten", "10"},          {U"eleven", "11"},   {U"twelve", "12"},
    {U"thirteen", "13"},   {U"fourteen", "14"},     {U"fifteen", "15"},  {U"sixteen", "16"},
    {U"seventeen", "17"},  {U"eighteen", "18"},     {U"nineteen", "19"}, {U"twenty", "20"},
    {U"thirty", "30"},     {U"forty", "40"},        {U"fifty", "50"},    {U"sixty", "60"},
    {U"seventy", "70"},    {U"eighty", "80"},       {U"ninety", "90"},   {U"hundred", "100"},
    {U"thousand", "1000"}, {U"million", "1000000"},
}};

struct Atom {
  size_t begin = 0;
  size_t end = 0;
  std::string value;  // canonical
  bool arabic = false;
  bool year_like = false;  // four digits that can be a year
};

class Scanner {
 public:
  Scanner(const std::vector<char32_t>& cps, Figures* out) : c_(cps), n_(c_.size()), out_(out) {}

  void Run() {
    size_t i = 0;
    while (i < n_) i = Step(i);
  }

 private:
  char32_t At(size_t i) const { return i < n_ ? c_[i] : 0; }
  size_t SkipSpaces(size_t i) const {
    while (i < n_ && IsSpace(c_[i])) ++i;
    return i;
  }
  bool LetterAt(size_t i) const { return i < n_ && IsAsciiLetter(c_[i]); }

  // Case-insensitive ASCII word at i, ending at a non-letter. Returns its end or 0.
  size_t MatchWord(size_t i, std::u32string_view w) const {
    if (i + w.size() > n_) return 0;
    for (size_t k = 0; k < w.size(); ++k) {
      if (Lower(c_[i + k]) != w[k]) return 0;
    }
    return LetterAt(i + w.size()) ? 0 : i + w.size();
  }
  bool MatchExact(size_t i, std::u32string_view w) const {
    if (i + w.size() > n_) return false;
    return std::equal(w.begin(), w.end(), c_.begin() + static_cast<std::ptrdiff_t>(i));
  }

  // A month name (or its 3-letter abbreviation, "sept", optional '.') at i.
  int MatchMonth(size_t i, size_t* end, bool* full_capitalised) const {
    if (!LetterAt(i) || (i > 0 && LetterAt(i - 1))) return 0;
    for (size_t m = 0; m < kMonths.size(); ++m) {
      if (size_t e = MatchWord(i, kMonths[m]); e != 0) {
        *end = e;
        *full_capitalised = c_[i] >= 'A' && c_[i] <= 'Z' && m != 4;  // "May" is also a verb
        return static_cast<int>(m) + 1;
      }
      const std::u32string_view abbr = kMonths[m].substr(0, 3);
      size_t e = MatchWord(i, abbr);
      if (e == 0 && m == 8) e = MatchWord(i, U"sept");
      if (e != 0 && m != 4) {
        if (At(e) == '.') ++e;
        *end = e;
        *full_capitalised = false;
        return static_cast<int>(m) + 1;
      }
    }
    return 0;
  }

  // Digits at i (ASCII or fullwidth); returns the end, fills the digit string.
  size_t ReadDigits(size_t i, std::string* digits) const {
    while (i < n_ && DigitValue(c_[i]) >= 0) {
      digits->push_back(static_cast<char>('0' + DigitValue(c_[i])));
      ++i;
    }
    return i;
  }

  static std::string StripZeros(std::string s) {
    size_t z = 0;
    while (z + 1 < s.size() && s[z] == '0') ++z;
    return s.substr(z);
  }

  // int_part.frac x 10^exp as a canonical decimal string: 3.2 x 10^4 -> "32000".
  static std::string Scaled(const std::string& int_part, const std::string& frac, int exp) {
    std::string digits = int_part + frac;
    size_t point = int_part.size() + static_cast<size_t>(exp);
    if (digits.size() < point) digits.append(point - digits.size(), '0');
    std::string i = StripZeros(digits.substr(0, point));
    std::string f = digits.substr(point);
    while (!f.empty() && f.back() == '0') f.pop_back();
    if (i.empty()) i = "0";
    return f.empty() ? i : i + "." + f;
  }

  // An Arabic number: 1,200.50 -> "1200.5". A Chinese multiplier (5亿, 3.2万)
  // or an English scale word (4.2 billion) scales the value, so that 3亿 and
  // 三亿, or 4.2 billion and 4,200 million, compare equal.
  bool ParseArabic(size_t i, Atom* a) const {
    std::string int_part;
    size_t j = ReadDigits(i, &int_part);
    if (int_part.empty()) return false;
    const size_t first_group = int_part.size();
    // Thousands groups: ',' + exactly three digits.
    while (At(j) == ',' && DigitValue(At(j + 1)) >= 0 && DigitValue(At(j + 2)) >= 0 &&
           DigitValue(At(j + 3)) >= 0 && DigitValue(At(j + 4)) < 0 && first_group <= 3) {
      j = ReadDigits(j + 1, &int_part);
    }
    std::string frac;
    if ((At(j) == '.' || At(j) == U'．') && DigitValue(At(j + 1)) >= 0) {
      j = ReadDigits(j + 1, &frac);
    }
    a->begin = i;
    a->arabic = true;
    int exp = 0;
    size_t k = SkipSpaces(j);
    while (k < n_ && exp < 40) {
      const char32_t c = c_[k];
      const int e = c == U'万' ? 4 : c == U'亿' ? 8 : c == U'千' ? 3 : c == U'百' ? 2 : 0;
      if (e == 0) break;
      exp += e;
      ++k;
    }
    if (exp == 0) {
      static constexpr std::array<std::pair<std::u32string_view, int>, 5> kScales = {
          {{U"thousand", 3}, {U"million", 6}, {U"billion", 9}, {U"trillion", 12}, {U"bn", 9}}};
      for (const auto& [w, e] : kScales) {
        if (size_t end = MatchWord(k, w); end != 0) {
          exp = e;
          k = end;
          break;
        }
      }
    }
    if (exp != 0) j = k;
    a->year_like = exp == 0 && frac.empty() && int_part.size() == 4 &&
                   (int_part[0] == '1' || int_part[0] == '2');
    a->value = Scaled(int_part, frac, exp);
    // Sign, when it is not a range dash (2020-2023).
    if (i > 0 && (c_[i - 1] == '-' || c_[i - 1] == U'−' || c_[i - 1] == '+') &&
        (i < 2 || (!IsAsciiLetter(c_[i - 2]) && DigitValue(c_[i - 2]) < 0))) {
      a->value.insert(0, 1, c_[i - 1] == '+' ? '+' : '-');
    }
    a->end = j;
    return true;
  }

  // A run of Chinese numerals, valued when it parses (三亿五千万 -> 350000000,
  // 二〇二三 -> 2023), kept as written when it holds 几 (几, 十几).
  bool ParseChinese(size_t i, Atom* a) const {
    size_t j = i;
    while (j < n_ && IsChineseNumeral(c_[j])) ++j;
    if (j == i) return false;
    a->begin = i;
    a->end = j;
    a->arabic = false;
    a->value.clear();
    bool indefinite = false;
    bool has_mult = false;
    for (size_t k = i; k < j; ++k) {
      const int64_t v = ChineseNumeral(c_[k]);
      if (v == -1) indefinite = true;
      if (v >= 10) has_mult = true;
    }
    a->year_like = !has_mult && !indefinite && j - i == 4;
    if (indefinite || j - i > 16) {
      for (size_t k = i; k < j; ++k) AppendUtf8(c_[k], &a->value);
      return true;
    }
    if (!has_mult) {
      std::string digits;
      for (size_t k = i; k < j; ++k)
        digits.push_back(static_cast<char>('0' + ChineseNumeral(c_[k])));
      a->value = StripZeros(digits);
      return true;
    }
    uint64_t result = 0, section = 0, number = 0;
    for (size_t k = i; k < j; ++k) {
      const auto v = static_cast<uint64_t>(ChineseNumeral(c_[k]));
      if (v < 10) {
        number = v;
      } else if (v <= 1000) {
        section += (number == 0 ? 1 : number) * v;
        number = 0;
      } else if (v == 10000) {
        const uint64_t s = section + number;
        result += (s == 0 ? 1 : s) * v;  // a bare 万 is ten thousand
        section = number = 0;
      } else {
        const uint64_t s = result + section + number;
        result = (s == 0 ? 1 : s) * v;
        section = number = 0;
      }
    }
    a->value = std::to_string(result + section + number);
    return true;
  }

  bool ParseAtom(size_t i, Atom* a) const {
    if (DigitValue(At(i)) >= 0) return ParseArabic(i, a);
    if (IsChineseNumeral(At(i))) return ParseChinese(i, a);
    return false;
  }

  // Percent or currency after a number: returns the end and the suffix, or 0.
  size_t AmountSuffix(size_t k, std::string* suffix) const {
    const char32_t c = At(k);
    if (c == '%' || c == U'％') {
      *suffix = "%";
      return k + 1;
    }
    if (c == U'‰') {
      *suffix = "‰";
      return k + 1;
    }
    if (MatchExact(k, U"个百分点")) {
      *suffix = "pp";
      return k + 4;
    }
    if (MatchExact(k, U"百分点")) {
      *suffix = "pp";
      return k + 3;
    }
    for (std::u32string_view w : {U"美元", U"欧元", U"英镑", U"日元", U"港元", U"人民币", U"元"}) {
      if (MatchExact(k, w)) {
        suffix->clear();
        for (char32_t ch : w) AppendUtf8(ch, suffix);
        return k + w.size();
      }
    }
    if (size_t e = MatchWord(k, U"percentage"); e != 0) {
      const size_t p = SkipSpaces(e);
      size_t e2 = MatchWord(p, U"points");
      if (e2 == 0) e2 = MatchWord(p, U"point");
      *suffix = "pp";
      return e2 != 0 ? e2 : e;
    }
    if (size_t e = MatchWord(k, U"percent"); e != 0) {
      *suffix = "%";
      return e;
    }
    if (size_t e = MatchWord(k, U"per"); e != 0) {
      if (size_t e2 = MatchWord(SkipSpaces(e), U"cent"); e2 != 0) {
        *suffix = "%";
        return e2;
      }
    }
    for (std::u32string_view w : {U"dollars", U"dollar", U"euros", U"euro", U"yuan", U"pounds",
                                  U"usd", U"eur", U"rmb", U"cny", U"gbp", U"jpy", U"hkd"}) {
      if (size_t e = MatchWord(k, w); e != 0) {
        suffix->clear();
        for (char32_t ch : w) suffix->push_back(static_cast<char>(ch));
        if (*suffix == "dollar" || *suffix == "dollars" || *suffix == "usd") *suffix = "$";
        if (*suffix == "euro" || *suffix == "euros" || *suffix == "eur") *suffix = "€";
        if (*suffix == "yuan" || *suffix == "rmb" || *suffix == "cny") *suffix = "元";
        return e;
      }
    }
    return 0;
  }

  static bool ChainFollows(char32_t prev, char32_t unit) {
    switch (prev) {
      case U'年': return unit == U'月';
      case U'月': return unit == U'日' || unit == U'号';
      case U'日':
      case U'号': return unit == U'时' || unit == U'点';
      case U'时':
      case U'点': return unit == U'分';
      case U'分': return unit == U'秒';
      default: return false;
    }
  }
  static char32_t CanonicalUnit(char32_t u) {
    if (u == U'号') return U'日';
    if (u == U'点') return U'时';
    return u;
  }

  // 2023年4月27日 18时46分: a chain of number + date unit. Returns the end or 0.
  size_t DateChain(const Atom& first, std::string* canon) {
    size_t k = SkipSpaces(first.end);
    const char32_t u = At(k);
    // Chinese numerals start a date only with a year, month or day: 一时 and
    // 第一时间 ("at once") are not times.
    const bool starts = (u == U'年' && first.year_like) || u == U'月' || u == U'日' ||
                        (first.arabic && (u == U'时' || u == U'点'));
    if (!starts) return 0;
    // 三个月 is a duration (个 comes first); 3月份 and 3月 are months alike.
    *canon = first.value;
    AppendUtf8(CanonicalUnit(u), canon);
    size_t pos = k + 1;
    char32_t prev = u;
    while (true) {
      const size_t s = SkipSpaces(pos);
      Atom a;
      if (!ParseAtom(s, &a)) break;
      const size_t k2 = SkipSpaces(a.end);
      if (!ChainFollows(prev, At(k2))) break;
      *canon += a.value;
      AppendUtf8(CanonicalUnit(At(k2)), canon);
      out_->numbers.push_back(a.value);
      prev = At(k2);
      pos = k2 + 1;
    }
    return pos;
  }

  // Numeric dates 2024-03-14, 14/03/2024, 27.04.2023 and times 18:46(:05).
  size_t NumericDate(size_t i) {
    std::array<std::string, 3> g;
    size_t j = ReadDigits(i, &g[0]);
    const char32_t sep = At(j);
    if (sep == ':' && g[0].size() <= 2) {
      std::string mm;
      size_t e = ReadDigits(j + 1, &mm);
      if (mm.size() != 2) return 0;
      std::string canon = StripZeros(g[0]) + ":" + mm;
      if (At(e) == ':') {
        std::string ss;
        const size_t e2 = ReadDigits(e + 1, &ss);
        if (ss.size() == 2) {
          canon += ":" + ss;
          e = e2;
        }
      }
      const size_t p = SkipSpaces(e);
      for (std::u32string_view w : {U"am", U"pm"}) {
        if (size_t e3 = MatchWord(p, w); e3 != 0) {
          canon += std::string(w == U"am" ? "am" : "pm");
          e = e3;
        }
      }
      out_->numbers.push_back(StripZeros(g[0]));
      out_->numbers.push_back(StripZeros(mm));
      out_->dates.push_back(canon);
      return e;
    }
    if (sep != '-' && sep != '/' && sep != '.') return 0;
    size_t j2 = ReadDigits(j + 1, &g[1]);
    if (g[1].empty() || At(j2) != sep) return 0;
    const size_t j3 = ReadDigits(j2 + 1, &g[2]);
    if (g[2].empty() || DigitValue(At(j3)) >= 0) return 0;
    for (const std::string& s : g) {
      if (s.size() > 4) return 0;
    }
    // Plausible dates only: 2024-03-14, 14.03.2024, 3/14/2024 (not a phone
    // number such as 203-378-2803, nor a version such as 1.2.3).
    auto value = [](const std::string& s) { return std::stoi(s); };
    const bool ymd = g[0].size() == 4 && g[1].size() <= 2 && g[2].size() <= 2 && value(g[1]) >= 1 &&
                     value(g[1]) <= 12 && value(g[2]) >= 1 && value(g[2]) <= 31;
    const bool dmy_or_mdy = g[2].size() == 4 && g[0].size() <= 2 && g[1].size() <= 2 &&
                            value(g[0]) >= 1 && value(g[1]) >= 1 && value(g[0]) <= 31 &&
                            value(g[1]) <= 31 && (value(g[0]) <= 12 || value(g[1]) <= 12);
    if (!ymd && !dmy_or_mdy) return 0;
    std::string canon;
    for (const std::string& s : g) {
      if (!canon.empty()) canon.push_back('-');
      canon += StripZeros(s);
      out_->numbers.push_back(StripZeros(s));
    }
    out_->dates.push_back(canon);
    return j3;
  }

  // April 27, 2024 / Apr. 27 / March 2024 / (capitalised) March. Returns end or 0.
  size_t MonthDate(size_t i) {
    size_t e = 0;
    bool alone_ok = false;
    const int month = MatchMonth(i, &e, &alone_ok);
    if (month == 0) return 0;
    std::string canon = "m" + std::to_string(month);
    size_t k = SkipSpaces(e);
    std::string digits;
    size_t d_end = ReadDigits(k, &digits);
    if (!digits.empty() && digits.size() <= 2) {
      canon += "-d" + StripZeros(digits);
      out_->numbers.push_back(StripZeros(digits));
      for (std::u32string_view ord : {U"st", U"nd", U"rd", U"th"}) {
        if (size_t oe = MatchWord(d_end, ord); oe != 0) d_end = oe;
      }
      e = d_end;
      size_t p = SkipSpaces(d_end);
      if (At(p) == ',') p = SkipSpaces(p + 1);
      std::string year;
      const size_t y_end = ReadDigits(p, &year);
      if (year.size() == 4) {
        canon += "-y" + year;
        out_->numbers.push_back(year);
        e = y_end;
      }
    } else if (digits.size() == 4) {
      canon += "-y" + digits;
      out_->numbers.push_back(digits);
      e = d_end;
    } else if (!alone_ok) {
      return 0;
    }
    out_->dates.push_back(canon);
    return e;
  }

  // A URL or an e-mail address starting at i: its end, or 0. The numbers in
  // links are ids and dates of other pages, not figures of this one. An
  // address ends with its top-level domain (letters): a scrape that glued a
  // phone number to it (press@city.gov203-555-0100) keeps the number.
  size_t SkipLink(size_t i) const {
    size_t j = i;
    size_t at = 0;
    bool scheme = false;
    while (j < n_ && c_[j] < 0x80 && !IsSpace(c_[j])) {
      if (c_[j] == '@' && at == 0) at = j;
      if (c_[j] == ':' && At(j + 1) == '/' && At(j + 2) == '/') scheme = true;
      ++j;
    }
    if (scheme || MatchExact(i, U"www.") || MatchExact(i, U"WWW.")) return j;
    if (at == 0) return 0;
    size_t e = at + 1;
    while (e < n_ &&
           (IsAsciiLetter(c_[e]) || DigitValue(c_[e]) >= 0 || c_[e] == '.' || c_[e] == '-')) {
      ++e;
    }
    size_t dot = e;
    while (dot > at + 1 && c_[dot - 1] != '.') --dot;
    if (c_[dot - 1] != '.') return e;  // no dot: the whole run
    size_t end = dot;
    while (end < n_ && IsAsciiLetter(c_[end])) ++end;
    return end;
  }

  size_t Step(size_t i) {
    const char32_t c = c_[i];
    if (IsCurrencySymbol(c)) {
      const size_t k = SkipSpaces(i + 1);
      Atom a;
      if (DigitValue(At(k)) >= 0 && ParseArabic(k, &a)) {
        std::string prefix;
        size_t b = i;
        while (b > 0 && i - b < 3 && c_[b - 1] >= 'A' && c_[b - 1] <= 'Z') --b;
        if (b > 0 && IsAsciiLetter(c_[b - 1])) b = i;  // part of a longer word
        for (size_t t = b; t < i; ++t) prefix.push_back(static_cast<char>(Lower(c_[t])));
        AppendUtf8(c == U'＄' ? U'$' : (c == U'￥' ? U'¥' : (c == U'￡' ? U'£' : c)), &prefix);
        out_->numbers.push_back(a.value);
        out_->amounts.push_back(prefix + a.value);
        return a.end;
      }
      return i + 1;
    }
    if (IsAsciiLetter(c)) {
      if (i > 0 && IsAsciiLetter(c_[i - 1])) return i + 1;
      if (size_t e = SkipLink(i); e != 0) return e;
      size_t j = i;
      while (j < n_ && IsAsciiLetter(c_[j])) ++j;
      for (std::u32string_view code : {U"usd", U"eur", U"rmb", U"cny", U"gbp", U"jpy", U"hkd"}) {
        if (MatchWord(i, code) == j) {
          const size_t k = SkipSpaces(j);
          Atom a;
          if (DigitValue(At(k)) >= 0 && ParseArabic(k, &a)) {
            std::string prefix;
            for (char32_t ch : code) prefix.push_back(static_cast<char>(ch));
            out_->numbers.push_back(a.value);
            out_->amounts.push_back(prefix + a.value);
            return a.end;
          }
        }
      }
      if (size_t e = MonthDate(i); e != 0) return e;
      for (const NumberWord& w : kNumberWords) {
        if (MatchWord(i, w.word) == j) {
          out_->numbers.emplace_back(w.value);
          break;
        }
      }
      return j;
    }
    if (DigitValue(c) >= 0) {
      if (i > 0 && IsAsciiLetter(c_[i - 1])) {
        // Digits inside an identifier (mR25P, a ticket code) are not a figure;
        // a name such as G20 or A380 is.
        size_t j = i;
        while (j < n_ && DigitValue(c_[j]) >= 0) ++j;
        if (LetterAt(j)) return j;
      }
      if (size_t e = NumericDate(i); e != 0) return e;
      Atom a;
      ParseArabic(i, &a);
      return AfterNumber(a);
    }
    if (c == U'百' && MatchExact(i, U"百分之")) {
      Atom a;
      if (ParseAtom(i + 3, &a)) {
        out_->numbers.push_back(a.value);
        out_->amounts.push_back(a.value + "%");
        return a.end;
      }
    }
    if (IsChineseNumeral(c)) {
      Atom a;
      ParseChinese(i, &a);
      return AfterChineseRun(a);
    }
    return i + 1;
  }

  // What follows an Arabic number decides what it is.
  size_t AfterNumber(const Atom& a) {
    const size_t k = SkipSpaces(a.end);
    std::string suffix;
    if (size_t e = AmountSuffix(k, &suffix); e != 0) {
      out_->numbers.push_back(a.value);
      out_->amounts.push_back(a.value + suffix);
      return e;
    }
    std::string canon;
    if (size_t e = DateChain(a, &canon); e != 0) {
      out_->numbers.push_back(a.value);
      out_->dates.push_back(canon);
      return e;
    }
    // 27 April 2024
    if (a.value.size() <= 2 && k < n_ && IsAsciiLetter(c_[k])) {
      size_t me = 0;
      bool alone = false;
      if (const int month = MatchMonth(k, &me, &alone); month != 0) {
        std::string date = "m" + std::to_string(month) + "-d" + a.value;
        out_->numbers.push_back(a.value);
        size_t p = SkipSpaces(me);
        std::string year;
        const size_t y_end = ReadDigits(p, &year);
        if (year.size() == 4) {
          date += "-y" + year;
          out_->numbers.push_back(year);
          me = y_end;
        }
        out_->dates.push_back(date);
        return me;
      }
    }
    out_->numbers.push_back(a.value);
    return a.end;
  }

  // A Chinese numeral run counts only in a numeric context: after 第, before a
  // measure word or unit (optionally through 多/余/来: 三十多年), in a date
  // chain, before a percent or currency, or as a fraction (三分之一).
  size_t AfterChineseRun(const Atom& a) {
    if (a.begin > 0 && c_[a.begin - 1] == U'第' && a.end == a.begin + 1 && c_[a.begin] == U'一' &&
        MatchExact(a.end, U"时间")) {
      return a.end;  // 第一时间: "immediately", not a figure
    }
    std::string suffix;
    if (size_t e = AmountSuffix(a.end, &suffix); e != 0) {
      out_->numbers.push_back(a.value);
      out_->amounts.push_back(a.value + suffix);
      return e;
    }
    if (MatchExact(a.end, U"分之")) {
      Atom b;
      if (ParseAtom(a.end + 2, &b)) {
        out_->numbers.push_back(b.value + "/" + a.value);
        return b.end;
      }
    }
    std::string canon;
    if (size_t e = DateChain(a, &canon); e != 0) {
      out_->numbers.push_back(a.value);
      out_->dates.push_back(canon);
      return e;
    }
    size_t k = a.end;
    if (At(k) == U'多' || At(k) == U'余' || At(k) == U'来') ++k;
    const bool ordinal = a.begin > 0 && c_[a.begin - 1] == U'第';
    const bool measured =
        IsChineseMeasureWord(At(k)) || MatchExact(k, U"分钟") || MatchExact(k, U"小时");
    // A lone multiplier (万众, 千里, 百姓) is not a figure unless measured.
    if (ordinal || measured) out_->numbers.push_back(a.value);
    return a.end;
  }

  const std::vector<char32_t>& c_;
  size_t n_;
  Figures* out_;
};

}  // namespace

void Figures::Sort() {
  std::sort(numbers.begin(), numbers.end());
  std::sort(dates.begin(), dates.end());
  std::sort(amounts.begin(), amounts.end());
}

void ExtractFigures(std::string_view text, Figures* out) {
  // Decoded into an array kept per thread: the diff calls this for every
  // sentence of a changed region.
  thread_local std::vector<char32_t> cps;
  cps.clear();
  AppendCodePoints(text, &cps);
  Scanner scanner(cps, out);
  scanner.Run();
}

}  // namespace dedupd::diff::internal
