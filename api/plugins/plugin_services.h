// What plugins reach through the host: the core-service operations of Host::call, channel configs, outgoing HTTP.
#pragma once

#include "http/http_client.h"
#include "plugins/plugin_host.h"
#include "routes/services.h"

#include <string>
#include <vector>

namespace quanqu::api {

// The operations Host::call accepts (docs/sdk.md, "Core services"), in the order documented.
const std::vector<std::string>& plugin_operations();

// Builds the host's services over the engine's: each operation parses its arguments exactly like
// the matching HTTP route (same field errors), calls the same core service, and answers the same
// JSON the API would. `client` must outlive the host.
plugins::HostServices plugin_host_services(Services& services, const http::HttpClient& client);

// Tells a channel's plugin (its channel adapter) the channel's current config. A failure is
// logged and counted against the plugin by the host; it never undoes the channel's change.
void configure_channel(Services& services, const channels::Channel& channel);

}  // namespace quanqu::api
