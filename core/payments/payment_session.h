// Payment sessions: one attempt to pay for a cart with one provider, from initiation to capture.
#pragma once

#include "common/ids.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace quanqu::payments {

using PaymentSessionId = Id<struct PaymentSessionTag>;

struct PaymentSession {
  PaymentSessionId id;
  CartId cart_id;
  ChannelId channel_id;
  std::string provider;
  std::int64_t amount = 0;  // minor units: the cart's total when the session started
  std::string currency;
  // pending (waiting for the shopper or the provider), authorized (money held), captured,
  // cancelled, declined, failed (the provider broke while starting it).
  std::string status;
  std::string reference;  // the provider's own id for it (e.g. a gateway's payment intent)
  nlohmann::json data = nlohmann::json::object();  // what the storefront needs (client secret, instructions)
  std::optional<OrderId> order_id;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;

  // The session as providers receive it (and as the API shows it).
  nlohmann::json to_json() const;
};

}  // namespace quanqu::payments
