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
  // `owner`: the signed-in customer creating the cart (none for a guest); only they may use it.
  Result<Cart> create(const channels::Channel& channel, const CartPatch& details, const std::vector<AddItem>& items,
                      const std::optional<CustomerId>& owner = std::nullopt);
  // The customer who owns the cart: nullopt for a guest's cart; an unknown cart is a 404.
  Result<std::optional<CustomerId>> owner(const CartId& id);
  Result<Cart> get(const channels::Channel& channel, const CartId& id);
  // One active cart per customer on the whole engine: their newest open cart, on any channel.
  // Opened from `channel`, it moves there when it was on another: its currency becomes the
  // channel's, its chosen shipping is dropped, and the lines the channel does not sell or price
  // are removed and listed in `removed_items`. A customer without one gets a new, empty cart.
  Result<CustomerCart> open_for_customer(const channels::Channel& channel, const CustomerId& customer);
  // Merges the guest cart `guest` (open, without an owner, on `channel`; anything else is a 404
  // `cart.not_found`) into the customer's active cart, opened on `channel` as above: units of a
  // variant add up, each line capped by the channel's available stock and the line limits (each
  // cap listed in `capped_items`). The guest's attribution carries over: its source when the
  // customer's cart has none, its metadata keys where the customer's cart has none of that name
  // (within the bounds of common/attribution.h; a key that would go past them is left behind). The
  // guest cart is then `merged` and belongs to the customer. A customer without an active cart
  // simply takes the guest cart over, metadata and source with it.
  Result<CustomerCart> merge_guest(const channels::Channel& channel, const CustomerId& customer, const CartId& guest);

  // Adds units; a variant already in the cart gets its quantity raised. More than is
  // available on the channel is a 409 `inventory.insufficient_stock`.
  Result<Cart> add_item(const channels::Channel& channel, const CartId& id, const AddItem& item);
  Result<Cart> set_quantity(const channels::Channel& channel, const CartId& id, const CartItemId& item,
                            std::int64_t quantity);
  Result<Cart> remove_item(const channels::Channel& channel, const CartId& id, const CartItemId& item);
  // Sets the patch's fields. `metadata` is merged into the cart's: each key given is set, a key
  // given null is removed, others are kept; the result must stay within the bounds of
  // common/attribution.h (else a 400 `validation_failed` on `metadata`, nothing changed). `source`
  // replaces the whole source (null clears it). A patch of only metadata and source keeps the
  // chosen shipping; any other change drops it.
  Result<Cart> update(const channels::Channel& channel, const CartId& id, const CartPatch& patch);

  // update() with a fulfilment choice: pickup at a store needs a location of the channel with
  // pickup enabled (else a 409 `cart.pickup_unavailable`, details.reason not_in_channel or
  // pickup_disabled) that has every purchasable line available (else a 409
  // `inventory.insufficient_stock`, details.lines naming each short line); the chosen shipping is
  // dropped. Back to ship clears the store.

  // The pickup store of a cart checked inside a caller's transaction (checkout uses it too): the
  // location's name, or the 409s of update() above.
  static Result<std::string> check_pickup(soci::session& sql, const channels::Channel& channel,
                                          const std::vector<CartItem>& items, const LocationId& location);

  // Stores the chosen shipping (a fulfilment provider's quote) if the cart still matches the
  // fingerprint the quote was made for (409 `cart.changed` otherwise).
  Result<Cart> set_shipping(const channels::Channel& channel, const CartId& id, const std::string& expected_fingerprint,
                            const nlohmann::json& shipping);
  // What a shipping quote depends on: the lines, the address and the subtotal.
  static std::string shipping_fingerprint(const Cart& cart);

  // Loads and prices a cart inside a caller's transaction (checkout uses it).
  static Result<Cart> load(soci::session& sql, const channels::Channel& channel, const CartId& id);
  // Whether `id` is an open cart without an owner on `channel` (a guest's).
  static bool is_guest_cart(soci::session& sql, const channels::Channel& channel, const CartId& id);

 private:
  Status add_in(soci::session& sql, const channels::Channel& channel, const CartId& id, const AddItem& item);
  // The customer's active cart moved to `channel` (see open_for_customer), or nothing.
  Result<std::optional<CustomerCart>> active_in(soci::session& sql, const channels::Channel& channel,
                                                const CustomerId& customer);
  CartId insert_cart(soci::session& sql, const channels::Channel& channel, const std::optional<CustomerId>& owner);
  // Publishes cart.updated for a cart that was written.
  // Records cart.updated for a cart written in this transaction (`sql`); then, after the commit,
  // published() wakes the event relay.
  Result<Cart> recorded(soci::session& sql, Result<Cart> cart);
  Result<Cart> published(Result<Cart> cart);
  // Runs `change` on an open cart in one transaction; `clears_shipping` drops the chosen shipping
  // (its quote depended on the lines and the address).
  Result<Cart> mutate(const channels::Channel& channel, const CartId& id,
                      const std::function<Status(soci::session&, Cart&)>& change, bool clears_shipping = true);

  storage::Database& db_;
  const Clock& clock_;
  events::EventBus& events_;
};

}  // namespace quanqu::cart
