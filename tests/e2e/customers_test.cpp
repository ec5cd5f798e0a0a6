// End to end: one customer across channels: sign-up, sign-in and out, the token on every channel,
// /me with addresses and orders, ownership 404s, the sign-in rate limit, groups, identities, export and erasure.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;

using quanqu::e2e::kAddress;
const std::string kPassword = "plum blossom 1987";

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

class CustomersTest : public E2ETest {
 protected:
  // Signs up and signs in; returns {customer id, token}.
  std::pair<std::string, std::string> sign_up(const std::string& email, const std::string& name = "Li Lei") {
    auto made = store().post("/v1/store/customers", {{"email", email}, {"password", kPassword}, {"name", name}});
    EXPECT_EQ(made.status, 201u) << made.body;
    auto token = store().post("/v1/store/auth/token", {{"email", email}, {"password", kPassword}});
    EXPECT_EQ(token.status, 200u) << token.body;
    return {made.json().value("id", ""), token.json().value("token", "")};
  }

  // A second channel selling the demo tee from the demo web channel's locations; its publishable key.
  std::string second_channel(const std::string& code, const std::string& currency = "CNY") {
    json web = admin().get("/v1/admin/channels/web").json();
    auto c = admin().post("/v1/admin/channels", {{"code", code}, {"type", "mini_program"}, {"currency", currency},
                                                 {"tax_rate_bp", 1300}, {"tax_inclusive", true},
                                                 {"location_ids", web["location_ids"]}});
    EXPECT_EQ(c.status, 201u) << c.body;
    return open_storefront(c.json().value("id", ""), {"organic-cotton-tee"}, code);
  }

  // The SKU of an in-stock variant of a demo product other than the tee (the demo web channel sells it).
  std::string other_sku() {
    json page = store().get("/v1/store/products?limit=20").json();
    for (const auto& p : page["items"]) {
      if (p["handle"] == "organic-cotton-tee") continue;
      for (const auto& v : p["variants"])
        if (v.value("available_quantity", 0) >= 5) return v["sku"];
    }
    ADD_FAILURE() << "no other in-stock demo variant";
    return "";
  }

  // A cart with one tee, e-mail and address, checked out by `shop` (with `token` when not empty).
  json place_order(HttpClient& shop, const std::string& token, const std::string& idem) {
    Headers auth = token.empty() ? Headers{} : bearer(token);
    auto cart = shop.post("/v1/store/carts",
                          {{"shipping_address", kAddress}, {"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}},
                          auth);
    EXPECT_EQ(cart.status, 201u) << cart.body;
    std::string id = cart.json().value("id", "");
    if (token.empty()) {
      EXPECT_EQ(shop.patch("/v1/store/carts/" + id, {{"email", "guest@example.cn"}}).status, 200u);
    }
    Headers h = auth;
    h.push_back({"Idempotency-Key", idem});
    auto order = shop.request("POST", "/v1/store/carts/" + id + "/checkout", std::nullopt, h);
    EXPECT_EQ(order.status, 201u) << order.body;
    return order.json();
  }
};

TEST_F(CustomersTest, SignUpSignInAndSignOut) {
  auto made = store().post("/v1/store/customers",
                           {{"email", "Li.Lei@Example.cn"}, {"password", kPassword}, {"name", "Li Lei"}});
  ASSERT_EQ(made.status, 201u) << made.body;
  EXPECT_EQ(made.header("Location"), "/v1/store/customers/me");
  EXPECT_EQ(made.json()["email"], "li.lei@example.cn");
  EXPECT_EQ(made.body.find(kPassword), std::string::npos);

  // The e-mail is taken whatever its case; weak passwords are refused with the field named.
  EXPECT_TRUE(IsProblem(store().post("/v1/store/customers", {{"email", "LI.LEI@example.cn"}, {"password", kPassword}}),
                        409, "customer.email_taken"));
  auto common = store().post("/v1/store/customers", {{"email", "wei@example.cn"}, {"password", "Password1"}});
  EXPECT_TRUE(IsProblem(common, 400, "validation_failed"));
  EXPECT_NE(common.body.find("\"password\""), std::string::npos) << common.body;
  EXPECT_TRUE(IsProblem(store().post("/v1/store/customers", {{"email", "wei@example.cn"}, {"password", "short"}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(store().post("/v1/store/customers", {{"email", "wei@example.cn"}}), 400, "validation_failed"));

  // A wrong password and an unknown e-mail are the same refusal.
  auto wrong = store().post("/v1/store/auth/token", {{"email", "li.lei@example.cn"}, {"password", "not the password"}});
  auto unknown = store().post("/v1/store/auth/token", {{"email", "nobody@example.cn"}, {"password", kPassword}});
  EXPECT_TRUE(IsProblem(wrong, 401, "auth.invalid_credentials"));
  EXPECT_TRUE(IsProblem(unknown, 401, "auth.invalid_credentials"));
  EXPECT_EQ(wrong.json()["detail"], unknown.json()["detail"]);

  auto signed_in = store().post("/v1/store/auth/token", {{"email", "LI.LEI@example.cn"}, {"password", kPassword}});
  ASSERT_EQ(signed_in.status, 200u) << signed_in.body;
  std::string token = signed_in.json()["token"];
  EXPECT_EQ(token.rfind("qq_ct_", 0), 0u);
  EXPECT_EQ(signed_in.json()["token_type"], "Bearer");
  EXPECT_EQ(signed_in.json()["customer_id"], made.json()["id"]);

  auto me = store().get("/v1/store/customers/me", bearer(token));
  ASSERT_EQ(me.status, 200u) << me.body;
  EXPECT_EQ(me.json()["id"], made.json()["id"]);
  EXPECT_TRUE(me.json()["group_id"].is_null());
  auto patched = store().patch("/v1/store/customers/me", {{"name", "Lei Li"}, {"phone", "+86 138 0000 0000"}}, bearer(token));
  ASSERT_EQ(patched.status, 200u) << patched.body;
  EXPECT_EQ(patched.json()["name"], "Lei Li");
  EXPECT_TRUE(IsProblem(store().patch("/v1/store/customers/me", {{"email", "x@example.cn"}}, bearer(token)), 400,
                        "validation_failed"));

  // No token, a made-up one, an admin key: 401 with the store realm.
  auto none = store().get("/v1/store/customers/me");
  EXPECT_TRUE(IsProblem(none, 401, "auth.customer_token_missing"));
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"quanqu-store\"");
  EXPECT_TRUE(IsProblem(store().get("/v1/store/customers/me", bearer("qq_ct_000000000000000000000000")), 401,
                        "auth.customer_token_invalid"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/customers/me", bearer(server().admin_key())), 401,
                        "auth.customer_token_invalid"));
  // A customer token is not an admin key.
  HttpClient impostor = anonymous();
  EXPECT_TRUE(IsProblem(impostor.get("/v1/admin/orders", bearer(token)), 401, "auth.admin_key_invalid"));

  // Signing out revokes the token everywhere at once.
  EXPECT_EQ(store().del("/v1/store/auth/token", bearer(token)).status, 204u);
  EXPECT_TRUE(IsProblem(store().get("/v1/store/customers/me", bearer(token)), 401, "auth.customer_token_invalid"));
  EXPECT_TRUE(IsProblem(store().del("/v1/store/auth/token", bearer(token)), 401, "auth.customer_token_invalid"));
}

TEST_F(CustomersTest, OneTokenOnEveryChannelAndOrdersFromEveryChannel) {
  auto [id, token] = sign_up("mei@example.cn", "Han Mei");
  std::string mini_key = second_channel("mini");
  HttpClient mini = storefront(mini_key);

  // The same token signs the same customer in on both channels.
  EXPECT_EQ(store().get("/v1/store/customers/me", bearer(token)).json()["id"], id);
  EXPECT_EQ(mini.get("/v1/store/customers/me", bearer(token)).json()["id"], id);

  // A signed-in cart takes the customer's e-mail; orders from both channels are listed, newest first.
  json web_order = place_order(store(), token, "web-1");
  json mini_order = place_order(mini, token, "mini-1");
  json guest_order = place_order(store(), "", "guest-1");
  EXPECT_EQ(web_order["email"], "mei@example.cn");
  auto page = mini.get("/v1/store/customers/me/orders?limit=1", bearer(token));
  ASSERT_EQ(page.status, 200u) << page.body;
  ASSERT_EQ(page.json()["items"].size(), 1u);
  EXPECT_EQ(page.json()["items"][0]["id"], mini_order["id"]);
  std::string cursor = page.json()["next_cursor"];
  auto rest = store().get("/v1/store/customers/me/orders?limit=1&cursor=" + cursor, bearer(token));
  ASSERT_EQ(rest.status, 200u) << rest.body;
  ASSERT_EQ(rest.json()["items"].size(), 1u);
  EXPECT_EQ(rest.json()["items"][0]["id"], web_order["id"]);
  EXPECT_TRUE(rest.json()["next_cursor"].is_null());
  EXPECT_TRUE(IsProblem(store().get("/v1/store/customers/me/orders?cursor=bogus", bearer(token)), 400, "invalid_query"));
  (void)guest_order;
}

TEST_F(CustomersTest, ACustomerSeesOnlyTheirOwnCartsOrdersAndAddresses) {
  auto [a_id, a] = sign_up("a@example.cn", "A");
  auto [b_id, b] = sign_up("b@example.cn", "B");

  auto cart = store().post("/v1/store/carts", {{"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}}, bearer(a));
  ASSERT_EQ(cart.status, 201u) << cart.body;
  std::string id = cart.json()["id"], item = cart.json()["items"][0]["id"];
  std::string path = "/v1/store/carts/" + id;
  EXPECT_EQ(store().get(path, bearer(a)).status, 200u);

  // Another customer, or no customer at all: every cart route is a 404, and nothing changes.
  for (const Headers& who : {bearer(b), Headers{}}) {
    EXPECT_TRUE(IsProblem(store().get(path, who), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().patch(path, {{"email", "thief@example.cn"}}, who), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().post(path + "/items", {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}, who), 404,
                          "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().patch(path + "/items/" + item, {{"quantity", 3}}, who), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().del(path + "/items/" + item, who), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().get(path + "/shipping-options", who), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().get(path + "/payment-sessions", who), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().post(path + "/payment-sessions", {{"provider", "manual-payment"}}, who), 404,
                          "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().post(path + "/shipping-method", {{"provider", "local-delivery"}}, who), 404, "cart.not_found"));
    Headers h = who;
    h.push_back({"Idempotency-Key", "steal"});
    EXPECT_TRUE(IsProblem(store().request("POST", path + "/checkout", std::nullopt, h), 404, "cart.not_found"));
  }
  json still = store().get(path, bearer(a)).json();
  EXPECT_EQ(still["items"][0]["quantity"], 1);
  EXPECT_TRUE(still["email"] == "a@example.cn");

  // Addresses: B cannot read, change or delete A's.
  auto saved = store().post("/v1/store/customers/me/addresses", {{"address", kAddress}}, bearer(a));
  ASSERT_EQ(saved.status, 201u) << saved.body;
  std::string addr = "/v1/store/customers/me/addresses/" + saved.json()["id"].get<std::string>();
  EXPECT_TRUE(IsProblem(store().get(addr, bearer(b)), 404, "customer_address.not_found"));
  EXPECT_TRUE(IsProblem(store().patch(addr, {{"is_default", true}}, bearer(b)), 404, "customer_address.not_found"));
  EXPECT_TRUE(IsProblem(store().del(addr, bearer(b)), 404, "customer_address.not_found"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/customers/me/addresses/addr_nope", bearer(a)), 404,
                        "customer_address.not_found"));
  EXPECT_EQ(store().get(addr, bearer(a)).status, 200u);
  EXPECT_EQ(store().get("/v1/store/customers/me/addresses", bearer(b)).json()["items"].size(), 0u);

  // Orders: A's order is not in B's list, and B's token does not open it.
  ASSERT_EQ(store().patch(path, {{"shipping_address", kAddress}}, bearer(a)).status, 200u);
  Headers ha = bearer(a);
  ha.push_back({"Idempotency-Key", "a-1"});
  auto order = store().request("POST", path + "/checkout", std::nullopt, ha);
  ASSERT_EQ(order.status, 201u) << order.body;
  EXPECT_EQ(store().get("/v1/store/customers/me/orders", bearer(b)).json()["items"].size(), 0u);
  EXPECT_EQ(store().get("/v1/store/customers/me/orders", bearer(a)).json()["items"].size(), 1u);
  const std::string order_path = "/v1/store/orders/" + order.json()["id"].get<std::string>();
  EXPECT_TRUE(IsProblem(store().get(order_path, bearer(b)), 404, "order.not_found"));
  // Its owner reads it with the customer token alone; the order token still works for anyone.
  auto own = store().get(order_path, bearer(a));
  ASSERT_EQ(own.status, 200u) << own.body;
  EXPECT_EQ(own.json()["id"], order.json()["id"]);
  EXPECT_EQ(store().get(order_path, {{"X-Order-Token", order.json()["access_token"].get<std::string>()}}).status, 200u);
}

TEST_F(CustomersTest, AddressesHaveOneDefault) {
  auto [id, token] = sign_up("addr@example.cn");
  const std::string base = "/v1/store/customers/me/addresses";
  auto first = store().post(base, {{"address", kAddress}}, bearer(token));
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_EQ(first.json()["is_default"], true);
  EXPECT_EQ(first.header("Location"), base + "/" + first.json()["id"].get<std::string>());
  json office = kAddress;
  office["line1"] = "1 Century Avenue";
  auto second = store().post(base, {{"address", office}, {"is_default", true}}, bearer(token));
  ASSERT_EQ(second.status, 201u) << second.body;
  auto list = store().get(base, bearer(token)).json()["items"];
  ASSERT_EQ(list.size(), 2u);
  for (const auto& a : list) EXPECT_EQ(a["is_default"], a["id"] == second.json()["id"]) << list;

  std::string first_path = base + "/" + first.json()["id"].get<std::string>();
  std::string second_path = base + "/" + second.json()["id"].get<std::string>();
  auto moved = store().patch(first_path, {{"is_default", true}, {"address", office}}, bearer(token));
  ASSERT_EQ(moved.status, 200u) << moved.body;
  EXPECT_EQ(moved.json()["is_default"], true);
  EXPECT_EQ(moved.json()["address"]["line1"], "1 Century Avenue");
  EXPECT_TRUE(IsProblem(store().patch(first_path, {{"is_default", false}}, bearer(token)), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(store().post(base, {{"address", {{"line1", "x"}}}}, bearer(token)), 400, "validation_failed"));

  // Deleting the default makes the remaining one the default.
  EXPECT_EQ(store().del(first_path, bearer(token)).status, 204u);
  EXPECT_TRUE(IsProblem(store().get(first_path, bearer(token)), 404, "customer_address.not_found"));
  EXPECT_EQ(store().get(second_path, bearer(token)).json()["is_default"], true);
}

class CustomerSignInLimitTest : public CustomersTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--rate-limit-auth", "0.01:3"}; }
};

TEST_F(CustomerSignInLimitTest, FailedSignInsAreRateLimited) {
  auto made = store().post("/v1/store/customers", {{"email", "lim@example.cn"}, {"password", kPassword}});
  ASSERT_EQ(made.status, 201u) << made.body;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(IsProblem(store().post("/v1/store/auth/token", {{"email", "lim@example.cn"}, {"password", "wrong guess " + std::to_string(i)}}),
                          401, "auth.invalid_credentials"));
  // Refused before the password is checked: the right one too, and another e-mail from this address.
  auto limited = store().post("/v1/store/auth/token", {{"email", "lim@example.cn"}, {"password", kPassword}});
  EXPECT_TRUE(IsProblem(limited, 429, "rate_limited"));
  EXPECT_FALSE(limited.header("Retry-After").empty());
  EXPECT_TRUE(IsProblem(store().post("/v1/store/auth/token", {{"email", "other@example.cn"}, {"password", kPassword}}),
                        429, "rate_limited"));
}

TEST_F(CustomersTest, GroupsAreManagedAndAssigned) {
  auto [id, token] = sign_up("gold@example.cn");
  auto gold = admin().post("/v1/admin/customer-groups", {{"code", "gold"}, {"name", "Gold members"}});
  ASSERT_EQ(gold.status, 201u) << gold.body;
  std::string group = gold.json()["id"];
  EXPECT_EQ(gold.header("Location"), "/v1/admin/customer-groups/" + group);
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/customer-groups", {{"code", "gold"}, {"name", "Again"}}), 409,
                        "customer_group.code_taken"));
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/customer-groups", {{"code", "Not A Code"}, {"name", "x"}}), 400,
                        "validation_failed"));
  EXPECT_EQ(admin().patch("/v1/admin/customer-groups/" + group, {{"name", "Gold"}}).json()["name"], "Gold");
  EXPECT_EQ(admin().get("/v1/admin/customer-groups").json()["items"].size(), 1u);
  EXPECT_EQ(admin().get("/v1/admin/customer-groups/" + group).json()["code"], "gold");

  auto assigned = admin().patch("/v1/admin/customers/" + id, {{"group_id", group}});
  ASSERT_EQ(assigned.status, 200u) << assigned.body;
  EXPECT_EQ(assigned.json()["group_id"], group);
  EXPECT_EQ(store().get("/v1/store/customers/me", bearer(token)).json()["group_id"], group);
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/customers/" + id, {{"group_id", "cgrp_nope"}}), 422,
                        "customer_group.not_found"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/customers/cus_nope", {{"group_id", group}}), 404, "customer.not_found"));

  EXPECT_EQ(admin().del("/v1/admin/customer-groups/" + group).status, 204u);
  EXPECT_TRUE(admin().get("/v1/admin/customers/" + id).json()["group_id"].is_null());
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/customer-groups/" + group), 404, "customer_group.not_found"));
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/admin/customer-groups"), 401, "auth.admin_key_missing"));
}

TEST_F(CustomersTest, ExportAndEraseKeepTheMoney) {
  auto [id, token] = sign_up("erase.me@example.cn", "Erase Me");
  ASSERT_EQ(store().post("/v1/store/customers/me/addresses", {{"address", kAddress}}, bearer(token)).status, 201u);
  json order = place_order(store(), token, "erase-1");

  auto exported = admin().get("/v1/admin/customers/" + id + "/export");
  ASSERT_EQ(exported.status, 200u) << exported.body;
  json e = exported.json();
  EXPECT_EQ(e["customer"]["email"], "erase.me@example.cn");
  EXPECT_EQ(e["addresses"].size(), 1u);
  ASSERT_EQ(e["orders"].size(), 1u);
  EXPECT_EQ(e["orders"][0]["id"], order["id"]);
  EXPECT_EQ(e["carts"].size(), 1u);
  EXPECT_GE(e["sessions"].size(), 1u);
  EXPECT_EQ(exported.body.find(token), std::string::npos);

  auto erased = admin().post("/v1/admin/customers/" + id + "/erase", json::object());
  ASSERT_EQ(erased.status, 200u) << erased.body;
  EXPECT_EQ(erased.json()["email"], "erased+" + id + "@erased.invalid");
  EXPECT_EQ(erased.json()["name"], "");
  EXPECT_EQ(erased.json()["has_password"], false);

  // The person is gone; the order's money stays.
  json after = admin().get("/v1/admin/customers/" + id + "/export").json();
  EXPECT_EQ(after["addresses"].size(), 0u);
  EXPECT_EQ(after["sessions"].size(), 0u);
  auto kept = admin().get("/v1/admin/orders/" + order["id"].get<std::string>());
  ASSERT_EQ(kept.status, 200u) << kept.body;
  EXPECT_EQ(kept.json()["totals"], order["totals"]);
  EXPECT_EQ(kept.json()["email"], "erased+" + id + "@erased.invalid");
  EXPECT_EQ(kept.json()["shipping_address"]["line1"], "");
  EXPECT_EQ(kept.json()["shipping_address"]["country"], "CN");
  EXPECT_TRUE(IsProblem(store().get("/v1/store/customers/me", bearer(token)), 401, "auth.customer_token_invalid"));
  EXPECT_TRUE(IsProblem(store().post("/v1/store/auth/token", {{"email", "erase.me@example.cn"}, {"password", kPassword}}),
                        401, "auth.invalid_credentials"));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/customers/cus_nope/export"), 404, "customer.not_found"));
}

// Identities linked by a plugin through the host (the recorder fixture's routes call the host services).
class CustomerIdentityTest : public CustomersTest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_RECORDER).parent_path(), "recorder");
    CustomersTest::SetUp();
  }
  std::vector<std::string> extra_args() const override { return plugins_dir_.args(); }
  PluginsDir plugins_dir_;
};

TEST_F(CustomerIdentityTest, IdentitiesResolveToOneCustomerAndAreNotStolen) {
  auto [a, a_token] = sign_up("wei@example.cn", "Wei");
  auto [b, b_token] = sign_up("lan@example.cn", "Lan");
  auto link = [&](const std::string& customer, const std::string& type, const std::string& value) {
    return anonymous().post("/v1/plugins/recorder/identities",
                            {{"customer_id", customer}, {"type", type}, {"value", value}});
  };
  auto find = [&](const std::string& type, const std::string& value) {
    return anonymous().post("/v1/plugins/recorder/identities/find", {{"type", type}, {"value", value}});
  };
  auto linked = link(a, "mini_program.open_id", "oWx-123");
  ASSERT_EQ(linked.status, 201u) << linked.body;
  EXPECT_EQ(linked.json()["linked_by"], "plugin:recorder");
  EXPECT_EQ(link(a, "mini_program.union_id", "uWx-9").status, 201u);
  EXPECT_EQ(link(a, "mini_program.open_id", "oWx-123").status, 201u);  // again: no change

  // Every identity, and the e-mail, finds the same customer.
  EXPECT_EQ(find("mini_program.open_id", "oWx-123").json()["id"], a);
  EXPECT_EQ(find("mini_program.union_id", "uWx-9").json()["id"], a);
  EXPECT_EQ(find("email", "WEI@example.cn").json()["id"], a);
  EXPECT_EQ(find("mini_program.open_id", "unknown").status, 404u);

  // Another's identity, or another's e-mail, is refused.
  auto stolen = link(b, "mini_program.open_id", "oWx-123");
  EXPECT_EQ(stolen.status, 409u) << stolen.body;
  EXPECT_NE(stolen.body.find("customer.identity_taken"), std::string::npos) << stolen.body;
  EXPECT_EQ(link(b, "email", "wei@example.cn").status, 409u);
  EXPECT_EQ(link(b, "Bad Type", "x").status, 400u);

  auto admin_view = admin().get("/v1/admin/customers/" + a);
  ASSERT_EQ(admin_view.status, 200u) << admin_view.body;
  EXPECT_EQ(admin_view.json()["identities"].size(), 2u);
  // The store token is the plugin-route customer token too.
  auto me = anonymous().get("/v1/plugins/recorder/customer", {{"X-Customer-Token", a_token}});
  EXPECT_EQ(me.json()["customer_id"], a);
}

TEST_F(CustomersTest, TheCartFollowsTheCustomerAcrossChannels) {
  auto [id, token] = sign_up("follow@example.cn", "Follow");
  std::string mug = other_sku();
  HttpClient usd = storefront(second_channel("usd-mini", "USD"));  // sells only the tee, in USD

  // Opening the cart on the web channel creates it; lines go in through the cart routes.
  auto opened = store().get("/v1/store/customers/me/cart", bearer(token));
  ASSERT_EQ(opened.status, 200u) << opened.body;
  std::string cart = opened.json()["cart"]["id"];
  EXPECT_EQ(opened.json()["cart"]["currency"], "CNY");
  EXPECT_EQ(opened.json()["removed_items"], json::array());
  ASSERT_EQ(store().post("/v1/store/carts/" + cart + "/items", {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 2}}, bearer(token)).status, 200u);
  ASSERT_EQ(store().post("/v1/store/carts/" + cart + "/items", {{"sku", mug}, {"quantity", 1}}, bearer(token)).status, 200u);
  EXPECT_EQ(store().get("/v1/store/customers/me/cart", bearer(token)).json()["cart"]["id"], cart);

  // From the USD channel: the same cart, re-priced in USD, without the line that channel does not sell.
  auto moved = usd.get("/v1/store/customers/me/cart", bearer(token));
  ASSERT_EQ(moved.status, 200u) << moved.body;
  json m = moved.json();
  EXPECT_EQ(m["cart"]["id"], cart);
  EXPECT_EQ(m["cart"]["currency"], "USD");
  EXPECT_EQ(m["cart"]["totals"]["total"]["currency"], "USD");
  ASSERT_EQ(m["cart"]["items"].size(), 1u) << m;
  EXPECT_EQ(m["cart"]["items"][0]["sku"], "TEE-ORGANIC-NAVY-M");
  ASSERT_EQ(m["removed_items"].size(), 1u) << m;
  EXPECT_EQ(m["removed_items"][0]["sku"], mug);
  EXPECT_EQ(m["removed_items"][0]["reason"], "not_sold_on_channel");
  // It now lives on the USD channel: the web key no longer opens it by id, /me/cart brings it back.
  EXPECT_TRUE(IsProblem(store().get("/v1/store/carts/" + cart, bearer(token)), 404, "cart.not_found"));
  EXPECT_EQ(usd.get("/v1/store/carts/" + cart, bearer(token)).status, 200u);
  auto back = store().get("/v1/store/customers/me/cart", bearer(token));
  EXPECT_EQ(back.json()["cart"]["currency"], "CNY");
  EXPECT_EQ(back.json()["removed_items"], json::array());
}

TEST_F(CustomersTest, SigningInWithAGuestCartMergesIt) {
  auto [id, token] = sign_up("merge@example.cn", "Merge");
  // The customer's own cart holds one tee.
  std::string mine = store().get("/v1/store/customers/me/cart", bearer(token)).json()["cart"]["id"];
  ASSERT_EQ(store().post("/v1/store/carts/" + mine + "/items", {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}, bearer(token)).status, 200u);
  // A guest cart with two more tees and every available unit of another variant.
  std::string mug = other_sku();
  json tee = store().get("/v1/store/products/organic-cotton-tee").json();
  std::int64_t tee_available = 0;
  for (const auto& v : tee["variants"])
    if (v["sku"] == "TEE-ORGANIC-NAVY-M") tee_available = v["available_quantity"].get<std::int64_t>();
  ASSERT_GE(tee_available, 3);
  auto guest = store().post("/v1/store/carts", {{"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", tee_available}},
                                                           {{"sku", mug}, {"quantity", 1}}}}});
  ASSERT_EQ(guest.status, 201u) << guest.body;
  std::string guest_id = guest.json()["id"];

  auto signed_in = store().post("/v1/store/auth/token",
                                {{"email", "merge@example.cn"}, {"password", kPassword}, {"cart_id", guest_id}});
  ASSERT_EQ(signed_in.status, 200u) << signed_in.body;
  json merged = signed_in.json()["cart"];
  EXPECT_EQ(merged["cart"]["id"], mine);
  ASSERT_EQ(merged["cart"]["items"].size(), 2u) << merged;
  // 1 + all available tees is capped at what is available, and says so.
  ASSERT_EQ(merged["capped_items"].size(), 1u) << merged;
  EXPECT_EQ(merged["capped_items"][0]["sku"], "TEE-ORGANIC-NAVY-M");
  EXPECT_EQ(merged["capped_items"][0]["requested"], tee_available + 1);
  EXPECT_EQ(merged["capped_items"][0]["quantity"], tee_available);
  // The guest cart is spent: merged, and no longer the guest's.
  EXPECT_TRUE(IsProblem(store().get("/v1/store/carts/" + guest_id), 404, "cart.not_found"));
  EXPECT_EQ(store().get("/v1/store/carts/" + guest_id, bearer(signed_in.json()["token"].get<std::string>())).json()["status"], "merged");
  // It cannot be merged twice, and a refused merge signs nobody in.
  auto again = store().post("/v1/store/auth/token",
                            {{"email", "merge@example.cn"}, {"password", kPassword}, {"cart_id", guest_id}});
  EXPECT_TRUE(IsProblem(again, 404, "cart.not_found"));

  // A customer without a cart simply takes the guest cart over.
  auto [id2, token2] = sign_up("fresh@example.cn", "Fresh");
  auto guest2 = store().post("/v1/store/carts", {{"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}});
  std::string guest2_id = guest2.json()["id"];
  auto taken = store().post("/v1/store/auth/token",
                            {{"email", "fresh@example.cn"}, {"password", kPassword}, {"cart_id", guest2_id}});
  ASSERT_EQ(taken.status, 200u) << taken.body;
  EXPECT_EQ(taken.json()["cart"]["cart"]["id"], guest2_id);
  EXPECT_TRUE(IsProblem(store().get("/v1/store/carts/" + guest2_id), 404, "cart.not_found"));
  EXPECT_EQ(store().get("/v1/store/customers/me/cart", bearer(taken.json()["token"].get<std::string>())).json()["cart"]["id"], guest2_id);
}

}  // namespace
