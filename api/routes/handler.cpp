// Authentication of store and admin requests, and the error-to-problem conversion of handlers.
#include "routes/handler.h"
#include "common/validation.h"

#include <array>
#include <optional>
#include <string_view>

namespace quanqu::api {
namespace {

http::Response finish(Services& services, const http::Request& request, Result<http::Response> result) {
  if (result.ok()) return std::move(result).value();
  const Error& e = result.error();
  if (e.kind == ErrorKind::internal && services.log)
    services.log->log(http::LogLevel::error, "internal error",
                      {{"code", e.code}, {"detail", e.message}, {"cause", e.cause},
                       {"request_id", request.request_id}, {"route", request.route}});
  return http::problem(e);
}

}  // namespace

std::optional<http::Response> refuse_duplicate_headers(const http::Request& request) {
  static constexpr std::array<std::string_view, 6> kSingle{"authorization",   "x-publishable-key", "x-order-token",
                                                           "idempotency-key", "x-customer-token",  "content-type"};
  std::array<int, kSingle.size()> seen{};
  for (const auto& [name, value] : request.headers)  // names are lower-cased by the server
    for (std::size_t i = 0; i < kSingle.size(); ++i)
      if (name == kSingle[i] && ++seen[i] == 2)
        return http::problem(Error::invalid("duplicate_header", "send the " + std::string(kSingle[i]) +
                                                                    " header once; it was repeated"));
  return std::nullopt;
}

std::optional<http::Response> refuse_malformed(const http::Request& request) {
  if (auto refused = refuse_duplicate_headers(request)) return refused;
  // NUL (%00) is valid UTF-8 but no database text can hold it.
  auto good = [](std::string_view s) { return is_valid_utf8(s) && s.find('\0') == std::string_view::npos; };
  bool ok = good(request.path);
  for (const auto& [k, v] : request.query) ok = ok && good(k) && good(v);
  if (ok) return std::nullopt;
  return http::problem(Error::invalid("malformed_request", "the path and query must be valid UTF-8 without NUL"));
}

http::Handler store_route(Services& services, StoreHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& request) -> http::Response {
    if (auto refused = refuse_malformed(request)) return *refused;
    auto key = request.header("x-publishable-key");
    if (!key || key->empty())
      return http::problem(Error::unauthenticated("auth.publishable_key_missing",
                                                  "send the channel's publishable key in X-Publishable-Key"));
    auto resolved = services.access.resolve_channel(std::string(*key));
    if (!resolved) return finish(services, request, resolved.error());
    const auto& channel_id = *resolved;
    if (!channel_id)
      return http::problem(Error::unauthenticated("auth.publishable_key_invalid",
                                                  "the publishable key is unknown or revoked"));
    auto channel = services.channels.get_cached(*channel_id);
    if (!channel) return finish(services, request, channel.error());
    return finish(services, request, handler(request, *channel));
  };
}

http::Handler admin_route(Services& services, AdminHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& request) -> http::Response {
    if (auto refused = refuse_malformed(request)) return *refused;
    auto auth = request.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    std::string secret;
    if (auth && auth->size() > kBearer.size() && auth->substr(0, kBearer.size()) == kBearer)
      secret = std::string(auth->substr(kBearer.size()));
    Result<bool> admin = secret.empty() ? Result<bool>(false) : services.access.check_admin(secret);
    if (!admin) return finish(services, request, admin.error());
    if (!*admin) {
      auto r = http::problem(Error::unauthenticated(
          secret.empty() ? "auth.admin_key_missing" : "auth.admin_key_invalid",
          secret.empty() ? "send an admin key as Authorization: Bearer <key>" : "the admin key is not valid"));
      r.set_header("WWW-Authenticate", "Bearer realm=\"quanqu-admin\"");
      return r;
    }
    return finish(services, request, handler(request));
  };
}

}  // namespace quanqu::api
