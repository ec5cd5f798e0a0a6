// The plugin of the SDK's own tests: webhook routes, routes letting host errors propagate, the kv operations.
#include <quanqu/sdk/plugin.hpp>
#include <quanqu/sdk/webhooks.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::Request;
using quanqu::sdk::Response;
namespace webhooks = quanqu::sdk::webhooks;

constexpr const char* kSecret = "whsec_test_0123456789";

class SdkTestPlugin : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    // POST /hook: one header "webhook-signature: t=...,v1=...", replay protection by the event id.
    host.route("POST", "/hook", [this](const Request& r) {
      webhooks::Verifier verifier(*host_, kSecret);
      webhooks::Verdict v = verifier.verify(r.header("webhook-signature").value_or(""), r.body);
      return receive(v, r.body);
    });
    // POST /hook-two-headers: "gateway-timestamp" and "gateway-signature: v1=...,v1=...".
    host.route("POST", "/hook-two-headers", [this](const Request& r) {
      webhooks::Verifier verifier(*host_, kSecret);
      webhooks::Verdict v = verifier.verify(r.header("gateway-timestamp").value_or(""),
                                            r.header("gateway-signature").value_or(""), r.body);
      return receive(v, r.body);
    });
    // GET /kv/{key}: a host refusal (a key too long) propagates.
    host.route("GET", "/kv/{key}", [this](const Request& r) {
      auto value = host_->kv_get(r.params.at("key"));
      return Response::text(200, value.value_or(""));
    });
    // GET /product/{id}: a core service's refusal propagates.
    host.route("GET", "/product/{id}", [this](const Request& r) {
      return Response::json(200, host_->call("catalog.product", Json{{"id", r.params.at("id")}}).dump());
    });
    // GET /fail/{how}: failures that are not refusals.
    host.route("GET", "/fail/{how}", [](const Request& r) -> Response {
      const std::string& how = r.params.at("how");
      if (how == "unavailable") throw quanqu::sdk::Error(QUANQU_ERR_UNAVAILABLE, "the database is busy");
      if (how == "internal") throw quanqu::sdk::Error(QUANQU_ERR_INTERNAL, "broken");
      throw std::runtime_error("plain failure");
    });
    // POST /echo: the request as the handler saw it.
    host.route("POST", "/echo/{id}", [](const Request& r) {
      Json headers = Json::array();
      for (const auto& [n, v] : r.headers) headers.push_back({n, v});
      return Response::json(200, Json{{"method", r.method},
                                      {"path", r.path},
                                      {"id", r.params.at("id")},
                                      {"query", r.query},
                                      {"headers", headers},
                                      {"body", r.body},
                                      {"channel_id", r.channel_id},
                                      {"customer_id", r.customer_id},
                                      {"request_id", r.request_id}}
                                     .dump());
    });
    // POST /kv-op {"op": "put"|"incr"|"cas"|"list", ...}: the ABI 1.1 key-value operations.
    host.route("POST", "/kv-op",
               [this](const Request& r) { return Response::json(200, kv_op(Json::parse(r.body)).dump()); });
  }

 private:
  Response receive(webhooks::Verdict v, const std::string& body) {
    if (v != webhooks::Verdict::ok) return webhooks::refusal(v, "sdk-test");
    std::string id = Json::parse(body).at("id").get<std::string>();
    webhooks::ReplayGuard seen(*host_);
    if (!seen.claim(id)) return webhooks::refusal(webhooks::Verdict::replayed, "sdk-test");
    return Response::json(200, Json{{"received", id}}.dump());
  }

  Json kv_op(const Json& in) {
    std::string op = in.at("op"), key = in.value("key", "");
    std::int64_t ttl = in.value("ttl_ms", std::int64_t{0});
    if (op == "put") {
      host_->kv_put(key, in.at("value").get<std::string>(), ttl);
      return Json::object();
    }
    if (op == "incr") return Json{{"value", host_->kv_incr(key, in.value("by", std::int64_t{1}), ttl)}};
    if (op == "cas") {
      std::optional<std::string> expected;
      if (in.contains("expected") && in["expected"].is_string()) expected = in["expected"].get<std::string>();
      bool swapped = host_->kv_cas(key, expected ? std::optional<std::string_view>(*expected) : std::nullopt,
                                   in.at("value").get<std::string>(), ttl);
      return Json{{"swapped", swapped}};
    }
    if (op == "list") {
      auto page = host_->kv_list(in.value("prefix", ""), in.value("cursor", ""), in.value("limit", 100));
      Json keys = Json::array();
      for (const auto& item : page.items) keys.push_back(item.key);
      return Json{{"keys", keys}, {"next_cursor", page.next_cursor ? Json(*page.next_cursor) : Json(nullptr)}};
    }
    throw std::invalid_argument("unknown op " + op);
  }

  Host* host_ = nullptr;
};

}  // namespace

QUANQU_PLUGIN(SdkTestPlugin)
