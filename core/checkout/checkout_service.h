// Checkout: turns an open cart into a placed order in one transaction, reserving its stock.
#pragma once

#include "channels/channel.h"
#include "common/change_counter.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "payments/payment_service.h"
#include "orders/order.h"
#include "storage/database.h"

#include <optional>

namespace quanqu::checkout {

struct CheckoutRequest {
  CartId cart_id;
  std::string idempotency_key;  // 1..255 printable characters
  std::string fingerprint;      // a hash of the request; the same key with another one is a 409
  // Who places the order, for its timeline; none: the cart's customer (empty for a guest).
  std::optional<orders::Actor> actor{};
};

struct CheckoutResult {
  orders::Order order;
  std::string access_token;  // lets the shopper read the order; shown on creation and on replay
  std::string pickup_code;   // a pickup order's six digits (unsealed with the token on replay); else empty
  bool replayed = false;     // true when the key had been used for this very request before
};

class CheckoutService {
 public:
  CheckoutService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events,
                  payments::PaymentService& payments);

  // In one transaction: replays a known key (or refuses it when the fingerprint differs with a
  // 409 `idempotency.key_reused`), re-reads the cart and its current prices, requires an e-mail
  // and shipping address (422 `checkout.missing_details`) and purchasable lines (422
  // `checkout.unavailable_items`), reserves stock for every line over the channel's locations
  // (409 `inventory.insufficient_stock` naming every short line; nothing is written), creates
  // the order and completes the cart. Stock is allocated by inventory::plan_allocations: the
  // whole order from the first location that has it all (the shipping quote's location first),
  // else line by line, splitting a line only when no location has all of it. A pickup cart
  // reserves at its store only, needs no shipping address or method, and its order gets a
  // pickup code (CheckoutResult::pickup_code; stored hashed and sealed with the access token).
  // A ship cart: a channel with fulfilment providers needs a shipping
  // method chosen (422 `checkout.shipping_required`); its charge is in the cart's totals. A channel with payment providers first has the cart's
  // payment session authorised (PaymentService::authorize_for_checkout, outside the
  // transaction: it may call a gateway); no authorisation, no order. After commit it publishes
  // order.placed, inventory.changed and, for a payment captured already, order.paid.
  Result<CheckoutResult> checkout(const channels::Channel& channel, const CheckoutRequest& request);

 private:
  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
  events::EventBus& events_;
  payments::PaymentService& payments_;
};

}  // namespace quanqu::checkout
