// JoinBlocks (issue #11 item 3, session 11): the text a page stores, its
// kept blocks joined with '\n', copied with one append per run of blocks
// that follow each other in the page's buffer (before: one append per
// block, a memcpy call each). Copy calls are counted by a memmove and memcpy
// of this test binary's own, which the header's code compiled into it
// reaches. The result is checked against a plain join on random layouts.
#include "classify/join_blocks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "text/extract.h"
#include "unit/counting_copies.h"

namespace dedupd::classify {
namespace {

std::string PlainJoin(const std::vector<std::string_view>& blocks, const std::vector<bool>& keep) {
  std::string out;  // as the detector joined them before (a leading empty block: no '\n')
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i < keep.size() && !keep[i]) continue;
    if (!out.empty()) out.push_back('\n');
    out.append(blocks[i]);
  }
  return out;
}

void ExpectJoined(const std::vector<std::string_view>& blocks, const std::vector<bool>& keep,
                  const std::string& joined, const std::vector<std::string_view>& views) {
  ASSERT_EQ(joined, PlainJoin(blocks, keep));
  size_t v = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i < keep.size() && !keep[i]) continue;
    ASSERT_LT(v, views.size());
    EXPECT_EQ(views[v], blocks[i]) << i;
    // Into the joined text, not the source.
    EXPECT_GE(views[v].data(), joined.data());
    EXPECT_LE(views[v].data() + views[v].size(), joined.data() + joined.size());
    ++v;
  }
  EXPECT_EQ(v, views.size());
}

TEST(JoinBlocks, APlainPagesLinesAreCopiedWithOneCall) {
  std::string body;
  for (int i = 0; i < 30; ++i) {
    body += "第" + std::to_string(i) + "段：这是一段足够长的文字，讲的是一件不同的事情。\n";
  }
  // The views Detector::Prepare joins for a plain page.
  std::vector<std::string_view> lines;
  std::string repaired;
  text::SplitPlainTextLines(body, &lines, &repaired);
  ASSERT_EQ(lines.size(), 30u);
  std::string joined;
  std::vector<std::string_view> views;
  joined.reserve(body.size() + 1);  // grown: only the copies are counted
  views.reserve(lines.size());
  calls = 0;
  counting = true;
  JoinBlocks(lines, {}, body, &joined, &views);
  counting = false;
  if (!DEDUPD_COPIES_INTERCEPTED) {
    EXPECT_LE(calls.load(), 1u) << "before: one per line, 30";
    EXPECT_GE(calls.load(), 1u);  // (this binary's memcpy was reached)
  }
  ExpectJoined(lines, {}, joined, views);

  // A dropped repeat (line 10) splits the run in two.
  std::vector<bool> keep(lines.size(), true);
  keep[10] = false;
  calls = 0;
  counting = true;
  JoinBlocks(lines, keep, body, &joined, &views);
  counting = false;
  if (!DEDUPD_COPIES_INTERCEPTED) {
    EXPECT_LE(calls.load(), 2u);
  }
  ExpectJoined(lines, keep, joined, views);
}

TEST(JoinBlocks, BlocksOutsideTheSourceOrNotSeparatedByOneNewlineAreJoinedAsBefore) {
  // "\r\n" breaks, blank lines, trimmed spaces: the byte between two lines
  // is not a lone '\n'.
  const std::string body = "alpha\r\nbeta\n\ngamma \n delta\nepsilon\nzeta";
  std::vector<std::string_view> blocks = {std::string_view(body).substr(0, 5),    // alpha
                                          std::string_view(body).substr(7, 4),    // beta
                                          std::string_view(body).substr(13, 5),   // gamma
                                          std::string_view(body).substr(21, 5),   // delta
                                          std::string_view(body).substr(27, 7),   // epsilon
                                          std::string_view(body).substr(35, 4)};  // zeta
  ASSERT_EQ(blocks[5], "zeta");
  std::string joined;
  std::vector<std::string_view> views;
  JoinBlocks(blocks, {}, body, &joined, &views);
  ExpectJoined(blocks, {}, joined, views);
  // The same blocks with no source given, and blocks in separate strings.
  JoinBlocks(blocks, {}, {}, &joined, &views);
  ExpectJoined(blocks, {}, joined, views);
  const std::vector<std::string> owned = {"one", "two", "", "three"};
  std::vector<std::string_view> separate(owned.begin(), owned.end());
  JoinBlocks(separate, {true, false}, {}, &joined, &views);
  ExpectJoined(separate, {true, false}, joined, views);
  JoinBlocks({}, {}, body, &joined, &views);
  EXPECT_TRUE(joined.empty());
  EXPECT_TRUE(views.empty());
}

TEST(JoinBlocks, RandomLayoutsJoinAsAPlainJoin) {
  std::mt19937 rng(11);
  std::string joined;
  std::vector<std::string_view> views;
  for (int round = 0; round < 2000; ++round) {
    // Lines of 0-6 letters, separated by 1-3 bytes of '\n', '\r' or ' '.
    std::string body;
    std::vector<std::pair<size_t, size_t>> spans;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      const size_t len = rng() % 7;
      spans.emplace_back(body.size(), len);
      for (size_t k = 0; k < len; ++k) body.push_back(static_cast<char>('a' + rng() % 26));
      const int gap = 1 + static_cast<int>(rng() % 3);
      for (int g = 0; g < gap; ++g) body.push_back("\n\n\n\r "[rng() % 5]);
    }
    std::vector<std::string_view> blocks;
    for (const auto& [at, len] : spans) blocks.push_back(std::string_view(body).substr(at, len));
    std::vector<bool> keep;
    const size_t kept = rng() % (blocks.size() + 1);
    for (size_t i = 0; i < kept; ++i) keep.push_back(rng() % 4 != 0);
    // The source: the body, a part of it, or none.
    std::string_view source = body;
    if (round % 3 == 1) source = source.substr(0, body.size() / 2);
    if (round % 3 == 2) source = {};
    JoinBlocks(blocks, keep, source, &joined, &views);
    ExpectJoined(blocks, keep, joined, views);
  }
}

}  // namespace
}  // namespace dedupd::classify
