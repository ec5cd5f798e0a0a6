// Cart persistence and pricing on read: prices always come from the catalog, never from the cart.
#include "cart/cart_service.h"
#include "catalog/catalog_service.h"
#include "common/attribution.h"
#include "common/validation.h"
#include "storage/dynamic_query.h"

#include <algorithm>
#include <unordered_map>

namespace quanqu::cart {
namespace {

using nlohmann::json;

Error not_found(const CartId& id) {
  return Error::not_found("cart.not_found", "no cart '" + id.value + "'");
}

// A line that cannot be bought on the cart's channel, with a stable reason code.
RemovedItem removed(const CartItem& i) {
  std::string code = i.unavailable_reason.rfind("no price", 0) == 0 ? "no_price" : "not_sold_on_channel";
  return {i.variant_id, i.sku, i.quantity, code, i.unavailable_reason};
}

std::int64_t available_on_channel(soci::session& sql, const channels::Channel& channel, const VariantId& variant) {
  if (channel.location_ids.empty()) return 0;
  std::vector<std::string> locations;
  for (const auto& l : channel.location_ids) locations.push_back(l.value);
  long long available = 0;
  soci::indicator ind;
  storage::DynamicQuery q(sql);
  q.text("SELECT SUM(on_hand - reserved) FROM inventory_levels WHERE variant_id = ")
      .param(variant.value)
      .text(" AND location_id IN ")
      .in_list(locations);
  q.into(available, ind);
  q.execute();
  return ind == soci::i_ok ? std::max<long long>(0, available) : 0;
}

// Writes the patch's fields; metadata is `current` with the patch applied, checked against the bounds
// of what may be stored (a refusal changes nothing: the caller's transaction is rolled back).
Status write_details(soci::session& sql, const CartId& id, const CartPatch& patch, const json& current) {
  if (patch.email) {
    std::string email = patch.email->value_or("");
    soci::indicator ind = *patch.email ? soci::i_ok : soci::i_null;
    sql << "UPDATE carts SET email = :e WHERE id = :id", soci::use(email, ind), soci::use(id.value);
  }
  if (patch.shipping_address) {
    std::string address = *patch.shipping_address ? (*patch.shipping_address)->to_json().dump() : "";
    soci::indicator ind = *patch.shipping_address ? soci::i_ok : soci::i_null;
    sql << "UPDATE carts SET shipping_address = :a WHERE id = :id", soci::use(address, ind), soci::use(id.value);
  }
  if (patch.metadata) {
    json merged = apply_metadata_patch(current, *patch.metadata);
    Validator v;
    validate_metadata_result(v, "metadata", merged);
    QQ_TRY(v.status());
    std::string text = merged.dump();
    sql << "UPDATE carts SET metadata = :m WHERE id = :id", soci::use(text), soci::use(id.value);
  }
  if (patch.source) {
    bool some = *patch.source && !(*patch.source)->empty();
    std::string text = some ? (*patch.source)->to_json().dump() : "";
    soci::indicator ind = some ? soci::i_ok : soci::i_null;
    sql << "UPDATE carts SET source = :s WHERE id = :id", soci::use(text, ind), soci::use(id.value);
  }
  return ok_status();
}

// At sign-in a guest's attribution is not lost: the guest cart's source is kept when the customer's
// cart has none, and its metadata keys fill those the customer's cart lacks while the bounds hold.
void carry_attribution(soci::session& sql, const Cart& from, const Cart& into) {
  json metadata = into.metadata;
  for (const auto& [key, value] : from.metadata.items()) {
    if (metadata.contains(key)) continue;
    json with = metadata;
    with[key] = value;
    Validator bounds;
    validate_metadata_result(bounds, "metadata", with);
    if (bounds.ok()) metadata = std::move(with);
  }
  if (metadata != into.metadata) {
    std::string text = metadata.dump();
    sql << "UPDATE carts SET metadata = :m WHERE id = :id", soci::use(text), soci::use(into.id.value);
  }
  if (!into.source && from.source) {
    std::string text = from.source->to_json().dump();
    sql << "UPDATE carts SET source = :s WHERE id = :id", soci::use(text), soci::use(into.id.value);
  }
}

}  // namespace

CartService::CartService(storage::Database& db, const Clock& clock, events::EventBus& events)
    : db_(db), clock_(clock), events_(events) {}

Status CartService::validate(const CartPatch& patch) {
  Validator v;
  if (patch.email && *patch.email) v.email("email", **patch.email);
  if (patch.shipping_address && *patch.shipping_address) (*patch.shipping_address)->validate(v, "shipping_address");
  if (patch.fulfilment) {
    if (patch.fulfilment->type != "ship" && patch.fulfilment->type != "pickup")
      v.fail("fulfilment/type", "must be ship or pickup");
    else if (patch.fulfilment->type == "pickup" && !patch.fulfilment->location_id)
      v.fail("fulfilment/location_id", "is required for pickup");
    else if (patch.fulfilment->type == "ship" && patch.fulfilment->location_id)
      v.fail("fulfilment/location_id", "is only for pickup");
  }
  if (patch.metadata) {
    validate_metadata_patch(v, "metadata", *patch.metadata);
    // Every key the patch sets is in the result: past the bounds alone, it is past them anywhere.
    if (v.ok()) validate_metadata_result(v, "metadata", apply_metadata_patch(json::object(), *patch.metadata));
  }
  if (patch.source && *patch.source) validate_source(v, "source", **patch.source);
  return v.status();
}

Status CartService::validate(const AddItem& item) {
  Validator v;
  if (item.variant_id.has_value() == item.sku.has_value()) v.fail("sku", "give exactly one of sku and variant_id");
  v.range("quantity", item.quantity, 1, pricing::kMaxQuantity);
  return v.status();
}

Result<std::string> CartService::check_pickup(soci::session& sql, const channels::Channel& channel,
                                              const std::vector<CartItem>& items, const LocationId& location) {
  std::string name;
  int pickup = 0;
  sql << "SELECT name, pickup_enabled FROM stock_locations WHERE id = :id", soci::into(name), soci::into(pickup),
      soci::use(location.value);
  bool known = sql.got_data();
  bool in_channel = known && std::find(channel.location_ids.begin(), channel.location_ids.end(), location) !=
                                 channel.location_ids.end();
  if (!in_channel)
    return Error::conflict("cart.pickup_unavailable",
                           "'" + location.value + "' is not a store of this channel; pick up at one of its stores",
                           json{{"location_id", location.value}, {"reason", "not_in_channel"}});
  if (!pickup)
    return Error::conflict("cart.pickup_unavailable", "'" + name + "' does not offer pickup",
                           json{{"location_id", location.value}, {"reason", "pickup_disabled"}});
  json short_lines = json::array();
  for (const auto& i : items) {
    if (!i.unavailable_reason.empty()) continue;
    long long on_hand = 0, reserved = 0;
    sql << "SELECT on_hand, reserved FROM inventory_levels WHERE variant_id = :v AND location_id = :l",
        soci::into(on_hand), soci::into(reserved), soci::use(i.variant_id.value), soci::use(location.value);
    long long available = sql.got_data() ? std::max<long long>(0, on_hand - reserved) : 0;
    if (available < i.quantity)
      short_lines.push_back({{"item_id", i.id.value},
                             {"sku", i.sku},
                             {"variant_id", i.variant_id.value},
                             {"requested", i.quantity},
                             {"available", available}});
  }
  if (!short_lines.empty())
    return Error::conflict("inventory.insufficient_stock", "'" + name + "' does not have every line for pickup",
                           json{{"location_id", location.value}, {"lines", short_lines}});
  return name;
}

Result<Cart> CartService::load(soci::session& sql, const channels::Channel& channel, const CartId& id) {
  Cart c;
  std::string email, address, order_id, shipping, pickup_location, pickup_name, customer, metadata, source;
  soci::indicator email_ind, address_ind, order_ind, shipping_ind = soci::i_null, pickup_ind = soci::i_null,
                                                     pickup_name_ind = soci::i_null, customer_ind = soci::i_null,
                                                     source_ind = soci::i_null;
  sql << "SELECT c.id, c.channel_id, c.currency, c.email, c.shipping_address, c.status, c.order_id, c.created_at, "
         "c.updated_at, c.shipping, c.fulfilment_type, c.pickup_location_id, l.name, c.customer_id, c.metadata, "
         "c.source FROM carts c LEFT JOIN stock_locations l ON l.id = c.pickup_location_id WHERE c.id = :id",
      soci::into(c.id.value), soci::into(c.channel_id.value), soci::into(c.currency), soci::into(email, email_ind),
      soci::into(address, address_ind), soci::into(c.status), soci::into(order_id, order_ind), soci::into(c.created_at),
      soci::into(c.updated_at), soci::into(shipping, shipping_ind), soci::into(c.fulfilment_type),
      soci::into(pickup_location, pickup_ind), soci::into(pickup_name, pickup_name_ind),
      soci::into(customer, customer_ind), soci::into(metadata), soci::into(source, source_ind), soci::use(id.value);
  if (!sql.got_data() || c.channel_id != channel.id) return not_found(id);
  if (customer_ind == soci::i_ok) c.customer_id = CustomerId(customer);
  c.metadata = metadata_from_text(metadata);
  if (source_ind == soci::i_ok)
    if (Source s = Source::from_json(json::parse(source, nullptr, false)); !s.empty()) c.source = std::move(s);
  if (email_ind == soci::i_ok) c.email = email;
  if (address_ind == soci::i_ok) c.shipping_address = Address::from_json(json::parse(address));
  if (order_ind == soci::i_ok) c.order_id = OrderId(order_id);
  if (shipping_ind == soci::i_ok) c.shipping = json::parse(shipping);
  if (c.fulfilment_type == "pickup" && pickup_ind == soci::i_ok) {
    c.pickup_location_id = LocationId(pickup_location);
    if (pickup_name_ind == soci::i_ok) c.pickup_location_name = pickup_name;
    c.shipping.reset();  // a pickup pays no shipping
  }

  CartItem item;
  std::string options;
  soci::statement st =
      (sql.prepare
           << "SELECT ci.id, ci.variant_id, ci.quantity, v.sku, v.title, v.options, p.id, p.title, p.handle "
              "FROM cart_items ci JOIN variants v ON v.id = ci.variant_id JOIN products p ON p.id = v.product_id "
              "WHERE ci.cart_id = :c ORDER BY ci.position, ci.created_at, ci.id",
       soci::into(item.id.value), soci::into(item.variant_id.value), soci::into(item.quantity), soci::into(item.sku),
       soci::into(item.variant_title), soci::into(options), soci::into(item.product_id.value),
       soci::into(item.product_title), soci::into(item.product_handle), soci::use(id.value));
  st.execute();
  std::vector<VariantId> variant_ids;
  while (st.fetch()) {
    CartItem copy = item;
    copy.options = json::parse(options).get<std::map<std::string, std::string>>();
    variant_ids.push_back(copy.variant_id);
    c.items.push_back(std::move(copy));
  }
  std::unordered_map<std::string, catalog::CatalogService::Purchasable> purchasable;
  for (auto& p : catalog::CatalogService::purchasable_variants(sql, channel.id, variant_ids))
    purchasable.emplace(p.variant.id.value, std::move(p));

  std::vector<pricing::LineInput> lines;
  for (auto& i : c.items) {
    auto it = purchasable.find(i.variant_id.value);
    if (it == purchasable.end()) {
      i.unavailable_reason = "no longer sold on this channel";
      continue;
    }
    auto price = it->second.variant.price_in(c.currency);
    if (!price) {
      i.unavailable_reason = "no price in " + c.currency;
      continue;
    }
    lines.push_back({i.id.value, price->amount, i.quantity});
  }
  QQ_ASSIGN_OR_RETURN(c.totals, pricing::price(c.currency, lines, {channel.tax_rate_bp, channel.tax_inclusive}));
  std::size_t next = 0;
  for (auto& i : c.items)
    if (i.unavailable_reason.empty()) i.price = c.totals.lines[next++];
  if (c.shipping)
    QQ_TRY(pricing::add_shipping(c.totals, c.shipping->value("amount", std::int64_t{0}), c.shipping->value("label", "")));
  return c;
}

Status CartService::add_in(soci::session& sql, const channels::Channel& channel, const CartId& id,
                           const AddItem& item) {
  QQ_TRY(validate(item));
  std::optional<VariantId> variant = item.variant_id;
  std::string field = item.sku ? "sku" : "variant_id";
  std::string shown = item.sku ? *item.sku : item.variant_id->value;
  if (item.sku) variant = catalog::CatalogService::variant_id_for_sku(sql, *item.sku);
  auto unknown = Error::invalid("cart.unknown_variant", "no variant '" + shown + "' is sold on this channel",
                                {{field, "is not a variant sold on this channel"}});
  if (!variant) return unknown;
  auto found = catalog::CatalogService::purchasable_variants(sql, channel.id, {*variant});
  if (found.empty()) return unknown;
  if (!found.front().variant.price_in(channel.currency))
    return Error::unprocessable("variant.no_price", "'" + shown + "' has no price in " + channel.currency);

  long long existing = 0;
  std::string item_id;
  sql << "SELECT id, quantity FROM cart_items WHERE cart_id = :c AND variant_id = :v", soci::into(item_id),
      soci::into(existing), soci::use(id.value), soci::use(variant->value);
  bool present = sql.got_data();
  long long quantity = existing + item.quantity;
  if (quantity > pricing::kMaxQuantity)
    return Error::unprocessable("cart.quantity_limit",
                                "a line may hold at most " + std::to_string(pricing::kMaxQuantity) + " units");
  std::int64_t available = available_on_channel(sql, channel, *variant);
  if (quantity > available)
    return Error::conflict("inventory.insufficient_stock",
                           "only " + std::to_string(available) + " of '" + found.front().variant.sku + "' available",
                           json{{"lines", json::array({{{"sku", found.front().variant.sku},
                                                        {"variant_id", variant->value},
                                                        {"requested", quantity},
                                                        {"available", available}}})}});
  if (present) {
    sql << "UPDATE cart_items SET quantity = :q WHERE id = :id", soci::use(quantity), soci::use(item_id);
  } else {
    long long count = 0;
    sql << "SELECT COUNT(*) FROM cart_items WHERE cart_id = :c", soci::into(count), soci::use(id.value);
    if (count >= static_cast<long long>(pricing::kMaxLines))
      return Error::unprocessable("cart.too_many_lines",
                                  "a cart holds at most " + std::to_string(pricing::kMaxLines) + " lines");
    std::string new_item = new_id("item");
    long long now = clock_.now_ms(), position = 0;
    soci::indicator last_ind;
    sql << "SELECT MAX(position) FROM cart_items WHERE cart_id = :c", soci::into(position, last_ind),
        soci::use(id.value);
    position = (last_ind == soci::i_ok ? position : 0) + 1;
    sql << "INSERT INTO cart_items (id, cart_id, variant_id, quantity, created_at, position) "
           "VALUES (:id, :c, :v, :q, :t, :p)",
        soci::use(new_item), soci::use(id.value), soci::use(variant->value), soci::use(quantity), soci::use(now),
        soci::use(position);
  }
  return ok_status();
}

Result<Cart> CartService::mutate(const channels::Channel& channel, const CartId& id,
                                 const std::function<Status(soci::session&, Cart&)>& change, bool clears_shipping) {
  return published(db_.write<Cart>([&](soci::session& sql) -> Result<Cart> {
    QQ_ASSIGN_OR_RETURN(Cart cart, load(sql, channel, id));
    if (cart.status != "open")
      return Error::conflict("cart.completed", "the cart was checked out already; start a new cart");
    QQ_TRY(change(sql, cart));
    long long now = clock_.now_ms();
    // The shipping quote depended on the lines and the address: choose it again after a change.
    if (clears_shipping)
      sql << "UPDATE carts SET updated_at = :u, shipping = NULL WHERE id = :id", soci::use(now), soci::use(id.value);
    else
      sql << "UPDATE carts SET updated_at = :u WHERE id = :id", soci::use(now), soci::use(id.value);
    return recorded(sql, load(sql, channel, id));
  }));
}

Result<Cart> CartService::set_shipping(const channels::Channel& channel, const CartId& id,
                                       const std::string& expected_fingerprint, const json& shipping) {
  return published(db_.write<Cart>([&](soci::session& sql) -> Result<Cart> {
    QQ_ASSIGN_OR_RETURN(Cart cart, load(sql, channel, id));
    if (cart.status != "open")
      return Error::conflict("cart.completed", "the cart was checked out already; start a new cart");
    if (cart.fulfilment_type == "pickup")
      return Error::conflict("cart.pickup_selected",
                             "the cart is picked up in store and pays no shipping; choose {\"type\": \"ship\"} first");
    // The quote was made for the cart as it was; a change in between means quoting again.
    if (shipping_fingerprint(cart) != expected_fingerprint)
      return Error::conflict("cart.changed", "the cart changed while shipping was quoted; choose shipping again");
    std::string doc = shipping.dump();
    long long now = clock_.now_ms();
    sql << "UPDATE carts SET shipping = :s, updated_at = :u WHERE id = :id", soci::use(doc), soci::use(now),
        soci::use(id.value);
    return recorded(sql, load(sql, channel, id));
  }));
}

std::string CartService::shipping_fingerprint(const Cart& cart) {
  json lines = json::array();
  for (const auto& i : cart.items) lines.push_back({i.variant_id.value, i.quantity});
  return json{{"lines", lines},
              {"address", cart.shipping_address ? cart.shipping_address->to_json() : json(nullptr)},
              {"subtotal", cart.totals.subtotal}}
      .dump();
}

Result<Cart> CartService::recorded(soci::session& sql, Result<Cart> cart) {
  if (cart) {
    std::int64_t units = 0;
    for (const auto& i : cart->items) units += i.quantity;
    events_.record(sql, "cart.updated",
                   {{"cart_id", cart->id.value},
                    {"channel_id", cart->channel_id.value},
                    {"customer_id", cart->customer_id ? json(cart->customer_id->value) : json(nullptr)},
                    {"lines", cart->items.size()},
                    {"units", units},
                    {"total", {{"amount", cart->totals.total}, {"currency", cart->currency}}},
                    {"metadata", cart->metadata},
                    {"source", cart->source ? cart->source->to_json() : json(nullptr)}});
  }
  return cart;
}

Result<Cart> CartService::published(Result<Cart> cart) {
  if (cart) events_.notify();
  return cart;
}

Result<Cart> CartService::create(const channels::Channel& channel, const CartPatch& details,
                                 const std::vector<AddItem>& items, const std::optional<CustomerId>& owner) {
  QQ_TRY(validate(details));
  if (items.size() > pricing::kMaxLines) return Error::invalid("cart.too_many_lines", "too many items");
  return published(db_.write<Cart>([&](soci::session& sql) -> Result<Cart> {
    CartId id = insert_cart(sql, channel, owner);
    QQ_TRY(write_details(sql, id, details, json::object()));
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto added = add_in(sql, channel, id, items[i]);
      if (!added.ok()) {
        Error e = std::move(added).error();
        for (auto& f : e.fields) f.field = "items/" + std::to_string(i) + "/" + f.field;
        return e;
      }
    }
    return recorded(sql, load(sql, channel, id));
  }));
}

CartId CartService::insert_cart(soci::session& sql, const channels::Channel& channel,
                                const std::optional<CustomerId>& owner) {
  CartId id(new_id("cart"));
  long long now = clock_.now_ms();
  std::string customer = owner ? owner->value : std::string();
  soci::indicator ind = owner ? soci::i_ok : soci::i_null;
  sql << "INSERT INTO carts (id, channel_id, currency, status, customer_id, created_at, updated_at) "
         "VALUES (:id, :c, :cur, 'open', :o, :ca, :ua)",
      soci::use(id.value), soci::use(channel.id.value), soci::use(channel.currency), soci::use(customer, ind),
      soci::use(now), soci::use(now);
  return id;
}

bool CartService::is_guest_cart(soci::session& sql, const channels::Channel& channel, const CartId& id) {
  std::string found;
  sql << "SELECT id FROM carts WHERE id = :id AND channel_id = :c AND status = 'open' AND customer_id IS NULL",
      soci::into(found), soci::use(id.value), soci::use(channel.id.value);
  return sql.got_data();
}

Result<std::optional<CustomerCart>> CartService::active_in(soci::session& sql, const channels::Channel& channel,
                                                           const CustomerId& customer) {
  // Cart ids grow with time: the newest open cart is the active one.
  std::string id, on;
  sql << "SELECT id, channel_id FROM carts WHERE customer_id = :c AND status = 'open' ORDER BY id DESC LIMIT 1",
      soci::into(id), soci::into(on), soci::use(customer.value);
  if (!sql.got_data()) return std::optional<CustomerCart>();
  CustomerCart out;
  if (on != channel.id.value) {
    long long now = clock_.now_ms();
    // Its pickup store belongs to the other channel: the cart ships again until a store is chosen.
    sql << "UPDATE carts SET channel_id = :c, currency = :cur, shipping = NULL, fulfilment_type = 'ship', "
           "pickup_location_id = NULL, updated_at = :u WHERE id = :id",
        soci::use(channel.id.value), soci::use(channel.currency), soci::use(now), soci::use(id);
    QQ_ASSIGN_OR_RETURN(Cart moved, load(sql, channel, CartId(id)));
    for (const auto& i : moved.items) {
      if (i.unavailable_reason.empty()) continue;
      out.removed_items.push_back(removed(i));
      sql << "DELETE FROM cart_items WHERE id = :id", soci::use(i.id.value);
    }
  }
  QQ_ASSIGN_OR_RETURN(out.cart, load(sql, channel, CartId(id)));
  return std::optional<CustomerCart>(std::move(out));
}

Result<CustomerCart> CartService::open_for_customer(const channels::Channel& channel, const CustomerId& customer) {
  auto opened = db_.write<CustomerCart>([&](soci::session& sql) -> Result<CustomerCart> {
    QQ_ASSIGN_OR_RETURN(std::optional<CustomerCart> active, active_in(sql, channel, customer));
    if (active) return std::move(*active);
    CustomerCart fresh;
    QQ_ASSIGN_OR_RETURN(fresh.cart, load(sql, channel, insert_cart(sql, channel, customer)));
    return fresh;
  });
  if (opened) QQ_TRY(published(opened->cart));
  return opened;
}

Result<CustomerCart> CartService::merge_guest(const channels::Channel& channel, const CustomerId& customer,
                                              const CartId& guest) {
  auto merged = db_.write<CustomerCart>([&](soci::session& sql) -> Result<CustomerCart> {
    if (!is_guest_cart(sql, channel, guest)) return not_found(guest);
    QQ_ASSIGN_OR_RETURN(Cart from, load(sql, channel, guest));
    QQ_ASSIGN_OR_RETURN(std::optional<CustomerCart> active, active_in(sql, channel, customer));
    long long now = clock_.now_ms();
    if (!active) {
      sql << "UPDATE carts SET customer_id = :c, updated_at = :u WHERE id = :id", soci::use(customer.value),
          soci::use(now), soci::use(guest.value);
      CustomerCart taken;
      QQ_ASSIGN_OR_RETURN(taken.cart, load(sql, channel, guest));
      return taken;
    }
    CustomerCart out = std::move(*active);
    const CartId into = out.cart.id;
    for (const auto& g : from.items) {
      if (!g.unavailable_reason.empty()) {
        out.removed_items.push_back(removed(g));
        continue;
      }
      std::int64_t have = 0;
      std::string item_id;
      long long existing = 0;
      sql << "SELECT id, quantity FROM cart_items WHERE cart_id = :c AND variant_id = :v", soci::into(item_id),
          soci::into(existing), soci::use(into.value), soci::use(g.variant_id.value);
      bool present = sql.got_data();
      if (present) have = existing;
      std::int64_t requested = have + g.quantity;
      std::int64_t cap = std::min<std::int64_t>(pricing::kMaxQuantity,
                                                std::max(have, available_on_channel(sql, channel, g.variant_id)));
      long long quantity = std::min(requested, cap);
      if (!present) {
        long long count = 0;
        sql << "SELECT COUNT(*) FROM cart_items WHERE cart_id = :c", soci::into(count), soci::use(into.value);
        if (count >= static_cast<long long>(pricing::kMaxLines)) quantity = 0;
      }
      if (quantity < requested) out.capped_items.push_back({g.variant_id, g.sku, requested, quantity});
      if (present && quantity != have) {
        sql << "UPDATE cart_items SET quantity = :q WHERE id = :id", soci::use(quantity), soci::use(item_id);
      } else if (!present && quantity > 0) {
        long long position = 0;
        soci::indicator last_ind = soci::i_null;
        sql << "SELECT MAX(position) FROM cart_items WHERE cart_id = :c", soci::into(position, last_ind),
            soci::use(into.value);
        position = (last_ind == soci::i_ok ? position : 0) + 1;
        std::string new_item = new_id("item");
        sql << "INSERT INTO cart_items (id, cart_id, variant_id, quantity, created_at, position) "
               "VALUES (:id, :c, :v, :q, :t, :p)",
            soci::use(new_item), soci::use(into.value), soci::use(g.variant_id.value), soci::use(quantity),
            soci::use(now), soci::use(position);
      }
    }
    carry_attribution(sql, from, out.cart);
    // The guest cart is spent: it belongs to the customer now, and is no longer open.
    sql << "UPDATE carts SET status = 'merged', customer_id = :c, updated_at = :u WHERE id = :id",
        soci::use(customer.value), soci::use(now), soci::use(guest.value);
    sql << "UPDATE carts SET shipping = NULL, updated_at = :u WHERE id = :id", soci::use(now), soci::use(into.value);
    QQ_ASSIGN_OR_RETURN(out.cart, load(sql, channel, into));
    return out;
  });
  if (merged) QQ_TRY(published(merged->cart));
  return merged;
}

Result<std::optional<CustomerId>> CartService::owner(const CartId& id) {
  return db_.read<std::optional<CustomerId>>([&](soci::session& sql) -> Result<std::optional<CustomerId>> {
    std::string customer;
    soci::indicator ind = soci::i_null;
    sql << "SELECT customer_id FROM carts WHERE id = :id", soci::into(customer, ind), soci::use(id.value);
    if (!sql.got_data()) return not_found(id);
    if (ind != soci::i_ok) return std::optional<CustomerId>();
    return std::optional<CustomerId>(CustomerId(customer));
  });
}

Result<Cart> CartService::get(const channels::Channel& channel, const CartId& id) {
  return db_.snapshot<Cart>([&](soci::session& sql) { return load(sql, channel, id); });
}

Result<Cart> CartService::add_item(const channels::Channel& channel, const CartId& id, const AddItem& item) {
  return mutate(channel, id, [&](soci::session& sql, Cart&) { return add_in(sql, channel, id, item); });
}

Result<Cart> CartService::set_quantity(const channels::Channel& channel, const CartId& id, const CartItemId& item,
                                       std::int64_t quantity) {
  Validator v;
  v.range("quantity", quantity, 1, pricing::kMaxQuantity);
  QQ_TRY(v.status());
  return mutate(channel, id, [&](soci::session& sql, Cart& cart) -> Status {
    for (const auto& i : cart.items) {
      if (i.id != item) continue;
      if (quantity > i.quantity) {
        std::int64_t available = available_on_channel(sql, channel, i.variant_id);
        if (quantity > available)
          return Error::conflict("inventory.insufficient_stock",
                                 "only " + std::to_string(available) + " of '" + i.sku + "' available",
                                 json{{"lines", json::array({{{"sku", i.sku},
                                                              {"variant_id", i.variant_id.value},
                                                              {"requested", quantity},
                                                              {"available", available}}})}});
      }
      long long q = quantity;
      sql << "UPDATE cart_items SET quantity = :q WHERE id = :id", soci::use(q), soci::use(item.value);
      return ok_status();
    }
    return Error::not_found("cart_item.not_found", "no item '" + item.value + "' in this cart");
  });
}

Result<Cart> CartService::remove_item(const channels::Channel& channel, const CartId& id, const CartItemId& item) {
  return mutate(channel, id, [&](soci::session& sql, Cart& cart) -> Status {
    for (const auto& i : cart.items)
      if (i.id == item) {
        sql << "DELETE FROM cart_items WHERE id = :id", soci::use(item.value);
        return ok_status();
      }
    return Error::not_found("cart_item.not_found", "no item '" + item.value + "' in this cart");
  });
}

Result<Cart> CartService::update(const channels::Channel& channel, const CartId& id, const CartPatch& patch) {
  QQ_TRY(validate(patch));
  // Metadata and source alone leave the chosen shipping as it is: its quote does not depend on them.
  return mutate(channel, id, [&](soci::session& sql, Cart& cart) -> Status {
    QQ_TRY(write_details(sql, id, patch, cart.metadata));
    if (!patch.fulfilment) return ok_status();
    if (patch.fulfilment->type == "ship") {
      sql << "UPDATE carts SET fulfilment_type = 'ship', pickup_location_id = NULL WHERE id = :id",
          soci::use(id.value);
      return ok_status();
    }
    QQ_TRY(check_pickup(sql, channel, cart.items, *patch.fulfilment->location_id));
    sql << "UPDATE carts SET fulfilment_type = 'pickup', pickup_location_id = :l WHERE id = :id",
        soci::use(patch.fulfilment->location_id->value), soci::use(id.value);
    return ok_status();
  }, !patch.only_attribution());
}

}  // namespace quanqu::cart
