// Health, readiness, Prometheus metrics and the OpenAPI document.
#include "ops/ops_routes.h"
#include "http/problem.h"

namespace quanqu::api {

void register_ops_routes(http::Router& router, storage::Database& db, http::Metrics& metrics) {
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

  router.add("GET", "/v1/openapi.json", [](http::Request&) {
    return http::Response::text(200, std::string(openapi_document()), "application/json");
  });
}

}  // namespace quanqu::api
