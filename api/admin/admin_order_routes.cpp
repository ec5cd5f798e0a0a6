// Admin order handlers: list, read, cancel.
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
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"reason"});
    std::string reason = f.string("reason").value_or("");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.cancel(OrderId(r.param("id")), reason));
    return json_reply(200, order_json(order, true));
  }));
}

}  // namespace quanqu::api
