// Fixture plugin "good": routes that use the request, the clock and the plugin's key-value store (ABI 1.1 included).
#include <quanqu/sdk/plugin.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using quanqu::sdk::Json;

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
    // PUT /kv/{key}[?ttl_ms=N]: the body as the value, expiring after ttl_ms when given (ABI 1.1).
    host.route("PUT", "/kv/{key}", [this](const quanqu::sdk::Request& r) {
      if (auto ttl = r.query_param("ttl_ms"))
        host_->kv_put(r.params.at("key"), r.body, std::stoll(std::string(*ttl)));
      else
        host_->kv_put(r.params.at("key"), r.body);
      return quanqu::sdk::Response{204, "", "", {}};
    });
    host.route("DELETE", "/kv/{key}", [this](const quanqu::sdk::Request& r) {
      host_->kv_delete(r.params.at("key"));
      return quanqu::sdk::Response{204, "", "", {}};
    });
    // ---- ABI 1.1 key-value operations; each route lets a host refusal propagate ----
    // GET /abi: whether the host offers them.
    host.route("GET", "/abi", [this](const quanqu::sdk::Request&) {
      return quanqu::sdk::Response::json(200, Json{{"kv_ops", host_->kv_ops_available()}}.dump());
    });
    // POST /counter/{key}?by=N&ttl_ms=M: kv_incr.
    host.route("POST", "/counter/{key}", [this](const quanqu::sdk::Request& r) {
      auto number = [&](const char* name, std::int64_t fallback) {
        auto text = r.query_param(name);
        return text ? std::stoll(std::string(*text)) : fallback;
      };
      std::int64_t value = host_->kv_incr(r.params.at("key"), number("by", 1), number("ttl_ms", 0));
      return quanqu::sdk::Response::json(200, Json{{"value", value}}.dump());
    });
    // POST /cas/{key} {"expected": "..." or null, "value": "...", "ttl_ms": N}: kv_cas.
    host.route("POST", "/cas/{key}", [this](const quanqu::sdk::Request& r) {
      Json in = Json::parse(r.body);
      std::optional<std::string> expected;
      if (in.contains("expected") && in["expected"].is_string()) expected = in["expected"].get<std::string>();
      bool swapped =
          host_->kv_cas(r.params.at("key"), expected ? std::optional<std::string_view>(*expected) : std::nullopt,
                        in.at("value").get<std::string>(), in.value("ttl_ms", std::int64_t{0}));
      return quanqu::sdk::Response::json(200, Json{{"swapped", swapped}}.dump());
    });
    // GET /list?prefix=&cursor=&limit=: one page of kv_list.
    host.route("GET", "/list", [this](const quanqu::sdk::Request& r) {
      auto text = [&](const char* name) { return std::string(r.query_param(name).value_or("")); };
      auto page =
          host_->kv_list(text("prefix"), text("cursor"), r.query_param("limit") ? std::stoi(text("limit")) : 100);
      Json items = Json::array();
      for (const auto& item : page.items)
        items.push_back({{"key", item.key},
                         {"value", item.value},
                         {"expires_at_ms", item.expires_at_ms ? Json(*item.expires_at_ms) : Json(nullptr)}});
      return quanqu::sdk::Response::json(
          200,
          Json{{"items", items}, {"next_cursor", page.next_cursor ? Json(*page.next_cursor) : Json(nullptr)}}.dump());
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

QUANQU_PLUGIN(Good)
