// Checks recorded HTTP exchanges against api/openapi/openapi.json, so the document and the server cannot drift.
#pragma once

#include "support/http_client.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace valijson {
class Schema;
}

namespace quanqu::e2e {

// An exchange conforms when:
//  * its path matches a documented path template (a literal segment beats a "{param}"; a path
//    item with "x-quanqu-prefix" describes every path under that prefix, e.g. plugin routes) and
//    its method is an operation there (HEAD is checked as the GET operation, without a body);
//    a path known for other methods must be answered 405 with an Allow header, an unknown path
//    404, both as documented in components/responses (MethodNotAllowed, NotFound); an OPTIONS
//    request may be a CORS preflight answered 204 without a body;
//  * its status is declared for the operation ("404", then "4XX", then "default");
//  * its Content-Type (without parameters) is declared for that status ("type/sub", "type/*" or
//    "*/*"), or the body is empty when the status declares no content;
//  * a JSON body (application/json or +json) parses and is valid against the declared schema
//    (a body with a Content-Encoding such as gzip is not decoded, so not checked);
//  * every header the response declares `required` is present.
// Schemas are checked with valijson (JSON Schema draft 7) after a translation of the document's
// OpenAPI 3.1 schemas: "$ref" beside other keywords becomes an allOf, a date/time "format" applies
// to strings only, other formats are dropped, dependentRequired becomes dependencies, an allOf of
// object schemas is merged into one, and every object schema that lists `properties` but says
// nothing of `additionalProperties` is closed for the check, so that a field the server emits but
// the document does not declare is caught (the document itself stays open for clients).
// Thread-safe: compiled schemas are cached under a mutex.
class OpenApiConformance {
 public:
  // Throws std::runtime_error when the document is not an OpenAPI object with paths.
  explicit OpenApiConformance(nlohmann::json document);
  ~OpenApiConformance();
  OpenApiConformance(const OpenApiConformance&) = delete;
  OpenApiConformance& operator=(const OpenApiConformance&) = delete;

  // The document the tests were built with (QUANQU_OPENAPI_DOCUMENT), read and prepared once.
  // Throws std::runtime_error when it cannot be read or parsed.
  static const OpenApiConformance& shared();

  // Nothing when the exchange conforms; otherwise one sentence per violation.
  std::vector<std::string> check(const Exchange& exchange) const;

 private:
  std::vector<std::string> check_exchange(const Exchange& e) const;
  const valijson::Schema& schema(const std::string& pointer) const;
  std::vector<std::string> check_response(const Exchange& e, const nlohmann::json& responses,
                                          const std::string& responses_pointer) const;

  nlohmann::json doc_;       // as written
  nlohmann::json prepared_;  // schemas translated for valijson
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::unique_ptr<valijson::Schema>> schemas_;
};

// "GET /v1/store/products?limit=2 -> 200 (application/json): <first 300 bytes of the body>".
std::string describe(const Exchange& exchange);

}  // namespace quanqu::e2e
