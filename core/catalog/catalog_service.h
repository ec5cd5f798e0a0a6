// The catalog: merchants write products, variants and categories; channels read what is published.
#pragma once

#include "catalog/product.h"
#include "common/change_counter.h"
#include "common/clock.h"
#include "common/result.h"
#include "storage/database.h"

namespace quanqu::catalog {

// What a storefront may see: one channel's published products, priced in its currency,
// with availability summed over its stock locations.
struct StoreView {
  ChannelId channel;
  std::string currency;
  std::vector<LocationId> locations;
};

struct ProductQuery {
  std::string q;         // case-insensitive title substring
  std::string category;  // id or handle; includes its descendants
  std::string status;    // admin only: draft, published, archived
  int limit = 20;        // 1..100
  std::string cursor;    // the next_cursor of the previous page
};

class CatalogService {
 public:
  CatalogService(storage::Database& db, const Clock& clock, ChangeCounter& changes);

  // Field checks of an input, without touching the database: every offending field at once.
  // The write methods run them too; the API also calls them to report value errors together
  // with JSON type errors.
  static Status validate(const NewProduct& input);
  static Status validate(const NewVariant& input);

  // --- Admin ---
  // Validates every field and creates the product with its variants in one transaction.
  // A taken handle or SKU is a 409 (`product.handle_taken`, `variant.sku_taken`).
  Result<Product> create_product(const NewProduct& input);
  Result<Product> update_product(const ProductId& id, const ProductPatch& patch);
  // Sets the status to archived: hidden from every channel, kept for orders and history.
  Result<Product> archive_product(const ProductId& id);
  // By id or handle, with every variant (archived ones too) and every price.
  Result<Product> get_product(const std::string& id_or_handle);
  Result<Page<Product>> list_products(const ProductQuery& query);

  // The variant with this SKU; unknown is a 404 `variant.not_found`.
  Result<VariantId> variant_by_sku(const std::string& sku);

  Result<Variant> add_variant(const ProductId& product, const NewVariant& input);
  Result<Variant> update_variant(const ProductId& product, const VariantId& id, const VariantPatch& patch);
  // Archived variants cannot be added to carts; existing orders keep their snapshot.
  Result<Variant> archive_variant(const ProductId& product, const VariantId& id);

  Result<Category> create_category(const NewCategory& input);
  Result<Category> update_category(const CategoryId& id, const CategoryPatch& patch);
  Result<std::vector<Category>> list_categories();

  // --- Store (one channel's view) ---
  Result<Page<Product>> list_store_products(const StoreView& view, const ProductQuery& query);
  // By id or handle; a product not published to the channel is a 404 like an unknown one.
  Result<Product> get_store_product(const StoreView& view, const std::string& id_or_handle);

  // --- For other core contexts, inside their transaction ---
  // A variant purchasable on the channel: exists, not archived, product published to the channel.
  struct Purchasable {
    Variant variant;
    std::string product_title;
    std::string product_handle;
    ProductId product_id;
  };
  // Looks variants up by id and SKU in one go; unknown ones are left out of the result.
  static std::vector<Purchasable> purchasable_variants(soci::session& sql, const ChannelId& channel,
                                                       const std::vector<VariantId>& ids);
  static std::optional<VariantId> variant_id_for_sku(soci::session& sql, const std::string& sku);

 private:
  Result<Product> load_product(soci::session& sql, const std::string& id_or_handle, bool include_archived);
  Result<Variant> load_variant(soci::session& sql, const ProductId& product, const VariantId& id);
  Status insert_variant(soci::session& sql, const ProductId& product, const NewVariant& v, int position,
                        Variant* out);
  Status check_categories(soci::session& sql, const std::vector<CategoryId>& ids);

  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
};

}  // namespace quanqu::catalog
