// JSON body parsing with precise field paths for problem+json validation errors.
#include "routes/json_body.h"

#include "common/validation.h"

#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

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

std::optional<std::string> JsonFields::string(const char* field, bool required, std::size_t max_bytes) {
  const json* v = get(field, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  if (v->get_ref<const std::string&>().size() > max_bytes) {
    fail(field, "must be at most " + std::to_string(max_bytes) + " bytes");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::int64_t> JsonFields::integer(const char* field, bool required) {
  const json* v = get(field, required);
  if (!v) return std::nullopt;
  if (v->is_number_integer() && !(v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX))
    return v->get<std::int64_t>();
  // Integers beyond uint64 arrive as doubles: say why a number that looks whole is refused.
  fail(field, v->is_number() && !v->is_number_integer() && std::abs(v->get<double>()) >= 9.2e18
                  ? "must be an integer between -9223372036854775808 and 9223372036854775807"
              : v->is_number_unsigned() ? "must be an integer between -9223372036854775808 and 9223372036854775807"
                                        : "must be an integer");
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

const json* JsonFields::array(const char* field, std::size_t max_items, bool required) {
  const json* v = get(field, required);
  if (v && !v->is_array()) {
    fail(field, "must be an array");
    return nullptr;
  }
  if (v && v->size() > max_items) {
    fail(field, "must have at most " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return v;
}

std::optional<std::vector<std::string>> JsonFields::strings(const char* field, std::size_t max_items, bool required) {
  const json* v = array(field, max_items, required);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(v->size());
  std::unordered_map<std::string_view, std::size_t> first;  // value -> index of its first occurrence
  std::size_t errors = errors_.size();
  for (std::size_t i = 0; i < v->size(); ++i) {
    std::string at = std::string(field) + "/" + std::to_string(i);
    if (!(*v)[i].is_string()) {
      fail(at, "must be a string");
      return std::nullopt;
    }
    const std::string& s = (*v)[i].get_ref<const std::string&>();
    if (s.empty() || s.size() > kMaxListItemBytes) {
      fail(at, "must be 1 to " + std::to_string(kMaxListItemBytes) + " bytes");
      continue;
    }
    auto [it, inserted] = first.try_emplace(s, i);
    if (!inserted) {
      if (it->second != SIZE_MAX)  // reported once, at the second occurrence
        fail(at, "repeats " + std::string(field) + "/" + std::to_string(it->second));
      it->second = SIZE_MAX;
      continue;
    }
    out.push_back(s);
  }
  if (errors_.size() != errors) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> JsonFields::string_map(const char* field, std::size_t max_entries,
                                                                         bool required) {
  const json* v = object(field, required);
  if (!v) return std::nullopt;
  if (v->size() > max_entries) {
    fail(field, "must have at most " + std::to_string(max_entries) + " entries");
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, val] : v->items()) {
    if (!val.is_string()) {
      fail(std::string(field) + "/" + k, "must be a string");
      return std::nullopt;
    }
    if (val.get_ref<const std::string&>().size() > kMaxStringBytes) {
      fail(std::string(field) + "/" + k, "must be at most " + std::to_string(kMaxStringBytes) + " bytes");
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

namespace {

// The media type without parameters, trimmed and lower-cased: "application/json".
std::string media_type(std::string_view header) {
  std::string t(header.substr(0, header.find(';')));
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto first = t.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return t.substr(first, t.find_last_not_of(" \t") - first + 1);
}

bool is_json_type(const std::string& t) {
  constexpr std::string_view kApp = "application/", kSuffix = "+json";
  if (t == "application/json") return true;
  return t.size() > kApp.size() + kSuffix.size() && t.rfind(kApp, 0) == 0 &&
         t.compare(t.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0 &&
         t.find_first_of("/ ", kApp.size()) == std::string::npos;
}

// Builds the document from nlohmann's SAX events, refusing what JSON allows but the API does
// not (see JsonBody::parse). It knows the path of every value, so a refusal names the field;
// nlohmann's own errors (syntax, bad UTF-8, number overflow) arrive through parse_error.
class CheckedBuilder {
 public:
  explicit CheckedBuilder(json& root) : root_(root) {}

  bool null() { return value(nullptr); }
  bool boolean(bool b) { return value(b); }
  bool number_integer(json::number_integer_t i) { return value(i); }
  bool number_unsigned(json::number_unsigned_t u) { return value(u); }
  bool number_float(json::number_float_t f, const json::string_t&) { return value(f); }
  bool string(json::string_t& s) {
    if (s.find('\0') != std::string::npos) return refuse(path(), "must not contain NUL (\\u0000)");
    return value(std::move(s));
  }
  bool binary(json::binary_t&) { return refuse(path(), "must not be binary"); }  // never from JSON text

  bool start_object(std::size_t) { return open(json::object()); }
  bool key(json::string_t& k) {
    Frame& f = stack_.back();
    f.key = std::move(k);
    if (f.key.find('\0') != std::string::npos) return refuse(path(), "is a key with NUL (\\u0000)");
    if (f.node->contains(f.key)) return refuse(path(), "is a key given twice in one object");
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string&, const json::exception& e) {
    std::string at = path();
    std::string what = e.what();
    // nlohmann's message is "[json.exception.x] ... : reason; last read: '...'": keep the reason
    // only, never the bytes read (they may be the invalid UTF-8 that made parsing fail).
    if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    if (auto last = what.find("; last read"); last != std::string::npos) what.resize(last);
    if (e.id == 406)  // out_of_range: a number no double can hold
      return refuse(at, "is a number too large to represent");
    error_ =
        Error::invalid("invalid_json", "the body is not valid JSON at byte " + std::to_string(position) + ": " + what);
    if (!at.empty()) error_->fields.push_back({at, what});
    return false;
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  struct Frame {
    json* node;
    std::string key;  // objects: the member being read
  };

  // "items/0/quantity": the value being read now.
  std::string path() const {
    std::string out;
    for (std::size_t i = 0; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (!out.empty()) out += '/';
      // An array's open child is its last element; a scalar being read is the next one.
      bool child_open = i + 1 < stack_.size();
      out += f.node->is_object() ? f.key : std::to_string(f.node->size() - (child_open ? 1 : 0));
    }
    return out;
  }

  bool refuse(const std::string& at, const std::string& message) {
    std::string field = at.empty() ? "body" : at;
    error_ =
        Error::invalid("invalid_json", "the body is not acceptable JSON: " + field + " " + message, {{field, message}});
    return false;
  }

  json* insert(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back().node;
    if (parent.is_object()) return &(parent[stack_.back().key] = std::move(v));
    parent.push_back(std::move(v));
    return &parent.back();
  }

  bool value(json v) {
    insert(std::move(v));
    return true;
  }

  bool open(json container) {
    if (stack_.size() >= JsonBody::kMaxDepth)
      return refuse(path(), "nests deeper than " + std::to_string(JsonBody::kMaxDepth) + " levels");
    // A child is complete before its parent gets a next member, so this pointer stays valid.
    json* node = insert(std::move(container));
    stack_.push_back({node, {}});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  json& root_;
  std::vector<Frame> stack_;
  std::optional<Error> error_;
};

}  // namespace

Result<JsonBody> JsonBody::parse(const http::Request& request) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return parse_text("");
  auto type = request.header("content-type");
  std::string t = type ? media_type(*type) : "";
  if (!is_json_type(t))
    return Error::make(ErrorKind::invalid_argument, "unsupported_media_type",
                       type ? "send the body as application/json (got " + t + ")"
                            : "send the body with Content-Type: application/json");
  return parse_text(request.body);
}

Result<JsonBody> JsonBody::parse_text(std::string_view text) {
  JsonBody body;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    body.doc_ = json::object();
    return body;
  }
  CheckedBuilder builder(body.doc_);
  bool parsed = false;
  try {
    parsed = json::sax_parse(text, &builder);
  } catch (const json::exception& e) {  // the builder answers every parse error; a safety net
    return Error::invalid("invalid_json", "the body is not valid JSON");
  }
  if (!parsed || builder.error()) {
    if (builder.error()) return *builder.error();
    return Error::invalid("invalid_json", "the body is not valid JSON");
  }
  if (!body.doc_.is_object()) return Error::invalid("invalid_json", "the body must be a JSON object");
  return body;
}

Status JsonBody::status() const {
  if (errors_.empty()) return ok_status();
  return Error::invalid("validation_failed", describe_field_errors(errors_), errors_);
}

Status JsonBody::status_with(const Status& domain) const {
  if (errors_.empty() || domain.ok()) return errors_.empty() ? domain : status();
  // A domain error is shadowed by a type error on its field or on any field above it; looking
  // up each prefix of its path keeps this linear in the number of errors.
  std::unordered_set<std::string_view> typed;
  for (const auto& e : errors_) typed.insert(e.field);
  std::vector<FieldError> merged = errors_;
  for (const auto& f : domain.error().fields) {
    std::string_view path = f.field;
    bool shadowed = typed.count(path) > 0;
    for (auto slash = path.find('/'); !shadowed && slash != std::string_view::npos; slash = path.find('/', slash + 1))
      shadowed = typed.count(path.substr(0, slash)) > 0;
    if (!shadowed) merged.push_back(f);
  }
  std::string message = describe_field_errors(merged);
  return Error::invalid("validation_failed", std::move(message), std::move(merged));
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

std::string query_text(const http::Request& request, std::string_view name) {
  return std::string(request.query_param(name).value_or(""));
}

}  // namespace quanqu::api
