// The store API (/v1/store/...): catalog, carts, checkout and order look-up for storefronts.
#pragma once

#include "http/metrics.h"
#include "http/router.h"
#include "routes/services.h"

namespace quanqu::api {

// Registers every store route, and the catalog cache's metric. `services` must outlive the router.
void register_store_routes(http::Router& router, Services& services, const ApiOptions& options, http::Metrics& metrics);

// The checkout steps that call providers (checkout_step_routes.cpp): payment sessions
// (POST/GET /v1/store/carts/{id}/payment-sessions) and shipping (GET .../shipping-options,
// POST .../shipping-method).
void register_checkout_step_routes(http::Router& router, Services& services);

// Customers (customer_routes.cpp): sign-up (POST /v1/store/customers), sign-in and out
// (/v1/store/auth/token), and the signed-in customer's /v1/store/customers/me, addresses and orders.
void register_customer_routes(http::Router& router, Services& services);

}  // namespace quanqu::api
