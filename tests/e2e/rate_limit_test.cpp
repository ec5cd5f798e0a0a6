// End to end: rate limits per publishable key, admin key, client address and guessed secret; 429 and RateLimit-*
// headers.
#include "support/fixture.h"
#include "support/metrics.h"
#include "support/plugins_dir.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;
using quanqu::e2e::metric_sample;

using quanqu::e2e::kAddress;

::testing::AssertionResult IsRateLimited(const HttpResponse& r, const std::string& bucket) {
  auto problem = IsProblem(r, 429, "rate_limited");
  if (!problem) return problem;
  json body = r.json();
  if (body["details"].value("bucket", "") != bucket)
    return ::testing::AssertionFailure() << "bucket " << body["details"] << ", expected " << bucket;
  const std::string retry = r.header("Retry-After");
  if (retry.empty() || retry.find_first_not_of("0123456789") != std::string::npos || std::stoi(retry) < 1)
    return ::testing::AssertionFailure() << "Retry-After '" << retry << "'";
  if (r.header("RateLimit-Remaining") != "0")
    return ::testing::AssertionFailure() << "RateLimit-Remaining '" << r.header("RateLimit-Remaining") << "'";
  return ::testing::AssertionSuccess();
}

// Store: one request every 2 s, burst 3. Admin: 2/s, burst 3. Open: one every 2 s, burst 2. Auth:
// next to no refill, 3 failures. Slow refills keep the counts exact on a busy machine.
class RateLimitTest : public E2ETest {
 protected:
  std::vector<std::string> extra_args() const override {
    return {"--rate-limit-store", "0.5:3", "--rate-limit-admin", "2:3",
            "--rate-limit-open",  "0.5:2", "--rate-limit-auth",  "0.001:3"};
  }
};

TEST_F(RateLimitTest, StoreKeyGetsItsBurstThenA429WithRetryAfterThenRecovers) {
  for (int i = 0; i < 3; ++i) {
    auto r = store().get("/v1/store/categories");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("RateLimit-Limit"), "3");
    EXPECT_EQ(r.header("RateLimit-Remaining"), std::to_string(2 - i));
    EXPECT_GE(std::stoi(r.header("RateLimit-Reset")), 1);
  }
  auto refused = store().get("/v1/store/categories");
  ASSERT_TRUE(IsRateLimited(refused, "store"));
  EXPECT_EQ(refused.header("Retry-After"), "2");  // a token every 2 s
  EXPECT_EQ(refused.header("RateLimit-Limit"), "3");

  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(refused.header("Retry-After"))));
  auto again = store().get("/v1/store/categories");
  EXPECT_EQ(again.status, 200u) << again.body;

  auto metrics = anonymous().get("/metrics");
  EXPECT_GE(metric_sample(metrics.body, "quanqu_rate_limited_total{bucket=\"store\"}"), 1) << metrics.body;
  EXPECT_EQ(metric_sample(metrics.body, "quanqu_rate_limited_total{bucket=\"admin\"}"), 0) << metrics.body;
}

TEST_F(RateLimitTest, SeparateKeysHaveSeparateBuckets) {
  // A second channel's storefront, made before the demo key's bucket is spent.
  auto channel = admin().post("/v1/admin/channels", {{"code", "kiosk"}, {"type", "web"}, {"currency", "CNY"}});
  ASSERT_EQ(channel.status, 201u) << channel.body;
  auto issued =
      admin().post("/v1/admin/channels/" + channel.json().value("id", "") + "/publishable-keys", {{"label", "kiosk"}});
  ASSERT_EQ(issued.status, 201u) << issued.body;
  HttpClient kiosk = storefront(issued.json().value("key", ""));

  while (store().get("/v1/store/categories").status == 200) {
  }
  EXPECT_TRUE(IsRateLimited(store().get("/v1/store/categories"), "store"));
  auto other = kiosk.get("/v1/store/categories");
  EXPECT_EQ(other.status, 200u) << other.body;
  EXPECT_EQ(other.header("RateLimit-Remaining"), "2");
  // The admin key has its own bucket too (the admin calls above spent 2 of its 3, refilling at 2/s).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto listed = admin().get("/v1/admin/channels");
  EXPECT_EQ(listed.status, 200u) << listed.body;
  EXPECT_EQ(listed.header("RateLimit-Limit"), "3");
}

TEST_F(RateLimitTest, RequestsWithoutCredentialsAreLimitedPerAddress) {
  HttpClient nobody = anonymous();
  auto first = nobody.get("/v1/store/categories");
  EXPECT_TRUE(IsProblem(first, 401, "auth.publishable_key_missing"));
  EXPECT_EQ(first.header("RateLimit-Limit"), "2");
  EXPECT_EQ(first.header("RateLimit-Remaining"), "1");
  EXPECT_TRUE(IsProblem(nobody.get("/v1/admin/products"), 401, "auth.admin_key_missing"));
  EXPECT_TRUE(IsRateLimited(nobody.get("/v1/admin/products"), "open"));
  // Plugin routes share the open bucket of the address.
  EXPECT_TRUE(IsRateLimited(nobody.get("/v1/plugins/none/x"), "open"));
  // Operational routes are not limited.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(nobody.get("/healthz").status, 200u);
}

TEST_F(RateLimitTest, UnknownKeysAreGuessesAndRunOutPerAddress) {
  for (int i = 0; i < 3; ++i) {
    HttpClient guess = storefront("qq_pk_guess" + std::to_string(i));
    EXPECT_TRUE(IsProblem(guess.get("/v1/store/categories"), 401, "auth.publishable_key_invalid"));
  }
  // The address has spent its failed attempts: the next key is refused before it is looked up,
  // whether it is right or not, and admin keys come from the same budget.
  EXPECT_TRUE(IsRateLimited(storefront("qq_pk_guess3").get("/v1/store/categories"), "auth"));
  EXPECT_TRUE(IsRateLimited(store().get("/v1/store/categories"), "auth"));
  HttpClient wrong_admin = anonymous();
  wrong_admin.set_default_header("Authorization", "Bearer qq_admin_guess");
  EXPECT_TRUE(IsRateLimited(wrong_admin.get("/v1/admin/products"), "auth"));
}

// The "good" fixture plugin behind the open bucket (100 requests, slow refill) and the guessing
// bucket (3 failures).
class PluginRateLimitTest : public E2ETest {
 protected:
  void SetUp() override {
    plugins_dir_.add(std::filesystem::path(QUANQU_FIXTURE_GOOD).parent_path(), "good");
    E2ETest::SetUp();
  }
  std::vector<std::string> extra_args() const override {
    auto args = plugins_dir_.args();
    args.insert(args.end(), {"--rate-limit-open", "0.001:100", "--rate-limit-auth", "0.001:3"});
    return args;
  }
  quanqu::e2e::PluginsDir plugins_dir_;
};

TEST_F(PluginRateLimitTest, PluginRepliesCarryTheRateLimitHeaders) {
  HttpClient nobody = anonymous();
  // The plugin's own reply and the host's 404 for a route it does not have both come later, from
  // the plugin call pool: they carry the headers all the same.
  auto hello = nobody.get("/v1/plugins/good/hello");
  ASSERT_EQ(hello.status, 200u) << hello.body;
  EXPECT_EQ(hello.header("RateLimit-Limit"), "100");
  EXPECT_EQ(hello.header("RateLimit-Remaining"), "99");
  EXPECT_FALSE(hello.header("RateLimit-Reset").empty());
  auto missing = nobody.get("/v1/plugins/good/nowhere");
  EXPECT_EQ(missing.status, 404u) << missing.body;
  EXPECT_EQ(missing.header("RateLimit-Remaining"), "98");
}

TEST_F(PluginRateLimitTest, UnknownKeysAndTokensOnPluginRoutesAreGuesses) {
  HttpClient guess = anonymous();
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(
        IsProblem(guess.get("/v1/plugins/good/hello", {{"X-Publishable-Key", "qq_pk_guess" + std::to_string(i)}}), 401,
                  "auth.publishable_key_invalid"));
  EXPECT_TRUE(IsProblem(guess.get("/v1/plugins/good/hello", {{"X-Customer-Token", "not-a-real-token"}}), 401,
                        "auth.customer_token_invalid"));
  // Three failures spent the address's budget: the next key or token is refused unread, and so
  // are the store routes' keys.
  EXPECT_TRUE(IsRateLimited(guess.get("/v1/plugins/good/hello", {{"X-Customer-Token", "another-token"}}), "auth"));
  EXPECT_TRUE(IsRateLimited(store().get("/v1/store/categories"), "auth"));
  // A request without a key or token is not a guess.
  EXPECT_EQ(guess.get("/v1/plugins/good/hello").status, 200u);
}

// Only guessing is limited here (the other buckets keep their defaults).
class OrderTokenLimitTest : public E2ETest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--rate-limit-auth", "0.001:3"}; }
};

TEST_F(OrderTokenLimitTest, WrongTokensRunOutPerOrderAndTheRightOneThenWaits) {
  auto checkout = [&](const std::string& idem) {
    auto cart = store().post("/v1/store/carts", {{"email", "li.lei@example.cn"},
                                                 {"shipping_address", kAddress},
                                                 {"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}});
    EXPECT_EQ(cart.status, 201u) << cart.body;
    auto order = store().request("POST", "/v1/store/carts/" + cart.json().value("id", "") + "/checkout", std::nullopt,
                                 {{"Idempotency-Key", idem}});
    EXPECT_EQ(order.status, 201u) << order.body;
    return order.json();
  };
  json order = checkout("rl-1"), other = checkout("rl-2");
  ASSERT_FALSE(HasFailure());
  std::string path = "/v1/store/orders/" + order.value("id", "");
  std::string token = order.value("access_token", "");

  // A right token costs nothing.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(store().get(path, {{"X-Order-Token", token}}).status, 200u);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(
        IsProblem(store().get(path, {{"X-Order-Token", "qq_ot_wrong" + std::to_string(i)}}), 404, "order.not_found"));
  // The order's guesses are spent: even the right token waits now.
  auto refused = store().get(path, {{"X-Order-Token", token}});
  EXPECT_TRUE(IsRateLimited(refused, "auth"));
  EXPECT_GE(std::stoi(refused.header("Retry-After")), 60);  // 0.001 per second: a long wait
  // Another order is another bucket.
  auto theirs =
      store().get("/v1/store/orders/" + other.value("id", ""), {{"X-Order-Token", other.value("access_token", "")}});
  EXPECT_EQ(theirs.status, 200u) << theirs.body;
}

// Several threads on one key never get more than the budget: the bucket barely refills here.
class RateLimitConcurrencyTest : public E2ETest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--rate-limit-store", "0.001:20"}; }
};

TEST_F(RateLimitConcurrencyTest, EightThreadsShareOneBudget) {
  constexpr int kThreads = 8, kEach = 10;
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      HttpClient c = storefront(server().publishable_key());
      start.arrive_and_wait();
      for (int i = 0; i < kEach; ++i) {
        auto r = c.get("/v1/store/categories");
        (r.status == 200 ? ok : r.status == 429 ? limited : other).fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(limited.load(), kThreads * kEach - 20);
  EXPECT_EQ(other.load(), 0);
}

}  // namespace
