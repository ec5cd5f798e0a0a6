// Pickup codes: six random digits, stored hashed for the desk and sealed for the order's owner.
#pragma once

#include "common/ids.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace quanqu::orders {

constexpr int kPickupCodeDigits = 6;
// Wrong codes an order takes before it is locked for pickup until an admin unlocks it.
constexpr int kMaxPickupAttempts = 5;

// Six decimal digits from the CSPRNG ("004217"); never logged.
std::string new_pickup_code();
// Whether `code` is six ASCII digits.
bool looks_like_pickup_code(std::string_view code);
// What is stored to check a code at the desk: SHA-256 (hex) of "<order id>:<code>". Compare it
// with constant_time_equal.
std::string pickup_code_hash(const OrderId& order, std::string_view code);
// The code sealed for the order's owner: (code + pad) mod 10^6, where the pad is drawn from
// HMAC-SHA256 keyed with the order's access token (the order keeps only its hash): the holder
// of the token opens it with unseal_pickup_code(). (Checkout's idempotency record keeps the token
// for replays, so a full copy of the database can open it too; see README.)
std::int64_t seal_pickup_code(std::string_view code, std::string_view access_token, const OrderId& order);
std::string unseal_pickup_code(std::int64_t sealed, std::string_view access_token, const OrderId& order);

}  // namespace quanqu::orders
