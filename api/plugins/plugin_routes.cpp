// Adapts HTTP requests to the plugin host's neutral PluginRequest/PluginResponse and lists the plugins.
#include "plugins/plugin_routes.h"

#include "http/problem.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"
#include "routes/rate_limits.h"

#include <algorithm>
#include <cctype>

namespace quanqu::api {
namespace {

using nlohmann::json;

// A header a plugin may set: a token name, a value without control characters, and not one the
// server owns (framing and connection management).
bool allowed_header(const std::string& name, const std::string& value) {
  if (name.empty() || value.size() > 8192) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  for (char c : value)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) return false;
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* owned : {"content-length", "transfer-encoding", "connection", "content-type", "upgrade"})
    if (lower == owned) return false;
  return true;
}

http::Response plugin_failure(const Error& error) {
  if (error.code == "method_not_allowed") {
    auto r = http::problem(error, 405);
    if (error.details.is_object() && error.details.contains("allow"))
      r.set_header("Allow", error.details["allow"].get<std::string>());
    return r;
  }
  return http::problem(error);
}

// The HTTP response for what the plugin host answered.
http::Response plugin_reply(Result<plugins::PluginResponse> out) {
  if (!out) return plugin_failure(out.error());
  http::Response response;
  response.status = static_cast<unsigned>(out->status);
  response.content_type = allowed_header("x", out->content_type) ? std::move(out->content_type) : "";
  response.body = std::move(out->body);
  for (auto& [header, value] : out->headers)
    if (allowed_header(header, value)) response.set_header(std::move(header), std::move(value));
  return response;
}

// Everything under /v1/plugins/: the caller's channel and customer resolved, then the plugin
// host, whose call runs on its pool: the response is deferred, and the io thread is free meanwhile.
http::Response plugin_request(Services& services, http::Request& request) {
  // The SDK promises UTF-8 text in the path and query; refuse anything else before the plugin.
  if (auto refused = refuse_malformed(request)) return *refused;
  constexpr std::string_view prefix = "/v1/plugins/";
  std::string_view rest = std::string_view(request.path).substr(prefix.size());
  std::string name(rest.substr(0, rest.find('/')));
  plugins::PluginRequest in;
  // An unknown key or token is a failed guess, counted against the client address's auth bucket
  // as on store routes.
  auto key = request.header("x-publishable-key");
  auto token = request.header("x-customer-token");
  std::string guesses = "key|" + request.remote_address;
  if ((key && !key->empty()) || (token && !token->empty()))
    if (auto limited = exhausted(services.limits, RouteClass::auth, guesses)) return *limited;
  if (key && !key->empty()) {
    auto channel = services.access.resolve_channel(std::string(*key));
    if (!channel) return http::problem(channel.error());  // the database could not be asked: 5xx
    if (!*channel) {
      charge(services.limits, RouteClass::auth, guesses);
      return http::problem(
          Error::unauthenticated("auth.publishable_key_invalid", "the publishable key is unknown or revoked"));
    }
    in.channel_id = (*channel)->value;
  }
  if (token && !token->empty()) {
    auto customer = services.customers.from_token(std::string(*token));
    if (!customer) {
      if (customer.error().kind == ErrorKind::unauthenticated) charge(services.limits, RouteClass::auth, guesses);
      return http::problem(customer.error());
    }
    in.customer_id = customer->id.value;
  }
  // A merchant key (the admin key, or a key issued for this plugin) opens the plugin's protected
  // routes. The host checks the route's access; the plugin is told nothing of the secret: the
  // header is dropped. Other bearer tokens (the plugin's own scheme) pass through untouched.
  std::vector<std::pair<std::string, std::string>> headers = request.headers;
  if (std::string secret = bearer_secret(request);
      secret.starts_with("qq_admin_") || secret.starts_with("qq_plugin_")) {
    if (auto limited = exhausted(services.limits, RouteClass::auth, guesses)) return *limited;
    if (secret.starts_with("qq_admin_")) {
      auto admin = services.access.check_admin(secret);
      if (!admin) return http::problem(admin.error());
      if (*admin) in.caller = plugins::Caller::admin;
    } else {
      auto plugin = services.access.plugin_of_key(secret);
      if (!plugin) return http::problem(plugin.error());
      if (*plugin && **plugin == name) in.caller = plugins::Caller::plugin_key;
    }
    if (in.caller == plugins::Caller::anonymous) charge(services.limits, RouteClass::auth, guesses);
    std::erase_if(headers, [](const auto& h) { return h.first == "authorization"; });
  }
  in.method = request.method == "HEAD" ? "GET" : request.method;  // HEAD is a GET without the body
  in.path = request.path;
  in.body = request.body;
  in.request_id = request.request_id;
  in.query.assign(request.query.begin(), request.query.end());
  in.headers = std::move(headers);
  http::Response response;
  response.deferred = [&host = services.plugins, name = std::move(name),
                       in = std::move(in)](http::Response::Completion complete) mutable {
    host.handle_async(name, std::move(in), [complete = std::move(complete)](Result<plugins::PluginResponse> out) {
      complete(plugin_reply(std::move(out)));
    });
  };
  return response;
}

// A plugin key as the admin API shows it (never its secret, but on creation).
json plugin_key_json(const access::ApiKey& k) {
  return {{"id", k.id.value},       {"plugin", k.plugin.value_or("")},     {"hint", k.hint},
          {"label", k.label},       {"created_at", optional_time_json(k.created_at)}, {"revoked_at", optional_time_json(k.revoked_at)}};
}

// PATCH /v1/admin/plugins/{name}: {"timeout_ms": 1..300000 or null, "isolation": "process" | "in_process" | null}.
// A change of isolation reloads the plugin in that mode.
Result<http::Response> patch_plugin(plugins::PluginHost& host, http::Request& r) {
  QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
  auto f = body.fields();
  f.only({"timeout_ms", "isolation"});
  bool has_timeout = f.has("timeout_ms"), has_isolation = f.has("isolation");
  std::optional<std::int64_t> timeout_ms;
  bool clear_timeout = f.is_null("timeout_ms");
  if (has_timeout && !clear_timeout) timeout_ms = f.integer("timeout_ms", true);
  std::optional<plugins::Isolation> isolation;
  bool clear_isolation = f.is_null("isolation");
  if (has_isolation && !clear_isolation) {
    auto text = f.string("isolation", true);
    isolation = plugins::isolation_from(text.value_or(""));
    if (text && !isolation) f.fail("isolation", "must be \"process\", \"in_process\" or null");
  }
  if (!has_timeout && !has_isolation) f.fail("timeout_ms", "give timeout_ms or isolation (or both)");
  QQ_TRY(body.status());
  std::optional<plugins::PluginInfo> info;
  if (has_timeout) {
    QQ_ASSIGN_OR_RETURN(auto set, host.set_timeout(r.param("name"), clear_timeout ? std::nullopt : timeout_ms));
    info = std::move(set);
  }
  if (has_isolation) {
    QQ_ASSIGN_OR_RETURN(auto set, host.set_isolation(r.param("name"), clear_isolation ? std::nullopt : isolation));
    info = std::move(set);
  }
  return json_reply(200, plugin_json(*info));
}

}  // namespace

json plugin_json(const plugins::PluginInfo& p) {
  json routes = json::array();
  for (const auto& r : p.routes)
    routes.push_back({{"method", r.method},
                      {"path", "/v1/plugins/" + p.name + (r.pattern == "/" ? "" : r.pattern)},
                      {"access", std::string(plugins::to_string(r.access))}});
  json providers = json::array();
  for (const auto& pr : p.providers) providers.push_back({{"kind", pr.kind}, {"name", pr.name}});
  return {{"name", p.name},
          {"version", p.version.empty() ? json(nullptr) : json(p.version)},
          {"sdk_abi", p.abi ? json(p.abi->text()) : json(nullptr)},
          {"status", std::string(plugins::to_string(p.status))},
          {"reason", p.reason.empty() ? json(nullptr) : json(p.reason)},
          {"description", p.description},
          {"provides", p.provides},
          {"routes", routes},
          {"subscriptions", p.subscriptions},
          {"providers", providers},
          {"config_schema", p.config_schema},
          {"generation", p.generation},
          {"loaded_at", p.loaded_at ? json(p.loaded_at) : json(nullptr)},
          {"errors", p.errors},
          {"event_errors", p.event_errors},
          {"timeout_ms", p.timeout_ms},
          {"timeout_override_ms", p.timeout_override_ms ? json(*p.timeout_override_ms) : json(nullptr)},
          {"timeouts", p.timeouts},
          {"busy", p.busy},
          {"stuck_calls", p.stuck_calls},
          {"isolation", std::string(plugins::to_string(p.isolation))},
          {"isolation_override",
           p.isolation_override ? json(std::string(plugins::to_string(*p.isolation_override))) : json(nullptr)},
          {"runner_pid", p.runner_pid ? json(*p.runner_pid) : json(nullptr)},
          {"network", {{"outgoing", p.outgoing_hosts},
                       {"runner", p.runner_network ? json(std::string(plugins::to_string(*p.runner_network)))
                                                   : json(nullptr)}}},
          {"crashes", p.crashes},
          {"restarts", p.restarts},
          {"last_crash", p.last_crash ? json{{"signal", p.last_crash->signal.empty() ? json(nullptr) : json(p.last_crash->signal)},
                                              {"exit_code", p.last_crash->signal.empty() ? json(p.last_crash->exit_code) : json(nullptr)},
                                              {"killed_for", p.last_crash->reason.empty() ? json(nullptr) : json(p.last_crash->reason)},
                                              {"at", p.last_crash->at}}
                                      : json(nullptr)}};
}

void register_plugin_routes(http::Router& router, Services& services, http::Metrics& metrics) {
  plugins::PluginHost& host = services.plugins;
  router.add(
      "GET", "/v1/admin/plugins", admin_route(services, [&host](http::Request&) -> Result<http::Response> {
        json items = json::array();
        for (const auto& p : host.plugins()) items.push_back(plugin_json(p));
        return json_reply(200, {{"items", items}, {"next_cursor", nullptr}, {"sdk_abi", plugins::host_abi().text()}});
      }));

  router.add("GET", "/v1/admin/plugins/{name}",
             admin_route(services, [&host](http::Request& r) -> Result<http::Response> {
               auto p = host.plugin(r.param("name"));
               if (!p) return Error::not_found("plugin.not_found", "no plugin named '" + r.param("name") + "'");
               return json_reply(200, plugin_json(*p));
             }));

  router.add("PATCH", "/v1/admin/plugins/{name}",
             admin_route(services, [&host](http::Request& r) { return patch_plugin(host, r); }));

  // A plugin dropped into the plugins directory of a running server.
  router.add("POST", "/v1/admin/plugins/discover",
             admin_route(services, [&host](http::Request&) -> Result<http::Response> {
               QQ_ASSIGN_OR_RETURN(auto found, host.discover());
               json items = json::array();
               for (const auto& p : found) items.push_back(plugin_json(p));
               return json_reply(200, {{"items", items}, {"next_cursor", nullptr}, {"sdk_abi", plugins::host_abi().text()}});
             }));

  // Unloads a plugin no channel uses (as its channel plugin, a provider it registered, or a config).
  router.add("DELETE", "/v1/admin/plugins/{name}",
             admin_route(services, [&services, &host](http::Request& r) -> Result<http::Response> {
               const std::string name = r.param("name");
               auto p = host.plugin(name);
               if (!p) return Error::not_found("plugin.not_found", "no plugin named '" + name + "'");
               QQ_ASSIGN_OR_RETURN(auto channels, services.channels.list());
               json users = json::array();
               for (const auto& c : channels) {
                 bool uses = (c.plugin && *c.plugin == name) || c.configs.contains(name);
                 for (const auto& provider : p->providers)
                   for (const auto* offered : {&c.payment_providers, &c.fulfilment_providers})
                     uses = uses || std::find(offered->begin(), offered->end(), provider.name) != offered->end();
                 if (uses) users.push_back(c.code);
               }
               if (!users.empty())
                 return Error::conflict("plugin.in_use",
                                        "plugin '" + name + "' is used by " + std::to_string(users.size()) +
                                            " channel(s); take it off them first",
                                        {{"plugin", name}, {"channels", users}});
               QQ_TRY(host.unload(name));
               return http::Response::no_content();
             }));

  // Merchant keys for a plugin's protected routes ("merchant" access): a partner's back office or
  // a store device gets one of these instead of the admin key.
  auto plugin_named = [&host](http::Request& r) -> Result<std::string> {
    auto p = host.plugin(r.param("name"));
    if (!p) return Error::not_found("plugin.not_found", "no plugin named '" + r.param("name") + "'");
    return p->name;
  };
  router.add("GET", "/v1/admin/plugins/{name}/keys",
             admin_route(services, [&services, plugin_named](http::Request& r) -> Result<http::Response> {
               QQ_ASSIGN_OR_RETURN(std::string name, plugin_named(r));
               QQ_ASSIGN_OR_RETURN(auto keys, services.access.list_plugin_keys(name));
               json items = json::array();
               for (const auto& k : keys) items.push_back(plugin_key_json(k));
               return json_reply(200, {{"items", items}, {"next_cursor", nullptr}});
             }));
  router.add("POST", "/v1/admin/plugins/{name}/keys",
             admin_route(services, idempotent_admin(services, [&services, plugin_named](http::Request& r)
                                                                  -> Result<http::Response> {
               QQ_ASSIGN_OR_RETURN(std::string name, plugin_named(r));
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"label"});
               std::string label = f.string("label").value_or("Merchant key");
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(auto issued, services.access.create_plugin_key(name, label));
               json out = plugin_key_json(issued.key);
               out["key"] = issued.secret;  // shown once (and to a replay of its Idempotency-Key)
               return created(out, "/v1/admin/plugins/" + name + "/keys/" + issued.key.id.value);
             })));
  router.add("DELETE", "/v1/admin/plugins/{name}/keys/{key_id}",
             admin_route(services, [&services](http::Request& r) -> Result<http::Response> {
               QQ_TRY(services.access.revoke_plugin_key(r.param("name"), ApiKeyId(r.param("key_id"))));
               return http::Response::no_content();
             }));

  router.add("POST", "/v1/admin/plugins/{name}/reload",
             admin_route(services, [&host](http::Request& r) -> Result<http::Response> {
               QQ_ASSIGN_OR_RETURN(plugins::PluginInfo info, host.reload(r.param("name")));
               return json_reply(200, plugin_json(info));
             }));

  router.add_prefix("/v1/plugins/",
                    open_route(services, [&services](http::Request& r) { return plugin_request(services, r); }));

  metrics.add_labeled("quanqu_plugin_errors_total",
                      "Plugin route, event and provider calls that failed (error or exception), by plugin.", "plugin",
                      [&host] {
                        http::Metrics::LabeledSamples out;
                        for (const auto& [name, n] : host.error_counts())
                          out.emplace_back(name, static_cast<double>(n));
                        return out;
                      });
  // One read of the host per family; the pool's counters cover every plugin that made a call.
  auto per_plugin = [&host](auto field) {
    return [&host, field] {
      http::Metrics::LabeledSamples out;
      for (const auto& p : host.plugins())
        if (p.generation > 0 || p.*field > 0) out.emplace_back(p.name, static_cast<double>(p.*field));
      return out;
    };
  };
  metrics.add_labeled("quanqu_plugin_timeouts_total",
                      "Plugin calls (route, provider, event, init, start, stop) that missed their deadline, by plugin.",
                      "plugin", per_plugin(&plugins::PluginInfo::timeouts));
  metrics.add_labeled("quanqu_plugin_busy_total",
                      "Plugin calls refused at once because the plugin call pool or the plugin's share of it was "
                      "full, by plugin.",
                      "plugin", per_plugin(&plugins::PluginInfo::busy));
  metrics.add_labeled("quanqu_plugin_crashes_total",
                      "Plugin runner processes that died without being asked to (a crash, or killed at a call's "
                      "deadline), by plugin.",
                      "plugin", per_plugin(&plugins::PluginInfo::crashes));
  metrics.add_labeled("quanqu_plugin_restarts_total", "Plugin runner processes started again after a crash, by plugin.",
                      "plugin", per_plugin(&plugins::PluginInfo::restarts));
  metrics.add_labeled("quanqu_plugin_stuck_calls",
                      "Plugin calls abandoned at their deadline that still hold a thread, by plugin.", "plugin",
                      per_plugin(&plugins::PluginInfo::stuck_calls));
}

plugins::LogSink plugin_log_sink(http::Logger& log) {
  return [&log](plugins::LogLevel level, std::string_view message, const nlohmann::json& fields) {
    http::LogLevel l = level == plugins::LogLevel::debug  ? http::LogLevel::debug
                       : level == plugins::LogLevel::info ? http::LogLevel::info
                       : level == plugins::LogLevel::warn ? http::LogLevel::warn
                                                          : http::LogLevel::error;
    log.log(l, message, fields);
  };
}

}  // namespace quanqu::api
