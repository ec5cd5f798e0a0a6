// Order persistence: the snapshot document, allocations, events and cancellation.
#include "orders/order_service.h"
#include "common/random.h"
#include "common/validation.h"
#include "inventory/inventory_service.h"
#include "orders/pickup_code.h"
#include "storage/dynamic_query.h"

namespace quanqu::orders {
namespace {

using nlohmann::json;

json snapshot_of(const Order& o) {
  json lines = json::array();
  for (const auto& l : o.lines)
    lines.push_back({{"id", l.id},
                     {"variant_id", l.variant_id.value},
                     {"product_id", l.product_id.value},
                     {"sku", l.sku},
                     {"product_title", l.product_title},
                     {"variant_title", l.variant_title},
                     {"options", l.options},
                     {"quantity", l.quantity},
                     {"unit_price", l.unit_price},
                     {"subtotal", l.subtotal},
                     {"tax", l.tax},
                     {"total", l.total}});
  json explanation = json::array();
  for (const auto& e : o.totals.explanation)
    explanation.push_back({{"kind", e.kind}, {"label", e.label}, {"amount", e.amount}, {"included", e.included}});
  return {{"lines", lines},
          {"tax_rate_bp", o.totals.tax.rate_bp},
          {"tax_inclusive", o.totals.tax.inclusive},
          {"explanation", explanation}};
}

void read_snapshot(const json& s, Order& o) {
  for (const auto& l : s.at("lines"))
    o.lines.push_back({l.at("id"), VariantId(l.at("variant_id")), ProductId(l.at("product_id")), l.at("sku"),
                       l.at("product_title"), l.at("variant_title"),
                       l.at("options").get<std::map<std::string, std::string>>(), l.at("quantity"), l.at("unit_price"),
                       l.at("subtotal"), l.at("tax"), l.at("total")});
  o.totals.tax.rate_bp = s.at("tax_rate_bp");
  o.totals.tax.inclusive = s.at("tax_inclusive");
  for (const auto& e : s.at("explanation"))
    o.totals.explanation.push_back({e.at("kind"), e.at("label"), e.at("amount"), e.at("included")});
}

void add_event(soci::session& sql, const Clock& clock, Order& o, const std::string& type, json data) {
  OrderEvent e{new_id("evt"), type, std::move(data), clock.now_ms()};
  std::string text = e.data.dump();
  // The order row is locked by the caller's update, so the next number is ours alone.
  long long seq = 0;
  sql << "SELECT COALESCE(MAX(seq), 0) + 1 FROM order_events WHERE order_id = :o", soci::into(seq),
      soci::use(o.id.value);
  sql << "INSERT INTO order_events (id, order_id, type, data, created_at, seq) VALUES (:id, :o, :t, :d, :c, :s)",
      soci::use(e.id), soci::use(o.id.value), soci::use(e.type), soci::use(text), soci::use(e.created_at),
      soci::use(seq);
  o.events.push_back(std::move(e));
}

// Reads the pickup columns of a loaded order into o.fulfilment_type and o.pickup.
Status load_pickup(soci::session& sql, Order& o) {
  Pickup p;
  std::string location, name, hash;
  long long sealed = 0, ready = 0, expires = 0;
  int attempts = 0, locked = 0;
  soci::indicator location_ind, name_ind, hash_ind, sealed_ind, ready_ind, expires_ind;
  sql << "SELECT o.fulfilment_type, o.pickup_location_id, l.name, o.pickup_code_hash, o.pickup_code_sealed, "
         "o.pickup_failed_attempts, o.pickup_locked, o.pickup_ready_at, o.pickup_expires_at "
         "FROM orders o LEFT JOIN stock_locations l ON l.id = o.pickup_location_id WHERE o.id = :id",
      soci::into(o.fulfilment_type), soci::into(location, location_ind), soci::into(name, name_ind),
      soci::into(hash, hash_ind), soci::into(sealed, sealed_ind), soci::into(attempts), soci::into(locked),
      soci::into(ready, ready_ind), soci::into(expires, expires_ind), soci::use(o.id.value);
  if (o.fulfilment_type != "pickup" || location_ind != soci::i_ok) return ok_status();
  p.location_id = LocationId(location);
  if (name_ind == soci::i_ok) p.location_name = name;
  if (hash_ind == soci::i_ok) p.code_hash = hash;
  if (sealed_ind == soci::i_ok) p.sealed_code = sealed;
  p.failed_attempts = attempts;
  p.locked = locked != 0;
  if (ready_ind == soci::i_ok) p.ready_at = ready;
  if (expires_ind == soci::i_ok) p.expires_at = expires;
  o.pickup = std::move(p);
  return ok_status();
}

// --- The pickup transitions: each a conditional UPDATE that says whether it moved the order.
// (The order state machine absorbs these; until then each move is one small function.)

bool move_to_ready_for_pickup(soci::session& sql, const OrderId& id, long long now, long long expires_at) {
  std::string moved;
  sql << "UPDATE orders SET status = 'ready_for_pickup', pickup_ready_at = :r, pickup_expires_at = :e, "
         "updated_at = :u WHERE id = :id AND fulfilment_type = 'pickup' AND fulfilment_status = 'unfulfilled' AND "
         "(status = 'paid' OR (status = 'pending' AND payment_status = 'not_required')) RETURNING id",
      soci::use(now), soci::use(expires_at), soci::use(now), soci::use(id.value), soci::into(moved);
  return sql.got_data();
}

bool move_ready_to_picked_up(soci::session& sql, const OrderId& id, long long now) {
  std::string moved;
  sql << "UPDATE orders SET status = 'picked_up', fulfilment_status = 'picked_up', updated_at = :u "
         "WHERE id = :id AND status = 'ready_for_pickup' AND pickup_locked = 0 RETURNING id",
      soci::use(now), soci::use(id.value), soci::into(moved);
  return sql.got_data();
}

bool move_picked_up_to_completed(soci::session& sql, const OrderId& id, long long now) {
  std::string moved;
  sql << "UPDATE orders SET status = 'completed', updated_at = :u WHERE id = :id AND status = 'picked_up' "
         "RETURNING id",
      soci::use(now), soci::use(id.value), soci::into(moved);
  return sql.got_data();
}

bool move_ready_to_cancelled(soci::session& sql, const OrderId& id, long long now) {
  std::string moved;
  sql << "UPDATE orders SET status = 'cancelled', updated_at = :u WHERE id = :id AND status = 'ready_for_pickup' "
         "RETURNING id",
      soci::use(now), soci::use(id.value), soci::into(moved);
  return sql.got_data();
}

// Counts a wrong code; the kMaxPickupAttempts-th locks the order. Returns the attempts now made.
int count_wrong_code(soci::session& sql, const OrderId& id, long long now) {
  int attempts = 0;
  sql << "UPDATE orders SET pickup_failed_attempts = pickup_failed_attempts + 1, "
         "pickup_locked = CASE WHEN pickup_failed_attempts + 1 >= :max THEN 1 ELSE 0 END, updated_at = :u "
         "WHERE id = :id RETURNING pickup_failed_attempts",
      soci::use(kMaxPickupAttempts), soci::use(now), soci::use(id.value), soci::into(attempts);
  return attempts;
}

Error pickup_conflict(const Order& o, const std::string& wanted) {
  return Error::conflict("order.pickup_conflict", "an order that is " + o.status + " cannot become " + wanted);
}

Error not_pickup(const Order& o) {
  return Error::conflict("order.not_pickup", "order " + o.id.value + " is shipped, not picked up in store");
}

}  // namespace

OrderService::OrderService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events)
    : db_(db), clock_(clock), changes_(changes), events_(events) {}

Result<Order> OrderService::insert(soci::session& sql, const Clock& clock, Order o, const std::string& access_token) {
  long long number = 0;
  sql << "UPDATE counters SET value = value + 1 WHERE name = 'order_number' RETURNING value", soci::into(number);
  o.number = number;
  o.status = "pending";
  o.created_at = o.updated_at = clock.now_ms();
  std::string address = o.shipping_address.to_json().dump(), snapshot = snapshot_of(o).dump();
  std::string token_hash = sha256_hex(access_token);
  long long subtotal = o.totals.subtotal, tax = o.totals.tax_total, shipping = o.totals.shipping_total,
            discount = o.totals.discount_total, total = o.totals.total, created = o.created_at;
  std::string shipping_doc = o.shipping.is_null() ? std::string() : o.shipping.dump();
  soci::indicator shipping_ind = o.shipping.is_null() ? soci::i_null : soci::i_ok;
  soci::indicator session_ind = o.payment_session_id.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO orders (id, number, channel_id, cart_id, status, currency, email, shipping_address, subtotal, "
         "tax_total, shipping_total, discount_total, total, snapshot, access_token_hash, created_at, updated_at, "
         "payment_status, payment_session_id, fulfilment_status, shipping) "
         "VALUES (:id, :n, :ch, :cart, :s, :cur, :e, :a, :st, :tt, :sh, :d, :t, :snap, :tok, :ca, :ua, :ps, :psid, :fs, "
         ":ship)",
      soci::use(o.id.value), soci::use(number), soci::use(o.channel_id.value), soci::use(o.cart_id.value),
      soci::use(o.status), soci::use(o.currency), soci::use(o.email), soci::use(address), soci::use(subtotal),
      soci::use(tax), soci::use(shipping), soci::use(discount), soci::use(total), soci::use(snapshot),
      soci::use(token_hash), soci::use(created), soci::use(created), soci::use(o.payment_status),
      soci::use(o.payment_session_id, session_ind), soci::use(o.fulfilment_status), soci::use(shipping_doc, shipping_ind);
  if (o.pickup) {
    long long sealed = o.pickup->sealed_code.value_or(0);
    soci::indicator sealed_ind = o.pickup->sealed_code ? soci::i_ok : soci::i_null;
    sql << "UPDATE orders SET fulfilment_type = 'pickup', pickup_location_id = :l, pickup_code_hash = :h, "
           "pickup_code_sealed = :s WHERE id = :id",
        soci::use(o.pickup->location_id.value), soci::use(o.pickup->code_hash), soci::use(sealed, sealed_ind),
        soci::use(o.id.value);
  }
  for (const auto& a : o.allocations) {
    long long q = a.quantity;
    sql << "INSERT INTO order_allocations (order_id, variant_id, location_id, quantity) VALUES (:o, :v, :l, :q)",
        soci::use(o.id.value), soci::use(a.variant_id.value), soci::use(a.location_id.value), soci::use(q);
  }
  add_event(sql, clock, o, "order.placed", {{"number", o.number}, {"total", o.totals.total}, {"currency", o.currency}});
  return o;
}

Result<Order> OrderService::load(soci::session& sql, const OrderId& id) {
  Order o;
  soci::indicator provider_ind = soci::i_null;
  std::string address, snapshot;
  long long subtotal = 0, tax = 0, shipping = 0, discount = 0, total = 0;
  std::string session_id, shipping_doc;
  soci::indicator session_ind = soci::i_null, shipping_ind = soci::i_null;
  sql << "SELECT o.id, o.number, o.channel_id, o.cart_id, o.status, o.currency, o.email, o.shipping_address, "
         "o.subtotal, o.tax_total, o.shipping_total, o.discount_total, o.total, o.snapshot, o.created_at, o.updated_at, "
         "o.payment_status, o.payment_session_id, o.fulfilment_status, o.shipping, p.provider "
         "FROM orders o LEFT JOIN payment_sessions p ON p.id = o.payment_session_id WHERE o.id = :id",
      soci::into(o.id.value), soci::into(o.number), soci::into(o.channel_id.value), soci::into(o.cart_id.value),
      soci::into(o.status), soci::into(o.currency), soci::into(o.email), soci::into(address), soci::into(subtotal),
      soci::into(tax), soci::into(shipping), soci::into(discount), soci::into(total), soci::into(snapshot),
      soci::into(o.created_at), soci::into(o.updated_at), soci::into(o.payment_status),
      soci::into(session_id, session_ind), soci::into(o.fulfilment_status), soci::into(shipping_doc, shipping_ind),
      soci::into(o.payment_provider, provider_ind), soci::use(id.value);
  if (!sql.got_data()) return Error::not_found("order.not_found", "no order '" + id.value + "'");
  if (session_ind == soci::i_ok) o.payment_session_id = session_id;
  if (provider_ind != soci::i_ok) o.payment_provider.clear();
  if (shipping_ind == soci::i_ok) o.shipping = json::parse(shipping_doc);
  QQ_TRY(load_pickup(sql, o));
  o.shipping_address = Address::from_json(json::parse(address));
  o.totals.currency = o.currency;
  o.totals.subtotal = subtotal;
  o.totals.tax_total = tax;
  o.totals.shipping_total = shipping;
  o.totals.discount_total = discount;
  o.totals.total = total;
  read_snapshot(json::parse(snapshot), o);

  inventory::Allocation a;
  soci::statement allocations =
      (sql.prepare << "SELECT variant_id, location_id, quantity FROM order_allocations "
                      "WHERE order_id = :o ORDER BY variant_id, location_id",
       soci::into(a.variant_id.value), soci::into(a.location_id.value), soci::into(a.quantity), soci::use(o.id.value));
  allocations.execute();
  while (allocations.fetch()) o.allocations.push_back(a);

  OrderEvent e;
  std::string data;
  soci::statement events =
      (sql.prepare << "SELECT id, type, data, created_at FROM order_events WHERE order_id = :o "
                      "ORDER BY seq, created_at, id",
       soci::into(e.id), soci::into(e.type), soci::into(data), soci::into(e.created_at), soci::use(o.id.value));
  events.execute();
  while (events.fetch()) {
    OrderEvent copy = e;
    copy.data = json::parse(data);
    o.events.push_back(std::move(copy));
  }
  return o;
}

Result<Order> OrderService::get(const OrderId& id) {
  return db_.read<Order>([&](soci::session& sql) { return load(sql, id); });
}

Result<Order> OrderService::get_with_token(const ChannelId& channel, const OrderId& id, const std::string& token) {
  auto hidden = Error::not_found("order.not_found", "no order '" + id.value + "' for this token");
  if (token.empty() || token.size() > 200) return hidden;
  return db_.read<Order>([&](soci::session& sql) -> Result<Order> {
    std::string stored, order_channel;
    sql << "SELECT access_token_hash, channel_id FROM orders WHERE id = :id", soci::into(stored),
        soci::into(order_channel), soci::use(id.value);
    if (!sql.got_data() || order_channel != channel.value || !constant_time_equal(stored, sha256_hex(token)))
      return hidden;
    return load(sql, id);
  });
}

Result<OrderPage> OrderService::list(const OrderQuery& query) {
  Validator v;
  v.range("limit", query.limit, 1, 100);
  if (!query.cursor.empty() && !looks_like_id(query.cursor, "order"))
    v.fail("cursor", "is not a cursor from this list");
  static const std::vector<std::string> kStatuses{"pending",   "paid",      "fulfilled", "ready_for_pickup",
                                                  "picked_up", "completed", "cancelled"};
  if (!query.status.empty() && std::find(kStatuses.begin(), kStatuses.end(), query.status) == kStatuses.end())
    v.fail("status", "must be one of pending, paid, fulfilled, ready_for_pickup, picked_up, completed, cancelled");
  QQ_TRY(v.status("invalid_query"));
  return db_.read<OrderPage>([&](soci::session& sql) -> Result<OrderPage> {
    std::vector<std::string> ids;
    std::string id;
    storage::DynamicQuery q(sql);
    q.text("SELECT id FROM orders WHERE 1 = 1");
    if (!query.status.empty()) q.text(" AND status = ").param(query.status);
    if (query.channel) q.text(" AND channel_id = ").param(query.channel->value);
    // Newest first: the cursor is the last id seen, and ids grow with time.
    if (!query.cursor.empty()) q.text(" AND id < ").param(query.cursor);
    q.text(" ORDER BY id DESC LIMIT ").param(static_cast<long long>(query.limit) + 1);
    q.into(id);
    for (bool row = q.execute(); row; row = q.fetch()) ids.push_back(id);
    OrderPage page;
    if (ids.size() > static_cast<std::size_t>(query.limit)) {
      ids.pop_back();
      page.next_cursor = ids.back();
    }
    for (const auto& i : ids) {
      QQ_ASSIGN_OR_RETURN(Order o, load(sql, OrderId(i)));
      page.items.push_back(std::move(o));
    }
    return page;
  });
}

Result<Order> OrderService::cancel(const OrderId& id, const std::string& reason) {
  Validator v;
  v.text("reason", reason, 500, false);
  QQ_TRY(v.status());
  auto cancelled = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    // The conditional update is the guard: on PostgreSQL a concurrent cancel waits on the row
    // lock, then finds the status changed and matches nothing, so stock is released once.
    long long now = clock_.now_ms();
    std::string changed;
    // Goods that left (fulfilled, even if unpaid: cash on delivery) cannot be cancelled back.
    sql << "UPDATE orders SET status = 'cancelled', updated_at = :u "
           "WHERE id = :id AND status = 'pending' AND fulfilment_status = 'unfulfilled' RETURNING id",
        soci::use(now), soci::use(o.id.value), soci::into(changed);
    if (!sql.got_data()) {
      QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
      std::string state = current.fulfilment_status == "unfulfilled" ? current.status : current.fulfilment_status;
      return Error::conflict("order.not_cancellable", "an order that is " + state + " cannot be cancelled");
    }
    QQ_TRY(inventory::InventoryService::release(sql, clock_, o.allocations, o.id.value));
    // An authorised payment is let go with the order (the API asks the provider to release it).
    if (o.payment_status == "authorized") {
      sql << "UPDATE orders SET payment_status = 'cancelled' WHERE id = :id", soci::use(o.id.value);
      o.payment_status = "cancelled";
    }
    o.status = "cancelled";
    o.updated_at = now;
    add_event(sql, clock_, o, "order.cancelled", {{"reason", reason}});
    events_.record(sql, "order.cancelled", event_data(o));
    events_.record(sql, "inventory.changed",
                   inventory::InventoryService::changed_event(o.allocations, "release", o.id.value));
    return o;
  });
  if (cancelled) {
    inventory::InventoryService::stock_changed(changes_, cancelled->allocations);
    events_.notify();
  }
  return cancelled;
}

json OrderService::event_data(const Order& o) {
  return {{"order_id", o.id.value},
          {"number", o.number},
          {"channel_id", o.channel_id.value},
          {"cart_id", o.cart_id.value},
          {"status", o.status},
          {"payment_status", o.payment_status},
          {"fulfilment_status", o.fulfilment_status},
          {"fulfilment_type", o.fulfilment_type},
          {"pickup_location_id", o.pickup ? json(o.pickup->location_id.value) : json(nullptr)},
          {"email", o.email},
          {"total", {{"amount", o.totals.total}, {"currency", o.currency}}}};
}

Result<Order> OrderService::mark_paid_in(soci::session& sql, const Clock& clock, const OrderId& id,
                                         const json& details, bool& changed) {
  changed = false;
  long long now = clock.now_ms();
  std::string moved;
  // The status follows what already happened to the goods: paid, fulfilled or completed.
  sql << "UPDATE orders SET payment_status = 'captured', updated_at = :u, status = CASE fulfilment_status "
         "WHEN 'delivered' THEN 'completed' WHEN 'fulfilled' THEN 'fulfilled' ELSE 'paid' END "
         "WHERE id = :id AND status = 'pending' RETURNING id",
      soci::use(now), soci::use(id.value), soci::into(moved);
  bool moved_now = sql.got_data();
  QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
  if (!moved_now) {
    if (o.payment_status == "captured") return o;  // paid before: nothing to do
    return Error::conflict("order.not_payable", "an order that is " + o.status + " cannot be marked paid");
  }
  add_event(sql, clock, o, "order.paid", details);
  changed = true;
  return o;
}

Result<Order> OrderService::mark_paid(const OrderId& id, const json& details) {
  bool changed = false;
  auto paid = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, mark_paid_in(sql, clock_, id, details, changed));
    if (changed) events_.record(sql, "order.paid", event_data(o));
    return o;
  });
  if (paid && changed) events_.notify();
  return paid;
}

Result<Order> OrderService::set_fulfilment(const OrderId& id, const std::string& status) {
  if (status != "fulfilled" && status != "delivered")
    return Error::invalid("validation_failed", "the request has invalid fields",
                          {{"status", "must be fulfilled or delivered"}});
  auto moved = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    std::string from = status == "fulfilled" ? "unfulfilled" : "fulfilled";
    long long now = clock_.now_ms();
    std::string changed;
    // The order status follows: a paid order becomes fulfilled, a fulfilled one completed.
    sql << "UPDATE orders SET fulfilment_status = :to, updated_at = :u, status = CASE "
           "WHEN status = 'paid' AND :to2 = 'fulfilled' THEN 'fulfilled' "
           "WHEN status = 'fulfilled' AND :to3 = 'delivered' THEN 'completed' ELSE status END "
           "WHERE id = :id AND fulfilment_status = :from AND status <> 'cancelled' RETURNING id",
        soci::use(status), soci::use(now), soci::use(status), soci::use(status), soci::use(o.id.value),
        soci::use(from), soci::into(changed);
    if (!sql.got_data())
      return Error::conflict("order.fulfilment_conflict", "an order that is " + o.status + " and " +
                                                              o.fulfilment_status + " cannot become " + status);
    if (status == "fulfilled") QQ_TRY(inventory::InventoryService::ship(sql, clock_, o.allocations, o.id.value));
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
    add_event(sql, clock_, current, "order." + status, json::object());
    events_.record(sql, "order." + status, event_data(current));
    if (status == "fulfilled")
      events_.record(sql, "inventory.changed",
                     inventory::InventoryService::changed_event(current.allocations, "fulfilment", current.id.value));
    return current;
  });
  if (moved) {
    inventory::InventoryService::stock_changed(changes_, moved->allocations);
    events_.notify();
  }
  return moved;
}

Result<Order> OrderService::mark_ready_for_pickup(const OrderId& id) {
  auto moved = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    if (!o.pickup) return not_pickup(o);
    int hold_hours = inventory::kDefaultPickupHoldHours;
    sql << "SELECT pickup_hold_hours FROM stock_locations WHERE id = :id", soci::into(hold_hours),
        soci::use(o.pickup->location_id.value);
    long long now = clock_.now_ms(), expires_at = now + hold_hours * hold_hour_ms_;
    if (!move_to_ready_for_pickup(sql, o.id, now, expires_at)) return pickup_conflict(o, "ready_for_pickup");
    if (schedule_expiry_) QQ_TRY(schedule_expiry_(sql, o.id, expires_at));
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
    add_event(sql, clock_, current, "order.ready_for_pickup",
              {{"location_id", current.pickup->location_id.value}, {"expires_at", expires_at}});
    json data = event_data(current);
    data["pickup_expires_at"] = expires_at;
    events_.record(sql, "order.ready_for_pickup", data);
    return current;
  });
  if (moved) events_.notify();  // no stock moved: no store view is stale
  return moved;
}

Result<Order> OrderService::complete_pickup(const OrderId& id, const std::string& code) {
  if (!looks_like_pickup_code(code))
    return Error::invalid("validation_failed", "the request has invalid fields", {{"code", "must be 6 digits"}});
  // A wrong code is counted in a transaction that commits: the outcome says which it was.
  struct Outcome {
    Order order;
    int wrong_attempts = 0;  // above 0: the code was wrong, and this many were made
  };
  auto done = db_.write<Outcome>([&](soci::session& sql) -> Result<Outcome> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    if (!o.pickup) return not_pickup(o);
    if (o.status != "ready_for_pickup") return pickup_conflict(o, "picked_up");
    if (o.pickup->locked)
      return Error::conflict("pickup.locked", "too many wrong codes: an admin must unlock the order's pickup first",
                             {{"failed_attempts", o.pickup->failed_attempts}});
    long long now = clock_.now_ms();
    if (!constant_time_equal(o.pickup->code_hash, pickup_code_hash(o.id, code))) {
      int attempts = count_wrong_code(sql, o.id, now);
      QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
      add_event(sql, clock_, current, "order.pickup_code_rejected", {{"failed_attempts", attempts}});
      return Outcome{std::move(current), attempts};
    }
    if (!move_ready_to_picked_up(sql, o.id, now)) return pickup_conflict(o, "picked_up");
    QQ_TRY(inventory::InventoryService::ship(sql, clock_, o.allocations, o.id.value));
    QQ_ASSIGN_OR_RETURN(Order picked, load(sql, id));
    add_event(sql, clock_, picked, "order.picked_up", {{"location_id", picked.pickup->location_id.value}});
    events_.record(sql, "order.picked_up", event_data(picked));
    events_.record(sql, "inventory.changed",
                   inventory::InventoryService::changed_event(picked.allocations, "fulfilment", picked.id.value));
    if (!move_picked_up_to_completed(sql, o.id, now)) return Error::internal("a picked-up order did not complete");
    QQ_ASSIGN_OR_RETURN(Order completed, load(sql, id));
    add_event(sql, clock_, completed, "order.completed", json::object());
    events_.record(sql, "order.completed", event_data(completed));
    return Outcome{std::move(completed), 0};
  });
  if (!done) return done.error();
  if (done->wrong_attempts == 0) inventory::InventoryService::stock_changed(changes_, done->order.allocations);
  events_.notify();
  if (done->wrong_attempts == 0) return std::move(done->order);
  int left = std::max(0, kMaxPickupAttempts - done->wrong_attempts);
  Error e = Error::unprocessable(
      "pickup.wrong_code", left > 0 ? "the pickup code is wrong; " + std::to_string(left) + " attempts left"
                                    : "the pickup code is wrong; the order is now locked until an admin unlocks it");
  e.details = {{"attempts_left", left}, {"locked", left == 0}};
  return e;
}

Result<Order> OrderService::unlock_pickup(const OrderId& id) {
  auto unlocked = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    if (!o.pickup) return not_pickup(o);
    long long now = clock_.now_ms();
    sql << "UPDATE orders SET pickup_failed_attempts = 0, pickup_locked = 0, updated_at = :u WHERE id = :id",
        soci::use(now), soci::use(o.id.value);
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
    add_event(sql, clock_, current, "order.pickup_unlocked", {{"failed_attempts", o.pickup->failed_attempts}});
    events_.record(sql, "order.pickup_unlocked", event_data(current));
    return current;
  });
  if (unlocked) events_.notify();
  return unlocked;
}

Result<std::optional<Order>> OrderService::expire_pickup(const OrderId& id) {
  auto expired = db_.write<std::optional<Order>>([&](soci::session& sql) -> Result<std::optional<Order>> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    long long now = clock_.now_ms();
    // Picked up, cancelled or (after an early run) not yet due: nothing to do.
    if (!o.pickup || !o.pickup->expires_at || *o.pickup->expires_at > now) return std::optional<Order>();
    if (!move_ready_to_cancelled(sql, o.id, now)) return std::optional<Order>();
    QQ_TRY(inventory::InventoryService::release(sql, clock_, o.allocations, o.id.value));
    if (o.payment_status == "authorized")
      sql << "UPDATE orders SET payment_status = 'cancelled' WHERE id = :id", soci::use(o.id.value);
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
    add_event(sql, clock_, current, "order.cancelled", {{"reason", "pickup_expired"}});
    json data = event_data(current);
    data["reason"] = "pickup_expired";
    events_.record(sql, "order.cancelled", data);
    events_.record(sql, "inventory.changed",
                   inventory::InventoryService::changed_event(current.allocations, "release", current.id.value));
    return std::optional<Order>(std::move(current));
  });
  if (expired && *expired) {
    inventory::InventoryService::stock_changed(changes_, (*expired)->allocations);
    events_.notify();
  }
  return expired;
}

}  // namespace quanqu::orders
