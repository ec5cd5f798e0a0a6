// Adapts HTTP requests to the plugin host's neutral PluginRequest/PluginResponse and lists the plugins.
#include "plugins/plugin_routes.h"

#include "http/problem.h"
#include "routes/handler.h"

#include <cctype>

namespace quanqu::api {
namespace {

using nlohmann::json;

json plugin_json(const plugins::PluginInfo& p) {
  json routes = json::array();
  for (const auto& r : p.routes)
    routes.push_back({{"method", r.method}, {"path", "/v1/plugins/" + p.name + (r.pattern == "/" ? "" : r.pattern)}});
  return {{"name", p.name},
          {"version", p.version.empty() ? json(nullptr) : json(p.version)},
          {"sdk_abi", p.abi ? json(p.abi->text()) : json(nullptr)},
          {"status", std::string(plugins::to_string(p.status))},
          {"reason", p.reason.empty() ? json(nullptr) : json(p.reason)},
          {"description", p.description},
          {"provides", p.provides},
          {"routes", routes},
          {"errors", p.errors}};
}

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
  if (error.code == "plugin_error") return http::problem(error, 502);
  return http::problem(error);
}

// One mounted plugin route: the HTTP request in, the plugin's reply (or a problem) out.
http::Handler plugin_handler(Services& services, plugins::PluginHost& host, std::size_t route_id) {
  return [&services, &host, route_id](http::Request& request) -> http::Response {
    // The SDK promises UTF-8 text in the path and query; refuse anything else before the plugin.
    if (auto refused = refuse_malformed(request)) return *refused;
    plugins::PluginRequest in;
    if (auto key = request.header("x-publishable-key"); key && !key->empty()) {
      auto channel = services.access.resolve_channel(std::string(*key));
      if (!channel) return http::problem(channel.error());  // the database could not be asked: 5xx
      if (!*channel)
        return http::problem(
            Error::unauthenticated("auth.publishable_key_invalid", "the publishable key is unknown or revoked"));
      in.channel_id = (*channel)->value;
    }
    in.method = request.method;
    in.path = request.path;
    in.body = request.body;
    in.request_id = request.request_id;
    in.params.assign(request.params.begin(), request.params.end());
    in.query.assign(request.query.begin(), request.query.end());
    in.headers = request.headers;
    auto out = host.call(route_id, in);
    if (!out) return plugin_failure(out.error());
    http::Response response;
    response.status = static_cast<unsigned>(out->status);
    response.content_type = allowed_header("x", out->content_type) ? std::move(out->content_type) : "";
    response.body = std::move(out->body);
    for (auto& [name, value] : out->headers)
      if (allowed_header(name, value)) response.set_header(std::move(name), std::move(value));
    return response;
  };
}

}  // namespace

void register_plugin_routes(http::Router& router, Services& services, plugins::PluginHost& host,
                            http::Metrics& metrics) {
  router.add(
      "GET", "/v1/admin/plugins", admin_route(services, [&host](http::Request&) -> Result<http::Response> {
        json items = json::array();
        for (const auto& p : host.plugins()) items.push_back(plugin_json(p));
        return json_reply(200, {{"items", items}, {"next_cursor", nullptr}, {"sdk_abi", plugins::host_abi().text()}});
      }));

  for (const auto& route : host.routes())
    router.add(route.method, route.path, plugin_handler(services, host, route.id));

  metrics.add_labeled("quanqu_plugin_errors_total", "Plugin route calls that failed (error or exception), by plugin.",
                      "plugin", [&host] {
                        http::Metrics::LabeledSamples out;
                        for (const auto& [name, n] : host.error_counts())
                          out.emplace_back(name, static_cast<double>(n));
                        return out;
                      });
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
