// Channel: where the business sells (web, mini-program, marketplace, ...), with its currency and tax.
#pragma once

#include "common/ids.h"
#include "common/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quanqu::channels {

struct Channel {
  ChannelId id;
  std::string code;      // stable, merchant-chosen: "web"
  std::string name;
  std::string type;      // web, mini_program, social, marketplace, pos, try_on
  std::string currency;  // ISO 4217; the store API prices everything in it
  std::int32_t tax_rate_bp = 0;  // basis points: 1300 = 13 %
  bool tax_inclusive = false;    // prices already contain tax
  std::vector<LocationId> location_ids;  // the stock locations it sells from, in preference order
  std::optional<std::string> plugin;     // the plugin that runs the channel (a channel adapter), if any
  // Config per plugin name: the channel plugin's and each provider's, already checked against
  // the plugins' schemas by the caller (the core does not know plugins).
  nlohmann::json configs = nlohmann::json::object();
  std::vector<std::string> payment_providers;     // offered at checkout, in display order
  std::vector<std::string> fulfilment_providers;  // shipping methods offered, in display order
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct NewChannel {
  std::string code;
  std::string name;
  std::string type;
  std::string currency;
  std::int32_t tax_rate_bp = 0;
  bool tax_inclusive = false;
  std::vector<LocationId> location_ids{};
  std::optional<std::string> plugin{};
  nlohmann::json configs = nlohmann::json::object();
  std::vector<std::string> payment_providers{};
  std::vector<std::string> fulfilment_providers{};
};

// Fields absent (nullopt) are left as they are.
struct ChannelPatch {
  std::optional<std::string> name;
  std::optional<std::int32_t> tax_rate_bp;
  std::optional<bool> tax_inclusive;
  std::optional<std::vector<LocationId>> location_ids;
  std::optional<nlohmann::json> configs;  // replaces the whole map
  std::optional<std::vector<std::string>> payment_providers;
  std::optional<std::vector<std::string>> fulfilment_providers;
};

// The channel types the engine knows.
bool is_known_channel_type(const std::string& type);

// Ok when `provider` is one of `offered` (a channel's payment or fulfilment providers); else a
// 400 with `code` and field "provider" listing what the channel offers (`kind`: "payment").
Status require_offered(const std::vector<std::string>& offered, const std::string& provider, const std::string& kind,
                       const std::string& code);

}  // namespace quanqu::channels
