// End to end: cart and order metadata and source, from a storefront, a plugin and the merchant, into orders and events.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"
#include "support/webhook_receiver.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;
using quanqu::e2e::WebhookReceiver;
using namespace std::chrono_literals;

const char* kSku = "TEE-ORGANIC-NAVY-M";
using quanqu::e2e::kAddress;
const std::string kPassword = "plum blossom 1987";

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// The fields a validation problem names, in order.
std::vector<std::string> error_fields(const HttpResponse& r) {
  std::vector<std::string> out;
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors"))
    for (const auto& e : j["errors"]) out.push_back(e.value("field", ""));
  return out;
}

// A webhook receiver for every event, and the recorder fixture, whose routes call host services.
class MetadataTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_RECORDER).parent_path(), "recorder");
    E2ETest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto hook = admin().post("/v1/admin/webhooks", {{"url", receiver.url()}, {"event_types", {"*"}}});
    ASSERT_EQ(hook.status, 201u) << hook.body;
  }

  std::vector<std::string> extra_args() const override {
    std::vector<std::string> args = plugins_dir_.args();
    // In process: the recorder hears the demo's stock events quickly enough to reach the test's own.
    for (const char* a : {"--plugin-isolation", "in_process", "--webhook-allow-hosts", "127.0.0.1",
                          "--webhook-retry-base-ms", "200", "--webhook-retry-max-ms", "1000"})
      args.push_back(a);
    return args;
  }

  // Signs up and signs in; returns {customer id, token}.
  std::pair<std::string, std::string> sign_up(const std::string& email) {
    auto made = store().post("/v1/store/customers", {{"email", email}, {"password", kPassword}, {"name", "Li Lei"}});
    EXPECT_EQ(made.status, 201u) << made.body;
    auto token = store().post("/v1/store/auth/token", {{"email", email}, {"password", kPassword}});
    EXPECT_EQ(token.status, 200u) << token.body;
    return {made.json().value("id", ""), token.json().value("token", "")};
  }

  // The first webhook body of event `type` whose data satisfies `match`, waiting up to 30 s.
  json event(const std::string& type, const std::function<bool(const json&)>& match = {}) {
    for (int i = 0; i < 300; ++i) {
      for (const auto& r : receiver.received()) {
        json body = json::parse(r.body, nullptr, false);
        if (body.is_object() && body.value("type", "") == type && (!match || match(body["data"]))) return body;
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "no " << type << " event arrived";
    return json::object();
  }

  // How many webhook bodies of event `type` arrived so far.
  std::size_t count(const std::string& type) {
    std::size_t n = 0;
    for (const auto& r : receiver.received())
      if (json::parse(r.body, nullptr, false).value("type", "") == type) ++n;
    return n;
  }

  // A host service called by the recorder plugin (POST /v1/plugins/recorder/call/<operation>).
  HttpResponse call(const std::string& operation, const json& args) {
    return store().post("/v1/plugins/recorder/call/" + operation, args);
  }

  std::string channel_id() { return admin().get("/v1/admin/channels/web").json().value("id", ""); }

  WebhookReceiver receiver;
  PluginsDir plugins_dir_;
};

TEST_F(MetadataTest, AStorefrontsMetadataAndSourceReachTheOrderAndItsEvents) {
  auto [customer, token] = sign_up("meta@example.cn");
  json metadata{{"utm_source", "wechat"}, {"gift_wrap", true}, {"visits", 3}};
  json source{{"campaign", "spring-sale"}, {"referral", "ref_8f2k"}};
  auto made = store().post("/v1/store/carts",
                           {{"shipping_address", kAddress},
                            {"items", {{{"sku", kSku}, {"quantity", 2}}}},
                            {"metadata", metadata},
                            {"source", source}},
                           bearer(token));
  ASSERT_EQ(made.status, 201u) << made.body;
  json cart = made.json();
  std::string cart_id = cart["id"];
  EXPECT_EQ(cart["customer_id"], customer);
  EXPECT_EQ(cart["metadata"], metadata);
  EXPECT_EQ(cart["source"], (json{{"plugin", nullptr}, {"campaign", "spring-sale"}, {"referral", "ref_8f2k"}}));

  // A guest cart has no customer, empty metadata and no source.
  auto guest = store().post("/v1/store/carts", json::object());
  ASSERT_EQ(guest.status, 201u) << guest.body;
  EXPECT_EQ(guest.json()["customer_id"], nullptr);
  EXPECT_EQ(guest.json()["metadata"], json::object());
  EXPECT_EQ(guest.json()["source"], nullptr);

  // A shipping method chosen first survives a change of metadata alone.
  auto options = store().get("/v1/store/carts/" + cart_id + "/shipping-options", bearer(token));
  ASSERT_EQ(options.status, 200u) << options.body;
  bool chose = false;
  if (!options.json().value("items", json::array()).empty()) {
    std::string provider = options.json()["items"][0].value("provider", "");
    auto chosen = store().post("/v1/store/carts/" + cart_id + "/shipping-method", {{"provider", provider}}, bearer(token));
    chose = chosen.status == 200u;
  }

  // PATCH merges: a key set, a key removed with null, the others kept.
  auto patched = store().patch("/v1/store/carts/" + cart_id,
                               {{"metadata", {{"gift_wrap", nullptr}, {"note", "请包装好"}}}}, bearer(token));
  ASSERT_EQ(patched.status, 200u) << patched.body;
  json merged{{"utm_source", "wechat"}, {"visits", 3}, {"note", "请包装好"}};
  EXPECT_EQ(patched.json()["metadata"], merged);
  EXPECT_EQ(patched.json()["source"]["campaign"], "spring-sale");
  if (chose) {
    EXPECT_NE(patched.json()["shipping"], nullptr) << "metadata alone dropped the shipping method";
  }

  auto placed = store().request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::nullopt,
                                {{"Authorization", "Bearer " + token}, {"Idempotency-Key", "meta-1"}});
  ASSERT_EQ(placed.status, 201u) << placed.body;
  json order = placed.json();
  std::string order_id = order["id"];
  EXPECT_EQ(order["customer_id"], customer);
  EXPECT_EQ(order["metadata"], merged);
  EXPECT_EQ(order["source"]["referral"], "ref_8f2k");

  // The shopper and the merchant see the same.
  auto mine = store().get("/v1/store/orders/" + order_id, {{"X-Order-Token", order.value("access_token", "")}});
  ASSERT_EQ(mine.status, 200u) << mine.body;
  EXPECT_EQ(mine.json()["metadata"], merged);
  EXPECT_EQ(mine.json()["source"]["campaign"], "spring-sale");
  auto theirs = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(theirs.status, 200u) << theirs.body;
  EXPECT_EQ(theirs.json()["metadata"], merged);
  EXPECT_EQ(theirs.json()["customer_id"], customer);
  EXPECT_EQ(theirs.json()["source"]["referral"], "ref_8f2k");

  // order.placed carries the lines, channel, customer, metadata and source.
  json placed_event = event("order.placed", [&](const json& d) { return d.value("order_id", "") == order_id; });
  json data = placed_event["data"];
  EXPECT_EQ(data["channel_id"], channel_id());
  EXPECT_EQ(data["customer_id"], customer);
  EXPECT_EQ(data["metadata"], merged);
  EXPECT_EQ(data["source"], (json{{"plugin", nullptr}, {"campaign", "spring-sale"}, {"referral", "ref_8f2k"}}));
  EXPECT_EQ(data["currency"], "CNY");
  ASSERT_EQ(data["lines"].size(), 1u) << data.dump();
  json line = data["lines"][0];
  json order_line = order["lines"][0];
  EXPECT_EQ(line["sku"], kSku);
  EXPECT_EQ(line["variant_id"], order_line["variant_id"]);
  EXPECT_EQ(line["quantity"], 2);
  EXPECT_EQ(line["unit_price"]["currency"], "CNY");
  EXPECT_EQ(line["unit_price"]["amount"], order_line["unit_price"]["amount"]);
  EXPECT_EQ(line["total"]["amount"], order_line["total"]["amount"]);
  EXPECT_EQ(data["total"], order["totals"]["total"]);

  // inventory.changed names the SKU and location, and the availability after the reservation.
  json reserved = event("inventory.changed", [&](const json& d) { return d.value("reference", "") == order_id; });
  ASSERT_EQ(reserved["data"]["reason"], "reserve");
  ASSERT_FALSE(reserved["data"]["levels"].empty());
  json level = reserved["data"]["levels"][0];
  EXPECT_EQ(level["sku"], kSku);
  EXPECT_EQ(level["quantity"], 2);
  auto levels = admin().get("/v1/admin/inventory-levels?sku=" + std::string(kSku) + "&location_id=" +
                            level.value("location_id", ""));
  ASSERT_EQ(levels.status, 200u) << levels.body;
  ASSERT_EQ(levels.json()["items"].size(), 1u) << levels.body;
  EXPECT_EQ(level["available"], levels.json()["items"][0]["available"]);
  EXPECT_EQ(level["reserved"], levels.json()["items"][0]["reserved"]);

  // The merchant adds a key: order.updated, in the timeline and as an event.
  auto updated = admin().patch("/v1/admin/orders/" + order_id, {{"metadata", {{"erp_ref", "SO-2026-0042"}}}});
  ASSERT_EQ(updated.status, 200u) << updated.body;
  EXPECT_EQ(updated.json()["metadata"]["erp_ref"], "SO-2026-0042");
  EXPECT_EQ(updated.json()["metadata"]["utm_source"], "wechat");
  json changed = event("order.updated", [&](const json& d) { return d.value("order_id", "") == order_id; });
  EXPECT_EQ(changed["data"]["metadata"]["erp_ref"], "SO-2026-0042");
  EXPECT_EQ(changed["data"]["changed"], json::array({"metadata"}));
  auto timeline = admin().get("/v1/admin/orders/" + order_id + "/timeline");
  ASSERT_EQ(timeline.status, 200u) << timeline.body;
  bool recorded = false;
  json items = timeline.json()["items"];
  for (const auto& e : items)
    if (e["type"] == "order.updated") recorded = e["data"]["metadata_keys"] == json::array({"erp_ref"});
  EXPECT_TRUE(recorded) << timeline.body;

  // Cancelling: order.cancelled carries the lines and metadata too, inventory.changed the release.
  ASSERT_EQ(admin().post("/v1/admin/orders/" + order_id + "/cancel", json::object()).status, 200u);
  json cancelled = event("order.cancelled", [&](const json& d) { return d.value("order_id", "") == order_id; });
  EXPECT_EQ(cancelled["data"]["lines"][0]["sku"], kSku);
  EXPECT_EQ(cancelled["data"]["metadata"]["erp_ref"], "SO-2026-0042");
  json released = event("inventory.changed", [&](const json& d) {
    return d.value("reference", "") == order_id && d.value("reason", "") == "release";
  });
  EXPECT_EQ(released["data"]["levels"][0]["sku"], kSku);
  EXPECT_TRUE(released["data"]["levels"][0]["available"].is_number_integer());
}

TEST_F(MetadataTest, HostileMetadataAndSourceAreRefusedAndChangeNothing) {
  auto bad_create = [&](const json& body, const std::string& field) {
    auto r = store().post("/v1/store/carts", body);
    EXPECT_TRUE(IsProblem(r, 400, "validation_failed")) << body.dump();
    std::vector<std::string> fields = error_fields(r);
    EXPECT_NE(std::find(fields.begin(), fields.end(), field), fields.end()) << field << " not named: " << r.body;
  };
  json fifty_one = json::object();
  for (int i = 0; i < 51; ++i) fifty_one["k" + std::to_string(i)] = i;
  json heavy = json::object();
  for (int i = 0; i < 20; ++i) heavy["k" + std::to_string(i)] = std::string(500, 'x');
  json deep = json::object();
  json* at = &deep;
  for (int i = 0; i < 30; ++i) at = &((*at)["d"] = json::object());

  bad_create({{"metadata", "text"}}, "metadata");
  bad_create({{"metadata", json::array({1})}}, "metadata");
  bad_create({{"metadata", nullptr}}, "metadata");
  bad_create({{"metadata", {{"nested", {{"a", 1}}}}}}, "metadata/nested");
  bad_create({{"metadata", {{"list", json::array({"a"})}}}}, "metadata/list");
  bad_create({{"metadata", {{"deep", deep}}}}, "metadata/deep");
  bad_create({{"metadata", {{"has space", "x"}}}}, "metadata");
  bad_create({{"metadata", {{std::string(41, 'k'), "x"}}}}, "metadata");
  bad_create({{"metadata", {{"note", std::string(501, 'x')}}}}, "metadata/note");
  bad_create({{"metadata", fifty_one}}, "metadata");
  bad_create({{"metadata", heavy}}, "metadata");
  bad_create({{"source", "web"}}, "source");
  bad_create({{"source", {{"campaign", std::string(65, 'c')}}}}, "source/campaign");
  bad_create({{"source", {{"campaign", ""}}}}, "source/campaign");
  bad_create({{"source", {{"referral", "a\x07" "b"}}}}, "source/referral");
  bad_create({{"source", {{"channel", "x"}}}}, "source/channel");
  bad_create({{"source", {{"campaign", 7}}}}, "source/campaign");

  // None of those made a cart: the next cart.updated event is the first.
  auto made = store().post("/v1/store/carts", {{"metadata", {{"a", 1}}}, {"source", {{"campaign", "c"}}}});
  ASSERT_EQ(made.status, 201u) << made.body;
  std::string cart_id = made.json()["id"];
  event("cart.updated", [&](const json& d) { return d.value("cart_id", "") == cart_id; });
  EXPECT_EQ(count("cart.updated"), 1u);

  // A patch past the bounds of the result (40 keys + 11 new) changes nothing, not even other fields.
  json forty = json::object();
  for (int i = 0; i < 40; ++i) forty["k" + std::to_string(i)] = i;
  ASSERT_EQ(store().patch("/v1/store/carts/" + cart_id, {{"metadata", forty}}).status, 200u);
  json before = store().get("/v1/store/carts/" + cart_id).json();
  json eleven = json::object();
  for (int i = 0; i < 11; ++i) eleven["n" + std::to_string(i)] = i;
  auto over = store().patch("/v1/store/carts/" + cart_id, {{"email", "x@example.cn"}, {"metadata", eleven}});
  EXPECT_TRUE(IsProblem(over, 400, "validation_failed"));
  EXPECT_EQ(error_fields(over), std::vector<std::string>{"metadata"});
  auto bad_source = store().patch("/v1/store/carts/" + cart_id,
                                  {{"metadata", {{"fine", 1}}}, {"source", {{"plugin", std::string(65, 'p')}}}});
  EXPECT_TRUE(IsProblem(bad_source, 400, "validation_failed"));
  json after = store().get("/v1/store/carts/" + cart_id).json();
  EXPECT_EQ(after, before);

  // The merchant's patch of an order is held to the same rules.
  ASSERT_EQ(store().patch("/v1/store/carts/" + cart_id, {{"email", "x@example.cn"}, {"shipping_address", kAddress}}).status,
            200u);
  ASSERT_EQ(store().post("/v1/store/carts/" + cart_id + "/items", {{"sku", kSku}, {"quantity", 1}}).status, 200u);
  auto placed = store().request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::nullopt,
                                {{"Idempotency-Key", "meta-hostile"}});
  ASSERT_EQ(placed.status, 201u) << placed.body;
  std::string order_id = placed.json()["id"];
  json order_before = admin().get("/v1/admin/orders/" + order_id).json();
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/orders/" + order_id, json::object()), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/orders/" + order_id, {{"metadata", {{"x", {{"y", 1}}}}}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/orders/" + order_id, {{"metadata", eleven}, {"status", "paid"}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/orders/" + order_id, {{"metadata", eleven}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/orders/order_nope", {{"metadata", {{"a", 1}}}}), 404, "order.not_found"));
  EXPECT_EQ(admin().get("/v1/admin/orders/" + order_id).json(), order_before);
  EXPECT_TRUE(IsProblem(store().patch("/v1/admin/orders/" + order_id, {{"metadata", {{"a", 1}}}}), 401,
                        "auth.admin_key_missing"));
}

TEST_F(MetadataTest, APluginSetsMetadataAndItsOwnSourceThroughTheHost) {
  std::string channel = channel_id();
  // A plugin's cart names the plugin, said or not; another plugin's name is refused.
  auto made = call("carts.create", {{"channel_id", channel},
                                    {"email", "plugin@example.cn"},
                                    {"shipping_address", kAddress},
                                    {"items", {{{"sku", kSku}, {"quantity", 1}}}},
                                    {"metadata", {{"share_id", "sh_1"}}},
                                    {"source", {{"referral", "ref_9"}}}});
  ASSERT_EQ(made.status, 200u) << made.body;
  EXPECT_EQ(made.json()["source"], (json{{"plugin", "recorder"}, {"campaign", nullptr}, {"referral", "ref_9"}}));
  EXPECT_EQ(made.json()["metadata"], (json{{"share_id", "sh_1"}}));
  std::string cart_id = made.json()["id"];
  auto plain = call("carts.create", {{"channel_id", channel}});
  ASSERT_EQ(plain.status, 200u) << plain.body;
  EXPECT_EQ(plain.json()["source"]["plugin"], "recorder");
  auto posing = call("carts.create", {{"channel_id", channel}, {"source", {{"plugin", "social"}}}});
  EXPECT_TRUE(IsProblem(posing, 400, "validation_failed"));
  EXPECT_EQ(error_fields(posing), std::vector<std::string>{"source/plugin"});
  auto oversized = call("carts.update", {{"channel_id", channel}, {"cart_id", cart_id},
                                         {"metadata", {{"note", std::string(501, 'x')}}}});
  EXPECT_TRUE(IsProblem(oversized, 400, "validation_failed"));

  // A storefront's cart attributed to another plugin keeps that plugin's source.
  auto theirs = store().post("/v1/store/carts", {{"source", {{"plugin", "social"}, {"referral", "ref_s"}}}});
  ASSERT_EQ(theirs.status, 201u) << theirs.body;
  std::string their_id = theirs.json()["id"];
  EXPECT_TRUE(IsProblem(call("carts.update", {{"channel_id", channel}, {"cart_id", their_id}, {"source", nullptr}}), 409,
                        "cart.source_owned"));
  EXPECT_TRUE(IsProblem(call("carts.update", {{"channel_id", channel}, {"cart_id", their_id},
                                              {"source", {{"campaign", "mine"}}}}),
                        409, "cart.source_owned"));
  auto meta_only = call("carts.update", {{"channel_id", channel}, {"cart_id", their_id}, {"metadata", {{"seen", true}}}});
  ASSERT_EQ(meta_only.status, 200u) << meta_only.body;
  EXPECT_EQ(meta_only.json()["source"]["plugin"], "social");
  EXPECT_EQ(meta_only.json()["metadata"]["seen"], true);

  // Its own cart it may update; the order takes both, and the plugin may add metadata later.
  auto own = call("carts.update", {{"channel_id", channel}, {"cart_id", cart_id}, {"source", {{"campaign", "c2"}}}});
  ASSERT_EQ(own.status, 200u) << own.body;
  EXPECT_EQ(own.json()["source"], (json{{"plugin", "recorder"}, {"campaign", "c2"}, {"referral", nullptr}}));
  auto placed = call("orders.create_from_cart", {{"channel_id", channel}, {"cart_id", cart_id}, {"idempotency_key", "m1"}});
  ASSERT_EQ(placed.status, 200u) << placed.body;
  json order = placed.json()["order"];
  std::string order_id = order["id"];
  EXPECT_EQ(order["source"]["plugin"], "recorder");
  EXPECT_EQ(order["metadata"], (json{{"share_id", "sh_1"}}));
  EXPECT_EQ(order["customer_id"], nullptr);
  auto added = call("orders.update", {{"id", order_id}, {"metadata", {{"commission_bp", 500}}}});
  ASSERT_EQ(added.status, 200u) << added.body;
  EXPECT_EQ(added.json()["metadata"], (json{{"share_id", "sh_1"}, {"commission_bp", 500}}));
  EXPECT_TRUE(IsProblem(call("orders.update", {{"id", order_id}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(call("orders.update", {{"id", order_id}, {"metadata", {{"a", json::array()}}}}), 400,
                        "validation_failed"));
  json placed_event = event("order.placed", [&](const json& d) { return d.value("order_id", "") == order_id; });
  EXPECT_EQ(placed_event["data"]["source"]["plugin"], "recorder");
  EXPECT_EQ(placed_event["data"]["channel_id"], channel);
  json updated_event = event("order.updated", [&](const json& d) { return d.value("order_id", "") == order_id; });
  EXPECT_EQ(updated_event["data"]["metadata"]["commission_bp"], 500);
  auto timeline = admin().get("/v1/admin/orders/" + order_id + "/timeline").json();
  ASSERT_FALSE(timeline["items"].empty()) << timeline.dump();
  EXPECT_EQ(timeline["items"].back()["type"], "order.updated");
  EXPECT_EQ(timeline["items"].back()["actor"], (json{{"type", "plugin"}, {"id", "recorder"}}));

  // The plugin hears the events too, with the same data.
  json heard;
  for (int i = 0; i < 300 && heard.is_null(); ++i) {
    json events = anonymous().get("/v1/plugins/recorder/events").json()["events"];
    for (const auto& e : events)
      if (e["type"] == "order.placed" && e["data"]["order_id"] == order_id) heard = e;
    if (heard.is_null()) std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(heard.is_null());
  EXPECT_EQ(heard["data"]["metadata"], (json{{"share_id", "sh_1"}}));
  EXPECT_EQ(heard["data"]["lines"][0]["sku"], kSku);
}

TEST_F(MetadataTest, ASignedInShoppersGuestAttributionCarriesOver) {
  auto [customer, token] = sign_up("merge@example.cn");
  // The customer already has a cart with a key of their own.
  auto mine = store().get("/v1/store/customers/me/cart", bearer(token));
  ASSERT_EQ(mine.status, 200u) << mine.body;
  std::string my_cart = mine.json()["cart"]["id"];
  ASSERT_EQ(store().patch("/v1/store/carts/" + my_cart, {{"metadata", {{"lang", "zh"}}}}, bearer(token)).status, 200u);
  auto guest = store().post("/v1/store/carts", {{"metadata", {{"lang", "en"}, {"utm_source", "weibo"}}},
                                                {"source", {{"referral", "ref_g"}}}});
  ASSERT_EQ(guest.status, 201u) << guest.body;
  // Signing in with the guest cart merges it into the customer's.
  auto merged = store().post("/v1/store/auth/token",
                             {{"email", "merge@example.cn"}, {"password", kPassword}, {"cart_id", guest.json()["id"]}});
  ASSERT_EQ(merged.status, 200u) << merged.body;
  json cart = merged.json()["cart"]["cart"];
  EXPECT_EQ(cart["id"], my_cart);
  EXPECT_EQ(cart["customer_id"], customer);
  EXPECT_EQ(cart["metadata"], (json{{"lang", "zh"}, {"utm_source", "weibo"}}));
  EXPECT_EQ(cart["source"]["referral"], "ref_g");
}

}  // namespace
