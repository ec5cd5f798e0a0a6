// End to end: request input the API refuses before it costs work or reaches storage: bounded
// arrays and error lists, numbers and strings JSON allows but the engine cannot hold, non-JSON
// media types, repeated keys and headers, unknown ids, and other channels' resources.
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;

using quanqu::e2e::kAddress;
const char* kSku = "TEE-ORGANIC-NAVY-S";
const char* kHandle = "organic-cotton-tee";

// The `field` of every entry of the problem's `errors`, in order.
std::vector<std::string> error_fields(const HttpResponse& r) {
  std::vector<std::string> out;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("errors")) return out;
  for (const auto& e : j["errors"]) out.push_back(e.value("field", ""));
  return out;
}

class InputTest : public E2ETest {
 protected:
  json new_cart(HttpClient& client, const json& body) {
    auto r = client.post("/v1/store/carts", body);
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json();
  }

  json channels() {
    auto r = admin().get("/v1/admin/channels");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json()["items"];
  }

  std::string web_channel_id() {
    auto r = admin().get("/v1/admin/channels/web");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }

  std::string product_id(const std::string& handle) {
    auto r = admin().get("/v1/admin/products/" + handle);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }
};

// --- Item 2: bounded arrays, linear validation, capped error lists ----------------------------

TEST_F(InputTest, LongArraysAreOneErrorAndRepeatsAreReportedOnce) {
  const json before = channels();
  // 1,000 and 100,000 copies of one bad id: one error each, a small reply, fast.
  for (std::size_t n : {std::size_t{1000}, std::size_t{100000}}) {
    SCOPED_TRACE(n);
    json body{{"code", "many"},
              {"type", "web"},
              {"currency", "CNY"},
              {"location_ids", json(std::vector<std::string>(n, "x"))}};
    auto started = std::chrono::steady_clock::now();
    auto r = admin().post("/v1/admin/channels", body);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
    EXPECT_EQ(error_fields(r), std::vector<std::string>{"location_ids"}) << r.body.substr(0, 2000);
    EXPECT_LT(r.body.size(), 4096u);
    EXPECT_LT(took, std::chrono::seconds(5));
  }
  // Within the bound, a repeated id is one error at its second occurrence, and an unknown id
  // one error however often it is repeated.
  json locations = json::array();
  for (int i = 0; i < 100; ++i) locations.push_back("x");
  auto r = admin().post("/v1/admin/channels",
                        {{"code", "many"}, {"type", "web"}, {"currency", "CNY"}, {"location_ids", locations}});
  EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
  EXPECT_EQ(error_fields(r), std::vector<std::string>{"location_ids/1"}) << r.body;
  auto warehouse = admin().get("/v1/admin/stock-locations/warehouse-shanghai").json()["id"];
  r = admin().post("/v1/admin/channels", {{"code", "many"},
                                          {"type", "web"},
                                          {"currency", "CNY"},
                                          {"location_ids", {warehouse, "loc_nope", warehouse, "loc_nope", warehouse}},
                                          {"payment_providers", {"a", "a", "a"}}});
  EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
  std::vector<std::string> fields = error_fields(r);
  EXPECT_EQ(std::set<std::string>(fields.begin(), fields.end()),
            (std::set<std::string>{"location_ids/2", "location_ids/3", "payment_providers/1"}))
      << r.body;
  // The same on PATCH, and for every other id list.
  std::string web = web_channel_id();
  r = admin().patch("/v1/admin/channels/" + web, {{"location_ids", json(std::vector<std::string>(5000, "x"))}});
  EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
  EXPECT_EQ(error_fields(r), std::vector<std::string>{"location_ids"});
  r = admin().post("/v1/admin/channels/" + web + "/publish",
                   {{"product_ids", json(std::vector<std::string>(1001, "p"))}});
  EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
  EXPECT_EQ(error_fields(r), std::vector<std::string>{"product_ids"});
  r = admin().post("/v1/admin/products", {{"handle", "many"},
                                          {"title", "Many"},
                                          {"category_ids", json(std::vector<std::string>(51, "c"))},
                                          {"images", json(std::vector<json>(51, json::object()))},
                                          {"variants", json(std::vector<json>(101, json::object()))}});
  EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
  fields = error_fields(r);
  EXPECT_EQ(std::set<std::string>(fields.begin(), fields.end()),
            (std::set<std::string>{"category_ids", "images", "variants"}))
      << r.body;
  auto cart =
      store().post("/v1/store/carts", {{"items", json(std::vector<json>(201, {{"sku", kSku}, {"quantity", 1}}))}});
  EXPECT_TRUE(IsProblem(cart, 400, "validation_failed"));
  EXPECT_EQ(error_fields(cart), std::vector<std::string>{"items"});
  // Nothing was written, and the server still answers.
  EXPECT_EQ(channels(), before);
  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
}

TEST_F(InputTest, ErrorListIsCappedWithACountOfTheRest) {
  // 100 empty variants: sku and title missing on each, 200 errors.
  auto r = admin().post(
      "/v1/admin/products",
      {{"handle", "capped"}, {"title", "Capped"}, {"variants", json(std::vector<json>(100, json::object()))}});
  ASSERT_TRUE(IsProblem(r, 400, "validation_failed"));
  json j = r.json();
  EXPECT_EQ(j["errors"].size(), 100u);
  EXPECT_EQ(j.value("errors_truncated", 0), 100) << r.body.substr(0, 500);
  EXPECT_NE(j["detail"].get<std::string>().find("and 100 more"), std::string::npos);
  EXPECT_EQ(admin().get("/v1/admin/products/capped").status, 404u);
}

// --- Item 3: numbers, nesting, NUL and UTF-8 ---------------------------------------------------

TEST_F(InputTest, NumbersTheParserCannotHoldAre400NamingTheField) {
  json cart = new_cart(store(), {{"items", {{{"sku", kSku}, {"quantity", 1}}}}});
  std::string items = "/v1/store/carts/" + cart["id"].get<std::string>() + "/items";
  for (std::string number : {"1e400", "-1e400", "1e99999"}) {
    SCOPED_TRACE(number);
    auto r = store().request("POST", items, "{\"sku\": \"" + std::string(kSku) + "\", \"quantity\": " + number + "}");
    EXPECT_TRUE(IsProblem(r, 400, "invalid_json"));
    EXPECT_EQ(error_fields(r), std::vector<std::string>{"quantity"});
    auto nested = store().request("POST", "/v1/store/carts",
                                  "{\"items\": [{\"sku\": \"x\", \"quantity\": 1}, {\"quantity\": " + number + "}]}");
    EXPECT_TRUE(IsProblem(nested, 400, "invalid_json"));
    EXPECT_EQ(error_fields(nested), std::vector<std::string>{"items/1/quantity"});
    auto admin_side = admin().request("PUT", "/v1/admin/inventory-levels", "{\"a\": " + number + "}");
    EXPECT_TRUE(IsProblem(admin_side, 400, "invalid_json"));
    EXPECT_EQ(error_fields(admin_side), std::vector<std::string>{"a"});
  }
  // Integers outside int64, floats and negative zero where an integer is expected.
  for (std::string number :
       {"9223372036854775808", "-9223372036854775809", "18446744073709551616", "1e300", "1.0", "-0.0", "2.5"}) {
    SCOPED_TRACE(number);
    auto r = store().request("POST", items, "{\"sku\": \"" + std::string(kSku) + "\", \"quantity\": " + number + "}");
    EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
    EXPECT_EQ(error_fields(r), std::vector<std::string>{"quantity"});
  }
  auto after = store().get("/v1/store/carts/" + cart["id"].get<std::string>());
  EXPECT_EQ(after.json()["items"], cart["items"]);
}

TEST_F(InputTest, DeepNestingNulAndBadUtf8AreRefused) {
  json cart = new_cart(store(), {{"email", "before@example.cn"}});
  std::string path = "/v1/store/carts/" + cart["id"].get<std::string>();
  // 64 nested objects parse (and fail validation); 65 do not; 200,000 arrays are refused
  // without a crash.
  auto nest = [](std::size_t levels) {
    std::string s;
    for (std::size_t i = 0; i < levels; ++i) s += "{\"a\":";
    s += "1";
    for (std::size_t i = 0; i < levels; ++i) s += "}";
    return s;
  };
  EXPECT_TRUE(IsProblem(store().request("PATCH", path, nest(64)), 400, "validation_failed"));
  auto deep = store().request("PATCH", path, nest(65));
  EXPECT_TRUE(IsProblem(deep, 400, "invalid_json"));
  EXPECT_NE(deep.body.find("deeper than 64"), std::string::npos) << deep.body;
  EXPECT_TRUE(IsProblem(store().request("PATCH", path, std::string(200000, '[')), 400, "invalid_json"));
  EXPECT_TRUE(IsProblem(admin().request("POST", "/v1/admin/products", "{\"attributes\":" + nest(100) + "}"), 400,
                        "invalid_json"));
  // NUL in a value or a key (PostgreSQL text cannot hold it).
  auto nul = store().request("PATCH", path, std::string("{\"email\": \"a\\u0000b@example.cn\"}"));
  EXPECT_TRUE(IsProblem(nul, 400, "invalid_json"));
  EXPECT_EQ(error_fields(nul), std::vector<std::string>{"email"});
  auto nul_address = store().request(
      "PATCH", path, std::string(R"({"shipping_address": {"line1": "x\u0000", "city": "Shanghai", "country": "CN"}})"));
  EXPECT_TRUE(IsProblem(nul_address, 400, "invalid_json"));
  EXPECT_EQ(error_fields(nul_address), std::vector<std::string>{"shipping_address/line1"});
  EXPECT_TRUE(IsProblem(store().request("PATCH", path, std::string("{\"a\\u0000\": 1}")), 400, "invalid_json"));
  auto nul_product =
      admin().request("POST", "/v1/admin/products",
                      std::string(R"({"handle": "nul", "title": "N\u0000UL", "attributes": {"k": "\u0000"}})"));
  EXPECT_TRUE(IsProblem(nul_product, 400, "invalid_json"));
  // Invalid UTF-8 and lone surrogates: invalid_json, and the reply is valid JSON itself.
  for (std::string body : {std::string("{\"email\": \"\xff\xfe\"}"), std::string("{\"email\": \"\xc0\xaf\"}"),
                           std::string("{\"\xed\xa0\x80\": 1}"), std::string(R"({"email": "\ud800"})"),
                           std::string(R"({"email": "\udc00x"})"), std::string("{\"email\": \"a\x01\"}")}) {
    SCOPED_TRACE(json(body).dump(-1, ' ', true, json::error_handler_t::replace));
    auto r = store().request("PATCH", path, body);
    EXPECT_TRUE(IsProblem(r, 400, "invalid_json"));
  }
  auto after = store().get(path).json();
  EXPECT_EQ(after["email"], "before@example.cn");
  EXPECT_EQ(after["shipping_address"], nullptr);
  EXPECT_EQ(after["updated_at"], cart["updated_at"]);
  EXPECT_EQ(admin().get("/v1/admin/products/nul").status, 404u);
}

// --- Item 5: media types, duplicate keys, duplicate headers ------------------------------------

TEST_F(InputTest, OnlyJsonMediaTypesAreParsed) {
  json cart = new_cart(store(), {{"email", "before@example.cn"}});
  std::string path = "/v1/store/carts/" + cart["id"].get<std::string>();
  const std::string body = R"({"email": "after@example.cn"})";
  for (std::string type : {"text/plain", "text/plain; charset=utf-8", "application/jsonx", "application/+json", "json",
                           "application/x-json-stream", "text/json"}) {
    SCOPED_TRACE(type);
    EXPECT_TRUE(
        IsProblem(store().request("PATCH", path, body, {{"Content-Type", type}}), 415, "unsupported_media_type"));
  }
  // No Content-Type at all with a body.
  EXPECT_TRUE(IsProblem(store().request("PATCH", path, body, {{"Content-Type", ""}}), 415, "unsupported_media_type"));
  EXPECT_TRUE(IsProblem(store().request("POST", "/v1/store/carts", std::string("{}"), {{"Content-Type", ""}}), 415,
                        "unsupported_media_type"));
  EXPECT_EQ(store().get(path).json()["email"], "before@example.cn");
  // JSON and its structured-suffix types, with parameters, in any case.
  for (std::string type : {"application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json",
                           "application/vnd.quanqu+json ; charset=UTF-8"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(store().request("PATCH", path, body, {{"Content-Type", type}}).status, 200u);
  }
  // An empty body needs no type.
  auto checkout_less = store().request("POST", "/v1/store/carts", std::string(""), {{"Content-Type", ""}});
  EXPECT_EQ(checkout_less.status, 201u) << checkout_less.body;
}

TEST_F(InputTest, DuplicateKeysAreRefusedAtAnyDepth) {
  json cart = new_cart(store(), {{"email", "before@example.cn"}});
  std::string path = "/v1/store/carts/" + cart["id"].get<std::string>();
  auto top = store().request("PATCH", path, std::string(R"({"email": "a@example.cn", "email": "b@example.cn"})"));
  EXPECT_TRUE(IsProblem(top, 400, "invalid_json"));
  EXPECT_EQ(error_fields(top), std::vector<std::string>{"email"});
  auto nested = store().request(
      "PATCH", path,
      std::string(R"({"shipping_address": {"line1": "1 Road", "city": "A", "city": "B", "country": "CN"}})"));
  EXPECT_TRUE(IsProblem(nested, 400, "invalid_json"));
  EXPECT_EQ(error_fields(nested), std::vector<std::string>{"shipping_address/city"});
  auto in_array = store().request("POST", "/v1/store/carts",
                                  std::string(R"({"items": [{"sku": "A", "quantity": 1, "quantity": 2}]})"));
  EXPECT_TRUE(IsProblem(in_array, 400, "invalid_json"));
  EXPECT_EQ(error_fields(in_array), std::vector<std::string>{"items/0/quantity"});
  EXPECT_EQ(store().get(path).json()["email"], "before@example.cn");
}

TEST_F(InputTest, RepeatedCredentialAndControlHeadersAre400) {
  json cart = new_cart(
      store(),
      {{"email", "shopper@example.cn"}, {"shipping_address", kAddress}, {"items", {{{"sku", kSku}, {"quantity", 1}}}}});
  std::string id = cart["id"];
  const std::string key = server().publishable_key();
  auto anon = anonymous();
  EXPECT_TRUE(IsProblem(anon.get("/v1/store/carts/" + id, {{"X-Publishable-Key", key}, {"X-Publishable-Key", key}}),
                        400, "duplicate_header"));
  EXPECT_TRUE(
      IsProblem(anon.get("/v1/store/carts/" + id, {{"X-Publishable-Key", "pk_nope"}, {"X-Publishable-Key", key}}), 400,
                "duplicate_header"));
  const std::string bearer = "Bearer " + server().admin_key();
  EXPECT_TRUE(IsProblem(anon.get("/v1/admin/orders", {{"Authorization", bearer}, {"Authorization", "Bearer x"}}), 400,
                        "duplicate_header"));
  EXPECT_TRUE(IsProblem(store().request("PATCH", "/v1/store/carts/" + id, std::string("{}"),
                                        {{"Content-Type", "application/json"}, {"Content-Type", "text/plain"}}),
                        400, "duplicate_header"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/orders/ord_x", {{"X-Order-Token", "a"}, {"X-Order-Token", "b"}}), 400,
                        "duplicate_header"));
  EXPECT_TRUE(IsProblem(anon.get("/v1/plugins/none/x", {{"X-Customer-Token", "a"}, {"X-Customer-Token", "b"}}), 400,
                        "duplicate_header"));
  // Two idempotency keys: refused before checkout, so no order is placed.
  const json orders_before = admin().get("/v1/admin/orders?limit=100").json()["items"];
  auto twice = store().request("POST", "/v1/store/carts/" + id + "/checkout", std::string("{}"),
                               {{"Idempotency-Key", "k1"}, {"Idempotency-Key", "k2"}});
  EXPECT_TRUE(IsProblem(twice, 400, "duplicate_header"));
  EXPECT_EQ(admin().get("/v1/admin/orders?limit=100").json()["items"], orders_before);
  EXPECT_EQ(store().get("/v1/store/carts/" + id).json()["status"], cart["status"]);
}

// NUL in the path or query is as unstorable as in a body: refused before any lookup.
TEST_F(InputTest, NulInPathOrQueryIs400) {
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/products/a%00b"), 400, "malformed_request"));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/orders?status=%00"), 400, "malformed_request"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/products?q=a%00"), 400, "malformed_request"));
  EXPECT_TRUE(IsProblem(admin().request("PATCH", "/v1/admin/stock-locations/%00", std::string("{}")), 400,
                        "malformed_request"));
}

// --- Item 6: publish and unpublish name their unknown ids --------------------------------------

TEST_F(InputTest, UnpublishingUnknownIdsIs422AndChangesNothing) {
  std::string web = web_channel_id();
  std::string tee = product_id(kHandle);
  ASSERT_EQ(store().get("/v1/store/products/" + tee).status, 200u);
  for (std::string action : {"unpublish", "publish"}) {
    SCOPED_TRACE(action);
    auto r = admin().post("/v1/admin/channels/" + web + "/" + action,
                          {{"product_ids", {tee, "prod_never", "prod_never_2"}}});
    ASSERT_TRUE(IsProblem(r, 422, "channel.unknown_products"));
    EXPECT_EQ(error_fields(r), (std::vector<std::string>{"product_ids/1", "product_ids/2"}));
    EXPECT_EQ(r.json()["details"]["unknown_product_ids"], json({"prod_never", "prod_never_2"}));
    // The known id in the same request was not unpublished.
    EXPECT_EQ(store().get("/v1/store/products/" + tee).status, 200u);
  }
  auto only_unknown = admin().post("/v1/admin/channels/" + web + "/unpublish", {{"product_ids", {"prod_nope"}}});
  EXPECT_TRUE(IsProblem(only_unknown, 422, "channel.unknown_products"));
  // Known ids still work.
  auto ok = admin().post("/v1/admin/channels/" + web + "/unpublish", {{"product_ids", {tee}}});
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(store().get("/v1/store/products/" + tee).status, 404u);
}

// --- Item 7: the resource and its owner before the body -----------------------------------------

TEST_F(InputTest, AnotherChannelsCartIs404WhateverTheBody) {
  json a_cart = new_cart(store(), {{"email", "a@example.cn"}, {"items", {{{"sku", kSku}, {"quantity", 1}}}}});
  std::string cart = "/v1/store/carts/" + a_cart["id"].get<std::string>();
  std::string item = cart + "/items/" + a_cart["items"][0]["id"].get<std::string>();
  auto created = admin().post("/v1/admin/channels", {{"code", "other"}, {"type", "web"}, {"currency", "CNY"}});
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string key = open_storefront(created.json()["id"], {kHandle}, "Other");
  HttpClient b = storefront(key);
  struct Case {
    std::string method, path, body;
  };
  const std::vector<Case> cases{
      {"POST", cart + "/shipping-method", R"({"provider": "local-delivery"})"},
      {"POST", cart + "/shipping-method", R"({"provider": 5, "x": 1})"},
      {"POST", cart + "/payment-sessions", R"({"provider": "card-gateway"})"},
      {"POST", cart + "/payment-sessions", R"({})"},
      {"PATCH", cart, R"({"email": "not-an-email", "coupon": 1})"},
      {"POST", cart + "/items", R"({"sku": "NO-SUCH", "quantity": 0})"},
      {"PATCH", item, R"({"quantity": -1})"},
      {"POST", cart + "/checkout", R"({"unexpected": true})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body);
    EXPECT_TRUE(IsProblem(b.request(c.method, c.path, c.body), 404, "cart.not_found"));
  }
  // The owner asking about an item its cart does not hold: 404 before the body.
  EXPECT_TRUE(IsProblem(store().request("PATCH", cart + "/items/item_nope", std::string(R"({"quantity": "x"})")), 404,
                        "cart_item.not_found"));
  auto after = store().get(cart).json();
  EXPECT_EQ(after["items"], a_cart["items"]);
  EXPECT_EQ(after["email"], a_cart["email"]);
  EXPECT_EQ(after["updated_at"], a_cart["updated_at"]);
}

TEST_F(InputTest, UnknownAdminResourcesAre404WhateverTheBody) {
  std::string tee = product_id(kHandle);
  struct Case {
    std::string method, path, body, code;
  };
  const std::vector<Case> cases{
      {"PATCH", "/v1/admin/products/prod_nope", R"({"title": 5})", "product.not_found"},
      {"POST", "/v1/admin/products/prod_nope/variants", R"({"sku": ""})", "product.not_found"},
      {"PATCH", "/v1/admin/products/prod_nope/variants/var_nope", R"({"title": []})", "product.not_found"},
      {"PATCH", "/v1/admin/products/" + tee + "/variants/var_nope", R"({"title": []})", "variant.not_found"},
      {"PATCH", "/v1/admin/categories/cat_nope", R"({"name": 1})", "category.not_found"},
      {"PATCH", "/v1/admin/stock-locations/loc_nope", R"({"pickup_enabled": "yes"})", "location.not_found"},
      {"PATCH", "/v1/admin/channels/chan_nope", R"({"tax_rate_bp": "x"})", "channel.not_found"},
      {"POST", "/v1/admin/channels/chan_nope/publish", R"({"product_ids": 1})", "channel.not_found"},
      {"POST", "/v1/admin/channels/chan_nope/publishable-keys", R"({"label": 1})", "channel.not_found"},
      {"POST", "/v1/admin/orders/ord_nope/cancel", R"({"reason": 1})", "order.not_found"},
      {"POST", "/v1/admin/orders/ord_nope/mark-paid", R"({"x": 1})", "order.not_found"},
      {"POST", "/v1/admin/orders/ord_nope/fulfilment", R"({"status": 1})", "order.not_found"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body);
    EXPECT_TRUE(IsProblem(admin().request(c.method, c.path, c.body), 404, c.code));
  }
}

}  // namespace
