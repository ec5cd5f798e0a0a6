// Stock locations and inventory levels: on hand and reserved per (variant, location).
#pragma once

#include "common/address.h"
#include "common/ids.h"

#include <cstdint>
#include <optional>
#include <string>

namespace quanqu::inventory {

constexpr int kDefaultPickupHoldHours = 72;
constexpr int kMaxPickupHoldHours = 720;

struct StockLocation {
  LocationId id;
  std::string code;
  std::string name;
  std::string kind;  // warehouse or store
  Address address;   // its latitude/longitude are the location's coordinates
  bool pickup_enabled = false;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  // How long a pickup order waits at this store once ready (1..720 hours) before it is cancelled.
  int pickup_hold_hours = kDefaultPickupHoldHours;
};

struct NewStockLocation {
  std::string code;
  std::string name;
  std::string kind = "warehouse";
  Address address;
  bool pickup_enabled = false;
  int pickup_hold_hours = kDefaultPickupHoldHours;
};

struct StockLocationPatch {
  std::optional<std::string> name;
  std::optional<Address> address;
  std::optional<bool> pickup_enabled;
  std::optional<std::int64_t> pickup_hold_hours;
};

// A store a shopper may pick a variant up at: what it has available now and how far it is.
struct PickupAvailability {
  StockLocation location;
  std::int64_t available = 0;               // on hand less reserved, never below 0
  std::optional<double> distance_metres;    // when both the caller and the store have coordinates
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

// One movement of stock at one level, as the ledger records it. `reason` is what moved it:
// reserve, release, fulfilment (orders, with the order id as reference), adjustment (an admin,
// with a reason_code), transfer_out and transfer_in (with the transfer id as reference).
struct LedgerEntry {
  std::string id;
  VariantId variant_id;
  std::string sku;
  LocationId location_id;
  std::string reason;
  std::string reason_code;  // adjustments only: damaged, lost, found, counted, returned, correction
  std::int64_t delta_on_hand = 0;
  std::int64_t delta_reserved = 0;
  std::int64_t on_hand_after = 0;
  std::int64_t reserved_after = 0;
  std::string reference;  // empty when none
  std::string note;       // empty when none
  std::int64_t created_at = 0;
};

// An admin's correction of on hand at one level, by `delta` units (not zero), with a reason code.
struct NewAdjustment {
  VariantId variant_id;
  LocationId location_id;
  std::int64_t delta = 0;
  std::string reason_code;
  std::string note;
};

// Units of one variant moved from one location to another, in one transaction.
struct NewTransfer {
  VariantId variant_id;
  LocationId from_location_id;
  LocationId to_location_id;
  std::int64_t quantity = 0;
  std::string note;
};

struct Transfer {
  std::string id;
  VariantId variant_id;
  std::string sku;
  LocationId from_location_id;
  LocationId to_location_id;
  std::int64_t quantity = 0;
  std::string note;
  std::int64_t created_at = 0;
};

// Units of one variant held at one location for an order.
struct Allocation {
  VariantId variant_id;
  LocationId location_id;
  std::int64_t quantity = 0;
};

}  // namespace quanqu::inventory
