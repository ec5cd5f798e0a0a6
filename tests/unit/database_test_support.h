// A fresh, migrated database per test on either backend: SQLite in a temporary directory, or a database on the PostgreSQL server QUANQU_TEST_POSTGRES_URL names.
#pragma once

#include "common/random.h"
#include "storage/database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace quanqu::test_support {

// The same postgresql:// URI naming another database.
inline std::string with_database(const std::string& uri, const std::string& database) {
  auto scheme = uri.find("://");
  auto pos = uri.find_first_of("/?", scheme == std::string::npos ? 0 : scheme + 3);
  if (pos == std::string::npos) return uri + "/" + database;
  if (uri[pos] == '?') return uri.substr(0, pos) + "/" + database + uri.substr(pos);
  auto end = uri.find('?', pos);
  return uri.substr(0, pos) + "/" + database + (end == std::string::npos ? "" : uri.substr(end));
}

// A fixture parameterised by backend; the PostgreSQL runs skip when QUANQU_TEST_POSTGRES_URL is
// unset. `db()` is the database; derived fixtures build their services in SetUp after this one's.
class BackendTest : public ::testing::TestWithParam<storage::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == storage::Backend::sqlite) {
      std::string pattern = (std::filesystem::temp_directory_path() / "quanqu-unit-XXXXXX").string();
      ASSERT_NE(mkdtemp(pattern.data()), nullptr);
      dir_ = pattern;
      open("sqlite:" + (dir_ / "quanqu.db").string());
    } else {
      const char* url = std::getenv("QUANQU_TEST_POSTGRES_URL");
      if (!url || !*url) GTEST_SKIP() << "QUANQU_TEST_POSTGRES_URL is not set";
      maintenance_ = url;
      database_ = "qq_unit_" + random_hex(8);
      run_on_maintenance("CREATE DATABASE " + database_);
      open(with_database(maintenance_, database_));
    }
  }

  void TearDown() override {
    db_.reset();
    if (!database_.empty()) run_on_maintenance("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  storage::Database& db() { return *db_; }

 private:
  void open(const std::string& url) {
    auto db = storage::Database::open(url, 8);
    if (!db) throw std::runtime_error(db.error().message);
    auto migrated = (*db)->migrate();
    if (!migrated) throw std::runtime_error(migrated.error().message);
    db_ = std::move(db).value();
  }

  void run_on_maintenance(const std::string& statement) {
    auto db = storage::Database::open(maintenance_, 1);
    if (!db) throw std::runtime_error(db.error().message);
    auto done = (*db)->read<Ok>([&](soci::session& sql) -> Result<Ok> {
      sql << statement;
      return Ok{};
    });
    if (!done) throw std::runtime_error(statement + ": " + done.error().message);
  }

  std::filesystem::path dir_;
  std::string maintenance_, database_;
  std::unique_ptr<storage::Database> db_;
};

// "sqlite" / "postgresql", for test names.
inline std::string backend_name(const ::testing::TestParamInfo<storage::Backend>& info) {
  return info.param == storage::Backend::sqlite ? "sqlite" : "postgresql";
}

}  // namespace quanqu::test_support
