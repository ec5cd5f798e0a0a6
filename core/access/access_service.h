// API keys: secret admin keys, per-channel publishable keys and per-plugin merchant keys, stored only as SHA-256 hashes.
#pragma once

#include "common/clock.h"
#include "common/ids.h"
#include "common/result.h"
#include "storage/database.h"

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quanqu::access {

// admin: the whole admin API; publishable: a storefront of one channel (public by design);
// plugin: a merchant's key for the protected routes of one plugin, and nothing else.
enum class KeyKind { admin, publishable, plugin };

struct ApiKey {
  ApiKeyId id;
  KeyKind kind = KeyKind::publishable;
  std::string hint;        // the first characters of the key (key_hint), to recognise it in lists and logs
  std::optional<ChannelId> channel_id;  // publishable keys only
  std::optional<std::string> plugin;    // plugin keys only: the plugin it opens
  std::string label;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> revoked_at;
};

// A freshly created key: the only time the secret is ever seen in full.
struct IssuedKey {
  ApiKey key;
  std::string secret;  // "qq_admin_...", "qq_pk_..." or "qq_plugin_..."
};

// The short prefix of a secret that may be shown and logged to recognise it: at most 12
// characters and at most a quarter of the secret, so that most of it always stays unknown.
std::string key_hint(std::string_view secret);

class AccessService {
 public:
  AccessService(storage::Database& db, const Clock& clock);

  // Creates an admin key with a random secret, or registers `secret` (from configuration) if given.
  // Registering a secret that exists already returns the existing key.
  Result<IssuedKey> create_admin_key(const std::string& label, std::optional<std::string> secret = {});
  Result<IssuedKey> create_publishable_key(const ChannelId& channel, const std::string& label);
  // The channel's publishable keys, revoked ones included, oldest first.
  Result<std::vector<ApiKey>> list_publishable_keys(const ChannelId& channel);
  // A key for the merchant routes of `plugin` (a valid plugin name; the caller checks it exists).
  Result<IssuedKey> create_plugin_key(const std::string& plugin, const std::string& label);
  // The plugin's keys, revoked ones included, oldest first.
  Result<std::vector<ApiKey>> list_plugin_keys(const std::string& plugin);
  Status revoke_plugin_key(const std::string& plugin, const ApiKeyId& key);
  // The plugin a live plugin key opens; nothing for any other secret; an error only when the
  // database could not be asked.
  Result<std::optional<std::string>> plugin_of_key(const std::string& secret);
  // The admin keys that are not revoked, oldest first (hints only: secrets are not stored).
  Result<std::vector<ApiKey>> list_admin_keys();
  // Revoked keys stop working at once on this node (and within the cache lifetime on others).
  Status revoke(const ChannelId& channel, const ApiKeyId& key);

  // Whether `secret` is a live admin key; an error only when the database could not be asked
  // (so that the API answers 503, not 401, while the database is away).
  Result<bool> check_admin(const std::string& secret);
  // The id of the live admin key `secret` (what an order's timeline names), nothing for an
  // unknown or revoked one.
  Result<std::optional<ApiKeyId>> admin_key_id(const std::string& secret);
  // The channel of a live publishable key, nothing for an unknown or revoked one, or an error
  // when the database could not be asked.
  Result<std::optional<ChannelId>> resolve_channel(const std::string& publishable_key);

  // The same, with a database failure read as "no".
  bool is_admin(const std::string& secret);
  std::optional<ChannelId> channel_for(const std::string& publishable_key);

 private:
  Result<IssuedKey> insert(KeyKind kind, std::optional<ChannelId> channel, const std::string& label,
                           std::string secret, std::optional<std::string> plugin = {});
  // The keys of one kind scoped to a channel (publishable) or a plugin, revoked ones included,
  // oldest first; and the revocation of one of them (404 `not_found` when it is not in the scope).
  Result<std::vector<ApiKey>> list_scoped(KeyKind kind, const std::string& scope);
  Status revoke_scoped(KeyKind kind, const std::string& scope, const ApiKeyId& key, const std::string& not_found);
  void forget_cached();
  Result<std::optional<ApiKey>> lookup(const std::string& secret);

  storage::Database& db_;
  const Clock& clock_;
  // Presented secret -> key, with when it was read; entries older than a few seconds are
  // re-read. Keyed by the secret itself so that a hit costs no hashing; the database holds
  // only hashes.
  struct Cached {
    std::optional<ApiKey> key;
    std::int64_t read_at;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace quanqu::access
