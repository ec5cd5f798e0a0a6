// Admin job handlers: the scheduled, running and finished jobs of the core's scheduler, read only.
#include "admin/admin_routes.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/json_body.h"

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

json job_json(const jobs::Job& j) {
  return {{"id", j.id},
          {"kind", j.kind},
          {"status", j.status},
          {"payload", j.payload.is_object() ? j.payload : json::object()},
          {"due_at", format_rfc3339(j.due_at)},
          {"attempts", j.attempts},
          {"max_attempts", j.max_attempts},
          {"last_error", j.last_error.empty() ? json(nullptr) : json(j.last_error)},
          {"lease_owner", j.lease_owner.empty() ? json(nullptr) : json(j.lease_owner)},
          {"lease_until", optional_time_json(j.lease_until)},
          {"created_at", format_rfc3339(j.created_at)},
          {"updated_at", format_rfc3339(j.updated_at)},
          {"finished_at", optional_time_json(j.finished_at)}};
}

}  // namespace

void register_admin_job_routes(http::Router& router, Services& s) {
  router.add("GET", "/v1/admin/jobs", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<jobs::JobQuery>(r));
    q.status = query_text(r, "status");
    q.kind = query_text(r, "kind");
    if (q.kind.size() > 100)
      return Error::invalid("validation_failed", "the request has invalid fields", {{"kind", "must be at most 100 bytes"}});
    QQ_ASSIGN_OR_RETURN(auto result, s.jobs.list(q));
    json items = json::array();
    for (const auto& j : result.items) items.push_back(job_json(j));
    return json_reply(200, page_json(std::move(items), result.next_cursor));
  }));

  router.add("GET", "/v1/admin/jobs/{id}", admin_route(s, [&s](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto job, s.jobs.get(r.param("id")));
    return json_reply(200, job_json(job));
  }));
}

}  // namespace quanqu::api
