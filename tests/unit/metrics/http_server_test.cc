// The HTTP server's contract (issue #13 item 7): routing (exact, prefix),
// request parsing (decoded parameters, lower-case headers), JSON errors for
// unknown paths, other methods and over-long queries or heads, HEAD, extra
// response headers.
#include "metrics/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "unit/metrics/http_test_client.h"

namespace dedupd::metrics {
namespace {

using dedupd::testing::HttpGet;
using dedupd::testing::HttpRaw;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{5000};

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("/healthz", [] { return HttpResponse{200, "text/plain", "ok\n"}; });
    server_->Handle("/echo", [](const HttpRequest& req) {
      std::string body = req.method + "|" + req.path + "|" + req.query;
      for (const auto& [k, v] : req.params) body += "|" + k + "=" + v;
      auto ua = req.headers.find("x-test-header");
      body += "|" + (ua == req.headers.end() ? std::string("-") : ua->second);
      const std::string* url = req.Param("url");
      body += "|first=" + (url ? *url : std::string("null"));
      return HttpResponse{200, "text/plain", body};
    });
    server_->Handle("/go", [](const HttpRequest&) {
      return HttpResponse{307, "application/json", "{}", {{"Location", "http://peer:1/x?a=1"}}};
    });
    server_->HandlePrefix("/ui/", [](const HttpRequest& req) {
      return HttpResponse{200, "text/html; charset=utf-8", "ui:" + req.path};
    });
    server_->HandlePrefix("/ui/deep/", [](const HttpRequest& req) {
      return HttpResponse{200, "text/html; charset=utf-8", "deep:" + req.path};
    });
    std::string error;
    ASSERT_TRUE(server_->Start("127.0.0.1", 0, &error)) << error;
    ASSERT_GT(server_->port(), 0);
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesOldStyleHandler) {
  StartServer();
  auto r = HttpGet(server_->port(), "/healthz", kDeadline);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_NE(r.head.find("Content-Type: text/plain\r\n"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Content-Length: 3"), std::string::npos) << r.head;
}

TEST_F(HttpServerTest, DecodesParametersAndHeaders) {
  StartServer();
  auto r = HttpRaw(server_->port(),
                   "GET /echo?url=https%3A%2F%2Fa.example%2Fp%3Fq%3D1&url=second&x=a+b%E5%85%A8"
                   " HTTP/1.1\r\nHost: h\r\nX-Test-Header: Value\r\n\r\n",
                   kDeadline);
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body,
            "GET|/echo|url=https%3A%2F%2Fa.example%2Fp%3Fq%3D1&url=second&x=a+b%E5%85%A8"
            "|url=https://a.example/p?q=1|url=second|x=a b\xE5\x85\xA8|Value"
            "|first=https://a.example/p?q=1");
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  StartServer();
  auto r = HttpGet(server_->port(), "/nope", kDeadline);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, "{\"error\":\"no such endpoint: /nope\",\"status\":404}\n");
}

TEST_F(HttpServerTest, OtherMethodsAre405Json) {
  StartServer();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    auto r =
        HttpRaw(server_->port(),
                std::string(method) + " /healthz HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
                kDeadline);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << method;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << method << ": " << r.body;
  }
}

TEST_F(HttpServerTest, HeadHasNoBody) {
  StartServer();
  auto r = HttpGet(server_->port(), "/healthz", kDeadline, "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_NE(r.head.find("Content-Length: 3"), std::string::npos) << r.head;
}

TEST_F(HttpServerTest, OverLongQueryIs414Json) {
  HttpServerOptions options;
  options.max_query_bytes = 100;
  StartServer(options);
  auto ok = HttpGet(server_->port(), "/echo?url=" + std::string(90, 'a'), kDeadline);
  EXPECT_EQ(ok.status, 200);
  auto r = HttpGet(server_->port(), "/echo?url=" + std::string(200, 'a'), kDeadline);
  EXPECT_EQ(r.status, 414);
  EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
  EXPECT_NE(r.body.find("\"error\":\"query longer than 100 bytes\""), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, OverLongHeadIsA4xxJsonError) {
  HttpServerOptions options;
  options.max_request_bytes = 2048;
  StartServer(options);
  auto r = HttpGet(server_->port(), "/echo?url=" + std::string(4000, 'a'), kDeadline);
  EXPECT_GE(r.status, 400) << r.head;
  EXPECT_LT(r.status, 500) << r.head;
  EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  // The server still serves afterwards.
  EXPECT_EQ(HttpGet(server_->port(), "/healthz", kDeadline).status, 200);
}

TEST_F(HttpServerTest, ExtraHeadersAndRedirects) {
  StartServer();
  auto r = HttpGet(server_->port(), "/go", kDeadline);
  EXPECT_EQ(r.status, 307);
  EXPECT_NE(r.head.find("\r\nLocation: http://peer:1/x?a=1"), std::string::npos) << r.head;
}

TEST_F(HttpServerTest, PrefixHandlersLongestWins) {
  StartServer();
  EXPECT_EQ(HttpGet(server_->port(), "/ui/page?url=x", kDeadline).body, "ui:/ui/page");
  EXPECT_EQ(HttpGet(server_->port(), "/ui/deep/a", kDeadline).body, "deep:/ui/deep/a");
  EXPECT_EQ(HttpGet(server_->port(), "/uix", kDeadline).status, 404);
}

TEST_F(HttpServerTest, StalledRequestIsDroppedAfterTheTimeout) {
  HttpServerOptions options;
  options.request_timeout_ms = 500;
  StartServer(options);
  auto r = HttpRaw(server_->port(), "GET /healthz HTTP/1.1\r\nHost: h\r\n", kDeadline);
  // The server gives up on the half-sent head well before our 5 s deadline.
  EXPECT_LT(r.elapsed.count(), 3000);
  EXPECT_NE(r.status, 200);
}

TEST_F(HttpServerTest, HandlersRunConcurrently) {
  HttpServerOptions options;
  server_ = std::make_unique<HttpServer>(options);
  std::atomic<int> inside{0}, peak{0};
  server_->Handle("/slow", [&](const HttpRequest&) {
    int now = ++inside;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(milliseconds(300));
    --inside;
    return HttpResponse{200, "text/plain", "done"};
  });
  std::string error;
  ASSERT_TRUE(server_->Start("127.0.0.1", 0, &error)) << error;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] { HttpGet(server_->port(), "/slow", kDeadline); });
  }
  for (auto& t : clients) t.join();
  EXPECT_GE(peak.load(), 2);
}

TEST(HttpServerBody, ALargeBodyArrivesWhole) {
  // /metrics of a big deployment is megabytes: the close after it must not
  // cut it (no abortive close).
  HttpServer server;
  std::string big(4 << 20, 'm');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = '\n';
  server.Handle("/metrics", [&] { return HttpResponse{200, "text/plain", big}; });
  std::string error;
  ASSERT_TRUE(server.Start("127.0.0.1", 0, &error)) << error;
  auto r = HttpGet(server.port(), "/metrics", kDeadline);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), big.size());
  EXPECT_TRUE(r.body == big);
}

TEST(HttpServerStart, RejectsNonIpv4Bind) {
  HttpServer server;
  std::string error;
  EXPECT_FALSE(server.Start("localhost", 0, &error));
  EXPECT_NE(error.find("expected an IPv4 address"), std::string::npos) << error;
}

TEST(HttpServerStart, ReportsABusyPort) {
  HttpServer a, b;
  std::string error;
  ASSERT_TRUE(a.Start("127.0.0.1", 0, &error)) << error;
  EXPECT_FALSE(b.Start("127.0.0.1", a.port(), &error));
  EXPECT_NE(error.find("cannot listen"), std::string::npos) << error;
}

TEST(PercentEncode, EncodesReservedBytes) {
  EXPECT_EQ(PercentEncode("https://a.example/p?q=1&r=a b"),
            "https%3A%2F%2Fa.example%2Fp%3Fq%3D1%26r%3Da%20b");
  EXPECT_EQ(PercentEncode("全"), "%E5%85%A8");
}

}  // namespace
}  // namespace dedupd::metrics
