// Pickup code generation, hashing and sealing.
#include "orders/pickup_code.h"
#include "common/random.h"

#include <cstdio>

namespace quanqu::orders {
namespace {

constexpr std::int64_t kModulus = 1'000'000;

// 64 bits of the HMAC modulo 10^6: the bias is below 10^-13.
std::int64_t pad(std::string_view access_token, const OrderId& order) {
  std::string mac = hmac_sha256_hex(access_token, "quanqu pickup code\n" + order.value);
  return static_cast<std::int64_t>(std::stoull(mac.substr(0, 16), nullptr, 16) % kModulus);
}

std::string six_digits(std::int64_t n) {
  char out[8];
  std::snprintf(out, sizeof out, "%06lld", static_cast<long long>(n));
  return out;
}

}  // namespace

std::string new_pickup_code() {
  return six_digits(static_cast<std::int64_t>(std::stoull(random_hex(8), nullptr, 16) % kModulus));
}

bool looks_like_pickup_code(std::string_view code) {
  if (code.size() != static_cast<std::size_t>(kPickupCodeDigits)) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string pickup_code_hash(const OrderId& order, std::string_view code) {
  return sha256_hex(order.value + ":" + std::string(code));
}

std::int64_t seal_pickup_code(std::string_view code, std::string_view access_token, const OrderId& order) {
  return (std::stoll(std::string(code)) + pad(access_token, order)) % kModulus;
}

std::string unseal_pickup_code(std::int64_t sealed, std::string_view access_token, const OrderId& order) {
  return six_digits(((sealed - pad(access_token, order)) % kModulus + kModulus) % kModulus);
}

}  // namespace quanqu::orders
