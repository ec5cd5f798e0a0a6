// End to end: CORS for a browser storefront on another origin: preflights, exposed headers, refusals.
#include "support/fixture.h"
#include "support/shopper.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace {

using nlohmann::json;

const std::string kShop = "https://shop.example";

using quanqu::e2e::kAddress;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// True when the comma-separated `list` names `token` (case-insensitive).
bool lists(const std::string& list, const std::string& token) {
  std::string l = lower(list), t = lower(token);
  std::size_t pos = 0;
  while (pos <= l.size()) {
    auto comma = l.find(',', pos);
    std::string item = l.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item == t) return true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

class CorsTest : public E2ETest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--cors-origins", kShop + ",http://localhost:5173"}; }

  HttpResponse preflight(const std::string& origin, const std::string& path, const std::string& method,
                         const std::string& headers) {
    return anonymous().request(
        "OPTIONS", path, std::nullopt,
        {{"Origin", origin}, {"Access-Control-Request-Method", method}, {"Access-Control-Request-Headers", headers}});
  }
};

TEST_F(CorsTest, PreflightAllowsEveryRequestHeaderTheApiDefines) {
  auto r = preflight(kShop, "/v1/store/orders/ord_x", "GET", "x-order-token,x-publishable-key");
  EXPECT_EQ(r.status, 204u) << r.body;
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kShop);
  std::string allowed = r.header("Access-Control-Allow-Headers");
  for (const char* h : {"X-Order-Token", "X-Publishable-Key", "Authorization", "Idempotency-Key", "X-Request-Id",
                        "Content-Type", "X-Customer-Token", "If-None-Match"})
    EXPECT_TRUE(lists(allowed, h)) << h << " not in " << allowed;
  std::string methods = r.header("Access-Control-Allow-Methods");
  for (const char* m : {"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"})
    EXPECT_TRUE(lists(methods, m)) << m << " not in " << methods;
  EXPECT_EQ(r.header("Access-Control-Max-Age"), "7200");
  std::string vary = r.header("Vary");
  for (const char* v : {"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"})
    EXPECT_TRUE(lists(vary, v)) << v << " not in " << vary;
  // The second configured origin is allowed too, echoed back as itself.
  auto local = preflight("http://localhost:5173", "/v1/store/carts", "POST", "content-type,idempotency-key");
  EXPECT_EQ(local.status, 204u);
  EXPECT_EQ(local.header("Access-Control-Allow-Origin"), "http://localhost:5173");
}

TEST_F(CorsTest, CheckoutThenReadTheOrderFromAnotherOrigin) {
  HttpClient shop = storefront(server().publishable_key());
  shop.set_default_header("Origin", kShop);
  auto cart = shop.post("/v1/store/carts", {{"email", "demo@example.cn"},
                                            {"shipping_address", kAddress},
                                            {"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  EXPECT_EQ(cart.header("Access-Control-Allow-Origin"), kShop);
  std::string path = "/v1/store/carts/" + cart.json()["id"].get<std::string>() + "/checkout";
  auto checkout = shop.request("POST", path, std::string("{}"), {{"Idempotency-Key", "cors-1"}});
  ASSERT_EQ(checkout.status, 201u) << checkout.body;
  auto replay = shop.request("POST", path, std::string("{}"), {{"Idempotency-Key", "cors-1"}});
  ASSERT_EQ(replay.status, 201u) << replay.body;
  EXPECT_EQ(replay.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(replay.header("Access-Control-Allow-Origin"), kShop);
  std::string exposed = replay.header("Access-Control-Expose-Headers");
  for (const char* h : {"Idempotent-Replayed", "X-Request-Id", "Location", "ETag", "Retry-After", "RateLimit-Limit",
                        "RateLimit-Remaining", "RateLimit-Reset"})
    EXPECT_TRUE(lists(exposed, h)) << h << " not in " << exposed;
  EXPECT_TRUE(lists(replay.header("Vary"), "Origin")) << replay.header("Vary");

  // The browser asks first whether it may send X-Order-Token, then reads the order.
  std::string order = "/v1/store/orders/" + checkout.json()["id"].get<std::string>();
  auto asked = preflight(kShop, order, "GET", "x-order-token, x-publishable-key");
  ASSERT_EQ(asked.status, 204u);
  EXPECT_TRUE(lists(asked.header("Access-Control-Allow-Headers"), "X-Order-Token"));
  auto read = shop.get(order, {{"X-Order-Token", checkout.json()["access_token"].get<std::string>()}});
  ASSERT_EQ(read.status, 200u) << read.body;
  EXPECT_EQ(read.header("Access-Control-Allow-Origin"), kShop);
  EXPECT_TRUE(lists(read.header("Access-Control-Expose-Headers"), "X-Request-Id"));

  // Catalog replies keep their own Vary and add Origin.
  auto products = shop.get("/v1/store/products");
  std::string vary = products.header("Vary");
  for (const char* v : {"Origin", "X-Publishable-Key", "Accept-Encoding"}) EXPECT_TRUE(lists(vary, v)) << vary;
}

TEST_F(CorsTest, UnknownOriginGetsNoCorsHeaders) {
  auto asked = preflight("https://evil.example", "/v1/store/orders/ord_x", "GET", "x-order-token");
  EXPECT_NE(asked.status, 204u);
  auto products = store().get("/v1/store/products", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(products.status, 200u);
  for (const auto* r : {&asked, &products}) {
    for (const auto& [name, value] : r->headers) EXPECT_EQ(name.rfind("access-control-", 0), std::string::npos) << name;
    // The reply still varies on Origin: a shared cache must not hand it to an allowed origin.
    EXPECT_TRUE(lists(r->header("Vary"), "Origin")) << r->header("Vary");
  }
  // A look-alike origin is not the allowed one.
  auto alike = preflight("https://shop.example.evil", "/v1/store/carts", "POST", "content-type");
  EXPECT_TRUE(alike.header("Access-Control-Allow-Origin").empty());
}

}  // namespace
