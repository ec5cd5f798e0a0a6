// Admin channel handlers: channels, what they publish, and their publishable keys.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/json_body.h"

namespace quanqu::api {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

std::optional<std::vector<LocationId>> read_locations(JsonFields& f) {
  auto ids = f.strings("location_ids");
  if (!ids) return std::nullopt;
  std::vector<LocationId> out;
  for (auto& id : *ids) out.emplace_back(std::move(id));
  return out;
}

Result<std::vector<ProductId>> read_product_ids(const Request& r) {
  QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
  auto f = body.fields();
  f.only({"product_ids"});
  auto ids = f.strings("product_ids", true);
  if (ids && (ids->empty() || ids->size() > 1000)) f.fail("product_ids", "must list 1 to 1000 product ids");
  QQ_TRY(body.status());
  std::vector<ProductId> out;
  for (auto& id : *ids) out.emplace_back(std::move(id));
  return out;
}

Result<channels::Channel> channel_of(Services& s, const Request& r) { return s.channels.get(r.param("id")); }

}  // namespace

void register_admin_channel_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/channels", admin_route(s, [&s](Request&) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto list, s.channels.list());
    json items = json::array();
    for (const auto& c : list) items.push_back(channel_json(c));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  router.add("POST", "/v1/admin/channels", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"code", "name", "type", "currency", "tax_rate_bp", "tax_inclusive", "location_ids"});
    channels::NewChannel c;
    c.code = f.string("code", true).value_or("");
    c.name = f.string("name").value_or(c.code);
    c.type = f.string("type", true).value_or("");
    c.currency = f.string("currency", true).value_or("");
    c.tax_rate_bp = static_cast<std::int32_t>(std::clamp<std::int64_t>(f.integer("tax_rate_bp").value_or(0), -1, 100000));
    c.tax_inclusive = f.boolean("tax_inclusive").value_or(false);
    c.location_ids = read_locations(f).value_or(std::vector<LocationId>{});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto channel, s.channels.create(c));
    return json_reply(201, channel_json(channel));
  }));

  router.add("GET", "/v1/admin/channels/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    return json_reply(200, channel_json(channel));
  }));

  router.add("PATCH", "/v1/admin/channels/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"name", "tax_rate_bp", "tax_inclusive", "location_ids"});
    channels::ChannelPatch patch;
    patch.name = f.string("name");
    if (auto t = f.integer("tax_rate_bp")) patch.tax_rate_bp = static_cast<std::int32_t>(std::clamp<std::int64_t>(*t, -1, 100000));
    patch.tax_inclusive = f.boolean("tax_inclusive");
    patch.location_ids = read_locations(f);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_ASSIGN_OR_RETURN(channel, s.channels.update(channel.id, patch));
    return json_reply(200, channel_json(channel));
  }));

  router.add("POST", "/v1/admin/channels/{id}/publish", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_ASSIGN_OR_RETURN(auto ids, read_product_ids(r));
    QQ_TRY(s.channels.publish(channel.id, ids));
    return json_reply(200, {{"channel_id", channel.id.value}, {"published", ids.size()}});
  }));

  router.add("POST", "/v1/admin/channels/{id}/unpublish", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_ASSIGN_OR_RETURN(auto ids, read_product_ids(r));
    QQ_TRY(s.channels.unpublish(channel.id, ids));
    return json_reply(200, {{"channel_id", channel.id.value}, {"unpublished", ids.size()}});
  }));

  router.add("GET", "/v1/admin/channels/{id}/publishable-keys", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_ASSIGN_OR_RETURN(auto keys, s.access.list_publishable_keys(channel.id));
    json items = json::array();
    for (const auto& k : keys) items.push_back(api_key_json(k));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  router.add("POST", "/v1/admin/channels/{id}/publishable-keys", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"label"});
    std::string label = f.string("label").value_or("Storefront");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto issued, s.access.create_publishable_key(channel.id, label));
    json out = api_key_json(issued.key);
    out["key"] = issued.secret;  // shown once
    return json_reply(201, out);
  }));

  router.add("DELETE", "/v1/admin/channels/{id}/publishable-keys/{key_id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_TRY(s.access.revoke(channel.id, ApiKeyId(r.param("key_id"))));
    return http::Response::no_content();
  }));
}

}  // namespace quanqu::api
