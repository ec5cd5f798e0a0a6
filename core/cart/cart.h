// Cart values: a shopper's lines on one channel, priced fresh on every read.
#pragma once

#include "common/address.h"
#include "common/attribution.h"
#include "common/ids.h"
#include "pricing/pricing.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quanqu::cart {

struct CartItem {
  CartItemId id;
  VariantId variant_id;
  ProductId product_id;
  std::string sku;
  std::string product_title;
  std::string product_handle;
  std::string variant_title;
  std::map<std::string, std::string> options;
  std::int64_t quantity = 0;
  // Priced lines only; an item that can no longer be bought has none and says why.
  std::optional<pricing::PricedLine> price;
  std::string unavailable_reason;  // empty when purchasable
};

struct Cart {
  CartId id;
  ChannelId channel_id;
  std::optional<CustomerId> customer_id;  // the signed-in customer it belongs to; none for a guest
  std::string currency;
  std::optional<std::string> email;
  std::optional<Address> shipping_address;
  std::string status;  // open, completed
  std::optional<OrderId> order_id;
  std::vector<CartItem> items;
  // The shipping method chosen (fulfilment provider's quote): {"provider", "amount", "label",
  // "location_id", "data"}. Cleared whenever the lines or the shipping address change, since
  // the quote depended on them.
  std::optional<nlohmann::json> shipping;
  // How the order will be fulfilled: "ship" (to the shipping address) or "pickup" (at
  // pickup_location_id, a pickup-enabled store of the channel: no address, no shipping fee).
  std::string fulfilment_type = "ship";
  std::optional<LocationId> pickup_location_id;
  std::string pickup_location_name;  // empty unless pickup
  pricing::Totals totals;  // over the purchasable items, plus shipping
  // Free-form key/values (common/attribution.h bounds them) and where the cart came from; both
  // are copied onto the order at checkout.
  nlohmann::json metadata = nlohmann::json::object();
  std::optional<Source> source;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// A line taken out of a customer's cart when it moved to a channel that does not sell or price it.
struct RemovedItem {
  VariantId variant_id;
  std::string sku;
  std::int64_t quantity = 0;
  std::string reason;  // not_sold_on_channel, no_price
  std::string detail;  // for people
};

// A line of a guest cart merged into a customer's cart with fewer units than asked (stock, limits).
struct CappedItem {
  VariantId variant_id;
  std::string sku;
  std::int64_t requested = 0;  // the customer's units plus the guest's
  std::int64_t quantity = 0;   // what the cart now holds
};

// A signed-in customer's active cart, as opened on one channel.
struct CustomerCart {
  Cart cart;
  std::vector<RemovedItem> removed_items;
  std::vector<CappedItem> capped_items;
};

// Which variant to add: by id or by SKU (exactly one).
struct AddItem {
  std::optional<VariantId> variant_id;
  std::optional<std::string> sku;
  std::int64_t quantity = 1;
};

// The fulfilment chosen for a cart: {"type": "ship"} or {"type": "pickup", "location_id"}.
struct FulfilmentChoice {
  std::string type;                        // ship or pickup
  std::optional<LocationId> location_id;   // pickup only (required there)
};

struct CartPatch {
  std::optional<std::optional<std::string>> email;             // inner nullopt clears it
  std::optional<std::optional<Address>> shipping_address;      // inner nullopt clears it
  std::optional<FulfilmentChoice> fulfilment{};
  // Keys to set, null removing one (apply_metadata_patch); on create, the cart's first metadata.
  std::optional<nlohmann::json> metadata{};
  std::optional<std::optional<Source>> source{};  // replaces the whole source; inner nullopt clears it

  // Whether the patch changes only metadata and source (which a shipping quote does not depend on).
  bool only_attribution() const { return !email && !shipping_address && !fulfilment; }
};

}  // namespace quanqu::cart
