// Operational routes: /healthz, /readyz, /metrics and /v1/openapi.json.
#pragma once

#include "http/metrics.h"
#include "http/router.h"
#include "storage/database.h"

namespace quanqu::api {

// /healthz answers while the process serves; /readyz also checks the database.
void register_ops_routes(http::Router& router, storage::Database& db, http::Metrics& metrics);

// The OpenAPI 3.1 document of the whole API, compiled in from api/openapi/openapi.json.
std::string_view openapi_document();

}  // namespace quanqu::api
