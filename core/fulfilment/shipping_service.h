// Shipping: quotes from the channel's fulfilment providers for a cart, and the one the shopper chooses.
#pragma once

#include "cart/cart.h"
#include "cart/cart_service.h"
#include "channels/channel.h"
#include "common/providers.h"
#include "common/result.h"
#include "storage/database.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace quanqu::fulfilment {

// One way to ship the cart, as a provider quoted it.
struct ShippingOption {
  std::string provider;
  std::int64_t amount = 0;  // minor units of the cart's currency
  std::string currency;
  std::string label;
  LocationId location_id;  // where it would ship from
  nlohmann::json data = nlohmann::json::object();

  // As stored on the cart and the order: {"provider", "amount", "label", "location_id", "data"}.
  nlohmann::json to_json() const;
};

// A provider that cannot serve the cart, with its reason ("local-delivery.out_of_range").
struct ShippingRefusal {
  std::string provider;
  std::string code;
  std::string message;
};

struct ShippingOptions {
  std::vector<ShippingOption> items;
  std::vector<ShippingRefusal> refusals;
};

// The fulfilling location is the first of the channel's (in preference order) that holds every
// line, else its first. Provider calls happen outside transactions; the choice is stored only if the cart did not
// change in between (CartService::set_shipping).
class ShippingService {
 public:
  ShippingService(storage::Database& db, cart::CartService& carts, Providers& providers);

  // Every fulfilment provider of the channel asked for a quote. The cart must be open, have
  // items (422 `checkout.empty_cart`) and a shipping address (422 `checkout.missing_details`).
  Result<ShippingOptions> options(const channels::Channel& channel, const CartId& cart);
  // Quotes with one provider (400 `shipping.provider_not_offered` when the channel does not
  // offer it; its refusal as a 422) and stores the quote on the cart.
  Result<cart::Cart> choose(const channels::Channel& channel, const CartId& cart, const std::string& provider);

 private:
  struct Prepared {
    cart::Cart cart;
    nlohmann::json location;  // the fulfilling stock location as providers see it
    LocationId location_id;
  };
  Result<Prepared> prepare(const channels::Channel& channel, const CartId& id);
  Result<ShippingOption> quote(const channels::Channel& channel, const Prepared& p, const std::string& provider);

  storage::Database& db_;
  cart::CartService& carts_;
  Providers& providers_;
};

}  // namespace quanqu::fulfilment
