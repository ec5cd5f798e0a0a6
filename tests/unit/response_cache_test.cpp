// The store reply cache: a catalog write stales every reply, a stock change only the replies showing its variants.
#include "store/response_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using quanqu::ChangeCounter;
using quanqu::api::ResponseCache;

ResponseCache::Body body(const std::string& text) {
  return quanqu::http::make_representation(text);
}

// Two variant ids that hash onto different stock slots.
std::pair<std::string, std::string> two_variants_in_different_slots() {
  std::string a = "var_a";
  for (int i = 0;; ++i) {
    std::string b = "var_b" + std::to_string(i);
    if (ChangeCounter::stock_slot(a) != ChangeCounter::stock_slot(b)) return {a, b};
  }
}

TEST(ResponseCache, AStockChangeStalesOnlyTheRepliesShowingItsVariant) {
  ChangeCounter changes;
  ResponseCache cache(changes, 60'000);
  auto [a, b] = two_variants_in_different_slots();
  cache.put("product-a", cache.seen(), {a}, body("a"));
  cache.put("product-b", cache.seen(), {b}, body("b"));
  cache.put("list", cache.seen(), {a, b}, body("both"));
  cache.put("categories", cache.seen(), {}, body("categories"));

  changes.bump_stock(a);
  EXPECT_EQ(cache.get("product-a"), nullptr);
  EXPECT_EQ(cache.get("list"), nullptr);
  EXPECT_NE(cache.get("product-b"), nullptr);
  EXPECT_NE(cache.get("categories"), nullptr);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 2u);

  // Stored again after the change, it is fresh until the variant moves again.
  cache.put("product-a", cache.seen(), {a}, body("a2"));
  EXPECT_NE(cache.get("product-a"), nullptr);
  changes.bump_stock(b);
  EXPECT_NE(cache.get("product-a"), nullptr);
}

TEST(ResponseCache, ACatalogWriteStalesEveryReply) {
  ChangeCounter changes;
  ResponseCache cache(changes, 60'000);
  cache.put("product", cache.seen(), {"var_a"}, body("a"));
  cache.put("categories", cache.seen(), {}, body("categories"));
  changes.bump();
  EXPECT_EQ(cache.get("product"), nullptr);
  EXPECT_EQ(cache.get("categories"), nullptr);
}

TEST(ResponseCache, AStockChangeDuringTheComputationLeavesTheReplyStale) {
  ChangeCounter changes;
  ResponseCache cache(changes, 60'000);
  auto seen = cache.seen();  // read before computing
  changes.bump_stock("var_a");  // a checkout commits while the reply is computed from older rows
  cache.put("product", seen, {"var_a"}, body("old"));
  EXPECT_EQ(cache.get("product"), nullptr);
}

TEST(ResponseCache, ExpiredOrDisabledRepliesAreNotServed) {
  ChangeCounter changes;
  ResponseCache expired(changes, 1);
  expired.put("product", expired.seen(), {"var_a"}, body("a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(expired.get("product"), nullptr);
  ResponseCache disabled(changes, 0);
  disabled.put("product", disabled.seen(), {"var_a"}, body("a"));
  EXPECT_EQ(disabled.get("product"), nullptr);
}

TEST(ChangeCounter, AStockSlotKeepsTheHighestSequenceUnderConcurrentBumps) {
  ChangeCounter changes;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) changes.bump_stock("var_a");
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(changes.stock_sequence(), 4000u);
  EXPECT_TRUE(changes.stock_unchanged_since(4000, {ChangeCounter::stock_slot("var_a")}));
  EXPECT_FALSE(changes.stock_unchanged_since(3999, {ChangeCounter::stock_slot("var_a")}));
}

}  // namespace
