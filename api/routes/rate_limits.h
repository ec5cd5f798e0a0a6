// The API's rate limits by route class, and the 429 / RateLimit-* replies they produce.
#pragma once

#include "http/message.h"
#include "http/metrics.h"
#include "http/rate_limiter.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace quanqu::api {

// Which bucket a request is counted in. Each class is one RateLimiter; its key is:
//  * store: the publishable key's hash and the client address (a storefront's shoppers behind
//    one address share a bucket; two storefronts on one address do not);
//  * admin: the admin key's hash;
//  * open: the client address, for requests without credentials (a store or admin route called
//    without its key) and for every plugin route (/v1/plugins/...);
//  * auth: failed attempts at a secret, per client address and what was guessed: a wrong
//    X-Order-Token per order, an unknown publishable or admin key per address. Only failures
//    are counted (a success gives its token back); once the bucket is empty, further attempts
//    are refused before the secret is even checked.
// The operational routes (/healthz, /readyz, /metrics, /v1/openapi.json) are not limited.
enum class RouteClass { store, admin, open, auth };

struct RateLimitOptions {
  // Defaults: generous for one storefront or admin tool (and for the test suite), tight for
  // guessing. `--rate-limit-*` flags and QUANQU_RATE_LIMIT_* variables override them.
  http::RateLimit store{100, 500};
  http::RateLimit admin{50, 500};
  http::RateLimit open{20, 100};
  http::RateLimit auth{0.2, 20};
  std::size_t max_buckets = 65536;  // per class; see RateLimiter
};

// One RateLimiter per RouteClass. Thread-safe.
class RateLimits {
 public:
  // `clock` must outlive this object.
  RateLimits(const RateLimitOptions& options, const Clock& clock);

  http::RateLimiter& bucket(RouteClass c);

  // Registers quanqu_rate_limited_total{bucket="store|admin|open|auth"}: requests refused.
  void register_metrics(http::Metrics& metrics);

 private:
  std::unique_ptr<http::RateLimiter> store_, admin_, open_, auth_;
};

// A key for a secret in a bucket table: a prefix of its SHA-256, never the secret itself.
std::string secret_key(std::string_view secret);

// Takes a token from `limits`' bucket of class `c` for `key`. Allowed: nothing is returned and
// `*shown` (when given) receives the decision, for the reply's headers. Refused: the reply to
// send instead, a 429 problem+json `rate_limited` with Retry-After (whole seconds) and the
// bucket's RateLimit-* headers. A null `limits` or a disabled class allows everything.
std::optional<http::Response> over_limit(RateLimits* limits, RouteClass c, std::string_view key,
                                         std::optional<http::RateDecision>* shown = nullptr);

// Like over_limit, but only looks (RateLimiter::peek): for the auth bucket, where a request is
// refused once its failures have used the budget up, and charge() records each failure.
std::optional<http::Response> exhausted(RateLimits* limits, RouteClass c, std::string_view key);
// Takes one token for a failure from the class's bucket (see exhausted()).
void charge(RateLimits* limits, RouteClass c, std::string_view key);

// Sets RateLimit-Limit (the burst), RateLimit-Remaining (whole requests left) and RateLimit-Reset
// (seconds until the bucket is full again) from `decision`; nothing when there is none, or when
// the response carries them already (a 429 from an inner bucket, which they then describe). On a
// deferred response they are set on the response it completes with.
void set_rate_headers(http::Response& response, const std::optional<http::RateDecision>& decision);

}  // namespace quanqu::api
