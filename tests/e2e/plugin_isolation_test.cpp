// Process isolation on the real server: plugins that segfault, abort, hang and leak in their runner, while the core serves on.
#include "support/fixture.h"
#include "support/loopback_server.h"
#include "support/metrics.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"

#include <nlohmann/json.hpp>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::PluginsDir;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10000ms) {
  auto until = Clock::now() + deadline;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(25ms);
  }
}

// Core requests sent back to back from their own thread while a test crashes a plugin; every
// reply must be a 200.
class CoreTraffic {
 public:
  explicit CoreTraffic(HttpClient client, std::string key) : client_(std::move(client)) {
    client_.set_default_header("X-Publishable-Key", key);
    thread_ = std::thread([this] {
      while (!stop_) {
        try {
          auto r = client_.get(++sent_ % 2 ? "/healthz" : "/v1/store/products?limit=5");
          if (r.status != 200u) ++failed_;
        } catch (const std::exception&) {
          ++failed_;
        }
      }
    });
  }
  // Stops and returns how many requests failed; `sent` receives how many were sent.
  int finish(int* sent) {
    stop_ = true;
    thread_.join();
    *sent = sent_;
    return failed_;
  }

 private:
  HttpClient client_;
  std::atomic<bool> stop_{false};
  int sent_ = 0;
  int failed_ = 0;
  std::thread thread_;
};

// The server with the "crasher" fixture (process isolation, the server's default for a plugin
// not on the trusted list) and the "good" fixture beside it, with a short restart back-off.
class PluginIsolationTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_CRASHER).parent_path(), "crasher");
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_GOOD).parent_path(), "good");
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override {
    auto args = plugins_dir_.args();
    // Core traffic runs back to back beside the crashes: no rate limit may answer it.
    args.insert(args.end(), {"--plugin-max-memory-mb", "512", "--plugin-max-cpu-ms-per-call", "2000", "--rate-limit-store", "0", "--rate-limit-open", "0"});
    return args;
  }

  json plugin(const std::string& name = "crasher") {
    auto r = admin().get("/v1/admin/plugins/" + name);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }

  // The pid of the runner serving /ok now, or 0 while the plugin is down.
  long long ok_pid() {
    auto r = anonymous().get("/v1/plugins/crasher/ok");
    return r.status == 200u ? r.json().value("pid", 0LL) : 0;
  }

  // Crashes the plugin with `route`, checks the reply and that it comes back in a new process.
  void crash_and_recover(const std::string& route, const std::string& signal) {
    long long before = ok_pid();
    ASSERT_GT(before, 0);
    auto crashed = anonymous().get("/v1/plugins/crasher/" + route);
    ASSERT_TRUE(IsProblem(crashed, 502, "plugin_error")) << crashed.body;
    auto details = crashed.json()["details"];
    EXPECT_EQ(details.value("reason", ""), "plugin_crashed") << crashed.body;
    EXPECT_EQ(details.value("signal", ""), signal) << crashed.body;
    EXPECT_EQ(details.value("plugin", ""), "crasher") << crashed.body;
    // Until the runner is back, calls are refused as retryable, never sent to a dead process.
    auto meanwhile = anonymous().get("/v1/plugins/crasher/ok");
    EXPECT_TRUE(meanwhile.status == 200u || IsProblem(meanwhile, 503, "plugin_restarting")) << meanwhile.body;
    long long after = 0;
    ASSERT_TRUE(eventually([&] { return (after = ok_pid()) > 0; })) << "the runner did not come back";
    EXPECT_NE(after, before);
    EXPECT_NE(after, static_cast<long long>(server().pid()));
  }

  PluginsDir plugins_dir_;
};

TEST_F(PluginIsolationTest, APluginRunsInItsOwnProcessUnlessTrusted) {
  json p = plugin();
  EXPECT_EQ(p.value("isolation", ""), "process");
  EXPECT_EQ(p.value("status", ""), "loaded");
  ASSERT_TRUE(p["runner_pid"].is_number()) << p.dump();
  long long pid = ok_pid();
  EXPECT_EQ(pid, p["runner_pid"].get<long long>());
  EXPECT_NE(pid, static_cast<long long>(server().pid()));
  EXPECT_EQ(p.value("crashes", -1), 0);
  EXPECT_TRUE(p["last_crash"].is_null());
}

// The runner does not inherit the server's own settings, secrets among them.
TEST_F(PluginIsolationTest, TheRunnerGetsNoneOfTheServersQuanquEnvironment) {
  auto read_environ = [](long long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::vector<std::string> out;
    for (std::string entry; std::getline(in, entry, '\0');) out.push_back(entry);
    return out;
  };
  json p = plugin();
  ASSERT_TRUE(p["runner_pid"].is_number()) << p.dump();
  auto runner = read_environ(p["runner_pid"].get<long long>());
  ASSERT_FALSE(runner.empty());
  for (const auto& entry : runner) EXPECT_NE(entry.rfind("QUANQU_", 0), 0u) << entry.substr(0, entry.find('='));
}

TEST_F(PluginIsolationTest, ASegfaultAnswers502PluginCrashedAndTheCoreKeepsServing) {
  CoreTraffic traffic(anonymous(), server().publishable_key());
  crash_and_recover("segv", "SIGSEGV");
  // The other plugin never noticed.
  auto good = anonymous().get("/v1/plugins/good/hello");
  EXPECT_NE(good.status, 502u) << good.body;
  int sent = 0;
  EXPECT_EQ(traffic.finish(&sent), 0) << "core requests failed while a plugin crashed";
  EXPECT_GT(sent, 0);

  json p = plugin();
  EXPECT_EQ(p.value("crashes", 0), 1);
  EXPECT_EQ(p.value("restarts", 0), 1);
  ASSERT_TRUE(p["last_crash"].is_object()) << p.dump();
  EXPECT_EQ(p["last_crash"].value("signal", ""), "SIGSEGV");
  EXPECT_GT(p["last_crash"].value("at", 0LL), 0);
  EXPECT_EQ(p.value("status", ""), "loaded");
  auto metrics = anonymous().get("/metrics");
  EXPECT_NE(metrics.body.find("quanqu_plugin_crashes_total{plugin=\"crasher\"} 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("quanqu_plugin_restarts_total{plugin=\"crasher\"} 1"), std::string::npos);
}

TEST_F(PluginIsolationTest, AnAbortIsAPluginCrashToo) {
  crash_and_recover("abort", "SIGABRT");
  EXPECT_EQ(plugin()["last_crash"].value("signal", ""), "SIGABRT");
}

TEST_F(PluginIsolationTest, ACallPastItsCpuBudgetEndsTheRunnerWithSigxcpu) {
  // The deadline is far longer than the CPU budget (2 s), so that the budget ends the call even
  // when a busy machine gives the spinning thread only a part of a core.
  ASSERT_EQ(admin().patch("/v1/admin/plugins/crasher", {{"timeout_ms", 60000}}).status, 200u);
  crash_and_recover("spin", "SIGXCPU");
  EXPECT_EQ(plugin()["last_crash"].value("signal", ""), "SIGXCPU");
}

TEST_F(PluginIsolationTest, CallsInFlightWhenTheRunnerDiesAllGet502AndNoneHangs) {
  // Three calls hang in the runner; a segfault takes them down with it.
  std::vector<std::thread> waiting;
  std::atomic<int> crashed{0};
  for (int i = 0; i < 3; ++i)
    waiting.emplace_back([&] {
      HttpClient c = anonymous();
      c.set_timeout(30s);
      auto r = c.get("/v1/plugins/crasher/hang");
      if (r.status == 502u && r.json()["details"].value("reason", "") == "plugin_crashed") ++crashed;
    });
  std::this_thread::sleep_for(300ms);
  auto segv = anonymous().get("/v1/plugins/crasher/segv");
  EXPECT_EQ(segv.status, 502u);
  for (auto& t : waiting) t.join();
  EXPECT_EQ(crashed.load(), 3);
  EXPECT_TRUE(eventually([&] { return ok_pid() > 0; }));
}

TEST_F(PluginIsolationTest, ARunnerPastItsDeadlineIsKilledAndRestarted) {
  auto set = admin().patch("/v1/admin/plugins/crasher", {{"timeout_ms", 300}});
  ASSERT_EQ(set.status, 200u) << set.body;
  long long before = ok_pid();
  auto start = Clock::now();
  auto hung = anonymous().get("/v1/plugins/crasher/hang");
  EXPECT_TRUE(IsProblem(hung, 504, "plugin_timeout")) << hung.body;
  EXPECT_LT(Clock::now() - start, 5s);
  long long after = 0;
  ASSERT_TRUE(eventually([&] { return (after = ok_pid()) > 0; }));
  EXPECT_NE(after, before);
  json p = plugin();
  EXPECT_EQ(p["last_crash"].value("killed_for", ""), "deadline") << p.dump();
  EXPECT_EQ(p["last_crash"].value("signal", ""), "SIGKILL");
  EXPECT_EQ(p.value("stuck_calls", -1), 0) << "a killed runner holds no thread";
}

TEST_F(PluginIsolationTest, ALeakStopsAtTheRunnersMemoryLimit) {
  HttpClient c = anonymous();
  c.set_timeout(60s);
  auto leak = c.get("/v1/plugins/crasher/leak");
  // The allocator says no at the limit (512 MiB of address space, less what the runner holds).
  ASSERT_EQ(leak.status, 200u) << leak.body;
  EXPECT_LT(leak.json().value("leaked_mb", 0), 512);
  EXPECT_EQ(anonymous().get("/healthz").status, 200u);
}

TEST_F(PluginIsolationTest, StateInTheKeyValueStoreAndEventsWorkAcrossACrash) {
  auto put = anonymous().request("PUT", "/v1/plugins/crasher/kv/colour", std::string("navy"),
                                 {{"Content-Type", "text/plain"}});
  ASSERT_EQ(put.status, 200u) << put.body;
  ASSERT_EQ(anonymous().request("POST", "/v1/plugins/crasher/events", std::string("ping")).status, 202u);
  ASSERT_TRUE(eventually([&] {
    return anonymous().get("/v1/plugins/crasher/events").json().value("pings", 0) == 1;
  })) << "the event handler's host calls did not go through";

  crash_and_recover("segv", "SIGSEGV");
  auto got = anonymous().get("/v1/plugins/crasher/kv/colour");
  ASSERT_EQ(got.status, 200u) << got.body;
  EXPECT_EQ(got.json().value("value", ""), "navy");

  // A crash inside an event handler is counted, and the next generation gets events again.
  ASSERT_EQ(anonymous().request("POST", "/v1/plugins/crasher/events", std::string("boom")).status, 202u);
  ASSERT_TRUE(eventually([&] { return plugin().value("crashes", 0) == 2; }));
  ASSERT_TRUE(eventually([&] { return ok_pid() > 0; }));
  ASSERT_EQ(anonymous().request("POST", "/v1/plugins/crasher/events", std::string("ping")).status, 202u);
  EXPECT_TRUE(eventually([&] {
    return anonymous().get("/v1/plugins/crasher/events").json().value("pings", 0) == 2;
  }));
}

TEST_F(PluginIsolationTest, TheMerchantMovesAPluginInProcessAndBack) {
  auto in = admin().patch("/v1/admin/plugins/crasher", {{"isolation", "in_process"}});
  ASSERT_EQ(in.status, 200u) << in.body;
  EXPECT_EQ(in.json().value("isolation", ""), "in_process");
  EXPECT_TRUE(in.json()["runner_pid"].is_null());
  EXPECT_EQ(ok_pid(), static_cast<long long>(server().pid()));

  auto bad = admin().patch("/v1/admin/plugins/crasher", {{"isolation", "sandbox"}});
  EXPECT_TRUE(IsProblem(bad, 400, "validation_failed")) << bad.body;

  auto back = admin().patch("/v1/admin/plugins/crasher", {{"isolation", nullptr}});
  ASSERT_EQ(back.status, 200u) << back.body;
  EXPECT_EQ(back.json().value("isolation", ""), "process");
  long long pid = ok_pid();
  EXPECT_GT(pid, 0);
  EXPECT_NE(pid, static_cast<long long>(server().pid()));
}

// The same fixture on the trusted list runs in the server's process.
class TrustedPluginTest : public PluginIsolationTest {
 protected:
  std::vector<std::string> extra_args() const override {
    auto args = PluginIsolationTest::extra_args();
    args.insert(args.end(), {"--trusted-plugins", "crasher"});
    return args;
  }
};

TEST_F(TrustedPluginTest, ATrustedPluginRunsInProcess) {
  json p = plugin();
  EXPECT_EQ(p.value("isolation", ""), "in_process");
  EXPECT_TRUE(p["runner_pid"].is_null());
  EXPECT_EQ(ok_pid(), static_cast<long long>(server().pid()));
  EXPECT_EQ(plugin("good").value("isolation", ""), "process");
}

}  // namespace

// A server started with one plugin; others are dropped into its plugins directory while it runs.
class PluginLifecycleTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_GOOD).parent_path(), "good");
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override { return plugins_dir_.args(); }
  std::vector<std::string> names(const json& page) {
    std::vector<std::string> out;
    for (const auto& p : page["items"]) out.push_back(p.value("name", ""));
    return out;
  }
  PluginsDir plugins_dir_;
};

TEST_F(PluginLifecycleTest, DiscoverLoadsANewPluginAndDeleteUnloadsOneNoChannelUses) {
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/crasher/ok"), 404, "route_not_found"));
  // Nothing new yet.
  auto none = admin().post("/v1/admin/plugins/discover", json::object());
  ASSERT_EQ(none.status, 200u) << none.body;
  EXPECT_TRUE(none.json()["items"].empty()) << none.body;

  plugins_dir_.add(fs::path(QUANQU_FIXTURE_CRASHER).parent_path(), "crasher");
  plugins_dir_.add(fs::path(QUANQU_FIXTURE_RECORDER).parent_path(), "recorder");
  auto found = admin().post("/v1/admin/plugins/discover", json::object());
  ASSERT_EQ(found.status, 200u) << found.body;
  EXPECT_EQ(names(found.json()), (std::vector<std::string>{"crasher", "recorder"})) << found.body;
  for (const auto& p : found.json()["items"]) EXPECT_EQ(p.value("status", ""), "loaded") << p.dump();
  EXPECT_EQ(anonymous().get("/v1/plugins/crasher/ok").status, 200u);
  EXPECT_EQ(names(admin().get("/v1/admin/plugins").json()), (std::vector<std::string>{"good", "crasher", "recorder"}));
  // A second scan finds nothing new: the loaded ones are not loaded twice.
  EXPECT_TRUE(admin().post("/v1/admin/plugins/discover", json::object()).json()["items"].empty());

  // A plugin a channel uses stays.
  auto channel = admin().post("/v1/admin/channels", {{"code", "live"},
                                                     {"type", "social"},
                                                     {"currency", "CNY"},
                                                     {"plugin", "recorder"},
                                                     {"config", {{"greeting", "hi"}}}});
  ASSERT_EQ(channel.status, 201u) << channel.body;
  auto in_use = admin().del("/v1/admin/plugins/recorder");
  ASSERT_TRUE(IsProblem(in_use, 409, "plugin.in_use")) << in_use.body;
  EXPECT_EQ(in_use.json()["details"]["channels"], json::array({"live"})) << in_use.body;
  EXPECT_EQ(admin().get("/v1/admin/plugins/recorder").status, 200u);

  // One no channel uses goes: its routes at once, and it is no longer listed.
  auto gone = admin().del("/v1/admin/plugins/crasher");
  ASSERT_EQ(gone.status, 204u) << gone.body;
  EXPECT_TRUE(IsProblem(anonymous().get("/v1/plugins/crasher/ok"), 404, "route_not_found"));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/plugins/crasher"), 404, "plugin.not_found"));
  EXPECT_TRUE(IsProblem(admin().del("/v1/admin/plugins/crasher"), 404, "plugin.not_found"));
  EXPECT_EQ(names(admin().get("/v1/admin/plugins").json()), (std::vector<std::string>{"good", "recorder"}));

  // Still in the directory: the next scan loads it again, in a new runner.
  auto again = admin().post("/v1/admin/plugins/discover", json::object());
  EXPECT_EQ(names(again.json()), (std::vector<std::string>{"crasher"})) << again.body;
  EXPECT_EQ(anonymous().get("/v1/plugins/crasher/ok").status, 200u);
}

// Whether this machine lets an unprivileged process have its own network namespace (a runner
// asks for one with unshare; where it cannot, it logs so and keeps the network).
static bool network_namespaces_work() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The "crasher" fixture out of process, with `outgoing` written into its manifest's
// network.outgoing (none when empty), and two HTTP servers on 127.0.0.1: `declared_` (named in
// the manifest when the test declares it) and `other_`.
class PluginNetworkTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(fs::path(QUANQU_FIXTURE_CRASHER).parent_path(), "crasher");
    auto manifest_file = plugins_dir_.path() / "crasher" / "plugin.json";
    json manifest = json::parse(std::ifstream(manifest_file));
    if (declare()) manifest["network"] = {{"outgoing", {"127.0.0.1:" + std::to_string(declared_.port())}}};
    std::ofstream(manifest_file) << manifest.dump();
    E2ETest::SetUp();
  }
  virtual bool declare() const { return true; }
  std::vector<std::string> extra_args() const override {
    auto args = plugins_dir_.args();
    args.insert(args.end(), {"--webhook-allow-hosts", "127.0.0.1"});
    return args;
  }

  json connect_to(unsigned short port) {
    auto r = anonymous().get("/v1/plugins/crasher/connect?host=127.0.0.1&port=" + std::to_string(port));
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }
  json fetch(unsigned short port) {
    auto r = anonymous().get("/v1/plugins/crasher/fetch?url=http://127.0.0.1:" + std::to_string(port) + "/ping");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }

  quanqu::e2e::LoopbackServer declared_{"declared host", [](const auto&) { return quanqu::e2e::LoopbackReply{200, "{}"}; }};
  quanqu::e2e::LoopbackServer other_{"other host", [](const auto&) { return quanqu::e2e::LoopbackReply{200, "{}"}; }};
  PluginsDir plugins_dir_;
};

TEST_F(PluginNetworkTest, ARunnerReachesOnlyTheHostsItsManifestDeclares) {
  json p = admin().get("/v1/admin/plugins/crasher").json();
  EXPECT_EQ(p["network"], (json{{"outgoing", {"127.0.0.1:" + std::to_string(declared_.port())}}, {"runner", "declared"}}));

  // Its own sockets: the declared host and port, nothing else.
  EXPECT_EQ(connect_to(declared_.port()).value("connected", false), true);
  json refused = connect_to(other_.port());
  EXPECT_EQ(refused.value("connected", true), false);
  EXPECT_EQ(refused.value("error", ""), "Permission denied");

  // The server's fetch on its behalf follows the same list.
  EXPECT_EQ(fetch(declared_.port()).value("status", 0), 200) << fetch(declared_.port());
  json undeclared = fetch(other_.port());
  EXPECT_NE(undeclared.value("refused", "").find("plugin.outgoing_host_not_declared"), std::string::npos) << undeclared;
}

class UndeclaredNetworkTest : public PluginNetworkTest {
 protected:
  bool declare() const override { return false; }
};

TEST_F(UndeclaredNetworkTest, ARunnerThatDeclaresNoHostHasNoNetworkButFetchStillWorks) {
  json p = admin().get("/v1/admin/plugins/crasher").json();
  EXPECT_EQ(p["network"], (json{{"outgoing", json::array()}, {"runner", "none"}}));
  EXPECT_EQ(fetch(other_.port()).value("status", 0), 200);
  if (!network_namespaces_work()) GTEST_SKIP() << "no unprivileged network namespaces on this machine";
  json refused = connect_to(other_.port());
  EXPECT_EQ(refused.value("connected", true), false);
  EXPECT_EQ(refused.value("error", ""), "Network is unreachable");
}

class OpenNetworkTest : public UndeclaredNetworkTest {
 protected:
  std::vector<std::string> extra_args() const override {
    auto args = PluginNetworkTest::extra_args();
    args.insert(args.end(), {"--plugin-network", "open"});
    return args;
  }
};

TEST_F(OpenNetworkTest, PluginNetworkOpenLeavesRunnersTheServersNetwork) {
  EXPECT_EQ(admin().get("/v1/admin/plugins/crasher").json()["network"]["runner"], "open");
  EXPECT_EQ(connect_to(other_.port()).value("connected", false), true);
}
