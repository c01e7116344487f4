// Extra bytes and decode (restore) time of the version history in a state
// record (docs/api.md, "Cost of the history"). Each URL gets `versions`
// revisions of a fixture text, each revision editing one sentence (as the
// fixture's Sichuan release was edited), and the record is encoded with
// state.history_versions = 0 and = versions.
//   history_size FILE [versions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "state/url_state.h"

using dedupd::state::DecodeUrlState;
using dedupd::state::EncodeUrlState;
using dedupd::state::HistoryPart;
using dedupd::state::UrlState;
using dedupd::state::VersionRecord;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string base = buf.str();
  const int versions = argc > 2 ? std::atoi(argv[2]) : 10;
  // Revision v: the v-th line gets a changed figure appended.
  auto revision = [&](int v) {
    std::string t = base;
    size_t at = 0;
    for (int k = 0; k < v % 20 && at != std::string::npos; ++k) at = t.find('\n', at + 1);
    if (at == std::string::npos) at = t.size();
    t.insert(at, " (rev " + std::to_string(v) + ": 12" + std::to_string(v) + ")");
    return t;
  };
  UrlState s;
  s.canonical_url = "https://www.example.gov.cn/2023/4/27/10fd6e7c2a3e4b1f.shtml";
  s.site = "example.gov.cn";
  s.version = static_cast<uint32_t>(versions);
  s.line_hashes_known = true;
  s.line_hashes.assign(40, 42);
  s.paragraph_hashes.assign(8, 7);
  s.text = revision(versions);
  const std::string without = EncodeUrlState(s);
  for (int v = versions; v >= 1; --v) {
    VersionRecord r;
    r.version = static_cast<uint32_t>(v);
    r.verdict = 2;
    r.severity = 2;
    if (v != versions) r.text = revision(v);
    s.versions.push_back(r);
  }
  const std::string with = EncodeUrlState(s);
  const std::string slim = EncodeUrlState(s, HistoryPart::kLatest);
  // The best of 7 runs of 1000 decodes: the machine is shared, the minimum is
  // the least disturbed.
  auto time_decode = [](const std::string& bytes,
                        dedupd::state::TextPart part = dedupd::state::TextPart::kDecode) {
    const int n = 1000;
    double best = 1e18;
    UrlState out;
    for (int run = 0; run < 7; ++run) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) DecodeUrlState(bytes, &out, part);
      auto t1 = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
    }
    return best;
  };
  std::printf("text %zu bytes, %d versions\n", base.size(), versions);
  std::printf("record without history: %zu bytes, decode %.1f us\n", without.size(),
              time_decode(without));
  std::printf("record with history:    %zu bytes, decode %.1f us (+%zu bytes)\n", with.size(),
              time_decode(with), with.size() - without.size());
  std::printf("start-up load (texts skipped): %.2f us without, %.2f us with history\n",
              time_decode(without, dedupd::state::TextPart::kSkipIfIndexed),
              time_decode(with, dedupd::state::TextPart::kSkipIfIndexed));
  std::printf("fingerprints record:    %zu bytes (+%zu bytes)\n", slim.size(),
              slim.size() - without.size());
  return 0;
}
