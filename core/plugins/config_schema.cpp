// The JSON Schema subset for plugin config: refusing what it does not support, and checking values against it.
#include "plugins/config_schema.h"

#include "common/validation.h"

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <regex>
#include <set>
#include <string_view>

namespace quanqu::plugins {

namespace {

using nlohmann::json;

constexpr std::string_view kTypeNames[] = {"object", "array", "string", "integer", "number", "boolean", "null"};

// libstdc++'s default (backtracking) executor recurses once per input character and can take
// exponential time, so a long config string or an unlucky pattern could crash or hang the server.
// Its polynomial mode (a Thompson NFA) has neither problem; its price is no back-references.
constexpr auto kRegexFlags = std::regex::ECMAScript
#if defined(__GLIBCXX__)
                             | std::regex_constants::__polynomial
#endif
    ;

// JSON text for messages; never throws, even for invalid UTF-8 built in code.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A value as a merchant reads it: strings without quotes, everything else as JSON.
std::string shown(const json& j) {
  return j.is_string() ? j.get<std::string>() : dump(j);
}

// A JSON pointer reference token: '~' and '/' escaped (RFC 6901).
std::string pointer_token(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// `base.name`, or `base["na.me"]` when the name would make the dotted path ambiguous.
std::string member_path(const std::string& base, const std::string& name) {
  bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || std::isalnum(u) || c == '_' || c == '-' || c == '$';
  });
  if (!plain) return base + "[" + dump(json(name)) + "]";
  return base.empty() ? name : base + "." + name;
}

std::string item_path(const std::string& base, std::size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

// A non-negative integer keyword value (3 or 3.0), or nothing.
std::optional<std::uint64_t> count_of(const json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer()) {
    auto v = j.get<std::int64_t>();
    if (v >= 0) return static_cast<std::uint64_t>(v);
    return std::nullopt;
  }
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (std::isfinite(d) && d >= 0 && std::floor(d) == d && d < 18446744073709551616.0)
      return static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

// Every int64, uint64 and double is exact as a long double on x86-64 (80-bit) and AArch64 (128-bit).
long double number_of(const json& j) {
  if (j.is_number_unsigned()) return static_cast<long double>(j.get<std::uint64_t>());
  if (j.is_number_integer()) return static_cast<long double>(j.get<std::int64_t>());
  return static_cast<long double>(j.get<double>());
}

bool is_integral(const json& j) {
  if (j.is_number_integer()) return true;
  if (!j.is_number_float()) return false;
  double d = j.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_type(const json& value, std::string_view type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return is_integral(value);
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

std::string type_phrase(std::string_view type) {
  if (type == "object" || type == "array" || type == "integer") return "an " + std::string(type);
  if (type == "null") return "null";
  return "a " + std::string(type);
}

bool is_multiple_of(const json& value, const json& divisor) {
  long double v = number_of(value);
  long double d = number_of(divisor);
  // fmod is exact, which settles integers and numbers like 4.5 and 1.5 (all exact in binary).
  if (std::fmod(v, d) == 0) return true;
  // A decimal such as 0.1 is not exact in binary, so 0.3/0.1 == 2.9999999999999996: accept a quotient
  // within a few ulp of an integer. Past 2^40 such a tolerance nears 1/1000 and would accept anything
  // soon after, so a huge quotient that fmod did not settle is not a multiple.
  long double q = v / d;
  if (!std::isfinite(q) || std::fabs(q) > 1099511627776.0L) return false;
  long double tolerance = 4 * static_cast<long double>(DBL_EPSILON) * std::max(1.0L, std::fabs(q));
  return std::fabs(q - std::nearbyint(q)) <= tolerance;
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// An absolute http(s) URL with a non-empty host, in plain ASCII as RFC 3986 allows it.
bool is_http_url(std::string_view s) {
  static constexpr std::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (kAllowed.find(s[i]) == std::string_view::npos) return false;
    if (s[i] == '%' && (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))) return false;
  }
  auto sep = s.find("://");
  if (sep == std::string_view::npos) return false;
  std::string scheme(s.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return false;

  std::string_view authority = s.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return false;
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    if (host.find_first_of("[]") != std::string_view::npos) return false;
    if (std::none_of(host.begin(), host.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
      return false;
  }
  if (has_port) {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
    if (std::stoul(std::string(port)) > 65535) return false;
  }
  return true;
}

bool is_email(std::string_view s) {
  Validator v;
  v.email("", s);
  return v.ok();
}

// Walks a schema and a value together, collecting violations.
class ValueChecker {
 public:
  std::vector<ConfigViolation> violations;

  void check(const json& schema, const json& value, const std::string& path, int depth) {
    if (depth > kMaxConfigSchemaDepth) return fail(path, "is nested too deeply to be checked");
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(path, "is not allowed");
      return;
    }
    if (!schema.is_object()) return;
    if (!check_type(schema, value, path)) return;
    if (!check_constants(schema, value, path)) return;
    if (value.is_number()) check_number(schema, value, path);
    if (value.is_string()) check_string(schema, value.get_ref<const std::string&>(), path);
    if (value.is_array()) check_array(schema, value, path, depth);
    if (value.is_object()) check_object(schema, value, path, depth);
  }

 private:
  // Compiled patterns by source; nothing when the pattern does not compile.
  std::map<std::string, std::optional<std::regex>> patterns_;

  void fail(const std::string& path, std::string message) { violations.push_back({path, std::move(message)}); }

  bool check_type(const json& schema, const json& value, const std::string& path) {
    auto it = schema.find("type");
    if (it == schema.end()) return true;
    std::vector<std::string> allowed;
    if (it->is_string()) allowed.push_back(it->get<std::string>());
    if (it->is_array())
      for (const auto& t : *it)
        if (t.is_string()) allowed.push_back(t.get<std::string>());
    if (allowed.empty() ||
        std::any_of(allowed.begin(), allowed.end(), [&](const auto& t) { return has_type(value, t); }))
      return true;
    std::string phrase;
    for (std::size_t i = 0; i < allowed.size(); ++i)
      phrase += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + type_phrase(allowed[i]);
    fail(path, "must be " + phrase);
    return false;
  }

  bool check_constants(const json& schema, const json& value, const std::string& path) {
    bool good = true;
    if (auto it = schema.find("const"); it != schema.end() && *it != value) {
      fail(path, "must be " + shown(*it));
      good = false;
    }
    if (auto it = schema.find("enum");
        it != schema.end() && it->is_array() && std::find(it->begin(), it->end(), value) == it->end()) {
      std::string list;
      for (const auto& option : *it) list += (list.empty() ? "" : ", ") + shown(option);
      fail(path, "must be one of: " + list);
      good = false;
    }
    return good;
  }

  void check_number(const json& schema, const json& value, const std::string& path) {
    long double v = number_of(value);
    auto bound = [&](const char* keyword, auto violates, const char* phrase) {
      auto it = schema.find(keyword);
      if (it != schema.end() && it->is_number() && violates(v, number_of(*it)))
        fail(path, std::string(phrase) + " " + dump(*it));
    };
    bound("minimum", std::less<long double>(), "must be at least");
    bound("maximum", std::greater<long double>(), "must be at most");
    bound("exclusiveMinimum", std::less_equal<long double>(), "must be greater than");
    bound("exclusiveMaximum", std::greater_equal<long double>(), "must be less than");
    if (auto it = schema.find("multipleOf");
        it != schema.end() && it->is_number() && number_of(*it) > 0 && !is_multiple_of(value, *it))
      fail(path, "must be a multiple of " + dump(*it));
  }

  void check_string(const json& schema, const std::string& s, const std::string& path) {
    std::size_t length = code_points(s);
    auto plural = [](std::uint64_t n) { return std::to_string(n) + (n == 1 ? " character" : " characters"); };
    if (auto n = count_of(schema.value("minLength", json())); n && length < *n)
      fail(path, *n == 1 ? "must not be empty" : "must be at least " + plural(*n) + " long");
    if (auto n = count_of(schema.value("maxLength", json())); n && length > *n)
      fail(path, "must be at most " + plural(*n) + " long");
    if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
      const std::regex* re = pattern(it->get<std::string>());
      bool matched = false;
      if (re) {
        try {
          matched = std::regex_search(s, *re);
        } catch (const std::exception&) {
          re = nullptr;
        }
      }
      if (!re)
        fail(path, "cannot be checked: the plugin's config schema has an invalid pattern");
      else if (!matched)
        fail(path, "must match the pattern " + it->get<std::string>());
    }
    if (auto it = schema.find("format"); it != schema.end() && it->is_string()) {
      const auto& format = it->get_ref<const std::string&>();
      if (format == "uri" && !is_http_url(s)) fail(path, "must be an https or http URL");
      if (format == "email" && !is_email(s)) fail(path, "must be an e-mail address");
    }
  }

  const std::regex* pattern(const std::string& source) {
    auto [it, inserted] = patterns_.try_emplace(source);
    if (inserted && source.size() <= kMaxConfigSchemaPatternBytes) {
      try {
        it->second.emplace(source, kRegexFlags);
      } catch (const std::exception&) {
        it->second.reset();
      }
    }
    return it->second ? &*it->second : nullptr;
  }

  void check_array(const json& schema, const json& value, const std::string& path, int depth) {
    auto plural = [](std::uint64_t n) { return std::to_string(n) + (n == 1 ? " item" : " items"); };
    if (auto n = count_of(schema.value("minItems", json())); n && value.size() < *n)
      fail(path, *n == 1 ? "must not be empty" : "must have at least " + plural(*n));
    if (auto n = count_of(schema.value("maxItems", json())); n && value.size() > *n)
      fail(path, "must have at most " + plural(*n));
    if (schema.value("uniqueItems", json(false)) == json(true)) check_unique(value, path);
    if (auto it = schema.find("items"); it != schema.end())
      for (std::size_t i = 0; i < value.size(); ++i) check(*it, value[i], item_path(path, i), depth + 1);
  }

  // Sorting keeps this O(n log n) on large arrays; a stable sort keeps equal items in index order,
  // so the reported pair is the first repeat in the array.
  void check_unique(const json& value, const std::string& path) {
    std::vector<std::size_t> order(value.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return value[a] < value[b]; });
    std::optional<std::pair<std::size_t, std::size_t>> repeat;
    for (std::size_t k = 0; k < order.size();) {
      std::size_t end = k + 1;
      while (end < order.size() && value[order[end]] == value[order[k]]) ++end;
      if (end - k > 1 && (!repeat || order[k + 1] < repeat->second)) repeat = {order[k], order[k + 1]};
      k = end;
    }
    if (repeat)
      fail(path, "must not contain duplicates (items " + std::to_string(repeat->first) + " and " +
                     std::to_string(repeat->second) + " are equal)");
  }

  void check_object(const json& schema, const json& value, const std::string& path, int depth) {
    const json* properties = nullptr;
    if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) properties = &*it;
    if (auto it = schema.find("required"); it != schema.end() && it->is_array())
      for (const auto& name : *it)
        if (name.is_string() && !value.contains(name.get<std::string>()))
          fail(member_path(path, name.get<std::string>()), "is required");
    auto additional = schema.find("additionalProperties");
    for (const auto& [name, member] : value.items()) {
      std::string at = member_path(path, name);
      if (properties && properties->contains(name)) {
        check((*properties)[name], member, at, depth + 1);
      } else if (additional != schema.end()) {
        if (additional->is_boolean() && !additional->get<bool>())
          fail(at, "is not an allowed property");
        else
          check(*additional, member, at, depth + 1);
      }
    }
  }
};

// Walks a schema, collecting what is unsupported or malformed.
class SchemaChecker {
 public:
  std::vector<FieldError> errors;

  void check(const json& schema, const std::string& at, int depth) {
    if (depth > kMaxConfigSchemaDepth)
      return fail(at, "nests schemas more than " + std::to_string(kMaxConfigSchemaDepth) + " levels deep");
    if (schema.is_boolean()) return;
    if (!schema.is_object()) return fail(at, "must be a schema: a JSON object, true or false");
    std::size_t before = errors.size();
    for (const auto& [key, v] : schema.items()) keyword(key, v, at + "/" + pointer_token(key), depth);
    if (errors.size() == before)
      if (auto it = schema.find("default"); it != schema.end()) check_default(schema, *it, at + "/default");
  }

 private:
  void fail(std::string at, std::string message) { errors.push_back({std::move(at), std::move(message)}); }

  void keyword(const std::string& key, const json& v, const std::string& at, int depth) {
    static const std::set<std::string, std::less<>> kCounts{"minItems", "maxItems", "minLength", "maxLength"};
    static const std::set<std::string, std::less<>> kBounds{"minimum", "maximum", "exclusiveMinimum",
                                                            "exclusiveMaximum"};
    static const std::set<std::string, std::less<>> kTexts{"format",  "title", "description",
                                                           "$schema", "$id",   "$comment"};
    if (key == "type") {
      check_type(v, at);
    } else if (key == "properties") {
      if (!v.is_object()) return fail(at, "must be an object mapping property names to schemas");
      for (const auto& [name, sub] : v.items()) check(sub, at + "/" + pointer_token(name), depth + 1);
    } else if (key == "required") {
      check_names(v, at);
    } else if (key == "additionalProperties" || key == "items") {
      check(v, at, depth + 1);
    } else if (kCounts.count(key)) {
      if (!count_of(v)) fail(at, "must be a non-negative integer");
    } else if (key == "uniqueItems" || key == "writeOnly") {
      if (!v.is_boolean()) fail(at, "must be true or false");
    } else if (key == "pattern") {
      check_pattern(v, at);
    } else if (key == "enum") {
      if (!v.is_array() || v.empty()) fail(at, "must be a non-empty array of the allowed values");
    } else if (key == "const" || key == "default") {
      // Any JSON value; a default is checked against its schema once the schema is known good.
    } else if (kBounds.count(key)) {
      if (!v.is_number()) fail(at, "must be a number");
    } else if (key == "multipleOf") {
      if (!v.is_number() || number_of(v) <= 0) fail(at, "must be a number greater than 0");
    } else if (kTexts.count(key)) {
      if (!v.is_string()) fail(at, "must be a string");
    } else if (key == "examples") {
      if (!v.is_array()) fail(at, "must be an array");
    } else {
      fail(at, "unsupported keyword '" + key + "'; the supported subset is listed in docs/sdk.md");
    }
  }

  static bool known_type(const json& t) {
    return t.is_string() &&
           std::find(std::begin(kTypeNames), std::end(kTypeNames), t.get<std::string>()) != std::end(kTypeNames);
  }

  void check_type(const json& v, const std::string& at) {
    std::string names;
    for (auto n : kTypeNames) names += (names.empty() ? "" : ", ") + std::string(n);
    if (v.is_string()) {
      if (!known_type(v)) fail(at, "must be one of: " + names);
      return;
    }
    if (!v.is_array() || v.empty()) return fail(at, "must be a type name or a non-empty array of type names");
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!known_type(v[i]))
        fail(at + "/" + std::to_string(i), "must be one of: " + names);
      else if (std::find(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v[i]) !=
               v.begin() + static_cast<std::ptrdiff_t>(i))
        fail(at + "/" + std::to_string(i), "is listed twice");
    }
  }

  void check_names(const json& v, const std::string& at) {
    if (!v.is_array()) return fail(at, "must be an array of property names");
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        fail(at + "/" + std::to_string(i), "must be a string");
      else if (std::find(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v[i]) !=
               v.begin() + static_cast<std::ptrdiff_t>(i))
        fail(at + "/" + std::to_string(i), "is listed twice");
    }
  }

  void check_pattern(const json& v, const std::string& at) {
    if (!v.is_string()) return fail(at, "must be a string");
    const auto& source = v.get_ref<const std::string&>();
    if (source.size() > kMaxConfigSchemaPatternBytes)
      return fail(at, "must be at most " + std::to_string(kMaxConfigSchemaPatternBytes) + " bytes long");
    try {
      std::regex re(source, kRegexFlags);
    } catch (const std::regex_error& e) {
      // Polynomial mode reports any back-reference as error_complexity; nothing else raises it while compiling.
      bool backref =
          e.code() == std::regex_constants::error_complexity || e.code() == std::regex_constants::error_backref;
      std::string why = backref ? "back-references are not supported" : std::string(e.what());
      fail(at, "is not a valid ECMAScript regular expression: " + why);
    } catch (const std::exception& e) {
      fail(at, "is not a valid ECMAScript regular expression: " + std::string(e.what()));
    }
  }

  void check_default(const json& schema, const json& value, const std::string& at) {
    ValueChecker checker;
    checker.check(schema, value, "", 0);
    if (checker.violations.empty()) return;
    std::string why;
    for (const auto& v : checker.violations)
      why += (why.empty() ? "" : "; ") + (v.field.empty() ? v.message : v.field + " " + v.message);
    fail(at, "does not satisfy its own schema: " + why);
  }
};

void fill_defaults(const json& schema, json& value, int depth) {
  if (depth > kMaxConfigSchemaDepth || !schema.is_object() || !value.is_object()) return;
  const json* properties = nullptr;
  if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) properties = &*it;
  if (properties) {
    for (const auto& [name, sub] : properties->items()) {
      if (!value.contains(name) && sub.is_object())
        if (auto d = sub.find("default"); d != sub.end()) value[name] = *d;
      if (auto it = value.find(name); it != value.end()) fill_defaults(sub, *it, depth + 1);
    }
  }
  if (auto extra = schema.find("additionalProperties"); extra != schema.end() && extra->is_object())
    for (auto& [name, member] : value.items())
      if (!properties || !properties->contains(name)) fill_defaults(*extra, member, depth + 1);
}

}  // namespace

Status check_schema(const nlohmann::json& schema) {
  SchemaChecker checker;
  checker.check(schema, "", 0);
  if (checker.errors.empty()) return ok_status();
  std::string summary;
  for (const auto& e : checker.errors)
    summary +=
        (summary.empty() ? "" : "; ") + (e.field.empty() ? std::string("the schema") : e.field) + " " + e.message;
  return Error::invalid("plugin.invalid_config_schema", "invalid config schema: " + summary, std::move(checker.errors));
}

std::vector<ConfigViolation> validate_config(const nlohmann::json& schema, const nlohmann::json& value,
                                             const std::string& prefix) {
  ValueChecker checker;
  checker.check(schema, value, prefix, 0);
  return std::move(checker.violations);
}

nlohmann::json apply_defaults(const nlohmann::json& schema, nlohmann::json value) {
  fill_defaults(schema, value, 0);
  return value;
}

json redact_config(const json& schema, json value) {
  if (!schema.is_object() || !value.is_object()) return value;
  auto props = schema.find("properties");
  if (props == schema.end() || !props->is_object()) return value;
  for (const auto& [name, sub] : props->items()) {
    auto it = value.find(name);
    if (it == value.end() || !sub.is_object()) continue;
    if (sub.value("writeOnly", false))
      *it = "********";
    else
      *it = redact_config(sub, std::move(*it));
  }
  return value;
}

json keep_secrets(const json& schema, json given, const json& stored) {
  if (!schema.is_object() || !given.is_object() || !stored.is_object()) return given;
  auto props = schema.find("properties");
  if (props == schema.end() || !props->is_object()) return given;
  for (const auto& [name, sub] : props->items()) {
    auto old = stored.find(name);
    if (old == stored.end() || !sub.is_object()) continue;
    auto it = given.find(name);
    if (sub.value("writeOnly", false)) {
      if (it == given.end() || *it == "********") given[name] = *old;
    } else if (it != given.end()) {
      *it = keep_secrets(sub, std::move(*it), *old);
    }
  }
  return given;
}

}  // namespace quanqu::plugins
