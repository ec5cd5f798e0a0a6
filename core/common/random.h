// Cryptographically secure random tokens and hashing of secrets (OpenSSL).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace quanqu {

// `bytes` random bytes from OpenSSL's CSPRNG, as lower-case hex.
std::string random_hex(std::size_t bytes);

// SHA-256 of `data`, as lower-case hex. Used to store API keys and tokens hashed.
std::string sha256_hex(std::string_view data);

// HMAC-SHA256 of `data` keyed with `key`, as lower-case hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Constant-time comparison of two strings of equal length.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace quanqu
