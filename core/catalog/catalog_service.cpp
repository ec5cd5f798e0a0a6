// Catalog persistence: validation, product/variant/category writes and the batched page reads.
#include "catalog/catalog_service.h"
#include "common/validation.h"
#include "storage/dynamic_query.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_map>

namespace quanqu::catalog {
namespace {

using storage::DynamicQuery;
using json = nlohmann::json;

constexpr std::int64_t kMaxPrice = 1'000'000'000'000;  // 10 billion major units
constexpr std::size_t kMaxVariants = 100;

bool is_status(const std::string& s) { return s == "draft" || s == "published" || s == "archived"; }

std::string lower_ascii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void validate_sku(Validator& v, const std::string& field, const std::string& sku) {
  bool good = !sku.empty() && sku.size() <= 64;
  for (char c : sku)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) good = false;
  if (!good) v.fail(field, "must be 1 to 64 letters, digits, '-', '_' or '.'");
}

void validate_prices(Validator& v, const std::string& prefix, const std::vector<Money>& prices) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < prices.size(); ++i) {
    std::string f = prefix + "/" + std::to_string(i);
    v.currency(f + "/currency", prices[i].currency);
    v.range(f + "/amount", prices[i].amount, 0, kMaxPrice);
    if (!seen.insert(prices[i].currency).second) v.fail(f + "/currency", "has a price already");
  }
}

void validate_options(Validator& v, const std::string& field, const std::map<std::string, std::string>& options) {
  if (options.size() > 10) v.fail(field, "at most 10 options");
  for (const auto& [k, val] : options) {
    v.text(field + "/" + k, k, 64);
    v.text(field + "/" + k, val, 200);
  }
}

void validate_images(Validator& v, const std::vector<Image>& images) {
  if (images.size() > 50) v.fail("images", "at most 50 images");
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto& url = images[i].url;
    std::string f = "images/" + std::to_string(i);
    if (!(url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0) || url.size() > 2000 ||
        url.find_first_of(" \t\r\n\"<>") != std::string::npos)
      v.fail(f + "/url", "must be an http(s) URL of at most 2000 characters");
    v.text(f + "/alt", images[i].alt, 500, false);
  }
}

void validate_attributes(Validator& v, const json& attributes) {
  if (!attributes.is_object()) return v.fail("attributes", "must be an object");
  if (attributes.size() > 50) v.fail("attributes", "at most 50 attributes");
  for (const auto& [k, val] : attributes.items()) {
    v.text("attributes/" + k, k, 64);
    if (!(val.is_string() || val.is_number() || val.is_boolean()))
      v.fail("attributes/" + k, "must be a string, number or boolean");
    else if (val.is_string())
      v.text("attributes/" + k, val.get<std::string>(), 1000, false);
  }
}

json images_to_json(const std::vector<Image>& images) {
  json out = json::array();
  for (const auto& i : images) out.push_back({{"url", i.url}, {"alt", i.alt}});
  return out;
}

std::vector<Image> images_from_json(const std::string& text) {
  std::vector<Image> out;
  for (const auto& i : json::parse(text)) out.push_back({i.value("url", ""), i.value("alt", "")});
  return out;
}

std::string options_to_text(const std::map<std::string, std::string>& o) { return json(o).dump(); }

std::map<std::string, std::string> options_from_text(const std::string& text) {
  return json::parse(text).get<std::map<std::string, std::string>>();
}

struct ProductRow {
  Product p;
};

// Reads product rows from a prepared query into `out` (the query selects kProductColumns).
constexpr const char* kProductColumns =
    "p.id, p.handle, p.title, p.description, p.status, p.attributes, p.images, p.created_at, p.updated_at";

void bind_product(DynamicQuery& q, Product& p, std::string& attributes, std::string& images) {
  q.into(p.id.value).into(p.handle).into(p.title).into(p.description).into(p.status).into(attributes).into(images)
      .into(p.created_at).into(p.updated_at);
}

// Fills variants (with prices, optionally one currency only), categories and availability for
// the products, in four queries whatever the page size.
void hydrate(soci::session& sql, std::vector<Product>& products, bool include_archived, const std::string* currency,
             const std::vector<LocationId>* locations) {
  if (products.empty()) return;
  std::vector<std::string> product_ids;
  std::unordered_map<std::string, Product*> by_id;
  for (auto& p : products) {
    product_ids.push_back(p.id.value);
    by_id[p.id.value] = &p;
  }
  // Variants.
  {
    Variant v;
    std::string barcode, options;
    soci::indicator barcode_ind;
    int archived = 0;
    DynamicQuery q(sql);
    q.text("SELECT id, product_id, sku, barcode, title, options, position, archived, created_at, updated_at "
           "FROM variants WHERE product_id IN ")
        .in_list(product_ids);
    if (!include_archived) q.text(" AND archived = 0");
    q.text(" ORDER BY product_id, position, id");
    q.into(v.id.value).into(v.product_id.value).into(v.sku).into(barcode, barcode_ind).into(v.title).into(options)
        .into(v.position).into(archived).into(v.created_at).into(v.updated_at);
    for (bool row = q.execute(); row; row = q.fetch()) {
      Variant copy = v;
      copy.barcode = barcode_ind == soci::i_ok ? std::optional<std::string>(barcode) : std::nullopt;
      copy.options = options_from_text(options);
      copy.archived = archived != 0;
      by_id[copy.product_id.value]->variants.push_back(std::move(copy));
    }
  }
  std::unordered_map<std::string, Variant*> variants;
  std::vector<std::string> variant_ids;
  for (auto& p : products)
    for (auto& v : p.variants) {
      variants[v.id.value] = &v;
      variant_ids.push_back(v.id.value);
    }
  // Prices.
  if (!variant_ids.empty()) {
    std::string vid, cur;
    long long amount = 0;
    DynamicQuery q(sql);
    q.text("SELECT variant_id, currency, amount FROM variant_prices WHERE variant_id IN ").in_list(variant_ids);
    if (currency) q.text(" AND currency = ").param(*currency);
    q.text(" ORDER BY variant_id, currency");
    q.into(vid).into(cur).into(amount);
    for (bool row = q.execute(); row; row = q.fetch()) variants[vid]->prices.push_back(Money{amount, cur});
  }
  // Categories.
  {
    std::string pid, cid;
    DynamicQuery q(sql);
    q.text("SELECT product_id, category_id FROM product_categories WHERE product_id IN ").in_list(product_ids);
    q.text(" ORDER BY product_id, category_id");
    q.into(pid).into(cid);
    for (bool row = q.execute(); row; row = q.fetch()) by_id[pid]->category_ids.emplace_back(cid);
  }
  // Availability over the channel's locations.
  if (locations && !variant_ids.empty()) {
    for (auto& [id, v] : variants) v->available = 0;
    std::vector<std::string> location_ids;
    for (const auto& l : *locations) location_ids.push_back(l.value);
    if (!location_ids.empty()) {
      std::string vid;
      long long available = 0;
      DynamicQuery q(sql);
      q.text("SELECT variant_id, SUM(on_hand - reserved) FROM inventory_levels WHERE variant_id IN ")
          .in_list(variant_ids)
          .text(" AND location_id IN ")
          .in_list(location_ids)
          .text(" GROUP BY variant_id");
      q.into(vid).into(available);
      for (bool row = q.execute(); row; row = q.fetch()) variants[vid]->available = std::max<long long>(0, available);
    }
  }
}

std::string like_pattern(const std::string& q) {
  std::string out = "%";
  for (char c : lower_ascii(q)) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

Result<Page<Product>> query_page(soci::session& sql, const ProductQuery& query, const StoreView* view) {
  Validator v;
  v.range("limit", query.limit, 1, 100);
  if (!query.cursor.empty() && !looks_like_id(query.cursor, "prod")) v.fail("cursor", "is not a cursor from this list");
  if (!query.status.empty() && !is_status(query.status)) v.fail("status", "must be draft, published or archived");
  if (query.q.size() > 200) v.fail("q", "must be at most 200 characters");
  QQ_TRY(v.status("invalid_query"));

  std::vector<Product> items;
  Product p;
  std::string attributes, images;
  DynamicQuery q(sql);
  if (!query.category.empty())
    q.text("WITH RECURSIVE cats(id) AS (SELECT id FROM categories WHERE id = ")
        .param(query.category)
        .text(" OR handle = ")
        .param(query.category)
        .text(" UNION ALL SELECT c.id FROM categories c JOIN cats ON c.parent_id = cats.id) ");
  q.text("SELECT ").text(kProductColumns).text(" FROM products p WHERE 1 = 1");
  if (view) {
    q.text(" AND p.status = 'published' AND EXISTS (SELECT 1 FROM channel_products cp WHERE cp.product_id = p.id "
           "AND cp.channel_id = ")
        .param(view->channel.value)
        .text(")");
  } else if (!query.status.empty()) {
    q.text(" AND p.status = ").param(query.status);
  }
  if (!query.q.empty()) q.text(" AND p.title_lower LIKE ").param(like_pattern(query.q)).text(" ESCAPE '\\'");
  if (!query.category.empty())
    q.text(" AND EXISTS (SELECT 1 FROM product_categories pc WHERE pc.product_id = p.id AND pc.category_id IN "
           "(SELECT id FROM cats))");
  if (!query.cursor.empty()) q.text(" AND p.id > ").param(query.cursor);
  q.text(" ORDER BY p.id LIMIT ").param(static_cast<long long>(query.limit) + 1);
  bind_product(q, p, attributes, images);
  for (bool row = q.execute(); row; row = q.fetch()) {
    Product copy = p;
    copy.attributes = json::parse(attributes);
    copy.images = images_from_json(images);
    items.push_back(std::move(copy));
  }
  Page<Product> page;
  if (items.size() > static_cast<std::size_t>(query.limit)) {
    items.pop_back();
    page.next_cursor = items.back().id.value;
  }
  hydrate(sql, items, view == nullptr, view ? &view->currency : nullptr, view ? &view->locations : nullptr);
  page.items = std::move(items);
  return page;
}

void validate_variant(const NewVariant& in, const std::string& prefix, Validator& v) {
  validate_sku(v, prefix + "sku", in.sku);
  if (in.barcode) v.text(prefix + "barcode", *in.barcode, 64);
  v.text(prefix + "title", in.title, 200);
  validate_options(v, prefix + "options", in.options);
  validate_prices(v, prefix + "prices", in.prices);
}

}  // namespace

std::optional<Money> Variant::price_in(const std::string& currency) const {
  for (const auto& p : prices)
    if (p.currency == currency) return p;
  return std::nullopt;
}

CatalogService::CatalogService(storage::Database& db, const Clock& clock, ChangeCounter& changes)
    : db_(db), clock_(clock), changes_(changes) {}


Status CatalogService::check_categories(soci::session& sql, const std::vector<CategoryId>& ids) {
  Validator v;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    long long n = 0;
    sql << "SELECT COUNT(*) FROM categories WHERE id = :id", soci::into(n), soci::use(ids[i].value);
    if (!n) v.fail("category_ids/" + std::to_string(i), "unknown category " + ids[i].value);
  }
  return v.status();
}

Status CatalogService::insert_variant(soci::session& sql, const ProductId& product, const NewVariant& in, int position,
                                      Variant* out) {
  long long taken = 0;
  sql << "SELECT COUNT(*) FROM variants WHERE sku = :s", soci::into(taken), soci::use(in.sku);
  if (taken) return Error::conflict("variant.sku_taken", "SKU '" + in.sku + "' is taken");
  Variant v;
  v.id = VariantId(new_id("var"));
  v.product_id = product;
  v.sku = in.sku;
  v.barcode = in.barcode;
  v.title = in.title;
  v.options = in.options;
  v.prices = in.prices;
  v.position = position;
  v.created_at = v.updated_at = clock_.now_ms();
  std::string options = options_to_text(v.options);
  std::string barcode = v.barcode.value_or("");
  soci::indicator barcode_ind = v.barcode ? soci::i_ok : soci::i_null;
  sql << "INSERT INTO variants (id, product_id, sku, barcode, title, options, position, archived, created_at, "
         "updated_at) VALUES (:id, :p, :sku, :bc, :t, :o, :pos, 0, :ca, :ua)",
      soci::use(v.id.value), soci::use(product.value), soci::use(v.sku), soci::use(barcode, barcode_ind),
      soci::use(v.title), soci::use(options), soci::use(v.position), soci::use(v.created_at), soci::use(v.updated_at);
  for (const auto& price : v.prices) {
    long long amount = price.amount;
    sql << "INSERT INTO variant_prices (variant_id, currency, amount) VALUES (:v, :c, :a)", soci::use(v.id.value),
        soci::use(price.currency), soci::use(amount);
  }
  if (out) *out = std::move(v);
  return ok_status();
}

Result<Product> CatalogService::load_product(soci::session& sql, const std::string& id_or_handle,
                                             bool include_archived) {
  Product p;
  std::string attributes, images;
  DynamicQuery q(sql);
  q.text("SELECT ").text(kProductColumns).text(" FROM products p WHERE p.id = ").param(id_or_handle)
      .text(" OR p.handle = ").param(id_or_handle);
  bind_product(q, p, attributes, images);
  if (!q.execute()) return Error::not_found("product.not_found", "no product '" + id_or_handle + "'");
  p.attributes = json::parse(attributes);
  p.images = images_from_json(images);
  std::vector<Product> one{std::move(p)};
  hydrate(sql, one, include_archived, nullptr, nullptr);
  return std::move(one.front());
}

Status CatalogService::validate(const NewVariant& in) {
  Validator v;
  validate_variant(in, "", v);
  return v.status();
}

Status CatalogService::validate(const NewProduct& in) {
  Validator v;
  v.handle("handle", in.handle);
  v.text("title", in.title, 300);
  v.text("description", in.description, 20000, false);
  if (!is_status(in.status)) v.fail("status", "must be draft, published or archived");
  validate_attributes(v, in.attributes);
  validate_images(v, in.images);
  if (in.variants.size() > kMaxVariants) v.fail("variants", "at most 100 variants");
  std::set<std::string> skus;
  for (std::size_t i = 0; i < in.variants.size(); ++i) {
    std::string prefix = "variants/" + std::to_string(i) + "/";
    validate_variant(in.variants[i], prefix, v);
    if (!skus.insert(in.variants[i].sku).second) v.fail(prefix + "sku", "is repeated");
  }
  return v.status();
}

Result<Product> CatalogService::create_product(const NewProduct& in) {
  QQ_TRY(validate(in));
  auto created = db_.write<Product>([&](soci::session& sql) -> Result<Product> {
    long long taken = 0;
    sql << "SELECT COUNT(*) FROM products WHERE handle = :h", soci::into(taken), soci::use(in.handle);
    if (taken) return Error::conflict("product.handle_taken", "handle '" + in.handle + "' is taken");
    QQ_TRY(check_categories(sql, in.category_ids));
    ProductId id(new_id("prod"));
    long long now = clock_.now_ms();
    std::string attributes = in.attributes.dump(), images = images_to_json(in.images).dump();
    std::string title_lower = lower_ascii(in.title);
    sql << "INSERT INTO products (id, handle, title, title_lower, description, status, attributes, images, "
           "created_at, updated_at) VALUES (:id, :h, :t, :tl, :d, :s, :a, :i, :ca, :ua)",
        soci::use(id.value), soci::use(in.handle), soci::use(in.title), soci::use(title_lower),
        soci::use(in.description), soci::use(in.status), soci::use(attributes), soci::use(images), soci::use(now),
        soci::use(now);
    for (const auto& c : in.category_ids)
      sql << "INSERT INTO product_categories (product_id, category_id) VALUES (:p, :c)", soci::use(id.value),
          soci::use(c.value);
    for (std::size_t i = 0; i < in.variants.size(); ++i)
      QQ_TRY(insert_variant(sql, id, in.variants[i], static_cast<int>(i), nullptr));
    return load_product(sql, id.value, true);
  });
  if (created) changes_.bump();
  return created;
}

Result<Product> CatalogService::update_product(const ProductId& id, const ProductPatch& patch) {
  Validator v;
  if (patch.handle) v.handle("handle", *patch.handle);
  if (patch.title) v.text("title", *patch.title, 300);
  if (patch.description) v.text("description", *patch.description, 20000, false);
  if (patch.status && !is_status(*patch.status)) v.fail("status", "must be draft, published or archived");
  if (patch.attributes) validate_attributes(v, *patch.attributes);
  if (patch.images) validate_images(v, *patch.images);
  QQ_TRY(v.status());
  auto updated = db_.write<Product>([&](soci::session& sql) -> Result<Product> {
    QQ_ASSIGN_OR_RETURN(Product p, load_product(sql, id.value, true));
    if (p.id != id) return Error::not_found("product.not_found", "no product '" + id.value + "'");
    if (patch.handle && *patch.handle != p.handle) {
      long long taken = 0;
      sql << "SELECT COUNT(*) FROM products WHERE handle = :h", soci::into(taken), soci::use(*patch.handle);
      if (taken) return Error::conflict("product.handle_taken", "handle '" + *patch.handle + "' is taken");
      p.handle = *patch.handle;
    }
    if (patch.title) p.title = *patch.title;
    if (patch.description) p.description = *patch.description;
    if (patch.status) p.status = *patch.status;
    if (patch.attributes) p.attributes = *patch.attributes;
    if (patch.images) p.images = *patch.images;
    if (patch.category_ids) {
      QQ_TRY(check_categories(sql, *patch.category_ids));
      sql << "DELETE FROM product_categories WHERE product_id = :p", soci::use(id.value);
      for (const auto& c : *patch.category_ids)
        sql << "INSERT INTO product_categories (product_id, category_id) VALUES (:p, :c)", soci::use(id.value),
            soci::use(c.value);
    }
    long long now = clock_.now_ms();
    std::string attributes = p.attributes.dump(), images = images_to_json(p.images).dump();
    std::string title_lower = lower_ascii(p.title);
    sql << "UPDATE products SET handle = :h, title = :t, title_lower = :tl, description = :d, status = :s, "
           "attributes = :a, images = :i, updated_at = :u WHERE id = :id",
        soci::use(p.handle), soci::use(p.title), soci::use(title_lower), soci::use(p.description),
        soci::use(p.status), soci::use(attributes), soci::use(images), soci::use(now), soci::use(id.value);
    return load_product(sql, id.value, true);
  });
  if (updated) changes_.bump();
  return updated;
}

Result<Product> CatalogService::archive_product(const ProductId& id) {
  ProductPatch patch;
  patch.status = "archived";
  return update_product(id, patch);
}

Result<Product> CatalogService::get_product(const std::string& id_or_handle) {
  return db_.read<Product>([&](soci::session& sql) { return load_product(sql, id_or_handle, true); });
}

Result<Page<Product>> CatalogService::list_products(const ProductQuery& query) {
  return db_.read<Page<Product>>([&](soci::session& sql) { return query_page(sql, query, nullptr); });
}

Result<Variant> CatalogService::load_variant(soci::session& sql, const ProductId& product, const VariantId& id) {
  QQ_ASSIGN_OR_RETURN(Product p, load_product(sql, product.value, true));
  if (p.id != product) return Error::not_found("product.not_found", "no product '" + product.value + "'");
  for (auto& v : p.variants)
    if (v.id == id) return std::move(v);
  return Error::not_found("variant.not_found", "no variant '" + id.value + "' on product " + product.value);
}

Result<VariantId> CatalogService::variant_by_sku(const std::string& sku) {
  return db_.read<VariantId>([&](soci::session& sql) -> Result<VariantId> {
    auto id = variant_id_for_sku(sql, sku);
    if (!id) return Error::not_found("variant.not_found", "no variant with SKU '" + sku + "'");
    return *id;
  });
}

Result<Variant> CatalogService::add_variant(const ProductId& product, const NewVariant& in) {
  QQ_TRY(validate(in));
  auto added = db_.write<Variant>([&](soci::session& sql) -> Result<Variant> {
    QQ_ASSIGN_OR_RETURN(Product p, load_product(sql, product.value, true));
    if (p.id != product) return Error::not_found("product.not_found", "no product '" + product.value + "'");
    if (p.variants.size() >= kMaxVariants) return Error::unprocessable("product.too_many_variants", "at most 100 variants");
    int position = p.variants.empty() ? 0 : p.variants.back().position + 1;
    Variant out;
    QQ_TRY(insert_variant(sql, product, in, position, &out));
    return out;
  });
  if (added) changes_.bump();
  return added;
}

Result<Variant> CatalogService::update_variant(const ProductId& product, const VariantId& id,
                                               const VariantPatch& patch) {
  Validator v;
  if (patch.sku) validate_sku(v, "sku", *patch.sku);
  if (patch.barcode && *patch.barcode) v.text("barcode", **patch.barcode, 64);
  if (patch.title) v.text("title", *patch.title, 200);
  if (patch.options) validate_options(v, "options", *patch.options);
  if (patch.prices) validate_prices(v, "prices", *patch.prices);
  QQ_TRY(v.status());
  auto updated = db_.write<Variant>([&](soci::session& sql) -> Result<Variant> {
    QQ_ASSIGN_OR_RETURN(Variant var, load_variant(sql, product, id));
    if (patch.sku && *patch.sku != var.sku) {
      long long taken = 0;
      sql << "SELECT COUNT(*) FROM variants WHERE sku = :s", soci::into(taken), soci::use(*patch.sku);
      if (taken) return Error::conflict("variant.sku_taken", "SKU '" + *patch.sku + "' is taken");
      var.sku = *patch.sku;
    }
    if (patch.barcode) var.barcode = *patch.barcode;
    if (patch.title) var.title = *patch.title;
    if (patch.options) var.options = *patch.options;
    var.updated_at = clock_.now_ms();
    std::string options = options_to_text(var.options);
    std::string barcode = var.barcode.value_or("");
    soci::indicator barcode_ind = var.barcode ? soci::i_ok : soci::i_null;
    sql << "UPDATE variants SET sku = :s, barcode = :b, title = :t, options = :o, updated_at = :u WHERE id = :id",
        soci::use(var.sku), soci::use(barcode, barcode_ind), soci::use(var.title), soci::use(options),
        soci::use(var.updated_at), soci::use(id.value);
    if (patch.prices) {
      sql << "DELETE FROM variant_prices WHERE variant_id = :v", soci::use(id.value);
      for (const auto& price : *patch.prices) {
        long long amount = price.amount;
        sql << "INSERT INTO variant_prices (variant_id, currency, amount) VALUES (:v, :c, :a)", soci::use(id.value),
            soci::use(price.currency), soci::use(amount);
      }
      var.prices = *patch.prices;
    }
    return var;
  });
  if (updated) changes_.bump();
  return updated;
}

Result<Variant> CatalogService::archive_variant(const ProductId& product, const VariantId& id) {
  auto archived = db_.write<Variant>([&](soci::session& sql) -> Result<Variant> {
    QQ_ASSIGN_OR_RETURN(Variant var, load_variant(sql, product, id));
    var.archived = true;
    var.updated_at = clock_.now_ms();
    sql << "UPDATE variants SET archived = 1, updated_at = :u WHERE id = :id", soci::use(var.updated_at),
        soci::use(id.value);
    return var;
  });
  if (archived) changes_.bump();
  return archived;
}

Result<Category> CatalogService::create_category(const NewCategory& in) {
  Validator v;
  v.handle("handle", in.handle);
  v.text("name", in.name, 200);
  v.range("position", in.position, 0, 1'000'000);
  QQ_TRY(v.status());
  auto created = db_.write<Category>([&](soci::session& sql) -> Result<Category> {
    long long taken = 0;
    sql << "SELECT COUNT(*) FROM categories WHERE handle = :h", soci::into(taken), soci::use(in.handle);
    if (taken) return Error::conflict("category.handle_taken", "handle '" + in.handle + "' is taken");
    if (in.parent_id) {
      Validator pv;
      long long n = 0;
      sql << "SELECT COUNT(*) FROM categories WHERE id = :id", soci::into(n), soci::use(in.parent_id->value);
      if (!n) pv.fail("parent_id", "unknown category " + in.parent_id->value);
      QQ_TRY(pv.status());
    }
    Category c{CategoryId(new_id("cat")), in.handle, in.name, in.parent_id, in.position};
    long long now = clock_.now_ms();
    std::string parent = in.parent_id ? in.parent_id->value : "";
    soci::indicator parent_ind = in.parent_id ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO categories (id, handle, name, parent_id, position, created_at, updated_at) "
           "VALUES (:id, :h, :n, :p, :pos, :ca, :ua)",
        soci::use(c.id.value), soci::use(c.handle), soci::use(c.name), soci::use(parent, parent_ind),
        soci::use(c.position), soci::use(now), soci::use(now);
    return c;
  });
  if (created) changes_.bump();
  return created;
}

Result<Category> CatalogService::update_category(const CategoryId& id, const CategoryPatch& patch) {
  Validator v;
  if (patch.name) v.text("name", *patch.name, 200);
  if (patch.position) v.range("position", *patch.position, 0, 1'000'000);
  QQ_TRY(v.status());
  auto updated = db_.write<Category>([&](soci::session& sql) -> Result<Category> {
    Category c;
    std::string parent;
    soci::indicator parent_ind;
    sql << "SELECT id, handle, name, parent_id, position FROM categories WHERE id = :id", soci::into(c.id.value),
        soci::into(c.handle), soci::into(c.name), soci::into(parent, parent_ind), soci::into(c.position),
        soci::use(id.value);
    if (!sql.got_data()) return Error::not_found("category.not_found", "no category '" + id.value + "'");
    if (parent_ind == soci::i_ok) c.parent_id = CategoryId(parent);
    if (patch.name) c.name = *patch.name;
    if (patch.position) c.position = *patch.position;
    if (patch.parent_id) {
      c.parent_id = *patch.parent_id;
      // Refuse cycles: walk up from the new parent; meeting this category means a loop.
      Validator pv;
      std::optional<std::string> cursor = c.parent_id ? std::optional<std::string>(c.parent_id->value) : std::nullopt;
      for (int depth = 0; cursor && depth < 100; ++depth) {
        if (*cursor == id.value) {
          pv.fail("parent_id", "would make the category its own ancestor");
          break;
        }
        std::string up;
        soci::indicator up_ind;
        sql << "SELECT parent_id FROM categories WHERE id = :id", soci::into(up, up_ind), soci::use(*cursor);
        if (!sql.got_data()) {
          pv.fail("parent_id", "unknown category " + *cursor);
          break;
        }
        cursor = up_ind == soci::i_ok ? std::optional<std::string>(up) : std::nullopt;
      }
      QQ_TRY(pv.status());
    }
    long long now = clock_.now_ms();
    parent = c.parent_id ? c.parent_id->value : "";
    parent_ind = c.parent_id ? soci::i_ok : soci::i_null;
    sql << "UPDATE categories SET name = :n, parent_id = :p, position = :pos, updated_at = :u WHERE id = :id",
        soci::use(c.name), soci::use(parent, parent_ind), soci::use(c.position), soci::use(now), soci::use(id.value);
    return c;
  });
  if (updated) changes_.bump();
  return updated;
}

Result<std::vector<Category>> CatalogService::list_categories() {
  return db_.read<std::vector<Category>>([&](soci::session& sql) -> Result<std::vector<Category>> {
    std::vector<Category> out;
    Category c;
    std::string parent;
    soci::indicator parent_ind;
    soci::statement st = (sql.prepare << "SELECT id, handle, name, parent_id, position FROM categories "
                                         "ORDER BY position, handle",
                          soci::into(c.id.value), soci::into(c.handle), soci::into(c.name),
                          soci::into(parent, parent_ind), soci::into(c.position));
    st.execute();
    while (st.fetch()) {
      Category copy = c;
      copy.parent_id = parent_ind == soci::i_ok ? std::optional<CategoryId>(CategoryId(parent)) : std::nullopt;
      out.push_back(std::move(copy));
    }
    return out;
  });
}

Result<Page<Product>> CatalogService::list_store_products(const StoreView& view, const ProductQuery& query) {
  ProductQuery q = query;
  q.status.clear();
  return db_.read<Page<Product>>([&](soci::session& sql) { return query_page(sql, q, &view); });
}

Result<Product> CatalogService::get_store_product(const StoreView& view, const std::string& id_or_handle) {
  return db_.read<Product>([&](soci::session& sql) -> Result<Product> {
    Product p;
    std::string attributes, images;
    DynamicQuery q(sql);
    q.text("SELECT ").text(kProductColumns).text(" FROM products p WHERE (p.id = ").param(id_or_handle)
        .text(" OR p.handle = ").param(id_or_handle)
        .text(") AND p.status = 'published' AND EXISTS (SELECT 1 FROM channel_products cp WHERE cp.product_id = p.id "
              "AND cp.channel_id = ")
        .param(view.channel.value)
        .text(")");
    bind_product(q, p, attributes, images);
    if (!q.execute()) return Error::not_found("product.not_found", "no product '" + id_or_handle + "'");
    p.attributes = json::parse(attributes);
    p.images = images_from_json(images);
    std::vector<Product> one{std::move(p)};
    hydrate(sql, one, false, &view.currency, &view.locations);
    return std::move(one.front());
  });
}

std::vector<CatalogService::Purchasable> CatalogService::purchasable_variants(soci::session& sql,
                                                                              const ChannelId& channel,
                                                                              const std::vector<VariantId>& ids) {
  std::vector<Purchasable> out;
  if (ids.empty()) return out;
  std::vector<std::string> id_values;
  for (const auto& id : ids) id_values.push_back(id.value);
  Purchasable row;
  std::string barcode, options;
  soci::indicator barcode_ind;
  DynamicQuery q(sql);
  q.text("SELECT v.id, v.product_id, v.sku, v.barcode, v.title, v.options, v.position, p.title, p.handle "
         "FROM variants v JOIN products p ON p.id = v.product_id WHERE v.archived = 0 AND p.status = 'published' "
         "AND v.id IN ")
      .in_list(id_values)
      .text(" AND EXISTS (SELECT 1 FROM channel_products cp WHERE cp.product_id = p.id AND cp.channel_id = ")
      .param(channel.value)
      .text(")");
  q.into(row.variant.id.value).into(row.variant.product_id.value).into(row.variant.sku).into(barcode, barcode_ind)
      .into(row.variant.title).into(options).into(row.variant.position).into(row.product_title)
      .into(row.product_handle);
  for (bool r = q.execute(); r; r = q.fetch()) {
    Purchasable copy = row;
    copy.product_id = copy.variant.product_id;
    copy.variant.barcode = barcode_ind == soci::i_ok ? std::optional<std::string>(barcode) : std::nullopt;
    copy.variant.options = options_from_text(options);
    out.push_back(std::move(copy));
  }
  std::unordered_map<std::string, Purchasable*> by_id;
  for (auto& p : out) by_id[p.variant.id.value] = &p;
  if (!out.empty()) {
    std::string vid, cur;
    long long amount = 0;
    DynamicQuery pq(sql);
    pq.text("SELECT variant_id, currency, amount FROM variant_prices WHERE variant_id IN ").in_list(id_values);
    pq.into(vid).into(cur).into(amount);
    for (bool r = pq.execute(); r; r = pq.fetch()) {
      auto it = by_id.find(vid);
      if (it != by_id.end()) it->second->variant.prices.push_back(Money{amount, cur});
    }
  }
  return out;
}

std::optional<VariantId> CatalogService::variant_id_for_sku(soci::session& sql, const std::string& sku) {
  std::string id;
  sql << "SELECT id FROM variants WHERE sku = :s", soci::into(id), soci::use(sku);
  if (!sql.got_data()) return std::nullopt;
  return VariantId(id);
}

}  // namespace quanqu::catalog
