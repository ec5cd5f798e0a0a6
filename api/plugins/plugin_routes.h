// The HTTP side of plugins: their admin routes (list, reload), plugin routes under /v1/plugins/<name>/..., their error metric.
#pragma once

#include "http/log.h"
#include "http/metrics.h"
#include "http/router.h"
#include "plugins/plugin_host.h"
#include "routes/services.h"

namespace quanqu::api {

// Registers:
//  - GET /v1/admin/plugins (admin key): {"items": [...], "next_cursor": null, "sdk_abi": "1.1"}, one
//    item per discovered plugin (plugin_json), and GET /v1/admin/plugins/{name}.
//  - POST /v1/admin/plugins/{name}/reload (admin key): loads the new build beside the running
//    one and switches to it; 200 with the plugin, 404 unknown, 422 `plugin.reload_failed` (the
//    running version keeps serving).
//  - everything under /v1/plugins/<name>/, routed by the plugin host to the running generation's
//    routes. No authentication is required (plugins authenticate their own callers); a request
//    with X-Publishable-Key is resolved to its channel and one with X-Customer-Token to its
//    customer (an unknown key or token is a 401 problem), and the plugin gets their ids. A plugin
//    failure is a 502 problem+json, code "plugin_error", naming the plugin.
//  - the metric quanqu_plugin_errors_total{plugin="<name>"}: failed route, event and provider calls.
void register_plugin_routes(http::Router& router, Services& services, http::Metrics& metrics);

// A plugin as the admin API shows it.
nlohmann::json plugin_json(const plugins::PluginInfo& plugin);

// Forwards the plugin runtime's log lines to the server's JSON logger.
plugins::LogSink plugin_log_sink(http::Logger& log);

}  // namespace quanqu::api
