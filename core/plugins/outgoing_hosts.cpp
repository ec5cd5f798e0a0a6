// Parsing declared outgoing hosts and matching outgoing URLs against them.
#include "plugins/outgoing_hosts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace quanqu::plugins {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// A DNS name of labels [a-z0-9-] (1..63, not starting or ending with '-'), at most 253 characters.
bool dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool ipv4_literal(const std::string& s) {
  in_addr a{};
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool ipv6_literal(const std::string& s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || s.size() > 5 || ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Splits "host", "host:port", "[v6]" or "[v6]:port" into a lower-case host and its port text.
bool split_authority(std::string_view authority, std::string& host, std::string_view& port, bool& bracketed) {
  bracketed = !authority.empty() && authority.front() == '[';
  if (bracketed) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host.assign(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? std::string_view() : rest.substr(1);
    if (!rest.empty() && port.empty()) return false;
  } else {
    auto colon = authority.find(':');
    host.assign(authority.substr(0, colon));
    port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
    if (colon != std::string_view::npos && port.empty()) return false;
  }
  std::transform(host.begin(), host.end(), host.begin(), lower);
  return true;
}

}  // namespace

std::string OutgoingHost::text() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += ":" + std::to_string(*port);
  return out;
}

std::optional<OutgoingHost> parse_outgoing_host(std::string_view text, std::string* why) {
  auto refuse = [&](const char* reason) -> std::optional<OutgoingHost> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (text.empty() || text.size() > 300) return refuse("must be a host name or address, with an optional :port");
  if (text.find("://") != std::string_view::npos || text.find_first_of("/@?#*") != std::string_view::npos)
    return refuse("must be a bare host or host:port (no scheme, path, user or wildcard)");
  OutgoingHost out;
  std::string_view port;
  bool bracketed = false;
  if (!split_authority(text, out.host, port, bracketed)) return refuse("must be host, host:port, [ipv6] or [ipv6]:port");
  if (!port.empty()) {
    out.port = parse_port(port);
    if (!out.port) return refuse("has a port that is not 1 to 65535");
  }
  bool ok = bracketed ? ipv6_literal(out.host) : (ipv4_literal(out.host) || dns_name(out.host));
  if (!ok) return refuse(bracketed ? "is not an IPv6 address" : "is not a host name or IPv4 address");
  return out;
}

bool outgoing_url_allowed(const std::vector<OutgoingHost>& hosts, std::string_view url) {
  std::uint16_t default_port = 0;
  std::string_view rest;
  auto scheme_is = [&](std::string_view scheme) {
    if (url.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (lower(url[i]) != scheme[i]) return false;
    return true;
  };
  if (scheme_is("https://")) {
    default_port = 443;
    rest = url.substr(8);
  } else if (scheme_is("http://")) {
    default_port = 80;
    rest = url.substr(7);
  } else {
    return false;
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return false;
  std::string host;
  std::string_view port_text;
  bool bracketed = false;
  if (!split_authority(authority, host, port_text, bracketed) || host.empty()) return false;
  std::uint16_t port = default_port;
  if (!port_text.empty()) {
    auto p = parse_port(port_text);
    if (!p) return false;
    port = *p;
  }
  return std::any_of(hosts.begin(), hosts.end(),
                     [&](const OutgoingHost& h) { return h.host == host && (!h.port || *h.port == port); });
}

}  // namespace quanqu::plugins
