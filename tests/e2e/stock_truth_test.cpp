// One stock truth across channels: a sale stales only the cached replies it changed, and 100
// buyers on two channels sharing two locations get exactly as many orders as there are units.
#include "support/checkout.h"
#include "support/fixture.h"
#include "support/metrics.h"
#include "support/shopper.h"

// Only for the slot a variant's stock is tracked in (which two variants share one is chance).
#include "../../core/common/change_counter.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::checkout_once;
using quanqu::e2e::CheckoutOutcome;
using quanqu::e2e::metric_sample;

using quanqu::e2e::kAddress;

class StockTruthTest : public E2ETest {
 protected:
  // Cached replies live long enough that only a write can make them stale during a test.
  std::vector<std::string> extra_args() const override { return {"--catalog-cache-ttl-ms", "600000"}; }

  std::string new_location(const std::string& code) {
    auto r = admin().post("/v1/admin/stock-locations",
                          {{"code", code}, {"name", "Store " + code}, {"kind", "store"},
                           {"address", {{"line1", "1 Huaihai Road"}, {"city", "Shanghai"}, {"country", "CN"}}}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }

  // A published product with one variant, `sku`, priced in CNY and USD.
  std::string new_product(const std::string& handle, const std::string& sku) {
    auto r = admin().post("/v1/admin/products",
                          {{"handle", handle}, {"title", "Product " + handle}, {"status", "published"},
                           {"variants", {{{"sku", sku}, {"title", "One size"},
                                          {"prices", {{{"amount", 19900}, {"currency", "CNY"}},
                                                      {{"amount", 2900}, {"currency", "USD"}}}}}}}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }

  void set_stock(const std::string& sku, const std::string& location_id, std::int64_t on_hand) {
    auto r = admin().put("/v1/admin/inventory-levels", {{"sku", sku}, {"location_id", location_id}, {"on_hand", on_hand}});
    EXPECT_EQ(r.status, 200u) << r.body;
  }

  // A channel without payment or fulfilment providers selling `product_ids` from `locations`,
  // in that order; returns its publishable key.
  std::string new_channel(const std::string& code, const std::string& currency, const std::vector<std::string>& locations,
                          const std::vector<std::string>& product_ids) {
    auto ch = admin().post("/v1/admin/channels", {{"code", code}, {"type", "web"}, {"currency", currency},
                                                   {"tax_rate_bp", 0}, {"tax_inclusive", true},
                                                   {"location_ids", locations}});
    EXPECT_EQ(ch.status, 201u) << ch.body;
    std::string id = ch.json().value("id", "");
    auto pub = admin().post("/v1/admin/channels/" + id + "/publish", {{"product_ids", product_ids}});
    EXPECT_EQ(pub.status, 200u) << pub.body;
    auto key = admin().post("/v1/admin/channels/" + id + "/publishable-keys", {{"label", code}});
    EXPECT_EQ(key.status, 201u) << key.body;
    return key.json().value("key", "");
  }

  double cache(const std::string& result) {
    return metric_sample(anonymous().get("/metrics").body,
                         "quanqu_catalog_cache_lookups_total{result=\"" + result + "\"}");
  }

  // Buys one unit of `sku` on the storefront of `key`; the status of the checkout.
  unsigned buy(HttpClient& shop, const std::string& sku, const std::string& idempotency_key) {
    auto cart = shop.post("/v1/store/carts", {{"email", "buyer@example.cn"},
                                              {"shipping_address", kAddress},
                                              {"items", {{{"sku", sku}, {"quantity", 1}}}}});
    if (cart.status != 201u) return cart.status;
    std::string cart_id = cart.json()["id"];
    return shop.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                        {{"Idempotency-Key", idempotency_key}})
        .status;
  }
};

std::int64_t available(const HttpResponse& product) {
  return product.json()["variants"][0]["available_quantity"].get<std::int64_t>();
}

TEST_F(StockTruthTest, ASaleStalesOnlyTheCachedRepliesShowingWhatItMoved) {
  std::string store = new_location("cache-store");
  std::string kettle = new_product("cache-kettle", "CACHE-KETTLE"), teapot = new_product("cache-teapot", "CACHE-TEAPOT");
  // Variants share a stock slot by chance (1 in 4096), and then a sale of one rightly stales the
  // other's reply too; this test is about variants that do not.
  auto slot_of = [&](const std::string& product_id) {
    return quanqu::ChangeCounter::stock_slot(
        admin().get("/v1/admin/products/" + product_id).json()["variants"][0]["id"].get<std::string>());
  };
  if (slot_of(teapot) == slot_of(kettle)) GTEST_SKIP() << "the kettle and the teapot share a stock slot this time";
  set_stock("CACHE-KETTLE", store, 5);
  set_stock("CACHE-TEAPOT", store, 5);
  HttpClient shop = storefront(new_channel("cache-web", "CNY", {store}, {kettle, teapot}));
  ASSERT_FALSE(HasFailure());

  // Both products and the list are cached.
  ASSERT_EQ(available(shop.get("/v1/store/products/cache-kettle")), 5);
  ASSERT_EQ(available(shop.get("/v1/store/products/cache-teapot")), 5);
  ASSERT_EQ(shop.get("/v1/store/products").status, 200u);
  double hits = cache("hit"), misses = cache("miss");
  ASSERT_EQ(available(shop.get("/v1/store/products/cache-kettle")), 5);
  EXPECT_EQ(cache("hit"), hits + 1);
  EXPECT_EQ(cache("miss"), misses);

  // A teapot is sold: the kettle's cached reply is still served, the teapot's is recomputed.
  ASSERT_EQ(buy(shop, "CACHE-TEAPOT", "cache-sale-1"), 201u);
  hits = cache("hit");
  misses = cache("miss");
  EXPECT_EQ(available(shop.get("/v1/store/products/cache-kettle")), 5);
  EXPECT_EQ(cache("hit"), hits + 1) << "a sale of another product emptied the kettle's cached reply";
  EXPECT_EQ(available(shop.get("/v1/store/products/cache-teapot")), 4);
  EXPECT_EQ(cache("miss"), misses + 1);
  auto list = shop.get("/v1/store/products");
  ASSERT_EQ(list.status, 200u);
  const json items = list.json()["items"];
  std::map<std::string, std::int64_t> listed;
  for (const auto& p : items) listed[p["handle"]] = p["variants"][0]["available_quantity"];
  EXPECT_EQ(listed["cache-teapot"], 4);
  EXPECT_EQ(listed["cache-kettle"], 5);

  // An adjustment moves the kettle: its reply is recomputed at once.
  auto product = admin().get("/v1/admin/products/cache-kettle");
  auto adjusted = admin().post("/v1/admin/inventory-adjustments",
                               {{"variant_id", product.json()["variants"][0]["id"]}, {"location_id", store},
                                {"delta", -2}, {"reason", "damaged"}});
  ASSERT_EQ(adjusted.status, 201u) << adjusted.body;
  EXPECT_EQ(available(shop.get("/v1/store/products/cache-kettle")), 3);

  // A catalog write stales every reply: the teapot's new title shows at once.
  auto renamed = admin().patch("/v1/admin/products/" + teapot, {{"title", "Yixing teapot"}});
  ASSERT_EQ(renamed.status, 200u) << renamed.body;
  EXPECT_EQ(shop.get("/v1/store/products/cache-teapot").json()["title"], "Yixing teapot");
}

// Two channels (CNY and USD) sell from the same two stores, in opposite orders; 100 buyers, 50 on
// each, each want one of the last 7 units, all at once.
TEST_F(StockTruthTest, HundredBuyersOnTwoChannelsSharingTwoLocationsGetExactlyTheUnits) {
  constexpr int kBuyers = 100;
  constexpr std::int64_t kEast = 3, kWest = 4;
  std::string east = new_location("race-east"), west = new_location("race-west");
  std::string lamp = new_product("race-lamp", "RACE-LAMP");
  set_stock("RACE-LAMP", east, kEast);
  set_stock("RACE-LAMP", west, kWest);
  std::string cny_key = new_channel("race-cn", "CNY", {east, west}, {lamp});
  std::string usd_key = new_channel("race-us", "USD", {west, east}, {lamp});
  ASSERT_FALSE(HasFailure());

  // Both storefronts have the lamp cached with 7 available; carts are filled before the race.
  std::vector<HttpClient> clients;
  std::vector<std::string> carts;
  for (int i = 0; i < kBuyers; ++i) {
    clients.push_back(storefront(i % 2 ? usd_key : cny_key));
    clients.back().set_timeout(std::chrono::seconds(60));
    if (i < 2) {
      ASSERT_EQ(available(clients.back().get("/v1/store/products/race-lamp")), kEast + kWest);
    }
    auto r = clients.back().post("/v1/store/carts", {{"email", "racer" + std::to_string(i) + "@example.cn"},
                                                    {"shipping_address", kAddress},
                                                    {"items", {{{"sku", "RACE-LAMP"}, {"quantity", 1}}}}});
    ASSERT_EQ(r.status, 201u) << r.body;
    carts.push_back(r.json()["id"]);
  }

  std::vector<CheckoutOutcome> outcomes(kBuyers);
  std::latch ready(kBuyers + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kBuyers; ++i)
    threads.emplace_back([&, i] {
      ready.arrive_and_wait();
      outcomes[i] = checkout_once(clients[i], carts[i], "race-" + std::to_string(i));
    });
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();

  int sold = 0;
  std::map<std::string, int> other;
  for (const auto& o : outcomes) {
    if (o.status == 201u) ++sold;
    else if (o.status != 409u || o.code != "inventory.insufficient_stock")
      ++other[std::to_string(o.status) + " " + o.code + o.error];
  }
  EXPECT_EQ(sold, kEast + kWest);
  EXPECT_TRUE(other.empty()) << other.begin()->first << " x" << other.begin()->second;

  // Every unit is reserved exactly once, where it was, and the orders' allocations say the same.
  auto levels = admin().get("/v1/admin/inventory-levels?sku=RACE-LAMP");
  ASSERT_EQ(levels.status, 200u) << levels.body;
  const json level_items = levels.json()["items"];
  std::map<std::string, std::int64_t> reserved;
  for (const auto& l : level_items) {
    EXPECT_EQ(l["available"], 0) << l;
    reserved[l["location_id"]] = l["reserved"];
  }
  EXPECT_EQ(reserved[east], kEast);
  EXPECT_EQ(reserved[west], kWest);
  std::map<std::string, std::int64_t> allocated;
  std::set<std::string> order_ids;
  for (const std::string channel : {"race-cn", "race-us"}) {
    auto orders = admin().get("/v1/admin/orders?limit=100&channel=" + channel);
    ASSERT_EQ(orders.status, 200u) << orders.body;
    const json order_items = orders.json()["items"];
    for (const auto& o : order_items) {
      order_ids.insert(o["id"]);
      for (const auto& a : o["allocations"]) allocated[a["location_id"]] += a["quantity"].get<std::int64_t>();
    }
  }
  EXPECT_EQ(order_ids.size(), static_cast<std::size_t>(kEast + kWest));
  EXPECT_EQ(allocated, reserved);

  // Both storefronts see the lamp sold out at once, though both had it cached.
  for (int i = 0; i < 2; ++i) {
    auto product = clients[i].get("/v1/store/products/race-lamp");
    EXPECT_EQ(available(product), 0);
    EXPECT_EQ(product.json()["variants"][0]["in_stock"], false);
  }
}

}  // namespace
