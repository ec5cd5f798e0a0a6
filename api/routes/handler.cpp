// Authentication of store and admin requests, and the error-to-problem conversion of handlers.
#include "routes/handler.h"

namespace quanqu::api {
namespace {

http::Response finish(Result<http::Response> result) {
  if (result.ok()) return std::move(result).value();
  return http::problem(result.error());
}

}  // namespace

http::Handler store_route(Services& services, StoreHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& request) -> http::Response {
    auto key = request.header("x-publishable-key");
    if (!key || key->empty())
      return http::problem(Error::unauthenticated("auth.publishable_key_missing",
                                                  "send the channel's publishable key in X-Publishable-Key"));
    auto channel_id = services.access.channel_for(std::string(*key));
    if (!channel_id)
      return http::problem(Error::unauthenticated("auth.publishable_key_invalid",
                                                  "the publishable key is unknown or revoked"));
    auto channel = services.channels.get_cached(*channel_id);
    if (!channel) return http::problem(channel.error());
    return finish(handler(request, *channel));
  };
}

http::Handler admin_route(Services& services, AdminHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& request) -> http::Response {
    auto auth = request.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    std::string secret;
    if (auth && auth->size() > kBearer.size() && auth->substr(0, kBearer.size()) == kBearer)
      secret = std::string(auth->substr(kBearer.size()));
    if (secret.empty() || !services.access.is_admin(secret)) {
      auto r = http::problem(Error::unauthenticated(
          secret.empty() ? "auth.admin_key_missing" : "auth.admin_key_invalid",
          secret.empty() ? "send an admin key as Authorization: Bearer <key>" : "the admin key is not valid"));
      r.set_header("WWW-Authenticate", "Bearer realm=\"quanqu-admin\"");
      return r;
    }
    return finish(handler(request));
  };
}

}  // namespace quanqu::api
