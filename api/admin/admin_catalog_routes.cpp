// Admin catalog handlers: products, variants and categories.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

namespace quanqu::api {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

// The longest lists a product body takes (the core checks the same limits on what it stores).
constexpr std::size_t kMaxPrices = 50;       // one per currency; the engine knows fewer
constexpr std::size_t kMaxOptions = 10;      // per variant
constexpr std::size_t kMaxImages = 50;
constexpr std::size_t kMaxCategoryIds = 50;
constexpr std::size_t kMaxVariants = 100;

std::optional<std::vector<Money>> read_prices(JsonFields& f) {
  const json* list = f.array("prices", kMaxPrices);
  if (!list) return std::nullopt;
  std::vector<Money> prices;
  for (std::size_t i = 0; i < list->size(); ++i)
    if (auto m = f.money((*list)[i], f.path("prices/" + std::to_string(i)))) prices.push_back(*m);
  return prices;
}

catalog::NewVariant read_new_variant(JsonFields f) {
  f.only({"sku", "barcode", "title", "options", "prices"});
  catalog::NewVariant v;
  v.sku = f.string("sku", true).value_or("");
  v.barcode = f.string("barcode");
  v.title = f.string("title", true).value_or("");
  v.options = f.string_map("options", kMaxOptions).value_or(std::map<std::string, std::string>{});
  v.prices = read_prices(f).value_or(std::vector<Money>{});
  return v;
}

std::optional<std::vector<catalog::Image>> read_images(JsonFields& f) {
  const json* list = f.array("images", kMaxImages);
  if (!list) return std::nullopt;
  std::vector<catalog::Image> images;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_object()) {
      f.fail("images/" + std::to_string(i), "must be an object {\"url\", \"alt\"}");
      continue;
    }
    JsonFields img((*list)[i], f.path("images/" + std::to_string(i)), f.errors());
    img.only({"url", "alt"});
    images.push_back({img.string("url", true).value_or(""), img.string("alt").value_or("")});
  }
  return images;
}

std::optional<std::vector<CategoryId>> read_category_ids(JsonFields& f) {
  auto ids = f.strings("category_ids", kMaxCategoryIds);
  if (!ids) return std::nullopt;
  std::vector<CategoryId> out;
  for (auto& id : *ids) out.emplace_back(std::move(id));
  return out;
}

// The product and, when the path names one, its variant: a 404 before any body is read.
Result<catalog::Product> product_of(Services& s, const Request& r) {
  QQ_ASSIGN_OR_RETURN(auto product, s.catalog.get_product(r.param("id")));
  if (product.id.value != r.param("id"))  // by id only: a handle does not name a product here
    return Error::not_found("product.not_found", "no product '" + r.param("id") + "'");
  return product;
}

Status variant_exists(const catalog::Product& product, const std::string& id) {
  for (const auto& v : product.variants)
    if (v.id.value == id) return ok_status();
  return Error::not_found("variant.not_found", "no variant '" + id + "' in product " + product.id.value);
}

Response product_reply(unsigned status, const catalog::Product& p) { return json_reply(status, product_admin_json(p)); }

}  // namespace

void register_admin_catalog_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/products", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(PageParams page, page_params(r));
    catalog::ProductQuery q{query_text(r, "q"), query_text(r, "category"), query_text(r, "status"), page.limit,
                            page.cursor};
    QQ_ASSIGN_OR_RETURN(auto result, s.catalog.list_products(q));
    json items = json::array();
    for (const auto& p : result.items) items.push_back(product_admin_json(p));
    return json_reply(200, page_json(std::move(items), result.next_cursor));
  }));

  router.add("POST", "/v1/admin/products", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"handle", "title", "description", "status", "category_ids", "attributes", "images", "variants"});
    catalog::NewProduct p;
    p.handle = f.string("handle", true).value_or("");
    p.title = f.string("title", true).value_or("");
    p.description = f.string("description").value_or("");
    p.status = f.string("status").value_or("draft");
    p.category_ids = read_category_ids(f).value_or(std::vector<CategoryId>{});
    if (const json* a = f.object("attributes")) p.attributes = *a;
    p.images = read_images(f).value_or(std::vector<catalog::Image>{});
    if (const json* list = f.array("variants", kMaxVariants))
      for (std::size_t i = 0; i < list->size(); ++i) {
        if (!(*list)[i].is_object()) {
          f.fail("variants/" + std::to_string(i), "must be an object");
          continue;
        }
        p.variants.push_back(read_new_variant(JsonFields((*list)[i], "variants/" + std::to_string(i), f.errors())));
      }
    QQ_TRY(body.status_with(catalog::CatalogService::validate(p)));
    QQ_ASSIGN_OR_RETURN(auto product, s.catalog.create_product(p));
    return created(product_admin_json(product), "/v1/admin/products/" + product.id.value);
  })));

  router.add("GET", "/v1/admin/products/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto product, s.catalog.get_product(r.param("id")));
    return product_reply(200, product);
  }));

  router.add("PATCH", "/v1/admin/products/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(product_of(s, r));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"handle", "title", "description", "status", "category_ids", "attributes", "images"});
    catalog::ProductPatch patch;
    patch.handle = f.string("handle");
    patch.title = f.string("title");
    patch.description = f.string("description");
    patch.status = f.string("status");
    patch.category_ids = read_category_ids(f);
    if (const json* a = f.object("attributes")) patch.attributes = *a;
    patch.images = read_images(f);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto product, s.catalog.update_product(ProductId(r.param("id")), patch));
    return product_reply(200, product);
  }));

  router.add("POST", "/v1/admin/products/{id}/archive", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto product, s.catalog.archive_product(ProductId(r.param("id"))));
    return product_reply(200, product);
  }));

  // A variant has no GET of its own (the product carries it): Location is its PATCH URL.
  router.add("POST", "/v1/admin/products/{id}/variants", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(product_of(s, r));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto v = read_new_variant(body.fields());
    QQ_TRY(body.status_with(catalog::CatalogService::validate(v)));
    QQ_ASSIGN_OR_RETURN(auto variant, s.catalog.add_variant(ProductId(r.param("id")), v));
    return created(variant_admin_json(variant),
                   "/v1/admin/products/" + variant.product_id.value + "/variants/" + variant.id.value);
  })));

  router.add("PATCH", "/v1/admin/products/{id}/variants/{variant_id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto product, product_of(s, r));
    QQ_TRY(variant_exists(product, r.param("variant_id")));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"sku", "barcode", "title", "options", "prices"});
    catalog::VariantPatch patch;
    patch.sku = f.string("sku");
    if (f.has("barcode")) patch.barcode = f.is_null("barcode") ? std::nullopt : f.string("barcode");
    patch.title = f.string("title");
    patch.options = f.string_map("options", kMaxOptions);
    patch.prices = read_prices(f);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto variant,
                        s.catalog.update_variant(ProductId(r.param("id")), VariantId(r.param("variant_id")), patch));
    return json_reply(200, variant_admin_json(variant));
  }));

  router.add("POST", "/v1/admin/products/{id}/variants/{variant_id}/archive", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto variant,
                        s.catalog.archive_variant(ProductId(r.param("id")), VariantId(r.param("variant_id"))));
    return json_reply(200, variant_admin_json(variant));
  }));

  router.add("GET", "/v1/admin/categories", admin_route(s, [&s](Request&) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto categories, s.catalog.list_categories());
    json items = json::array();
    for (const auto& c : categories) items.push_back(category_json(c));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  // Categories are read as a list: Location is the category's PATCH URL.
  router.add("POST", "/v1/admin/categories", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"handle", "name", "parent_id", "position"});
    catalog::NewCategory c;
    c.handle = f.string("handle", true).value_or("");
    c.name = f.string("name", true).value_or("");
    if (auto parent = f.string("parent_id")) c.parent_id = CategoryId(*parent);
    c.position = static_cast<int>(std::clamp<std::int64_t>(f.integer("position").value_or(0), -1, 2'000'000));
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto category, s.catalog.create_category(c));
    return created(category_json(category), "/v1/admin/categories/" + category.id.value);
  })));

  router.add("PATCH", "/v1/admin/categories/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto categories, s.catalog.list_categories());
    if (std::none_of(categories.begin(), categories.end(), [&](const auto& c) { return c.id.value == r.param("id"); }))
      return Error::not_found("category.not_found", "no category '" + r.param("id") + "'");
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"name", "parent_id", "position"});
    catalog::CategoryPatch patch;
    patch.name = f.string("name");
    if (f.has("parent_id"))
      patch.parent_id = f.is_null("parent_id") ? std::nullopt
                                               : std::optional<CategoryId>(CategoryId(f.string("parent_id").value_or("")));
    if (auto pos = f.integer("position")) patch.position = static_cast<int>(std::clamp<std::int64_t>(*pos, -1, 2'000'000));
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto category, s.catalog.update_category(CategoryId(r.param("id")), patch));
    return json_reply(200, category_json(category));
  }));
}

}  // namespace quanqu::api
