// The plugin key-value store on SQLite and PostgreSQL: expiry, increment, compare-and-set, listing, pruning.
#include "plugins/kv_store.h"
#include "database_test_support.h"
#include "common/random.h"
#include "storage/database.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace quanqu {
namespace {

using plugins::KvStore;

class SettableClock final : public Clock {
 public:
  std::int64_t now_ms() const override { return now.load(); }
  std::atomic<std::int64_t> now{1'767'225'600'000};
};

// A fresh, migrated database per test on each backend (database_test_support.h).
class KvStoreTest : public test_support::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    kv_ = std::make_unique<KvStore>(db(), clock_);
  }

  void TearDown() override {
    kv_.reset();
    BackendTest::TearDown();
  }

  std::optional<std::string> get(const std::string& plugin, const std::string& key) {
    auto got = kv_->get(plugin, key);
    if (!got) throw std::runtime_error(got.error().message);
    return *got;
  }

  std::vector<std::string> keys(const plugins::KvPage& page) {
    std::vector<std::string> out;
    for (const auto& item : page.items) out.push_back(item.key);
    return out;
  }

  SettableClock clock_;
  std::unique_ptr<KvStore> kv_;
};

TEST_P(KvStoreTest, IncrementCountsFromZeroAndStoresDecimalText) {
  auto first = kv_->incr("p", "hits", 1, 0);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 1);
  EXPECT_EQ(*kv_->incr("p", "hits", 41, 0), 42);
  EXPECT_EQ(*kv_->incr("p", "hits", -50, 0), -8);
  EXPECT_EQ(get("p", "hits"), "-8");
  EXPECT_EQ(*kv_->incr("q", "hits", 5, 0), 5);  // another plugin's key of the same name

  ASSERT_TRUE(kv_->put("p", "stock", "0012").ok());  // leading zeros are still a decimal integer
  EXPECT_EQ(*kv_->incr("p", "stock", 1, 0), 13);
}

TEST_P(KvStoreTest, IncrementRefusesANonIntegerOrAnOverflowAndChangesNothing) {
  for (const char* bad : {"abc", "", "1.5", " 7", "+7", "-", "12a", "99999999999999999999", "1e3"}) {
    ASSERT_TRUE(kv_->put("p", "k", bad).ok());
    auto r = kv_->incr("p", "k", 1, 0);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' was taken for an integer";
    EXPECT_EQ(r.error().code, "plugin.kv_not_integer") << bad;
    EXPECT_EQ(get("p", "k"), bad);
  }
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  ASSERT_TRUE(kv_->put("p", "big", std::to_string(kMax)).ok());
  auto over = kv_->incr("p", "big", 1, 0);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "plugin.kv_overflow");
  EXPECT_EQ(over.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(get("p", "big"), std::to_string(kMax));
  EXPECT_EQ(*kv_->incr("p", "big", -1, 0), kMax - 1);

  ASSERT_TRUE(kv_->put("p", "small", "-9223372036854775808").ok());  // INT64_MIN parses
  EXPECT_EQ(kv_->incr("p", "small", -1, 0).error().code, "plugin.kv_overflow");
  EXPECT_EQ(*kv_->incr("p", "small", 0, 0), kMin);
  EXPECT_EQ(kv_->incr("p", "fresh", kMin, 0).ok(), true);  // an absent key counts from 0
}

TEST_P(KvStoreTest, AKeyWithATtlExpiresAndIsInvisibleToEveryOperation) {
  ASSERT_TRUE(kv_->put("p", "session", "s1", 1000).ok());
  ASSERT_TRUE(kv_->put("p", "forever", "f").ok());
  EXPECT_EQ(get("p", "session"), "s1");
  clock_.now += 999;
  EXPECT_EQ(get("p", "session"), "s1");
  clock_.now += 1;  // the expiry itself is past
  EXPECT_EQ(get("p", "session"), std::nullopt);
  EXPECT_EQ(get("p", "forever"), "f");
  EXPECT_EQ(keys(*kv_->list("p", "", "", 10)), (std::vector<std::string>{"forever"}));
  EXPECT_EQ(*kv_->cas("p", "session", std::nullopt, "s2", 0), true);  // expired is absent
  EXPECT_EQ(get("p", "session"), "s2");

  // kv_put without a TTL clears an earlier expiry; with one it sets a new one.
  ASSERT_TRUE(kv_->put("p", "k", "v", 10).ok());
  ASSERT_TRUE(kv_->put("p", "k", "v").ok());
  clock_.now += 100;
  EXPECT_EQ(get("p", "k"), "v");
  auto page = kv_->list("p", "k", "", 10);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].expires_at_ms, std::nullopt);
  ASSERT_TRUE(kv_->put("p", "k", "v", 5000).ok());
  page = kv_->list("p", "k", "", 10);
  EXPECT_EQ(page->items[0].expires_at_ms, clock_.now_ms() + 5000);

  for (std::int64_t bad : {std::int64_t{-1}, KvStore::kMaxTtlMs + 1}) {
    EXPECT_EQ(kv_->put("p", "k", "v", bad).error().code, "plugin.kv_invalid") << bad;
    EXPECT_EQ(kv_->incr("p", "n", 1, bad).error().code, "plugin.kv_invalid") << bad;
    EXPECT_EQ(kv_->cas("p", "k", std::nullopt, "v", bad).error().code, "plugin.kv_invalid") << bad;
  }
  EXPECT_TRUE(kv_->put("p", "k", "v", KvStore::kMaxTtlMs).ok());
}

TEST_P(KvStoreTest, AnIncrementKeepsTheExpiryOfAnExistingKeyAndRestartsAnExpiredOne) {
  EXPECT_EQ(*kv_->incr("p", "window", 1, 60'000), 1);
  std::int64_t expiry = clock_.now_ms() + 60'000;
  clock_.now += 30'000;
  EXPECT_EQ(*kv_->incr("p", "window", 1, 60'000), 2);  // the same window: the TTL is not renewed
  EXPECT_EQ(kv_->list("p", "window", "", 1)->items.at(0).expires_at_ms, expiry);
  clock_.now += 30'000;
  EXPECT_EQ(get("p", "window"), std::nullopt);
  EXPECT_EQ(*kv_->incr("p", "window", 5, 60'000), 5);  // a new window
  EXPECT_EQ(kv_->list("p", "window", "", 1)->items.at(0).expires_at_ms, clock_.now_ms() + 60'000);
  // An expired non-integer is gone too: the increment starts over.
  ASSERT_TRUE(kv_->put("p", "text", "abc", 10).ok());
  clock_.now += 10;
  EXPECT_EQ(*kv_->incr("p", "text", 3, 0), 3);
}

TEST_P(KvStoreTest, CompareAndSetSwapsOnlyOnTheExpectedValue) {
  EXPECT_EQ(*kv_->cas("p", "lock", std::nullopt, "a", 0), true);   // absent, as expected
  EXPECT_EQ(*kv_->cas("p", "lock", std::nullopt, "b", 0), false);  // present now
  EXPECT_EQ(get("p", "lock"), "a");
  EXPECT_EQ(*kv_->cas("p", "lock", std::string_view("x"), "b", 0), false);  // mismatch
  EXPECT_EQ(get("p", "lock"), "a");
  EXPECT_EQ(*kv_->cas("p", "lock", std::string_view("a"), "b", 0), true);
  EXPECT_EQ(get("p", "lock"), "b");
  EXPECT_EQ(*kv_->cas("p", "none", std::string_view("a"), "b", 0), false);  // absent, a value expected
  EXPECT_EQ(get("p", "none"), std::nullopt);
  EXPECT_EQ(*kv_->cas("p", "empty", std::nullopt, "", 0), true);  // an empty value is a value
  EXPECT_EQ(*kv_->cas("p", "empty", std::string_view(""), "full", 0), true);
  EXPECT_EQ(*kv_->cas("q", "lock", std::nullopt, "mine", 0), true);  // scoped to the plugin

  // A swap with a TTL; an expired value no longer matches what was expected.
  EXPECT_EQ(*kv_->cas("p", "lock", std::string_view("b"), "c", 100), true);
  clock_.now += 100;
  EXPECT_EQ(*kv_->cas("p", "lock", std::string_view("c"), "d", 0), false);
  EXPECT_EQ(*kv_->cas("p", "lock", std::nullopt, "e", 0), true);
  EXPECT_EQ(get("p", "lock"), "e");

  EXPECT_EQ(kv_->cas("p", "", std::nullopt, "v", 0).error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv_->cas("p", "k", std::string_view("\xff"), "v", 0).error().code, "plugin.kv_invalid");
}

TEST_P(KvStoreTest, ListsByPrefixInByteOrderWithACursor) {
  // Byte order: upper case before lower case, a multi-byte character after every ASCII one,
  // whatever the PostgreSQL server's locale would say. Give the column a linguistic collation
  // where the server has ICU (under it "a" < "B"), to show the listing does not depend on it.
  if (GetParam() == storage::Backend::postgresql) {
    auto icu = db().read<Ok>([](soci::session& sql) -> Result<Ok> {
      sql << "ALTER TABLE plugin_kv ALTER COLUMN k TYPE TEXT COLLATE \"und-x-icu\"";
      return Ok{};
    });
    if (!icu) std::cerr << "no ICU collation here, the column keeps the database's: " << icu.error().message << "\n";
  }
  for (const char* key : {"order:b", "order:B", "order:a", "order:\xc3\xa9", "order:aa", "orders", "other", "o"})
    ASSERT_TRUE(kv_->put("p", key, std::string("value of ") + key).ok());
  ASSERT_TRUE(kv_->put("q", "order:z", "another plugin's").ok());

  auto first = kv_->list("p", "order:", "", 2);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(keys(*first), (std::vector<std::string>{"order:B", "order:a"}));
  EXPECT_EQ(first->items[1].value, "value of order:a");
  ASSERT_EQ(first->next_cursor, "order:a");
  auto second = kv_->list("p", "order:", *first->next_cursor, 2);
  EXPECT_EQ(keys(*second), (std::vector<std::string>{"order:aa", "order:b"}));
  ASSERT_EQ(second->next_cursor, "order:b");
  auto third = kv_->list("p", "order:", *second->next_cursor, 2);
  EXPECT_EQ(keys(*third), (std::vector<std::string>{"order:\xc3\xa9"}));
  EXPECT_EQ(third->next_cursor, std::nullopt);

  // A page exactly full says no more when nothing follows.
  auto exact = kv_->list("p", "order:", "order:aa", 2);
  EXPECT_EQ(keys(*exact), (std::vector<std::string>{"order:b", "order:\xc3\xa9"}));
  EXPECT_EQ(exact->next_cursor, std::nullopt);

  EXPECT_EQ(kv_->list("p", "", "", 1000)->items.size(), 8u);  // an empty prefix lists every key
  EXPECT_EQ(keys(*kv_->list("p", "order:\xc3\xa9", "", 10)), (std::vector<std::string>{"order:\xc3\xa9"}));
  EXPECT_TRUE(kv_->list("p", "nothing", "", 10)->items.empty());

  EXPECT_EQ(kv_->list("p", "", "", 0).error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv_->list("p", "", "", KvStore::kMaxListLimit + 1).error().code, "plugin.kv_invalid");
  EXPECT_EQ(kv_->list("p", std::string(KvStore::kMaxKeyBytes + 1, 'x'), "", 1).error().code, "plugin.kv_invalid");
}

TEST_P(KvStoreTest, AListPageEndsOnceItsValuesPassOneMebibyte) {
  const std::string value(KvStore::kMaxValueBytes, 'v');  // 64 KiB each: 16 make exactly 1 MiB
  for (int i = 0; i < 20; ++i) {
    std::string key = "blob:" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    ASSERT_TRUE(kv_->put("p", key, value).ok());
  }
  auto first = kv_->list("p", "blob:", "", 1000);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->items.size(), 17u);  // the item that passes 1 MiB is still in the page
  ASSERT_EQ(first->next_cursor, "blob:16");
  auto rest = kv_->list("p", "blob:", *first->next_cursor, 1000);
  EXPECT_EQ(keys(*rest), (std::vector<std::string>{"blob:17", "blob:18", "blob:19"}));
  EXPECT_EQ(rest->next_cursor, std::nullopt);
}

TEST_P(KvStoreTest, PruningDeletesExpiredRowsInBoundedBatches) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(kv_->put(i % 2 ? "p" : "q", "gone" + std::to_string(i), "x", 10).ok());
  ASSERT_TRUE(kv_->put("p", "later", "x", 1'000'000).ok());
  ASSERT_TRUE(kv_->put("p", "forever", "x").ok());
  EXPECT_EQ(*kv_->prune_expired(100), 0);  // nothing has expired yet
  clock_.now += 10;
  EXPECT_EQ(*kv_->prune_expired(3), 3);
  EXPECT_EQ(*kv_->prune_expired(100), 2);
  EXPECT_EQ(*kv_->prune_expired(100), 0);
  EXPECT_EQ(get("p", "later"), "x");
  EXPECT_EQ(get("p", "forever"), "x");
  auto rows = db().read<long long>([](soci::session& sql) -> Result<long long> {
    long long n = 0;
    sql << "SELECT COUNT(*) FROM plugin_kv", soci::into(n);
    return n;
  });
  EXPECT_EQ(*rows, 2);
}

TEST_P(KvStoreTest, ConcurrentIncrementsAndClaimsAreAtomic) {
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> failures{0}, claims{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!kv_->incr("p", "counter", 1, 0).ok()) ++failures;
        auto claimed = kv_->cas("p", "claim:" + std::to_string(i), std::nullopt, "mine", 60'000);
        if (!claimed.ok())
          ++failures;
        else if (*claimed)
          ++claims;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(get("p", "counter"), std::to_string(kThreads * kEach));
  EXPECT_EQ(claims.load(), kEach);  // each claim key won by exactly one thread
}

INSTANTIATE_TEST_SUITE_P(Backends, KvStoreTest,
                         ::testing::Values(storage::Backend::sqlite, storage::Backend::postgresql),
                         test_support::backend_name);

}  // namespace
}  // namespace quanqu
