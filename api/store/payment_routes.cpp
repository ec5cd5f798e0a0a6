// Store payment handlers: a storefront starts a payment session with one of its channel's providers and reads it back.
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/json_body.h"
#include "store/store_routes.h"

namespace quanqu::api {

using http::Request;
using http::Response;

void register_payment_routes(http::Router& router, Services& s) {
  // {"provider": "card-gateway"} -> 201 the session: status, amount, and the provider's data for
  // the storefront (a client secret, instructions). Checkout then needs it authorised.
  router.add("POST", "/v1/store/carts/{id}/payment-sessions",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
               const auto& id = r.param("id");
               if (!looks_like_id(id, "cart")) return Error::not_found("cart.not_found", "no cart '" + id + "'");
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"provider"});
               std::string provider = f.string("provider", true).value_or("");
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(payments::PaymentSession session, s.payments.start(c, CartId(id), provider));
               return json_reply(201, session.to_json());
             }));

  router.add("GET", "/v1/store/carts/{id}/payment-sessions",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
               const auto& id = r.param("id");
               if (!looks_like_id(id, "cart")) return Error::not_found("cart.not_found", "no cart '" + id + "'");
               QQ_ASSIGN_OR_RETURN(auto sessions, s.payments.for_cart(c, CartId(id)));
               nlohmann::json items = nlohmann::json::array();
               for (const auto& session : sessions) items.push_back(session.to_json());
               return json_reply(200, page_json(std::move(items), ""));
             }));
}

}  // namespace quanqu::api
