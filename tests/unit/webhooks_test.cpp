// Unit tests for webhooks: URL and address rules, signatures, fan-out from the outbox, retries with back-off, replay.
#include "core_test_support.h"
#include "webhooks/webhook_service.h"

#include <gtest/gtest.h>

namespace quanqu::webhooks {
namespace {

using nlohmann::json;
using test_support::CoreEnv;
using test_support::describe;

TEST(WebhookAddressPolicy, OnlyPublicAddressesUnlessListed) {
  for (const char* ip : {"8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1", "172.32.0.1"})
    EXPECT_TRUE(AddressPolicy::is_public(ip)) << ip;
  for (const char* ip : {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                         "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "ff02::1",
                         "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2001:db8::1", "not an ip"})
    EXPECT_FALSE(AddressPolicy::is_public(ip)) << ip;

  auto policy = AddressPolicy::parse({"127.0.0.1", "10.20.0.0/16", "fd00::/8", "hooks.internal"});
  ASSERT_TRUE(policy.ok()) << describe(policy);
  EXPECT_TRUE(policy->allows("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(policy->allows("127.0.0.2", "127.0.0.2"));
  EXPECT_TRUE(policy->allows("x", "10.20.3.4"));
  EXPECT_FALSE(policy->allows("x", "10.21.3.4"));
  EXPECT_TRUE(policy->allows("x", "fd12::1"));
  EXPECT_TRUE(policy->allows("hooks.internal", "192.168.7.7"));  // a listed name: whatever it resolves to
  EXPECT_FALSE(policy->allows("other.example", "192.168.7.7"));
  EXPECT_TRUE(policy->allows("other.example", "93.184.216.34"));

  for (const char* bad : {"10.0.0.0/33", "::/129", "not a host!", "1.2.3.4/x"})
    EXPECT_FALSE(AddressPolicy::parse({bad}).ok()) << bad;
}

TEST(WebhookAddressPolicy, UrlsAreParsedStrictlyAndPrivateHostsRefusedAtCreation) {
  AddressPolicy none;
  auto refused = [&](const char* url) {
    auto parsed = parse_webhook_url(url);
    return !parsed || !none.refuse_host(*parsed).empty();
  };
  for (const char* url : {"http://127.0.0.1/x", "http://[::1]:8080/", "http://localhost/", "http://a.localhost/",
                          "ftp://example.com/", "https://u@example.com/", "https://example.com/#f", "https://exa mple.com/",
                          "https://example.com:0/", "https://example.com:70000/", "https://", "https://[1.2.3.4]/",
                          "http://256.1.1.1/"})
    EXPECT_TRUE(refused(url)) << url;
  for (const char* url : {"https://example.com/hooks?x=1", "HTTPS://Example.COM:8443", "http://93.184.216.34/h",
                          "http://[2606:4700::1111]:80/h"})
    EXPECT_FALSE(refused(url)) << url;
  auto p = parse_webhook_url("HTTPS://Example.COM:8443/a");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->scheme, "https");
  EXPECT_EQ(p->host, "example.com");
}

TEST(WebhookSignature, IsHmacSha256OfTimestampDotBodyInHex) {
  EXPECT_EQ(signature("whsec_test", "1700000000", R"({"a":1})"),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
}

// A webhook service on the CoreEnv's outbox; the relay fans events out to it.
class WebhookServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WebhookOptions o;
    o.retry_base_ms = 1000;
    o.retry_max_ms = 3'600'000;
    hooks = std::make_unique<WebhookService>(env.db(), env.clock, *AddressPolicy::parse({"127.0.0.1"}), o);
    env.events.on_dispatch([this](soci::session& sql, const std::vector<events::Event>& batch) {
      return hooks->fan_out(sql, batch);
    });
  }

  std::string make(const std::vector<std::string>& types = {"test.*"}) {
    WebhookInput in;
    in.url = "http://127.0.0.1:9/hooks";
    in.event_types = types;
    auto made = hooks->create(in);
    EXPECT_TRUE(made.ok()) << describe(made);
    return made.ok() ? made->webhook.id : "";
  }

  void emit(const std::string& type) {
    ASSERT_TRUE(env.events.publish(type, {{"n", 1}}).ok());
    env.events.drain();
  }

  std::vector<Delivery> all(const std::string& id) {
    auto page = hooks->deliveries(id, {});
    EXPECT_TRUE(page.ok()) << describe(page);
    return page.ok() ? page->items : std::vector<Delivery>{};
  }

  CoreEnv env;
  std::unique_ptr<WebhookService> hooks;
  std::vector<OutgoingWebhook> sent;
  std::vector<int> replies;  // statuses to answer, in turn; 200 when empty

  Transport transport() {
    return [this](const OutgoingWebhook& w) -> Result<WebhookReply> {
      sent.push_back(w);
      if (replies.empty()) return WebhookReply{200};
      int status = replies.front();
      replies.erase(replies.begin());
      if (status == 0) return Error::make(ErrorKind::unavailable, "http.timeout", "no answer");
      return WebhookReply{status};
    };
  }
};

TEST_F(WebhookServiceTest, MatchingEventsBecomeSignedDeliveriesAndFailuresAreRetriedWithBackOff) {
  WebhookInput in;
  in.url = "http://127.0.0.1:9/hooks";
  in.event_types = std::vector<std::string>{"test.*"};
  auto made = hooks->create(in);
  ASSERT_TRUE(made.ok()) << describe(made);
  std::string id = made->webhook.id;
  emit("test.one");
  emit("other.two");  // not matched
  auto list = all(id);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].status, "pending");
  EXPECT_EQ(list[0].retry_until, list[0].created_at + 86'400'000);

  replies = {500, 0};
  auto t = transport();
  ASSERT_TRUE(hooks->send_once(t));
  ASSERT_EQ(sent.size(), 1u);
  const auto& w = sent[0];
  std::map<std::string, std::string> h(w.headers.begin(), w.headers.end());
  EXPECT_EQ(h["Quanqu-Signature"], signature(made->secret, h["Quanqu-Timestamp"], w.body));
  EXPECT_EQ(h["Quanqu-Event-Id"], list[0].event_id);
  EXPECT_EQ(json::parse(w.body)["type"], "test.one");
  EXPECT_TRUE(w.allow_address("127.0.0.1"));
  EXPECT_FALSE(w.allow_address("10.0.0.1"));

  list = all(id);
  ASSERT_TRUE(list[0].next_attempt_at.has_value());
  std::int64_t wait = *list[0].next_attempt_at - env.clock.now_ms();
  EXPECT_GE(wait, 500);  // base 1000 ms, jittered down by at most a half
  EXPECT_LE(wait, 1000);
  EXPECT_FALSE(hooks->send_once(t));  // not due yet
  env.clock.advance(wait);
  ASSERT_TRUE(hooks->send_once(t));  // a timeout
  list = all(id);
  wait = *list[0].next_attempt_at - env.clock.now_ms();
  EXPECT_GE(wait, 1000);  // doubled
  EXPECT_LE(wait, 2000);
  env.clock.advance(wait);
  ASSERT_TRUE(hooks->send_once(t));
  list = all(id);
  EXPECT_EQ(list[0].status, "succeeded");
  EXPECT_EQ(list[0].attempts, 3);
  ASSERT_EQ(list[0].recent_attempts.size(), 3u);
  EXPECT_EQ(list[0].recent_attempts[0].status_code, 200);
  EXPECT_FALSE(list[0].recent_attempts[1].status_code.has_value());
  EXPECT_EQ(list[0].recent_attempts[1].error.rfind("http.timeout", 0), 0u);
  EXPECT_EQ(list[0].recent_attempts[2].status_code, 500);
  std::map<std::string, std::string> last(sent.back().headers.begin(), sent.back().headers.end());
  EXPECT_EQ(last["Quanqu-Event-Id"], h["Quanqu-Event-Id"]);  // stable
  EXPECT_EQ(last["Quanqu-Delivery-Attempt"], "3");

  // A replay sends the same event again.
  auto replayed = hooks->replay(id, list[0].id);
  ASSERT_TRUE(replayed.ok()) << describe(replayed);
  EXPECT_EQ(replayed->status, "pending");
  ASSERT_TRUE(hooks->send_once(t));
  EXPECT_EQ(all(id)[0].status, "succeeded");
  EXPECT_EQ(all(id)[0].attempts, 4);
}

TEST_F(WebhookServiceTest, RetriesGoOnForTwentyFourHoursThenTheDeliveryFails) {
  std::string id = make();
  emit("test.down");
  std::int64_t created = all(id)[0].created_at;
  auto always_down = [this](const OutgoingWebhook&) -> Result<WebhookReply> { return WebhookReply{503}; };
  int attempts = 0;
  std::int64_t last_attempt = 0;
  for (; attempts < 200; ++attempts) {
    auto d = all(id)[0];
    if (d.status != "pending") break;
    env.clock.set(std::max(env.clock.now_ms(), *d.next_attempt_at));
    last_attempt = env.clock.now_ms();
    ASSERT_TRUE(hooks->send_once(always_down));
  }
  auto d = all(id)[0];
  EXPECT_EQ(d.status, "failed");
  EXPECT_GE(last_attempt - created, 86'400'000);  // the last attempt at the end of the window
  EXPECT_LT(attempts, 80);                        // half an hour to an hour apart, after the first hours
  EXPECT_GT(attempts, 24);
  EXPECT_TRUE(d.completed_at.has_value());
}

TEST_F(WebhookServiceTest, DisabledWebhooksGetNothingAndOlderEventsAreNotFannedOut) {
  env.events.stop();
  ASSERT_TRUE(env.events.publish("test.before", json::object()).ok());  // pending when the webhook is made
  env.clock.advance(1);
  std::string id = make();
  env.events.start();
  env.events.drain();
  EXPECT_TRUE(all(id).empty());

  WebhookInput off;
  off.enabled = false;
  ASSERT_TRUE(hooks->update(id, off).ok());
  emit("test.off");
  EXPECT_TRUE(all(id).empty());
}

TEST_F(WebhookServiceTest, InputIsValidatedAndTheNumberOfWebhooksBounded) {
  WebhookInput bad;
  bad.url = "http://10.0.0.1/x";
  bad.event_types = std::vector<std::string>{"Order", "order.placed", "order.placed"};
  auto refused = hooks->create(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "validation_failed");
  EXPECT_EQ(refused.error().fields.size(), 3u);  // url, event_types/0, event_types/2
  for (std::size_t i = 0; i < WebhookService::kMaxWebhooks; ++i) make();
  WebhookInput in;
  in.url = "https://example.com/x";
  in.event_types = std::vector<std::string>{"*"};
  auto full = hooks->create(in);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, "webhook.limit_reached");
}

}  // namespace
}  // namespace quanqu::webhooks
