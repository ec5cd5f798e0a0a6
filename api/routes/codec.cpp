// Resource to JSON mapping; money is always {"amount": minor units, "currency": code}.
#include "routes/codec.h"
#include "common/clock.h"
#include "orders/order_service.h"

namespace quanqu::api {
namespace {

json time_json(std::int64_t ms) { return format_rfc3339(ms); }

json images_json(const std::vector<catalog::Image>& images) {
  json out = json::array();
  for (const auto& i : images) out.push_back({{"url", i.url}, {"alt", i.alt}});
  return out;
}

json ids_json(const std::vector<CategoryId>& ids) {
  json out = json::array();
  for (const auto& i : ids) out.push_back(i.value);
  return out;
}

json optional_string(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

}  // namespace

json optional_time_json(const std::optional<std::int64_t>& ms) { return ms ? time_json(*ms) : json(nullptr); }

json money_json(std::int64_t amount, const std::string& currency) {
  return {{"amount", amount}, {"currency", currency}};
}

json totals_json(const pricing::Totals& t) {
  json explanation = json::array();
  for (const auto& e : t.explanation)
    explanation.push_back({{"kind", e.kind}, {"label", e.label}, {"amount", money_json(e.amount, t.currency)},
                           {"included", e.included}});
  return {{"subtotal", money_json(t.subtotal, t.currency)},
          {"discount_total", money_json(t.discount_total, t.currency)},
          {"shipping_total", money_json(t.shipping_total, t.currency)},
          {"tax_total", money_json(t.tax_total, t.currency)},
          {"total", money_json(t.total, t.currency)},
          {"tax_rate_bp", t.tax.rate_bp},
          {"tax_inclusive", t.tax.inclusive},
          {"explanation", explanation}};
}

json variant_admin_json(const catalog::Variant& v) {
  json prices = json::array();
  for (const auto& p : v.prices) prices.push_back(money_json(p.amount, p.currency));
  return {{"id", v.id.value},           {"product_id", v.product_id.value}, {"sku", v.sku},
          {"barcode", optional_string(v.barcode)}, {"title", v.title}, {"options", v.options},
          {"prices", prices},           {"position", v.position},       {"archived", v.archived},
          {"created_at", time_json(v.created_at)}, {"updated_at", time_json(v.updated_at)}};
}

json product_admin_json(const catalog::Product& p) {
  json variants = json::array();
  for (const auto& v : p.variants) variants.push_back(variant_admin_json(v));
  return {{"id", p.id.value},         {"handle", p.handle},       {"title", p.title},
          {"description", p.description}, {"status", p.status},   {"category_ids", ids_json(p.category_ids)},
          {"attributes", p.attributes}, {"images", images_json(p.images)}, {"variants", variants},
          {"created_at", time_json(p.created_at)}, {"updated_at", time_json(p.updated_at)}};
}

json product_store_json(const catalog::Product& p, const std::string& currency) {
  json variants = json::array();
  for (const auto& v : p.variants) {
    auto price = v.price_in(currency);
    std::int64_t available = v.available.value_or(0);
    variants.push_back({{"id", v.id.value},
                        {"sku", v.sku},
                        {"barcode", optional_string(v.barcode)},
                        {"title", v.title},
                        {"options", v.options},
                        {"price", price ? money_json(price->amount, price->currency) : json(nullptr)},
                        {"available_quantity", available},
                        {"in_stock", available > 0 && price.has_value()}});
  }
  return {{"id", p.id.value},         {"handle", p.handle}, {"title", p.title},
          {"description", p.description}, {"category_ids", ids_json(p.category_ids)},
          {"attributes", p.attributes}, {"images", images_json(p.images)}, {"variants", variants}};
}

json category_json(const catalog::Category& c) {
  return {{"id", c.id.value},
          {"handle", c.handle},
          {"name", c.name},
          {"parent_id", c.parent_id ? json(c.parent_id->value) : json(nullptr)},
          {"position", c.position}};
}

json channel_json(const channels::Channel& c) {
  json locations = json::array();
  for (const auto& l : c.location_ids) locations.push_back(l.value);
  return {{"id", c.id.value},           {"code", c.code},
          {"name", c.name},             {"type", c.type},
          {"currency", c.currency},     {"tax_rate_bp", c.tax_rate_bp},
          {"tax_inclusive", c.tax_inclusive}, {"location_ids", locations},
          {"plugin", c.plugin ? json(*c.plugin) : json(nullptr)},
          {"payment_providers", c.payment_providers}, {"fulfilment_providers", c.fulfilment_providers},
          {"created_at", time_json(c.created_at)}, {"updated_at", time_json(c.updated_at)}};
}

json api_key_json(const access::ApiKey& k) {
  return {{"id", k.id.value},
          {"kind", k.kind == access::KeyKind::admin ? "admin" : "publishable"},
          {"hint", k.hint},
          {"channel_id", k.channel_id ? json(k.channel_id->value) : json(nullptr)},
          {"label", k.label},
          {"created_at", time_json(k.created_at)},
          {"revoked_at", optional_time_json(k.revoked_at)}};
}

json location_json(const inventory::StockLocation& l) {
  return {{"id", l.id.value},     {"code", l.code},       {"name", l.name},
          {"kind", l.kind},       {"address", l.address.to_json()}, {"pickup_enabled", l.pickup_enabled},
          {"pickup_hold_hours", l.pickup_hold_hours},
          {"created_at", time_json(l.created_at)}, {"updated_at", time_json(l.updated_at)}};
}

json level_json(const inventory::InventoryLevel& l) {
  return {{"variant_id", l.variant_id.value}, {"sku", l.sku},           {"location_id", l.location_id.value},
          {"on_hand", l.on_hand},             {"reserved", l.reserved}, {"available", l.available()},
          {"updated_at", time_json(l.updated_at)}};
}

// A chosen shipping method as stored ({"provider", "amount": minor units, ...}) for a reply.
json shipping_json(const json& stored, const std::string& currency) {
  if (!stored.is_object()) return nullptr;
  return {{"provider", stored.value("provider", "")},
          {"amount", money_json(stored.value("amount", std::int64_t{0}), currency)},
          {"label", stored.value("label", "")},
          {"location_id", stored.value("location_id", "")},
          {"data", stored.value("data", json::object())}};
}

json cart_json(const cart::Cart& c) {
  json items = json::array();
  for (const auto& i : c.items) {
    json item{{"id", i.id.value},
              {"variant_id", i.variant_id.value},
              {"product_id", i.product_id.value},
              {"sku", i.sku},
              {"product_title", i.product_title},
              {"product_handle", i.product_handle},
              {"variant_title", i.variant_title},
              {"options", i.options},
              {"quantity", i.quantity},
              {"purchasable", i.unavailable_reason.empty()},
              {"unavailable_reason", i.unavailable_reason.empty() ? json(nullptr) : json(i.unavailable_reason)}};
    if (i.price) {
      item["unit_price"] = money_json(i.price->unit_price, c.currency);
      item["subtotal"] = money_json(i.price->subtotal, c.currency);
      item["tax"] = money_json(i.price->tax, c.currency);
      item["total"] = money_json(i.price->total, c.currency);
    } else {
      item["unit_price"] = item["subtotal"] = item["tax"] = item["total"] = nullptr;
    }
    items.push_back(std::move(item));
  }
  return {{"id", c.id.value},
          {"channel_id", c.channel_id.value},
          {"customer_id", c.customer_id ? json(c.customer_id->value) : json(nullptr)},
          {"currency", c.currency},
          {"email", optional_string(c.email)},
          {"shipping_address", c.shipping_address ? c.shipping_address->to_json() : json(nullptr)},
          {"status", c.status},
          {"order_id", c.order_id ? json(c.order_id->value) : json(nullptr)},
          {"items", items},
          {"shipping", c.shipping ? shipping_json(*c.shipping, c.currency) : json(nullptr)},
          {"fulfilment",
           {{"type", c.fulfilment_type},
            {"location_id", c.pickup_location_id ? json(c.pickup_location_id->value) : json(nullptr)},
            {"location_name", c.pickup_location_id ? json(c.pickup_location_name) : json(nullptr)}}},
          {"totals", totals_json(c.totals)},
          {"metadata", c.metadata.is_object() ? c.metadata : json::object()},
          {"source", c.source ? c.source->to_json() : json(nullptr)},
          {"created_at", time_json(c.created_at)},
          {"updated_at", time_json(c.updated_at)}};
}

json payment_session_json(const payments::PaymentSession& s) {
  json out = s.to_json();
  out["created_at"] = time_json(s.created_at);
  out["updated_at"] = time_json(s.updated_at);
  return out;
}

json actor_json(const orders::Actor& actor) {
  return {{"type", actor.type}, {"id", actor.id.empty() ? json(nullptr) : json(actor.id)}};
}

namespace {
json line_quantities_json(const std::vector<orders::LineQuantity>& lines) {
  json out = json::array();
  for (const auto& l : lines) out.push_back({{"line_id", l.line_id}, {"quantity", l.quantity}});
  return out;
}
}  // namespace

json refund_json(const orders::Refund& r) {
  return {{"id", r.id},
          {"amount", money_json(r.amount, r.currency)},
          {"reason", r.reason},
          {"lines", line_quantities_json(r.lines)},
          {"status", r.status},
          {"provider", r.provider.empty() ? json(nullptr) : json(r.provider)},
          {"provider_reference", r.provider_reference.empty() ? json(nullptr) : json(r.provider_reference)},
          {"failure", r.failure.empty() ? json(nullptr) : json(r.failure)},
          {"return_id", r.return_id.empty() ? json(nullptr) : json(r.return_id)},
          {"actor", actor_json(r.actor)},
          {"created_at", time_json(r.created_at)},
          {"updated_at", time_json(r.updated_at)}};
}

json return_json(const orders::Return& r) {
  return {{"id", r.id},
          {"lines", line_quantities_json(r.lines)},
          {"restock", r.restock},
          {"location_id", r.location_id.empty() ? json(nullptr) : json(r.location_id)},
          {"reason", r.reason},
          {"refund_id", r.refund_id.empty() ? json(nullptr) : json(r.refund_id)},
          {"actor", actor_json(r.actor)},
          {"created_at", time_json(r.created_at)}};
}

json timeline_event_json(const orders::OrderEvent& e) {
  return {{"id", e.id}, {"type", e.type}, {"at", time_json(e.created_at)}, {"data", e.data}, {"actor", actor_json(e.actor)}};
}

json order_json(const orders::Order& o, bool admin, const std::string& pickup_code) {
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
                     {"unit_price", money_json(l.unit_price, o.currency)},
                     {"subtotal", money_json(l.subtotal, o.currency)},
                     {"tax", money_json(l.tax, o.currency)},
                     {"total", money_json(l.total, o.currency)}});
  json events = json::array();
  for (const auto& e : o.events)
    events.push_back({{"id", e.id},
                      {"type", e.type},
                      {"data", e.data},
                      {"created_at", time_json(e.created_at)},
                      {"actor", actor_json(e.actor)}});
  json refunds = json::array(), returns = json::array();
  for (const auto& r : o.refunds) refunds.push_back(refund_json(r));
  for (const auto& r : o.returns) returns.push_back(return_json(r));
  json out{{"id", o.id.value},
           {"number", o.number},
           {"channel_id", o.channel_id.value},
           {"cart_id", o.cart_id.value},
           {"customer_id", o.customer_id ? json(o.customer_id->value) : json(nullptr)},
           {"status", o.status},
           {"currency", o.currency},
           {"email", o.email},
           {"shipping_address", o.shipping_address.to_json()},
           {"lines", lines},
           {"totals", totals_json(o.totals)},
           {"events", events},
           {"payment",
            {{"status", o.payment_status},
             {"provider", o.payment_provider.empty() ? json(nullptr) : json(o.payment_provider)},
             {"session_id", o.payment_session_id.empty() ? json(nullptr) : json(o.payment_session_id)}}},
           {"fulfilment",
            {{"status", o.fulfilment_status},
             {"type", o.fulfilment_type},
             {"shipping", shipping_json(o.shipping, o.currency)}}},
           {"pickup", nullptr},
           {"refunds", refunds},
           {"refunded_total", money_json(o.refunded_total(), o.currency)},
           {"returns", returns},
           {"metadata", o.metadata.is_object() ? o.metadata : json::object()},
           {"source", o.source ? o.source->to_json() : json(nullptr)},
           {"created_at", time_json(o.created_at)},
           {"updated_at", time_json(o.updated_at)}};
  if (o.pickup) {
    const auto& p = *o.pickup;
    json pickup{{"location_id", p.location_id.value},
                {"location_name", p.location_name},
                {"ready_at", optional_time_json(p.ready_at)},
                {"expires_at", optional_time_json(p.expires_at)},
                {"failed_attempts", p.failed_attempts},
                {"locked", p.locked}};
    if (!admin) pickup["code"] = pickup_code.empty() ? json(nullptr) : json(pickup_code);
    out["pickup"] = std::move(pickup);
  }
  if (admin) {
    json allocations = json::array();
    for (const auto& a : o.allocations)
      allocations.push_back(
          {{"variant_id", a.variant_id.value}, {"location_id", a.location_id.value}, {"quantity", a.quantity}});
    out["allocations"] = allocations;
    out["allowed_moves"] = orders::lifecycle::allowed_move_names(orders::OrderService::facts(o, orders::Actor::admin("")));
  }
  return out;
}

json customer_cart_json(const cart::CustomerCart& opened) {
  json removed = json::array(), capped = json::array();
  for (const auto& r : opened.removed_items)
    removed.push_back({{"variant_id", r.variant_id.value},
                       {"sku", r.sku},
                       {"quantity", r.quantity},
                       {"reason", r.reason},
                       {"detail", r.detail}});
  for (const auto& c : opened.capped_items)
    capped.push_back({{"variant_id", c.variant_id.value},
                      {"sku", c.sku},
                      {"requested", c.requested},
                      {"quantity", c.quantity}});
  return {{"cart", cart_json(opened.cart)}, {"removed_items", removed}, {"capped_items", capped}};
}

json customer_json(const customers::Customer& c) {
  return {{"id", c.id.value},
          {"email", c.email},
          {"name", c.name},
          {"phone", c.phone},
          {"group_id", c.group_id ? json(c.group_id->value) : json(nullptr)},
          {"created_at", format_rfc3339(c.created_at)},
          {"updated_at", format_rfc3339(c.updated_at)}};
}

json saved_address_json(const customers::SavedAddress& a) {
  return {{"id", a.id.value},
          {"address", a.address.to_json()},
          {"is_default", a.is_default},
          {"created_at", format_rfc3339(a.created_at)},
          {"updated_at", format_rfc3339(a.updated_at)}};
}

json identity_json(const customers::Identity& i) {
  return {{"type", i.type},
          {"value", i.value},
          {"customer_id", i.customer_id.value},
          {"linked_by", i.linked_by},
          {"created_at", format_rfc3339(i.created_at)}};
}

json customer_group_json(const customers::Group& g) {
  return {{"id", g.id.value},
          {"code", g.code},
          {"name", g.name},
          {"created_at", format_rfc3339(g.created_at)},
          {"updated_at", format_rfc3339(g.updated_at)}};
}

json page_json(json items, const std::string& next_cursor) {
  return {{"items", std::move(items)}, {"next_cursor", next_cursor.empty() ? json(nullptr) : json(next_cursor)}};
}

}  // namespace quanqu::api
