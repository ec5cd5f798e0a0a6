// End to end: Idempotency-Key on every create (replay, conflict, scope, concurrency) and Location on every 201.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <latch>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;

using quanqu::e2e::kAddress;

Headers key(const std::string& k) {
  return {{"Idempotency-Key", k}};
}

// The first reply is a fresh create with its Location; the second, with the same key and body,
// is that reply again, marked replayed.
void expect_replay(const HttpResponse& first, const HttpResponse& second, unsigned status) {
  ASSERT_EQ(first.status, status) << first.body;
  EXPECT_EQ(first.header("Idempotent-Replayed"), "");
  ASSERT_EQ(second.status, status) << second.body;
  EXPECT_EQ(second.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(second.json(), first.json());
  EXPECT_EQ(second.header("Location"), first.header("Location"));
  EXPECT_EQ(second.header("Content-Type"), first.header("Content-Type"));
}

// The manual-payment plugin loaded, for payment sessions.
class IdempotencyTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_REFERENCE_PLUGINS_DIR) / "manual-payment");
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override { return plugins_dir_.args(); }

  std::size_t count(const std::string& list_path) {
    auto r = admin().get(list_path);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json()["items"].size();
  }

  // A channel offering manual payment, the demo tee published on it; returns its publishable key.
  std::string manual_channel(const std::string& code) {
    json locations = json::array();
    for (const char* code : {"warehouse-shanghai", "store-shanghai-jingan", "store-hangzhou-xihu"})
      locations.push_back(admin().get(std::string("/v1/admin/stock-locations/") + code).json().value("id", ""));
    auto c = admin().post("/v1/admin/channels", {{"code", code},
                                                 {"type", "web"},
                                                 {"currency", "CNY"},
                                                 {"location_ids", locations},
                                                 {"payment_providers", {"manual-payment"}}});
    EXPECT_EQ(c.status, 201u) << c.body;
    return open_storefront(c.json().value("id", ""), {"organic-cotton-tee"}, code);
  }

  PluginsDir plugins_dir_;
};

TEST_F(IdempotencyTest, StoreCreatesReplayTheFirstReplyAndCreateNothingNew) {
  // A cart: 201 with its Location; the replay is the same cart.
  json body{{"email", "li.lei@example.cn"}, {"shipping_address", kAddress}};
  auto cart = store().post("/v1/store/carts", body, key("cart-1"));
  auto again = store().post("/v1/store/carts", body, key("cart-1"));
  expect_replay(cart, again, 201);
  std::string id = cart.json().value("id", "");
  EXPECT_EQ(cart.header("Location"), "/v1/store/carts/" + id);
  EXPECT_EQ(store().get(cart.header("Location")).json().value("id", ""), id);

  // An item: the replay does not add the units a second time.
  std::string items = "/v1/store/carts/" + id + "/items";
  json item{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 2}};
  auto added = store().post(items, item, key("item-1"));
  expect_replay(added, store().post(items, item, key("item-1")), 200);
  auto now = store().get("/v1/store/carts/" + id).json();
  ASSERT_EQ(now["items"].size(), 1u) << now;
  EXPECT_EQ(now["items"][0]["quantity"], 2);

  // Checkout keeps its own key rules, and its 201 has a Location too.
  auto order = store().request("POST", "/v1/store/carts/" + id + "/checkout", std::nullopt, key("checkout-1"));
  ASSERT_EQ(order.status, 201u) << order.body;
  EXPECT_EQ(order.header("Location"), "/v1/store/orders/" + order.json().value("id", ""));

  // The key is optional: without it, every POST creates.
  auto a = store().post("/v1/store/carts", json::object());
  auto b = store().post("/v1/store/carts", json::object());
  ASSERT_EQ(a.status, 201u);
  ASSERT_EQ(b.status, 201u);
  EXPECT_NE(a.json()["id"], b.json()["id"]);
}

TEST_F(IdempotencyTest, PaymentSessionReplayStartsNoSecondSession) {
  HttpClient shop = storefront(manual_channel("manual-web"));
  auto cart = shop.post("/v1/store/carts", {{"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  std::string sessions = "/v1/store/carts/" + cart.json().value("id", "") + "/payment-sessions";
  json body{{"provider", "manual-payment"}};
  auto started = shop.post(sessions, body, key("pay-1"));
  expect_replay(started, shop.post(sessions, body, key("pay-1")), 201);
  EXPECT_EQ(started.header("Location"), sessions);
  auto listed = shop.get(sessions);
  ASSERT_EQ(listed.status, 200u) << listed.body;
  EXPECT_EQ(listed.json()["items"].size(), 1u) << listed.body;
}

TEST_F(IdempotencyTest, AdminCreatesReplayTheFirstReplyAndCreateNothingNew) {
  struct Create {
    std::string path, list, idem;
    json body;
    std::string location_prefix;
  };
  auto product = admin().post(
      "/v1/admin/products",
      {{"handle", "idem-mug"},
       {"title", "Mug"},
       {"variants",
        {{{"sku", "IDEM-MUG-1"}, {"title", "One size"}, {"prices", {{{"currency", "CNY"}, {"amount", 3900}}}}}}}},
      key("product-1"));
  ASSERT_EQ(product.status, 201u) << product.body;
  std::string product_id = product.json().value("id", "");
  EXPECT_EQ(product.header("Location"), "/v1/admin/products/" + product_id);
  EXPECT_EQ(admin().get(product.header("Location")).json().value("id", ""), product_id);
  std::size_t products = count("/v1/admin/products?limit=100");
  expect_replay(
      product,
      admin().post(
          "/v1/admin/products",
          {{"handle", "idem-mug"},
           {"title", "Mug"},
           {"variants",
            {{{"sku", "IDEM-MUG-1"}, {"title", "One size"}, {"prices", {{{"currency", "CNY"}, {"amount", 3900}}}}}}}},
          key("product-1")),
      201);
  EXPECT_EQ(count("/v1/admin/products?limit=100"), products);

  std::string channel_id = admin().get("/v1/admin/channels").json()["items"][0].value("id", "");
  std::vector<Create> creates = {
      {"/v1/admin/products/" + product_id + "/variants",
       "",
       "variant-1",
       {{"sku", "IDEM-MUG-2"}, {"title", "Large"}, {"prices", {{{"currency", "CNY"}, {"amount", 4900}}}}},
       "/v1/admin/products/" + product_id + "/variants/"},
      {"/v1/admin/categories",
       "/v1/admin/categories",
       "category-1",
       {{"handle", "idem-cups"}, {"name", "Cups"}},
       "/v1/admin/categories/"},
      {"/v1/admin/stock-locations",
       "/v1/admin/stock-locations",
       "location-1",
       {{"code", "idem-depot"}, {"name", "Depot"}, {"address", kAddress}},
       "/v1/admin/stock-locations/"},
      {"/v1/admin/channels",
       "/v1/admin/channels",
       "channel-1",
       {{"code", "idem-kiosk"}, {"type", "web"}, {"currency", "CNY"}},
       "/v1/admin/channels/"},
      {"/v1/admin/channels/" + channel_id + "/publishable-keys",
       "/v1/admin/channels/" + channel_id + "/publishable-keys",
       "pk-1",
       {{"label", "idem"}},
       "/v1/admin/channels/" + channel_id + "/publishable-keys/"},
  };
  for (const auto& c : creates) {
    SCOPED_TRACE(c.path);
    auto first = admin().post(c.path, c.body, key(c.idem));
    ASSERT_EQ(first.status, 201u) << first.body;
    EXPECT_EQ(first.header("Location"), c.location_prefix + first.json().value("id", ""));
    std::size_t before = c.list.empty() ? 0 : count(c.list);
    expect_replay(first, admin().post(c.path, c.body, key(c.idem)), 201);
    if (!c.list.empty()) {
      EXPECT_EQ(count(c.list), before);
    }
  }
  auto variants = admin().get("/v1/admin/products/" + product_id).json()["variants"];
  EXPECT_EQ(variants.size(), 2u) << variants;
}

TEST_F(IdempotencyTest, ReuseForAnotherRequestIsAConflictAndARefusalReleasesTheKey) {
  auto first = store().post("/v1/store/carts", {{"email", "a@example.cn"}}, key("reuse"));
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_TRUE(IsProblem(store().post("/v1/store/carts", {{"email", "b@example.cn"}}, key("reuse")), 409,
                        "idempotency.key_reused"));
  std::string items = "/v1/store/carts/" + first.json().value("id", "") + "/items";
  EXPECT_TRUE(IsProblem(store().post(items, {{"email", "a@example.cn"}}, key("reuse")), 409, "idempotency.key_reused"));

  // A refused request stores nothing: the key then serves a corrected request.
  auto refused = store().post(items, {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 0}}, key("fix-me"));
  ASSERT_EQ(refused.status, 400u) << refused.body;
  auto fixed = store().post(items, {{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}, key("fix-me"));
  ASSERT_EQ(fixed.status, 200u) << fixed.body;
  EXPECT_EQ(fixed.header("Idempotent-Replayed"), "");

  EXPECT_TRUE(IsProblem(store().post("/v1/store/carts", json::object(), key(std::string(256, 'k'))), 400,
                        "idempotency.key_invalid"));
  // An empty value: the client sends no header for "", so send blanks, which the parser trims.
  EXPECT_TRUE(IsProblem(store().post("/v1/store/carts", json::object(), key("  ")), 400, "idempotency.key_invalid"));
}

TEST_F(IdempotencyTest, KeysAreScopedByCredential) {
  HttpClient other = storefront(manual_channel("other-web"));
  json body{{"email", "same@example.cn"}};
  auto mine = store().post("/v1/store/carts", body, key("shared-key"));
  auto theirs = other.post("/v1/store/carts", body, key("shared-key"));
  ASSERT_EQ(mine.status, 201u) << mine.body;
  ASSERT_EQ(theirs.status, 201u) << theirs.body;
  EXPECT_EQ(theirs.header("Idempotent-Replayed"), "");
  EXPECT_NE(mine.json()["id"], theirs.json()["id"]);
  // And each channel's carts stay its own.
  EXPECT_EQ(other.get(mine.header("Location")).status, 404u);
}

TEST_F(IdempotencyTest, ConcurrentDuplicatesCreateExactlyOne) {
  std::string channel_id = admin().get("/v1/admin/channels").json()["items"][0].value("id", "");
  std::string keys_path = "/v1/admin/channels/" + channel_id + "/publishable-keys";
  std::size_t before = count(keys_path);
  constexpr int kThreads = 8;
  std::mutex mutex;
  std::set<std::string> key_ids, cart_ids;
  std::vector<std::string> unexpected;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      HttpClient a = server().client();
      a.set_default_header("Authorization", "Bearer " + server().admin_key());
      HttpClient s = storefront(server().publishable_key());
      start.arrive_and_wait();
      auto k = a.post(keys_path, {{"label", "race"}}, key("race-key"));
      auto c = s.post("/v1/store/carts", {{"email", "race@example.cn"}}, key("race-cart"));
      std::lock_guard lock(mutex);
      for (auto* r : {&k, &c}) {
        if (r->status == 201) {
          (r == &k ? key_ids : cart_ids).insert(r->json().value("id", ""));
        } else if (!IsProblem(*r, 409, "idempotency.in_progress") || r->header("Retry-After").empty()) {
          unexpected.push_back(std::to_string(r->status) + " " + r->body);
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  EXPECT_EQ(key_ids.size(), 1u);
  EXPECT_EQ(cart_ids.size(), 1u);
  EXPECT_EQ(count(keys_path), before + 1);
  // Once the first has finished, every retry is the replay.
  auto retry = admin().post(keys_path, {{"label", "race"}}, key("race-key"));
  ASSERT_EQ(retry.status, 201u) << retry.body;
  EXPECT_EQ(retry.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(key_ids.count(retry.json().value("id", "")), 1u);
}

}  // namespace
