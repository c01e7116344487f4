// Renderings: the unified diff (headers, ranges, context, merged groups) and
// the word diff of changed sentences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "diff/diff.h"
#include "unit/diff/test_util.h"

namespace dedupd::diff {
namespace {

using testing::Sentences;

TEST(RenderUnified, ChangedSentenceWithContext) {
  const auto a = Sentences({"One.", "Two.", "Three 3.", "Four.", "Five."});
  const auto b = Sentences({"One.", "Two.", "Three 4.", "Four.", "Five."});
  const DiffResult d = DiffSentences(a, b);
  EXPECT_EQ(RenderUnified(a, b, d, "v1", "v2"),
            "--- v1\n"
            "+++ v2\n"
            "@@ -2,3 +2,3 @@ line 3\n"
            " Two.\n"
            "-Three 3.\n"
            "+Three 4.\n"
            " Four.\n");
  EXPECT_EQ(RenderUnified(a, b, d, "v1", "v2", 0),
            "--- v1\n+++ v2\n@@ -3 +3 @@ line 3\n-Three 3.\n+Three 4.\n");
}

TEST(RenderUnified, AddedAtTheStartAndRemovedAtTheEnd) {
  const auto a = Sentences({"One.", "Two.", "Three.", "Four.", "Five.", "Six."});
  const auto b = Sentences({"Zero.", "One.", "Two.", "Three.", "Four.", "Five."});
  const DiffResult d = DiffSentences(a, b);
  ASSERT_EQ(d.hunks.size(), 2u);
  EXPECT_EQ(RenderUnified(a, b, d, "a", "b"),
            "--- a\n+++ b\n"
            "@@ -1 +1,2 @@ line 1\n"
            "+Zero.\n"
            " One.\n"
            "@@ -5,2 +6 @@ line 6\n"
            " Five.\n"
            "-Six.\n");
}

TEST(RenderUnified, NearbyHunksShareOneGroup) {
  const auto a = Sentences({"A.", "B.", "C.", "D.", "E.", "F.", "G."});
  const auto b = Sentences({"A.", "B x.", "C.", "D.", "E y.", "F.", "G."});
  const DiffResult d = DiffSentences(a, b, {});
  ASSERT_EQ(d.hunks.size(), 2u);
  // context 1: C. and D. are each one hunk's context, so the groups touch.
  EXPECT_EQ(RenderUnified(a, b, d, "a", "b"),
            "--- a\n+++ b\n"
            "@@ -1,6 +1,6 @@ line 2\n"
            " A.\n-B.\n+B x.\n C.\n D.\n-E.\n+E y.\n F.\n");
  // context 0: two groups.
  const std::string zero = RenderUnified(a, b, d, "a", "b", 0);
  EXPECT_NE(zero.find("@@ -2 +2 @@"), std::string::npos);
  EXPECT_NE(zero.find("@@ -5 +5 @@"), std::string::npos);
}

TEST(RenderUnified, LineBreaksInsideASentenceBecomeSpaces) {
  const auto a = Sentences({"first\nline."});
  const auto b = Sentences({"first\nline!"});
  const DiffResult d = DiffSentences(a, b);
  EXPECT_EQ(RenderUnified(a, b, d, "a", "b"),
            "--- a\n+++ b\n@@ -1 +1 @@ line 1\n-first line.\n+first line!\n");
}

TEST(RenderWordDiff, MarksRemovedAndAddedInsideTheSentence) {
  const auto a = Sentences({"The City Council approved the budget by a vote of 9 to 2."});
  const auto b = Sentences({"The City Council approved the budget by a vote of 8 to 3."});
  const DiffResult d = DiffSentences(a, b);
  ASSERT_EQ(d.hunks.size(), 1u);
  EXPECT_EQ(RenderWordDiff(d.hunks[0]),
            "The City Council approved the budget by a vote of [-9-]{+8+} to [-2-]{+3+}.\n");
}

TEST(RenderWordDiff, InsertionsDeletionsAndSpaces) {
  Hunk h;
  h.kind = HunkKind::kChanged;
  h.old_text = {"会议 强调 要加强领导。"};
  h.new_text = {"会议强调,要 全面 加强领导。"};
  const SentenceSpans s = DiffWithinSentence(h.old_text[0], h.new_text[0]);
  h.old_spans = {s.old_spans};
  h.new_spans = {s.new_spans};
  EXPECT_EQ(RenderWordDiff(h), "会议强调{+,+}要 {+全面+} 加强领导。\n");
}

TEST(RenderWordDiff, AddedRemovedAndCoarseHunks) {
  Hunk added;
  added.kind = HunkKind::kAdded;
  added.new_text = {"New one."};
  EXPECT_EQ(RenderWordDiff(added), "{+New one.+}\n");
  Hunk removed;
  removed.kind = HunkKind::kRemoved;
  removed.old_text = {"Old one.", "Old two."};
  EXPECT_EQ(RenderWordDiff(removed), "[-Old one.-]\n[-Old two.-]\n");
  Hunk coarse;
  coarse.kind = HunkKind::kChanged;
  coarse.coarse = true;
  coarse.old_text = {"x."};
  coarse.new_text = {"y.", "z."};
  EXPECT_EQ(RenderWordDiff(coarse), "[-x.-]\n{+y.+}\n{+z.+}\n");
}

TEST(RenderWordDiff, InconsistentSpansDoNotHang) {
  Hunk h;
  h.kind = HunkKind::kChanged;
  h.old_text = {"abc def"};
  h.new_text = {"xyz"};
  h.old_spans = {{{5, 100}, {0, 2}}};
  h.new_spans = {{}};
  const std::string out = RenderWordDiff(h);
  EXPECT_FALSE(out.empty());
}

}  // namespace
}  // namespace dedupd::diff
