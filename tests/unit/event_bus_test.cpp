// Unit tests for the outbox (recording in the writer's transaction, the relay, leases, hooks, pruning) and for the events services record.
#include "core_test_support.h"

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace quanqu::events {
namespace {

using nlohmann::json;
using test_support::CoreEnv;
using test_support::describe;
using test_support::TestClock;

// Records every event a bus delivers; stops listening (and waits for a delivery in progress) when destroyed.
class Recorder {
 public:
  explicit Recorder(EventBus& bus) : bus_(bus) {
    id_ = bus_.listen([this](const Event& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
    });
  }
  ~Recorder() { bus_.unlisten(id_); }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Everything delivered so far, after draining the bus.
  std::vector<Event> events() {
    bus_.drain();
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::string> types() {
    std::vector<std::string> out;
    for (const auto& e : events()) out.push_back(e.type);
    return out;
  }
  std::vector<Event> of(const std::string& type) {
    std::vector<Event> out;
    for (const auto& e : events())
      if (e.type == type) out.push_back(e);
    return out;
  }

 private:
  EventBus& bus_;
  std::mutex mutex_;
  std::vector<Event> events_;
  std::uint64_t id_ = 0;
};

// A one-shot gate a listener can wait on, and a signal that it got there.
struct Gate {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};
};

// --- The bus itself: the outbox and its relay ---

// A bus on the CoreEnv's database with its own node id (a second server node, say), not started.
std::unique_ptr<EventBus> node(CoreEnv& env, const std::string& id) {
  RelayOptions o;
  o.node_id = id;
  o.poll = std::chrono::milliseconds(20);
  return std::make_unique<EventBus>(env.db(), env.clock, o);
}

long long pending(CoreEnv& env) {
  return env.scalar("SELECT COUNT(*) FROM event_outbox WHERE dispatched_at IS NULL");
}

TEST(EventBusTest, ListenersGetEventsInRecordOrderWithIdsAndTimestamps) {
  CoreEnv env;
  Recorder rec(env.events);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(env.events.publish("test.e" + std::to_string(i), {{"i", i}}).ok());
    env.clock.advance(1);
  }
  auto got = rec.events();
  ASSERT_EQ(got.size(), 5u);
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].type, "test.e" + std::to_string(i));
    EXPECT_EQ(got[i].data["i"], i);
    EXPECT_EQ(got[i].id.rfind("evt_", 0), 0u);
    ids.insert(got[i].id);
    if (i > 0) {
      EXPECT_EQ(got[i].occurred_at, got[i - 1].occurred_at + 1);
    }
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(pending(env), 0);
  EXPECT_EQ(env.events.dispatched(), env.events.published());
}

TEST(EventBusTest, EventsOfOneTransactionKeepTheirOrderWithinOneMillisecond) {
  CoreEnv env;
  Recorder rec(env.events);
  auto written = env.db().write<Ok>([&](soci::session& sql) -> Result<Ok> {
    for (int i = 0; i < 20; ++i) env.events.record(sql, "test.n" + std::to_string(i), json::object());
    return Ok{};
  });
  ASSERT_TRUE(written.ok());
  env.events.notify();
  auto types = rec.types();
  ASSERT_EQ(types.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(types[i], "test.n" + std::to_string(i));
}

TEST(EventBusTest, ARolledBackWriteLeavesNoEvent) {
  CoreEnv env;
  Recorder rec(env.events);
  auto refused = env.db().write<Ok>([&](soci::session& sql) -> Result<Ok> {
    env.events.record(sql, "test.rolled_back", json::object());
    return Error::conflict("test.refused", "refused after the event was recorded");
  });
  ASSERT_FALSE(refused.ok());
  env.events.notify();
  EXPECT_TRUE(rec.events().empty());
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM event_outbox"), 0);
}

TEST(EventBusTest, EventsWaitInTheOutboxUntilARelayRunsThenArriveOnce) {
  CoreEnv env;
  env.events.stop();  // this node writes but relays nothing, as if it died after the commit
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(env.events.publish("test.kept", {{"i", i}}).ok());
  EXPECT_EQ(pending(env), 3);

  auto other = node(env, "node_b");
  Recorder rec(*other);
  other->start();
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"test.kept", "test.kept", "test.kept"}));
  EXPECT_EQ(pending(env), 0);
  other->drain();
  EXPECT_EQ(rec.events().size(), 3u);  // once each
}

TEST(EventBusTest, TwoRelaysOnOneDatabaseDispatchEachEventOnce) {
  CoreEnv env;
  env.events.stop();
  auto a = node(env, "node_a"), b = node(env, "node_b");
  Recorder ra(*a), rb(*b);
  a->start();
  b->start();
  constexpr int kEvents = 300;
  std::thread writer([&] {
    for (int i = 0; i < kEvents; ++i) (void)a->publish("test.once", {{"i", i}});
  });
  for (int i = 0; i < kEvents; ++i) (void)b->publish("test.once", {{"i", kEvents + i}});
  writer.join();
  std::set<int> seen;
  std::size_t total = 0;
  for (auto* rec : {&ra, &rb})
    for (const auto& e : rec->events()) {
      seen.insert(e.data["i"].get<int>());
      ++total;
    }
  EXPECT_EQ(total, 2u * kEvents);
  EXPECT_EQ(seen.size(), 2u * kEvents);
  EXPECT_EQ(pending(env), 0);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM event_outbox WHERE deliveries <> 1"), 0);
}

TEST(EventBusTest, ABatchLeasedByADeadNodeIsTakenOverWhenItsLeaseRunsOut) {
  CoreEnv env;
  env.events.stop();
  ASSERT_TRUE(env.events.publish("test.leased", json::object()).ok());
  long long until = env.clock.now_ms() + 30000;
  auto leased = env.db().write<Ok>([&](soci::session& sql) -> Result<Ok> {
    sql << "UPDATE event_outbox SET lease_owner = 'node_dead', lease_until = :u", soci::use(until);
    return Ok{};
  });
  ASSERT_TRUE(leased.ok());
  auto other = node(env, "node_b");
  Recorder rec(*other);
  other->start();
  EXPECT_TRUE(rec.events().empty());  // still leased
  env.clock.advance(30001);
  other->notify();
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"test.leased"}));
  EXPECT_EQ(pending(env), 0);
}

TEST(EventBusTest, DispatchHooksRunInTheMarkingTransactionAndAFailedMarkingIsRetried) {
  CoreEnv env;
  env.events.stop();
  auto bus = node(env, "node_h");
  Recorder rec(*bus);
  std::atomic<int> calls{0};
  std::atomic<bool> fail{true};
  std::atomic<int> after{0};
  bus->on_dispatch([&](soci::session& sql, const std::vector<Event>& batch) -> Status {
    ++calls;
    if (fail.exchange(false)) return Error::internal("the hook failed once");
    for (const auto& e : batch)
      sql << "INSERT INTO plugin_settings (plugin, updated_at) VALUES (:p, 0)", soci::use(e.id);
    return ok_status();
  });
  bus->after_dispatch([&] { ++after; });
  ASSERT_TRUE(bus->publish("test.hooked", json::object()).ok());
  bus->start();
  bus->drain();
  // The first marking is rolled back (the event stays leased to us) and made again at once.
  EXPECT_EQ(pending(env), 0);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM plugin_settings"), 1);
  EXPECT_EQ(after.load(), 1);
  EXPECT_EQ(rec.events().size(), 1u);
}

TEST(EventBusTest, UnlistenStopsDeliveryAndAThrowingListenerDoesNotStopTheOthers) {
  CoreEnv env;
  std::atomic<int> a_count{0}, b_count{0};
  auto a = env.events.listen([&](const Event&) { a_count.fetch_add(1); });
  auto thrower = env.events.listen([](const Event&) { throw 42; });
  auto b = env.events.listen([&](const Event&) { b_count.fetch_add(1); });
  ASSERT_TRUE(env.events.publish("test.x", json::object()).ok());
  env.events.drain();
  env.events.unlisten(a);
  ASSERT_TRUE(env.events.publish("test.y", json::object()).ok());
  env.events.drain();
  EXPECT_EQ(a_count.load(), 1);
  EXPECT_EQ(b_count.load(), 2);
  env.events.unlisten(b);
  env.events.unlisten(thrower);
}

TEST(EventBusTest, PruneDeletesOnlyDispatchedEventsOlderThanTheCutOff) {
  CoreEnv env;
  ASSERT_TRUE(env.events.publish("test.old", json::object()).ok());
  env.events.drain();
  env.clock.advance(10'000);
  env.events.stop();
  ASSERT_TRUE(env.events.publish("test.pending", json::object()).ok());
  auto pruned = env.events.prune(env.clock.now_ms(), 100);
  ASSERT_TRUE(pruned.ok()) << describe(pruned);
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM event_outbox"), 1);
  EXPECT_EQ(pending(env), 1);
}

TEST(EventBusTest, PatternsMatchExactPrefixAndAll) {
  EXPECT_TRUE(matches("*", "order.placed"));
  EXPECT_TRUE(matches("order.placed", "order.placed"));
  EXPECT_FALSE(matches("order.placed", "order.paid"));
  EXPECT_TRUE(matches("order.*", "order.placed"));
  EXPECT_TRUE(matches("order.*", "order.fulfilment.late"));
  EXPECT_FALSE(matches("order.*", "order"));
  EXPECT_FALSE(matches("order.*", "order."));
  EXPECT_FALSE(matches("order.*", "orders.placed"));
  EXPECT_FALSE(matches("order.*", "inventory.changed"));
}

// --- Events the services publish ---

class EventBusServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    warehouse = env.location("wh");
    web = env.channel("web", {warehouse.id}, 1300, true);
    tee = env.product("tee", {"TEE-M"}, 12900);
    env.publish(web, tee);
    env.stock(tee.variants[0].id, warehouse.id, 5);
    env.events.drain();  // the set-up's events are delivered before the recorder listens
    rec = std::make_unique<Recorder>(env.events);  // after the set-up: its events are not of interest
  }
  void TearDown() override { rec.reset(); }

  cart::Cart cart_with(std::int64_t quantity) {
    cart::CartPatch patch;
    patch.email = std::optional<std::string>("li.lei@example.com");
    patch.shipping_address = std::optional<Address>(CoreEnv::address());
    cart::AddItem item;
    item.sku = "TEE-M";
    item.quantity = quantity;
    return CoreEnv::must(env.carts.create(web, patch, {item}));
  }

  orders::Order place(std::int64_t quantity, const std::string& key) {
    auto c = cart_with(quantity);
    return CoreEnv::must(env.checkout.checkout(web, {c.id, key, "fp"})).order;
  }

  const VariantId& v() const { return tee.variants[0].id; }

  CoreEnv env;
  inventory::StockLocation warehouse;
  channels::Channel web;
  catalog::Product tee;
  std::unique_ptr<Recorder> rec;
};

TEST_F(EventBusServicesTest, CheckoutPublishesOrderPlacedThenInventoryChangedAfterCommit) {
  auto c = cart_with(2);
  rec->events();
  // A listener that reads the order back: the event must come after the commit.
  std::mutex m;
  std::vector<std::string> seen_in_db;
  auto reader = env.events.listen([&](const Event& e) {
    if (e.type != "order.placed") return;
    auto o = env.orders.get(OrderId(e.data.value("order_id", "")));
    std::lock_guard lock(m);
    seen_in_db.push_back(o.ok() ? o->status : "missing: " + describe(o));
  });
  auto before = rec->events().size();
  auto r = env.checkout.checkout(web, {c.id, "key-1", "fp-1"});
  ASSERT_TRUE(r.ok()) << describe(r);
  auto all = rec->events();
  std::vector<std::string> types;
  for (std::size_t i = before; i < all.size(); ++i) types.push_back(all[i].type);
  EXPECT_EQ(types, (std::vector<std::string>{"order.placed", "inventory.changed"}));

  auto placed = rec->of("order.placed");
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].data["order_id"], r->order.id.value);
  EXPECT_EQ(placed[0].data["number"], r->order.number);
  EXPECT_EQ(placed[0].data["channel_id"], web.id.value);
  EXPECT_EQ(placed[0].data["cart_id"], c.id.value);
  EXPECT_EQ(placed[0].data["status"], "placed");
  EXPECT_EQ(placed[0].data["payment_status"], "not_required");
  EXPECT_EQ(placed[0].data["fulfilment_status"], "unfulfilled");
  EXPECT_EQ(placed[0].data["email"], "li.lei@example.com");
  EXPECT_EQ(placed[0].data["total"], (json{{"amount", 25800}, {"currency", "CNY"}}));
  EXPECT_EQ(placed[0].occurred_at, env.clock.now_ms());

  auto changed = rec->of("inventory.changed");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].data["reason"], "reserve");
  EXPECT_EQ(changed[0].data["reference"], r->order.id.value);
  ASSERT_EQ(changed[0].data["levels"].size(), 1u);
  EXPECT_EQ(changed[0].data["levels"][0]["variant_id"], v().value);
  EXPECT_EQ(changed[0].data["levels"][0]["location_id"], warehouse.id.value);
  EXPECT_EQ(changed[0].data["levels"][0]["quantity"], 2);

  env.events.drain();
  env.events.unlisten(reader);
  std::lock_guard lock(m);
  EXPECT_EQ(seen_in_db, (std::vector<std::string>{"placed"}));

  // A replay of the same request publishes nothing new.
  auto count = rec->events().size();
  auto again = env.checkout.checkout(web, {c.id, "key-1", "fp-1"});
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(rec->events().size(), count);
}

TEST_F(EventBusServicesTest, OrderEventsCarryLinesCustomerAndAttribution) {
  cart::CartPatch patch;
  patch.email = std::optional<std::string>("li.lei@example.com");
  patch.shipping_address = std::optional<Address>(CoreEnv::address());
  patch.metadata = json{{"utm_source", "wechat"}};
  patch.source = std::optional<Source>(Source{"social", std::nullopt, "ref_1"});
  cart::AddItem item;
  item.sku = "TEE-M";
  item.quantity = 2;
  auto c = CoreEnv::must(env.carts.create(web, patch, {item}));
  auto o = CoreEnv::must(env.checkout.checkout(web, {c.id, "k1", "fp"})).order;
  EXPECT_EQ(o.metadata, (json{{"utm_source", "wechat"}}));
  EXPECT_EQ(o.source, std::optional<Source>(Source{"social", std::nullopt, "ref_1"}));

  auto placed = rec->of("order.placed");
  ASSERT_EQ(placed.size(), 1u);
  const json& d = placed[0].data;
  EXPECT_EQ(d["customer_id"], nullptr);
  EXPECT_EQ(d["channel_id"], web.id.value);
  EXPECT_EQ(d["currency"], "CNY");
  EXPECT_EQ(d["metadata"], (json{{"utm_source", "wechat"}}));
  EXPECT_EQ(d["source"], (json{{"plugin", "social"}, {"campaign", nullptr}, {"referral", "ref_1"}}));
  ASSERT_EQ(d["lines"].size(), 1u);
  EXPECT_EQ(d["lines"][0]["sku"], "TEE-M");
  EXPECT_EQ(d["lines"][0]["variant_id"], v().value);
  EXPECT_EQ(d["lines"][0]["product_id"], tee.id.value);
  EXPECT_EQ(d["lines"][0]["quantity"], 2);
  EXPECT_EQ(d["lines"][0]["unit_price"], (json{{"amount", 12900}, {"currency", "CNY"}}));
  EXPECT_EQ(d["lines"][0]["total"], (json{{"amount", o.lines[0].total}, {"currency", "CNY"}}));
  EXPECT_EQ(d["totals"]["total"], d["total"]);

  // inventory.changed: what moved, and the level after the move (5 on hand, 2 of them reserved).
  auto changed = rec->of("inventory.changed");
  ASSERT_EQ(changed.size(), 1u);
  const json& level = changed[0].data["levels"][0];
  EXPECT_EQ(level["sku"], "TEE-M");
  EXPECT_EQ(level["location_id"], warehouse.id.value);
  EXPECT_EQ(level["quantity"], 2);
  EXPECT_EQ(level["on_hand"], 5);
  EXPECT_EQ(level["reserved"], 2);
  EXPECT_EQ(level["available"], 3);

  // Later events of the order carry the same facts.
  ASSERT_TRUE(env.orders.cancel(o.id, "", test_support::kTestAdmin).ok());
  auto cancelled = rec->of("order.cancelled");
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].data["lines"], d["lines"]);
  EXPECT_EQ(cancelled[0].data["metadata"], d["metadata"]);
  EXPECT_EQ(rec->of("inventory.changed").back().data["levels"][0]["available"], 5);
}

TEST_F(EventBusServicesTest, OrderMetadataChangesPublishOrderUpdatedOnce) {
  auto o = place(1, "k1");
  auto before = rec->events().size();
  auto updated = env.orders.update_metadata(o.id, {{"erp_ref", "SO-1"}}, test_support::kTestAdmin);
  ASSERT_TRUE(updated.ok()) << describe(updated);
  EXPECT_EQ(updated->metadata, (json{{"erp_ref", "SO-1"}}));
  EXPECT_EQ(updated->events.back().type, "order.updated");
  EXPECT_EQ(updated->events.back().data["metadata_keys"], json::array({"erp_ref"}));
  // The same patch again changes nothing; a bad one or one past the bounds neither.
  ASSERT_TRUE(env.orders.update_metadata(o.id, {{"erp_ref", "SO-1"}}, test_support::kTestAdmin).ok());
  EXPECT_EQ(env.orders.update_metadata(o.id, {{"x", json::array()}}, test_support::kTestAdmin).error().code,
            "validation_failed");
  json many = json::object();
  for (int i = 0; i < 50; ++i) many["k" + std::to_string(i)] = i;
  EXPECT_EQ(env.orders.update_metadata(o.id, many, test_support::kTestAdmin).error().code, "validation_failed");
  EXPECT_EQ(env.orders.update_metadata(OrderId("order_nope"), {{"a", 1}}, test_support::kTestAdmin).error().code,
            "order.not_found");
  auto all = rec->events();
  ASSERT_EQ(all.size(), before + 1);
  EXPECT_EQ(all[before].type, "order.updated");
  EXPECT_EQ(all[before].data["changed"], json::array({"metadata"}));
  EXPECT_EQ(all[before].data["metadata"], (json{{"erp_ref", "SO-1"}}));
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).metadata, (json{{"erp_ref", "SO-1"}}));
}

TEST_F(EventBusServicesTest, EveryCartChangePublishesCartUpdated) {
  auto c = CoreEnv::must(env.carts.create(web, {}, {}));
  cart::AddItem item;
  item.sku = "TEE-M";
  item.quantity = 2;
  c = CoreEnv::must(env.carts.add_item(web, c.id, item));
  c = CoreEnv::must(env.carts.set_quantity(web, c.id, c.items[0].id, 3));
  cart::CartPatch patch;
  patch.email = std::optional<std::string>("a@example.com");
  c = CoreEnv::must(env.carts.update(web, c.id, patch));
  c = CoreEnv::must(env.carts.remove_item(web, c.id, c.items[0].id));

  auto updated = rec->of("cart.updated");
  ASSERT_EQ(updated.size(), 5u);
  EXPECT_EQ(rec->types().size(), 5u);  // nothing else
  for (const auto& e : updated) {
    EXPECT_EQ(e.data["cart_id"], c.id.value);
    EXPECT_EQ(e.data["channel_id"], web.id.value);
  }
  EXPECT_EQ(updated[0].data["units"], 0);
  EXPECT_EQ(updated[1].data["lines"], 1);
  EXPECT_EQ(updated[1].data["units"], 2);
  EXPECT_EQ(updated[1].data["total"], (json{{"amount", 25800}, {"currency", "CNY"}}));
  EXPECT_EQ(updated[2].data["units"], 3);
  EXPECT_EQ(updated[3].data["units"], 3);
  EXPECT_EQ(updated[4].data["lines"], 0);
  EXPECT_EQ(updated[4].data["total"]["amount"], 0);
}

TEST_F(EventBusServicesTest, CancelPublishesOrderCancelledAndTheRelease) {
  auto o = place(2, "k1");
  auto before = rec->events().size();
  auto cancelled = env.orders.cancel(o.id, "customer asked", test_support::kTestAdmin);
  ASSERT_TRUE(cancelled.ok()) << describe(cancelled);
  auto all = rec->events();
  ASSERT_EQ(all.size(), before + 2);
  EXPECT_EQ(all[before].type, "order.cancelled");
  EXPECT_EQ(all[before].data["order_id"], o.id.value);
  EXPECT_EQ(all[before].data["status"], "cancelled");
  EXPECT_EQ(all[before + 1].type, "inventory.changed");
  EXPECT_EQ(all[before + 1].data["reason"], "release");
  EXPECT_EQ(all[before + 1].data["reference"], o.id.value);
}

TEST_F(EventBusServicesTest, MarkPaidAndFulfilmentPublishTheirEvents) {
  auto o = place(1, "k1");
  auto before = rec->events().size();
  ASSERT_TRUE(env.orders.mark_paid(o.id, {{"source", "test"}}, test_support::kTestAdmin).ok());
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "fulfilled", test_support::kTestAdmin).ok());
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "delivered", test_support::kTestAdmin).ok());
  auto all = rec->events();
  std::vector<std::string> types;
  for (std::size_t i = before; i < all.size(); ++i) types.push_back(all[i].type);
  EXPECT_EQ(types, (std::vector<std::string>{"order.paid", "order.shipped", "inventory.changed", "order.delivered"}));
  auto paid = rec->of("order.paid");
  ASSERT_EQ(paid.size(), 1u);
  EXPECT_EQ(paid[0].data["status"], "paid");
  EXPECT_EQ(paid[0].data["payment_status"], "captured");
  auto fulfilled = rec->of("order.shipped");
  ASSERT_EQ(fulfilled.size(), 1u);
  EXPECT_EQ(fulfilled[0].data["status"], "shipped");
  EXPECT_EQ(fulfilled[0].data["fulfilment_status"], "fulfilled");
  auto shipped = rec->of("inventory.changed").back();
  EXPECT_EQ(shipped.data["reason"], "fulfilment");
  EXPECT_EQ(shipped.data["reference"], o.id.value);
  auto delivered = rec->of("order.delivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].data["status"], "delivered");
  EXPECT_EQ(delivered[0].data["fulfilment_status"], "delivered");
}

TEST_F(EventBusServicesTest, FailedWritesPublishNothing) {
  auto o = place(2, "k1");
  ASSERT_TRUE(env.orders.cancel(o.id, "", test_support::kTestAdmin).ok());
  auto before = rec->events().size();

  // A cart change refused (more than in stock), a checkout refused (the stock went meanwhile).
  auto c = cart_with(3);
  before = rec->events().size();
  cart::AddItem more;
  more.sku = "TEE-M";
  more.quantity = 10;
  EXPECT_FALSE(env.carts.add_item(web, c.id, more).ok());
  EXPECT_FALSE(env.carts.set_quantity(web, c.id, c.items[0].id, 99).ok());
  env.stock(v(), warehouse.id, 1);  // publishes inventory.changed (adjustment)
  auto adjustment = rec->events().size();
  EXPECT_EQ(adjustment, before + 1);
  auto refused = env.checkout.checkout(web, {c.id, "k2", "fp"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "inventory.insufficient_stock");

  // Order writes refused: cancelling twice, paying a cancelled order, fulfilling it.
  EXPECT_FALSE(env.orders.cancel(o.id, "", test_support::kTestAdmin).ok());
  EXPECT_FALSE(env.orders.mark_paid(o.id, json::object(), test_support::kTestAdmin).ok());
  EXPECT_FALSE(env.orders.set_fulfilment(o.id, "fulfilled", test_support::kTestAdmin).ok());
  EXPECT_FALSE(env.orders.set_fulfilment(o.id, "shipped", test_support::kTestAdmin).ok());
  EXPECT_EQ(rec->events().size(), adjustment);
}

}  // namespace
}  // namespace quanqu::events
