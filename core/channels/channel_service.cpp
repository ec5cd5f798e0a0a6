// Channel persistence, validation and the in-process channel cache.
#include "channels/channel_service.h"
#include "common/money.h"
#include "common/validation.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_map>

namespace quanqu::channels {

bool is_known_channel_type(const std::string& type) {
  static const std::array<std::string, 7> kTypes{"web", "mini_program", "social", "marketplace",
                                                 "pos", "try_on",       "app"};
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

// Shapes only: names are plugin names, configs are objects keyed by plugin, no name twice. Whether
// the plugins exist and the configs fit their schemas is the caller's check (it knows plugins).
void ChannelService::validate_plugins(Validator& v, const std::optional<std::string>& plugin,
                                      const nlohmann::json& configs, const std::vector<std::string>& payment,
                                      const std::vector<std::string>& fulfilment) {
  auto plugin_name = [](const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    for (char ch : s)
      if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
    return true;
  };
  if (plugin && !plugin_name(*plugin)) v.fail("plugin", "must be a plugin name: 1 to 63 of a-z, 0-9 and -");
  if (!configs.is_object()) v.fail("config", "must be an object");
  for (const auto& [list, field] : {std::pair{&payment, "payment_providers"}, std::pair{&fulfilment, "fulfilment_providers"}}) {
    if (list->size() > kMaxProviders) {  // one error, and no walk over a list this long
      v.fail(field, "may name at most " + std::to_string(kMaxProviders) + " providers");
      continue;
    }
    std::unordered_map<std::string_view, bool> seen;  // name -> its repeat was reported
    for (std::size_t i = 0; i < list->size(); ++i) {
      std::string f = std::string(field) + "/" + std::to_string(i);
      auto [it, first] = seen.try_emplace((*list)[i], false);
      if (!first) {
        if (!it->second) v.fail(f, "listed twice");
        it->second = true;
        continue;
      }
      if (!plugin_name((*list)[i])) v.fail(f, "must be a provider name: 1 to 63 of a-z, 0-9 and -");
    }
  }
}

Status require_offered(const std::vector<std::string>& offered, const std::string& provider, const std::string& kind,
                       const std::string& code) {
  if (std::find(offered.begin(), offered.end(), provider) != offered.end()) return ok_status();
  std::string names;
  for (const auto& p : offered) names += (names.empty() ? "" : ", ") + p;
  return Error::invalid(code, "this channel does not offer that " + kind + " provider",
                        {{"provider", names.empty() ? "this channel offers no " + kind + " providers"
                                                    : "must be one of: " + names}});
}

ChannelService::ChannelService(storage::Database& db, const Clock& clock, ChangeCounter& changes)
    : db_(db), clock_(clock), changes_(changes) {}

Result<Channel> ChannelService::load(soci::session& sql, const std::string& id_or_code) {
  Channel c;
  int tax_inclusive = 0;
  std::string plugin, configs, payment, fulfilment;
  soci::indicator plugin_ind = soci::i_null;
  sql << "SELECT id, code, name, type, currency, tax_rate_bp, tax_inclusive, created_at, updated_at, plugin, config, "
         "payment_providers, fulfilment_providers FROM channels WHERE id = :k OR code = :k2",
      soci::into(c.id.value), soci::into(c.code), soci::into(c.name), soci::into(c.type), soci::into(c.currency),
      soci::into(c.tax_rate_bp), soci::into(tax_inclusive), soci::into(c.created_at), soci::into(c.updated_at),
      soci::into(plugin, plugin_ind), soci::into(configs), soci::into(payment), soci::into(fulfilment),
      soci::use(id_or_code), soci::use(id_or_code);
  if (!sql.got_data()) return Error::not_found("channel.not_found", "no channel '" + id_or_code + "'");
  c.tax_inclusive = tax_inclusive != 0;
  if (plugin_ind == soci::i_ok) c.plugin = plugin;
  c.configs = nlohmann::json::parse(configs);
  c.payment_providers = nlohmann::json::parse(payment).get<std::vector<std::string>>();
  c.fulfilment_providers = nlohmann::json::parse(fulfilment).get<std::vector<std::string>>();
  std::string loc;
  soci::statement st =
      (sql.prepare << "SELECT location_id FROM channel_locations WHERE channel_id = :c ORDER BY position",
       soci::into(loc), soci::use(c.id.value));
  st.execute();
  while (st.fetch()) c.location_ids.emplace_back(loc);
  return c;
}

Status ChannelService::validate_locations(soci::session& sql, const std::vector<LocationId>& ids) {
  Validator v;
  if (ids.size() > kMaxLocations)
    return Error::invalid("validation_failed", "location_ids may list at most " + std::to_string(kMaxLocations),
                          {{"location_ids", "must have at most " + std::to_string(kMaxLocations) + " items"}});
  // One query per distinct id and one error per distinct problem, whatever the list repeats.
  std::unordered_map<std::string_view, bool> seen;  // id -> its repeat was reported
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string f = "location_ids/" + std::to_string(i);
    auto [it, first] = seen.try_emplace(ids[i].value, false);
    if (!first) {
      if (!it->second) v.fail(f, "listed twice");
      it->second = true;
      continue;
    }
    long long n = 0;
    sql << "SELECT COUNT(*) FROM stock_locations WHERE id = :id", soci::into(n), soci::use(ids[i].value);
    if (n == 0) v.fail(f, "unknown stock location " + ids[i].value);
  }
  return v.status();
}

Result<Channel> ChannelService::create(const NewChannel& in) {
  Validator v;
  v.handle("code", in.code, 64);
  v.text("name", in.name, 200);
  if (!is_known_channel_type(in.type))
    v.fail("type", "must be one of web, mini_program, social, marketplace, pos, try_on, app");
  v.currency("currency", in.currency);
  v.range("tax_rate_bp", in.tax_rate_bp, 0, 10000);
  validate_plugins(v, in.plugin, in.configs, in.payment_providers, in.fulfilment_providers);
  QQ_TRY(v.status());
  auto created = db_.write<Channel>([&](soci::session& sql) -> Result<Channel> {
    long long taken = 0;
    sql << "SELECT COUNT(*) FROM channels WHERE code = :c", soci::into(taken), soci::use(in.code);
    if (taken) return Error::conflict("channel.code_taken", "a channel with code '" + in.code + "' exists");
    QQ_TRY(validate_locations(sql, in.location_ids));
    Channel c;
    c.id = ChannelId(new_id("chan"));
    c.code = in.code;
    c.name = in.name;
    c.type = in.type;
    c.currency = in.currency;
    c.tax_rate_bp = in.tax_rate_bp;
    c.tax_inclusive = in.tax_inclusive;
    c.location_ids = in.location_ids;
    c.plugin = in.plugin;
    c.configs = in.configs;
    c.payment_providers = in.payment_providers;
    c.fulfilment_providers = in.fulfilment_providers;
    c.created_at = c.updated_at = clock_.now_ms();
    int inclusive = c.tax_inclusive;
    std::string plugin = c.plugin.value_or(""), configs = c.configs.dump();
    std::string payment = nlohmann::json(c.payment_providers).dump();
    std::string fulfilment = nlohmann::json(c.fulfilment_providers).dump();
    soci::indicator plugin_ind = c.plugin ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO channels (id, code, name, type, currency, tax_rate_bp, tax_inclusive, created_at, updated_at, "
           "plugin, config, payment_providers, fulfilment_providers) "
           "VALUES (:id, :code, :name, :type, :cur, :tax, :incl, :ca, :ua, :pl, :cfg, :pay, :ful)",
        soci::use(c.id.value), soci::use(c.code), soci::use(c.name), soci::use(c.type), soci::use(c.currency),
        soci::use(c.tax_rate_bp), soci::use(inclusive), soci::use(c.created_at), soci::use(c.updated_at),
        soci::use(plugin, plugin_ind), soci::use(configs), soci::use(payment), soci::use(fulfilment);
    for (std::size_t i = 0; i < c.location_ids.size(); ++i) {
      int pos = static_cast<int>(i);
      sql << "INSERT INTO channel_locations (channel_id, location_id, position) VALUES (:c, :l, :p)",
          soci::use(c.id.value), soci::use(c.location_ids[i].value), soci::use(pos);
    }
    return c;
  });
  if (created) forget_cached();
  return created;
}

Result<Channel> ChannelService::update(const ChannelId& id, const ChannelPatch& patch) {
  Validator v;
  if (patch.name) v.text("name", *patch.name, 200);
  if (patch.tax_rate_bp) v.range("tax_rate_bp", *patch.tax_rate_bp, 0, 10000);
  validate_plugins(v, std::nullopt, patch.configs.value_or(nlohmann::json::object()),
                   patch.payment_providers.value_or(std::vector<std::string>{}),
                   patch.fulfilment_providers.value_or(std::vector<std::string>{}));
  QQ_TRY(v.status());
  auto updated = db_.write<Channel>([&](soci::session& sql) -> Result<Channel> {
    QQ_ASSIGN_OR_RETURN(Channel c, load(sql, id.value));
    if (c.id != id) return Error::not_found("channel.not_found", "no channel '" + id.value + "'");
    if (patch.name) c.name = *patch.name;
    if (patch.tax_rate_bp) c.tax_rate_bp = *patch.tax_rate_bp;
    if (patch.tax_inclusive) c.tax_inclusive = *patch.tax_inclusive;
    if (patch.configs) c.configs = *patch.configs;
    if (patch.payment_providers) c.payment_providers = *patch.payment_providers;
    if (patch.fulfilment_providers) c.fulfilment_providers = *patch.fulfilment_providers;
    c.updated_at = clock_.now_ms();
    int inclusive = c.tax_inclusive;
    std::string configs = c.configs.dump(), payment = nlohmann::json(c.payment_providers).dump();
    std::string fulfilment = nlohmann::json(c.fulfilment_providers).dump();
    sql << "UPDATE channels SET name = :n, tax_rate_bp = :t, tax_inclusive = :i, updated_at = :u, config = :cfg, "
           "payment_providers = :pay, fulfilment_providers = :ful WHERE id = :id",
        soci::use(c.name), soci::use(c.tax_rate_bp), soci::use(inclusive), soci::use(c.updated_at), soci::use(configs),
        soci::use(payment), soci::use(fulfilment), soci::use(c.id.value);
    if (patch.location_ids) {
      QQ_TRY(validate_locations(sql, *patch.location_ids));
      sql << "DELETE FROM channel_locations WHERE channel_id = :c", soci::use(c.id.value);
      c.location_ids = *patch.location_ids;
      for (std::size_t i = 0; i < c.location_ids.size(); ++i) {
        int pos = static_cast<int>(i);
        sql << "INSERT INTO channel_locations (channel_id, location_id, position) VALUES (:c, :l, :p)",
            soci::use(c.id.value), soci::use(c.location_ids[i].value), soci::use(pos);
      }
    }
    return c;
  });
  if (updated) forget_cached();
  return updated;
}

Result<Channel> ChannelService::get(const std::string& id_or_code) {
  return db_.read<Channel>([&](soci::session& sql) { return load(sql, id_or_code); });
}

Result<std::vector<Channel>> ChannelService::list() {
  return db_.read<std::vector<Channel>>([&](soci::session& sql) -> Result<std::vector<Channel>> {
    std::vector<std::string> ids;
    std::string id;
    soci::statement st = (sql.prepare << "SELECT id FROM channels ORDER BY code", soci::into(id));
    st.execute();
    while (st.fetch()) ids.push_back(id);
    std::vector<Channel> out;
    for (const auto& i : ids) {
      QQ_ASSIGN_OR_RETURN(Channel c, load(sql, i));
      out.push_back(std::move(c));
    }
    return out;
  });
}

// The 422 for ids that name no product, or ok. One query per distinct id.
Status ChannelService::check_products(soci::session& sql, const std::vector<ProductId>& products) {
  std::vector<FieldError> unknown;
  nlohmann::json ids = nlohmann::json::array();
  std::unordered_map<std::string_view, bool> seen;
  for (std::size_t i = 0; i < products.size(); ++i) {
    if (!seen.try_emplace(products[i].value, true).second) continue;
    long long n = 0;
    sql << "SELECT COUNT(*) FROM products WHERE id = :id", soci::into(n), soci::use(products[i].value);
    if (n) continue;
    unknown.push_back({"product_ids/" + std::to_string(i), "unknown product " + products[i].value});
    ids.push_back(products[i].value);
  }
  if (unknown.empty()) return ok_status();
  Error e{ErrorKind::failed_precondition, "channel.unknown_products",
          std::to_string(unknown.size()) + (unknown.size() == 1 ? " product id names" : " product ids name") +
              " no product; nothing was changed",
          std::move(unknown), {{"unknown_product_ids", std::move(ids)}}, {}};
  return e;
}

Status ChannelService::publish(const ChannelId& channel, const std::vector<ProductId>& products) {
  auto done = db_.write<Ok>([&](soci::session& sql) -> Status {
    QQ_TRY(load(sql, channel.value));
    QQ_TRY(check_products(sql, products));
    long long now = clock_.now_ms();
    for (const auto& p : products) {
      long long n = 0;
      sql << "SELECT COUNT(*) FROM channel_products WHERE channel_id = :c AND product_id = :p", soci::into(n),
          soci::use(channel.value), soci::use(p.value);
      if (n) continue;
      sql << "INSERT INTO channel_products (channel_id, product_id, published_at) VALUES (:c, :p, :t)",
          soci::use(channel.value), soci::use(p.value), soci::use(now);
    }
    return ok_status();
  });
  if (done) changes_.bump();
  return done;
}

Status ChannelService::unpublish(const ChannelId& channel, const std::vector<ProductId>& products) {
  auto done = db_.write<Ok>([&](soci::session& sql) -> Status {
    QQ_TRY(load(sql, channel.value));
    QQ_TRY(check_products(sql, products));
    for (const auto& p : products)
      sql << "DELETE FROM channel_products WHERE channel_id = :c AND product_id = :p", soci::use(channel.value),
          soci::use(p.value);
    return ok_status();
  });
  if (done) changes_.bump();
  return done;
}

Result<Channel> ChannelService::get_cached(const ChannelId& id) {
  constexpr std::int64_t kCacheMs = 5000;
  std::int64_t now = clock_.now_ms();
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(id.value);
    if (it != cache_.end() && now - it->second.read_at < kCacheMs) return it->second.channel;
  }
  QQ_ASSIGN_OR_RETURN(Channel c, get(id.value));
  std::lock_guard lock(cache_mutex_);
  cache_[id.value] = Cached{c, now};
  return c;
}

void ChannelService::forget_cached() {
  {
    std::lock_guard lock(cache_mutex_);
    cache_.clear();
  }
  changes_.bump();
}

}  // namespace quanqu::channels
