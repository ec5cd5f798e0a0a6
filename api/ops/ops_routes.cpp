// Health, readiness, Prometheus metrics and the OpenAPI document.
#include "ops/ops_routes.h"
#include "http/problem.h"

#include <nlohmann/json.hpp>

namespace quanqu::api {

std::string openapi_with_servers(std::string_view document, std::string_view host, unsigned short port) {
  // ordered_json: the served document keeps the source's key order (openapi, info, servers, ...).
  auto doc = nlohmann::ordered_json::parse(document);
  std::string address(host);
  if (address.empty() || address == "0.0.0.0") address = "127.0.0.1";
  if (address == "::") address = "::1";
  if (address.find(':') != std::string::npos) address = "[" + address + "]";
  std::string listening = "http://" + address + ":" + std::to_string(port);
  doc.at("servers") = nlohmann::ordered_json::array(
      {{{"url", "/"}, {"description", "Relative to where this document was fetched (also behind a reverse proxy)."}},
       {{"url", listening}, {"description", "The address this server was configured to listen on."}}});
  return doc.dump(2) + "\n";
}

OpenApiDocument::OpenApiDocument() : bytes_(std::make_shared<const std::string>(openapi_document())) {}

void OpenApiDocument::set_address(std::string_view host, unsigned short port) {
  bytes_.store(std::make_shared<const std::string>(openapi_with_servers(openapi_document(), host, port)));
}

void register_ops_routes(http::Router& router, storage::Database& db, http::Metrics& metrics,
                         std::shared_ptr<const OpenApiDocument> openapi) {
  router.add("GET", "/healthz", [](http::Request&) { return http::Response::json(200, {{"status", "ok"}}); });

  router.add("GET", "/readyz", [&db](http::Request&) {
    auto ping = db.read<long long>([](soci::session& sql) -> Result<long long> {
      long long one = 0;
      sql << "SELECT 1", soci::into(one);
      return one;
    });
    if (!ping) {
      Error e = ping.error();
      e.kind = ErrorKind::unavailable;
      e.code = "not_ready";
      return http::problem(e);
    }
    return http::Response::json(200, {{"status", "ready"}, {"database", "ok"}});
  });

  router.add("GET", "/metrics", [&metrics](http::Request&) {
    return http::Response::text(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  router.add("GET", "/v1/openapi.json", [openapi = std::move(openapi)](http::Request&) {
    if (!openapi) return http::Response::text(200, std::string(openapi_document()), "application/json");
    return http::Response::text(200, *openapi->bytes(), "application/json");
  });
}

}  // namespace quanqu::api
