// Unit tests for the event bus (ordering, draining, unlisten, failures, overflow) and for the events services publish after commit.
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

// --- The bus itself ---

TEST(EventBusTest, ListenersGetEventsInPublishOrderWithIdsAndTimestamps) {
  TestClock clock;
  EventBus bus(clock);
  Recorder rec(bus);
  std::vector<std::int64_t> times;
  for (int i = 0; i < 50; ++i) {
    times.push_back(clock.now_ms());
    bus.publish("test.event", {{"n", i}});
    clock.advance(7);
  }
  auto got = rec.events();
  ASSERT_EQ(got.size(), 50u);
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].type, "test.event");
    EXPECT_EQ(got[i].data["n"], i);
    EXPECT_EQ(got[i].occurred_at, times[i]);
    EXPECT_TRUE(looks_like_id(got[i].id, "evt")) << got[i].id;
    ids.insert(got[i].id);
  }
  EXPECT_EQ(ids.size(), 50u);  // every event has its own id
  EXPECT_EQ(bus.published(), 50u);
  EXPECT_EQ(bus.dropped(), 0u);
}

TEST(EventBusTest, EveryListenerGetsEveryEventInTheSameOrder) {
  TestClock clock;
  EventBus bus(clock);
  Recorder a(bus), b(bus);
  bus.publish("one", json::object());
  bus.publish("two", json::object());
  bus.publish("three", json::object());
  std::vector<std::string> expected{"one", "two", "three"};
  EXPECT_EQ(a.types(), expected);
  EXPECT_EQ(b.types(), expected);
  auto ea = a.events(), eb = b.events();
  for (std::size_t i = 0; i < ea.size(); ++i) EXPECT_EQ(ea[i].id, eb[i].id);  // the same events, not copies restamped
}

TEST(EventBusTest, DrainWaitsUntilEverythingPublishedBeforeHasBeenDelivered) {
  TestClock clock;
  EventBus bus(clock);
  std::atomic<int> delivered{0};
  auto id = bus.listen([&](const Event&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow listener
    delivered.fetch_add(1);
  });
  for (int i = 0; i < 5; ++i) bus.publish("slow", json::object());
  bus.drain();
  EXPECT_EQ(delivered.load(), 5);
  bus.drain();  // nothing queued: returns at once
  EXPECT_EQ(delivered.load(), 5);
  bus.unlisten(id);
}

TEST(EventBusTest, UnlistenStopsDeliveryToThatListenerOnly) {
  TestClock clock;
  EventBus bus(clock);
  std::atomic<int> a_count{0};
  auto a = bus.listen([&](const Event&) { a_count.fetch_add(1); });
  Recorder b(bus);
  bus.publish("first", json::object());
  bus.drain();
  bus.unlisten(a);
  bus.publish("second", json::object());
  bus.drain();
  EXPECT_EQ(a_count.load(), 1);
  EXPECT_EQ(b.types(), (std::vector<std::string>{"first", "second"}));
  bus.unlisten(a);  // unknown id: harmless
}

TEST(EventBusTest, UnlistenWaitsForADeliveryInProgress) {
  TestClock clock;
  EventBus bus(clock);
  Gate gate;
  std::atomic<int> calls{0};
  std::atomic<bool> inside{false};
  auto id = bus.listen([&](const Event&) {
    if (calls.fetch_add(1) == 0) {
      inside = true;
      gate.entered.set_value();
      gate.released.wait();
      inside = false;
    }
  });
  bus.publish("blocked", json::object());
  gate.entered.get_future().wait();

  std::atomic<bool> returned{false};
  bool inside_when_returned = true;
  std::thread remover([&] {
    bus.unlisten(id);
    inside_when_returned = inside.load();
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(returned.load()) << "unlisten returned while its listener was still running";
  gate.release.set_value();
  remover.join();
  EXPECT_TRUE(returned.load());
  EXPECT_FALSE(inside_when_returned);

  bus.publish("after", json::object());
  bus.drain();
  EXPECT_EQ(calls.load(), 1);
}

TEST(EventBusTest, AThrowingListenerDoesNotStopTheOthers) {
  TestClock clock;
  EventBus bus(clock);
  std::atomic<int> thrower_calls{0};
  auto t1 = bus.listen([&](const Event&) {
    thrower_calls.fetch_add(1);
    throw std::runtime_error("listener broke");
  });
  auto t2 = bus.listen([](const Event&) { throw 42; });  // not even a std::exception
  Recorder rec(bus);
  bus.publish("a", json::object());
  bus.publish("b", json::object());
  bus.publish("c", json::object());
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(thrower_calls.load(), 3);  // and the thrower still gets the following events
  bus.unlisten(t1);
  bus.unlisten(t2);
}

TEST(EventBusTest, AFullQueueDropsNewEventsAndCountsThemWithoutBlocking) {
  TestClock clock;
  EventBus bus(clock, 2);
  Gate gate;
  std::mutex m;
  std::vector<std::string> got;
  auto id = bus.listen([&](const Event& e) {
    {
      std::lock_guard lock(m);
      got.push_back(e.type);
    }
    if (e.type == "e1") {
      gate.entered.set_value();
      gate.released.wait();
    }
  });
  bus.publish("e1", json::object());
  gate.entered.get_future().wait();  // the worker holds e1; the queue is empty
  bus.publish("e2", json::object());
  bus.publish("e3", json::object());  // the queue is full now
  bus.publish("e4", json::object());  // dropped, and publish returns although the listener is stuck
  bus.publish("e5", json::object());
  EXPECT_EQ(bus.dropped(), 2u);
  gate.release.set_value();
  bus.drain();
  {
    std::lock_guard lock(m);
    EXPECT_EQ(got, (std::vector<std::string>{"e1", "e2", "e3"}));
  }
  // Room again once drained.
  bus.publish("e6", json::object());
  bus.drain();
  {
    std::lock_guard lock(m);
    EXPECT_EQ(got.back(), "e6");
  }
  EXPECT_EQ(bus.dropped(), 2u);
  bus.unlisten(id);
}

TEST(EventBusTest, WithoutListenersPublishIsANoOp) {
  TestClock clock;
  EventBus bus(clock);
  bus.publish("nobody.listens", {{"x", 1}});
  bus.drain();  // no worker: returns at once
  EXPECT_EQ(bus.published(), 0u);
  EXPECT_EQ(bus.dropped(), 0u);
  // An event published with no listener is not kept for a listener that comes later.
  Recorder rec(bus);
  bus.publish("heard", json::object());
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"heard"}));
  EXPECT_EQ(bus.published(), 1u);
}

TEST(EventBusTest, DestructionDeliversWhatIsQueued) {
  TestClock clock;
  auto got = std::make_shared<std::vector<std::string>>();
  {
    EventBus bus(clock);
    bus.listen([got](const Event& e) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      got->push_back(e.type);
    });
    for (int i = 0; i < 10; ++i) bus.publish("e" + std::to_string(i), json::object());
  }
  ASSERT_EQ(got->size(), 10u);
  EXPECT_EQ(got->front(), "e0");
  EXPECT_EQ(got->back(), "e9");
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
  EXPECT_EQ(placed[0].data["status"], "pending");
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
  EXPECT_EQ(seen_in_db, (std::vector<std::string>{"pending"}));

  // A replay of the same request publishes nothing new.
  auto count = rec->events().size();
  auto again = env.checkout.checkout(web, {c.id, "key-1", "fp-1"});
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(rec->events().size(), count);
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
  auto cancelled = env.orders.cancel(o.id, "customer asked");
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
  ASSERT_TRUE(env.orders.mark_paid(o.id, {{"source", "test"}}).ok());
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "fulfilled").ok());
  ASSERT_TRUE(env.orders.set_fulfilment(o.id, "delivered").ok());
  auto all = rec->events();
  std::vector<std::string> types;
  for (std::size_t i = before; i < all.size(); ++i) types.push_back(all[i].type);
  EXPECT_EQ(types, (std::vector<std::string>{"order.paid", "order.fulfilled", "inventory.changed", "order.delivered"}));
  auto paid = rec->of("order.paid");
  ASSERT_EQ(paid.size(), 1u);
  EXPECT_EQ(paid[0].data["status"], "paid");
  EXPECT_EQ(paid[0].data["payment_status"], "captured");
  auto fulfilled = rec->of("order.fulfilled");
  ASSERT_EQ(fulfilled.size(), 1u);
  EXPECT_EQ(fulfilled[0].data["status"], "fulfilled");
  EXPECT_EQ(fulfilled[0].data["fulfilment_status"], "fulfilled");
  auto shipped = rec->of("inventory.changed").back();
  EXPECT_EQ(shipped.data["reason"], "fulfilment");
  EXPECT_EQ(shipped.data["reference"], o.id.value);
  auto delivered = rec->of("order.delivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].data["status"], "completed");
  EXPECT_EQ(delivered[0].data["fulfilment_status"], "delivered");
}

TEST_F(EventBusServicesTest, FailedWritesPublishNothing) {
  auto o = place(2, "k1");
  ASSERT_TRUE(env.orders.cancel(o.id, "").ok());
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
  EXPECT_FALSE(env.orders.cancel(o.id, "").ok());
  EXPECT_FALSE(env.orders.mark_paid(o.id, json::object()).ok());
  EXPECT_FALSE(env.orders.set_fulfilment(o.id, "fulfilled").ok());
  EXPECT_FALSE(env.orders.set_fulfilment(o.id, "shipped").ok());
  EXPECT_EQ(rec->events().size(), adjustment);
}

}  // namespace
}  // namespace quanqu::events
