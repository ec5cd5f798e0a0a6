// The idempotency key store: claim, replay, conflicting reuse, in-progress, release, lease takeover, expiry.
#include "idempotency/idempotency_service.h"

#include "core_test_support.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace quanqu::idempotency {
namespace {

using test_support::CoreEnv;
using test_support::describe;

class IdempotencyTest : public ::testing::Test {
 protected:
  CoreEnv env;
  IdempotencyService keys{env.db(), env.clock, {24LL * 3600 * 1000, 60'000}};
  const StoredReply reply{201, "application/json", R"({"id":"cart_1"})", "/v1/store/carts/cart_1"};
};

TEST_F(IdempotencyTest, FirstUseClaimsThenTheStoredReplyIsReplayed) {
  auto first = keys.claim("store:ch_1", "k1", "fp");
  ASSERT_TRUE(first.ok()) << describe(first);
  ASSERT_TRUE(first->claimed);
  ASSERT_TRUE(keys.complete("store:ch_1", "k1", first->claim_id, reply).ok());
  auto again = keys.claim("store:ch_1", "k1", "fp");
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_FALSE(again->claimed);
  EXPECT_EQ(again->replay.status, 201);
  EXPECT_EQ(again->replay.body, reply.body);
  EXPECT_EQ(again->replay.content_type, "application/json");
  EXPECT_EQ(again->replay.location, "/v1/store/carts/cart_1");
}

TEST_F(IdempotencyTest, AnotherRequestWithTheKeyIsAConflictPendingOrDone) {
  auto first = keys.claim("s", "k", "fp-a");
  ASSERT_TRUE(first.ok());
  auto other = keys.claim("s", "k", "fp-b");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "idempotency.key_reused");
  ASSERT_TRUE(keys.complete("s", "k", first->claim_id, reply).ok());
  other = keys.claim("s", "k", "fp-b");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "idempotency.key_reused");
}

TEST_F(IdempotencyTest, ScopesAreSeparate) {
  ASSERT_TRUE(keys.claim("store:a", "k", "fp").ok());
  auto b = keys.claim("store:b", "k", "other");
  ASSERT_TRUE(b.ok()) << describe(b);
  EXPECT_TRUE(b->claimed);
}

TEST_F(IdempotencyTest, InProgressUntilTheLeaseEndsThenTakenOver) {
  auto first = keys.claim("s", "k", "fp");
  ASSERT_TRUE(first.ok());
  auto busy = keys.claim("s", "k", "fp");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, "idempotency.in_progress");
  EXPECT_EQ(busy.error().kind, ErrorKind::conflict);
  EXPECT_GE(busy.error().details.value("retry_after", 0), 1);
  env.clock.advance(60'001);  // the first run died: its claim is taken over
  auto second = keys.claim("s", "k", "fp");
  ASSERT_TRUE(second.ok()) << describe(second);
  ASSERT_TRUE(second->claimed);
  EXPECT_NE(second->claim_id, first->claim_id);
  // The dead run's late completion or release does not touch the new claim.
  ASSERT_TRUE(keys.complete("s", "k", first->claim_id, reply).ok());
  ASSERT_TRUE(keys.release("s", "k", first->claim_id).ok());
  busy = keys.claim("s", "k", "fp");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, "idempotency.in_progress");
}

TEST_F(IdempotencyTest, ReleasedKeyCanBeUsedForAnyRequest) {
  auto first = keys.claim("s", "k", "fp-a");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(keys.release("s", "k", first->claim_id).ok());
  auto other = keys.claim("s", "k", "fp-b");
  ASSERT_TRUE(other.ok()) << describe(other);
  EXPECT_TRUE(other->claimed);
}

TEST_F(IdempotencyTest, KeysExpireAndArePruned) {
  auto first = keys.claim("s", "k", "fp-a");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(keys.complete("s", "k", first->claim_id, reply).ok());
  ASSERT_TRUE(keys.claim("s", "young", "fp").ok());
  env.clock.advance(24LL * 3600 * 1000 + 1);
  auto fresh = keys.claim("s", "k", "fp-b");  // an expired key is a new key
  ASSERT_TRUE(fresh.ok()) << describe(fresh);
  EXPECT_TRUE(fresh->claimed);
  // That claim pruned every expired row first (at most once a minute): only the new "k" is left.
  auto rows = env.db().read<long long>([](soci::session& sql) -> Result<long long> {
    long long n = 0;
    sql << "SELECT COUNT(*) FROM request_idempotency", soci::into(n);
    return n;
  });
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 1);
  env.clock.advance(24LL * 3600 * 1000 + 1);
  auto pruned = keys.prune();
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
}

TEST_F(IdempotencyTest, KeyValidation) {
  EXPECT_TRUE(IdempotencyService::validate_key("a").ok());
  EXPECT_TRUE(IdempotencyService::validate_key(std::string(255, 'x')).ok());
  for (std::string bad : {std::string(), std::string(256, 'x'), std::string("a b"), std::string("caf\xC3\xA9")}) {
    auto s = IdempotencyService::validate_key(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, "idempotency.key_invalid");
  }
}

TEST_F(IdempotencyTest, ConcurrentClaimsOfOneKeyClaimExactlyOnce) {
  constexpr int kThreads = 8;
  std::atomic<int> claimed{0}, busy{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      auto c = keys.claim("s", "race", "fp");
      if (c.ok() && c->claimed)
        claimed.fetch_add(1);
      else if (!c.ok() && c.error().code == "idempotency.in_progress")
        busy.fetch_add(1);
      else
        other.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.load(), 1);
  EXPECT_EQ(busy.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
}

}  // namespace
}  // namespace quanqu::idempotency
