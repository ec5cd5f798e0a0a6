// Order values: an immutable snapshot of what was bought, at what price, and its timeline.
#pragma once

#include "common/address.h"
#include "common/ids.h"
#include "inventory/inventory.h"
#include "pricing/pricing.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quanqu::orders {

struct OrderLine {
  std::string id;  // the cart item it came from
  VariantId variant_id;
  ProductId product_id;
  std::string sku;
  std::string product_title;
  std::string variant_title;
  std::map<std::string, std::string> options;
  std::int64_t quantity = 0;
  std::int64_t unit_price = 0;
  std::int64_t subtotal = 0;
  std::int64_t tax = 0;
  std::int64_t total = 0;
};

struct OrderEvent {
  std::string id;
  std::string type;  // order.placed, order.cancelled, ...
  nlohmann::json data;
  std::int64_t created_at = 0;
};

// The pickup side of an order picked up in store.
struct Pickup {
  LocationId location_id;
  std::string location_name;
  int failed_attempts = 0;  // wrong codes since the last unlock
  bool locked = false;      // kMaxPickupAttempts wrong codes: no pickup until an admin unlocks it
  std::optional<std::int64_t> ready_at;    // when the store marked it ready
  std::optional<std::int64_t> expires_at;  // ready_at + the store's hold: cancelled after it
  // Stored, never shown: the code's hash (pickup_code_hash) and its sealed form (seal_pickup_code).
  std::string code_hash;
  std::optional<std::int64_t> sealed_code;
};

struct Order {
  OrderId id;
  std::int64_t number = 0;  // human-friendly, increasing
  ChannelId channel_id;
  CartId cart_id;
  // pending, paid, fulfilled, ready_for_pickup, picked_up, completed, cancelled
  std::string status;
  std::string currency;
  std::string email;
  Address shipping_address;
  std::vector<OrderLine> lines;
  pricing::Totals totals;  // lines inside are not repeated: see `lines`
  std::vector<inventory::Allocation> allocations;
  // not_required (the channel takes no payment step), authorized, captured, cancelled.
  std::string payment_status = "not_required";
  std::string payment_session_id;  // empty when not_required
  std::string payment_provider;
  // unfulfilled, fulfilled (handed to delivery; stock left the shelf), delivered, picked_up.
  std::string fulfilment_status = "unfulfilled";
  std::string fulfilment_type = "ship";  // ship or pickup
  std::optional<Pickup> pickup;          // pickup orders only
  // The shipping chosen in the cart: {"provider", "amount", "label", "location_id", "data"}; null when none.
  nlohmann::json shipping;
  std::vector<OrderEvent> events;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

}  // namespace quanqu::orders
