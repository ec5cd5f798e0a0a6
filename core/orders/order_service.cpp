// Order persistence and the lifecycle: the snapshot document, allocations, events, moves, refunds and returns.
#include "orders/order_service.h"
#include "common/attribution.h"
#include "common/random.h"
#include "common/validation.h"
#include "inventory/inventory_service.h"
#include "orders/pickup_code.h"
#include "storage/dynamic_query.h"

#include <algorithm>
#include <map>

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

void add_event(soci::session& sql, const Clock& clock, Order& o, const std::string& type, json data,
               const Actor& actor) {
  OrderEvent e{new_id("evt"), type, std::move(data), clock.now_ms(), actor};
  std::string text = e.data.dump();
  // The order row is locked by the caller's update, so the next number is ours alone.
  long long seq = 0;
  sql << "SELECT COALESCE(MAX(seq), 0) + 1 FROM order_events WHERE order_id = :o", soci::into(seq),
      soci::use(o.id.value);
  soci::indicator actor_ind = actor.id.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO order_events (id, order_id, type, data, created_at, seq, actor_type, actor_id) "
         "VALUES (:id, :o, :t, :d, :c, :s, :at, :ai)",
      soci::use(e.id), soci::use(o.id.value), soci::use(e.type), soci::use(text), soci::use(e.created_at),
      soci::use(seq), soci::use(actor.type), soci::use(actor.id, actor_ind);
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

// Counts a wrong code; the kMaxPickupAttempts-th locks the order. Returns the attempts now made.
int count_wrong_code(soci::session& sql, const OrderId& id, long long now) {
  int attempts = 0;
  sql << "UPDATE orders SET pickup_failed_attempts = pickup_failed_attempts + 1, "
         "pickup_locked = CASE WHEN pickup_failed_attempts + 1 >= :max THEN 1 ELSE 0 END, updated_at = :u "
         "WHERE id = :id RETURNING pickup_failed_attempts",
      soci::use(kMaxPickupAttempts), soci::use(now), soci::use(id.value), soci::into(attempts);
  return attempts;
}

// Only for what is not a lifecycle move (unlocking the desk): a move refused for a ship order is
// the table's order.invalid_transition.
Error not_pickup(const Order& o) {
  return Error::conflict("order.not_pickup", "order " + o.id.value + " is shipped, not picked up in store");
}

Error pickup_locked(const Pickup& p) {
  return Error::conflict("pickup.locked", "too many wrong codes: an admin must unlock the order's pickup first",
                         {{"failed_attempts", p.failed_attempts}});
}

json lines_json(const std::vector<LineQuantity>& lines) {
  json out = json::array();
  for (const auto& l : lines) out.push_back({{"line_id", l.line_id}, {"quantity", l.quantity}});
  return out;
}

std::vector<LineQuantity> read_lines(const std::string& text) {
  std::vector<LineQuantity> out;
  for (const auto& l : json::parse(text)) out.push_back({l.at("line_id"), l.at("quantity")});
  return out;
}

json refund_event_data(const Refund& r) {
  json out{{"refund_id", r.id},
           {"amount", {{"amount", r.amount}, {"currency", r.currency}}},
           {"reason", r.reason},
           {"status", r.status}};
  if (!r.lines.empty()) out["lines"] = lines_json(r.lines);
  if (!r.provider.empty()) out["provider"] = r.provider;
  if (!r.provider_reference.empty()) out["provider_reference"] = r.provider_reference;
  if (!r.failure.empty()) out["failure"] = r.failure;
  if (!r.return_id.empty()) out["return_id"] = r.return_id;
  return out;
}

// Locks the order row for the rest of the transaction (PostgreSQL; SQLite has one writer), so
// that what is refunded or returned is computed against a state no one else is changing.
Status lock_order(soci::session& sql, const Clock& clock, const OrderId& id) {
  long long now = clock.now_ms();
  std::string found;
  sql << "UPDATE orders SET updated_at = :u WHERE id = :id RETURNING id", soci::use(now), soci::use(id.value),
      soci::into(found);
  if (!sql.got_data()) return Error::not_found("order.not_found", "no order '" + id.value + "'");
  return ok_status();
}

Status validate_lines(const Order& o, const std::vector<LineQuantity>& lines, const std::string& field,
                      const std::map<std::string, std::int64_t>& used, const std::string& used_word) {
  Validator v;
  if (lines.empty()) v.fail(field, "must list at least one line");
  if (lines.size() > 100) v.fail(field, "must list at most 100 lines");
  std::map<std::string, std::int64_t> asked;
  for (std::size_t i = 0; i < lines.size() && i < 100; ++i) {
    std::string at = field + "/" + std::to_string(i);
    const auto& l = lines[i];
    auto line = std::find_if(o.lines.begin(), o.lines.end(), [&](const OrderLine& x) { return x.id == l.line_id; });
    if (line == o.lines.end()) {
      v.fail(at + "/line_id", "is not a line of this order");
      continue;
    }
    if (l.quantity < 1 || l.quantity > line->quantity) {
      v.fail(at + "/quantity", "must be between 1 and " + std::to_string(line->quantity));
      continue;
    }
    asked[l.line_id] += l.quantity;
    auto u = used.find(l.line_id);
    std::int64_t left = line->quantity - (u == used.end() ? 0 : u->second);
    if (asked[l.line_id] > left)
      v.fail(at + "/quantity", "only " + std::to_string(left) + " unit(s) of this line can still be " + used_word);
  }
  return v.status();
}

// What `lines` are worth: each line's total for the units, rounded down (never more than paid).
std::int64_t lines_value(const Order& o, const std::vector<LineQuantity>& lines) {
  std::int64_t total = 0;
  for (const auto& l : lines)
    for (const auto& line : o.lines)
      if (line.id == l.line_id && line.quantity > 0) total += line.total * l.quantity / line.quantity;
  return total;
}

// Units per line already in refunds that count (pending or succeeded).
std::map<std::string, std::int64_t> refunded_units(const Order& o) {
  std::map<std::string, std::int64_t> out;
  for (const auto& r : o.refunds)
    if (r.status != "failed")
      for (const auto& l : r.lines) out[l.line_id] += l.quantity;
  return out;
}

std::map<std::string, std::int64_t> returned_units(const Order& o) {
  std::map<std::string, std::int64_t> out;
  for (const auto& r : o.returns)
    for (const auto& l : r.lines) out[l.line_id] += l.quantity;
  return out;
}

// Inserts a pending refund; the caller holds the order lock and has checked the amount.
Refund insert_refund(soci::session& sql, const Clock& clock, Order& o, std::int64_t amount,
                     std::vector<LineQuantity> lines, const std::string& reason, const std::string& return_id,
                     const Actor& actor) {
  Refund r;
  r.id = new_id("ref");
  r.amount = amount;
  r.currency = o.currency;
  r.reason = reason;
  r.lines = std::move(lines);
  r.status = "pending";
  r.provider = o.payment_session_id.empty() ? "" : o.payment_provider;
  r.return_id = return_id;
  r.actor = actor;
  r.created_at = r.updated_at = clock.now_ms();
  std::string lines_text = lines_json(r.lines).dump();
  long long a = r.amount, t = r.created_at;
  soci::indicator provider_ind = r.provider.empty() ? soci::i_null : soci::i_ok;
  soci::indicator return_ind = r.return_id.empty() ? soci::i_null : soci::i_ok;
  soci::indicator actor_ind = actor.id.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO order_refunds (id, order_id, amount, currency, reason, lines, status, provider, return_id, "
         "actor_type, actor_id, created_at, updated_at) "
         "VALUES (:id, :o, :a, :c, :r, :l, 'pending', :p, :ret, :at, :ai, :t, :t2)",
      soci::use(r.id), soci::use(o.id.value), soci::use(a), soci::use(r.currency), soci::use(r.reason),
      soci::use(lines_text), soci::use(r.provider, provider_ind), soci::use(r.return_id, return_ind),
      soci::use(actor.type), soci::use(actor.id, actor_ind), soci::use(t), soci::use(t);
  o.refunds.push_back(r);
  add_event(sql, clock, o, "order.refund_requested", refund_event_data(r), actor);
  return r;
}

const Refund* find_refund(const Order& o, const std::string& id) {
  for (const auto& r : o.refunds)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace

OrderService::OrderService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events)
    : db_(db), clock_(clock), changes_(changes), events_(events) {}

std::int64_t Order::captured_amount() const { return lifecycle::payment_settled(payment_status) ? totals.total : 0; }

std::int64_t Order::refunded_total() const {
  std::int64_t sum = 0;
  for (const auto& r : refunds)
    if (r.status == "succeeded") sum += r.amount;
  return sum;
}

std::int64_t Order::refundable_amount() const {
  std::int64_t sum = 0;
  for (const auto& r : refunds)
    if (r.status != "failed") sum += r.amount;
  return std::max<std::int64_t>(0, captured_amount() - sum);
}

lifecycle::Facts OrderService::facts(const Order& o, const Actor& actor) {
  return {o.status, o.payment_status, o.fulfilment_type, actor.type};
}

Result<Order> OrderService::insert(soci::session& sql, const Clock& clock, Order o, const std::string& access_token,
                                   const Actor& actor) {
  long long number = 0;
  sql << "UPDATE counters SET value = value + 1 WHERE name = 'order_number' RETURNING value", soci::into(number);
  o.number = number;
  o.status = "placed";
  o.created_at = o.updated_at = clock.now_ms();
  std::string address = o.shipping_address.to_json().dump(), snapshot = snapshot_of(o).dump();
  std::string token_hash = sha256_hex(access_token);
  long long subtotal = o.totals.subtotal, tax = o.totals.tax_total, shipping = o.totals.shipping_total,
            discount = o.totals.discount_total, total = o.totals.total, created = o.created_at;
  std::string shipping_doc = o.shipping.is_null() ? std::string() : o.shipping.dump();
  soci::indicator shipping_ind = o.shipping.is_null() ? soci::i_null : soci::i_ok;
  soci::indicator session_ind = o.payment_session_id.empty() ? soci::i_null : soci::i_ok;
  std::string metadata = o.metadata.is_object() ? o.metadata.dump() : "{}";
  bool has_source = o.source && !o.source->empty();
  std::string source = has_source ? o.source->to_json().dump() : "";
  soci::indicator source_ind = has_source ? soci::i_ok : soci::i_null;
  sql << "INSERT INTO orders (id, number, channel_id, cart_id, status, currency, email, shipping_address, subtotal, "
         "tax_total, shipping_total, discount_total, total, snapshot, access_token_hash, created_at, updated_at, "
         "payment_status, payment_session_id, fulfilment_status, shipping, metadata, source) "
         "VALUES (:id, :n, :ch, :cart, :s, :cur, :e, :a, :st, :tt, :sh, :d, :t, :snap, :tok, :ca, :ua, :ps, :psid, :fs, "
         ":ship, :meta, :src)",
      soci::use(o.id.value), soci::use(number), soci::use(o.channel_id.value), soci::use(o.cart_id.value),
      soci::use(o.status), soci::use(o.currency), soci::use(o.email), soci::use(address), soci::use(subtotal),
      soci::use(tax), soci::use(shipping), soci::use(discount), soci::use(total), soci::use(snapshot),
      soci::use(token_hash), soci::use(created), soci::use(created), soci::use(o.payment_status),
      soci::use(o.payment_session_id, session_ind), soci::use(o.fulfilment_status), soci::use(shipping_doc, shipping_ind),
      soci::use(metadata), soci::use(source, source_ind);
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
  add_event(sql, clock, o, "order.placed", {{"number", o.number}, {"total", o.totals.total}, {"currency", o.currency}},
            actor);
  return o;
}

Result<Order> OrderService::load(soci::session& sql, const OrderId& id) {
  Order o;
  soci::indicator provider_ind = soci::i_null;
  std::string address, snapshot;
  long long subtotal = 0, tax = 0, shipping = 0, discount = 0, total = 0;
  std::string session_id, shipping_doc, customer, metadata, source;
  soci::indicator session_ind = soci::i_null, shipping_ind = soci::i_null, customer_ind = soci::i_null,
                  source_ind = soci::i_null;
  // The customer is the cart's owner: a cart checked out never changes hands.
  sql << "SELECT o.id, o.number, o.channel_id, o.cart_id, o.status, o.currency, o.email, o.shipping_address, "
         "o.subtotal, o.tax_total, o.shipping_total, o.discount_total, o.total, o.snapshot, o.created_at, o.updated_at, "
         "o.payment_status, o.payment_session_id, o.fulfilment_status, o.shipping, p.provider, c.customer_id, "
         "o.metadata, o.source "
         "FROM orders o LEFT JOIN payment_sessions p ON p.id = o.payment_session_id "
         "LEFT JOIN carts c ON c.id = o.cart_id WHERE o.id = :id",
      soci::into(o.id.value), soci::into(o.number), soci::into(o.channel_id.value), soci::into(o.cart_id.value),
      soci::into(o.status), soci::into(o.currency), soci::into(o.email), soci::into(address), soci::into(subtotal),
      soci::into(tax), soci::into(shipping), soci::into(discount), soci::into(total), soci::into(snapshot),
      soci::into(o.created_at), soci::into(o.updated_at), soci::into(o.payment_status),
      soci::into(session_id, session_ind), soci::into(o.fulfilment_status), soci::into(shipping_doc, shipping_ind),
      soci::into(o.payment_provider, provider_ind), soci::into(customer, customer_ind), soci::into(metadata),
      soci::into(source, source_ind), soci::use(id.value);
  if (!sql.got_data()) return Error::not_found("order.not_found", "no order '" + id.value + "'");
  if (customer_ind == soci::i_ok) o.customer_id = CustomerId(customer);
  o.metadata = metadata_from_text(metadata);
  if (source_ind == soci::i_ok)
    if (Source src = Source::from_json(json::parse(source, nullptr, false)); !src.empty()) o.source = std::move(src);
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
  std::string data, actor_id;
  soci::indicator actor_ind = soci::i_null;
  soci::statement events =
      (sql.prepare << "SELECT id, type, data, created_at, actor_type, actor_id FROM order_events WHERE order_id = :o "
                      "ORDER BY seq, created_at, id",
       soci::into(e.id), soci::into(e.type), soci::into(data), soci::into(e.created_at), soci::into(e.actor.type),
       soci::into(actor_id, actor_ind), soci::use(o.id.value));
  events.execute();
  while (events.fetch()) {
    OrderEvent copy = e;
    copy.data = json::parse(data);
    copy.actor.id = actor_ind == soci::i_ok ? actor_id : "";
    o.events.push_back(std::move(copy));
  }

  Refund r;
  std::string refund_lines, provider, reference, failure, return_id, refund_actor;
  soci::indicator refund_provider_ind = soci::i_null, reference_ind = soci::i_null, failure_ind = soci::i_null,
                  return_ind = soci::i_null, refund_actor_ind = soci::i_null;
  soci::statement refunds =
      (sql.prepare << "SELECT id, amount, currency, reason, lines, status, provider, provider_reference, failure, "
                      "return_id, actor_type, actor_id, created_at, updated_at FROM order_refunds "
                      "WHERE order_id = :o ORDER BY created_at, id",
       soci::into(r.id), soci::into(r.amount), soci::into(r.currency), soci::into(r.reason), soci::into(refund_lines),
       soci::into(r.status), soci::into(provider, refund_provider_ind), soci::into(reference, reference_ind),
       soci::into(failure, failure_ind), soci::into(return_id, return_ind), soci::into(r.actor.type),
       soci::into(refund_actor, refund_actor_ind), soci::into(r.created_at), soci::into(r.updated_at),
       soci::use(o.id.value));
  refunds.execute();
  while (refunds.fetch()) {
    Refund copy = r;
    copy.lines = read_lines(refund_lines);
    copy.provider = refund_provider_ind == soci::i_ok ? provider : "";
    copy.provider_reference = reference_ind == soci::i_ok ? reference : "";
    copy.failure = failure_ind == soci::i_ok ? failure : "";
    copy.return_id = return_ind == soci::i_ok ? return_id : "";
    copy.actor.id = refund_actor_ind == soci::i_ok ? refund_actor : "";
    o.refunds.push_back(std::move(copy));
  }

  Return t;
  std::string return_lines, location, refund_id, return_actor;
  int restock = 0;
  soci::indicator location_ind = soci::i_null, refund_ind = soci::i_null, return_actor_ind = soci::i_null;
  soci::statement returns =
      (sql.prepare << "SELECT id, lines, restock, location_id, reason, refund_id, actor_type, actor_id, created_at "
                      "FROM order_returns WHERE order_id = :o ORDER BY created_at, id",
       soci::into(t.id), soci::into(return_lines), soci::into(restock), soci::into(location, location_ind),
       soci::into(t.reason), soci::into(refund_id, refund_ind), soci::into(t.actor.type),
       soci::into(return_actor, return_actor_ind), soci::into(t.created_at), soci::use(o.id.value));
  returns.execute();
  while (returns.fetch()) {
    Return copy = t;
    copy.lines = read_lines(return_lines);
    copy.restock = restock != 0;
    copy.location_id = location_ind == soci::i_ok ? location : "";
    copy.refund_id = refund_ind == soci::i_ok ? refund_id : "";
    copy.actor.id = return_actor_ind == soci::i_ok ? return_actor : "";
    o.returns.push_back(std::move(copy));
  }
  return o;
}

Result<Order> OrderService::get(const OrderId& id) {
  return db_.snapshot<Order>([&](soci::session& sql) { return load(sql, id); });
}

Result<Order> OrderService::get_with_token(const ChannelId& channel, const OrderId& id, const std::string& token) {
  auto hidden = Error::not_found("order.not_found", "no order '" + id.value + "' for this token");
  if (token.empty() || token.size() > 200) return hidden;
  return db_.snapshot<Order>([&](soci::session& sql) -> Result<Order> {
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
  if (!query.status.empty() && !lifecycle::is_status(query.status)) {
    std::string all;
    for (const auto& st : lifecycle::statuses()) all += (all.empty() ? "" : ", ") + st;
    v.fail("status", "must be one of " + all);
  }
  QQ_TRY(v.status("invalid_query"));
  return db_.snapshot<OrderPage>([&](soci::session& sql) -> Result<OrderPage> {
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

Result<std::vector<OrderEvent>> OrderService::timeline(const OrderId& id) {
  QQ_ASSIGN_OR_RETURN(Order o, get(id));
  return std::move(o.events);
}

namespace {

std::string event_type(lifecycle::Move m) {
  switch (m) {
    case lifecycle::Move::mark_paid: return "order.paid";
    case lifecycle::Move::ship: return "order.shipped";
    case lifecycle::Move::deliver: return "order.delivered";
    case lifecycle::Move::ready_for_pickup: return "order.ready_for_pickup";
    case lifecycle::Move::pickup: return "order.picked_up";
    case lifecycle::Move::complete: return "order.completed";
    case lifecycle::Move::cancel: return "order.cancelled";
  }
  return "order.updated";
}

}  // namespace

Result<Order> OrderService::move(const OrderId& id, lifecycle::Move m, const Actor& actor) {
  using lifecycle::Move;
  if (m == Move::mark_paid) return mark_paid(id, {{"source", "merchant"}}, actor);
  if (m == Move::cancel) return cancel(id, "", actor);
  if (m == Move::ready_for_pickup) return mark_ready_for_pickup(id, actor);
  if (m == Move::pickup) return pick_up(id, "", actor);  // the desk's code is required: a 400 without it
  auto moved = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    return move_in(sql, std::move(o), m, actor, json::object(), json::object());
  });
  if (moved) {
    // Only a move that took goods off the shelf stales the store views of their stock.
    if (m == Move::ship) inventory::InventoryService::stock_changed(changes_, moved->allocations);
    events_.notify();
  }
  return moved;
}

Result<Order> OrderService::move_in(soci::session& sql, Order o, lifecycle::Move m, const Actor& actor,
                                    json event_facts, const json& outbox_extra) {
  using lifecycle::Move;
  auto f = facts(o, actor);
  auto to = lifecycle::target(f, m);
  if (!to) return lifecycle::invalid_transition(f, m);
  // Goods leave the shelf when shipped or handed over at the store.
  bool goods_leave = m == Move::ship || m == Move::pickup;
  std::string fulfilment = m == Move::ship      ? "fulfilled"
                           : m == Move::deliver ? "delivered"
                           : m == Move::pickup  ? "picked_up"
                                                : o.fulfilment_status;
  long long now = clock_.now_ms();
  std::string changed;
  // The conditional update is the guard: on PostgreSQL a concurrent move waits on the row lock,
  // then finds the status changed and matches nothing, so stock leaves once. A handover also
  // needs the desk unlocked (wrong codes counted meanwhile may have locked it).
  std::string update =
      "UPDATE orders SET status = :to, fulfilment_status = :fs, updated_at = :u "
      "WHERE id = :id AND status = :from AND payment_status = :ps" +
      std::string(m == Move::pickup ? " AND pickup_locked = 0" : "") + " RETURNING id";
  sql << update, soci::use(*to), soci::use(fulfilment), soci::use(now), soci::use(o.id.value), soci::use(o.status),
      soci::use(o.payment_status), soci::into(changed);
  if (!sql.got_data()) {
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, o.id));
    if (m == Move::pickup && current.pickup && current.pickup->locked) return pickup_locked(*current.pickup);
    return lifecycle::invalid_transition(facts(current, actor), m);
  }
  if (goods_leave) QQ_TRY(inventory::InventoryService::ship(sql, clock_, o.allocations, o.id.value));
  o.status = *to;
  o.fulfilment_status = fulfilment;
  o.updated_at = now;
  add_event(sql, clock_, o, event_type(m), std::move(event_facts), actor);
  json data = event_data(o);
  data.update(outbox_extra);
  events_.record(sql, event_type(m), data);
  if (goods_leave)
    events_.record(sql, "inventory.changed",
                   inventory::InventoryService::changed_event(sql, o.allocations, "fulfilment", o.id.value));
  return o;
}

Result<Order> OrderService::cancel(const OrderId& id, const std::string& reason, const Actor& actor) {
  Validator v;
  v.text("reason", reason, 500, false);
  QQ_TRY(v.status());
  std::string refund_id;
  auto cancelled = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    auto f = facts(o, actor);
    if (!lifecycle::target(f, lifecycle::Move::cancel)) return lifecycle::invalid_transition(f, lifecycle::Move::cancel);
    // The conditional update is the guard: on PostgreSQL a concurrent cancel waits on the row
    // lock, then finds the status changed and matches nothing, so stock is released once.
    long long now = clock_.now_ms();
    std::string changed;
    sql << "UPDATE orders SET status = 'cancelled', updated_at = :u WHERE id = :id AND status = :from RETURNING id",
        soci::use(now), soci::use(o.id.value), soci::use(o.status), soci::into(changed);
    if (!sql.got_data()) {
      QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
      return lifecycle::invalid_transition(facts(current, actor), lifecycle::Move::cancel);
    }
    // Every state a cancel leaves from still holds the order's reservations.
    QQ_TRY(inventory::InventoryService::release(sql, clock_, o.allocations, o.id.value));
    // An authorised payment is let go with the order (the API asks the provider to release it).
    if (o.payment_status == "authorized") {
      sql << "UPDATE orders SET payment_status = 'cancelled' WHERE id = :id", soci::use(o.id.value);
      o.payment_status = "cancelled";
    }
    o.status = "cancelled";
    o.updated_at = now;
    add_event(sql, clock_, o, "order.cancelled", {{"reason", reason}}, actor);
    // Money taken is given back: recorded pending here, paid back after the commit.
    if (std::int64_t left = o.refundable_amount(); left > 0)
      refund_id = insert_refund(sql, clock_, o, left, {}, reason.empty() ? "order cancelled" : reason, "", actor).id;
    json data = event_data(o);
    if (!reason.empty()) data["reason"] = reason;
    events_.record(sql, "order.cancelled", data);
    events_.record(sql, "inventory.changed",
                   inventory::InventoryService::changed_event(sql, o.allocations, "release", o.id.value));
    return o;
  });
  if (!cancelled) return cancelled;
  inventory::InventoryService::stock_changed(changes_, cancelled->allocations);
  events_.notify();
  if (refund_id.empty()) return cancelled;
  return settle(id, refund_id, nullptr);
}

json OrderService::event_data(const Order& o) {
  auto money = [&](std::int64_t amount) { return json{{"amount", amount}, {"currency", o.currency}}; };
  json lines = json::array();
  for (const auto& l : o.lines)
    lines.push_back({{"line_id", l.id},
                     {"sku", l.sku},
                     {"variant_id", l.variant_id.value},
                     {"product_id", l.product_id.value},
                     {"quantity", l.quantity},
                     {"unit_price", money(l.unit_price)},
                     {"subtotal", money(l.subtotal)},
                     {"tax", money(l.tax)},
                     {"total", money(l.total)}});
  return {{"order_id", o.id.value},
          {"number", o.number},
          {"channel_id", o.channel_id.value},
          {"cart_id", o.cart_id.value},
          {"customer_id", o.customer_id ? json(o.customer_id->value) : json(nullptr)},
          {"status", o.status},
          {"payment_status", o.payment_status},
          {"fulfilment_status", o.fulfilment_status},
          {"fulfilment_type", o.fulfilment_type},
          {"pickup_location_id", o.pickup ? json(o.pickup->location_id.value) : json(nullptr)},
          {"email", o.email},
          {"currency", o.currency},
          {"lines", lines},
          {"totals",
           {{"subtotal", money(o.totals.subtotal)},
            {"discount_total", money(o.totals.discount_total)},
            {"shipping_total", money(o.totals.shipping_total)},
            {"tax_total", money(o.totals.tax_total)},
            {"total", money(o.totals.total)}}},
          {"total", money(o.totals.total)},
          {"refunded_total", money(o.refunded_total())},
          {"metadata", o.metadata},
          {"source", o.source ? o.source->to_json() : json(nullptr)}};
}

Result<Order> OrderService::update_metadata(const OrderId& id, const json& patch, const Actor& actor) {
  Validator v;
  validate_metadata_patch(v, "metadata", patch);
  QQ_TRY(v.status());
  auto updated = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_TRY(lock_order(sql, clock_, id));
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    json merged = apply_metadata_patch(o.metadata, patch);
    Validator bounds;
    validate_metadata_result(bounds, "metadata", merged);
    QQ_TRY(bounds.status());
    if (merged == o.metadata) return o;  // nothing changes: no event
    std::string text = merged.dump();
    sql << "UPDATE orders SET metadata = :m WHERE id = :id", soci::use(text), soci::use(o.id.value);
    json keys = json::array();
    for (const auto& [key, value] : patch.items()) keys.push_back(key);
    o.metadata = std::move(merged);
    add_event(sql, clock_, o, "order.updated", {{"changed", json::array({"metadata"})}, {"metadata_keys", keys}},
              actor);
    json data = event_data(o);
    data["changed"] = json::array({"metadata"});
    events_.record(sql, "order.updated", data);
    return o;
  });
  if (updated) events_.notify();
  return updated;
}

Result<Order> OrderService::mark_paid_in(soci::session& sql, const Clock& clock, const OrderId& id,
                                         const json& details, bool& changed, const Actor& actor) {
  changed = false;
  QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
  if (lifecycle::payment_settled(o.payment_status)) return o;  // paid before: nothing to do
  auto f = facts(o, actor);
  auto to = lifecycle::target(f, lifecycle::Move::mark_paid);
  if (!to) return lifecycle::invalid_transition(f, lifecycle::Move::mark_paid);
  long long now = clock.now_ms();
  std::string moved;
  sql << "UPDATE orders SET payment_status = 'captured', status = :to, updated_at = :u "
         "WHERE id = :id AND status = :from AND payment_status = :ps RETURNING id",
      soci::use(*to), soci::use(now), soci::use(id.value), soci::use(o.status), soci::use(o.payment_status),
      soci::into(moved);
  if (!sql.got_data()) {
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
    if (lifecycle::payment_settled(current.payment_status)) return current;
    return lifecycle::invalid_transition(facts(current, actor), lifecycle::Move::mark_paid);
  }
  o.status = *to;
  o.payment_status = "captured";
  o.updated_at = now;
  add_event(sql, clock, o, "order.paid", details, actor);
  changed = true;
  return o;
}

Result<Order> OrderService::mark_paid(const OrderId& id, const json& details, const Actor& actor) {
  bool changed = false;
  auto paid = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, mark_paid_in(sql, clock_, id, details, changed, actor));
    if (changed) events_.record(sql, "order.paid", event_data(o));
    return o;
  });
  if (paid && changed) events_.notify();
  return paid;
}

Result<Order> OrderService::set_fulfilment(const OrderId& id, const std::string& status, const Actor& actor) {
  if (status != "fulfilled" && status != "delivered")
    return Error::invalid("validation_failed", "the request has invalid fields",
                          {{"status", "must be fulfilled or delivered"}});
  return move(id, status == "fulfilled" ? lifecycle::Move::ship : lifecycle::Move::deliver, actor);
}

// ---- Refunds ----

Result<Order> OrderService::settle(const OrderId& id, const std::string& refund_id, Status* provider_error) {
  if (refunds_) {
    auto settled = refunds_->settle(id, refund_id);
    if (!settled && provider_error) *provider_error = std::move(settled).error();
  }
  return get(id);
}

Result<Order> OrderService::refund(const OrderId& id, const RefundRequest& request, const Actor& actor,
                                   std::string* refund_id) {
  Validator v;
  v.text("reason", request.reason, 500, true);
  if (request.amount && !request.lines.empty()) v.fail("amount", "give an amount or lines, not both");
  if (!request.amount && request.lines.empty()) v.fail("amount", "give an amount or lines");
  if (request.amount && *request.amount < 1) v.fail("amount", "must be at least 1");
  QQ_TRY(v.status());
  std::string created;
  auto recorded = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_TRY(lock_order(sql, clock_, id));
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    if (!lifecycle::payment_settled(o.payment_status)) {
      Error e = Error::conflict("order.not_refundable", "the payment of this order is " + o.payment_status +
                                                            "; only a captured payment can be refunded");
      e.extensions = {{"current_status", o.status}, {"payment_status", o.payment_status}};
      return e;
    }
    std::int64_t amount = 0;
    if (request.amount) {
      amount = *request.amount;
    } else {
      QQ_TRY(validate_lines(o, request.lines, "lines", refunded_units(o), "refunded"));
      amount = lines_value(o, request.lines);
      if (amount < 1) return Error::invalid("validation_failed", "the request has invalid fields",
                                            {{"lines", "are worth nothing to refund"}});
    }
    if (amount > o.refundable_amount()) {
      Error e = Error::unprocessable("refund.exceeds_refundable",
                                     "a refund of " + std::to_string(amount) + " is more than the " +
                                         std::to_string(o.refundable_amount()) + " " + o.currency +
                                         " that can still be refunded");
      e.extensions = {{"refundable", {{"amount", o.refundable_amount()}, {"currency", o.currency}}}};
      return e;
    }
    created = insert_refund(sql, clock_, o, amount, request.amount ? std::vector<LineQuantity>{} : request.lines,
                            request.reason, "", actor)
                  .id;
    return o;
  });
  if (!recorded) return recorded.error();
  if (refund_id) *refund_id = created;
  Status provider_error = ok_status();
  auto after = settle(id, created, &provider_error);
  if (!provider_error) return std::move(provider_error).error();
  return after;
}

Result<Order> OrderService::retry_refund(const OrderId& id, const std::string& refund_id) {
  QQ_ASSIGN_OR_RETURN(Order o, get(id));
  const Refund* r = find_refund(o, refund_id);
  if (!r) return Error::not_found("refund.not_found", "no refund '" + refund_id + "' of this order");
  if (r->status != "pending")
    return Error::conflict("refund.not_pending", "the refund is " + r->status + " already");
  Status provider_error = ok_status();
  auto after = settle(id, refund_id, &provider_error);
  if (!provider_error) return std::move(provider_error).error();
  return after;
}

Result<Order> OrderService::finish_refund_in(soci::session& sql, const Clock& clock, events::EventBus& events,
                                             const OrderId& id, const std::string& refund_id,
                                             const std::string& status, const std::string& provider_reference,
                                             const std::string& failure, bool* finished) {
  if (finished) *finished = false;
  QQ_TRY(lock_order(sql, clock, id));
  QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
  const Refund* found = find_refund(o, refund_id);
  if (!found) return Error::not_found("refund.not_found", "no refund '" + refund_id + "' of this order");
  if (found->status != "pending") return o;
  long long now = clock.now_ms();
  soci::indicator ref_ind = provider_reference.empty() ? soci::i_null : soci::i_ok;
  if (status == "pending") {
    if (!provider_reference.empty())
      sql << "UPDATE order_refunds SET provider_reference = :r, updated_at = :u WHERE id = :id",
          soci::use(provider_reference), soci::use(now), soci::use(refund_id);
    return load(sql, id);
  }
  soci::indicator failure_ind = failure.empty() ? soci::i_null : soci::i_ok;
  sql << "UPDATE order_refunds SET status = :s, provider_reference = :r, failure = :f, updated_at = :u "
         "WHERE id = :id AND status = 'pending'",
      soci::use(status), soci::use(provider_reference, ref_ind), soci::use(failure, failure_ind), soci::use(now),
      soci::use(refund_id);
  Actor actor = found->actor;
  if (status == "succeeded") {
    std::int64_t refunded = o.refunded_total() + found->amount;
    std::string payment = refunded >= o.captured_amount() ? "refunded" : "partially_refunded";
    sql << "UPDATE orders SET payment_status = :p WHERE id = :id", soci::use(payment), soci::use(o.id.value);
  }
  QQ_ASSIGN_OR_RETURN(Order after, load(sql, id));
  const Refund* r = find_refund(after, refund_id);
  std::string type = status == "succeeded" ? "order.refunded" : "order.refund_failed";
  add_event(sql, clock, after, type, refund_event_data(*r), actor);
  json data = event_data(after);
  data["refund"] = refund_event_data(*r);
  events.record(sql, type, data);
  if (finished) *finished = true;
  return after;
}

// ---- Returns ----

Result<Order> OrderService::create_return(const OrderId& id, const ReturnRequest& request, const Actor& actor,
                                          std::string* return_id) {
  Validator v;
  v.text("reason", request.reason, 500, false);
  if (request.restock && request.location_id.empty()) v.fail("location_id", "is required to restock");
  if (!request.restock && !request.location_id.empty()) v.fail("location_id", "is only for a restock");
  if (request.location_id.size() > 128) v.fail("location_id", "is not a stock location");
  QQ_TRY(v.status());
  std::string location_id;  // the location's id, whether it was named by id or by code
  std::string created, refund_id;
  std::vector<inventory::Allocation> restocked;  // what a restock put back on hand
  auto done = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_TRY(lock_order(sql, clock_, id));
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    static const std::vector<std::string> kReturnable{"shipped", "delivered", "picked_up", "completed"};
    if (std::find(kReturnable.begin(), kReturnable.end(), o.status) == kReturnable.end()) {
      Error e = Error::conflict("order.not_returnable",
                                "an order that is " + o.status + " has no shipped lines to return");
      e.extensions = {{"current_status", o.status}};
      return e;
    }
    QQ_TRY(validate_lines(o, request.lines, "lines", returned_units(o), "returned"));
    if (request.refund && !lifecycle::payment_settled(o.payment_status)) {
      Error e = Error::conflict("order.not_refundable", "the payment of this order is " + o.payment_status +
                                                            "; only a captured payment can be refunded");
      e.extensions = {{"current_status", o.status}, {"payment_status", o.payment_status}};
      return e;
    }
    restocked.clear();
    if (request.restock) {
      sql << "SELECT id FROM stock_locations WHERE id = :id OR code = :code", soci::use(request.location_id),
          soci::use(request.location_id), soci::into(location_id);
      if (!sql.got_data())
        return Error::invalid("validation_failed", "the request has invalid fields",
                              {{"location_id", "is not a stock location"}});
      for (const auto& l : request.lines)
        for (const auto& line : o.lines)
          if (line.id == l.line_id)
            restocked.push_back({line.variant_id, LocationId(location_id), l.quantity});
    }
    created = new_id("ret");
    // The refund first, so that the return names it.
    if (request.refund) {
      QQ_TRY(validate_lines(o, request.lines, "lines", refunded_units(o), "refunded"));
      std::int64_t amount = std::min(lines_value(o, request.lines), o.refundable_amount());
      if (amount > 0)
        refund_id = insert_refund(sql, clock_, o, amount, request.lines,
                                  request.reason.empty() ? "return" : request.reason, created, actor)
                        .id;
    }
    if (request.restock) QQ_TRY(inventory::InventoryService::restock(sql, clock_, restocked, o.id.value));
    std::string lines_text = lines_json(request.lines).dump();
    long long now = clock_.now_ms();
    int restock = request.restock ? 1 : 0;
    soci::indicator location_ind = request.restock ? soci::i_ok : soci::i_null;
    soci::indicator refund_ind = refund_id.empty() ? soci::i_null : soci::i_ok;
    soci::indicator actor_ind = actor.id.empty() ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO order_returns (id, order_id, lines, restock, location_id, reason, refund_id, actor_type, "
           "actor_id, created_at) VALUES (:id, :o, :l, :r, :loc, :reason, :ref, :at, :ai, :t)",
        soci::use(created), soci::use(o.id.value), soci::use(lines_text), soci::use(restock),
        soci::use(location_id, location_ind), soci::use(request.reason), soci::use(refund_id, refund_ind),
        soci::use(actor.type), soci::use(actor.id, actor_ind), soci::use(now);
    json data{{"return_id", created}, {"lines", lines_json(request.lines)}, {"restock", request.restock}};
    if (request.restock) data["location_id"] = location_id;
    if (!refund_id.empty()) data["refund_id"] = refund_id;
    add_event(sql, clock_, o, "order.returned", data, actor);
    json outbox = event_data(o);
    outbox["return"] = data;
    events_.record(sql, "order.returned", outbox);
    if (request.restock)
      events_.record(sql, "inventory.changed",
                     inventory::InventoryService::changed_event(sql, restocked, "return", o.id.value));
    return o;
  });
  if (!done) return done;
  if (request.restock) inventory::InventoryService::stock_changed(changes_, restocked);
  events_.notify();
  if (return_id) *return_id = created;
  if (refund_id.empty()) return get(id);
  // The return stands whatever the provider says about its refund (shown failed or pending).
  return settle(id, refund_id, nullptr);
}

Result<Order> OrderService::mark_ready_for_pickup(const OrderId& id, const Actor& actor) {
  auto moved = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    int hold_hours = inventory::kDefaultPickupHoldHours;
    if (o.pickup)
      sql << "SELECT pickup_hold_hours FROM stock_locations WHERE id = :id", soci::into(hold_hours),
          soci::use(o.pickup->location_id.value);
    long long now = clock_.now_ms(), expires_at = now + hold_hours * hold_hour_ms_;
    json facts_data = o.pickup ? json{{"location_id", o.pickup->location_id.value}, {"expires_at", expires_at}}
                               : json::object();
    // The table decides (a ship order, or an unpaid one that has a payment step, is refused).
    QQ_TRY(move_in(sql, std::move(o), lifecycle::Move::ready_for_pickup, actor, std::move(facts_data),
                   {{"pickup_expires_at", expires_at}}));
    sql << "UPDATE orders SET pickup_ready_at = :r, pickup_expires_at = :e WHERE id = :id", soci::use(now),
        soci::use(expires_at), soci::use(id.value);
    if (schedule_expiry_) QQ_TRY(schedule_expiry_(sql, id, expires_at));
    return load(sql, id);
  });
  if (moved) events_.notify();  // no stock moved: no store view is stale
  return moved;
}

Result<Order> OrderService::pick_up(const OrderId& id, const std::string& code, const Actor& actor) {
  // A wrong code is counted in a transaction that commits: the outcome says which it was.
  struct Outcome {
    Order order;
    int wrong_attempts = 0;  // above 0: the code was wrong, and this many were made
  };
  auto done = db_.write<Outcome>([&](soci::session& sql) -> Result<Outcome> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    // 1. The table first: not ready (or a ship order) is its 409, whatever the code.
    auto f = facts(o, actor);
    if (!lifecycle::target(f, lifecycle::Move::pickup)) return lifecycle::invalid_transition(f, lifecycle::Move::pickup);
    if (!o.pickup) return not_pickup(o);  // ready_for_pickup is for pickup orders only: never here
    // 2. The code: malformed is a 400 that counts nothing; a locked desk takes no code.
    if (!looks_like_pickup_code(code))
      return Error::invalid("validation_failed", "the request has invalid fields", {{"code", "must be 6 digits"}});
    if (o.pickup->locked) return pickup_locked(*o.pickup);
    if (!constant_time_equal(o.pickup->code_hash, pickup_code_hash(o.id, code))) {
      int attempts = count_wrong_code(sql, o.id, clock_.now_ms());
      QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
      add_event(sql, clock_, current, "order.pickup_code_rejected", {{"failed_attempts", attempts}}, actor);
      return Outcome{std::move(current), attempts};
    }
    // 3. The table's pickup move: the reserved stock leaves the shelf, once.
    json facts_data{{"location_id", o.pickup->location_id.value}};
    QQ_ASSIGN_OR_RETURN(Order picked, move_in(sql, std::move(o), lifecycle::Move::pickup, actor, std::move(facts_data),
                                              json::object()));
    return Outcome{std::move(picked), 0};
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

Result<Order> OrderService::unlock_pickup(const OrderId& id, const Actor& actor) {
  auto unlocked = db_.write<Order>([&](soci::session& sql) -> Result<Order> {
    QQ_ASSIGN_OR_RETURN(Order o, load(sql, id));
    if (!o.pickup) return not_pickup(o);
    long long now = clock_.now_ms();
    sql << "UPDATE orders SET pickup_failed_attempts = 0, pickup_locked = 0, updated_at = :u WHERE id = :id",
        soci::use(now), soci::use(o.id.value);
    QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
    add_event(sql, clock_, current, "order.pickup_unlocked", {{"failed_attempts", o.pickup->failed_attempts}},
              actor);
    events_.record(sql, "order.pickup_unlocked", event_data(current));
    return current;
  });
  if (unlocked) events_.notify();
  return unlocked;
}

Result<std::optional<Order>> OrderService::expire_pickup(const OrderId& id, const std::string& job_id) {
  QQ_ASSIGN_OR_RETURN(Order o, get(id));
  // Picked up, cancelled or (after an early run) not yet due: nothing to do.
  if (o.status != "ready_for_pickup" || !o.pickup || !o.pickup->expires_at || *o.pickup->expires_at > clock_.now_ms())
    return std::optional<Order>();
  // A cancellation like any other: stock released, a settled payment refunded.
  auto cancelled = cancel(id, "pickup_expired", Actor::job(job_id));
  if (cancelled) return std::optional<Order>(std::move(*cancelled));
  // Picked up or cancelled since the look above: the cancel's guard refused it.
  if (cancelled.error().code == "order.invalid_transition") return std::optional<Order>();
  return cancelled.error();
}

}  // namespace quanqu::orders
