// End to end: checkout allocation over locations, store availability, and buy online, pick up in store.
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <latch>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;

const std::string kSkuM = "TEE-ORGANIC-NAVY-M", kSkuS = "TEE-ORGANIC-NAVY-S";
const std::string kHandle = "organic-cotton-tee";
using quanqu::e2e::kAddress;

class PickupTest : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    warehouse_ = location_id("warehouse-shanghai");
    jingan_ = location_id("store-shanghai-jingan");
    xihu_ = location_id("store-hangzhou-xihu");
  }

  std::string location_id(const std::string& code) {
    auto r = admin().get("/v1/admin/stock-locations/" + code);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }
  void set_stock(const std::string& sku, const std::string& location, std::int64_t on_hand) {
    auto r = admin().put("/v1/admin/inventory-levels", {{"sku", sku}, {"location_id", location}, {"on_hand", on_hand}});
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  // {on_hand, reserved} of a SKU at a location.
  std::pair<std::int64_t, std::int64_t> level(const std::string& sku, const std::string& location) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + sku + "&location_id=" + location);
    json items = r.json()["items"];
    if (items.empty()) return {0, 0};
    return {items[0].value("on_hand", std::int64_t{0}), items[0].value("reserved", std::int64_t{0})};
  }
  std::string variant_id(const std::string& sku) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + sku);
    json items = r.json()["items"];
    return items.empty() ? "" : items[0].value("variant_id", "");
  }

  // A cart on `store` with the lines {sku: quantity} and an e-mail (and the address, to ship).
  std::string new_cart(HttpClient& store, const std::map<std::string, int>& lines, bool with_address = true) {
    json items = json::array();
    for (const auto& [sku, quantity] : lines) items.push_back({{"sku", sku}, {"quantity", quantity}});
    json body{{"email", "li.lei@example.cn"}, {"items", items}};
    if (with_address) body["shipping_address"] = kAddress;
    auto r = store.post("/v1/store/carts", body);
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }
  HttpResponse checkout(HttpClient& store, const std::string& cart, const std::string& key) {
    return store.request("POST", "/v1/store/carts/" + cart + "/checkout", std::string("{}"), {{"Idempotency-Key", key}});
  }
  HttpResponse choose_pickup(HttpClient& store, const std::string& cart, const std::string& location) {
    return store.patch("/v1/store/carts/" + cart, {{"fulfilment", {{"type", "pickup"}, {"location_id", location}}}});
  }
  // The admin view of an order's allocations: (sku's variant, location) -> quantity.
  std::map<std::pair<std::string, std::string>, std::int64_t> allocations(const std::string& order) {
    std::map<std::pair<std::string, std::string>, std::int64_t> out;
    json o = admin().get("/v1/admin/orders/" + order).json();
    for (const auto& a : o["allocations"]) out[{a.value("variant_id", ""), a.value("location_id", "")}] = a["quantity"];
    return out;
  }
  // A placed pickup order at the Jing'an store: {order id, access token, code}.
  std::tuple<std::string, std::string, std::string> pickup_order(int quantity, const std::string& key) {
    set_stock(kSkuM, jingan_, 10);
    std::string cart = new_cart(store(), {{kSkuM, quantity}}, false);
    auto chosen = choose_pickup(store(), cart, jingan_);
    EXPECT_EQ(chosen.status, 200u) << chosen.body;
    auto placed = checkout(store(), cart, key);
    EXPECT_EQ(placed.status, 201u) << placed.body;
    json o = placed.json();
    return {o.value("id", ""), o.value("access_token", ""), o["pickup"].value("code", "")};
  }
  HttpResponse ready(const std::string& order) {
    return admin().post("/v1/admin/orders/" + order + "/ready-for-pickup", json::object());
  }
  HttpResponse collect(const std::string& order, const std::string& code) {
    return admin().post("/v1/admin/orders/" + order + "/pickup", {{"code", code}});
  }
  // The lifecycle's 409 for a move the order cannot make now.
  void expect_refused(const HttpResponse& r, const std::string& status, const std::vector<std::string>& allowed) {
    ASSERT_TRUE(IsProblem(r, 409, "order.invalid_transition")) << r.body;
    json p = json::parse(r.body, nullptr, false);
    EXPECT_EQ(p.value("current_status", ""), status) << r.body;
    EXPECT_EQ(p.value("allowed_moves", json::array()), json(allowed)) << r.body;
  }

  std::string warehouse_, jingan_, xihu_;
};

TEST_F(PickupTest, TheWholeOrderComesFromTheFirstLocationThatHasItAll) {
  // The warehouse (first) lacks M; Jing'an (second) lacks S; West Lake has both: it ships all.
  set_stock(kSkuM, warehouse_, 1);
  set_stock(kSkuS, warehouse_, 5);
  set_stock(kSkuM, jingan_, 5);
  set_stock(kSkuS, jingan_, 0);
  set_stock(kSkuM, xihu_, 2);
  set_stock(kSkuS, xihu_, 1);
  auto placed = checkout(store(), new_cart(store(), {{kSkuM, 2}, {kSkuS, 1}}), "whole-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  auto taken = allocations(placed.json().value("id", ""));
  EXPECT_EQ(taken, (decltype(taken){{{variant_id(kSkuM), xihu_}, 2}, {{variant_id(kSkuS), xihu_}, 1}}));
  EXPECT_EQ(level(kSkuM, xihu_).second, 2);
  EXPECT_EQ(level(kSkuM, jingan_).second, 0);
  EXPECT_EQ(placed.json()["fulfilment"]["type"], "ship");
  EXPECT_TRUE(placed.json()["pickup"].is_null());
}

TEST_F(PickupTest, OtherwiseLineByLineAndALineSplitOnlyWhenNoLocationHasItAll) {
  // No location has both lines: M comes whole from Jing'an, S whole from the warehouse.
  set_stock(kSkuM, warehouse_, 0);
  set_stock(kSkuS, warehouse_, 2);
  set_stock(kSkuM, jingan_, 3);
  set_stock(kSkuS, jingan_, 0);
  set_stock(kSkuM, xihu_, 0);
  set_stock(kSkuS, xihu_, 0);
  std::string later = new_cart(store(), {{kSkuM, 2}, {kSkuS, 1}});  // checked out when stock ran short
  auto placed = checkout(store(), new_cart(store(), {{kSkuM, 2}, {kSkuS, 2}}), "lines-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  auto taken = allocations(placed.json().value("id", ""));
  EXPECT_EQ(taken, (decltype(taken){{{variant_id(kSkuM), jingan_}, 2}, {{variant_id(kSkuS), warehouse_}, 2}}));

  // Four of M where no location has four: split in the channel's order.
  set_stock(kSkuM, warehouse_, 2);
  set_stock(kSkuM, xihu_, 2);
  auto split = checkout(store(), new_cart(store(), {{kSkuM, 4}}), "split-1");
  ASSERT_EQ(split.status, 201u) << split.body;
  taken = allocations(split.json().value("id", ""));
  EXPECT_EQ(taken, (decltype(taken){{{variant_id(kSkuM), warehouse_}, 2},
                                    {{variant_id(kSkuM), jingan_}, 1},
                                    {{variant_id(kSkuM), xihu_}, 1}}));

  // More than all locations hold: a 409 naming the line, and nothing reserved.
  auto before = level(kSkuM, xihu_);
  auto refused = checkout(store(), later, "short-1");
  ASSERT_TRUE(IsProblem(refused, 409, "inventory.insufficient_stock"));
  json lines = refused.json()["details"]["lines"];
  ASSERT_EQ(lines.size(), 2u) << refused.body;  // M: 1 left in all; S: none
  EXPECT_EQ(lines[0]["sku"], kSkuM);
  EXPECT_EQ(lines[0]["available"], 1);
  EXPECT_EQ(level(kSkuM, xihu_), before);
}

TEST_F(PickupTest, AvailabilityListsPickupStoresNearestFirstAndIsLive) {
  std::string variant = variant_id(kSkuM);
  set_stock(kSkuM, jingan_, 7);
  set_stock(kSkuM, xihu_, 4);
  std::string base = "/v1/store/products/" + kHandle + "/availability?variant_id=" + variant;

  // Near West Lake, Hangzhou: West Lake first; the warehouse never (no pickup).
  auto near = store().get(base + "&lat=30.25&lng=120.16");
  ASSERT_EQ(near.status, 200u) << near.body;
  json items = near.json()["items"];
  ASSERT_EQ(items.size(), 2u) << near.body;
  EXPECT_EQ(items[0]["location_id"], xihu_);
  EXPECT_EQ(items[0]["available"], 4);
  EXPECT_LT(items[0]["distance_metres"].get<double>(), 2000);
  EXPECT_EQ(items[1]["location_id"], jingan_);
  EXPECT_NEAR(items[1]["distance_metres"].get<double>(), 165000, 5000);
  EXPECT_EQ(near.header("Cache-Control"), "no-store");

  // Without coordinates: the channel's order, no distance.
  auto plain = store().get(base);
  ASSERT_EQ(plain.status, 200u) << plain.body;
  items = plain.json()["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["location_id"], jingan_);
  EXPECT_TRUE(items[0]["distance_metres"].is_null());

  // A sale on another channel that sells from Jing'an shows at once.
  auto channel = admin().post("/v1/admin/channels", {{"code", "kiosk"},
                                                     {"name", "Kiosk"},
                                                     {"type", "pos"},
                                                     {"currency", "CNY"},
                                                     {"location_ids", {jingan_}}});
  ASSERT_EQ(channel.status, 201u) << channel.body;
  HttpClient kiosk = storefront(open_storefront(channel.json().value("id", ""), {kHandle}, "Kiosk"));
  ASSERT_EQ(checkout(kiosk, new_cart(kiosk, {{kSkuM, 3}}), "kiosk-1").status, 201u);
  auto after = store().get(base);
  ASSERT_EQ(after.status, 200u);
  EXPECT_EQ(after.json()["items"][0]["available"], 4);

  // Refused at the edge.
  EXPECT_TRUE(IsProblem(store().get(base + "&lat=91&lng=120"), 400, "invalid_query"));
  EXPECT_TRUE(IsProblem(store().get(base + "&lat=30&lng=-180.5"), 400, "invalid_query"));
  EXPECT_TRUE(IsProblem(store().get(base + "&lat=30"), 400, "invalid_query"));
  EXPECT_TRUE(IsProblem(store().get(base + "&lat=north&lng=1"), 400, "invalid_query"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/products/" + kHandle + "/availability"), 400, "invalid_query"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/products/" + kHandle + "/availability?variant_id=var_nope"), 404,
                        "variant.not_found"));
  EXPECT_TRUE(IsProblem(store().get("/v1/store/products/no-such-product/availability?variant_id=" + variant), 404,
                        "product.not_found"));
}

TEST_F(PickupTest, ABuyerPicksUpInStoreWithTheCode) {
  set_stock(kSkuM, jingan_, 10);
  std::string cart = new_cart(store(), {{kSkuM, 2}}, false);
  auto chosen = choose_pickup(store(), cart, jingan_);
  ASSERT_EQ(chosen.status, 200u) << chosen.body;
  EXPECT_EQ(chosen.json()["fulfilment"],
            json({{"type", "pickup"}, {"location_id", jingan_}, {"location_name", "Shanghai Jing'an Store"}}));

  auto placed = checkout(store(), cart, "pickup-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  json order = placed.json();
  std::string id = order.value("id", ""), token = order.value("access_token", "");
  std::string code = order["pickup"].value("code", "");
  ASSERT_EQ(code.size(), 6u) << placed.body;
  EXPECT_EQ(order["fulfilment"]["type"], "pickup");
  EXPECT_EQ(order["pickup"]["location_id"], jingan_);
  EXPECT_EQ(order["totals"]["shipping_total"]["amount"], 0);
  EXPECT_EQ(order["shipping_address"]["line1"], "1601 Nanjing West Road");  // the store's
  // The same key replays the same code; the owner's token shows it; an admin never sees it.
  auto replay = checkout(store(), cart, "pickup-1");
  EXPECT_EQ(replay.json()["pickup"]["code"], code);
  auto mine = store().get("/v1/store/orders/" + id, {{"X-Order-Token", token}});
  ASSERT_EQ(mine.status, 200u);
  EXPECT_EQ(mine.json()["pickup"]["code"], code);
  json seen = admin().get("/v1/admin/orders/" + id).json();
  EXPECT_FALSE(seen["pickup"].contains("code"));
  auto taken = allocations(id);
  EXPECT_EQ(taken, (decltype(taken){{{variant_id(kSkuM), jingan_}, 2}}));

  // Placed with no payment step: ready at once, not picked up yet. The code does nothing.
  EXPECT_EQ(seen["allowed_moves"], (json{"mark_paid", "ready_for_pickup", "cancel"}));
  expect_refused(collect(id, code), "placed", {"mark_paid", "ready_for_pickup", "cancel"});
  expect_refused(admin().post("/v1/admin/orders/" + id + "/ship", json::object()), "placed",
                 {"mark_paid", "ready_for_pickup", "cancel"});
  auto made_ready = ready(id);
  ASSERT_EQ(made_ready.status, 200u) << made_ready.body;
  EXPECT_EQ(made_ready.json()["status"], "ready_for_pickup");
  EXPECT_FALSE(made_ready.json()["pickup"]["expires_at"].is_null());
  EXPECT_EQ(made_ready.json()["allowed_moves"], (json{"mark_paid", "pickup", "cancel"}));
  expect_refused(ready(id), "ready_for_pickup", {"mark_paid", "pickup", "cancel"});

  // The code hands it over: picked up, the stock left the shelf once, not completed yet.
  auto before = level(kSkuM, jingan_);
  auto done = collect(id, code);
  ASSERT_EQ(done.status, 200u) << done.body;
  json picked = done.json();
  EXPECT_EQ(picked["status"], "picked_up");
  EXPECT_EQ(picked["fulfilment"]["status"], "picked_up");
  EXPECT_EQ(picked["allowed_moves"], (json{"mark_paid"}));
  std::vector<std::string> types;
  for (const auto& e : picked["events"]) types.push_back(e.value("type", ""));
  EXPECT_EQ(types, (std::vector<std::string>{"order.placed", "order.ready_for_pickup", "order.picked_up"}));
  EXPECT_EQ(level(kSkuM, jingan_), std::make_pair(before.first - 2, before.second - 2));
  auto ledger = admin().get("/v1/admin/inventory-ledger?reference=" + id);
  json entries = ledger.json()["items"];
  ASSERT_EQ(entries.size(), 2u) << ledger.body;  // reserve, then fulfilment: the stock left once
  EXPECT_EQ(entries[0]["reason"], "fulfilment");
  EXPECT_EQ(entries[0]["location_id"], jingan_);
  expect_refused(collect(id, code), "picked_up", {"mark_paid"});

  // Paid at the desk, then completed, as after a delivery.
  expect_refused(admin().post("/v1/admin/orders/" + id + "/complete", json::object()), "picked_up", {"mark_paid"});
  auto paid = admin().post("/v1/admin/orders/" + id + "/mark-paid", json::object());
  ASSERT_EQ(paid.status, 200u) << paid.body;
  EXPECT_EQ(paid.json()["status"], "picked_up");
  auto completed = admin().post("/v1/admin/orders/" + id + "/complete", json::object());
  ASSERT_EQ(completed.status, 200u) << completed.body;
  EXPECT_EQ(completed.json()["status"], "completed");
  EXPECT_EQ(level(kSkuM, jingan_), std::make_pair(before.first - 2, before.second - 2));

  // A ship order has no pickup desk: the table's 409 says why.
  set_stock(kSkuM, warehouse_, 5);
  auto shipped = checkout(store(), new_cart(store(), {{kSkuM, 1}}), "ship-1");
  ASSERT_EQ(shipped.status, 201u);
  std::string ship_id = shipped.json().value("id", "");
  auto refused = ready(ship_id);
  expect_refused(refused, "placed", {"mark_paid", "ship", "cancel"});
  EXPECT_NE(refused.json().value("detail", "").find("not picked up in store"), std::string::npos) << refused.body;
  expect_refused(collect(ship_id, code), "placed", {"mark_paid", "ship", "cancel"});
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/orders/" + ship_id + "/pickup-unlock", json::object()), 409,
                        "order.not_pickup"));
}

TEST_F(PickupTest, AnAdminMayCancelAReadyOrderAndItsStockIsReleased) {
  auto [id, token, code] = pickup_order(2, "cancel-ready-1");
  auto reserved = level(kSkuM, jingan_);
  ASSERT_EQ(ready(id).status, 200u);
  auto cancelled = admin().post("/v1/admin/orders/" + id + "/cancel", {{"reason", "the shopper will not come"}});
  ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
  EXPECT_EQ(cancelled.json()["status"], "cancelled");
  EXPECT_EQ(cancelled.json()["events"].back()["actor"]["type"], "admin");
  EXPECT_EQ(level(kSkuM, jingan_), std::make_pair(reserved.first, reserved.second - 2));
  expect_refused(collect(id, code), "cancelled", {});
}

TEST_F(PickupTest, APickupCartIsRefusedAStoreWithoutPickupOutsideTheChannelOrShortOfALine) {
  set_stock(kSkuM, jingan_, 1);
  set_stock(kSkuS, jingan_, 5);
  std::string cart = new_cart(store(), {{kSkuM, 2}, {kSkuS, 1}});
  // The warehouse offers no pickup.
  auto no_pickup = choose_pickup(store(), cart, warehouse_);
  ASSERT_TRUE(IsProblem(no_pickup, 409, "cart.pickup_unavailable"));
  EXPECT_EQ(no_pickup.json()["details"]["reason"], "pickup_disabled");
  // A store of no channel of ours.
  auto other = admin().post("/v1/admin/stock-locations", {{"code", "store-suzhou"},
                                                          {"name", "Suzhou Store"},
                                                          {"kind", "store"},
                                                          {"pickup_enabled", true},
                                                          {"address", kAddress}});
  ASSERT_EQ(other.status, 201u) << other.body;
  EXPECT_EQ(other.json()["pickup_hold_hours"], 72);
  auto outside = choose_pickup(store(), cart, other.json().value("id", ""));
  ASSERT_TRUE(IsProblem(outside, 409, "cart.pickup_unavailable"));
  EXPECT_EQ(outside.json()["details"]["reason"], "not_in_channel");
  // Jing'an has one M of two: the line is named.
  auto short_line = choose_pickup(store(), cart, jingan_);
  ASSERT_TRUE(IsProblem(short_line, 409, "inventory.insufficient_stock"));
  json lines = short_line.json()["details"]["lines"];
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["sku"], kSkuM);
  EXPECT_EQ(lines[0]["available"], 1);
  EXPECT_EQ(store().get("/v1/store/carts/" + cart).json()["fulfilment"]["type"], "ship");
  // Bad choices are a 400.
  EXPECT_TRUE(IsProblem(store().patch("/v1/store/carts/" + cart, {{"fulfilment", {{"type", "pickup"}}}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(store().patch("/v1/store/carts/" + cart, {{"fulfilment", {{"type", "drone"}}}}), 400,
                        "validation_failed"));

  // Chosen while stocked, then the store runs short: checkout names the line, nothing is reserved.
  set_stock(kSkuM, jingan_, 2);
  ASSERT_EQ(choose_pickup(store(), cart, jingan_).status, 200u);
  set_stock(kSkuM, jingan_, 1);
  set_stock(kSkuM, warehouse_, 50);
  auto refused = checkout(store(), cart, "short-pickup");
  ASSERT_TRUE(IsProblem(refused, 409, "inventory.insufficient_stock"));
  EXPECT_EQ(refused.json()["details"]["lines"][0]["sku"], kSkuM);
  EXPECT_EQ(level(kSkuS, jingan_).second, 0);
  // Back to ship: the store is forgotten and the warehouse supplies it.
  auto back = store().patch("/v1/store/carts/" + cart, {{"fulfilment", {{"type", "ship"}}}});
  ASSERT_EQ(back.status, 200u) << back.body;
  EXPECT_EQ(back.json()["fulfilment"], json({{"type", "ship"}, {"location_id", nullptr}, {"location_name", nullptr}}));
  EXPECT_EQ(checkout(store(), cart, "ship-after-all").status, 201u);
}

TEST_F(PickupTest, FiveWrongCodesLockThePickupUntilAnAdminUnlocksIt) {
  auto [id, token, code] = pickup_order(1, "locks-1");
  ASSERT_EQ(ready(id).status, 200u);
  std::string wrong = code == "000000" ? "000001" : "000000";
  for (int attempt = 1; attempt <= 5; ++attempt) {
    auto r = collect(id, wrong);
    ASSERT_TRUE(IsProblem(r, 422, "pickup.wrong_code")) << attempt;
    EXPECT_EQ(r.json()["details"]["attempts_left"], 5 - attempt);
  }
  // Locked: even the right code is refused.
  EXPECT_TRUE(IsProblem(collect(id, code), 409, "pickup.locked"));
  json locked = admin().get("/v1/admin/orders/" + id).json();
  EXPECT_EQ(locked["pickup"]["locked"], true);
  EXPECT_EQ(locked["pickup"]["failed_attempts"], 5);
  EXPECT_TRUE(IsProblem(collect(id, "12345"), 400, "validation_failed"));

  auto unlocked = admin().post("/v1/admin/orders/" + id + "/pickup-unlock", json::object());
  ASSERT_EQ(unlocked.status, 200u) << unlocked.body;
  EXPECT_EQ(unlocked.json()["pickup"]["locked"], false);
  EXPECT_EQ(unlocked.json()["pickup"]["failed_attempts"], 0);
  EXPECT_TRUE(IsProblem(collect(id, wrong), 422, "pickup.wrong_code"));
  auto done = collect(id, code);
  ASSERT_EQ(done.status, 200u) << done.body;
  EXPECT_EQ(done.json()["status"], "picked_up");
}

TEST_F(PickupTest, ConcurrentCheckoutsOverSeveralLocationsNeitherDeadlockNorOversell) {
  // 9 M and 6 S over three locations; 12 shoppers each want one of both, half with S first.
  for (const auto& location : {warehouse_, jingan_, xihu_}) {
    set_stock(kSkuM, location, 3);
    set_stock(kSkuS, location, 2);
  }
  constexpr int kShoppers = 12;
  std::vector<std::string> carts;
  for (int i = 0; i < kShoppers; ++i) {
    json items = i % 2 ? json{{{"sku", kSkuS}, {"quantity", 1}}, {{"sku", kSkuM}, {"quantity", 1}}}
                       : json{{{"sku", kSkuM}, {"quantity", 1}}, {{"sku", kSkuS}, {"quantity", 1}}};
    auto r = store().post("/v1/store/carts", {{"email", "race@example.cn"}, {"shipping_address", kAddress}, {"items", items}});
    ASSERT_EQ(r.status, 201u) << r.body;
    carts.push_back(r.json().value("id", ""));
  }
  std::vector<unsigned> statuses(kShoppers);
  std::vector<std::string> codes(kShoppers);
  std::latch start(kShoppers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kShoppers; ++i)
    threads.emplace_back([&, i] {
      HttpClient shopper = storefront(server().publishable_key());
      shopper.set_timeout(std::chrono::seconds(60));
      start.arrive_and_wait();
      auto r = checkout(shopper, carts[i], "race-" + std::to_string(i));
      statuses[i] = r.status;
      if (r.status != 201u) codes[i] = json::parse(r.body, nullptr, false).value("code", "");
    });
  for (auto& t : threads) t.join();
  int placed = 0;
  for (int i = 0; i < kShoppers; ++i) {
    if (statuses[i] == 201u) ++placed;
    else EXPECT_EQ(codes[i], "inventory.insufficient_stock") << "shopper " << i << ": " << statuses[i];
  }
  EXPECT_EQ(placed, 6);  // S runs out first
  std::int64_t reserved_m = 0, reserved_s = 0;
  for (const auto& location : {warehouse_, jingan_, xihu_}) {
    auto m = level(kSkuM, location), s = level(kSkuS, location);
    EXPECT_LE(m.second, m.first);
    EXPECT_LE(s.second, s.first);
    reserved_m += m.second;
    reserved_s += s.second;
  }
  EXPECT_EQ(reserved_m, 6);
  EXPECT_EQ(reserved_s, 6);
}

// One hold hour lasts 100 ms here (--pickup-hold-hour-ms), so a one-hour hold ends at once.
class PickupExpiryTest : public PickupTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--pickup-hold-hour-ms", "100"}; }
};

TEST_F(PickupExpiryTest, AnOrderNotPickedUpWithinTheHoldIsCancelledAndItsStockReleased) {
  auto hold = admin().patch("/v1/admin/stock-locations/" + jingan_, {{"pickup_hold_hours", 1}});
  ASSERT_EQ(hold.status, 200u) << hold.body;
  EXPECT_EQ(hold.json()["pickup_hold_hours"], 1);
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/stock-locations/" + jingan_, {{"pickup_hold_hours", 721}}), 400,
                        "validation_failed"));

  auto [id, token, code] = pickup_order(3, "expire-1");
  auto reserved = level(kSkuM, jingan_);
  EXPECT_EQ(reserved.second, 3);
  ASSERT_EQ(ready(id).status, 200u);

  json order;
  for (int i = 0; i < 100; ++i) {
    order = admin().get("/v1/admin/orders/" + id).json();
    if (order.value("status", "") == "cancelled") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(order["status"], "cancelled") << order.dump();
  EXPECT_EQ(order["events"].back()["data"]["reason"], "pickup_expired");
  // The lifecycle's cancel, by the job.
  EXPECT_EQ(order["events"].back()["actor"]["type"], "job");
  EXPECT_EQ(order["events"].back()["actor"]["id"].get<std::string>().rfind("job_", 0), 0u) << order.dump();
  EXPECT_EQ(level(kSkuM, jingan_), std::make_pair(reserved.first, std::int64_t{0}));
  auto ledger = admin().get("/v1/admin/inventory-ledger?reference=" + id);
  EXPECT_EQ(ledger.json()["items"][0]["reason"], "release");
  EXPECT_EQ(ledger.json()["items"][0]["delta_reserved"], -3);
  auto jobs = admin().get("/v1/admin/jobs?kind=pickup.expire");
  ASSERT_EQ(jobs.status, 200u);
  EXPECT_EQ(jobs.json()["items"][0]["status"], "succeeded");
  expect_refused(collect(id, code), "cancelled", {});
}

}  // namespace
