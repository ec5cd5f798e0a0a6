// End to end: every documented store and admin operation with a request body, read from the
// server's own /v1/openapi.json, fed hostile bodies; each must be a 4xx problem+json that writes
// nothing.
#include "support/fixture.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;

constexpr std::size_t kBodyLimit = 1024 * 1024;  // the server's default --body-limit

// One hostile request: what it is (for the failure message) and its raw body and headers.
struct Attack {
  std::string what;
  std::string body;
  Headers headers;
};

class HostileBodiesTest : public E2ETest {
 protected:
  json document_;

  // A schema with $ref followed (local references only).
  const json& resolve(const json& schema) const {
    const json* s = &schema;
    for (int hops = 0; hops < 16 && s->is_object() && s->contains("$ref"); ++hops) {
      std::string ref = (*s)["$ref"];
      s = &document_.at(json::json_pointer(ref.substr(1)));
    }
    return *s;
  }

  // The JSON types a schema admits, following $ref, anyOf and oneOf; empty when it says none
  // (any value). "null" is left out: a null optional field reads as absent.
  std::set<std::string> types_of(const json& schema) const {
    const json& s = resolve(schema);
    std::set<std::string> out;
    if (!s.is_object()) return out;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) out.insert(t.get<std::string>());
      if (t.is_array())
        for (const auto& x : t) out.insert(x.get<std::string>());
    }
    for (const char* key : {"anyOf", "oneOf"})
      if (s.contains(key))
        for (const auto& branch : s[key]) {
          auto more = types_of(branch);
          if (more.empty()) return {};
          out.insert(more.begin(), more.end());
        }
    out.erase("null");
    return out;
  }

  // A value of each JSON type the schema does not admit.
  std::vector<json> wrong_values(const json& schema) const {
    auto allowed = types_of(schema);
    std::vector<json> out;
    if (allowed.empty()) return out;
    auto admits = [&](const std::string& t) {
      return allowed.count(t) > 0 || (t == "integer" && allowed.count("number") > 0);
    };
    if (!admits("string")) out.push_back("text");
    if (!admits("integer")) out.push_back(7);
    if (!admits("number")) out.push_back(1.5);
    if (admits("integer") && !admits("number")) {  // numbers that are not int64 integers
      for (json v : {json(1.5), json(-0.0), json(1.0), json(1e300), json(9223372036854775807ULL + 1ULL)})
        out.push_back(v);
    }
    if (!admits("boolean")) out.push_back(true);
    if (!admits("array")) out.push_back(json::array({1}));
    if (!admits("object")) out.push_back({{"k", 1}});
    return out;
  }

  // The hostile bodies for one operation whose body schema is `schema`.
  std::vector<Attack> attacks(const json& schema) const {
    const json& s = resolve(schema);
    json properties = s.value("properties", json::object());
    std::string first = properties.empty() ? std::string("a") : properties.begin().key();
    std::vector<Attack> out;
    auto add = [&](std::string what, std::string body, Headers headers = {}) {
      out.push_back({std::move(what), std::move(body), std::move(headers)});
    };
    // Numbers no double holds, at the top and nested.
    for (std::string n : {"1e400", "-1e400", "1e99999"}) {
      add("number " + n, "{\"" + first + "\": " + n + "}");
      add("nested number " + n, "{\"" + first + "\": [{\"a\": " + n + "}]}");
    }
    // Nesting: just past the bound, and far past it.
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "{\"a\":";
    deep += "1" + std::string(100, '}');
    add("100 nested objects", deep);
    add("200,000 open arrays", "{\"" + first + "\": " + std::string(200000, '[') + "}");
    // Invalid UTF-8 in a value and in a key, a lone surrogate, a raw control character.
    add("invalid UTF-8 value", "{\"" + first + "\": \"\xff\xfe\"}");
    add("overlong UTF-8", "{\"" + first + "\": \"\xc0\xaf\"}");
    add("invalid UTF-8 key", "{\"\xff\": 1}");
    add("lone surrogate", "{\"" + first + "\": \"\\ud800\"}");
    add("raw control byte", "{\"" + first + "\": \"a\x01\"}");
    add("NUL in a key", "{\"a\\u0000\": 1}");
    // Not JSON, or not an object.
    add("truncated", "{\"" + first + "\": ");
    add("array body", "[]");
    add("string body", "\"x\"");
    add("duplicate key", "{\"" + first + "\": 1, \"" + first + "\": 2}");
    // Media types: JSON that would otherwise be acceptable ({} is a valid checkout).
    add("text/plain", "{}", {{"Content-Type", "text/plain"}});
    add("no content type", "{}", {{"Content-Type", ""}});
    add("form", "a=1", {{"Content-Type", "application/x-www-form-urlencoded"}});
    // Just over the body limit.
    add("over the body limit", "{\"" + first + "\": \"" + std::string(kBodyLimit, 'a') + "\"}");
    // Per property: wrong types, NUL, a megabyte string, a huge array.
    for (const auto& [name, property] : properties.items()) {
      for (const auto& v : wrong_values(property)) add(name + " = " + v.dump(), json{{name, v}}.dump());
      add(name + " with NUL", "{\"" + name + "\": \"a\\u0000b\"}");
      add(name + " = 1e400", "{\"" + name + "\": 1e400}");
      auto types = types_of(property);
      if (types.count("string"))
        add(name + " = 1 MB string", "{\"" + name + "\": \"" + std::string(kBodyLimit - 256, 'a') + "\"}");
      if (types.count("array")) {
        std::string huge = "[";
        for (int i = 0; i < 100000; ++i) huge += i ? ",\"x\"" : "\"x\"";
        add(name + " = 100,000 items", "{\"" + name + "\": " + huge + "]}");
        add(name + " = 100,000 objects", json{{name, json(std::vector<json>(100000, json::object()))}}.dump());
      }
      if (types.count("object")) add(name + " = object with NUL", "{\"" + name + "\": {\"k\": \"\\u0000\"}}");
    }
    return out;
  }

  // Everything a refused request could have changed, as the admin and the storefront see it.
  json snapshot(const std::vector<std::string>& carts, const std::string& channel) {
    json out;
    auto all = [&](const std::string& path) {
      json items = json::array();
      std::string cursor;
      for (int page = 0; page < 100; ++page) {
        std::string sep = path.find('?') == std::string::npos ? "?" : "&";
        auto r = admin().get(path + sep + "limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
        EXPECT_EQ(r.status, 200u) << path << ": " << r.body;
        json j = r.json();
        for (auto& i : j["items"]) items.push_back(i);
        if (!j["next_cursor"].is_string()) break;
        cursor = j["next_cursor"];
      }
      return items;
    };
    for (const std::string& path :
         std::vector<std::string>{"/v1/admin/products", "/v1/admin/channels", "/v1/admin/orders",
                                  "/v1/admin/inventory-levels", "/v1/admin/stock-locations", "/v1/admin/categories",
                                  "/v1/admin/channels/" + channel + "/publishable-keys"})
      out[path] = all(path);
    for (const auto& cart : carts) {
      out[cart] = store().get("/v1/store/carts/" + cart).json();
      out[cart + "/payment-sessions"] = store().get("/v1/store/carts/" + cart + "/payment-sessions").json();
    }
    return out;
  }
};

TEST_F(HostileBodiesTest, EveryDocumentedBodyRefusesHostileValuesAndWritesNothing) {
  auto doc = anonymous().get("/v1/openapi.json");
  ASSERT_EQ(doc.status, 200u);
  document_ = doc.json();

  // Resources for every path parameter, so that each route resolves and reads its body: a cart
  // with an item, a placed order, and the demo's product, variant, category, location, channel.
  const json kAddress = {{"line1", "88 Nanjing West Road"}, {"city", "Shanghai"}, {"country", "CN"}};
  // A webhook first, so that the events below give it deliveries (their attempts fail: no matter).
  auto webhook = admin().post("/v1/admin/webhooks", {{"url", "https://example.com/hooks"}, {"event_types", {"*"}}});
  ASSERT_EQ(webhook.status, 201u) << webhook.body;
  const std::string webhook_id = webhook.json()["id"];
  auto cart = store().post("/v1/store/carts", {{"email", "hostile@example.cn"},
                                               {"shipping_address", kAddress},
                                               {"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  auto placed = store().post("/v1/store/carts", {{"email", "placed@example.cn"},
                                                 {"shipping_address", kAddress},
                                                 {"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}});
  ASSERT_EQ(placed.status, 201u) << placed.body;
  auto order = store().request("POST", "/v1/store/carts/" + placed.json()["id"].get<std::string>() + "/checkout",
                               std::string("{}"), {{"Idempotency-Key", "hostile-1"}});
  ASSERT_EQ(order.status, 201u) << order.body;
  auto product = admin().get("/v1/admin/products/organic-cotton-tee").json();
  auto channel = admin().get("/v1/admin/channels/web").json();
  auto location = admin().get("/v1/admin/stock-locations/warehouse-shanghai").json();
  auto categories = admin().get("/v1/admin/categories").json()["items"];
  ASSERT_FALSE(categories.empty());
  // A signed-in customer with an address, and a customer group, for the customer routes.
  auto customer = store().post("/v1/store/customers", {{"email", "hostile.customer@example.cn"},
                                                       {"password", "plum blossom 1987"}});
  ASSERT_EQ(customer.status, 201u) << customer.body;
  auto signed_in = store().post("/v1/store/auth/token", {{"email", "hostile.customer@example.cn"},
                                                         {"password", "plum blossom 1987"}});
  ASSERT_EQ(signed_in.status, 200u) << signed_in.body;
  const std::string customer_token = signed_in.json()["token"];
  auto address = store().post("/v1/store/customers/me/addresses", {{"address", kAddress}},
                              {{"Authorization", "Bearer " + customer_token}});
  ASSERT_EQ(address.status, 201u) << address.body;
  auto group = admin().post("/v1/admin/customer-groups", {{"code", "hostile"}, {"name", "Hostile"}});
  ASSERT_EQ(group.status, 201u) << group.body;
  const std::string cart_id = cart.json()["id"], item_id = cart.json()["items"][0]["id"];
  const std::string product_id = product["id"], variant_id = product["variants"][0]["id"];
  std::string delivery_id;
  for (int i = 0; i < 100 && delivery_id.empty(); ++i) {
    auto deliveries = admin().get("/v1/admin/webhooks/" + webhook_id + "/deliveries?limit=1").json()["items"];
    if (!deliveries.empty()) delivery_id = deliveries[0]["id"];
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(delivery_id.empty()) << "the webhook got no delivery";
  auto fill = [&](std::string path) {
    auto put = [&](const std::string& name, const std::string& value) {
      for (auto at = path.find(name); at != std::string::npos; at = path.find(name))
        path.replace(at, name.size(), value);
    };
    const std::pair<const char*, std::string> by_prefix[] = {
        {"/v1/store/carts/", cart_id},
        {"/v1/admin/products/", product_id},
        {"/v1/admin/categories/", categories[0]["id"]},
        {"/v1/admin/stock-locations/", location["id"]},
        {"/v1/admin/channels/", channel["id"]},
        {"/v1/admin/orders/", order.json()["id"]},
        {"/v1/admin/webhooks/", webhook_id},
        {"/v1/admin/customers/", customer.json()["id"]},
        {"/v1/admin/customer-groups/", group.json()["id"]},
    };
    put("{item_id}", item_id);
    put("{delivery_id}", delivery_id);
    put("{address_id}", address.json()["id"]);
    put("{variant_id}", variant_id);
    put("{refund_id}", "ref_none");
    for (const auto& [prefix, id] : by_prefix)
      if (path.rfind(prefix, 0) == 0) put("{id}", id);
    return path;
  };

  const std::vector<std::string> carts{cart_id, placed.json()["id"]};
  const json before = snapshot(carts, channel["id"]);
  std::size_t operations = 0, requests = 0;
  for (const auto& [pattern, item] : document_["paths"].items()) {
    if (pattern.rfind("/v1/plugins", 0) == 0 || pattern.rfind("/v1/admin/plugins", 0) == 0) continue;
    for (const auto& [method, operation] : item.items()) {
      if (!operation.is_object() || !operation.contains("requestBody")) continue;
      const json& content = operation["requestBody"]["content"];
      ASSERT_TRUE(content.contains("application/json")) << method << " " << pattern;
      bool is_store = pattern.rfind("/v1/store/", 0) == 0;
      ASSERT_TRUE(is_store || pattern.rfind("/v1/admin/", 0) == 0) << pattern;
      std::string path = fill(pattern);
      ASSERT_EQ(path.find('{'), std::string::npos) << "no resource for a parameter of " << pattern;
      std::string verb = method;
      for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ++operations;
      for (const auto& attack : attacks(content["application/json"]["schema"])) {
        SCOPED_TRACE(verb + " " + pattern + ": " + attack.what);
        ++requests;
        HttpClient& client = is_store ? store() : admin();
        // A fresh idempotency key, so that checkout reads the body rather than refusing a keyless call.
        Headers headers = attack.headers;
        headers.push_back({"Idempotency-Key", "hostile-" + std::to_string(requests)});
        if (path.rfind("/v1/store/customers/me", 0) == 0) headers.push_back({"Authorization", "Bearer " + customer_token});
        auto r = client.request(verb, path, attack.body, headers);
        EXPECT_GE(r.status, 400u) << r.body.substr(0, 300);
        EXPECT_LT(r.status, 500u) << r.body.substr(0, 300);
        EXPECT_EQ(r.header("Content-Type").rfind("application/problem+json", 0), 0u) << r.header("Content-Type");
        json problem = json::parse(r.body, nullptr, false);
        EXPECT_TRUE(problem.is_object() && problem.contains("code")) << r.body.substr(0, 300);
        // A refusal is small whatever the request held (no echo, no error per item).
        EXPECT_LT(r.body.size(), 32u * 1024u) << r.body.substr(0, 300);
        if (r.status == 413u) client.disconnect();  // the server closes after a 413
      }
    }
  }
  // Every documented operation with a body was covered (24 when this test was written).
  EXPECT_GE(operations, 24u);
  EXPECT_GT(requests, 1000u);
  EXPECT_EQ(snapshot(carts, channel["id"]), before);
  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
}

}  // namespace
