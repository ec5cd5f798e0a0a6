// Adapters that turn domain handlers into HTTP handlers: auth, error mapping, JSON replies.
#pragma once

#include "channels/channel.h"
#include "http/problem.h"
#include "http/router.h"
#include "routes/services.h"

#include <functional>
#include <optional>
#include <string>

namespace quanqu::api {

// A store handler receives the channel of the request's publishable key.
using StoreHandler = std::function<Result<http::Response>(http::Request&, const channels::Channel&)>;
// An admin handler runs only for a valid admin key.
using AdminHandler = std::function<Result<http::Response>(http::Request&)>;
// A customer handler runs only for a signed-in customer (Authorization: Bearer <customer token>)
// on the store API; the channel still comes from the publishable key.
using CustomerHandler =
    std::function<Result<http::Response>(http::Request&, const channels::Channel&, const customers::Customer&)>;

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
//
// Both are rate limited (routes/rate_limits.h, when services.limits is set) before the
// credential is checked: a request with its credential in the store or admin bucket of that
// credential, one without in the open bucket of its client address. A refusal is a 429
// problem+json `rate_limited` with Retry-After; every other reply carries RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset of that bucket. An unknown key counts as a failed
// guess against the auth bucket of the client address; once that is empty, requests from the
// address that carry a key are refused (429) until it refills, whatever the key.

// Whether a handler may wait on a plugin call (a payment or fulfilment provider). One that may
// runs on services.handlers (routes/handler_pool.h), off the io threads, once the request is
// authenticated and counted; the reply is then deferred.
enum class Waits { nothing, on_plugins };

// Missing or unknown X-Publishable-Key is a 401 problem; errors become problem+json.
//
// `Authorization: Bearer <customer token>` is optional on every store route and, when sent, must
// be a valid customer token (else 401 `auth.customer_token_invalid` with
// WWW-Authenticate: Bearer realm="quanqu-store", counted as a failed guess like an unknown key).
// A cart owned by a customer (created while signed in) is a 404 `cart.not_found` on every
// /v1/store/carts/{id}... route unless that customer's token is sent: the owner is checked
// before the handler runs, whatever the body says.
http::Handler store_route(Services& services, StoreHandler handler, Waits waits = Waits::nothing);
// A store route for signed-in customers only: without a customer token, a 401
// `auth.customer_token_missing` (with WWW-Authenticate: Bearer realm="quanqu-store").
http::Handler customer_route(Services& services, CustomerHandler handler, Waits waits = Waits::nothing);

// The customer signed in by the request's `Authorization: Bearer` token on a store route:
// nothing without one, a 401 `auth.customer_token_invalid` for an unknown, expired or revoked one.
Result<std::optional<customers::Customer>> signed_in_customer(Services& services, const http::Request& request);
// Missing or wrong `Authorization: Bearer <admin key>` is a 401 problem with WWW-Authenticate.
http::Handler admin_route(Services& services, AdminHandler handler, Waits waits = Waits::nothing);

// The secret of `Authorization: Bearer <secret>`, or "" when there is none. On admin routes it is
// an admin key, on store routes a customer token.
std::string admin_secret(const http::Request& request);
inline std::string bearer_secret(const http::Request& request) { return admin_secret(request); }

// Rate limits `handler` in the open bucket of the client address (plugin routes), with the
// same 429 and RateLimit-* headers as the adapters above.
http::Handler open_route(Services& services, http::Handler handler);

// For routes where a caller proves knowledge of a secret (an order token today, a sign-in
// tomorrow): each failed attempt (an error or a reply of 400 or more) is counted in the auth
// bucket of (route, client address, path parameter `param`); once it is empty, attempts are
// refused with 429 before the secret is checked. Successes cost nothing. Use inside
// store_route: `store_route(s, failures_limited(s, "id", handler))`.
StoreHandler failures_limited(Services& services, std::string param, StoreHandler handler);

inline http::Response json_reply(unsigned status, const nlohmann::json& body) {
  return http::Response::json(status, body);
}

}  // namespace quanqu::api
