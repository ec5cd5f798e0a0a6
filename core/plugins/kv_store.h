// The plugins' own key-value state, persisted in the database (table plugin_kv), scoped by plugin name.
#pragma once

#include "common/clock.h"
#include "common/result.h"
#include "storage/database.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace quanqu::plugins {

// Thread-safe (each call is its own database call). Keys are 1..kMaxKeyBytes bytes and values at
// most kMaxValueBytes, both valid UTF-8 without NUL bytes (they are stored as TEXT on SQLite and
// PostgreSQL); anything else is `invalid_argument` "plugin.kv_invalid". Database failures are
// the storage layer's `internal`/`unavailable` errors.
class KvStore {
 public:
  static constexpr std::size_t kMaxKeyBytes = 256;
  static constexpr std::size_t kMaxValueBytes = 65536;

  KvStore(storage::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // The value, or nothing when the plugin has no such key.
  Result<std::optional<std::string>> get(const std::string& plugin, std::string_view key);
  // Inserts or replaces, stamping updated_at with the clock.
  Status put(const std::string& plugin, std::string_view key, std::string_view value);
  // Deletes; an absent key is fine.
  Status remove(const std::string& plugin, std::string_view key);

 private:
  storage::Database& db_;
  const Clock& clock_;
};

}  // namespace quanqu::plugins
