// Receiving signed webhooks in a plugin: HMAC-SHA256 of "<timestamp>.<body>" through the host, freshness, replays.
#pragma once

/*
 * Header-only, on top of quanqu/sdk/plugin.hpp: the MAC is computed by the server
 * (Host::hmac_sha256_hex), so the plugin links no crypto library. The scheme is the one the
 * server's own webhooks use and most gateways follow:
 *
 *   signature = hex(HMAC-SHA256(secret, timestamp + "." + raw body))
 *
 * with the timestamp in Unix seconds and the signature sent as "v1=<hex>", several of them
 * separated by commas while the sender rotates its secret. Two header layouts are read:
 *
 *   one header:   Webhook-Signature: t=1767225600,v1=<hex>,v1=<hex>
 *   two headers:  Gateway-Timestamp: 1767225600      Gateway-Signature: v1=<hex>,v1=<hex>
 *
 * A route handler:
 *
 *   namespace webhooks = quanqu::sdk::webhooks;
 *   webhooks::Verifier verifier(host, secret);                 // tolerance 300 s either way
 *   webhooks::Verdict v = verifier.verify(request.header("webhook-signature").value_or(""), request.body);
 *   if (v != webhooks::Verdict::ok) return webhooks::refusal(v, "my-plugin");
 *   webhooks::ReplayGuard seen(host);                          // "webhook:seen:<id>" for 10 minutes
 *   if (!seen.claim(event_id)) return webhooks::refusal(webhooks::Verdict::replayed, "my-plugin");
 *
 * Every check is made before any effect, and signatures are compared in constant time (every
 * entry of the list is compared, so the time does not tell which one matched).
 */

#include "quanqu/sdk/plugin.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::sdk::webhooks {

// The outcome of a check, in the order they are made.
enum class Verdict {
  ok,
  malformed,      // no timestamp, a timestamp that is not Unix seconds, or no signature at all
  stale,          // the timestamp is further from the host's clock than the tolerance
  bad_signature,  // no signature of the scheme matches (none is there, or the secret is empty)
  replayed,       // ReplayGuard: this id was already claimed within its window
};

inline const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok:
      return "ok";
    case Verdict::malformed:
      return "malformed";
    case Verdict::stale:
      return "stale";
    case Verdict::bad_signature:
      return "bad_signature";
    case Verdict::replayed:
      return "replayed";
  }
  return "malformed";
}

// The reply for a refused webhook, as problem+json with the code "<code_prefix>.<reason>"
// (start code_prefix with the plugin's name): malformed 400 "bad_request", stale 401
// "stale_timestamp", bad_signature 401 "bad_signature", replayed 409 "replayed". A sender retries
// on none of them but its own network errors and 5xx.
inline Response refusal(Verdict v, std::string_view code_prefix) {
  std::string prefix(code_prefix);
  switch (v) {
    case Verdict::stale:
      return Response::problem(401, prefix + ".stale_timestamp",
                               "the webhook's timestamp is too far from the server's clock");
    case Verdict::bad_signature:
      return Response::problem(401, prefix + ".bad_signature", "the webhook's signature does not match");
    case Verdict::replayed:
      return Response::problem(409, prefix + ".replayed", "this webhook was already received");
    case Verdict::ok:
    case Verdict::malformed:
      break;
  }
  return Response::problem(400, prefix + ".bad_request", "the webhook's timestamp or signature header is malformed");
}

// Unix seconds: 1 to 18 ASCII digits and nothing else (no sign, space or fraction), so it cannot
// overflow; nothing for anything else.
inline std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t seconds = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return seconds;
}

// Equal, in a time that depends only on the lengths (public: 64 hex digits), never on where the
// first difference is.
inline bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  return diff == 0;
}

namespace detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(name, value) for each comma-separated "name=value" entry of `list`.
template <class Fn>
void for_each_entry(std::string_view list, Fn&& fn) {
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view entry = trim(list.substr(start, end - start));
    std::size_t eq = entry.find('=');
    if (eq != std::string_view::npos) fn(trim(entry.substr(0, eq)), trim(entry.substr(eq + 1)));
    start = end + 1;
  }
}

}  // namespace detail

// The "<scheme>=<hex>" entries of a signature list, hex digits in lower case; other entries
// ("v0=...", "t=...") are left out.
inline std::vector<std::string> signatures_of(std::string_view list, std::string_view scheme = "v1") {
  std::vector<std::string> out;
  detail::for_each_entry(list, [&](std::string_view name, std::string_view value) {
    if (name != scheme || value.empty()) return;
    std::string sig(value);
    for (char& c : sig)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(std::move(sig));
  });
  return out;
}

// A one-header signature, "t=<unix seconds>,v1=<hex>,v1=<hex>".
struct SignatureHeader {
  std::string timestamp;                // as sent: it is what was signed
  std::vector<std::string> signatures;  // the scheme's entries (signatures_of)
  bool signed_at_all = false;           // it has an entry besides t=, of this scheme or another
};

// Parses a one-header signature; nothing when it has no "t=" entry or more than one.
inline std::optional<SignatureHeader> parse_signature_header(std::string_view header, std::string_view scheme = "v1") {
  SignatureHeader out;
  int timestamps = 0;
  detail::for_each_entry(header, [&](std::string_view name, std::string_view value) {
    if (name == "t") {
      ++timestamps;
      out.timestamp = std::string(value);
    } else {
      out.signed_at_all = true;
    }
  });
  if (timestamps != 1) return std::nullopt;
  out.signatures = signatures_of(header, scheme);
  return out;
}

struct VerifierOptions {
  std::int64_t tolerance_s = 300;  // how far the timestamp may be from the host's clock, either way
  std::string scheme = "v1";       // the name of the signature entries
};

// Checks webhooks signed with one secret. Holds a reference to the Host (valid until stop):
// make one per request, or keep one per secret.
class Verifier {
 public:
  Verifier(const Host& host, std::string secret, VerifierOptions options = {})
      : host_(host), secret_(std::move(secret)), options_(std::move(options)) {}

  // A webhook with the timestamp and the signature list in two headers (pass "" for a header
  // that is absent).
  Verdict verify(std::string_view timestamp, std::string_view signature_list, std::string_view body) const {
    bool signed_at_all = !detail::trim(signature_list).empty();
    return check(timestamp, signed_at_all, signatures_of(signature_list, options_.scheme), body);
  }

  // A webhook with one header "t=...,v1=..." (pass "" when it is absent).
  Verdict verify(std::string_view signature_header, std::string_view body) const {
    auto parsed = parse_signature_header(signature_header, options_.scheme);
    if (!parsed) return Verdict::malformed;
    return check(parsed->timestamp, parsed->signed_at_all, parsed->signatures, body);
  }

  // What a sender signs with this secret: hex HMAC-SHA256 of timestamp + "." + body.
  std::string sign(std::string_view timestamp, std::string_view body) const {
    std::string payload;
    payload.reserve(timestamp.size() + 1 + body.size());
    payload.append(timestamp).append(".").append(body);
    return host_.hmac_sha256_hex(secret_, payload);
  }

 private:
  Verdict check(std::string_view timestamp, bool signed_at_all, const std::vector<std::string>& signatures,
                std::string_view body) const {
    std::optional<std::int64_t> seconds = parse_timestamp(timestamp);
    if (!seconds || !signed_at_all) return Verdict::malformed;
    std::int64_t skew = host_.now_ms() / 1000 - *seconds;
    if (skew > options_.tolerance_s || skew < -options_.tolerance_s) return Verdict::stale;
    if (secret_.empty() || signatures.empty()) return Verdict::bad_signature;  // never accept what anyone could sign
    std::string expected = sign(timestamp, body);
    bool matched = false;
    for (const auto& given : signatures) matched = constant_time_equal(given, expected) || matched;
    return matched ? Verdict::ok : Verdict::bad_signature;
  }

  const Host& host_;
  std::string secret_;
  VerifierOptions options_;
};

// Replay protection: remembers ids (an event id, a delivery id, a signature) in the plugin's
// key-value store under key_prefix + id, each for ttl_ms. Needs a server with SDK ABI 1.1
// (Host::kv_cas with a TTL). Keep ttl_ms above twice the Verifier's tolerance: a replay older than
// that is refused as stale anyway, so the marks need not outlive it.
class ReplayGuard {
 public:
  explicit ReplayGuard(const Host& host, std::string key_prefix = "webhook:seen:", std::int64_t ttl_ms = 600'000)
      : host_(host), prefix_(std::move(key_prefix)), ttl_ms_(ttl_ms) {}

  // True the first time `id` is claimed within the window, false for a replay. Atomic across
  // threads and server nodes (an insert-if-absent): of two deliveries racing, one wins. Throws
  // Error like Host::kv_cas (an id that makes the key longer than 256 bytes is INVALID).
  bool claim(std::string_view id) const { return host_.kv_cas(key(id), std::nullopt, "1", ttl_ms_); }

  // Forgets a claim, so that the sender's retry is processed: call it when handling the webhook
  // failed after claim() and nothing of it took effect.
  void release(std::string_view id) const { host_.kv_delete(key(id)); }

  std::string key(std::string_view id) const { return prefix_ + std::string(id); }

 private:
  const Host& host_;
  std::string prefix_;
  std::int64_t ttl_ms_;
};

}  // namespace quanqu::sdk::webhooks
