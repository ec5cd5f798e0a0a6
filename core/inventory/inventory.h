// Stock locations and inventory levels: on hand and reserved per (variant, location).
#pragma once

#include "common/address.h"
#include "common/ids.h"

#include <cstdint>
#include <optional>
#include <string>

namespace quanqu::inventory {

struct StockLocation {
  LocationId id;
  std::string code;
  std::string name;
  std::string kind;  // warehouse or store
  Address address;   // its latitude/longitude are the location's coordinates
  bool pickup_enabled = false;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct NewStockLocation {
  std::string code;
  std::string name;
  std::string kind = "warehouse";
  Address address;
  bool pickup_enabled = false;
};

struct StockLocationPatch {
  std::optional<std::string> name;
  std::optional<Address> address;
  std::optional<bool> pickup_enabled;
};

struct InventoryLevel {
  VariantId variant_id;
  std::string sku;
  LocationId location_id;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t updated_at = 0;
  std::int64_t available() const { return on_hand - reserved; }
};

// Units of one variant held at one location for an order.
struct Allocation {
  VariantId variant_id;
  LocationId location_id;
  std::int64_t quantity = 0;
};

}  // namespace quanqu::inventory
