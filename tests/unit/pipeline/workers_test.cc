// Detection on several threads (issue #12 item 3; docs/delivery.md,
// "Workers"): pages parsed and prepared by app::Workers on 1, 2 and 4
// threads and finished in input order give exactly the output records and
// stored states of Pipeline::Process() one page after the other, on the
// fixtures, the corpus and a stream of templated sites whose boilerplate
// changes (so that speculative fingerprints are both used and redone); and
// Detector::Prepare() + Decide() equal Process() whatever the hints held
// when the page was prepared.
#include "pipeline/workers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "classify/detector.h"
#include "parse/page_parser.h"
#include "pipeline/pipeline.h"
#include "state/store.h"
#include "state/url_state.h"
#include "unit/pipeline/stream_run.h"

namespace dedupd::app {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Three sites with chrome lines around short articles, interleaved. Site 0
// changes its footer half way (the model learns the new lines and forgets
// nothing at once: pages whose boilerplate differs from the site's last
// pages'), and some pages repeat an earlier article (DUPLICATE, REVISED).
std::vector<std::string> TemplatedSites() {
  const std::vector<std::string> headers = {
      "四川省人民政府门户网站 主办单位四川省人民政府办公厅 承办单位四川省大数据中心\\n"
      "首页 政务公开 政务服务 互动交流 走进四川 省政府领导 政府信息公开目录\\n",
      "东川新闻网 首页 要闻 政务公开 办事服务 互动交流 专题专栏 当前位置首页新闻中心\\n"
      "本站声明 凡注明来源东川新闻网的作品版权均属本网所有 未经授权不得转载\\n",
      "Home News Business Sport Contact us Subscribe to the newsletter for daily updates\\n"};
  const std::vector<std::string> footers = {
      "\\n网站标识码5100000062 蜀ICP备05003828号 川公网安备51010402000507号\\n"
      "主办四川省人民政府办公厅 技术支持四川省大数据中心 联系我们 网站地图 隐私声明",
      "\\n东川新闻网版权所有 联系电话零八七一六三三三三三三 电子邮箱新闻中心\\n"
      "技术支持东川数据中心 建议使用谷歌浏览器 分辨率一千九百二十乘以一千零八十",
      "\\nCopyright 2024 The Example Herald. All rights reserved. Terms of use and privacy."};
  const std::string new_footer =
      "\\n网站标识码5100000062 新版网站 蜀ICP备05003828号 欢迎访问四川省人民政府新版门户网站\\n"
      "主办四川省人民政府办公厅 联系电话零二八八六六零一一一一 网站地图 无障碍浏览";
  const std::vector<std::string> bodies = {
      "成都市今年新建城市绿道二百公里，市民出行更加便捷。全市绿道总长度已经超过六千公里。",
      "省教育厅发布通知，全省中小学将于九月一日正式开学。各地要做好开学前的安全检查工作。",
      "攀枝花市芒果喜获丰收，预计产量比去年增长一成左右。果农收入有望创下历史新高。",
      "绵阳科技城新增高新技术企业五十家，创新活力持续增强。研发投入强度位居全省前列。",
      "乐山大佛景区游客接待量创历史新高，旅游收入稳步提升。景区推出夜游等新产品。",
      "宜宾市长江沿岸生态修复工程完工，江水水质持续向好。沿江群众生活环境明显改善。",
      "The council approved the new budget on Tuesday after a long debate about school funding.",
      "Heavy rain is expected across the region this weekend, and residents are advised to stay "
      "in.",
      "The local football club signed two young players from the academy on multi-year contracts.",
      "A new library branch opens next month with longer hours and a larger children's section."};
  const std::vector<std::string> hosts = {"www.sc.example", "www.dc-news.example",
                                          "www.herald.example"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < 40; ++i) {
    for (size_t site = 0; site < hosts.size(); ++site) {
      const std::string& footer = site == 0 && i >= 20 ? new_footer : footers[site];
      // Every seventh page of a site is an earlier URL again (UNCHANGED or
      // REVISED), the others are new URLs.
      const size_t url = i % 7 == 6 ? i - 3 : i;
      lines.push_back(R"({"url": "https://)" + hosts[site] + "/news/" + std::to_string(url) +
                      R"(.html", "fetched_at": "2024-05-01T08:)" + std::to_string(10 + i) +
                      R"(:00Z", "content_type": "text/plain", "body": ")" + headers[site] +
                      bodies[(i + 3 * site) % bodies.size()] + "\\n" +
                      bodies[(i * 7 + site) % bodies.size()] + footer + R"("})");
    }
  }
  return lines;
}

// Everything a stream's pages produced, in order: each page's kind, output
// records (topic, key, bytes) and the state it staged (encoded).
struct StreamRun {
  std::vector<std::string> outputs;
  classify::Detector::SpeculationStats speculation;
};

std::string Describe(const PipelineResult& r, const std::vector<OutputRecord>& records) {
  return DescribeOutputs(r, records,
                         r.outcome.stored ? state::EncodeUrlState(*r.outcome.stored) : "");
}

constexpr size_t kCommitEvery = 5;  // pages per commit: the state is staged across pages

StreamRun Serial(const std::vector<std::string>& lines) {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  Pipeline pipeline(FixedClockOptions(), &detector, &metrics);
  StreamRun run;
  PipelineResult result;
  std::vector<OutputRecord> records;
  for (size_t i = 0; i < lines.size(); ++i) {
    records.clear();
    pipeline.Process({lines[i], {}, {"in", 0, static_cast<int64_t>(i), 0}}, &records, &result);
    run.outputs.push_back(Describe(result, records));
    std::string error;
    if ((i + 1) % kCommitEvery == 0) {
      EXPECT_TRUE(detector.Commit({}, &error)) << error;
    }
  }
  return run;
}

// The same through Workers: up to `capacity` pages submitted ahead.
StreamRun Parallel(const std::vector<std::string>& lines, size_t threads, size_t capacity) {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  Pipeline pipeline(FixedClockOptions(), &detector, &metrics);
  Workers workers(&pipeline, threads, capacity);
  StreamRun run;
  std::vector<OutputRecord> records;
  size_t submitted = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    SubmitAhead(workers, lines, &submitted);  // stream_run.h's
    Workers::Slot& slot = workers.Front();
    records.clear();
    pipeline.Finish(slot.message, &slot.prepared, &records, &slot.result);
    run.outputs.push_back(Describe(slot.result, records));
    workers.PopFront();
    std::string error;
    if ((i + 1) % kCommitEvery == 0) {
      EXPECT_TRUE(detector.Commit({}, &error)) << error;
    }
  }
  EXPECT_TRUE(workers.Empty());
  run.speculation = detector.Speculation();
  return run;
}

// The same as `dedupd run` drives them (stream_run.h, RunPipelined).
StreamRun Pipelined(const std::vector<std::string>& lines, size_t threads, size_t capacity) {
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  StreamRun run;
  run.outputs = RunPipelined(&detector, lines, threads, capacity);
  run.speculation = detector.Speculation();
  return run;
}

void ExpectSameOutputs(const StreamRun& expected, const StreamRun& actual,
                       const std::string& what) {
  app::ExpectSameOutputs(expected.outputs, actual.outputs, what);  // stream_run.h's
}

std::vector<std::vector<std::string>> Streams() {
  const std::string dir = DEDUPD_TEST_DATA_DIR;
  return {ReadLines(dir + "/fixtures/pages.jsonl"), ReadLines(dir + "/corpus/dev.jsonl"),
          TemplatedSites()};
}

TEST(Workers, SameOutputsAsOnePageAfterTheOther) {
  const std::vector<std::string> names = {"fixtures", "corpus", "templated"};
  const auto streams = Streams();
  for (size_t s = 0; s < streams.size(); ++s) {
    const StreamRun serial = Serial(streams[s]);
    for (const size_t threads : {1, 2, 4}) {
      for (const size_t capacity : {0, 3}) {
        const std::string what = names[s] + ", " + std::to_string(threads) + " threads, capacity " +
                                 std::to_string(capacity);
        const StreamRun parallel = Parallel(streams[s], threads, capacity);
        ExpectSameOutputs(serial, parallel, what);
        if (threads == 1) {
          // One thread prepares without speculation: Process() exactly.
          EXPECT_EQ(parallel.speculation.hits + parallel.speculation.misses, 0u) << what;
        } else if (names[s] != "fixtures") {
          // Both paths of Decide() ran: the speculative fingerprint taken,
          // and computed again where the model had changed.
          EXPECT_GT(parallel.speculation.hits, 0u) << what;
          EXPECT_GT(parallel.speculation.misses, 0u) << what;
        }
      }
    }
  }
}

// Decided ahead, encoded by the workers, produced in order: the records
// and state records of one page after the other.
TEST(Workers, EncodedByTheWorkersInInputOrder) {
  const std::vector<std::string> names = {"fixtures", "corpus", "templated"};
  const auto streams = Streams();
  for (size_t s = 0; s < streams.size(); ++s) {
    const StreamRun serial = Serial(streams[s]);
    for (const size_t threads : {1, 2, 4}) {
      for (const size_t capacity : {0, 3}) {
        ExpectSameOutputs(serial, Pipelined(streams[s], threads, capacity),
                          names[s] + ", encoded by workers, " + std::to_string(threads) +
                              " threads, capacity " + std::to_string(capacity));
      }
    }
  }
}

// A rewind after an abort: pages in flight are dropped (Clear) and submitted
// again; the result is the serial one.
TEST(Workers, ClearDropsThePagesInFlight) {
  const std::vector<std::string> lines = TemplatedSites();
  const StreamRun serial = Serial(lines);
  auto store = state::NewMemoryStore();
  classify::Detector detector(classify::DetectOptions{}, store.get());
  metrics::Metrics metrics;
  Pipeline pipeline(FixedClockOptions(), &detector, &metrics);
  Workers workers(&pipeline, 2, 8);
  StreamRun run;
  std::vector<OutputRecord> records;
  auto submit = [&](size_t from, size_t n) {
    for (size_t k = from; k < from + n && k < lines.size() && !workers.Full(); ++k) {
      Workers::Slot& slot = workers.Acquire();
      slot.storage = lines[k];
      slot.message = {slot.storage, {}, {"in", 0, static_cast<int64_t>(k), 0}};
      workers.Submit();
    }
  };
  size_t next = 0;  // the next line to finish
  for (int round = 0; next < lines.size(); ++round) {
    submit(next, 8);
    // Finish a few, then drop the rest (every other round) or all.
    const size_t finish = round % 2 == 0 ? 3 : workers.size();
    for (size_t k = 0; k < finish && !workers.Empty(); ++k) {
      Workers::Slot& slot = workers.Front();
      records.clear();
      pipeline.Finish(slot.message, &slot.prepared, &records, &slot.result);
      run.outputs.push_back(Describe(slot.result, records));
      workers.PopFront();
      ++next;
      std::string error;
      if (next % kCommitEvery == 0) {
        EXPECT_TRUE(detector.Commit({}, &error)) << error;
      }
    }
    workers.Clear();
    EXPECT_TRUE(workers.Empty());
  }
  ExpectSameOutputs(serial, run, "with drops");
}

// Detector level: a page prepared long before it is decided (every page of
// the stream prepared first: no hint yet) or just before (hints current),
// with or without speculation, gives Process()'s outcome.
TEST(Workers, PrepareThenDecideEqualsProcess) {
  for (const auto& lines : Streams()) {
    parse::PageParser parser;
    std::vector<parse::ParsedPage> pages;
    for (const auto& line : lines) {
      parse::ParsedPage page;
      parse::ParseError error;
      if (parser.Parse(line, &page, &error) && (page.status == 0 || page.status == 200)) {
        pages.push_back(std::move(page));
      }
    }
    ASSERT_GT(pages.size(), 10u);
    auto store_a = state::NewMemoryStore();
    auto store_b = state::NewMemoryStore();
    auto store_c = state::NewMemoryStore();
    classify::Detector a(classify::DetectOptions{}, store_a.get());
    classify::Detector b(classify::DetectOptions{}, store_b.get());
    classify::Detector c(classify::DetectOptions{}, store_c.get());
    std::vector<classify::PreparedPage> early(pages.size());
    for (size_t i = 0; i < pages.size(); ++i) {
      b.Prepare(pages[i], &early[i], classify::Speculate::kYes);
    }
    classify::PreparedPage late;
    size_t differences = 0;
    for (size_t i = 0; i < pages.size(); ++i) {
      const int64_t at = 1700000000000 + static_cast<int64_t>(i);
      const classify::Outcome want = a.Process(pages[i], at);
      const classify::Outcome got_b = b.Decide(pages[i], at, &early[i]);
      c.Prepare(pages[i], &late, i % 2 == 0 ? classify::Speculate::kYes : classify::Speculate::kNo);
      const classify::Outcome got_c = c.Decide(pages[i], at, &late);
      for (const classify::Outcome* got : {&got_b, &got_c}) {
        const bool same = want.verdict == got->verdict && want.version == got->version &&
                          want.simhash == got->simhash && want.content_hash == got->content_hash &&
                          want.flags == got->flags && want.stats.shingles == got->stats.shingles &&
                          want.stats.boilerplate_blocks == got->stats.boilerplate_blocks &&
                          want.stats.blocks == got->stats.blocks &&
                          want.stats.sentences == got->stats.sentences &&
                          want.match.has_value() == got->match.has_value() &&
                          (!want.match || want.match->url == got->match->url) &&
                          want.stored.has_value() == got->stored.has_value() &&
                          (!want.stored || state::EncodeUrlState(*want.stored) ==
                                               state::EncodeUrlState(*got->stored));
        if (!same && differences++ < 3) ADD_FAILURE() << "page " << i << " differs";
      }
      std::string error;
      EXPECT_TRUE(a.Commit({}, &error) && b.Commit({}, &error) && c.Commit({}, &error)) << error;
    }
    EXPECT_EQ(differences, 0u);
  }
}

}  // namespace
}  // namespace dedupd::app
