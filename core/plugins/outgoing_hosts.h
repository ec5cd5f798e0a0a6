// The hosts a plugin's manifest says it reaches ("network": {"outgoing": [...]}): parsing, and matching URLs and addresses against them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::plugins {

// The most entries "network.outgoing" may list.
inline constexpr std::size_t kMaxOutgoingHosts = 32;

// One declared host: a DNS name (lower case), an IPv4 literal or an IPv6 literal (without its
// brackets), and the one port it may be reached on, or any port.
struct OutgoingHost {
  std::string host;
  std::optional<std::uint16_t> port;

  // "api.example.com", "api.example.com:443", "[::1]:8080": what parse_outgoing_host() reads.
  std::string text() const;
  bool operator==(const OutgoingHost&) const = default;
};

// Reads "host" or "host:port" (IPv6 as "[addr]" or "[addr]:port"). Names are case-insensitive and
// kept lower case; no scheme, path, user or wildcard. nullopt with `why` set when it is none of these.
std::optional<OutgoingHost> parse_outgoing_host(std::string_view text, std::string* why = nullptr);

// Whether an absolute http:// or https:// URL names one of `hosts` (its port, when given, is the
// URL's port or the scheme's default). A URL that cannot be read is not allowed.
bool outgoing_url_allowed(const std::vector<OutgoingHost>& hosts, std::string_view url);

}  // namespace quanqu::plugins
