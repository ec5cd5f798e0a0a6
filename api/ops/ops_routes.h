// Operational routes: /healthz, /readyz, /metrics and /v1/openapi.json.
#pragma once

#include "http/metrics.h"
#include "http/router.h"
#include "storage/database.h"

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace quanqu::api {

// The OpenAPI 3.1 document of the whole API, compiled in from api/openapi/openapi.json.
std::string_view openapi_document();

// `document` (an OpenAPI JSON text) with its `servers` replaced by the relative "/" (resolved
// against where the document was fetched, so it is right behind a reverse proxy too) and
// "http://<host>:<port>". A wildcard host (0.0.0.0, ::, empty) is listed as the loopback address of
// its family, an IPv6 address in brackets. Key order is kept. Throws nlohmann::json::exception when
// `document` is not a JSON object (the compiled-in document always is: a unit test says so).
std::string openapi_with_servers(std::string_view document, std::string_view host, unsigned short port);

// The bytes GET /v1/openapi.json serves, built once rather than per request. Until set_address()
// they are the compiled-in document as is. Thread-safe.
class OpenApiDocument {
 public:
  OpenApiDocument();
  // Rebuilds the served bytes for a server listening on host:port (openapi_with_servers). Call it
  // once the port is known, i.e. after http::Server::start() when the port was 0.
  void set_address(std::string_view host, unsigned short port);
  // The current bytes; a reply may keep them while set_address() replaces them.
  std::shared_ptr<const std::string> bytes() const { return bytes_.load(); }

 private:
  std::atomic<std::shared_ptr<const std::string>> bytes_;
};

// /healthz answers while the process serves; /readyz also checks the database; /v1/openapi.json
// serves `openapi`, or the compiled-in document when it is null.
void register_ops_routes(http::Router& router, storage::Database& db, http::Metrics& metrics,
                         std::shared_ptr<const OpenApiDocument> openapi = nullptr);

}  // namespace quanqu::api
