// Unit tests for payments: sessions with a scripted provider, authorisation at checkout, capture, release; channel provider fields.
#include "core_test_support.h"
#include "fake_providers.h"

#include <mutex>

namespace quanqu::payments {
namespace {

using nlohmann::json;
using test_support::CoreEnv;
using test_support::describe;
using test_support::FakeProviders;

// Records the events a bus delivers from its construction until destroyed.
class Recorder {
 public:
  explicit Recorder(events::EventBus& bus) : bus_(bus) {
    bus_.drain();  // events written before (the test's set-up) are delivered first, not recorded
    id_ = bus_.listen([this](const events::Event& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
    });
  }
  ~Recorder() { bus_.unlisten(id_); }
  std::vector<std::string> types() {
    bus_.drain();
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(e.type);
    return out;
  }
  std::vector<events::Event> of(const std::string& type) {
    bus_.drain();
    std::lock_guard lock(mutex_);
    std::vector<events::Event> out;
    for (const auto& e : events_)
      if (e.type == type) out.push_back(e);
    return out;
  }

 private:
  events::EventBus& bus_;
  std::mutex mutex_;
  std::vector<events::Event> events_;
  std::uint64_t id_ = 0;
};

bool has_field(const Error& e, const std::string& field) {
  for (const auto& f : e.fields)
    if (f.field == field) return true;
  return false;
}

// A scripted answer that names the session in the provider's reference, as a gateway would.
FakeProviders::Answer pending_with_reference(const std::string& prefix) {
  return [prefix](const json& input) -> Result<json> {
    return json{{"status", "pending"},
                {"reference", prefix + input["session"]["id"].get<std::string>()},
                {"data", {{"instructions", "pay at the counter"}}}};
  };
}

class PaymentsTest : public ::testing::Test {
 protected:
  PaymentsTest()
      : payments(env.db(), env.clock, env.changes, env.events, fake),
        checkout(env.db(), env.clock, env.changes, env.events, payments) {}

  void SetUp() override {
    warehouse = env.location("wh");
    channels::NewChannel in;
    in.code = "shop";
    in.name = "Shop";
    in.type = "web";
    in.currency = "CNY";
    in.tax_rate_bp = 1300;
    in.tax_inclusive = true;
    in.location_ids = {warehouse.id};
    in.configs = {{"card", {{"api_key", "test-key"}}}, {"manual", json::object()}};
    in.payment_providers = {"manual", "card"};
    shop = CoreEnv::must(env.channels.create(in));
    plain = env.channel("plain", {warehouse.id});
    tee = env.product("tee", {"TEE-M"}, 12900);
    env.publish(shop, tee);
    env.publish(plain, tee);
    env.stock(v(), warehouse.id, 10);
    fake.respond("payment", "manual", "initiate", pending_with_reference("man_"));
    fake.respond("payment", "card", "initiate", pending_with_reference("card_"));
    fake.answer("payment", "manual", "authorize", {{"status", "authorized"}});
    fake.answer("payment", "card", "authorize", {{"status", "authorized"}});
    fake.answer("payment", "manual", "capture", {{"status", "captured"}});
    fake.answer("payment", "card", "capture", {{"status", "captured"}});
    fake.answer("payment", "manual", "cancel", {{"status", "cancelled"}});
    fake.answer("payment", "card", "cancel", {{"status", "cancelled"}});
  }

  const VariantId& v() const { return tee.variants[0].id; }

  cart::Cart cart_on(const channels::Channel& channel, std::int64_t quantity = 1) {
    cart::CartPatch patch;
    patch.email = std::optional<std::string>("li.lei@example.com");
    patch.shipping_address = std::optional<Address>(CoreEnv::address());
    std::vector<cart::AddItem> items;
    if (quantity > 0) {
      cart::AddItem item;
      item.sku = "TEE-M";
      item.quantity = quantity;
      items.push_back(item);
    }
    return CoreEnv::must(env.carts.create(channel, patch, items));
  }

  Result<checkout::CheckoutResult> check_out(const cart::Cart& c, const std::string& key = "key-1") {
    return checkout.checkout(shop, {c.id, key, "fp-" + key});
  }

  // A placed order on the shop channel whose session the provider authorised at checkout.
  orders::Order authorised_order(const std::string& provider = "card") {
    auto c = cart_on(shop);
    CoreEnv::must(payments.start(shop, c.id, provider));
    return CoreEnv::must(check_out(c)).order;
  }

  PaymentSession session_of(const cart::Cart& c) {
    auto sessions = CoreEnv::must(payments.for_cart(shop, c.id));
    if (sessions.empty()) throw std::runtime_error("no session");
    return sessions.front();
  }
  PaymentSession session_by_id(const std::string& id) {
    return CoreEnv::must(env.db().read<PaymentSession>(
        [&](soci::session& sql) { return PaymentService::load(sql, PaymentSessionId(id)); }));
  }

  long long sessions_count() { return env.scalar("SELECT COUNT(*) FROM payment_sessions"); }
  long long orders_count() { return env.scalar("SELECT COUNT(*) FROM orders"); }

  CoreEnv env;
  FakeProviders fake;
  PaymentService payments;
  checkout::CheckoutService checkout;
  inventory::StockLocation warehouse;
  channels::Channel shop, plain;
  catalog::Product tee;
};

// --- start ---

TEST_F(PaymentsTest, StartRefusesAProviderTheChannelDoesNotOffer) {
  auto c = cart_on(shop);
  auto r = payments.start(shop, c.id, "paypal");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(r.error().code, "payment.provider_not_offered");
  ASSERT_TRUE(has_field(r.error(), "provider"));
  EXPECT_NE(r.error().fields[0].message.find("manual, card"), std::string::npos) << r.error().fields[0].message;

  // A channel without a payment step offers none, not even a provider another channel has.
  auto p = cart_on(plain);
  auto none = payments.start(plain, p.id, "manual");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "payment.provider_not_offered");
  EXPECT_TRUE(has_field(none.error(), "provider"));
  EXPECT_EQ(sessions_count(), 0);
  EXPECT_TRUE(fake.calls().empty());
}

TEST_F(PaymentsTest, StartStoresPendingThenTheProvidersOutcome) {
  auto c = cart_on(shop, 2);
  // The provider sees the session stored as pending, for the cart's total.
  std::string seen_status;
  std::int64_t seen_rows = -1;
  fake.respond("payment", "card", "initiate", [&](const json& input) -> Result<json> {
    seen_status = input["session"]["status"];
    seen_rows = env.scalar("SELECT COUNT(*) FROM payment_sessions WHERE status = 'pending'");
    return json{{"status", "pending"}, {"reference", "pi_123"}, {"data", {{"client_secret", "cs_abc"}}}};
  });
  auto s = payments.start(shop, c.id, "card");
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(seen_status, "pending");
  EXPECT_EQ(seen_rows, 1);
  EXPECT_TRUE(looks_like_id(s->id.value, "pay"));
  EXPECT_EQ(s->cart_id, c.id);
  EXPECT_EQ(s->channel_id, shop.id);
  EXPECT_EQ(s->provider, "card");
  EXPECT_EQ(s->amount, 25800);
  EXPECT_EQ(s->currency, "CNY");
  EXPECT_EQ(s->status, "pending");
  EXPECT_EQ(s->reference, "pi_123");
  EXPECT_EQ(s->data, (json{{"client_secret", "cs_abc"}}));
  EXPECT_FALSE(s->order_id.has_value());

  auto calls = fake.calls("initiate");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, "payment");
  EXPECT_EQ(calls[0].name, "card");
  EXPECT_EQ(calls[0].input["session"]["id"], s->id.value);
  EXPECT_EQ(calls[0].input["session"]["amount"], (json{{"amount", 25800}, {"currency", "CNY"}}));
  EXPECT_EQ(calls[0].input["channel"]["code"], "shop");
  EXPECT_EQ(calls[0].input["channel"]["currency"], "CNY");
  EXPECT_EQ(calls[0].configs, shop.configs);  // the host picks the provider's own entry

  // Stored as returned.
  auto stored = session_of(c);
  EXPECT_EQ(stored.id, s->id);
  EXPECT_EQ(stored.status, "pending");
  EXPECT_EQ(stored.reference, "pi_123");
  EXPECT_EQ(stored.data, (json{{"client_secret", "cs_abc"}}));

  // A provider that authorises at once.
  env.clock.advance(1000);
  fake.answer("payment", "manual", "initiate", {{"status", "authorized"}, {"reference", "m-1"}});
  auto now = payments.start(shop, c.id, "manual");
  ASSERT_TRUE(now.ok()) << describe(now);
  EXPECT_EQ(now->status, "authorized");
  EXPECT_EQ(now->reference, "m-1");
  EXPECT_EQ(now->data, json::object());
  auto all = CoreEnv::must(payments.for_cart(shop, c.id));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, now->id);  // newest first
  EXPECT_EQ(all[1].id, s->id);
}

TEST_F(PaymentsTest, StartNeedsAnOpenCartWithItemsOfThisChannel) {
  auto empty = cart_on(shop, 0);
  auto r = payments.start(shop, empty.id, "card");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "checkout.empty_cart");

  auto other = cart_on(plain);
  auto foreign = payments.start(shop, other.id, "card");
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().kind, ErrorKind::not_found);
  auto list = payments.for_cart(shop, other.id);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().kind, ErrorKind::not_found);

  auto c = cart_on(shop);
  CoreEnv::must(payments.start(shop, c.id, "card"));
  ASSERT_TRUE(check_out(c).ok());
  auto done = payments.start(shop, c.id, "card");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, "cart.completed");
  EXPECT_EQ(sessions_count(), 1);
  EXPECT_EQ(fake.calls("initiate").size(), 1u);
}

TEST_F(PaymentsTest, ARefusalAtInitiateDeclinesTheSession) {
  auto c = cart_on(shop);
  fake.refuse("payment", "card", "initiate", "card.risk_blocked");
  auto r = payments.start(shop, c.id, "card");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "card.risk_blocked");
  EXPECT_EQ(session_of(c).status, "declined");
  // Checkout then needs a new session.
  auto co = check_out(c);
  ASSERT_FALSE(co.ok());
  EXPECT_EQ(co.error().code, "payment.not_authorized");
  EXPECT_TRUE(fake.calls("authorize").empty());
  EXPECT_EQ(orders_count(), 0);
}

TEST_F(PaymentsTest, AProviderFailureFailsTheSession) {
  auto c = cart_on(shop);
  fake.fail("payment", "card", "initiate");
  auto r = payments.start(shop, c.id, "card");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::internal);
  EXPECT_EQ(r.error().code, "plugin_error");
  EXPECT_EQ(session_of(c).status, "failed");

  // An answer with a status no provider may give is a failure too.
  env.clock.advance(1000);
  fake.answer("payment", "card", "initiate", {{"status", "approved"}});
  auto odd = payments.start(shop, c.id, "card");
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code, "plugin_error");
  EXPECT_EQ(session_of(c).status, "failed");
  EXPECT_EQ(sessions_count(), 2);
}

// A provider's answer is JSON from a plugin: wrong types in it are the provider's failure (a
// plugin_error, the session failed), never an exception out of the core or a session left pending.
TEST_F(PaymentsTest, AMalformedAnswerIsAPluginErrorNotAnException) {
  auto c = cart_on(shop);
  const std::vector<json> replies{json{{"status", 1}},
                                  json{{"status", "pending"}, {"reference", 42}},
                                  json{{"status", "pending"}, {"reference", nullptr}}};
  for (const auto& reply : replies) {
    env.clock.advance(1000);
    fake.answer("payment", "card", "initiate", reply);
    try {
      auto r = payments.start(shop, c.id, "card");
      auto stored = session_of(c);
      if (r.ok()) {
        EXPECT_EQ(stored.status, "pending") << reply.dump();
      } else {
        EXPECT_EQ(r.error().code, "plugin_error") << reply.dump();
        EXPECT_EQ(stored.status, "failed") << reply.dump();
        // Counted against the provider's plugin like a failure inside it.
        EXPECT_FALSE(fake.invalid.empty() || fake.invalid.back() != "payment:card") << reply.dump();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "start() threw on the answer " << reply.dump() << ": " << e.what()
                    << " (the session stays " << session_of(c).status << ")";
    }
  }
}

// --- authorisation at checkout ---

TEST_F(PaymentsTest, CheckoutWithoutASessionNeedsAPayment) {
  auto c = cart_on(shop);
  auto a = payments.authorize_for_checkout(shop, c);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(a.error().code, "checkout.payment_required");
  auto co = check_out(c);
  ASSERT_FALSE(co.ok());
  EXPECT_EQ(co.error().code, "checkout.payment_required");
  EXPECT_EQ(orders_count(), 0);
  EXPECT_EQ(env.reserved(v(), warehouse.id), 0);
  EXPECT_EQ(CoreEnv::must(env.carts.get(shop, c.id)).status, "open");
  EXPECT_TRUE(fake.calls().empty());
}

TEST_F(PaymentsTest, ACartChangedSinceTheSessionStartedIsRefused) {
  auto c = cart_on(shop);
  fake.answer("payment", "card", "initiate", {{"status", "authorized"}, {"reference", "pi_1"}});
  CoreEnv::must(payments.start(shop, c.id, "card"));
  c = CoreEnv::must(env.carts.set_quantity(shop, c.id, c.items[0].id, 2));
  auto a = payments.authorize_for_checkout(shop, c);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(a.error().code, "payment.amount_changed");
  auto co = check_out(c);
  ASSERT_FALSE(co.ok());
  EXPECT_EQ(co.error().code, "payment.amount_changed");
  EXPECT_EQ(orders_count(), 0);
  EXPECT_TRUE(fake.calls("authorize").empty());
}

TEST_F(PaymentsTest, APendingSessionIsAuthorisedByTheProviderAtCheckout) {
  auto c = cart_on(shop);
  auto s = CoreEnv::must(payments.start(shop, c.id, "card"));
  ASSERT_EQ(s.status, "pending");
  Recorder rec(env.events);
  auto r = check_out(c);
  ASSERT_TRUE(r.ok()) << describe(r);
  auto authorize = fake.calls("authorize");
  ASSERT_EQ(authorize.size(), 1u);
  EXPECT_EQ(authorize[0].name, "card");
  EXPECT_EQ(authorize[0].input["session"]["id"], s.id.value);
  EXPECT_EQ(authorize[0].input["session"]["reference"], s.reference);

  const orders::Order& o = r->order;
  EXPECT_EQ(o.status, "placed");
  EXPECT_EQ(o.payment_status, "authorized");
  EXPECT_EQ(o.payment_session_id, s.id.value);
  EXPECT_EQ(o.payment_provider, "card");
  auto linked = session_of(c);
  EXPECT_EQ(linked.status, "authorized");
  EXPECT_EQ(linked.order_id, std::optional<OrderId>(o.id));
  // As stored.
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.payment_status, "authorized");
  EXPECT_EQ(read.payment_session_id, s.id.value);
  EXPECT_EQ(read.payment_provider, "card");
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"order.placed", "inventory.changed"}));

  // A replay does not ask the provider again.
  auto again = check_out(c);
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(fake.calls("authorize").size(), 1u);
}

TEST_F(PaymentsTest, ASessionTheProviderLeavesPendingIsNotAuthorised) {
  auto c = cart_on(shop);
  CoreEnv::must(payments.start(shop, c.id, "manual"));
  fake.answer("payment", "manual", "authorize", {{"status", "pending"}});
  auto r = check_out(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "payment.not_authorized");
  EXPECT_EQ(orders_count(), 0);
  EXPECT_EQ(session_of(c).status, "pending");
  // Once the shopper paid, the same request goes through.
  fake.answer("payment", "manual", "authorize", {{"status", "authorized"}});
  auto later = check_out(c, "key-2");
  ASSERT_TRUE(later.ok()) << describe(later);
  EXPECT_EQ(later->order.payment_status, "authorized");
}

TEST_F(PaymentsTest, ARefusalAtAuthorisationDeclinesTheSession) {
  auto c = cart_on(shop);
  CoreEnv::must(payments.start(shop, c.id, "card"));
  fake.refuse("payment", "card", "authorize", "card.insufficient_funds");
  auto r = check_out(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "card.insufficient_funds");
  EXPECT_EQ(session_of(c).status, "declined");
  EXPECT_EQ(orders_count(), 0);
  // A declined session is not asked again.
  auto again = check_out(c, "key-2");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "payment.not_authorized");
  EXPECT_EQ(fake.calls("authorize").size(), 1u);
}

TEST_F(PaymentsTest, AnAuthorisedSessionIsNotAskedAgain) {
  auto c = cart_on(shop);
  fake.answer("payment", "card", "initiate", {{"status", "authorized"}, {"reference", "pi_9"}});
  auto s = CoreEnv::must(payments.start(shop, c.id, "card"));
  auto direct = payments.authorize_for_checkout(shop, c);
  ASSERT_TRUE(direct.ok()) << describe(direct);
  EXPECT_EQ(direct->id, s.id);
  auto r = check_out(c);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(fake.calls("authorize").empty());
  EXPECT_EQ(r->order.payment_status, "authorized");
  EXPECT_EQ(r->order.payment_session_id, s.id.value);
  EXPECT_EQ(session_of(c).order_id, std::optional<OrderId>(r->order.id));
}

TEST_F(PaymentsTest, TheNewestSessionCounts) {
  auto c = cart_on(shop);
  fake.answer("payment", "card", "initiate", {{"status", "authorized"}, {"reference", "pi_old"}});
  auto old = CoreEnv::must(payments.start(shop, c.id, "card"));
  env.clock.advance(1000);
  fake.refuse("payment", "manual", "initiate", "manual.closed");
  ASSERT_FALSE(payments.start(shop, c.id, "manual").ok());
  // The newest session was declined: the older authorised one does not count any more.
  auto r = check_out(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "payment.not_authorized");
  EXPECT_EQ(session_by_id(old.id.value).status, "authorized");
  EXPECT_EQ(orders_count(), 0);
}

// Started in the same millisecond (the clock does not move): the later start is still the newest.
TEST_F(PaymentsTest, TheNewestSessionIsTheLastStartedEvenInOneMillisecond) {
  for (int round = 0; round < 20; ++round) {
    auto c = cart_on(shop);
    fake.answer("payment", "card", "initiate", {{"status", "authorized"}, {"reference", "pi_a" + std::to_string(round)}});
    CoreEnv::must(payments.start(shop, c.id, "card"));
    fake.answer("payment", "card", "initiate", {{"status", "pending"}, {"reference", "pi_b" + std::to_string(round)}});
    auto second = CoreEnv::must(payments.start(shop, c.id, "card"));
    auto all = CoreEnv::must(payments.for_cart(shop, c.id));
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].id, second.id) << "round " << round;
  }
}

TEST_F(PaymentsTest, ASessionCapturedBeforeCheckoutMakesAPaidOrder) {
  auto c = cart_on(shop);
  auto s = CoreEnv::must(payments.start(shop, c.id, "card"));
  auto captured = payments.record_capture("card", s.reference, {{"gateway_event", "evt_1"}});
  ASSERT_TRUE(captured.ok()) << describe(captured);
  EXPECT_EQ(captured->session.status, "captured");
  EXPECT_FALSE(captured->order.has_value());  // no order yet

  Recorder rec(env.events);
  auto r = check_out(c);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(fake.calls("authorize").empty());
  const orders::Order& o = r->order;
  EXPECT_EQ(o.status, "paid");
  EXPECT_EQ(o.payment_status, "captured");
  EXPECT_EQ(o.payment_session_id, s.id.value);
  ASSERT_EQ(o.events.size(), 2u);
  EXPECT_EQ(o.events[0].type, "order.placed");
  EXPECT_EQ(o.events[1].type, "order.paid");
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"order.placed", "inventory.changed", "order.paid"}));
  auto paid = rec.of("order.paid");
  ASSERT_EQ(paid.size(), 1u);
  EXPECT_EQ(paid[0].data["order_id"], o.id.value);
  EXPECT_EQ(paid[0].data["status"], "paid");
  EXPECT_EQ(session_of(c).order_id, std::optional<OrderId>(o.id));
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.status, "paid");
  EXPECT_EQ(read.payment_status, "captured");
}

// The order's timeline is read back ordered by time, then id. Checkout writes order.placed and
// order.paid in one transaction at the same millisecond, so the tie must still keep them in order.
TEST_F(PaymentsTest, AnOrderPaidAtCheckoutListsPlacedBeforePaid) {
  env.stock(v(), warehouse.id, 30);
  int misordered = 0;
  for (int i = 0; i < 20; ++i) {
    auto c = cart_on(shop);
    auto s = CoreEnv::must(payments.start(shop, c.id, "card"));
    CoreEnv::must(payments.record_capture("card", s.reference, json::object()));
    auto o = CoreEnv::must(check_out(c, "key-" + std::to_string(i))).order;
    std::vector<std::string> types;
    for (const auto& e : CoreEnv::must(env.orders.get(o.id)).events) types.push_back(e.type);
    if (types != std::vector<std::string>{"order.placed", "order.paid"}) ++misordered;
    env.clock.advance(1000);
  }
  EXPECT_EQ(misordered, 0) << "orders whose stored timeline lists order.paid before order.placed";
}

// --- capture ---

TEST_F(PaymentsTest, CaptureWithoutASessionMarksThePaidOrderDirectly) {
  auto c = cart_on(plain);
  auto o = CoreEnv::must(env.checkout.checkout(plain, {c.id, "k", "fp"})).order;
  ASSERT_EQ(o.payment_status, "not_required");
  Recorder rec(env.events);
  auto paid = payments.capture(o.id);
  ASSERT_TRUE(paid.ok()) << describe(paid);
  EXPECT_EQ(paid->status, "paid");
  EXPECT_EQ(paid->payment_status, "captured");
  EXPECT_TRUE(fake.calls().empty());
  auto again = payments.capture(o.id);
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_EQ(again->status, "paid");
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"order.paid"}));
  auto read = CoreEnv::must(env.orders.get(o.id));
  int paid_events = 0;
  for (const auto& e : read.events) paid_events += e.type == "order.paid";
  EXPECT_EQ(paid_events, 1);

  auto missing = payments.capture(OrderId("order_missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "order.not_found");
}

TEST_F(PaymentsTest, CaptureAsksTheProviderAndCapturedMarksPaid) {
  auto o = authorised_order("card");
  Recorder rec(env.events);
  auto paid = payments.capture(o.id);
  ASSERT_TRUE(paid.ok()) << describe(paid);
  EXPECT_EQ(paid->status, "paid");
  EXPECT_EQ(paid->payment_status, "captured");
  auto calls = fake.calls("capture");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "card");
  EXPECT_EQ(calls[0].input["session"]["id"], o.payment_session_id);
  EXPECT_EQ(calls[0].input["session"]["status"], "authorized");
  EXPECT_EQ(calls[0].configs, shop.configs);
  EXPECT_EQ(session_by_id(o.payment_session_id).status, "captured");
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"order.paid"}));

  // Captured already: no second provider call, no second event.
  auto again = payments.capture(o.id);
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_EQ(again->status, "paid");
  EXPECT_EQ(fake.calls("capture").size(), 1u);
  EXPECT_EQ(rec.types().size(), 1u);
}

TEST_F(PaymentsTest, CaptureLeftPendingByTheProviderLeavesTheOrderUnchanged) {
  auto o = authorised_order("manual");
  fake.answer("payment", "manual", "capture", {{"status", "pending"}});
  Recorder rec(env.events);
  auto r = payments.capture(o.id);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r->status, "placed");
  EXPECT_EQ(r->payment_status, "authorized");
  EXPECT_EQ(fake.calls("capture").size(), 1u);
  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.status, "placed");
  EXPECT_EQ(read.payment_status, "authorized");
  EXPECT_EQ(session_by_id(o.payment_session_id).status, "authorized");  // never moved backwards
  EXPECT_TRUE(rec.types().empty());

  // The provider's later confirmation pays it.
  auto s = session_by_id(o.payment_session_id);
  auto confirmed = payments.record_capture("manual", s.reference, json::object());
  ASSERT_TRUE(confirmed.ok()) << describe(confirmed);
  ASSERT_TRUE(confirmed->order.has_value());
  EXPECT_EQ(confirmed->order->status, "paid");
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"order.paid"}));
}

TEST_F(PaymentsTest, CaptureOfACancelledOrderIsRefused) {
  auto o = authorised_order("card");
  ASSERT_TRUE(env.orders.cancel(o.id, "", test_support::kTestAdmin).ok());
  auto r = payments.capture(o.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "order.invalid_transition");
  EXPECT_TRUE(fake.calls("capture").empty());

  auto c = cart_on(plain);
  auto unpaid = CoreEnv::must(env.checkout.checkout(plain, {c.id, "k", "fp"})).order;
  ASSERT_TRUE(env.orders.cancel(unpaid.id, "", test_support::kTestAdmin).ok());
  auto direct = payments.capture(unpaid.id);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error().code, "order.invalid_transition");
}

TEST_F(PaymentsTest, RecordCaptureIsIdempotent) {
  auto o = authorised_order("card");
  auto s = session_by_id(o.payment_session_id);
  Recorder rec(env.events);
  auto first = payments.record_capture("card", s.reference, {{"gateway_event", "evt_1"}});
  ASSERT_TRUE(first.ok()) << describe(first);
  EXPECT_EQ(first->session.status, "captured");
  ASSERT_TRUE(first->order.has_value());
  EXPECT_EQ(first->order->status, "paid");
  EXPECT_EQ(first->order->payment_status, "captured");
  auto after_first = CoreEnv::must(env.orders.get(o.id));

  env.clock.advance(5000);
  auto second = payments.record_capture("card", s.reference, {{"gateway_event", "evt_1"}});
  ASSERT_TRUE(second.ok()) << describe(second);
  EXPECT_EQ(second->session.status, "captured");
  ASSERT_TRUE(second->order.has_value());
  EXPECT_EQ(second->order->status, "paid");
  auto after_second = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(after_second.updated_at, after_first.updated_at);
  EXPECT_EQ(after_second.events.size(), after_first.events.size());
  EXPECT_EQ(session_by_id(s.id.value).updated_at, first->session.updated_at);
  EXPECT_EQ(rec.types(), (std::vector<std::string>{"order.paid"}));
  auto paid = rec.of("order.paid");
  EXPECT_EQ(paid[0].data["payment_status"], "captured");

  // The order's event carries the provider's details.
  bool found = false;
  for (const auto& e : after_second.events)
    if (e.type == "order.paid") {
      found = true;
      EXPECT_EQ(e.data["gateway_event"], "evt_1");
      EXPECT_EQ(e.data["payment_session_id"], s.id.value);
      EXPECT_EQ(e.data["provider"], "card");
    }
  EXPECT_TRUE(found);
  EXPECT_TRUE(fake.calls("capture").empty());  // the provider told us; it is not asked
}

TEST_F(PaymentsTest, RecordCaptureOfAnUnknownReferenceIsNotFound) {
  auto o = authorised_order("card");
  auto s = session_by_id(o.payment_session_id);
  auto unknown = payments.record_capture("card", "pi_nobody", json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
  EXPECT_EQ(unknown.error().code, "payment.session_not_found");
  // The reference is the card provider's: the manual provider cannot capture it.
  auto other = payments.record_capture("manual", s.reference, json::object());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, ErrorKind::not_found);
  EXPECT_EQ(other.error().code, "payment.session_not_found");
  EXPECT_EQ(session_by_id(s.id.value).status, "authorized");
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).status, "placed");
}

// --- cancellation ---

TEST_F(PaymentsTest, CancellingAnOrderWithAnAuthorisedPaymentReleasesIt) {
  auto o = authorised_order("card");
  auto cancelled = env.orders.cancel(o.id, "out of stock in reality", test_support::kTestAdmin);
  ASSERT_TRUE(cancelled.ok()) << describe(cancelled);
  EXPECT_EQ(cancelled->status, "cancelled");
  EXPECT_EQ(cancelled->payment_status, "cancelled");
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).payment_status, "cancelled");
  EXPECT_EQ(env.reserved(v(), warehouse.id), 0);

  auto released = payments.release_for_cancelled(*cancelled);
  ASSERT_TRUE(released.ok()) << describe(released);
  auto calls = fake.calls("cancel");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "card");
  EXPECT_EQ(calls[0].input["session"]["id"], o.payment_session_id);
  EXPECT_EQ(calls[0].input["session"]["status"], "authorized");
  EXPECT_EQ(session_by_id(o.payment_session_id).status, "cancelled");

  // Released once: the session is no longer authorised.
  ASSERT_TRUE(payments.release_for_cancelled(*cancelled).ok());
  EXPECT_EQ(fake.calls("cancel").size(), 1u);
}

TEST_F(PaymentsTest, AFailedReleaseIsReturnedAndTheOrderStaysCancelled) {
  auto o = authorised_order("card");
  fake.fail("payment", "card", "cancel");
  auto cancelled = CoreEnv::must(env.orders.cancel(o.id, "", test_support::kTestAdmin));
  auto released = payments.release_for_cancelled(cancelled);
  ASSERT_FALSE(released.ok());
  EXPECT_EQ(released.error().code, "plugin_error");
  EXPECT_EQ(CoreEnv::must(env.orders.get(o.id)).status, "cancelled");
}

TEST_F(PaymentsTest, ReleaseWithoutAnAuthorisedPaymentAsksNobody) {
  auto c = cart_on(plain);
  auto o = CoreEnv::must(env.checkout.checkout(plain, {c.id, "k", "fp"})).order;
  auto cancelled = CoreEnv::must(env.orders.cancel(o.id, "", test_support::kTestAdmin));
  EXPECT_EQ(cancelled.payment_status, "not_required");
  EXPECT_TRUE(payments.release_for_cancelled(cancelled).ok());
  EXPECT_TRUE(fake.calls().empty());
}

// --- channel fields for plugins and providers ---

class PaymentsChannelFieldsTest : public ::testing::Test {
 protected:
  channels::NewChannel base(const std::string& code) {
    channels::NewChannel in;
    in.code = code;
    in.name = "Channel " + code;
    in.type = "mini_program";
    in.currency = "CNY";
    in.tax_rate_bp = 600;
    in.tax_inclusive = true;
    return in;
  }
  CoreEnv env;
};

TEST_F(PaymentsChannelFieldsTest, ChannelsKeepTheirPluginConfigsAndProviders) {
  auto in = base("mini");
  in.plugin = "wechat-mini";
  in.configs = {{"wechat-mini", {{"app_id", "wx123"}}}, {"card", {{"api_key", "k"}}}};
  in.payment_providers = {"card", "manual"};
  in.fulfilment_providers = {"local-delivery"};
  auto created = env.channels.create(in);
  ASSERT_TRUE(created.ok()) << describe(created);
  auto read = env.channels.get("mini");
  ASSERT_TRUE(read.ok()) << describe(read);
  EXPECT_EQ(read->plugin, std::optional<std::string>("wechat-mini"));
  EXPECT_EQ(read->configs, in.configs);
  EXPECT_EQ(read->payment_providers, (std::vector<std::string>{"card", "manual"}));
  EXPECT_EQ(read->fulfilment_providers, (std::vector<std::string>{"local-delivery"}));

  // Without them: no plugin, empty lists and configs.
  auto bare = CoreEnv::must(env.channels.create(base("bare")));
  auto bare_read = CoreEnv::must(env.channels.get(bare.id.value));
  EXPECT_FALSE(bare_read.plugin.has_value());
  EXPECT_EQ(bare_read.configs, json::object());
  EXPECT_TRUE(bare_read.payment_providers.empty());
  EXPECT_TRUE(bare_read.fulfilment_providers.empty());

  // An update replaces what it names and keeps the rest.
  channels::ChannelPatch patch;
  patch.payment_providers = std::vector<std::string>{"manual"};
  patch.configs = json{{"manual", {{"note", "cash"}}}};
  auto updated = env.channels.update(created->id, patch);
  ASSERT_TRUE(updated.ok()) << describe(updated);
  auto after = CoreEnv::must(env.channels.get(created->id.value));
  EXPECT_EQ(after.payment_providers, (std::vector<std::string>{"manual"}));
  EXPECT_EQ(after.fulfilment_providers, (std::vector<std::string>{"local-delivery"}));
  EXPECT_EQ(after.configs, (json{{"manual", {{"note", "cash"}}}}));
  EXPECT_EQ(after.plugin, std::optional<std::string>("wechat-mini"));
  auto cached = CoreEnv::must(env.channels.get_cached(created->id));
  EXPECT_EQ(cached.payment_providers, (std::vector<std::string>{"manual"}));
}

TEST_F(PaymentsChannelFieldsTest, PluginFieldsAreShapeChecked) {
  auto expect_field = [&](const channels::NewChannel& in, const std::string& field) {
    auto r = env.channels.create(in);
    ASSERT_FALSE(r.ok()) << "expected a refusal on " << field;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
    EXPECT_TRUE(has_field(r.error(), field)) << "no field error on " << field;
  };
  auto in = base("bad");
  in.plugin = "WeChat";
  expect_field(in, "plugin");
  in = base("bad");
  in.plugin = "";
  expect_field(in, "plugin");
  in = base("bad");
  in.plugin = std::string(64, 'a');
  expect_field(in, "plugin");
  in = base("bad");
  in.configs = json::array({"card"});
  expect_field(in, "config");
  in = base("bad");
  in.payment_providers = {"card", "card_gateway"};
  expect_field(in, "payment_providers/1");
  in = base("bad");
  in.payment_providers = {"card", "manual", "card"};
  expect_field(in, "payment_providers/2");
  in = base("bad");
  in.fulfilment_providers = {""};
  expect_field(in, "fulfilment_providers/0");
  in = base("bad");
  for (int i = 0; i < 21; ++i) in.fulfilment_providers.push_back("p" + std::to_string(i));
  expect_field(in, "fulfilment_providers");
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM channels"), 0);

  // The longest names and twenty providers are fine.
  in = base("good");
  in.plugin = std::string(63, 'a');
  for (int i = 0; i < 20; ++i) in.payment_providers.push_back("p" + std::to_string(i));
  auto ok = env.channels.create(in);
  ASSERT_TRUE(ok.ok()) << describe(ok);

  // Updates are checked the same way, and a refused one changes nothing.
  channels::ChannelPatch patch;
  patch.configs = json("not an object");
  auto r = env.channels.update(ok->id, patch);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_field(r.error(), "config"));
  patch = {};
  patch.fulfilment_providers = std::vector<std::string>{"Local"};
  r = env.channels.update(ok->id, patch);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_field(r.error(), "fulfilment_providers/0"));
  auto after = CoreEnv::must(env.channels.get(ok->id.value));
  EXPECT_EQ(after.configs, json::object());
  EXPECT_TRUE(after.fulfilment_providers.empty());
  EXPECT_EQ(after.payment_providers.size(), 20u);
}

}  // namespace
}  // namespace quanqu::payments
