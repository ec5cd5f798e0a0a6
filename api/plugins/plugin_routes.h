// The HTTP side of plugins: GET /v1/admin/plugins, plugin routes under /v1/plugins/<name>/..., their error metric.
#pragma once

#include "http/log.h"
#include "http/metrics.h"
#include "http/router.h"
#include "plugins/plugin_host.h"
#include "routes/services.h"

namespace quanqu::api {

// Registers:
//  - GET /v1/admin/plugins (admin key): {"items": [...], "next_cursor": null, "sdk_abi": "1.0"}, one
//    item per discovered plugin: name, version, sdk_abi, status, reason, description, provides,
//    routes, errors.
//  - every route of every loaded plugin at "/v1/plugins/<name><pattern>". No authentication is
//    required (plugins authenticate their own callers); a request with X-Publishable-Key is
//    resolved to its channel (an unknown key is a 401 problem) and the plugin gets its id. A
//    plugin failure is a 502 problem+json, code "plugin_error", detail and details.plugin naming
//    the plugin.
//  - the metric quanqu_plugin_errors_total{plugin="<name>"}.
// `host` must outlive the router; its plugins must be loaded before this is called.
void register_plugin_routes(http::Router& router, Services& services, plugins::PluginHost& host,
                            http::Metrics& metrics);

// Forwards the plugin runtime's log lines to the server's JSON logger.
plugins::LogSink plugin_log_sink(http::Logger& log);

}  // namespace quanqu::api
