// Unit tests of the card-gateway plugin against FakeHost: a fake gateway behind Host::fetch, and the signed webhook.
#include <quanqu/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern "C" const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void);

namespace {

using quanqu::sdk::HttpReply;
using quanqu::sdk::HttpRequest;
using quanqu::sdk::testing::FakeHost;
using quanqu::sdk::testing::hex;
using quanqu::sdk::testing::hmac_sha256;  // the SDK's own, independent of the server's OpenSSL
using quanqu::sdk::testing::RouteCall;
using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kBaseUrl = "http://127.0.0.1:9/";
constexpr const char* kApiKey = "sk_test_12345678";
constexpr const char* kSecret = "whsec_0123456789abcdef";

std::optional<std::string> header(const HttpRequest& request, const std::string& name) {
  for (const auto& [n, v] : request.headers)
    if (n == name) return v;
  return std::nullopt;
}

Json session(const std::string& reference = "") {
  Json s{{"id", "pay_1"},
         {"provider", "card-gateway"},
         {"channel_id", "ch_1"},
         {"cart_id", "cart_1"},
         {"amount", {{"amount", 12345}, {"currency", "CNY"}}},
         {"email", "li@example.com"},
         {"status", "pending"}};
  if (!reference.empty()) {
    s["reference"] = reference;
    s["data"] = {{"intent_id", reference}, {"client_secret", reference + "_secret_x"}};
  }
  return s;
}

Json config(const std::string& base_url = kBaseUrl) {
  return Json{{"base_url", base_url}, {"api_key", kApiKey}, {"webhook_secret", kSecret}};
}

HttpReply reply(int status, const std::string& body) {
  return HttpReply{status, {{"content-type", "application/json"}}, body};
}

class CardGatewayTest : public ::testing::Test {
 protected:
  CardGatewayTest() : host(&quanqu_plugin_entry_v1) {
    host.channel_configs["ch_1"] = config();
    host.channel_configs["ch_2"] =
        Json{{"base_url", kBaseUrl}, {"api_key", kApiKey}, {"webhook_secret", "another-secret-0123"}};
    host.fetch = [this](const HttpRequest& request) {
      requests.push_back(request);
      if (!gateway) throw std::runtime_error("connection refused");
      return gateway(request);
    };
  }

  Json invoke(const std::string& operation, const Json& session_json, const Json& channel_config = config()) {
    return host.invoke("payment", "card-gateway", operation,
                       Json{{"session", session_json}, {"config", channel_config}});
  }

  FakeHost host;
  std::vector<HttpRequest> requests;                     // what the gateway received
  std::function<HttpReply(const HttpRequest&)> gateway;  // the gateway's answers; unset: unreachable
};

// ---- initiate ----

TEST_F(CardGatewayTest, InitiateCreatesAnIntentAtTheGateway) {
  gateway = [](const HttpRequest&) {
    return reply(201, R"({"id":"pi_1","status":"requires_confirmation","client_secret":"pi_1_secret_x"})");
  };
  Json out = invoke("initiate", session());

  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "http://127.0.0.1:9/v1/payment_intents");
  EXPECT_EQ(header(r, "Authorization"), "Bearer sk_test_12345678");
  EXPECT_EQ(header(r, "Idempotency-Key"), "pay_1");
  EXPECT_EQ(header(r, "Content-Type"), "application/json");
  EXPECT_EQ(Json::parse(r.body), (Json{{"amount", 12345},
                                       {"currency", "CNY"},
                                       {"reference", "pay_1"},
                                       {"metadata", {{"channel_id", "ch_1"}, {"cart_id", "cart_1"}}}}));

  EXPECT_EQ(out, (Json{{"status", "pending"},
                       {"reference", "pi_1"},
                       {"data", {{"intent_id", "pi_1"}, {"client_secret", "pi_1_secret_x"}}}}));
  ASSERT_EQ(host.kv.count("intent:pi_1"), 1u);
  EXPECT_EQ(Json::parse(host.kv["intent:pi_1"]), (Json{{"session_id", "pay_1"}, {"channel_id", "ch_1"}}));
}

TEST_F(CardGatewayTest, InitiateAccepts200AndABaseUrlWithAPath) {
  gateway = [](const HttpRequest&) { return reply(200, R"({"id":"pi_2","client_secret":"s"})"); };
  Json out = invoke("initiate", session(), config("https://gw.example/api/"));
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].url, "https://gw.example/api/v1/payment_intents");
  EXPECT_EQ(out.at("reference"), "pi_2");
}

TEST_F(CardGatewayTest, InitiateRefusedByTheGatewayIsARefusalWithItsMessage) {
  gateway = [](const HttpRequest&) { return reply(402, R"({"error":{"message":"amount below the minimum"}})"); };
  Json out = invoke("initiate", session());
  EXPECT_EQ(out, (Json{{"refusal", {{"code", "card-gateway.rejected"}, {"message", "amount below the minimum"}}}}));
  EXPECT_TRUE(host.kv.empty());
}

TEST_F(CardGatewayTest, InitiateRefusedWithoutAMessageStillNamesTheStatus) {
  gateway = [](const HttpRequest&) { return reply(400, "nope"); };
  Json out = invoke("initiate", session());
  EXPECT_EQ(out.at("refusal").at("code"), "card-gateway.rejected");
  EXPECT_NE(out.at("refusal").at("message").get<std::string>().find("400"), std::string::npos);
}

TEST_F(CardGatewayTest, InitiateOnA5xxFails) {
  gateway = [](const HttpRequest&) { return reply(503, R"({"error":{"message":"maintenance"}})"); };
  EXPECT_THROW(invoke("initiate", session()), std::runtime_error);
  EXPECT_TRUE(host.kv.empty());
}

TEST_F(CardGatewayTest, InitiateOnAReplyThatIsNotJsonFails) {
  gateway = [](const HttpRequest&) { return reply(200, "<html>ok</html>"); };
  EXPECT_THROW(invoke("initiate", session()), std::runtime_error);
  EXPECT_TRUE(host.kv.empty());
}

TEST_F(CardGatewayTest, InitiateOnAnIntentWithoutIdFails) {
  gateway = [](const HttpRequest&) { return reply(201, R"({"status":"requires_confirmation","client_secret":"s"})"); };
  EXPECT_THROW(invoke("initiate", session()), std::runtime_error);
  EXPECT_TRUE(host.kv.empty());
}

TEST_F(CardGatewayTest, InitiateWithTheGatewayUnreachableFails) {
  EXPECT_THROW(invoke("initiate", session()), std::runtime_error);
  EXPECT_EQ(requests.size(), 1u);
  EXPECT_TRUE(host.kv.empty());
}

TEST_F(CardGatewayTest, InitiateWithoutAnApiKeyFailsWithoutCallingTheGateway) {
  Json broken = config();
  broken.erase("api_key");
  EXPECT_THROW(invoke("initiate", session(), broken), std::runtime_error);
  EXPECT_TRUE(requests.empty());
}

// ---- authorize ----

struct StatusCase {
  const char* gateway_status;
  const char* session_status;  // or the refusal code
};

class AuthorizeTest : public CardGatewayTest, public ::testing::WithParamInterface<StatusCase> {};

TEST_P(AuthorizeTest, MapsTheIntentStatus) {
  std::string status = GetParam().gateway_status;
  gateway = [status](const HttpRequest&) { return reply(200, Json{{"id", "pi_1"}, {"status", status}}.dump()); };
  Json out = invoke("authorize", session("pi_1"));

  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/v1/payment_intents/pi_1");
  EXPECT_EQ(header(requests[0], "Authorization"), "Bearer sk_test_12345678");
  std::string expected = GetParam().session_status;
  if (expected.rfind("card-gateway.", 0) == 0) {
    EXPECT_EQ(out.at("refusal").at("code"), expected);
  } else {
    EXPECT_EQ(out.at("status"), expected);
    EXPECT_EQ(out.at("reference"), "pi_1");
    EXPECT_EQ(out.at("data"), (Json{{"intent_id", "pi_1"}, {"client_secret", "pi_1_secret_x"}}));  // kept
  }
}

INSTANTIATE_TEST_SUITE_P(Statuses, AuthorizeTest,
                         ::testing::Values(StatusCase{"authorized", "authorized"}, StatusCase{"captured", "captured"},
                                           StatusCase{"requires_confirmation", "pending"},
                                           StatusCase{"processing", "pending"},
                                           StatusCase{"declined", "card-gateway.declined"},
                                           StatusCase{"canceled", "card-gateway.canceled"}));

TEST_F(CardGatewayTest, AuthorizeDeclinedCarriesTheGatewaysReason) {
  gateway = [](const HttpRequest&) {
    return reply(200, R"({"status":"declined","decline_message":"insufficient funds"})");
  };
  Json out = invoke("authorize", session("pi_1"));
  EXPECT_EQ(out, (Json{{"refusal", {{"code", "card-gateway.declined"}, {"message", "insufficient funds"}}}}));
}

TEST_F(CardGatewayTest, AuthorizeOnAnUnknownStatusFails) {
  gateway = [](const HttpRequest&) { return reply(200, R"({"status":"exploded"})"); };
  EXPECT_THROW(invoke("authorize", session("pi_1")), std::runtime_error);
}

TEST_F(CardGatewayTest, AuthorizeOnA4xxIsARefusalAndOnA5xxFails) {
  gateway = [](const HttpRequest&) { return reply(404, R"({"message":"no such intent"})"); };
  EXPECT_EQ(invoke("authorize", session("pi_1")),
            (Json{{"refusal", {{"code", "card-gateway.rejected"}, {"message", "no such intent"}}}}));
  gateway = [](const HttpRequest&) { return reply(500, "{}"); };
  EXPECT_THROW(invoke("authorize", session("pi_1")), std::runtime_error);
}

TEST_F(CardGatewayTest, AuthorizeWithoutAReferenceFailsWithoutCallingTheGateway) {
  EXPECT_THROW(invoke("authorize", session()), std::runtime_error);
  EXPECT_TRUE(requests.empty());
}

TEST_F(CardGatewayTest, AReferenceStaysOnePathSegment) {
  gateway = [](const HttpRequest&) { return reply(200, R"({"status":"authorized"})"); };
  invoke("authorize", session("../refunds?x=1"));
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/v1/payment_intents/..%2Frefunds%3Fx%3D1");
}

// ---- capture and cancel ----

TEST_F(CardGatewayTest, CaptureCapturedAtOnce) {
  gateway = [](const HttpRequest&) { return reply(200, R"({"id":"pi_1","status":"captured"})"); };
  Json out = invoke("capture", session("pi_1"));
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/v1/payment_intents/pi_1/capture");
  EXPECT_EQ(header(requests[0], "Authorization"), "Bearer sk_test_12345678");
  EXPECT_EQ(out.at("status"), "captured");
  EXPECT_EQ(out.at("reference"), "pi_1");
  EXPECT_EQ(out.at("data").at("intent_id"), "pi_1");
}

TEST_F(CardGatewayTest, CapturePendingWaitsForTheWebhook) {
  gateway = [](const HttpRequest&) { return reply(202, R"({"status":"capture_pending"})"); };
  EXPECT_EQ(invoke("capture", session("pi_1")).at("status"), "pending");
}

TEST_F(CardGatewayTest, CaptureFailures) {
  gateway = [](const HttpRequest&) { return reply(502, "bad gateway"); };
  EXPECT_THROW(invoke("capture", session("pi_1")), std::runtime_error);
  gateway = [](const HttpRequest&) { return reply(200, R"({"status":"requires_confirmation"})"); };
  EXPECT_THROW(invoke("capture", session("pi_1")), std::runtime_error);
  gateway = [](const HttpRequest&) { return reply(409, R"({"error":"already refunded"})"); };
  EXPECT_EQ(invoke("capture", session("pi_1")),
            (Json{{"refusal", {{"code", "card-gateway.rejected"}, {"message", "already refunded"}}}}));
}

// ---- refund ----

Json refund_input(const std::string& reference) {
  return Json{{"session", session(reference)},
              {"config", config()},
              {"refund", {{"id", "ref_1"}, {"amount", {{"amount", 500}, {"currency", "CNY"}}}, {"reason", "damaged"}}},
              {"idempotency_key", "ref_1"}};
}

TEST_F(CardGatewayTest, RefundPostsToTheIntentWithTheRefundIdAsIdempotencyKey) {
  gateway = [](const HttpRequest&) { return reply(201, R"({"id":"re_1","status":"succeeded"})"); };
  Json out = host.invoke("payment", "card-gateway", "refund", refund_input("pi_1"));
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/v1/payment_intents/pi_1/refunds");
  EXPECT_EQ(header(requests[0], "Authorization"), "Bearer sk_test_12345678");
  EXPECT_EQ(header(requests[0], "Idempotency-Key"), "ref_1");
  Json body = Json::parse(requests[0].body);
  EXPECT_EQ(body["amount"], 500);
  EXPECT_EQ(body["currency"], "CNY");
  EXPECT_EQ(body["reference"], "ref_1");
  EXPECT_EQ(out, (Json{{"status", "succeeded"}, {"reference", "re_1"}}));
}

TEST_F(CardGatewayTest, RefundOutcomes) {
  gateway = [](const HttpRequest&) { return reply(201, R"({"id":"re_1","status":"pending"})"); };
  EXPECT_EQ(host.invoke("payment", "card-gateway", "refund", refund_input("pi_1")).at("status"), "pending");
  gateway = [](const HttpRequest&) { return reply(201, R"({"id":"re_1","status":"failed","message":"expired card"})"); };
  Json failed = host.invoke("payment", "card-gateway", "refund", refund_input("pi_1"));
  EXPECT_EQ(failed.at("status"), "failed");
  EXPECT_EQ(failed.at("message"), "expired card");
  gateway = [](const HttpRequest&) { return reply(400, R"({"error":{"message":"more than captured"}})"); };
  EXPECT_EQ(host.invoke("payment", "card-gateway", "refund", refund_input("pi_1")),
            (Json{{"refusal", {{"code", "card-gateway.rejected"}, {"message", "more than captured"}}}}));
  gateway = [](const HttpRequest&) { return reply(503, "{}"); };
  EXPECT_THROW(host.invoke("payment", "card-gateway", "refund", refund_input("pi_1")), std::runtime_error);
  gateway = [](const HttpRequest&) { return reply(201, R"({"status":"exploded"})"); };
  EXPECT_THROW(host.invoke("payment", "card-gateway", "refund", refund_input("pi_1")), std::runtime_error);
}

TEST_F(CardGatewayTest, CancelReleasesTheIntent) {
  gateway = [](const HttpRequest&) { return reply(200, R"({"id":"pi_1","status":"canceled"})"); };
  Json out = invoke("cancel", session("pi_1"));
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/v1/payment_intents/pi_1/cancel");
  EXPECT_EQ(header(requests[0], "Authorization"), "Bearer sk_test_12345678");
  EXPECT_EQ(out.at("status"), "cancelled");
}

TEST_F(CardGatewayTest, CancelWithoutAnIntentHasNothingToRelease) {
  EXPECT_EQ(invoke("cancel", session()).at("status"), "cancelled");
  EXPECT_TRUE(requests.empty());
}

TEST_F(CardGatewayTest, CancelOnA5xxFails) {
  gateway = [](const HttpRequest&) { return reply(500, "{}"); };
  EXPECT_THROW(invoke("cancel", session("pi_1")), std::runtime_error);
}

// ---- the webhook ----

class WebhookTest : public CardGatewayTest {
 protected:
  WebhookTest() {
    host.kv["intent:pi_1"] = Json{{"session_id", "pay_1"}, {"channel_id", "ch_1"}}.dump();
    host.services = [this](const std::string& operation, const Json&) -> Json {
      if (operation != "payments.captured") throw FakeHost::Refused{404, "operation.unknown", operation};
      if (service_refusal) throw *service_refusal;
      return service_result;
    };
  }

  static std::string event(const std::string& id = "evt_1", const std::string& type = "payment_intent.captured",
                           const std::string& intent_id = "pi_1") {
    return Json{
        {"id", id}, {"type", type}, {"data", {{"intent_id", intent_id}, {"amount", 12345}, {"currency", "CNY"}}}}
        .dump();
  }

  std::int64_t now_s() const { return host.now_ms / 1000; }

  Headers signed_headers(const std::string& body, std::int64_t timestamp, const std::string& secret = kSecret) const {
    std::string ts = std::to_string(timestamp);
    return Headers{{"content-type", "application/json"},
                   {"gateway-timestamp", ts},
                   {"gateway-signature", "v1=" + hex(hmac_sha256(secret, ts + "." + body))}};
  }
  Headers signed_headers(const std::string& body) const { return signed_headers(body, now_s()); }

  FakeHost::Reply post(const std::string& body, const Headers& headers, const std::string& channel = "ch_1") {
    RouteCall call = RouteCall::post("/channels/" + channel + "/webhook", body);
    call.headers = headers;
    return host.call(call);
  }

  static Json problem(const FakeHost::Reply& reply) {
    EXPECT_EQ(reply.content_type, "application/problem+json");
    return Json::parse(reply.body, nullptr, false);
  }

  // Nothing was recorded and no service was called.
  void expect_untouched() {
    EXPECT_TRUE(host.calls.empty());
    for (const auto& [key, value] : host.kv) EXPECT_NE(key.rfind("event:", 0), 0u) << key;
  }

  Json service_result = Json{{"payment", {{"id", "pay_1"}, {"status", "captured"}}}, {"order", {{"id", "ord_1"}}}};
  std::optional<FakeHost::Refused> service_refusal;
};

TEST_F(WebhookTest, ACapturedEventMarksThePaymentCaptured) {
  std::string body = event();
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), (Json{{"received", true}, {"order_id", "ord_1"}}));
  ASSERT_EQ(host.calls.size(), 1u);
  EXPECT_EQ(host.calls[0].first, "payments.captured");
  EXPECT_EQ(host.calls[0].second, (Json{{"provider", "card-gateway"}, {"reference", "pi_1"}, {"event_id", "evt_1"}}));
  EXPECT_EQ(host.kv["event:evt_1"], std::to_string(now_s()));
}

TEST_F(WebhookTest, AResultWithoutAnOrderAnswersWithoutOrderId) {
  service_result = Json{{"payment", {{"id", "pay_1"}}}};
  std::string body = event();
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), (Json{{"received", true}}));
}

TEST_F(WebhookTest, OtherEventTypesAreRecordedAndIgnored) {
  std::string body = event("evt_2", "payment_intent.processing");
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), (Json{{"received", true}, {"ignored", true}}));
  EXPECT_TRUE(host.calls.empty());
  EXPECT_EQ(host.kv.count("event:evt_2"), 1u);
}

TEST_F(WebhookTest, UpperCaseHexAndSeveralSignaturesAreAccepted) {
  std::string body = event();
  Headers h = signed_headers(body);
  std::string mac = h[2].second.substr(3);
  for (char& c : mac) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  h[2].second = "v1=" + std::string(64, '0') + ", v1=" + mac;
  EXPECT_EQ(post(body, h).status, 200);
}

TEST_F(WebhookTest, ASignatureUnderAnotherSecretIsRefused) {
  std::string body = event();
  auto r = post(body, signed_headers(body, now_s(), "whsec_someone-else-entirely"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.bad_signature");
  expect_untouched();
}

TEST_F(WebhookTest, ATamperedBodyIsRefused) {
  std::string body = event();
  Headers h = signed_headers(body);
  std::string tampered = event("evt_1", "payment_intent.captured", "pi_9");
  EXPECT_EQ(problem(post(tampered, h)).at("code"), "card-gateway.bad_signature");
  expect_untouched();
}

TEST_F(WebhookTest, ASignatureOfAnotherTimestampIsRefused) {
  std::string body = event();
  Headers h = signed_headers(body, now_s() - 10);
  h[1].second = std::to_string(now_s());
  EXPECT_EQ(problem(post(body, h)).at("code"), "card-gateway.bad_signature");
  expect_untouched();
}

TEST_F(WebhookTest, ASignatureWithoutItsSchemeIsRefused) {
  std::string body = event();
  Headers h = signed_headers(body);
  h[2].second = h[2].second.substr(3);  // the bare hex
  auto r = post(body, h);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.bad_signature");
  expect_untouched();
}

TEST_F(WebhookTest, ATimestampMoreThanFiveMinutesOldIsStale) {
  std::string body = event();
  auto r = post(body, signed_headers(body, now_s() - 301));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.stale_timestamp");
  expect_untouched();
}

TEST_F(WebhookTest, ATimestampMoreThanFiveMinutesAheadIsStale) {
  std::string body = event();
  auto r = post(body, signed_headers(body, now_s() + 301));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.stale_timestamp");
  expect_untouched();
}

TEST_F(WebhookTest, TimestampsExactlyFiveMinutesAwayAreAccepted) {
  std::string old_body = event("evt_old");
  EXPECT_EQ(post(old_body, signed_headers(old_body, now_s() - 300)).status, 200);
  std::string new_body = event("evt_new");
  EXPECT_EQ(post(new_body, signed_headers(new_body, now_s() + 300)).status, 200);
  EXPECT_EQ(host.calls.size(), 2u);
}

TEST_F(WebhookTest, FreshnessIsCheckedBeforeTheSignature) {
  std::string body = event();
  auto r = post(body, signed_headers(body, now_s() - 1000, "whsec_someone-else-entirely"));
  EXPECT_EQ(problem(r).at("code"), "card-gateway.stale_timestamp");
}

TEST_F(WebhookTest, EachCheckComesInItsOrder) {
  // Headers before freshness: a stale request without a signature is a bad request.
  std::string body = event();
  Headers stale = signed_headers(body, now_s() - 1000);
  EXPECT_EQ(problem(post(body, {stale[0], stale[1]})).at("code"), "card-gateway.bad_request");
  // The signature before the body: an unsigned bad body is a bad signature.
  Headers h = signed_headers("not json");
  h[2].second = "v1=" + std::string(64, 'a');
  EXPECT_EQ(problem(post("not json", h)).at("code"), "card-gateway.bad_signature");
  // The body before the replay check, the replay check before the payment.
  host.kv["event:evt_1"] = "1";
  std::string no_intent = Json{{"id", "evt_1"}, {"type", "payment_intent.captured"}}.dump();
  EXPECT_EQ(problem(post(no_intent, signed_headers(no_intent))).at("code"), "card-gateway.bad_request");
  std::string unknown = event("evt_1", "payment_intent.captured", "pi_unknown");
  EXPECT_EQ(problem(post(unknown, signed_headers(unknown))).at("code"), "card-gateway.replayed");
  EXPECT_TRUE(host.calls.empty());
}

TEST_F(WebhookTest, AReplayedEventIsRefused) {
  std::string body = event();
  EXPECT_EQ(post(body, signed_headers(body)).status, 200);
  host.now_ms += 60'000;
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.replayed");
  EXPECT_EQ(host.calls.size(), 1u);
}

TEST_F(WebhookTest, AnUnknownIntentIsAnUnknownPayment) {
  std::string body = event("evt_1", "payment_intent.captured", "pi_unknown");
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.unknown_payment");
  expect_untouched();
}

TEST_F(WebhookTest, AnIntentOfAnotherChannelIsAnUnknownPayment) {
  std::string body = event();
  auto r = post(body, signed_headers(body, now_s(), "another-secret-0123"), "ch_2");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.unknown_payment");
  expect_untouched();
}

TEST_F(WebhookTest, AnUnknownChannelIsRefusedFirst) {
  std::string body = event();
  auto r = post(body, signed_headers(body), "ch_nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(problem(r).at("code"), "card-gateway.unknown_channel");
  EXPECT_EQ(problem(post("", {}, "ch_nope")).at("code"), "card-gateway.unknown_channel");
  expect_untouched();
}

TEST_F(WebhookTest, MissingOrMalformedHeadersAreABadRequest) {
  std::string body = event();
  Headers good = signed_headers(body);
  Headers no_timestamp{good[0], good[2]}, no_signature{good[0], good[1]};
  Headers bad_timestamp = good;
  bad_timestamp[1].second = std::to_string(now_s()) + "a";
  for (const Headers& h : {no_timestamp, no_signature, bad_timestamp, Headers{}}) {
    auto r = post(body, h);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(problem(r).at("code"), "card-gateway.bad_request");
  }
  // A fractional or signed timestamp is not Unix seconds either, even when signed.
  for (std::string ts : {"1767225600.5", "-1767225600", " 1767225600"}) {
    Headers h = good;
    h[1].second = ts;
    h[2].second = "v1=" + hex(hmac_sha256(kSecret, ts + "." + body));
    EXPECT_EQ(post(body, h).status, 400) << ts;
  }
  expect_untouched();
}

TEST_F(WebhookTest, ASignedBodyThatIsNotAnEventIsABadRequest) {
  for (std::string body :
       {std::string("not json"), std::string("[]"), Json{{"id", "evt_1"}, {"type", "x"}}.dump(),
        Json{{"type", "payment_intent.captured"}, {"data", {{"intent_id", "pi_1"}}}}.dump(),
        Json{{"id", "evt_1"}, {"data", {{"intent_id", "pi_1"}}}}.dump(),
        Json{{"id", "evt_1"}, {"type", "payment_intent.captured"}, {"data", "pi_1"}}.dump(),
        Json{{"id", 7}, {"type", "payment_intent.captured"}, {"data", {{"intent_id", "pi_1"}}}}.dump()}) {
    auto r = post(body, signed_headers(body));
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(problem(r).at("code"), "card-gateway.bad_request") << body;
  }
  expect_untouched();
}

TEST_F(WebhookTest, AServiceRefusalIsAnsweredAndTheEventIsNotRecorded) {
  service_refusal = FakeHost::Refused{409, "payment.amount_mismatch", "the captured amount differs from the order"};
  std::string body = event();
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 409);
  Json p = problem(r);
  EXPECT_EQ(p.at("code"), "payment.amount_mismatch");
  EXPECT_EQ(p.at("detail"), "the captured amount differs from the order");
  EXPECT_EQ(host.kv.count("event:evt_1"), 0u);

  // The event was not recorded, so the gateway's retry goes through once the cause is fixed.
  service_refusal.reset();
  EXPECT_EQ(post(body, signed_headers(body)).status, 200);
  EXPECT_EQ(host.kv.count("event:evt_1"), 1u);
}

TEST_F(WebhookTest, AServiceOutageFailsAndTheEventIsNotRecorded) {
  service_refusal = FakeHost::Refused{503, "unavailable", "database down"};
  std::string body = event();
  auto r = post(body, signed_headers(body));
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(host.kv.count("event:evt_1"), 0u);
}

// ---- the manifest ----

TEST(CardGatewayManifest, AgreesWithTheLibrary) {
  std::ifstream in(QUANQU_PLUGIN_MANIFEST);
  ASSERT_TRUE(in) << QUANQU_PLUGIN_MANIFEST;
  Json m = Json::parse(in);
  EXPECT_EQ(quanqu::sdk::testing::manifest_mismatches(QUANQU_PLUGIN_MANIFEST, &quanqu_plugin_entry_v1),
            std::vector<std::string>{});
  EXPECT_EQ(m.at("provides"), Json::array({"payment_provider", "routes"}));
  const Json& schema = m.at("config_schema");
  EXPECT_EQ(schema.at("required"), Json::array({"base_url", "api_key", "webhook_secret"}));
  EXPECT_EQ(schema.at("additionalProperties"), false);
  EXPECT_EQ(schema.at("properties").at("base_url").at("format"), "uri");
  EXPECT_EQ(schema.at("properties").at("api_key").at("minLength"), 8);
  EXPECT_EQ(schema.at("properties").at("webhook_secret").at("minLength"), 16);
}

}  // namespace
