// Admin stock handlers: stock locations, inventory levels, adjustments, transfers and the ledger.
#include "admin/admin_routes.h"
#include "common/clock.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

#include <algorithm>

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

json nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json ledger_entry_json(const inventory::LedgerEntry& e) {
  return {{"id", e.id},
          {"variant_id", e.variant_id.value},
          {"sku", e.sku},
          {"location_id", e.location_id.value},
          {"reason", e.reason},
          {"reason_code", nullable(e.reason_code)},
          {"delta_on_hand", e.delta_on_hand},
          {"delta_reserved", e.delta_reserved},
          {"on_hand_after", e.on_hand_after},
          {"reserved_after", e.reserved_after},
          {"reference", nullable(e.reference)},
          {"note", nullable(e.note)},
          {"created_at", format_rfc3339(e.created_at)}};
}

json transfer_json(const inventory::Transfer& t) {
  return {{"id", t.id},
          {"variant_id", t.variant_id.value},
          {"sku", t.sku},
          {"from_location_id", t.from_location_id.value},
          {"to_location_id", t.to_location_id.value},
          {"quantity", t.quantity},
          {"note", nullable(t.note)},
          {"created_at", format_rfc3339(t.created_at)}};
}

json movement_json(const inventory::Movement& m) {
  json entries = json::array(), levels = json::array();
  for (const auto& e : m.entries) entries.push_back(ledger_entry_json(e));
  for (const auto& l : m.levels) levels.push_back(level_json(l));
  return {{"entries", entries}, {"levels", levels}};
}

// The variant of a body naming it by variant_id or by sku (exactly one); records the error in `f`.
std::optional<std::string> variant_field(JsonFields& f) {
  auto variant = f.string("variant_id");
  auto sku = f.string("sku");
  if (variant.has_value() == sku.has_value()) f.fail("variant_id", "give exactly one of variant_id and sku");
  return variant ? variant : sku ? std::optional<std::string>("sku:" + *sku) : std::nullopt;
}

// Resolves what variant_field() returned to a variant id (a SKU is looked up: unknown is a 404).
Result<VariantId> resolve_variant(Services& s, const std::string& named) {
  if (named.rfind("sku:", 0) != 0) return VariantId(named);
  return s.catalog.variant_by_sku(named.substr(4));
}

}  // namespace

void register_admin_inventory_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/stock-locations", admin_route(s, [&s](Request&) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto locations, s.inventory.list_locations());
    json items = json::array();
    for (const auto& l : locations) items.push_back(location_json(l));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  router.add("POST", "/v1/admin/stock-locations", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"code", "name", "kind", "address", "pickup_enabled", "pickup_hold_hours"});
    inventory::NewStockLocation l;
    l.code = f.string("code", true).value_or("");
    l.name = f.string("name", true).value_or("");
    l.kind = f.string("kind").value_or("warehouse");
    l.address = f.address("address", true).value_or(Address{});
    l.pickup_enabled = f.boolean("pickup_enabled").value_or(false);
    l.pickup_hold_hours = static_cast<int>(std::clamp<std::int64_t>(
        f.integer("pickup_hold_hours").value_or(inventory::kDefaultPickupHoldHours), 0, inventory::kMaxPickupHoldHours + 1));
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto location, s.inventory.create_location(l));
    return created(location_json(location), "/v1/admin/stock-locations/" + location.id.value);
  })));

  router.add("GET", "/v1/admin/stock-locations/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto location, s.inventory.get_location(LocationId(r.param("id"))));
    return json_reply(200, location_json(location));
  }));

  router.add("PATCH", "/v1/admin/stock-locations/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.inventory.get_location(LocationId(r.param("id"))));  // a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"name", "address", "pickup_enabled", "pickup_hold_hours"});
    inventory::StockLocationPatch patch{f.string("name"), f.address("address"), f.boolean("pickup_enabled"),
                                        f.integer("pickup_hold_hours")};
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto location, s.inventory.update_location(LocationId(r.param("id")), patch));
    return json_reply(200, location_json(location));
  }));

  router.add("PUT", "/v1/admin/inventory-levels", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"variant_id", "sku", "location_id", "on_hand"});
    auto variant = f.string("variant_id");
    auto sku = f.string("sku");
    if (variant.has_value() == sku.has_value()) f.fail("variant_id", "give exactly one of variant_id and sku");
    auto location = f.string("location_id", true);
    auto on_hand = f.integer("on_hand", true);
    QQ_TRY(body.status());
    if (sku) {
      QQ_ASSIGN_OR_RETURN(auto product_variant, s.catalog.variant_by_sku(*sku));
      variant = product_variant.value;
    }
    QQ_ASSIGN_OR_RETURN(auto level, s.inventory.set_on_hand(VariantId(*variant), LocationId(*location), *on_hand));
    return json_reply(200, level_json(level));
  }));

  router.add("GET", "/v1/admin/inventory-levels", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<inventory::LevelQuery>(r));
    if (auto v = r.query_param("variant_id")) q.variant_id = VariantId(std::string(*v));
    if (auto v = r.query_param("sku")) q.sku = std::string(*v);
    if (auto v = r.query_param("location_id")) q.location_id = LocationId(std::string(*v));
    QQ_ASSIGN_OR_RETURN(auto levels, s.inventory.list_levels(q));
    json items = json::array();
    for (const auto& l : levels.items) items.push_back(level_json(l));
    return json_reply(200, page_json(std::move(items), levels.next_cursor));
  }));

  // {"variant_id" | "sku", "location_id", "delta", "reason", "note"?}: on hand corrected by delta.
  router.add("POST", "/v1/admin/inventory-adjustments",
             admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"variant_id", "sku", "location_id", "delta", "reason", "note"});
               auto variant = variant_field(f);
               auto location = f.string("location_id", true);
               auto delta = f.integer("delta", true);
               auto reason = f.string("reason", true);
               auto note = f.string("note");
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(VariantId variant_id, resolve_variant(s, *variant));
               QQ_ASSIGN_OR_RETURN(auto moved, s.inventory.adjust({variant_id, LocationId(*location), *delta, *reason,
                                                                   note.value_or("")}));
               return created(movement_json(moved), "/v1/admin/inventory-ledger/" + moved.entries.front().id);
             })));

  // {"variant_id" | "sku", "from_location_id", "to_location_id", "quantity", "note"?}.
  router.add("POST", "/v1/admin/inventory-transfers",
             admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"variant_id", "sku", "from_location_id", "to_location_id", "quantity", "note"});
               auto variant = variant_field(f);
               auto from = f.string("from_location_id", true);
               auto to = f.string("to_location_id", true);
               auto quantity = f.integer("quantity", true);
               auto note = f.string("note");
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(VariantId variant_id, resolve_variant(s, *variant));
               QQ_ASSIGN_OR_RETURN(auto moved, s.inventory.transfer({variant_id, LocationId(*from), LocationId(*to),
                                                                     *quantity, note.value_or("")}));
               json out = transfer_json(moved.first);
               out["movement"] = movement_json(moved.second);
               return created(out, "/v1/admin/inventory-transfers/" + moved.first.id);
             })));

  router.add("GET", "/v1/admin/inventory-transfers", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<inventory::TransferQuery>(r));
    if (auto v = r.query_param("variant_id")) q.variant_id = VariantId(std::string(*v));
    if (auto v = r.query_param("location_id")) q.location_id = LocationId(std::string(*v));
    QQ_ASSIGN_OR_RETURN(auto transfers, s.inventory.list_transfers(q));
    json items = json::array();
    for (const auto& t : transfers.items) items.push_back(transfer_json(t));
    return json_reply(200, page_json(std::move(items), transfers.next_cursor));
  }));

  router.add("GET", "/v1/admin/inventory-transfers/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto transfer, s.inventory.get_transfer(r.param("id")));
    return json_reply(200, transfer_json(transfer));
  }));

  router.add("GET", "/v1/admin/inventory-ledger", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<inventory::LedgerQuery>(r));
    if (auto v = r.query_param("variant_id")) q.variant_id = VariantId(std::string(*v));
    if (auto v = r.query_param("sku")) q.sku = std::string(*v);
    if (auto v = r.query_param("location_id")) q.location_id = LocationId(std::string(*v));
    if (auto v = r.query_param("reference")) q.reference = std::string(*v);
    QQ_ASSIGN_OR_RETURN(auto ledger, s.inventory.list_ledger(q));
    json items = json::array();
    for (const auto& e : ledger.items) items.push_back(ledger_entry_json(e));
    return json_reply(200, page_json(std::move(items), ledger.next_cursor));
  }));

  router.add("GET", "/v1/admin/inventory-ledger/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto entry, s.inventory.get_ledger_entry(r.param("id")));
    return json_reply(200, ledger_entry_json(entry));
  }));
}

}  // namespace quanqu::api
