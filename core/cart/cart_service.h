// Carts: create, add, change, remove, set details; totals are recomputed on every change.
#pragma once

#include "cart/cart.h"
#include "channels/channel.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "storage/database.h"

namespace quanqu::cart {

class CartService {
 public:
  CartService(storage::Database& db, const Clock& clock, events::EventBus& events);

  // Field checks without the database (see CatalogService::validate).
  static Status validate(const CartPatch& details);
  static Status validate(const AddItem& item);

  // Every call takes the caller's channel: a cart of another channel is a 404, as if unknown.
  Result<Cart> create(const channels::Channel& channel, const CartPatch& details, const std::vector<AddItem>& items);
  Result<Cart> get(const channels::Channel& channel, const CartId& id);
  // Adds units; a variant already in the cart gets its quantity raised. More than is
  // available on the channel is a 409 `inventory.insufficient_stock`.
  Result<Cart> add_item(const channels::Channel& channel, const CartId& id, const AddItem& item);
  Result<Cart> set_quantity(const channels::Channel& channel, const CartId& id, const CartItemId& item,
                            std::int64_t quantity);
  Result<Cart> remove_item(const channels::Channel& channel, const CartId& id, const CartItemId& item);
  Result<Cart> update(const channels::Channel& channel, const CartId& id, const CartPatch& patch);

  // Stores the chosen shipping (a fulfilment provider's quote) if the cart still matches the
  // fingerprint the quote was made for (409 `cart.changed` otherwise).
  Result<Cart> set_shipping(const channels::Channel& channel, const CartId& id, const std::string& expected_fingerprint,
                            const nlohmann::json& shipping);
  // What a shipping quote depends on: the lines, the address and the subtotal.
  static std::string shipping_fingerprint(const Cart& cart);

  // Loads and prices a cart inside a caller's transaction (checkout uses it).
  static Result<Cart> load(soci::session& sql, const channels::Channel& channel, const CartId& id);

 private:
  Status add_in(soci::session& sql, const channels::Channel& channel, const CartId& id, const AddItem& item);
  // Publishes cart.updated for a cart that was written.
  // Records cart.updated for a cart written in this transaction (`sql`); then, after the commit,
  // published() wakes the event relay.
  Result<Cart> recorded(soci::session& sql, Result<Cart> cart);
  Result<Cart> published(Result<Cart> cart);
  Result<Cart> mutate(const channels::Channel& channel, const CartId& id,
                      const std::function<Status(soci::session&, Cart&)>& change);

  storage::Database& db_;
  const Clock& clock_;
  events::EventBus& events_;
};

}  // namespace quanqu::cart
