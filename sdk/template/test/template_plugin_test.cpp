// Unit test of the template plugin against the SDK's in-memory FakeHost (no server needed).
#include <quanqu/sdk/testing.hpp>

#include <cstdio>
#include <string>

extern "C" const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void);

namespace {

using nlohmann::json;
using quanqu::sdk::testing::RouteCall;

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main() {
  // The server refuses a plugin whose manifest and library disagree (name, version, ABI).
  for (const auto& problem : quanqu::sdk::testing::manifest_mismatches(QUANQU_PLUGIN_MANIFEST, &quanqu_plugin_entry_v1))
    check(false, "plugin.json and the library disagree: " + problem);

  quanqu::sdk::testing::FakeHost host(&quanqu_plugin_entry_v1);
  // What the server would hold: one kiosk channel with its validated config.
  host.channel_configs["chan_kiosk"] = {{"greeting", "Welcome"}, {"catalog_size", 2}};
  // The core service the catalog route calls, answered by the test.
  host.services = [](const std::string& op, const json& args) -> json {
    if (op == "channels.get")
      return {{"id", args["id"]}, {"plugin", args["id"] == "chan_kiosk" ? json("template") : json(nullptr)}};
    if (op != "catalog.products") throw quanqu::sdk::testing::FakeHost::Refused{404, "unknown", op};
    json items = json::array();
    for (int i = 0; i < args.value("limit", 0); ++i)
      items.push_back({{"title", "Tea " + std::to_string(i)},
                       {"handle", "tea-" + std::to_string(i)},
                       {"variants", {{{"price", {{"amount", 1200 + i}, {"currency", "CNY"}}}}}}});
    return {{"items", items}, {"next_cursor", nullptr}};
  };

  auto first = host.call(RouteCall::get("/hello").on_channel("chan_kiosk"));
  check(first.status == 200, "GET /hello is 200, got " + std::to_string(first.status) + " " + first.body);
  check(json::parse(first.body)["message"] == "Welcome", "greeting from the channel's config: " + first.body);
  check(json::parse(first.body)["visits"] == 1, "first visit counted: " + first.body);
  check(json::parse(host.call(RouteCall::get("/hello").on_channel("chan_kiosk")).body)["visits"] == 2,
        "second visit counted");
  check(host.call(RouteCall::get("/hello").on_channel("chan_web")).status == 400,
        "a channel of another plugin is refused");
  check(host.call("GET", "/hello").status == 400, "no channel is refused");

  auto catalog = host.call(RouteCall::get("/catalog").on_channel("chan_kiosk"));
  check(catalog.status == 200, "GET /catalog is 200: " + catalog.body);
  check(json::parse(catalog.body)["items"].size() == 2, "catalog_size from the config: " + catalog.body);
  check(!host.calls.empty() && host.calls.back().second["channel_id"] == "chan_kiosk", "the core was asked");

  host.emit("order.placed", {{"order_id", "order_1"}, {"channel_id", "chan_kiosk"}});
  host.emit("order.placed", {{"order_id", "order_2"}, {"channel_id", "chan_web"}});
  auto stats = json::parse(host.call("GET", "/stats").body);
  check(stats["orders_by_channel"] == json{{"chan_kiosk", 1}}, "only kiosk orders counted: " + stats.dump());

  auto configured = host.invoke("channel_adapter", "template", "configure",
                                {{"channel", {{"id", "chan_kiosk"}, {"code", "kiosk"}}}, {"config", {{"greeting", "Hi"}}}});
  check(configured.is_object(), "the channel adapter accepts a config");
  check(!host.logs.empty() && host.logs.back().find("kiosk channel kiosk configured") != std::string::npos,
        "configure logged");
  check(host.call("GET", "/nope").status == 404, "unknown route is 404");

  if (failures) return 1;
  std::puts("template plugin: all checks passed");
  return 0;
}
