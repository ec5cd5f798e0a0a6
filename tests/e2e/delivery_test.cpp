// Checkout with a fulfilment provider end to end: local-delivery quotes by distance, the chosen shipping in totals, fulfilment.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;

// A demo product: 129.00 CNY, 13 % VAT included.
const char* kSku = "TEE-ORGANIC-NAVY-S";
const char* kHandle = "organic-cotton-tee";
constexpr std::int64_t kPrice = 12900;
constexpr std::int64_t kStock = 10;  // set at the Jing'an store, so that it fulfils
constexpr std::int64_t kNearFee = 800, kFarFee = 1500;

// The demo's Shanghai Jing'an Store is at 31.2237, 121.4453 (core/demo/demo_seed.cpp). Distances
// below are haversine on a 6371.0088 km sphere, as the plugin computes them.
json address_at(std::optional<double> latitude, std::optional<double> longitude) {
  json a = {{"name", "Li Lei"},        {"line1", "88 Nanjing West Road"}, {"city", "Shanghai"},
            {"postal_code", "200041"}, {"country", "CN"},                 {"phone", "+86 21 5555 0100"}};
  if (latitude) a["latitude"] = *latitude;
  if (longitude) a["longitude"] = *longitude;
  return a;
}
const json kNear = address_at(31.2304, 121.4737);     // People's Square: 2.8 km, first tier
const json kFar = address_at(31.1979, 121.3363);      // Hongqiao: 10.8 km, second tier
const json kOutside = address_at(31.5834, 121.4453);  // due north: 40.0 km, beyond every tier
const json kUnlocated = address_at(std::nullopt, std::nullopt);

using quanqu::e2e::money;

int count_events(const json& order, const std::string& type) {
  int n = 0;
  for (const auto& e : order.value("events", json::array()))
    if (e.value("type", "") == type) ++n;
  return n;
}

struct Channel {
  std::string id;
  std::string key;
};

class DeliveryTest : public E2ETest {
 protected:
  void SetUp() override {
    for (const char* name : {"local-delivery", "manual-payment"})
      plugins_dir_.add(fs::path(QUANQU_REFERENCE_PLUGINS_DIR) / name);
    E2ETest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    jingan_ = location_id("store-shanghai-jingan");
    warehouse_ = location_id("warehouse-shanghai");
    auto stock = admin().put("/v1/admin/inventory-levels",
                             {{"sku", kSku}, {"location_id", jingan_}, {"on_hand", kStock}});
    ASSERT_EQ(stock.status, 200u) << stock.body;
  }
  std::vector<std::string> extra_args() const override { return plugins_dir_.args(); }

  std::string location_id(const std::string& code) {
    auto r = admin().get("/v1/admin/stock-locations/" + code);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }

  // Sells from the Jing'an store first, then the warehouse; delivers with two distance tiers.
  Channel create_channel(const std::string& code, const json& payment_providers = json::array()) {
    Channel c;
    auto created = admin().post(
        "/v1/admin/channels",
        {{"code", code},
         {"name", "Channel " + code},
         {"type", "web"},
         {"currency", "CNY"},
         {"tax_rate_bp", 1300},
         {"tax_inclusive", true},
         {"location_ids", {jingan_, warehouse_}},
         {"payment_providers", payment_providers},
         {"fulfilment_providers", {"local-delivery"}},
         {"provider_config",
          {{"local-delivery", {{"tiers", {{{"max_km", 5}, {"fee", kNearFee}}, {{"max_km", 15}, {"fee", kFarFee}}}}}}}}});
    EXPECT_EQ(created.status, 201u) << created.body;
    if (created.status != 201u) return c;
    c.id = created.json().value("id", "");
    EXPECT_EQ(created.json()["fulfilment_providers"], json::array({"local-delivery"})) << created.body;
    // The schema's default label is filled in.
    EXPECT_EQ(created.json()["provider_config"]["local-delivery"]["label"], "Local delivery") << created.body;
    c.key = open_storefront(c.id, {kHandle}, "Storefront " + code);
    return c;
  }


  // A cart with `quantity` tees and an email, and the address when given.
  std::string new_cart(HttpClient& store, int quantity, const json& address = nullptr) {
    json body{{"email", "li.lei@example.cn"}, {"items", {{{"sku", kSku}, {"quantity", quantity}}}}};
    if (!address.is_null()) body["shipping_address"] = address;
    auto r = store.post("/v1/store/carts", body);
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }

  HttpResponse options(HttpClient& store, const std::string& cart_id) {
    return store.get("/v1/store/carts/" + cart_id + "/shipping-options");
  }
  HttpResponse choose(HttpClient& store, const std::string& cart_id, const std::string& provider = "local-delivery") {
    return store.post("/v1/store/carts/" + cart_id + "/shipping-method", {{"provider", provider}});
  }
  HttpResponse set_address(HttpClient& store, const std::string& cart_id, const json& address) {
    return store.patch("/v1/store/carts/" + cart_id, {{"shipping_address", address}});
  }
  HttpResponse checkout(HttpClient& store, const std::string& cart_id, const std::string& key) {
    return store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                         {{"Idempotency-Key", key}});
  }

  json level(const std::string& location) {
    auto r = admin().get(std::string("/v1/admin/inventory-levels?sku=") + kSku + "&location_id=" + location);
    EXPECT_EQ(r.status, 200u) << r.body;
    auto items = r.json().value("items", json::array());
    EXPECT_EQ(items.size(), 1u) << r.body;
    return items.empty() ? json::object() : items[0];
  }

  std::string jingan_, warehouse_;

 private:
  PluginsDir plugins_dir_;
};

TEST_F(DeliveryTest, QuotesByDistanceChargesTheChosenShippingAndFulfils) {
  Channel channel = create_channel("delivery-web");
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store, 2);
  ASSERT_FALSE(cart_id.empty());
  const std::int64_t kSubtotal = 2 * kPrice;

  // No shipping address yet: nothing to quote, nothing to check out.
  EXPECT_TRUE(IsProblem(options(store, cart_id), 422, "checkout.missing_details"));
  EXPECT_TRUE(IsProblem(choose(store, cart_id), 422, "checkout.missing_details"));
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "delivery-0"), 422, "checkout.missing_details"));

  ASSERT_EQ(set_address(store, cart_id, kNear).status, 200u);
  auto quoted = options(store, cart_id);
  ASSERT_EQ(quoted.status, 200u) << quoted.body;
  json q = quoted.json();
  EXPECT_EQ(q["refusals"], json::array()) << quoted.body;
  ASSERT_EQ(q["items"].size(), 1u) << quoted.body;
  json option = q["items"][0];
  EXPECT_EQ(option["provider"], "local-delivery");
  EXPECT_EQ(option["amount"], money(kNearFee));
  EXPECT_EQ(option["label"], "Local delivery (2.8 km)");
  EXPECT_EQ(option["location_id"], jingan_) << "the first location holding every line fulfils";
  EXPECT_EQ(option["data"]["distance_km"], 2.8) << quoted.body;
  EXPECT_EQ(option["data"]["tier_max_km"], 5) << quoted.body;

  // Quoting stores nothing; the channel needs a shipping method before checkout.
  auto unchanged = store.get("/v1/store/carts/" + cart_id);
  ASSERT_EQ(unchanged.status, 200u);
  EXPECT_TRUE(unchanged.json()["shipping"].is_null()) << unchanged.body;
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "delivery-1"), 422, "checkout.shipping_required"));
  EXPECT_EQ(level(jingan_)["reserved"], 0);

  auto chosen = choose(store, cart_id);
  ASSERT_EQ(chosen.status, 200u) << chosen.body;
  json cart = chosen.json();
  EXPECT_EQ(cart["id"], cart_id);
  EXPECT_EQ(cart["shipping"]["provider"], "local-delivery") << chosen.body;
  EXPECT_EQ(cart["shipping"]["amount"], money(kNearFee)) << chosen.body;
  EXPECT_EQ(cart["shipping"]["label"], "Local delivery (2.8 km)") << chosen.body;
  EXPECT_EQ(cart["shipping"]["location_id"], jingan_) << chosen.body;
  EXPECT_EQ(cart["totals"]["subtotal"], money(kSubtotal));
  EXPECT_EQ(cart["totals"]["shipping_total"], money(kNearFee));
  EXPECT_EQ(cart["totals"]["total"], money(kSubtotal + kNearFee));
  EXPECT_EQ(store.get("/v1/store/carts/" + cart_id).json()["totals"], cart["totals"]);

  auto placed = checkout(store, cart_id, "delivery-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  json order = placed.json();
  std::string order_id = order.value("id", "");
  EXPECT_EQ(order["totals"]["subtotal"], money(kSubtotal));
  EXPECT_EQ(order["totals"]["shipping_total"], money(kNearFee));
  EXPECT_EQ(order["totals"]["total"], money(kSubtotal + kNearFee));
  EXPECT_EQ(order["fulfilment"]["status"], "unfulfilled") << placed.body;
  EXPECT_EQ(order["fulfilment"]["shipping"]["provider"], "local-delivery") << placed.body;
  EXPECT_EQ(order["fulfilment"]["shipping"]["amount"], money(kNearFee)) << placed.body;
  EXPECT_EQ(order["fulfilment"]["shipping"]["location_id"], jingan_) << placed.body;

  json stored = [&] {
    auto r = admin().get("/v1/admin/orders/" + order_id);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }();
  EXPECT_EQ(stored["totals"], order["totals"]);
  EXPECT_EQ(stored["fulfilment"]["shipping"], order["fulfilment"]["shipping"]);
  ASSERT_EQ(stored["allocations"].size(), 1u) << stored.dump();
  EXPECT_EQ(stored["allocations"][0]["location_id"], jingan_);
  json before = level(jingan_);
  EXPECT_EQ(before["on_hand"], kStock);
  EXPECT_EQ(before["reserved"], 2);

  // Paid, then fulfilled: the units leave the shelf and the reservation.
  auto paid = admin().post("/v1/admin/orders/" + order_id + "/mark-paid", json::object());
  ASSERT_EQ(paid.status, 200u) << paid.body;
  EXPECT_EQ(paid.json()["status"], "paid");
  auto fulfilled = admin().post("/v1/admin/orders/" + order_id + "/fulfilment", {{"status", "fulfilled"}});
  ASSERT_EQ(fulfilled.status, 200u) << fulfilled.body;
  EXPECT_EQ(fulfilled.json()["status"], "shipped");
  EXPECT_EQ(fulfilled.json()["fulfilment"]["status"], "fulfilled");
  EXPECT_EQ(count_events(fulfilled.json(), "order.shipped"), 1) << fulfilled.body;
  json shipped = level(jingan_);
  EXPECT_EQ(shipped["on_hand"], kStock - 2);
  EXPECT_EQ(shipped["reserved"], 0);
  EXPECT_EQ(shipped["available"], kStock - 2);

  auto delivered = admin().post("/v1/admin/orders/" + order_id + "/fulfilment", {{"status", "delivered"}});
  ASSERT_EQ(delivered.status, 200u) << delivered.body;
  EXPECT_EQ(delivered.json()["fulfilment"]["status"], "delivered");
  EXPECT_EQ(delivered.json()["status"], "delivered");
  EXPECT_EQ(count_events(delivered.json(), "order.delivered"), 1) << delivered.body;
  EXPECT_EQ(delivered.json()["fulfilment"]["shipping"]["provider"], "local-delivery");

  // Fulfilling twice is refused and ships nothing more.
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/orders/" + order_id + "/fulfilment", {{"status", "fulfilled"}}), 409,
                        "order.invalid_transition"));
  EXPECT_EQ(level(jingan_)["on_hand"], kStock - 2);
}

TEST_F(DeliveryTest, FartherAddressesPayTheirTierAndOutOfReachOnesAreRefused) {
  Channel channel = create_channel("delivery-tiers");
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store, 1, kNear);
  ASSERT_EQ(choose(store, cart_id).status, 200u);

  // Another address clears the quote, which depended on it; the second tier prices it.
  auto moved = set_address(store, cart_id, kFar);
  ASSERT_EQ(moved.status, 200u) << moved.body;
  EXPECT_TRUE(moved.json()["shipping"].is_null()) << moved.body;
  EXPECT_EQ(moved.json()["totals"]["shipping_total"], money(0)) << moved.body;
  EXPECT_EQ(moved.json()["totals"]["total"], money(kPrice)) << moved.body;
  auto far = choose(store, cart_id);
  ASSERT_EQ(far.status, 200u) << far.body;
  EXPECT_EQ(far.json()["shipping"]["amount"], money(kFarFee));
  EXPECT_EQ(far.json()["shipping"]["label"], "Local delivery (10.8 km)");
  EXPECT_EQ(far.json()["shipping"]["data"]["tier_max_km"], 15) << far.body;
  EXPECT_EQ(far.json()["totals"]["total"], money(kPrice + kFarFee));

  // 40 km away: listed as a refusal, and choosing it is refused with nothing changed.
  auto outside = set_address(store, cart_id, kOutside);
  ASSERT_EQ(outside.status, 200u) << outside.body;
  auto quoted = options(store, cart_id);
  ASSERT_EQ(quoted.status, 200u) << quoted.body;
  EXPECT_EQ(quoted.json()["items"], json::array()) << quoted.body;
  ASSERT_EQ(quoted.json()["refusals"].size(), 1u) << quoted.body;
  json refusal = quoted.json()["refusals"][0];
  EXPECT_EQ(refusal["provider"], "local-delivery");
  EXPECT_EQ(refusal["code"], "local-delivery.out_of_range");
  std::string message = refusal.value("message", "");
  EXPECT_NE(message.find("40.0 km"), std::string::npos) << message;
  EXPECT_NE(message.find("Shanghai Jing'an Store"), std::string::npos) << message;
  EXPECT_NE(message.find("reaches 15 km"), std::string::npos) << message;

  json before = store.get("/v1/store/carts/" + cart_id).json();
  EXPECT_TRUE(before["shipping"].is_null());
  EXPECT_TRUE(IsProblem(choose(store, cart_id), 422, "local-delivery.out_of_range"));
  EXPECT_EQ(store.get("/v1/store/carts/" + cart_id).json(), before);

  // No coordinates: the plugin cannot tell the distance.
  ASSERT_EQ(set_address(store, cart_id, kUnlocated).status, 200u);
  auto unlocated = options(store, cart_id);
  ASSERT_EQ(unlocated.status, 200u) << unlocated.body;
  EXPECT_EQ(unlocated.json()["items"], json::array()) << unlocated.body;
  ASSERT_EQ(unlocated.json()["refusals"].size(), 1u) << unlocated.body;
  EXPECT_EQ(unlocated.json()["refusals"][0]["code"], "local-delivery.address_not_located");
  before = store.get("/v1/store/carts/" + cart_id).json();
  EXPECT_TRUE(IsProblem(choose(store, cart_id), 422, "local-delivery.address_not_located"));
  EXPECT_EQ(store.get("/v1/store/carts/" + cart_id).json(), before);

  // A provider the channel does not offer; the demo channel offers none.
  EXPECT_TRUE(IsProblem(choose(store, cart_id, "manual-payment"), 400, "shipping.provider_not_offered"));
  auto demo_cart = this->store().post("/v1/store/carts", {{"shipping_address", kNear},
                                                          {"items", {{{"sku", kSku}, {"quantity", 1}}}}});
  ASSERT_EQ(demo_cart.status, 201u) << demo_cart.body;
  std::string demo_id = demo_cart.json().value("id", "");
  EXPECT_TRUE(IsProblem(choose(this->store(), demo_id), 400, "shipping.provider_not_offered"));
  auto none = options(this->store(), demo_id);
  ASSERT_EQ(none.status, 200u) << none.body;
  EXPECT_EQ(none.json(), (json{{"items", json::array()}, {"refusals", json::array()}}));
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "tiers-1"), 422, "checkout.shipping_required"));
  EXPECT_EQ(level(jingan_)["reserved"], 0);

  // The merchant makes delivery free from 129.00: the next quote (no waiting) is free.
  auto patched = admin().patch(
      "/v1/admin/channels/" + channel.id,
      {{"provider_config",
        {{"local-delivery",
          {{"tiers", {{{"max_km", 5}, {"fee", kNearFee}}, {{"max_km", 15}, {"fee", kFarFee}}}}, {"free_over", kPrice}}}}}});
  ASSERT_EQ(patched.status, 200u) << patched.body;
  ASSERT_EQ(set_address(store, cart_id, kFar).status, 200u);
  auto free = choose(store, cart_id);
  ASSERT_EQ(free.status, 200u) << free.body;
  EXPECT_EQ(free.json()["shipping"]["amount"], money(0)) << free.body;
  EXPECT_EQ(free.json()["totals"]["total"], money(kPrice)) << free.body;
}

// The payment session is for the total with shipping, and checkout keeps both in step.
TEST_F(DeliveryTest, ThePaymentCoversTheShipping) {
  Channel channel = create_channel("delivery-paid", json::array({"manual-payment"}));
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store, 1, kNear);
  ASSERT_EQ(choose(store, cart_id).status, 200u);

  // A session started before shipping was chosen is for too little.
  std::string early_cart = new_cart(store, 1, kNear);
  auto early = store.post("/v1/store/carts/" + early_cart + "/payment-sessions", {{"provider", "manual-payment"}});
  ASSERT_EQ(early.status, 201u) << early.body;
  EXPECT_EQ(early.json()["amount"], money(kPrice));
  ASSERT_EQ(choose(store, early_cart).status, 200u);
  EXPECT_TRUE(IsProblem(checkout(store, early_cart, "paid-0"), 422, "payment.amount_changed"));

  auto session = store.post("/v1/store/carts/" + cart_id + "/payment-sessions", {{"provider", "manual-payment"}});
  ASSERT_EQ(session.status, 201u) << session.body;
  EXPECT_EQ(session.json()["amount"], money(kPrice + kNearFee));

  auto placed = checkout(store, cart_id, "paid-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  EXPECT_EQ(placed.json()["totals"]["total"], money(kPrice + kNearFee));
  EXPECT_EQ(placed.json()["payment"]["status"], "authorized");
  EXPECT_EQ(placed.json()["fulfilment"]["shipping"]["provider"], "local-delivery");
  auto paid = admin().post("/v1/admin/orders/" + placed.json().value("id", "") + "/mark-paid", json::object());
  ASSERT_EQ(paid.status, 200u) << paid.body;
  EXPECT_EQ(paid.json()["payment"]["status"], "captured");
  EXPECT_EQ(count_events(paid.json(), "order.paid"), 1);
}

// The delivery is priced from the location that holds every line; checkout must then reserve the
// stock there too, or the order ships from a place its delivery fee was never quoted for.
TEST_F(DeliveryTest, TheOrderIsReservedWhereItsDeliveryWasQuoted) {
  const std::string kOther = "TEE-ORGANIC-WHITE-M";
  // The Jing'an store (first choice) has the navy tee but no white one; the warehouse has both.
  for (const auto& [sku, location, on_hand] : std::vector<std::tuple<std::string, std::string, int>>{
           {kSku, warehouse_, 10}, {kOther, jingan_, 0}, {kOther, warehouse_, 10}}) {
    auto r = admin().put("/v1/admin/inventory-levels", {{"sku", sku}, {"location_id", location}, {"on_hand", on_hand}});
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  Channel channel = create_channel("delivery-split");
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  auto created = store.post("/v1/store/carts", {{"email", "li.lei@example.cn"},
                                                {"shipping_address", kNear},
                                                {"items", {{{"sku", kSku}, {"quantity", 1}}, {{"sku", kOther}, {"quantity", 1}}}}});
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string cart_id = created.json().value("id", "");

  auto chosen = choose(store, cart_id);
  ASSERT_EQ(chosen.status, 200u) << chosen.body;
  // The warehouse is 12.9 km from People's Square: the second tier.
  EXPECT_EQ(chosen.json()["shipping"]["location_id"], warehouse_) << chosen.body;
  EXPECT_EQ(chosen.json()["shipping"]["amount"], money(kFarFee)) << chosen.body;

  auto placed = checkout(store, cart_id, "split-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  auto order = admin().get("/v1/admin/orders/" + placed.json().value("id", ""));
  ASSERT_EQ(order.status, 200u) << order.body;
  const json allocations = order.json()["allocations"];
  EXPECT_EQ(order.json()["fulfilment"]["shipping"]["location_id"], warehouse_);
  ASSERT_EQ(allocations.size(), 2u) << order.body;
  for (const auto& a : allocations)
    EXPECT_EQ(a["location_id"], warehouse_) << "a line is reserved away from the quoted location: "
                                            << allocations.dump();
  EXPECT_EQ(level(jingan_)["reserved"], 0);
}

}  // namespace
