// Unit tests for the demo seed: what it creates, that it is deterministic, and that a second run adds nothing.
#include "core_test_support.h"
#include "demo/demo_seed.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <set>

namespace quanqu::demo {
namespace {

using test_support::CoreEnv;
using test_support::describe;

DemoServices services(CoreEnv& env) { return {env.catalog, env.channels, env.inventory, env.access}; }

// Every product of the channel's store view, walking all pages.
std::vector<catalog::Product> store_products(CoreEnv& env, const channels::Channel& web) {
  std::vector<catalog::Product> out;
  catalog::StoreView view{web.id, web.currency, web.location_ids};
  catalog::ProductQuery q;
  q.limit = 100;
  for (;;) {
    auto page = CoreEnv::must(env.catalog.list_store_products(view, q));
    for (auto& p : page.items) out.push_back(std::move(p));
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  return out;
}

// SKU -> "barcode CNY USD stock@warehouse stock@jingan stock@xihu", for comparing two seeds.
std::map<std::string, std::string> fingerprint(CoreEnv& env) {
  std::map<std::string, std::string> out;
  std::map<std::string, std::string> location_codes;
  for (const auto& l : CoreEnv::must(env.inventory.list_locations())) location_codes[l.id.value] = l.code;
  catalog::ProductQuery q;
  q.limit = 100;
  for (;;) {
    auto page = CoreEnv::must(env.catalog.list_products(q));
    for (const auto& p : page.items)
      for (const auto& v : p.variants)
        out[v.sku] = p.handle + " " + v.title + " " + v.barcode.value_or("-") + " " +
                     std::to_string(v.price_in("CNY")->amount) + " " + std::to_string(v.price_in("USD")->amount);
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  for (const auto& [sku, text] : out) {
    inventory::LevelQuery lq;
    lq.sku = sku;
    std::map<std::string, std::int64_t> by_code;
    for (const auto& l : CoreEnv::must(env.inventory.list_levels(lq)).items) by_code[location_codes[l.location_id.value]] = l.on_hand;
    for (const auto& [code, n] : by_code) out[sku] += " " + code + "=" + std::to_string(n);
  }
  return out;
}

bool is_sku(const std::string& s) {
  if (s.empty() || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return s.find("--") == std::string::npos;
}

bool is_ean13(const std::string& s) {
  if (s.size() != 13) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 13; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (i < 12) sum += (s[i] - '0') * (i % 2 ? 3 : 1);
  }
  return (10 - sum % 10) % 10 == s[12] - '0';
}

TEST(DemoSeedTest, SeedsABelievableShop) {
  CoreEnv env;
  auto started = std::chrono::steady_clock::now();
  auto seeded = seed_demo(services(env));
  auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(seeded.ok()) << describe(seeded);
  // Reported, not asserted: timing belongs to benchmarks, not to unit tests.
  std::printf("[ demo seed ] %d products, %d variants in %lld ms\n", seeded->products, seeded->variants,
              static_cast<long long>(elapsed_ms));
  ::testing::Test::RecordProperty("seed_ms", std::to_string(elapsed_ms));

  EXPECT_TRUE(seeded->created);
  EXPECT_GE(seeded->products, 55);
  EXPECT_LE(seeded->products, 65);
  EXPECT_GE(seeded->variants, 190);
  EXPECT_LE(seeded->variants, 220);
  EXPECT_EQ(seeded->publishable_key.rfind("qq_pk_", 0), 0u);

  // The channel and its key.
  auto web = env.channels.get("web");
  ASSERT_TRUE(web.ok()) << describe(web);
  EXPECT_EQ(web->type, "web");
  EXPECT_EQ(web->currency, "CNY");
  EXPECT_EQ(web->tax_rate_bp, 1300);
  EXPECT_TRUE(web->tax_inclusive);
  EXPECT_EQ(env.access.channel_for(seeded->publishable_key), std::optional<ChannelId>(web->id));
  auto keys = env.access.list_publishable_keys(web->id);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].label, "Demo storefront");

  // Locations: the warehouse first, then the two pickup stores.
  ASSERT_EQ(web->location_ids.size(), 3u);
  std::vector<std::string> codes;
  for (const auto& id : web->location_ids) {
    auto l = CoreEnv::must(env.inventory.get_location(id));
    codes.push_back(l.code);
    EXPECT_EQ(l.pickup_enabled, l.kind == "store") << l.code;
    EXPECT_EQ(l.address.country, "CN");
    EXPECT_TRUE(l.address.latitude.has_value()) << l.code;
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"warehouse-shanghai", "store-shanghai-jingan", "store-hangzhou-xihu"}));
  EXPECT_EQ(CoreEnv::must(env.inventory.list_locations()).size(), 3u);

  // Categories: three roots with three, two and three children.
  auto categories = CoreEnv::must(env.catalog.list_categories());
  EXPECT_EQ(categories.size(), 11u);
  std::map<std::string, std::string> parent_of;
  std::map<std::string, std::string> handle_of;
  for (const auto& c : categories) handle_of[c.id.value] = c.handle;
  for (const auto& c : categories) parent_of[c.handle] = c.parent_id ? handle_of[c.parent_id->value] : "";
  EXPECT_EQ(parent_of["t-shirts"], "apparel");
  EXPECT_EQ(parent_of["boots"], "shoes");
  EXPECT_EQ(parent_of["lighting"], "home");
  EXPECT_EQ(parent_of["home"], "");
  for (const char* root : {"apparel", "shoes", "home"}) {
    catalog::ProductQuery q;
    q.category = root;
    q.limit = 100;
    EXPECT_GE(CoreEnv::must(env.catalog.list_products(q)).items.size(), 10u) << root;
  }

  // Every product is published to web, with valid, unique SKUs and barcodes and both prices.
  auto products = store_products(env, *web);
  EXPECT_EQ(static_cast<int>(products.size()), seeded->products);
  std::set<std::string> skus, barcodes, handles;
  int variants = 0;
  for (const auto& p : products) {
    handles.insert(p.handle);
    EXPECT_EQ(p.status, "published");
    EXPECT_FALSE(p.description.empty()) << p.handle;
    EXPECT_TRUE(p.attributes.contains("material")) << p.handle;
    EXPECT_TRUE(p.attributes.contains("care")) << p.handle;
    ASSERT_FALSE(p.images.empty()) << p.handle;
    EXPECT_LE(p.images.size(), 2u);
    EXPECT_EQ(p.images[0].url, "https://images.quanqu.dev/demo/" + p.handle + "-1.jpg");
    EXPECT_EQ(p.category_ids.size(), 1u) << p.handle;
    EXPECT_GE(p.variants.size(), 1u);
    for (const auto& v : p.variants) {
      ++variants;
      EXPECT_TRUE(is_sku(v.sku)) << v.sku;
      EXPECT_TRUE(skus.insert(v.sku).second) << v.sku;
      ASSERT_TRUE(v.barcode.has_value()) << v.sku;
      EXPECT_TRUE(is_ean13(*v.barcode)) << *v.barcode;
      EXPECT_TRUE(barcodes.insert(*v.barcode).second) << *v.barcode;
      ASSERT_EQ(v.prices.size(), 1u);  // the store view shows the channel's currency only
      EXPECT_EQ(v.prices[0].currency, "CNY");
      EXPECT_GT(v.prices[0].amount, 1000);
      EXPECT_FALSE(v.title.empty());
      EXPECT_GE(v.available.value_or(0), 20) << v.sku;  // the warehouse alone has at least 20
    }
  }
  EXPECT_EQ(variants, seeded->variants);
  EXPECT_TRUE(handles.count("organic-cotton-tee"));
  EXPECT_TRUE(skus.count("TEE-ORGANIC-NAVY-M"));

  // Admin reads carry the USD price too, and every variant has a level at every location.
  auto tee = CoreEnv::must(env.catalog.get_product("organic-cotton-tee"));
  EXPECT_EQ(tee.variants[0].price_in("CNY"), (Money{12900, "CNY"}));
  EXPECT_TRUE(tee.variants[0].price_in("USD").has_value());
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM inventory_levels"), 3LL * variants);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM inventory_levels il JOIN stock_locations l ON l.id = il.location_id "
                       "WHERE l.kind = 'warehouse' AND (il.on_hand < 20 OR il.on_hand > 200)"),
            0);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM inventory_levels il JOIN stock_locations l ON l.id = il.location_id "
                       "WHERE l.kind = 'store' AND il.on_hand > 15"),
            0);
  long long store_zeros = env.scalar(
      "SELECT COUNT(*) FROM inventory_levels il JOIN stock_locations l ON l.id = il.location_id "
      "WHERE l.kind = 'store' AND il.on_hand = 0");
  EXPECT_GT(store_zeros, 0);
  EXPECT_LT(store_zeros, variants);  // some, not most
}

TEST(DemoSeedTest, SeedingTwiceDoesNotDuplicate) {
  CoreEnv env;
  auto first = seed_demo(services(env));
  ASSERT_TRUE(first.ok()) << describe(first);
  const char* tables[] = {"products", "variants", "categories", "stock_locations", "channels", "inventory_levels",
                          "inventory_ledger", "channel_products", "variant_prices"};
  std::map<std::string, long long> before;
  for (const char* t : tables) before[t] = env.scalar(std::string("SELECT COUNT(*) FROM ") + t);

  auto second = seed_demo(services(env));
  ASSERT_TRUE(second.ok()) << describe(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->products, 0);
  EXPECT_EQ(second->variants, 0);
  for (const char* t : tables) EXPECT_EQ(env.scalar(std::string("SELECT COUNT(*) FROM ") + t), before[t]) << t;

  // A new key is issued for the existing channel, and both keys work.
  EXPECT_NE(second->publishable_key, first->publishable_key);
  auto web = CoreEnv::must(env.channels.get("web"));
  EXPECT_EQ(env.access.channel_for(second->publishable_key), std::optional<ChannelId>(web.id));
  EXPECT_EQ(env.access.channel_for(first->publishable_key), std::optional<ChannelId>(web.id));
  EXPECT_EQ(CoreEnv::must(env.access.list_publishable_keys(web.id)).size(), 2u);
}

TEST(DemoSeedTest, IsDeterministic) {
  CoreEnv one, two;
  ASSERT_TRUE(seed_demo(services(one)).ok());
  ASSERT_TRUE(seed_demo(services(two)).ok());
  auto a = fingerprint(one), b = fingerprint(two);
  EXPECT_GE(a.size(), 190u);
  EXPECT_EQ(a, b);
}

TEST(DemoSeedTest, FinishesAnInterruptedSeed) {
  CoreEnv env;
  // What a seed that stopped half-way leaves behind: a location, a category and a product.
  inventory::NewStockLocation warehouse{"warehouse-shanghai", "Shanghai Warehouse", "warehouse", CoreEnv::address(),
                                        false};
  ASSERT_TRUE(env.inventory.create_location(warehouse).ok());
  ASSERT_TRUE(env.catalog.create_category({"apparel", "Apparel", std::nullopt, 0}).ok());
  auto done = seed_demo(services(env));
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_TRUE(done->created);
  EXPECT_EQ(CoreEnv::must(env.inventory.list_locations()).size(), 3u);
  EXPECT_EQ(CoreEnv::must(env.catalog.list_categories()).size(), 11u);

  // A product left by an earlier run is reused, not refused.
  CoreEnv again;
  ASSERT_TRUE(seed_demo(services(again)).ok());
  auto count = again.scalar("SELECT COUNT(*) FROM products");
  CoreEnv partial;
  auto tee = CoreEnv::must(again.catalog.get_product("organic-cotton-tee"));
  catalog::NewProduct copy{tee.handle, tee.title, tee.description, "published", {}, tee.attributes, tee.images, {}};
  for (const auto& v : tee.variants) copy.variants.push_back({v.sku, v.barcode, v.title, v.options, v.prices});
  ASSERT_TRUE(partial.catalog.create_product(copy).ok());
  auto finished = seed_demo(services(partial));
  ASSERT_TRUE(finished.ok()) << describe(finished);
  EXPECT_EQ(partial.scalar("SELECT COUNT(*) FROM products"), count);
  EXPECT_EQ(finished->products, count);
}

}  // namespace
}  // namespace quanqu::demo
