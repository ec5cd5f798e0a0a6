// Merchant webhooks and the outbox end to end: signed deliveries, retries, replay, crashes and restarts, two nodes, jobs.
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/webhook_receiver.h"

#include <signal.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::WebhookReceiver;
using namespace std::chrono_literals;

const char* kSku = "TEE-ORGANIC-NAVY-S";

// Fast retries, and the receiver on 127.0.0.1 allowed.
std::vector<std::string> webhook_args() {
  return {"--webhook-allow-hosts", "127.0.0.1", "--webhook-retry-base-ms", "200", "--webhook-retry-max-ms", "1000"};
}

// How many requests carried each event id, and how many of those were answered 200.
std::map<std::string, int> by_event(const std::vector<WebhookReceiver::Received>& got, bool only_acknowledged) {
  std::map<std::string, int> out;
  for (const auto& r : got)
    if (!only_acknowledged || r.answered == 200) ++out[r.header("quanqu-event-id")];
  return out;
}

class WebhooksTest : public E2ETest {
 protected:
  std::vector<std::string> extra_args() const override { return webhook_args(); }

  json create_webhook(HttpClient& admin, const json& types = json::array({"inventory.*"})) {
    auto r = admin.post("/v1/admin/webhooks", {{"url", receiver.url()}, {"event_types", types}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json();
  }

  // A stock change: one inventory.changed event.
  void change_stock(HttpClient& admin, std::int64_t on_hand) {
    if (warehouse_.empty()) {
      auto loc = admin.get("/v1/admin/stock-locations/warehouse-shanghai");
      ASSERT_EQ(loc.status, 200u) << loc.body;
      warehouse_ = loc.json().value("id", "");
    }
    auto r = admin.put("/v1/admin/inventory-levels", {{"sku", kSku}, {"location_id", warehouse_}, {"on_hand", on_hand}});
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  // The webhook's deliveries once `done` holds for them, or after a minute.
  json deliveries_when(HttpClient& admin, const std::string& webhook_id, const std::function<bool(const json&)>& done) {
    json items;
    // Up to a minute: a delivery in flight when a node was killed waits for its lease (15 s).
    for (int i = 0; i < 600; ++i) {
      auto r = admin.get("/v1/admin/webhooks/" + webhook_id + "/deliveries");
      EXPECT_EQ(r.status, 200u) << r.body;
      items = r.json().value("items", json::array());
      if (done(items)) break;
      std::this_thread::sleep_for(100ms);
    }
    return items;
  }

  // A second server on this test's database (a restart after a crash, or another node).
  std::unique_ptr<ServerProcess> another_node(std::vector<std::string> args) {
    ServerProcess::Launch launch;
    launch.extra_args = std::move(args);
    launch.database_url = server().database_url();
    return std::make_unique<ServerProcess>(launch);
  }
  // SIGKILL (a crash: nothing finished or flushed), then reaped by stop(); returns 137.
  static int crash(ServerProcess& node) {
    ::kill(node.pid(), SIGKILL);
    return node.stop();
  }
  static HttpClient admin_of(ServerProcess& node) {
    HttpClient c = node.client();
    c.set_default_header("Authorization", "Bearer " + node.admin_key());
    return c;
  }

  WebhookReceiver receiver;
  std::string warehouse_;
};

TEST_F(WebhooksTest, DeliversSignedEventsWithAStableIdAndLogsTheAttempt) {
  json hook = create_webhook(admin());
  std::string secret = hook.value("secret", "");
  ASSERT_EQ(secret.rfind("whsec_", 0), 0u);
  EXPECT_EQ(hook.value("secret_hint", ""), secret.substr(0, 10));
  std::string id = hook.value("id", "");

  auto read = admin().get("/v1/admin/webhooks/" + id);
  ASSERT_EQ(read.status, 200u) << read.body;
  EXPECT_FALSE(read.json().contains("secret"));  // shown once

  change_stock(admin(), 7);
  auto got = receiver.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  const auto& r = got[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hooks");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("quanqu-event-type"), "inventory.changed");
  EXPECT_EQ(r.header("quanqu-delivery-attempt"), "1");
  // The signature: HMAC-SHA256 over "<timestamp>.<body>" with the secret, and a fresh timestamp.
  std::string timestamp = r.header("quanqu-timestamp");
  EXPECT_EQ(r.header("quanqu-signature"), WebhookReceiver::signature(secret, timestamp, r.body));
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  EXPECT_LE(std::llabs(now_s.count() - std::stoll(timestamp)), 60);
  json body = json::parse(r.body);
  EXPECT_EQ(body["id"], r.header("quanqu-event-id"));
  EXPECT_EQ(body["type"], "inventory.changed");
  EXPECT_EQ(body["data"]["reason"], "adjustment");
  EXPECT_EQ(body["data"]["levels"][0]["on_hand"], 7);
  EXPECT_TRUE(body["occurred_at"].is_string());

  json items = deliveries_when(admin(), id, [](const json& items) {
    return items.size() == 1 && items[0].value("status", "") == "succeeded";
  });
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["event_id"], r.header("quanqu-event-id"));
  EXPECT_EQ(items[0]["id"], r.header("quanqu-delivery-id"));
  EXPECT_EQ(items[0]["status"], "succeeded");
  EXPECT_EQ(items[0]["attempt_count"], 1);
  ASSERT_EQ(items[0]["attempts"].size(), 1u);
  EXPECT_EQ(items[0]["attempts"][0]["status_code"], 200);
  EXPECT_TRUE(items[0]["attempts"][0]["error"].is_null());

  // Events of other types are not sent to it.
  auto other = admin().post("/v1/admin/webhooks", {{"url", receiver.url("/orders")}, {"event_types", {"order.placed"}}});
  ASSERT_EQ(other.status, 201u) << other.body;
  change_stock(admin(), 8);
  receiver.wait_for(2);
  std::this_thread::sleep_for(500ms);
  for (const auto& x : receiver.received()) EXPECT_EQ(x.target, "/hooks");
}

TEST_F(WebhooksTest, RetriesAfterTheReceiverFailsThenReplaysByHand) {
  std::string id = create_webhook(admin()).value("id", "");
  receiver.fail_next(2, 503);
  change_stock(admin(), 5);
  auto got = receiver.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].header("quanqu-event-id"), got[0].header("quanqu-event-id"));
    EXPECT_EQ(got[i].header("quanqu-delivery-attempt"), std::to_string(i + 1));
  }
  json items = deliveries_when(admin(), id, [](const json& items) {
    return items.size() == 1 && items[0].value("status", "") == "succeeded";
  });
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["attempt_count"], 3);
  ASSERT_EQ(items[0]["attempts"].size(), 3u);
  EXPECT_EQ(items[0]["attempts"][0]["status_code"], 200);  // newest first
  EXPECT_EQ(items[0]["attempts"][1]["status_code"], 503);
  EXPECT_EQ(items[0]["attempts"][2]["status_code"], 503);
  EXPECT_TRUE(items[0]["attempts"][2]["error"].is_string());

  // By hand: the same event, once more.
  std::string delivery = items[0].value("id", "");
  auto replay = admin().post("/v1/admin/webhooks/" + id + "/deliveries/" + delivery + "/replay", json::object());
  ASSERT_EQ(replay.status, 202u) << replay.body;
  EXPECT_EQ(replay.json()["status"], "pending");
  got = receiver.wait_for(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].header("quanqu-event-id"), got[0].header("quanqu-event-id"));
  EXPECT_EQ(got[3].header("quanqu-delivery-attempt"), "4");
  auto one = admin().get("/v1/admin/webhooks/" + id + "/deliveries/" + delivery);
  ASSERT_EQ(one.status, 200u) << one.body;

  auto unknown = admin().post("/v1/admin/webhooks/" + id + "/deliveries/whd_nope/replay", json::object());
  EXPECT_TRUE(IsProblem(unknown, 404, "webhook.delivery_not_found"));
}

TEST_F(WebhooksTest, AnEventCommittedBeforeACrashArrivesOnceAfterTheRestart) {
  // This node relays nothing: every event it commits waits in the outbox, as if it died right
  // after the commit. Then it dies for real.
  server().stop();
  {
    auto args = webhook_args();
    args.insert(args.end(), {"--background-work", "off"});
    auto writer = another_node(args);
    HttpClient admin_a = admin_of(*writer);
    create_webhook(admin_a);
    change_stock(admin_a, 3);
    std::this_thread::sleep_for(1s);
    EXPECT_TRUE(receiver.received().empty());
    EXPECT_EQ(crash(*writer), 137);
  }
  auto restarted = another_node(webhook_args());
  auto got = receiver.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  std::this_thread::sleep_for(1500ms);
  got = receiver.received();
  EXPECT_EQ(got.size(), 1u);  // once
  EXPECT_EQ(json::parse(got[0].body)["data"]["levels"][0]["on_hand"], 3);
}

TEST_F(WebhooksTest, ADeliveryFailingWhenTheServerIsKilledIsRetriedAfterTheRestart) {
  std::string id = create_webhook(admin()).value("id", "");
  receiver.fail_next(1000, 500);
  change_stock(admin(), 4);
  auto got = receiver.wait_for(2);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(crash(server()), 137);
  std::string event = got[0].header("quanqu-event-id");
  receiver.fail_next(0);

  auto restarted = another_node(webhook_args());
  HttpClient admin_b = admin_of(*restarted);
  json items = deliveries_when(admin_b, id, [](const json& items) {
    return items.size() == 1 && items[0].value("status", "") == "succeeded";
  });
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["status"], "succeeded");
  auto acknowledged = by_event(receiver.received(), true);
  EXPECT_EQ(acknowledged.size(), 1u);
  EXPECT_EQ(acknowledged[event], 1);
}

TEST_F(WebhooksTest, TwoNodesOnOneDatabaseDeliverEachEventOnce) {
  auto b = another_node(webhook_args());
  HttpClient admin_b = admin_of(*b);
  create_webhook(admin());
  constexpr int kChanges = 20;
  for (int i = 0; i < kChanges; ++i) change_stock(i % 2 ? admin_b : admin(), 100 + i);
  for (int i = 0; i < 300 && by_event(receiver.received(), false).size() < kChanges; ++i)
    std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(1500ms);  // time for a duplicate to show up
  auto got = receiver.received();
  auto counts = by_event(got, false);
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(kChanges));
  for (const auto& [event, n] : counts) EXPECT_EQ(n, 1) << event;
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kChanges));
}

TEST_F(WebhooksTest, CreateReadChangeAndDeleteWebhooks) {
  json hook = create_webhook(admin(), {"order.*", "inventory.changed"});
  std::string id = hook.value("id", "");
  auto list = admin().get("/v1/admin/webhooks");
  ASSERT_EQ(list.status, 200u) << list.body;
  ASSERT_EQ(list.json()["items"].size(), 1u);
  EXPECT_FALSE(list.json()["items"][0].contains("secret"));

  auto off = admin().patch("/v1/admin/webhooks/" + id, {{"enabled", false}, {"description", "paused"}});
  ASSERT_EQ(off.status, 200u) << off.body;
  EXPECT_EQ(off.json()["enabled"], false);
  EXPECT_FALSE(off.json().contains("secret"));
  auto rotated = admin().patch("/v1/admin/webhooks/" + id, {{"rotate_secret", true}});
  ASSERT_EQ(rotated.status, 200u) << rotated.body;
  std::string secret = rotated.json().value("secret", "");
  EXPECT_NE(secret, hook.value("secret", ""));
  EXPECT_EQ(rotated.json()["secret_hint"], secret.substr(0, 10));

  // A disabled webhook gets nothing.
  change_stock(admin(), 9);
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(receiver.received().empty());

  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/webhooks/" + id, {{"event_types", json::array()}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/webhooks/" + id, {{"colour", "red"}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().patch("/v1/admin/webhooks/wh_nope", {{"enabled", true}}), 404, "webhook.not_found"));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/webhooks/" + id + "/deliveries?status=lost"), 400, "validation_failed"));

  auto gone = admin().del("/v1/admin/webhooks/" + id);
  EXPECT_EQ(gone.status, 204u) << gone.body;
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/webhooks/" + id), 404, "webhook.not_found"));
  EXPECT_TRUE(IsProblem(admin().del("/v1/admin/webhooks/" + id), 404, "webhook.not_found"));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/webhooks/" + id + "/deliveries"), 404, "webhook.not_found"));
}

TEST_F(WebhooksTest, JobsAreListedWithTheMaintenanceJob) {
  json items;
  for (int i = 0; i < 100; ++i) {
    auto r = admin().get("/v1/admin/jobs?kind=maintenance.prune");
    ASSERT_EQ(r.status, 200u) << r.body;
    items = r.json()["items"];
    bool ran = false;
    for (const auto& j : items) ran = ran || j.value("status", "") == "succeeded";
    if (ran) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(items.size(), 2u);  // the run at start-up, and the next one an hour later
  std::set<std::string> statuses;
  for (const auto& j : items) statuses.insert(j.value("status", ""));
  EXPECT_TRUE(statuses.count("succeeded"));
  EXPECT_TRUE(statuses.count("scheduled"));
  auto one = admin().get("/v1/admin/jobs/" + items[0].value("id", ""));
  ASSERT_EQ(one.status, 200u) << one.body;
  EXPECT_EQ(one.json()["kind"], "maintenance.prune");
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/jobs/job_nope"), 404, "job.not_found"));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/jobs?status=lost"), 400, "validation_failed"));
}

// Without --webhook-allow-hosts.
class WebhookAddressTest : public E2ETest {};

TEST_F(WebhookAddressTest, PrivateAndLoopbackTargetsAreRefusedWithoutTheAllowList) {
  for (const char* url : {"http://127.0.0.1:9/hooks", "http://10.1.2.3/x", "http://192.168.0.10/x",
                          "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/x", "http://localhost/x",
                          "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x"}) {
    auto r = admin().post("/v1/admin/webhooks", {{"url", url}, {"event_types", {"order.placed"}}});
    EXPECT_TRUE(IsProblem(r, 400, "validation_failed")) << url;
    EXPECT_EQ(r.json()["errors"][0]["field"], "url") << url;
  }
  for (const char* url : {"ftp://example.com/x", "https://user@example.com/x", "https://example.com/x#frag",
                          "https://exa mple.com/"}) {
    EXPECT_TRUE(IsProblem(admin().post("/v1/admin/webhooks", {{"url", url}, {"event_types", {"order.placed"}}}), 400, "validation_failed"))
        << url;
  }
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/webhooks", {{"url", "https://example.com/x"}, {"event_types", {"Order.Placed"}}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/webhooks", {{"url", "https://example.com/x"}}), 400, "validation_failed"));
  auto ok = admin().post("/v1/admin/webhooks", {{"url", "https://example.com/hooks"}, {"event_types", {"*"}}});
  EXPECT_EQ(ok.status, 201u) << ok.body;
  EXPECT_FALSE(ok.header("location").empty());
}

}  // namespace
