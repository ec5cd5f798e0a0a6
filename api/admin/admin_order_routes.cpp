// Admin order handlers: list, read, cancel, mark paid, fulfil, and the pickup desk.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/json_body.h"

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;

void register_admin_order_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/orders", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(PageParams page, page_params(r));
    orders::OrderQuery q;
    q.limit = page.limit;
    q.cursor = page.cursor;
    q.status = std::string(r.query_param("status").value_or(""));
    if (auto channel = r.query_param("channel")) {
      QQ_ASSIGN_OR_RETURN(auto c, s.channels.get(std::string(*channel)));
      q.channel = c.id;
    }
    QQ_ASSIGN_OR_RETURN(auto result, s.orders.list(q));
    json items = json::array();
    for (const auto& o : result.items) items.push_back(order_json(o, true));
    return json_reply(200, page_json(std::move(items), result.next_cursor));
  }));

  router.add("GET", "/v1/admin/orders/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.get(OrderId(r.param("id"))));
    return json_reply(200, order_json(order, true));
  }));

  router.add("POST", "/v1/admin/orders/{id}/cancel", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"reason"});
    std::string reason = f.string("reason").value_or("");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.cancel(OrderId(r.param("id")), reason));
    // The order is cancelled whatever the provider says; a failed release is logged for follow-up.
    if (auto released = s.payments.release_for_cancelled(order); !released && s.log)
      s.log->log(http::LogLevel::warn, "payment not released after cancel",
                 {{"order_id", order.id.value}, {"code", released.error().code}, {"detail", released.error().message}});
    return json_reply(200, order_json(order, true));
  }, Waits::on_plugins));

  // The merchant took the money (or asks the provider to): the payment is captured and the order
  // paid. 202 when the provider confirms later (the order stays pending until it does).
  router.add("POST", "/v1/admin/orders/{id}/mark-paid", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.payments.capture(OrderId(r.param("id"))));
    return json_reply(order.payment_status == "captured" ? 200 : 202, order_json(order, true));
  }, Waits::on_plugins));

  router.add("POST", "/v1/admin/orders/{id}/fulfilment", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"status"});
    std::string status = f.string("status", true).value_or("");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.set_fulfilment(OrderId(r.param("id")), status));
    return json_reply(200, order_json(order, true));
  }));

  // The pickup desk: the order is ready at its store (the hold starts), the shopper's code
  // completes it, and an admin lifts the lock that five wrong codes put on it.
  router.add("POST", "/v1/admin/orders/{id}/ready-for-pickup", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.mark_ready_for_pickup(OrderId(r.param("id"))));
    return json_reply(200, order_json(order, true));
  }));

  router.add("POST", "/v1/admin/orders/{id}/pickup", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"code"});
    std::string code = f.string("code", true, 20).value_or("");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.complete_pickup(OrderId(r.param("id")), code));
    return json_reply(200, order_json(order, true));
  }));

  router.add("POST", "/v1/admin/orders/{id}/pickup-unlock", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.unlock_pickup(OrderId(r.param("id"))));
    return json_reply(200, order_json(order, true));
  }));
}

}  // namespace quanqu::api
