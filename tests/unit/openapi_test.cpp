// Keeps api/openapi/openapi.json in step with the router: the document parses as OpenAPI 3.1, documents
// exactly the routes the server registers, and every operation is complete and every $ref resolves.
#include "app/engine.h"
#include "ops/ops_routes.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace quanqu {
namespace {

using nlohmann::json;
using RouteKey = std::pair<std::string, std::string>;  // (method, path pattern)

const std::set<std::string> kHttpMethods{"get", "put", "post", "delete", "options", "head", "patch", "trace"};

// The compiled-in document, parsed once; an unparsable document is an empty object (the first test says why).
const json& document() {
  static const json doc = [] {
    json parsed = json::parse(api::openapi_document(), nullptr, /*allow_exceptions=*/false);
    return parsed.is_discarded() ? json::object() : parsed;
  }();
  return doc;
}

// Resolves a local reference ("#/components/schemas/Money"); nullptr when it does not.
const json* resolve(const json& doc, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  try {
    return &doc.at(json::json_pointer(ref.substr(1)));
  } catch (const json::exception&) {
    return nullptr;
  }
}

// Follows a "$ref" if the node is one (parameters may be references to components/parameters).
const json& deref(const json& doc, const json& node) {
  if (node.is_object() && node.contains("$ref") && node["$ref"].is_string())
    if (const json* target = resolve(doc, node["$ref"].get<std::string>())) return *target;
  return node;
}

// Every operation of the document: (METHOD, path) -> (path item, operation).
std::map<RouteKey, std::pair<const json*, const json*>> operations(const json& doc) {
  std::map<RouteKey, std::pair<const json*, const json*>> out;
  if (!doc.contains("paths") || !doc["paths"].is_object()) return out;
  for (const auto& [path, item] : doc["paths"].items()) {
    if (!item.is_object()) continue;
    for (const auto& [method, operation] : item.items()) {
      if (!kHttpMethods.count(method)) continue;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out[{upper, path}] = {&item, &operation};
    }
  }
  return out;
}

std::set<std::string> path_template_names(const std::string& path) {
  std::set<std::string> names;
  static const std::regex kParam(R"(\{([^}/]+)\})");
  for (auto it = std::sregex_iterator(path.begin(), path.end(), kParam); it != std::sregex_iterator(); ++it)
    names.insert((*it)[1].str());
  return names;
}

std::string list(const std::set<RouteKey>& routes) {
  std::string out;
  for (const auto& [method, path] : routes) out += "\n  " + method + " " + path;
  return out.empty() ? "\n  (none)" : out;
}

// A migrated SQLite database in a temporary directory, and the route table the server builds
// (app::register_all_routes), with an empty plugin host.
class Engine {
 public:
  Engine() : dir_(make_dir()) {
    auto opened = app::open_engine("sqlite:" + dir_ + "/t.db", 2);
    if (!opened) throw std::runtime_error("cannot open the engine: " + opened.error().message);
    engine_ = std::move(opened).value();
    services_ = std::make_unique<api::Services>(engine_->services());
    app::register_all_routes(router_, *services_, api::ApiOptions{}, metrics_);
  }
  ~Engine() {
    router_ = http::Router();  // handlers hold references into the services: drop them first
    services_.reset();
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const http::Router& router() const { return router_; }

 private:
  static std::string make_dir() {
    std::string templ = (std::filesystem::temp_directory_path() / "quanqu-openapi-XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed for " + templ);
    return templ;
  }

  std::string dir_;
  std::unique_ptr<app::Engine> engine_;
  std::unique_ptr<api::Services> services_;
  http::Metrics metrics_;
  http::Router router_;
};

TEST(OpenApiDocument, ParsesAsOpenApi31) {
  json parsed = json::parse(api::openapi_document(), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << "api/openapi/openapi.json is not valid JSON";
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed.value("openapi", ""), "3.1.0");
  ASSERT_TRUE(parsed.contains("info") && parsed["info"].is_object());
  EXPECT_EQ(parsed["info"].value("title", ""), "Quanqu API");
  EXPECT_EQ(parsed["info"].value("version", ""), "0.1.0");
  ASSERT_TRUE(parsed.contains("paths") && parsed["paths"].is_object());
  EXPECT_FALSE(parsed["paths"].empty());
  for (const char* scheme : {"publishableKey", "adminKey", "orderToken"})
    EXPECT_TRUE(parsed["components"]["securitySchemes"].contains(scheme)) << scheme;
}

TEST(OpenApiDocument, PathsMatchTheRouter) {
  Engine engine;
  std::set<RouteKey> registered;
  for (const auto& route : engine.router().routes()) registered.insert({route.method, route.pattern});
  ASSERT_FALSE(registered.empty());

  // A path item with "x-quanqu-prefix" describes every path under a router prefix (plugin routes).
  std::set<RouteKey> documented;
  for (const auto& [key, item_and_op] : operations(document()))
    if (!item_and_op.first->contains("x-quanqu-prefix")) documented.insert(key);

  std::set<RouteKey> missing, extra;
  for (const auto& r : registered)
    if (!documented.count(r)) missing.insert(r);
  for (const auto& d : documented)
    if (!registered.count(d)) extra.insert(d);
  EXPECT_TRUE(missing.empty() && extra.empty())
      << "api/openapi/openapi.json is out of step with the router.\nRegistered but not documented:" << list(missing)
      << "\nDocumented but not registered:" << list(extra);
}

TEST(OpenApiDocument, PrefixPathsMatchTheRouterPrefixes) {
  Engine engine;
  std::set<std::string> registered, documented;
  for (const auto& prefix : engine.router().prefixes()) registered.insert(prefix);
  const json& paths = document()["paths"];
  for (const auto& [path, item] : paths.items()) {
    if (!item.contains("x-quanqu-prefix")) continue;
    std::string prefix = item["x-quanqu-prefix"].get<std::string>();
    EXPECT_EQ(path.rfind(prefix, 0), 0u) << path << " does not start with its prefix " << prefix;
    documented.insert(prefix);
  }
  EXPECT_EQ(documented, registered);
}

TEST(OpenApiDocument, OperationsHaveIdsSuccessResponsesAndPathParameters) {
  const json& doc = document();
  auto ops = operations(doc);
  ASSERT_FALSE(ops.empty());
  std::set<std::string> operation_ids;
  for (const auto& [key, item_and_op] : ops) {
    const auto& [method, path] = key;
    const json& item = *item_and_op.first;
    const json& op = *item_and_op.second;
    SCOPED_TRACE(method + " " + path);

    ASSERT_TRUE(op.is_object());
    ASSERT_TRUE(op.contains("operationId") && op["operationId"].is_string());
    std::string id = op["operationId"].get<std::string>();
    EXPECT_FALSE(id.empty());
    EXPECT_TRUE(operation_ids.insert(id).second) << "operationId " << id << " is used twice";

    ASSERT_TRUE(op.contains("responses") && op["responses"].is_object());
    bool success = false;
    for (const auto& [code, _] : op["responses"].items())
      success = success || (code.size() == 3 && code[0] == '2') || code == "default";
    EXPECT_TRUE(success) << "no 2xx or default response";

    // Path parameters: declared on the path item or the operation (the latter overrides), maybe by $ref.
    std::set<std::string> declared;
    for (const json* params : {item.contains("parameters") ? &item["parameters"] : nullptr,
                               op.contains("parameters") ? &op["parameters"] : nullptr}) {
      if (!params) continue;
      ASSERT_TRUE(params->is_array());
      for (const auto& p : *params) {
        const json& param = deref(doc, p);
        if (param.value("in", "") != "path") continue;
        std::string name = param.value("name", "");
        EXPECT_TRUE(param.value("required", false)) << "path parameter " << name << " must be required";
        declared.insert(name);
      }
    }
    std::set<std::string> in_path = path_template_names(path);
    for (const auto& name : in_path) EXPECT_TRUE(declared.count(name)) << "{" << name << "} is not declared";
    for (const auto& name : declared)
      EXPECT_TRUE(in_path.count(name)) << "path parameter " << name << " is not in the path";
  }
}

// Collects every "$ref" value in the document with where it was found.
void collect_refs(const json& node, const std::string& where, std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) {
      if (k == "$ref" && v.is_string()) out.emplace_back(v.get<std::string>(), where);
      collect_refs(v, where + "/" + k, out);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) collect_refs(node[i], where + "/" + std::to_string(i), out);
  }
}

TEST(OpenApiDocument, EveryRefResolves) {
  const json& doc = document();
  std::vector<std::pair<std::string, std::string>> refs;
  collect_refs(doc, "", refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& [ref, where] : refs) EXPECT_NE(resolve(doc, ref), nullptr) << ref << " (at " << where << ")";
}

TEST(OpenApiDocument, OperationsUseDeclaredTagsAndSecuritySchemes) {
  const json& doc = document();
  std::set<std::string> tags, schemes;
  // Named copies: iterating items() of a temporary would dangle.
  const json declared_tags = doc.value("tags", json::array());
  const json declared_schemes = doc.value("components", json::object()).value("securitySchemes", json::object());
  for (const auto& t : declared_tags) tags.insert(t.value("name", ""));
  for (const auto& [name, _] : declared_schemes.items()) schemes.insert(name);
  for (const auto& [key, item_and_op] : operations(doc)) {
    const json& op = *item_and_op.second;
    SCOPED_TRACE(key.first + " " + key.second);
    ASSERT_TRUE(op.contains("tags") && op["tags"].is_array() && !op["tags"].empty());
    for (const auto& t : op["tags"]) EXPECT_TRUE(tags.count(t.get<std::string>())) << "undeclared tag " << t;
    ASSERT_TRUE(op.contains("security") && op["security"].is_array());
    for (const auto& requirement : op["security"])
      for (const auto& [name, _] : requirement.items())
        EXPECT_TRUE(schemes.count(name)) << "undeclared scheme " << name;
  }
}

}  // namespace
}  // namespace quanqu

namespace quanqu {
namespace {

// Where a schema stands in the document, for messages.
void bare_objects(const json& node, const std::string& where, std::vector<std::string>& out) {
  if (node.is_object()) {
    const json type = node.value("type", json());
    bool object = type == "object" || (type.is_array() && std::find(type.begin(), type.end(), "object") != type.end());
    bool described = false;
    for (const char* k : {"properties", "additionalProperties", "patternProperties", "$ref", "allOf", "oneOf", "anyOf"})
      described = described || node.contains(k);
    if (object && !described) out.push_back(where);
    for (const auto& [k, v] : node.items()) bare_objects(v, where + "/" + k, out);
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) bare_objects(node[i], where + "/" + std::to_string(i), out);
  }
}

// A bare {"type": "object"} becomes an object that can hold nothing in typed clients (openapi-typescript
// makes it Record<string, never>): a free-form object must say additionalProperties: true.
TEST(OpenApiDocument, NoObjectSchemaIsBare) {
  std::vector<std::string> bare;
  bare_objects(document(), "#", bare);
  std::string where;
  for (const auto& b : bare) where += "\n  " + b;
  EXPECT_TRUE(bare.empty()) << "object schemas without properties or additionalProperties:" << where;
}

// Every response says X-Request-Id, which the server sends on every reply.
TEST(OpenApiDocument, EveryResponseDeclaresTheRequestId) {
  const json& doc = document();
  for (const auto& [key, item_and_op] : operations(doc))
    for (const auto& [code, response] : (*item_and_op.second)["responses"].items()) {
      const json& r = deref(doc, response);
      EXPECT_TRUE(r.contains("headers") && r["headers"].contains("X-Request-Id"))
          << key.first << " " << key.second << " " << code;
    }
}

TEST(OpenApiDocument, ServedServersNameTheConfiguredAddress) {
  auto servers = [](std::string_view host, unsigned short port) {
    return json::parse(api::openapi_with_servers(api::openapi_document(), host, port))["servers"];
  };
  json s = servers("10.1.2.3", 9090);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0]["url"], "/");
  EXPECT_EQ(s[1]["url"], "http://10.1.2.3:9090");
  EXPECT_EQ(servers("0.0.0.0", 80)[1]["url"], "http://127.0.0.1:80");
  EXPECT_EQ(servers("::", 8080)[1]["url"], "http://[::1]:8080");
  EXPECT_EQ(servers("fe80::1", 8080)[1]["url"], "http://[fe80::1]:8080");
  EXPECT_EQ(servers("shop.internal", 8080)[1]["url"], "http://shop.internal:8080");

  // Everything but the servers is the compiled-in document, in its key order.
  json served = json::parse(api::openapi_with_servers(api::openapi_document(), "127.0.0.1", 1));
  json compiled = json::parse(api::openapi_document());
  served.erase("servers");
  compiled.erase("servers");
  EXPECT_EQ(served, compiled);
  std::string text = api::openapi_with_servers(api::openapi_document(), "127.0.0.1", 1);
  EXPECT_LT(text.find("\"openapi\""), text.find("\"components\""));
}

}  // namespace
}  // namespace quanqu
