// Admin stock handlers: stock locations and inventory levels.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;

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
    f.only({"code", "name", "kind", "address", "pickup_enabled"});
    inventory::NewStockLocation l;
    l.code = f.string("code", true).value_or("");
    l.name = f.string("name", true).value_or("");
    l.kind = f.string("kind").value_or("warehouse");
    l.address = f.address("address", true).value_or(Address{});
    l.pickup_enabled = f.boolean("pickup_enabled").value_or(false);
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
    f.only({"name", "address", "pickup_enabled"});
    inventory::StockLocationPatch patch{f.string("name"), f.address("address"), f.boolean("pickup_enabled")};
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
    QQ_ASSIGN_OR_RETURN(PageParams page, page_params(r));
    inventory::LevelQuery q;
    q.limit = page.limit;
    q.cursor = page.cursor;
    if (auto v = r.query_param("variant_id")) q.variant_id = VariantId(std::string(*v));
    if (auto v = r.query_param("sku")) q.sku = std::string(*v);
    if (auto v = r.query_param("location_id")) q.location_id = LocationId(std::string(*v));
    QQ_ASSIGN_OR_RETURN(auto levels, s.inventory.list_levels(q));
    json items = json::array();
    for (const auto& l : levels.items) items.push_back(level_json(l));
    return json_reply(200, page_json(std::move(items), levels.next_cursor));
  }));
}

}  // namespace quanqu::api
