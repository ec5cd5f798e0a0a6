// Checkout with payment providers end to end: the manual-payment and card-gateway reference plugins, a fake gateway, signed webhooks.
#include "support/fake_gateway.h"
#include "support/payment_fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::FakeGateway;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PaymentProvidersTest;

// A demo product: 129.00 CNY, 13 % VAT included, stock at the three demo locations.
const char* kSku = "TEE-ORGANIC-NAVY-S";
const char* kHandle = "organic-cotton-tee";
constexpr std::int64_t kPrice = 12900;
const char* kApiKey = "sk_test_4f9a7c1e2b";
const char* kWebhookSecret = "whsec_0123456789abcdef0123";

using quanqu::e2e::kAddress;
using quanqu::e2e::money;

// How many of the order's events have this type.
int count_events(const json& order, const std::string& type) {
  int n = 0;
  for (const auto& e : order.value("events", json::array()))
    if (e.value("type", "") == type) ++n;
  return n;
}

// The `field` values of a problem's "errors".
std::set<std::string> error_fields(const HttpResponse& r) {
  std::set<std::string> out;
  json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("errors")) return out;
  for (const auto& e : body["errors"]) out.insert(e.value("field", ""));
  return out;
}

struct Channel {
  std::string id;
  std::string key;  // publishable
};

// Just the two payment plugins in a temp --plugins-dir, and a gateway listening before the server starts.
class PaymentsTest : public PaymentProvidersTest {
 protected:
  PaymentsTest() : PaymentProvidersTest({kApiKey, kWebhookSecret}) {}

  // POST /v1/admin/channels with the test's common fields plus `extra`.
  HttpResponse post_channel(const std::string& code, const json& extra) {
    json body{{"code", code},
              {"name", "Channel " + code},
              {"type", "web"},
              {"currency", "CNY"},
              {"tax_rate_bp", 1300},
              {"tax_inclusive", true},
              {"location_ids", demo_location_ids()}};
    body.update(extra);
    return admin().post("/v1/admin/channels", body);
  }

  // A channel with the demo tee published and a publishable key.
  Channel create_channel(const std::string& code, const json& extra) {
    Channel c;
    auto created = post_channel(code, extra);
    EXPECT_EQ(created.status, 201u) << created.body;
    if (created.status != 201u) return c;
    c.id = created.json().value("id", "");
    c.key = open_storefront(c.id, {kHandle}, "Storefront " + code);
    return c;
  }

  Channel manual_channel(const std::string& code = "manual-web") {
    return create_channel(code, {{"payment_providers", {"manual-payment"}}});
  }

  Channel card_channel(const std::string& code = "card-web", std::string base_url = "") {
    if (base_url.empty()) base_url = gateway().base_url();
    return create_channel(code, {{"payment_providers", {"card-gateway"}},
                                 {"provider_config", {{"card-gateway", card_gateway_config(base_url)}}}});
  }


  // A cart with `quantity` demo tees, an email and a shipping address; returns its id.
  std::string new_cart(HttpClient& store, int quantity = 2) {
    auto r = store.post("/v1/store/carts", {{"email", "li.lei@example.cn"},
                                            {"shipping_address", kAddress},
                                            {"items", {{{"sku", kSku}, {"quantity", quantity}}}}});
    EXPECT_EQ(r.status, 201u) << r.body;
    EXPECT_EQ(r.json()["totals"]["total"], money(quantity * kPrice)) << r.body;
    return r.json().value("id", "");
  }

  HttpResponse start_session(HttpClient& store, const std::string& cart_id, const std::string& provider) {
    return store.post("/v1/store/carts/" + cart_id + "/payment-sessions", {{"provider", provider}});
  }

  HttpResponse checkout(HttpClient& store, const std::string& cart_id, const std::string& key) {
    return store.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                         {{"Idempotency-Key", key}});
  }

  // Units of the demo tee reserved over all locations.
  std::int64_t reserved() {
    auto r = admin().get(std::string("/v1/admin/inventory-levels?sku=") + kSku);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::int64_t n = 0;
    for (const auto& l : r.json().value("items", json::array())) n += l.value("reserved", std::int64_t{0});
    return n;
  }

  json admin_order(const std::string& id) {
    auto r = admin().get("/v1/admin/orders/" + id);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }

  HttpResponse webhook(const std::string& channel_id, const FakeGateway::Webhook& w, std::string* event_id = nullptr) {
    return gateway().send_webhook("127.0.0.1", server().port(), channel_id, w, event_id);
  }

  // The requests the fake gateway received with this method and path.
  std::vector<FakeGateway::Received> gateway_requests(const std::string& method, const std::string& target) {
    std::vector<FakeGateway::Received> out;
    for (auto& r : gateway().requests())
      if (r.method == method && r.target == target) out.push_back(r);
    return out;
  }

  // A card-gateway order, authorised and pending: session, confirm, checkout.
  struct CardOrder {
    std::string cart_id, session_id, intent_id, order_id;
  };
  CardOrder place_card_order(HttpClient& store, const std::string& idempotency_key) {
    CardOrder o;
    o.cart_id = new_cart(store);
    auto session = start_session(store, o.cart_id, "card-gateway");
    EXPECT_EQ(session.status, 201u) << session.body;
    o.session_id = session.json().value("id", "");
    o.intent_id = session.json().value("reference", "");
    EXPECT_TRUE(gateway().confirm(o.intent_id)) << session.body;
    auto placed = checkout(store, o.cart_id, idempotency_key);
    EXPECT_EQ(placed.status, 201u) << placed.body;
    o.order_id = placed.json().value("id", "");
    EXPECT_EQ(placed.json()["payment"]["status"], "authorized") << placed.body;
    return o;
  }

  // Waits (at most about a second) until the wall clock is in the first half of a second.
  static bool early_in_a_second() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < deadline) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count() % 1000;
      if (ms < 500) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // The order is still as checkout left it: pending, authorised, never paid.
  void expect_untouched(const std::string& order_id) {
    json o = admin_order(order_id);
    EXPECT_EQ(o["status"], "placed") << o.dump();
    EXPECT_EQ(o["payment"]["status"], "authorized") << o.dump();
    EXPECT_EQ(count_events(o, "order.paid"), 0) << o.dump();
  }

  // The order is paid, its payment captured, and order.paid recorded exactly once.
  void expect_paid_once(const std::string& order_id) {
    json o = admin_order(order_id);
    EXPECT_EQ(o["status"], "paid") << o.dump();
    EXPECT_EQ(o["payment"]["status"], "captured") << o.dump();
    EXPECT_EQ(count_events(o, "order.paid"), 1) << o.dump();
  }
};

// ---------------------------------------------------------------------------------------------
// manual-payment

TEST_F(PaymentsTest, ManualPaymentAuthorisesAtOnceAndMarkPaidCaptures) {
  Channel channel = manual_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);
  ASSERT_FALSE(cart_id.empty());

  // No session yet: checkout is refused before anything is reserved.
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "manual-1"), 422, "checkout.payment_required"));
  EXPECT_EQ(reserved(), 0);
  EXPECT_EQ(store.get("/v1/store/carts/" + cart_id).json()["status"], "open");

  auto session = start_session(store, cart_id, "manual-payment");
  ASSERT_EQ(session.status, 201u) << session.body;
  json s = session.json();
  std::string session_id = s.value("id", "");
  EXPECT_EQ(s["status"], "authorized");
  EXPECT_EQ(s["provider"], "manual-payment");
  EXPECT_EQ(s["cart_id"], cart_id);
  EXPECT_EQ(s["channel_id"], channel.id);
  EXPECT_EQ(s["amount"], money(2 * kPrice));
  EXPECT_EQ(s["reference"], "manual_" + session_id);
  EXPECT_EQ(s["data"]["instructions"], "Pay on delivery.") << "the schema's default reaches the plugin";
  EXPECT_TRUE(s["order_id"].is_null());

  // The same key that was refused works now: a refusal stores nothing.
  auto placed = checkout(store, cart_id, "manual-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  json order = placed.json();
  std::string order_id = order.value("id", "");
  EXPECT_EQ(order["status"], "placed");
  EXPECT_EQ(order["payment"]["status"], "authorized");
  EXPECT_EQ(order["payment"]["provider"], "manual-payment");
  EXPECT_EQ(order["payment"]["session_id"], session_id);
  EXPECT_EQ(order["totals"]["total"], money(2 * kPrice));
  EXPECT_EQ(reserved(), 2);
  EXPECT_EQ(count_events(order, "order.paid"), 0);

  auto sessions = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
  ASSERT_EQ(sessions.status, 200u) << sessions.body;
  ASSERT_EQ(sessions.json()["items"].size(), 1u) << sessions.body;
  EXPECT_EQ(sessions.json()["items"][0]["order_id"], order_id);

  auto paid = admin().post("/v1/admin/orders/" + order_id + "/mark-paid", json::object());
  ASSERT_EQ(paid.status, 200u) << paid.body;
  EXPECT_EQ(paid.json()["status"], "paid");
  EXPECT_EQ(paid.json()["payment"]["status"], "captured");
  EXPECT_EQ(count_events(paid.json(), "order.paid"), 1) << paid.body;

  json reread = admin_order(order_id);
  EXPECT_EQ(reread["status"], "paid");
  EXPECT_EQ(reread["payment"]["status"], "captured");
  EXPECT_EQ(count_events(reread, "order.paid"), 1) << reread.dump();
  auto after = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
  ASSERT_EQ(after.status, 200u);
  EXPECT_EQ(after.json()["items"][0]["status"], "captured") << after.body;
  EXPECT_EQ(after.json()["items"][0]["data"]["instructions"], "Pay on delivery.") << after.body;

  // Marking it paid again changes nothing: still one order.paid.
  auto again = admin().post("/v1/admin/orders/" + order_id + "/mark-paid", json::object());
  EXPECT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(count_events(admin_order(order_id), "order.paid"), 1);
}

TEST_F(PaymentsTest, AProviderTheChannelDoesNotOfferIsRefused) {
  Channel channel = manual_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);

  // Loaded, but not offered by this channel; and not a provider at all.
  for (const char* provider : {"card-gateway", "no-such-provider"}) {
    SCOPED_TRACE(provider);
    auto r = start_session(store, cart_id, provider);
    EXPECT_TRUE(IsProblem(r, 400, "payment.provider_not_offered"));
    EXPECT_EQ(error_fields(r), std::set<std::string>{"provider"}) << r.body;
  }
  // The demo channel takes no payment step at all.
  std::string demo_cart = new_cart(this->store());
  EXPECT_TRUE(IsProblem(start_session(this->store(), demo_cart, "manual-payment"), 400, "payment.provider_not_offered"));

  auto sessions = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
  ASSERT_EQ(sessions.status, 200u) << sessions.body;
  EXPECT_TRUE(sessions.json()["items"].empty()) << sessions.body;
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "not-offered"), 422, "checkout.payment_required"));
  EXPECT_EQ(reserved(), 0);
}

TEST_F(PaymentsTest, ACartChangedAfterItsSessionNeedsANewSession) {
  Channel channel = manual_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);
  auto first = start_session(store, cart_id, "manual-payment");
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_EQ(first.json()["amount"], money(2 * kPrice));

  auto added = store.post("/v1/store/carts/" + cart_id + "/items", {{"sku", kSku}, {"quantity", 1}});
  ASSERT_EQ(added.status, 200u) << added.body;
  ASSERT_EQ(added.json()["totals"]["total"], money(3 * kPrice));

  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "changed-1"), 422, "payment.amount_changed"));
  EXPECT_EQ(reserved(), 0);
  EXPECT_EQ(store.get("/v1/store/carts/" + cart_id).json()["status"], "open");

  // A new session for the new total lets checkout through, for that total.
  auto second = start_session(store, cart_id, "manual-payment");
  ASSERT_EQ(second.status, 201u) << second.body;
  EXPECT_EQ(second.json()["amount"], money(3 * kPrice));
  auto placed = checkout(store, cart_id, "changed-2");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  EXPECT_EQ(placed.json()["totals"]["total"], money(3 * kPrice));
  EXPECT_EQ(placed.json()["payment"]["session_id"], second.json()["id"]);
  EXPECT_EQ(reserved(), 3);
}

// ---------------------------------------------------------------------------------------------
// card-gateway: configuration

TEST_F(PaymentsTest, CardGatewayConfigIsValidatedAgainstItsManifest) {
  // No base_url, a 5-character secret, a short API key.
  auto bad = post_channel("card-bad", {{"payment_providers", {"card-gateway"}},
                                       {"provider_config", {{"card-gateway", {{"api_key", "short"},
                                                                              {"webhook_secret", "tiny!"}}}}}});
  ASSERT_TRUE(IsProblem(bad, 400, "validation_failed")) << bad.body;
  EXPECT_EQ(error_fields(bad),
            (std::set<std::string>{"provider_config.card-gateway.base_url", "provider_config.card-gateway.api_key",
                                   "provider_config.card-gateway.webhook_secret"}))
      << bad.body;

  // A base_url that is not an http(s) URL, and a field the schema does not know.
  auto not_url = post_channel("card-bad", {{"payment_providers", {"card-gateway"}},
                                           {"provider_config",
                                            {{"card-gateway", {{"base_url", "ftp://gateway.example"},
                                                               {"api_key", kApiKey},
                                                               {"webhook_secret", kWebhookSecret},
                                                               {"sandbox", true}}}}}});
  ASSERT_TRUE(IsProblem(not_url, 400, "validation_failed")) << not_url.body;
  EXPECT_EQ(error_fields(not_url),
            (std::set<std::string>{"provider_config.card-gateway.base_url", "provider_config.card-gateway.sandbox"}))
      << not_url.body;

  // No config at all: every required field is named.
  auto none = post_channel("card-bad", {{"payment_providers", {"card-gateway"}}});
  ASSERT_TRUE(IsProblem(none, 400, "validation_failed")) << none.body;
  EXPECT_EQ(error_fields(none),
            (std::set<std::string>{"provider_config.card-gateway.base_url", "provider_config.card-gateway.api_key",
                                   "provider_config.card-gateway.webhook_secret"}))
      << none.body;

  // None of them created a channel.
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/channels/card-bad"), 404, "channel.not_found"));
}

// The admin API must not echo secrets back: redact_config masks the properties the manifest marks
// "writeOnly": true, so card-gateway's api_key and webhook_secret need that mark.
TEST_F(PaymentsTest, CardGatewaySecretsAreRedactedInAdminReplies) {
  auto created =
      post_channel("card-web", {{"payment_providers", {"card-gateway"}},
                                {"provider_config", {{"card-gateway", card_gateway_config(gateway().base_url())}}}});
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string id = created.json().value("id", "");
  auto got = admin().get("/v1/admin/channels/" + id);
  ASSERT_EQ(got.status, 200u) << got.body;
  auto list = admin().get("/v1/admin/channels");
  ASSERT_EQ(list.status, 200u) << list.body;

  for (const HttpResponse* r : {&created, &got}) {
    json shown = r->json()["provider_config"]["card-gateway"];
    EXPECT_EQ(shown["base_url"], gateway().base_url()) << r->body;
    EXPECT_EQ(shown["api_key"], "********") << r->body;
    EXPECT_EQ(shown["webhook_secret"], "********") << r->body;
  }
  for (const HttpResponse* r : {&created, &got, &list}) {
    EXPECT_EQ(r->body.find(kApiKey), std::string::npos) << "the API key is echoed: " << r->body;
    EXPECT_EQ(r->body.find(kWebhookSecret), std::string::npos) << "the webhook secret is echoed: " << r->body;
  }
}

// A provider the merchant stops offering takes its config with it: the plugin no longer has one
// for the channel, so its webhook route refuses the channel.
TEST_F(PaymentsTest, AProviderDroppedFromTheChannelLosesItsConfig) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  auto patched = admin().patch("/v1/admin/channels/" + channel.id, {{"payment_providers", json::array()}});
  ASSERT_EQ(patched.status, 200u) << patched.body;
  EXPECT_TRUE(patched.json()["payment_providers"].empty()) << patched.body;
  EXPECT_FALSE(patched.json()["provider_config"].contains("card-gateway")) << patched.body;
  EXPECT_TRUE(IsProblem(webhook(channel.id, {.intent_id = "pi_whatever"}), 404, "card-gateway.unknown_channel"));
}

// ---------------------------------------------------------------------------------------------
// card-gateway: the payment flow

TEST_F(PaymentsTest, CardGatewayFromIntentToSignedCaptureWebhook) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);

  // The session creates an intent at the gateway and hands the storefront its client secret.
  auto session = start_session(store, cart_id, "card-gateway");
  ASSERT_EQ(session.status, 201u) << session.body;
  json s = session.json();
  std::string session_id = s.value("id", "");
  std::string intent_id = s.value("reference", "");
  EXPECT_EQ(s["status"], "pending");
  EXPECT_EQ(s["provider"], "card-gateway");
  EXPECT_EQ(s["amount"], money(2 * kPrice));
  EXPECT_EQ(s["data"]["intent_id"], intent_id);
  ASSERT_TRUE(s["data"]["client_secret"].is_string()) << session.body;
  EXPECT_FALSE(s["data"]["client_secret"].get<std::string>().empty());

  auto creates = gateway_requests("POST", "/v1/payment_intents");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].header("authorization"), std::string("Bearer ") + kApiKey);
  EXPECT_EQ(creates[0].header("idempotency-key"), session_id);
  json sent = json::parse(creates[0].body, nullptr, false);
  EXPECT_EQ(sent.value("amount", std::int64_t{-1}), 2 * kPrice) << creates[0].body;
  EXPECT_EQ(sent.value("currency", ""), "CNY") << creates[0].body;
  EXPECT_EQ(sent.value("reference", ""), session_id) << creates[0].body;
  EXPECT_EQ(sent["metadata"]["channel_id"], channel.id) << creates[0].body;
  EXPECT_EQ(sent["metadata"]["cart_id"], cart_id) << creates[0].body;
  auto intent = gateway().intent(intent_id);
  ASSERT_TRUE(intent.has_value()) << "the session's reference is not the gateway's intent id";
  EXPECT_EQ(s["data"]["client_secret"], intent->client_secret);

  // The shopper has not confirmed the card yet: checkout asks the gateway and is refused.
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "card-1"), 422, "payment.not_authorized"));
  EXPECT_EQ(gateway_requests("GET", "/v1/payment_intents/" + intent_id).size(), 1u);
  EXPECT_EQ(reserved(), 0);

  ASSERT_TRUE(gateway().confirm(intent_id));
  auto placed = checkout(store, cart_id, "card-1");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  json order = placed.json();
  std::string order_id = order.value("id", "");
  EXPECT_EQ(order["status"], "placed");
  EXPECT_EQ(order["payment"]["status"], "authorized");
  EXPECT_EQ(order["payment"]["provider"], "card-gateway");
  EXPECT_EQ(order["payment"]["session_id"], session_id);
  EXPECT_EQ(reserved(), 2);

  // The storefront retries checkout with its key: the same order, without asking the gateway again.
  std::size_t asked = gateway().requests().size();
  auto replayed = checkout(store, cart_id, "card-1");
  ASSERT_EQ(replayed.status, 201u) << replayed.body;
  EXPECT_EQ(replayed.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(replayed.json()["id"], order_id);
  EXPECT_EQ(gateway().requests().size(), asked);
  EXPECT_EQ(reserved(), 2);

  // The gateway confirms the capture with a signed webhook: the order is paid.
  std::string event_id;
  auto hook = webhook(channel.id, {.intent_id = intent_id}, &event_id);
  ASSERT_EQ(hook.status, 200u) << hook.body;
  EXPECT_EQ(hook.json()["received"], true) << hook.body;
  EXPECT_EQ(hook.json()["order_id"], order_id) << hook.body;

  json paid = admin_order(order_id);
  EXPECT_EQ(paid["status"], "paid");
  EXPECT_EQ(paid["payment"]["status"], "captured");
  ASSERT_EQ(count_events(paid, "order.paid"), 1) << paid.dump();
  for (const auto& e : paid["events"])
    if (e["type"] == "order.paid") {
      EXPECT_EQ(e["data"]["event_id"], event_id) << e.dump();
      EXPECT_EQ(e["data"]["provider"], "card-gateway") << e.dump();
      EXPECT_EQ(e["data"]["payment_session_id"], session_id) << e.dump();
    }
  auto sessions = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
  ASSERT_EQ(sessions.status, 200u);
  EXPECT_EQ(sessions.json()["items"][0]["status"], "captured") << sessions.body;
  EXPECT_EQ(sessions.json()["items"][0]["data"]["client_secret"], intent->client_secret) << sessions.body;
}

TEST_F(PaymentsTest, CardGatewayMarkPaidAsksForCaptureAndTheWebhookSettles) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  CardOrder o = place_card_order(store, "capture-1");
  ASSERT_FALSE(HasFailure());

  // The gateway settles later: 202, the order stays pending until the webhook says so.
  auto asked = admin().post("/v1/admin/orders/" + o.order_id + "/mark-paid", json::object());
  ASSERT_EQ(asked.status, 202u) << asked.body;
  EXPECT_EQ(asked.json()["status"], "placed");
  EXPECT_EQ(asked.json()["payment"]["status"], "authorized");
  auto captures = gateway_requests("POST", "/v1/payment_intents/" + o.intent_id + "/capture");
  ASSERT_EQ(captures.size(), 1u);
  EXPECT_EQ(captures[0].header("authorization"), std::string("Bearer ") + kApiKey);
  EXPECT_TRUE(gateway().intent(o.intent_id)->capture_requested);
  expect_untouched(o.order_id);

  auto hook = webhook(channel.id, {.intent_id = o.intent_id});
  ASSERT_EQ(hook.status, 200u) << hook.body;
  expect_paid_once(o.order_id);
}

// ---------------------------------------------------------------------------------------------
// card-gateway: webhook refusals

TEST_F(PaymentsTest, CardGatewayWebhookRefusalsLeaveTheOrderUntouched) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  CardOrder o = place_card_order(store, "refusals-1");
  ASSERT_FALSE(HasFailure());
  const std::string kEvent = "evt_refused_then_valid";

  {
    SCOPED_TRACE("signed with another secret");
    auto r = webhook(channel.id, {.intent_id = o.intent_id, .event_id = kEvent,
                                  .secret = std::string("whsec_not_the_channels_secret")});
    EXPECT_TRUE(IsProblem(r, 401, "card-gateway.bad_signature"));
    expect_untouched(o.order_id);
  }
  {
    SCOPED_TRACE("signature over another body");
    std::string signed_body = gateway().event_json(kEvent, "payment_intent.captured", "pi_other").dump();
    std::string ts = std::to_string(std::time(nullptr));
    std::string body = gateway().event_json(kEvent, "payment_intent.captured", o.intent_id).dump();
    auto r = anonymous().request(
        "POST", "/v1/plugins/card-gateway/channels/" + channel.id + "/webhook", body,
        {{"gateway-timestamp", ts}, {"gateway-signature", "v1=" + FakeGateway::signature(kWebhookSecret, ts, signed_body)}});
    EXPECT_TRUE(IsProblem(r, 401, "card-gateway.bad_signature"));
    expect_untouched(o.order_id);
  }
  for (std::int64_t offset : {-301, 301}) {
    SCOPED_TRACE("timestamp off by " + std::to_string(offset) + " s");
    // Were the server's clock to reach the next second after signing, +301 would be 300 s ahead
    // and accepted: start early in a second so that signing and checking share it.
    ASSERT_TRUE(early_in_a_second());
    auto r = webhook(channel.id, {.intent_id = o.intent_id, .event_id = kEvent, .timestamp_offset_s = offset});
    EXPECT_TRUE(IsProblem(r, 401, "card-gateway.stale_timestamp"));
    expect_untouched(o.order_id);
  }
  {
    SCOPED_TRACE("no signature header");
    auto r = webhook(channel.id, {.intent_id = o.intent_id, .event_id = kEvent, .sign = false});
    EXPECT_TRUE(IsProblem(r, 400, "card-gateway.bad_request"));
    expect_untouched(o.order_id);
  }
  {
    SCOPED_TRACE("an intent the gateway never created for this channel");
    auto r = webhook(channel.id, {.intent_id = "pi_never_created_0000", .event_id = kEvent});
    EXPECT_TRUE(IsProblem(r, 404, "card-gateway.unknown_payment"));
    expect_untouched(o.order_id);
  }
  {
    SCOPED_TRACE("another card-gateway channel (same gateway, same secret) than the intent's");
    Channel other = card_channel("card-other");
    ASSERT_FALSE(other.id.empty());
    auto r = webhook(other.id, {.intent_id = o.intent_id, .event_id = kEvent});
    EXPECT_TRUE(IsProblem(r, 404, "card-gateway.unknown_payment"));
    expect_untouched(o.order_id);
  }
  {
    SCOPED_TRACE("a channel that does not use card-gateway");
    auto demo = admin().get("/v1/admin/channels/web");
    ASSERT_EQ(demo.status, 200u) << demo.body;
    auto r = webhook(demo.json().value("id", ""), {.intent_id = o.intent_id, .event_id = kEvent});
    EXPECT_TRUE(IsProblem(r, 404, "card-gateway.unknown_channel"));
    auto unknown = webhook("chan_0000000000000000000000000000000000000000", {.intent_id = o.intent_id, .event_id = kEvent});
    EXPECT_TRUE(IsProblem(unknown, 404, "card-gateway.unknown_channel"));
    expect_untouched(o.order_id);
  }
  {
    SCOPED_TRACE("a signed body without data.intent_id");
    auto r = webhook(channel.id, {.event_id = kEvent, .body = json{{"id", kEvent}, {"type", "payment_intent.captured"}}.dump()});
    EXPECT_TRUE(IsProblem(r, 400, "card-gateway.bad_request"));
    expect_untouched(o.order_id);
  }

  // None of the refusals recorded the event: its proper delivery is processed.
  auto valid = webhook(channel.id, {.intent_id = o.intent_id, .event_id = kEvent});
  ASSERT_EQ(valid.status, 200u) << valid.body;
  expect_paid_once(o.order_id);
}

TEST_F(PaymentsTest, CardGatewayReplayedWebhookIsRefusedAndPaysOnce) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  CardOrder o = place_card_order(store, "replay-1");
  ASSERT_FALSE(HasFailure());

  std::string event_id;
  auto first = webhook(channel.id, {.intent_id = o.intent_id}, &event_id);
  ASSERT_EQ(first.status, 200u) << first.body;
  json paid = admin_order(o.order_id);
  ASSERT_EQ(paid["status"], "paid");
  ASSERT_EQ(count_events(paid, "order.paid"), 1) << paid.dump();

  // The very same notification again (as an attacker or a confused gateway would send it).
  auto replay = webhook(channel.id, {.intent_id = o.intent_id, .event_id = event_id});
  EXPECT_TRUE(IsProblem(replay, 409, "card-gateway.replayed"));
  json after = admin_order(o.order_id);
  EXPECT_EQ(after["status"], "paid");
  EXPECT_EQ(count_events(after, "order.paid"), 1) << after.dump();
  EXPECT_EQ(after["events"].size(), paid["events"].size()) << after.dump();

  // Distinct capture events for the same intent (299 s off, inside the tolerance either way) are
  // accepted but pay nothing twice.
  for (std::int64_t offset : {-299, 299}) {
    auto another = webhook(channel.id, {.intent_id = o.intent_id, .timestamp_offset_s = offset});
    EXPECT_EQ(another.status, 200u) << offset << ": " << another.body;
  }
  EXPECT_EQ(count_events(admin_order(o.order_id), "order.paid"), 1);

  // Events of other types are recorded and ignored.
  auto other = webhook(channel.id, {.intent_id = o.intent_id, .type = "payment_intent.updated"});
  ASSERT_EQ(other.status, 200u) << other.body;
  EXPECT_EQ(other.json()["ignored"], true) << other.body;
  EXPECT_EQ(count_events(admin_order(o.order_id), "order.paid"), 1);
}

// ---------------------------------------------------------------------------------------------
// card-gateway: the gateway fails or says no

TEST_F(PaymentsTest, CardGatewayDownIsA502AndTheSessionFails) {
  // A gateway URL where nothing listens: a fake that is already stopped.
  std::string closed_url;
  {
    FakeGateway gone(FakeGateway::Options{kApiKey, kWebhookSecret});
    closed_url = gone.base_url();
    gone.stop();
  }
  Channel unreachable = card_channel("card-closed-port", closed_url);
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());

  {
    SCOPED_TRACE("base_url on a closed port");
    HttpClient store = storefront(unreachable.key);
    std::string cart_id = new_cart(store);
    auto r = start_session(store, cart_id, "card-gateway");
    EXPECT_TRUE(IsProblem(r, 502, "plugin_error"));
    auto sessions = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
    ASSERT_EQ(sessions.status, 200u) << sessions.body;
    ASSERT_EQ(sessions.json()["items"].size(), 1u) << sessions.body;
    EXPECT_EQ(sessions.json()["items"][0]["status"], "failed") << sessions.body;
    EXPECT_TRUE(IsProblem(checkout(store, cart_id, "down-1"), 422, "payment.not_authorized"));
    EXPECT_EQ(reserved(), 0);
  }
  {
    SCOPED_TRACE("the gateway stops");
    HttpClient store = storefront(channel.key);
    std::string cart_id = new_cart(store);
    gateway().stop();
    auto r = start_session(store, cart_id, "card-gateway");
    EXPECT_TRUE(IsProblem(r, 502, "plugin_error"));
    EXPECT_EQ(reserved(), 0);
  }
  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
}

TEST_F(PaymentsTest, CardGatewayDeclinedCardIsRefusedAtCheckout) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);
  auto session = start_session(store, cart_id, "card-gateway");
  ASSERT_EQ(session.status, 201u) << session.body;
  std::string intent_id = session.json().value("reference", "");
  ASSERT_TRUE(gateway().decline(intent_id, "Insufficient funds."));

  auto refused = checkout(store, cart_id, "declined-1");
  EXPECT_TRUE(IsProblem(refused, 422, "card-gateway.declined"));
  EXPECT_NE(refused.body.find("Insufficient funds."), std::string::npos) << refused.body;
  EXPECT_EQ(reserved(), 0);
  EXPECT_EQ(store.get("/v1/store/carts/" + cart_id).json()["status"], "open");
  auto sessions = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
  ASSERT_EQ(sessions.status, 200u);
  EXPECT_EQ(sessions.json()["items"][0]["status"], "declined") << sessions.body;
  // Retrying the same session does not ask again: it is declined for good.
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "declined-1"), 422, "payment.not_authorized"));

  // Another card: a new session makes a new intent (a new idempotency key), which goes through.
  auto retry = start_session(store, cart_id, "card-gateway");
  ASSERT_EQ(retry.status, 201u) << retry.body;
  std::string second_intent = retry.json().value("reference", "");
  EXPECT_NE(second_intent, intent_id);
  ASSERT_TRUE(gateway().confirm(second_intent));
  auto placed = checkout(store, cart_id, "declined-2");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  EXPECT_EQ(placed.json()["payment"]["session_id"], retry.json()["id"]);
  EXPECT_EQ(reserved(), 2);
}

// A new webhook secret applies at once: deliveries signed with the old one are refused from then on.
TEST_F(PaymentsTest, CardGatewayWebhookSecretRotationTakesEffectAtOnce) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  CardOrder o = place_card_order(store, "rotate-1");
  ASSERT_FALSE(HasFailure());

  const std::string kNewSecret = "whsec_rotated_secret_abcdef012345";
  json config = card_gateway_config(gateway().base_url());
  config["webhook_secret"] = kNewSecret;
  auto patched = admin().patch("/v1/admin/channels/" + channel.id, {{"provider_config", {{"card-gateway", config}}}});
  ASSERT_EQ(patched.status, 200u) << patched.body;

  EXPECT_TRUE(IsProblem(webhook(channel.id, {.intent_id = o.intent_id}), 401, "card-gateway.bad_signature"));
  expect_untouched(o.order_id);
  auto hook = webhook(channel.id, {.intent_id = o.intent_id, .secret = kNewSecret});
  ASSERT_EQ(hook.status, 200u) << hook.body;
  EXPECT_EQ(admin_order(o.order_id)["status"], "paid");
}

// An auto-capturing gateway may confirm the capture before the shopper checks out: the order is
// then placed paid.
TEST_F(PaymentsTest, CardGatewayCaptureBeforeCheckoutPlacesAPaidOrder) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);
  auto session = start_session(store, cart_id, "card-gateway");
  ASSERT_EQ(session.status, 201u) << session.body;
  std::string intent_id = session.json().value("reference", "");
  ASSERT_TRUE(gateway().confirm(intent_id));

  auto hook = webhook(channel.id, {.intent_id = intent_id});
  ASSERT_EQ(hook.status, 200u) << hook.body;
  EXPECT_FALSE(hook.json().contains("order_id")) << hook.body;
  auto sessions = store.get("/v1/store/carts/" + cart_id + "/payment-sessions");
  ASSERT_EQ(sessions.status, 200u);
  EXPECT_EQ(sessions.json()["items"][0]["status"], "captured") << sessions.body;
  EXPECT_EQ(reserved(), 0);

  auto placed = checkout(store, cart_id, "early-capture");
  ASSERT_EQ(placed.status, 201u) << placed.body;
  EXPECT_EQ(placed.json()["status"], "paid");
  EXPECT_EQ(placed.json()["payment"]["status"], "captured");
  json order = admin_order(placed.json().value("id", ""));
  EXPECT_EQ(order["status"], "paid");
  EXPECT_EQ(count_events(order, "order.paid"), 1) << order.dump();
  EXPECT_EQ(reserved(), 2);
}

// Cancelling an order releases its card authorisation at the gateway; a late capture event for
// it is refused and the order stays cancelled.
TEST_F(PaymentsTest, CardGatewayCancelledOrderReleasesTheAuthorisation) {
  Channel channel = card_channel();
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  CardOrder o = place_card_order(store, "cancel-1");
  ASSERT_FALSE(HasFailure());

  auto cancelled = admin().post("/v1/admin/orders/" + o.order_id + "/cancel", {{"reason", "out of stock"}});
  ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
  EXPECT_EQ(cancelled.json()["status"], "cancelled");
  auto cancels = gateway_requests("POST", "/v1/payment_intents/" + o.intent_id + "/cancel");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].header("authorization"), std::string("Bearer ") + kApiKey);
  EXPECT_EQ(gateway().intent(o.intent_id)->status, "canceled");
  auto sessions = store.get("/v1/store/carts/" + o.cart_id + "/payment-sessions");
  ASSERT_EQ(sessions.status, 200u);
  EXPECT_EQ(sessions.json()["items"][0]["status"], "cancelled") << sessions.body;
  EXPECT_EQ(reserved(), 0);

  auto late = webhook(channel.id, {.intent_id = o.intent_id});
  EXPECT_TRUE(IsProblem(late, 409, "payment.not_capturable"));
  json order = admin_order(o.order_id);
  EXPECT_EQ(order["status"], "cancelled");
  EXPECT_EQ(count_events(order, "order.paid"), 0) << order.dump();
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/orders/" + o.order_id + "/mark-paid", json::object()), 409,
                        "order.invalid_transition"));
}

// A gateway that says no (4xx) is the shopper's refusal, with the gateway's words, not a 502.
TEST_F(PaymentsTest, CardGatewayRefusingTheApiKeyIsARejection) {
  json config = card_gateway_config(gateway().base_url());
  config["api_key"] = "sk_test_revoked_key";
  Channel channel = create_channel("card-revoked", {{"payment_providers", {"card-gateway"}},
                                                    {"provider_config", {{"card-gateway", config}}}});
  ASSERT_FALSE(HasFailure());
  HttpClient store = storefront(channel.key);
  std::string cart_id = new_cart(store);
  auto r = start_session(store, cart_id, "card-gateway");
  EXPECT_TRUE(IsProblem(r, 422, "card-gateway.rejected"));
  EXPECT_NE(r.body.find("invalid API key"), std::string::npos) << r.body;
  auto creates = gateway_requests("POST", "/v1/payment_intents");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].header("authorization"), "Bearer sk_test_revoked_key");
  EXPECT_TRUE(gateway().intents().empty());
  EXPECT_TRUE(IsProblem(checkout(store, cart_id, "revoked-1"), 422, "payment.not_authorized"));
  EXPECT_EQ(reserved(), 0);
}

}  // namespace
