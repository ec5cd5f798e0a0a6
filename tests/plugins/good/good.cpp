// Fixture plugin "good": routes that use the request, the clock and the plugin's key-value store.
#include <quanqu/sdk/plugin.hpp>

#include <string>

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class Good : public quanqu::sdk::Plugin {
 public:
  void start(quanqu::sdk::Host& host) override {
    host.info("good plugin starting");
    host_ = &host;
    // GET /hello: counts its calls in the key-value store and names the request's channel.
    host.route("GET", "/hello", [this](const quanqu::sdk::Request& r) {
      auto hits = host_->kv_get("hits");
      int n = hits ? std::stoi(*hits) + 1 : 1;
      host_->kv_put("hits", std::to_string(n));
      return quanqu::sdk::Response::json(200, "{\"hello\":\"world\",\"hits\":" + std::to_string(n) +
                                                  ",\"channel_id\":" + quoted(r.channel_id) +
                                                  ",\"now_ms\":" + std::to_string(host_->now_ms()) + "}");
    });
    host.route("GET", "/kv/{key}", [this](const quanqu::sdk::Request& r) {
      auto value = host_->kv_get(r.params.at("key"));
      if (!value) return quanqu::sdk::Response::json(404, "{\"error\":\"no such key\"}");
      return quanqu::sdk::Response::text(200, *value);
    });
    host.route("PUT", "/kv/{key}", [this](const quanqu::sdk::Request& r) {
      host_->kv_put(r.params.at("key"), r.body);
      return quanqu::sdk::Response{204, "", "", {}};
    });
    host.route("DELETE", "/kv/{key}", [this](const quanqu::sdk::Request& r) {
      host_->kv_delete(r.params.at("key"));
      return quanqu::sdk::Response{204, "", "", {}};
    });
    // POST /echo: the body back, with the query parameter "tag" as a header.
    host.route("POST", "/echo", [](const quanqu::sdk::Request& r) {
      quanqu::sdk::Response out = quanqu::sdk::Response::text(200, r.body);
      if (auto tag = r.query_param("tag")) out.headers.emplace_back("X-Tag", std::string(*tag));
      return out;
    });
  }

 private:
  quanqu::sdk::Host* host_ = nullptr;
};

}  // namespace

QUANQU_PLUGIN(Good, "good", "1.0.0")
