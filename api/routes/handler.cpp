// Authentication of store and admin requests, and the error-to-problem conversion of handlers.
#include "routes/handler.h"
#include "common/validation.h"
#include "routes/handler_pool.h"
#include "routes/rate_limits.h"

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
                      {{"code", e.code},
                       {"detail", e.message},
                       {"cause", e.cause},
                       {"request_id", request.request_id},
                       {"route", request.route}});
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
        return http::problem(Error::invalid("duplicate_header",
                                            "send the " + std::string(kSingle[i]) + " header once; it was repeated"));
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

namespace {

// A store handler that sees the signed-in customer, if any.
using CustomerAware = std::function<Result<http::Response>(http::Request&, const channels::Channel&,
                                                           const std::optional<customers::Customer>&)>;

http::Response customer_unauthenticated(Error e) {
  auto r = http::problem(e);
  r.set_header("WWW-Authenticate", "Bearer realm=\"quanqu-store\"");
  return r;
}

// A customer's cart named by the path is a 404 for anyone else, as if it did not exist. An
// unknown cart is left to the handler (its own 404).
Status check_cart_owner(Services& s, const http::Request& r, const std::optional<customers::Customer>& who) {
  constexpr std::string_view kCartRoutes = "/v1/store/carts/{id}";
  if (r.route.compare(0, kCartRoutes.size(), kCartRoutes) != 0) return ok_status();
  const std::string& id = r.param("id");
  if (!looks_like_id(id, "cart")) return ok_status();
  auto owner = s.carts.owner(CartId(id));
  if (!owner) return owner.error().kind == ErrorKind::not_found ? ok_status() : Status(std::move(owner).error());
  if (*owner && (!who || who->id != **owner)) return Error::not_found("cart.not_found", "no cart '" + id + "'");
  return ok_status();
}

http::Handler store_route_impl(Services& services, CustomerAware handler, Waits waits, bool customer_required) {
  return [&services, handler = std::move(handler), waits, customer_required](http::Request& request) -> http::Response {
    if (auto refused = refuse_malformed(request)) return *refused;
    std::optional<http::RateDecision> shown;
    auto key = request.header("x-publishable-key");
    if (!key || key->empty()) {
      if (auto limited = over_limit(services.limits, RouteClass::open, request.remote_address, &shown)) return *limited;
      auto r = http::problem(Error::unauthenticated("auth.publishable_key_missing",
                                                    "send the channel's publishable key in X-Publishable-Key"));
      set_rate_headers(r, shown);
      return r;
    }
    std::string bucket = secret_key(*key) + "|" + request.remote_address;
    if (auto limited = over_limit(services.limits, RouteClass::store, bucket, &shown)) return *limited;
    // An unknown key or customer token is a failed guess: it counts against the client address's auth bucket.
    std::string guesses = "key|" + request.remote_address;
    if (auto limited = exhausted(services.limits, RouteClass::auth, guesses)) return *limited;
    auto resolved = services.access.resolve_channel(std::string(*key));
    if (resolved && !*resolved) charge(services.limits, RouteClass::auth, guesses);
    http::Response reply = [&] {
      if (!resolved) return finish(services, request, resolved.error());
      const auto& channel_id = *resolved;
      if (!channel_id)
        return http::problem(
            Error::unauthenticated("auth.publishable_key_invalid", "the publishable key is unknown or revoked"));
      auto channel = services.channels.get_cached(*channel_id);
      if (!channel) return finish(services, request, channel.error());
      auto customer = signed_in_customer(services, request);
      if (!customer) {
        if (customer.error().kind != ErrorKind::unauthenticated) return finish(services, request, customer.error());
        charge(services.limits, RouteClass::auth, guesses);
        return customer_unauthenticated(customer.error());
      }
      if (customer_required && !*customer)
        return customer_unauthenticated(Error::unauthenticated(
            "auth.customer_token_missing", "sign in and send the customer token as Authorization: Bearer <token>"));
      if (auto owned = check_cart_owner(services, request, *customer); !owned)
        return finish(services, request, owned.error());
      if (waits == Waits::on_plugins && services.handlers)
        return services.handlers->defer(request, [&services, handler, channel = *channel,
                                                  customer = *customer](http::Request& r) {
          return finish(services, r, handler(r, channel, customer));
        });
      return finish(services, request, handler(request, *channel, *customer));
    }();
    set_rate_headers(reply, shown);
    return reply;
  };
}

}  // namespace

Result<std::optional<customers::Customer>> signed_in_customer(Services& services, const http::Request& request) {
  if (!request.header("authorization")) return std::optional<customers::Customer>();
  std::string token = bearer_secret(request);
  if (token.empty())
    return Error::unauthenticated("auth.customer_token_invalid",
                                  "send the customer token as Authorization: Bearer <token>");
  QQ_ASSIGN_OR_RETURN(customers::Customer c, services.customers.from_token(token));
  return std::optional<customers::Customer>(std::move(c));
}

http::Handler store_route(Services& services, StoreHandler handler, Waits waits) {
  return store_route_impl(
      services,
      [handler = std::move(handler)](http::Request& r, const channels::Channel& c,
                                     const std::optional<customers::Customer>&) { return handler(r, c); },
      waits, false);
}

http::Handler customer_route(Services& services, CustomerHandler handler, Waits waits) {
  return store_route_impl(
      services,
      [handler = std::move(handler)](http::Request& r, const channels::Channel& c,
                                     const std::optional<customers::Customer>& who) { return handler(r, c, *who); },
      waits, true);
}

http::Handler admin_route(Services& services, AdminHandler handler, Waits waits) {
  return [&services, handler = std::move(handler), waits](http::Request& request) -> http::Response {
    if (auto refused = refuse_malformed(request)) return *refused;
    std::string secret = admin_secret(request);
    std::optional<http::RateDecision> shown;
    std::string guesses = "key|" + request.remote_address;
    if (secret.empty()) {
      if (auto limited = over_limit(services.limits, RouteClass::open, request.remote_address, &shown)) return *limited;
    } else {
      if (auto limited = over_limit(services.limits, RouteClass::admin, secret_key(secret), &shown)) return *limited;
      if (auto limited = exhausted(services.limits, RouteClass::auth, guesses)) return *limited;
    }
    Result<bool> admin = secret.empty() ? Result<bool>(false) : services.access.check_admin(secret);
    if (admin && !*admin && !secret.empty()) charge(services.limits, RouteClass::auth, guesses);
    http::Response reply = [&] {
      if (!admin) return finish(services, request, admin.error());
      if (!*admin) {
        auto r = http::problem(Error::unauthenticated(
            secret.empty() ? "auth.admin_key_missing" : "auth.admin_key_invalid",
            secret.empty() ? "send an admin key as Authorization: Bearer <key>" : "the admin key is not valid"));
        r.set_header("WWW-Authenticate", "Bearer realm=\"quanqu-admin\"");
        return r;
      }
      if (waits == Waits::on_plugins && services.handlers)
        return services.handlers->defer(
            request, [&services, handler](http::Request& r) { return finish(services, r, handler(r)); });
      return finish(services, request, handler(request));
    }();
    set_rate_headers(reply, shown);
    return reply;
  };
}

std::string admin_secret(const http::Request& request) {
  auto auth = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth && auth->size() > kBearer.size() && auth->substr(0, kBearer.size()) == kBearer)
    return std::string(auth->substr(kBearer.size()));
  return "";
}

http::Handler open_route(Services& services, http::Handler handler) {
  return [&services, handler = std::move(handler)](http::Request& request) -> http::Response {
    std::optional<http::RateDecision> shown;
    if (auto limited = over_limit(services.limits, RouteClass::open, request.remote_address, &shown)) return *limited;
    http::Response reply = handler(request);
    set_rate_headers(reply, shown);
    return reply;
  };
}

StoreHandler failures_limited(Services& services, std::string param, StoreHandler handler) {
  return [&services, param = std::move(param), handler = std::move(handler)](
             http::Request& request, const channels::Channel& channel) -> Result<http::Response> {
    std::string key = request.route + "|" + request.remote_address + "|" + request.param(param);
    if (auto limited = over_limit(services.limits, RouteClass::auth, key)) return std::move(*limited);
    auto result = handler(request, channel);
    if (result.ok() && result->status < 400 && services.limits)
      services.limits->bucket(RouteClass::auth).give_back(key);
    return result;
  };
}

}  // namespace quanqu::api
