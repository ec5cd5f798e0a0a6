// Reads a JSON request body field by field, collecting every type error before failing once.
#pragma once

#include "common/address.h"
#include "common/money.h"
#include "common/result.h"
#include "http/message.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::api {

// A view of one JSON object in the body, with the path prefix used in field errors.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string prefix, std::vector<FieldError>& errors)
      : object_(object), prefix_(std::move(prefix)), errors_(errors) {}

  bool has(const char* field) const { return object_.contains(field); }
  bool is_null(const char* field) const { return has(field) && object_.at(field).is_null(); }

  // The longest string any field takes (a product description); the core checks each field's own
  // limit, this one stops a megabyte string before it reaches the core.
  static constexpr std::size_t kMaxStringBytes = 20000;
  // The longest item of an id or name list (product_ids, location_ids, payment_providers, ...).
  static constexpr std::size_t kMaxListItemBytes = 200;

  // Each getter records an error (missing when required, or wrong type) and returns nothing.
  // A string longer than `max_bytes` is an error too.
  std::optional<std::string> string(const char* field, bool required = false, std::size_t max_bytes = kMaxStringBytes);
  // Only a JSON integer in int64 range: 1.0, 1e2 and -0.0 are refused ("-0" is the integer 0).
  std::optional<std::int64_t> integer(const char* field, bool required = false);
  std::optional<bool> boolean(const char* field, bool required = false);
  std::optional<double> number(const char* field, bool required = false);
  const nlohmann::json* object(const char* field, bool required = false);
  // An array of at most `max_items` items; a longer one is one error and returns nothing, so that
  // no caller ever walks more than `max_items` items.
  const nlohmann::json* array(const char* field, std::size_t max_items, bool required = false);
  // An array of at most `max_items` distinct strings, each 1..kMaxListItemBytes bytes. Every
  // problem is recorded once: the first item of a wrong type, each string too long or empty, and
  // each repeated value at its second occurrence ("x/3 repeats x/0").
  std::optional<std::vector<std::string>> strings(const char* field, std::size_t max_items, bool required = false);
  // An object of at most `max_entries` string values, each at most kMaxStringBytes.
  std::optional<std::map<std::string, std::string>> string_map(const char* field, std::size_t max_entries,
                                                               bool required = false);
  std::optional<Address> address(const char* field, bool required = false);
  std::optional<Money> money(const nlohmann::json& value, const std::string& path);

  // Records an error for every field not in `known` (catches typos such as "quantitiy").
  void only(std::initializer_list<const char*> known);
  void fail(const std::string& field, std::string message) { errors_.push_back({path(field), std::move(message)}); }
  std::string path(const std::string& field) const { return prefix_.empty() ? field : prefix_ + "/" + field; }
  std::vector<FieldError>& errors() { return errors_; }

 private:
  const nlohmann::json* get(const char* field, bool required);
  const nlohmann::json& object_;
  std::string prefix_;
  std::vector<FieldError>& errors_;
};

// The parsed body of a request: always a JSON object (an empty body reads as {}).
class JsonBody {
 public:
  // Objects and arrays nested deeper than this are refused.
  static constexpr std::size_t kMaxDepth = 64;

  // A non-empty body must say `Content-Type: application/json` or `application/<x>+json`
  // (parameters such as charset are allowed); any other type, or none, is a 415
  // `unsupported_media_type`. The body is then refused with a 400 `invalid_json`, naming the
  // field (`errors[0].field`, a path such as "items/0/quantity") where there is one, when it is
  // not JSON or not valid UTF-8, is not an object, nests deeper than kMaxDepth, repeats a key
  // in one object, holds a number no double can hold (1e400), or holds a string or key with NUL
  // (\u0000, which PostgreSQL text cannot store). Parsing is linear in the body's size.
  static Result<JsonBody> parse(const http::Request& request);
  // The same checks on JSON text alone (no content type): the unit tests' entry point.
  static Result<JsonBody> parse_text(std::string_view text);

  JsonFields fields() { return JsonFields(doc_, "", errors_); }
  const nlohmann::json& doc() const { return doc_; }
  // A 400 `validation_failed` listing every recorded field error, or ok.
  Status status() const;
  // The same, adding the field errors of `domain` (the core's checks of the parsed values) for
  // fields that have no type error already, so that one reply lists every problem.
  Status status_with(const Status& domain) const;

 private:
  nlohmann::json doc_;
  std::vector<FieldError> errors_;
};

// Parses ?limit= (1..100, default 20) and ?cursor=; bad values are a 400.
struct PageParams {
  int limit = 20;
  std::string cursor;
};
Result<PageParams> page_params(const http::Request& request);

// A list query of the core (a struct with `limit` and `cursor`) with those two from page_params();
// the caller fills its filters.
template <class Query>
Result<Query> page_query(const http::Request& request) {
  QQ_ASSIGN_OR_RETURN(PageParams page, page_params(request));
  Query query;
  query.limit = page.limit;
  query.cursor = std::move(page.cursor);
  return query;
}

// The value of ?name= as given, or "" when it is absent.
std::string query_text(const http::Request& request, std::string_view name);

}  // namespace quanqu::api
