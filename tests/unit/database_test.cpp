// Database on SQLite and PostgreSQL: a snapshot read sees one committed state, a plain read sees each commit.
#include "database_test_support.h"
#include "storage/database.h"

#include <gtest/gtest.h>

#include <thread>

namespace quanqu {
namespace {

class DatabaseTest : public test_support::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto made = db().write<Ok>([](soci::session& sql) -> Result<Ok> {
      sql << "CREATE TABLE probe (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)";
      sql << "INSERT INTO probe (id, n) VALUES (1, 1)";
      return Ok{};
    });
    ASSERT_TRUE(made.ok());
  }

  static long long probe(soci::session& sql) {
    long long n = 0;
    sql << "SELECT n FROM probe WHERE id = 1", soci::into(n);
    return n;
  }

  // Commits n = `value` from another thread (so on another pooled connection) and waits for it.
  void commit_elsewhere(long long value) {
    Status done = Error::internal("not run");
    std::thread writer([&] {
      done = db().write<Ok>([&](soci::session& sql) -> Result<Ok> {
        sql << "UPDATE probe SET n = :n WHERE id = 1", soci::use(value);
        return Ok{};
      });
    });
    writer.join();
    ASSERT_TRUE(done.ok());
  }

  // The two values a read took of the probe, with a commit between them.
  template <class Read>
  std::pair<long long, long long> read_around_a_commit(Read read, long long value) {
    auto seen = read([&](soci::session& sql) -> Result<std::pair<long long, long long>> {
      long long before = probe(sql);
      commit_elsewhere(value);
      return std::pair(before, probe(sql));
    });
    EXPECT_TRUE(seen.ok());
    return seen.ok() ? *seen : std::pair(-1LL, -1LL);
  }
};

TEST_P(DatabaseTest, ASnapshotReadSeesTheStateItStartedWithThroughout) {
  auto [before, after] = read_around_a_commit(
      [&](auto fn) { return db().snapshot<std::pair<long long, long long>>(fn); }, 2);
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 1) << "a commit made during the snapshot showed through";
  // The commit happened, and the next read sees it.
  auto now = db().snapshot<long long>([](soci::session& sql) -> Result<long long> { return probe(sql); });
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, 2);
}

TEST_P(DatabaseTest, APlainReadSeesEachCommitAsItHappens) {
  auto [before, after] = read_around_a_commit(
      [&](auto fn) { return db().read<std::pair<long long, long long>>(fn); }, 3);
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 3);
}

TEST_P(DatabaseTest, ASnapshotReadOnPostgresqlRefusesToWrite) {
  if (GetParam() != storage::Backend::postgresql) GTEST_SKIP() << "SQLite has no read-only transactions";
  auto wrote = db().snapshot<Ok>([](soci::session& sql) -> Result<Ok> {
    sql << "UPDATE probe SET n = 9 WHERE id = 1";
    return Ok{};
  });
  EXPECT_FALSE(wrote.ok()) << "READ ONLY was not in force";
  auto n = db().read<long long>([](soci::session& sql) -> Result<long long> { return probe(sql); });
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::Values(storage::Backend::sqlite, storage::Backend::postgresql),
                         test_support::backend_name);

}  // namespace
}  // namespace quanqu
