// Catalog values: products, their variants and prices, categories.
#pragma once

#include "common/ids.h"
#include "common/money.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quanqu::catalog {

struct Image {
  std::string url;
  std::string alt;
};

struct Variant {
  VariantId id;
  ProductId product_id;
  std::string sku;
  std::optional<std::string> barcode;
  std::string title;
  std::map<std::string, std::string> options;  // {"size": "M", "color": "Navy"}
  std::vector<Money> prices;                   // one per currency
  int position = 0;
  bool archived = false;
  // Store reads only: units available to the channel (on hand - reserved, over its locations).
  std::optional<std::int64_t> available;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;

  // The price in `currency`, if the variant has one.
  std::optional<Money> price_in(const std::string& currency) const;
};

struct Product {
  ProductId id;
  std::string handle;  // URL slug, unique
  std::string title;
  std::string description;
  std::string status;  // draft, published, archived
  std::vector<CategoryId> category_ids;
  nlohmann::json attributes = nlohmann::json::object();  // flat: string, number or boolean values
  std::vector<Image> images;
  std::vector<Variant> variants;  // by position; archived ones only in admin reads
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct Category {
  CategoryId id;
  std::string handle;
  std::string name;
  std::optional<CategoryId> parent_id;
  int position = 0;
};

struct NewVariant {
  std::string sku;
  std::optional<std::string> barcode;
  std::string title;
  std::map<std::string, std::string> options;
  std::vector<Money> prices;
};

struct VariantPatch {
  std::optional<std::string> sku;
  std::optional<std::optional<std::string>> barcode;  // set to nullopt inside to clear
  std::optional<std::string> title;
  std::optional<std::map<std::string, std::string>> options;
  std::optional<std::vector<Money>> prices;  // replaces all prices
};

struct NewProduct {
  std::string handle;
  std::string title;
  std::string description;
  std::string status = "draft";
  std::vector<CategoryId> category_ids;
  nlohmann::json attributes = nlohmann::json::object();
  std::vector<Image> images;
  std::vector<NewVariant> variants;
};

struct ProductPatch {
  std::optional<std::string> handle;
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::string> status;
  std::optional<std::vector<CategoryId>> category_ids;
  std::optional<nlohmann::json> attributes;
  std::optional<std::vector<Image>> images;
};

struct NewCategory {
  std::string handle;
  std::string name;
  std::optional<CategoryId> parent_id;
  int position = 0;
};

struct CategoryPatch {
  std::optional<std::string> name;
  std::optional<std::optional<CategoryId>> parent_id;
  std::optional<int> position;
};

// A page of a cursor-paginated list; `next_cursor` is empty on the last page.
template <class T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;
};

}  // namespace quanqu::catalog
