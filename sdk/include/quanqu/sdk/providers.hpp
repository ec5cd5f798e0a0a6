// The extension points a plugin implements: payment and fulfilment providers, channel adapters, size advisors.
#pragma once

/*
 * Header-only C++ over the provider part of quanqu/sdk/abi.h. A plugin derives from one of the
 * classes below, keeps the object as a member, and registers it in start():
 *
 *   class Cash : public quanqu::sdk::PaymentProvider {
 *     PaymentOutcome initiate(const PaymentSession&, const Json&) override { return PaymentOutcome::authorized(); }
 *     PaymentOutcome authorize(const PaymentSession&, const Json&) override { return PaymentOutcome::authorized(); }
 *     PaymentOutcome capture(const PaymentSession&, const Json&) override { return PaymentOutcome::captured(); }
 *   };
 *   ...  host.provide(cash_, "cash");
 *
 * Every method may throw. sdk::Refusal is a business "no" (a declined card, an address out of
 * range): the shopper gets a 422 with its code. Any other exception means the provider is broken:
 * the shopper gets a 502 "plugin_error" and the failure is counted against the plugin.
 *
 * The JSON each operation receives and returns is documented in docs/sdk.md ("Providers").
 */

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace quanqu::sdk {

// The SDK's JSON type (nlohmann/json). Only text crosses the C boundary, so a plugin's JSON
// library version never has to match the server's.
using Json = nlohmann::json;

// A business refusal from a provider: `code` is stable and starts with the plugin's name
// ("local-delivery.out_of_range"); the message is shown to the shopper.
class Refusal : public std::runtime_error {
 public:
  Refusal(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

namespace detail {
// A string field, or "" when it is absent, null or not a string (the host sends null for "none").
inline std::string text_of(const Json& j, const char* key) {
  if (!j.is_object()) return std::string();
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
// An integer field, or 0.
inline std::int64_t integer_of(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}
// An object field, or {}.
inline Json object_of(const Json& j, const char* key) {
  if (!j.is_object()) return Json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : Json::object();
}
}  // namespace detail

// The channel a provider works for, as the host describes it.
struct ChannelInfo {
  std::string id;
  std::string code;
  std::string type;
  std::string currency;

  static ChannelInfo from_json(const Json& j) {
    return ChannelInfo{detail::text_of(j, "id"), detail::text_of(j, "code"), detail::text_of(j, "type"), detail::text_of(j, "currency")};
  }
};

// Implementation detail shared by every provider kind: the host calls invoke() with an operation.
class ProviderBase {
 public:
  virtual ~ProviderBase() = default;
  // The reply to `operation`, or nothing when the operation is unknown to this provider.
  virtual std::optional<Json> invoke(const std::string& operation, const Json& input) = 0;
};

// ---- Payments ----

// A payment session: one attempt to pay for a cart, started by the storefront through
// POST /v1/store/carts/{id}/payment-sessions.
struct PaymentSession {
  std::string id;  // "pay_..."
  std::string provider;
  std::string channel_id;
  std::string cart_id;
  std::string order_id;  // empty until checkout has created the order
  std::int64_t amount = 0;  // minor units
  std::string currency;
  std::string status;     // pending, authorized, captured, cancelled
  std::string reference;  // what the provider returned from initiate (e.g. the gateway's intent id)
  Json data = Json::object();

  static PaymentSession from_json(const Json& j) {
    PaymentSession s;
    s.id = detail::text_of(j, "id");
    s.provider = detail::text_of(j, "provider");
    s.channel_id = detail::text_of(j, "channel_id");
    s.cart_id = detail::text_of(j, "cart_id");
    s.order_id = detail::text_of(j, "order_id");
    Json amount = detail::object_of(j, "amount");
    s.amount = detail::integer_of(amount, "amount");
    s.currency = detail::text_of(amount, "currency");
    s.status = detail::text_of(j, "status");
    s.reference = detail::text_of(j, "reference");
    s.data = detail::object_of(j, "data");
    return s;
  }
};

// What a payment operation reports: the session's new status, the provider's reference for it,
// and data for the storefront (a client secret, a redirect URL; never a secret of the merchant).
struct PaymentOutcome {
  std::string status;  // pending, authorized, captured, cancelled
  std::string reference;
  Json data = Json::object();

  static PaymentOutcome pending(std::string reference = "", Json data = Json::object()) {
    return {"pending", std::move(reference), std::move(data)};
  }
  static PaymentOutcome authorized(std::string reference = "", Json data = Json::object()) {
    return {"authorized", std::move(reference), std::move(data)};
  }
  static PaymentOutcome captured(std::string reference = "") { return {"captured", std::move(reference), Json::object()}; }
  static PaymentOutcome cancelled() { return {"cancelled", "", Json::object()}; }

  Json to_json() const {
    Json j{{"status", status}, {"data", data}};
    if (!reference.empty()) j["reference"] = reference;
    return j;
  }
};

// A refund the host asks for: money of a captured session given back. `id` is stable across
// retries of the same refund: pass it to the gateway as its idempotency key, so that asking twice
// (the host asks again when a first call timed out) never refunds twice.
struct RefundRequest {
  std::string id;  // "ref_...": also the idempotency key
  std::int64_t amount = 0;  // minor units, at most what is left to refund
  std::string currency;
  std::string reason;
  std::string order_id;

  static RefundRequest from_json(const Json& j) {
    RefundRequest r;
    Json refund = detail::object_of(j, "refund");
    r.id = detail::text_of(refund, "id");
    Json amount = detail::object_of(refund, "amount");
    r.amount = detail::integer_of(amount, "amount");
    r.currency = detail::text_of(amount, "currency");
    r.reason = detail::text_of(refund, "reason");
    r.order_id = detail::text_of(refund, "order_id");
    return r;
  }
};

// What a refund reports: succeeded (the money is on its way back), pending (the provider confirms
// later; the refund stays pending and is asked about again with the same id), failed (with a
// message; nothing was refunded) or unsupported (this provider cannot refund). `reference` is the
// provider's id for the refund. Throwing Refusal is a failed refund with the refusal's code.
struct RefundOutcome {
  std::string status;  // succeeded, pending, failed, unsupported
  std::string reference;
  std::string message;

  static RefundOutcome succeeded(std::string reference = "") { return {"succeeded", std::move(reference), ""}; }
  static RefundOutcome pending(std::string reference = "") { return {"pending", std::move(reference), ""}; }
  static RefundOutcome failed(std::string message) { return {"failed", "", std::move(message)}; }
  static RefundOutcome unsupported() { return {"unsupported", "", ""}; }

  Json to_json() const {
    Json j{{"status", status}};
    if (!reference.empty()) j["reference"] = reference;
    if (!message.empty()) j["message"] = message;
    return j;
  }
};

// A payment method offered on the channels that list it. `config` is the channel's config for
// the plugin (its manifest's config_schema).
class PaymentProvider : public ProviderBase {
 public:
  // A new session: set up what the payment needs (e.g. an intent at a gateway). Usually pending.
  virtual PaymentOutcome initiate(const PaymentSession& session, const Json& config) = 0;
  // At checkout: is the money held? Return authorized to let the order be created, pending to
  // make the shopper wait, or throw Refusal when it was declined.
  virtual PaymentOutcome authorize(const PaymentSession& session, const Json& config) = 0;
  // The merchant marks the order paid: take the money. captured marks the order paid now;
  // pending means the provider confirms later (a webhook calling "payments.captured").
  virtual PaymentOutcome capture(const PaymentSession& session, const Json& config) = 0;
  // The order was cancelled: release the hold. The default has nothing to release.
  virtual PaymentOutcome cancel(const PaymentSession&, const Json&) { return PaymentOutcome::cancelled(); }
  // Give money of the captured `session` back (a refund, or a paid order cancelled). The default
  // cannot refund: the merchant is told so (409 payment.refund_unsupported).
  virtual RefundOutcome refund(const PaymentSession&, const RefundRequest&, const Json&) {
    return RefundOutcome::unsupported();
  }

  std::optional<Json> invoke(const std::string& operation, const Json& input) override {
    PaymentSession session = PaymentSession::from_json(detail::object_of(input, "session"));
    Json config = detail::object_of(input, "config");
    if (operation == "initiate") return initiate(session, config).to_json();
    if (operation == "authorize") return authorize(session, config).to_json();
    if (operation == "capture") return capture(session, config).to_json();
    if (operation == "cancel") return cancel(session, config).to_json();
    if (operation == "refund") return refund(session, RefundRequest::from_json(input), config).to_json();
    return std::nullopt;
  }
};

// ---- Fulfilment ----

// What a delivery would cost, as a fulfilment provider quotes it.
struct ShippingQuote {
  std::int64_t amount = 0;  // minor units, in the cart's currency
  std::string label;        // shown to the shopper: "Local delivery, 4.2 km"
  Json data = Json::object();

  Json to_json() const { return Json{{"amount", amount}, {"label", label}, {"data", data}}; }
};

// What a quote is asked for: the cart, the location it would ship from and where to.
struct QuoteRequest {
  ChannelInfo channel;
  std::string cart_id;
  std::string currency;
  std::int64_t subtotal = 0;  // the cart's merchandise total, minor units
  std::int64_t item_count = 0;
  Json location;          // the fulfilling stock location: id, code, name, address (with latitude/longitude)
  Json shipping_address;  // the cart's shipping address (latitude/longitude when known)

  static QuoteRequest from_json(const Json& j) {
    QuoteRequest q;
    q.channel = ChannelInfo::from_json(detail::object_of(j, "channel"));
    Json cart = detail::object_of(j, "cart");
    q.cart_id = detail::text_of(cart, "id");
    q.currency = detail::text_of(cart, "currency");
    q.subtotal = detail::integer_of(cart, "subtotal");
    q.item_count = detail::integer_of(cart, "item_count");
    q.location = detail::object_of(j, "location");
    q.shipping_address = detail::object_of(j, "shipping_address");
    return q;
  }
};

// A way to get the goods to the shopper (delivery, pickup, a carrier). Throw Refusal when the
// cart cannot be served (e.g. out of range).
class FulfilmentProvider : public ProviderBase {
 public:
  virtual ShippingQuote quote(const QuoteRequest& request, const Json& config) = 0;

  std::optional<Json> invoke(const std::string& operation, const Json& input) override {
    if (operation == "quote")
      return quote(QuoteRequest::from_json(input), detail::object_of(input, "config")).to_json();
    return std::nullopt;
  }
};

// ---- Channels ----

// The plugin that runs a channel (a mini-program, a marketplace): told whenever a merchant
// creates or reconfigures a channel that uses it, and once per such channel at start.
class ChannelAdapter : public ProviderBase {
 public:
  // `config` has already been validated against the manifest's config_schema. Throwing refuses
  // nothing (the config is stored) but is logged and counted against the plugin.
  virtual void configure(const ChannelInfo& channel, const Json& config) = 0;

  std::optional<Json> invoke(const std::string& operation, const Json& input) override {
    if (operation == "configure") {
      configure(ChannelInfo::from_json(detail::object_of(input, "channel")), detail::object_of(input, "config"));
      return Json::object();
    }
    return std::nullopt;
  }
};

// ---- Try-on ----

// Recommends a size from a shopper's measurements (used by the try-on channel).
class SizeAdvisor : public ProviderBase {
 public:
  // `request`: {"product_id", "variants": [...], "measurements": {"foot_length_mm": 265, ...}};
  // reply: {"variant_id", "size", "confidence", "explanation"}.
  virtual Json advise(const Json& request) = 0;

  std::optional<Json> invoke(const std::string& operation, const Json& input) override {
    if (operation == "advise") return advise(input);
    return std::nullopt;
  }
};

}  // namespace quanqu::sdk
