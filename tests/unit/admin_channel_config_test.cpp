// Admin channel replies never show a plugin config's secrets, even when the plugin is gone from the server.
#include "app/engine.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace quanqu {
namespace {

using nlohmann::json;

// The real route table on a fresh database, with no plugins loaded, driven without a socket.
class AdminChannelConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "quanqu-admin-channel-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    auto opened = app::open_engine("sqlite:" + dir_ + "/t.db", 2);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    engine_ = std::move(opened).value();
    services_ = std::make_unique<api::Services>(engine_->services());
    app::register_all_routes(router_, *services_, api::ApiOptions{}, metrics_);
    auto key = engine_->access->create_admin_key("test");
    ASSERT_TRUE(key.ok());
    admin_key_ = key->secret;
  }
  void TearDown() override {
    router_ = http::Router();  // handlers hold references into the services: drop them first
    services_.reset();
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  http::Response get(const std::string& path) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.headers = {{"authorization", "Bearer " + admin_key_}};
    return router_.dispatch(r);
  }

  std::string dir_;
  std::unique_ptr<app::Engine> engine_;
  std::unique_ptr<api::Services> services_;
  http::Metrics metrics_;
  http::Router router_;
  std::string admin_key_;
};

TEST_F(AdminChannelConfigTest, TheConfigOfAPluginTheServerDoesNotRunIsHiddenWhole) {
  // A channel configured while "card-gateway" ran; this server has no such plugin, so it has no
  // schema telling which values are secret.
  channels::NewChannel in;
  in.code = "card-web";
  in.name = "Card web";
  in.type = "web";
  in.currency = "CNY";
  in.configs = {{"card-gateway", {{"base_url", "http://127.0.0.1:9/"}, {"api_key", "sk_live_very_secret"}}}};
  auto channel = engine_->channels->create(in);
  ASSERT_TRUE(channel.ok()) << channel.error().message;

  auto one = get("/v1/admin/channels/" + channel->id.value);
  ASSERT_EQ(one.status, 200u) << one.body;
  auto list = get("/v1/admin/channels");
  ASSERT_EQ(list.status, 200u) << list.body;
  for (const auto* r : {&one, &list}) EXPECT_EQ(r->body.find("sk_live_very_secret"), std::string::npos) << r->body;
  json shown = json::parse(one.body)["provider_config"]["card-gateway"];
  EXPECT_EQ(shown, (json{{"base_url", "********"}, {"api_key", "********"}})) << one.body;
}

}  // namespace
}  // namespace quanqu
