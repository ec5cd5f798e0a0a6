// Idempotency-Key on create routes: one wrapper that replays the first reply to a retry.
#pragma once

#include "routes/handler.h"

namespace quanqu::api {

// Wraps a handler that creates something (POST). Without an Idempotency-Key header it just runs.
// With one (1..255 printable ASCII characters, else 400 `idempotency.key_invalid`), keyed by the
// caller (the channel of the publishable key, or the admin key) and fingerprinted by method,
// path and body bytes (idempotency::IdempotencyService):
//  * first use: the handler runs; a 2xx reply (status, body, content type, Location) is stored
//    for 24 h, any other reply (or an exception) releases the key so that it can be used again;
//  * the same key and request again: the stored reply, with `Idempotent-Replayed: true`, and the
//    handler does not run (nothing is created);
//  * the same key with another method, path or body: 409 `idempotency.key_reused`;
//  * the same key while its first request is still running: 409 `idempotency.in_progress` with
//    Retry-After (seconds).
// Checkout has its own, required key (checkout::CheckoutService) and does not use this.
StoreHandler idempotent_store(Services& services, StoreHandler handler);
AdminHandler idempotent_admin(Services& services, AdminHandler handler);

// The Location header of a 201: `path` relative to the server (e.g. "/v1/store/carts/cart_...").
http::Response created(const nlohmann::json& body, const std::string& path);

}  // namespace quanqu::api
