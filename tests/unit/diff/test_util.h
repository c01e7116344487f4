// Helpers for the diff tests: a tiny sentence splitter (the real one lives in
// the text stage) and span inspection.
//
//   std::vector<Sentence> s = SplitForTest(ReadFixture("sc-gov-release.txt"));
//   EXPECT_EQ(Core(SpanText(text, span)), "全体");
//
// Thread-safety: pure functions.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "diff/diff.h"

namespace dedupd::diff::testing {

inline std::string ReadFixture(std::string_view name) {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/" + std::string(name),
                   std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// ASCII whitespace, U+00A0 and U+3000.
inline size_t SpaceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') return 1;
  if (s.substr(i, 2) == "\xC2\xA0") return 2;
  if (s.substr(i, 3) == "\xE3\x80\x80") return 3;
  return 0;
}

inline std::string RemoveSpaces(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (size_t k = SpaceLength(s, i); k != 0) {
      i += k;
      continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty()) {
    if (size_t k = SpaceLength(s, 0); k != 0) {
      s.remove_prefix(k);
    } else {
      break;
    }
  }
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s.back());
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      s.remove_suffix(1);
    } else if (s.size() >= 3 && s.substr(s.size() - 3) == "\xE3\x80\x80") {
      s.remove_suffix(3);
    } else {
      break;
    }
  }
  return s;
}

// Blocks are non-blank lines; sentences end after 。！？；and ! ? ; and after
// a '.' followed by whitespace, a non-ASCII character or the end of the line.
// key = text without whitespace.
inline std::vector<Sentence> SplitForTest(std::string_view text, bool by_line = false) {
  std::vector<Sentence> out;
  uint32_t block = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    auto emit = [&](std::string_view s) {
      s = Trim(s);
      if (s.empty()) return;
      out.push_back({std::string(s), RemoveSpaces(s), block});
    };
    if (by_line) {
      emit(line);
    } else {
      size_t start = 0;
      for (size_t i = 0; i < line.size();) {
        const size_t len = Utf8Length(static_cast<unsigned char>(line[i]));
        const std::string_view cp = line.substr(i, len);
        bool end = cp == "。" || cp == "！" || cp == "？" || cp == "；";
        if (cp == "!" || cp == "?" || cp == ";") end = true;
        if (cp == ".") {  // not inside 4.2 or example.gov
          end = i + 1 == line.size() || SpaceLength(line, i + 1) != 0 ||
                static_cast<unsigned char>(line[i + 1]) >= 0x80;
        }
        i += len;
        if (end) {
          emit(line.substr(start, i - start));
          start = i;
        }
      }
      emit(line.substr(start));
    }
    ++block;
    if (nl == text.size()) break;
  }
  return out;
}

inline std::vector<Sentence> Sentences(std::initializer_list<std::string_view> texts) {
  std::vector<Sentence> out;
  uint32_t block = 0;
  for (std::string_view t : texts) out.push_back({std::string(t), RemoveSpaces(t), block++});
  return out;
}

inline std::string SpanText(std::string_view text, Span s) {
  return std::string(text.substr(s.begin, s.end - s.begin));
}

// A span's text without the punctuation and spaces at its edges: "give or take
// adjacent punctuation/space".
inline std::string Core(std::string_view s) {
  static constexpr std::string_view kEdge[] = {" ",  ",",  ".",  ";",  ":",  "(",  ")",  "\"", "'",
                                               "，", "。", "；", "：", "（", "）", "、", "“",  "”"};
  bool changed = true;
  while (changed && !s.empty()) {
    changed = false;
    for (std::string_view e : kEdge) {
      if (s.size() >= e.size() && s.substr(0, e.size()) == e) {
        s.remove_prefix(e.size());
        changed = true;
      }
      if (s.size() >= e.size() && s.substr(s.size() - e.size()) == e) {
        s.remove_suffix(e.size());
        changed = true;
      }
    }
  }
  return std::string(s);
}

// Every changed-sentence span of a diff, as (old or new, core text).
struct ChangedSentence {
  std::string old_text, new_text;
  std::vector<std::string> old_cores, new_cores;
};
inline std::vector<ChangedSentence> ChangedSentences(const DiffResult& d) {
  std::vector<ChangedSentence> out;
  for (const Hunk& h : d.hunks) {
    if (h.kind != HunkKind::kChanged || h.coarse) continue;
    for (size_t k = 0; k < h.old_text.size(); ++k) {
      ChangedSentence c{h.old_text[k], h.new_text[k], {}, {}};
      for (Span s : h.old_spans[k]) c.old_cores.push_back(Core(SpanText(h.old_text[k], s)));
      for (Span s : h.new_spans[k]) c.new_cores.push_back(Core(SpanText(h.new_text[k], s)));
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace dedupd::diff::testing
