// The acceptance stream: ../shared/fixtures/pages.jsonl (our copy in
// tests/data/fixtures) processed in order from an empty state gives, line by
// line, the verdict, flags, match, version and dead-letter reason listed in
// expected.jsonl. This is the same Pipeline that `dedupd scan` and the Kafka
// loop drive.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "state/store.h"

namespace dedupd::app {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct FixtureRun {
  std::vector<PipelineResult> results;
};

FixtureRun ProcessFixtures() {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  PipelineOptions options;
  options.now_ms = [] { return int64_t{1700000000000}; };
  Pipeline pipeline(options, &detector, &metrics);
  FixtureRun run;
  auto lines = ReadLines(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl");
  std::vector<OutputRecord> records;
  for (size_t i = 0; i < lines.size(); ++i) {
    records.clear();
    SourceCoordinates source{"pages.jsonl", 0, static_cast<int64_t>(i), 0};
    run.results.push_back(pipeline.Process({lines[i], {}, source}, &records));
    std::string error;
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
  }
  return run;
}

const FixtureRun& Fixtures() {
  static const FixtureRun run = ProcessFixtures();
  return run;
}

std::string FlagsOf(const classify::Outcome& o) {
  std::string s;
  if (o.flags.Has(Flag::kRepeatedContent)) s += "REPEATED_CONTENT ";
  if (o.flags.Has(Flag::kReverted)) s += "REVERTED ";
  if (o.flags.Has(Flag::kBoilerplateOnly)) s += "BOILERPLATE_ONLY ";
  return s;
}

TEST(Fixtures, EveryLineMatchesExpectedJsonl) {
  const FixtureRun& run = Fixtures();
  auto expected = ReadLines(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/expected.jsonl");
  ASSERT_EQ(run.results.size(), expected.size());
  simdjson::dom::parser parser;
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    simdjson::dom::element e = parser.parse(expected[i]);
    const PipelineResult& r = run.results[i];
    std::string_view dead;
    if (e["dead_letter"].get(dead) == simdjson::SUCCESS) {
      ASSERT_EQ(r.kind, PipelineResult::Kind::kDeadLetter);
      EXPECT_EQ(parse::ReasonCode(r.error.code), dead) << r.error.detail;
      continue;
    }
    ASSERT_EQ(r.kind, PipelineResult::Kind::kEvent) << r.error.detail;
    std::set<std::string> allowed;
    std::string_view one;
    simdjson::dom::array many;
    if (e["verdict"].get(one) == simdjson::SUCCESS) {
      allowed.insert(std::string(one));
    } else {
      ASSERT_EQ(e["verdict"].get(many), simdjson::SUCCESS);
      for (auto v : many) allowed.insert(std::string(std::string_view(v)));
    }
    std::string got(VerdictName(r.outcome.verdict));
    EXPECT_TRUE(allowed.count(got)) << "got " << got;

    std::string flags;
    simdjson::dom::array flag_array;
    if (e["flags"].get(flag_array) == simdjson::SUCCESS) {
      for (auto f : flag_array) flags += std::string(std::string_view(f)) + " ";
    }
    EXPECT_EQ(FlagsOf(r.outcome), flags);

    std::string_view match;
    if (e["match"].get(match) == simdjson::SUCCESS) {
      ASSERT_TRUE(r.outcome.match.has_value());
      EXPECT_EQ(r.outcome.match->url, match);
    }
    std::string_view canonical;
    if (e["canonical_url"].get(canonical) == simdjson::SUCCESS) {
      EXPECT_EQ(r.page.canonical_url, canonical);
    }
    int64_t version;
    if (e["version"].get(version) == simdjson::SUCCESS) {
      EXPECT_EQ(r.outcome.version, static_cast<uint32_t>(version));
    }
    int64_t changed;
    if (e["changed_sentences"].get(changed) == simdjson::SUCCESS) {
      ASSERT_TRUE(r.outcome.diff.has_value());
      const auto& s = r.outcome.diff->result.significance;
      // Sentences touched by the edit: changed in place, added or removed.
      EXPECT_EQ(s.sentences_changed + s.sentences_added + s.sentences_removed,
                static_cast<uint32_t>(changed));
    }
  }
}

TEST(Fixtures, RevisedReleaseDiffMarksExactlyTheEdits) {
  const PipelineResult& r = Fixtures().results[6];  // line 7
  ASSERT_TRUE(r.diff.has_value());
  ASSERT_EQ(r.outcome.verdict, Verdict::kRevised);
  const auto& sig = r.outcome.diff->result.significance;
  EXPECT_EQ(sig.sentences_changed, 4u);  // exactly the 4 edited sentences, changed in place
  EXPECT_EQ(sig.sentences_added + sig.sentences_removed, 0u);
  EXPECT_EQ(r.outcome.severity, diff::Severity::kMajor);  // 几 -> 三 is a changed figure
  std::string added;
  std::string removed;
  for (const auto& hunk : r.outcome.diff->result.hunks) {
    ASSERT_EQ(hunk.kind, diff::HunkKind::kChanged);
    for (size_t i = 0; i < hunk.new_text.size(); ++i) {
      for (const auto& span : hunk.new_spans[i]) {
        added += hunk.new_text[i].substr(span.begin, span.end - span.begin) + "|";
      }
    }
    for (size_t i = 0; i < hunk.old_text.size(); ++i) {
      for (const auto& span : hunk.old_spans[i]) {
        removed += hunk.old_text[i].substr(span.begin, span.end - span.begin) + "|";
      }
    }
  }
  for (const char* edit : {"全体", "坚持全省一盘棋", "三", "王成栋"}) {
    EXPECT_NE(added.find(edit), std::string::npos) << edit << " not in " << added;
  }
  EXPECT_NE(removed.find("几"), std::string::npos) << removed;
  EXPECT_LT(added.size(), std::string("全体|坚持全省一盘棋,|三|王成栋)|").size() + 12) << added;
}

// The NEAR_DUPLICATE PageEvent explains its match compactly (docs/api.md):
// the syndicated copy (line 5) of the Sichuan release.
TEST(Fixtures, NearDuplicateEventExplainsTheMatch) {
  const PipelineResult& r = Fixtures().results[4];  // line 5
  ASSERT_EQ(r.outcome.verdict, Verdict::kNearDuplicate);
  const v1::Match& m = r.event.match();
  EXPECT_GT(m.jaccard(), 0.3);
  EXPECT_LE(m.jaccard(), m.similarity());  // Jaccard never exceeds containment
  ASSERT_GT(m.found_by_size(), 0);
  for (const auto& path : m.found_by())
    EXPECT_TRUE(path == "simhash" || path == "passages") << path;
  EXPECT_GT(m.sentences(), 0u);
  EXPECT_GT(m.shared_sentences(), m.sentences() / 2);
  EXPECT_LE(m.shared_sentences(), m.sentences());
  // Other verdicts keep the match as before, without the explanation.
  const PipelineResult& revised = Fixtures().results[6];
  EXPECT_EQ(revised.event.match().found_by_size(), 0);
  EXPECT_EQ(revised.event.match().sentences(), 0u);
}

TEST(Fixtures, DeadLettersCarryCoordinatesAndTheOriginal) {
  const PipelineResult& r = Fixtures().results[11];  // line 12
  ASSERT_EQ(r.kind, PipelineResult::Kind::kDeadLetter);
  EXPECT_EQ(r.dead_letter.source().offset(), 11);
  EXPECT_EQ(r.dead_letter.reason_code(), "invalid_json");
  EXPECT_NE(r.dead_letter.original().find("unterminated"), std::string::npos);
}

}  // namespace
}  // namespace dedupd::app
