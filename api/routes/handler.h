// Adapters that turn domain handlers into HTTP handlers: auth, error mapping, JSON replies.
#pragma once

#include "channels/channel.h"
#include "http/problem.h"
#include "http/router.h"
#include "routes/services.h"

#include <functional>
#include <optional>

namespace quanqu::api {

// A store handler receives the channel of the request's publishable key.
using StoreHandler = std::function<Result<http::Response>(http::Request&, const channels::Channel&)>;
// An admin handler runs only for a valid admin key.
using AdminHandler = std::function<Result<http::Response>(http::Request&)>;

// A 400 `malformed_request` when the path or the query is not valid UTF-8 or holds NUL (%00)
// (path parameters are slices of the path, so they are covered), or nothing. Every route that
// passes request text to the core or to a plugin calls it first.
std::optional<http::Response> refuse_malformed(const http::Request& request);

// A 400 `duplicate_header` when a header the API reads as one value (Authorization,
// X-Publishable-Key, X-Order-Token, Idempotency-Key, X-Customer-Token, Content-Type) is sent more
// than once, or nothing: choosing one of two values would let a proxy and the server disagree.
// refuse_malformed calls it, so every store, admin and plugin route refuses them.
std::optional<http::Response> refuse_duplicate_headers(const http::Request& request);

// Both adapters refuse a repeated single-valued header (400 `duplicate_header`), then a path or
// query that is not valid UTF-8 (400 `malformed_request`)
// before anything reaches the core, and log the internal cause of any 5xx they answer.

// Missing or unknown X-Publishable-Key is a 401 problem; errors become problem+json.
http::Handler store_route(Services& services, StoreHandler handler);
// Missing or wrong `Authorization: Bearer <admin key>` is a 401 problem with WWW-Authenticate.
http::Handler admin_route(Services& services, AdminHandler handler);

inline http::Response json_reply(unsigned status, const nlohmann::json& body) {
  return http::Response::json(status, body);
}

}  // namespace quanqu::api
