// Fixture plugin "recorder": records every event, adapts channels (config in kv), calls core services (carts, orders, customers, identities, any by name) from routes.
#include <quanqu/sdk/plugin.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::Request;
using quanqu::sdk::Response;
using quanqu::sdk::ServiceError;

// How many events GET /events keeps (each is stored under its own key: one list would outgrow a
// kv value of 64 KiB).
constexpr std::int64_t kKeep = 200;

std::optional<Json> object_body(const Request& r) {
  Json body = Json::parse(r.body, nullptr, false);
  if (!body.is_object()) return std::nullopt;
  return body;
}

// Stores the config a channel was configured with under "configured:<channel id>".
class Adapter : public quanqu::sdk::ChannelAdapter {
 public:
  void configure(const quanqu::sdk::ChannelInfo& channel, const Json& config) override {
    host_->kv_put("configured:" + channel.id, config.dump());
  }
  Host* host_ = nullptr;
};

class Recorder : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    adapter_.host_ = &host;
    host.provide(adapter_, "recorder");

    // Events arrive one at a time on the host's event thread, so the counter needs no lock.
    host.on("*", [this](const quanqu::sdk::Event& e) {
      auto next_text = host_->kv_get("events:next");
      std::int64_t next = next_text ? std::stoll(*next_text) : 0;
      host_->kv_put(
          "event:" + std::to_string(next),
          Json{{"id", e.id}, {"type", e.type}, {"occurred_at_ms", e.occurred_at_ms}, {"data", e.data}}.dump());
      host_->kv_put("events:next", std::to_string(next + 1));
      if (next >= kKeep) host_->kv_delete("event:" + std::to_string(next - kKeep));
    });

    host.route("GET", "/events", [this](const Request&) {
      auto next_text = host_->kv_get("events:next");
      std::int64_t next = next_text ? std::stoll(*next_text) : 0;
      Json events = Json::array();
      for (std::int64_t i = next > kKeep ? next - kKeep : 0; i < next; ++i)
        if (auto e = host_->kv_get("event:" + std::to_string(i))) events.push_back(Json::parse(*e));
      return Response::json(200, Json{{"events", events}}.dump());
    });

    host.route("GET", "/configured/{channel_id}", [this](const Request& r) {
      auto config = host_->kv_get("configured:" + r.params.at("channel_id"));
      if (!config) return Response::problem(404, "recorder.not_configured", "no channel was configured with that id");
      return Response::json(200, *config);
    });

    host.route("GET", "/config/{channel_id}", [this](const Request& r) {
      auto config = host_->channel_config(r.params.at("channel_id"));
      if (!config) return Response::problem(404, "recorder.no_config", "the channel has no config for this plugin");
      return Response::json(200, config->dump());
    });

    host.route("POST", "/ping", [this](const Request& r) {
      host_->publish("recorder.pinged", Json{{"request_id", r.request_id}, {"at_ms", host_->now_ms()}});
      return Response::json(202, R"({"published":"recorder.pinged"})");
    });

    // POST /order {"sku","quantity","email"[,"idempotency_key"]}: a cart and its order, through the core.
    host.route("POST", "/order", [this](const Request& r) {
      if (r.channel_id.empty())
        return Response::problem(401, "recorder.channel_required", "send X-Publishable-Key to name the channel");
      auto body = object_body(r);
      if (!body) return Response::problem(400, "recorder.invalid_body", "the body must be a JSON object");
      Json item{{"sku", body->value("sku", "")}, {"quantity", body->value("quantity", 1)}};
      try {
        Json cart = host_->call("carts.create", Json{{"channel_id", r.channel_id},
                                                     {"email", body->value("email", "")},
                                                     {"shipping_address",
                                                      {{"name", "Han Meimei"},
                                                       {"line1", "88 Nanjing West Road"},
                                                       {"city", "Shanghai"},
                                                       {"postal_code", "200041"},
                                                       {"country", "CN"},
                                                       {"phone", "+86 21 5555 0100"}}},
                                                     {"items", Json::array({item})}});
        Json order = host_->call("orders.create_from_cart",
                                 Json{{"channel_id", r.channel_id},
                                      {"cart_id", cart.at("id")},
                                      {"idempotency_key", body->value("idempotency_key", "order-" + r.request_id)}});
        return Response::json(201, order.dump());
      } catch (const ServiceError& e) {
        return quanqu::sdk::problem_reply(e);
      }
    });

    // POST /call/{operation}: the body as the arguments of that host service, its answer as the reply.
    host.route("POST", "/call/{operation}", [this](const Request& r) {
      auto body = object_body(r);
      if (!body) return Response::problem(400, "recorder.invalid_body", "the body must be a JSON object");
      try {
        return Response::json(200, host_->call(r.params.at("operation"), *body).dump());
      } catch (const ServiceError& e) {
        return quanqu::sdk::problem_reply(e);
      }
    });

    host.route("GET", "/customer", [](const Request& r) {
      return Response::json(200, Json{{"customer_id", r.customer_id}}.dump());
    });

    // POST /customers {"email"}: the customer (created or found) and a session token for them.
    host.route("POST", "/customers", [this](const Request& r) {
      auto body = object_body(r);
      if (!body) return Response::problem(400, "recorder.invalid_body", "the body must be a JSON object");
      try {
        Json customer = host_->call("customers.upsert", Json{{"email", body->value("email", "")}});
        Json session = host_->call("customers.create_session", Json{{"customer_id", customer.at("id")}});
        return Response::json(201, Json{{"token", session.at("token")}, {"customer_id", customer.at("id")}}.dump());
      } catch (const ServiceError& e) {
        return quanqu::sdk::problem_reply(e);
      }
    });

    // POST /identities {"customer_id", "type", "value"}: links the identity through the host.
    host.route("POST", "/identities", [this](const Request& r) {
      auto body = object_body(r);
      if (!body) return Response::problem(400, "recorder.invalid_body", "the body must be a JSON object");
      try {
        return Response::json(201, host_->call("customers.link_identity", *body).dump());
      } catch (const ServiceError& e) {
        return quanqu::sdk::problem_reply(e);
      }
    });

    // POST /products {"ids": [...]}: those products on the request's channel (none: the admin
    // view), in one catalog.products host call.
    host.route("POST", "/products", [this](const Request& r) {
      auto body = object_body(r);
      if (!body) return Response::problem(400, "recorder.invalid_body", "the body must be a JSON object");
      if (!r.channel_id.empty()) (*body)["channel_id"] = r.channel_id;
      try {
        return Response::json(200, host_->call("catalog.products", *body).dump());
      } catch (const ServiceError& e) {
        return quanqu::sdk::problem_reply(e);
      }
    });

    // Protected routes: the server checks the key; the handler sees whether any Authorization
    // header reached it (the server drops a merchant key).
    auto saw_authorization = [](const Request& r) {
      for (const auto& [name, value] : r.headers)
        if (name == "authorization") return true;
      return false;
    };
    host.route("GET", "/merchant/stats", [saw_authorization](const Request& r) {
      return Response::json(200, Json{{"stats", true}, {"saw_authorization", saw_authorization(r)}}.dump());
    }, quanqu::sdk::Access::merchant);
    host.route("POST", "/admin/reset", [saw_authorization](const Request& r) {
      return Response::json(200, Json{{"reset", true}, {"saw_authorization", saw_authorization(r)}}.dump());
    }, quanqu::sdk::Access::admin);
    host.route("GET", "/open/echo-auth", [saw_authorization](const Request& r) {
      return Response::json(200, Json{{"saw_authorization", saw_authorization(r)}}.dump());
    });

    // POST /identities/find {"type", "value"}: the customer of that identity.
    host.route("POST", "/identities/find", [this](const Request& r) {
      auto body = object_body(r);
      if (!body) return Response::problem(400, "recorder.invalid_body", "the body must be a JSON object");
      try {
        return Response::json(200, host_->call("customers.find_by_identity", *body).dump());
      } catch (const ServiceError& e) {
        return quanqu::sdk::problem_reply(e);
      }
    });
  }

 private:
  Host* host_ = nullptr;
  Adapter adapter_;  // a member: it must outlive stop()
};

}  // namespace

QUANQU_PLUGIN(Recorder)
