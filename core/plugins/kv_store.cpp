// Plugin key-value rows over storage::Database (portable upsert: INSERT ... ON CONFLICT).
#include "plugins/kv_store.h"

#include "common/validation.h"

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

}  // namespace

Result<std::optional<std::string>> KvStore::get(const std::string& plugin, std::string_view key) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  std::string k(key);
  return db_.read<std::optional<std::string>>([&](soci::session& sql) -> Result<std::optional<std::string>> {
    std::string value;
    soci::indicator ind = soci::i_null;
    sql << "SELECT v FROM plugin_kv WHERE plugin = :p AND k = :k", soci::use(plugin), soci::use(k),
        soci::into(value, ind);
    if (!sql.got_data()) return std::optional<std::string>();
    return std::optional<std::string>(storage::or_empty(value, ind));
  });
}

Status KvStore::put(const std::string& plugin, std::string_view key, std::string_view value) {
  QQ_TRY(check_text("a key", key, 1, kMaxKeyBytes));
  QQ_TRY(check_text("a value", value, 0, kMaxValueBytes));
  std::string k(key), v(value);
  long long now = clock_.now_ms();
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    // clang-format off
    sql << "INSERT INTO plugin_kv (plugin, k, v, updated_at) VALUES (:p, :k, :v, :t) "
           "ON CONFLICT (plugin, k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at",
        soci::use(plugin), soci::use(k), soci::use(v), soci::use(now);
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

}  // namespace quanqu::plugins
