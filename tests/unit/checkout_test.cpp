// Unit tests for checkout and order cancellation: reservation, idempotency, refusals that write nothing.
#include "core_test_support.h"

#include <map>

namespace quanqu::checkout {
namespace {

using test_support::CoreEnv;
using test_support::describe;

class CheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    warehouse = env.location("wh");
    store = env.location("store", "store", true);
    web = env.channel("web", {warehouse.id, store.id}, 1300, true);
    app = env.channel("app", {warehouse.id}, 1300, true);
    tee = env.product("tee", {"TEE-M", "TEE-L"}, 12900);
    mug = env.product("mug", {"MUG-1"}, 5000);
    env.publish(web, tee);
    env.publish(web, mug);
    env.stock(m(), warehouse.id, 2);
    env.stock(m(), store.id, 3);
    env.stock(l(), warehouse.id, 1);
    env.stock(mug_v(), warehouse.id, 10);
  }

  const VariantId& m() const { return tee.variants[0].id; }
  const VariantId& l() const { return tee.variants[1].id; }
  const VariantId& mug_v() const { return mug.variants[0].id; }

  // An open web cart with the given SKU quantities and, unless told otherwise, e-mail and address.
  cart::Cart cart_with(const std::vector<std::pair<std::string, std::int64_t>>& lines, bool details = true) {
    cart::CartPatch patch;
    if (details) {
      patch.email = std::optional<std::string>("li.lei@example.com");
      patch.shipping_address = std::optional<Address>(CoreEnv::address());
    }
    auto c = CoreEnv::must(env.carts.create(web, patch, {}));
    for (const auto& [sku, quantity] : lines) {
      cart::AddItem item;
      item.sku = sku;
      item.quantity = quantity;
      c = CoreEnv::must(env.carts.add_item(web, c.id, item));
      env.clock.advance(1);
    }
    return c;
  }

  Result<CheckoutResult> checkout(const cart::Cart& c, const std::string& key = "key-1",
                                  const std::string& fingerprint = "fp-1") {
    return env.checkout.checkout(web, {c.id, key, fingerprint});
  }

  long long orders_count() { return env.scalar("SELECT COUNT(*) FROM orders"); }
  long long ledger_count() { return env.scalar("SELECT COUNT(*) FROM inventory_ledger"); }
  long long ledger_count(const std::string& reason, const OrderId& order) {
    return env.scalar("SELECT COUNT(*) FROM inventory_ledger WHERE reason = '" + reason + "' AND reference = '" +
                      order.value + "'");
  }

  CoreEnv env;
  inventory::StockLocation warehouse, store;
  channels::Channel web, app;
  catalog::Product tee, mug;
};

TEST_F(CheckoutTest, HappyPathReservesStockAndCompletesTheCart) {
  auto c = cart_with({{"TEE-M", 4}, {"TEE-L", 1}});
  auto r = checkout(c);
  ASSERT_TRUE(r.ok()) << describe(r);
  const orders::Order& o = r->order;
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(r->access_token.rfind("qq_ot_", 0), 0u);
  EXPECT_TRUE(looks_like_id(o.id.value, "order"));
  EXPECT_EQ(o.number, 1001);
  EXPECT_EQ(o.status, "placed");
  EXPECT_EQ(o.channel_id, web.id);
  EXPECT_EQ(o.cart_id, c.id);
  EXPECT_EQ(o.currency, "CNY");
  EXPECT_EQ(o.email, "li.lei@example.com");
  EXPECT_EQ(o.shipping_address.city, "Shanghai");
  ASSERT_EQ(o.lines.size(), 2u);
  EXPECT_EQ(o.lines[0].sku, "TEE-M");
  EXPECT_EQ(o.lines[0].quantity, 4);
  EXPECT_EQ(o.lines[0].unit_price, 12900);
  EXPECT_EQ(o.lines[0].subtotal, 51600);
  EXPECT_EQ(o.totals.subtotal, 64500);
  EXPECT_EQ(o.totals.total, 64500);
  EXPECT_EQ(o.totals.tax_total, c.totals.tax_total);
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].type, "order.placed");

  // Four TEE-M: no location has four, so two from the warehouse and two from the store.
  EXPECT_EQ(env.reserved(m(), warehouse.id), 2);
  EXPECT_EQ(env.reserved(m(), store.id), 2);
  EXPECT_EQ(env.reserved(l(), warehouse.id), 1);
  EXPECT_EQ(env.on_hand(m(), warehouse.id), 2);  // reserved, not yet shipped
  std::int64_t allocated = 0;
  for (const auto& a : o.allocations) allocated += a.quantity;
  EXPECT_EQ(allocated, 5);
  EXPECT_EQ(ledger_count("reserve", o.id), 3);

  auto cart = env.carts.get(web, c.id);
  ASSERT_TRUE(cart.ok());
  EXPECT_EQ(cart->status, "completed");
  EXPECT_EQ(cart->order_id, std::optional<OrderId>(o.id));
  cart::AddItem more;
  more.sku = "MUG-1";
  auto add = env.carts.add_item(web, c.id, more);
  ASSERT_FALSE(add.ok());
  EXPECT_EQ(add.error().code, "cart.completed");

  // The shopper reads the order with the token; anything else is a 404.
  auto read = env.orders.get_with_token(web.id, o.id, r->access_token);
  ASSERT_TRUE(read.ok()) << describe(read);
  EXPECT_EQ(read->lines.size(), 2u);
  EXPECT_EQ(read->allocations.size(), o.allocations.size());
  EXPECT_FALSE(env.orders.get_with_token(web.id, o.id, "qq_ot_wrong").ok());
  EXPECT_FALSE(env.orders.get_with_token(app.id, o.id, r->access_token).ok());
}

TEST_F(CheckoutTest, ReplayWithTheSameKeyReturnsTheSameOrderAndToken) {
  auto c = cart_with({{"TEE-M", 1}});
  auto first = checkout(c);
  ASSERT_TRUE(first.ok()) << describe(first);
  auto again = checkout(c);
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->order.id, first->order.id);
  EXPECT_EQ(again->order.number, first->order.number);
  EXPECT_EQ(again->access_token, first->access_token);
  EXPECT_EQ(orders_count(), 1);
  EXPECT_EQ(env.reserved(m(), warehouse.id), 1);
  EXPECT_EQ(ledger_count("reserve", first->order.id), 1);
}

TEST_F(CheckoutTest, SameKeyWithAnotherFingerprintIsAConflict) {
  auto c = cart_with({{"TEE-M", 1}});
  ASSERT_TRUE(checkout(c, "key-1", "fp-1").ok());
  auto r = checkout(c, "key-1", "fp-2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "idempotency.key_reused");
  // A new key on the completed cart is refused too.
  auto other = checkout(c, "key-2", "fp-1");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "cart.completed");
  EXPECT_EQ(orders_count(), 1);
}

TEST_F(CheckoutTest, KeysAreScopedToTheChannel) {
  // The same key on two channels is two different requests.
  env.publish(app, mug);
  auto web_cart = cart_with({{"MUG-1", 1}});
  ASSERT_TRUE(checkout(web_cart, "shared").ok());
  auto app_cart = CoreEnv::must(env.carts.create(
      app, {std::optional<std::string>("a@example.com"), std::optional<Address>(CoreEnv::address())}, {}));
  cart::AddItem item;
  item.sku = "MUG-1";
  ASSERT_TRUE(env.carts.add_item(app, app_cart.id, item).ok());
  auto r = env.checkout.checkout(app, {app_cart.id, "shared", "fp-1"});
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(orders_count(), 2);
}

TEST_F(CheckoutTest, OutOfStockListsTheShortLinesAndWritesNothing) {
  auto c = cart_with({{"MUG-1", 2}, {"TEE-M", 4}, {"TEE-L", 1}});
  // Stock drops after the items were added (another channel sold them).
  env.stock(m(), store.id, 1);
  env.stock(l(), warehouse.id, 0);
  long long ledger_before = ledger_count();

  auto r = checkout(c);
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.kind, ErrorKind::conflict);
  EXPECT_EQ(e.code, "inventory.insufficient_stock");
  ASSERT_TRUE(e.details.contains("lines")) << e.details.dump();
  ASSERT_EQ(e.details["lines"].size(), 2u) << e.details.dump();
  std::map<std::string, nlohmann::json> by_sku;
  for (const auto& line : e.details["lines"]) by_sku[line["sku"]] = line;
  ASSERT_TRUE(by_sku.count("TEE-M") && by_sku.count("TEE-L")) << e.details.dump();
  EXPECT_EQ(by_sku["TEE-M"]["requested"], 4);
  EXPECT_EQ(by_sku["TEE-M"]["available"], 3);
  EXPECT_EQ(by_sku["TEE-L"]["available"], 0);

  // Nothing was written: the mug, reserved before the short lines were found, is free again.
  EXPECT_EQ(env.reserved(mug_v(), warehouse.id), 0);
  EXPECT_EQ(env.reserved(m(), warehouse.id), 0);
  EXPECT_EQ(env.reserved(m(), store.id), 0);
  EXPECT_EQ(orders_count(), 0);
  EXPECT_EQ(ledger_count(), ledger_before);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM idempotency_keys"), 0);
  EXPECT_EQ(env.carts.get(web, c.id)->status, "open");

  // The same key works once the shopper fixes the cart.
  auto fixed = env.carts.set_quantity(web, c.id, c.items[1].id, 3);
  ASSERT_TRUE(fixed.ok()) << describe(fixed);
  ASSERT_TRUE(env.carts.remove_item(web, c.id, c.items[2].id).ok());
  auto retry = checkout(c, "key-1", "fp-2");
  ASSERT_TRUE(retry.ok()) << describe(retry);
  EXPECT_EQ(orders_count(), 1);
}

TEST_F(CheckoutTest, MissingEmailOrAddressIsUnprocessable) {
  auto c = cart_with({{"TEE-M", 1}}, false);
  auto r = checkout(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "checkout.missing_details");
  ASSERT_EQ(r.error().fields.size(), 2u);
  EXPECT_EQ(r.error().fields[0].field, "email");
  EXPECT_EQ(r.error().fields[1].field, "shipping_address");

  cart::CartPatch email_only;
  email_only.email = std::optional<std::string>("li.lei@example.com");
  ASSERT_TRUE(env.carts.update(web, c.id, email_only).ok());
  auto still = checkout(c);
  ASSERT_FALSE(still.ok());
  EXPECT_EQ(still.error().code, "checkout.missing_details");
  ASSERT_EQ(still.error().fields.size(), 1u);
  EXPECT_EQ(still.error().fields[0].field, "shipping_address");
  EXPECT_EQ(orders_count(), 0);
  EXPECT_EQ(env.reserved(m(), warehouse.id), 0);
}

TEST_F(CheckoutTest, EmptyCartUnavailableItemsAndBadKeysAreRefused) {
  auto empty = cart_with({});
  auto r = checkout(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "checkout.empty_cart");

  auto c = cart_with({{"MUG-1", 1}});
  for (const std::string& key : {std::string(), std::string("has space"), std::string(256, 'k')}) {
    auto bad = checkout(c, key);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, "idempotency.key_required");
  }
  ASSERT_TRUE(env.catalog.archive_variant(mug.id, mug_v()).ok());
  auto unavailable = checkout(c);
  ASSERT_FALSE(unavailable.ok());
  EXPECT_EQ(unavailable.error().code, "checkout.unavailable_items");
  EXPECT_EQ(unavailable.error().details["lines"].size(), 1u);

  auto foreign = env.checkout.checkout(app, {c.id, "key-9", "fp"});
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().kind, ErrorKind::not_found);
  EXPECT_EQ(orders_count(), 0);
}

TEST_F(CheckoutTest, CancelReleasesReservationsWithLedgerRows) {
  auto c = cart_with({{"TEE-M", 4}, {"TEE-L", 1}});
  auto placed = checkout(c);
  ASSERT_TRUE(placed.ok()) << describe(placed);
  const OrderId id = placed->order.id;
  env.clock.advance(1000);

  auto cancelled = env.orders.cancel(id, "customer changed their mind", test_support::kTestAdmin);
  ASSERT_TRUE(cancelled.ok()) << describe(cancelled);
  EXPECT_EQ(cancelled->status, "cancelled");
  ASSERT_EQ(cancelled->events.size(), 2u);
  EXPECT_EQ(cancelled->events[1].type, "order.cancelled");
  EXPECT_EQ(cancelled->events[1].data["reason"], "customer changed their mind");
  EXPECT_EQ(env.reserved(m(), warehouse.id), 0);
  EXPECT_EQ(env.reserved(m(), store.id), 0);
  EXPECT_EQ(env.reserved(l(), warehouse.id), 0);
  EXPECT_EQ(env.on_hand(m(), store.id), 3);
  EXPECT_EQ(ledger_count("release", id), ledger_count("reserve", id));
  EXPECT_EQ(ledger_count("release", id), 3);
  EXPECT_EQ(env.scalar("SELECT SUM(delta_reserved) FROM inventory_ledger WHERE reference = '" + id.value + "'"), 0);

  auto stored = env.orders.get(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, "cancelled");
  orders::OrderQuery q;
  q.status = "cancelled";
  auto listed = env.orders.list(q);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].id, id);
}

TEST_F(CheckoutTest, CancellingTwiceIsAConflict) {
  auto placed = checkout(cart_with({{"TEE-M", 1}}));
  ASSERT_TRUE(placed.ok());
  ASSERT_TRUE(env.orders.cancel(placed->order.id, "", test_support::kTestAdmin).ok());
  long long ledger_before = ledger_count();
  auto again = env.orders.cancel(placed->order.id, "", test_support::kTestAdmin);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::conflict);
  EXPECT_EQ(again.error().code, "order.invalid_transition");
  EXPECT_EQ(ledger_count(), ledger_before);
  EXPECT_EQ(env.reserved(m(), warehouse.id), 0);
  auto unknown = env.orders.cancel(OrderId("order_nope"), "", test_support::kTestAdmin);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
}

TEST_F(CheckoutTest, LastUnitsCannotBeSoldTwice) {
  // Two carts each hold the only TEE-L; the second checkout finds it gone.
  auto first = cart_with({{"TEE-L", 1}});
  auto second = cart_with({{"TEE-L", 1}});
  ASSERT_TRUE(checkout(first, "a").ok());
  auto r = checkout(second, "b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "inventory.insufficient_stock");
  EXPECT_EQ(env.reserved(l(), warehouse.id), 1);
  EXPECT_EQ(orders_count(), 1);
}

}  // namespace
}  // namespace quanqu::checkout
