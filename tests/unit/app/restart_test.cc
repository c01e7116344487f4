// A restart in the middle of a stream changes no verdict: the labelled corpus
// (tests/data/corpus/dev.jsonl) processed with a RocksDB store that is closed
// and reopened half way, the second detector rebuilding its indexes and the
// boilerplate model with LoadFromStore, gives the same verdicts, matches and
// versions as one uninterrupted run. Once with format-3 records (line hashes
// and confirmation sketches: the fast load, no text decoded), once from
// format-2 records (no sketch: each is derived from the stored text the first
// time its page is a candidate) and once from format-1 records (no line
// hashes either: the model is re-learned from the stored texts).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "state/store.h"

namespace dedupd::app {
namespace {

std::vector<std::string> CorpusLines() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/corpus/dev.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// What a verdict is judged by: kind, verdict, version, matched URL (or the
// dead letter's reason).
std::string Summary(const PipelineResult& r) {
  if (r.kind == PipelineResult::Kind::kDeadLetter) {
    return "dead letter: " + r.dead_letter.reason_code() + " " + r.dead_letter.detail();
  }
  return std::to_string(static_cast<int>(r.kind)) + " " +
         std::to_string(static_cast<int>(r.outcome.verdict)) + " v" +
         std::to_string(r.outcome.version) + " " + (r.outcome.match ? r.outcome.match->url : "-");
}

// Processes lines [begin, end) with a detector over `store`, loaded from it first.
void ProcessLines(state::StateStore* store, const std::vector<std::string>& lines, size_t begin,
                  size_t end, std::vector<std::string>* out,
                  const classify::DetectOptions& detect = {}) {
  classify::Detector detector(detect, store);
  detector.LoadFromStore();
  metrics::Metrics metrics;
  PipelineOptions options;
  options.now_ms = [] { return int64_t{1700000000000}; };
  Pipeline pipeline(options, &detector, &metrics);
  std::vector<OutputRecord> records;
  for (size_t i = begin; i < end; ++i) {
    records.clear();
    SourceCoordinates source{"dev.jsonl", 0, static_cast<int64_t>(i), 0};
    out->push_back(Summary(pipeline.Process({lines[i], {}, source}, &records)));
    std::string error;
    ASSERT_TRUE(detector.Commit({}, &error)) << error;
  }
}

class RestartTest : public ::testing::TestWithParam<int> {  // the stored format
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dedupd-restart-" + std::to_string(getpid()) + "-v" + std::to_string(GetParam()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  state::StateStorePtr Open() {
    std::string error;
    auto store = state::OpenRocksStore(dir_.string(), &error);
    EXPECT_NE(store, nullptr) << error;
    return store;
  }
  // Rewrites every record as `format` (2: no sketch; 1: no line hashes
  // either), as an older dedupd wrote them.
  void Downgrade(int format) {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::vector<state::UrlState> all;
    store->ForEach(
        [&](const state::UrlState& s) {
          all.push_back(s);
          return true;
        },
        state::TextPart::kDecode);
    ASSERT_FALSE(all.empty());
    for (auto& s : all) {
      ASSERT_TRUE(s.line_hashes_known);
      ASSERT_TRUE(s.sketch_known);
      s.sketch.clear();
      s.shingle_count = 0;
      s.sketch_known = false;
      if (format == 1) {
        s.line_hashes.clear();
        s.line_hashes_known = false;
      }
      store->Put(s);
    }
    std::string error;
    ASSERT_TRUE(store->Commit({}, &error)) << error;
  }
  std::filesystem::path dir_;
};

TEST_P(RestartTest, SameVerdictsAsAnUninterruptedRun) {
  const std::vector<std::string> lines = CorpusLines();
  ASSERT_GT(lines.size(), 1000u);
  std::vector<std::string> reference;
  {
    auto memory = state::NewMemoryStore();
    ProcessLines(memory.get(), lines, 0, lines.size(), &reference);
  }
  const size_t half = lines.size() / 2;
  std::vector<std::string> restarted;
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ProcessLines(store.get(), lines, 0, half, &restarted);
  }
  if (GetParam() < 3) {
    ASSERT_NO_FATAL_FAILURE(Downgrade(GetParam()));
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ProcessLines(store.get(), lines, half, lines.size(), &restarted);
  }
  ASSERT_EQ(restarted.size(), reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(restarted[i], reference[i]) << "line " << i;
  }
}

// A site whose pages share a long header and footer: after the restart the
// model must still know them as boilerplate, or two different articles of the
// site look like near duplicates of its earlier pages (the corpus alone does
// not depend on it: its sites have few pages each).
std::vector<std::string> TemplatedSite() {
  const std::string header =
      "四川省人民政府门户网站 主办单位四川省人民政府办公厅 承办单位四川省大数据中心\\n"
      "首页 政务公开 政务服务 互动交流 走进四川 省政府领导 政府信息公开目录\\n"
      "您当前的位置 首页 政务公开 政府信息公开 省政府常务会议 新闻发布会 图片新闻\\n";
  const std::string footer =
      "\\n网站标识码5100000062 蜀ICP备05003828号 川公网安备51010402000507号\\n"
      "主办四川省人民政府办公厅 技术支持四川省大数据中心 联系我们 网站地图 隐私声明\\n"
      "建议使用IE9以上版本或谷歌浏览器 分辨率1366乘以768 本网站所有内容版权所有";
  const std::vector<std::string> bodies = {"成都市今年新建城市绿道二百公里，市民出行更加便捷。",
                                           "省教育厅发布通知，全省中小学将于九月一日正式开学。",
                                           "攀枝花市芒果喜获丰收，预计产量比去年增长一成左右。",
                                           "绵阳科技城新增高新技术企业五十家，创新活力持续增强。",
                                           "乐山大佛景区游客接待量创历史新高，旅游收入稳步提升。",
                                           "宜宾市长江沿岸生态修复工程完工，江水水质持续向好。"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < bodies.size(); ++i) {
    lines.push_back(R"({"url": "https://www.sc.example/news/)" + std::to_string(i) +
                    R"(.html", "fetched_at": "2024-05-0)" + std::to_string(i + 1) +
                    R"(T08:00:00Z", "content_type": "text/plain", "body": ")" + header + bodies[i] +
                    footer + R"("})");
  }
  return lines;
}

TEST_P(RestartTest, BoilerplateModelSurvivesTheRestart) {
  const std::vector<std::string> lines = TemplatedSite();
  std::vector<std::string> reference;
  {
    auto memory = state::NewMemoryStore();
    ProcessLines(memory.get(), lines, 0, lines.size(), &reference);
  }
  // Once the model knows the chrome (3 pages), the site's new articles are NEW.
  for (size_t i = 3; i < reference.size(); ++i) EXPECT_EQ(reference[i], "0 0 v1 -") << i;
  std::vector<std::string> restarted;
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ProcessLines(store.get(), lines, 0, 4, &restarted);
  }
  if (GetParam() < 3) {
    ASSERT_NO_FATAL_FAILURE(Downgrade(GetParam()));
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ProcessLines(store.get(), lines, 4, lines.size(), &restarted);
  }
  EXPECT_EQ(restarted, reference);
}

// Candidates confirmed from the sketches stored when they were indexed give
// the same verdicts, matches and versions on the whole corpus as
// re-fingerprinting every candidate's stored text with today's boilerplate
// model and comparing the exact shingle sets (the reference; docs/quality.md
// has the sweep of sketch sizes this default comes from).
TEST(ConfirmationSketch, SameVerdictsAsReFingerprintingTheCandidates) {
  const std::vector<std::string> lines = CorpusLines();
  ASSERT_GT(lines.size(), 1000u);
  classify::DetectOptions reference_options;
  reference_options.confirm_from_text = true;
  std::vector<std::string> reference, sketched;
  {
    auto memory = state::NewMemoryStore();
    ProcessLines(memory.get(), lines, 0, lines.size(), &reference, reference_options);
  }
  {
    auto memory = state::NewMemoryStore();
    ProcessLines(memory.get(), lines, 0, lines.size(), &sketched);
  }
  ASSERT_EQ(sketched.size(), reference.size());
  size_t near_duplicates = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(sketched[i], reference[i]) << "line " << i;
    near_duplicates += reference[i].rfind("0 4 ", 0) == 0;
  }
  EXPECT_GT(near_duplicates, 50u);  // the comparison covers many confirmed candidates
}

INSTANTIATE_TEST_SUITE_P(Formats, RestartTest, ::testing::Values(3, 2, 1),
                         [](const auto& param_info) {
                           return "FromFormat" + std::to_string(param_info.param);
                         });

}  // namespace
}  // namespace dedupd::app
