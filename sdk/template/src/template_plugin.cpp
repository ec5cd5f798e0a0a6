// The template plugin: a kiosk channel: its config per channel, a greeting, a compact catalog, and an order counter fed by events.
#include <quanqu/sdk/plugin.hpp>

#include <string>

namespace {

using quanqu::sdk::ChannelInfo;
using quanqu::sdk::Event;
using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::Request;
using quanqu::sdk::Response;

// Told by the server whenever a merchant creates or reconfigures a channel whose "plugin" is
// "template" (and once per such channel when the plugin starts). The config has already been
// validated against plugin.json's config_schema, defaults filled in.
class KioskAdapter : public quanqu::sdk::ChannelAdapter {
 public:
  explicit KioskAdapter(Host*& host) : host_(host) {}
  void configure(const ChannelInfo& channel, const Json& config) override {
    host_->info("kiosk channel " + channel.code + " configured, greeting: " + config.value("greeting", ""));
  }

 private:
  Host*& host_;
};

class TemplatePlugin : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    host.provide(adapter_, "template");
    // GET /v1/plugins/template/hello: the greeting of the caller's channel (X-Publishable-Key).
    host.route("GET", "/hello", [this](const Request& r) { return hello(r); });
    // GET /v1/plugins/template/catalog: the channel's products, compact (title, handle, price).
    host.route("GET", "/catalog", [this](const Request& r) { return catalog(r); });
    // GET /v1/plugins/template/stats: orders placed on each kiosk channel, counted from events.
    host.route("GET", "/stats", [this](const Request& r) { return stats(r); });
    host.on("order.placed", [this](const Event& e) { count_order(e); });
    host.info("template plugin started");
  }

  void stop() override { host_->info("template plugin stopping"); }

 private:
  // The channel's config when the request names a kiosk channel; nothing otherwise.
  std::optional<Json> config_of(const Request& r) {
    if (r.channel_id.empty()) return std::nullopt;
    return host_->channel_config(r.channel_id);
  }

  Response hello(const Request& r) {
    auto config = config_of(r);
    if (!config)
      return Response::problem(400, "template.not_a_kiosk", "send the X-Publishable-Key of a kiosk channel");
    long long visits = std::stoll(host_->kv_get("visits:" + r.channel_id).value_or("0")) + 1;
    host_->kv_put("visits:" + r.channel_id, std::to_string(visits));
    Json body{{"message", (*config)["greeting"]}, {"visits", visits}, {"channel_id", r.channel_id},
              {"at_ms", host_->now_ms()}};
    return Response::json(200, body.dump());
  }

  Response catalog(const Request& r) {
    auto config = config_of(r);
    if (!config)
      return Response::problem(400, "template.not_a_kiosk", "send the X-Publishable-Key of a kiosk channel");
    // The same core service, validation and visibility rules as GET /v1/store/products.
    Json page;
    try {
      page = host_->call("catalog.products", {{"channel_id", r.channel_id}, {"limit", (*config)["catalog_size"]}});
    } catch (const quanqu::sdk::ServiceError& e) {
      return quanqu::sdk::problem_reply(e);
    }
    Json items = Json::array();
    for (const auto& p : page["items"]) {
      Json price = p["variants"].empty() ? Json(nullptr) : p["variants"][0]["price"];
      items.push_back({{"title", p["title"]}, {"handle", p["handle"]}, {"price", price}});
    }
    return Response::json(200, Json{{"items", items}}.dump());
  }

  Response stats(const Request&) {
    Json counts = Json::parse(host_->kv_get("orders").value_or("{}"));
    return Response::json(200, Json{{"orders_by_channel", counts}}.dump());
  }

  // Runs on the server's event thread, one event at a time: read-modify-write is safe here.
  void count_order(const Event& e) {
    std::string channel = e.data.value("channel_id", "");
    Json info = host_->call("channels.get", {{"id", channel}});
    if (info["plugin"] != "template") return;  // not a kiosk channel
    Json counts = Json::parse(host_->kv_get("orders").value_or("{}"));
    counts[channel] = counts.value(channel, 0) + 1;
    host_->kv_put("orders", counts.dump());
  }

  Host* host_ = nullptr;
  KioskAdapter adapter_{host_};
};

}  // namespace

// Exports the plugin; its name and version come from plugin.json (quanqu_add_plugin compiles them in).
QUANQU_PLUGIN(TemplatePlugin)
