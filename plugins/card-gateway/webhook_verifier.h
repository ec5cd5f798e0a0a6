// Checks of the card gateway's webhook headers: the timestamp, its freshness and the HMAC signature.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace card_gateway {

// How far a webhook's timestamp may be from the host's clock, either way.
inline constexpr std::int64_t kWebhookToleranceSeconds = 300;

// The Unix seconds of a gateway-timestamp header: 1 to 18 ASCII digits and nothing else (no sign,
// no space, no fraction), so that it cannot overflow; nothing when it is anything else.
inline std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t seconds = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return seconds;
}

// True when `timestamp_s` is at most kWebhookToleranceSeconds before or after `now_ms`.
inline bool is_fresh(std::int64_t timestamp_s, std::int64_t now_ms) {
  std::int64_t now_s = now_ms / 1000;
  std::int64_t skew = now_s - timestamp_s;
  return skew <= kWebhookToleranceSeconds && skew >= -kWebhookToleranceSeconds;
}

// Compares in time that depends only on the lengths (which are public: 64 hex digits), never on
// where the first difference is.
inline bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  return diff == 0;
}

// The message the gateway signs: the timestamp header as sent, a dot, and the raw body.
inline std::string signed_payload(std::string_view timestamp, std::string_view body) {
  std::string payload;
  payload.reserve(timestamp.size() + 1 + body.size());
  payload.append(timestamp).append(".").append(body);
  return payload;
}

// True when the gateway-signature header carries `expected_hex` (lower-case hex) as one of its
// comma-separated "v1=<hex>" entries (several during a secret rotation). Hex digits may be upper case.
inline bool signature_matches(std::string_view header, std::string_view expected_hex) {
  bool matched = false;
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view entry = header.substr(start, end - start);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.substr(0, 3) == "v1=") {
      std::string given(entry.substr(3));
      for (char& c : given)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
      // Every entry is compared, so the time taken does not tell which one matched.
      matched = constant_time_equal(given, expected_hex) || matched;
    }
    start = end + 1;
  }
  return matched;
}

}  // namespace card_gateway
