// emit::AppendJson against protobuf's MessageToJsonString (the output of
// `dedupd scan` before the direct writer): byte for byte, on every PageEvent
// and PageDiff the pipeline makes from the fixtures and the labelled corpus,
// and on random messages: hostile strings (every escape class, format
// characters, supplementary code points, invalid UTF-8), 64-bit extremes,
// doubles that need 17 digits, unknown enum values, empty sub-messages.
#include "emit/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "emit/records.h"
#include "pipeline/pipeline.h"
#include "state/store.h"

namespace dedupd::emit {
namespace {

template <typename M>
void ExpectSameJson(const M& m, const std::string& what) {
  std::string want, got = "prefix:";
  AppendProtobufJson(m, &want);
  AppendJson(m, &got);
  ASSERT_EQ(got, "prefix:" + want) << what;                 // appends, leaves what was there
  ASSERT_EQ(Encode(m, OutputFormat::kJson), want) << what;  // the Kafka path's encoder
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every event and diff of one stream processed from an empty state.
size_t CheckStream(const std::string& path) {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  app::PipelineOptions options;
  options.now_ms = [] { return int64_t{1700000000123}; };
  app::Pipeline pipeline(options, &detector, &metrics);
  std::vector<app::OutputRecord> records;
  size_t checked = 0;
  const std::vector<std::string> lines = ReadLines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    records.clear();
    SourceCoordinates source{"in.jsonl", 0, static_cast<int64_t>(i), 0};
    const app::PipelineResult r = pipeline.Process({lines[i], {}, source}, &records);
    std::string error;
    EXPECT_TRUE(detector.Commit({}, &error)) << error;
    if (r.kind != app::PipelineResult::Kind::kEvent) continue;
    ExpectSameJson(r.event, path + " line " + std::to_string(i + 1));
    ++checked;
    if (r.diff) {
      ExpectSameJson(*r.diff, path + " diff of line " + std::to_string(i + 1));
      ++checked;
    }
  }
  return checked;
}

TEST(AppendJson, SameAsProtobufOnFixturesAndCorpus) {
  const std::string dir = DEDUPD_TEST_DATA_DIR;
  EXPECT_GT(CheckStream(dir + "/fixtures/pages.jsonl"), 10u);
  EXPECT_GT(CheckStream(dir + "/corpus/dev.jsonl"), 1500u);
}

class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return rng_() % n; }
  bool Coin() { return Below(2) == 0; }

  std::string String() {
    static const std::vector<std::string> pieces = {
        "a", "Z", "0", " ", "中文", "\"", "\\", "/", "<", ">", "&", "'", "\n", "\r", "\t", "\b",
        "\f", std::string(1, '\0'), "\x01", "\x1F", "\x7F", "\xC2\x80", "\xC2\x9F", "\xC2\xA0",
        "\xC2\xAD", "\xD8\x80", "\xDB\x9D", "\xDC\x8F", "\xE1\x9E\xB4", "\xE2\x80\x8B",
        "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAE", "\xE2\x81\xA0", "\xE2\x81\xAF",
        "\xEF\xBB\xBF", "\xEF\xBF\xB9", "\xEF\xBF\xBD", "\xF0\x9D\x85\xB3", "\xF3\xA0\x80\x81",
        "\xF3\xA0\x80\xA0", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF", "é", "\u3000",
        // Not UTF-8: left to protobuf.
        "\xFF", "\xC3", "\xED\xA0\x80", "\xC0\x80", "\xF4\x90\x80\x80"};
    std::string s;
    const size_t n = Below(4) == 0 ? 0 : Below(12);
    for (size_t i = 0; i < n; ++i) {
      // Mostly valid: one string in ~8 gets an invalid piece.
      const size_t k = Below(8) == 0 ? Below(pieces.size()) : Below(pieces.size() - 5);
      s += pieces[k];
    }
    return s;
  }
  uint32_t U32() {
    switch (Below(4)) {
      case 0: return 0;
      case 1: return static_cast<uint32_t>(Below(10));
      case 2: return std::numeric_limits<uint32_t>::max();
      default: return static_cast<uint32_t>(rng_());
    }
  }
  int64_t I64() {
    switch (Below(5)) {
      case 0: return 0;
      case 1: return std::numeric_limits<int64_t>::min();
      case 2: return std::numeric_limits<int64_t>::max();
      case 3: return -static_cast<int64_t>(Below(1000));
      default: return static_cast<int64_t>(rng_());
    }
  }
  uint64_t U64() { return Coin() ? rng_() : Below(3) == 0 ? ~uint64_t{0} : Below(100); }
  double Double() {
    switch (Below(9)) {
      case 0: return 0.0;
      case 1: return -0.0;
      case 2: return 1.0 / 3.0;
      case 3: return 0.1;
      case 4: return 1e-300 * static_cast<double>(Below(1000));
      case 5: return 1e21 * static_cast<double>(Below(10));
      case 6: return static_cast<double>(Below(1000)) / 1000.0;
      case 7: return std::numeric_limits<double>::infinity();  // left to protobuf
      default: {
        uint64_t bits = rng_() & 0x7FEFFFFFFFFFFFFFull;  // finite
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return Coin() ? d : -d;
      }
    }
  }
  int EnumValue(int max) {
    return Below(8) == 0 ? static_cast<int>(Below(40)) - 20 : static_cast<int>(Below(max + 1));
  }

 private:
  std::mt19937_64 rng_;
};

v1::PageEvent RandomEvent(Random& r) {
  v1::PageEvent e;
  e.set_url(r.String());
  e.set_canonical_url(r.String());
  e.set_site(r.String());
  e.set_fetched_at_ms(r.I64());
  e.set_processed_at_ms(r.I64());
  e.set_verdict(static_cast<v1::Verdict>(r.EnumValue(5)));
  for (size_t i = r.Below(4); i > 0; --i) e.add_flags(static_cast<v1::Flag>(r.EnumValue(3)));
  e.set_version(r.U32());
  e.set_simhash(r.U64());
  e.set_content_hash(r.String());
  if (r.Coin()) {
    auto* m = e.mutable_match();
    if (r.Coin()) {  // else: an empty match, written as {}
      m->set_url(r.String());
      m->set_distance(r.U32());
      m->set_similarity(r.Double());
      m->set_version(r.U32());
      m->set_jaccard(r.Double());
      for (size_t i = r.Below(3); i > 0; --i) m->add_found_by(r.String());
      m->set_shared_sentences(r.U32());
      m->set_sentences(r.U32());
      m->set_boilerplate_blocks(r.U32());
    }
  }
  e.set_repeated_fraction(r.Double());
  if (r.Below(4) != 0) {
    auto* t = e.mutable_text();
    t->set_blocks(r.U32());
    t->set_sentences(r.U32());
    t->set_characters(r.U32());
    t->set_shingles(r.U32());
    t->set_boilerplate_blocks(r.U32());
    t->set_invalid_utf8(r.U32());
  }
  if (r.Below(4) != 0) {
    auto* s = e.mutable_source();
    s->set_topic(r.String());
    s->set_partition(static_cast<int32_t>(r.U32()));
    s->set_offset(r.I64());
    s->set_timestamp_ms(r.I64());
  }
  e.set_title(r.String());
  e.set_severity(static_cast<v1::Severity>(r.EnumValue(3)));
  e.set_event_id(r.String());
  return e;
}

v1::PageDiff RandomDiff(Random& r) {
  v1::PageDiff d;
  d.set_canonical_url(r.String());
  d.set_site(r.String());
  d.set_verdict(static_cast<v1::Verdict>(r.EnumValue(5)));
  for (v1::DiffSide* side : {d.mutable_old_side(), d.mutable_new_side()}) {
    if (r.Below(4) == 0) continue;
    side->set_url(r.String());
    side->set_version(r.U32());
    side->set_fetched_at_ms(r.I64());
    side->set_content_hash(r.String());
  }
  if (r.Coin()) d.clear_new_side();
  for (size_t i = r.Below(4); i > 0; --i) {
    auto* h = d.add_hunks();
    h->set_kind(static_cast<v1::Hunk::Kind>(r.EnumValue(3)));
    h->set_old_begin(r.U32());
    h->set_old_end(r.U32());
    h->set_new_begin(r.U32());
    h->set_new_end(r.U32());
    h->set_old_first_line(r.U32());
    h->set_old_last_line(r.U32());
    h->set_new_first_line(r.U32());
    h->set_new_last_line(r.U32());
    for (size_t j = r.Below(3); j > 0; --j) h->add_old_text(r.String());
    for (size_t j = r.Below(3); j > 0; --j) h->add_new_text(r.String());
    for (size_t j = r.Below(3); j > 0; --j) {
      auto* s = h->add_old_spans();
      s->set_begin(r.U32());
      s->set_end(r.U32());
      h->add_old_span_sentence(r.U32());
    }
    for (size_t j = r.Below(3); j > 0; --j) {
      auto* s = h->add_new_spans();
      s->set_begin(r.U32());
      s->set_end(r.U32());
      h->add_new_span_sentence(r.U32());
    }
  }
  d.set_unified(r.String());
  if (r.Below(4) != 0) {
    auto* s = d.mutable_significance();
    s->set_changed_fraction(r.Double());
    s->set_sentences_added(r.U32());
    s->set_sentences_removed(r.U32());
    s->set_sentences_changed(r.U32());
    s->set_chars_added(r.U64());
    s->set_chars_removed(r.U64());
    s->set_numbers_changed(r.Coin());
    s->set_dates_changed(r.Coin());
    s->set_amounts_changed(r.Coin());
    s->set_severity(static_cast<v1::Severity>(r.EnumValue(3)));
  }
  d.set_truncated(r.Coin());
  d.set_reverted(r.Coin());
  d.set_event_id(r.String());
  return d;
}

TEST(AppendJson, SameAsProtobufOnRandomMessages) {
  Random r(2026);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_NO_FATAL_FAILURE(ExpectSameJson(RandomEvent(r), "event " + std::to_string(i)));
    ASSERT_NO_FATAL_FAILURE(ExpectSameJson(RandomDiff(r), "diff " + std::to_string(i)));
  }
  ASSERT_NO_FATAL_FAILURE(ExpectSameJson(v1::PageEvent{}, "empty event"));
  ASSERT_NO_FATAL_FAILURE(ExpectSameJson(v1::PageDiff{}, "empty diff"));
}

// Each escape class on its own, so that a failure names it.
TEST(AppendJson, EscapesLikeProtobuf) {
  for (const char* s :
       {"\"quoted\" \\ back", "<script>alert(1)</script>", "tab\there\nnew", "\x01\x1F\x7F",
        "\xC2\x85 NEL", "soft\xC2\xADhyphen", "\xE2\x80\xA8 LS", "bom\xEF\xBB\xBF",
        "\xF0\x9D\x85\xB3 music", "\xF3\xA0\x80\x81 tag", "中文，标点。", "bad \xFF byte"}) {
    v1::PageEvent e;
    e.set_title(s);
    ASSERT_NO_FATAL_FAILURE(ExpectSameJson(e, s));
  }
}

}  // namespace
}  // namespace dedupd::emit
