// End to end: every 4xx the API promises, as problem+json with a stable code, and that a refused
// request changed nothing (state is re-read after each one).
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;


// The problem's `errors` list names exactly these fields (in any order).
::testing::AssertionResult ListsFields(const HttpResponse& r, std::set<std::string> fields) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array())
    return ::testing::AssertionFailure() << "no 'errors' array: " << r.body;
  std::set<std::string> seen;
  for (const auto& e : j["errors"]) {
    if (!e.is_object() || !e.contains("field") || !e["field"].is_string() || !e.contains("message") ||
        !e["message"].is_string() || e["message"].get<std::string>().empty())
      return ::testing::AssertionFailure() << "malformed entry " << e.dump() << " in " << r.body;
    seen.insert(e["field"].get<std::string>());
  }
  if (seen != fields) {
    auto f = ::testing::AssertionFailure() << "errors list {";
    for (const auto& s : seen) f << s << " ";
    f << "}, expected {";
    for (const auto& s : fields) f << s << " ";
    return f << "}: " << r.body;
  }
  return ::testing::AssertionSuccess();
}

using quanqu::e2e::kAddress;
using quanqu::e2e::money;

// Sum of on hand and reserved of a SKU over every location.
struct Stock {
  std::int64_t on_hand = 0, reserved = 0;
  bool operator==(const Stock&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Stock& s) {
  return os << "{on_hand " << s.on_hand << ", reserved " << s.reserved << "}";
}

class ErrorsTest : public E2ETest {
 protected:
  Stock stock(const std::string& sku) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + sku);
    EXPECT_EQ(r.status, 200u) << r.body;
    Stock s;
    const json items = r.json()["items"];
    EXPECT_FALSE(items.empty()) << "no levels for " << sku;
    for (const auto& l : items) {
      s.on_hand += l["on_hand"].get<std::int64_t>();
      s.reserved += l["reserved"].get<std::int64_t>();
      EXPECT_GE(l["available"].get<std::int64_t>(), 0) << l.dump();
    }
    return s;
  }

  json levels(const std::string& sku) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + sku);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json()["items"];
  }

  // Sets the SKU's stock at every demo location: the first gets `first`, the others 0.
  void set_stock(const std::string& sku, std::int64_t first) {
    const json ls = levels(sku);
    ASSERT_FALSE(ls.empty());
    bool is_first = true;
    for (const auto& l : ls) {
      auto r = admin().put("/v1/admin/inventory-levels",
                           {{"sku", sku}, {"location_id", l["location_id"]}, {"on_hand", is_first ? first : 0}});
      ASSERT_EQ(r.status, 200u) << r.body;
      is_first = false;
    }
  }

  std::size_t order_count() {
    auto r = admin().get("/v1/admin/orders?limit=100");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json()["items"].size();
  }

  json new_cart(HttpClient& store, json body = json::object()) {
    auto r = store.post("/v1/store/carts", body);
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json();
  }

  json get_cart(const std::string& id) {
    auto r = store().get("/v1/store/carts/" + id);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }

  // A cart on the demo channel holding these lines, with e-mail and address set.
  json ready_cart(const json& items) {
    return new_cart(store(), {{"email", "shopper@example.cn"}, {"shipping_address", kAddress}, {"items", items}});
  }

  HttpResponse checkout(HttpClient& store, const std::string& cart_id, const std::string& key,
                        std::optional<std::string> body = std::string("{}")) {
    Headers h;
    if (!key.empty()) h.push_back({"Idempotency-Key", key});
    return store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::move(body), h);
  }

  std::string web_channel_id() {
    auto r = admin().get("/v1/admin/channels/web");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }
};

// --- Request bodies ---------------------------------------------------------------------------

TEST_F(ErrorsTest, MalformedBodiesAreRefusedAndChangeNothing) {
  json cart = new_cart(store(), {{"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  std::string id = cart["id"], items = "/v1/store/carts/" + id + "/items";
  const json before = get_cart(id);

  // Not JSON at all, truncated JSON, and JSON that is not an object.
  for (std::string body : {"{not json", "{\"sku\": \"TEE-ORGANIC-NAVY-S\", \"quantity\": 1", "[1, 2]", "\"sku\""}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsProblem(store().request("POST", items, body), 400, "invalid_json"));
  }
  EXPECT_TRUE(IsProblem(store().request("POST", "/v1/store/carts", std::string("{oops")), 400, "invalid_json"));
  EXPECT_TRUE(IsProblem(admin().request("POST", "/v1/admin/products", std::string("{\"handle\":")), 400, "invalid_json"));

  // A body that is not JSON by its content type.
  for (std::string type : {"application/x-www-form-urlencoded", "text/xml", "multipart/form-data; boundary=x"}) {
    SCOPED_TRACE(type);
    auto r = store().request("POST", items, std::string("{\"sku\":\"TEE-ORGANIC-NAVY-S\",\"quantity\":1}"),
                             {{"Content-Type", type}});
    EXPECT_TRUE(IsProblem(r, 415, "unsupported_media_type"));
  }

  // An unknown field is named.
  auto unknown = store().post(items, {{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}, {"colour", "red"}});
  EXPECT_TRUE(IsProblem(unknown, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(unknown, {"colour"}));
  auto unknown_patch = store().patch("/v1/store/carts/" + id, {{"email", "a@example.cn"}, {"coupon", "FREE"}});
  EXPECT_TRUE(IsProblem(unknown_patch, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(unknown_patch, {"coupon"}));

  // An unknown SKU or variant id.
  auto no_sku = store().post(items, {{"sku", "NO-SUCH-SKU"}, {"quantity", 1}});
  EXPECT_TRUE(IsProblem(no_sku, 400, "cart.unknown_variant"));
  EXPECT_TRUE(ListsFields(no_sku, {"sku"}));
  auto no_variant =
      store().post(items, {{"variant_id", "var_0000000000000000000000000000000000000000000"}, {"quantity", 1}});
  EXPECT_TRUE(IsProblem(no_variant, 400, "cart.unknown_variant"));
  EXPECT_TRUE(ListsFields(no_variant, {"variant_id"}));

  // Bad quantities, when adding and when changing a line.
  std::string item_id = before["items"][0]["id"];
  for (json q : {json(0), json(-1), json(10001), json(1.5), json("2"), json(nullptr), json(true), json::array({1})}) {
    SCOPED_TRACE(q.dump());
    auto add = store().post(items, {{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", q}});
    EXPECT_TRUE(IsProblem(add, 400, "validation_failed"));
    EXPECT_TRUE(ListsFields(add, {"quantity"}));
    auto change = store().patch(items + "/" + item_id, {{"quantity", q}});
    EXPECT_TRUE(IsProblem(change, 400, "validation_failed"));
    EXPECT_TRUE(ListsFields(change, {"quantity"}));
  }
  auto missing = store().post(items, {{"sku", "TEE-ORGANIC-NAVY-S"}});
  EXPECT_TRUE(IsProblem(missing, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(missing, {"quantity"}));

  // Invalid cart details: a bad e-mail, a blank street and a country that is not a code.
  auto details = store().patch("/v1/store/carts/" + id,
                               {{"email", "not-an-email"},
                                {"shipping_address", {{"line1", "   "}, {"city", "Shanghai"}, {"country", "China"}}}});
  EXPECT_TRUE(IsProblem(details, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(details, {"email", "shipping_address/line1", "shipping_address/country"}));

  // Nothing of it reached the cart.
  const json after = get_cart(id);
  EXPECT_EQ(after["items"], before["items"]);
  EXPECT_EQ(after["email"], before["email"]);
  EXPECT_EQ(after["shipping_address"], before["shipping_address"]);
  EXPECT_EQ(after["totals"], before["totals"]);
  EXPECT_EQ(after["updated_at"], before["updated_at"]);
}

TEST_F(ErrorsTest, ACartWithAnyBadItemIsNotCreated) {
  auto r = store().post("/v1/store/carts", {{"email", "x@example.cn"},
                                            {"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}},
                                                       {{"sku", "NO-SUCH-SKU"}, {"quantity", 1}}}}});
  EXPECT_TRUE(IsProblem(r, 400, "cart.unknown_variant"));
  EXPECT_TRUE(ListsFields(r, {"items/1/sku"}));
  auto q = store().post("/v1/store/carts", {{"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 0}}}}});
  EXPECT_TRUE(IsProblem(q, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(q, {"items/0/quantity"}));
}

TEST_F(ErrorsTest, OversizedBodyIs413) {
  std::string big = "{\"email\": \"" + std::string(1024 * 1024 + 16, 'a') + "\"}";
  auto r = store().request("POST", "/v1/store/carts", big);
  EXPECT_TRUE(IsProblem(r, 413, "payload_too_large"));
  // The server is still fine afterwards.
  auto client = anonymous();
  EXPECT_EQ(client.get("/healthz").status, 200u);
  // Just under the limit is read (and refused for its content, not its size).
  std::string near = "{\"email\": \"" + std::string(1024 * 1024 - 64, 'a') + "\"}";
  auto ok_size = store().request("POST", "/v1/store/carts", near);
  EXPECT_EQ(ok_size.status, 400u) << ok_size.body.substr(0, 300);
}

// --- Routing ----------------------------------------------------------------------------------

TEST_F(ErrorsTest, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  EXPECT_TRUE(IsProblem(store().get("/v1/store/nothing-here"), 404, "route_not_found"));
  EXPECT_TRUE(IsProblem(anonymous().get("/v2/store/products"), 404, "route_not_found"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/carts//items"), 404, "route_not_found"));

  auto r = store().del("/v1/store/products");
  EXPECT_TRUE(IsProblem(r, 405, "method_not_allowed"));
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");  // HEAD is answered by every GET route
  auto carts = store().request("PUT", "/v1/store/carts", std::string("{}"));
  EXPECT_TRUE(IsProblem(carts, 405, "method_not_allowed"));
  EXPECT_EQ(carts.header("Allow"), "POST");
  auto cart = store().post("/v1/store/carts/cart_x/checkout/extra", json::object());
  EXPECT_TRUE(IsProblem(cart, 404, "route_not_found"));
  auto one = admin().request("PUT", "/v1/admin/products/prod_x", std::string("{}"));
  EXPECT_TRUE(IsProblem(one, 405, "method_not_allowed"));
  std::string allow = one.header("Allow");
  EXPECT_NE(allow.find("GET"), std::string::npos) << allow;
  EXPECT_NE(allow.find("PATCH"), std::string::npos) << allow;
}

// --- Authentication ---------------------------------------------------------------------------

TEST_F(ErrorsTest, PublishableKeyIsRequiredValidAndRevocable) {
  auto anon = anonymous();
  EXPECT_TRUE(IsProblem(anon.get("/v1/store/products"), 401, "auth.publishable_key_missing"));
  EXPECT_TRUE(IsProblem(anon.post("/v1/store/carts", json::object()), 401, "auth.publishable_key_missing"));
  EXPECT_TRUE(IsProblem(anon.get("/v1/store/products", {{"X-Publishable-Key", ""}}), 401, "auth.publishable_key_missing"));
  EXPECT_TRUE(IsProblem(anon.get("/v1/store/products", {{"X-Publishable-Key", "qq_pk_00000000000000000000000000000000"}}),
                        401, "auth.publishable_key_invalid"));
  // The admin key is not a publishable key.
  EXPECT_TRUE(IsProblem(anon.get("/v1/store/products", {{"X-Publishable-Key", server().admin_key()}}), 401,
                        "auth.publishable_key_invalid"));

  // A fresh key works, then is revoked.
  std::string channel = web_channel_id();
  auto created = admin().post("/v1/admin/channels/" + channel + "/publishable-keys", {{"label", "Kiosk"}});
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string key = created.json()["key"], key_id = created.json()["id"];
  HttpClient kiosk = anonymous();
  kiosk.set_default_header("X-Publishable-Key", key);
  ASSERT_EQ(kiosk.get("/v1/store/products?limit=1").status, 200u);
  json cart = new_cart(kiosk);

  auto revoked = admin().del("/v1/admin/channels/" + channel + "/publishable-keys/" + key_id);
  EXPECT_EQ(revoked.status, 204u) << revoked.body;
  EXPECT_TRUE(IsProblem(kiosk.get("/v1/store/products?limit=1"), 401, "auth.publishable_key_invalid"));
  EXPECT_TRUE(IsProblem(kiosk.get("/v1/store/carts/" + cart["id"].get<std::string>()), 401,
                        "auth.publishable_key_invalid"));
  EXPECT_TRUE(IsProblem(kiosk.post("/v1/store/carts", json::object()), 401, "auth.publishable_key_invalid"));
  auto list = admin().get("/v1/admin/channels/" + channel + "/publishable-keys");
  ASSERT_EQ(list.status, 200u);
  bool found = false;
  const json keys = list.json()["items"];
  for (const auto& k : keys)
    if (k["id"] == key_id) {
      found = true;
      EXPECT_FALSE(k["revoked_at"].is_null());
      EXPECT_FALSE(k.contains("key")) << "the secret is shown only once";
    }
  EXPECT_TRUE(found);
  // The demo key is untouched.
  EXPECT_EQ(store().get("/v1/store/products?limit=1").status, 200u);
  // Revoking an unknown key is a 404.
  EXPECT_TRUE(IsProblem(admin().del("/v1/admin/channels/" + channel + "/publishable-keys/key_nope"), 404,
                        "api_key.not_found"));
}

TEST_F(ErrorsTest, AdminKeyIsRequiredAndValid) {
  auto anon = anonymous();
  auto missing = anon.get("/v1/admin/products");
  EXPECT_TRUE(IsProblem(missing, 401, "auth.admin_key_missing"));
  EXPECT_NE(missing.header("WWW-Authenticate").find("Bearer"), std::string::npos) << missing.header("WWW-Authenticate");

  for (std::string auth : {std::string("Bearer qq_admin_00000000000000000000000000000000"),
                           "Bearer " + server().publishable_key(), std::string("Basic YWRtaW46YWRtaW4=")}) {
    SCOPED_TRACE(auth);
    auto r = anon.get("/v1/admin/products", {{"Authorization", auth}});
    EXPECT_EQ(r.status, 401u) << r.body;
    EXPECT_TRUE(IsProblem(r, 401, auth.rfind("Basic", 0) == 0 ? "auth.admin_key_missing" : "auth.admin_key_invalid"));
    EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos);
  }
  // A refused write changes nothing.
  auto write = anon.post("/v1/admin/categories", {{"handle", "sneaky"}, {"name", "Sneaky"}},
                         {{"Authorization", "Bearer wrong-key-wrong-key-wrong-key"}});
  EXPECT_TRUE(IsProblem(write, 401, "auth.admin_key_invalid"));
  auto cats = admin().get("/v1/admin/categories");
  ASSERT_EQ(cats.status, 200u);
  const json cat_items = cats.json()["items"];
  for (const auto& c : cat_items) EXPECT_NE(c["handle"], "sneaky");
}

// --- Carts and orders are private to their channel and unguessable ------------------------------

TEST_F(ErrorsTest, CartsAndOrdersAreScopedAndUnguessable) {
  // A second channel with its own key.
  auto ch = admin().post("/v1/admin/channels", {{"code", "popup"}, {"type", "pos"}, {"currency", "CNY"},
                                                 {"tax_rate_bp", 1300}, {"tax_inclusive", true}});
  ASSERT_EQ(ch.status, 201u) << ch.body;
  auto key = admin().post("/v1/admin/channels/" + ch.json()["id"].get<std::string>() + "/publishable-keys", json::object());
  ASSERT_EQ(key.status, 201u) << key.body;
  HttpClient other = anonymous();
  other.set_default_header("X-Publishable-Key", key.json()["key"].get<std::string>());

  json cart = ready_cart({{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}});
  std::string id = cart["id"];
  EXPECT_TRUE(std::regex_match(id, std::regex("cart_[0-9a-f]{44}"))) << id;
  std::string item = cart["items"][0]["id"];
  const json before = get_cart(id);

  // The other channel cannot see or touch it.
  EXPECT_TRUE(IsProblem(other.get("/v1/store/carts/" + id), 404, "cart.not_found"));
  EXPECT_TRUE(IsProblem(other.post("/v1/store/carts/" + id + "/items", {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}),
                        404, "cart.not_found"));
  EXPECT_TRUE(IsProblem(other.patch("/v1/store/carts/" + id, {{"email", "thief@example.cn"}}), 404, "cart.not_found"));
  EXPECT_TRUE(IsProblem(other.patch("/v1/store/carts/" + id + "/items/" + item, {{"quantity", 2}}), 404, "cart.not_found"));
  EXPECT_TRUE(IsProblem(other.del("/v1/store/carts/" + id + "/items/" + item), 404, "cart.not_found"));
  EXPECT_TRUE(IsProblem(checkout(other, id, "other-1"), 404, "cart.not_found"));
  EXPECT_EQ(get_cart(id), before);

  // Made-up ids, well-formed or not.
  int n = 0;
  for (std::string fake : {std::string("cart_") + std::string(44, '0'), std::string("cart_01a2") + std::string(40, 'f'),
                           std::string("cart_123"), std::string("prod_") + id.substr(5), std::string("cart_") + std::string(44, 'G'),
                           id.substr(0, id.size() - 1), id + "0"}) {
    SCOPED_TRACE(fake);
    EXPECT_TRUE(IsProblem(store().get("/v1/store/carts/" + fake), 404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(store().post("/v1/store/carts/" + fake + "/items", {{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}),
                          404, "cart.not_found"));
    EXPECT_TRUE(IsProblem(checkout(store(), fake, "fake-" + std::to_string(++n)), 404, "cart.not_found"));
  }
  // Ids differ in their random part, not only in time.
  json cart2 = new_cart(store());
  std::string id2 = cart2["id"];
  EXPECT_NE(id.substr(17), id2.substr(17));

  // The order: token required, exact, and for this channel only.
  auto placed = checkout(store(), id, "scoped-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  std::string order = placed.json()["id"], token = placed.json()["access_token"];
  EXPECT_EQ(store().get("/v1/store/orders/" + order, {{"X-Order-Token", token}}).status, 200u);
  EXPECT_TRUE(IsProblem(store().get("/v1/store/orders/" + order), 404, "order.not_found"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/orders/" + order, {{"X-Order-Token", ""}}), 404, "order.not_found"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/orders/" + order, {{"X-Order-Token", token + "x"}}), 404, "order.not_found"));
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_TRUE(IsProblem(store().get("/v1/store/orders/" + order, {{"X-Order-Token", flipped}}), 404, "order.not_found"));
  EXPECT_TRUE(IsProblem(other.get("/v1/store/orders/" + order, {{"X-Order-Token", token}}), 404, "order.not_found"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/orders/order_nope", {{"X-Order-Token", token}}), 404, "order.not_found"));
  // The wrong and the missing token are indistinguishable from an unknown order.
  auto wrong = store().get("/v1/store/orders/" + order, {{"X-Order-Token", flipped}}).json();
  auto unknown = store().get("/v1/store/orders/order_nope", {{"X-Order-Token", flipped}}).json();
  EXPECT_EQ(wrong["code"], unknown["code"]);
  EXPECT_EQ(wrong["title"], unknown["title"]);
}

// --- Checkout ---------------------------------------------------------------------------------

TEST_F(ErrorsTest, CheckoutNeedsAnIdempotencyKey) {
  json cart = ready_cart({{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}});
  std::string id = cart["id"];
  Stock before = stock("TEE-ORGANIC-NAVY-S");
  auto r = checkout(store(), id, "");
  EXPECT_TRUE(IsProblem(r, 400, "idempotency.key_required"));
  EXPECT_TRUE(ListsFields(r, {"Idempotency-Key"}));
  EXPECT_TRUE(IsProblem(checkout(store(), id, std::string(256, 'k')), 400, "idempotency.key_required"));
  EXPECT_TRUE(IsProblem(checkout(store(), id, "has space"), 400, "idempotency.key_required"));
  // An unknown field in the checkout body.
  auto body = checkout(store(), id, "body-1", std::string("{\"pay_later\": true}"));
  EXPECT_TRUE(IsProblem(body, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(body, {"pay_later"}));
  EXPECT_EQ(get_cart(id)["status"], "open");
  EXPECT_EQ(stock("TEE-ORGANIC-NAVY-S"), before);
  EXPECT_EQ(order_count(), 0u);
  // The key that failed validation is still free.
  EXPECT_EQ(checkout(store(), id, "body-1").status, 201u);
}

TEST_F(ErrorsTest, IdempotentReplayReturnsTheFirstOrderAndReservesOnce) {
  json cart = ready_cart({{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 2}}, {{"sku", "TEE-ORGANIC-WHITE-M"}, {"quantity", 1}}});
  std::string id = cart["id"];
  Stock navy = stock("TEE-ORGANIC-NAVY-S"), white = stock("TEE-ORGANIC-WHITE-M");

  auto first = checkout(store(), id, "replay-key-1");
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_TRUE(first.header("Idempotent-Replayed").empty());
  json order = first.json();

  for (int i = 0; i < 3; ++i) {
    // With and without a body: an empty body is the same request as {}.
    auto again = checkout(store(), id, "replay-key-1", i == 1 ? std::nullopt : std::optional<std::string>("{}"));
    ASSERT_EQ(again.status, 201u) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    json replay = again.json();
    EXPECT_EQ(replay["id"], order["id"]);
    EXPECT_EQ(replay["number"], order["number"]);
    EXPECT_EQ(replay["access_token"], order["access_token"]);
    EXPECT_EQ(replay["totals"], order["totals"]);
    EXPECT_EQ(replay["lines"], order["lines"]);
  }
  EXPECT_EQ(stock("TEE-ORGANIC-NAVY-S"), (Stock{navy.on_hand, navy.reserved + 2}));
  EXPECT_EQ(stock("TEE-ORGANIC-WHITE-M"), (Stock{white.on_hand, white.reserved + 1}));
  EXPECT_EQ(order_count(), 1u);

  // The same key for another cart is refused; that cart stays open and nothing is reserved.
  json other = ready_cart({{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}});
  std::string other_id = other["id"];
  auto reused = checkout(store(), other_id, "replay-key-1");
  EXPECT_TRUE(IsProblem(reused, 409, "idempotency.key_reused"));
  EXPECT_EQ(get_cart(other_id)["status"], "open");
  EXPECT_EQ(stock("TEE-ORGANIC-NAVY-S"), (Stock{navy.on_hand, navy.reserved + 2}));
  EXPECT_EQ(order_count(), 1u);

  // The completed cart with a new key: refused, nothing written.
  auto completed = checkout(store(), id, "replay-key-2");
  EXPECT_TRUE(IsProblem(completed, 409, "cart.completed"));
  EXPECT_EQ(stock("TEE-ORGANIC-NAVY-S"), (Stock{navy.on_hand, navy.reserved + 2}));
  EXPECT_EQ(order_count(), 1u);
  // ... and it cannot be changed any more either.
  EXPECT_TRUE(IsProblem(store().post("/v1/store/carts/" + id + "/items", {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}),
                        409, "cart.completed"));
  EXPECT_TRUE(IsProblem(store().patch("/v1/store/carts/" + id, {{"email", "late@example.cn"}}), 409, "cart.completed"));
  // The other cart checks out under a key of its own.
  EXPECT_EQ(checkout(store(), other_id, "replay-key-3").status, 201u);
  EXPECT_EQ(order_count(), 2u);
}

TEST_F(ErrorsTest, CheckoutNeedsDetailsAndItems) {
  Stock before = stock("TEE-ORGANIC-NAVY-S");
  // No e-mail, no address.
  json bare = new_cart(store(), {{"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  auto r = checkout(store(), bare["id"], "details-1");
  EXPECT_TRUE(IsProblem(r, 422, "checkout.missing_details"));
  EXPECT_TRUE(ListsFields(r, {"email", "shipping_address"}));
  // Address only.
  json no_email = new_cart(store(), {{"shipping_address", kAddress}, {"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  auto r2 = checkout(store(), no_email["id"], "details-2");
  EXPECT_TRUE(IsProblem(r2, 422, "checkout.missing_details"));
  EXPECT_TRUE(ListsFields(r2, {"email"}));
  // E-mail set, then cleared again with null.
  std::string id = no_email["id"];
  ASSERT_EQ(store().patch("/v1/store/carts/" + id, {{"email", "x@example.cn"}}).status, 200u);
  ASSERT_EQ(store().patch("/v1/store/carts/" + id, {{"email", nullptr}}).status, 200u);
  EXPECT_TRUE(IsProblem(checkout(store(), id, "details-3"), 422, "checkout.missing_details"));
  // Empty cart.
  json empty = new_cart(store(), {{"email", "x@example.cn"}, {"shipping_address", kAddress}});
  EXPECT_TRUE(IsProblem(checkout(store(), empty["id"], "empty-1"), 422, "checkout.empty_cart"));
  // A cart whose last line was removed is empty too.
  json emptied = ready_cart({{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}});
  std::string emptied_id = emptied["id"];
  ASSERT_EQ(store().del("/v1/store/carts/" + emptied_id + "/items/" + emptied["items"][0]["id"].get<std::string>()).status, 200u);
  EXPECT_TRUE(IsProblem(checkout(store(), emptied_id, "empty-2"), 422, "checkout.empty_cart"));

  for (const json& c : {bare, no_email, empty, emptied}) EXPECT_EQ(get_cart(c["id"])["status"], "open");
  EXPECT_EQ(stock("TEE-ORGANIC-NAVY-S"), before);
  EXPECT_EQ(order_count(), 0u);
  // The failed attempts did not burn the keys: fixing the cart and retrying with the same key works.
  ASSERT_EQ(store().patch("/v1/store/carts/" + id, {{"email", "x@example.cn"}}).status, 200u);
  EXPECT_EQ(checkout(store(), id, "details-3").status, 201u);
}

TEST_F(ErrorsTest, OutOfStockAtCheckoutNamesTheLinesAndWritesNothing) {
  const std::string kShort = "TEE-ORGANIC-NAVY-S", kFine = "TEE-ORGANIC-WHITE-M";
  set_stock(kShort, 5);
  ASSERT_FALSE(HasFailure());
  json cart = ready_cart({{{"sku", kShort}, {"quantity", 3}}, {{"sku", kFine}, {"quantity", 1}}});
  std::string id = cart["id"];
  // Stock drops after the shopper added the line.
  set_stock(kShort, 2);
  ASSERT_FALSE(HasFailure());
  Stock short_before = stock(kShort), fine_before = stock(kFine);
  const json levels_before = levels(kFine);

  auto r = checkout(store(), id, "short-1");
  EXPECT_TRUE(IsProblem(r, 409, "inventory.insufficient_stock"));
  json body = r.json();
  ASSERT_TRUE(body.contains("details") && body["details"].contains("lines")) << r.body;
  ASSERT_EQ(body["details"]["lines"].size(), 1u) << r.body;
  json line = body["details"]["lines"][0];
  EXPECT_EQ(line["sku"], kShort);
  EXPECT_EQ(line["requested"], 3);
  EXPECT_EQ(line["available"], 2);

  // Nothing written: no reservation for either line (the fine line was processed too), no order,
  // the cart is still open and the key is not consumed.
  EXPECT_EQ(stock(kShort), short_before);
  EXPECT_EQ(stock(kFine), fine_before);
  EXPECT_EQ(levels(kFine), levels_before);
  EXPECT_EQ(order_count(), 0u);
  EXPECT_EQ(get_cart(id)["status"], "open");

  // Two short lines are both named.
  set_stock(kFine, 0);
  auto both = checkout(store(), id, "short-2");
  EXPECT_TRUE(IsProblem(both, 409, "inventory.insufficient_stock"));
  std::set<std::string> skus;
  const json both_lines = both.json()["details"]["lines"];
  for (const auto& l : both_lines) skus.insert(l["sku"].get<std::string>());
  EXPECT_EQ(skus, (std::set<std::string>{kShort, kFine})) << both.body;

  // Restocked, the same key now succeeds.
  set_stock(kShort, 3);
  set_stock(kFine, 1);
  auto ok = checkout(store(), id, "short-1");
  EXPECT_EQ(ok.status, 201u) << ok.body;
  EXPECT_EQ(stock(kShort), (Stock{3, 3}));
  EXPECT_EQ(stock(kFine), (Stock{1, 1}));
  // On hand cannot drop below what is reserved.
  const json lv = levels(kShort);
  for (const auto& l : lv)
    if (l["reserved"].get<std::int64_t>() > 0) {
      auto below = admin().put("/v1/admin/inventory-levels", {{"sku", kShort}, {"location_id", l["location_id"]}, {"on_hand", 1}});
      EXPECT_TRUE(IsProblem(below, 422, "inventory.below_reserved"));
    }
  EXPECT_EQ(stock(kShort), (Stock{3, 3}));
}

TEST_F(ErrorsTest, AddingMoreThanAvailableIs409) {
  const std::string kSku = "TEE-ORGANIC-NAVY-S";
  set_stock(kSku, 4);
  ASSERT_FALSE(HasFailure());
  json cart = new_cart(store(), {{"items", {{{"sku", kSku}, {"quantity", 3}}}}});
  std::string id = cart["id"];
  const json before = get_cart(id);

  auto add = store().post("/v1/store/carts/" + id + "/items", {{"sku", kSku}, {"quantity", 2}});
  EXPECT_TRUE(IsProblem(add, 409, "inventory.insufficient_stock"));
  json line = add.json()["details"]["lines"][0];
  EXPECT_EQ(line["sku"], kSku);
  EXPECT_EQ(line["requested"], 5);
  EXPECT_EQ(line["available"], 4);
  auto change = store().patch("/v1/store/carts/" + id + "/items/" + before["items"][0]["id"].get<std::string>(),
                              {{"quantity", 5}});
  EXPECT_TRUE(IsProblem(change, 409, "inventory.insufficient_stock"));
  auto fresh = store().post("/v1/store/carts", {{"items", {{{"sku", kSku}, {"quantity", 5}}}}});
  EXPECT_TRUE(IsProblem(fresh, 409, "inventory.insufficient_stock"));
  EXPECT_EQ(get_cart(id)["items"], before["items"]);
  // Exactly what is available is fine.
  EXPECT_EQ(store().post("/v1/store/carts/" + id + "/items", {{"sku", kSku}, {"quantity", 1}}).status, 200u);
  // Lowering is always fine.
  EXPECT_EQ(store().patch("/v1/store/carts/" + id + "/items/" + before["items"][0]["id"].get<std::string>(),
                          {{"quantity", 1}}).status, 200u);
  // Unknown line.
  EXPECT_TRUE(IsProblem(store().patch("/v1/store/carts/" + id + "/items/item_nope", {{"quantity", 1}}), 404,
                        "cart_item.not_found"));
}

// --- Admin catalog ----------------------------------------------------------------------------

TEST_F(ErrorsTest, DuplicateHandleOrSkuIs409AndCreatesNothing) {
  auto dup_handle = admin().post("/v1/admin/products", {{"handle", "organic-cotton-tee"}, {"title", "Copy"},
                                                         {"variants", {{{"sku", "COPY-1"}, {"title", "One"}}}}});
  EXPECT_TRUE(IsProblem(dup_handle, 409, "product.handle_taken"));
  auto dup_sku = admin().post("/v1/admin/products", {{"handle", "copy-tee"}, {"title", "Copy"},
                                                      {"variants", {{{"sku", "NEW-SKU-1"}, {"title", "One"}},
                                                                    {{"sku", "TEE-ORGANIC-NAVY-S"}, {"title", "Two"}}}}});
  EXPECT_TRUE(IsProblem(dup_sku, 409, "variant.sku_taken"));
  // Nothing of either was written: no product, and the first SKU is still free.
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/products/copy-tee"), 404, "product.not_found"));
  auto level = admin().put("/v1/admin/inventory-levels", {{"sku", "NEW-SKU-1"}, {"location_id", "warehouse-shanghai"}, {"on_hand", 1}});
  EXPECT_TRUE(IsProblem(level, 404, "variant.not_found"));
  auto copy = admin().get("/v1/admin/products?q=copy");
  ASSERT_EQ(copy.status, 200u);
  EXPECT_TRUE(copy.json()["items"].empty()) << copy.body;
  // Repeated SKU inside one request is a validation error.
  auto repeated = admin().post("/v1/admin/products", {{"handle", "twice"}, {"title", "Twice"},
                                                       {"variants", {{{"sku", "TWICE-1"}, {"title", "A"}},
                                                                     {{"sku", "TWICE-1"}, {"title", "B"}}}}});
  EXPECT_TRUE(IsProblem(repeated, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(repeated, {"variants/1/sku"}));
  // Renaming a product onto a taken handle, or a variant onto a taken SKU.
  auto mine = admin().post("/v1/admin/products", {{"handle", "mine"}, {"title", "Mine"},
                                                   {"variants", {{{"sku", "MINE-1"}, {"title", "A"}}}}});
  ASSERT_EQ(mine.status, 201u) << mine.body;
  std::string pid = mine.json()["id"], vid = mine.json()["variants"][0]["id"];
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/products/" + pid, {{"handle", "organic-cotton-tee"}}), 409,
                        "product.handle_taken"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/products/" + pid + "/variants/" + vid, {{"sku", "TEE-ORGANIC-NAVY-S"}}),
                        409, "variant.sku_taken"));
  auto reread = admin().get("/v1/admin/products/" + pid);
  ASSERT_EQ(reread.status, 200u);
  EXPECT_EQ(reread.json()["handle"], "mine");
  EXPECT_EQ(reread.json()["variants"][0]["sku"], "MINE-1");
  // Other duplicates: category handle, location code, channel code.
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/categories", {{"handle", "apparel"}, {"name", "Again"}}), 409,
                        "category.handle_taken"));
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/stock-locations",
                                     {{"code", "warehouse-shanghai"}, {"name", "Again"},
                                      {"address", {{"line1", "1 Road"}, {"city", "Shanghai"}, {"country", "CN"}}}}),
                        409, "location.code_taken"));
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/channels", {{"code", "web"}, {"type", "web"}, {"currency", "CNY"}}), 409,
                        "channel.code_taken"));
}

TEST_F(ErrorsTest, InvalidProductListsEveryField) {
  auto r = admin().post("/v1/admin/products",
                        {{"handle", "Bad Handle!"},
                         {"title", "Broken"},
                         {"status", "live"},
                         {"variants",
                          {{{"sku", "BROKEN-1"}, {"title", "A"}, {"prices", {money(-100)}}},
                           {{"sku", "BROKEN-2"}, {"title", "B"}, {"prices", {money(100, "XYZ")}}},
                           {{"sku", "bad sku!"}, {"title", "C"}, {"prices", {money(100), money(200)}}}}}});
  EXPECT_TRUE(IsProblem(r, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(r, {"handle", "status", "variants/0/prices/0/amount", "variants/1/prices/0/currency",
                              "variants/2/sku", "variants/2/prices/1/currency"}));
  // Type errors are listed together too.
  auto types = admin().post("/v1/admin/products", {{"handle", 7},
                                                    {"title", nullptr},
                                                    {"variants", {{{"sku", "T-1"}, {"title", "A"},
                                                                   {"prices", {{{"amount", 1.5}, {"currency", "CNY"}}}}}}}});
  EXPECT_TRUE(IsProblem(types, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(types, {"handle", "title", "variants/0/prices/0/amount"}));
  // Nothing was created.
  auto all = admin().get("/v1/admin/products?q=broken");
  ASSERT_EQ(all.status, 200u);
  EXPECT_TRUE(all.json()["items"].empty()) << all.body;
  auto lvl = admin().get("/v1/admin/inventory-levels?sku=BROKEN-1");
  ASSERT_EQ(lvl.status, 200u);
  EXPECT_TRUE(lvl.json()["items"].empty());

  // Channels and stock locations list their fields too.
  auto ch = admin().post("/v1/admin/channels", {{"code", "Bad Code"}, {"type", "fax"}, {"currency", "cny"}, {"tax_rate_bp", 20000}});
  EXPECT_TRUE(IsProblem(ch, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(ch, {"code", "type", "currency", "tax_rate_bp"}));
  auto loc = admin().post("/v1/admin/stock-locations", {{"code", "x"}, {"name", "X"}, {"kind", "shed"},
                                                         {"address", {{"line1", " "}, {"city", "Wuxi"}, {"country", "Z"}}}});
  EXPECT_TRUE(IsProblem(loc, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(loc, {"kind", "address/line1", "address/country"}));
  auto locs = admin().get("/v1/admin/stock-locations");
  ASSERT_EQ(locs.status, 200u);
  EXPECT_EQ(locs.json()["items"].size(), 3u) << locs.body;
  auto inv = admin().put("/v1/admin/inventory-levels", {{"sku", "TEE-ORGANIC-NAVY-S"}, {"location_id", "warehouse-shanghai"},
                                                        {"on_hand", -5}});
  EXPECT_TRUE(IsProblem(inv, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(inv, {"on_hand"}));
  auto lv = admin().get("/v1/admin/inventory-levels?sku=TEE-ORGANIC-NAVY-S");
  ASSERT_EQ(lv.status, 200u);
  const json lv_items = lv.json()["items"];
  for (const auto& l : lv_items) EXPECT_GE(l["on_hand"].get<std::int64_t>(), 0);
}

// A cart line whose product left the channel (unpublished, archived, variant archived) blocks
// checkout with a 422 naming the line; nothing is reserved.
TEST_F(ErrorsTest, LinesNoLongerSoldBlockCheckout) {
  const std::string kSku = "TEE-ORGANIC-NAVY-S";
  json cart = ready_cart({{{"sku", kSku}, {"quantity", 1}}, {{"sku", "TEE-POCKET-BLACK-M"}, {"quantity", 1}}});
  std::string id = cart["id"];
  auto tee = admin().get("/v1/admin/products/organic-cotton-tee");
  ASSERT_EQ(tee.status, 200u);
  std::string product_id = tee.json()["id"];
  std::string channel = web_channel_id();
  Stock before = stock(kSku), pocket = stock("TEE-POCKET-BLACK-M");

  ASSERT_EQ(admin().post("/v1/admin/channels/" + channel + "/unpublish", {{"product_ids", {product_id}}}).status, 200u);
  json c = get_cart(id);
  json line;
  for (const auto& l : c["items"])
    if (l["sku"] == kSku) line = l;
  EXPECT_EQ(line["purchasable"], false) << c.dump();
  EXPECT_TRUE(line["unavailable_reason"].is_string());
  EXPECT_TRUE(line["unit_price"].is_null());
  // Only the purchasable line counts in the totals.
  EXPECT_EQ(c["totals"]["subtotal"]["amount"], 14900);

  auto r = checkout(store(), id, "gone-1");
  EXPECT_TRUE(IsProblem(r, 422, "checkout.unavailable_items"));
  ASSERT_TRUE(r.json().contains("details")) << r.body;
  ASSERT_EQ(r.json()["details"]["lines"].size(), 1u) << r.body;
  EXPECT_EQ(r.json()["details"]["lines"][0]["sku"], kSku);
  EXPECT_EQ(stock(kSku), before);
  EXPECT_EQ(stock("TEE-POCKET-BLACK-M"), pocket);
  EXPECT_EQ(order_count(), 0u);
  EXPECT_EQ(get_cart(id)["status"], "open");

  // Published again, then the variant archived: still blocked.
  ASSERT_EQ(admin().post("/v1/admin/channels/" + channel + "/publish", {{"product_ids", {product_id}}}).status, 200u);
  std::string variant_id;
  const json variants = tee.json()["variants"];
  for (const auto& v : variants)
    if (v["sku"] == kSku) variant_id = v["id"];
  ASSERT_EQ(admin().post("/v1/admin/products/" + product_id + "/variants/" + variant_id + "/archive", json::object()).status,
            200u);
  EXPECT_TRUE(IsProblem(checkout(store(), id, "gone-2"), 422, "checkout.unavailable_items"));
  EXPECT_TRUE(IsProblem(store().post("/v1/store/carts/" + id + "/items", {{"sku", kSku}, {"quantity", 1}}), 400,
                        "cart.unknown_variant"));
  // Removing the line lets the rest check out.
  ASSERT_EQ(store().del("/v1/store/carts/" + id + "/items/" + line["id"].get<std::string>()).status, 200u);
  EXPECT_EQ(checkout(store(), id, "gone-3").status, 201u);
  EXPECT_EQ(stock(kSku), before);
}

// Idempotency keys are scoped to the channel: two storefronts may pick the same key.
TEST_F(ErrorsTest, IdempotencyKeysAreScopedPerChannel) {
  auto loc = admin().get("/v1/admin/stock-locations/warehouse-shanghai");
  ASSERT_EQ(loc.status, 200u) << loc.body;
  auto ch = admin().post("/v1/admin/channels", {{"code", "second-web"}, {"type", "web"}, {"currency", "CNY"},
                                                 {"tax_rate_bp", 1300}, {"tax_inclusive", true},
                                                 {"location_ids", {loc.json()["id"]}}});
  ASSERT_EQ(ch.status, 201u) << ch.body;
  std::string channel = ch.json()["id"];
  auto tee = admin().get("/v1/admin/products/organic-cotton-tee");
  ASSERT_EQ(admin().post("/v1/admin/channels/" + channel + "/publish", {{"product_ids", {tee.json()["id"]}}}).status, 200u);
  auto key = admin().post("/v1/admin/channels/" + channel + "/publishable-keys", json::object());
  ASSERT_EQ(key.status, 201u);
  HttpClient other = anonymous();
  other.set_default_header("X-Publishable-Key", key.json()["key"].get<std::string>());

  json a = ready_cart({{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}});
  auto b = other.post("/v1/store/carts", {{"email", "b@example.cn"}, {"shipping_address", kAddress},
                                          {"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  ASSERT_EQ(b.status, 201u) << b.body;
  auto first = checkout(store(), a["id"], "shared-key");
  auto second = checkout(other, b.json()["id"], "shared-key");
  ASSERT_EQ(first.status, 201u) << first.body;
  ASSERT_EQ(second.status, 201u) << second.body;
  EXPECT_NE(first.json()["id"], second.json()["id"]);
  EXPECT_TRUE(second.header("Idempotent-Replayed").empty());
}

// Bytes that are not UTF-8 in a path or query parameter are a 4xx (or an empty result), never a
// 500; and no reply leaks SQL or database internals.
TEST_F(ErrorsTest, NonUtf8PathAndQueryAreNot500) {
  struct Case {
    HttpClient* client;
    std::string target;
  };
  HttpClient& s = store();
  HttpClient& a = admin();
  const Case cases[] = {
      {&s, "/v1/store/products/%FF"},          {&s, "/v1/store/products/caf%C3"},
      {&s, "/v1/store/products?q=%FF"},        {&s, "/v1/store/products?category=%FE%FF"},
      {&s, "/v1/store/carts/%FF"},             {&s, "/v1/store/orders/%FF"},
      {&a, "/v1/admin/products/%FF"},          {&a, "/v1/admin/products?q=%FF"},
      {&a, "/v1/admin/orders/%FF"},            {&a, "/v1/admin/orders?channel=%FF"},
      {&a, "/v1/admin/channels/%FF"},          {&a, "/v1/admin/stock-locations/%FF"},
      {&a, "/v1/admin/inventory-levels?sku=%FF"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    auto r = c.client->get(c.target, {{"X-Order-Token", "qq_ot_0000"}});
    EXPECT_LT(r.status, 500u) << r.body.substr(0, 400);
    EXPECT_TRUE(r.status == 200 || r.status == 400 || r.status == 404) << r.status;
    if (r.status != 200) {
      EXPECT_EQ(r.header("Content-Type").rfind("application/problem+json", 0), 0u);
    }
    EXPECT_EQ(r.body.find("SELECT"), std::string::npos) << "SQL leaked: " << r.body.substr(0, 400);
    EXPECT_EQ(r.body.find("database error"), std::string::npos) << r.body.substr(0, 400);
  }
}

// Type errors (found while reading the JSON) and value errors (found by the service) of one
// request are reported together, so a client can fix everything in one round trip.
TEST_F(ErrorsTest, ValidationListsTypeAndValueErrorsTogether) {
  auto product = admin().post("/v1/admin/products", {{"handle", "Bad Handle!"}, {"title", nullptr},
                                                      {"variants", {{{"sku", "MIX-1"}, {"title", "A"},
                                                                     {"prices", {money(-1)}}}}}});
  EXPECT_TRUE(IsProblem(product, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(product, {"handle", "title", "variants/0/prices/0/amount"}));

  json cart = new_cart(store());
  auto details = store().patch("/v1/store/carts/" + cart["id"].get<std::string>(),
                               {{"email", "not-an-email"}, {"shipping_address", {{"line1", "1 Road"}, {"country", "CN"}}}});
  EXPECT_TRUE(IsProblem(details, 400, "validation_failed"));
  EXPECT_TRUE(ListsFields(details, {"email", "shipping_address/city"}));
}

}  // namespace
