// Order values: an immutable snapshot of what was bought, at what price, and its timeline.
#pragma once

#include "common/address.h"
#include "common/ids.h"
#include "inventory/inventory.h"
#include "pricing/pricing.h"

#include <nlohmann/json.hpp>

#include <map>
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

struct Order {
  OrderId id;
  std::int64_t number = 0;  // human-friendly, increasing
  ChannelId channel_id;
  CartId cart_id;
  std::string status;  // pending, paid, fulfilled, completed, cancelled
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
  // unfulfilled, fulfilled (handed to delivery; stock left the shelf), delivered.
  std::string fulfilment_status = "unfulfilled";
  // The shipping chosen in the cart: {"provider", "amount", "label", "location_id", "data"}; null when none.
  nlohmann::json shipping;
  std::vector<OrderEvent> events;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

}  // namespace quanqu::orders
