// OpenAPI 3.1 document -> draft-7 schemas for valijson, path template matching, and the per-exchange checks.
#include "support/openapi_conformance.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#ifndef QUANQU_OPENAPI_DOCUMENT
#error "QUANQU_OPENAPI_DOCUMENT must name api/openapi/openapi.json"
#endif

namespace quanqu::e2e {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxSchemaErrors = 5;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// One JSON Pointer reference token (RFC 6901: "~" as "~0", "/" as "~1").
std::string escape_token(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') return out;
  std::size_t start = 1;
  while (true) {
    std::size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

// "application/problem+json; charset=utf-8" -> "application/problem+json".
std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  std::size_t first = 0;
  while (first < t.size() && std::isspace(static_cast<unsigned char>(t[first]))) ++first;
  return lower(t.substr(first));
}

bool is_json_media(const std::string& media) {
  return media == "application/json" ||
         (media.rfind("application/", 0) == 0 && media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0);
}

// ---- OpenAPI 3.1 schemas -> what valijson (draft 7) checks ------------------------------------

// Keywords whose values are data, not schemas: never translated.
const std::set<std::string> kDataKeywords{"examples", "example", "default",     "const", "enum",
                                          "required", "type",    "description", "title"};
const std::set<std::string> kCheckedFormats{"date", "time", "date-time"};

class SchemaTranslator {
 public:
  explicit SchemaTranslator(const json& original) : original_(original) {}

  void translate(json& schema) const {
    if (!schema.is_object()) return;
    merge_all_of(schema);
    for (auto& [key, value] : schema.items()) {
      if (kDataKeywords.count(key)) continue;
      if ((key == "properties" || key == "patternProperties" || key == "$defs" || key == "definitions") &&
          value.is_object()) {
        for (auto& [_, sub] : value.items()) translate(sub);
      } else if (value.is_object()) {
        translate(value);
      } else if (value.is_array()) {
        for (auto& sub : value) translate(sub);
      }
    }
    if (schema.contains("format") && schema["format"].is_string()) {
      std::string format = schema["format"].get<std::string>();
      schema.erase("format");
      // valijson reads any value as a string for "format" (null reads as ""): check strings only.
      if (kCheckedFormats.count(format))
        append_all_of(schema, {{"if", {{"type", "string"}}}, {"then", {{"format", format}}}});
    }
    if (schema.contains("dependentRequired")) {
      schema["dependencies"] = schema["dependentRequired"];
      schema.erase("dependentRequired");
    }
    if (schema.contains("$ref") && schema["$ref"].is_string() && schema.size() > 1) {
      json ref = {{"$ref", schema["$ref"]}};
      schema.erase("$ref");
      append_all_of(schema, ref);
    }
    if (schema.contains("properties") && !schema.contains("additionalProperties") &&
        !schema.contains("patternProperties"))
      schema["additionalProperties"] = false;
  }

 private:
  static void append_all_of(json& schema, json sub) {
    if (!schema.contains("allOf") || !schema["allOf"].is_array()) schema["allOf"] = json::array();
    schema["allOf"].push_back(std::move(sub));
  }

  // The object schema a member of allOf stands for (following $ref into the original document),
  // or nullptr when it is not a plain object schema with properties.
  const json* object_member(const json& member, int depth) const {
    if (depth > 8 || !member.is_object()) return nullptr;
    if (member.contains("$ref")) {
      if (member.size() != 1 || !member["$ref"].is_string()) return nullptr;
      std::string ref = member["$ref"].get<std::string>();
      if (ref.rfind("#/", 0) != 0) return nullptr;
      try {
        return object_member(original_.at(json::json_pointer(ref.substr(1))), depth + 1);
      } catch (const json::exception&) {
        return nullptr;
      }
    }
    if (member.value("type", json()) != "object" || !member.contains("properties")) return nullptr;
    if (member.contains("allOf") || member.contains("anyOf") || member.contains("oneOf")) return nullptr;
    return &member;
  }

  // {"allOf": [{"$ref": Order}, {"properties": {...}}]} -> one object schema with the union of
  // properties and required members, so that closing it for the check does not break composition.
  void merge_all_of(json& schema) const {
    if (!schema.contains("allOf") || !schema["allOf"].is_array() || schema.contains("properties")) return;
    json properties = json::object();
    std::set<std::string> required;
    for (const auto& member : schema["allOf"]) {
      const json* object = object_member(member, 0);
      if (!object) return;
      for (const auto& [name, sub] : (*object)["properties"].items()) properties[name] = sub;
      for (const auto& r : object->value("required", json::array())) required.insert(r.get<std::string>());
      if (object->contains("additionalProperties") && !schema.contains("additionalProperties"))
        schema["additionalProperties"] = (*object)["additionalProperties"];
    }
    schema.erase("allOf");
    schema["type"] = "object";
    schema["properties"] = std::move(properties);
    schema["required"] = required;
  }

  const json& original_;
};

// Translates every schema of the document in place: components/schemas and every "schema" member.
void translate_document(json& node, const SchemaTranslator& translator, bool in_components) {
  if (node.is_array()) {
    for (auto& sub : node) translate_document(sub, translator, false);
    return;
  }
  if (!node.is_object()) return;
  for (auto& [key, value] : node.items()) {
    if (key == "schema" && value.is_object()) {
      translator.translate(value);
    } else if (in_components && key == "schemas" && value.is_object()) {
      for (auto& [_, schema] : value.items()) translator.translate(schema);
    } else {
      translate_document(value, translator, key == "components");
    }
  }
}

// Follows a "$ref" to a local target, updating `pointer`; the node itself when it is not a reference.
const json& follow(const json& doc, const json& node, std::string& pointer) {
  const json* current = &node;
  for (int depth = 0; depth < 8 && current->is_object() && current->contains("$ref"); ++depth) {
    const json& ref = (*current)["$ref"];
    if (!ref.is_string() || ref.get<std::string>().rfind("#/", 0) != 0)
      throw std::runtime_error("unsupported $ref " + ref.dump());
    pointer = ref.get<std::string>().substr(1);
    current = &doc.at(json::json_pointer(pointer));
  }
  return *current;
}

}  // namespace

OpenApiConformance::OpenApiConformance(json document) : doc_(std::move(document)) {
  if (!doc_.is_object() || !doc_.contains("paths") || !doc_["paths"].is_object())
    throw std::runtime_error("the OpenAPI document has no paths");
  prepared_ = doc_;
  SchemaTranslator translator(doc_);
  translate_document(prepared_, translator, false);
}

OpenApiConformance::~OpenApiConformance() = default;

const OpenApiConformance& OpenApiConformance::shared() {
  static const OpenApiConformance instance = [] {
    std::ifstream in(QUANQU_OPENAPI_DOCUMENT);
    if (!in) throw std::runtime_error(std::string("cannot read ") + QUANQU_OPENAPI_DOCUMENT);
    json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) throw std::runtime_error(std::string(QUANQU_OPENAPI_DOCUMENT) + " is not JSON");
    return OpenApiConformance(std::move(doc));
  }();
  return instance;
}

const valijson::Schema& OpenApiConformance::schema(const std::string& pointer) const {
  std::lock_guard lock(mutex_);
  auto it = schemas_.find(pointer);
  if (it != schemas_.end()) return *it->second;
  // References are "#/components/...": the root the parser resolves them against holds the
  // translated components, and the schema under test is its only constraint.
  json root = {{"components", prepared_["components"]}, {"allOf", {prepared_.at(json::json_pointer(pointer))}}};
  auto compiled = std::make_unique<valijson::Schema>();
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter adapter(root);
  parser.populateSchema(adapter, *compiled);
  return *schemas_.emplace(pointer, std::move(compiled)).first->second;
}

std::vector<std::string> OpenApiConformance::check(const Exchange& e) const {
  try {
    return check_exchange(e);
  } catch (const std::exception& ex) {
    return {std::string("cannot check the exchange: ") + ex.what()};
  }
}

std::vector<std::string> OpenApiConformance::check_exchange(const Exchange& e) const {
  std::string method = lower(e.method);
  std::string path = e.target.substr(0, e.target.find_first_of("?#"));
  std::vector<std::string> segments = split_path(path);

  // The documented path: fewest placeholders wins; prefix items ("x-quanqu-prefix") come last.
  const json* item = nullptr;
  std::string item_pointer;
  int best = -1;
  for (const auto& [templ, candidate] : doc_["paths"].items()) {
    if (candidate.contains("x-quanqu-prefix")) continue;
    std::vector<std::string> parts = split_path(templ);
    if (parts.size() != segments.size()) continue;
    int placeholders = 0;
    bool matched = true;
    for (std::size_t i = 0; i < parts.size() && matched; ++i) {
      bool placeholder = parts[i].size() > 2 && parts[i].front() == '{' && parts[i].back() == '}';
      if (placeholder) {
        ++placeholders;
        matched = !segments[i].empty();
      } else {
        matched = parts[i] == segments[i];
      }
    }
    if (matched && (best < 0 || placeholders < best)) {
      best = placeholders;
      item = &candidate;
      item_pointer = "/paths/" + escape_token(templ);
    }
  }
  if (!item)
    for (const auto& [templ, candidate] : doc_["paths"].items()) {
      json prefix = candidate.value("x-quanqu-prefix", json());
      if (prefix.is_string() && path.rfind(prefix.get<std::string>(), 0) == 0) {
        item = &candidate;
        item_pointer = "/paths/" + escape_token(templ);
        break;
      }
    }

  std::string operation = method == "head" ? "get" : method;
  if (!item) {
    json responses = {{"404", {{"$ref", "#/components/responses/NotFound"}}},
                      {"429", {{"$ref", "#/components/responses/TooManyRequests"}}},
                      {"503", {{"$ref", "#/components/responses/TooManyConnections"}}}};
    auto out = check_response(e, responses, "");
    for (auto& v : out) v = "undocumented path: " + v;
    return out;
  }
  if (!item->contains(operation)) {
    if (method == "options" && e.response.status == 204) {
      if (!e.response.body.empty()) return {"a CORS preflight answer carries a body"};
      return {};
    }
    json responses = {{"405", {{"$ref", "#/components/responses/MethodNotAllowed"}}},
                      {"429", {{"$ref", "#/components/responses/TooManyRequests"}}},
                      {"503", {{"$ref", "#/components/responses/TooManyConnections"}}}};
    auto out = check_response(e, responses, "");
    for (auto& v : out) v = "method not documented for this path: " + v;
    return out;
  }
  std::string op_pointer = item_pointer + "/" + operation;
  const json& op = (*item)[operation];
  if (!op.contains("responses") || !op["responses"].is_object()) return {"the operation declares no responses"};
  return check_response(e, op["responses"], op_pointer + "/responses");
}

std::vector<std::string> OpenApiConformance::check_response(const Exchange& e, const json& responses,
                                                            const std::string& responses_pointer) const {
  std::vector<std::string> out;
  const HttpResponse& r = e.response;
  std::string status = std::to_string(r.status);
  std::string key;
  for (std::string candidate : {status, status.substr(0, 1) + "XX", std::string("default")})
    if (responses.contains(candidate)) {
      key = candidate;
      break;
    }
  if (key.empty()) {
    std::string declared;
    for (const auto& [code, _] : responses.items()) declared += (declared.empty() ? "" : ", ") + code;
    return {"status " + status + " is not declared (declared: " + declared + ")"};
  }
  std::string pointer = responses_pointer + "/" + key;
  const json& response = follow(doc_, responses[key], pointer);

  if (response.contains("headers"))
    for (const auto& [name, declared] : response["headers"].items()) {
      std::string header_pointer = pointer + "/headers/" + escape_token(name);
      const json& header = follow(doc_, declared, header_pointer);
      if (header.value("required", false) && r.headers.count(lower(name)) == 0)
        out.push_back("status " + status + " must carry the header " + name);
    }

  bool head = lower(e.method) == "head";
  std::string media = media_type(r.header("Content-Type"));
  const json content = response.value("content", json::object());
  if (content.empty()) {
    if (!r.body.empty()) out.push_back("status " + status + " declares no content but the reply has a body");
    return out;
  }
  if (r.body.empty() && (head || r.status == 204 || r.status == 304)) return out;
  std::string declared_media;
  std::string slash_star = media.substr(0, media.find('/')) + "/*";
  for (const std::string& candidate : {media, slash_star, std::string("*/*")})
    if (!media.empty() && content.contains(candidate)) {
      declared_media = candidate;
      break;
    }
  if (declared_media.empty()) {
    std::string declared;
    for (const auto& [type, _] : content.items()) declared += (declared.empty() ? "" : ", ") + type;
    out.push_back("content type '" + r.header("Content-Type") + "' is not declared for status " + status +
                  " (declared: " + declared + ")");
    return out;
  }
  // A compressed body (Content-Encoding: gzip) is checked for its status and type only.
  std::string encoding = lower(r.header("Content-Encoding"));
  bool encoded = !encoding.empty() && encoding != "identity";
  if (head || encoded || !is_json_media(media) || !content[declared_media].contains("schema")) return out;

  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    out.push_back("the " + media + " body is not JSON");
    return out;
  }
  std::string schema_pointer = pointer + "/content/" + escape_token(declared_media) + "/schema";
  try {
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(body);
    if (!validator.validate(schema(schema_pointer), target, &results)) {
      valijson::ValidationResults::Error error;
      std::size_t reported = 0;
      std::string reasons;
      while (results.popError(error)) {
        if (++reported > kMaxSchemaErrors) continue;
        std::string where;
        for (const auto& c : error.context) where += c;
        reasons += "\n      at " + where + ": " + error.description;
      }
      if (reported > kMaxSchemaErrors) reasons += "\n      (" + std::to_string(reported - kMaxSchemaErrors) + " more)";
      out.push_back("the body does not match the schema at #" + schema_pointer + ":" + reasons);
    }
  } catch (const std::exception& ex) {
    out.push_back("cannot check the body against #" + schema_pointer + ": " + ex.what());
  }
  return out;
}

std::string describe(const Exchange& e) {
  std::ostringstream s;
  s << e.method << " " << e.target << " -> " << e.response.status;
  std::string type = e.response.header("Content-Type");
  if (!type.empty()) s << " (" << type << ")";
  if (!e.response.body.empty()) {
    constexpr std::size_t kExcerpt = 300;
    s << ": " << e.response.body.substr(0, kExcerpt) << (e.response.body.size() > kExcerpt ? "..." : "");
  }
  return s.str();
}

}  // namespace quanqu::e2e
