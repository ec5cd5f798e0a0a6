// The store API (/v1/store/...): catalog, carts, checkout and order look-up for storefronts.
#pragma once

#include "http/router.h"
#include "routes/services.h"

namespace quanqu::api {

// Registers every store route. `services` must outlive the router.
void register_store_routes(http::Router& router, Services& services, const ApiOptions& options);

// The payment step of checkout: POST and GET /v1/store/carts/{id}/payment-sessions (payment_routes.cpp).
void register_payment_routes(http::Router& router, Services& services);

}  // namespace quanqu::api
