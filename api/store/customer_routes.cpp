// Store customer handlers: sign-up, sign-in and out, the signed-in customer's account, addresses and orders.
#include "common/clock.h"
#include "common/random.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/json_body.h"
#include "routes/rate_limits.h"
#include "store/store_routes.h"

namespace quanqu::api {
namespace {

using http::Request;
using http::Response;

Result<CustomerAddressId> address_id(const Request& r) {
  const auto& id = r.param("address_id");
  if (!looks_like_id(id, "addr")) return Error::not_found("customer_address.not_found", "no address '" + id + "'");
  return CustomerAddressId(id);
}

// {"address": {...}, "is_default": true}; on PATCH both are optional, and is_default may only be true.
struct AddressInput {
  std::optional<Address> address;
  bool make_default = false;
};

Result<AddressInput> read_address_input(JsonBody& body, bool create) {
  auto f = body.fields();
  f.only({"address", "is_default"});
  AddressInput in;
  in.address = f.address("address", create);
  auto is_default = f.boolean("is_default");
  if (is_default && !*is_default && !create)
    f.fail("is_default", "can only be true: make another address the default instead");
  in.make_default = is_default.value_or(false);
  if (in.address) {
    Validator v;
    in.address->validate(v, "address");
    QQ_TRY(body.status_with(v.status()));
  }
  QQ_TRY(body.status());
  return in;
}

// POST /v1/store/auth/token: failures are counted per client address and per e-mail (hashed) in
// the auth bucket; once either is empty, attempts are refused (429) before the password is checked.
Result<Response> sign_in(Services& s, Request& r, const channels::Channel& c) {
  QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
  auto f = body.fields();
  f.only({"email", "password", "cart_id"});
  auto email = f.string("email", true, 254);
  auto password = f.string("password", true, customers::CustomerService::kMaxPasswordBytes);
  auto guest_cart = f.string("cart_id", false, 200);
  QQ_TRY(body.status());
  std::string by_address = "sign-in|" + r.remote_address;
  std::string by_account = "sign-in|" + secret_key(customers::lower_email(*email));
  for (const auto* key : {&by_address, &by_account})
    if (auto limited = exhausted(s.limits, RouteClass::auth, *key)) return std::move(*limited);
  auto session = s.customers.sign_in(*email, *password);
  if (!session) {
    if (session.error().kind == ErrorKind::unauthenticated)
      for (const auto* key : {&by_address, &by_account}) charge(s.limits, RouteClass::auth, *key);
    return std::move(session).error();
  }
  json reply{{"token", session->token},
             {"token_type", "Bearer"},
             {"customer_id", session->customer_id.value},
             {"expires_at", format_rfc3339(session->expires_at)},
             {"cart", nullptr}};
  // A guest cart brought to the sign-in is merged into the customer's cart; if that fails, the
  // session just opened is revoked, so that a refused sign-in leaves nothing behind.
  if (guest_cart) {
    auto merged = looks_like_id(*guest_cart, "cart")
                      ? s.carts.merge_guest(c, session->customer_id, CartId(*guest_cart))
                      : Result<cart::CustomerCart>(Error::not_found("cart.not_found", "no cart '" + *guest_cart + "'"));
    if (!merged) {
      (void)s.customers.sign_out(session->token);
      return std::move(merged).error();
    }
    reply["cart"] = customer_cart_json(*merged);
  }
  return json_reply(200, reply);
}

}  // namespace

void register_customer_routes(http::Router& router, Services& s) {
  router.add("POST", "/v1/store/customers", store_route(s, [&s](Request& r, const channels::Channel&) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"email", "password", "name", "phone"});
    customers::SignUp in;
    in.email = f.string("email", true).value_or("");
    in.password = f.string("password", true, customers::CustomerService::kMaxPasswordBytes + 1).value_or("");
    in.name = f.string("name").value_or("");
    in.phone = f.string("phone").value_or("");
    QQ_TRY(body.status_with(customers::CustomerService::validate(in)));
    QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.sign_up(in));
    Response reply = json_reply(201, customer_json(c));
    reply.set_header("Location", "/v1/store/customers/me");
    return reply;
  }));

  router.add("POST", "/v1/store/auth/token", store_route(s, [&s](Request& r, const channels::Channel& c) {
    return sign_in(s, r, c);
  }));

  router.add("DELETE", "/v1/store/auth/token", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer&) -> Result<Response> {
    QQ_TRY(s.customers.sign_out(bearer_secret(r)));
    return http::Response::no_content();
  }));

  router.add("GET", "/v1/store/customers/me", customer_route(s, [](Request&, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    return json_reply(200, customer_json(me));
  }));

  router.add("PATCH", "/v1/store/customers/me", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"name", "phone"});
    customers::CustomerPatch patch{f.string("name"), f.string("phone")};
    QQ_TRY(body.status_with(customers::CustomerService::validate(patch)));
    QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.update(me.id, patch));
    return json_reply(200, customer_json(c));
  }));

  router.add("GET", "/v1/store/customers/me/addresses", customer_route(s, [&s](Request&, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto list, s.customers.addresses(me.id));
    json items = json::array();
    for (const auto& a : list) items.push_back(saved_address_json(a));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  router.add("POST", "/v1/store/customers/me/addresses", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    QQ_ASSIGN_OR_RETURN(AddressInput in, read_address_input(body, true));
    QQ_ASSIGN_OR_RETURN(customers::SavedAddress a, s.customers.add_address(me.id, *in.address, in.make_default));
    Response reply = json_reply(201, saved_address_json(a));
    reply.set_header("Location", "/v1/store/customers/me/addresses/" + a.id.value);
    return reply;
  }));

  router.add("GET", "/v1/store/customers/me/addresses/{address_id}", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerAddressId id, address_id(r));
    QQ_ASSIGN_OR_RETURN(customers::SavedAddress a, s.customers.address(me.id, id));
    return json_reply(200, saved_address_json(a));
  }));

  router.add("PATCH", "/v1/store/customers/me/addresses/{address_id}", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerAddressId id, address_id(r));
    QQ_TRY(s.customers.address(me.id, id));  // another customer's address is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    QQ_ASSIGN_OR_RETURN(AddressInput in, read_address_input(body, false));
    QQ_ASSIGN_OR_RETURN(customers::SavedAddress a, s.customers.update_address(me.id, id, in.address, in.make_default));
    return json_reply(200, saved_address_json(a));
  }));

  router.add("DELETE", "/v1/store/customers/me/addresses/{address_id}", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerAddressId id, address_id(r));
    QQ_TRY(s.customers.remove_address(me.id, id));
    return http::Response::no_content();
  }));

  // The customer's one active cart, opened on this channel (moved here from another, re-priced).
  router.add("GET", "/v1/store/customers/me/cart", customer_route(s, [&s](Request&, const channels::Channel& c, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(cart::CustomerCart opened, s.carts.open_for_customer(c, me.id));
    if (!opened.cart.email && opened.cart.status == "open") {  // a new cart takes the customer's e-mail
      cart::CartPatch patch;
      patch.email = std::optional<std::string>(me.email);
      QQ_ASSIGN_OR_RETURN(opened.cart, s.carts.update(c, opened.cart.id, patch));
    }
    return json_reply(200, customer_cart_json(opened));
  }));

  // Orders placed from the customer's carts on every channel, newest first, in the store view.
  router.add("GET", "/v1/store/customers/me/orders", customer_route(s, [&s](Request& r, const channels::Channel&, const customers::Customer& me) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(PageParams page, page_params(r));
    QQ_ASSIGN_OR_RETURN(auto ids, s.customers.order_ids(me.id, page.limit, page.cursor));
    json items = json::array();
    for (const auto& id : ids.ids) {
      QQ_ASSIGN_OR_RETURN(orders::Order o, s.orders.get(id));
      items.push_back(order_json(o, false));
    }
    return json_reply(200, page_json(std::move(items), ids.next_cursor));
  }));
}

}  // namespace quanqu::api
