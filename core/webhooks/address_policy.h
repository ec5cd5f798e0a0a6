// Which addresses a webhook may be sent to: public ones, plus what the operator allow-listed (--webhook-allow-hosts).
#pragma once

#include "common/result.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::webhooks {

// A webhook URL taken apart. Only what the policy and the sender need.
struct WebhookUrl {
  std::string scheme;  // http or https
  std::string host;    // lower-case; an IPv6 literal without its brackets
  bool ip_literal = false;
};

// Parses an absolute http(s) URL of at most 2048 bytes: no user info, no fragment, no spaces or
// control characters, a host and an optional port 1..65535. Errors name the field "url".
Result<WebhookUrl> parse_webhook_url(std::string_view url);

// Refuses private, loopback, link-local, multicast and other non-public addresses (so that a
// merchant's webhook cannot reach the network the server sits in) unless the operator listed
// them. Immutable once built; safe to share between threads.
class AddressPolicy {
 public:
  // Refuses every non-public address.
  AddressPolicy() = default;
  // `entries`: IPv4 or IPv6 addresses ("127.0.0.1", "::1"), CIDR blocks ("10.0.0.0/8",
  // "fd00::/8") or host names ("localhost", allowing whatever that name resolves to). A bad
  // entry is an invalid_argument error naming it.
  static Result<AddressPolicy> parse(const std::vector<std::string>& entries);

  // Whether a URL whose host is `host` may be sent to the address `ip` (text, IPv4 or IPv6)
  // that host resolved to. A text that is not an address is refused.
  bool allows(std::string_view host, std::string_view ip) const;
  // At creation: "" when the URL's host may be used, or why not. An IP literal is checked as
  // above; "localhost" and names under ".localhost" are refused unless listed; other names are
  // checked when they are resolved, at each delivery attempt.
  std::string refuse_host(const WebhookUrl& url) const;

  // True for an address in no reserved range (RFC 6890 and friends): not 0/8, 10/8, 100.64/10,
  // 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24,
  // 203.0.113/24, 224/4, 240/4; not ::, ::1, fc00::/7, fe80::/10, ff00::/8, 2001:db8::/32,
  // and for IPv4-mapped (::ffff:0:0/96), IPv4-compatible and NAT64 (64:ff9b::/96) addresses the
  // embedded IPv4 address is checked.
  static bool is_public(std::string_view ip);

 private:
  struct Block {
    std::array<std::uint8_t, 16> prefix{};  // IPv4 as IPv4-mapped IPv6
    int bits = 0;                           // of the 128
  };
  std::vector<Block> blocks_;
  std::vector<std::string> names_;  // lower-case
};

}  // namespace quanqu::webhooks
