// End to end: health, readiness, metrics, request ids, the OpenAPI document and graceful shutdown.
#include "support/fixture.h"
#include "support/metrics.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::metric_sample;

class OpsTest : public E2ETest {
 protected:
  // /metrics once the series has reached `want` (a request is counted just after its response
  // is written, so the scrape may briefly trail the client); the last scrape otherwise.
  std::string metrics_when(HttpClient& client, const std::vector<std::pair<std::string, double>>& wanted) {
    std::string text;
    for (int i = 0; i < 50; ++i) {
      auto r = client.get("/metrics");
      EXPECT_EQ(r.status, 200u) << r.body;
      text = r.body;
      bool all = true;
      for (const auto& [series, want] : wanted) all = all && metric_sample(text, series) == want;
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return text;
  }
};

const std::string kProducts200 = "quanqu_http_requests_total{method=\"GET\",route=\"/v1/store/products\",status=\"200\"}";

TEST_F(OpsTest, HealthAndReadiness) {
  auto client = anonymous();
  auto health = client.get("/healthz");
  EXPECT_EQ(health.status, 200u) << health.body;
  EXPECT_EQ(health.header("Content-Type").rfind("application/json", 0), 0u) << health.header("Content-Type");
  EXPECT_EQ(health.json().value("status", ""), "ok");
  auto ready = client.get("/readyz");
  EXPECT_EQ(ready.status, 200u) << ready.body;
  EXPECT_EQ(ready.json().value("status", ""), "ready");
  // No credentials needed, and unsafe methods are not allowed.
  auto post = client.post("/healthz", json::object());
  EXPECT_EQ(post.status, 405u) << post.body;
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");
}

TEST_F(OpsTest, MetricsCountRequestsByRoutePatternAndStatus) {
  auto client = anonymous();
  // Some traffic: two successful catalog reads, one 404 product, one unmatched route.
  ASSERT_EQ(store().get("/v1/store/products?limit=2").status, 200u);
  ASSERT_EQ(store().get("/v1/store/products?limit=3").status, 200u);
  ASSERT_EQ(store().get("/v1/store/products/no-such-product").status, 404u);
  ASSERT_EQ(client.get("/no/such/route").status, 404u);

  auto r = client.get("/metrics");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("Content-Type").rfind("text/plain", 0), 0u) << r.header("Content-Type");
  const std::string kProduct404 =
      "quanqu_http_requests_total{method=\"GET\",route=\"/v1/store/products/{id}\",status=\"404\"}";
  const std::string text = metrics_when(client, {{kProducts200, 2}, {kProduct404, 1}});
  EXPECT_NE(text.find("# TYPE quanqu_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("quanqu_http_requests_total{"), std::string::npos);
  // The route label is the pattern, not the concrete path (bounded cardinality).
  EXPECT_EQ(
      metric_sample(text, "quanqu_http_requests_total{method=\"GET\",route=\"/v1/store/products\",status=\"200\"}"), 2)
      << text.substr(0, 3000);
  EXPECT_EQ(metric_sample(
                text, "quanqu_http_requests_total{method=\"GET\",route=\"/v1/store/products/{id}\",status=\"404\"}"),
            1)
      << text.substr(0, 3000);
  EXPECT_EQ(text.find("no-such-product"), std::string::npos);
  EXPECT_EQ(text.find("/no/such/route"), std::string::npos);
  EXPECT_NE(text.find("# TYPE quanqu_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("quanqu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/store/products\",le=\"+Inf\"} 2"),
            std::string::npos);

  // Counters move with more traffic.
  ASSERT_EQ(store().get("/v1/store/products?limit=4").status, 200u);
  EXPECT_EQ(metric_sample(metrics_when(client, {{kProducts200, 3}}), kProducts200), 3);
}

TEST_F(OpsTest, RequestIdIsEchoedOrGenerated) {
  auto client = anonymous();
  auto echoed = client.get("/healthz", {{"X-Request-Id", "trace-abc_123.XYZ"}});
  EXPECT_EQ(echoed.header("X-Request-Id"), "trace-abc_123.XYZ");
  // Also on errors and on the store API.
  auto err = store().get("/v1/store/products/nope", {{"X-Request-Id", "req-404"}});
  EXPECT_EQ(err.status, 404u);
  EXPECT_EQ(err.header("X-Request-Id"), "req-404");
  auto unauth = client.get("/v1/admin/orders", {{"X-Request-Id", "req-401"}});
  EXPECT_EQ(unauth.status, 401u);
  EXPECT_EQ(unauth.header("X-Request-Id"), "req-401");
  // Without one, or with one that is not safe to log, a fresh one is made.
  auto a = client.get("/healthz"), b = client.get("/healthz");
  EXPECT_FALSE(a.header("X-Request-Id").empty());
  EXPECT_NE(a.header("X-Request-Id"), b.header("X-Request-Id"));
  auto unsafe = client.get("/healthz", {{"X-Request-Id", "bad id with spaces"}});
  EXPECT_FALSE(unsafe.header("X-Request-Id").empty());
  EXPECT_NE(unsafe.header("X-Request-Id"), "bad id with spaces");
  auto too_long = client.get("/healthz", {{"X-Request-Id", std::string(200, 'a')}});
  EXPECT_NE(too_long.header("X-Request-Id"), std::string(200, 'a'));
  EXPECT_FALSE(too_long.header("X-Request-Id").empty());
}

TEST_F(OpsTest, OpenApiDocumentIsJson31) {
  auto r = anonymous().get("/v1/openapi.json");
  ASSERT_EQ(r.status, 200u) << r.body.substr(0, 500);
  EXPECT_EQ(r.header("Content-Type").rfind("application/json", 0), 0u) << r.header("Content-Type");
  json doc = r.json();
  ASSERT_TRUE(doc.is_object());
  ASSERT_TRUE(doc.contains("openapi") && doc["openapi"].is_string());
  EXPECT_EQ(doc["openapi"].get<std::string>().rfind("3.1", 0), 0u) << doc["openapi"];
  ASSERT_TRUE(doc.contains("paths") && doc["paths"].is_object());
  EXPECT_TRUE(doc.contains("info"));
  // The routes the tests exercise are documented.
  for (std::string path : {"/v1/store/products", "/v1/store/carts", "/v1/store/carts/{id}/checkout", "/v1/admin/orders"})
    EXPECT_TRUE(doc["paths"].contains(path)) << path;
}

// The served document names where this server runs (here a port picked at start), not the
// compiled-in http://127.0.0.1:8080, and the relative "/" first for clients behind a reverse proxy.
TEST_F(OpsTest, OpenApiServersFollowTheConfiguredAddress) {
  auto r = anonymous().get("/v1/openapi.json");
  ASSERT_EQ(r.status, 200u) << r.body.substr(0, 500);
  json servers = r.json().value("servers", json::array());
  ASSERT_EQ(servers.size(), 2u) << servers;
  EXPECT_EQ(servers[0].value("url", ""), "/");
  EXPECT_EQ(servers[1].value("url", ""), "http://127.0.0.1:" + std::to_string(server().port()));
  // Built once: every fetch gets the same bytes.
  EXPECT_EQ(anonymous().get("/v1/openapi.json").body, r.body);
}

TEST_F(OpsTest, GracefulShutdownExitsZero) {
  // Some traffic first, and a keep-alive connection left open.
  auto client = anonymous();
  ASSERT_EQ(client.get("/healthz").status, 200u);
  ASSERT_EQ(store().get("/v1/store/products?limit=5").status, 200u);
  EXPECT_EQ(server().stop(), 0) << server().output();
  EXPECT_FALSE(server().running());
  // Nothing listens any more.
  auto fresh = anonymous();
  fresh.set_timeout(std::chrono::seconds(2));
  EXPECT_THROW(fresh.get("/healthz"), std::runtime_error);
  // stop() again reports the same status.
  EXPECT_EQ(server().stop(), 0);
}

TEST_F(OpsTest, GracefulShutdownFinishesRequestsInFlight) {
  // Clients keep issuing requests while the server is told to stop: every request either gets a
  // complete response or fails to connect; none gets a 5xx, and the exit status is 0.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      auto c = server().client();
      c.set_default_header("X-Publishable-Key", server().publishable_key());
      c.set_timeout(std::chrono::seconds(5));
      while (!stop) {
        try {
          auto r = c.get("/v1/store/products?limit=20");
          if (r.status == 200) ++ok;
          else if (r.status >= 500) ++bad;
        } catch (const std::exception&) {
          // refused or closed by the stopping server
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int status = server().stop();
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(status, 0) << server().output();
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
