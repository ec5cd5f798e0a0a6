// Plugins against the real server: events to subscribers, core-service calls, channel config, reload under load.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;
using quanqu::e2e::Headers;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A demo SKU with stock in the demo warehouse (core/demo/demo_seed.cpp: 20..200 there).
const std::string kSku = "TEE-ORGANIC-NAVY-M";
using quanqu::e2e::kAddress;

// Polls `done` every 50 ms until it holds or `deadline` has passed; returns its last answer.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds deadline = 5000ms) {
  auto until = Clock::now() + deadline;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// The first item of `list` whose `key` is `value`, or null.
json named_by(const json& list, const std::string& key, const std::string& value) {
  for (const auto& p : list)
    if (p.value(key, "") == value) return p;
  return nullptr;
}
json named(const json& list, const std::string& name) {
  return named_by(list, "name", name);
}

// The first recorded event of `type` for which `match` holds, or null.
json find_event(const json& events, const std::string& type, const std::function<bool(const json&)>& match = {}) {
  for (const auto& e : events)
    if (e.value("type", "") == type && (!match || match(e))) return e;
  return nullptr;
}

// The value of a metric sample line `name{plugin="<plugin>"} <value>`, or -1 when absent.
double metric(const std::string& text, const std::string& name, const std::string& plugin) {
  std::string head = name + "{plugin=\"" + plugin + "\"} ";
  for (std::size_t at = text.find(head); at != std::string::npos; at = text.find(head, at + 1))
    if (at == 0 || text[at - 1] == '\n') return std::strtod(text.c_str() + at + head.size(), nullptr);
  return -1;
}

// Starts the server with a private --plugins-dir holding copies of the fixture plugin directories
// that plugins() names (library path -> directory name in the plugins dir).
class PluginRuntimeBase : public E2ETest {
 protected:
  virtual std::vector<std::pair<std::string, std::string>> plugins() const = 0;

  void SetUp() override {
    for (const auto& [library, name] : plugins()) plugins_dir_.add(fs::path(library).parent_path(), name);
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override { return plugins_dir_.args(); }

  // Every event the recorder has stored, oldest first.
  json recorded_events() {
    auto r = anonymous().get("/v1/plugins/recorder/events");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.status == 200 ? r.json().at("events") : json::array();
  }

  // A cart of `quantity` x kSku on the demo channel, with email and address, checked out.
  json place_order(const std::string& idempotency_key, int quantity = 1) {
    auto cart = store().post("/v1/store/carts", {{"items", {{{"sku", kSku}, {"quantity", quantity}}}}});
    EXPECT_EQ(cart.status, 201u) << cart.body;
    std::string cart_id = cart.json().value("id", "");
    auto details =
        store().patch("/v1/store/carts/" + cart_id, {{"email", "li.lei@example.cn"}, {"shipping_address", kAddress}});
    EXPECT_EQ(details.status, 200u) << details.body;
    auto order = store().request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                                 {{"Idempotency-Key", idempotency_key}});
    EXPECT_EQ(order.status, 201u) << order.body;
    return order.status == 201 ? order.json() : json::object();
  }

  // Reserved units of kSku over every location.
  std::int64_t reserved_of(const std::string& sku) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + sku);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::int64_t reserved = 0;
    json levels = r.status == 200 ? r.json().at("items") : json::array();
    for (const auto& l : levels) reserved += l.value("reserved", 0);
    return reserved;
  }

  PluginsDir plugins_dir_;
};

class PluginRuntimeTest : public PluginRuntimeBase {
 protected:
  std::vector<std::pair<std::string, std::string>> plugins() const override {
    return {{QUANQU_FIXTURE_RECORDER, "recorder"}};
  }
};

class PluginRuntimeThrowerTest : public PluginRuntimeBase {
 protected:
  std::vector<std::pair<std::string, std::string>> plugins() const override {
    return {{QUANQU_FIXTURE_RECORDER, "recorder"}, {QUANQU_FIXTURE_EVENT_THROWER, "event-thrower"}};
  }
};

class PluginRuntimeReloadTest : public PluginRuntimeBase {
 protected:
  std::vector<std::pair<std::string, std::string>> plugins() const override {
    return {{QUANQU_FIXTURE_VERSIONED_V1, "versioned"}};
  }
  // Four clients on one address call a plugin route as fast as they can, like a benchmark: the
  // per-address limit of plugin routes is lifted so that the test measures the reload.
  std::vector<std::string> extra_args() const override {
    auto args = PluginRuntimeBase::extra_args();
    args.insert(args.end(), {"--rate-limit-open", "0"});
    return args;
  }
};

TEST_F(PluginRuntimeTest, AdminShowsTheRecordersProvidersAndSubscriptions) {
  auto r = admin().get("/v1/admin/plugins/recorder");
  ASSERT_EQ(r.status, 200u) << r.body;
  json p = r.json();
  EXPECT_EQ(p["status"], "loaded") << p.dump();
  EXPECT_EQ(p["version"], "1.0.0");
  EXPECT_EQ(p["generation"], 1);
  EXPECT_EQ(p["provides"], json::array({"routes", "event_subscriber", "channel_adapter"}));
  EXPECT_EQ(p["subscriptions"], json::array({"*"}));
  EXPECT_EQ(p["providers"], json::array({{{"kind", "channel_adapter"}, {"name", "recorder"}}}));
  std::set<std::string> routes;
  for (const auto& route : p["routes"]) routes.insert(route.value("method", "") + " " + route.value("path", ""));
  for (const char* expected :
       {"GET /v1/plugins/recorder/events", "GET /v1/plugins/recorder/configured/{channel_id}",
        "GET /v1/plugins/recorder/config/{channel_id}", "POST /v1/plugins/recorder/ping",
        "POST /v1/plugins/recorder/order", "GET /v1/plugins/recorder/customer", "POST /v1/plugins/recorder/customers",
        "POST /v1/plugins/recorder/identities", "POST /v1/plugins/recorder/identities/find"})
    EXPECT_TRUE(routes.count(expected)) << expected << " missing in " << p["routes"].dump();
  EXPECT_EQ(p["config_schema"]["required"], json::array({"greeting"}));
  EXPECT_EQ(p["errors"], 0);
  EXPECT_EQ(p["event_errors"], 0);

  // The list holds the same; an unknown name is a 404; both need the admin key.
  auto list = admin().get("/v1/admin/plugins");
  ASSERT_EQ(list.status, 200u) << list.body;
  EXPECT_EQ(named(list.json()["items"], "recorder")["providers"], p["providers"]);
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/plugins/nope"), 404, "plugin.not_found"));
  EXPECT_EQ(anonymous().get("/v1/admin/plugins/recorder").status, 401u);
}

TEST_F(PluginRuntimeTest, DomainEventsAndThePluginsOwnReachTheSubscriber) {
  // A cart with items, then email and address, checked out; cancelled by the merchant.
  json cancelled = place_order("runtime-events-1");
  ASSERT_FALSE(HasFailure());
  std::string cancelled_id = cancelled.value("id", ""), cart_id = cancelled.value("cart_id", "");
  auto cancel = admin().post("/v1/admin/orders/" + cancelled_id + "/cancel", {{"reason", "test"}});
  ASSERT_EQ(cancel.status, 200u) << cancel.body;

  // Another order, marked paid (the demo channel has no payment step).
  json paid = place_order("runtime-events-2");
  ASSERT_FALSE(HasFailure());
  std::string paid_id = paid.value("id", "");
  auto mark = admin().post("/v1/admin/orders/" + paid_id + "/mark-paid", json::object());
  ASSERT_EQ(mark.status, 200u) << mark.body;

  // The merchant sets stock by hand.
  auto locations = admin().get("/v1/admin/stock-locations");
  ASSERT_EQ(locations.status, 200u) << locations.body;
  ASSERT_FALSE(locations.json()["items"].empty());
  std::string location_id = locations.json()["items"][0].value("id", "");
  auto level =
      admin().put("/v1/admin/inventory-levels", {{"sku", kSku}, {"location_id", location_id}, {"on_hand", 77}});
  ASSERT_EQ(level.status, 200u) << level.body;

  // The plugin publishes an event of its own.
  auto ping = anonymous().post("/v1/plugins/recorder/ping", json::object());
  ASSERT_EQ(ping.status, 202u) << ping.body;

  auto for_order = [](const std::string& id) {
    return [id](const json& e) { return e["data"].value("order_id", "") == id; };
  };
  // The demo shop's stock, set at start, is in the outbox too (and reaches the plugin): ours is the 77.
  auto ours = [](const json& e) {
    return e["data"].value("reason", "") == "adjustment" && e["data"]["levels"].size() == 1 &&
           e["data"]["levels"][0].value("sku", "") == kSku && e["data"]["levels"][0].value("on_hand", 0) == 77;
  };
  json events;
  auto all_arrived = [&] {
    events = recorded_events();
    return !find_event(events, "cart.updated", [&](const json& e) { return e["data"].value("cart_id", "") == cart_id; })
                .is_null() &&
           !find_event(events, "order.placed", for_order(cancelled_id)).is_null() &&
           !find_event(events, "order.cancelled", for_order(cancelled_id)).is_null() &&
           !find_event(events, "order.placed", for_order(paid_id)).is_null() &&
           !find_event(events, "order.paid", for_order(paid_id)).is_null() &&
           !find_event(events, "inventory.changed", ours).is_null() &&
           !find_event(events, "recorder.pinged").is_null();
  };
  ASSERT_TRUE(eventually(all_arrived)) << "recorded so far: " << events.dump(1);

  // The facts arrive with the events.
  json placed = find_event(events, "order.placed", for_order(cancelled_id));
  EXPECT_EQ(placed["data"]["cart_id"], cart_id);
  EXPECT_EQ(placed["data"]["email"], "li.lei@example.cn");
  EXPECT_EQ(placed["data"]["total"], cancelled["totals"]["total"]);
  EXPECT_EQ(find_event(events, "order.cancelled", for_order(cancelled_id))["data"]["status"], "cancelled");
  json adjusted = find_event(events, "inventory.changed", ours);
  ASSERT_EQ(adjusted["data"]["levels"].size(), 1u) << adjusted.dump();
  EXPECT_EQ(adjusted["data"]["levels"][0]["sku"], kSku);
  EXPECT_EQ(adjusted["data"]["levels"][0]["location_id"], location_id);
  EXPECT_EQ(adjusted["data"]["levels"][0]["on_hand"], 77);
  // Checkout reserved stock, the cancel released it: both are inventory events too.
  EXPECT_FALSE(find_event(events, "inventory.changed", [](const json& e) {
                 return e["data"].value("reason", "") == "reserve";
               }).is_null());

  // Every event has its own id; order.placed of the first order came before its cancel.
  std::set<std::string> ids;
  std::size_t placed_at = 0, cancelled_at = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::string id = events[i].value("id", "");
    EXPECT_FALSE(id.empty()) << events[i].dump();
    EXPECT_TRUE(ids.insert(id).second) << "duplicate event id " << id;
    if (events[i]["type"] == "order.placed" && events[i]["data"].value("order_id", "") == cancelled_id) placed_at = i;
    if (events[i]["type"] == "order.cancelled" && events[i]["data"].value("order_id", "") == cancelled_id)
      cancelled_at = i;
  }
  EXPECT_LT(placed_at, cancelled_at);

  // Nothing failed on the way.
  auto info = admin().get("/v1/admin/plugins/recorder").json();
  EXPECT_EQ(info["errors"], 0);
  EXPECT_EQ(info["event_errors"], 0);
}

TEST_F(PluginRuntimeThrowerTest, AThrowingEventHandlerIsCountedAndContained) {
  auto listed = admin().get("/v1/admin/plugins/event-thrower");
  ASSERT_EQ(listed.status, 200u) << listed.body;
  EXPECT_EQ(listed.json()["status"], "loaded");
  EXPECT_EQ(listed.json()["subscriptions"], json::array({"order.*"}));

  json order = place_order("runtime-thrower-1");
  ASSERT_FALSE(HasFailure());
  std::string order_id = order.value("id", "");

  // The server keeps answering, and counts the failure against the plugin.
  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
  json thrower;
  ASSERT_TRUE(eventually([&] {
    auto r = admin().get("/v1/admin/plugins");
    if (r.status != 200) return false;
    thrower = named(r.json()["items"], "event-thrower");
    return thrower.is_object() && thrower.value("event_errors", 0) >= 1 && thrower.value("errors", 0) >= 1;
  })) << "event-thrower: "
      << thrower.dump();
  EXPECT_EQ(thrower["status"], "loaded");

  auto metrics = anonymous().get("/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_GE(metric(metrics.body, "quanqu_plugin_errors_total", "event-thrower"), 1.0) << metrics.body;
  EXPECT_EQ(metric(metrics.body, "quanqu_plugin_errors_total", "recorder"), 0.0) << metrics.body;
  // The log line is written by the server's batched logger and read by the harness's pipe thread:
  // it arrives shortly after the counters move.
  EXPECT_TRUE(eventually([&] { return server().output().find("listener exploded") != std::string::npos; }));

  // The other subscriber still got the event, and the order is intact.
  json events;
  EXPECT_TRUE(eventually([&] {
    events = recorded_events();
    return !find_event(events, "order.placed", [&](const json& e) {
              return e["data"].value("order_id", "") == order_id;
            }).is_null();
  })) << events.dump(1);
  auto read = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(read.status, 200u) << read.body;
  EXPECT_EQ(read.json()["status"], "placed");
  EXPECT_EQ(admin().get("/v1/admin/plugins/recorder").json()["event_errors"], 0);

  // A second order is another failure, and still no harm.
  place_order("runtime-thrower-2");
  EXPECT_TRUE(eventually([&] {
    return admin().get("/v1/admin/plugins/event-thrower").json().value("event_errors", 0) >
           thrower.value("event_errors", 0);
  }));
}

TEST_F(PluginRuntimeTest, CatalogProductsReadsAListOfIdsInOneHostCall) {
  auto page = store().get("/v1/store/products?limit=8");
  ASSERT_EQ(page.status, 200u) << page.body;
  json expected = page.json()["items"];
  ASSERT_EQ(expected.size(), 8u);
  // Asked by id and by handle, in an order of its own, with two that name nothing.
  json ids = json::array();
  for (int i = 7; i >= 0; --i) ids.push_back(i % 2 ? expected[i]["id"] : expected[i]["handle"]);
  ids.push_back("prod_nothing_here");
  ids.push_back("no-such-handle");
  auto batch = store().post("/v1/plugins/recorder/products", {{"ids", ids}});
  ASSERT_EQ(batch.status, 200u) << batch.body;
  json got = batch.json();
  ASSERT_EQ(got["items"].size(), 8u) << batch.body;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got["items"][i], expected[7 - i]) << "the store route and the host call differ";
  EXPECT_EQ(got["missing"], (json{"prod_nothing_here", "no-such-handle"}));

  // Without a channel: the admin view, with every price.
  auto admin_view = anonymous().post("/v1/plugins/recorder/products", {{"ids", {expected[0]["id"]}}});
  ASSERT_EQ(admin_view.status, 200u) << admin_view.body;
  EXPECT_TRUE(admin_view.json()["items"][0]["variants"][0].contains("prices")) << admin_view.body;

  // Bounded and checked like the API.
  json too_many = json::array();
  for (int i = 0; i < 101; ++i) too_many.push_back("prod_" + std::to_string(i));
  EXPECT_TRUE(IsProblem(store().post("/v1/plugins/recorder/products", {{"ids", too_many}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(store().post("/v1/plugins/recorder/products", {{"ids", json::array()}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(store().post("/v1/plugins/recorder/products", {{"ids", {"a", "a"}}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(store().post("/v1/plugins/recorder/products", {{"ids", {"a"}}, {"limit", 5}}), 400,
                        "validation_failed"));
}

TEST_F(PluginRuntimeTest, ProtectedRoutesNeedTheAdminKeyOrAKeyIssuedForThePlugin) {
  // The routes say who may call them.
  json routes = admin().get("/v1/admin/plugins/recorder").json()["routes"];
  std::map<std::string, std::string> access;
  for (const auto& r : routes) access[r.value("method", "") + " " + r.value("path", "")] = r.value("access", "");
  EXPECT_EQ(access["GET /v1/plugins/recorder/merchant/stats"], "merchant");
  EXPECT_EQ(access["POST /v1/plugins/recorder/admin/reset"], "admin");
  EXPECT_EQ(access["GET /v1/plugins/recorder/open/echo-auth"], "open");

  // Without a key, or with a storefront's, the server refuses before the plugin runs.
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/recorder/merchant/stats"), 401, "auth.merchant_key_required"));
  EXPECT_TRUE(IsProblem(store().get("/v1/plugins/recorder/merchant/stats"), 401, "auth.merchant_key_required"));
  EXPECT_TRUE(IsProblem(anonymous().post("/v1/plugins/recorder/admin/reset", json::object()), 401,
                        "auth.admin_key_required"));
  Headers wrong{{"Authorization", "Bearer qq_admin_not_a_real_key_0000000000000000"}};
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/recorder/merchant/stats", wrong), 401,
                        "auth.merchant_key_required"));

  // The admin key opens both, and the plugin never sees it.
  auto stats = admin().get("/v1/plugins/recorder/merchant/stats");
  ASSERT_EQ(stats.status, 200u) << stats.body;
  EXPECT_EQ(stats.json()["saw_authorization"], false);
  auto reset = admin().post("/v1/plugins/recorder/admin/reset", json::object());
  ASSERT_EQ(reset.status, 200u) << reset.body;
  EXPECT_EQ(reset.json()["saw_authorization"], false);
  EXPECT_EQ(admin().get("/v1/plugins/recorder/open/echo-auth").json()["saw_authorization"], false);
  // A bearer token of the plugin's own passes through to it.
  EXPECT_EQ(anonymous().get("/v1/plugins/recorder/open/echo-auth", {{"Authorization", "Bearer partner-token"}})
                .json()["saw_authorization"],
            true);

  // A merchant key for the plugin: merchant routes only, and only this plugin's.
  auto issued = admin().post("/v1/admin/plugins/recorder/keys", {{"label", "Studio tablet"}});
  ASSERT_EQ(issued.status, 201u) << issued.body;
  std::string secret = issued.json().value("key", "");
  std::string key_id = issued.json().value("id", "");
  ASSERT_EQ(secret.rfind("qq_plugin_", 0), 0u) << issued.body;
  EXPECT_EQ(issued.header("Location"), "/v1/admin/plugins/recorder/keys/" + key_id);
  Headers merchant{{"Authorization", "Bearer " + secret}};
  auto opened = anonymous().get("/v1/plugins/recorder/merchant/stats", merchant);
  ASSERT_EQ(opened.status, 200u) << opened.body;
  EXPECT_EQ(opened.json()["saw_authorization"], false);
  EXPECT_TRUE(IsProblem(anonymous().post("/v1/plugins/recorder/admin/reset", json::object(), merchant), 401,
                        "auth.admin_key_required"));
  EXPECT_EQ(anonymous().get("/v1/admin/orders", merchant).status, 401u) << "a plugin key is not an admin key";
  json listed = admin().get("/v1/admin/plugins/recorder/keys").json()["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["label"], "Studio tablet");
  EXPECT_FALSE(listed[0].contains("key")) << "the secret is shown once";
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/plugins/no-such/keys"), 404, "plugin.not_found"));

  // Revoked, it stops at once.
  ASSERT_EQ(admin().request("DELETE", "/v1/admin/plugins/recorder/keys/" + key_id).status, 204u);
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/recorder/merchant/stats", merchant), 401,
                        "auth.merchant_key_required"));
}

TEST_F(PluginRuntimeTest, RoutesCallTheCoreServices) {
  std::int64_t reserved_before = reserved_of(kSku);

  // An order through the plugin, on the channel of the publishable key.
  auto made = store().post("/v1/plugins/recorder/order", {{"sku", kSku}, {"quantity", 2}, {"email", "mei@example.cn"}});
  ASSERT_EQ(made.status, 201u) << made.body;
  json result = made.json();
  EXPECT_EQ(result["replayed"], false);
  EXPECT_FALSE(result.value("access_token", "").empty());
  std::string order_id = result["order"].value("id", "");
  ASSERT_FALSE(order_id.empty()) << made.body;

  auto read = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(read.status, 200u) << read.body;
  json order = read.json();
  EXPECT_EQ(order["status"], "placed");
  EXPECT_EQ(order["email"], "mei@example.cn");
  EXPECT_EQ(order["shipping_address"]["city"], "Shanghai");
  ASSERT_EQ(order["lines"].size(), 1u) << read.body;
  EXPECT_EQ(order["lines"][0]["sku"], kSku);
  EXPECT_EQ(order["lines"][0]["quantity"], 2);
  std::int64_t allocated = 0;
  for (const auto& a : order["allocations"]) allocated += a.value("quantity", 0);
  EXPECT_EQ(allocated, 2) << read.body;
  EXPECT_EQ(reserved_of(kSku), reserved_before + 2);
  // The order belongs to the key's channel.
  auto channels = admin().get("/v1/admin/channels");
  ASSERT_EQ(channels.status, 200u);
  json web = named_by(channels.json().at("items"), "code", "web");
  EXPECT_EQ(order["channel_id"], web["id"]);

  // The plugin needs the channel; it answers that itself.
  EXPECT_TRUE(IsProblem(anonymous().post("/v1/plugins/recorder/order", {{"sku", kSku}, {"quantity", 1}}), 401,
                        "recorder.channel_required"));

  // An unknown SKU: the plugin repeats the core's refusal, as the store API gives it.
  auto core = store().post("/v1/store/carts", {{"email", "mei@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", "NO-SUCH-SKU"}, {"quantity", 1}}}}});
  ASSERT_GE(core.status, 400u) << core.body;
  ASSERT_LT(core.status, 500u) << core.body;
  std::string core_code = core.json().value("code", "");
  auto refused = store().post("/v1/plugins/recorder/order",
                              {{"sku", "NO-SUCH-SKU"}, {"quantity", 1}, {"email", "mei@example.cn"}});
  EXPECT_TRUE(IsProblem(refused, core.status, core_code)) << "the core said " << core.body;
  std::set<std::string> core_fields, plugin_fields;
  for (const auto& e : core.json().value("errors", json::array())) core_fields.insert(e.value("field", ""));
  for (const auto& e : refused.json().value("errors", json::array())) plugin_fields.insert(e.value("field", ""));
  EXPECT_EQ(plugin_fields, core_fields) << "core: " << core.body << "\nplugin: " << refused.body;
  EXPECT_EQ(reserved_of(kSku), reserved_before + 2);

  // Customers: created through the plugin, signed in with the token it got.
  auto customer = anonymous().post("/v1/plugins/recorder/customers", {{"email", "wei@example.cn"}});
  ASSERT_EQ(customer.status, 201u) << customer.body;
  std::string token = customer.json().value("token", ""), customer_id = customer.json().value("customer_id", "");
  ASSERT_FALSE(token.empty());
  ASSERT_FALSE(customer_id.empty());
  auto me = anonymous().get("/v1/plugins/recorder/customer", {{"X-Customer-Token", token}});
  ASSERT_EQ(me.status, 200u) << me.body;
  EXPECT_EQ(me.json()["customer_id"], customer_id);
  auto nobody = anonymous().get("/v1/plugins/recorder/customer");
  ASSERT_EQ(nobody.status, 200u) << nobody.body;
  EXPECT_EQ(nobody.json()["customer_id"], "");
  EXPECT_TRUE(IsProblem(
      anonymous().get("/v1/plugins/recorder/customer", {{"X-Customer-Token", "qq_cust_not_a_real_token_at_all"}}), 401,
      "auth.customer_token_invalid"));
  // The same email again is the same customer.
  auto again = anonymous().post("/v1/plugins/recorder/customers", {{"email", "wei@example.cn"}});
  ASSERT_EQ(again.status, 201u) << again.body;
  EXPECT_EQ(again.json()["customer_id"], customer_id);
  // A bad email is the core's 400, through the plugin.
  auto bad_email = anonymous().post("/v1/plugins/recorder/customers", {{"email", "not-an-email"}});
  EXPECT_EQ(bad_email.status, 400u) << bad_email.body;
}

TEST_F(PluginRuntimeTest, ChannelConfigIsValidatedRedactedAndGivenToThePlugin) {
  auto field_names = [](const HttpResponse& r) {
    std::set<std::string> out;
    for (const auto& e : r.json().value("errors", json::array())) out.insert(e.value("field", ""));
    return out;
  };
  json base{{"code", "mp"}, {"type", "mini_program"}, {"currency", "CNY"}, {"plugin", "recorder"}};

  // Every problem of the config in one reply: the missing required property, the out-of-range
  // one, the one the schema does not allow.
  json bad = base;
  bad["config"] = {{"limit", 99}, {"extra", 1}};
  auto refused = admin().post("/v1/admin/channels", bad);
  ASSERT_TRUE(IsProblem(refused, 400, "validation_failed"));
  EXPECT_EQ(field_names(refused), (std::set<std::string>{"config.greeting", "config.limit", "config.extra"}))
      << refused.body;

  json no_plugin = base;
  no_plugin["plugin"] = "nope";
  no_plugin["config"] = {{"greeting", "hi"}};
  auto unknown = admin().post("/v1/admin/channels", no_plugin);
  ASSERT_TRUE(IsProblem(unknown, 400, "validation_failed"));
  EXPECT_EQ(field_names(unknown), std::set<std::string>{"plugin"}) << unknown.body;

  json no_provider = base;
  no_provider["config"] = {{"greeting", "hi"}};
  no_provider["payment_providers"] = {"nope"};
  auto provider = admin().post("/v1/admin/channels", no_provider);
  ASSERT_TRUE(IsProblem(provider, 400, "validation_failed"));
  EXPECT_EQ(field_names(provider), std::set<std::string>{"payment_providers/0"}) << provider.body;

  // None of those made a channel.
  auto listed = admin().get("/v1/admin/channels");
  ASSERT_EQ(listed.status, 200u);
  json channels = listed.json().at("items");
  EXPECT_TRUE(named_by(channels, "code", "mp").is_null()) << listed.body;

  // A good config: defaults filled in, the secret redacted in replies, the plugin told.
  json good = base;
  good["config"] = {{"greeting", "hi"}, {"token", "s3cret"}};
  auto created = admin().post("/v1/admin/channels", good);
  ASSERT_EQ(created.status, 201u) << created.body;
  json channel = created.json();
  std::string id = channel.value("id", "");
  EXPECT_EQ(channel["plugin"], "recorder");
  EXPECT_EQ(channel["config"], (json{{"greeting", "hi"}, {"limit", 5}, {"token", "********"}})) << created.body;
  EXPECT_EQ(created.body.find("s3cret"), std::string::npos);
  auto shown = admin().get("/v1/admin/channels/" + id);
  ASSERT_EQ(shown.status, 200u);
  EXPECT_EQ(shown.json()["config"], channel["config"]);
  EXPECT_EQ(shown.body.find("s3cret"), std::string::npos);

  const json full{{"greeting", "hi"}, {"limit", 5}, {"token", "s3cret"}};
  HttpResponse configured;
  EXPECT_TRUE(eventually(
      [&] {
        configured = anonymous().get("/v1/plugins/recorder/configured/" + id);
        return configured.status == 200 && configured.json() == full;
      },
      2000ms))
      << configured.status << " " << configured.body;
  auto config = anonymous().get("/v1/plugins/recorder/config/" + id);
  ASSERT_EQ(config.status, 200u) << config.body;
  EXPECT_EQ(config.json(), full);
  // Channels that do not use the plugin have no config for it.
  json web = named_by(channels, "code", "web");
  ASSERT_TRUE(web.is_object()) << listed.body;
  EXPECT_EQ(anonymous().get("/v1/plugins/recorder/config/" + web["id"].get<std::string>()).status, 404u);
  EXPECT_EQ(anonymous().get("/v1/plugins/recorder/config/chan_unknown").status, 404u);

  // A new config: validated, stored, and the plugin is told.
  auto patched = admin().patch("/v1/admin/channels/" + id, {{"config", {{"greeting", "yo"}}}});
  ASSERT_EQ(patched.status, 200u) << patched.body;
  EXPECT_EQ(patched.json()["config"]["greeting"], "yo");
  EXPECT_EQ(patched.json()["config"]["limit"], 5);
  json now;
  EXPECT_TRUE(eventually(
      [&] {
        auto r = anonymous().get("/v1/plugins/recorder/configured/" + id);
        now = r.status == 200 ? r.json() : json(nullptr);
        return now.is_object() && now.value("greeting", "") == "yo";
      },
      2000ms))
      << now.dump();
  EXPECT_EQ(now["limit"], 5);
  // A PATCH replaces the config, but a secret (writeOnly) it leaves out keeps its stored value.
  EXPECT_EQ(now.value("token", ""), "s3cret") << now.dump();
  EXPECT_EQ(patched.json()["config"]["token"], "********");
  // Echoing the redacted value back does not overwrite the secret either; a new value does.
  auto echoed = admin().patch("/v1/admin/channels/" + id, {{"config", {{"greeting", "yo"}, {"token", "********"}}}});
  ASSERT_EQ(echoed.status, 200u) << echoed.body;
  EXPECT_EQ(anonymous().get("/v1/plugins/recorder/config/" + id).json().value("token", ""), "s3cret");
  auto config_now = anonymous().get("/v1/plugins/recorder/config/" + id);
  ASSERT_EQ(config_now.status, 200u) << config_now.body;
  EXPECT_EQ(config_now.json(), now);

  // A bad config is refused and changes nothing, neither in the channel nor in the plugin.
  auto too_long =
      admin().patch("/v1/admin/channels/" + id, {{"config", {{"greeting", std::string(21, 'x')}, {"limit", 0}}}});
  ASSERT_TRUE(IsProblem(too_long, 400, "validation_failed"));
  EXPECT_EQ(field_names(too_long), (std::set<std::string>{"config.greeting", "config.limit"})) << too_long.body;
  auto missing = admin().patch("/v1/admin/channels/" + id, {{"config", {{"limit", 3}}}});
  ASSERT_TRUE(IsProblem(missing, 400, "validation_failed"));
  EXPECT_EQ(field_names(missing), std::set<std::string>{"config.greeting"}) << missing.body;
  // The plugin (like code, type and currency) is fixed at creation, and the refusal says so.
  auto moved = admin().patch("/v1/admin/channels/" + id, {{"plugin", "crasher"}, {"currency", "USD"}});
  ASSERT_TRUE(IsProblem(moved, 400, "validation_failed"));
  EXPECT_EQ(field_names(moved), (std::set<std::string>{"plugin", "currency"})) << moved.body;
  EXPECT_NE(moved.body.find("plugin is fixed when the channel is created"), std::string::npos) << moved.body;
  auto after = admin().get("/v1/admin/channels/" + id);
  ASSERT_EQ(after.status, 200u);
  EXPECT_EQ(after.json()["plugin"], "recorder");
  EXPECT_EQ(after.json()["config"], patched.json()["config"]);
  EXPECT_EQ(anonymous().get("/v1/plugins/recorder/config/" + id).json(), now);
  EXPECT_EQ(anonymous().get("/v1/plugins/recorder/configured/" + id).json(), now);
}

TEST_F(PluginRuntimeReloadTest, AReloadUnderLoadSwitchesVersionsWithoutAFailedRequest) {
  auto first = anonymous().get("/v1/plugins/versioned/version");
  ASSERT_EQ(first.status, 200u) << first.body;
  ASSERT_EQ(first.json()["version"], "1.0.0");

  struct Reply {
    Clock::time_point started;
    unsigned status = 0;
    std::string version;
    std::string body;
  };
  struct Worker {
    std::vector<Reply> replies;
    int transport_errors = 0;
    std::string last_error;
    std::atomic<int> count{0};
  };
  constexpr int kThreads = 4;
  std::vector<Worker> workers(kThreads);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([this, &stop, w = &workers[i]] {
      HttpClient client = server().client();
      while (!stop.load()) {
        Reply reply;
        reply.started = Clock::now();
        try {
          auto r = client.get("/v1/plugins/versioned/version");
          reply.status = r.status;
          json body = json::parse(r.body, nullptr, false);
          reply.version = body.is_object() ? body.value("version", "") : "";
          if (r.status != 200) reply.body = r.body;
        } catch (const std::exception& e) {
          ++w->transport_errors;
          w->last_error = e.what();
          client.disconnect();
          continue;
        }
        w->replies.push_back(std::move(reply));
        w->count.fetch_add(1);
      }
    });
  auto total = [&] {
    int n = 0;
    for (auto& w : workers) n += w.count.load();
    return n;
  };
  auto stop_all = [&] {
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
  };

  // Load on version 1 for about 0.7 s (every client answered at least once).
  bool warmed = eventually(
      [&] {
        for (auto& w : workers)
          if (w.count.load() == 0) return false;
        return Clock::now() - t0 >= 700ms;
      },
      10000ms);
  if (!warmed) {
    stop_all();
    FAIL() << "the clients got no replies: " << workers[0].last_error;
  }

  // The new build replaces the files in the plugins directory, then the reload.
  fs::path v2_dir = fs::path(QUANQU_FIXTURE_VERSIONED_V2).parent_path();
  std::error_code ec;
  fs::copy_file(v2_dir / "versioned.so", plugins_dir_.path() / "versioned" / "versioned.so",
                fs::copy_options::overwrite_existing, ec);
  if (!ec)
    fs::copy_file(v2_dir / "plugin.json", plugins_dir_.path() / "versioned" / "plugin.json",
                  fs::copy_options::overwrite_existing, ec);
  if (ec) {
    stop_all();
    FAIL() << "cannot copy version 2: " << ec.message();
  }
  int before_reload = total();
  auto reloaded = admin().post("/v1/admin/plugins/versioned/reload", json::object());
  auto reload_done = Clock::now();

  // Load goes on to about 3 s in all, with enough requests started after the reload returned.
  eventually([&] { return Clock::now() - t0 >= 3000ms && total() - before_reload >= 100; }, 15000ms);
  stop_all();

  ASSERT_EQ(reloaded.status, 200u) << reloaded.body;
  json info = reloaded.json();
  EXPECT_EQ(info["version"], "2.0.0");
  EXPECT_EQ(info["generation"], 2);
  EXPECT_EQ(info["status"], "loaded");

  int non_200 = 0, transport_errors = 0, v1 = 0, v2_replies = 0, late = 0, late_v1 = 0;
  std::string example;
  for (const auto& w : workers) {
    transport_errors += w.transport_errors;
    if (w.transport_errors && example.empty()) example = "transport: " + w.last_error;
    for (const auto& r : w.replies) {
      if (r.status != 200) {
        ++non_200;
        if (example.empty()) example = std::to_string(r.status) + " " + r.body;
        continue;
      }
      if (r.version == "1.0.0") ++v1;
      if (r.version == "2.0.0") ++v2_replies;
      if (r.started >= reload_done) {
        ++late;
        if (r.version != "2.0.0") ++late_v1;
      }
    }
  }
  EXPECT_EQ(non_200, 0) << example;
  EXPECT_EQ(transport_errors, 0) << example;
  EXPECT_GT(v1, 0);
  EXPECT_GT(v2_replies, 0);
  EXPECT_GT(late, 0);
  EXPECT_EQ(late_v1, 0) << late_v1 << " of " << late << " requests started after the reload returned got version 1";
  EXPECT_EQ(v1 + v2_replies, total() - non_200) << "a 200 reply named neither version";

  // Nothing leaks: once the last request on it has returned, the old build is unloaded, so the
  // process that loads the plugin (the server, or its runner process under process isolation)
  // maps exactly one copy of the plugin's library (each generation loads its own copy).
  auto mapped_copies = [&] {
    json now = admin().get("/v1/admin/plugins/versioned").json();
    long long pid = now["runner_pid"].is_number() ? now["runner_pid"].get<long long>()
                                                  : static_cast<long long>(server().pid());
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::set<std::string> copies;
    for (std::string line; std::getline(maps, line);) {
      auto at = line.find("/versioned-");
      if (at != std::string::npos) copies.insert(line.substr(line.rfind('/', at)));
    }
    return copies;
  };
  std::set<std::string> copies;
  EXPECT_TRUE(eventually(
      [&] {
        copies = mapped_copies();
        return copies.size() == 1;
      },
      3000ms))
      << copies.size() << " copies of the plugin library are mapped";

  // The old build's stop ran and the plugin is on its second generation.
  auto shown = admin().get("/v1/admin/plugins/versioned");
  ASSERT_EQ(shown.status, 200u);
  EXPECT_EQ(shown.json()["version"], "2.0.0");
  EXPECT_EQ(shown.json()["generation"], 2);
  EXPECT_EQ(shown.json()["errors"], 0);

  // A broken manifest: the reload is refused and version 2 keeps serving.
  {
    std::ofstream broken(plugins_dir_.path() / "versioned" / "plugin.json", std::ios::trunc);
    broken << "{\"name\": \"versioned\", \"version\": ";
  }
  auto refused = admin().post("/v1/admin/plugins/versioned/reload", json::object());
  EXPECT_TRUE(IsProblem(refused, 422, "plugin.reload_failed"));
  auto still = anonymous().get("/v1/plugins/versioned/version");
  ASSERT_EQ(still.status, 200u) << still.body;
  EXPECT_EQ(still.json()["version"], "2.0.0");
  auto unchanged = admin().get("/v1/admin/plugins/versioned").json();
  EXPECT_EQ(unchanged["version"], "2.0.0");
  EXPECT_EQ(unchanged["generation"], 2);
  EXPECT_EQ(unchanged["status"], "loaded");

  // A library that is not the build its manifest names: refused too, before anything of it runs.
  fs::path v1_dir = fs::path(QUANQU_FIXTURE_VERSIONED_V1).parent_path();
  fs::copy_file(v2_dir / "plugin.json", plugins_dir_.path() / "versioned" / "plugin.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(v1_dir / "versioned.so", plugins_dir_.path() / "versioned" / "versioned.so",
                fs::copy_options::overwrite_existing);
  auto mismatched = admin().post("/v1/admin/plugins/versioned/reload", json::object());
  EXPECT_TRUE(IsProblem(mismatched, 422, "plugin.reload_failed"));
  EXPECT_NE(mismatched.body.find("1.0.0"), std::string::npos) << mismatched.body;
  EXPECT_EQ(anonymous().get("/v1/plugins/versioned/version").json()["version"], "2.0.0");

  // Fixed again: the next reload works and counts as the third generation.
  fs::copy_file(v2_dir / "versioned.so", plugins_dir_.path() / "versioned" / "versioned.so",
                fs::copy_options::overwrite_existing);
  auto fixed = admin().post("/v1/admin/plugins/versioned/reload", json::object());
  ASSERT_EQ(fixed.status, 200u) << fixed.body;
  EXPECT_EQ(fixed.json()["generation"], 3);
  EXPECT_EQ(anonymous().get("/v1/plugins/versioned/version").json()["version"], "2.0.0");

  // Unknown plugins cannot be reloaded.
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/plugins/nope/reload", json::object()), 404, "plugin.not_found"));
  EXPECT_EQ(anonymous().post("/v1/admin/plugins/versioned/reload", json::object()).status, 401u);
}

}  // namespace
