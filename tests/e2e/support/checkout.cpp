// checkout_once: one checkout call reduced to what concurrency tests compare.
#include "support/checkout.h"

#include <nlohmann/json.hpp>

#include <exception>

namespace quanqu::e2e {

CheckoutOutcome checkout_once(HttpClient& client, const std::string& cart_id, const std::string& key) {
  CheckoutOutcome o;
  try {
    auto r = client.request("POST", "/v1/store/carts/" + cart_id + "/checkout", std::string("{}"),
                            {{"Idempotency-Key", key}});
    o.status = r.status;
    o.content_type = r.header("Content-Type");
    o.replayed = r.header("Idempotent-Replayed");
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object()) {
      o.code = j.value("code", "");
      if (r.status == 201) {
        o.order_id = j.value("id", "");
        o.token = j.value("access_token", "");
      }
    }
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

}  // namespace quanqu::e2e
