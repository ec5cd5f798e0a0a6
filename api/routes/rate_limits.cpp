// The four route-class buckets, their metric, and the 429 reply.
#include "routes/rate_limits.h"
#include "common/random.h"
#include "http/problem.h"

namespace quanqu::api {

RateLimits::RateLimits(const RateLimitOptions& o, const Clock& clock)
    : store_(std::make_unique<http::RateLimiter>("store", o.store, clock, o.max_buckets)),
      admin_(std::make_unique<http::RateLimiter>("admin", o.admin, clock, o.max_buckets)),
      open_(std::make_unique<http::RateLimiter>("open", o.open, clock, o.max_buckets)),
      auth_(std::make_unique<http::RateLimiter>("auth", o.auth, clock, o.max_buckets)) {}

http::RateLimiter& RateLimits::bucket(RouteClass c) {
  switch (c) {
    case RouteClass::store:
      return *store_;
    case RouteClass::admin:
      return *admin_;
    case RouteClass::open:
      return *open_;
    case RouteClass::auth:
      return *auth_;
  }
  return *open_;
}

void RateLimits::register_metrics(http::Metrics& metrics) {
  metrics.add_labeled("quanqu_rate_limited_total", "Requests refused with 429 by a rate limit, by bucket.", "bucket",
                      [this] {
                        http::Metrics::LabeledSamples out;
                        for (const auto* b : {store_.get(), admin_.get(), open_.get(), auth_.get()})
                          out.emplace_back(b->name(), static_cast<double>(b->refused()));
                        return out;
                      });
}

std::string secret_key(std::string_view secret) {
  return sha256_hex(secret).substr(0, 32);
}

void set_rate_headers(http::Response& response, const std::optional<http::RateDecision>& d) {
  if (!d) return;
  if (response.deferred) {
    // The server ignores the rest of a deferred Response: set them on the one that comes later.
    response.deferred = [start = std::move(response.deferred), d](http::Response::Completion complete) {
      start([complete = std::move(complete), d](http::Response later) {
        set_rate_headers(later, d);
        complete(std::move(later));
      });
    };
    return;
  }
  // A reply refused by an inner bucket (429) already describes that bucket.
  for (const auto& [name, value] : response.headers)
    if (name == "RateLimit-Limit") return;
  response.set_header("RateLimit-Limit", std::to_string(d->limit));
  response.set_header("RateLimit-Remaining", std::to_string(d->remaining));
  response.set_header("RateLimit-Reset", std::to_string(d->reset_s));
}

namespace {

http::Response too_many(const http::RateLimiter& bucket, const http::RateDecision& d) {
  auto reply = http::problem(Error::make(ErrorKind::unavailable, "rate_limited",
                                         "too many requests; retry after " + std::to_string(d.retry_after_s) + " s",
                                         {{"bucket", bucket.name()}, {"retry_after", d.retry_after_s}}),
                             429);
  reply.set_header("Retry-After", std::to_string(d.retry_after_s));
  set_rate_headers(reply, d);
  return reply;
}

}  // namespace

std::optional<http::Response> over_limit(RateLimits* limits, RouteClass c, std::string_view key,
                                         std::optional<http::RateDecision>* shown) {
  if (!limits || !limits->bucket(c).enabled()) return std::nullopt;
  http::RateDecision d = limits->bucket(c).take(key);
  if (!d.allowed) return too_many(limits->bucket(c), d);
  if (shown) *shown = d;
  return std::nullopt;
}

std::optional<http::Response> exhausted(RateLimits* limits, RouteClass c, std::string_view key) {
  if (!limits || !limits->bucket(c).enabled()) return std::nullopt;
  http::RateDecision d = limits->bucket(c).peek(key);
  if (!d.allowed) return too_many(limits->bucket(c), d);
  return std::nullopt;
}

void charge(RateLimits* limits, RouteClass c, std::string_view key) {
  if (limits) (void)limits->bucket(c).take(key);
}

}  // namespace quanqu::api
