// Checkout steps that call providers: payment sessions and the shipping method of a cart.
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"
#include "store/store_routes.h"

namespace quanqu::api {

using http::Request;
using http::Response;

namespace {

Result<CartId> cart_param(const Request& r) {
  const auto& id = r.param("id");
  if (!looks_like_id(id, "cart")) return Error::not_found("cart.not_found", "no cart '" + id + "'");
  return CartId(id);
}

// {"provider": "..."} from a body; a missing or non-string provider is a 400.
Result<std::string> provider_of(const Request& r) {
  QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
  auto f = body.fields();
  f.only({"provider"});
  std::string provider = f.string("provider", true).value_or("");
  QQ_TRY(body.status());
  return provider;
}

}  // namespace

void register_checkout_step_routes(http::Router& router, Services& s) {
  // {"provider": "card-gateway"} -> 201 the session: status, amount, and the provider's data for
  // the storefront (a client secret, instructions). Checkout then needs it authorised.
  // A session has no URL of its own: Location is the cart's list of sessions, which holds it.
  router.add("POST", "/v1/store/carts/{id}/payment-sessions",
             store_route(s, idempotent_store(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(CartId id, cart_param(r));
               QQ_TRY(s.carts.get(c, id));  // another channel's cart is a 404 whatever the body says
               QQ_ASSIGN_OR_RETURN(std::string provider, provider_of(r));
               QQ_ASSIGN_OR_RETURN(payments::PaymentSession session, s.payments.start(c, id, provider));
               return created(payment_session_json(session), "/v1/store/carts/" + id.value + "/payment-sessions");
             }),
                         Waits::on_plugins));

  router.add("GET", "/v1/store/carts/{id}/payment-sessions",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(CartId id, cart_param(r));
               QQ_ASSIGN_OR_RETURN(auto sessions, s.payments.for_cart(c, id));
               nlohmann::json items = nlohmann::json::array();
               for (const auto& session : sessions) items.push_back(payment_session_json(session));
               return json_reply(200, page_json(std::move(items), ""));
             }));

  // One quote per fulfilment provider of the channel; those that cannot serve the cart are
  // listed under "refusals" with their reason.
  router.add("GET", "/v1/store/carts/{id}/shipping-options",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(CartId id, cart_param(r));
               QQ_ASSIGN_OR_RETURN(fulfilment::ShippingOptions options, s.shipping.options(c, id));
               nlohmann::json items = nlohmann::json::array(), refusals = nlohmann::json::array();
               for (const auto& o : options.items) {
                 nlohmann::json item = o.to_json();
                 item["amount"] = money_json(o.amount, o.currency);
                 items.push_back(std::move(item));
               }
               for (const auto& x : options.refusals)
                 refusals.push_back({{"provider", x.provider}, {"code", x.code}, {"message", x.message}});
               return json_reply(200, {{"items", items}, {"refusals", refusals}});
             },
                         Waits::on_plugins));

  // {"provider": "local-delivery"} -> the cart with the quoted shipping in its totals.
  router.add("POST", "/v1/store/carts/{id}/shipping-method",
             store_route(s, idempotent_store(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(CartId id, cart_param(r));
               QQ_TRY(s.carts.get(c, id));  // another channel's cart is a 404 whatever the body says
               QQ_ASSIGN_OR_RETURN(std::string provider, provider_of(r));
               QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.shipping.choose(c, id, provider));
               return json_reply(200, cart_json(cart));
             }),
                         Waits::on_plugins));
}

}  // namespace quanqu::api
