// Admin customer handlers: read a customer, assign a group, export and erase; customer group CRUD.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

namespace quanqu::api {
namespace {

using http::Request;
using http::Response;

Result<CustomerId> customer_id(const Request& r) {
  const auto& id = r.param("id");
  if (!looks_like_id(id, "cus")) return Error::not_found("customer.not_found", "no customer '" + id + "'");
  return CustomerId(id);
}

Result<CustomerGroupId> group_id(const Request& r) {
  const auto& id = r.param("id");
  if (!looks_like_id(id, "cgrp")) return Error::not_found("customer_group.not_found", "no customer group '" + id + "'");
  return CustomerGroupId(id);
}

// The admin view: the account, whether it has a password, and its linked identities.
Result<json> admin_customer_json(Services& s, const customers::Customer& c) {
  QQ_ASSIGN_OR_RETURN(auto linked, s.customers.identities(c.id));
  json out = customer_json(c);
  out["has_password"] = c.has_password;
  out["identities"] = json::array();
  for (const auto& i : linked) out["identities"].push_back(identity_json(i));
  return out;
}

}  // namespace

void register_admin_customer_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/customers/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerId id, customer_id(r));
    QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.get(id));
    QQ_ASSIGN_OR_RETURN(json out, admin_customer_json(s, c));
    return json_reply(200, out);
  }));

  // {"group_id": "cgrp_..." | null}: assigns the customer to a group, or to none.
  router.add("PATCH", "/v1/admin/customers/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerId id, customer_id(r));
    QQ_TRY(s.customers.get(id));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"group_id"});
    bool clear = f.is_null("group_id");
    std::optional<std::string> group;
    if (!clear) group = f.string("group_id", true, 200);
    QQ_TRY(body.status());
    std::optional<CustomerGroupId> target;
    if (group) target = CustomerGroupId(*group);
    QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.set_group(id, target));
    QQ_ASSIGN_OR_RETURN(json out, admin_customer_json(s, c));
    return json_reply(200, out);
  }));

  router.add("GET", "/v1/admin/customers/{id}/export", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerId id, customer_id(r));
    QQ_ASSIGN_OR_RETURN(json out, s.customers.export_data(id));
    return json_reply(200, out);
  }));

  router.add("POST", "/v1/admin/customers/{id}/erase", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerId id, customer_id(r));
    QQ_TRY(s.customers.get(id));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.erase(id));
    QQ_ASSIGN_OR_RETURN(json out, admin_customer_json(s, c));
    return json_reply(200, out);
  }));

  router.add("POST", "/v1/admin/customer-groups", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"code", "name"});
    auto code = f.string("code", true, 200);
    auto name = f.string("name", true, 200);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(customers::Group g, s.customers.create_group(*code, *name));
    return created(customer_group_json(g), "/v1/admin/customer-groups/" + g.id.value);
  })));

  router.add("GET", "/v1/admin/customer-groups", admin_route(s, [&s](Request&) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto list, s.customers.groups());
    json items = json::array();
    for (const auto& g : list) items.push_back(customer_group_json(g));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  router.add("GET", "/v1/admin/customer-groups/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerGroupId id, group_id(r));
    QQ_ASSIGN_OR_RETURN(customers::Group g, s.customers.group(id));
    return json_reply(200, customer_group_json(g));
  }));

  router.add("PATCH", "/v1/admin/customer-groups/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerGroupId id, group_id(r));
    QQ_TRY(s.customers.group(id));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"name"});
    auto name = f.string("name", false, 200);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(customers::Group g, s.customers.update_group(id, name));
    return json_reply(200, customer_group_json(g));
  }));

  router.add("DELETE", "/v1/admin/customer-groups/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CustomerGroupId id, group_id(r));
    QQ_TRY(s.customers.delete_group(id));
    return http::Response::no_content();
  }));
}

}  // namespace quanqu::api
