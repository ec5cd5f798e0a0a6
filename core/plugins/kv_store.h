// The plugins' own key-value state, persisted in the database (table plugin_kv), scoped by plugin name.
#pragma once

#include "common/clock.h"
#include "common/result.h"
#include "storage/database.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::plugins {

// One key of a listing, with its expiry (ms since the Unix epoch) when it has one.
struct KvItem {
  std::string key;
  std::string value;
  std::optional<std::int64_t> expires_at_ms;
};

// A page of KvStore::list: keys in ascending byte order; next_cursor (the last key listed) is set
// while more keys may match.
struct KvPage {
  std::vector<KvItem> items;
  std::optional<std::string> next_cursor;
};

// Thread-safe (each call is its own database call). Keys are 1..kMaxKeyBytes bytes and values at
// most kMaxValueBytes, both valid UTF-8 without NUL bytes (they are stored as TEXT on SQLite and
// PostgreSQL); anything else is `invalid_argument` "plugin.kv_invalid". Database failures are
// the storage layer's `internal`/`unavailable` errors.
//
// Expiry: a key written with a TTL (1..kMaxTtlMs ms from the clock; 0 is none) is absent for
// every operation once the clock reaches it. Its row stays until prune_expired deletes it (the
// server runs that as a recurring job). incr and cas are atomic against other threads and, on
// PostgreSQL, other server nodes (one statement, or a row lock held to the end of the transaction).
class KvStore {
 public:
  static constexpr std::size_t kMaxKeyBytes = 256;
  static constexpr std::size_t kMaxValueBytes = 65536;
  static constexpr std::int64_t kMaxTtlMs = 366LL * 24 * 60 * 60 * 1000;
  static constexpr int kMaxListLimit = 1000;
  static constexpr std::size_t kMaxPageValueBytes = 1 << 20;  // a list page ends early past this

  KvStore(storage::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // The value, or nothing when the plugin has no such key (or it expired).
  Result<std::optional<std::string>> get(const std::string& plugin, std::string_view key);
  // Inserts or replaces, stamping updated_at with the clock; the key expires ttl_ms from now
  // (0: never, which also clears an earlier expiry).
  Status put(const std::string& plugin, std::string_view key, std::string_view value, std::int64_t ttl_ms = 0);
  // Deletes; an absent key is fine.
  Status remove(const std::string& plugin, std::string_view key);

  // Adds delta to the decimal int64 at `key` and returns the new value. An absent or expired key
  // counts from 0 and is created expiring ttl_ms from now (0: never); an existing key keeps its
  // expiry. "plugin.kv_not_integer" when the value is not a decimal int64, "plugin.kv_overflow"
  // when the sum does not fit (both invalid_argument, nothing written).
  Result<std::int64_t> incr(const std::string& plugin, std::string_view key, std::int64_t delta, std::int64_t ttl_ms);
  // Sets `key` to `value` (expiring ttl_ms from now, 0: never) when its current value is
  // *expected, or when `expected` is nothing and the key is absent or expired. True when it swapped.
  Result<bool> cas(const std::string& plugin, std::string_view key, std::optional<std::string_view> expected,
                   std::string_view value, std::int64_t ttl_ms);
  // Live keys starting with `prefix` (0..256 bytes), after `cursor` (exclusive; empty: from the
  // start), at most `limit` (1..kMaxListLimit), in ascending byte order.
  Result<KvPage> list(const std::string& plugin, std::string_view prefix, std::string_view cursor, int limit);

  // Deletes, in one transaction, at most `limit` expired rows of any plugin; returns how many went.
  Result<std::int64_t> prune_expired(std::int64_t limit);

 private:
  storage::Database& db_;
  const Clock& clock_;
};

}  // namespace quanqu::plugins
