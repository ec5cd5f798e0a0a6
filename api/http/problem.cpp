// Maps core errors to problem+json responses.
#include "http/problem.h"
#include "common/validation.h"

#include <algorithm>
#include <cstdint>

namespace quanqu::http {

unsigned status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_argument: return 400;
    case ErrorKind::unauthenticated: return 401;
    case ErrorKind::permission_denied: return 403;
    case ErrorKind::not_found: return 404;
    case ErrorKind::conflict: return 409;
    case ErrorKind::failed_precondition: return 422;
    case ErrorKind::unavailable: return 503;
    case ErrorKind::internal: return 500;
  }
  return 500;
}

namespace {
const char* title_for(unsigned status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Internal Server Error";
  }
}
}  // namespace

Response problem(const Error& error) {
  // Protocol-level refusals that the core's kinds do not name.
  if (error.code == "unsupported_media_type") return problem(error, 415);
  if (error.code == "payload_too_large") return problem(error, 413);
  // A plugin (route, provider) failed: the engine is fine, what it relied on is not.
  if (error.code == "plugin_error") return problem(error, 502);
  // A plugin (route, provider) did not answer within its deadline.
  if (error.code == "plugin_timeout") return problem(error, 504);
  return problem(error, status_for(error.kind));
}

Response problem(const Error& error, unsigned status) {
  nlohmann::json body{
      {"type", "https://quanqu.dev/problems/" + error.code},
      {"title", title_for(status)},
      {"status", status},
      {"detail", error.message},
      {"code", error.code},
  };
  if (!error.fields.empty()) {
    auto& list = body["errors"] = nlohmann::json::array();
    std::size_t shown = std::min(error.fields.size(), kMaxReportedFieldErrors);
    for (std::size_t i = 0; i < shown; ++i)
      list.push_back({{"field", error.fields[i].field}, {"message", error.fields[i].message}});
    if (error.fields.size() > shown) body["errors_truncated"] = error.fields.size() - shown;
  }
  if (!error.details.is_null()) body["details"] = error.details;
  if (error.extensions.is_object())
    for (const auto& [name, value] : error.extensions.items())
      if (!body.contains(name)) body[name] = value;
  Response r = Response::json(status, body);
  r.content_type = "application/problem+json";
  // An error that says when to retry (a busy plugin, a rate limit, a key in use) says it in HTTP too.
  if (error.details.is_object())
    if (auto it = error.details.find("retry_after"); it != error.details.end() && it->is_number_integer())
      r.set_header("Retry-After", std::to_string(it->get<std::int64_t>()));
  return r;
}

}  // namespace quanqu::http
