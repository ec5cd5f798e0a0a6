// Admin webhook handlers: endpoints (CRUD, secret shown once), their deliveries with the attempt log, replay.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

json webhook_json(const webhooks::Webhook& w) {
  return {{"id", w.id},
          {"url", w.url},
          {"event_types", w.event_types},
          {"description", w.description},
          {"enabled", w.enabled},
          {"secret_hint", w.secret_hint},
          {"created_at", format_rfc3339(w.created_at)},
          {"updated_at", format_rfc3339(w.updated_at)}};
}

json with_secret(const webhooks::WebhookWithSecret& w) {
  json out = webhook_json(w.webhook);
  if (!w.secret.empty()) out["secret"] = w.secret;
  return out;
}

json delivery_json(const webhooks::Delivery& d) {
  json attempts = json::array();
  for (const auto& a : d.recent_attempts)
    attempts.push_back({{"number", a.number},
                        {"started_at", format_rfc3339(a.started_at)},
                        {"duration_ms", a.duration_ms},
                        {"status_code", a.status_code ? json(*a.status_code) : json(nullptr)},
                        {"error", a.error.empty() ? json(nullptr) : json(a.error)}});
  return {{"id", d.id},
          {"webhook_id", d.webhook_id},
          {"event_id", d.event_id},
          {"event_type", d.event_type},
          {"status", d.status},
          {"attempt_count", d.attempts},
          {"next_attempt_at", optional_time_json(d.next_attempt_at)},
          {"retry_until", format_rfc3339(d.retry_until)},
          {"last_status_code", d.last_status_code ? json(*d.last_status_code) : json(nullptr)},
          {"last_error", d.last_error.empty() ? json(nullptr) : json(d.last_error)},
          {"created_at", format_rfc3339(d.created_at)},
          {"updated_at", format_rfc3339(d.updated_at)},
          {"completed_at", optional_time_json(d.completed_at)},
          {"attempts", attempts}};
}

// The fields of a create or a patch; `patch` adds rotate_secret and makes nothing required.
webhooks::WebhookInput read_webhook(JsonFields f, bool patch) {
  if (patch)
    f.only({"url", "event_types", "description", "enabled", "rotate_secret"});
  else
    f.only({"url", "event_types", "description", "enabled"});
  webhooks::WebhookInput in;
  in.url = f.string("url", !patch, 2048);
  in.event_types = f.strings("event_types", webhooks::WebhookService::kMaxEventTypes, !patch);
  in.description = f.string("description", false, 500);
  in.enabled = f.boolean("enabled");
  if (patch) in.rotate_secret = f.boolean("rotate_secret").value_or(false);
  return in;
}

}  // namespace

void register_admin_webhook_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/webhooks", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(PageParams page, page_params(r));
    QQ_ASSIGN_OR_RETURN(auto result, s.webhooks.list(page.limit, page.cursor));
    json items = json::array();
    for (const auto& w : result.items) items.push_back(webhook_json(w));
    return json_reply(200, page_json(std::move(items), result.next_cursor));
  }));

  // The reply is the only one that holds the secret (and a replay of it under the same Idempotency-Key).
  router.add("POST", "/v1/admin/webhooks", admin_route(s, idempotent_admin(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    webhooks::WebhookInput in = read_webhook(body.fields(), false);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto made, s.webhooks.create(in));
    return created(with_secret(made), "/v1/admin/webhooks/" + made.webhook.id);
  })));

  router.add("GET", "/v1/admin/webhooks/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto w, s.webhooks.get(r.param("id")));
    return json_reply(200, webhook_json(w));
  }));

  router.add("PATCH", "/v1/admin/webhooks/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.webhooks.get(r.param("id")));  // an unknown webhook is a 404 whatever the body says
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    webhooks::WebhookInput in = read_webhook(body.fields(), true);
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(auto updated, s.webhooks.update(r.param("id"), in));
    return json_reply(200, with_secret(updated));
  }));

  router.add("DELETE", "/v1/admin/webhooks/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_TRY(s.webhooks.remove(r.param("id")));
    return Response::no_content();
  }));

  router.add("GET", "/v1/admin/webhooks/{id}/deliveries", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<webhooks::DeliveryQuery>(r));
    q.status = query_text(r, "status");
    QQ_ASSIGN_OR_RETURN(auto result, s.webhooks.deliveries(r.param("id"), q));
    json items = json::array();
    for (const auto& d : result.items) items.push_back(delivery_json(d));
    return json_reply(200, page_json(std::move(items), result.next_cursor));
  }));

  router.add("GET", "/v1/admin/webhooks/{id}/deliveries/{delivery_id}",
             admin_route(s, [&s](Request& r) -> Result<Response> {
               QQ_ASSIGN_OR_RETURN(auto d, s.webhooks.delivery(r.param("id"), r.param("delivery_id")));
               return json_reply(200, delivery_json(d));
             }));

  // Accepted: a sender thread makes the attempt (never this request); the delivery shows its outcome.
  router.add("POST", "/v1/admin/webhooks/{id}/deliveries/{delivery_id}/replay",
             admin_route(s, [&s](Request& r) -> Result<Response> {
               QQ_TRY(s.webhooks.delivery(r.param("id"), r.param("delivery_id")));
               QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
               body.fields().only({});
               QQ_TRY(body.status());
               QQ_ASSIGN_OR_RETURN(auto d, s.webhooks.replay(r.param("id"), r.param("delivery_id")));
               return json_reply(202, delivery_json(d));
             }));
}

}  // namespace quanqu::api
