// The JSON shapes of the API's resources: one function per resource, shared by store and admin.
#pragma once

#include "access/access_service.h"
#include "cart/cart.h"
#include "catalog/product.h"
#include "channels/channel.h"
#include "customers/customer_service.h"
#include "inventory/inventory.h"
#include "orders/order.h"
#include "payments/payment_session.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

namespace quanqu::api {

using nlohmann::json;

json money_json(std::int64_t amount, const std::string& currency);
// A time (ms since the Unix epoch) as RFC 3339 text, or null when there is none.
json optional_time_json(const std::optional<std::int64_t>& ms);
json totals_json(const pricing::Totals& totals);

// Admin: every variant with all prices and its archived flag.
json product_admin_json(const catalog::Product& product);
// Store: the channel's price and availability per variant; no status or archived variants.
json product_store_json(const catalog::Product& product, const std::string& currency);
json category_json(const catalog::Category& category);
json variant_admin_json(const catalog::Variant& variant);

json channel_json(const channels::Channel& channel);
json api_key_json(const access::ApiKey& key);
json location_json(const inventory::StockLocation& location);
json level_json(const inventory::InventoryLevel& level);

json cart_json(const cart::Cart& cart);
// {"cart", "removed_items", "capped_items"}: a customer's cart as opened on a channel.
json customer_cart_json(const cart::CustomerCart& opened);
// `admin` adds the stock allocations and the lifecycle moves allowed now (`allowed_moves`). Store
// replies (admin false) show a pickup order's code in pickup.code: `pickup_code` when the caller
// holds the order's token (checkout, X-Order-Token reads), else null. Admin replies never carry it.
json order_json(const orders::Order& order, bool admin, const std::string& pickup_code = "");
// {"type": "admin" | "customer" | "plugin" | "job" | "system", "id": "..." | null}
json actor_json(const orders::Actor& actor);
json refund_json(const orders::Refund& refund);
json return_json(const orders::Return& ret);
// One timeline entry: {"id", "type", "at", "data", "actor"}.
json timeline_event_json(const orders::OrderEvent& event);
// A payment session for the storefront (times as RFC 3339, like every other resource).
json payment_session_json(const payments::PaymentSession& session);

// A customer as the store (its own account) and plugins see it: id, email, name, phone, group_id, times.
json customer_json(const customers::Customer& customer);
json saved_address_json(const customers::SavedAddress& address);
json identity_json(const customers::Identity& identity);
json customer_group_json(const customers::Group& group);

// {"items": [...], "next_cursor": "..." | null}
json page_json(json items, const std::string& next_cursor);

}  // namespace quanqu::api
