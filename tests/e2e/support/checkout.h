// One checkout as a racing caller sees it, for end-to-end tests that check out many carts at once.
#pragma once

#include "support/http_client.h"

#include <string>

namespace quanqu::e2e {

// What one checkout call got back.
struct CheckoutOutcome {
  unsigned status = 0;
  std::string code;  // problem code, if any
  std::string order_id;
  std::string token;     // the order's access_token (201 only)
  std::string replayed;  // the Idempotent-Replayed header
  std::string content_type;
  std::string error;  // transport error (then status is 0)
};

// POST /v1/store/carts/<cart_id>/checkout with Idempotency-Key: `key`. Never throws: a transport
// failure is recorded in `error`, so that it can run on many threads at once.
CheckoutOutcome checkout_once(HttpClient& client, const std::string& cart_id, const std::string& key);

}  // namespace quanqu::e2e
