// The fake card gateway: its routes over a LoopbackServer, its state behind one mutex.
#include "support/fake_gateway.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <ctime>
#include <mutex>
#include <random>
#include <stdexcept>

namespace quanqu::e2e {

using nlohmann::json;

namespace {

std::string random_hex(std::size_t digits) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < digits; ++i) out += hex[rng() & 15];
  return out;
}

LoopbackReply json_reply(int status, const json& body) { return {status, body.dump()}; }

LoopbackReply refusal(int status, const std::string& message) {
  return json_reply(status, json{{"error", {{"message", message}}}});
}

}  // namespace

json FakeGateway::Intent::to_json() const {
  json out{{"id", id},
           {"object", "payment_intent"},
           {"status", status},
           {"client_secret", client_secret},
           {"amount", request.value("amount", json(nullptr))},
           {"currency", request.value("currency", json(nullptr))},
           {"reference", request.value("reference", json(nullptr))},
           {"metadata", request.value("metadata", json::object())}};
  if (!decline_message.empty()) out["decline_message"] = decline_message;
  std::int64_t refunded = 0;
  for (const auto& r : refunds)
    if (r.value("status", "") != "failed") refunded += r.value("amount", std::int64_t{0});
  out["amount_refunded"] = refunded;
  return out;
}

struct FakeGateway::Impl {
  explicit Impl(Options o)
      : options(std::move(o)), server("fake gateway", [this](const ReceivedRequest& r) { return handle(r); }) {}

  Options options;

  mutable std::mutex mutex;
  std::map<std::string, Intent> intents;
  std::map<std::string, std::string> by_idempotency_key;
  std::map<std::string, json> refunds_by_key;  // Idempotency-Key -> the refund it created
  std::vector<Received> received;
  int created = 0;
  int refunded = 0;

  LoopbackServer server;  // last: it answers with the members above

  LoopbackReply handle(const ReceivedRequest& r) {
    std::lock_guard lock(mutex);
    received.push_back(r);
    if (r.header("authorization") != "Bearer " + options.api_key) return refusal(401, "invalid API key");

    std::string path = r.target.substr(0, r.target.find('?'));
    const std::string collection = "/v1/payment_intents";
    if (path == collection) {
      if (r.method != "POST") return refusal(405, "POST only");
      json body = json::parse(r.body, nullptr, false);
      if (!body.is_object() || !body.contains("amount") || !body["amount"].is_number_integer() ||
          !body.contains("currency") || !body["currency"].is_string())
        return refusal(400, "amount (integer) and currency are required");
      std::string key = r.header("idempotency-key");
      if (!key.empty()) {
        auto seen = by_idempotency_key.find(key);
        if (seen != by_idempotency_key.end()) return json_reply(201, intents.at(seen->second).to_json());
      }
      Intent intent;
      intent.id = "pi_" + std::to_string(++created) + random_hex(16);
      intent.status = "requires_confirmation";
      intent.client_secret = intent.id + "_secret_" + random_hex(24);
      intent.idempotency_key = key;
      intent.request = body;
      if (!key.empty()) by_idempotency_key[key] = intent.id;
      intents[intent.id] = intent;
      return json_reply(201, intent.to_json());
    }
    if (path.rfind(collection + "/", 0) != 0) return refusal(404, "no such endpoint");
    std::string rest = path.substr(collection.size() + 1);
    std::string id = rest.substr(0, rest.find('/'));
    std::string action = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
    auto it = intents.find(id);
    if (it == intents.end()) return refusal(404, "no such payment intent: " + id);
    Intent& intent = it->second;
    if (action.empty() && r.method == "GET") return json_reply(200, intent.to_json());
    if (action == "capture" && r.method == "POST") {
      if (intent.status != "authorized")
        return refusal(409, "a payment intent that is " + intent.status + " cannot be captured");
      intent.capture_requested = true;
      return json_reply(200, json{{"id", intent.id}, {"status", "capture_pending"}});
    }
    if (action == "refunds" && r.method == "POST") {
      std::string key = r.header("idempotency-key");
      if (auto seen = refunds_by_key.find(key); !key.empty() && seen != refunds_by_key.end())
        return json_reply(201, seen->second);
      if (!intent.capture_requested)
        return refusal(409, "a payment intent that is " + intent.status + " has nothing to refund");
      json body = json::parse(r.body, nullptr, false);
      if (!body.is_object() || !body.contains("amount") || !body["amount"].is_number_integer() ||
          body["amount"].get<std::int64_t>() < 1)
        return refusal(400, "amount (a positive integer) is required");
      std::int64_t left = intent.request.value("amount", std::int64_t{0});
      for (const auto& done : intent.refunds)
        if (done.value("status", "") != "failed") left -= done.value("amount", std::int64_t{0});
      if (body["amount"].get<std::int64_t>() > left)
        return refusal(400, "the refund is more than what is left on the payment intent");
      json refund{{"id", "re_" + std::to_string(++refunded) + random_hex(8)},
                  {"object", "refund"},
                  {"payment_intent", intent.id},
                  {"amount", body["amount"]},
                  {"currency", body.value("currency", json(nullptr))},
                  {"reference", body.value("reference", json(nullptr))},
                  {"status", options.refund_status}};
      intent.refunds.push_back(refund);
      if (!key.empty()) refunds_by_key[key] = refund;
      return json_reply(201, refund);
    }
    if (action == "cancel" && r.method == "POST") {
      intent.status = "canceled";
      return json_reply(200, intent.to_json());
    }
    return refusal(404, "no such endpoint");
  }
};

void FakeGateway::set_refund_status(const std::string& status) {
  std::lock_guard lock(impl_->mutex);
  impl_->options.refund_status = status;
}

FakeGateway::FakeGateway() : FakeGateway(Options{}) {}

FakeGateway::FakeGateway(Options options) : options_(options), impl_(std::make_unique<Impl>(std::move(options))) {}

FakeGateway::~FakeGateway() { stop(); }

void FakeGateway::stop() { impl_->server.stop(); }

std::string FakeGateway::base_url() const { return "http://127.0.0.1:" + std::to_string(impl_->server.port()); }

unsigned short FakeGateway::port() const { return impl_->server.port(); }

bool FakeGateway::confirm(const std::string& intent_id) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->intents.find(intent_id);
  if (it == impl_->intents.end()) return false;
  it->second.status = "authorized";
  return true;
}

bool FakeGateway::decline(const std::string& intent_id, const std::string& message) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->intents.find(intent_id);
  if (it == impl_->intents.end()) return false;
  it->second.status = "declined";
  it->second.decline_message = message;
  return true;
}

std::optional<FakeGateway::Intent> FakeGateway::intent(const std::string& id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->intents.find(id);
  if (it == impl_->intents.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeGateway::Intent> FakeGateway::intents() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<Intent> out;
  for (const auto& [id, intent] : impl_->intents) out.push_back(intent);
  return out;
}

std::vector<FakeGateway::Received> FakeGateway::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::string FakeGateway::signature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  std::string message = timestamp + "." + body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length))
    throw std::runtime_error("fake gateway: HMAC-SHA256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

json FakeGateway::event_json(const std::string& event_id, const std::string& type, const std::string& intent_id) const {
  json data{{"intent_id", intent_id}};
  if (auto known = intent(intent_id)) {
    data["amount"] = known->request.value("amount", json(nullptr));
    data["currency"] = known->request.value("currency", json(nullptr));
  }
  return json{{"id", event_id}, {"type", type}, {"created", std::time(nullptr)}, {"data", data}};
}

HttpResponse FakeGateway::send_webhook(const std::string& host, unsigned short port, const std::string& channel_id,
                                       const Webhook& webhook, std::string* event_id) const {
  std::string id = webhook.event_id.empty() ? "evt_" + random_hex(20) : webhook.event_id;
  if (event_id) *event_id = id;
  std::string body = webhook.body ? *webhook.body : event_json(id, webhook.type, webhook.intent_id).dump();
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  std::string timestamp = std::to_string(now_s.count() + webhook.timestamp_offset_s);
  Headers headers{{"gateway-timestamp", timestamp}};
  if (webhook.sign)
    headers.emplace_back("gateway-signature",
                         "v1=" + signature(webhook.secret.value_or(options_.webhook_secret), timestamp, body));
  HttpClient client(host, port);
  return client.request("POST", "/v1/plugins/card-gateway/channels/" + channel_id + "/webhook", body, headers);
}

}  // namespace quanqu::e2e
