// Admin order handlers: list, read, metadata, the timeline, lifecycle moves, the pickup desk, refunds and returns.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;
using orders::lifecycle::Move;

namespace {

// The admin making the request, as the order's timeline names it: the admin key's id.
Result<orders::Actor> admin_actor(Services& s, const Request& r) {
  QQ_ASSIGN_OR_RETURN(auto id, s.access.admin_key_id(admin_secret(r)));
  return orders::Actor::admin(id ? id->value : "");
}

// [{"line_id", "quantity"}, ...] of at most 100 items under `field`.
std::vector<orders::LineQuantity> read_lines(JsonFields& f, const char* field, bool required) {
  std::vector<orders::LineQuantity> out;
  const json* list = f.array(field, 100, required);
  if (!list) return out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string at = std::string(field) + "/" + std::to_string(i);
    if (!(*list)[i].is_object()) {
      f.fail(at, "must be an object {\"line_id\", \"quantity\"}");
      continue;
    }
    JsonFields line((*list)[i], f.path(at), f.errors());
    line.only({"line_id", "quantity"});
    auto id = line.string("line_id", true, 200);
    auto quantity = line.integer("quantity", true);
    if (id && quantity) out.push_back({*id, *quantity});
  }
  return out;
}

// POST .../{id}/<move> with an empty body (or {}): one lifecycle move by the admin.
AdminHandler move_handler(Services& s, Move move) {
  return [&s, move](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.move(OrderId(r.param("id")), move, actor));
    return json_reply(200, order_json(order, true));
  };
}

// {"refund": ..., "order": ...}: 201 when the refund succeeded, 202 while the provider has not
// confirmed it (pending).
Response refund_reply(const orders::Order& order, const std::string& refund_id) {
  for (const auto& refund : order.refunds)
    if (refund.id == refund_id)
      return json_reply(refund.status == "succeeded" ? 201 : 202,
                        {{"refund", refund_json(refund)}, {"order", order_json(order, true)}});
  return json_reply(202, {{"refund", nullptr}, {"order", order_json(order, true)}});
}

}  // namespace

void register_admin_order_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/orders", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<orders::OrderQuery>(r));
    q.status = query_text(r, "status");
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

  // {"metadata": {...}}: merged into the order's metadata (a key set to null is removed).
  router.add("PATCH", "/v1/admin/orders/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"metadata"});
    const json* metadata = f.object("metadata", true);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.update_metadata(OrderId(r.param("id")), *metadata, actor));
    return json_reply(200, order_json(order, true));
  }));

  // Every event of the order, oldest first, with who did it.
  router.add("GET", "/v1/admin/orders/{id}/timeline", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto events, s.orders.timeline(OrderId(r.param("id"))));
    json items = json::array();
    for (const auto& e : events) items.push_back(timeline_event_json(e));
    return json_reply(200, page_json(std::move(items), ""));
  }));

  // Cancelling releases the stock; a paid order is refunded in full through its provider, and a
  // merely authorised payment is let go (a failed release is logged for follow-up).
  router.add("POST", "/v1/admin/orders/{id}/cancel",
             admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
               QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"reason"});
               std::string reason = f.string("reason", false, 500).value_or("");
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
               QQ_ASSIGN_OR_RETURN(auto order, s.orders.cancel(OrderId(r.param("id")), reason, actor));
               if (auto released = s.payments.release_for_cancelled(order); !released && s.log)
                 s.log->log(http::LogLevel::warn, "payment not released after cancel",
                            {{"order_id", order.id.value},
                             {"code", released.error().code},
                             {"detail", released.error().message}});
               return json_reply(200, order_json(order, true));
             }),
             Waits::on_plugins));

  // The merchant took the money (or asks the provider to): the payment is captured and the order
  // paid. 202 when the provider confirms later (the order stays placed until it does).
  router.add("POST", "/v1/admin/orders/{id}/mark-paid", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.payments.capture(OrderId(r.param("id")), actor));
    return json_reply(orders::lifecycle::payment_settled(order.payment_status) ? 200 : 202, order_json(order, true));
  }, Waits::on_plugins));

  router.add("POST", "/v1/admin/orders/{id}/ship", admin_route(s, move_handler(s, Move::ship)));
  router.add("POST", "/v1/admin/orders/{id}/deliver", admin_route(s, move_handler(s, Move::deliver)));
  router.add("POST", "/v1/admin/orders/{id}/complete", admin_route(s, move_handler(s, Move::complete)));

  // Deprecated: {"status": "fulfilled"} is /ship, {"status": "delivered"} is /deliver.
  router.add("POST", "/v1/admin/orders/{id}/fulfilment", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"status"});
    std::string status = f.string("status", true).value_or("");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.set_fulfilment(OrderId(r.param("id")), status, actor));
    return json_reply(200, order_json(order, true));
  }));

  // The pickup desk, through the lifecycle table: the order is ready at its store (the hold
  // starts), the shopper's code hands it over (picked_up; /complete closes it once paid), and an
  // admin lifts the lock that five wrong codes put on it.
  router.add("POST", "/v1/admin/orders/{id}/ready-for-pickup", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.mark_ready_for_pickup(OrderId(r.param("id")), actor));
    return json_reply(200, order_json(order, true));
  }));

  router.add("POST", "/v1/admin/orders/{id}/pickup", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"code"});
    std::string code = f.string("code", true, 20).value_or("");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.pick_up(OrderId(r.param("id")), code, actor));
    return json_reply(200, order_json(order, true));
  }));

  router.add("POST", "/v1/admin/orders/{id}/pickup-unlock", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.orders.get(OrderId(r.param("id"))));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
    QQ_ASSIGN_OR_RETURN(auto order, s.orders.unlock_pickup(OrderId(r.param("id")), actor));
    return json_reply(200, order_json(order, true));
  }));

  // {"amount": 500, "reason"} or {"lines": [{"line_id", "quantity"}], "reason"}.
  router.add("POST", "/v1/admin/orders/{id}/refunds",
             admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
               QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"amount", "lines", "reason"});
               orders::RefundRequest request;
               request.amount = f.integer("amount");
               request.lines = read_lines(f, "lines", false);
               request.reason = f.string("reason", true, 500).value_or("");
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
               std::string refund_id;
               QQ_ASSIGN_OR_RETURN(auto order, s.orders.refund(OrderId(r.param("id")), request, actor, &refund_id));
               return refund_reply(order, refund_id);
             }),
             Waits::on_plugins));

  // A pending refund (the provider did not answer) asked about again, with the same idempotency key.
  router.add("POST", "/v1/admin/orders/{id}/refunds/{refund_id}/retry",
             admin_route(s, [&s](Request& r) -> Result<Response> {
               QQ_TRY(s.orders.get(OrderId(r.param("id"))));
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               body.fields().only({});
               QQ_TRY(body.status());
               std::string refund_id(r.param("refund_id"));
               QQ_ASSIGN_OR_RETURN(auto order, s.orders.retry_refund(OrderId(r.param("id")), refund_id));
               return refund_reply(order, refund_id);
             }, Waits::on_plugins));

  // {"lines": [{"line_id", "quantity"}], "restock": true, "location_id", "reason", "refund": false}.
  router.add("POST", "/v1/admin/orders/{id}/returns",
             admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
               QQ_TRY(s.orders.get(OrderId(r.param("id"))));  // an unknown order is a 404 whatever the body says
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               auto f = body.fields();
               f.only({"lines", "restock", "location_id", "reason", "refund"});
               orders::ReturnRequest request;
               request.lines = read_lines(f, "lines", true);
               request.restock = f.boolean("restock", true).value_or(false);
               request.location_id = f.string("location_id", false, 200).value_or("");
               request.reason = f.string("reason", false, 500).value_or("");
               request.refund = f.boolean("refund").value_or(false);
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(auto actor, admin_actor(s, r));
               std::string return_id;
               QQ_ASSIGN_OR_RETURN(auto order,
                                   s.orders.create_return(OrderId(r.param("id")), request, actor, &return_id));
               json returned = nullptr;
               for (const auto& ret : order.returns)
                 if (ret.id == return_id) returned = return_json(ret);
               return json_reply(201, {{"return", returned}, {"order", order_json(order, true)}});
             }),
             Waits::on_plugins));
}

}  // namespace quanqu::api
