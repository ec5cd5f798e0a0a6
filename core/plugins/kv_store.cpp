// Plugin key-value rows over storage::Database: upserts, expiry, atomic increment and compare-and-set, listing.
#include "plugins/kv_store.h"

#include "common/validation.h"
#include "storage/dynamic_query.h"

#include <limits>

namespace quanqu::plugins {
namespace {

Status check_text(std::string_view what, std::string_view s, std::size_t min, std::size_t max) {
  if (s.size() < min || s.size() > max)
    return Error::invalid("plugin.kv_invalid", std::string(what) + " must be " + std::to_string(min) + " to " +
                                                   std::to_string(max) + " bytes");
  if (s.find('\0') != std::string_view::npos || !is_valid_utf8(s))
    return Error::invalid("plugin.kv_invalid", std::string(what) + " must be UTF-8 text without NUL bytes");
  return ok_status();
}

Status check_ttl(std::int64_t ttl_ms) {
  if (ttl_ms < 0 || ttl_ms > KvStore::kMaxTtlMs)
    return Error::invalid("plugin.kv_invalid",
                          "a TTL must be 0 (none) to " + std::to_string(KvStore::kMaxTtlMs) + " ms (366 days)");
  return ok_status();
}

// The expiry column for a TTL: NULL (i_null) for none.
struct Expiry {
  long long at = 0;
  soci::indicator ind = soci::i_null;
};
Expiry expiry_of(std::int64_t now_ms, std::int64_t ttl_ms) {
  return ttl_ms > 0 ? Expiry{now_ms + ttl_ms, soci::i_ok} : Expiry{};
}

// A decimal int64 as kv_incr stores it: an optional '-', then 1..19 digits, within range.
std::optional<std::int64_t> parse_int64(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 19) return std::nullopt;
  unsigned long long magnitude = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    magnitude = magnitude * 10 + static_cast<unsigned long long>(c - '0');  // 19 digits fit
  }
  constexpr auto kMax = static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max());
  if (!negative) {
    if (magnitude > kMax) return std::nullopt;
    return static_cast<std::int64_t>(magnitude);
  }
  if (magnitude > kMax + 1) return std::nullopt;
  return magnitude == kMax + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(magnitude);
}

// "k > :x" compares bytes on both backends: SQLite's default collation is BINARY; PostgreSQL's
// column collation may be a locale's, so listings name "C".
const char* byte_order(storage::Backend backend) {
  return backend == storage::Backend::postgresql ? " COLLATE \"C\"" : "";
}

// Every key starting with `prefix` sorts (bytewise) at or before prefix + U+10FFFF repeated to
// the longest key: valid UTF-8 never has a byte above the sequence F4 8F BF BF.
std::string prefix_upper_bound(std::string_view prefix) {
  std::string hi(prefix);
  for (std::size_t i = 0; i < KvStore::kMaxKeyBytes; i += 4) hi += "\xF4\x8F\xBF\xBF";
  return hi;
}

constexpr const char* kLive = "(expires_at IS NULL OR expires_at > ";

}  // namespace

Result<std::optional<std::string>> KvStore::get(const std::string& plugin, std::string_view key) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  std::string k(key);
  long long now = clock_.now_ms();
  return db_.read<std::optional<std::string>>([&](soci::session& sql) -> Result<std::optional<std::string>> {
    std::string value;
    soci::indicator ind = soci::i_null;
    sql << std::string("SELECT v FROM plugin_kv WHERE plugin = :p AND k = :k AND ") + kLive + ":now)",
        soci::use(plugin), soci::use(k), soci::use(now), soci::into(value, ind);
    if (!sql.got_data()) return std::optional<std::string>();
    return std::optional<std::string>(storage::or_empty(value, ind));
  });
}

Status KvStore::put(const std::string& plugin, std::string_view key, std::string_view value, std::int64_t ttl_ms) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  QQ_TRY(check_text("a value", value, 0, kMaxValueBytes));
  QQ_TRY(check_ttl(ttl_ms));
  std::string k(key), v(value);
  long long now = clock_.now_ms();
  Expiry e = expiry_of(now, ttl_ms);
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    // clang-format off
    sql << "INSERT INTO plugin_kv (plugin, k, v, updated_at, expires_at) VALUES (:p, :k, :v, :t, :e) "
           "ON CONFLICT (plugin, k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at, "
           "expires_at = excluded.expires_at",
        soci::use(plugin), soci::use(k), soci::use(v), soci::use(now), soci::use(e.at, e.ind);
    // clang-format on
    return ok_status();
  });
}

Status KvStore::remove(const std::string& plugin, std::string_view key) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  std::string k(key);
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    sql << "DELETE FROM plugin_kv WHERE plugin = :p AND k = :k", soci::use(plugin), soci::use(k);
    return ok_status();
  });
}

Result<std::int64_t> KvStore::incr(const std::string& plugin, std::string_view key, std::int64_t delta,
                                   std::int64_t ttl_ms) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  QQ_TRY(check_ttl(ttl_ms));
  std::string k(key);
  long long now = clock_.now_ms();
  const bool postgres = db_.backend() == storage::Backend::postgresql;
  return db_.write<std::int64_t>([&](soci::session& sql) -> Result<std::int64_t> {
    // 1. Make sure the row exists, so that there is one to lock (a concurrent inserter makes
    //    this wait for its commit, then do nothing): no unique-key race between incrementers.
    std::string zero = "0";
    soci::statement insert = (sql.prepare << "INSERT INTO plugin_kv (plugin, k, v, updated_at, expires_at) "
                                             "VALUES (:p, :k, :v, :t, NULL) ON CONFLICT (plugin, k) DO NOTHING",
                              soci::use(plugin), soci::use(k), soci::use(zero), soci::use(now));
    insert.execute(true);
    const bool created = insert.get_affected_rows() > 0;
    // 2. Read it under a row lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already excludes writers).
    std::string current;
    soci::indicator current_ind = soci::i_null;
    long long expires_at = 0;
    soci::indicator expires_ind = soci::i_null;
    sql << std::string("SELECT v, expires_at FROM plugin_kv WHERE plugin = :p AND k = :k") +
               (postgres ? " FOR UPDATE" : ""),
        soci::use(plugin), soci::use(k), soci::into(current, current_ind), soci::into(expires_at, expires_ind);
    // 3. An expired key is a new one: it counts from 0 and takes this call's TTL.
    const bool fresh = created || (expires_ind == soci::i_ok && expires_at <= now);
    std::int64_t base = 0;
    if (!fresh) {
      auto parsed = parse_int64(storage::or_empty(current, current_ind));
      if (!parsed)
        return Error::invalid("plugin.kv_not_integer", "the value of the key is not a decimal 64-bit integer");
      base = *parsed;
    }
    std::int64_t sum = 0;
    if (__builtin_add_overflow(base, delta, &sum))
      return Error::invalid("plugin.kv_overflow", "the increment overflows a 64-bit integer");
    Expiry e = fresh ? expiry_of(now, ttl_ms) : Expiry{expires_at, expires_ind};
    std::string text = std::to_string(sum);
    sql << "UPDATE plugin_kv SET v = :v, updated_at = :t, expires_at = :e WHERE plugin = :p AND k = :k",
        soci::use(text), soci::use(now), soci::use(e.at, e.ind), soci::use(plugin), soci::use(k);
    return sum;
  });
}

Result<bool> KvStore::cas(const std::string& plugin, std::string_view key, std::optional<std::string_view> expected,
                          std::string_view value, std::int64_t ttl_ms) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  if (expected) QQ_TRY(check_text("the expected value", *expected, 0, kMaxValueBytes));
  QQ_TRY(check_text("a value", value, 0, kMaxValueBytes));
  QQ_TRY(check_ttl(ttl_ms));
  std::string k(key), v(value), x(expected.value_or(""));
  long long now = clock_.now_ms(), now2 = now;
  Expiry e = expiry_of(now, ttl_ms);
  // One statement either way, so the comparison and the write are one atomic step: PostgreSQL
  // re-checks an UPDATE's (or an upsert's) WHERE on the row version it locks.
  return db_.write<bool>([&](soci::session& sql) -> Result<bool> {
    if (!expected) {
      // Absent: insert. Present but expired: replace. Present and live: leave it.
      soci::statement st =
          (sql.prepare << "INSERT INTO plugin_kv (plugin, k, v, updated_at, expires_at) VALUES (:p, :k, :v, :t, :e) "
                          "ON CONFLICT (plugin, k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at, "
                          "expires_at = excluded.expires_at "
                          "WHERE plugin_kv.expires_at IS NOT NULL AND plugin_kv.expires_at <= :now",
           soci::use(plugin), soci::use(k), soci::use(v), soci::use(now), soci::use(e.at, e.ind), soci::use(now2));
      st.execute(true);
      return st.get_affected_rows() > 0;
    }
    soci::statement st = (sql.prepare << std::string("UPDATE plugin_kv SET v = :v, updated_at = :t, expires_at = :e "
                                                     "WHERE plugin = :p AND k = :k AND v = :x AND ") +
                                             kLive + ":now)",
                          soci::use(v), soci::use(now), soci::use(e.at, e.ind), soci::use(plugin), soci::use(k),
                          soci::use(x), soci::use(now2));
    st.execute(true);
    return st.get_affected_rows() > 0;
  });
}

Result<KvPage> KvStore::list(const std::string& plugin, std::string_view prefix, std::string_view cursor, int limit) {
  QQ_TRY(check_text("a prefix", prefix, 0, kMaxKeyBytes));
  QQ_TRY(check_text("a cursor", cursor, 0, kMaxKeyBytes));
  if (limit < 1 || limit > kMaxListLimit)
    return Error::invalid("plugin.kv_invalid", "a limit must be 1 to " + std::to_string(kMaxListLimit));
  long long now = clock_.now_ms();
  const char* bytes = byte_order(db_.backend());
  return db_.read<KvPage>([&](soci::session& sql) -> Result<KvPage> {
    std::string key, value;
    long long expires_at = 0;
    soci::indicator value_ind = soci::i_null, expires_ind = soci::i_null;
    storage::DynamicQuery q(sql);
    q.text("SELECT k, v, expires_at FROM plugin_kv WHERE plugin = ").param(plugin);
    q.text(" AND k").text(bytes).text(" >= ").param(std::string(prefix));
    q.text(" AND k").text(bytes).text(" <= ").param(prefix_upper_bound(prefix));
    if (!cursor.empty()) q.text(" AND k").text(bytes).text(" > ").param(std::string(cursor));
    q.text(" AND ").text(kLive).param(now).text(")");
    q.text(" ORDER BY k").text(bytes).text(" LIMIT ").param(static_cast<long long>(limit) + 1);
    q.into(key).into(value, value_ind).into(expires_at, expires_ind);
    KvPage page;
    std::size_t value_bytes = 0;
    bool more = false;
    for (bool got = q.execute(); got; got = q.fetch()) {
      if (page.items.size() == static_cast<std::size_t>(limit) || value_bytes > kMaxPageValueBytes) {
        more = true;
        break;
      }
      KvItem item{key, storage::or_empty(value, value_ind), std::nullopt};
      if (expires_ind == soci::i_ok) item.expires_at_ms = expires_at;
      value_bytes += item.value.size();
      page.items.push_back(std::move(item));
    }
    if (more) page.next_cursor = page.items.back().key;
    return page;
  });
}

Result<std::int64_t> KvStore::prune_expired(std::int64_t limit) {
  long long now = clock_.now_ms(), n = limit;
  return db_.write<std::int64_t>([&](soci::session& sql) -> Result<std::int64_t> {
    soci::statement st = (sql.prepare << "DELETE FROM plugin_kv WHERE (plugin, k) IN (SELECT plugin, k FROM plugin_kv "
                                         "WHERE expires_at IS NOT NULL AND expires_at <= :now LIMIT :n)",
                          soci::use(now), soci::use(n));
    st.execute(true);
    return static_cast<std::int64_t>(st.get_affected_rows());
  });
}

}  // namespace quanqu::plugins
