// Several instances (issue #13 item 3), on loopback without Kafka: two
// servers, each owning some URLs; a request to either for a URL the other
// owns is redirected (307) to the owner, whose answer is then the owner's; a
// URL nobody claims is answered locally; a dead peer costs at most the peer
// timeout.
#include "metrics/owner_routing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "metrics/http_server.h"
#include "unit/metrics/http_test_client.h"

namespace dedupd::metrics {
namespace {

using dedupd::testing::HttpGet;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{5000};

// The Location header's value, or empty.
std::string Location(const std::string& head) {
  size_t at = head.find("\r\nLocation: ");
  if (at == std::string::npos) return "";
  at += 12;
  size_t end = head.find("\r\n", at);
  return head.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// "/v1/x?url=..." from "http://127.0.0.1:PORT/v1/x?url=...", and the port.
std::string Target(const std::string& location, int* port) {
  const std::string prefix = "http://127.0.0.1:";
  if (location.compare(0, prefix.size(), prefix) != 0) return "";
  size_t slash = location.find('/', prefix.size());
  *port = std::stoi(location.substr(prefix.size(), slash - prefix.size()));
  return location.substr(slash);
}

struct Instance {
  std::string name;
  std::set<std::string> owned;
  HttpServer server;
  std::unique_ptr<OwnerRouter> router;
};

class OwnerRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.name = "A";
    a_.owned = {"https://a.example/1"};
    b_.name = "B";
    b_.owned = {"https://b.example/1?x=1&y=2"};
    std::string error;
    // Start both first (ports), then build the routers that name each other.
    for (Instance* i : {&a_, &b_}) {
      i->server.Handle("/v1/owner",
                       [i](const HttpRequest& r) { return i->router->OwnerEndpoint(r); });
      i->server.Handle("/v1/echo", [i](const HttpRequest& r) {
        return i->router->RouteToOwner([i](const HttpRequest& req) {
          const std::string* url = req.Param("url");
          return HttpResponse{200, "text/plain", i->name + " answers " + (url ? *url : "-")};
        })(r);
      });
      ASSERT_TRUE(i->server.Start("127.0.0.1", 0, &error)) << error;
    }
    auto base = [](const Instance& i) {
      return "http://127.0.0.1:" + std::to_string(i.server.port());
    };
    a_.router = std::make_unique<OwnerRouter>(
        OwnerRoutingOptions{base(a_), {base(b_)}, milliseconds(500)},
        [this](const std::string& url) { return a_.owned.count(url) != 0; });
    b_.router = std::make_unique<OwnerRouter>(
        OwnerRoutingOptions{base(b_), {base(a_)}, milliseconds(500)},
        [this](const std::string& url) { return b_.owned.count(url) != 0; });
  }

  Instance a_, b_;
};

TEST_F(OwnerRoutingTest, OwnerEndpointAnswersOnlyOnTheOwner) {
  auto on_a = HttpGet(a_.server.port(), "/v1/owner?url=https%3A%2F%2Fa.example%2F1", kDeadline);
  EXPECT_EQ(on_a.status, 200);
  EXPECT_EQ(on_a.body, "{\"url\":\"https://a.example/1\",\"owner\":\"http://127.0.0.1:" +
                           std::to_string(a_.server.port()) + "\"}\n");
  auto on_b = HttpGet(b_.server.port(), "/v1/owner?url=https%3A%2F%2Fa.example%2F1", kDeadline);
  EXPECT_EQ(on_b.status, 404);
  EXPECT_NE(on_b.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(HttpGet(a_.server.port(), "/v1/owner", kDeadline).status, 400);
}

TEST_F(OwnerRoutingTest, EitherInstanceGivesTheOwnersAnswer) {
  const std::string query = "/v1/echo?url=https%3A%2F%2Fb.example%2F1%3Fx%3D1%26y%3D2&from=1&to=2";
  // To the owner: answered there.
  auto direct = HttpGet(b_.server.port(), query, kDeadline);
  EXPECT_EQ(direct.status, 200);
  EXPECT_EQ(direct.body, "B answers https://b.example/1?x=1&y=2");
  // To the other: 307 to the owner, same path and query; following it gives
  // the owner's answer.
  auto redirected = HttpGet(a_.server.port(), query, kDeadline);
  ASSERT_EQ(redirected.status, 307) << redirected.head << redirected.body;
  std::string location = Location(redirected.head);
  EXPECT_EQ(location, "http://127.0.0.1:" + std::to_string(b_.server.port()) + query);
  int port = 0;
  std::string target = Target(location, &port);
  ASSERT_FALSE(target.empty()) << location;
  auto followed = HttpGet(port, target, kDeadline);
  EXPECT_EQ(followed.status, 200);
  EXPECT_EQ(followed.body, direct.body);
  // And the other way round.
  auto to_b = HttpGet(b_.server.port(), "/v1/echo?url=https%3A%2F%2Fa.example%2F1", kDeadline);
  EXPECT_EQ(to_b.status, 307);
  EXPECT_EQ(Location(to_b.head), "http://127.0.0.1:" + std::to_string(a_.server.port()) +
                                     "/v1/echo?url=https%3A%2F%2Fa.example%2F1");
}

TEST_F(OwnerRoutingTest, UnclaimedUrlIsAnsweredLocally) {
  auto r = HttpGet(a_.server.port(), "/v1/echo?url=https%3A%2F%2Fnobody.example%2F", kDeadline);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "A answers https://nobody.example/");
  EXPECT_NE(r.head.find("X-Dedupd-Answered-By: replica"), std::string::npos) << r.head;
}

TEST_F(OwnerRoutingTest, OwnershipMovesWithTheAssignment) {
  // A rebalance moves b.example/1 to A: A now answers it, B redirects to A.
  b_.owned.clear();
  a_.owned.insert("https://b.example/1?x=1&y=2");
  const std::string query = "/v1/echo?url=https%3A%2F%2Fb.example%2F1%3Fx%3D1%26y%3D2";
  EXPECT_EQ(HttpGet(a_.server.port(), query, kDeadline).body,
            "A answers https://b.example/1?x=1&y=2");
  auto r = HttpGet(b_.server.port(), query, kDeadline);
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(Location(r.head), "http://127.0.0.1:" + std::to_string(a_.server.port()) + query);
}

TEST(OwnerRouting, DeadPeerCostsAtMostThePeerTimeout) {
  // A port nothing listens on (bound, then closed) and an address that drops
  // packets would both do; loopback only: the closed port.
  int dead_port = 0;
  {
    HttpServer probe;
    std::string error;
    ASSERT_TRUE(probe.Start("127.0.0.1", 0, &error)) << error;
    dead_port = probe.port();
  }
  HttpServer server;
  OwnerRouter router(OwnerRoutingOptions{"http://127.0.0.1:1",
                                         {"http://127.0.0.1:" + std::to_string(dead_port)},
                                         milliseconds(300)},
                     [](const std::string&) { return false; });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(router.FindOwner("https://x.example/").has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

}  // namespace
}  // namespace dedupd::metrics
