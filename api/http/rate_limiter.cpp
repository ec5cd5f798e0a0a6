// Token buckets in sharded tables: refill arithmetic, the headers' numbers, eviction.
#include "http/rate_limiter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <optional>

namespace quanqu::http {
namespace {

constexpr double kMaxRate = 1e6;

std::optional<double> parse_number(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::int64_t ceil_seconds(double s) {
  return static_cast<std::int64_t>(std::ceil(s - 1e-9));
}

}  // namespace

Result<RateLimit> RateLimit::parse(std::string_view text) {
  auto bad = [&] {
    return Error::invalid("rate_limit.invalid", "rate limit '" + std::string(text) +
                                                    "' is not R or R:B (R requests per second, 0 to 1000000, "
                                                    "0 = off; B a whole burst, 1 to 1000000)");
  };
  auto colon = text.find(':');
  auto rate = parse_number(text.substr(0, colon));
  if (!rate || *rate < 0 || *rate > kMaxRate) return bad();
  if (*rate == 0) return RateLimit{};
  double burst = std::max(1.0, std::ceil(*rate));
  if (colon != std::string_view::npos) {
    auto b = parse_number(text.substr(colon + 1));
    if (!b || *b < 1 || *b > kMaxRate || *b != std::floor(*b)) return bad();
    burst = *b;
  }
  return RateLimit{*rate, burst};
}

RateLimiter::RateLimiter(std::string name, RateLimit limit, const Clock& clock, std::size_t max_buckets)
    : name_(std::move(name)),
      limit_(limit),
      clock_(clock),
      max_per_shard_(std::max<std::size_t>(1, max_buckets / kShards)) {}

RateLimiter::Shard& RateLimiter::shard_for(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void RateLimiter::refill(Bucket& b, std::int64_t now) const {
  // A clock that stepped back adds nothing (it never takes tokens away either).
  if (now > b.updated_ms) b.tokens = std::min(limit_.burst, b.tokens + (now - b.updated_ms) * limit_.rate / 1000.0);
  b.updated_ms = std::max(b.updated_ms, now);
}

void RateLimiter::make_room(Shard& shard, std::int64_t now) {
  auto& buckets = shard.buckets;
  for (auto it = buckets.begin(); it != buckets.end();) {
    refill(it->second, now);
    it = it->second.tokens >= limit_.burst ? buckets.erase(it) : std::next(it);
  }
  if (buckets.size() < max_per_shard_) return;
  auto oldest = std::min_element(buckets.begin(), buckets.end(), [](const auto& a, const auto& b) {
    return a.second.updated_ms < b.second.updated_ms;
  });
  buckets.erase(oldest);
}

RateDecision RateLimiter::describe(const Bucket& b, bool allowed) const {
  RateDecision d;
  d.allowed = allowed;
  d.limit = static_cast<std::int64_t>(limit_.burst);
  d.remaining = static_cast<std::int64_t>(std::floor(b.tokens + 1e-9));
  d.reset_s = ceil_seconds((limit_.burst - b.tokens) / limit_.rate);
  if (!allowed) d.retry_after_s = std::max<std::int64_t>(1, ceil_seconds((1.0 - b.tokens) / limit_.rate));
  return d;
}

RateDecision RateLimiter::take(std::string_view key) {
  if (!enabled()) return {};
  std::int64_t now = clock_.now_ms();
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) make_room(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{limit_.burst, now}).first;
  } else {
    refill(it->second, now);
  }
  Bucket& b = it->second;
  // The small epsilon keeps 0.999999... (rounding of rate * elapsed) from refusing a token.
  bool allowed = b.tokens >= 1.0 - 1e-9;
  if (allowed) {
    b.tokens = std::max(0.0, b.tokens - 1.0);
  } else {
    refused_.fetch_add(1, std::memory_order_relaxed);
  }
  return describe(b, allowed);
}

RateDecision RateLimiter::peek(std::string_view key) {
  if (!enabled()) return {};
  std::int64_t now = clock_.now_ms();
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) return describe(Bucket{limit_.burst, now}, true);
  refill(it->second, now);
  bool allowed = it->second.tokens >= 1.0 - 1e-9;
  if (!allowed) refused_.fetch_add(1, std::memory_order_relaxed);
  return describe(it->second, allowed);
}

void RateLimiter::give_back(std::string_view key) {
  if (!enabled()) return;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) return;  // evicted meanwhile: it is full already
  it->second.tokens = std::min(limit_.burst, it->second.tokens + 1.0);
}

std::size_t RateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.buckets.size();
  }
  return n;
}

}  // namespace quanqu::http
