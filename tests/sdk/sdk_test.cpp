// The SDK on its own: FakeHost (SHA-256, RouteCall, kv rules), webhook helpers, host refusals as problems, ABI checks.
#include <quanqu/sdk/plugin.hpp>
#include <quanqu/sdk/testing.hpp>
#include <quanqu/sdk/webhooks.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

extern "C" const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void);

namespace {

using quanqu::sdk::Json;
using quanqu::sdk::testing::FakeHost;
using quanqu::sdk::testing::hex;
using quanqu::sdk::testing::RouteCall;
namespace testing_sdk = quanqu::sdk::testing;
namespace webhooks = quanqu::sdk::webhooks;

constexpr const char* kSecret = "whsec_test_0123456789";

// ---- FakeHost's own SHA-256 and HMAC ----

TEST(FakeHostCrypto, Sha256MatchesTheFipsExamples) {
  EXPECT_EQ(hex(testing_sdk::sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(testing_sdk::sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(testing_sdk::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(testing_sdk::sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(FakeHostCrypto, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(hex(testing_sdk::hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(testing_sdk::hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the block is hashed first.
  EXPECT_EQ(
      hex(testing_sdk::hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// ---- FakeHost: requests, the key-value rules ----

class FakeHostTest : public ::testing::Test {
 protected:
  FakeHostTest() : host(&quanqu_plugin_entry_v1) {}

  Json kv(const Json& op) {
    auto r = host.call(RouteCall::post("/kv-op", op.dump()));
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  FakeHost::Reply kv_reply(const Json& op) { return host.call(RouteCall::post("/kv-op", op.dump())); }

  FakeHost host;
};

TEST_F(FakeHostTest, ARouteCallCarriesEverythingARequestHas) {
  auto reply = host.call(RouteCall::post("/echo/42", "{\"a\":1}")
                             .with_query("page", "2")
                             .with_header("x-signature", "abc")
                             .on_channel("chan_kiosk")
                             .as_customer("cus_1"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  Json seen = Json::parse(reply.body);
  EXPECT_EQ(seen["method"], "POST");
  EXPECT_EQ(seen["path"], "/v1/plugins/sdk-test/echo/42");
  EXPECT_EQ(seen["id"], "42");
  EXPECT_EQ(seen["query"], (Json{{"page", "2"}}));
  EXPECT_EQ(seen["headers"], (Json::array({{"x-signature", "abc"}})));
  EXPECT_EQ(seen["body"], "{\"a\":1}");
  EXPECT_EQ(seen["channel_id"], "chan_kiosk");
  EXPECT_EQ(seen["customer_id"], "cus_1");
  EXPECT_EQ(seen["request_id"], "test");

  RouteCall plain;  // or set the fields one by one
  plain.method = "POST";
  plain.path = "/echo/7";
  plain.channel_id = "chan_web";
  EXPECT_EQ(Json::parse(host.call(plain).body)["channel_id"], "chan_web");
  EXPECT_EQ(host.call("POST", "/echo/7", "hi").status, 200);
  EXPECT_EQ(host.call("GET", "/nowhere").status, 404);
}

TEST_F(FakeHostTest, TheSevenArgumentCallStillWorksForOldTests) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  auto reply = host.call("POST", "/echo/1", "b", {{"q", "1"}}, "chan_1", {{"x-h", "v"}}, "cus_2");
#pragma GCC diagnostic pop
  Json seen = Json::parse(reply.body);
  EXPECT_EQ(seen["query"], (Json{{"q", "1"}}));
  EXPECT_EQ(seen["channel_id"], "chan_1");
  EXPECT_EQ(seen["customer_id"], "cus_2");
  EXPECT_EQ(seen["headers"], (Json::array({{"x-h", "v"}})));
}

TEST_F(FakeHostTest, KeysExpireWithTheFakeClock) {
  kv({{"op", "put"}, {"key", "session"}, {"value", "s1"}, {"ttl_ms", 1000}});
  EXPECT_EQ(host.kv_expires_at.at("session"), host.now_ms + 1000);
  EXPECT_EQ(host.call("GET", "/kv/session").body, "s1");
  host.now_ms += 1000;
  EXPECT_EQ(host.call("GET", "/kv/session").body, "");  // gone
  EXPECT_EQ(host.kv.count("session"), 0u);
  EXPECT_EQ(kv_reply({{"op", "put"}, {"key", "k"}, {"value", "v"}, {"ttl_ms", -1}}).status, 400);
}

TEST_F(FakeHostTest, IncrementFollowsTheServersRules) {
  EXPECT_EQ(kv({{"op", "incr"}, {"key", "n"}, {"by", 5}})["value"], 5);
  EXPECT_EQ(kv({{"op", "incr"}, {"key", "n"}, {"by", -7}})["value"], -2);
  EXPECT_EQ(host.kv.at("n"), "-2");
  host.kv["text"] = "abc";
  auto refused = kv_reply({{"op", "incr"}, {"key", "text"}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(Json::parse(refused.body)["code"], "plugin.invalid");
  host.kv["big"] = "9223372036854775807";
  EXPECT_EQ(kv_reply({{"op", "incr"}, {"key", "big"}}).status, 400);
  EXPECT_EQ(host.kv.at("big"), "9223372036854775807");
  // A counter with a TTL keeps its window; an expired one starts over.
  kv({{"op", "incr"}, {"key", "w"}, {"ttl_ms", 100}});
  host.now_ms += 50;
  EXPECT_EQ(kv({{"op", "incr"}, {"key", "w"}, {"ttl_ms", 100}})["value"], 2);
  host.now_ms += 50;
  EXPECT_EQ(kv({{"op", "incr"}, {"key", "w"}, {"ttl_ms", 100}})["value"], 1);
}

TEST_F(FakeHostTest, CompareAndSet) {
  EXPECT_EQ(kv({{"op", "cas"}, {"key", "lock"}, {"expected", nullptr}, {"value", "a"}})["swapped"], true);
  EXPECT_EQ(kv({{"op", "cas"}, {"key", "lock"}, {"expected", nullptr}, {"value", "b"}})["swapped"], false);
  EXPECT_EQ(kv({{"op", "cas"}, {"key", "lock"}, {"expected", "x"}, {"value", "b"}})["swapped"], false);
  EXPECT_EQ(kv({{"op", "cas"}, {"key", "lock"}, {"expected", "a"}, {"value", "b"}})["swapped"], true);
  EXPECT_EQ(host.kv.at("lock"), "b");
}

TEST_F(FakeHostTest, ListingByPrefixWithACursor) {
  for (const char* k : {"a:1", "a:2", "a:3", "b:1"}) host.kv[k] = "v";
  host.kv_expires_at["a:2"] = host.now_ms;  // already expired
  Json first = kv({{"op", "list"}, {"prefix", "a:"}, {"limit", 1}});
  EXPECT_EQ(first["keys"], (Json::array({"a:1"})));
  EXPECT_EQ(first["next_cursor"], "a:1");
  Json rest = kv({{"op", "list"}, {"prefix", "a:"}, {"cursor", "a:1"}, {"limit", 5}});
  EXPECT_EQ(rest["keys"], (Json::array({"a:3"})));
  EXPECT_TRUE(rest["next_cursor"].is_null());
  EXPECT_EQ(kv_reply({{"op", "list"}, {"limit", 0}}).status, 400);

  // A page ends once its values pass 1 MiB, like the server's.
  for (int i = 0; i < 20; ++i) host.kv["blob:" + std::to_string(100 + i)] = std::string(65536, 'x');
  Json blobs = kv({{"op", "list"}, {"prefix", "blob:"}, {"limit", 1000}});
  EXPECT_EQ(blobs["keys"].size(), 17u);
  EXPECT_EQ(blobs["next_cursor"], "blob:116");
}

TEST(FakeHostManifest, TheTestPluginsManifestAgreesWithItsLibrary) {
  EXPECT_EQ(testing_sdk::manifest_mismatches(QUANQU_PLUGIN_MANIFEST, &quanqu_plugin_entry_v1),
            std::vector<std::string>{});
  // The name and version came from plugin.json through quanqu_add_plugin_test.
  EXPECT_STREQ(quanqu_plugin_entry_v1()->version, "0.3.0");
  EXPECT_STREQ(quanqu_plugin_entry_v1()->name, "sdk-test");
}

// ---- host refusals in a route become problems; failures stay 502 ----

TEST_F(FakeHostTest, AnUncaughtHostRefusalIsAProblemOfItsKind) {
  auto r = host.call("GET", "/kv/" + std::string(300, 'k'));  // a key longer than 256 bytes
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/problem+json");
  Json p = Json::parse(r.body);
  EXPECT_EQ(p["code"], "plugin.invalid");
  EXPECT_EQ(p["status"], 400);
  EXPECT_NE(p["detail"].get<std::string>().find("kv_get failed"), std::string::npos) << r.body;

  host.services = [](const std::string&, const Json&) -> Json {
    throw FakeHost::Refused{404, "catalog.product_not_found", "no product prod_x"};
  };
  r = host.call("GET", "/product/prod_x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["code"], "catalog.product_not_found");
  host.services = [](const std::string&, const Json&) -> Json {
    throw FakeHost::Refused{409, "cart.completed", "the cart is completed"};
  };
  EXPECT_EQ(host.call("GET", "/product/prod_x").status, 409);
  host.services = [](const std::string&, const Json&) -> Json {
    throw FakeHost::Refused{503, "database.busy", "retry shortly"};
  };
  EXPECT_EQ(host.call("GET", "/product/prod_x").status, 502);  // a failure of the core, not a refusal
}

TEST_F(FakeHostTest, FailuresThatAreNotRefusalsAreStill502) {
  for (const char* how : {"unavailable", "internal", "plain"}) {
    auto r = host.call("GET", std::string("/fail/") + how);
    EXPECT_EQ(r.status, 502) << how;
  }
  EXPECT_NE(host.call("GET", "/fail/plain").body.find("plain failure"), std::string::npos);
}

TEST(RefusalReply, MapsStatusesAndLeavesFailuresAlone) {
  using quanqu::sdk::Error;
  EXPECT_EQ(quanqu::sdk::refusal_reply(Error(QUANQU_ERR_NOT_FOUND, "x"))->status, 404);
  EXPECT_EQ(quanqu::sdk::refusal_reply(Error(QUANQU_ERR_INVALID, "x"))->status, 400);
  auto conflict = quanqu::sdk::refusal_reply(Error(QUANQU_ERR_STATE, "busy key"));
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(Json::parse(conflict->body)["code"], "plugin.conflict");
  EXPECT_EQ(Json::parse(conflict->body)["detail"], "busy key");
  EXPECT_FALSE(quanqu::sdk::refusal_reply(Error(QUANQU_ERR_UNAVAILABLE, "x")));
  EXPECT_FALSE(quanqu::sdk::refusal_reply(Error(QUANQU_ERR_INTERNAL, "x")));
  EXPECT_FALSE(quanqu::sdk::refusal_reply(Error(QUANQU_ERR_PLUGIN, "x")));
  quanqu::sdk::ServiceError not_http(QUANQU_ERR_INVALID, Json{{"status", 200}, {"code", "odd"}});
  EXPECT_FALSE(quanqu::sdk::refusal_reply(not_http));
}

// ---- ABI 1.1 functions on a host table that lacks them ----

void must_not_be_called() {
  std::abort();
}

TEST(HostAbi, AbsentFunctionsAreCheckedNotCalled) {
  // A 1.0 server's table: it ends after hmac_sha256. What lies beyond its size is not read, even
  // when the bytes there look like function pointers.
  quanqu_host table{};
  table.size = offsetof(quanqu_host, kv_put_ttl);
  table.abi_major = 1;
  table.abi_minor = 0;
  table.kv_incr = reinterpret_cast<decltype(table.kv_incr)>(&must_not_be_called);
  quanqu::sdk::Host old(&table);
  EXPECT_FALSE(old.kv_ops_available());
  try {
    old.kv_incr("n");
    FAIL() << "kv_incr called a function the table does not have";
  } catch (const quanqu::sdk::Error& e) {
    EXPECT_EQ(e.status(), QUANQU_ERR_INTERNAL);  // a 502, not a client's fault
    EXPECT_NE(std::string(e.what()).find("SDK ABI 1.0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(old.kv_list(""), quanqu::sdk::Error);
  EXPECT_THROW(old.kv_cas("k", std::nullopt, "v"), quanqu::sdk::Error);
  EXPECT_THROW(old.kv_put("k", "v", 1000), quanqu::sdk::Error);

  // A full-size table with a null entry is treated the same way.
  quanqu_host partial{};
  partial.size = sizeof(quanqu_host);
  partial.abi_major = 1;
  partial.abi_minor = 1;
  quanqu::sdk::Host host(&partial);
  EXPECT_FALSE(host.kv_ops_available());
  EXPECT_THROW(host.kv_incr("n"), quanqu::sdk::Error);
}

// ---- webhooks ----

class WebhookTest : public FakeHostTest {
 protected:
  std::string now_s() const { return std::to_string(host.now_ms / 1000); }
  static std::string sig(const std::string& ts, const std::string& body, const std::string& secret = kSecret) {
    return hex(testing_sdk::hmac_sha256(secret, ts + "." + body));
  }
  static std::string event(const std::string& id = "evt_1") { return Json{{"id", id}, {"type", "x"}}.dump(); }
  FakeHost::Reply post(const std::string& body, const std::string& header) {
    return host.call(RouteCall::post("/hook", body).with_header("webhook-signature", header));
  }
  static std::string code(const FakeHost::Reply& r) { return Json::parse(r.body, nullptr, false).value("code", ""); }
};

TEST_F(WebhookTest, AValidSignatureIsAccepted) {
  std::string body = event(), ts = now_s();
  auto r = post(body, "t=" + ts + ",v1=" + sig(ts, body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["received"], "evt_1");
  // Spaces around entries and upper-case hex are fine.
  std::string upper = sig(ts, event("evt_2"));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(post(event("evt_2"), "t=" + ts + " , v1=" + upper).status, 200);
}

TEST_F(WebhookTest, AStaleOrFutureTimestampIsRefused) {
  std::string body = event();
  for (std::int64_t skew : {-301, 301}) {
    std::string ts = std::to_string(host.now_ms / 1000 + skew);
    auto r = post(body, "t=" + ts + ",v1=" + sig(ts, body));
    EXPECT_EQ(r.status, 401) << skew;
    EXPECT_EQ(code(r), "sdk-test.stale_timestamp");
  }
  for (std::int64_t skew : {-300, 300}) {
    std::string ts = std::to_string(host.now_ms / 1000 + skew);
    EXPECT_EQ(
        post(event("evt_" + std::to_string(skew)), "t=" + ts + ",v1=" + sig(ts, event("evt_" + std::to_string(skew))))
            .status,
        200)
        << skew;
  }
}

TEST_F(WebhookTest, AWrongSignatureIsRefused) {
  std::string body = event(), ts = now_s();
  for (const std::string& header : {"t=" + ts + ",v1=" + sig(ts, body, "another-secret"),
                                    "t=" + ts + ",v1=" + sig(ts, body + " "),          // the body changed
                                    "t=" + ts + ",v1=" + sig(now_s() + "0", body),     // another timestamp signed
                                    "t=" + ts + ",v1=" + sig(ts, body).substr(0, 63),  // cut short
                                    "t=" + ts + ",v0=" + sig(ts, body)}) {             // not the scheme
    auto r = post(body, header);
    EXPECT_EQ(r.status, 401) << header;
    EXPECT_EQ(code(r), "sdk-test.bad_signature") << header;
  }
  EXPECT_TRUE(host.kv.empty());  // nothing claimed for a refused webhook
}

TEST_F(WebhookTest, OneOfSeveralV1SignaturesIsEnough) {
  std::string body = event(), ts = now_s();
  auto r = post(body, "t=" + ts + ",v1=" + sig(ts, body, "old-secret") + ",v1=" + sig(ts, body) + ",v0=ignored");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(post(event("evt_9"), "t=" + ts + ",v1=" + sig(ts, event("evt_9")) + ",v1=" + sig(ts, "x")).status, 200);
}

TEST_F(WebhookTest, MalformedHeadersAreABadRequest) {
  std::string body = event(), ts = now_s(), good = sig(ts, body);
  for (const std::string& header : {std::string(), "v1=" + good, "t=" + ts, "t=" + ts + ",t=" + ts + ",v1=" + good,
                                    "t=" + ts + "a,v1=" + good, "t=-" + ts + ",v1=" + good, "t=,v1=" + good}) {
    auto r = post(body, header);
    EXPECT_EQ(r.status, 400) << header;
    EXPECT_EQ(code(r), "sdk-test.bad_request") << header;
  }
}

TEST_F(WebhookTest, AReplayIsRefusedUntilItsMarkExpires) {
  std::string body = event(), ts = now_s(), header = "t=" + ts + ",v1=" + sig(ts, body);
  EXPECT_EQ(post(body, header).status, 200);
  auto replay = post(body, header);
  EXPECT_EQ(replay.status, 409);
  EXPECT_EQ(code(replay), "sdk-test.replayed");
  EXPECT_EQ(host.kv_expires_at.at("webhook:seen:evt_1"), host.now_ms + 600'000);
  // Re-signed later with a fresh timestamp, the same event is still a replay within the window.
  host.now_ms += 200'000;
  std::string later = now_s();
  EXPECT_EQ(post(body, "t=" + later + ",v1=" + sig(later, body)).status, 409);
  // Once the mark has expired the id is new again (a sender would not replay that late: stale).
  host.now_ms += 400'000;
  later = now_s();
  EXPECT_EQ(post(body, "t=" + later + ",v1=" + sig(later, body)).status, 200);
}

TEST_F(WebhookTest, TwoHeaderLayout) {
  std::string body = event(), ts = now_s();
  auto call = [&](const std::string& timestamp, const std::string& signatures) {
    return host.call(RouteCall::post("/hook-two-headers", body)
                         .with_header("gateway-timestamp", timestamp)
                         .with_header("gateway-signature", signatures));
  };
  EXPECT_EQ(call(ts, "v1=" + sig(ts, body, "old") + ", v1=" + sig(ts, body)).status, 200);
  EXPECT_EQ(call(ts, "v1=" + sig(ts, body)).status, 409);  // the same event again
  EXPECT_EQ(call(ts, "v1=" + sig(ts, body, "old")).status, 401);
  EXPECT_EQ(call("", "v1=" + sig(ts, body)).status, 400);
}

TEST(WebhookParsing, HeadersAndTimestamps) {
  auto parsed = webhooks::parse_signature_header("t=12,v1=AB,v0=cd,v1=ef");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->timestamp, "12");
  EXPECT_EQ(parsed->signatures, (std::vector<std::string>{"ab", "ef"}));
  EXPECT_FALSE(webhooks::parse_signature_header("v1=ab"));
  EXPECT_EQ(webhooks::signatures_of("v1=a, v2=b ,v1=c", "v2"), (std::vector<std::string>{"b"}));
  EXPECT_EQ(webhooks::parse_timestamp("1767225600"), 1767225600);
  EXPECT_FALSE(webhooks::parse_timestamp("+1"));
  EXPECT_FALSE(webhooks::parse_timestamp("9999999999999999999"));
  EXPECT_TRUE(webhooks::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(webhooks::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(webhooks::constant_time_equal("abc", "ab"));
  EXPECT_STREQ(webhooks::to_string(webhooks::Verdict::replayed), "replayed");
}

}  // namespace
