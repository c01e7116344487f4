// Issue #13 items 3 and 5 against the real local broker:
//  - two `dedupd run` instances in one group on a 2-partition input: a request
//    to either for a URL the other owns is redirected (307) to the owner,
//    whose answer it then is; after one instance stops, the survivor owns and
//    answers the other's URLs (the rebalance moved them);
//  - the runbook's command for decoding page-diffs, taken from
//    docs/runbook.md as written, decodes each record on its own.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "dedupd/v1/dedupd.pb.h"
#include "e2e/daemon_harness.h"

namespace dedupd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kDedupd = DEDUPD_BINARY;

std::vector<std::string> FixtureLines() {
  std::ifstream in(std::string(DEDUPD_TEST_DATA_DIR) + "/fixtures/pages.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

struct Answer {
  int status = 0;
  std::string head;
  std::string body;
};

// One GET on loopback with the head kept (for Location).
Answer Get(int port, const std::string& target) {
  Answer a;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return a;
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t end = resp.find("\r\n\r\n");
  if (resp.size() < 12 || end == std::string::npos) return a;
  a.status = std::atoi(resp.substr(9, 3).c_str());
  a.head = resp.substr(0, end);
  a.body = resp.substr(end + 4);
  return a;
}

std::string Location(const std::string& head) {
  size_t at = head.find("\r\nLocation: ");
  if (at == std::string::npos) return "";
  at += 12;
  return head.substr(at, head.find("\r\n", at) - at);
}

class InstancesTest : public DaemonFixture {
 protected:
  InstancesTest() : DaemonFixture("mi") {}

  // Args(partitions) with this instance's own transactional id, state
  // directory and HTTP identity.
  std::vector<std::string> InstanceArgs(const std::string& name, int port, int peer_port) {
    std::vector<std::string> args;
    for (const auto& a : Args(2)) {
      if (a.starts_with("--kafka.transactional_id=")) {
        args.push_back(a + "-" + name);
      } else if (a.starts_with("--state.dir=")) {
        args.push_back(a + "-" + name);
      } else {
        args.push_back(a);
      }
    }
    args.push_back("--http.external_url=http://127.0.0.1:" + std::to_string(port));
    args.push_back("--http.peers=http://127.0.0.1:" + std::to_string(peer_port) +
                   ",http://127.0.0.1:" + std::to_string(port));
    args.push_back("--http.peer_timeout_ms=1000");
    return args;
  }
  void TearDown() override {
    std::filesystem::remove_all(state_dir_.string() + "-a");
    std::filesystem::remove_all(state_dir_.string() + "-b");
    DaemonFixture::TearDown();
  }

  // The canonical URLs of the committed events, once all `expected` inputs
  // have an event or a dead letter.
  std::set<std::string> EventUrls(size_t expected) {
    Deadline deadline(seconds(120));
    std::set<std::string> urls;
    for (;;) {
      auto events = ReadAll(bootstrap_, Topic("events"), 0, seconds(10));
      auto dlq = ReadAll(bootstrap_, Topic("dlq"), 0, seconds(10));
      if (events.size() + dlq.size() >= expected || deadline.expired()) {
        for (const auto& r : events) urls.insert(r.key);
        return urls;
      }
      std::this_thread::sleep_for(milliseconds(500));
    }
  }
};

TEST_F(InstancesTest, EitherInstanceGivesTheOwnersAnswerAndARebalanceMovesOwnership) {
  CreateTopic(Topic("pages"), 2);
  const int port_a = FreePort();
  int port_b = FreePort();
  while (port_b == port_a) port_b = FreePort();
  const std::string base_a = "http://127.0.0.1:" + std::to_string(port_a);
  const std::string base_b = "http://127.0.0.1:" + std::to_string(port_b);
  DaemonProcess a(kDedupd, InstanceArgs("a", port_a, port_b), log_, port_a);
  DaemonProcess b(kDedupd, InstanceArgs("b", port_b, port_a), log_, port_b);
  ASSERT_TRUE(a.WaitReady(seconds(90))) << "a not ready; log " << log_;
  ASSERT_TRUE(b.WaitReady(seconds(90))) << "b not ready; log " << log_;

  auto lines = FixtureLines();
  ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA, lines, KeyOf);
  std::set<std::string> urls = EventUrls(lines.size());
  ASSERT_FALSE(urls.empty());

  // Who owns what: exactly one instance claims each URL once the group has
  // settled (both members, one partition each).
  std::string url_a, url_b;
  Deadline settle(seconds(60));
  while (!settle.expired() && (url_a.empty() || url_b.empty())) {
    url_a.clear();
    url_b.clear();
    for (const auto& url : urls) {
      const std::string q = "/v1/owner?url=" + Encode(url);
      int on_a = Get(port_a, q).status, on_b = Get(port_b, q).status;
      EXPECT_FALSE(on_a == 200 && on_b == 200) << url << " claimed by both";
      if (on_a == 200 && on_b == 404) url_a = url;
      if (on_b == 200 && on_a == 404) url_b = url;
    }
    if (url_a.empty() || url_b.empty()) std::this_thread::sleep_for(milliseconds(500));
  }
  ASSERT_FALSE(url_a.empty()) << "no URL owned by a; log " << log_;
  ASSERT_FALSE(url_b.empty()) << "no URL owned by b; log " << log_;

  // A request to either instance gets the owner's answer.
  for (const auto& [url, owner_port, owner_base, other_port] :
       {std::tuple{url_a, port_a, base_a, port_b}, std::tuple{url_b, port_b, base_b, port_a}}) {
    const std::string target = "/v1/locate?url=" + Encode(url);
    Answer direct = Get(owner_port, target);
    EXPECT_EQ(direct.status, 200) << direct.body;
    EXPECT_NE(direct.body.find("\"instance\":\"" + owner_base + "\""), std::string::npos)
        << direct.body;
    Answer redirected = Get(other_port, target);
    ASSERT_EQ(redirected.status, 307) << redirected.head << "\n" << redirected.body;
    EXPECT_EQ(Location(redirected.head), owner_base + target);
    Answer followed = Get(owner_port, Location(redirected.head).substr(owner_base.size()));
    EXPECT_EQ(followed.status, 200);
    EXPECT_EQ(followed.body, direct.body);
  }
  // A URL nobody has: 404 JSON from either.
  Answer unknown = Get(port_a, "/v1/locate?url=" + Encode("https://nobody.example/x"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("\"error\""), std::string::npos);

  // b leaves: the group gives a both partitions; a restores b's changelog
  // partition and now owns and answers b's URL itself.
  b.Signal(SIGTERM);
  EXPECT_EQ(b.Wait(), 0);
  Deadline moved(seconds(90));
  Answer after;
  while (!moved.expired()) {
    after = Get(port_a, "/v1/locate?url=" + Encode(url_b));
    if (after.status == 200) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_EQ(after.status, 200) << after.head << "\n" << after.body << "\nlog " << log_;
  EXPECT_NE(after.body.find("\"instance\":\"" + base_a + "\""), std::string::npos) << after.body;
  a.Signal(SIGTERM);
  EXPECT_EQ(a.Wait(), 0);
}

// The runbook's decode command (docs/runbook.md, "Check." of the edit alert),
// run as written with $BOOTSTRAP and the test's topic: one decoded PageDiff
// per record, each with its own URL (before: `proto/*.proto` matched no file
// and concatenated records decoded as one message).
TEST_F(InstancesTest, RunbookDiffDecodeCommandWorks) {
  std::ifstream runbook(std::string(DEDUPD_SOURCE_DIR) + "/docs/runbook.md");
  std::string command;
  std::regex in_backticks("`(kcat [^`]*page-diffs[^`]*decode-diffs[^`]*)`");
  for (std::string line; std::getline(runbook, line);) {
    std::smatch m;
    if (std::regex_search(line, m, in_backticks)) {
      command = m[1];
      break;
    }
  }
  ASSERT_FALSE(command.empty()) << "no kcat ... page-diffs ... decode-diffs command in the runbook";
  command = std::regex_replace(command, std::regex("page-diffs"), Topic("diffs"));

  DaemonProcess daemon(kDedupd, Args(1), log_);
  ASSERT_TRUE(daemon.WaitReady(seconds(90))) << "daemon not ready; log " << log_;
  auto lines = FixtureLines();
  ProduceAll(Topic("pages"), RdKafka::Topic::PARTITION_UA, lines, KeyOf);
  EventUrls(lines.size());
  auto diffs = ReadAll(bootstrap_, Topic("diffs"), 2, seconds(30));
  ASSERT_GE(diffs.size(), 2u) << "the fixture has several diffs";
  std::multiset<std::string> want;
  for (const auto& r : diffs) {
    v1::PageDiff d;
    ASSERT_TRUE(d.ParseFromString(r.value));
    want.insert(d.canonical_url());
  }

  const std::string shell = "cd '" + std::string(DEDUPD_SOURCE_DIR) + "' && BOOTSTRAP='" +
                            bootstrap_ + "' && " + command + " 2>&1";
  FILE* p = ::popen(shell.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << command << "\n" << out;

  // Records and top-level canonical_url lines (nested messages are indented).
  std::multiset<std::string> got;
  size_t records = 0;
  std::istringstream text(out);
  for (std::string line; std::getline(text, line);) {
    if (line.starts_with("# record ")) ++records;
    if (line.starts_with("canonical_url: \"")) got.insert(line.substr(16, line.size() - 17));
  }
  EXPECT_EQ(records, diffs.size()) << out;
  EXPECT_EQ(got, want) << out;
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(), 0);
}

}  // namespace
}  // namespace dedupd::e2e
