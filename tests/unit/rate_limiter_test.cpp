// Token-bucket arithmetic, parsing, eviction and thread safety of http::RateLimiter (injected clock).
#include "http/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace quanqu::http {
namespace {

class ManualClock final : public Clock {
 public:
  std::int64_t now_ms() const override { return now_.load(); }
  void advance(std::int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> now_{1'000'000};
};

TEST(RateLimit, ParsesRateAndBurst) {
  auto off = RateLimit::parse("0");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled());
  auto plain = RateLimit::parse("10");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->rate, 10);
  EXPECT_EQ(plain->burst, 10);
  auto slow = RateLimit::parse("0.2");
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(slow->burst, 1);  // a fraction of a request per second still allows one
  auto both = RateLimit::parse("2.5:40");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->rate, 2.5);
  EXPECT_EQ(both->burst, 40);
  for (const char* bad : {"", "x", "-1", "1:", "1:0", "1:2.5", "1e3", "2000000", "1:2000000", " 1", "1:2:3", "nan"})
    EXPECT_FALSE(RateLimit::parse(bad).ok()) << bad;
  EXPECT_EQ(RateLimit::parse("x").error().code, "rate_limit.invalid");
}

TEST(RateLimiter, BurstThenRefusalWithRetryAfterThenRefill) {
  ManualClock clock;
  RateLimiter limiter("store", {2, 4}, clock);  // 2 per second, burst 4
  for (int i = 0; i < 4; ++i) {
    auto d = limiter.take("k");
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 4);
    EXPECT_EQ(d.remaining, 3 - i);
  }
  auto refused = limiter.take("k");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after_s, 1);  // one token comes back in 0.5 s: rounded up to 1
  EXPECT_EQ(refused.reset_s, 2);        // 4 tokens at 2/s
  EXPECT_EQ(limiter.refused(), 1u);

  clock.advance(499);
  EXPECT_FALSE(limiter.take("k").allowed);
  clock.advance(1);
  auto back = limiter.take("k");
  EXPECT_TRUE(back.allowed);
  EXPECT_EQ(back.remaining, 0);
  clock.advance(10'000);  // refills to the burst, never beyond
  auto full = limiter.take("k");
  EXPECT_EQ(full.remaining, 3);
  EXPECT_EQ(full.reset_s, 1);  // one token missing at 2/s: 0.5 s, rounded up
}

TEST(RateLimiter, SlowRateRetryAfterIsTheWaitForOneToken) {
  ManualClock clock;
  RateLimiter limiter("auth", {0.2, 1}, clock);
  EXPECT_TRUE(limiter.take("k").allowed);
  auto d = limiter.take("k");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 5);
  clock.advance(4'000);
  EXPECT_EQ(limiter.take("k").retry_after_s, 1);
  clock.advance(1'000);
  EXPECT_TRUE(limiter.take("k").allowed);
}

TEST(RateLimiter, KeysHaveSeparateBuckets) {
  ManualClock clock;
  RateLimiter limiter("store", {1, 1}, clock);
  EXPECT_TRUE(limiter.take("a").allowed);
  EXPECT_FALSE(limiter.take("a").allowed);
  EXPECT_TRUE(limiter.take("b").allowed);
}

TEST(RateLimiter, ClockSteppingBackNeitherAddsNorRemovesTokens) {
  class BackClock final : public Clock {
   public:
    std::int64_t now_ms() const override { return now; }
    std::int64_t now = 10'000;
  } clock;
  RateLimiter limiter("store", {1, 1}, clock);
  EXPECT_TRUE(limiter.take("k").allowed);
  clock.now = 5'000;
  EXPECT_FALSE(limiter.take("k").allowed);
  clock.now = 11'000;
  EXPECT_TRUE(limiter.take("k").allowed);
}

TEST(RateLimiter, DisabledAllowsEverythingAndStoresNothing) {
  ManualClock clock;
  RateLimiter limiter("open", {}, clock);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.take("k" + std::to_string(i)).allowed);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiter, PeekDoesNotTakeAndGiveBackReturnsAToken) {
  ManualClock clock;
  RateLimiter limiter("auth", {0.1, 2}, clock);
  EXPECT_TRUE(limiter.peek("k").allowed);
  EXPECT_EQ(limiter.size(), 0u);  // a peek creates nothing
  EXPECT_TRUE(limiter.take("k").allowed);
  EXPECT_TRUE(limiter.take("k").allowed);
  EXPECT_FALSE(limiter.peek("k").allowed);
  EXPECT_EQ(limiter.refused(), 1u);
  limiter.give_back("k");
  EXPECT_TRUE(limiter.peek("k").allowed);
  limiter.give_back("k");
  limiter.give_back("k");  // never above the burst
  EXPECT_TRUE(limiter.take("k").allowed);
  EXPECT_TRUE(limiter.take("k").allowed);
  EXPECT_FALSE(limiter.take("k").allowed);
}

TEST(RateLimiter, TableIsBounded) {
  ManualClock clock;
  RateLimiter limiter("open", {1, 2}, clock, 16 * 4);  // 4 buckets per shard
  for (int i = 0; i < 10'000; ++i) (void)limiter.take("client-" + std::to_string(i));
  EXPECT_LE(limiter.size(), 64u);
  // Bounded memory does not mean a fresh bucket for a drained key while idle ones can go:
  clock.advance(10'000);  // every bucket has refilled: all are idle
  EXPECT_TRUE(limiter.take("busy").allowed);
  EXPECT_TRUE(limiter.take("busy").allowed);
  EXPECT_FALSE(limiter.take("busy").allowed);
  EXPECT_LE(limiter.size(), 64u);
}

TEST(RateLimiter, ConcurrentTakesNeverExceedTheBudget) {
  ManualClock clock;  // time stands still: exactly the burst can be taken
  RateLimiter limiter("store", {1, 500}, clock);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (limiter.take("shared").allowed) allowed.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 500);
  EXPECT_EQ(limiter.refused(), 8u * 1000 - 500);
}

}  // namespace
}  // namespace quanqu::http
