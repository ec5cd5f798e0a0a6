// Connection pool, URL parsing, transaction retry policy and the migration runner.
#include "storage/database.h"
#include "storage/migrations.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

namespace quanqu::storage {
namespace {

enum class Failure { retry, unique, busy, broken_connection, other };

Failure classify(const soci::soci_error& e) {
  if (auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    std::string state = pg->sqlstate();
    if (state == "40001" || state == "40P01") return Failure::retry;
    if (state == "23505") return Failure::unique;
    if (state.rfind("08", 0) == 0 || state.empty()) return Failure::broken_connection;
    return Failure::other;
  }
  if (auto* lite = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    int rc = lite->result() & 0xFF;
    if (rc == 5 /*SQLITE_BUSY*/ || rc == 6 /*SQLITE_LOCKED*/) return Failure::busy;
    if (rc == 19 /*SQLITE_CONSTRAINT*/ && std::string(e.what()).find("UNIQUE") != std::string::npos)
      return Failure::unique;
    return Failure::other;
  }
  return Failure::other;
}

void rollback_quietly(soci::session& sql) {
  try {
    sql << "ROLLBACK";
  } catch (...) {
    // The transaction is gone already (PostgreSQL aborts it on a failed COMMIT).
  }
}

std::vector<std::string> split_statements(std::string_view sql) {
  std::vector<std::string> out;
  std::string current;
  std::size_t i = 0;
  while (i < sql.size()) {
    auto eol = sql.find('\n', i);
    if (eol == std::string_view::npos) eol = sql.size();
    std::string_view line = sql.substr(i, eol - i);
    i = eol + 1;
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line.substr(first, 2) == "--") continue;
    current.append(line);
    current.push_back('\n');
    auto last = line.find_last_not_of(" \t\r");
    if (line[last] == ';') {
      current.erase(current.find_last_of(';'));
      out.push_back(std::move(current));
      current.clear();
    }
  }
  if (current.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(current);
  return out;
}

// libpq keyword/value text ("host='h' port='5432' ...") from the part of a postgresql:// URL
// after the scheme: [user[:password]@][host][:port][/dbname][?key=value&...].
Result<std::string> libpq_keywords(std::string_view rest) {
  auto bad = [](std::string why) { return Error::invalid("database.bad_url", "bad PostgreSQL URL: " + why); };
  auto decode = [](std::string_view in) -> std::optional<std::string> {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] != '%') {
        out += in[i];
        continue;
      }
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
        return std::nullopt;
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
    return out;
  };
  auto quote = [](const std::string& v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string out;
  auto add = [&](std::string_view key, std::string_view raw) -> bool {
    auto value = decode(raw);
    if (!value) return false;
    if (!value->empty()) out += (out.empty() ? "" : " ") + std::string(key) + "=" + quote(*value);
    return true;
  };
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    if (!add("user", userinfo.substr(0, colon))) return bad("user");
    if (colon != std::string_view::npos && !add("password", userinfo.substr(colon + 1))) return bad("password");
  }
  std::string_view host = rest, port;
  if (!host.empty() && host.front() == '[') {  // [::1]:5432
    auto close = host.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    port = close + 1 < host.size() && host[close + 1] == ':' ? host.substr(close + 2) : std::string_view();
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!add("host", host) || !add("port", port) || !add("dbname", path)) return bad("host, port or database");
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return bad("parameter '" + std::string(pair) + "'");
    std::string key(pair.substr(0, eq));
    for (char c : key)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return bad("parameter name '" + key + "'");
    if (!add(key, pair.substr(eq + 1))) return bad("parameter " + key);
  }
  return out;
}

}  // namespace

Result<DatabaseUrl> DatabaseUrl::parse(std::string_view url) {
  DatabaseUrl out;
  auto starts = [&](std::string_view p) { return url.substr(0, p.size()) == p; };
  if (starts("sqlite://") || starts("sqlite:")) {
    std::string path(url.substr(starts("sqlite://") ? 9 : 7));
    if (path.empty()) return Error::invalid("database.bad_url", "sqlite URL needs a file path: sqlite:quanqu.db");
    if (path.find_first_of(" \t'\"=") != std::string::npos)
      return Error::invalid("database.bad_url", "the sqlite path may not contain spaces, quotes or '='");
    out.backend = Backend::sqlite;
    out.connect_string = "db=" + path + " timeout=10";
    out.display = "sqlite:" + path;
    return out;
  }
  if (starts("postgresql://") || starts("postgres://")) {
    out.backend = Backend::postgresql;
    QQ_ASSIGN_OR_RETURN(out.connect_string, libpq_keywords(url.substr(url.find("://") + 3)));
    // Mask a password: scheme://user:secret@host -> scheme://user:***@host
    std::string shown(url);
    auto scheme_end = shown.find("://") + 3;
    auto at = shown.find('@', scheme_end);
    auto colon = shown.find(':', scheme_end);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      shown.replace(colon + 1, at - colon - 1, "***");
    out.display = shown;
    return out;
  }
  return Error::invalid("database.bad_url",
                        "database URL must start with sqlite: or postgresql:// (got '" + std::string(url) + "')");
}

Database::Database(DatabaseUrl url, std::size_t pool_size)
    : url_(std::move(url)), pool_size_(pool_size), pool_(std::make_unique<soci::connection_pool>(pool_size)) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open(std::string_view url, std::size_t pool_size) {
  QQ_ASSIGN_OR_RETURN(DatabaseUrl parsed, DatabaseUrl::parse(url));
  if (pool_size == 0) pool_size = 1;
  std::unique_ptr<Database> db(new Database(parsed, pool_size));
  try {
    for (std::size_t i = 0; i < pool_size; ++i) {
      soci::session& s = db->pool_->at(i);
      if (parsed.backend == Backend::sqlite) {
        s.open(*soci::factory_sqlite3(), parsed.connect_string);
        s << "PRAGMA journal_mode=WAL";
        s << "PRAGMA synchronous=NORMAL";
        s << "PRAGMA foreign_keys=ON";
      } else {
        s.open(*soci::factory_postgresql(), parsed.connect_string);
      }
    }
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::unavailable, "database.unavailable",
                       "cannot open " + parsed.display + ": " + e.what());
  }
  return db;
}

Status Database::run(const std::function<Status(soci::session&)>& fn, Mode mode) {
  static thread_local std::minstd_rand jitter(std::random_device{}());
  constexpr int kAttempts = 5;
  const bool transactional = mode != Mode::autocommit;
  const bool sqlite = url_.backend == Backend::sqlite;
  for (int attempt = 1;; ++attempt) {
    Failure failure = Failure::other;
    std::string what;
    {
      std::unique_lock<std::mutex> writer;
      if (mode == Mode::write && sqlite) writer = std::unique_lock(sqlite_writer_);
      soci::session sql(*pool_);
      try {
        if (!transactional) return fn(sql);
        if (mode == Mode::write) sql << (sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
        else sql << (sqlite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        Status status = Error::internal("not run");
        try {
          status = fn(sql);
        } catch (...) {
          rollback_quietly(sql);
          throw;
        }
        if (!status.ok()) {
          rollback_quietly(sql);
          return status;
        }
        sql << "COMMIT";
        return status;
      } catch (const soci::soci_error& e) {
        failure = classify(e);
        what = e.what();
        if (transactional) rollback_quietly(sql);
        if (failure == Failure::broken_connection) {
          try {
            sql.reconnect();
          } catch (...) {
          }
        }
      } catch (const std::exception& e) {
        return Error::internal("a database operation failed", e.what());
      }
    }
    bool retryable = failure == Failure::retry || failure == Failure::busy ||
                     failure == Failure::broken_connection ||
                     (failure == Failure::unique && mode == Mode::write);
    if (retryable && attempt < kAttempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(attempt * 5 + jitter() % 10));
      continue;
    }
    switch (failure) {
      case Failure::unique:
        return Error::conflict("conflict", "a concurrent change conflicted with this one; retry");
      case Failure::busy:
      case Failure::broken_connection:
      case Failure::retry:
        return Error::make(ErrorKind::unavailable, "database.busy", "the database is busy; retry shortly");
      case Failure::other:
        break;
    }
    return Error::internal("a database operation failed", what);
  }
}

Status Database::migrate() {
  auto created = run([](soci::session& sql) -> Status {
    sql << "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
           "applied_at BIGINT NOT NULL)";
    return ok_status();
  }, Mode::autocommit);
  QQ_TRY(created);
  for (const auto& m : embedded_migrations()) {
    auto applied = write<bool>([&](soci::session& sql) -> Result<bool> {
      if (url_.backend == Backend::postgresql) sql << "SELECT pg_advisory_xact_lock(7262001)";
      long long count = 0;
      long long version = m.version;
      sql << "SELECT COUNT(*) FROM schema_migrations WHERE version = :v", soci::into(count), soci::use(version);
      if (count > 0) return false;
      for (const auto& statement : split_statements(m.sql)) sql << statement;
      std::string name(m.name);
      long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
      sql << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)", soci::use(version),
          soci::use(name), soci::use(now);
      return true;
    });
    if (!applied.ok()) {
      auto e = std::move(applied).error();
      e.message = "migration " + std::string(m.name) + " failed: " + e.message;
      return e;
    }
  }
  return ok_status();
}

Result<long long> Database::schema_version() {
  return read<long long>([](soci::session& sql) -> Result<long long> {
    long long v = 0;
    soci::indicator ind;
    sql << "SELECT MAX(version) FROM schema_migrations", soci::into(v, ind);
    return ind == soci::i_ok ? v : 0;
  });
}

}  // namespace quanqu::storage
