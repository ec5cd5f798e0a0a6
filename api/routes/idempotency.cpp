// The Idempotency-Key wrapper: claim, run, store or release, and replay.
#include "routes/idempotency.h"
#include "common/random.h"
#include "routes/rate_limits.h"

#include <strings.h>

namespace quanqu::api {
namespace {

using idempotency::IdempotencyService;
using idempotency::StoredReply;

http::Response replay(const StoredReply& stored) {
  http::Response r;
  r.status = static_cast<unsigned>(stored.status);
  r.content_type = stored.content_type;
  r.body = stored.body;
  if (!stored.location.empty()) r.set_header("Location", stored.location);
  r.set_header("Idempotent-Replayed", "true");
  return r;
}

std::string location_of(const http::Response& r) {
  for (const auto& [name, value] : r.headers)
    if (strcasecmp(name.c_str(), "location") == 0) return value;
  return "";
}

Result<http::Response> run_once(Services& s, http::Request& request, const std::string& scope,
                                const std::function<Result<http::Response>()>& run) {
  auto header = request.header("idempotency-key");
  if (!header) return run();
  std::string key(*header);
  QQ_TRY(IdempotencyService::validate_key(key));
  std::string fingerprint = sha256_hex(request.method + "\n" + request.path + "\n" + request.body);
  auto claim = s.idempotency.claim(scope, key, fingerprint);
  if (!claim) {
    if (claim.error().code != "idempotency.in_progress") return claim.error();
    http::Response busy = http::problem(claim.error());
    busy.set_header("Retry-After", std::to_string(claim.error().details.value("retry_after", 1)));
    return busy;
  }
  if (!claim->claimed) return replay(claim->replay);

  Result<http::Response> result = Error::internal("not run");
  try {
    result = run();
  } catch (...) {
    (void)s.idempotency.release(scope, key, claim->claim_id);
    throw;
  }
  if (result.ok() && result->status >= 200 && result->status < 300) {
    StoredReply stored{static_cast<int>(result->status), result->content_type, std::string(result->body_view()),
                       location_of(*result)};
    auto saved = s.idempotency.complete(scope, key, claim->claim_id, stored);
    // The resource exists and the client gets its reply; only a retry of this key is affected:
    // it is answered 409 in_progress until the claim's lease ends, then runs again.
    if (!saved && s.log)
      s.log->log(http::LogLevel::error, "idempotency reply not stored",
                 {{"code", saved.error().code},
                  {"cause", saved.error().cause},
                  {"request_id", request.request_id},
                  {"route", request.route}});
  } else {
    auto released = s.idempotency.release(scope, key, claim->claim_id);
    if (!released && s.log)
      s.log->log(http::LogLevel::error, "idempotency key not released",
                 {{"code", released.error().code},
                  {"cause", released.error().cause},
                  {"request_id", request.request_id},
                  {"route", request.route}});
  }
  return result;
}

}  // namespace

StoreHandler idempotent_store(Services& services, StoreHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& r, const channels::Channel& c) {
    // A signed-in customer's keys are their own: another customer's same key never replays their reply.
    std::string token = bearer_secret(r);
    std::string scope = "store:" + c.id.value + (token.empty() ? "" : ":" + secret_key(token));
    return run_once(services, r, scope, [&] { return handler(r, c); });
  };
}

AdminHandler idempotent_admin(Services& services, AdminHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& r) {
    return run_once(services, r, "admin:" + secret_key(admin_secret(r)), [&] { return handler(r); });
  };
}

http::Response created(const nlohmann::json& body, const std::string& path) {
  http::Response r = http::Response::json(201, body);
  r.set_header("Location", path);
  return r;
}

}  // namespace quanqu::api
