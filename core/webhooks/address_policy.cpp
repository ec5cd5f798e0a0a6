// Webhook URL parsing and the address ranges a webhook may not reach unless allow-listed.
#include "webhooks/address_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

namespace quanqu::webhooks {

namespace {

using Bytes = std::array<std::uint8_t, 16>;

// Any address as 16 bytes: IPv4 becomes IPv4-mapped IPv6 (::ffff:a.b.c.d).
std::optional<Bytes> to_bytes(std::string_view text) {
  std::string s(text);
  Bytes out{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool in_block(const Bytes& a, const Bytes& prefix, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (prefix[i] & mask)) return false;
  }
  return true;
}

bool v4_public(const std::uint8_t* b) {
  auto in = [&](int a0, int a1, int bits) {
    std::uint32_t addr = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    std::uint32_t net = (std::uint32_t(a0) << 24) | (std::uint32_t(a1) << 16);
    std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t(0) << (32 - bits);
    return (addr & mask) == (net & mask);
  };
  auto in3 = [&](int a0, int a1, int a2, int bits) {
    std::uint32_t addr = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    std::uint32_t net = (std::uint32_t(a0) << 24) | (std::uint32_t(a1) << 16) | (std::uint32_t(a2) << 8);
    std::uint32_t mask = ~std::uint32_t(0) << (32 - bits);
    return (addr & mask) == (net & mask);
  };
  return !(in(0, 0, 8) || in(10, 0, 8) || in(100, 64, 10) || in(127, 0, 8) || in(169, 254, 16) ||
           in(172, 16, 12) || in3(192, 0, 0, 24) || in3(192, 0, 2, 24) || in(192, 168, 16) || in(198, 18, 15) ||
           in3(198, 51, 100, 24) || in3(203, 0, 113, 24) || in(224, 0, 4) || in(240, 0, 4));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error bad_url(std::string message) { return Error::invalid("validation_failed", "the request has invalid fields", {{"url", std::move(message)}}); }

}  // namespace

Result<WebhookUrl> parse_webhook_url(std::string_view url) {
  if (url.size() > 2048) return bad_url("must be at most 2048 bytes");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return bad_url("must not contain spaces, control or non-ASCII characters (percent-encode them)");
  WebhookUrl out;
  std::string_view rest;
  std::string l = lower(url.substr(0, 8));
  if (l.rfind("https://", 0) == 0) {
    out.scheme = "https";
    rest = url.substr(8);
  } else if (l.rfind("http://", 0) == 0) {
    out.scheme = "http";
    rest = url.substr(7);
  } else {
    return bad_url("must be an absolute http:// or https:// URL");
  }
  if (rest.find('#') != std::string_view::npos) return bad_url("must not have a fragment (#...)");
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) return bad_url("must not contain user info (user@)");
  std::string_view host = authority, port;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return bad_url("has an IPv6 address without its closing ']'");
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return bad_url("has unexpected characters after the IPv6 address");
      port = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
    if (!to_bytes(host) || host.find(':') == std::string_view::npos)
      return bad_url("has a host in brackets that is not an IPv6 address");
    out.ip_literal = true;
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (port.empty()) return bad_url("has an empty port");
  }
  if (host.empty()) return bad_url("has no host");
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)
      return bad_url("has a port that is not a number from 1 to 65535");
  }
  if (!out.ip_literal) {
    bool name_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
    if (!name_chars || host.size() > 253) return bad_url("has a host that is not a valid host name or IP address");
    bool dotted = std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (dotted) {
      if (!to_bytes(host)) return bad_url("has a host that is not a valid IPv4 address");
      out.ip_literal = true;
    }
  }
  out.host = lower(host);
  return out;
}

bool AddressPolicy::is_public(std::string_view ip) {
  auto b = to_bytes(ip);
  if (!b) return false;
  const Bytes& a = *b;
  static const Bytes mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const Bytes nat64{0, 0x64, 0xff, 0x9b};
  static const Bytes zero{};
  if (in_block(a, mapped, 96) || in_block(a, nat64, 96)) return v4_public(a.data() + 12);
  if (in_block(a, zero, 96)) {  // ::, ::1 and IPv4-compatible ::a.b.c.d
    if (a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1) return false;
    return v4_public(a.data() + 12);
  }
  static const Bytes ula{0xfc}, link{0xfe, 0x80}, multicast{0xff}, doc{0x20, 0x01, 0x0d, 0xb8};
  return !(in_block(a, ula, 7) || in_block(a, link, 10) || in_block(a, multicast, 8) || in_block(a, doc, 32));
}

Result<AddressPolicy> AddressPolicy::parse(const std::vector<std::string>& entries) {
  AddressPolicy p;
  for (const auto& raw : entries) {
    std::string e = lower(raw);
    if (e.empty()) continue;
    auto bad = [&] {
      return Error::invalid("config.bad_allow_host",
                            "'" + raw + "' is not an IP address, a CIDR block (10.0.0.0/8) or a host name");
    };
    auto slash = e.find('/');
    std::string addr = e.substr(0, slash);
    if (auto bytes = to_bytes(addr)) {
      bool v4 = addr.find(':') == std::string::npos;
      int bits = v4 ? 32 : 128;
      if (slash != std::string::npos) {
        std::string n = e.substr(slash + 1);
        if (n.empty() || n.size() > 3 || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return bad();
        bits = std::stoi(n);
        if (bits > (v4 ? 32 : 128)) return bad();
      }
      p.blocks_.push_back({*bytes, v4 ? bits + 96 : bits});
      continue;
    }
    if (slash != std::string::npos) return bad();
    auto url = parse_webhook_url("http://" + e + "/");
    if (!url || url->ip_literal) return bad();
    p.names_.push_back(url->host);
  }
  return p;
}

bool AddressPolicy::allows(std::string_view host, std::string_view ip) const {
  if (std::find(names_.begin(), names_.end(), lower(host)) != names_.end()) return to_bytes(ip).has_value();
  auto b = to_bytes(ip);
  if (!b) return false;
  for (const auto& block : blocks_)
    if (in_block(*b, block.prefix, block.bits)) return true;
  return is_public(ip);
}

std::string AddressPolicy::refuse_host(const WebhookUrl& url) const {
  const std::string why =
      " is a private, loopback or reserved address; webhooks go to public addresses only "
      "(an operator can allow it with --webhook-allow-hosts)";
  if (url.ip_literal) return allows(url.host, url.host) ? "" : "'" + url.host + "'" + why;
  if (std::find(names_.begin(), names_.end(), url.host) != names_.end()) return "";
  if (url.host == "localhost" || (url.host.size() > 10 && url.host.ends_with(".localhost")))
    return "'" + url.host + "' names the server itself; webhooks go to public addresses only "
           "(an operator can allow it with --webhook-allow-hosts)";
  return "";
}

}  // namespace quanqu::webhooks
