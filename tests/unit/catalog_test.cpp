// Unit tests for the catalog: product writes, conflicts, validation, store views, pagination and search.
#include "core_test_support.h"

#include <algorithm>
#include <set>

namespace quanqu::catalog {
namespace {

using test_support::CoreEnv;
using test_support::describe;

bool has_field(const Error& e, const std::string& field) {
  return std::any_of(e.fields.begin(), e.fields.end(), [&](const FieldError& f) { return f.field == field; });
}

std::string fields_of(const Error& e) {
  std::string out;
  for (const auto& f : e.fields) out += f.field + " ";
  return out;
}

NewProduct tee() {
  NewProduct p;
  p.handle = "organic-cotton-tee";
  p.title = "Organic Cotton Tee";
  p.description = "Soft.";
  p.status = "published";
  p.attributes = {{"material", "cotton"}, {"weight_g", 180}, {"organic", true}};
  p.images = {{"https://images.example/tee-1.jpg", "front"}};
  p.variants = {
      {"TEE-NAVY-M", "6920451000011", "Navy / M", {{"color", "Navy"}, {"size", "M"}},
       {{12900, "CNY"}, {1799, "USD"}}},
      {"TEE-NAVY-L", std::nullopt, "Navy / L", {{"color", "Navy"}, {"size", "L"}}, {{12900, "CNY"}}},
  };
  return p;
}

class CatalogTest : public ::testing::Test {
 protected:
  CoreEnv env;
};

TEST_F(CatalogTest, CreatesProductWithVariantsAndPrices) {
  auto created = env.catalog.create_product(tee());
  ASSERT_TRUE(created.ok()) << describe(created);
  const Product& p = *created;
  EXPECT_TRUE(looks_like_id(p.id.value, "prod"));
  EXPECT_EQ(p.handle, "organic-cotton-tee");
  EXPECT_EQ(p.status, "published");
  EXPECT_EQ(p.attributes["weight_g"], 180);
  ASSERT_EQ(p.images.size(), 1u);
  EXPECT_EQ(p.images[0].alt, "front");
  ASSERT_EQ(p.variants.size(), 2u);
  EXPECT_EQ(p.variants[0].sku, "TEE-NAVY-M");
  EXPECT_EQ(p.variants[0].position, 0);
  EXPECT_EQ(p.variants[1].position, 1);
  EXPECT_EQ(p.variants[0].barcode, std::optional<std::string>("6920451000011"));
  EXPECT_FALSE(p.variants[1].barcode.has_value());
  EXPECT_EQ(p.variants[0].options.at("size"), "M");
  EXPECT_EQ(p.variants[0].price_in("CNY"), (Money{12900, "CNY"}));
  EXPECT_EQ(p.variants[0].price_in("USD"), (Money{1799, "USD"}));
  EXPECT_FALSE(p.variants[1].price_in("USD").has_value());
  EXPECT_EQ(p.created_at, env.clock.now_ms());

  auto by_handle = env.catalog.get_product("organic-cotton-tee");
  ASSERT_TRUE(by_handle.ok());
  EXPECT_EQ(by_handle->id, p.id);
  auto by_id = env.catalog.get_product(p.id.value);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->variants.size(), 2u);
  auto missing = env.catalog.get_product("no-such-thing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

TEST_F(CatalogTest, TakenHandleIsAConflict) {
  ASSERT_TRUE(env.catalog.create_product(tee()).ok());
  NewProduct again = tee();
  for (auto& v : again.variants) v.sku += "-2";
  auto r = env.catalog.create_product(again);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "product.handle_taken");
}

TEST_F(CatalogTest, TakenSkuIsAConflictAndWritesNothing) {
  ASSERT_TRUE(env.catalog.create_product(tee()).ok());
  NewProduct other = tee();
  other.handle = "another-tee";
  other.variants[0].sku = "TEE-FRESH";  // the second one, TEE-NAVY-L, is taken
  auto r = env.catalog.create_product(other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_EQ(r.error().code, "variant.sku_taken");
  EXPECT_FALSE(env.catalog.get_product("another-tee").ok());
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM variants WHERE sku = 'TEE-FRESH'"), 0);

  // Adding or renaming a variant onto a taken SKU is refused the same way.
  auto p = env.catalog.get_product("organic-cotton-tee");
  ASSERT_TRUE(p.ok());
  auto added = env.catalog.add_variant(p->id, {"TEE-NAVY-M", std::nullopt, "dup", {}, {{100, "CNY"}}});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, "variant.sku_taken");
  VariantPatch rename;
  rename.sku = "TEE-NAVY-L";
  auto renamed = env.catalog.update_variant(p->id, p->variants[0].id, rename);
  ASSERT_FALSE(renamed.ok());
  EXPECT_EQ(renamed.error().code, "variant.sku_taken");
}

TEST_F(CatalogTest, ValidationErrorsListEveryOffendingField) {
  NewProduct bad = tee();
  bad.handle = "Not A Handle";
  bad.title = "  ";
  bad.status = "live";
  bad.attributes = {{"nested", {{"a", 1}}}};
  bad.images = {{"ftp://images.example/x.jpg", ""}};
  bad.variants[0].sku = "bad sku!";
  bad.variants[0].prices = {{-1, "CNY"}, {100, "XXX"}};
  bad.variants[1].sku = "TEE-NAVY-L";
  bad.variants.push_back(bad.variants[1]);  // a repeated SKU
  auto r = env.catalog.create_product(bad);
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.kind, ErrorKind::invalid_argument);
  EXPECT_EQ(e.code, "validation_failed");
  for (const char* field : {"handle", "title", "status", "attributes/nested", "images/0/url", "variants/0/sku",
                            "variants/0/prices/0/amount", "variants/0/prices/1/currency", "variants/2/sku"})
    EXPECT_TRUE(has_field(e, field)) << "missing " << field << " in: " << fields_of(e);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM products"), 0);
}

TEST_F(CatalogTest, UnknownCategoryIsRefused) {
  NewProduct p = tee();
  p.category_ids = {CategoryId("cat_nope")};
  auto r = env.catalog.create_product(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  EXPECT_TRUE(has_field(r.error(), "category_ids/0")) << fields_of(r.error());
}

TEST_F(CatalogTest, StoreViewSeesOnlyPublishedProductsOnItsChannel) {
  auto warehouse = env.location("wh");
  auto web = env.channel("web", {warehouse.id});
  auto app = env.channel("app", {warehouse.id});
  auto on_web = env.product("on-web", {"A-1", "A-2"}, 12900);
  auto draft = env.product("draft-on-web", {"B-1"});
  auto off_channel = env.product("not-published", {"C-1"});
  auto on_app = env.product("on-app", {"D-1"});
  env.publish(web, on_web);
  env.publish(web, draft);
  env.publish(app, on_app);
  ProductPatch to_draft;
  to_draft.status = "draft";
  ASSERT_TRUE(env.catalog.update_product(draft.id, to_draft).ok());
  env.stock(on_web.variants[0].id, warehouse.id, 7);

  StoreView view{web.id, "CNY", web.location_ids};
  auto page = env.catalog.list_store_products(view, {});
  ASSERT_TRUE(page.ok()) << describe(page);
  ASSERT_EQ(page->items.size(), 1u);
  const Product& p = page->items[0];
  EXPECT_EQ(p.handle, "on-web");
  ASSERT_EQ(p.variants.size(), 2u);
  // Priced in the channel's currency only, with availability over the channel's locations.
  ASSERT_EQ(p.variants[0].prices.size(), 1u);
  EXPECT_EQ(p.variants[0].prices[0], (Money{12900, "CNY"}));
  EXPECT_EQ(p.variants[0].available, std::optional<std::int64_t>(7));
  EXPECT_EQ(p.variants[1].available, std::optional<std::int64_t>(0));

  EXPECT_TRUE(env.catalog.get_store_product(view, "on-web").ok());
  for (const char* hidden : {"draft-on-web", "not-published", "on-app"}) {
    auto r = env.catalog.get_store_product(view, hidden);
    ASSERT_FALSE(r.ok()) << hidden;
    EXPECT_EQ(r.error().kind, ErrorKind::not_found) << hidden;
  }
  // Archiving hides it everywhere; the admin still sees it.
  ASSERT_TRUE(env.catalog.archive_product(on_web.id).ok());
  auto after = env.catalog.list_store_products(view, {});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->items.empty());
  auto admin = env.catalog.get_product("on-web");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->status, "archived");
}

TEST_F(CatalogTest, StoreViewHidesArchivedVariants) {
  auto warehouse = env.location("wh");
  auto web = env.channel("web", {warehouse.id});
  auto p = env.product("two-variants", {"V-1", "V-2"});
  env.publish(web, p);
  ASSERT_TRUE(env.catalog.archive_variant(p.id, p.variants[1].id).ok());
  StoreView view{web.id, "CNY", web.location_ids};
  auto store = env.catalog.get_store_product(view, "two-variants");
  ASSERT_TRUE(store.ok());
  ASSERT_EQ(store->variants.size(), 1u);
  EXPECT_EQ(store->variants[0].sku, "V-1");
  auto admin = env.catalog.get_product("two-variants");
  ASSERT_TRUE(admin.ok());
  ASSERT_EQ(admin->variants.size(), 2u);
  EXPECT_TRUE(admin->variants[1].archived);
}

TEST_F(CatalogTest, PaginationWalksEveryProductOnce) {
  std::set<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    auto p = env.product("product-" + std::to_string(i), {"SKU-" + std::to_string(i)});
    expected.insert(p.id.value);
    if (i % 5 == 0) env.clock.advance(1);
  }
  std::multiset<std::string> seen;
  ProductQuery q;
  q.limit = 5;
  int pages = 0;
  for (;;) {
    auto page = env.catalog.list_products(q);
    ASSERT_TRUE(page.ok()) << describe(page);
    ASSERT_LE(page->items.size(), 5u);
    for (const auto& p : page->items) seen.insert(p.id.value);
    ++pages;
    ASSERT_LT(pages, 20) << "pagination does not end";
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(seen.size(), 23u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);

  ProductQuery exact;
  exact.limit = 23;
  auto all = env.catalog.list_products(exact);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 23u);
  EXPECT_TRUE(all->next_cursor.empty());
}

TEST_F(CatalogTest, BadQueriesAreRefused) {
  ProductQuery q;
  q.limit = 0;
  EXPECT_FALSE(env.catalog.list_products(q).ok());
  q.limit = 101;
  EXPECT_FALSE(env.catalog.list_products(q).ok());
  q.limit = 10;
  q.cursor = "garbage";
  auto r = env.catalog.list_products(q);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  EXPECT_TRUE(has_field(r.error(), "cursor"));
}

TEST_F(CatalogTest, SearchIsCaseInsensitiveSubstringAndEscapesWildcards) {
  env.product("organic-tee", {"S-1"}, 100, "Organic Cotton Tee");
  env.product("linen-shirt", {"S-2"}, 100, "Linen Shirt");
  env.product("cotton-hoodie", {"S-3"}, 100, "cotton hoodie");
  env.product("wool-scarf", {"S-4"}, 100, "100% Wool_Scarf");
  auto titles = [&](const std::string& text) {
    ProductQuery q;
    q.q = text;
    auto page = env.catalog.list_products(q);
    std::set<std::string> out;
    if (page.ok())
      for (const auto& p : page->items) out.insert(p.handle);
    return out;
  };
  EXPECT_EQ(titles("COTTON"), (std::set<std::string>{"organic-tee", "cotton-hoodie"}));
  EXPECT_EQ(titles("shirt"), (std::set<std::string>{"linen-shirt"}));
  EXPECT_EQ(titles("%"), (std::set<std::string>{"wool-scarf"}));
  EXPECT_EQ(titles("_"), (std::set<std::string>{"wool-scarf"}));
  EXPECT_TRUE(titles("velvet").empty());
}

TEST_F(CatalogTest, CategoryFilterIncludesDescendants) {
  auto apparel = env.catalog.create_category({"apparel", "Apparel", std::nullopt, 0});
  ASSERT_TRUE(apparel.ok()) << describe(apparel);
  auto tops = env.catalog.create_category({"tops", "Tops", apparel->id, 0});
  ASSERT_TRUE(tops.ok());
  auto tees = env.catalog.create_category({"t-shirts", "T-shirts", tops->id, 0});
  ASSERT_TRUE(tees.ok());
  auto shoes = env.catalog.create_category({"shoes", "Shoes", std::nullopt, 1});
  ASSERT_TRUE(shoes.ok());
  env.product("tee", {"C-1"}, 100, "", {tees->id});
  env.product("jacket", {"C-2"}, 100, "", {apparel->id});
  env.product("boot", {"C-3"}, 100, "", {shoes->id});
  env.product("uncategorised", {"C-4"});

  auto handles = [&](const std::string& category) {
    ProductQuery q;
    q.category = category;
    auto page = env.catalog.list_products(q);
    std::set<std::string> out;
    if (page.ok())
      for (const auto& p : page->items) out.insert(p.handle);
    return out;
  };
  EXPECT_EQ(handles("apparel"), (std::set<std::string>{"tee", "jacket"}));
  EXPECT_EQ(handles(apparel->id.value), (std::set<std::string>{"tee", "jacket"}));
  EXPECT_EQ(handles("tops"), (std::set<std::string>{"tee"}));
  EXPECT_EQ(handles("shoes"), (std::set<std::string>{"boot"}));
  EXPECT_TRUE(handles("no-such-category").empty());

  // A category cannot become its own ancestor.
  CategoryPatch loop;
  loop.parent_id = std::optional<CategoryId>(tees->id);
  auto r = env.catalog.update_category(apparel->id, loop);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  auto cats = env.catalog.list_categories();
  ASSERT_TRUE(cats.ok());
  EXPECT_EQ(cats->size(), 4u);
}

TEST_F(CatalogTest, WritesBumpTheChangeCounter) {
  auto before = env.changes.current();
  env.product("bump", {"BUMP-1"});
  EXPECT_GT(env.changes.current(), before);
}

}  // namespace
}  // namespace quanqu::catalog
