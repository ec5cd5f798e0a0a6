// The card-gateway plugin: card payments through a gateway's payment intents, and its signed capture webhook.
#include <quanqu/sdk/plugin.hpp>
#include <quanqu/sdk/webhooks.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace card_gateway {
namespace {

using quanqu::sdk::Host;
using quanqu::sdk::HttpReply;
using quanqu::sdk::HttpRequest;
using quanqu::sdk::Json;
using quanqu::sdk::PaymentOutcome;
using quanqu::sdk::PaymentSession;
using quanqu::sdk::Refusal;
using quanqu::sdk::Request;
using quanqu::sdk::Response;
using quanqu::sdk::ServiceError;

namespace webhooks = quanqu::sdk::webhooks;

constexpr const char* kPluginName = "card-gateway";
// How far a webhook's timestamp may be from the host's clock, either way.
constexpr std::int64_t kWebhookToleranceSeconds = 300;
// Key-value limits of the host: keys are at most 256 bytes.
constexpr std::size_t kMaxKeyBytes = 256;

// The channel's config for this plugin (plugin.json's config_schema, validated by the host).
struct Settings {
  std::string base_url;  // without a trailing slash
  std::string api_key;
  std::string webhook_secret;

  // Throws std::runtime_error when a field is missing: a broken config is a broken provider (502),
  // and a webhook must never be checked against an empty secret.
  static Settings from_json(const Json& config) {
    auto text = [&config](const char* field) {
      auto it = config.find(field);
      if (it == config.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        throw std::runtime_error(std::string("the card-gateway config has no \"") + field + "\"");
      return it->get<std::string>();
    };
    Settings s{text("base_url"), text("api_key"), text("webhook_secret")};
    while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
    return s;
  }
};

// A string field of a JSON object, or "" when absent or not a string.
std::string string_field(const Json& object, const char* field) {
  if (!object.is_object()) return "";
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// `text` as one URL path segment: the gateway's ids are plain, but a reference must never be able
// to reach another path of the gateway.
std::string path_segment(std::string_view text) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
                      u == '_' || u == '.' || u == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += digits[u >> 4];
      out += digits[u & 15];
    }
  }
  return out;
}

// What the gateway said when it refused a request: {"error": {"message": ...}}, {"error": "..."}
// or {"message": ...}; a generic sentence otherwise.
std::string refusal_message(const HttpReply& reply) {
  Json body = Json::parse(reply.body, nullptr, false);
  if (body.is_object()) {
    auto error = body.find("error");
    if (error != body.end()) {
      if (error->is_string()) return error->get<std::string>();
      std::string message = string_field(*error, "message");
      if (!message.empty()) return message;
    }
    std::string message = string_field(body, "message");
    if (!message.empty()) return message;
  }
  return "the card gateway refused the payment (HTTP " + std::to_string(reply.status) + ")";
}

// The gateway's HTTP API, as one channel's settings reach it through the host.
class GatewayClient {
 public:
  GatewayClient(const Host& host, const Settings& settings) : host_(host), settings_(settings) {}

  // Sends one request and returns the reply's JSON object. A 4xx is the gateway saying no: Refusal
  // "card-gateway.rejected" with its message. No reply, a 5xx (or any other non-2xx) or a reply
  // that is not a JSON object means the gateway is broken: std::runtime_error (the shopper gets a 502).
  Json send(const std::string& method, const std::string& path, const std::optional<Json>& body = std::nullopt,
            const std::string& idempotency_key = "") const {
    HttpRequest request;
    request.method = method;
    request.url = settings_.base_url + path;
    request.headers.emplace_back("Authorization", "Bearer " + settings_.api_key);
    request.headers.emplace_back("Accept", "application/json");
    if (!idempotency_key.empty()) request.headers.emplace_back("Idempotency-Key", idempotency_key);
    if (body) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = body->dump();
    }
    // Host::fetch throws quanqu::sdk::Error (a std::runtime_error) when no reply arrived.
    HttpReply reply = host_.fetch(request);
    std::string what = method + " " + path;
    if (reply.status >= 400 && reply.status < 500) throw Refusal("card-gateway.rejected", refusal_message(reply));
    if (reply.status < 200 || reply.status >= 300)
      throw std::runtime_error("the card gateway answered " + what + " with HTTP " + std::to_string(reply.status));
    Json parsed = Json::parse(reply.body, nullptr, false);
    if (!parsed.is_object()) throw std::runtime_error("the card gateway's reply to " + what + " is not a JSON object");
    return parsed;
  }

 private:
  const Host& host_;
  const Settings& settings_;
};

// The gateway's payment intents behind Quanqu's payment sessions. The intent id is the session's
// reference; kv "intent:<id>" remembers which session and channel it belongs to, for the webhook.
class CardPayments : public quanqu::sdk::PaymentProvider {
 public:
  void attach(const Host& host) { host_ = &host; }

  PaymentOutcome initiate(const PaymentSession& session, const Json& config) override {
    Settings settings = Settings::from_json(config);
    Json body{{"amount", session.amount},
              {"currency", session.currency},
              {"reference", session.id},
              {"metadata", {{"channel_id", session.channel_id}, {"cart_id", session.cart_id}}}};
    // The session id as idempotency key: a retried initiate never creates a second intent.
    Json intent = GatewayClient(*host_, settings).send("POST", "/v1/payment_intents", body, session.id);
    std::string intent_id = string_field(intent, "id");
    std::string client_secret = string_field(intent, "client_secret");
    if (intent_id.empty() || client_secret.empty())
      throw std::runtime_error("the card gateway created a payment intent without an id or a client_secret");
    std::string key = "intent:" + intent_id;
    if (key.size() > kMaxKeyBytes) throw std::runtime_error("the card gateway's intent id is too long");
    host_->kv_put(key, Json{{"session_id", session.id}, {"channel_id", session.channel_id}}.dump());
    return PaymentOutcome::pending(intent_id, Json{{"intent_id", intent_id}, {"client_secret", client_secret}});
  }

  PaymentOutcome authorize(const PaymentSession& session, const Json& config) override {
    Settings settings = Settings::from_json(config);
    Json intent = GatewayClient(*host_, settings).send("GET", intent_path(session));
    std::string status = string_field(intent, "status");
    if (status == "authorized") return keep_data(PaymentOutcome::authorized(session.reference), session);
    if (status == "captured") return keep_data(PaymentOutcome::captured(session.reference), session);
    if (status == "requires_confirmation" || status == "processing")
      return keep_data(PaymentOutcome::pending(session.reference), session);
    if (status == "declined") throw Refusal("card-gateway.declined", reason(intent, "the card was declined"));
    if (status == "canceled")
      throw Refusal("card-gateway.canceled", reason(intent, "the payment was cancelled at the card gateway"));
    throw std::runtime_error("the card gateway reports the unknown intent status \"" + status + "\"");
  }

  PaymentOutcome capture(const PaymentSession& session, const Json& config) override {
    Settings settings = Settings::from_json(config);
    Json reply = GatewayClient(*host_, settings).send("POST", intent_path(session) + "/capture");
    std::string status = string_field(reply, "status");
    if (status == "captured") return keep_data(PaymentOutcome::captured(session.reference), session);
    // The gateway settles later and confirms through the webhook ("payments.captured").
    if (status == "capture_pending") return keep_data(PaymentOutcome::pending(session.reference), session);
    throw std::runtime_error("the card gateway answered a capture with the status \"" + status + "\"");
  }

  // POST /v1/payment_intents/{id}/refunds with the refund's id as Idempotency-Key: the gateway
  // answers a second ask (after a timeout) with the first refund, never a second one. A 4xx is
  // the gateway refusing (Refusal: the refund failed).
  quanqu::sdk::RefundOutcome refund(const PaymentSession& session, const quanqu::sdk::RefundRequest& refund,
                                    const Json& config) override {
    Settings settings = Settings::from_json(config);
    Json body{{"amount", refund.amount}, {"currency", refund.currency}, {"reason", refund.reason},
              {"reference", refund.id}};
    Json reply = GatewayClient(*host_, settings).send("POST", intent_path(session) + "/refunds", body, refund.id);
    std::string status = string_field(reply, "status");
    std::string id = string_field(reply, "id");
    if (status == "succeeded") return quanqu::sdk::RefundOutcome::succeeded(id);
    if (status == "pending") return quanqu::sdk::RefundOutcome::pending(id);
    if (status == "failed") return quanqu::sdk::RefundOutcome::failed(reason(reply, "the card gateway could not refund"));
    throw std::runtime_error("the card gateway answered a refund with the status \"" + status + "\"");
  }

  PaymentOutcome cancel(const PaymentSession& session, const Json& config) override {
    // A session whose initiate never reached the gateway holds nothing there.
    if (session.reference.empty()) return PaymentOutcome::cancelled();
    Settings settings = Settings::from_json(config);
    GatewayClient(*host_, settings).send("POST", intent_path(session) + "/cancel");
    return PaymentOutcome::cancelled();
  }

 private:
  static std::string intent_path(const PaymentSession& session) {
    if (session.reference.empty())
      throw std::runtime_error("payment session " + session.id + " has no card gateway intent");
    return "/v1/payment_intents/" + path_segment(session.reference);
  }

  // The host stores an outcome's data in place of the session's: repeat what initiate gave the
  // storefront (the intent id and client secret) so that it survives the later steps.
  static PaymentOutcome keep_data(PaymentOutcome outcome, const PaymentSession& session) {
    outcome.data = session.data;
    return outcome;
  }

  // The gateway's own words for a decline when it gives any, else `fallback`.
  static std::string reason(const Json& intent, const std::string& fallback) {
    for (const char* field : {"decline_message", "failure_message", "message"}) {
      std::string text = string_field(intent, field);
      if (!text.empty()) return text;
    }
    return fallback;
  }

  const Host* host_ = nullptr;
};

class CardGatewayPlugin : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    payments_.attach(host);
    host.provide(payments_, kPluginName);
    // POST /v1/plugins/card-gateway/channels/{channel_id}/webhook, called by the gateway.
    host.route("POST", "/channels/{channel_id}/webhook", [this](const Request& request) { return webhook(request); });
  }

 private:
  // Every check comes before any effect: a refused webhook changes nothing and calls nothing.
  Response webhook(const Request& request) {
    const std::string& channel_id = request.params.at("channel_id");
    std::optional<Json> config = host_->channel_config(channel_id);
    if (!config)
      return Response::problem(404, "card-gateway.unknown_channel",
                               "no channel '" + channel_id + "' takes payments through card-gateway");
    Settings settings = Settings::from_json(*config);

    // The headers, the timestamp's freshness, then the signature (the SDK's webhook helper:
    // HMAC-SHA256 of timestamp + "." + body under the channel's secret, any "v1=" entry).
    const std::string timestamp(request.header("gateway-timestamp").value_or(""));
    webhooks::Verifier verifier(*host_, settings.webhook_secret, {kWebhookToleranceSeconds, "v1"});
    webhooks::Verdict verdict =
        verifier.verify(timestamp, request.header("gateway-signature").value_or(""), request.body);
    if (verdict != webhooks::Verdict::ok) {
      if (verdict != webhooks::Verdict::malformed)
        host_->warn(std::string("webhook refused: ") + webhooks::to_string(verdict) + ", channel " + channel_id);
      return webhooks::refusal(verdict, kPluginName);
    }

    Json event = Json::parse(request.body, nullptr, false);
    std::string event_id = string_field(event, "id");
    std::string type = string_field(event, "type");
    std::string intent_id = event.is_object() ? string_field(event.value("data", Json::object()), "intent_id") : "";
    if (event_id.empty() || type.empty() || intent_id.empty())
      return Response::problem(400, "card-gateway.bad_request",
                               "the body must be a JSON object with id, type and data.intent_id");
    std::string event_key = "event:" + event_id;
    if (event_key.size() > kMaxKeyBytes)
      return Response::problem(400, "card-gateway.bad_request", "the event id is too long");

    if (host_->kv_get(event_key))
      return Response::problem(409, "card-gateway.replayed", "event " + event_id + " was already received");

    if (!intent_belongs_to(intent_id, channel_id))
      return Response::problem(404, "card-gateway.unknown_payment",
                               "payment intent " + intent_id + " is not one of channel " + channel_id);

    if (type != "payment_intent.captured") {
      host_->kv_put(event_key, timestamp);
      return Response::json(200, Json{{"received", true}, {"ignored", true}}.dump());
    }

    Json result;
    try {
      result = host_->call("payments.captured",
                           Json{{"provider", kPluginName}, {"reference", intent_id}, {"event_id", event_id}});
    } catch (const ServiceError& e) {
      // A 4xx is final for this event (the gateway sees why); anything else propagates as a 502,
      // and the event stays unrecorded so that the gateway's retry is processed.
      if (e.http_status() >= 400 && e.http_status() < 500)
        return Response::problem(e.http_status(), e.code(), e.detail());
      throw;
    }
    host_->kv_put(event_key, timestamp);
    Json reply{{"received", true}};
    if (result.is_object()) {
      std::string order_id = string_field(result.value("order", Json::object()), "id");
      if (!order_id.empty()) reply["order_id"] = order_id;
    }
    return Response::json(200, reply.dump());
  }

  bool intent_belongs_to(const std::string& intent_id, const std::string& channel_id) const {
    std::string key = "intent:" + intent_id;
    if (key.size() > kMaxKeyBytes) return false;
    std::optional<std::string> stored = host_->kv_get(key);
    if (!stored) return false;
    Json intent = Json::parse(*stored, nullptr, false);
    return string_field(intent, "channel_id") == channel_id;
  }

  Host* host_ = nullptr;
  CardPayments payments_;
};

}  // namespace
}  // namespace card_gateway

QUANQU_PLUGIN(card_gateway::CardGatewayPlugin)
