// Unit tests for shipping: quotes from scripted fulfilment providers, the fulfilling location, the choice on the cart, checkout.
#include "core_test_support.h"
#include "fake_providers.h"
#include "fulfilment/shipping_service.h"

namespace quanqu::fulfilment {
namespace {

using nlohmann::json;
using test_support::CoreEnv;
using test_support::describe;
using test_support::FakeProviders;

bool has_field(const Error& e, const std::string& field) {
  for (const auto& f : e.fields)
    if (f.field == field) return true;
  return false;
}

class ShippingTest : public ::testing::Test {
 protected:
  ShippingTest() : shipping(env.db(), env.carts, fake) {}

  void SetUp() override {
    store = env.location("store", "store", true);
    warehouse = env.location("wh");
    channels::NewChannel in;
    in.code = "ship";
    in.name = "Ship";
    in.type = "web";
    in.currency = "CNY";
    in.tax_rate_bp = 1300;
    in.tax_inclusive = true;
    in.location_ids = {store.id, warehouse.id};
    in.configs = {{"local-delivery", {{"radius_km", 10}}}};
    in.fulfilment_providers = {"local-delivery", "express"};
    ship = CoreEnv::must(env.channels.create(in));
    pos = env.channel("pos", {store.id});
    tee = env.product("tee", {"TEE-M"}, 12900);
    mug = env.product("mug", {"MUG-1"}, 5000);
    for (const auto* c : {&ship, &pos}) {
      env.publish(*c, tee);
      env.publish(*c, mug);
    }
    env.stock(tee_v(), store.id, 1);
    env.stock(tee_v(), warehouse.id, 5);
    env.stock(mug_v(), warehouse.id, 5);
    fake.answer("fulfilment", "local-delivery", "quote", {{"amount", 800}, {"label", "Same day"}});
    fake.answer("fulfilment", "express", "quote",
                {{"amount", 1500}, {"label", "Express"}, {"data", {{"eta_days", 2}}}});
  }

  const VariantId& tee_v() const { return tee.variants[0].id; }
  const VariantId& mug_v() const { return mug.variants[0].id; }

  cart::Cart cart_with(const std::vector<std::pair<std::string, std::int64_t>>& lines, bool address = true,
                       const channels::Channel* channel = nullptr) {
    const channels::Channel& c = channel ? *channel : ship;
    cart::CartPatch patch;
    patch.email = std::optional<std::string>("li.lei@example.com");
    if (address) patch.shipping_address = std::optional<Address>(CoreEnv::address());
    std::vector<cart::AddItem> items;
    for (const auto& [sku, quantity] : lines) {
      cart::AddItem item;
      item.sku = sku;
      item.quantity = quantity;
      items.push_back(item);
    }
    return CoreEnv::must(env.carts.create(c, patch, items));
  }

  // Where the quote said the cart would ship from.
  std::string quoted_from(const cart::Cart& c) {
    auto options = shipping.options(ship, c.id);
    if (!options) throw std::runtime_error(describe(options));
    if (options->items.empty()) throw std::runtime_error("no quote");
    return options->items.front().location_id.value;
  }

  cart::Cart reload(const cart::Cart& c) { return CoreEnv::must(env.carts.get(ship, c.id)); }

  CoreEnv env;
  FakeProviders fake;
  ShippingService shipping;
  inventory::StockLocation store, warehouse;
  channels::Channel ship, pos;
  catalog::Product tee, mug;
};

// --- options ---

TEST_F(ShippingTest, OptionsListQuotesAndRefusalsPerProvider) {
  auto c = cart_with({{"TEE-M", 1}, {"MUG-1", 2}});
  fake.refuse("fulfilment", "local-delivery", "quote", "local-delivery.out_of_range");
  auto r = shipping.options(ship, c.id);
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(r->items.size(), 1u);
  const ShippingOption& o = r->items[0];
  EXPECT_EQ(o.provider, "express");
  EXPECT_EQ(o.amount, 1500);
  EXPECT_EQ(o.currency, "CNY");
  EXPECT_EQ(o.label, "Express");
  EXPECT_EQ(o.data, (json{{"eta_days", 2}}));
  EXPECT_EQ(o.location_id, warehouse.id);
  EXPECT_EQ(o.to_json(), (json{{"provider", "express"},
                               {"amount", 1500},
                               {"label", "Express"},
                               {"location_id", warehouse.id.value},
                               {"data", {{"eta_days", 2}}}}));
  ASSERT_EQ(r->refusals.size(), 1u);
  EXPECT_EQ(r->refusals[0].provider, "local-delivery");
  EXPECT_EQ(r->refusals[0].code, "local-delivery.out_of_range");
  EXPECT_FALSE(r->refusals[0].message.empty());

  // Every provider of the channel was asked, in the channel's order, with the cart's facts.
  auto calls = fake.calls("quote");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].name, "local-delivery");
  EXPECT_EQ(calls[1].name, "express");
  const json& in = calls[1].input;
  EXPECT_EQ(calls[1].kind, "fulfilment");
  EXPECT_EQ(in["cart"]["id"], c.id.value);
  EXPECT_EQ(in["cart"]["currency"], "CNY");
  EXPECT_EQ(in["cart"]["subtotal"], 22900);
  EXPECT_EQ(in["cart"]["item_count"], 3);
  EXPECT_EQ(in["channel"]["code"], "ship");
  EXPECT_EQ(in["location"]["id"], warehouse.id.value);
  EXPECT_EQ(in["location"]["code"], "wh");
  EXPECT_EQ(in["location"]["address"]["city"], "Shanghai");
  EXPECT_EQ(in["shipping_address"]["name"], "Li Lei");
  EXPECT_EQ(calls[1].configs, ship.configs);

  // A provider that breaks is listed with its failure, the others still quote.
  fake.fail("fulfilment", "local-delivery", "quote");
  r = shipping.options(ship, c.id);
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(r->items.size(), 1u);
  ASSERT_EQ(r->refusals.size(), 1u);
  EXPECT_EQ(r->refusals[0].code, "plugin_error");

  // Quoting stores nothing on the cart.
  EXPECT_FALSE(reload(c).shipping.has_value());
}

TEST_F(ShippingTest, AQuoteWithoutAValidAmountIsAPluginError) {
  auto c = cart_with({{"TEE-M", 1}});
  for (const json& bad : {json{{"label", "free?"}}, json{{"amount", -1}}, json{{"amount", "800"}},
                          json{{"amount", 8.5}}, json::array()}) {
    fake.answer("fulfilment", "express", "quote", bad);
    auto r = shipping.options(ship, c.id);
    ASSERT_TRUE(r.ok()) << describe(r);
    ASSERT_EQ(r->refusals.size(), 1u) << bad.dump();
    EXPECT_EQ(r->refusals[0].provider, "express");
    EXPECT_EQ(r->refusals[0].code, "plugin_error") << bad.dump();
    auto chosen = shipping.choose(ship, c.id, "express");
    ASSERT_FALSE(chosen.ok()) << bad.dump();
    EXPECT_EQ(chosen.error().code, "plugin_error");
  }
  EXPECT_FALSE(reload(c).shipping.has_value());
  // A free shipping method (amount 0) is valid, and an empty label becomes the provider's name.
  fake.answer("fulfilment", "express", "quote", {{"amount", 0}});
  auto free = shipping.choose(ship, c.id, "express");
  ASSERT_TRUE(free.ok()) << describe(free);
  EXPECT_EQ((*free->shipping)["amount"], 0);
  EXPECT_EQ((*free->shipping)["label"], "express");
  EXPECT_EQ(free->totals.total, 12900);
}

// Wrong types in a quote are the provider's failure, not an exception out of the core.
TEST_F(ShippingTest, AMalformedQuoteIsAPluginErrorNotAnException) {
  auto c = cart_with({{"TEE-M", 1}});
  const std::vector<json> replies{json{{"amount", 800}, {"label", 5}}, json{{"amount", 800}, {"label", nullptr}}};
  for (const auto& reply : replies) {
    fake.answer("fulfilment", "express", "quote", reply);
    try {
      auto r = shipping.options(ship, c.id);
      ASSERT_TRUE(r.ok()) << describe(r);
      bool quoted = false;
      for (const auto& o : r->items)
        if (o.provider == "express") {
          quoted = true;
          EXPECT_EQ(o.label, "express") << reply.dump();  // no usable label: the provider's name
        }
      if (!quoted) {
        ASSERT_EQ(r->refusals.size(), 1u) << reply.dump();
        EXPECT_EQ(r->refusals[0].code, "plugin_error") << reply.dump();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "options() threw on the quote " << reply.dump() << ": " << e.what();
    }
  }
}

TEST_F(ShippingTest, OptionsShipFromTheFirstLocationHoldingEveryLine) {
  EXPECT_EQ(quoted_from(cart_with({{"TEE-M", 1}})), store.id.value);                // the store holds it
  EXPECT_EQ(quoted_from(cart_with({{"TEE-M", 2}})), warehouse.id.value);            // only the warehouse has 2
  EXPECT_EQ(quoted_from(cart_with({{"TEE-M", 1}, {"MUG-1", 1}})), warehouse.id.value);  // no mugs in the store
  EXPECT_EQ(quoted_from(cart_with({{"TEE-M", 6}})), store.id.value);  // nobody holds all: the first location
  auto calls = fake.calls("quote");
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().input["location"]["code"], "store");

  // Reserved units are not there to ship: an order on another channel takes the store's tee.
  auto pos_cart = cart_with({{"TEE-M", 1}}, true, &pos);
  CoreEnv::must(env.checkout.checkout(pos, {pos_cart.id, "pos-1", "fp"}));
  EXPECT_EQ(env.reserved(tee_v(), store.id), 1);
  EXPECT_EQ(quoted_from(cart_with({{"TEE-M", 1}})), warehouse.id.value);
}

TEST_F(ShippingTest, OptionsNeedAShippingAddressAndItems) {
  auto no_address = cart_with({{"TEE-M", 1}}, false);
  auto r = shipping.options(ship, no_address.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "checkout.missing_details");
  EXPECT_TRUE(has_field(r.error(), "shipping_address"));
  auto chosen = shipping.choose(ship, no_address.id, "express");
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.error().code, "checkout.missing_details");

  auto empty = cart_with({});
  r = shipping.options(ship, empty.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "checkout.empty_cart");

  auto foreign = cart_with({{"TEE-M", 1}}, true, &pos);
  r = shipping.options(ship, foreign.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_TRUE(fake.calls().empty());
}

// --- choose ---

TEST_F(ShippingTest, ChooseStoresTheQuoteAndAddsItToTheTotals) {
  auto c = cart_with({{"TEE-M", 1}, {"MUG-1", 1}});
  ASSERT_EQ(c.totals.total, 17900);
  auto chosen = shipping.choose(ship, c.id, "express");
  ASSERT_TRUE(chosen.ok()) << describe(chosen);
  ASSERT_TRUE(chosen->shipping.has_value());
  EXPECT_EQ(*chosen->shipping, (json{{"provider", "express"},
                                     {"amount", 1500},
                                     {"label", "Express"},
                                     {"location_id", warehouse.id.value},
                                     {"data", {{"eta_days", 2}}}}));
  EXPECT_EQ(chosen->totals.subtotal, 17900);
  EXPECT_EQ(chosen->totals.shipping_total, 1500);
  EXPECT_EQ(chosen->totals.total, 17900 + 1500);
  EXPECT_EQ(chosen->totals.tax_total, c.totals.tax_total);  // shipping is not taxed
  bool explained = false;
  for (const auto& e : chosen->totals.explanation)
    if (e.kind == "shipping") {
      explained = true;
      EXPECT_EQ(e.amount, 1500);
      EXPECT_EQ(e.label, "Express");
      EXPECT_FALSE(e.included);
    }
  EXPECT_TRUE(explained);
  ASSERT_EQ(fake.calls("quote").size(), 1u);  // only the chosen provider is asked

  // Read back the same.
  auto read = reload(c);
  ASSERT_TRUE(read.shipping.has_value());
  EXPECT_EQ((*read.shipping)["provider"], "express");
  EXPECT_EQ(read.totals.total, 19400);

  // Choosing again replaces it.
  fake.answer("fulfilment", "local-delivery", "quote", {{"amount", 800}, {"label", "Same day"}});
  auto other = shipping.choose(ship, c.id, "local-delivery");
  ASSERT_TRUE(other.ok()) << describe(other);
  EXPECT_EQ((*other->shipping)["provider"], "local-delivery");
  EXPECT_EQ(other->totals.shipping_total, 800);
  EXPECT_EQ(other->totals.total, 17900 + 800);
}

TEST_F(ShippingTest, ChooseRefusesAProviderTheChannelDoesNotOffer) {
  auto c = cart_with({{"TEE-M", 1}});
  auto r = shipping.choose(ship, c.id, "ups");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(r.error().code, "shipping.provider_not_offered");
  ASSERT_TRUE(has_field(r.error(), "provider"));
  EXPECT_NE(r.error().fields[0].message.find("local-delivery, express"), std::string::npos);

  auto p = cart_with({{"TEE-M", 1}}, true, &pos);
  auto none = shipping.choose(pos, p.id, "express");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "shipping.provider_not_offered");
  EXPECT_TRUE(fake.calls().empty());
  EXPECT_FALSE(reload(c).shipping.has_value());

  auto listed = shipping.options(pos, p.id);  // a channel without providers offers nothing
  ASSERT_TRUE(listed.ok()) << describe(listed);
  EXPECT_TRUE(listed->items.empty());
  EXPECT_TRUE(listed->refusals.empty());
}

TEST_F(ShippingTest, ARefusalIsPassedOnAndLeavesTheCartUnchanged) {
  auto c = cart_with({{"TEE-M", 1}});
  auto first = CoreEnv::must(shipping.choose(ship, c.id, "express"));
  env.clock.advance(1000);
  fake.refuse("fulfilment", "local-delivery", "quote", "local-delivery.out_of_range");
  auto r = shipping.choose(ship, c.id, "local-delivery");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "local-delivery.out_of_range");
  auto after = reload(c);
  ASSERT_TRUE(after.shipping.has_value());
  EXPECT_EQ((*after.shipping)["provider"], "express");
  EXPECT_EQ(after.totals.total, first.totals.total);
  EXPECT_EQ(after.updated_at, first.updated_at);

  fake.fail("fulfilment", "local-delivery", "quote");
  auto broken = shipping.choose(ship, c.id, "local-delivery");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, "plugin_error");
  EXPECT_EQ((*reload(c).shipping)["provider"], "express");
}

TEST_F(ShippingTest, AnyCartChangeClearsTheShipping) {
  auto c = cart_with({{"TEE-M", 1}});
  auto choose = [&] {
    auto r = shipping.choose(ship, c.id, "express");
    if (!r) throw std::runtime_error(describe(r));
    EXPECT_EQ(r->totals.total, r->totals.subtotal + 1500);
    return *r;
  };
  auto cleared = [&](const Result<cart::Cart>& r, const std::string& what) {
    ASSERT_TRUE(r.ok()) << what << ": " << describe(r);
    EXPECT_FALSE(r->shipping.has_value()) << what;
    EXPECT_EQ(r->totals.shipping_total, 0) << what;
    EXPECT_EQ(r->totals.total, r->totals.subtotal) << what;  // tax inclusive: the items alone
    EXPECT_FALSE(reload(c).shipping.has_value()) << what;
  };
  choose();
  cart::AddItem mug_item;
  mug_item.sku = "MUG-1";
  cleared(env.carts.add_item(ship, c.id, mug_item), "add_item");
  c = choose();
  cleared(env.carts.set_quantity(ship, c.id, c.items[1].id, 2), "set_quantity");
  c = choose();
  Address elsewhere = CoreEnv::address();
  elsewhere.city = "Hangzhou";
  cart::CartPatch address;
  address.shipping_address = std::optional<Address>(elsewhere);
  cleared(env.carts.update(ship, c.id, address), "address");
  c = choose();
  cart::CartPatch email;
  email.email = std::optional<std::string>("han.meimei@example.com");
  cleared(env.carts.update(ship, c.id, email), "email");
  c = choose();
  cleared(env.carts.remove_item(ship, c.id, c.items[1].id), "remove_item");
}

TEST_F(ShippingTest, MetadataAndSourceAloneKeepTheShipping) {
  auto c = cart_with({{"TEE-M", 1}});
  auto chosen = shipping.choose(ship, c.id, "express");
  ASSERT_TRUE(chosen.ok()) << describe(chosen);
  cart::CartPatch attribution;
  attribution.metadata = nlohmann::json{{"utm_source", "wechat"}};
  attribution.source = std::optional<Source>(Source{std::nullopt, "spring", std::nullopt});
  auto kept = env.carts.update(ship, c.id, attribution);
  ASSERT_TRUE(kept.ok()) << describe(kept);
  ASSERT_TRUE(kept->shipping.has_value());
  EXPECT_EQ(kept->totals.total, chosen->totals.total);
  EXPECT_TRUE(reload(c).shipping.has_value());
  EXPECT_EQ(reload(c).metadata, (nlohmann::json{{"utm_source", "wechat"}}));
}

TEST_F(ShippingTest, ACartChangedWhileQuotingIsNotStored) {
  auto c = cart_with({{"TEE-M", 1}});
  fake.respond("fulfilment", "express", "quote", [&](const json&) -> Result<json> {
    cart::AddItem more;
    more.sku = "MUG-1";
    (void)env.carts.add_item(ship, c.id, more);  // the shopper adds a line meanwhile
    return json{{"amount", 1500}, {"label", "Express"}};
  });
  auto r = shipping.choose(ship, c.id, "express");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "cart.changed");
  auto after = reload(c);
  EXPECT_FALSE(after.shipping.has_value());
  EXPECT_EQ(after.items.size(), 2u);
}

TEST_F(ShippingTest, TheFingerprintFollowsLinesAddressAndSubtotal) {
  auto c = cart_with({{"TEE-M", 1}});
  std::string fp = cart::CartService::shipping_fingerprint(c);
  EXPECT_EQ(cart::CartService::shipping_fingerprint(reload(c)), fp);
  cart::CartPatch email;
  email.email = std::optional<std::string>("other@example.com");
  auto e = CoreEnv::must(env.carts.update(ship, c.id, email));
  EXPECT_EQ(cart::CartService::shipping_fingerprint(e), fp);  // the e-mail does not change a quote
  auto q = CoreEnv::must(env.carts.set_quantity(ship, c.id, c.items[0].id, 2));
  std::string fp2 = cart::CartService::shipping_fingerprint(q);
  EXPECT_NE(fp2, fp);
  Address elsewhere = CoreEnv::address();
  elsewhere.line1 = "2 Test Road";
  cart::CartPatch address;
  address.shipping_address = std::optional<Address>(elsewhere);
  auto a = CoreEnv::must(env.carts.update(ship, c.id, address));
  EXPECT_NE(cart::CartService::shipping_fingerprint(a), fp2);

  // A stale fingerprint is refused and stores nothing.
  auto stale = env.carts.set_shipping(ship, c.id, fp2, json{{"provider", "express"}, {"amount", 1500}});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, "cart.changed");
  EXPECT_FALSE(reload(c).shipping.has_value());
  auto fresh = env.carts.set_shipping(ship, c.id, cart::CartService::shipping_fingerprint(a),
                                      json{{"provider", "express"}, {"amount", 1500}, {"label", "Express"}});
  ASSERT_TRUE(fresh.ok()) << describe(fresh);
  EXPECT_EQ(fresh->totals.shipping_total, 1500);
}

// --- checkout ---

TEST_F(ShippingTest, CheckoutWithoutAShippingChoiceIsRefused) {
  auto c = cart_with({{"TEE-M", 1}});
  auto r = env.checkout.checkout(ship, {c.id, "key-1", "fp"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "checkout.shipping_required");
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM orders"), 0);
  EXPECT_EQ(env.reserved(tee_v(), store.id), 0);
  EXPECT_EQ(reload(c).status, "open");

  // A choice that a later change cleared is no choice either.
  CoreEnv::must(shipping.choose(ship, c.id, "express"));
  c = CoreEnv::must(env.carts.set_quantity(ship, c.id, c.items[0].id, 2));
  r = env.checkout.checkout(ship, {c.id, "key-2", "fp"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "checkout.shipping_required");
}

TEST_F(ShippingTest, CheckoutWithAChoiceChargesTheShippingOnTheOrder) {
  auto c = cart_with({{"TEE-M", 1}, {"MUG-1", 1}});
  auto chosen = CoreEnv::must(shipping.choose(ship, c.id, "express"));
  auto r = env.checkout.checkout(ship, {c.id, "key-1", "fp"});
  ASSERT_TRUE(r.ok()) << describe(r);
  const orders::Order& o = r->order;
  EXPECT_EQ(o.totals.subtotal, 17900);
  EXPECT_EQ(o.totals.shipping_total, 1500);
  EXPECT_EQ(o.totals.total, 19400);
  EXPECT_EQ(o.totals.tax_total, chosen.totals.tax_total);
  EXPECT_EQ(o.shipping, *chosen.shipping);
  EXPECT_EQ(o.events.at(0).data["total"], 19400);

  auto read = CoreEnv::must(env.orders.get(o.id));
  EXPECT_EQ(read.totals.shipping_total, 1500);
  EXPECT_EQ(read.totals.total, 19400);
  ASSERT_TRUE(read.shipping.is_object());
  EXPECT_EQ(read.shipping["provider"], "express");
  EXPECT_EQ(read.shipping["amount"], 1500);
  EXPECT_EQ(read.shipping["location_id"], warehouse.id.value);
  bool explained = false;
  for (const auto& e : read.totals.explanation)
    if (e.kind == "shipping") {
      explained = true;
      EXPECT_EQ(e.amount, 1500);
    }
  EXPECT_TRUE(explained);

  // An order without shipping has none.
  env.stock(mug_v(), store.id, 1);
  auto p = cart_with({{"MUG-1", 1}}, true, &pos);
  auto plain = CoreEnv::must(env.checkout.checkout(pos, {p.id, "pos-1", "fp"})).order;
  EXPECT_TRUE(plain.shipping.is_null());
  EXPECT_TRUE(CoreEnv::must(env.orders.get(plain.id)).shipping.is_null());
  EXPECT_EQ(plain.totals.shipping_total, 0);
}

}  // namespace
}  // namespace quanqu::fulfilment
