// End to end under contention: many shoppers check out the last units at once (no oversell), and
// one shopper's retried checkout runs many times at once (one order).
#include "support/checkout.h"
#include "support/fixture.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <atomic>
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

using quanqu::e2e::kAddress;

class ConcurrencyTest : public E2ETest {
 protected:
  struct Shop {
    std::string location_id, channel_id, key, sku, variant_id;
  };

  // A channel that sells from exactly one new location, with one product of one variant whose
  // on hand there is `on_hand`.
  Shop create_shop(std::int64_t on_hand) {
    Shop s;
    s.sku = "RACE-LAST-UNITS";
    auto loc = admin().post("/v1/admin/stock-locations",
                            {{"code", "race-store"}, {"name", "Race store"}, {"kind", "store"},
                             {"address", {{"line1", "1 Huaihai Road"}, {"city", "Shanghai"}, {"country", "CN"}}}});
    EXPECT_EQ(loc.status, 201u) << loc.body;
    s.location_id = loc.json().value("id", "");
    auto prod = admin().post("/v1/admin/products",
                             {{"handle", "limited-edition-sneaker"}, {"title", "Limited Edition Sneaker"},
                              {"status", "published"},
                              {"variants", {{{"sku", s.sku}, {"title", "EU 42"},
                                             {"prices", {{{"amount", 89900}, {"currency", "CNY"}}}}}}}});
    EXPECT_EQ(prod.status, 201u) << prod.body;
    std::string product_id = prod.json().value("id", "");
    s.variant_id = prod.json()["variants"][0].value("id", "");
    auto level = admin().put("/v1/admin/inventory-levels", {{"sku", s.sku}, {"location_id", s.location_id}, {"on_hand", on_hand}});
    EXPECT_EQ(level.status, 200u) << level.body;
    auto ch = admin().post("/v1/admin/channels", {{"code", "race"}, {"type", "web"}, {"currency", "CNY"},
                                                   {"tax_rate_bp", 1300}, {"tax_inclusive", true},
                                                   {"location_ids", {s.location_id}}});
    EXPECT_EQ(ch.status, 201u) << ch.body;
    s.channel_id = ch.json().value("id", "");
    auto pub = admin().post("/v1/admin/channels/" + s.channel_id + "/publish", {{"product_ids", {product_id}}});
    EXPECT_EQ(pub.status, 200u) << pub.body;
    auto key = admin().post("/v1/admin/channels/" + s.channel_id + "/publishable-keys", {{"label", "race"}});
    EXPECT_EQ(key.status, 201u) << key.body;
    s.key = key.json().value("key", "");
    return s;
  }

  HttpClient shopper(const std::string& key) {
    HttpClient c = server().client();
    c.set_default_header("X-Publishable-Key", key);
    c.set_timeout(std::chrono::seconds(60));
    return c;
  }

  json level(const Shop& s) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + s.sku);
    EXPECT_EQ(r.status, 200u) << r.body;
    const json items = r.json()["items"];
    EXPECT_EQ(items.size(), 1u) << r.body;
    return items.empty() ? json::object() : items[0];
  }

  std::vector<json> orders_of(const std::string& channel) {
    std::vector<json> out;
    std::string cursor;
    for (int page = 0; page < 20; ++page) {
      auto r = admin().get("/v1/admin/orders?limit=100&channel=" + channel + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200u) << r.body;
      const json body = r.json();
      for (const auto& o : body["items"]) out.push_back(o);
      if (body["next_cursor"].is_null()) break;
      cursor = body["next_cursor"];
    }
    return out;
  }
};

TEST_F(ConcurrencyTest, FiftyShoppersTenUnitsExactlyTenOrders) {
  constexpr int kShoppers = 50;
  constexpr std::int64_t kUnits = 10;
  Shop shop = create_shop(kUnits);
  ASSERT_FALSE(HasFailure());

  // Every shopper fills a cart first (adding checks availability, which is 10 for all of them).
  std::vector<HttpClient> clients;
  std::vector<std::string> carts;
  for (int i = 0; i < kShoppers; ++i) {
    clients.push_back(shopper(shop.key));
    auto r = clients.back().post("/v1/store/carts", {{"email", "shopper" + std::to_string(i) + "@example.cn"},
                                                     {"shipping_address", kAddress},
                                                     {"items", {{{"sku", shop.sku}, {"quantity", 1}}}}});
    ASSERT_EQ(r.status, 201u) << r.body;
    carts.push_back(r.json()["id"]);
  }
  json before = level(shop);
  ASSERT_EQ(before["on_hand"], kUnits);
  ASSERT_EQ(before["reserved"], 0);

  // Then all check out at once.
  std::vector<CheckoutOutcome> outcomes(kShoppers);
  std::latch ready(kShoppers + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kShoppers; ++i)
    threads.emplace_back([&, i] {
      ready.arrive_and_wait();
      outcomes[i] = checkout_once(clients[i], carts[i], "race-" + std::to_string(i));
    });
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();

  int created = 0, refused = 0;
  std::map<std::string, int> other;
  std::set<std::string> order_ids;
  for (int i = 0; i < kShoppers; ++i) {
    const CheckoutOutcome& o = outcomes[i];
    EXPECT_TRUE(o.error.empty()) << "shopper " << i << ": " << o.error;
    EXPECT_LT(o.status, 500u) << "shopper " << i << " got " << o.status << " " << o.code;
    if (o.status == 201) {
      ++created;
      order_ids.insert(o.order_id);
      EXPECT_TRUE(o.replayed.empty());
    } else if (o.status == 409 && o.code == "inventory.insufficient_stock") {
      ++refused;
      EXPECT_EQ(o.content_type.rfind("application/problem+json", 0), 0u) << o.content_type;
    } else {
      ++other[std::to_string(o.status) + " " + o.code + o.error];
    }
  }
  EXPECT_EQ(created, kUnits);
  EXPECT_EQ(refused, kShoppers - kUnits);
  EXPECT_TRUE(other.empty()) << [&] {
    std::string s;
    for (const auto& [k, n] : other) s += k + " x" + std::to_string(n) + "; ";
    return s;
  }();
  EXPECT_EQ(order_ids.size(), static_cast<std::size_t>(created));

  // Stock: all ten reserved, none available, nothing negative, on hand untouched.
  json after = level(shop);
  EXPECT_EQ(after["on_hand"], kUnits);
  EXPECT_EQ(after["reserved"], kUnits);
  EXPECT_EQ(after["available"], 0);

  // Orders: exactly the ten that were answered 201, each holding one unit, distinct numbers.
  auto orders = orders_of("race");
  EXPECT_EQ(orders.size(), static_cast<std::size_t>(kUnits));
  std::set<std::string> listed;
  std::set<std::int64_t> numbers;
  std::int64_t allocated = 0;
  for (const auto& o : orders) {
    listed.insert(o["id"].get<std::string>());
    numbers.insert(o["number"].get<std::int64_t>());
    EXPECT_EQ(o["status"], "placed");
    for (const auto& a : o["allocations"]) {
      EXPECT_EQ(a["location_id"], shop.location_id);
      allocated += a["quantity"].get<std::int64_t>();
    }
  }
  EXPECT_EQ(listed, order_ids);
  EXPECT_EQ(numbers.size(), orders.size());
  EXPECT_EQ(allocated, kUnits);

  // The refused shoppers' carts are still open; the storefront shows the variant sold out.
  HttpClient check = shopper(shop.key);
  for (int i = 0; i < kShoppers; ++i) {
    if (outcomes[i].status == 201) continue;
    auto cart = check.get("/v1/store/carts/" + carts[i]);
    ASSERT_EQ(cart.status, 200u) << cart.body;
    EXPECT_EQ(cart.json()["status"], "open");
    EXPECT_TRUE(cart.json()["order_id"].is_null());
  }
  auto product = check.get("/v1/store/products/limited-edition-sneaker");
  ASSERT_EQ(product.status, 200u) << product.body;
  EXPECT_EQ(product.json()["variants"][0]["available_quantity"], 0);
  EXPECT_EQ(product.json()["variants"][0]["in_stock"], false);
  // A late shopper can no longer even add it.
  auto late = check.post("/v1/store/carts", {{"items", {{{"sku", shop.sku}, {"quantity", 1}}}}});
  EXPECT_EQ(late.status, 409u) << late.body;
}

// One cart, one key, many simultaneous retries (a double-clicking shopper behind a flaky proxy):
// one order, everyone gets it, stock reserved once.
class SameKeyTest : public ConcurrencyTest {
 protected:
  void run(std::int64_t on_hand, std::int64_t quantity) {
    constexpr int kCallers = 20;
    Shop shop = create_shop(on_hand);
    ASSERT_FALSE(HasFailure());
    HttpClient owner = shopper(shop.key);
    auto cart = owner.post("/v1/store/carts", {{"email", "double@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", shop.sku}, {"quantity", quantity}}}}});
    ASSERT_EQ(cart.status, 201u) << cart.body;
    std::string cart_id = cart.json()["id"];

    std::vector<HttpClient> clients;
    for (int i = 0; i < kCallers; ++i) clients.push_back(shopper(shop.key));
    std::vector<CheckoutOutcome> outcomes(kCallers);
    std::latch ready(kCallers + 1);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCallers; ++i)
      threads.emplace_back([&, i] {
        ready.arrive_and_wait();
        outcomes[i] = checkout_once(clients[i], cart_id, "same-key-for-everyone");
      });
    ready.arrive_and_wait();
    for (auto& t : threads) t.join();

    std::set<std::string> ids, tokens;
    int fresh = 0;
    for (int i = 0; i < kCallers; ++i) {
      const CheckoutOutcome& o = outcomes[i];
      EXPECT_TRUE(o.error.empty()) << "caller " << i << ": " << o.error;
      EXPECT_EQ(o.status, 201u) << "caller " << i << " got " << o.status << " " << o.code;
      if (o.status != 201) continue;
      ids.insert(o.order_id);
      tokens.insert(o.token);
      if (o.replayed.empty()) ++fresh;
      else EXPECT_EQ(o.replayed, "true");
    }
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(tokens.size(), 1u);
    EXPECT_LE(fresh, 1) << "only the first answer may be without Idempotent-Replayed";

    json after = level(shop);
    EXPECT_EQ(after["on_hand"], on_hand);
    EXPECT_EQ(after["reserved"], quantity);
    EXPECT_EQ(after["available"], on_hand - quantity);
    auto orders = orders_of("race");
    ASSERT_EQ(orders.size(), 1u);
    if (!ids.empty()) {
      EXPECT_EQ(orders[0]["id"], *ids.begin());
    }
    std::int64_t allocated = 0;
    for (const auto& a : orders[0]["allocations"]) allocated += a["quantity"].get<std::int64_t>();
    EXPECT_EQ(allocated, quantity);
    auto read = owner.get("/v1/store/carts/" + cart_id);
    ASSERT_EQ(read.status, 200u);
    EXPECT_EQ(read.json()["status"], "completed");
    if (!ids.empty()) {
      EXPECT_EQ(read.json()["order_id"], *ids.begin());
    }
    // A later retry still replays.
    CheckoutOutcome late = checkout_once(owner, cart_id, "same-key-for-everyone");
    EXPECT_EQ(late.status, 201u) << late.code;
    EXPECT_EQ(late.replayed, "true");
    if (!ids.empty()) {
      EXPECT_EQ(late.order_id, *ids.begin());
    }
  }
};

TEST_F(SameKeyTest, TwentySimultaneousRetriesMakeOneOrder) { run(100, 2); }

// The same, when the order takes the last units: the retries must still be replays, not
// "insufficient stock" refusals caused by the first attempt's own reservation.
TEST_F(SameKeyTest, TwentySimultaneousRetriesOfTheLastUnitsMakeOneOrder) { run(3, 3); }

// Many checkouts of one cart under different keys (two tabs, two devices): one order, the others
// are told the cart is completed, stock reserved once.
TEST_F(ConcurrencyTest, OneCartCheckedOutUnderManyKeysAtOnceMakesOneOrder) {
  constexpr int kCallers = 12;
  Shop shop = create_shop(50);
  ASSERT_FALSE(HasFailure());
  HttpClient owner = shopper(shop.key);
  auto cart = owner.post("/v1/store/carts", {{"email", "tabs@example.cn"},
                                             {"shipping_address", kAddress},
                                             {"items", {{{"sku", shop.sku}, {"quantity", 3}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  std::string cart_id = cart.json()["id"];
  std::vector<HttpClient> clients;
  for (int i = 0; i < kCallers; ++i) clients.push_back(shopper(shop.key));
  std::vector<CheckoutOutcome> outcomes(kCallers);
  std::latch ready(kCallers + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i)
    threads.emplace_back([&, i] {
      ready.arrive_and_wait();
      outcomes[i] = checkout_once(clients[i], cart_id, "tab-" + std::to_string(i));
    });
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();
  int created = 0;
  for (int i = 0; i < kCallers; ++i) {
    const CheckoutOutcome& o = outcomes[i];
    EXPECT_TRUE(o.error.empty()) << o.error;
    if (o.status == 201) ++created;
    else EXPECT_TRUE(o.status == 409 && o.code == "cart.completed") << "caller " << i << " got " << o.status << " " << o.code;
  }
  EXPECT_EQ(created, 1);
  json after = level(shop);
  EXPECT_EQ(after["reserved"], 3);
  EXPECT_EQ(after["on_hand"], 50);
  EXPECT_EQ(orders_of("race").size(), 1u);
}

// Many simultaneous cancels of one order: one succeeds, the rest are refused, and the stock is
// released exactly once (other orders' reservations stay intact).
TEST_F(ConcurrencyTest, SimultaneousCancelsReleaseStockOnce) {
  constexpr int kCallers = 20;
  Shop shop = create_shop(10);
  ASSERT_FALSE(HasFailure());
  HttpClient owner = shopper(shop.key);
  std::vector<std::string> orders;
  for (int i = 0; i < 2; ++i) {
    auto cart = owner.post("/v1/store/carts", {{"email", "cancel@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", shop.sku}, {"quantity", 3}}}}});
    ASSERT_EQ(cart.status, 201u) << cart.body;
    CheckoutOutcome o = checkout_once(owner, cart.json()["id"], "cancel-" + std::to_string(i));
    ASSERT_EQ(o.status, 201u) << o.code;
    orders.push_back(o.order_id);
  }
  ASSERT_EQ(level(shop)["reserved"], 6);

  std::vector<HttpClient> clients;
  for (int i = 0; i < kCallers; ++i) {
    clients.push_back(server().client());
    clients.back().set_default_header("Authorization", "Bearer " + server().admin_key());
  }
  std::vector<unsigned> statuses(kCallers);
  std::vector<std::string> codes(kCallers);
  std::latch ready(kCallers + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i)
    threads.emplace_back([&, i] {
      ready.arrive_and_wait();
      try {
        auto r = clients[i].post("/v1/admin/orders/" + orders[0] + "/cancel", {{"reason", "race"}});
        statuses[i] = r.status;
        json j = json::parse(r.body, nullptr, false);
        if (j.is_object()) codes[i] = j.value("code", "");
      } catch (const std::exception& e) {
        codes[i] = e.what();
      }
    });
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();

  int cancelled = 0;
  for (int i = 0; i < kCallers; ++i) {
    if (statuses[i] == 200) ++cancelled;
    else EXPECT_TRUE(statuses[i] == 409 && codes[i] == "order.invalid_transition") << statuses[i] << " " << codes[i];
  }
  EXPECT_EQ(cancelled, 1);
  json after = level(shop);
  EXPECT_EQ(after["reserved"], 3) << "the other order's 3 units must stay reserved";
  EXPECT_EQ(after["on_hand"], 10);
  auto order = admin().get("/v1/admin/orders/" + orders[0]);
  ASSERT_EQ(order.status, 200u);
  EXPECT_EQ(order.json()["status"], "cancelled");
  int cancel_events = 0;
  const json events = order.json()["events"];
  for (const auto& e : events) cancel_events += e["type"] == "order.cancelled";
  EXPECT_EQ(cancel_events, 1);
  EXPECT_EQ(admin().get("/v1/admin/orders/" + orders[1]).json()["status"], "placed");
}

// On hand lowered by the merchant while shoppers check out: whatever interleaving happens, on
// hand never ends below what is reserved (no unit is sold twice).
TEST_F(ConcurrencyTest, LoweringOnHandDuringCheckoutsNeverOversells) {
  constexpr int kShoppers = 30;
  Shop shop = create_shop(20);
  ASSERT_FALSE(HasFailure());
  std::vector<HttpClient> clients;
  std::vector<std::string> carts;
  for (int i = 0; i < kShoppers; ++i) {
    clients.push_back(shopper(shop.key));
    auto r = clients.back().post("/v1/store/carts", {{"email", "low@example.cn"},
                                                     {"shipping_address", kAddress},
                                                     {"items", {{{"sku", shop.sku}, {"quantity", 1}}}}});
    ASSERT_EQ(r.status, 201u) << r.body;
    carts.push_back(r.json()["id"]);
  }
  std::vector<CheckoutOutcome> outcomes(kShoppers);
  std::vector<unsigned> admin_statuses;
  std::latch ready(kShoppers + 2);
  std::vector<std::thread> threads;
  for (int i = 0; i < kShoppers; ++i)
    threads.emplace_back([&, i] {
      ready.arrive_and_wait();
      outcomes[i] = checkout_once(clients[i], carts[i], "low-" + std::to_string(i));
    });
  threads.emplace_back([&] {
    HttpClient merchant = server().client();
    merchant.set_default_header("Authorization", "Bearer " + server().admin_key());
    ready.arrive_and_wait();
    for (std::int64_t on_hand = 19; on_hand >= 6; --on_hand) {
      try {
        auto r = merchant.put("/v1/admin/inventory-levels",
                              {{"sku", shop.sku}, {"location_id", shop.location_id}, {"on_hand", on_hand}});
        admin_statuses.push_back(r.status);
      } catch (const std::exception&) {
        admin_statuses.push_back(0);
      }
    }
  });
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();

  int created = 0;
  for (const auto& o : outcomes) {
    EXPECT_LT(o.status, 500u) << o.code;
    if (o.status == 201) ++created;
  }
  for (unsigned s : admin_statuses) EXPECT_TRUE(s == 200 || s == 422) << s;
  json after = level(shop);
  EXPECT_GE(after["on_hand"].get<std::int64_t>(), after["reserved"].get<std::int64_t>()) << after.dump();
  EXPECT_GE(after["available"].get<std::int64_t>(), 0) << after.dump();
  EXPECT_EQ(after["reserved"], created);
}

}  // namespace
