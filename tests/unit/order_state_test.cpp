// Unit tests for the order lifecycle: paying, shipping (stock leaves the shelf), delivering, completing, cancelling.
#include "core_test_support.h"

namespace quanqu::orders {
namespace {

using nlohmann::json;
using test_support::CoreEnv;
using test_support::describe;

class OrderStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    warehouse = env.location("wh");
    store = env.location("store", "store", true);
    web = env.channel("web", {warehouse.id, store.id}, 1300, true);
    tee = env.product("tee", {"TEE-M"}, 12900);
    mug = env.product("mug", {"MUG-1"}, 5000);
    env.publish(web, tee);
    env.publish(web, mug);
    env.stock(tee_v(), warehouse.id, 2);
    env.stock(tee_v(), store.id, 3);
    env.stock(mug_v(), warehouse.id, 5);
  }

  const VariantId& tee_v() const { return tee.variants[0].id; }
  const VariantId& mug_v() const { return mug.variants[0].id; }

  Order place(const std::string& sku, std::int64_t quantity) {
    cart::CartPatch patch;
    patch.email = std::optional<std::string>("li.lei@example.com");
    patch.shipping_address = std::optional<Address>(CoreEnv::address());
    cart::AddItem item;
    item.sku = sku;
    item.quantity = quantity;
    auto c = CoreEnv::must(env.carts.create(web, patch, {item}));
    env.clock.advance(1);
    auto o = CoreEnv::must(env.checkout.checkout(web, {c.id, "key-" + c.id.value, "fp"})).order;
    env.clock.advance(1);  // the timeline is ordered by time: later steps come later
    return o;
  }

  std::vector<std::string> event_types(const OrderId& id) {
    std::vector<std::string> out;
    for (const auto& e : CoreEnv::must(env.orders.get(id)).events) out.push_back(e.type);
    return out;
  }
  long long ledger_count(const std::string& reason, const OrderId& order) {
    return env.scalar("SELECT COUNT(*) FROM inventory_ledger WHERE reason = '" + reason + "' AND reference = '" +
                      order.value + "'");
  }

  CoreEnv env;
  inventory::StockLocation warehouse, store;
  channels::Channel web;
  catalog::Product tee, mug;
};

// --- paying ---

TEST_F(OrderStateTest, MarkPaidMovesAPlacedOrderToPaidOnce) {
  auto o = place("TEE-M", 1);
  env.clock.advance(1000);
  auto paid = env.orders.mark_paid(o.id, {{"source", "merchant"}, {"note", "bank transfer"}}, test_support::kTestAdmin);
  ASSERT_TRUE(paid.ok()) << describe(paid);
  EXPECT_EQ(paid->status, "paid");
  EXPECT_EQ(paid->payment_status, "captured");
  EXPECT_EQ(paid->fulfilment_status, "unfulfilled");
  EXPECT_EQ(paid->updated_at, env.clock.now_ms());
  ASSERT_EQ(paid->events.size(), 2u);
  EXPECT_EQ(paid->events[1].type, "order.paid");
  EXPECT_EQ(paid->events[1].data, (json{{"source", "merchant"}, {"note", "bank transfer"}}));
  EXPECT_EQ(paid->events[1].created_at, env.clock.now_ms());
  auto counter = env.changes.current();

  // Again: succeeds and changes nothing.
  env.clock.advance(1000);
  auto again = env.orders.mark_paid(o.id, {{"source", "merchant"}}, test_support::kTestAdmin);
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_EQ(again->status, "paid");
  EXPECT_EQ(again->updated_at, paid->updated_at);
  EXPECT_EQ(event_types(o.id), (std::vector<std::string>{"order.placed", "order.paid"}));
  EXPECT_EQ(env.changes.current(), counter);
  // Paying does not touch stock.
  EXPECT_EQ(env.reserved(tee_v(), warehouse.id), 1);
  EXPECT_EQ(env.on_hand(tee_v(), warehouse.id), 2);
}

TEST_F(OrderStateTest, MarkPaidRefusesCancelledAndUnknownOrders) {
  auto o = place("TEE-M", 1);
  ASSERT_TRUE(env.orders.cancel(o.id, "changed mind", test_support::kTestAdmin).ok());
  auto r = env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "order.invalid_transition");
  EXPECT_EQ(r.error().extensions["current_status"], "cancelled");
  EXPECT_EQ(r.error().extensions["allowed_moves"], json::array());
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.status, "cancelled");
  EXPECT_EQ(read.payment_status, "not_required");
  EXPECT_EQ(event_types(o.id), (std::vector<std::string>{"order.placed", "order.cancelled"}));

  auto missing = env.orders.mark_paid(OrderId("order_nope"), json::object(), test_support::kTestAdmin);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_EQ(missing.error().code, "order.not_found");
}

TEST_F(OrderStateTest, AShippedOrderCannotBeCancelled) {
  auto o = place("TEE-M", 1);
  ASSERT_TRUE(env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin).ok());
  ASSERT_TRUE(env.orders.move(o.id, lifecycle::Move::ship, test_support::kTestAdmin).ok());
  auto r = env.orders.cancel(o.id, "", test_support::kTestAdmin);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "order.invalid_transition");
  EXPECT_EQ(r.error().extensions["current_status"], "shipped");
  EXPECT_EQ(r.error().extensions["allowed_moves"], (json{"deliver"}));
  EXPECT_EQ(env.reserved(tee_v(), warehouse.id), 0);
  EXPECT_EQ(env.on_hand(tee_v(), warehouse.id), 1);
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).status, "shipped");
}

TEST_F(OrderStateTest, CancellingAPaidOrderReleasesStockAndRefundsInFull) {
  auto o = place("TEE-M", 1);
  ASSERT_TRUE(env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin).ok());
  // Paid without a payment session: the refund is recorded, settled outside Quanqu, once an
  // executor (the payment service) pays it back; without one it stays pending.
  auto r = env.orders.cancel(o.id, "out of stock", test_support::kTestAdmin);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r->status, "cancelled");
  EXPECT_EQ(env.reserved(tee_v(), warehouse.id), 0);
  ASSERT_EQ(r->refunds.size(), 1u);
  EXPECT_EQ(r->refunds[0].amount, o.totals.total);
  EXPECT_EQ(r->refunds[0].status, "pending");
  EXPECT_EQ(r->refunds[0].actor.type, "admin");
  EXPECT_EQ(r->refundable_amount(), 0);
}

// --- fulfilment ---

TEST_F(OrderStateTest, ShippingTakesTheAllocatedStockOffTheShelf) {
  // Four tees: two from the warehouse, two from the store.
  auto o = place("TEE-M", 4);
  ASSERT_EQ(env.reserved(tee_v(), warehouse.id), 2);
  ASSERT_EQ(env.reserved(tee_v(), store.id), 2);
  ASSERT_TRUE(env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin).ok());
  env.clock.advance(1000);
  auto generation = env.changes.current();
  auto stock = env.changes.stock_sequence();
  auto f = env.orders.move(o.id, lifecycle::Move::ship, test_support::kTestAdmin);
  ASSERT_TRUE(f.ok()) << describe(f);
  EXPECT_EQ(f->status, "shipped");
  EXPECT_EQ(f->fulfilment_status, "fulfilled");
  EXPECT_EQ(f->payment_status, "captured");
  EXPECT_EQ(f->updated_at, env.clock.now_ms());
  // Only the store views showing the tee are stale, not the whole catalog.
  EXPECT_GT(env.changes.stock_sequence(), stock);
  EXPECT_EQ(env.changes.current(), generation);
  // The goods left: on hand and reserved both drop by what the order held at each location.
  EXPECT_EQ(env.on_hand(tee_v(), warehouse.id), 0);
  EXPECT_EQ(env.reserved(tee_v(), warehouse.id), 0);
  EXPECT_EQ(env.on_hand(tee_v(), store.id), 1);
  EXPECT_EQ(env.reserved(tee_v(), store.id), 0);
  EXPECT_EQ(ledger_count("fulfilment", o.id), 2);
  EXPECT_EQ(env.scalar("SELECT SUM(delta_on_hand) FROM inventory_ledger WHERE reason = 'fulfilment' AND reference = '" +
                       o.id.value + "'"),
            -4);
  EXPECT_EQ(event_types(o.id), (std::vector<std::string>{"order.placed", "order.paid", "order.shipped"}));
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.status, "shipped");
  EXPECT_EQ(read.events.back().actor.type, "admin");
  EXPECT_EQ(read.events.back().actor.id, "key_test");
  EXPECT_EQ(read.fulfilment_status, "fulfilled");
}

TEST_F(OrderStateTest, DeliveredThenCompleted) {
  auto o = place("MUG-1", 2);
  ASSERT_TRUE(env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin).ok());
  env.clock.advance(1);
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "fulfilled", test_support::kTestAdmin).ok());
  env.clock.advance(1);
  auto d = env.orders.set_fulfilment(o.id, "delivered", test_support::kTestAdmin);
  ASSERT_TRUE(d.ok()) << describe(d);
  EXPECT_EQ(d->status, "delivered");
  EXPECT_EQ(d->fulfilment_status, "delivered");
  auto c = env.orders.move(o.id, lifecycle::Move::complete, test_support::kTestAdmin);
  ASSERT_TRUE(c.ok()) << describe(c);
  EXPECT_EQ(c->status, "completed");
  // Delivery moves no stock.
  EXPECT_EQ(env.on_hand(mug_v(), warehouse.id), 3);
  EXPECT_EQ(env.reserved(mug_v(), warehouse.id), 0);
  EXPECT_EQ(ledger_count("fulfilment", o.id), 1);
  EXPECT_EQ(event_types(o.id),
            (std::vector<std::string>{"order.placed", "order.paid", "order.shipped", "order.delivered",
                                      "order.completed"}));
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).status, "completed");
}

TEST_F(OrderStateTest, FulfilmentNeverGoesBackwardsRepeatsOrTouchesACancelledOrder) {
  auto expect_conflict = [&](const OrderId& id, const std::string& status) {
    auto r = env.orders.set_fulfilment(id, status, test_support::kTestAdmin);
    ASSERT_FALSE(r.ok()) << status;
    EXPECT_EQ(r.error().kind, ErrorKind::conflict) << status;
    EXPECT_EQ(r.error().code, "order.invalid_transition") << status;
  };
  auto o = place("MUG-1", 2);
  ASSERT_TRUE(env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin).ok());
  expect_conflict(o.id, "delivered");  // not fulfilled yet
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "fulfilled", test_support::kTestAdmin).ok());
  expect_conflict(o.id, "fulfilled");  // repeated: stock must not leave twice
  EXPECT_EQ(env.on_hand(mug_v(), warehouse.id), 3);
  EXPECT_EQ(ledger_count("fulfilment", o.id), 1);
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "delivered", test_support::kTestAdmin).ok());
  expect_conflict(o.id, "delivered");
  expect_conflict(o.id, "fulfilled");  // backwards
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.status, "delivered");
  EXPECT_EQ(read.fulfilment_status, "delivered");
  EXPECT_EQ(env.on_hand(mug_v(), warehouse.id), 3);

  auto cancelled = place("MUG-1", 1);
  ASSERT_TRUE(env.orders.cancel(cancelled.id, "", test_support::kTestAdmin).ok());
  expect_conflict(cancelled.id, "fulfilled");
  expect_conflict(cancelled.id, "delivered");
  EXPECT_EQ(env.on_hand(mug_v(), warehouse.id), 3);
  EXPECT_EQ(CoreEnv::must(env.orders.get(cancelled.id)).fulfilment_status, "unfulfilled");

  auto missing = env.orders.set_fulfilment(OrderId("order_nope"), "fulfilled", test_support::kTestAdmin);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

TEST_F(OrderStateTest, AnInvalidFulfilmentStatusIsABadRequest) {
  auto o = place("MUG-1", 1);
  for (const std::string status : {"shipped", "", "unfulfilled", "Fulfilled", "completed"}) {
    auto r = env.orders.set_fulfilment(o.id, status, test_support::kTestAdmin);
    ASSERT_FALSE(r.ok()) << status;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument) << status;
    ASSERT_EQ(r.error().fields.size(), 1u) << status;
    EXPECT_EQ(r.error().fields[0].field, "status");
  }
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.fulfilment_status, "unfulfilled");
  EXPECT_EQ(read.status, "placed");
}

// Stock that left with a fulfilment is no longer reserved for the order: cancelling the order
// afterwards must not "release" it again, or it eats another order's reservation.
TEST_F(OrderStateTest, CancellingAFulfilledOrderDoesNotReleaseOtherOrdersReservations) {
  auto a = place("MUG-1", 1);
  auto b = place("MUG-1", 2);
  ASSERT_EQ(env.reserved(mug_v(), warehouse.id), 3);
  auto fulfilled = env.orders.set_fulfilment(a.id, "fulfilled", test_support::kTestAdmin);  // not paid: cash on delivery
  auto cancelled = env.orders.cancel(a.id, "refused at the door", test_support::kTestAdmin);
  if (fulfilled.ok()) {
    EXPECT_EQ(env.on_hand(mug_v(), warehouse.id), 4);
    EXPECT_FALSE(cancelled.ok()) << "a fulfilled order was cancelled and its shipped stock released again";
    if (!cancelled.ok()) {
      EXPECT_EQ(cancelled.error().kind, ErrorKind::conflict);
    }
  }
  // Order b still holds its two units, whatever happened to a.
  EXPECT_EQ(env.reserved(mug_v(), warehouse.id), 2);
  EXPECT_EQ(CoreEnv::must(env.orders.get(b.id)).status, "placed");
}

// Paying and shipping may come in either order (cash on delivery); completing needs both.
TEST_F(OrderStateTest, AnOrderPaidAfterDeliveryCompletes) {
  auto o = place("MUG-1", 1);
  auto fulfilled = env.orders.set_fulfilment(o.id, "fulfilled", test_support::kTestAdmin);  // before payment (cash on delivery)
  auto paid = env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin);
  ASSERT_TRUE(paid.ok()) << describe(paid);
  ASSERT_TRUE(fulfilled.ok()) << describe(fulfilled);
  EXPECT_EQ(paid->status, "shipped") << "paid while shipped, the order stays shipped";
  auto delivered = env.orders.set_fulfilment(o.id, "delivered", test_support::kTestAdmin);
  ASSERT_TRUE(delivered.ok()) << describe(delivered);
  auto completed = env.orders.move(o.id, lifecycle::Move::complete, test_support::kTestAdmin);
  ASSERT_TRUE(completed.ok()) << describe(completed);
  EXPECT_EQ(completed->status, "completed");
  EXPECT_EQ(completed->payment_status, "captured");
  EXPECT_EQ(completed->fulfilment_status, "delivered");
}

TEST_F(OrderStateTest, AnUnpaidDeliveredOrderCannotComplete) {
  auto o = place("MUG-1", 1);
  ASSERT_TRUE(env.orders.move(o.id, lifecycle::Move::ship, test_support::kTestAdmin).ok());
  ASSERT_TRUE(env.orders.move(o.id, lifecycle::Move::deliver, test_support::kTestAdmin).ok());
  auto r = env.orders.move(o.id, lifecycle::Move::complete, test_support::kTestAdmin);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "order.invalid_transition");
  EXPECT_EQ(r.error().extensions["allowed_moves"], (json{"mark_paid"}));
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).status, "delivered");
}

TEST_F(OrderStateTest, EventDataCarriesTheOrdersFacts) {
  auto o = place("TEE-M", 1);
  json data = OrderService::event_data(o);
  auto cny = [](std::int64_t amount) { return json{{"amount", amount}, {"currency", "CNY"}}; };
  ASSERT_EQ(o.lines.size(), 1u);
  const OrderLine& l = o.lines[0];
  EXPECT_EQ(data, (json{{"order_id", o.id.value},
                        {"number", o.number},
                        {"channel_id", web.id.value},
                        {"cart_id", o.cart_id.value},
                        {"customer_id", nullptr},
                        {"status", "placed"},
                        {"payment_status", "not_required"},
                        {"fulfilment_status", "unfulfilled"},
                        {"fulfilment_type", "ship"},
                        {"pickup_location_id", nullptr},
                        {"email", "li.lei@example.com"},
                        {"currency", "CNY"},
                        {"lines",
                         json::array({{{"line_id", l.id},
                                       {"sku", "TEE-M"},
                                       {"variant_id", l.variant_id.value},
                                       {"product_id", l.product_id.value},
                                       {"quantity", 1},
                                       {"unit_price", cny(12900)},
                                       {"subtotal", cny(12900)},
                                       {"tax", cny(l.tax)},
                                       {"total", cny(12900)}}})},
                        {"totals",
                         {{"subtotal", cny(12900)},
                          {"discount_total", cny(0)},
                          {"shipping_total", cny(0)},
                          {"tax_total", cny(o.totals.tax_total)},
                          {"total", cny(12900)}}},
                        {"total", cny(12900)},
                        {"refunded_total", cny(0)},
                        {"metadata", json::object()},
                        {"source", nullptr}}));
}

}  // namespace
}  // namespace quanqu::orders
