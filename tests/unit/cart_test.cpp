// Unit tests for carts: adding by SKU or id, merging, limits, stock checks, channel isolation and totals.
#include "core_test_support.h"

namespace quanqu::cart {
namespace {

using test_support::CoreEnv;
using test_support::describe;

class CartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    warehouse = env.location("wh");
    web = env.channel("web", {warehouse.id}, 1300, true);
    app = env.channel("app", {warehouse.id}, 1300, true);
    product = env.product("tee", {"TEE-M", "TEE-L"}, 12900);
    cheap = env.product("mug", {"MUG-1"}, 5000);
    hidden = env.product("hidden", {"HIDDEN-1"}, 100);  // not published to web
    env.publish(web, product);
    env.publish(web, cheap);
    env.stock(product.variants[0].id, warehouse.id, 10);
    env.stock(product.variants[1].id, warehouse.id, 10);
    env.stock(cheap.variants[0].id, warehouse.id, 3);
    env.stock(hidden.variants[0].id, warehouse.id, 3);
  }

  Cart new_cart() { return CoreEnv::must(env.carts.create(web, {}, {})); }

  AddItem by_sku(const std::string& sku, std::int64_t quantity) {
    AddItem i;
    i.sku = sku;
    i.quantity = quantity;
    return i;
  }

  CoreEnv env;
  inventory::StockLocation warehouse;
  channels::Channel web, app;
  catalog::Product product, cheap, hidden;
};

TEST_F(CartTest, CreatesAnEmptyOpenCartInTheChannelCurrency) {
  auto cart = env.carts.create(web, {}, {});
  ASSERT_TRUE(cart.ok()) << describe(cart);
  EXPECT_TRUE(looks_like_id(cart->id.value, "cart"));
  EXPECT_EQ(cart->status, "open");
  EXPECT_EQ(cart->currency, "CNY");
  EXPECT_EQ(cart->channel_id, web.id);
  EXPECT_TRUE(cart->items.empty());
  EXPECT_EQ(cart->totals.total, 0);
  EXPECT_FALSE(cart->email.has_value());
}

TEST_F(CartTest, AddsBySkuAndByVariantId) {
  Cart cart = new_cart();
  auto added = env.carts.add_item(web, cart.id, by_sku("TEE-M", 2));
  ASSERT_TRUE(added.ok()) << describe(added);
  env.clock.advance(1);  // items are listed in the order they were added
  AddItem by_id;
  by_id.variant_id = cheap.variants[0].id;
  added = env.carts.add_item(web, cart.id, by_id);
  ASSERT_TRUE(added.ok()) << describe(added);
  ASSERT_EQ(added->items.size(), 2u);
  const CartItem& tee = added->items[0];
  EXPECT_EQ(tee.sku, "TEE-M");
  EXPECT_EQ(tee.variant_id, product.variants[0].id);
  EXPECT_EQ(tee.product_id, product.id);
  EXPECT_EQ(tee.product_handle, "tee");
  EXPECT_EQ(tee.quantity, 2);
  ASSERT_TRUE(tee.price.has_value());
  EXPECT_EQ(tee.price->unit_price, 12900);
  EXPECT_TRUE(tee.unavailable_reason.empty());
  EXPECT_EQ(added->items[1].sku, "MUG-1");
  EXPECT_EQ(added->items[1].quantity, 1);
}

TEST_F(CartTest, SameVariantIsMergedIntoOneLine) {
  Cart cart = new_cart();
  ASSERT_TRUE(env.carts.add_item(web, cart.id, by_sku("TEE-M", 2)).ok());
  AddItem again;
  again.variant_id = product.variants[0].id;
  again.quantity = 3;
  auto merged = env.carts.add_item(web, cart.id, again);
  ASSERT_TRUE(merged.ok()) << describe(merged);
  ASSERT_EQ(merged->items.size(), 1u);
  EXPECT_EQ(merged->items[0].quantity, 5);
}

TEST_F(CartTest, QuantityLimitsAreRefused) {
  Cart cart = new_cart();
  for (std::int64_t q : {0LL, -1LL, 10001LL}) {
    auto r = env.carts.add_item(web, cart.id, by_sku("TEE-M", q));
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument) << q;
  }
  // A line may not grow past the limit, whatever the stock.
  env.stock(product.variants[0].id, warehouse.id, 20000);
  ASSERT_TRUE(env.carts.add_item(web, cart.id, by_sku("TEE-M", 9999)).ok());
  auto over = env.carts.add_item(web, cart.id, by_sku("TEE-M", 2));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "cart.quantity_limit");
  auto got = env.carts.get(web, cart.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->items[0].quantity, 9999);
  auto zero = env.carts.set_quantity(web, cart.id, got->items[0].id, 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().kind, ErrorKind::invalid_argument);
}

TEST_F(CartTest, MoreThanAvailableIsAConflict) {
  Cart cart = new_cart();
  auto r = env.carts.add_item(web, cart.id, by_sku("MUG-1", 4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "inventory.insufficient_stock");
  ASSERT_TRUE(r.error().details.contains("lines"));
  EXPECT_EQ(r.error().details["lines"][0]["available"], 3);
  EXPECT_EQ(r.error().details["lines"][0]["requested"], 4);
  EXPECT_TRUE(env.carts.get(web, cart.id)->items.empty());

  auto ok = env.carts.add_item(web, cart.id, by_sku("MUG-1", 2));
  ASSERT_TRUE(ok.ok());
  // Merging counts what is in the cart already: 2 + 2 > 3.
  auto merged = env.carts.add_item(web, cart.id, by_sku("MUG-1", 2));
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.error().code, "inventory.insufficient_stock");
  auto raised = env.carts.set_quantity(web, cart.id, ok->items[0].id, 4);
  ASSERT_FALSE(raised.ok());
  EXPECT_EQ(raised.error().code, "inventory.insufficient_stock");
  auto lowered = env.carts.set_quantity(web, cart.id, ok->items[0].id, 1);
  ASSERT_TRUE(lowered.ok()) << describe(lowered);
  EXPECT_EQ(lowered->items[0].quantity, 1);
}

TEST_F(CartTest, UnknownOrUnpublishedVariantsAreRefused) {
  Cart cart = new_cart();
  for (const char* sku : {"NOPE", "HIDDEN-1"}) {
    auto r = env.carts.add_item(web, cart.id, by_sku(sku, 1));
    ASSERT_FALSE(r.ok()) << sku;
    EXPECT_EQ(r.error().code, "cart.unknown_variant") << sku;
    ASSERT_EQ(r.error().fields.size(), 1u);
    EXPECT_EQ(r.error().fields[0].field, "sku");
  }
  AddItem both = by_sku("TEE-M", 1);
  both.variant_id = product.variants[0].id;
  auto r = env.carts.add_item(web, cart.id, both);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  AddItem neither;
  EXPECT_FALSE(env.carts.add_item(web, cart.id, neither).ok());
}

TEST_F(CartTest, CreateWithItemsNamesTheOffendingItem) {
  auto r = env.carts.create(web, {}, {by_sku("TEE-M", 1), by_sku("NOPE", 1)});
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().fields.size(), 1u);
  EXPECT_EQ(r.error().fields[0].field, "items/1/sku");
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM carts"), 0);
  auto good = env.carts.create(web, {}, {by_sku("TEE-M", 1), by_sku("MUG-1", 1)});
  ASSERT_TRUE(good.ok()) << describe(good);
  EXPECT_EQ(good->items.size(), 2u);
}

TEST_F(CartTest, AnotherChannelsCartIsNotFound) {
  Cart cart = new_cart();
  ASSERT_TRUE(env.carts.add_item(web, cart.id, by_sku("TEE-M", 1)).ok());
  auto get = env.carts.get(app, cart.id);
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().kind, ErrorKind::not_found);
  EXPECT_EQ(get.error().code, "cart.not_found");
  auto add = env.carts.add_item(app, cart.id, by_sku("TEE-M", 1));
  ASSERT_FALSE(add.ok());
  EXPECT_EQ(add.error().kind, ErrorKind::not_found);
  CartPatch patch;
  patch.email = std::optional<std::string>("a@example.com");
  auto update = env.carts.update(app, cart.id, patch);
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.error().kind, ErrorKind::not_found);
  EXPECT_FALSE(env.carts.get(web, CartId("cart_nope")).ok());
  EXPECT_EQ(env.carts.get(web, cart.id)->items[0].quantity, 1);
}

TEST_F(CartTest, TotalsAreRecomputedOnEveryChange) {
  Cart cart = new_cart();
  auto c = env.carts.add_item(web, cart.id, by_sku("TEE-M", 2));
  ASSERT_TRUE(c.ok());
  env.clock.advance(1);
  c = env.carts.add_item(web, cart.id, by_sku("MUG-1", 1));
  ASSERT_TRUE(c.ok());
  // Inclusive 13%: 25800 contains 2968.14 -> 2968; 5000 contains 575.22 -> 575.
  EXPECT_EQ(c->totals.subtotal, 30800);
  EXPECT_EQ(c->totals.tax_total, 3543);
  EXPECT_EQ(c->totals.total, 30800);
  EXPECT_TRUE(c->totals.tax.inclusive);

  c = env.carts.set_quantity(web, cart.id, c->items[0].id, 1);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->totals.subtotal, 17900);
  EXPECT_EQ(c->totals.tax_total, 1484 + 575);

  // Prices come from the catalog on every read, never from the cart.
  catalog::VariantPatch price;
  price.prices = std::vector<Money>{{11300, "CNY"}};
  ASSERT_TRUE(env.catalog.update_variant(product.id, product.variants[0].id, price).ok());
  auto read = env.carts.get(web, cart.id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->items[0].price->unit_price, 11300);
  EXPECT_EQ(read->totals.subtotal, 16300);
  EXPECT_EQ(read->totals.tax_total, 1300 + 575);

  c = env.carts.remove_item(web, cart.id, read->items[1].id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->items.size(), 1u);
  EXPECT_EQ(c->totals.total, 11300);
  auto gone = env.carts.remove_item(web, cart.id, read->items[1].id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, ErrorKind::not_found);
}

TEST_F(CartTest, ArchivedVariantIsFlaggedAndLeftOutOfTotals) {
  Cart cart = new_cart();
  ASSERT_TRUE(env.carts.add_item(web, cart.id, by_sku("TEE-M", 1)).ok());
  env.clock.advance(1);
  ASSERT_TRUE(env.carts.add_item(web, cart.id, by_sku("MUG-1", 2)).ok());
  ASSERT_TRUE(env.catalog.archive_variant(cheap.id, cheap.variants[0].id).ok());
  auto c = env.carts.get(web, cart.id);
  ASSERT_TRUE(c.ok()) << describe(c);
  ASSERT_EQ(c->items.size(), 2u);
  EXPECT_TRUE(c->items[0].unavailable_reason.empty());
  EXPECT_TRUE(c->items[0].price.has_value());
  EXPECT_FALSE(c->items[1].unavailable_reason.empty());
  EXPECT_FALSE(c->items[1].price.has_value());
  EXPECT_EQ(c->totals.subtotal, 12900);
  EXPECT_EQ(c->totals.lines.size(), 1u);
  // It can no longer be added.
  auto r = env.carts.add_item(web, cart.id, by_sku("MUG-1", 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cart.unknown_variant");
}

TEST_F(CartTest, UnpublishedProductIsFlagged) {
  Cart cart = new_cart();
  ASSERT_TRUE(env.carts.add_item(web, cart.id, by_sku("TEE-L", 1)).ok());
  ASSERT_TRUE(env.channels.unpublish(web.id, {product.id}).ok());
  auto c = env.carts.get(web, cart.id);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->items[0].unavailable_reason.empty());
  EXPECT_EQ(c->totals.total, 0);
}

TEST_F(CartTest, DetailsAreValidatedAndCanBeCleared) {
  Cart cart = new_cart();
  CartPatch bad;
  bad.email = std::optional<std::string>("not-an-email");
  Address address = CoreEnv::address();
  address.country = "";
  bad.shipping_address = std::optional<Address>(address);
  auto r = env.carts.update(web, cart.id, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  EXPECT_GE(r.error().fields.size(), 2u);

  CartPatch good;
  good.email = std::optional<std::string>("li.lei@example.com");
  good.shipping_address = std::optional<Address>(CoreEnv::address());
  auto set = env.carts.update(web, cart.id, good);
  ASSERT_TRUE(set.ok()) << describe(set);
  EXPECT_EQ(set->email, std::optional<std::string>("li.lei@example.com"));
  ASSERT_TRUE(set->shipping_address.has_value());
  EXPECT_EQ(set->shipping_address->city, "Shanghai");

  CartPatch clear;
  clear.email = std::optional<std::string>();
  auto cleared = env.carts.update(web, cart.id, clear);
  ASSERT_TRUE(cleared.ok());
  EXPECT_FALSE(cleared->email.has_value());
  EXPECT_TRUE(cleared->shipping_address.has_value());
}

// ---- Metadata and source ----

TEST_F(CartTest, MetadataIsMergedSourceReplacedAndBothBounded) {
  CartPatch first;
  first.metadata = nlohmann::json{{"utm_source", "wechat"}, {"visits", 1}};
  first.source = std::optional<Source>(Source{std::nullopt, "spring", "ref_1"});
  Cart cart = CoreEnv::must(env.carts.create(web, first, {}));
  EXPECT_EQ(cart.metadata, (nlohmann::json{{"utm_source", "wechat"}, {"visits", 1}}));
  ASSERT_TRUE(cart.source.has_value());
  EXPECT_EQ(cart.source->campaign, std::optional<std::string>("spring"));
  EXPECT_FALSE(cart.customer_id.has_value());

  CartPatch merge;
  merge.metadata = nlohmann::json{{"visits", 2}, {"utm_source", nullptr}, {"lang", "zh"}};
  merge.source = std::optional<Source>(Source{"social", std::nullopt, std::nullopt});
  auto merged = env.carts.update(web, cart.id, merge);
  ASSERT_TRUE(merged.ok()) << describe(merged);
  EXPECT_EQ(merged->metadata, (nlohmann::json{{"visits", 2}, {"lang", "zh"}}));
  EXPECT_EQ(merged->source, std::optional<Source>(Source{"social", std::nullopt, std::nullopt}));

  // Past the bounds of the result: refused, and the e-mail given with it is not set either.
  nlohmann::json many = nlohmann::json::object();
  for (int i = 0; i < 49; ++i) many["k" + std::to_string(i)] = i;
  CartPatch over;
  over.email = std::optional<std::string>("li.lei@example.com");
  over.metadata = many;
  auto refused = env.carts.update(web, cart.id, over);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "validation_failed");
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].field, "metadata");
  Cart unchanged = CoreEnv::must(env.carts.get(web, cart.id));
  EXPECT_EQ(unchanged.metadata, merged->metadata);
  EXPECT_FALSE(unchanged.email.has_value());

  // A bad patch is refused before anything is read.
  CartPatch nested;
  nested.metadata = nlohmann::json{{"a", {{"b", 1}}}};
  EXPECT_EQ(CartService::validate(nested).error().fields[0].field, "metadata/a");

  CartPatch clear;
  clear.source = std::optional<std::optional<Source>>(std::optional<Source>());
  auto cleared = env.carts.update(web, cart.id, clear);
  ASSERT_TRUE(cleared.ok()) << describe(cleared);
  EXPECT_FALSE(cleared->source.has_value());
  EXPECT_EQ(cleared->metadata, merged->metadata);
}

TEST_F(CartTest, AGuestCartsAttributionCarriesOverAtMerge) {
  const CustomerId who("cus_test");
  auto mine = CoreEnv::must(env.carts.open_for_customer(web, who)).cart;
  EXPECT_EQ(mine.customer_id, std::optional<CustomerId>(who));
  CartPatch own;
  own.metadata = nlohmann::json{{"lang", "zh"}};
  CoreEnv::must(env.carts.update(web, mine.id, own));
  CartPatch guest_details;
  guest_details.metadata = nlohmann::json{{"lang", "en"}, {"utm_source", "weibo"}};
  guest_details.source = std::optional<Source>(Source{std::nullopt, std::nullopt, "ref_g"});
  auto guest = CoreEnv::must(env.carts.create(web, guest_details, {}));
  auto merged = CoreEnv::must(env.carts.merge_guest(web, who, guest.id));
  EXPECT_EQ(merged.cart.id, mine.id);
  EXPECT_EQ(merged.cart.metadata, (nlohmann::json{{"lang", "zh"}, {"utm_source", "weibo"}}));  // the customer's key wins
  ASSERT_TRUE(merged.cart.source.has_value());
  EXPECT_EQ(merged.cart.source->referral, std::optional<std::string>("ref_g"));
  EXPECT_EQ(merged.cart.customer_id, std::optional<CustomerId>(who));

  // A cart that has a source keeps it.
  CartPatch other;
  other.source = std::optional<Source>(Source{std::nullopt, "other", std::nullopt});
  auto second = CoreEnv::must(env.carts.create(web, other, {}));
  auto kept = CoreEnv::must(env.carts.merge_guest(web, who, second.id));
  EXPECT_EQ(kept.cart.source->referral, std::optional<std::string>("ref_g"));
  EXPECT_FALSE(kept.cart.source->campaign.has_value());
}

// ---- The cart follows its customer ----

TEST_F(CartTest, ACustomersCartMovesToTheChannelItIsOpenedOn) {
  const CustomerId who("cus_test");
  auto usd = env.channel("usd", {warehouse.id}, 0, false, "USD");
  env.publish(usd, product);  // not the mug
  auto fresh = env.carts.open_for_customer(web, who);
  ASSERT_TRUE(fresh.ok()) << describe(fresh);
  EXPECT_TRUE(fresh->cart.items.empty());
  EXPECT_EQ(CoreEnv::must(env.carts.owner(fresh->cart.id)), who);
  CoreEnv::must(env.carts.add_item(web, fresh->cart.id, by_sku("TEE-M", 2)));
  CoreEnv::must(env.carts.add_item(web, fresh->cart.id, by_sku("MUG-1", 1)));

  auto moved = env.carts.open_for_customer(usd, who);
  ASSERT_TRUE(moved.ok()) << describe(moved);
  EXPECT_EQ(moved->cart.id, fresh->cart.id);
  EXPECT_EQ(moved->cart.channel_id, usd.id);
  EXPECT_EQ(moved->cart.currency, "USD");
  ASSERT_EQ(moved->cart.items.size(), 1u);
  EXPECT_EQ(moved->cart.items[0].sku, "TEE-M");
  EXPECT_EQ(moved->cart.totals.subtotal, 2 * (12900 / 7));
  ASSERT_EQ(moved->removed_items.size(), 1u);
  EXPECT_EQ(moved->removed_items[0].sku, "MUG-1");
  EXPECT_EQ(moved->removed_items[0].reason, "not_sold_on_channel");
  EXPECT_FALSE(env.carts.get(web, fresh->cart.id).ok());  // it left the web channel
  // Opened again where it is: nothing moves.
  EXPECT_TRUE(CoreEnv::must(env.carts.open_for_customer(usd, who)).removed_items.empty());
}

TEST_F(CartTest, AGuestCartMergesIntoTheCustomersCartCappedByStock) {
  const CustomerId who("cus_test");
  auto mine = CoreEnv::must(env.carts.open_for_customer(web, who)).cart;
  CoreEnv::must(env.carts.add_item(web, mine.id, by_sku("MUG-1", 2)));
  auto guest = CoreEnv::must(env.carts.create(web, {}, {by_sku("MUG-1", 3), by_sku("TEE-L", 1)}));
  auto merged = env.carts.merge_guest(web, who, guest.id);
  ASSERT_TRUE(merged.ok()) << describe(merged);
  EXPECT_EQ(merged->cart.id, mine.id);
  ASSERT_EQ(merged->cart.items.size(), 2u);
  ASSERT_EQ(merged->capped_items.size(), 1u);
  EXPECT_EQ(merged->capped_items[0].sku, "MUG-1");
  EXPECT_EQ(merged->capped_items[0].requested, 5);
  EXPECT_EQ(merged->capped_items[0].quantity, 3);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM carts WHERE status = 'merged'"), 1);
  // Spent: it cannot be merged again, nor can another customer's cart be merged.
  EXPECT_EQ(env.carts.merge_guest(web, who, guest.id).error().code, "cart.not_found");
  EXPECT_EQ(env.carts.merge_guest(web, CustomerId("cus_other"), mine.id).error().code, "cart.not_found");
  // A customer without a cart takes the guest cart over.
  auto other_guest = CoreEnv::must(env.carts.create(web, {}, {by_sku("TEE-M", 1)}));
  auto taken = CoreEnv::must(env.carts.merge_guest(web, CustomerId("cus_new"), other_guest.id));
  EXPECT_EQ(taken.cart.id, other_guest.id);
  EXPECT_EQ(CoreEnv::must(env.carts.owner(other_guest.id)), CustomerId("cus_new"));
}

}  // namespace
}  // namespace quanqu::cart
