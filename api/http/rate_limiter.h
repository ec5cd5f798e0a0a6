// Token-bucket rate limiting: one limit, a bounded table of buckets keyed by opaque strings.
#pragma once

#include "common/clock.h"
#include "common/result.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace quanqu::http {

// A sustained rate (tokens added per second) and a burst (the bucket's capacity, whole
// requests). A rate of 0 switches the limit off.
struct RateLimit {
  double rate = 0;
  double burst = 0;
  bool enabled() const { return rate > 0; }

  // "0" (off), "R" (R per second, burst R rounded up, at least 1) or "R:B" (burst B). R is a
  // decimal (0.2 is one request every five seconds), 0 <= R <= 1e6; B is a whole number,
  // 1 <= B <= 1e6. Anything else is an invalid_argument error naming the text.
  static Result<RateLimit> parse(std::string_view text);
};

// What a bucket said about one request, and what the RateLimit-* headers report.
struct RateDecision {
  bool allowed = true;
  std::int64_t limit = 0;          // the burst: RateLimit-Limit
  std::int64_t remaining = 0;      // whole tokens left after this request: RateLimit-Remaining
  std::int64_t reset_s = 0;        // seconds until the bucket is full again (rounded up): RateLimit-Reset
  std::int64_t retry_after_s = 0;  // refused only: seconds until one token is back (at least 1)
};

// One limit applied per key: each distinct key (a hash of a credential, a client address, ...)
// has its own bucket, created full on first use. Thread-safe: the table is split into shards,
// each behind its own mutex, so that concurrent requests for different keys rarely contend and
// concurrent requests for one key never take more tokens than the bucket holds.
//
// Memory is bounded: at most `max_buckets` buckets are held. A bucket that has refilled to its
// burst is indistinguishable from a new one, so it is dropped when its shard needs room; when
// every bucket of a full shard is still in use, the least recently used one is dropped (its key
// starts again with a full bucket: under such a flood the limit degrades, memory does not).
//
// Keys are stored as given: callers pass a hash of any secret, never the secret itself.
class RateLimiter {
 public:
  // `clock` must outlive the limiter. A disabled limit allows everything and stores nothing.
  RateLimiter(std::string name, RateLimit limit, const Clock& clock, std::size_t max_buckets = 65536);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  const std::string& name() const { return name_; }
  const RateLimit& limit() const { return limit_; }
  bool enabled() const { return limit_.enabled(); }

  // Takes one token from the key's bucket: allowed when one was there. A refusal is counted.
  RateDecision take(std::string_view key);
  // Whether a take() would be allowed now, without taking anything; a "no" is counted as a
  // refusal, as the caller then refuses the request. Creates no bucket. For buckets that count
  // only failures where successes are frequent: peek first, take() only on a failure.
  // Concurrent peeks may all pass before their failures are taken, so the budget can be
  // overrun by at most the number of requests handled at once.
  RateDecision peek(std::string_view key);
  // Returns one token to the key's bucket (never above the burst): for buckets that count only
  // failures, a request takes a token first and gives it back when it succeeded.
  void give_back(std::string_view key);

  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Buckets currently held (for tests and metrics).
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr std::size_t kShards = 16;

  Shard& shard_for(std::string_view key);
  void refill(Bucket& b, std::int64_t now) const;
  void make_room(Shard& shard, std::int64_t now);
  RateDecision describe(const Bucket& b, bool allowed) const;

  std::string name_;
  RateLimit limit_;
  const Clock& clock_;
  std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace quanqu::http
