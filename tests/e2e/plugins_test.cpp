// Plugins end to end: the real server loads the fixture plugins from --plugins-dir and serves their routes.
#include "support/fixture.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;

// Every fixture library built by tests/plugins; each sits in a directory with its plugin.json.
const std::vector<std::string> kFixtures{
    QUANQU_FIXTURE_GOOD,        QUANQU_FIXTURE_WRONG_MAJOR,  QUANQU_FIXTURE_NEWER_MINOR, QUANQU_FIXTURE_NO_ENTRY,
    QUANQU_FIXTURE_INIT_THROWS, QUANQU_FIXTURE_START_THROWS, QUANQU_FIXTURE_THROWER,     QUANQU_FIXTURE_ABI_1_0};

class PluginsTest : public E2ETest {
 protected:
  void SetUp() override {
    for (const auto& library : kFixtures) plugins_dir_.add(fs::path(library).parent_path());
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override {
    // The concurrency test sends over a hundred requests from one address: no open-bucket limit.
    std::vector<std::string> args = plugins_dir_.args();
    args.insert(args.end(), {"--rate-limit-open", "0"});
    return args;
  }

  static json find(const json& items, const std::string& name) {
    for (const auto& p : items)
      if (p["name"] == name) return p;
    return nullptr;
  }

  PluginsDir plugins_dir_;
};

TEST_F(PluginsTest, AdminListsEveryPluginWithItsStatusAbiAndReason) {
  EXPECT_EQ(anonymous().get("/v1/admin/plugins").status, 401u);
  auto r = admin().get("/v1/admin/plugins");
  ASSERT_EQ(r.status, 200u) << r.body;
  json body = r.json();
  EXPECT_EQ(body["sdk_abi"], "1.1");
  EXPECT_TRUE(body["next_cursor"].is_null());
  ASSERT_EQ(body["items"].size(), kFixtures.size()) << body.dump(2);

  json good = find(body["items"], "good");
  EXPECT_EQ(good["status"], "loaded");
  EXPECT_EQ(good["version"], "1.0.0");
  EXPECT_EQ(good["sdk_abi"], "1.1");
  EXPECT_EQ(find(body["items"], "abi-1-0")["status"], "loaded");
  EXPECT_EQ(find(body["items"], "abi-1-0")["sdk_abi"], "1.0");
  EXPECT_TRUE(good["reason"].is_null());
  EXPECT_EQ(good["provides"], json::array({"routes"}));
  EXPECT_NE(good["routes"].dump().find("/v1/plugins/good/hello"), std::string::npos) << good.dump();

  json major = find(body["items"], "wrong-major");
  EXPECT_EQ(major["status"], "failed");
  std::string reason = major["reason"];
  EXPECT_NE(reason.find("2.0"), std::string::npos) << reason;
  EXPECT_NE(reason.find("1.1"), std::string::npos) << reason;

  for (const char* failed : {"newer-minor", "no-entry", "init-throws", "start-throws"}) {
    json p = find(body["items"], failed);
    EXPECT_EQ(p["status"], "failed") << failed;
    EXPECT_TRUE(p["reason"].is_string() && !p["reason"].get<std::string>().empty()) << failed;
  }
  EXPECT_EQ(find(body["items"], "thrower")["status"], "loaded");

  // The failures are in the server's log too.
  EXPECT_NE(server().output().find("plugin failed to load"), std::string::npos);
}

TEST_F(PluginsTest, PluginRoutesAreMountedAndSeeTheRequestsChannel) {
  auto r = store().get("/v1/plugins/good/hello");
  ASSERT_EQ(r.status, 200u) << r.body;
  json body = r.json();
  EXPECT_EQ(body["hello"], "world");
  EXPECT_EQ(body["hits"], 1);
  EXPECT_FALSE(body["channel_id"].get<std::string>().empty());

  auto anon = anonymous().get("/v1/plugins/good/hello");
  ASSERT_EQ(anon.status, 200u) << anon.body;
  EXPECT_EQ(anon.json()["channel_id"], "");
  EXPECT_EQ(anon.json()["hits"], 2);  // state kept in the plugin's key-value store

  auto bad_key = anonymous().get("/v1/plugins/good/hello", {{"X-Publishable-Key", "qq_pk_unknown"}});
  EXPECT_EQ(bad_key.status, 401u);

  auto put =
      anonymous().request("PUT", "/v1/plugins/good/kv/color", std::string("blue"), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(put.status, 204u) << put.body;
  auto got = anonymous().get("/v1/plugins/good/kv/color");
  EXPECT_EQ(got.status, 200u);
  EXPECT_EQ(got.body, "blue");

  // Routes of plugins that failed are not mounted.
  EXPECT_EQ(anonymous().get("/v1/plugins/start-throws/never").status, 404u);
}

TEST_F(PluginsTest, AThrowingRouteIsA502PluginErrorAndTheServerStaysUp) {
  auto r = anonymous().get("/v1/plugins/thrower/boom");
  ASSERT_EQ(r.status, 502u) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  json problem = r.json();
  EXPECT_EQ(problem["code"], "plugin_error");
  EXPECT_EQ(problem["status"], 502);
  EXPECT_EQ(problem["details"]["plugin"], "thrower");
  EXPECT_NE(problem["detail"].get<std::string>().find("thrower"), std::string::npos) << problem.dump();
  EXPECT_EQ(anonymous().get("/v1/plugins/thrower/boom").status, 502u);

  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
  EXPECT_EQ(anonymous().get("/v1/plugins/thrower/ok").status, 200u);
  EXPECT_EQ(store().get("/v1/store/products?limit=1").status, 200u);

  auto metrics = anonymous().get("/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("quanqu_plugin_errors_total{plugin=\"thrower\"} 2\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("quanqu_plugin_errors_total{plugin=\"good\"} 0\n"), std::string::npos);

  auto list = admin().get("/v1/admin/plugins").json();
  EXPECT_EQ(find(list["items"], "thrower")["errors"], 2);
}

TEST_F(PluginsTest, APluginBuiltForAbi10IsServedByThisServer) {
  auto hello = anonymous().get("/v1/plugins/abi-1-0/hello");
  ASSERT_EQ(hello.status, 200u) << hello.body;
  EXPECT_EQ(hello.json(), (json{{"plugin_abi", "1.0"}, {"host_abi", "1.1"}, {"host_table_grew", true}}));
  auto put = anonymous().request("PUT", "/v1/plugins/abi-1-0/kv/colour", std::string("green"),
                                 {{"Content-Type", "text/plain"}});
  EXPECT_EQ(put.status, 204u) << put.body;
  EXPECT_EQ(anonymous().get("/v1/plugins/abi-1-0/kv/colour").body, "green");
}

// The ABI 1.1 key-value operations through the server, on this run's database (SQLite or
// PostgreSQL), with requests racing on several connections.
TEST_F(PluginsTest, CountersAndClaimsAreAtomicUnderConcurrentRequests) {
  constexpr int kThreads = 6, kEach = 10;
  std::atomic<int> failures{0}, claimed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      HttpClient client = anonymous();
      for (int i = 0; i < kEach; ++i) {
        if (client.request("POST", "/v1/plugins/good/counter/race", std::string(), {}).status != 200) ++failures;
        auto cas = client.request("POST", "/v1/plugins/good/cas/claim", std::string(R"({"expected":null,"value":"x"})"),
                                  {{"Content-Type", "application/json"}});
        if (cas.status != 200)
          ++failures;
        else if (cas.json().value("swapped", false))
          ++claimed;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(anonymous().get("/v1/plugins/good/kv/race").body, std::to_string(kThreads * kEach));
  EXPECT_EQ(claimed.load(), 1);  // one insert-if-absent won, every other saw the key

  // A value that is not an integer: the host refuses, the route lets it propagate, the client
  // gets a 400 problem (not a 502), and it is not counted against the plugin.
  anonymous().request("PUT", "/v1/plugins/good/kv/word", std::string("abc"), {{"Content-Type", "text/plain"}});
  auto refused = anonymous().request("POST", "/v1/plugins/good/counter/word", std::string(), {});
  EXPECT_TRUE(IsProblem(refused, 400, "plugin.invalid")) << refused.body;
  EXPECT_EQ(find(admin().get("/v1/admin/plugins").json()["items"], "good")["errors"], 0);

  auto page = anonymous().get("/v1/plugins/good/list?prefix=r&limit=5");
  ASSERT_EQ(page.status, 200u) << page.body;
  EXPECT_EQ(
      page.json()["items"],
      (json::array({{{"key", "race"}, {"value", std::to_string(kThreads * kEach)}, {"expires_at_ms", nullptr}}})));
  EXPECT_TRUE(page.json()["next_cursor"].is_null());
}

// Expired plugin keys are deleted by a recurring job: it runs at start-up, then every minute.
TEST_F(PluginsTest, TheKeyExpiryJobRunsAtStartAndIsScheduledAgain) {
  json items;
  bool ran = false;
  for (int i = 0; i < 100 && !ran; ++i) {
    auto r = admin().get("/v1/admin/jobs?kind=plugins.kv_expiry");
    ASSERT_EQ(r.status, 200u) << r.body;
    items = r.json()["items"];
    for (const auto& j : items) ran = ran || j.value("status", "") == "succeeded";
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ran) << items.dump();
  bool next = false;
  for (const auto& j : items) next = next || j.value("status", "") == "scheduled";
  EXPECT_TRUE(next) << items.dump();
}

}  // namespace
