// JSON body parsing with precise field paths for problem+json validation errors.
#include "routes/json_body.h"

#include <charconv>

namespace quanqu::api {

using nlohmann::json;

const json* JsonFields::get(const char* field, bool required) {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) {
    if (required) fail(field, "is required");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> JsonFields::string(const char* field, bool required) {
  const json* v = get(field, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::int64_t> JsonFields::integer(const char* field, bool required) {
  const json* v = get(field, required);
  if (!v) return std::nullopt;
  if (v->is_number_integer() && !(v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX))
    return v->get<std::int64_t>();
  fail(field, "must be an integer");
  return std::nullopt;
}

std::optional<bool> JsonFields::boolean(const char* field, bool required) {
  const json* v = get(field, required);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    fail(field, "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<double> JsonFields::number(const char* field, bool required) {
  const json* v = get(field, required);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(field, "must be a number");
    return std::nullopt;
  }
  return v->get<double>();
}

const json* JsonFields::object(const char* field, bool required) {
  const json* v = get(field, required);
  if (v && !v->is_object()) {
    fail(field, "must be an object");
    return nullptr;
  }
  return v;
}

const json* JsonFields::array(const char* field, bool required) {
  const json* v = get(field, required);
  if (v && !v->is_array()) {
    fail(field, "must be an array");
    return nullptr;
  }
  return v;
}

std::optional<std::vector<std::string>> JsonFields::strings(const char* field, bool required) {
  const json* v = array(field, required);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      fail(std::string(field) + "/" + std::to_string(i), "must be a string");
      return std::nullopt;
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> JsonFields::string_map(const char* field, bool required) {
  const json* v = object(field, required);
  if (!v) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& [k, val] : v->items()) {
    if (!val.is_string()) {
      fail(std::string(field) + "/" + k, "must be a string");
      return std::nullopt;
    }
    out[k] = val.get<std::string>();
  }
  return out;
}

std::optional<Address> JsonFields::address(const char* field, bool required) {
  const json* v = object(field, required);
  if (!v) return std::nullopt;
  JsonFields f(*v, path(field), errors_);
  f.only({"name", "line1", "line2", "city", "region", "postal_code", "country", "phone", "latitude", "longitude"});
  Address a;
  a.name = f.string("name").value_or("");
  a.line1 = f.string("line1", true).value_or("");
  a.line2 = f.string("line2").value_or("");
  a.city = f.string("city", true).value_or("");
  a.region = f.string("region").value_or("");
  a.postal_code = f.string("postal_code").value_or("");
  a.country = f.string("country", true).value_or("");
  a.phone = f.string("phone").value_or("");
  a.latitude = f.number("latitude");
  a.longitude = f.number("longitude");
  return a;
}

std::optional<Money> JsonFields::money(const json& value, const std::string& p) {
  if (!value.is_object()) {
    errors_.push_back({p, "must be an object {\"amount\", \"currency\"}"});
    return std::nullopt;
  }
  JsonFields f(value, p, errors_);
  f.only({"amount", "currency"});
  auto amount = f.integer("amount", true);
  auto currency = f.string("currency", true);
  if (!amount || !currency) return std::nullopt;
  return Money{*amount, *currency};
}

void JsonFields::only(std::initializer_list<const char*> known) {
  for (const auto& [k, v] : object_.items()) {
    bool found = false;
    for (const char* name : known) found = found || k == name;
    if (!found) fail(k, "is not a known field");
  }
}

Result<JsonBody> JsonBody::parse(const http::Request& request) {
  JsonBody body;
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    body.doc_ = json::object();
    return body;
  }
  if (auto type = request.header("content-type")) {
    std::string t(type->substr(0, type->find(';')));
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    // text/plain is what browsers send for a string body without a header; accept it as JSON.
    if (t != "application/json" && t != "text/plain" && t.find("+json") == std::string::npos)
      return Error{ErrorKind::invalid_argument, "unsupported_media_type",
                   "send the body as application/json (got " + t + ")", {}, {}};
  }
  try {
    body.doc_ = json::parse(request.body);
  } catch (const json::parse_error& e) {
    return Error::invalid("invalid_json", std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.doc_.is_object()) return Error::invalid("invalid_json", "the body must be a JSON object");
  return body;
}

Status JsonBody::status() const {
  if (errors_.empty()) return ok_status();
  std::string message = "invalid input: ";
  for (std::size_t i = 0; i < errors_.size(); ++i)
    message += (i ? "; " : "") + errors_[i].field + " " + errors_[i].message;
  return Error::invalid("validation_failed", message, errors_);
}

Status JsonBody::status_with(const Status& domain) const {
  if (errors_.empty() || domain.ok()) return errors_.empty() ? domain : status();
  std::vector<FieldError> merged = errors_;
  for (const auto& f : domain.error().fields) {
    bool shadowed = false;
    for (const auto& e : errors_)
      shadowed = shadowed || f.field == e.field || f.field.rfind(e.field + "/", 0) == 0;
    if (!shadowed) merged.push_back(f);
  }
  std::string message = "invalid input: ";
  for (std::size_t i = 0; i < merged.size(); ++i) message += (i ? "; " : "") + merged[i].field + " " + merged[i].message;
  return Error::invalid("validation_failed", message, merged);
}

Result<PageParams> page_params(const http::Request& request) {
  PageParams p;
  if (auto limit = request.query_param("limit")) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
    if (ec != std::errc() || ptr != limit->data() + limit->size() || value < 1 || value > 100)
      return Error::invalid("invalid_query", "limit must be an integer from 1 to 100",
                            {{"limit", "must be an integer from 1 to 100"}});
    p.limit = value;
  }
  if (auto cursor = request.query_param("cursor")) p.cursor = std::string(*cursor);
  return p;
}

}  // namespace quanqu::api
