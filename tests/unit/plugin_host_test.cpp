// The plugin runtime without HTTP: manifests, loading each fixture library, ABI refusal, routes, kv persistence.
#include "plugins/plugin_host.h"
#include "http/metrics.h"
#include "plugins/manifest.h"
#include "storage/database.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace quanqu {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using plugins::PluginHost;
using plugins::PluginStatus;

// Stands still unless a test moves it (to expire keys).
class FixedClock final : public Clock {
 public:
  std::int64_t now_ms() const override { return now.load(); }
  std::atomic<std::int64_t> now{1'767'225'600'000};
};

// Every fixture library (built by tests/plugins) by plugin name.
const std::map<std::string, fs::path>& fixtures() {
  static const std::map<std::string, fs::path> all{
      {"good", QUANQU_FIXTURE_GOOD},
      {"wrong-major", QUANQU_FIXTURE_WRONG_MAJOR},
      {"newer-minor", QUANQU_FIXTURE_NEWER_MINOR},
      {"no-entry", QUANQU_FIXTURE_NO_ENTRY},
      {"init-throws", QUANQU_FIXTURE_INIT_THROWS},
      {"start-throws", QUANQU_FIXTURE_START_THROWS},
      {"thrower", QUANQU_FIXTURE_THROWER},
      {"abi-1-0", QUANQU_FIXTURE_ABI_1_0},
  };
  return all;
}

// A temporary directory with a SQLite database file and an empty plugins directory. Every test
// runs twice: with the plugins loaded in process, and in their own runner processes.
class PluginHostTest : public ::testing::TestWithParam<plugins::Isolation> {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "quanqu-plugins-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    plugins_dir_ = dir_ / "plugins";
    fs::create_directories(plugins_dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<storage::Database> open_db() {
    auto db = storage::Database::open("sqlite:" + (dir_ / "quanqu.db").string(), 2);
    if (!db) throw std::runtime_error(db.error().message);
    auto migrated = (*db)->migrate();
    if (!migrated) throw std::runtime_error(migrated.error().message);
    return std::move(db).value();
  }

  // Copies a fixture's build directory (library + plugin.json) into the plugins directory.
  void install(const std::string& name) {
    const fs::path& library = fixtures().at(name);
    fs::copy(library.parent_path(), plugins_dir_ / name, fs::copy_options::recursive);
  }

  void write(const fs::path& file, const json& content) { std::ofstream(file) << content.dump(2); }

  std::unique_ptr<PluginHost> make_host(storage::Database& db) {
    // The outbox of the first database a host is made on (the relay is not started: no deliveries).
    if (!events_) events_ = std::make_unique<events::EventBus>(db, clock_);
    auto host = std::make_unique<PluginHost>(db, clock_, *events_,
                                             [this](plugins::LogLevel level, std::string_view msg, const json& f) {
                                               std::lock_guard lock(log_mutex_);
                                               log_.push_back(std::string(msg) + " " + f.dump());
                                             });
    plugins::IsolationOptions isolation;
    isolation.default_isolation = GetParam();
    isolation.runner = QUANQU_PLUGIN_RUNNER;
    host->set_isolation_options(isolation);
    return host;
  }

  static const plugins::PluginInfo* find(const std::vector<plugins::PluginInfo>& all, const std::string& name) {
    for (const auto& p : all)
      if (p.name == name) return &p;
    return nullptr;
  }

  static plugins::PluginRequest request(std::string method, std::string path,
                                        std::vector<std::pair<std::string, std::string>> params = {},
                                        std::string body = "") {
    plugins::PluginRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    (void)params;  // the host finds them in the path
    r.body = std::move(body);
    r.request_id = "test";
    return r;
  }

  fs::path dir_;
  fs::path plugins_dir_;
  FixedClock clock_;
  std::unique_ptr<events::EventBus> events_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

TEST(PluginManifest, ParsesAValidManifestWithDefaults) {
  auto m = plugins::parse_manifest(json{{"name", "mini-program"},
                                        {"version", "0.3.1"},
                                        {"sdk_abi", "1.0"},
                                        {"provides", {"routes", "channel_adapter"}},
                                        {"config_schema", {{"type", "object"}}}});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->name, "mini-program");
  EXPECT_EQ(m->library, "mini-program.so");
  EXPECT_EQ(m->sdk_abi, (plugins::AbiVersion{1, 0}));
  EXPECT_EQ(m->provides, (std::vector<std::string>{"routes", "channel_adapter"}));
  EXPECT_EQ(m->config_schema["type"], "object");
}

TEST(PluginManifest, ListsEveryOffendingField) {
  auto m = plugins::parse_manifest(json{{"name", "Bad Name"},
                                        {"sdk_abi", "one"},
                                        {"library", "../evil.so"},
                                        {"provides", {"routes", "teleporter"}},
                                        {"config_schema", "no"}});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, "plugin.invalid_manifest");
  std::set<std::string> fields;
  for (const auto& f : m.error().fields) fields.insert(f.field);
  EXPECT_EQ(fields, (std::set<std::string>{"name", "version", "sdk_abi", "library", "provides/1", "config_schema"}));
}

TEST(PluginManifest, AbiRule) {
  using plugins::AbiVersion;
  EXPECT_TRUE(plugins::abi_compatible({1, 0}, {1, 0}));
  EXPECT_TRUE(plugins::abi_compatible({1, 0}, {1, 3}));
  EXPECT_FALSE(plugins::abi_compatible({1, 4}, {1, 3}));
  EXPECT_FALSE(plugins::abi_compatible({2, 0}, {1, 0}));
  EXPECT_FALSE(plugins::abi_compatible({0, 9}, {1, 0}));
}

TEST_P(PluginHostTest, LoadsEveryFixtureWithItsStatusAndReason) {
  for (const auto& [name, _] : fixtures()) install(name);
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  auto all = host->plugins();
  ASSERT_EQ(all.size(), fixtures().size());

  auto status = [&](const std::string& name) { return find(all, name)->status; };
  auto reason = [&](const std::string& name) { return find(all, name)->reason; };
  EXPECT_EQ(status("good"), PluginStatus::loaded) << reason("good");
  EXPECT_EQ(status("thrower"), PluginStatus::loaded) << reason("thrower");
  EXPECT_TRUE(reason("good").empty());
  EXPECT_EQ(status("abi-1-0"), PluginStatus::loaded) << reason("abi-1-0");  // an older minor is fine
  EXPECT_EQ(find(all, "abi-1-0")->abi->text(), "1.0");
  EXPECT_EQ(find(all, "good")->abi->text(), "1.1");

  EXPECT_EQ(status("wrong-major"), PluginStatus::failed);
  EXPECT_NE(reason("wrong-major").find("SDK ABI 2.0"), std::string::npos) << reason("wrong-major");
  EXPECT_NE(reason("wrong-major").find("provides SDK ABI 1.1"), std::string::npos) << reason("wrong-major");

  EXPECT_EQ(status("newer-minor"), PluginStatus::failed);
  EXPECT_NE(reason("newer-minor").find("SDK ABI 1.2"), std::string::npos) << reason("newer-minor");
  EXPECT_NE(reason("newer-minor").find("provides SDK ABI 1.1"), std::string::npos) << reason("newer-minor");

  EXPECT_EQ(status("no-entry"), PluginStatus::failed);
  EXPECT_NE(reason("no-entry").find("exports no quanqu_plugin_entry_v1"), std::string::npos) << reason("no-entry");

  EXPECT_EQ(status("init-throws"), PluginStatus::failed);
  EXPECT_NE(reason("init-throws").find("init exploded"), std::string::npos) << reason("init-throws");

  EXPECT_EQ(status("start-throws"), PluginStatus::failed);
  EXPECT_NE(reason("start-throws").find("cannot reach the partner service"), std::string::npos)
      << reason("start-throws");
  EXPECT_TRUE(find(all, "start-throws")->routes.empty());

  // Only loaded plugins have routes, mounted under /v1/plugins/<name>.
  std::set<std::string> mounted;
  for (const auto& p : host->plugins())
    for (const auto& r : p.routes) mounted.insert(r.method + " /v1/plugins/" + p.name + r.pattern);
  EXPECT_EQ(
      mounted,
      (std::set<std::string>{
          "GET /v1/plugins/good/hello", "GET /v1/plugins/good/kv/{key}", "PUT /v1/plugins/good/kv/{key}",
          "DELETE /v1/plugins/good/kv/{key}", "GET /v1/plugins/good/abi", "POST /v1/plugins/good/counter/{key}",
          "POST /v1/plugins/good/cas/{key}", "GET /v1/plugins/good/list", "POST /v1/plugins/good/echo",
          "GET /v1/plugins/thrower/boom", "GET /v1/plugins/thrower/ok", "GET /v1/plugins/abi-1-0/hello",
          "PUT /v1/plugins/abi-1-0/kv/{key}", "GET /v1/plugins/abi-1-0/kv/{key}", "POST /v1/plugins/abi-1-0/sign"}));

  // Each failure is logged with its reason.
  std::lock_guard lock(log_mutex_);
  std::size_t failures = 0;
  for (const auto& line : log_) failures += line.rfind("plugin failed to load", 0) == 0;
  EXPECT_EQ(failures, 5u);
}

TEST_P(PluginHostTest, ChecksTheAbiCompiledIntoTheLibraryEvenWhenTheManifestClaimsOtherwise) {
  install("wrong-major");
  install("newer-minor");
  for (const char* name : {"wrong-major", "newer-minor"})
    write(plugins_dir_ / name / "plugin.json", {{"name", name}, {"version", "1.0.0"}, {"sdk_abi", "1.1"}});
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);  // the fixtures abort() if init is ever called
  auto all = host->plugins();
  ASSERT_EQ(all.size(), 2u);
  const auto* major = find(all, "wrong-major");
  EXPECT_EQ(major->status, PluginStatus::failed);
  EXPECT_NE(major->reason.find("was built for SDK ABI 2.0, but this server provides SDK ABI 1.1"), std::string::npos)
      << major->reason;
  ASSERT_TRUE(major->abi);
  EXPECT_EQ(major->abi->text(), "2.0");
  const auto* minor = find(all, "newer-minor");
  EXPECT_NE(minor->reason.find("was built for SDK ABI 1.2, but this server provides SDK ABI 1.1"), std::string::npos)
      << minor->reason;
}

TEST_P(PluginHostTest, MissingLibraryInvalidManifestAndMissingDirectoryAreNotFatal) {
  fs::create_directories(plugins_dir_ / "ghost");
  write(plugins_dir_ / "ghost" / "plugin.json", {{"name", "ghost"}, {"version", "1"}, {"sdk_abi", "1.0"}});
  fs::create_directories(plugins_dir_ / "broken");
  std::ofstream(plugins_dir_ / "broken" / "plugin.json") << "{not json";
  fs::create_directories(plugins_dir_ / "sources-only");  // no manifest: not a plugin, ignored
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  auto all = host->plugins();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(find(all, "ghost")->reason.find("library file not found"), std::string::npos);
  EXPECT_NE(find(all, "broken")->reason.find("not valid JSON"), std::string::npos);

  auto none = make_host(*db);
  none->load_directory(dir_ / "does-not-exist");
  EXPECT_TRUE(none->plugins().empty());
}

TEST_P(PluginHostTest, FindsAManifestBesideItsLibraryAndRefusesADuplicateName) {
  install("good");
  fs::copy_file(fixtures().at("good"), plugins_dir_ / "good.so");
  write(plugins_dir_ / "zz-good.json",
        {{"name", "good"}, {"version", "1.0.0"}, {"sdk_abi", "1.1"}, {"library", "good.so"}});
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  auto all = host->plugins();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].status, PluginStatus::loaded) << all[0].reason;
  EXPECT_EQ(all[0].manifest, plugins_dir_ / "good" / "plugin.json");
  EXPECT_EQ(all[1].status, PluginStatus::failed);
  EXPECT_NE(all[1].reason.find("another plugin named 'good'"), std::string::npos) << all[1].reason;
}

TEST_P(PluginHostTest, RoutesReceiveTheRequestAndUseTheirKeyValueStore) {
  install("good");
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);

  auto hello = request("GET", "/v1/plugins/good/hello");
  hello.channel_id = "ch_123";
  auto first = host->handle("good", hello);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->content_type, "application/json");
  auto body = json::parse(first->body);
  EXPECT_EQ(body["hello"], "world");
  EXPECT_EQ(body["hits"], 1);
  EXPECT_EQ(body["channel_id"], "ch_123");
  EXPECT_EQ(body["now_ms"], clock_.now_ms());
  auto second = host->handle("good", hello);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(json::parse(second->body)["hits"], 2);

  auto put = host->handle("good", request("PUT", "/v1/plugins/good/kv/color", {{"key", "color"}}, "blue"));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 204);
  auto got = host->handle("good", request("GET", "/v1/plugins/good/kv/color", {{"key", "color"}}));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->body, "blue");

  // Scoped to the plugin: another plugin's name sees nothing, the store itself sees the row.
  auto other = host->kv().get("thrower", "color");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  auto mine = host->kv().get("good", "color");
  ASSERT_TRUE(mine.ok() && mine->has_value());
  EXPECT_EQ(**mine, "blue");

  auto del = host->handle("good", request("DELETE", "/v1/plugins/good/kv/color", {{"key", "color"}}));
  ASSERT_TRUE(del.ok());
  auto gone = host->handle("good", request("GET", "/v1/plugins/good/kv/color", {{"key", "color"}}));
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, 404);

  auto echo_request = request("POST", "/v1/plugins/good/echo", {}, "ping");
  echo_request.query = {{"tag", "t1"}};
  auto echo = host->handle("good", echo_request);
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->body, "ping");
  ASSERT_EQ(echo->headers.size(), 1u);
  EXPECT_EQ(echo->headers[0], (std::pair<std::string, std::string>{"X-Tag", "t1"}));
}

TEST_P(PluginHostTest, KeyValueStatePersistsAcrossHostRestartsOnTheSameDatabaseFile) {
  install("good");
  {
    auto db = open_db();
    auto host = make_host(*db);
    host->load_directory(plugins_dir_);
    auto put = host->handle("good", request("PUT", "/v1/plugins/good/kv/greeting", {{"key", "greeting"}}, "你好"));
    ASSERT_TRUE(put.ok()) << put.error().message;
    ASSERT_TRUE(host->handle("good", request("GET", "/v1/plugins/good/hello")).ok());
    host->stop_all();
  }
  auto db = open_db();  // a new pool on the same file, as after a server restart
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  auto got = host->handle("good", request("GET", "/v1/plugins/good/kv/greeting", {{"key", "greeting"}}));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "你好");
  auto hello = host->handle("good", request("GET", "/v1/plugins/good/hello"));
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(json::parse(hello->body)["hits"], 2);
}

TEST_P(PluginHostTest, AThrowingRouteIsAPluginErrorNamingThePluginAndIsCounted) {
  install("thrower");
  install("good");
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  auto boom =
      host->handle("thrower", request("GET", "/v1/plugins/thrower/boom"));
  ASSERT_FALSE(boom.ok());
  EXPECT_EQ(boom.error().code, "plugin_error");
  EXPECT_NE(boom.error().message.find("plugin 'thrower'"), std::string::npos) << boom.error().message;
  EXPECT_NE(boom.error().message.find("boom"), std::string::npos) << boom.error().message;
  EXPECT_EQ(boom.error().details["plugin"], "thrower");
  ASSERT_FALSE(host->handle("thrower", request("GET", "/v1/plugins/thrower/boom")).ok());

  auto ok = host->handle("thrower", request("GET", "/v1/plugins/thrower/ok"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);

  auto counts = host->error_counts();
  std::map<std::string, std::uint64_t> by_name(counts.begin(), counts.end());
  EXPECT_EQ(by_name, (std::map<std::string, std::uint64_t>{{"good", 0}, {"thrower", 2}}));
  EXPECT_EQ(find(host->plugins(), "thrower")->errors, 2u);
}

TEST_P(PluginHostTest, StoppedPluginsAreNotCalled) {
  install("good");
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  host->stop_all();
  EXPECT_EQ(host->plugins()[0].status, PluginStatus::stopped);
  auto r = host->handle("good", request("GET", "/v1/plugins/good/hello"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "route_not_found");
  host->stop_all();  // idempotent
}

TEST_P(PluginHostTest, KeyValueStoreRejectsBadKeysAndValues) {
  auto db = open_db();
  plugins::KvStore kv(*db, clock_);
  EXPECT_EQ(kv.put("p", "", "v").error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv.put("p", std::string(plugins::KvStore::kMaxKeyBytes + 1, 'k'), "v").error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv.put("p", "k", std::string(plugins::KvStore::kMaxValueBytes + 1, 'v')).error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv.put("p", "k", std::string("a\0b", 3)).error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv.put("p", "k", "\xff\xfe").error().code, "plugin.kv_invalid");
  ASSERT_TRUE(kv.put("p", "k", "one").ok());
  ASSERT_TRUE(kv.put("p", "k", "two").ok());  // replaces
  EXPECT_EQ(**kv.get("p", "k"), "two");
  ASSERT_TRUE(kv.remove("p", "k").ok());
  ASSERT_TRUE(kv.remove("p", "k").ok());  // absent is fine
  EXPECT_FALSE(kv.get("p", "k")->has_value());
}

TEST_P(PluginHostTest, TheKeyValueOperationsOfAbi11WorkInProcessAndInARunner) {
  install("good");
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  auto call = [&](std::string method, std::string path, std::string body = "",
                  std::vector<std::pair<std::string, std::string>> query = {}) {
    auto r = request(std::move(method), "/v1/plugins/good" + path, {}, std::move(body));
    r.query = std::move(query);
    auto reply = host->handle("good", r);
    if (!reply) throw std::runtime_error(reply.error().code + ": " + reply.error().message);
    return *reply;
  };
  auto body = [](const plugins::PluginResponse& r) { return json::parse(r.body, nullptr, false); };

  EXPECT_EQ(body(call("GET", "/abi"))["kv_ops"], true);  // the runner's table forwards them too

  // kv_incr: from 0, by any delta, refused on a non-integer (a 400: the route lets it propagate).
  EXPECT_EQ(body(call("POST", "/counter/hits"))["value"], 1);
  EXPECT_EQ(body(call("POST", "/counter/hits", "", {{"by", "41"}}))["value"], 42);
  EXPECT_EQ(body(call("POST", "/counter/hits", "", {{"by", "-50"}}))["value"], -8);
  EXPECT_EQ(call("GET", "/kv/hits").body, "-8");
  call("PUT", "/kv/word", "abc");
  auto refused = call("POST", "/counter/word");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.content_type, "application/problem+json");
  EXPECT_EQ(body(refused)["code"], "plugin.invalid");
  EXPECT_NE(body(refused)["detail"].get<std::string>().find("not a decimal 64-bit integer"), std::string::npos)
      << refused.body;

  // kv_cas: absent, expected value, mismatch.
  EXPECT_EQ(body(call("POST", "/cas/lock", R"({"expected": null, "value": "a"})"))["swapped"], true);
  EXPECT_EQ(body(call("POST", "/cas/lock", R"({"expected": null, "value": "b"})"))["swapped"], false);
  EXPECT_EQ(body(call("POST", "/cas/lock", R"({"expected": "x", "value": "b"})"))["swapped"], false);
  EXPECT_EQ(body(call("POST", "/cas/lock", R"({"expected": "a", "value": "b", "ttl_ms": 1000})"))["swapped"], true);
  EXPECT_EQ(call("GET", "/kv/lock").body, "b");

  // kv_put with a TTL, and expiry on the host's clock.
  call("PUT", "/kv/session", "s1", {{"ttl_ms", "500"}});
  EXPECT_EQ(call("GET", "/kv/session").status, 200);
  clock_.now += 500;
  EXPECT_EQ(call("GET", "/kv/session").status, 404);
  EXPECT_EQ(call("GET", "/kv/lock").status, 200);  // 1000 ms: still there
  clock_.now += 500;
  EXPECT_EQ(call("GET", "/kv/lock").status, 404);
  EXPECT_EQ(body(call("POST", "/counter/window", "", {{"ttl_ms", "100"}}))["value"], 1);

  // kv_list: by prefix, in pages.
  for (const char* k : {"user:1", "user:2", "user:3"}) call("PUT", std::string("/kv/") + k, k);
  auto first = body(call("GET", "/list", "", {{"prefix", "user:"}, {"limit", "2"}}));
  ASSERT_EQ(first["items"].size(), 2u) << first;
  EXPECT_EQ(first["items"][0], (json{{"key", "user:1"}, {"value", "user:1"}, {"expires_at_ms", nullptr}}));
  EXPECT_EQ(first["next_cursor"], "user:2");
  auto second = body(call("GET", "/list", "", {{"prefix", "user:"}, {"cursor", "user:2"}, {"limit", "2"}}));
  ASSERT_EQ(second["items"].size(), 1u) << second;
  EXPECT_EQ(second["items"][0]["key"], "user:3");
  EXPECT_TRUE(second["next_cursor"].is_null());
  auto windows = body(call("GET", "/list", "", {{"prefix", "window"}}));
  EXPECT_EQ(windows["items"][0]["expires_at_ms"], clock_.now_ms() + 100);
  EXPECT_EQ(call("GET", "/list", "", {{"limit", "0"}}).status, 400);

  // The rows are the plugin's own.
  EXPECT_EQ(**host->kv().get("good", "hits"), "-8");
  EXPECT_FALSE(host->kv().get("thrower", "hits")->has_value());
}

TEST_P(PluginHostTest, AHostRefusalARouteDoesNotCatchIsAProblemNotAPluginError) {
  install("good");
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  std::string key(300, 'k');  // longer than a key may be: kv_get refuses it as invalid
  auto r = host->handle("good", request("GET", "/v1/plugins/good/kv/" + key));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["code"], "plugin.invalid");
  EXPECT_EQ(find(host->plugins(), "good")->errors, 0u);  // the client's mistake, not the plugin's
}

TEST_P(PluginHostTest, APluginBuiltForAbi10StillLoadsAndWorks) {
  install("abi-1-0");
  auto db = open_db();
  auto host = make_host(*db);
  host->load_directory(plugins_dir_);
  const auto* info = find(host->plugins(), "abi-1-0");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->status, PluginStatus::loaded) << info->reason;
  EXPECT_EQ(info->version, "1.0.0");

  auto hello = host->handle("abi-1-0", request("GET", "/v1/plugins/abi-1-0/hello"));
  ASSERT_TRUE(hello.ok()) << hello.error().message;
  // It sees a table larger than the one it was built with, and reads only its own part.
  EXPECT_EQ(json::parse(hello->body), (json{{"plugin_abi", "1.0"}, {"host_abi", "1.1"}, {"host_table_grew", true}}));

  auto put = host->handle("abi-1-0", request("PUT", "/v1/plugins/abi-1-0/kv/colour", {}, "green"));
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(put->status, 204);
  auto got = host->handle("abi-1-0", request("GET", "/v1/plugins/abi-1-0/kv/colour"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->body, "green");
  EXPECT_EQ(host->handle("abi-1-0", request("GET", "/v1/plugins/abi-1-0/kv/none"))->status, 404);

  auto signed_reply =
      host->handle("abi-1-0", request("POST", "/v1/plugins/abi-1-0/sign", {}, "what do ya want for nothing?"));
  ASSERT_TRUE(signed_reply.ok());
  // HMAC-SHA256 with key "k" (computed independently).
  EXPECT_EQ(json::parse(signed_reply->body)["mac"], "96be90616604b74898cd456b0f019825be346f395d7275881b51a82399cda671");
}

INSTANTIATE_TEST_SUITE_P(Isolation, PluginHostTest,
                         ::testing::Values(plugins::Isolation::in_process, plugins::Isolation::process),
                         [](const auto& info) { return std::string(plugins::to_string(info.param)); });

TEST(PluginMetrics, LabeledFamilyRendersOneSamplePerLabelValue) {
  http::Metrics metrics;
  metrics.add_labeled("quanqu_plugin_errors_total", "Plugin errors.", "plugin", [] {
    return http::Metrics::LabeledSamples{{"good", 0}, {"thr\"ower", 3}};
  });
  EXPECT_THROW(metrics.add_labeled("quanqu_plugin_errors_total", "again", "plugin",
                                   [] { return http::Metrics::LabeledSamples{}; }),
               std::logic_error);
  EXPECT_THROW(metrics.add_labeled("x_total", "bad label", "bad-label", [] { return http::Metrics::LabeledSamples{}; }),
               std::invalid_argument);
  std::string text = metrics.render();
  EXPECT_NE(text.find("# TYPE quanqu_plugin_errors_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("quanqu_plugin_errors_total{plugin=\"good\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("quanqu_plugin_errors_total{plugin=\"thr\\\"ower\"} 3\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace quanqu
