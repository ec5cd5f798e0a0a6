// The database: a SOCI connection pool over SQLite or PostgreSQL, with transactional writes.
#pragma once

#include "common/result.h"

#include <soci/soci.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace quanqu::storage {

enum class Backend { sqlite, postgresql };

struct DatabaseUrl {
  Backend backend = Backend::sqlite;
  std::string connect_string;  // what SOCI's backend is given
  std::string display;         // the URL with any password masked, for logs

  // "sqlite:PATH" (or "sqlite://PATH") or "postgresql://..." / "postgres://...".
  static Result<DatabaseUrl> parse(std::string_view url);
};

class Database {
 public:
  // Opens `pool_size` connections. Failure to connect is an `unavailable` error.
  static Result<std::unique_ptr<Database>> open(std::string_view url, std::size_t pool_size);
  ~Database();

  Backend backend() const { return url_.backend; }
  const DatabaseUrl& url() const { return url_; }
  std::size_t pool_size() const { return pool_size_; }

  // Runs `fn` on a pooled session outside any explicit transaction (reads).
  // SOCI exceptions become `internal`/`unavailable` errors.
  template <class T>
  Result<T> read(const std::function<Result<T>(soci::session&)>& fn) {
    Result<T> out = Error::internal("not run");
    auto status = run([&](soci::session& sql) -> Status {
      out = fn(sql);
      return ok_status();
    }, Mode::autocommit);
    if (!status.ok()) return std::move(status).error();
    return out;
  }

  // Runs `fn` in one read-only transaction, so that its queries all see the same committed
  // state: an order read with its payments and refunds never shows half of a refund that
  // committed between two of its SELECTs. REPEATABLE READ READ ONLY on PostgreSQL; a deferred
  // transaction on SQLite (one WAL snapshot, no write lock). For reads of several rows that
  // must agree; a single-statement read needs only `read`.
  template <class T>
  Result<T> snapshot(const std::function<Result<T>(soci::session&)>& fn) {
    Result<T> out = Error::internal("not run");
    auto status = run([&](soci::session& sql) -> Status {
      out = fn(sql);
      return ok_status();
    }, Mode::snapshot);
    if (!status.ok()) return std::move(status).error();
    return out;
  }

  // Runs `fn` inside one transaction: committed if it returns a value, rolled back if it
  // returns an error or throws. On SQLite the transaction takes the write lock up front
  // (BEGIN IMMEDIATE); a PostgreSQL serialization failure, deadlock or unique-key race is
  // retried from the start, up to 5 attempts, so `fn` must not have effects outside the database.
  template <class T>
  Result<T> write(const std::function<Result<T>(soci::session&)>& fn) {
    Result<T> out = Error::internal("not run");
    auto status = run([&](soci::session& sql) -> Status {
      out = fn(sql);
      if (!out.ok()) return out.error();
      return ok_status();
    }, Mode::write);
    if (!status.ok()) return std::move(status).error();
    return out;
  }

  // Ordered, idempotent schema upgrade from the embedded migration files.
  Status migrate();
  // The highest applied migration version, or 0.
  Result<long long> schema_version();

 private:
  Database(DatabaseUrl url, std::size_t pool_size);
  enum class Mode { autocommit, snapshot, write };
  Status run(const std::function<Status(soci::session&)>& fn, Mode mode);

  DatabaseUrl url_;
  std::size_t pool_size_;
  std::unique_ptr<soci::connection_pool> pool_;
  // SQLite admits one writer at a time. Writers of this process queue on this mutex instead of
  // meeting SQLITE_BUSY and sleeping on an I/O thread; other processes (a `quanqu seed-demo`
  // beside a server) are still covered by SQLite's busy timeout.
  std::mutex sqlite_writer_;
};

// Reads a nullable text column bound with an indicator.
inline std::string or_empty(const std::string& value, soci::indicator ind) {
  return ind == soci::i_ok ? value : std::string();
}

}  // namespace quanqu::storage
