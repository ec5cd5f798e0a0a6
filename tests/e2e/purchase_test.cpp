// End to end: a merchant sets up a shop through the admin API and a shopper buys from it through
// the store API; stock reservation, order lookup, admin order handling and totals arithmetic.
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <vector>
#include <string>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;


using quanqu::e2e::kAddress;

// The one inventory level of `sku` at `location_id`.
json level_of(HttpClient& admin, const std::string& sku, const std::string& location_id) {
  auto r = admin.get("/v1/admin/inventory-levels?sku=" + sku + "&location_id=" + location_id);
  EXPECT_EQ(r.status, 200u) << r.body;
  auto items = r.json().at("items");
  EXPECT_EQ(items.size(), 1u) << r.body;
  return items.empty() ? json::object() : items.at(0);
}

// Tax arithmetic as the brief defines it: per line, round half up, in minor units.
std::int64_t round_half_up_div(std::int64_t num, std::int64_t den) { return (2 * num + den) / (2 * den); }
std::int64_t inclusive_tax(std::int64_t gross, std::int64_t bp) { return round_half_up_div(gross * bp, 10000 + bp); }
std::int64_t exclusive_tax(std::int64_t net, std::int64_t bp) { return round_half_up_div(net * bp, 10000); }

using quanqu::e2e::money;

// The cart or order line with this SKU (lines are looked up by SKU, not position).
json line_of(const json& lines, const std::string& sku) {
  for (const auto& l : lines)
    if (l.value("sku", "") == sku) return l;
  ADD_FAILURE() << "no line with SKU " << sku << " in " << lines.dump();
  return json::object();
}

// What the merchant set up.
struct Shop {
  std::string category_id;
  std::string location_id;
  std::string product_id;
  std::string handle;
  std::string variant_a, variant_b;
  std::string sku_a, sku_b;
  std::string hidden_product_id;  // created, never published
};

class PurchaseTest : public E2ETest {
 protected:
  // Category, location, a product with two CNY variants and stock, and a second product that is
  // never published. Every step asserts its own reply.
  Shop create_catalog(std::int64_t price_a, std::int64_t price_b, std::int64_t on_hand) {
    Shop s;
    auto cat = admin().post("/v1/admin/categories", {{"handle", "capsule"}, {"name", "Capsule collection"}});
    EXPECT_EQ(cat.status, 201u) << cat.body;
    s.category_id = cat.json().value("id", "");

    auto loc = admin().post("/v1/admin/stock-locations",
                            {{"code", "warehouse-suzhou"},
                             {"name", "Suzhou warehouse"},
                             {"kind", "warehouse"},
                             {"address", {{"line1", "1 Industrial Park"}, {"city", "Suzhou"}, {"country", "CN"}}}});
    EXPECT_EQ(loc.status, 201u) << loc.body;
    s.location_id = loc.json().value("id", "");
    EXPECT_EQ(loc.json().value("kind", ""), "warehouse");

    s.handle = "capsule-linen-shirt";
    s.sku_a = "CAP-LINEN-WHITE-M";
    s.sku_b = "CAP-LINEN-BLUE-M";
    auto prod = admin().post(
        "/v1/admin/products",
        {{"handle", s.handle},
         {"title", "Capsule Linen Shirt"},
         {"description", "A breezy linen shirt."},
         {"status", "published"},
         {"category_ids", {s.category_id}},
         {"variants",
          {{{"sku", s.sku_a}, {"title", "White / M"}, {"options", {{"color", "White"}, {"size", "M"}}},
            {"prices", {money(price_a)}}},
           {{"sku", s.sku_b}, {"title", "Blue / M"}, {"options", {{"color", "Blue"}, {"size", "M"}}},
            {"prices", {money(price_b)}}}}}});
    EXPECT_EQ(prod.status, 201u) << prod.body;
    json p = prod.json();
    s.product_id = p.value("id", "");
    EXPECT_EQ(p.value("status", ""), "published");
    EXPECT_EQ(p.at("category_ids"), json::array({s.category_id}));
    EXPECT_EQ(p.at("variants").size(), 2u);
    if (p.at("variants").size() == 2) {
      s.variant_a = p["variants"][0].value("id", "");
      s.variant_b = p["variants"][1].value("id", "");
      EXPECT_EQ(p["variants"][0]["sku"], s.sku_a);
      EXPECT_EQ(p["variants"][0]["prices"], json::array({money(price_a)}));
    }

    auto hidden = admin().post("/v1/admin/products",
                               {{"handle", "capsule-unpublished-scarf"},
                                {"title", "Capsule Scarf"},
                                {"status", "published"},
                                {"variants", {{{"sku", "CAP-SCARF"}, {"title", "One size"}, {"prices", {money(5000)}}}}}});
    EXPECT_EQ(hidden.status, 201u) << hidden.body;
    s.hidden_product_id = hidden.json().value("id", "");

    // Stock: one by SKU, one by variant id.
    auto a = admin().put("/v1/admin/inventory-levels", {{"sku", s.sku_a}, {"location_id", s.location_id}, {"on_hand", on_hand}});
    EXPECT_EQ(a.status, 200u) << a.body;
    EXPECT_EQ(a.json().value("on_hand", -1), on_hand);
    EXPECT_EQ(a.json().value("reserved", -1), 0);
    EXPECT_EQ(a.json().value("available", -1), on_hand);
    auto b = admin().put("/v1/admin/inventory-levels",
                         {{"variant_id", s.variant_b}, {"location_id", s.location_id}, {"on_hand", on_hand}});
    EXPECT_EQ(b.status, 200u) << b.body;
    EXPECT_EQ(b.json().value("sku", ""), s.sku_b);
    auto scarf = admin().put("/v1/admin/inventory-levels", {{"sku", "CAP-SCARF"}, {"location_id", s.location_id}, {"on_hand", 5}});
    EXPECT_EQ(scarf.status, 200u) << scarf.body;
    return s;
  }

  // A channel selling from `location_id` with `product_id` published and a fresh publishable key;
  // returns {channel id, key}.
  std::pair<std::string, std::string> create_channel(const std::string& code, const std::string& location_id,
                                                     const std::string& product_id, int rate_bp, bool inclusive) {
    auto ch = admin().post("/v1/admin/channels", {{"code", code},
                                                  {"name", "Channel " + code},
                                                  {"type", "web"},
                                                  {"currency", "CNY"},
                                                  {"tax_rate_bp", rate_bp},
                                                  {"tax_inclusive", inclusive},
                                                  {"location_ids", {location_id}}});
    EXPECT_EQ(ch.status, 201u) << ch.body;
    json c = ch.json();
    EXPECT_EQ(c.value("code", ""), code);
    EXPECT_EQ(c.value("currency", ""), "CNY");
    EXPECT_EQ(c.value("tax_rate_bp", -1), rate_bp);
    EXPECT_EQ(c.value("tax_inclusive", !inclusive), inclusive);
    EXPECT_EQ(c.at("location_ids"), json::array({location_id}));
    std::string id = c.value("id", "");

    auto pub = admin().post("/v1/admin/channels/" + id + "/publish", {{"product_ids", {product_id}}});
    EXPECT_EQ(pub.status, 200u) << pub.body;
    EXPECT_EQ(pub.json().value("published", -1), 1);

    auto key = admin().post("/v1/admin/channels/" + id + "/publishable-keys", {{"label", "Storefront " + code}});
    EXPECT_EQ(key.status, 201u) << key.body;
    json k = key.json();
    EXPECT_EQ(k.value("kind", ""), "publishable");
    EXPECT_EQ(k.value("channel_id", ""), id);
    EXPECT_TRUE(k.at("revoked_at").is_null());
    return {id, k.value("key", "")};
  }

};

TEST_F(PurchaseTest, MerchantSetsUpAShopperBuysAndTheMerchantCancels) {
  const std::int64_t kPriceA = 12900, kPriceB = 9950, kOnHand = 20;
  Shop shop = create_catalog(kPriceA, kPriceB, kOnHand);
  ASSERT_FALSE(HasFailure());
  auto [channel_id, key] = create_channel("capsule-web", shop.location_id, shop.product_id, 1300, true);
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(key.empty());
  HttpClient store = storefront(key);

  // --- The storefront sees exactly the one published product, at its prices and stock.
  auto list = store.get("/v1/store/products");
  ASSERT_EQ(list.status, 200u) << list.body;
  json page = list.json();
  ASSERT_EQ(page.at("items").size(), 1u) << list.body;
  EXPECT_TRUE(page.at("next_cursor").is_null());
  EXPECT_EQ(page["items"][0]["id"], shop.product_id);
  EXPECT_EQ(page["items"][0]["handle"], shop.handle);

  auto got = store.get("/v1/store/products/" + shop.handle);
  ASSERT_EQ(got.status, 200u) << got.body;
  json product = got.json();
  EXPECT_EQ(product["id"], shop.product_id);
  EXPECT_EQ(product["title"], "Capsule Linen Shirt");
  EXPECT_EQ(product["category_ids"], json::array({shop.category_id}));
  ASSERT_EQ(product["variants"].size(), 2u);
  EXPECT_EQ(product["variants"][0]["sku"], shop.sku_a);
  EXPECT_EQ(product["variants"][0]["price"], money(kPriceA));
  EXPECT_EQ(product["variants"][0]["available_quantity"], kOnHand);
  EXPECT_EQ(product["variants"][0]["in_stock"], true);
  EXPECT_EQ(product["variants"][1]["price"], money(kPriceB));
  // The unpublished product is invisible to this channel.
  EXPECT_TRUE(IsProblem(store.get("/v1/store/products/capsule-unpublished-scarf"), 404, "product.not_found"));
  EXPECT_TRUE(IsProblem(store.get("/v1/store/products/" + shop.hidden_product_id), 404, "product.not_found"));
  // ... and the demo products of the 'web' channel too.
  EXPECT_TRUE(IsProblem(store.get("/v1/store/products/organic-cotton-tee"), 404, "product.not_found"));

  // --- Cart: create, add by SKU and by variant id, change a quantity, remove a line.
  auto created = store.post("/v1/store/carts", json::object());
  ASSERT_EQ(created.status, 201u) << created.body;
  json cart = created.json();
  std::string cart_id = cart.value("id", "");
  EXPECT_EQ(cart["channel_id"], channel_id);
  EXPECT_EQ(cart["currency"], "CNY");
  EXPECT_EQ(cart["status"], "open");
  EXPECT_TRUE(cart["items"].empty());
  EXPECT_EQ(cart["totals"]["total"], money(0));

  auto add_sku = store.post("/v1/store/carts/" + cart_id + "/items", {{"sku", shop.sku_a}, {"quantity", 2}});
  ASSERT_EQ(add_sku.status, 200u) << add_sku.body;
  ASSERT_EQ(add_sku.json()["items"].size(), 1u);
  EXPECT_EQ(add_sku.json()["items"][0]["variant_id"], shop.variant_a);
  EXPECT_EQ(add_sku.json()["items"][0]["quantity"], 2);

  auto add_id = store.post("/v1/store/carts/" + cart_id + "/items", {{"variant_id", shop.variant_b}, {"quantity", 1}});
  ASSERT_EQ(add_id.status, 200u) << add_id.body;
  cart = add_id.json();
  ASSERT_EQ(cart["items"].size(), 2u);
  std::string item_a = line_of(cart["items"], shop.sku_a).value("id", "");
  std::string item_b = line_of(cart["items"], shop.sku_b).value("id", "");
  EXPECT_EQ(line_of(cart["items"], shop.sku_b)["variant_id"], shop.variant_b);
  EXPECT_EQ(cart["totals"]["subtotal"], money(2 * kPriceA + kPriceB));

  // Adding the same variant again adds to its line rather than making a second one.
  auto again = store.post("/v1/store/carts/" + cart_id + "/items", {{"sku", shop.sku_a}, {"quantity", 1}});
  ASSERT_EQ(again.status, 200u) << again.body;
  ASSERT_EQ(again.json()["items"].size(), 2u);
  EXPECT_EQ(line_of(again.json()["items"], shop.sku_a)["quantity"], 3);

  auto patched = store.patch("/v1/store/carts/" + cart_id + "/items/" + item_a, {{"quantity", 4}});
  ASSERT_EQ(patched.status, 200u) << patched.body;
  EXPECT_EQ(line_of(patched.json()["items"], shop.sku_a)["quantity"], 4);
  EXPECT_EQ(line_of(patched.json()["items"], shop.sku_b)["quantity"], 1);

  auto removed = store.del("/v1/store/carts/" + cart_id + "/items/" + item_b);
  ASSERT_EQ(removed.status, 200u) << removed.body;
  cart = removed.json();
  ASSERT_EQ(cart["items"].size(), 1u);
  EXPECT_EQ(cart["items"][0]["id"], item_a);
  // Removing it again: the line is gone.
  EXPECT_TRUE(IsProblem(store.del("/v1/store/carts/" + cart_id + "/items/" + item_b), 404, "cart_item.not_found"));

  auto details = store.patch("/v1/store/carts/" + cart_id, {{"email", "li.lei@example.cn"}, {"shipping_address", kAddress}});
  ASSERT_EQ(details.status, 200u) << details.body;
  cart = details.json();
  EXPECT_EQ(cart["email"], "li.lei@example.cn");
  EXPECT_EQ(cart["shipping_address"]["line1"], kAddress["line1"]);
  EXPECT_EQ(cart["shipping_address"]["country"], "CN");

  // Totals of 4 x 129.00 with 13 % VAT included: 51600 gross, tax 51600*1300/11300 = 5936.28 -> 5936.
  const std::int64_t kSubtotal = 4 * kPriceA;
  ASSERT_EQ(kSubtotal, 51600);
  EXPECT_EQ(cart["totals"]["subtotal"], money(51600));
  EXPECT_EQ(cart["totals"]["tax_total"], money(5936));
  EXPECT_EQ(cart["totals"]["total"], money(51600));
  EXPECT_EQ(cart["totals"]["tax_inclusive"], true);
  EXPECT_EQ(cart["totals"]["tax_rate_bp"], 1300);

  // --- Checkout.
  auto checkout = store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                                {{"Idempotency-Key", "purchase-1"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;
  EXPECT_TRUE(checkout.header("Idempotent-Replayed").empty());
  json order = checkout.json();
  std::string order_id = order.value("id", ""), token = order.value("access_token", "");
  ASSERT_FALSE(order_id.empty());
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(order["status"], "placed");
  EXPECT_EQ(order["channel_id"], channel_id);
  EXPECT_EQ(order["cart_id"], cart_id);
  EXPECT_EQ(order["email"], "li.lei@example.cn");
  EXPECT_EQ(order["currency"], "CNY");
  EXPECT_GT(order.value("number", 0), 0);
  ASSERT_EQ(order["lines"].size(), 1u);
  EXPECT_EQ(order["lines"][0]["sku"], shop.sku_a);
  EXPECT_EQ(order["lines"][0]["quantity"], 4);
  EXPECT_EQ(order["lines"][0]["unit_price"], money(kPriceA));
  EXPECT_EQ(order["totals"]["subtotal"], money(51600));
  EXPECT_EQ(order["totals"]["tax_total"], money(5936));
  EXPECT_EQ(order["totals"]["total"], money(51600));
  EXPECT_FALSE(order.contains("allocations")) << "the store view must not expose allocations";

  // The cart is completed and points to the order.
  auto after = store.get("/v1/store/carts/" + cart_id);
  ASSERT_EQ(after.status, 200u) << after.body;
  EXPECT_EQ(after.json()["status"], "completed");
  EXPECT_EQ(after.json()["order_id"], order_id);

  // The shopper reads the order with its token.
  auto read = store.get("/v1/store/orders/" + order_id, {{"X-Order-Token", token}});
  ASSERT_EQ(read.status, 200u) << read.body;
  EXPECT_EQ(read.json()["id"], order_id);
  EXPECT_EQ(read.json()["totals"], order["totals"]);
  EXPECT_FALSE(read.json().contains("access_token"));

  // Stock: 4 reserved, 16 available, on hand unchanged; B untouched.
  json level_a = level_of(admin(), shop.sku_a, shop.location_id);
  EXPECT_EQ(level_a.value("on_hand", -1), kOnHand);
  EXPECT_EQ(level_a.value("reserved", -1), 4);
  EXPECT_EQ(level_a.value("available", -1), kOnHand - 4);
  json level_b = level_of(admin(), shop.sku_b, shop.location_id);
  EXPECT_EQ(level_b.value("reserved", -1), 0);
  // The storefront sees the lower availability.
  auto restocked_view = store.get("/v1/store/products/" + shop.handle);
  ASSERT_EQ(restocked_view.status, 200u);
  EXPECT_EQ(restocked_view.json()["variants"][0]["available_quantity"], kOnHand - 4);

  // --- Admin: list (by status and channel code), read, cancel.
  auto orders = admin().get("/v1/admin/orders?status=placed&channel=capsule-web");
  ASSERT_EQ(orders.status, 200u) << orders.body;
  ASSERT_EQ(orders.json()["items"].size(), 1u) << orders.body;
  EXPECT_EQ(orders.json()["items"][0]["id"], order_id);
  EXPECT_TRUE(orders.json()["next_cursor"].is_null());
  // The same filter on the demo channel or another status finds nothing.
  auto web_orders = admin().get("/v1/admin/orders?channel=web");
  ASSERT_EQ(web_orders.status, 200u) << web_orders.body;
  EXPECT_TRUE(web_orders.json()["items"].empty());
  auto cancelled_orders = admin().get("/v1/admin/orders?status=cancelled&channel=capsule-web");
  ASSERT_EQ(cancelled_orders.status, 200u) << cancelled_orders.body;
  EXPECT_TRUE(cancelled_orders.json()["items"].empty());

  auto admin_order = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(admin_order.status, 200u) << admin_order.body;
  json ao = admin_order.json();
  EXPECT_EQ(ao["status"], "placed");
  ASSERT_EQ(ao["allocations"].size(), 1u) << admin_order.body;
  EXPECT_EQ(ao["allocations"][0]["location_id"], shop.location_id);
  EXPECT_EQ(ao["allocations"][0]["variant_id"], shop.variant_a);
  EXPECT_EQ(ao["allocations"][0]["quantity"], 4);
  ASSERT_FALSE(ao["events"].empty());
  EXPECT_EQ(ao["events"][0]["type"], "order.placed");

  auto cancel = admin().post("/v1/admin/orders/" + order_id + "/cancel", {{"reason", "customer changed their mind"}});
  ASSERT_EQ(cancel.status, 200u) << cancel.body;
  EXPECT_EQ(cancel.json()["status"], "cancelled");
  EXPECT_EQ(cancel.json()["events"].back()["type"], "order.cancelled");

  level_a = level_of(admin(), shop.sku_a, shop.location_id);
  EXPECT_EQ(level_a.value("on_hand", -1), kOnHand);
  EXPECT_EQ(level_a.value("reserved", -1), 0);
  EXPECT_EQ(level_a.value("available", -1), kOnHand);

  // A second cancel is refused and changes nothing.
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/orders/" + order_id + "/cancel", json::object()), 409,
                        "order.invalid_transition"));
  level_a = level_of(admin(), shop.sku_a, shop.location_id);
  EXPECT_EQ(level_a.value("reserved", -1), 0);
  EXPECT_EQ(level_a.value("on_hand", -1), kOnHand);
  auto reread = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(reread.status, 200u);
  EXPECT_EQ(reread.json()["status"], "cancelled");
  EXPECT_EQ(reread.json()["events"].size(), 2u);

  // Filters follow the new status; the shopper sees it too.
  auto pending = admin().get("/v1/admin/orders?status=placed&channel=capsule-web");
  ASSERT_EQ(pending.status, 200u);
  EXPECT_TRUE(pending.json()["items"].empty());
  auto cancelled = admin().get("/v1/admin/orders?status=cancelled&channel=" + channel_id);
  ASSERT_EQ(cancelled.status, 200u);
  ASSERT_EQ(cancelled.json()["items"].size(), 1u);
  auto shopper_view = store.get("/v1/store/orders/" + order_id, {{"X-Order-Token", token}});
  ASSERT_EQ(shopper_view.status, 200u);
  EXPECT_EQ(shopper_view.json()["status"], "cancelled");
  // Cancelling an unknown order is a 404.
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/orders/order_0000000000000000000000000000000000000000000/cancel",
                                     json::object()),
                        404, "order.not_found"));
}

TEST_F(PurchaseTest, CartCreatedWithItemsAndDetailsChecksOutInOneGo) {
  Shop shop = create_catalog(4999, 5999, 10);
  ASSERT_FALSE(HasFailure());
  auto [channel_id, key] = create_channel("capsule-app", shop.location_id, shop.product_id, 1300, true);
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(key);
  auto created = store.post("/v1/store/carts", {{"email", "han.meimei@example.cn"},
                                                {"shipping_address", kAddress},
                                                {"items", {{{"sku", shop.sku_a}, {"quantity", 2}},
                                                           {{"variant_id", shop.variant_b}, {"quantity", 3}}}}});
  ASSERT_EQ(created.status, 201u) << created.body;
  json cart = created.json();
  ASSERT_EQ(cart["items"].size(), 2u);
  EXPECT_EQ(cart["totals"]["subtotal"], money(2 * 4999 + 3 * 5999));
  auto checkout = store.request("POST", "/v1/store/carts/" + cart["id"].get<std::string>() + "/checkout",
                                std::nullopt, {{"Idempotency-Key", "one-go"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;
  EXPECT_EQ(checkout.json()["lines"].size(), 2u);
  EXPECT_EQ(level_of(admin(), shop.sku_a, shop.location_id)["reserved"], 2);
  EXPECT_EQ(level_of(admin(), shop.sku_b, shop.location_id)["reserved"], 3);
}

// The same cart lines priced on a tax-inclusive and a tax-exclusive channel: exact minor-unit
// arithmetic, rounded half up per line.
TEST_F(PurchaseTest, TotalsAreExactForTaxInclusiveAndTaxExclusiveChannels) {
  // Prices chosen so that rounding matters: half-way cases and fractions on both sides.
  const std::int64_t kPriceA = 2525, kPriceB = 9999;
  Shop shop = create_catalog(kPriceA, kPriceB, 100);
  ASSERT_FALSE(HasFailure());
  auto [incl_id, incl_key] = create_channel("incl-13", shop.location_id, shop.product_id, 1300, true);
  auto [excl_id, excl_key] = create_channel("excl-6", shop.location_id, shop.product_id, 600, false);
  ASSERT_FALSE(HasFailure());

  struct Expect {
    std::string key;
    int rate;
    bool inclusive;
    std::int64_t tax_a, tax_b, total_a, total_b;
  };
  // Inclusive 13 %: line A 1 x 2525 -> 2525*1300/11300 = 290.49 -> 290;
  //                 line B 3 x 9999 = 29997 -> 29997*1300/11300 = 3450.98 -> 3451.
  // Exclusive 6 %:  line A 2525 -> 151.5 -> 152 (half up), total 2677;
  //                 line B 29997 -> 1799.82 -> 1800, total 31797.
  const Expect cases[] = {{incl_key, 1300, true, 290, 3451, 2525, 29997},
                          {excl_key, 600, false, 152, 1800, 2677, 31797}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.inclusive ? "tax inclusive" : "tax exclusive");
    // The hand-worked numbers agree with the rule.
    EXPECT_EQ(c.tax_a, c.inclusive ? inclusive_tax(kPriceA, c.rate) : exclusive_tax(kPriceA, c.rate));
    EXPECT_EQ(c.tax_b, c.inclusive ? inclusive_tax(3 * kPriceB, c.rate) : exclusive_tax(3 * kPriceB, c.rate));

    HttpClient store = storefront(c.key);
    auto created = store.post("/v1/store/carts", {{"email", "tax@example.cn"},
                                                  {"shipping_address", kAddress},
                                                  {"items", {{{"sku", shop.sku_a}, {"quantity", 1}},
                                                             {{"sku", shop.sku_b}, {"quantity", 3}}}}});
    ASSERT_EQ(created.status, 201u) << created.body;
    json cart = created.json();
    ASSERT_EQ(cart["items"].size(), 2u);
    json a = line_of(cart["items"], shop.sku_a), b = line_of(cart["items"], shop.sku_b);
    EXPECT_EQ(a["unit_price"], money(kPriceA));
    EXPECT_EQ(a["subtotal"], money(kPriceA));
    EXPECT_EQ(a["tax"], money(c.tax_a));
    EXPECT_EQ(a["total"], money(c.total_a));
    EXPECT_EQ(b["unit_price"], money(kPriceB));
    EXPECT_EQ(b["subtotal"], money(3 * kPriceB));
    EXPECT_EQ(b["tax"], money(c.tax_b));
    EXPECT_EQ(b["total"], money(c.total_b));
    json t = cart["totals"];
    EXPECT_EQ(t["subtotal"], money(kPriceA + 3 * kPriceB));
    EXPECT_EQ(t["tax_total"], money(c.tax_a + c.tax_b));
    EXPECT_EQ(t["total"], money(c.total_a + c.total_b));
    EXPECT_EQ(t["shipping_total"], money(0));
    EXPECT_EQ(t["discount_total"], money(0));
    EXPECT_EQ(t["tax_rate_bp"], c.rate);
    EXPECT_EQ(t["tax_inclusive"], c.inclusive);
    if (c.inclusive) {
      EXPECT_EQ(t["total"], t["subtotal"]) << "prices include tax";
    } else {
      EXPECT_EQ(t["total"]["amount"].get<std::int64_t>(),
                t["subtotal"]["amount"].get<std::int64_t>() + t["tax_total"]["amount"].get<std::int64_t>());
    }
    // The explanation names the tax line with the included flag.
    bool saw_tax = false;
    for (const auto& e : t["explanation"])
      if (e["kind"] == "tax") {
        saw_tax = true;
        EXPECT_EQ(e["amount"], money(c.tax_a + c.tax_b));
        EXPECT_EQ(e["included"], c.inclusive);
      }
    EXPECT_TRUE(saw_tax) << t.dump();

    // The order snapshot keeps the same numbers.
    auto checkout = store.request("POST", "/v1/store/carts/" + cart["id"].get<std::string>() + "/checkout",
                                  std::string("{}"), {{"Idempotency-Key", "tax-" + std::to_string(c.rate)}});
    ASSERT_EQ(checkout.status, 201u) << checkout.body;
    json order = checkout.json();
    EXPECT_EQ(order["totals"]["subtotal"], t["subtotal"]);
    EXPECT_EQ(order["totals"]["tax_total"], t["tax_total"]);
    EXPECT_EQ(order["totals"]["total"], t["total"]);
    ASSERT_EQ(order["lines"].size(), 2u);
    EXPECT_EQ(line_of(order["lines"], shop.sku_a)["tax"], money(c.tax_a));
    EXPECT_EQ(line_of(order["lines"], shop.sku_b)["tax"], money(c.tax_b));
    EXPECT_EQ(line_of(order["lines"], shop.sku_b)["total"], money(c.total_b));
    auto admin_order = admin().get("/v1/admin/orders/" + order["id"].get<std::string>());
    ASSERT_EQ(admin_order.status, 200u);
    EXPECT_EQ(admin_order.json()["totals"]["total"], t["total"]);
    EXPECT_EQ(admin_order.json()["totals"]["tax_total"], t["tax_total"]);
  }
}

// The demo channel: 13 % VAT included, CNY, stock at three locations.
TEST_F(PurchaseTest, DemoChannelPurchaseReservesAtTheFirstLocationWithStock) {
  auto before = admin().get("/v1/admin/inventory-levels?sku=TEE-ORGANIC-NAVY-S");
  ASSERT_EQ(before.status, 200u) << before.body;
  ASSERT_EQ(before.json()["items"].size(), 3u) << before.body;
  std::int64_t on_hand_total = 0, reserved_total = 0;
  const json before_items = before.json()["items"];
  for (const auto& l : before_items) {
    on_hand_total += l["on_hand"].get<std::int64_t>();
    reserved_total += l["reserved"].get<std::int64_t>();
  }
  EXPECT_EQ(reserved_total, 0);

  auto cart = store().post("/v1/store/carts", {{"email", "demo@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 2}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  // 2 x 129.00 incl. 13 %: 25800*1300/11300 = 2968.14 -> 2968.
  EXPECT_EQ(cart.json()["totals"]["subtotal"], money(25800));
  EXPECT_EQ(cart.json()["totals"]["tax_total"], money(2968));
  EXPECT_EQ(cart.json()["totals"]["total"], money(25800));
  auto checkout = store().request("POST", "/v1/store/carts/" + cart.json()["id"].get<std::string>() + "/checkout",
                                  std::string("{}"), {{"Idempotency-Key", "demo-1"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;

  auto after = admin().get("/v1/admin/inventory-levels?sku=TEE-ORGANIC-NAVY-S");
  ASSERT_EQ(after.status, 200u);
  std::int64_t on_hand_after = 0, reserved_after = 0;
  const json after_items = after.json()["items"];
  for (const auto& l : after_items) {
    on_hand_after += l["on_hand"].get<std::int64_t>();
    reserved_after += l["reserved"].get<std::int64_t>();
    EXPECT_GE(l["available"].get<std::int64_t>(), 0);
  }
  EXPECT_EQ(on_hand_after, on_hand_total);
  EXPECT_EQ(reserved_after, 2);

  // The 'web' channel sells from the warehouse first, which has plenty: one allocation there.
  auto warehouse = admin().get("/v1/admin/stock-locations/warehouse-shanghai");
  ASSERT_EQ(warehouse.status, 200u) << warehouse.body;
  auto order = admin().get("/v1/admin/orders/" + checkout.json()["id"].get<std::string>());
  ASSERT_EQ(order.status, 200u);
  ASSERT_EQ(order.json()["allocations"].size(), 1u) << order.body;
  EXPECT_EQ(order.json()["allocations"][0]["location_id"], warehouse.json()["id"]);
  EXPECT_EQ(order.json()["allocations"][0]["quantity"], 2);
}

// When no single location has enough, the reservation is split over the channel's locations in
// its order of preference, and a cancel gives every unit back where it came from.
TEST_F(PurchaseTest, ReservationSplitsOverLocationsAndCancelReleasesEachPart) {
  const std::string kSku = "TEE-ORGANIC-WHITE-L";
  std::vector<std::string> locations;
  for (std::string code : {"warehouse-shanghai", "store-shanghai-jingan", "store-hangzhou-xihu"}) {
    auto l = admin().get("/v1/admin/stock-locations/" + code);
    ASSERT_EQ(l.status, 200u) << l.body;
    locations.push_back(l.json()["id"]);
    auto set = admin().put("/v1/admin/inventory-levels", {{"sku", kSku}, {"location_id", code}, {"on_hand", 2}});
    ASSERT_EQ(set.status, 200u) << set.body;
  }
  auto cart = store().post("/v1/store/carts", {{"email", "split@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", kSku}, {"quantity", 5}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  auto checkout = store().request("POST", "/v1/store/carts/" + cart.json()["id"].get<std::string>() + "/checkout",
                                  std::string("{}"), {{"Idempotency-Key", "split-1"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;
  std::string order_id = checkout.json()["id"];

  auto order = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(order.status, 200u);
  std::map<std::string, std::int64_t> allocated;
  const json allocations = order.json()["allocations"];
  for (const auto& a : allocations) allocated[a["location_id"]] += a["quantity"].get<std::int64_t>();
  EXPECT_EQ(allocated, (std::map<std::string, std::int64_t>{{locations[0], 2}, {locations[1], 2}, {locations[2], 1}}))
      << allocations.dump();
  for (std::size_t i = 0; i < locations.size(); ++i) {
    json l = level_of(admin(), kSku, locations[i]);
    EXPECT_EQ(l["on_hand"], 2);
    EXPECT_EQ(l["reserved"], i < 2 ? 2 : 1);
  }
  // One unit is left in the whole channel.
  auto product = store().get("/v1/store/products/organic-cotton-tee");
  ASSERT_EQ(product.status, 200u);
  EXPECT_EQ(line_of(product.json()["variants"], kSku)["available_quantity"], 1);

  ASSERT_EQ(admin().post("/v1/admin/orders/" + order_id + "/cancel", json::object()).status, 200u);
  for (const auto& location : locations) {
    json l = level_of(admin(), kSku, location);
    EXPECT_EQ(l["on_hand"], 2);
    EXPECT_EQ(l["reserved"], 0);
    EXPECT_EQ(l["available"], 2);
  }
}

// Prices come from the catalog at checkout time, not from when the line was added; the order
// keeps the price it was placed at even when the catalog changes again.
TEST_F(PurchaseTest, OrderTakesTheCurrentPriceAndKeepsIt) {
  Shop shop = create_catalog(10000, 20000, 10);
  ASSERT_FALSE(HasFailure());
  auto [channel_id, key] = create_channel("reprice", shop.location_id, shop.product_id, 1300, true);
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(key);
  auto cart = store.post("/v1/store/carts", {{"email", "price@example.cn"},
                                             {"shipping_address", kAddress},
                                             {"items", {{{"sku", shop.sku_a}, {"quantity", 2}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  std::string cart_id = cart.json()["id"];
  EXPECT_EQ(cart.json()["totals"]["total"], money(20000));

  auto repriced = admin().patch("/v1/admin/products/" + shop.product_id + "/variants/" + shop.variant_a,
                                {{"prices", {money(8800)}}});
  ASSERT_EQ(repriced.status, 200u) << repriced.body;
  auto reread = store.get("/v1/store/carts/" + cart_id);
  ASSERT_EQ(reread.status, 200u);
  EXPECT_EQ(reread.json()["items"][0]["unit_price"], money(8800));
  EXPECT_EQ(reread.json()["totals"]["total"], money(17600));
  // Storefront catalog reflects it too (no stale cached page).
  EXPECT_EQ(line_of(store.get("/v1/store/products/" + shop.handle).json()["variants"], shop.sku_a)["price"], money(8800));

  auto checkout = store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                                {{"Idempotency-Key", "reprice-1"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;
  std::string order_id = checkout.json()["id"];
  // 17600 incl. 13 %: 17600*1300/11300 = 2024.78 -> 2025.
  EXPECT_EQ(checkout.json()["totals"]["total"], money(17600));
  EXPECT_EQ(checkout.json()["totals"]["tax_total"], money(2025));

  ASSERT_EQ(admin().patch("/v1/admin/products/" + shop.product_id + "/variants/" + shop.variant_a,
                          {{"prices", {money(99900)}}}).status, 200u);
  auto order = admin().get("/v1/admin/orders/" + order_id);
  ASSERT_EQ(order.status, 200u);
  EXPECT_EQ(order.json()["totals"]["total"], money(17600));
  EXPECT_EQ(order.json()["lines"][0]["unit_price"], money(8800));
}

// Lines are listed in the order the shopper added them, also when several are added at once.
TEST_F(PurchaseTest, CartLinesKeepTheOrderTheyWereAddedIn) {
  std::vector<std::string> skus{"TEE-ORGANIC-WHITE-XL", "TEE-ORGANIC-NAVY-M", "TEE-ORGANIC-WHITE-S",
                                "TEE-ORGANIC-NAVY-L",   "TEE-ORGANIC-WHITE-M", "TEE-ORGANIC-NAVY-XL"};
  json items = json::array();
  for (const auto& s : skus) items.push_back({{"sku", s}, {"quantity", 1}});
  auto cart = store().post("/v1/store/carts", {{"email", "order@example.cn"}, {"shipping_address", kAddress}, {"items", items}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  std::vector<std::string> listed;
  const json lines = cart.json()["items"];
  for (const auto& l : lines) listed.push_back(l["sku"]);
  EXPECT_EQ(listed, skus);
  // The order snapshot keeps that order.
  auto checkout = store().request("POST", "/v1/store/carts/" + cart.json()["id"].get<std::string>() + "/checkout",
                                  std::string("{}"), {{"Idempotency-Key", "line-order"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;
  std::vector<std::string> ordered;
  const json order_lines = checkout.json()["lines"];
  for (const auto& l : order_lines) ordered.push_back(l["sku"]);
  EXPECT_EQ(ordered, skus);
}

}  // namespace
