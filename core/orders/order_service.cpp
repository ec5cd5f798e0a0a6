// Order persistence: the snapshot document, allocations, events and cancellation.
#include "orders/order_service.h"
#include "common/random.h"
#include "common/validation.h"
#include "inventory/inventory_service.h"
#include "storage/dynamic_query.h"

namespace quanqu::orders {
namespace {

using nlohmann::json;

json snapshot_of(const Order& o) {
  json lines = json::array();
  for (const auto& l : o.lines)
    lines.push_back({{"id", l.id}, {"variant_id", l.variant_id.value}, {"product_id", l.product_id.value},
                     {"sku", l.sku}, {"product_title", l.product_title}, {"variant_title", l.variant_title},
                     {"options", l.options}, {"quantity", l.quantity}, {"unit_price", l.unit_price},
                     {"subtotal", l.subtotal}, {"tax", l.tax}, {"total", l.total}});
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
                       l.at("options").get<std::map<std::string, std::string>>(), l.at("quantity"),
                       l.at("unit_price"), l.at("subtotal"), l.at("tax"), l.at("total")});
  o.totals.tax.rate_bp = s.at("tax_rate_bp");
  o.totals.tax.inclusive = s.at("tax_inclusive");
  for (const auto& e : s.at("explanation"))
    o.totals.explanation.push_back({e.at("kind"), e.at("label"), e.at("amount"), e.at("included")});
}

void add_event(soci::session& sql, const Clock& clock, Order& o, const std::string& type, json data) {
  OrderEvent e{new_id("evt"), type, std::move(data), clock.now_ms()};
  std::string text = e.data.dump();
  sql << "INSERT INTO order_events (id, order_id, type, data, created_at) VALUES (:id, :o, :t, :d, :c)",
      soci::use(e.id), soci::use(o.id.value), soci::use(e.type), soci::use(text), soci::use(e.created_at);
  o.events.push_back(std::move(e));
}

}  // namespace

OrderService::OrderService(storage::Database& db, const Clock& clock, ChangeCounter& changes)
    : db_(db), clock_(clock), changes_(changes) {}

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
  sql << "INSERT INTO orders (id, number, channel_id, cart_id, status, currency, email, shipping_address, subtotal, "
         "tax_total, shipping_total, discount_total, total, snapshot, access_token_hash, created_at, updated_at) "
         "VALUES (:id, :n, :ch, :cart, :s, :cur, :e, :a, :st, :tt, :sh, :d, :t, :snap, :tok, :ca, :ua)",
      soci::use(o.id.value), soci::use(number), soci::use(o.channel_id.value), soci::use(o.cart_id.value),
      soci::use(o.status), soci::use(o.currency), soci::use(o.email), soci::use(address), soci::use(subtotal),
      soci::use(tax), soci::use(shipping), soci::use(discount), soci::use(total), soci::use(snapshot),
      soci::use(token_hash), soci::use(created), soci::use(created);
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
  std::string address, snapshot;
  long long subtotal = 0, tax = 0, shipping = 0, discount = 0, total = 0;
  sql << "SELECT id, number, channel_id, cart_id, status, currency, email, shipping_address, subtotal, tax_total, "
         "shipping_total, discount_total, total, snapshot, created_at, updated_at FROM orders WHERE id = :id",
      soci::into(o.id.value), soci::into(o.number), soci::into(o.channel_id.value), soci::into(o.cart_id.value),
      soci::into(o.status), soci::into(o.currency), soci::into(o.email), soci::into(address), soci::into(subtotal),
      soci::into(tax), soci::into(shipping), soci::into(discount), soci::into(total), soci::into(snapshot),
      soci::into(o.created_at), soci::into(o.updated_at), soci::use(id.value);
  if (!sql.got_data()) return Error::not_found("order.not_found", "no order '" + id.value + "'");
  o.shipping_address = Address::from_json(json::parse(address));
  o.totals.currency = o.currency;
  o.totals.subtotal = subtotal;
  o.totals.tax_total = tax;
  o.totals.shipping_total = shipping;
  o.totals.discount_total = discount;
  o.totals.total = total;
  read_snapshot(json::parse(snapshot), o);

  inventory::Allocation a;
  soci::statement allocations = (sql.prepare << "SELECT variant_id, location_id, quantity FROM order_allocations "
                                                "WHERE order_id = :o ORDER BY variant_id, location_id",
                                 soci::into(a.variant_id.value), soci::into(a.location_id.value),
                                 soci::into(a.quantity), soci::use(o.id.value));
  allocations.execute();
  while (allocations.fetch()) o.allocations.push_back(a);

  OrderEvent e;
  std::string data;
  soci::statement events = (sql.prepare << "SELECT id, type, data, created_at FROM order_events WHERE order_id = :o "
                                           "ORDER BY created_at, id",
                            soci::into(e.id), soci::into(e.type), soci::into(data), soci::into(e.created_at),
                            soci::use(o.id.value));
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
  if (!query.cursor.empty() && !looks_like_id(query.cursor, "order")) v.fail("cursor", "is not a cursor from this list");
  static const std::vector<std::string> kStatuses{"pending", "paid", "fulfilled", "completed", "cancelled"};
  if (!query.status.empty() && std::find(kStatuses.begin(), kStatuses.end(), query.status) == kStatuses.end())
    v.fail("status", "must be one of pending, paid, fulfilled, completed, cancelled");
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
    sql << "UPDATE orders SET status = 'cancelled', updated_at = :u WHERE id = :id AND status = 'pending' RETURNING id",
        soci::use(now), soci::use(o.id.value), soci::into(changed);
    if (!sql.got_data()) {
      QQ_ASSIGN_OR_RETURN(Order current, load(sql, id));
      return Error::conflict("order.not_cancellable", "an order that is " + current.status + " cannot be cancelled");
    }
    QQ_TRY(inventory::InventoryService::release(sql, clock_, o.allocations, o.id.value));
    o.status = "cancelled";
    o.updated_at = now;
    add_event(sql, clock_, o, "order.cancelled", {{"reason", reason}});
    return o;
  });
  if (cancelled) changes_.bump();
  return cancelled;
}

}  // namespace quanqu::orders
