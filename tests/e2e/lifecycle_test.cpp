// The order lifecycle end to end: every move and each refused one, cancellations that release and refund, refunds, returns and the timeline.
#include "support/fake_gateway.h"
#include "support/payment_fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::FakeGateway;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PaymentProvidersTest;

// Demo products: the tee is 129.00 CNY (13 % VAT included), stocked at the demo locations.
const char* kHandle = "organic-cotton-tee";
const char* kSku = "TEE-ORGANIC-NAVY-S";
constexpr std::int64_t kPrice = 12900;
const char* kApiKey = "sk_test_lifecycle_7c1e";
const char* kWebhookSecret = "whsec_lifecycle_0123456789";

using quanqu::e2e::kAddress;
using quanqu::e2e::money;

std::vector<std::string> strings(const json& list) {
  std::vector<std::string> out;
  for (const auto& s : list) out.push_back(s.get<std::string>());
  return out;
}

class LifecycleTest : public PaymentProvidersTest {
 protected:
  LifecycleTest() : PaymentProvidersTest({kApiKey, kWebhookSecret}) {}

  // A channel taking payments through `provider` (with the fake gateway's config for card-gateway);
  // returns its publishable key.
  std::string payment_channel(const std::string& code, const std::string& provider) {
    json body{{"code", code},          {"name", "Channel " + code}, {"type", "web"},
              {"currency", "CNY"},     {"tax_rate_bp", 1300},       {"tax_inclusive", true},
              {"location_ids", demo_location_ids()}, {"payment_providers", {provider}}};
    if (provider == "card-gateway")
      body["provider_config"] = {{"card-gateway", card_gateway_config(gateway().base_url())}};
    auto created = admin().post("/v1/admin/channels", body);
    EXPECT_EQ(created.status, 201u) << created.body;
    channel_id_ = created.json().value("id", "");
    return open_storefront(channel_id_, {kHandle}, "Storefront " + code);
  }

  // An order of `items` (sku -> quantity) on the store's channel; with a payment provider, its
  // session is started (and, for card-gateway, confirmed) first.
  json place(HttpClient& store, const std::map<std::string, int>& items, const std::string& provider = "") {
    json lines = json::array();
    for (const auto& [sku, quantity] : items) lines.push_back({{"sku", sku}, {"quantity", quantity}});
    auto cart = store.post("/v1/store/carts",
                           {{"email", "li.lei@example.cn"}, {"shipping_address", kAddress}, {"items", lines}});
    EXPECT_EQ(cart.status, 201u) << cart.body;
    std::string cart_id = cart.json().value("id", "");
    if (!provider.empty()) {
      auto session = store.post("/v1/store/carts/" + cart_id + "/payment-sessions", {{"provider", provider}});
      EXPECT_EQ(session.status, 201u) << session.body;
      if (provider == "card-gateway") {
        EXPECT_TRUE(gateway().confirm(session.json().value("reference", "")));
      }
    }
    auto placed = store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                                {{"Idempotency-Key", "lifecycle-" + cart_id}});
    EXPECT_EQ(placed.status, 201u) << placed.body;
    return placed.json();
  }
  json place(const std::map<std::string, int>& items) { return place(store(), items); }

  HttpResponse act(const std::string& order_id, const std::string& move, const json& body = json::object()) {
    return admin().post("/v1/admin/orders/" + order_id + "/" + move, body);
  }
  json order(const std::string& id) {
    auto r = admin().get("/v1/admin/orders/" + id);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }

  // A refused move: 409 order.invalid_transition naming the status and the allowed moves; the
  // order is unchanged.
  void expect_refused(const std::string& order_id, const std::string& move, const std::string& status,
                      const std::vector<std::string>& allowed) {
    json before = order(order_id);
    auto r = act(order_id, move);
    EXPECT_TRUE(IsProblem(r, 409, "order.invalid_transition")) << move << " from " << status;
    json p = json::parse(r.body, nullptr, false);
    EXPECT_EQ(p.value("current_status", ""), status) << r.body;
    EXPECT_EQ(strings(p.value("allowed_moves", json::array())), allowed) << r.body;
    json after = order(order_id);
    EXPECT_EQ(after["status"], before["status"]);
    EXPECT_EQ(after["events"].size(), before["events"].size()) << move;
  }

  // on hand and reserved of the demo tee per location id.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> levels(const std::string& sku = kSku) {
    auto r = admin().get("/v1/admin/inventory-levels?sku=" + sku);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> out;
    json items = r.json()["items"];
    for (const auto& l : items)
      out[l.value("location_id", "")] = {l.value("on_hand", std::int64_t{0}), l.value("reserved", std::int64_t{0})};
    return out;
  }

  json ledger(const std::string& reference) {
    auto r = admin().get("/v1/admin/inventory-ledger?reference=" + reference + "&limit=100");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json()["items"];
  }

  std::vector<FakeGateway::Received> gateway_requests(const std::string& method, const std::string& suffix) {
    std::vector<FakeGateway::Received> out;
    for (auto& r : gateway().requests())
      if (r.method == method && r.target.size() >= suffix.size() &&
          r.target.compare(r.target.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.push_back(r);
    return out;
  }

  // A card-gateway order, captured through the signed webhook: paid.
  json paid_card_order(HttpClient& store, int quantity = 2) {
    json placed = place(store, {{kSku, quantity}}, "card-gateway");
    std::string id = placed.value("id", "");
    auto asked = act(id, "mark-paid");
    EXPECT_EQ(asked.status, 202u) << asked.body;
    FakeGateway::Webhook w;
    w.intent_id = intent_of(placed);
    auto hook = gateway().send_webhook("127.0.0.1", server().port(), channel_id_, w);
    EXPECT_EQ(hook.status, 200u) << hook.body;
    json paid = order(id);
    EXPECT_EQ(paid["status"], "paid") << paid.dump();
    return paid;
  }
  // The fake gateway's intent for the order's payment session.
  std::string intent_of(const json& placed) {
    for (const auto& i : gateway().intents())
      if (i.request.value("reference", "") == placed["payment"].value("session_id", "")) return i.id;
    return "";
  }


  // A pickup order of the tee at the Jing'an store (stocked with 10 there), on the store's channel,
  // its payment session started with `provider` first: {"order", "code"}.
  std::pair<json, std::string> place_pickup(HttpClient& store, const std::string& provider, int quantity = 1) {
    std::string jingan = location_id("store-shanghai-jingan");
    auto stocked = admin().put("/v1/admin/inventory-levels", {{"sku", kSku}, {"location_id", jingan}, {"on_hand", 10}});
    EXPECT_EQ(stocked.status, 200u) << stocked.body;
    auto cart = store.post("/v1/store/carts",
                           {{"email", "li.lei@example.cn"},
                            {"items", json::array({json{{"sku", kSku}, {"quantity", quantity}}})}});
    EXPECT_EQ(cart.status, 201u) << cart.body;
    std::string cart_id = cart.json().value("id", "");
    auto chosen = store.patch("/v1/store/carts/" + cart_id, {{"fulfilment", {{"type", "pickup"}, {"location_id", jingan}}}});
    EXPECT_EQ(chosen.status, 200u) << chosen.body;
    auto session = store.post("/v1/store/carts/" + cart_id + "/payment-sessions", {{"provider", provider}});
    EXPECT_EQ(session.status, 201u) << session.body;
    auto placed = store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                                {{"Idempotency-Key", "pickup-" + cart_id}});
    EXPECT_EQ(placed.status, 201u) << placed.body;
    json o = placed.json();
    return {o, o["pickup"].value("code", "")};
  }
  std::string location_id(const std::string& code) {
    auto r = admin().get("/v1/admin/stock-locations/" + code);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }

  std::string channel_id_;
};

// ---------------------------------------------------------------------------------------------
// Moves

TEST_F(LifecycleTest, EveryMoveOfTheShippingBranchAndEachRefusedOne) {
  json placed = place({{kSku, 2}});
  std::string id = placed.value("id", "");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(placed["status"], "placed");
  EXPECT_EQ(order(id)["allowed_moves"], (json{"mark_paid", "ship", "cancel"}));

  for (const char* move : {"deliver", "complete"}) expect_refused(id, move, "placed", {"mark_paid", "ship", "cancel"});

  auto paid = act(id, "mark-paid");
  ASSERT_EQ(paid.status, 200u) << paid.body;
  EXPECT_EQ(paid.json()["status"], "paid");
  EXPECT_EQ(paid.json()["payment"]["status"], "captured");
  EXPECT_EQ(act(id, "mark-paid").status, 200u) << "paying twice changes nothing";
  for (const char* move : {"deliver", "complete"}) expect_refused(id, move, "paid", {"ship", "cancel"});

  auto before = levels();
  auto shipped = act(id, "ship");
  ASSERT_EQ(shipped.status, 200u) << shipped.body;
  EXPECT_EQ(shipped.json()["status"], "shipped");
  EXPECT_EQ(shipped.json()["fulfilment"]["status"], "fulfilled");
  EXPECT_EQ(shipped.json()["allowed_moves"], (json{"deliver"}));
  // The reserved units left the shelf where they were reserved.
  auto after = levels();
  json allocations = shipped.json()["allocations"];
  for (const auto& a : allocations) {
    std::string loc = a.value("location_id", "");
    std::int64_t q = a.value("quantity", std::int64_t{0});
    EXPECT_EQ(after[loc].first, before[loc].first - q);
    EXPECT_EQ(after[loc].second, before[loc].second - q);
  }
  for (const char* move : {"ship", "cancel", "complete"}) expect_refused(id, move, "shipped", {"deliver"});
  EXPECT_EQ(act(id, "mark-paid").status, 200u) << "paid already: changes nothing";

  auto delivered = act(id, "deliver");
  ASSERT_EQ(delivered.status, 200u) << delivered.body;
  EXPECT_EQ(delivered.json()["status"], "delivered");
  for (const char* move : {"ship", "deliver", "cancel"}) expect_refused(id, move, "delivered", {"complete"});

  auto completed = act(id, "complete");
  ASSERT_EQ(completed.status, 200u) << completed.body;
  EXPECT_EQ(completed.json()["status"], "completed");
  EXPECT_EQ(completed.json()["allowed_moves"], json::array());
  for (const char* move : {"ship", "deliver", "complete", "cancel"}) expect_refused(id, move, "completed", {});

  // The list filters by the new statuses; the old ones are refused.
  auto listed = admin().get("/v1/admin/orders?status=completed");
  ASSERT_EQ(listed.status, 200u) << listed.body;
  EXPECT_EQ(listed.json()["items"][0]["id"], id);
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/orders?status=pending"), 400, "invalid_query"));
}

TEST_F(LifecycleTest, CashOnDeliveryShipsUnpaidAndCompletesOncePaid) {
  std::string id = place({{kSku, 1}}).value("id", "");
  ASSERT_EQ(act(id, "ship").status, 200u);
  ASSERT_EQ(act(id, "deliver").status, 200u);
  expect_refused(id, "complete", "delivered", {"mark_paid"});
  auto paid = act(id, "mark-paid");
  ASSERT_EQ(paid.status, 200u) << paid.body;
  EXPECT_EQ(paid.json()["status"], "delivered") << "paid on delivery: the status stays";
  EXPECT_EQ(paid.json()["payment"]["status"], "captured");
  EXPECT_EQ(act(id, "complete").json()["status"], "completed");
}

TEST_F(LifecycleTest, UnknownOrdersAndBadBodiesAreRefusedBeforeAnyMove) {
  for (const char* move : {"ship", "deliver", "complete", "cancel", "refunds", "returns"})
    EXPECT_TRUE(IsProblem(act("order_nope", move), 404, "order.not_found")) << move;
  std::string id = place({{kSku, 1}}).value("id", "");
  EXPECT_TRUE(IsProblem(act(id, "ship", {{"carrier", "sf"}}), 400, "validation_failed"));
  EXPECT_EQ(order(id)["status"], "placed");
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/orders/order_nope/timeline"), 404, "order.not_found"));
}

// The deprecated /fulfilment still works, through the same table.
TEST_F(LifecycleTest, TheDeprecatedFulfilmentRouteShipsAndDelivers) {
  std::string id = place({{kSku, 1}}).value("id", "");
  auto shipped = act(id, "fulfilment", {{"status", "fulfilled"}});
  ASSERT_EQ(shipped.status, 200u) << shipped.body;
  EXPECT_EQ(shipped.json()["status"], "shipped");
  EXPECT_TRUE(IsProblem(act(id, "fulfilment", {{"status", "fulfilled"}}), 409, "order.invalid_transition"));
  EXPECT_EQ(act(id, "fulfilment", {{"status", "delivered"}}).json()["status"], "delivered");
}

// ---------------------------------------------------------------------------------------------
// Cancellation

TEST_F(LifecycleTest, CancellingAPlacedOrderReleasesTheStockExactlyWhereItWasReserved) {
  auto before = levels();
  json placed = place({{kSku, 3}});
  std::string id = placed.value("id", "");
  auto reserved = levels();
  auto cancelled = act(id, "cancel", {{"reason", "customer changed their mind"}});
  ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
  EXPECT_EQ(cancelled.json()["status"], "cancelled");
  EXPECT_EQ(cancelled.json()["refunds"], json::array()) << "nothing was paid, nothing is refunded";
  EXPECT_EQ(levels(), before);
  json allocations = placed["allocations"].is_array() ? placed["allocations"] : order(id)["allocations"];
  std::map<std::string, std::int64_t> released;
  json rows = ledger(id);
  for (const auto& e : rows)
    if (e["reason"] == "release") released[e.value("location_id", "")] -= e.value("delta_reserved", std::int64_t{0});
  json held = order(id)["allocations"];
  std::map<std::string, std::int64_t> expected;
  for (const auto& a : held) expected[a.value("location_id", "")] += a.value("quantity", std::int64_t{0});
  EXPECT_EQ(released, expected);
  EXPECT_NE(reserved, before);
  for (const char* move : {"cancel", "ship", "mark-paid"}) expect_refused(id, move, "cancelled", {});
}

TEST_F(LifecycleTest, CancellingAPaidManualPaymentOrderRefundsItInFull) {
  HttpClient store = storefront(payment_channel("manual-web", "manual-payment"));
  json placed = place(store, {{kSku, 2}}, "manual-payment");
  std::string id = placed.value("id", "");
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  auto cancelled = act(id, "cancel", {{"reason", "out of stock"}});
  ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
  json o = cancelled.json();
  EXPECT_EQ(o["status"], "cancelled");
  ASSERT_EQ(o["refunds"].size(), 1u) << o.dump();
  EXPECT_EQ(o["refunds"][0]["status"], "succeeded");
  EXPECT_EQ(o["refunds"][0]["provider"], "manual-payment");
  EXPECT_EQ(o["refunds"][0]["amount"], money(2 * kPrice));
  EXPECT_EQ(o["refunds"][0]["reason"], "out of stock");
  EXPECT_EQ(o["refunded_total"], money(2 * kPrice));
  EXPECT_EQ(o["payment"]["status"], "refunded");
  // Nothing is left to refund.
  EXPECT_TRUE(IsProblem(act(id, "refunds", {{"amount", 1}, {"reason", "again"}}), 422, "refund.exceeds_refundable"));
}

TEST_F(LifecycleTest, CancellingAPaidCardOrderRefundsAtTheGateway) {
  HttpClient store = storefront(payment_channel("card-web", "card-gateway"));
  json paid = paid_card_order(store);
  std::string id = paid.value("id", "");
  ASSERT_FALSE(HasFailure());
  auto cancelled = act(id, "cancel");
  ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
  json o = cancelled.json();
  ASSERT_EQ(o["refunds"].size(), 1u) << o.dump();
  json refund = o["refunds"][0];
  EXPECT_EQ(refund["status"], "succeeded");
  EXPECT_EQ(refund["amount"], money(2 * kPrice));
  EXPECT_EQ(o["payment"]["status"], "refunded");
  // The gateway saw one refund, authenticated, keyed by the refund's id, for the whole amount.
  auto asked = gateway_requests("POST", "/refunds");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].header("authorization"), std::string("Bearer ") + kApiKey);
  EXPECT_EQ(asked[0].header("idempotency-key"), refund.value("id", ""));
  EXPECT_EQ(json::parse(asked[0].body)["amount"], 2 * kPrice);
  ASSERT_EQ(gateway().intents().size(), 1u);
  ASSERT_EQ(gateway().intents()[0].refunds.size(), 1u);
  EXPECT_EQ(refund["provider_reference"], gateway().intents()[0].refunds[0]["id"]);
}

// ---------------------------------------------------------------------------------------------
// Refunds

TEST_F(LifecycleTest, PartialRefundsByAmountAndByLineNeverExceedTheCapture) {
  HttpClient store = storefront(payment_channel("card-partial", "card-gateway"));
  json paid = paid_card_order(store, 3);
  std::string id = paid.value("id", "");
  ASSERT_FALSE(HasFailure());
  std::string line_id = paid["lines"][0].value("id", "");
  const std::int64_t total = 3 * kPrice;

  auto by_amount = admin().request("POST", "/v1/admin/orders/" + id + "/refunds",
                                   json{{"amount", 1000}, {"reason", "late delivery"}}.dump(),
                                   {{"Idempotency-Key", "refund-1"}, {"Content-Type", "application/json"}});
  ASSERT_EQ(by_amount.status, 201u) << by_amount.body;
  EXPECT_EQ(by_amount.json()["refund"]["amount"], money(1000));
  EXPECT_EQ(by_amount.json()["order"]["payment"]["status"], "partially_refunded");
  // The same key again: the first reply, no second refund.
  auto replay = admin().request("POST", "/v1/admin/orders/" + id + "/refunds",
                                json{{"amount", 1000}, {"reason", "late delivery"}}.dump(),
                                {{"Idempotency-Key", "refund-1"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(replay.status, 201u);
  EXPECT_EQ(replay.body, by_amount.body);

  auto by_line = act(id, "refunds", {{"lines", {{{"line_id", line_id}, {"quantity", 1}}}}, {"reason", "damaged"}});
  ASSERT_EQ(by_line.status, 201u) << by_line.body;
  EXPECT_EQ(by_line.json()["refund"]["amount"], money(kPrice));
  EXPECT_EQ(by_line.json()["refund"]["lines"], (json{{{"line_id", line_id}, {"quantity", 1}}}));
  EXPECT_EQ(by_line.json()["order"]["refunded_total"], money(1000 + kPrice));

  // More than what is left: 422 with the refundable amount, and nothing changes anywhere.
  const std::int64_t left = total - 1000 - kPrice;
  json before = order(id);
  auto too_much = act(id, "refunds", {{"amount", left + 1}, {"reason", "too much"}});
  EXPECT_TRUE(IsProblem(too_much, 422, "refund.exceeds_refundable"));
  EXPECT_EQ(json::parse(too_much.body)["refundable"], money(left)) << too_much.body;
  EXPECT_TRUE(IsProblem(act(id, "refunds", {{"lines", {{{"line_id", line_id}, {"quantity", 3}}}}, {"reason", "all"}}),
                        400, "validation_failed"))
      << "one unit of the three was refunded by line already";
  json after = order(id);
  EXPECT_EQ(after["refunds"], before["refunds"]);
  EXPECT_EQ(after["events"].size(), before["events"].size());
  EXPECT_EQ(gateway_requests("POST", "/refunds").size(), 2u);

  // The rest, exactly: refunded.
  auto rest = act(id, "refunds", {{"amount", left}, {"reason", "goodwill"}});
  ASSERT_EQ(rest.status, 201u) << rest.body;
  EXPECT_EQ(rest.json()["order"]["payment"]["status"], "refunded");
  EXPECT_EQ(rest.json()["order"]["refunded_total"], money(total));
  EXPECT_EQ(rest.json()["order"]["status"], "paid") << "refunds change the money, not the status";
}

TEST_F(LifecycleTest, RefundRequestsAreValidatedAndNeedACapturedPayment) {
  std::string id = place({{kSku, 1}}).value("id", "");
  EXPECT_TRUE(IsProblem(act(id, "refunds", {{"amount", 100}, {"reason", "x"}}), 409, "order.not_refundable"));
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  std::string line_id = order(id)["lines"][0].value("id", "");
  for (const json& bad : {json{{"reason", "no amount"}}, json{{"amount", 0}, {"reason", "zero"}},
                          json{{"amount", -5}, {"reason", "negative"}}, json{{"amount", 100}},
                          json{{"amount", 100}, {"lines", {{{"line_id", line_id}, {"quantity", 1}}}}, {"reason", "both"}},
                          json{{"lines", {{{"line_id", "nope"}, {"quantity", 1}}}}, {"reason", "unknown line"}},
                          json{{"lines", {{{"line_id", line_id}, {"quantity", 0}}}}, {"reason", "no units"}},
                          json{{"amount", "100"}, {"reason", "string"}}, json{{"amount", 1}, {"reason", "x"}, {"extra", 1}}})
    EXPECT_TRUE(IsProblem(act(id, "refunds", bad), 400, "validation_failed")) << bad.dump();
  EXPECT_EQ(order(id)["refunds"], json::array());
  // Paid without a provider (marked paid): recorded as refunded outside Quanqu, at once.
  auto r = act(id, "refunds", {{"amount", 500}, {"reason", "price match"}});
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.json()["refund"]["status"], "succeeded");
  EXPECT_TRUE(r.json()["refund"]["provider"].is_null());
}

TEST_F(LifecycleTest, ARefundTheGatewayFailsIsRecordedFailedAndCountsNoMore) {
  HttpClient store = storefront(payment_channel("card-refuse", "card-gateway"));
  json paid = paid_card_order(store, 1);
  std::string id = paid.value("id", "");
  ASSERT_FALSE(HasFailure());
  gateway().set_refund_status("failed");
  EXPECT_TRUE(IsProblem(act(id, "refunds", {{"amount", 500}, {"reason", "scratch"}}), 422, "payment.refund_failed"));
  json o = order(id);
  ASSERT_EQ(o["refunds"].size(), 1u) << o.dump();
  EXPECT_EQ(o["refunds"][0]["status"], "failed");
  EXPECT_EQ(o["refunded_total"], money(0));
  EXPECT_EQ(o["payment"]["status"], "captured");
  // A failed refund does not count: the whole amount can still be refunded.
  gateway().set_refund_status("succeeded");
  auto all = act(id, "refunds", {{"amount", kPrice}, {"reason", "all"}});
  ASSERT_EQ(all.status, 201u) << all.body;
  EXPECT_EQ(all.json()["order"]["payment"]["status"], "refunded");
  // Nothing is left: refused before the gateway is asked.
  EXPECT_TRUE(IsProblem(act(id, "refunds", {{"amount", 1}, {"reason", "more"}}), 422, "refund.exceeds_refundable"));
  EXPECT_EQ(gateway_requests("POST", "/refunds").size(), 2u);
}

TEST_F(LifecycleTest, APendingRefundIsAskedAgainWithTheSameKey) {
  HttpClient store = storefront(payment_channel("card-pending", "card-gateway"));
  json paid = paid_card_order(store, 1);
  std::string id = paid.value("id", "");
  ASSERT_FALSE(HasFailure());
  gateway().set_refund_status("pending");
  auto asked = act(id, "refunds", {{"amount", 700}, {"reason", "scratch"}});
  ASSERT_EQ(asked.status, 202u) << asked.body;
  std::string refund_id = asked.json()["refund"].value("id", "");
  EXPECT_EQ(asked.json()["refund"]["status"], "pending");
  // A pending refund counts against what is left.
  auto too_much = act(id, "refunds", {{"amount", kPrice - 699}, {"reason", "more"}});
  EXPECT_TRUE(IsProblem(too_much, 422, "refund.exceeds_refundable"));
  auto again = act(id, "refunds/" + refund_id + "/retry");
  ASSERT_EQ(again.status, 202u) << again.body;
  auto keys = gateway_requests("POST", "/refunds");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].header("idempotency-key"), refund_id);
  EXPECT_EQ(keys[1].header("idempotency-key"), refund_id);
  ASSERT_EQ(gateway().intents()[0].refunds.size(), 1u) << "the same key never refunds twice";
  EXPECT_TRUE(IsProblem(act(id, "refunds/ref_nope/retry"), 404, "refund.not_found"));
}

// ---------------------------------------------------------------------------------------------
// Returns

TEST_F(LifecycleTest, ReturnsRestockToTheChosenLocationOrWriteOff) {
  json placed = place({{kSku, 3}});
  std::string id = placed.value("id", "");
  std::string line_id = placed["lines"][0].value("id", "");
  json lines1 = {{{"line_id", line_id}, {"quantity", 1}}};
  // Nothing shipped yet: nothing to return.
  auto early = act(id, "returns", {{"lines", lines1}, {"restock", false}});
  EXPECT_TRUE(IsProblem(early, 409, "order.not_returnable"));
  EXPECT_EQ(json::parse(early.body)["current_status"], "placed");
  ASSERT_EQ(act(id, "ship").status, 200u);

  json locations = demo_location_ids();
  std::string store_loc = locations[1].get<std::string>();
  auto before = levels();
  auto restocked = act(id, "returns", {{"lines", lines1}, {"restock", true}, {"location_id", store_loc},
                                       {"reason", "wrong size"}});
  ASSERT_EQ(restocked.status, 201u) << restocked.body;
  EXPECT_EQ(restocked.json()["return"]["restock"], true);
  EXPECT_EQ(restocked.json()["return"]["location_id"], store_loc);
  EXPECT_EQ(restocked.json()["order"]["status"], "shipped") << "a return is not a move";
  auto after = levels();
  EXPECT_EQ(after[store_loc].first, before[store_loc].first + 1);
  int return_rows = 0;
  json rows = ledger(id);
  for (const auto& e : rows)
    if (e["reason"] == "return") {
      ++return_rows;
      EXPECT_EQ(e["location_id"], store_loc);
      EXPECT_EQ(e["delta_on_hand"], 1);
    }
  EXPECT_EQ(return_rows, 1);

  // Damaged: not restocked, no stock moves.
  auto written_off = act(id, "returns", {{"lines", lines1}, {"restock", false}, {"reason", "damaged"}});
  ASSERT_EQ(written_off.status, 201u) << written_off.body;
  EXPECT_TRUE(written_off.json()["return"]["location_id"].is_null());
  EXPECT_EQ(levels(), after);

  // Never more than was bought: one unit is left.
  EXPECT_TRUE(IsProblem(act(id, "returns", {{"lines", {{{"line_id", line_id}, {"quantity", 2}}}}, {"restock", false}}),
                        400, "validation_failed"));
  EXPECT_TRUE(IsProblem(act(id, "returns", {{"lines", lines1}, {"restock", true}}), 400, "validation_failed"))
      << "restock needs a location";
  EXPECT_TRUE(IsProblem(act(id, "returns", {{"lines", lines1}, {"restock", true}, {"location_id", "loc_nope"}}), 400,
                        "validation_failed"));
  EXPECT_EQ(order(id)["returns"].size(), 2u);
}

TEST_F(LifecycleTest, AReturnCanRefundItsLines) {
  HttpClient store = storefront(payment_channel("manual-returns", "manual-payment"));
  json placed = place(store, {{kSku, 2}}, "manual-payment");
  std::string id = placed.value("id", "");
  std::string line_id = placed["lines"][0].value("id", "");
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  ASSERT_EQ(act(id, "ship").status, 200u);
  ASSERT_EQ(act(id, "deliver").status, 200u);
  auto r = act(id, "returns", {{"lines", {{{"line_id", line_id}, {"quantity", 1}}}}, {"restock", false}, {"refund", true}});
  ASSERT_EQ(r.status, 201u) << r.body;
  json o = r.json()["order"];
  ASSERT_EQ(o["refunds"].size(), 1u);
  EXPECT_EQ(o["refunds"][0]["amount"], money(kPrice));
  EXPECT_EQ(o["refunds"][0]["status"], "succeeded");
  EXPECT_EQ(o["refunds"][0]["return_id"], r.json()["return"]["id"]);
  EXPECT_EQ(r.json()["return"]["refund_id"], o["refunds"][0]["id"]);
  EXPECT_EQ(o["payment"]["status"], "partially_refunded");
  EXPECT_EQ(act(id, "complete").json()["status"], "completed");
}

// ---------------------------------------------------------------------------------------------
// Timeline

TEST_F(LifecycleTest, TheTimelineListsEveryEventWithWhoDidIt) {
  std::string id = place({{kSku, 1}}).value("id", "");
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  ASSERT_EQ(act(id, "ship").status, 200u);
  ASSERT_EQ(act(id, "refunds", {{"amount", 100}, {"reason", "scratch"}}).status, 201u);
  auto r = admin().get("/v1/admin/orders/" + id + "/timeline");
  ASSERT_EQ(r.status, 200u) << r.body;
  json items = r.json()["items"];
  std::vector<std::string> types;
  for (const auto& e : items) types.push_back(e.value("type", ""));
  EXPECT_EQ(types, (std::vector<std::string>{"order.placed", "order.paid", "order.shipped", "order.refund_requested",
                                             "order.refunded"}));
  // The guest placed it; the admin did the rest, named by its key's id and never by the key.
  EXPECT_EQ(items[0]["actor"], (json{{"type", "customer"}, {"id", nullptr}}));
  std::string key_id;
  for (std::size_t i = 1; i < items.size(); ++i) {
    EXPECT_EQ(items[i]["actor"]["type"], "admin") << items[i].dump();
    ASSERT_TRUE(items[i]["actor"]["id"].is_string()) << items[i].dump();
    if (key_id.empty()) key_id = items[i]["actor"]["id"];
    EXPECT_EQ(items[i]["actor"]["id"], key_id);
  }
  EXPECT_EQ(key_id.rfind("key_", 0), 0u) << key_id;
  EXPECT_EQ(r.body.find(server().admin_key()), std::string::npos) << "the admin key itself never shows";
  // Oldest first.
  for (std::size_t i = 1; i < items.size(); ++i)
    EXPECT_LE(items[i - 1].value("at", ""), items[i].value("at", ""));
  EXPECT_EQ(items[3]["data"]["amount"], money(100));
}

// ---------------------------------------------------------------------------------------------
// The pickup branch, with a payment step

TEST_F(LifecycleTest, APaidPickupOrderIsMadeReadyPickedUpWithItsCodeAndCompleted) {
  HttpClient store = storefront(payment_channel("manual-pickup", "manual-payment"));
  auto [placed, code] = place_pickup(store, "manual-payment");
  std::string id = placed.value("id", "");
  ASSERT_EQ(code.size(), 6u) << placed.dump();
  // Authorised, not paid: not ready yet, and a pickup order never ships.
  EXPECT_EQ(order(id)["allowed_moves"], (json{"mark_paid", "cancel"}));
  for (const char* move : {"ready-for-pickup", "ship"}) expect_refused(id, move, "placed", {"mark_paid", "cancel"});
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  EXPECT_EQ(order(id)["allowed_moves"], (json{"ready_for_pickup", "cancel"}));

  auto ready = act(id, "ready-for-pickup");
  ASSERT_EQ(ready.status, 200u) << ready.body;
  EXPECT_EQ(ready.json()["status"], "ready_for_pickup");
  EXPECT_EQ(ready.json()["allowed_moves"], (json{"pickup", "cancel"}));
  for (const char* move : {"ship", "complete", "ready-for-pickup"})
    expect_refused(id, move, "ready_for_pickup", {"pickup", "cancel"});

  auto before = levels();
  auto picked = act(id, "pickup", {{"code", code}});
  ASSERT_EQ(picked.status, 200u) << picked.body;
  EXPECT_EQ(picked.json()["status"], "picked_up");
  EXPECT_EQ(picked.json()["allowed_moves"], (json{"complete"}));
  std::string jingan = location_id("store-shanghai-jingan");
  auto after = levels();
  EXPECT_EQ(after[jingan].first, before[jingan].first - 1);
  EXPECT_EQ(after[jingan].second, before[jingan].second - 1);
  expect_refused(id, "cancel", "picked_up", {"complete"});

  auto completed = act(id, "complete");
  ASSERT_EQ(completed.status, 200u) << completed.body;
  EXPECT_EQ(completed.json()["status"], "completed");
  std::vector<std::string> types;
  json timeline = admin().get("/v1/admin/orders/" + id + "/timeline").json();
  for (const auto& e : timeline["items"]) types.push_back(e.value("type", ""));
  EXPECT_EQ(types, (std::vector<std::string>{"order.placed", "order.paid", "order.ready_for_pickup",
                                             "order.picked_up", "order.completed"}));
  // Picked-up goods can come back like shipped ones; the store may be named by its code, as
  // everywhere else in the admin API.
  json line = completed.json()["lines"][0];
  json lines = json::array({json{{"line_id", line["id"]}, {"quantity", 1}}});
  auto returned = act(id, "returns", {{"lines", lines}, {"restock", true}, {"location_id", "store-shanghai-jingan"}});
  EXPECT_EQ(returned.status, 201u) << returned.body;
  EXPECT_EQ(returned.json()["return"]["location_id"], jingan) << returned.body;
}

TEST_F(LifecycleTest, CancellingAReadyPaidPickupOrderReleasesItsStockAndRefundsIt) {
  HttpClient store = storefront(payment_channel("manual-pickup", "manual-payment"));
  auto [placed, code] = place_pickup(store, "manual-payment", 2);
  std::string id = placed.value("id", "");
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  ASSERT_EQ(act(id, "ready-for-pickup").status, 200u);
  std::string jingan = location_id("store-shanghai-jingan");
  auto before = levels();
  auto cancelled = act(id, "cancel", {{"reason", "the shopper will not come"}});
  ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
  json o = cancelled.json();
  EXPECT_EQ(o["status"], "cancelled");
  ASSERT_EQ(o["refunds"].size(), 1u) << o.dump();
  EXPECT_EQ(o["refunds"][0]["status"], "succeeded");
  EXPECT_EQ(o["refunds"][0]["amount"], money(2 * kPrice));
  EXPECT_EQ(o["payment"]["status"], "refunded");
  auto after = levels();
  EXPECT_EQ(after[jingan].first, before[jingan].first);
  EXPECT_EQ(after[jingan].second, before[jingan].second - 2);
  EXPECT_TRUE(IsProblem(act(id, "pickup", {{"code", code}}), 409, "order.invalid_transition"));
}

// One hold hour lasts 100 ms here (--pickup-hold-hour-ms), so a one-hour hold ends at once.
class LifecyclePickupExpiryTest : public LifecycleTest {
 protected:
  std::vector<std::string> extra_args() const override {
    auto args = LifecycleTest::extra_args();
    args.insert(args.end(), {"--pickup-hold-hour-ms", "100"});
    return args;
  }
};

TEST_F(LifecyclePickupExpiryTest, AnUncollectedPaidPickupOrderIsCancelledByTheJobAndRefunded) {
  HttpClient store = storefront(payment_channel("manual-pickup", "manual-payment"));
  std::string jingan = location_id("store-shanghai-jingan");
  ASSERT_EQ(admin().patch("/v1/admin/stock-locations/" + jingan, {{"pickup_hold_hours", 1}}).status, 200u);
  auto [placed, code] = place_pickup(store, "manual-payment");
  std::string id = placed.value("id", "");
  ASSERT_EQ(act(id, "mark-paid").status, 200u);
  ASSERT_EQ(act(id, "ready-for-pickup").status, 200u);
  json o;
  for (int i = 0; i < 100; ++i) {
    o = order(id);
    // The refund and the payment status change in one transaction, but a read of the order runs
    // its queries outside a transaction (Database::read), so on PostgreSQL it may see the refund
    // before the payment status: wait for both.
    if (o.value("status", "") == "cancelled" && !o["refunds"].empty() && o["refunds"][0]["status"] == "succeeded" &&
        o["payment"].value("status", "") == "refunded")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(o["status"], "cancelled") << o.dump();
  ASSERT_EQ(o["refunds"].size(), 1u) << o.dump();
  EXPECT_EQ(o["refunds"][0]["status"], "succeeded");
  EXPECT_EQ(o["refunds"][0]["reason"], "pickup_expired");
  EXPECT_EQ(o["refunds"][0]["actor"]["type"], "job");
  EXPECT_EQ(o["payment"]["status"], "refunded");
  json timeline = admin().get("/v1/admin/orders/" + id + "/timeline").json();
  bool cancelled_by_job = false;
  for (const auto& e : timeline["items"])
    if (e.value("type", "") == "order.cancelled") cancelled_by_job = e["actor"]["type"] == "job";
  EXPECT_TRUE(cancelled_by_job) << timeline.dump();
}

}  // namespace
