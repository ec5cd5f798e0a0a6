// Order values: an immutable snapshot of what was bought, at what price, and its timeline.
#pragma once

#include "common/address.h"
#include "common/attribution.h"
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

// Who made a change: an admin (the admin key's id, never the key), a customer (their id, empty
// for a guest), a plugin (its name), a job (the job's id) or the system.
struct Actor {
  std::string type = "system";  // admin, customer, plugin, job, system
  std::string id;               // empty when none (system, a guest)

  static Actor admin(std::string key_id) { return {"admin", std::move(key_id)}; }
  static Actor customer(std::string customer_id) { return {"customer", std::move(customer_id)}; }
  static Actor plugin(std::string name) { return {"plugin", std::move(name)}; }
  static Actor job(std::string job_id) { return {"job", std::move(job_id)}; }
  static Actor system() { return {"system", ""}; }
};

struct OrderEvent {
  std::string id;
  std::string type;  // order.placed, order.cancelled, ...
  nlohmann::json data;
  std::int64_t created_at = 0;
  Actor actor;
};

// Units of one order line, in a refund or a return.
struct LineQuantity {
  std::string line_id;
  std::int64_t quantity = 0;
};

// Money given back through the payment provider. Recorded `pending` before the provider is
// asked, then `succeeded` or `failed`; a pending refund counts against what can still be refunded,
// so a retry or a crash in between never refunds twice.
struct Refund {
  std::string id;  // ref_...; also the idempotency key the provider gets
  std::int64_t amount = 0;
  std::string currency;
  std::string reason;
  std::vector<LineQuantity> lines;  // empty for a refund by amount
  std::string status;               // pending, succeeded, failed
  std::string provider;             // empty: recorded without a provider (manual)
  std::string provider_reference;
  std::string failure;  // why it failed (the provider's code and message)
  std::string return_id;  // the return it pays for, if any
  Actor actor;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// Goods sent back: lines that were shipped, restocked at a location or not (damaged goods).
struct Return {
  std::string id;  // ret_...
  std::vector<LineQuantity> lines;
  bool restock = false;
  std::string location_id;  // where the units went back on hand; empty without restock
  std::string reason;
  std::string refund_id;  // the refund it triggered, if any
  Actor actor;
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
  std::optional<CustomerId> customer_id;  // the signed-in customer whose cart it was; none for a guest
  // The lifecycle state (orders/lifecycle.h): placed, paid, shipped, delivered, ready_for_pickup,
  // picked_up, completed, cancelled.
  std::string status;
  std::string currency;
  std::string email;
  Address shipping_address;
  std::vector<OrderLine> lines;
  pricing::Totals totals;  // lines inside are not repeated: see `lines`
  std::vector<inventory::Allocation> allocations;
  // not_required (the channel takes no payment step), authorized, captured, partially_refunded,
  // refunded, cancelled (an authorisation let go with a cancelled order).
  std::string payment_status = "not_required";
  std::string payment_session_id;  // empty when not_required
  std::string payment_provider;
  // What happened to the goods, kept in step with `status`: unfulfilled, fulfilled (shipped:
  // stock left the shelf), delivered, picked_up (handed over at the store: stock left the shelf).
  std::string fulfilment_status = "unfulfilled";
  std::string fulfilment_type = "ship";  // ship or pickup
  std::optional<Pickup> pickup;          // pickup orders only
  // The shipping chosen in the cart: {"provider", "amount", "label", "location_id", "data"}; null when none.
  nlohmann::json shipping;
  std::vector<OrderEvent> events;
  std::vector<Refund> refunds;  // oldest first
  std::vector<Return> returns;  // oldest first
  // Copied from the cart at checkout; an admin may change the metadata later (OrderService::update_metadata).
  nlohmann::json metadata = nlohmann::json::object();
  std::optional<Source> source;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;

  // The money taken: the total once the payment is settled, else 0.
  std::int64_t captured_amount() const;
  // Refunds that succeeded.
  std::int64_t refunded_total() const;
  // What may still be refunded: captured less succeeded and pending refunds.
  std::int64_t refundable_amount() const;
};

}  // namespace quanqu::orders
