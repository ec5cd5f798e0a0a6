// A fake card gateway on 127.0.0.1 for end-to-end tests: the payment-intents API card-gateway calls, and signed webhooks.
#pragma once

#include "support/http_client.h"
#include "support/loopback_server.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quanqu::e2e {

// Speaks the protocol of plugins/card-gateway (see its README), every request answered from
// memory on a background thread:
//   POST /v1/payment_intents                 201 a new intent, status "requires_confirmation";
//                                            the same Idempotency-Key gives back the same intent
//   GET  /v1/payment_intents/{id}            200 the intent (404 when unknown)
//   POST /v1/payment_intents/{id}/capture    200 {"status": "capture_pending"} for an authorized
//                                            intent (409 otherwise); settling is the webhook's job
//   POST /v1/payment_intents/{id}/cancel     200 the intent, now "canceled"
//   POST /v1/payment_intents/{id}/refunds    201 a refund {"id": "re_...", "status", "amount", ...}
//                                            of an intent whose capture was asked for (409
//                                            otherwise; 400 above what is left); the same
//                                            Idempotency-Key gives back the same refund
// Every request must carry "Authorization: Bearer <api_key>" (401 otherwise). Refusals are
// {"error": {"message": ...}}. Each request is recorded before it is answered.
class FakeGateway {
 public:
  struct Options {
    std::string api_key = "sk_test_fake_gateway_key";
    std::string webhook_secret = "whsec_fake_gateway_signing_secret";
    std::string refund_status = "succeeded";  // what a new refund reports: succeeded, pending, failed
  };

  // One intent as the gateway holds it.
  struct Intent {
    std::string id;
    std::string status;  // requires_confirmation, authorized, declined, canceled
    std::string client_secret;
    std::string idempotency_key;
    nlohmann::json request;  // the creating request's body (amount, currency, reference, metadata)
    bool capture_requested = false;
    std::string decline_message;
    std::vector<nlohmann::json> refunds;  // the refunds made, oldest first

    nlohmann::json to_json() const;
  };

  // One request as it arrived.
  using Received = ReceivedRequest;

  // A webhook to send. Every knob defaults to a valid, fresh delivery.
  struct Webhook {
    std::string intent_id{};
    std::string type = "payment_intent.captured";
    std::string event_id{};                // "" -> a fresh "evt_..." id
    std::optional<std::string> secret{};   // signs with this instead of the gateway's secret
    std::int64_t timestamp_offset_s = 0;   // added to the current Unix time
    std::optional<std::string> body{};     // sent (and signed) verbatim instead of the event
    bool sign = true;                      // false: no gateway-signature header at all
  };

  // Listens on 127.0.0.1, port 0; throws std::runtime_error when it cannot.
  FakeGateway();
  explicit FakeGateway(Options options);
  ~FakeGateway();
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  // "http://127.0.0.1:<port>": the channel's base_url.
  std::string base_url() const;
  unsigned short port() const;
  const Options& options() const { return options_; }

  // Closes the listener and stops the thread; later connections are refused. Idempotent.
  void stop();

  // Test controls. Each returns false when no such intent exists.
  bool confirm(const std::string& intent_id);  // the shopper completed the card step: "authorized"
  bool decline(const std::string& intent_id, const std::string& message = "Your card was declined.");
  // What refunds made from now on report: succeeded (the default), pending or failed.
  void set_refund_status(const std::string& status);

  std::optional<Intent> intent(const std::string& id) const;
  std::vector<Intent> intents() const;
  std::vector<Received> requests() const;

  // HMAC-SHA256(secret, timestamp + "." + body) in lower-case hex.
  static std::string signature(const std::string& secret, const std::string& timestamp, const std::string& body);

  // The event body a webhook sends when Webhook::body is not given:
  // {"id", "type", "data": {"intent_id", "amount", "currency"}} (amount and currency when known).
  nlohmann::json event_json(const std::string& event_id, const std::string& type, const std::string& intent_id) const;

  // POSTs the webhook to http://<host>:<port>/v1/plugins/card-gateway/channels/<channel_id>/webhook,
  // with gateway-timestamp and gateway-signature: v1=<hex>, and returns the server's reply. The
  // event id used is stored in *event_id when given.
  HttpResponse send_webhook(const std::string& host, unsigned short port, const std::string& channel_id,
                            const Webhook& webhook, std::string* event_id = nullptr) const;

 private:
  struct Impl;
  Options options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quanqu::e2e
