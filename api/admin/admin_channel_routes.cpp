// Admin channel handlers: channels, what they publish, and their publishable keys.
#include "admin/admin_routes.h"
#include "plugins/config_schema.h"
#include "plugins/plugin_services.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

#include <set>

namespace quanqu::api {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

std::optional<std::vector<LocationId>> read_locations(JsonFields& f) {
  auto ids = f.strings("location_ids", channels::ChannelService::kMaxLocations);
  if (!ids) return std::nullopt;
  std::vector<LocationId> out;
  for (auto& id : *ids) out.emplace_back(std::move(id));
  return out;
}

Result<std::vector<ProductId>> read_product_ids(const Request& r) {
  QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
  auto f = body.fields();
  f.only({"product_ids"});
  constexpr std::size_t kMax = channels::ChannelService::kMaxPublishIds;
  auto ids = f.strings("product_ids", kMax, true);
  if (ids && ids->empty()) f.fail("product_ids", "must list 1 to " + std::to_string(kMax) + " product ids");
  QQ_TRY(body.status());
  std::vector<ProductId> out;
  for (auto& id : *ids) out.emplace_back(std::move(id));
  return out;
}

Result<channels::Channel> channel_of(Services& s, const Request& r) { return s.channels.get(r.param("id")); }

// The admin view of a channel: its plugin's config and the providers' configs, secrets redacted.
json admin_channel_json(Services& s, const channels::Channel& c) {
  json out = channel_json(c);
  json providers = json::object();
  for (const auto& [plugin, config] : c.configs.items()) {
    auto info = s.plugins.plugin(plugin);
    json shown = config;
    if (info) {
      shown = plugins::redact_config(info->config_schema, config);
    } else if (shown.is_object()) {  // no schema to tell the secrets: hide every value
      for (auto& [key, value] : shown.items()) value = "********";
    }
    if (c.plugin && plugin == *c.plugin)
      out["config"] = shown;
    else
      providers[plugin] = shown;
  }
  if (!out.contains("config")) out["config"] = c.plugin ? json::object() : json(nullptr);
  out["provider_config"] = providers;
  return out;
}

// What a channel body says about plugins: its plugin and config, its providers and their configs.
struct PluginFields {
  std::optional<std::string> plugin;
  const json* config = nullptr;
  const json* provider_config = nullptr;
  std::optional<std::vector<std::string>> payment;
  std::optional<std::vector<std::string>> fulfilment;
};

PluginFields read_plugin_fields(JsonFields& f, bool with_plugin) {
  PluginFields p;
  if (with_plugin) p.plugin = f.string("plugin");
  p.config = f.object("config");
  p.provider_config = f.object("provider_config");
  p.payment = f.strings("payment_providers", channels::ChannelService::kMaxProviders);
  p.fulfilment = f.strings("fulfilment_providers", channels::ChannelService::kMaxProviders);
  return p;
}

// Checks the plugin and providers against what runs now and each config against its plugin's
// schema (defaults filled in), recording every problem in `f`; returns the channel's new config
// map, starting from `configs` (the channel's current one).
json check_plugin_fields(Services& s, JsonFields& f, const PluginFields& in, const std::optional<std::string>& plugin,
                         const std::vector<std::string>& payment, const std::vector<std::string>& fulfilment,
                         json configs) {
  std::set<std::string> used;  // plugins whose config the channel keeps
  auto validated = [&](const std::string& name, const json& given, const std::string& prefix) {
    used.insert(name);
    auto info = s.plugins.plugin(name);
    json schema = info ? info->config_schema : json::object();
    // Secrets left out, or echoed back redacted, keep their stored value.
    json value = plugins::apply_defaults(schema, plugins::keep_secrets(schema, given, configs.value(name, json::object())));
    for (const auto& v : plugins::validate_config(schema, value, prefix)) f.fail(v.field, v.message);
    configs[name] = value;
  };
  auto loaded = [&](const std::string& name) {
    auto info = s.plugins.plugin(name);
    return info && info->status == plugins::PluginStatus::loaded;
  };
  if (plugin) {
    if (!loaded(*plugin))
      f.fail("plugin", "no plugin named '" + *plugin + "' is loaded");
    else if (in.config && !in.config->is_object())
      f.fail("config", "must be an object");
    else
      validated(*plugin, in.config ? *in.config : configs.value(*plugin, json::object()), "config");
  } else if (in.config) {
    f.fail("config", "needs a channel plugin (\"plugin\")");
  }
  json given = in.provider_config && in.provider_config->is_object() ? *in.provider_config : json::object();
  for (const auto& [name, value] : given.items()) {
    if (!loaded(name)) f.fail("provider_config/" + name, "no plugin named '" + name + "' is loaded");
    else if (!value.is_object()) f.fail("provider_config/" + name, "must be an object");
  }
  auto check_providers = [&](const std::vector<std::string>& names, const char* kind, const char* field) {
    auto running = s.plugins.providers();
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto it = std::find_if(running.begin(), running.end(),
                             [&](const auto& p) { return p.kind == kind && p.name == names[i]; });
      if (it == running.end()) {
        f.fail(std::string(field) + "/" + std::to_string(i),
               "no " + std::string(kind) + " provider named '" + names[i] + "' is running");
        continue;
      }
      if (plugin && it->plugin == *plugin) continue;  // configured as the channel's plugin
      const json& value = given.contains(it->plugin) ? given[it->plugin] : configs.value(it->plugin, json::object());
      if (value.is_object()) validated(it->plugin, value, "provider_config." + it->plugin);
    }
  };
  check_providers(payment, "payment", "payment_providers");
  check_providers(fulfilment, "fulfilment", "fulfilment_providers");
  for (const auto& [name, value] : given.items())
    if (loaded(name) && value.is_object() && !used.count(name)) validated(name, value, "provider_config." + name);
  // A provider no longer listed takes its config with it: channel_config stops answering for it.
  json kept = json::object();
  for (const auto& name : used) kept[name] = configs[name];
  return kept;
}

}  // namespace

void register_admin_channel_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/channels", admin_route(s, [&s](Request&) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto list, s.channels.list());
    json items = json::array();
    for (const auto& c : list) items.push_back(admin_channel_json(s, c));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  router.add("POST", "/v1/admin/channels", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"code", "name", "type", "currency", "tax_rate_bp", "tax_inclusive", "location_ids", "plugin", "config",
            "payment_providers", "fulfilment_providers", "provider_config"});
    channels::NewChannel c;
    c.code = f.string("code", true).value_or("");
    c.name = f.string("name").value_or(c.code);
    c.type = f.string("type", true).value_or("");
    c.currency = f.string("currency", true).value_or("");
    c.tax_rate_bp = static_cast<std::int32_t>(std::clamp<std::int64_t>(f.integer("tax_rate_bp").value_or(0), -1, 100000));
    c.tax_inclusive = f.boolean("tax_inclusive").value_or(false);
    c.location_ids = read_locations(f).value_or(std::vector<LocationId>{});
    PluginFields plugin_fields = read_plugin_fields(f, true);
    c.plugin = plugin_fields.plugin;
    c.payment_providers = plugin_fields.payment.value_or(std::vector<std::string>{});
    c.fulfilment_providers = plugin_fields.fulfilment.value_or(std::vector<std::string>{});
    c.configs = check_plugin_fields(s, f, plugin_fields, c.plugin, c.payment_providers, c.fulfilment_providers,
                                    json::object());
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto channel, s.channels.create(c));
    configure_channel(s, channel);  // the plugin is told
    return created(admin_channel_json(s, channel), "/v1/admin/channels/" + channel.id.value);
  }), Waits::on_plugins));

  router.add("GET", "/v1/admin/channels/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    return json_reply(200, admin_channel_json(s, channel));
  }));

  router.add("PATCH", "/v1/admin/channels/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));  // an unknown channel is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"name", "tax_rate_bp", "tax_inclusive", "location_ids", "config", "payment_providers",
            "fulfilment_providers", "provider_config", "code", "type", "currency", "plugin"});
    // Fixed at creation: say so, rather than that the field is unknown.
    for (const char* fixed : {"code", "type", "currency", "plugin"})
      if (body.doc().contains(fixed))
        f.fail(fixed, std::string("is fixed when the channel is created and cannot be changed; create another "
                                  "channel for another ") + fixed);
    channels::ChannelPatch patch;
    patch.name = f.string("name");
    if (auto t = f.integer("tax_rate_bp")) patch.tax_rate_bp = static_cast<std::int32_t>(std::clamp<std::int64_t>(*t, -1, 100000));
    patch.tax_inclusive = f.boolean("tax_inclusive");
    patch.location_ids = read_locations(f);
    PluginFields plugin_fields = read_plugin_fields(f, false);
    QQ_TRY(body.status());
    patch.payment_providers = plugin_fields.payment;
    patch.fulfilment_providers = plugin_fields.fulfilment;
    if (plugin_fields.config || plugin_fields.provider_config || plugin_fields.payment || plugin_fields.fulfilment)
      patch.configs = check_plugin_fields(s, f, plugin_fields, channel.plugin,
                                          plugin_fields.payment.value_or(channel.payment_providers),
                                          plugin_fields.fulfilment.value_or(channel.fulfilment_providers),
                                          channel.configs);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(channel, s.channels.update(channel.id, patch));
    if (patch.configs) configure_channel(s, channel);  // the plugin is told
    return json_reply(200, admin_channel_json(s, channel));
  }, Waits::on_plugins));

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

  // Keys are read as a list: Location is the key's DELETE URL.
  router.add("POST", "/v1/admin/channels/{id}/publishable-keys", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"label"});
    std::string label = f.string("label").value_or("Storefront");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto issued, s.access.create_publishable_key(channel.id, label));
    json out = api_key_json(issued.key);
    out["key"] = issued.secret;  // shown once (and to a replay of its Idempotency-Key)
    return created(out, "/v1/admin/channels/" + channel.id.value + "/publishable-keys/" + issued.key.id.value);
  })));

  router.add("DELETE", "/v1/admin/channels/{id}/publishable-keys/{key_id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto channel, channel_of(s, r));
    QQ_TRY(s.access.revoke(channel.id, ApiKeyId(r.param("key_id"))));
    return http::Response::no_content();
  }));
}

}  // namespace quanqu::api
