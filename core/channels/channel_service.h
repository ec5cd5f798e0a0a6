// Creates and reads channels, and publishes products to them.
#pragma once

#include "channels/channel.h"
#include "common/change_counter.h"
#include "common/clock.h"
#include "common/validation.h"
#include "common/result.h"
#include "storage/database.h"

#include <mutex>
#include <optional>
#include <unordered_map>

namespace quanqu::channels {

class ChannelService {
 public:
  // The longest lists a channel takes: stock locations, providers of each kind, and the product
  // ids of one publish or unpublish call.
  static constexpr std::size_t kMaxLocations = 100;
  static constexpr std::size_t kMaxProviders = 20;
  static constexpr std::size_t kMaxPublishIds = 1000;

  ChannelService(storage::Database& db, const Clock& clock, ChangeCounter& changes);

  // Validates and creates. A taken code is a 409 `channel.code_taken`; an unknown location a 400.
  Result<Channel> create(const NewChannel& input);
  Result<Channel> update(const ChannelId& id, const ChannelPatch& patch);
  // By id or by code. Unknown is a 404 `channel.not_found`.
  Result<Channel> get(const std::string& id_or_code);
  Result<std::vector<Channel>> list();

  // Makes products visible (or invisible) on the channel, in one transaction. Ids that name no
  // product are a 422 `channel.unknown_products` listing each (`errors`, one per distinct id, and
  // `details.unknown_product_ids`), and nothing is written. Publishing twice, or unpublishing a
  // product the channel does not show, is harmless.
  Status publish(const ChannelId& channel, const std::vector<ProductId>& products);
  Status unpublish(const ChannelId& channel, const std::vector<ProductId>& products);

  // The channel for store requests, cached in process: writes through this service invalidate
  // the cache at once, and entries are re-read after a few seconds so that changes made by
  // another node sharing the database are seen too.
  Result<Channel> get_cached(const ChannelId& id);

 private:
  Result<Channel> load(soci::session& sql, const std::string& id_or_code);
  Status validate_locations(soci::session& sql, const std::vector<LocationId>& ids);
  static Status check_products(soci::session& sql, const std::vector<ProductId>& products);
  static void validate_plugins(Validator& v, const std::optional<std::string>& plugin, const nlohmann::json& configs,
                               const std::vector<std::string>& payment, const std::vector<std::string>& fulfilment);
  void forget_cached();

  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
  std::mutex cache_mutex_;
  struct Cached {
    Channel channel;
    std::int64_t read_at;
  };
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace quanqu::channels
