// Two instances that each hold only their own pages' text give the verdicts of
// one instance (issue #15). A stream is processed once by one Detector, and
// once by two Detectors that each process only the pages of "their" URLs (by
// URL hash, as the input topic's partitions split them) and, after each page,
// apply the page's fingerprint record (encoded, then decoded as StateSync
// decodes it) through Detector::ApplyCommitted, as StateSync does: the other
// instance learns the page from it, the owner reads its own record back.
//
// Streams: the acceptance fixtures, the labelled corpus, and sites whose pages
// share a header and footer (the boilerplate model must learn the chrome from
// the other instance's records too). Each verdict, version, matched URL and
// match explanation (containment, Jaccard, SimHash distance, how it was found,
// the match's boilerplate blocks) must be equal; a NEAR_DUPLICATE whose match
// the instance does not own gets a diff from the match's block hashes
// (docs/diff.md), one it owns the same diff as one instance's.
//
// Records: the compact fingerprint record (format 5); the format-4 record with
// text that instances before issue #15 write (the upgrade path); and both at
// once (a rolling upgrade: one instance old, one new). And two broken records
// the test must catch: without the line hashes, or without the sketch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fingerprint/fingerprint.h"
#include "pipeline/pipeline.h"
#include "state/store.h"

namespace dedupd::app {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Two sites with long chrome around one-sentence articles, their pages
// interleaved (so each instance sees a share of each site).
std::vector<std::string> TemplatedSites() {
  const std::vector<std::string> headers = {
      "四川省人民政府门户网站 主办单位四川省人民政府办公厅 承办单位四川省大数据中心\\n"
      "首页 政务公开 政务服务 互动交流 走进四川 省政府领导 政府信息公开目录\\n",
      "东川新闻网 首页 要闻 政务公开 办事服务 互动交流 专题专栏 当前位置首页新闻中心\\n"
      "本站声明 凡注明来源东川新闻网的作品版权均属本网所有 未经授权不得转载\\n"};
  const std::vector<std::string> footers = {
      "\\n网站标识码5100000062 蜀ICP备05003828号 川公网安备51010402000507号\\n"
      "主办四川省人民政府办公厅 技术支持四川省大数据中心 联系我们 网站地图 隐私声明",
      "\\n东川新闻网版权所有 联系电话零八七一六三三三三三三 电子邮箱新闻中心\\n"
      "技术支持东川数据中心 建议使用谷歌浏览器 分辨率一千九百二十乘以一千零八十"};
  const std::vector<std::string> bodies = {"成都市今年新建城市绿道二百公里，市民出行更加便捷。",
                                           "省教育厅发布通知，全省中小学将于九月一日正式开学。",
                                           "攀枝花市芒果喜获丰收，预计产量比去年增长一成左右。",
                                           "绵阳科技城新增高新技术企业五十家，创新活力持续增强。",
                                           "乐山大佛景区游客接待量创历史新高，旅游收入稳步提升。",
                                           "宜宾市长江沿岸生态修复工程完工，江水水质持续向好。",
                                           "自贡灯会吸引海内外游客，夜间经济活力明显增强。",
                                           "泸州港集装箱吞吐量稳步增长，内河航运加快发展。",
                                           "南充市新建标准化厂房三十万平方米，承接产业转移。",
                                           "达州天然气化工园区项目集中开工，总投资超过百亿元。"};
  const std::vector<std::string> hosts = {"www.sc.example", "www.dc-news.example"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < bodies.size(); ++i) {
    for (size_t site = 0; site < hosts.size(); ++site) {
      lines.push_back(R"({"url": "https://)" + hosts[site] + "/news/" + std::to_string(i) +
                      R"(.html", "fetched_at": "2024-05-01T08:)" + std::to_string(10 + i) +
                      R"(:00Z", "content_type": "text/plain", "body": ")" + headers[site] +
                      bodies[(i + 3 * site) % bodies.size()] + footers[site] + R"("})");
    }
  }
  return lines;
}

enum class RecordKind {
  kCompact,       // format 5: what dedupd writes since issue #15
  kLegacy,        // format 4 with text (HistoryPart::kLatest): before issue #15
  kMixed,         // instance 0 writes format 4, instance 1 format 5
  kNoLineHashes,  // broken on purpose: format 5 without the line hashes
  kNoSketch,      // broken on purpose: format 5 without the sketch
};

struct Instance {
  explicit Instance(state::StateStorePtr s = state::NewMemoryStore()) : store(std::move(s)) {}
  state::StateStorePtr store;
  classify::Detector detector{classify::DetectOptions{}, store.get()};
  metrics::Metrics metrics;
  Pipeline pipeline{[] {
                      PipelineOptions o;
                      o.now_ms = [] { return int64_t{1700000000000}; };
                      return o;
                    }(),
                    &detector, &metrics};
};

struct Result {
  std::string summary;  // verdict, version, match and its explanation
  bool has_diff = false;
  bool block_diff = false;  // the diff came from the match's block hashes
  std::string unified;
  uint32_t shared_sentences = 0;
};

Result Summarise(const PipelineResult& r) {
  Result out;
  if (r.kind != PipelineResult::Kind::kEvent) {
    out.summary = "not an event: " + r.dead_letter.reason_code();
    return out;
  }
  const classify::Outcome& o = r.outcome;
  out.summary = std::string(VerdictName(o.verdict)) + " v" + std::to_string(o.version) + " flags " +
                std::to_string(o.flags.bits);
  if (o.match) {
    const classify::MatchInfo& m = *o.match;
    out.summary += " match " + m.url + " v" + std::to_string(m.version) + " d" +
                   std::to_string(m.distance) + " c" + std::to_string(m.containment) + " j" +
                   std::to_string(m.jaccard) + " s" + std::to_string(m.similarity) + " by" +
                   std::to_string(m.found_by) + " bp" + std::to_string(m.boilerplate_blocks) + "/" +
                   std::to_string(m.other_boilerplate_blocks);
  }
  out.has_diff = o.diff.has_value();
  if (o.diff) {
    out.unified = o.diff->unified;
    out.block_diff = o.diff->unified.find("(block hashes)") != std::string::npos;
  }
  if (r.event.has_match()) out.shared_sentences = r.event.match().shared_sentences();
  return out;
}

std::string Encode(const state::UrlState& s, RecordKind kind, size_t writer) {
  switch (kind) {
    case RecordKind::kCompact: return state::EncodeFingerprintRecord(s);
    case RecordKind::kLegacy: return state::EncodeUrlState(s, state::HistoryPart::kLatest);
    case RecordKind::kMixed:
      return writer == 0 ? state::EncodeUrlState(s, state::HistoryPart::kLatest)
                         : state::EncodeFingerprintRecord(s);
    case RecordKind::kNoLineHashes: {
      state::UrlState broken = s;
      broken.line_hashes.clear();
      broken.line_hashes_known = false;
      return state::EncodeFingerprintRecord(broken);
    }
    case RecordKind::kNoSketch: {
      state::UrlState broken = s;
      broken.sketch.clear();
      broken.sketch_known = false;
      return state::EncodeFingerprintRecord(broken);
    }
  }
  return {};
}

struct Comparison {
  size_t pages = 0, differences = 0, near_duplicates = 0, block_diffs = 0;
  size_t fewer_shared = 0;    // block diffs with fewer shared sentences than the text's
  size_t remote_no_diff = 0;  // NEAR_DUPLICATE of the other instance's page: no PageDiff
  std::string first_difference;
};

Comparison Compare(const std::vector<std::string>& lines, RecordKind kind) {
  Comparison c;
  std::vector<Result> single;
  std::vector<std::string> urls;  // canonical URL of each line, from the single run
  {
    Instance one;
    std::vector<OutputRecord> records;
    for (size_t i = 0; i < lines.size(); ++i) {
      records.clear();
      PipelineResult r = one.pipeline.Process({lines[i], {}, {"in", 0, int64_t(i), 0}}, &records);
      std::string error;
      EXPECT_TRUE(one.detector.Commit({}, &error)) << error;
      single.push_back(Summarise(r));
      urls.push_back(r.page.canonical_url);
    }
  }
  // The two instances keep their states in RocksDB, as `dedupd run` does: a
  // state known from a fingerprint record is written and read back through
  // the store's encoding (format 5 with its URL) and must stay text-free.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dedupd-fp-record-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto open = [&dir](int n) {
    std::string error;
    auto store = state::OpenRocksStore((dir / std::to_string(n)).string(), &error);
    EXPECT_NE(store, nullptr) << error;
    return store;
  };
  {
    Instance two[2] = {Instance(open(0)), Instance(open(1))};
    for (size_t i = 0; i < lines.size(); ++i) {
      const size_t owner = fingerprint::Hash64(urls[i]) % 2;
      std::vector<OutputRecord> records;
      PipelineResult r =
          two[owner].pipeline.Process({lines[i], {}, {"in", 0, int64_t(i), 0}}, &records);
      std::string error;
      EXPECT_TRUE(two[owner].detector.Commit({}, &error)) << error;
      const Result got = Summarise(r);
      ++c.pages;
      if (r.outcome.verdict == Verdict::kNearDuplicate) ++c.near_duplicates;
      if (got.block_diff) ++c.block_diffs;
      bool same = got.summary == single[i].summary && got.has_diff == single[i].has_diff;
      // A NEAR_DUPLICATE of a page the other instance owns: that page is in
      // memory only, without text or line keys (docs/delivery.md, "What is
      // stored where"), so no PageDiff; the event's explanation is the same.
      const bool remote_match = r.outcome.verdict == Verdict::kNearDuplicate && r.outcome.match &&
                                fingerprint::Hash64(r.outcome.match->url) % 2 != owner;
      if (remote_match && !got.has_diff && single[i].has_diff && got.summary == single[i].summary) {
        ++c.remote_no_diff;
        same = true;
      }
      // A diff against a match this instance owns is the single instance's;
      // one from block hashes can only count fewer shared sentences.
      if (same && got.has_diff && !got.block_diff) {
        same =
            got.unified == single[i].unified && got.shared_sentences == single[i].shared_sentences;
      }
      if (same && got.block_diff) {
        same = got.shared_sentences <= single[i].shared_sentences;
        if (got.shared_sentences < single[i].shared_sentences) ++c.fewer_shared;
      }
      if (!same && c.differences++ == 0) {
        c.first_difference = "line " + std::to_string(i + 1) +
                             ": one instance: " + single[i].summary + "; two: " + got.summary;
      }
      if (!r.outcome.stored) continue;
      // The record every instance reads, the owner included (its own record
      // read back, which it must skip).
      const std::string value = Encode(*r.outcome.stored, kind, owner);
      state::UrlState decoded;
      EXPECT_TRUE(state::DecodeStateRecord(r.outcome.stored->canonical_url, value, &decoded));
      for (Instance& reader : two) {
        size_t applied = 0;
        // As StateSync applies a fingerprint record: memory only.
        std::vector<state::UrlState> batch = {decoded};
        EXPECT_TRUE(reader.detector.ApplyFingerprints(&batch, &applied, &error)) << error;
        // Its own record read back: the owner already holds this version.
        if (&reader == &two[owner]) {
          EXPECT_EQ(applied, 0u) << "line " << i + 1;
        }
      }
    }
  }
  std::filesystem::remove_all(dir);
  return c;
}

const std::vector<std::vector<std::string>>& Streams() {
  static const std::vector<std::vector<std::string>> streams = {
      ReadLines(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl"),
      ReadLines(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl"), TemplatedSites()};
  return streams;
}

class TwoInstances : public ::testing::TestWithParam<RecordKind> {};

TEST_P(TwoInstances, GiveTheVerdictsOfOne) {
  size_t near_duplicates = 0, block_diffs = 0, remote_no_diff = 0;
  for (const auto& lines : Streams()) {
    ASSERT_FALSE(lines.empty());
    const Comparison c = Compare(lines, GetParam());
    EXPECT_EQ(c.differences, 0u) << c.first_difference;
    near_duplicates += c.near_duplicates;
    block_diffs += c.block_diffs;
    remote_no_diff += c.remote_no_diff;
    std::printf(
        "%zu pages, %zu NEAR_DUPLICATE, %zu without a PageDiff (match owned by the other "
        "instance)\n",
        c.pages, c.near_duplicates, c.remote_no_diff);
  }
  ASSERT_GT(near_duplicates, 50u);
  // Matches owned by the other instance, whatever the record's format: the
  // text is not kept in memory, so no PageDiff (and never one from nothing).
  EXPECT_GT(remote_no_diff, 10u);
  EXPECT_EQ(block_diffs, 0u);
}

INSTANTIATE_TEST_SUITE_P(Records, TwoInstances,
                         ::testing::Values(RecordKind::kCompact, RecordKind::kLegacy,
                                           RecordKind::kMixed));

// The test catches a record that leaves out what detection on the other
// instance needs.
TEST(TwoInstancesWithBrokenRecords, WithoutLineHashesTheBoilerplateModelDiffers) {
  const Comparison c = Compare(TemplatedSites(), RecordKind::kNoLineHashes);
  EXPECT_GT(c.differences, 0u);
}

TEST(TwoInstancesWithBrokenRecords, WithoutTheSketchNearDuplicatesAreMissed) {
  const Comparison c = Compare(ReadLines(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl"),
                               RecordKind::kNoSketch);
  EXPECT_GT(c.differences, 10u);
}

// The PageDiff of a NEAR_DUPLICATE whose match another instance owns: the
// match's paragraphs the copy took whole are shared, the copy's own are
// added, and each of the match's paragraphs the copy lacks (here the one it
// edited) is one removed sentence without text (docs/diff.md, section 11).
TEST(BlockDiff, SharedAndAddedPassagesFromTheMatchsLineKeys) {
  const std::vector<std::string> paragraphs = {
      "The council approved the new budget for the harbour district on Tuesday evening. "
      "Members voted eleven to four after a debate that lasted more than three hours.",
      "The plan moves money from road repairs to the renovation of the old fish market. "
      "Traders who rent stalls there will pay no fees during the two years of works.",
      "Opposition members said the figures for the renovation were far too optimistic. "
      "They asked the auditor to review the costs before any contract is signed.",
      "The mayor answered that the market had been losing visitors for a decade. "
      "She expects the first stalls to reopen in the spring of the year after next."};
  auto page = [](const std::string& url, const std::vector<std::string>& blocks) {
    std::string body;
    for (const auto& b : blocks) body += (body.empty() ? "" : "\\n") + b;
    return R"({"url": ")" + url +
           R"(", "fetched_at": "2024-05-01T08:00:00Z", "content_type": "text/plain", "body": ")" +
           body + R"("})";
  };
  std::vector<std::string> copy = {"Reposted from the harbour gazette with permission."};
  copy.insert(copy.end(), paragraphs.begin(), paragraphs.begin() + 3);
  copy.push_back(
      "The mayor answered that the market had been losing visitors for many years. "
      "She expects the first stalls to reopen in the spring of the year after next.");
  const std::string original_line = page("https://gazette.example/budget", paragraphs);
  const std::string copy_line = page("https://aggregator.example/harbour-budget", copy);

  Instance owner, other;
  std::vector<OutputRecord> records;
  PipelineResult first = owner.pipeline.Process({original_line, {}, {"in", 0, 0, 0}}, &records);
  std::string error;
  ASSERT_TRUE(owner.detector.Commit({}, &error)) << error;
  ASSERT_TRUE(first.outcome.stored.has_value());
  state::UrlState decoded;
  ASSERT_TRUE(state::DecodeStateRecord(first.outcome.stored->canonical_url,
                                       state::EncodeFingerprintRecord(*first.outcome.stored),
                                       &decoded));
  ASSERT_TRUE(other.detector.ApplyCommitted({decoded}, false, {}, nullptr, &error)) << error;
  PipelineResult r = other.pipeline.Process({copy_line, {}, {"in", 0, 1, 0}}, &records);
  ASSERT_EQ(r.outcome.verdict, Verdict::kNearDuplicate);
  ASSERT_TRUE(r.outcome.diff.has_value());
  ASSERT_TRUE(r.diff.has_value());
  const diff::DiffResult& d = r.outcome.diff->result;
  EXPECT_NE(r.outcome.diff->unified.find("(block hashes)"), std::string::npos);
  // 2 sentences per paragraph: the intro (1) and the edited paragraph (2)
  // are added, the 6 of the three paragraphs taken whole are shared.
  EXPECT_EQ(r.event.match().sentences(), 9u);
  EXPECT_EQ(r.event.match().shared_sentences(), 6u);
  size_t added = 0, removed = 0;
  for (const auto& h : d.hunks) {
    switch (h.kind) {
      case diff::HunkKind::kAdded: added += h.new_end - h.new_begin; break;
      case diff::HunkKind::kRemoved:
        removed += h.old_end - h.old_begin;
        for (const auto& t : h.old_text) EXPECT_EQ(t, "");  // the owner's text
        break;
      case diff::HunkKind::kChanged: ADD_FAILURE() << "nothing pairs with a block of unknown text";
    }
  }
  EXPECT_EQ(added, 3u);
  EXPECT_EQ(removed, 1u);  // the original's fourth paragraph
  EXPECT_EQ(d.significance.chars_removed, 0u);

  // One instance holding both texts: the same verdict and match, and a text
  // diff that finds the edited paragraph's unchanged sentence too.
  Instance one;
  one.pipeline.Process({original_line, {}, {"in", 0, 0, 0}}, &records);
  ASSERT_TRUE(one.detector.Commit({}, &error)) << error;
  PipelineResult single = one.pipeline.Process({copy_line, {}, {"in", 0, 1, 0}}, &records);
  ASSERT_EQ(single.outcome.verdict, Verdict::kNearDuplicate);
  EXPECT_EQ(Summarise(single).summary, Summarise(r).summary);
  EXPECT_EQ(single.event.match().shared_sentences(), 7u);
}

}  // namespace
}  // namespace dedupd::app
