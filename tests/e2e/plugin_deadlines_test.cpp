// Plugin calls with deadlines on their own pool: slow and endless plugins against the real server with two io threads.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kSku = "TEE-ORGANIC-NAVY-M";
const char* kHandle = "organic-cotton-tee";
using quanqu::e2e::kAddress;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds deadline = 5000ms) {
  auto until = Clock::now() + deadline;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(25ms);
  }
}

// The value of a metric sample line `name{plugin="<plugin>"} <value>`, or -1 when absent.
double metric(const std::string& text, const std::string& name, const std::string& plugin) {
  std::string head = name + "{plugin=\"" + plugin + "\"} ";
  for (std::size_t at = text.find(head); at != std::string::npos; at = text.find(head, at + 1))
    if (at == 0 || text[at - 1] == '\n') return std::strtod(text.c_str() + at + head.size(), nullptr);
  return -1;
}

// A request sent from its own thread and client, answered (or failed) whenever the server says.
class Background {
 public:
  Background(HttpClient client, std::string target) : client_(std::move(client)) {
    client_.set_timeout(120s);
    thread_ = std::thread([this, target = std::move(target)] {
      try {
        response_ = client_.get(target);
      } catch (const std::exception&) {  // the server went away first: fine for these tests
      }
    });
  }
  ~Background() { thread_.join(); }

 private:
  HttpClient client_;
  HttpResponse response_;
  std::thread thread_;
};

// The server with the "sleeper" fixture, two io threads, four plugin threads and a 30 s default
// deadline: tests shorten the deadline of the plugin through the admin API.
class PluginDeadlinesTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_SLEEPER).parent_path(), "sleeper");
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override {
    auto args = plugins_dir_.args();
    // In process: these are the rules for calls that cannot be killed (plugin_isolation_test.cpp
    // covers a runner past its deadline).
    args.insert(args.end(), {"--threads", "2", "--plugin-threads", "4", "--shutdown-grace-ms", "2000",
                             "--plugin-isolation", "in_process"});
    auto more = more_args();
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  virtual std::vector<std::string> more_args() const { return {"--plugin-timeout-ms", "30000"}; }

  HttpResponse set_timeout(const json& timeout_ms) {
    return admin().patch("/v1/admin/plugins/sleeper", {{"timeout_ms", timeout_ms}});
  }

  std::string metrics() {
    auto r = anonymous().get("/metrics");
    EXPECT_EQ(r.status, 200u);
    return r.body;
  }

  // A cart of one kSku on `store`'s channel with email and address; returns its id.
  std::string new_cart(HttpClient& store) {
    auto cart = store.post("/v1/store/carts", {{"email", "li.lei@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", kSku}, {"quantity", 1}}}}});
    EXPECT_EQ(cart.status, 201u) << cart.body;
    return cart.json().value("id", "");
  }

  HttpResponse checkout(HttpClient& store, const std::string& cart_id, const std::string& key) {
    return store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                         {{"Idempotency-Key", key}});
  }

  std::int64_t reserved() {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + kSku);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::int64_t n = 0;
    for (const auto& l : r.json().value("items", json::array())) n += l.value("reserved", std::int64_t{0});
    return n;
  }

  // The publishable key of a channel whose payment step is the sleeper's "sleepy-pay"
  // (authorising never returns), selling kHandle from the demo locations; "" when it failed.
  std::string sleepy_storefront_key() {
    json locations = json::array();
    for (const char* code : {"warehouse-shanghai", "store-shanghai-jingan", "store-hangzhou-xihu"})
      locations.push_back(admin().get(std::string("/v1/admin/stock-locations/") + code).json().value("id", ""));
    auto channel = admin().post("/v1/admin/channels", {{"code", "sleepy-web"},
                                                       {"name", "Sleepy web"},
                                                       {"type", "web"},
                                                       {"currency", "CNY"},
                                                       {"tax_rate_bp", 1300},
                                                       {"tax_inclusive", true},
                                                       {"location_ids", locations},
                                                       {"payment_providers", {"sleepy-pay"}}});
    EXPECT_EQ(channel.status, 201u) << channel.body;
    if (channel.status != 201u) return "";
    return open_storefront(channel.json().value("id", ""), {kHandle}, "Sleepy storefront");
  }

  PluginsDir plugins_dir_;
};

// The server default alone: --plugin-timeout-ms 700 and no override.
class PluginDefaultDeadlineTest : public PluginDeadlinesTest {
 protected:
  std::vector<std::string> more_args() const override { return {"--plugin-timeout-ms", "700"}; }
};

TEST_F(PluginDeadlinesTest, CoreRoutesAndCheckoutAnswerWhileTwoPluginCallsNeverReturn) {
  // Two endless plugin calls, as many as there are io threads.
  Background first(anonymous(), "/v1/plugins/sleeper/hang");
  Background second(anonymous(), "/v1/plugins/sleeper/hang");
  std::this_thread::sleep_for(300ms);  // both are in the plugin by now

  HttpClient quick = anonymous();
  quick.set_timeout(3s);
  auto start = Clock::now();
  auto health = quick.get("/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_LT(ms_since(start), 1000.0);

  HttpClient shop = anonymous();
  shop.set_timeout(3s);
  shop.set_default_header("X-Publishable-Key", server().publishable_key());
  start = Clock::now();
  auto products = shop.get("/v1/store/products?limit=5");
  EXPECT_EQ(products.status, 200u) << products.body;
  auto cart_id = new_cart(shop);
  auto order = checkout(shop, cart_id, "deadlines-checkout-1");
  EXPECT_EQ(order.status, 201u) << order.body;
  EXPECT_LT(ms_since(start), 2500.0);

  // Another plugin route of the same plugin still runs: the pool has threads left.
  start = Clock::now();
  auto ok = quick.get("/v1/plugins/sleeper/ok");
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_LT(ms_since(start), 1000.0);

  // Both endless calls are still in flight: SIGTERM ends the server after the grace period.
  EXPECT_EQ(server().stop(), 1);
}

TEST_F(PluginDeadlinesTest, ASlowRouteGets504PluginTimeoutAtTheMerchantsDeadline) {
  auto set = set_timeout(800);
  ASSERT_EQ(set.status, 200u) << set.body;
  EXPECT_EQ(set.json()["timeout_ms"], 800);
  EXPECT_EQ(set.json()["timeout_override_ms"], 800);

  auto fast = anonymous().get("/v1/plugins/sleeper/sleep?ms=10");
  EXPECT_EQ(fast.status, 200u) << fast.body;

  auto start = Clock::now();
  auto slow = anonymous().get("/v1/plugins/sleeper/sleep?ms=5000");
  double took = ms_since(start);
  EXPECT_TRUE(IsProblem(slow, 504, "plugin_timeout"));
  EXPECT_EQ(slow.json()["details"]["plugin"], "sleeper");
  EXPECT_EQ(slow.json()["details"]["timeout_ms"], 800);
  EXPECT_GE(took, 750.0);
  EXPECT_LT(took, 2500.0);

  // Counted per plugin, in /metrics and in the admin API; the log names the plugin and the route.
  auto text = metrics();
  EXPECT_EQ(metric(text, "quanqu_plugin_timeouts_total", "sleeper"), 1) << text;
  auto shown = admin().get("/v1/admin/plugins/sleeper");
  EXPECT_EQ(shown.json()["timeouts"], 1);
  EXPECT_TRUE(eventually([&] {
    auto out = server().output();
    return out.find("\"msg\":\"plugin call timed out; it keeps its thread until it returns\"") != std::string::npos &&
           out.find("\"route\":\"GET /v1/plugins/sleeper/sleep\"") != std::string::npos;
  }));

  // Cleared, the server default (30 s) applies again.
  auto cleared = set_timeout(nullptr);
  ASSERT_EQ(cleared.status, 200u) << cleared.body;
  EXPECT_EQ(cleared.json()["timeout_ms"], 30000);
  EXPECT_TRUE(cleared.json()["timeout_override_ms"].is_null());
  auto now_fine = anonymous().get("/v1/plugins/sleeper/sleep?ms=1000");
  EXPECT_EQ(now_fine.status, 200u) << now_fine.body;
}

TEST_F(PluginDeadlinesTest, TheDeadlineSettingIsValidatedAndNeedsTheAdminKey) {
  EXPECT_TRUE(IsProblem(set_timeout(0), 400, "plugin.timeout_invalid"));
  EXPECT_TRUE(IsProblem(set_timeout(300001), 400, "plugin.timeout_invalid"));
  EXPECT_TRUE(IsProblem(set_timeout("fast"), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/plugins/sleeper", {{"timeout", 5}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/plugins/nobody", {{"timeout_ms", 100}}), 404, "plugin.not_found"));
  EXPECT_EQ(anonymous().patch("/v1/admin/plugins/sleeper", {{"timeout_ms", 100}}).status, 401u);
  // Nothing changed.
  EXPECT_EQ(admin().get("/v1/admin/plugins/sleeper").json()["timeout_ms"], 30000);
}

TEST_F(PluginDefaultDeadlineTest, TheServerDefaultDeadlineApplies) {
  auto start = Clock::now();
  auto slow = anonymous().get("/v1/plugins/sleeper/sleep?ms=5000");
  double took = ms_since(start);
  EXPECT_TRUE(IsProblem(slow, 504, "plugin_timeout"));
  EXPECT_GE(took, 650.0);
  EXPECT_LT(took, 2500.0);
  auto shown = admin().get("/v1/admin/plugins/sleeper").json();
  EXPECT_EQ(shown["timeout_ms"], 700);
  EXPECT_TRUE(shown["timeout_override_ms"].is_null());
}

TEST_F(PluginDeadlinesTest, APluginHoldingTooManyStuckCallsIsRefusedAtOnce) {
  ASSERT_EQ(set_timeout(300).status, 200u);
  // Four calls past their deadline: each keeps its thread, and the pool replaces it.
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/sleeper/hang"), 504, "plugin_timeout"));
  auto start = Clock::now();
  auto refused = anonymous().get("/v1/plugins/sleeper/ok");
  EXPECT_TRUE(IsProblem(refused, 503, "plugin_busy"));
  EXPECT_LT(ms_since(start), 1000.0);
  auto text = metrics();
  EXPECT_EQ(metric(text, "quanqu_plugin_stuck_calls", "sleeper"), 4) << text;
  EXPECT_EQ(metric(text, "quanqu_plugin_busy_total", "sleeper"), 1) << text;
  EXPECT_EQ(metric(text, "quanqu_plugin_timeouts_total", "sleeper"), 4) << text;
  // The core does not care.
  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
}

TEST_F(PluginDeadlinesTest, AnEventHandlerPastItsDeadlineIsCountedLoggedAndSkippedUntilItReturns) {
  ASSERT_EQ(set_timeout(500).status, 200u);
  EXPECT_EQ(anonymous().post("/v1/plugins/sleeper/nap?ms=2500", json::object()).status, 202u);
  auto shown = [&] { return admin().get("/v1/admin/plugins/sleeper").json(); };
  ASSERT_TRUE(eventually([&] { return shown()["timeouts"] == 1; }));
  EXPECT_EQ(shown()["event_errors"], 1);
  EXPECT_TRUE(eventually([&] {
    auto out = server().output();
    return out.find("\"call\":\"event\"") != std::string::npos &&
           out.find("\"msg\":\"plugin event handler failed\"") != std::string::npos;
  }));
  // While it still sleeps, the plugin's next event is skipped (its handlers never overlap).
  EXPECT_EQ(anonymous().post("/v1/plugins/sleeper/nap?ms=0", json::object()).status, 202u);
  ASSERT_TRUE(eventually([&] { return shown()["event_errors"] == 2; }));
  EXPECT_EQ(shown()["timeouts"], 1);
  // Once it returned, events flow again.
  ASSERT_TRUE(eventually([&] { return shown()["stuck_calls"] == 0; }, 5000ms));
  EXPECT_EQ(anonymous().post("/v1/plugins/sleeper/nap?ms=0", json::object()).status, 202u);
  EXPECT_TRUE(eventually([&] { return anonymous().get("/v1/plugins/sleeper/naps").json()["naps"] == 2; }));
  EXPECT_EQ(shown()["event_errors"], 2);
  EXPECT_GE(metric(metrics(), "quanqu_plugin_timeouts_total", "sleeper"), 1);
}

TEST_F(PluginDeadlinesTest, AProviderThatHangsAtCheckoutIsA504AndWritesNoOrderAndNoReservation) {
  std::string key = sleepy_storefront_key();
  ASSERT_FALSE(key.empty());
  HttpClient shop = storefront(key);
  ASSERT_EQ(set_timeout(800).status, 200u);

  auto cart_id = new_cart(shop);
  auto session = shop.post("/v1/store/carts/" + cart_id + "/payment-sessions", {{"provider", "sleepy-pay"}});
  ASSERT_EQ(session.status, 201u) << session.body;
  std::int64_t reserved_before = reserved();

  auto start = Clock::now();
  auto order = checkout(shop, cart_id, "sleepy-checkout-1");
  double took = ms_since(start);
  EXPECT_TRUE(IsProblem(order, 504, "plugin_timeout"));
  EXPECT_EQ(order.json()["details"]["provider"], "sleepy-pay");
  EXPECT_LT(took, 3000.0);

  EXPECT_EQ(reserved(), reserved_before);
  auto orders = admin().get("/v1/admin/orders");
  ASSERT_EQ(orders.status, 200u) << orders.body;
  EXPECT_TRUE(orders.json()["items"].empty()) << orders.body;
  EXPECT_EQ(shop.get("/v1/store/carts/" + cart_id).json()["status"], "open");
}

// Checkouts that wait on a provider wait off the io threads: with both io threads' worth of
// checkouts hanging on "sleepy-pay", every other route answers at once.
TEST_F(PluginDeadlinesTest, CheckoutsWaitingOnAHangingProviderDoNotHoldTheIoThreads) {
  std::string key = sleepy_storefront_key();
  ASSERT_FALSE(key.empty());
  HttpClient shop = storefront(key);
  ASSERT_EQ(set_timeout(4000).status, 200u);
  std::vector<std::unique_ptr<std::thread>> hanging;
  std::vector<HttpResponse> answers(3);
  for (int i = 0; i < 3; ++i) {  // more than the two io threads
    auto cart_id = new_cart(shop);
    ASSERT_EQ(shop.post("/v1/store/carts/" + cart_id + "/payment-sessions", {{"provider", "sleepy-pay"}}).status, 201u);
    hanging.push_back(std::make_unique<std::thread>([&, i, cart_id] {
      HttpClient buyer = storefront(key);
      buyer.set_timeout(30s);
      answers[i] = checkout(buyer, cart_id, "hanging-" + std::to_string(i));
    }));
  }
  std::this_thread::sleep_for(500ms);  // all three wait on the provider by now

  HttpClient quick = storefront(server().publishable_key());
  quick.set_timeout(3s);
  auto start = Clock::now();
  EXPECT_EQ(quick.get("/healthz").status, 200u);
  EXPECT_EQ(quick.get("/v1/store/products?limit=5").status, 200u);
  EXPECT_EQ(admin().get("/v1/admin/plugins/sleeper").status, 200u);
  EXPECT_LT(ms_since(start), 2000.0);  // not behind the 4 s deadline
  auto text = metrics();
  EXPECT_NE(text.find("quanqu_http_requests_waiting_on_plugins 3"), std::string::npos) << text;

  for (auto& t : hanging) t->join();
  for (const auto& a : answers) EXPECT_TRUE(IsProblem(a, 504, "plugin_timeout"));
}

TEST_F(PluginDeadlinesTest, SigtermWithACallStuckPastItsDeadlineExitsAtOnceNamingThePlugin) {
  ASSERT_EQ(set_timeout(300).status, 200u);
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/sleeper/hang"), 504, "plugin_timeout"));
  auto start = Clock::now();
  int code = server().stop();
  EXPECT_LT(ms_since(start), 4000.0);
  EXPECT_EQ(code, 1);
  auto out = server().output();
  EXPECT_NE(out.find("\"msg\":\"plugin calls still running at exit\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"plugin\":\"sleeper\""), std::string::npos);
}

TEST_F(PluginDeadlinesTest, SigtermWithAPluginRouteInFlightEndsWithinTheGracePeriod) {
  // The default deadline (30 s) is far beyond the grace period (2 s).
  Background hanging(anonymous(), "/v1/plugins/sleeper/hang");
  std::this_thread::sleep_for(300ms);
  auto start = Clock::now();
  int code = server().stop();
  double took = ms_since(start);
  EXPECT_GE(took, 1500.0);
  EXPECT_LT(took, 5000.0);
  EXPECT_EQ(code, 1);
  auto out = server().output();
  EXPECT_NE(out.find("\"msg\":\"shutdown grace period over; abandoning the requests still in flight\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"msg\":\"plugin calls still running at exit\""), std::string::npos);
}

// The sleeper and the recorder (which records every event) sharing a pool of two plugin threads.
class PluginEventQueueTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_SLEEPER).parent_path(), "sleeper");
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_RECORDER).parent_path(), "recorder");
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override {
    auto args = plugins_dir_.args();
    args.insert(args.end(), {"--plugin-threads", "2", "--plugin-timeout-ms", "30000", "--rate-limit-open", "0"});
    return args;
  }
  std::size_t recorded(const std::string& type) {
    json events = anonymous().get("/v1/plugins/recorder/events").json()["events"];
    std::size_t n = 0;
    for (const auto& e : events)
      if (e.value("type", "") == type) ++n;
    return n;
  }
  // True once this server's relay dispatched every event it wrote (/metrics).
  bool dispatched_all() {
    std::string text = anonymous().get("/metrics").body;
    auto sample = [&](const std::string& name) {
      auto at = text.find("\n" + name + " ");
      return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
    };
    double published = sample("quanqu_events_published_total");
    return published >= 0 && sample("quanqu_events_dispatched_total") >= published;
  }
  PluginsDir plugins_dir_;
};

// An event handler that never ran, because the pool stayed full past its deadline, does not
// leave the plugin marked as running one: its next events are delivered.
TEST_F(PluginEventQueueTest, AnEventTimedOutInTheQueueDoesNotStopThePluginsNextEvents) {
  // The events written at start (the demo shop's stock) reach the plugins first: let them pass.
  ASSERT_TRUE(eventually([&] { return dispatched_all(); }, 20000ms));
  ASSERT_EQ(admin().patch("/v1/admin/plugins/recorder", {{"timeout_ms", 300}}).status, 200u);
  {
    // Both plugin threads busy for 2 s, within the sleeper's 30 s deadline.
    Background first(anonymous(), "/v1/plugins/sleeper/sleep?ms=2000");
    Background second(anonymous(), "/v1/plugins/sleeper/sleep?ms=2000");
    std::this_thread::sleep_for(400ms);
    ASSERT_EQ(store().post("/v1/store/carts", json::object()).status, 201u);  // cart.updated
    ASSERT_TRUE(eventually([&] { return admin().get("/v1/admin/plugins/recorder").json()["timeouts"] == 1; }));
  }
  EXPECT_EQ(recorded("cart.updated"), 0u);
  ASSERT_EQ(store().post("/v1/store/carts", json::object()).status, 201u);
  EXPECT_TRUE(eventually([&] { return recorded("cart.updated") == 1; }));
  auto shown = admin().get("/v1/admin/plugins/recorder").json();
  EXPECT_EQ(shown["event_errors"], 1) << shown;  // the timed-out one only, none skipped
}

}  // namespace
