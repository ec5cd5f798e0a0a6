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
#include <vector>

namespace quanqu::api {

// A view of one JSON object in the body, with the path prefix used in field errors.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string prefix, std::vector<FieldError>& errors)
      : object_(object), prefix_(std::move(prefix)), errors_(errors) {}

  bool has(const char* field) const { return object_.contains(field); }
  bool is_null(const char* field) const { return has(field) && object_.at(field).is_null(); }

  // Each getter records an error (missing when required, or wrong type) and returns nothing.
  std::optional<std::string> string(const char* field, bool required = false);
  std::optional<std::int64_t> integer(const char* field, bool required = false);
  std::optional<bool> boolean(const char* field, bool required = false);
  std::optional<double> number(const char* field, bool required = false);
  const nlohmann::json* object(const char* field, bool required = false);
  const nlohmann::json* array(const char* field, bool required = false);
  std::optional<std::vector<std::string>> strings(const char* field, bool required = false);
  std::optional<std::map<std::string, std::string>> string_map(const char* field, bool required = false);
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
  // Malformed JSON, a non-object, or a content type other than JSON is a 400/415 error.
  static Result<JsonBody> parse(const http::Request& request);

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

}  // namespace quanqu::api
