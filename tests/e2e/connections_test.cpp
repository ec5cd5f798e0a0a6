// End to end: file descriptors and connection caps: many idle connections, per-client and server-wide limits.
#include "support/fixture.h"
#include "support/metrics.h"
#include "support/raw_socket.h"

#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using quanqu::e2e::count_responses;
using quanqu::e2e::metric_sample;
using quanqu::e2e::parse_raw_response;
using quanqu::e2e::RawConnection;
using namespace std::chrono_literals;

class ConnectionsTest : public E2ETest {
 protected:
  // Waits (up to 5 s) until the metric satisfies `ok`; returns its last value. Scrapes on one
  // keep-alive connection from 127.0.0.1, kept open for the whole test (it counts as open).
  template <typename Ok>
  double metric_when(const std::string& series, Ok ok) {
    if (!scraper_) scraper_ = std::make_unique<HttpClient>(anonymous());
    double value = -1;
    for (int i = 0; i < 250; ++i) {
      value = metric_sample(scraper_->get("/metrics").body, series);
      if (ok(value)) break;
      std::this_thread::sleep_for(20ms);
    }
    return value;
  }

  // A connection's first response, read to the close, from a raw connection that sends nothing.
  void expect_refused(RawConnection& c) {
    std::string got = c.read_until_close(5s);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(count_responses(got), 1) << got;
    auto r = parse_raw_response(got);
    EXPECT_EQ(r.status, 503u) << got;
    EXPECT_EQ(r.header("Retry-After"), "1");
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_NE(r.body.find("\"code\":\"too_many_connections\""), std::string::npos) << got;
  }

  std::vector<RawConnection> open_idle(const std::string& from, int n) {
    std::vector<RawConnection> out;
    out.reserve(n);
    for (int i = 0; i < n; ++i) out.emplace_back("127.0.0.1", server().port(), from);
    return out;
  }

  void TearDown() override {
    scraper_.reset();
    ConnectionsTestBase::TearDown();
  }

 private:
  using ConnectionsTestBase = E2ETest;
  std::unique_ptr<HttpClient> scraper_;
};

// The server is started with the usual soft limit of 1,024 open files; it raises it, so 1,100
// idle connections (from five addresses, each under the default per-client cap) do not stop
// /healthz from answering at once on a fresh connection.
class FdLimitTest : public ConnectionsTest {
 protected:
  void SetUp() override {
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 1400) GTEST_SKIP() << "hard open-files limit below 1400";
    // Raise ours for the 1,100 sockets, but start the server (a child: it inherits) at 1,024.
    rlimit ours = saved;
    ours.rlim_cur = saved.rlim_max == RLIM_INFINITY ? 65536 : saved.rlim_max;
    rlimit child = saved;
    child.rlim_cur = 1024;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &child), 0);
    ConnectionsTest::SetUp();
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &ours), 0);
  }
};

TEST_F(FdLimitTest, ElevenHundredIdleConnectionsDoNotStopHealthz) {
  std::string out = server().output();
  auto logged = out.find("\"msg\":\"open files limit\"");
  ASSERT_NE(logged, std::string::npos) << out;
  std::string line = out.substr(logged, out.find('\n', logged) - logged);
  EXPECT_NE(line.find("\"was\":1024"), std::string::npos) << line;
  EXPECT_EQ(line.find("\"soft_limit\":1024"), std::string::npos) << line;

  std::vector<RawConnection> idle;
  for (int a = 2; a <= 6; ++a)
    for (auto& c : open_idle("127.0.0." + std::to_string(a), 220)) idle.push_back(std::move(c));
  EXPECT_GE(metric_when("quanqu_http_connections_open", [](double v) { return v >= 1100; }), 1100);

  auto client = anonymous();
  client.set_timeout(3s);
  auto started = std::chrono::steady_clock::now();
  auto health = client.get("/healthz");
  EXPECT_EQ(health.status, 200u) << health.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  auto metrics = client.get("/metrics").body;
  EXPECT_EQ(metric_sample(metrics, "quanqu_http_accept_errors_total"), 0) << metrics;
  EXPECT_EQ(metric_sample(metrics, "quanqu_http_connections_refused_total{reason=\"per_client\"}"), 0);
}

class PerClientCapTest : public ConnectionsTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--max-connections-per-client", "20"}; }
};

TEST_F(PerClientCapTest, OverTheCapANewConnectionIsAnswered503AndClosed) {
  auto idle = open_idle("127.0.0.2", 20);
  // Those 20 and the scraping client's own connection.
  ASSERT_GE(metric_when("quanqu_http_connections_open", [](double v) { return v >= 21; }), 21);
  RawConnection over("127.0.0.1", server().port(), "127.0.0.2");
  expect_refused(over);
  // Another address is not affected.
  auto health = anonymous().get("/healthz");
  EXPECT_EQ(health.status, 200u);
  RawConnection other("127.0.0.1", server().port(), "127.0.0.3");
  ASSERT_TRUE(other.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(parse_raw_response(other.read_until_close(5s)).status, 200u);
  EXPECT_EQ(
      metric_when("quanqu_http_connections_refused_total{reason=\"per_client\"}", [](double v) { return v == 1; }), 1);

  // Once one of the 20 closes, the address may connect again.
  idle.pop_back();
  ASSERT_LE(metric_when("quanqu_http_connections_open", [](double v) { return v <= 20; }), 20);
  RawConnection again("127.0.0.1", server().port(), "127.0.0.2");
  ASSERT_TRUE(again.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(parse_raw_response(again.read_until_close(5s)).status, 200u);
}

class ServerCapTest : public ConnectionsTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--max-connections", "12"}; }
};

TEST_F(ServerCapTest, OverTheServerCapANewConnectionIsAnswered503) {
  auto a = open_idle("127.0.0.2", 6);
  auto b = open_idle("127.0.0.3", 5);
  // Those 11 and the scraper's connection fill the 12.
  ASSERT_GE(metric_when("quanqu_http_connections_open", [](double v) { return v >= 12; }), 12);
  RawConnection over("127.0.0.1", server().port(), "127.0.0.4");
  expect_refused(over);
  // Nothing sent on a refused connection is handled: no cart, no second response.
  RawConnection smuggler("127.0.0.1", server().port(), "127.0.0.4");
  smuggler.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_refused(smuggler);
  a.clear();
  auto client = anonymous();
  for (int i = 0; i < 250 && client.get("/healthz").status != 200u; ++i) std::this_thread::sleep_for(20ms);
  auto metrics = client.get("/metrics").body;
  EXPECT_EQ(metric_sample(metrics, "quanqu_http_connections_refused_total{reason=\"server_full\"}"), 2) << metrics;
}

}  // namespace
