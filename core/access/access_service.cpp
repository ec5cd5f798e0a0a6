// Key issuing, hashing, revocation and the short-lived lookup cache.
#include "access/access_service.h"
#include "common/random.h"
#include "common/validation.h"

#include <algorithm>

namespace quanqu::access {
namespace {
constexpr std::int64_t kCacheMs = 5000;
const char* kind_name(KeyKind k) {
  switch (k) {
    case KeyKind::admin:
      return "admin";
    case KeyKind::plugin:
      return "plugin";
    case KeyKind::publishable:
      return "publishable";
  }
  return "publishable";
}
KeyKind kind_from(const std::string& name) {
  return name == "admin" ? KeyKind::admin : name == "plugin" ? KeyKind::plugin : KeyKind::publishable;
}
}  // namespace

std::string key_hint(std::string_view secret) {
  return std::string(secret.substr(0, std::min<std::size_t>(12, secret.size() / 4)));
}

AccessService::AccessService(storage::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

Result<IssuedKey> AccessService::insert(KeyKind kind, std::optional<ChannelId> channel, const std::string& label,
                                        std::string secret, std::optional<std::string> plugin) {
  Validator v;
  v.text("label", label, 200);
  QQ_TRY(v.status());
  std::string hash = sha256_hex(secret);
  return db_.write<IssuedKey>([&](soci::session& sql) -> Result<IssuedKey> {
    IssuedKey out;
    out.secret = secret;
    std::string existing_kind, existing_channel;
    soci::indicator channel_ind_existing;
    sql << "SELECT id, kind, key_hint, channel_id, label, created_at FROM api_keys WHERE key_hash = :h",
        soci::into(out.key.id.value), soci::into(existing_kind), soci::into(out.key.hint),
        soci::into(existing_channel, channel_ind_existing), soci::into(out.key.label), soci::into(out.key.created_at),
        soci::use(hash);
    if (sql.got_data()) {
      if (existing_kind != kind_name(kind)) return Error::conflict("api_key.exists", "that key is taken");
      out.key.kind = kind;
      if (channel_ind_existing == soci::i_ok) out.key.channel_id = ChannelId(existing_channel);
      return out;
    }
    if (channel) {
      long long n = 0;
      sql << "SELECT COUNT(*) FROM channels WHERE id = :c", soci::into(n), soci::use(channel->value);
      if (!n) return Error::not_found("channel.not_found", "no channel '" + channel->value + "'");
    }
    out.key = ApiKey{ApiKeyId(new_id("key")), kind, key_hint(secret), channel, plugin, label, clock_.now_ms(), {}};
    std::string kind_text = kind_name(kind);
    std::string channel_text = channel ? channel->value : "";
    soci::indicator channel_ind = channel ? soci::i_ok : soci::i_null;
    std::string plugin_text = plugin.value_or("");
    soci::indicator plugin_ind = plugin ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO api_keys (id, kind, key_hash, key_hint, channel_id, plugin, label, created_at) "
           "VALUES (:id, :kind, :hash, :hint, :chan, :plugin, :label, :ca)",
        soci::use(out.key.id.value), soci::use(kind_text), soci::use(hash), soci::use(out.key.hint),
        soci::use(channel_text, channel_ind), soci::use(plugin_text, plugin_ind), soci::use(out.key.label),
        soci::use(out.key.created_at);
    return out;
  });
}

Result<IssuedKey> AccessService::create_admin_key(const std::string& label, std::optional<std::string> secret) {
  if (secret && secret->size() < 24)
    return Error::invalid("access.weak_key", "an admin key must be at least 24 characters");
  return insert(KeyKind::admin, std::nullopt, label, secret ? *secret : "qq_admin_" + random_hex(24));
}

Result<IssuedKey> AccessService::create_publishable_key(const ChannelId& channel, const std::string& label) {
  return insert(KeyKind::publishable, channel, label, "qq_pk_" + random_hex(16));
}

Result<std::vector<ApiKey>> AccessService::list_publishable_keys(const ChannelId& channel) {
  return list_scoped(KeyKind::publishable, channel.value);
}

Result<IssuedKey> AccessService::create_plugin_key(const std::string& plugin, const std::string& label) {
  return insert(KeyKind::plugin, std::nullopt, label, "qq_plugin_" + random_hex(24), plugin);
}

Result<std::vector<ApiKey>> AccessService::list_plugin_keys(const std::string& plugin) {
  return list_scoped(KeyKind::plugin, plugin);
}

Result<std::vector<ApiKey>> AccessService::list_scoped(KeyKind kind, const std::string& scope) {
  const bool by_plugin = kind == KeyKind::plugin;
  const std::string query = std::string("SELECT id, key_hint, label, created_at, revoked_at FROM api_keys WHERE kind = '") +
                            kind_name(kind) + "' AND " + (by_plugin ? "plugin" : "channel_id") +
                            " = :scope ORDER BY created_at, id";
  return db_.read<std::vector<ApiKey>>([&](soci::session& sql) -> Result<std::vector<ApiKey>> {
    std::vector<ApiKey> out;
    ApiKey k;
    long long revoked = 0;
    soci::indicator revoked_ind;
    soci::statement st = (sql.prepare << query, soci::into(k.id.value), soci::into(k.hint), soci::into(k.label),
                          soci::into(k.created_at), soci::into(revoked, revoked_ind), soci::use(scope));
    st.execute();
    while (st.fetch()) {
      k.kind = kind;
      if (by_plugin) k.plugin = scope;
      else k.channel_id = ChannelId{scope};
      k.revoked_at = revoked_ind == soci::i_ok ? std::optional<std::int64_t>(revoked) : std::nullopt;
      out.push_back(k);
    }
    return out;
  });
}

Status AccessService::revoke_plugin_key(const std::string& plugin, const ApiKeyId& key) {
  return revoke_scoped(KeyKind::plugin, plugin, key, "no key '" + key.value + "' for plugin '" + plugin + "'");
}

Status AccessService::revoke_scoped(KeyKind kind, const std::string& scope, const ApiKeyId& key,
                                    const std::string& not_found) {
  const std::string count = std::string("SELECT COUNT(*) FROM api_keys WHERE id = :id AND kind = '") +
                            kind_name(kind) + "' AND " + (kind == KeyKind::plugin ? "plugin" : "channel_id") +
                            " = :scope";
  auto done = db_.write<Ok>([&](soci::session& sql) -> Status {
    long long n = 0;
    sql << count, soci::into(n), soci::use(key.value), soci::use(scope);
    if (!n) return Error::not_found("api_key.not_found", not_found);
    long long now = clock_.now_ms();
    sql << "UPDATE api_keys SET revoked_at = :t WHERE id = :id AND revoked_at IS NULL", soci::use(now),
        soci::use(key.value);
    return ok_status();
  });
  if (done) forget_cached();
  return done;
}

Result<std::optional<std::string>> AccessService::plugin_of_key(const std::string& secret) {
  QQ_ASSIGN_OR_RETURN(auto k, lookup(secret));
  if (!k || k->kind != KeyKind::plugin || k->revoked_at) return std::optional<std::string>();
  return k->plugin;
}

void AccessService::forget_cached() {
  std::lock_guard lock(mutex_);
  cache_.clear();
}

Result<std::vector<ApiKey>> AccessService::list_admin_keys() {
  return db_.read<std::vector<ApiKey>>([&](soci::session& sql) -> Result<std::vector<ApiKey>> {
    std::vector<ApiKey> out;
    ApiKey k;
    k.kind = KeyKind::admin;
    soci::statement st = (sql.prepare << "SELECT id, key_hint, label, created_at FROM api_keys "
                                         "WHERE kind = 'admin' AND revoked_at IS NULL ORDER BY created_at, id",
                          soci::into(k.id.value), soci::into(k.hint), soci::into(k.label), soci::into(k.created_at));
    st.execute();
    while (st.fetch()) out.push_back(k);
    return out;
  });
}

Status AccessService::revoke(const ChannelId& channel, const ApiKeyId& key) {
  return revoke_scoped(KeyKind::publishable, channel.value, key, "no key '" + key.value + "' on this channel");
}

Result<std::optional<ApiKey>> AccessService::lookup(const std::string& secret) {
  if (secret.empty() || secret.size() > 200) return std::optional<ApiKey>();
  std::int64_t now = clock_.now_ms();
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(secret);
    if (it != cache_.end() && now - it->second.read_at < kCacheMs) return it->second.key;
  }
  std::string hash = sha256_hex(secret);
  auto found = db_.read<std::optional<ApiKey>>([&](soci::session& sql) -> Result<std::optional<ApiKey>> {
    ApiKey k;
    std::string kind, channel, plugin;
    soci::indicator channel_ind, plugin_ind, revoked_ind;
    long long revoked = 0;
    sql << "SELECT id, kind, key_hint, channel_id, plugin, label, created_at, revoked_at FROM api_keys "
           "WHERE key_hash = :h",
        soci::into(k.id.value), soci::into(kind), soci::into(k.hint), soci::into(channel, channel_ind),
        soci::into(plugin, plugin_ind), soci::into(k.label), soci::into(k.created_at),
        soci::into(revoked, revoked_ind), soci::use(hash);
    if (!sql.got_data()) return std::optional<ApiKey>();
    k.kind = kind_from(kind);
    if (channel_ind == soci::i_ok) k.channel_id = ChannelId(channel);
    if (plugin_ind == soci::i_ok) k.plugin = plugin;
    if (revoked_ind == soci::i_ok) k.revoked_at = revoked;
    return std::optional<ApiKey>(k);
  });
  if (!found) return std::move(found).error();  // database trouble: not cached
  std::lock_guard lock(mutex_);
  if (cache_.size() > 10000) cache_.clear();
  cache_[secret] = Cached{*found, now};
  return std::move(found).value();
}

Result<bool> AccessService::check_admin(const std::string& secret) {
  QQ_ASSIGN_OR_RETURN(auto k, lookup(secret));
  return k && k->kind == KeyKind::admin && !k->revoked_at;
}

Result<std::optional<ApiKeyId>> AccessService::admin_key_id(const std::string& secret) {
  QQ_ASSIGN_OR_RETURN(auto k, lookup(secret));
  if (!k || k->kind != KeyKind::admin || k->revoked_at) return std::optional<ApiKeyId>();
  return std::optional<ApiKeyId>(k->id);
}

Result<std::optional<ChannelId>> AccessService::resolve_channel(const std::string& publishable_key) {
  QQ_ASSIGN_OR_RETURN(auto k, lookup(publishable_key));
  if (!k || k->kind != KeyKind::publishable || k->revoked_at) return std::optional<ChannelId>();
  return k->channel_id;
}

bool AccessService::is_admin(const std::string& secret) {
  auto admin = check_admin(secret);
  return admin.ok() && *admin;
}

std::optional<ChannelId> AccessService::channel_for(const std::string& publishable_key) {
  auto channel = resolve_channel(publishable_key);
  return channel.ok() ? *channel : std::nullopt;
}

}  // namespace quanqu::access
