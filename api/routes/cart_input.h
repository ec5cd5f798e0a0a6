// Reading cart inputs (an item to add, the shopper's details) from JSON, shared by store routes and plugin calls.
#pragma once

#include "cart/cart.h"
#include "routes/json_body.h"

#include <optional>

namespace quanqu::api {

// {"sku"|"variant_id", "quantity"}; records field errors in `f`.
std::optional<cart::AddItem> read_add_item(JsonFields f);
// {"email", "shipping_address", "metadata", "source"}, each optional; email, shipping_address and
// source are nullable (null clears them); metadata is an object whose null values remove keys.
// Types are checked here, bounds by cart::CartService::validate.
cart::CartPatch read_cart_details(JsonFields& f);
// "source": {"plugin", "campaign", "referral"} (each an optional string), or null; nothing when absent.
std::optional<std::optional<Source>> read_source(JsonFields& f);
// "fulfilment": {"type": "ship"} or {"type": "pickup", "location_id"} (store PATCH of a cart).
std::optional<cart::FulfilmentChoice> read_fulfilment(JsonFields& f);

}  // namespace quanqu::api
