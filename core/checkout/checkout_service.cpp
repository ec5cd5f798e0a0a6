// The checkout transaction: idempotency, re-pricing, reservation, order creation.
#include "checkout/checkout_service.h"
#include "cart/cart_service.h"
#include "common/random.h"
#include "inventory/inventory_service.h"
#include "orders/order_service.h"
#include "orders/pickup_code.h"

#include <algorithm>

namespace quanqu::checkout {
namespace {

using nlohmann::json;

// Where the cart's stock may come from, in order of preference: a pickup store alone; else the
// channel's locations with the one the shipping was quoted from first, so that the order ships
// from where its delivery fee was computed whenever that location can supply it.
std::vector<LocationId> preferred_locations(const channels::Channel& channel, const cart::Cart& cart) {
  if (cart.fulfilment_type == "pickup" && cart.pickup_location_id) return {*cart.pickup_location_id};
  std::vector<LocationId> locations = channel.location_ids;
  if (cart.shipping && cart.shipping->contains("location_id")) {
    LocationId quoted(cart.shipping->value("location_id", ""));
    auto it = std::find(locations.begin(), locations.end(), quoted);
    if (it != locations.end()) std::rotate(locations.begin(), it, it + 1);
  }
  return locations;
}

Result<Address> store_address(soci::session& sql, const LocationId& location) {
  std::string address;
  sql << "SELECT address FROM stock_locations WHERE id = :id", soci::into(address), soci::use(location.value);
  if (!sql.got_data()) return Error::internal("the pickup store " + location.value + " is gone");
  return Address::from_json(json::parse(address));
}

// The lines short of stock, as the 409 `inventory.insufficient_stock` lists them.
json short_lines_json(const cart::Cart& cart, const std::vector<inventory::Shortage>& shortages) {
  json lines = json::array();
  for (const auto& s : shortages)
    for (const auto& i : cart.items)
      if (i.id.value == s.line_id)
        lines.push_back({{"item_id", i.id.value},
                         {"sku", i.sku},
                         {"variant_id", i.variant_id.value},
                         {"requested", s.requested},
                         {"available", std::min<std::int64_t>(s.available, s.requested)}});
  return lines;
}

}  // namespace

CheckoutService::CheckoutService(storage::Database& db, const Clock& clock, ChangeCounter& changes,
                                 events::EventBus& events, payments::PaymentService& payments)
    : db_(db), clock_(clock), changes_(changes), events_(events), payments_(payments) {}

Result<CheckoutResult> CheckoutService::checkout(const channels::Channel& channel, const CheckoutRequest& request) {
  const auto& key = request.idempotency_key;
  bool key_ok = !key.empty() && key.size() <= 255 &&
                std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
  if (!key_ok)
    return Error::invalid("idempotency.key_required",
                          "checkout needs an Idempotency-Key header of 1 to 255 printable characters",
                          {{"Idempotency-Key", "must be 1 to 255 printable ASCII characters"}});
  std::string scope = "checkout:" + channel.id.value;

  // The payment step, before the transaction (a provider may be a gateway across the network).
  // A replayed key skips it: the transaction below answers with the first result.
  std::optional<payments::PaymentSession> payment;
  if (!channel.payment_providers.empty()) {
    auto seen = db_.read<bool>([&](soci::session& sql) -> Result<bool> {
      long long n = 0;
      sql << "SELECT COUNT(*) FROM idempotency_keys WHERE scope = :s AND idem_key = :k", soci::into(n), soci::use(scope),
          soci::use(key);
      return n > 0;
    });
    if (!seen) return seen.error();
    if (!*seen) {
      auto cart = db_.read<cart::Cart>([&](soci::session& sql) { return cart::CartService::load(sql, channel, request.cart_id); });
      if (!cart) return cart.error();
      if (cart->status != "open")
        return Error::conflict("cart.completed", "the cart was checked out already with another Idempotency-Key");
      auto authorized = payments_.authorize_for_checkout(channel, *cart);
      if (!authorized) return authorized.error();
      payment = std::move(*authorized);
    }
  }
  bool paid_at_checkout = false;

  auto done = db_.write<CheckoutResult>([&](soci::session& sql) -> Result<CheckoutResult> {
    paid_at_checkout = false;
    // 1. A key seen before: the same request gets the same order; another request is refused.
    std::string fingerprint, resource, secret;
    soci::indicator secret_ind;
    sql << "SELECT fingerprint, resource_id, secret FROM idempotency_keys WHERE scope = :s AND idem_key = :k",
        soci::into(fingerprint), soci::into(resource), soci::into(secret, secret_ind), soci::use(scope), soci::use(key);
    if (sql.got_data()) {
      if (fingerprint != request.fingerprint)
        return Error::conflict("idempotency.key_reused",
                               "this Idempotency-Key was used for a different request; use a new key");
      QQ_ASSIGN_OR_RETURN(orders::Order order, orders::OrderService::load(sql, OrderId(resource)));
      std::string token = secret_ind == soci::i_ok ? secret : "", code;
      if (order.pickup && order.pickup->sealed_code && !token.empty())
        code = orders::unseal_pickup_code(*order.pickup->sealed_code, token, order.id);
      return CheckoutResult{std::move(order), token, code, true};
    }

    // Claim the key before any other work. A concurrent request with the same key blocks on
    // this row (PostgreSQL's unique index) until this transaction ends; if it commits, the
    // other one fails, is retried from the start by Database::write, and replays the order.
    long long claimed_at = clock_.now_ms();
    std::string no_resource;
    sql << "INSERT INTO idempotency_keys (scope, idem_key, fingerprint, resource_id, created_at) "
           "VALUES (:s, :k, :f, :r, :t)",
        soci::use(scope), soci::use(key), soci::use(request.fingerprint), soci::use(no_resource), soci::use(claimed_at);

    // 2. The cart, priced now.
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, cart::CartService::load(sql, channel, request.cart_id));
    if (cart.status != "open")
      return Error::conflict("cart.completed", "the cart was checked out already with another Idempotency-Key");
    if (cart.items.empty()) return Error::unprocessable("checkout.empty_cart", "the cart has no items");
    bool pickup = cart.fulfilment_type == "pickup" && cart.pickup_location_id.has_value();
    std::vector<FieldError> missing;
    if (!cart.email) missing.push_back({"email", "is required to check out"});
    if (!pickup && !cart.shipping_address) missing.push_back({"shipping_address", "is required to check out"});
    if (!missing.empty()) {
      Error e = Error::unprocessable("checkout.missing_details",
                                     pickup ? "set the cart's email first" : "set the cart's email and shipping address first");
      e.fields = std::move(missing);
      return e;
    }
    if (!pickup && !channel.fulfilment_providers.empty() && !cart.shipping)
      return Error::unprocessable("checkout.shipping_required",
                                  "choose a shipping method first (POST .../shipping-method)");
    json unavailable = json::array();
    for (const auto& i : cart.items)
      if (!i.unavailable_reason.empty())
        unavailable.push_back({{"item_id", i.id.value}, {"sku", i.sku}, {"reason", i.unavailable_reason}});
    if (!unavailable.empty()) {
      Error e = Error::unprocessable("checkout.unavailable_items", "some items can no longer be bought; remove them");
      e.details = {{"lines", unavailable}};
      return e;
    }

    // 3. Reserve stock by the allocation rule (inventory/allocation.h); the levels are locked in
    //    one global order, so concurrent checkouts never deadlock. A pickup store is checked
    //    again (it may have stopped offering pickup since the cart chose it).
    OrderId order_id(new_id("order"));
    if (pickup) QQ_TRY(cart::CartService::check_pickup(sql, channel, cart.items, *cart.pickup_location_id));
    std::vector<inventory::LineDemand> demand;
    for (const auto& i : cart.items) demand.push_back({i.id.value, i.variant_id, i.quantity});
    QQ_ASSIGN_OR_RETURN(inventory::AllocationPlan plan,
                        inventory::InventoryService::reserve_order(sql, clock_, demand,
                                                                   preferred_locations(channel, cart), order_id.value));
    if (!plan.ok())
      return Error::conflict("inventory.insufficient_stock", "not enough stock for some lines; nothing was reserved",
                             {{"lines", short_lines_json(cart, plan.shortages)}});
    std::vector<inventory::Allocation> allocations = std::move(plan.allocations);

    // 4. The order, with an immutable snapshot of lines and totals, and the cart's metadata and source.
    orders::Order order;
    order.id = order_id;
    order.channel_id = channel.id;
    order.cart_id = cart.id;
    order.currency = cart.currency;
    order.email = *cart.email;
    order.totals = cart.totals;
    order.customer_id = cart.customer_id;
    order.metadata = cart.metadata;
    order.source = cart.source;
    std::string token = "qq_ot_" + random_hex(24), pickup_code;
    if (pickup) {
      // The goods wait at the store: its address is where the order goes.
      QQ_ASSIGN_OR_RETURN(order.shipping_address, store_address(sql, *cart.pickup_location_id));
      order.fulfilment_type = "pickup";
      orders::Pickup p;
      p.location_id = *cart.pickup_location_id;
      p.location_name = cart.pickup_location_name;
      pickup_code = orders::new_pickup_code();
      p.code_hash = orders::pickup_code_hash(order_id, pickup_code);
      p.sealed_code = orders::seal_pickup_code(pickup_code, token, order_id);
      order.pickup = std::move(p);
    } else {
      order.shipping_address = *cart.shipping_address;
      if (cart.shipping) order.shipping = *cart.shipping;
    }
    order.totals.lines.clear();
    order.allocations = std::move(allocations);
    for (const auto& i : cart.items)
      order.lines.push_back({i.id.value, i.variant_id, i.product_id, i.sku, i.product_title, i.variant_title, i.options,
                             i.quantity, i.price->unit_price, i.price->subtotal, i.price->tax, i.price->total});
    if (!channel.payment_providers.empty()) {
      // A concurrent same-key request may have got here without the payment step (its key was
      // claimed after our look); it then waits on the key row above and replays instead.
      if (!payment)
        return Error::unprocessable("checkout.payment_required", "start a payment session for this cart first");
      QQ_ASSIGN_OR_RETURN(payments::PaymentSession claimed,
                          payments::PaymentService::claim_for_order(sql, payment->id, cart, order_id));
      order.payment_status = "authorized";
      order.payment_session_id = claimed.id.value;
      order.payment_provider = claimed.provider;
      paid_at_checkout = claimed.status == "captured";
    }
    orders::Actor actor = request.actor.value_or(orders::Actor::customer(""));
    if (!request.actor && cart.customer_id) actor.id = cart.customer_id->value;
    QQ_ASSIGN_OR_RETURN(order, orders::OrderService::insert(sql, clock_, std::move(order), token, actor));
    if (paid_at_checkout) {
      bool changed = false;
      QQ_ASSIGN_OR_RETURN(order, orders::OrderService::mark_paid_in(sql, clock_, order.id,
                                                                    {{"payment_session_id", order.payment_session_id},
                                                                     {"provider", order.payment_provider}},
                                                                    changed));
    }

    long long now = clock_.now_ms();
    sql << "UPDATE carts SET status = 'completed', order_id = :o, updated_at = :u WHERE id = :id",
        soci::use(order.id.value), soci::use(now), soci::use(cart.id.value);
    sql << "UPDATE idempotency_keys SET resource_id = :r, secret = :sec WHERE scope = :s AND idem_key = :k",
        soci::use(order.id.value), soci::use(token), soci::use(scope), soci::use(key);
    // 5. The events, in this transaction: they exist if and only if the order does.
    events_.record(sql, "order.placed", orders::OrderService::event_data(order));
    events_.record(sql, "inventory.changed",
                   inventory::InventoryService::changed_event(sql, order.allocations, "reserve", order.id.value));
    if (paid_at_checkout) events_.record(sql, "order.paid", orders::OrderService::event_data(order));
    return CheckoutResult{std::move(order), token, pickup_code, false};
  });
  if (done && !done->replayed) {
    inventory::InventoryService::stock_changed(changes_, done->order.allocations);
    events_.notify();
  }
  return done;
}

}  // namespace quanqu::checkout
