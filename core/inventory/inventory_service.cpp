// Locations, levels and the conditional updates that make reservations oversell-proof.
#include "inventory/inventory_service.h"
#include "common/validation.h"
#include "storage/dynamic_query.h"

namespace quanqu::inventory {
namespace {

constexpr std::int64_t kMaxOnHand = 1'000'000'000;

void write_ledger(soci::session& sql, const Clock& clock, const VariantId& variant, const LocationId& location,
                  const std::string& reason, long long d_on_hand, long long d_reserved, long long on_hand_after,
                  long long reserved_after, const std::string& reference) {
  std::string id = new_id("ledg");
  long long now = clock.now_ms();
  soci::indicator ref_ind = reference.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO inventory_ledger (id, variant_id, location_id, reason, delta_on_hand, delta_reserved, "
         "on_hand_after, reserved_after, reference, created_at) VALUES (:id, :v, :l, :r, :dh, :dr, :ha, :ra, :ref, :t)",
      soci::use(id), soci::use(variant.value), soci::use(location.value), soci::use(reason), soci::use(d_on_hand),
      soci::use(d_reserved), soci::use(on_hand_after), soci::use(reserved_after), soci::use(reference, ref_ind),
      soci::use(now);
}

void validate_location_fields(Validator& v, const std::string& kind, const Address& address) {
  if (kind != "warehouse" && kind != "store") v.fail("kind", "must be warehouse or store");
  address.validate(v, "address");
}

}  // namespace

InventoryService::InventoryService(storage::Database& db, const Clock& clock, ChangeCounter& changes,
                                   events::EventBus& events)
    : db_(db), clock_(clock), changes_(changes), events_(events) {}

Result<StockLocation> InventoryService::load_location(soci::session& sql, const LocationId& id) {
  StockLocation l;
  std::string address;
  int pickup = 0;
  sql << "SELECT id, code, name, kind, address, pickup_enabled, created_at, updated_at FROM stock_locations "
         "WHERE id = :id OR code = :code",
      soci::into(l.id.value), soci::into(l.code), soci::into(l.name), soci::into(l.kind), soci::into(address),
      soci::into(pickup), soci::into(l.created_at), soci::into(l.updated_at), soci::use(id.value), soci::use(id.value);
  if (!sql.got_data()) return Error::not_found("location.not_found", "no stock location '" + id.value + "'");
  l.address = Address::from_json(nlohmann::json::parse(address));
  l.pickup_enabled = pickup != 0;
  return l;
}

Result<StockLocation> InventoryService::create_location(const NewStockLocation& in) {
  Validator v;
  v.handle("code", in.code, 64);
  v.text("name", in.name, 200);
  validate_location_fields(v, in.kind, in.address);
  QQ_TRY(v.status());
  auto created = db_.write<StockLocation>([&](soci::session& sql) -> Result<StockLocation> {
    long long taken = 0;
    sql << "SELECT COUNT(*) FROM stock_locations WHERE code = :c", soci::into(taken), soci::use(in.code);
    if (taken) return Error::conflict("location.code_taken", "a stock location with code '" + in.code + "' exists");
    StockLocation l{LocationId(new_id("loc")), in.code,         in.name,        in.kind, in.address,
                    in.pickup_enabled,         clock_.now_ms(), clock_.now_ms()};
    std::string address = l.address.to_json().dump();
    int pickup = l.pickup_enabled;
    double lat = l.address.latitude.value_or(0), lon = l.address.longitude.value_or(0);
    soci::indicator coord_ind = l.address.latitude ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO stock_locations (id, code, name, kind, address, latitude, longitude, pickup_enabled, "
           "created_at, updated_at) VALUES (:id, :c, :n, :k, :a, :lat, :lon, :p, :ca, :ua)",
        soci::use(l.id.value), soci::use(l.code), soci::use(l.name), soci::use(l.kind), soci::use(address),
        soci::use(lat, coord_ind), soci::use(lon, coord_ind), soci::use(pickup), soci::use(l.created_at),
        soci::use(l.updated_at);
    return l;
  });
  if (created) changes_.bump();
  return created;
}

Result<StockLocation> InventoryService::update_location(const LocationId& id, const StockLocationPatch& patch) {
  Validator v;
  if (patch.name) v.text("name", *patch.name, 200);
  if (patch.address) patch.address->validate(v, "address");
  QQ_TRY(v.status());
  auto updated = db_.write<StockLocation>([&](soci::session& sql) -> Result<StockLocation> {
    QQ_ASSIGN_OR_RETURN(StockLocation l, load_location(sql, id));
    if (patch.name) l.name = *patch.name;
    if (patch.address) l.address = *patch.address;
    if (patch.pickup_enabled) l.pickup_enabled = *patch.pickup_enabled;
    l.updated_at = clock_.now_ms();
    std::string address = l.address.to_json().dump();
    int pickup = l.pickup_enabled;
    double lat = l.address.latitude.value_or(0), lon = l.address.longitude.value_or(0);
    soci::indicator coord_ind = l.address.latitude ? soci::i_ok : soci::i_null;
    sql << "UPDATE stock_locations SET name = :n, address = :a, latitude = :lat, longitude = :lon, "
           "pickup_enabled = :p, updated_at = :u WHERE id = :id",
        soci::use(l.name), soci::use(address), soci::use(lat, coord_ind), soci::use(lon, coord_ind), soci::use(pickup),
        soci::use(l.updated_at), soci::use(l.id.value);
    return l;
  });
  if (updated) changes_.bump();
  return updated;
}

Result<StockLocation> InventoryService::get_location(const LocationId& id) {
  return db_.read<StockLocation>([&](soci::session& sql) { return load_location(sql, id); });
}

Result<std::vector<StockLocation>> InventoryService::list_locations() {
  return db_.read<std::vector<StockLocation>>([&](soci::session& sql) -> Result<std::vector<StockLocation>> {
    std::vector<std::string> ids;
    std::string id;
    soci::statement st = (sql.prepare << "SELECT id FROM stock_locations ORDER BY code", soci::into(id));
    st.execute();
    while (st.fetch()) ids.push_back(id);
    std::vector<StockLocation> out;
    for (const auto& i : ids) {
      QQ_ASSIGN_OR_RETURN(StockLocation l, load_location(sql, LocationId(i)));
      out.push_back(std::move(l));
    }
    return out;
  });
}

Result<InventoryLevel> InventoryService::set_on_hand(const VariantId& variant, const LocationId& location,
                                                     std::int64_t on_hand) {
  Validator v;
  v.range("on_hand", on_hand, 0, kMaxOnHand);
  QQ_TRY(v.status());
  auto level = db_.write<InventoryLevel>([&](soci::session& sql) -> Result<InventoryLevel> {
    InventoryLevel l;
    sql << "SELECT id, sku FROM variants WHERE id = :id", soci::into(l.variant_id.value), soci::into(l.sku),
        soci::use(variant.value);
    if (!sql.got_data()) return Error::not_found("variant.not_found", "no variant '" + variant.value + "'");
    QQ_ASSIGN_OR_RETURN(StockLocation loc, load_location(sql, location));
    l.location_id = loc.id;
    // Lock the level first (a no-op update returns the current row and, on PostgreSQL, holds
    // its lock), so that a concurrent reservation or adjustment cannot slip between the read
    // and the write, and the ledger delta is exact.
    long long old_on_hand = 0, reserved = 0;
    sql << "UPDATE inventory_levels SET updated_at = updated_at WHERE variant_id = :v AND location_id = :l "
           "RETURNING on_hand, reserved",
        soci::use(l.variant_id.value), soci::use(l.location_id.value), soci::into(old_on_hand), soci::into(reserved);
    bool exists = sql.got_data();
    if (on_hand < reserved)
      return Error::unprocessable(
          "inventory.below_reserved",
          "on hand cannot go below the " + std::to_string(reserved) + " units reserved for orders");
    long long now = clock_.now_ms(), value = on_hand;
    if (exists)
      sql << "UPDATE inventory_levels SET on_hand = :h, updated_at = :u WHERE variant_id = :v AND location_id = :l",
          soci::use(value), soci::use(now), soci::use(l.variant_id.value), soci::use(l.location_id.value);
    else  // a concurrent insert of the same level fails on the primary key and is retried
      sql << "INSERT INTO inventory_levels (variant_id, location_id, on_hand, reserved, updated_at) "
             "VALUES (:v, :l, :h, 0, :u)",
          soci::use(l.variant_id.value), soci::use(l.location_id.value), soci::use(value), soci::use(now);
    if (value != old_on_hand || !exists)
      write_ledger(sql, clock_, l.variant_id, l.location_id, "adjustment", value - old_on_hand, 0, value, reserved, "");
    l.on_hand = value;
    l.reserved = reserved;
    l.updated_at = now;
    events_.record(sql, "inventory.changed", {{"reason", "adjustment"},
                                              {"reference", nullptr},
                                              {"levels",
                                               {{{"variant_id", l.variant_id.value},
                                                 {"sku", l.sku},
                                                 {"location_id", l.location_id.value},
                                                 {"on_hand", l.on_hand},
                                                 {"reserved", l.reserved},
                                                 {"available", l.available()}}}}});
    return l;
  });
  if (level) {
    changes_.bump();
    events_.notify();
  }
  return level;
}

Result<LevelPage> InventoryService::list_levels(const LevelQuery& query) {
  Validator v;
  v.range("limit", query.limit, 1, 1000);
  auto sep = query.cursor.find('.');
  if (!query.cursor.empty() && (sep == std::string::npos || !looks_like_id(query.cursor.substr(0, sep), "var") ||
                                !looks_like_id(query.cursor.substr(sep + 1), "loc")))
    v.fail("cursor", "is not a cursor from this list");
  QQ_TRY(v.status("invalid_query"));
  return db_.read<LevelPage>([&](soci::session& sql) -> Result<LevelPage> {
    LevelPage page;
    InventoryLevel l;
    storage::DynamicQuery q(sql);
    q.text(
        "SELECT il.variant_id, v.sku, il.location_id, il.on_hand, il.reserved, il.updated_at "
        "FROM inventory_levels il JOIN variants v ON v.id = il.variant_id WHERE 1 = 1");
    if (query.variant_id) q.text(" AND il.variant_id = ").param(query.variant_id->value);
    if (query.sku) q.text(" AND v.sku = ").param(*query.sku);
    if (query.location_id) q.text(" AND il.location_id = ").param(query.location_id->value);
    if (!query.cursor.empty()) {
      std::string variant = query.cursor.substr(0, sep), location = query.cursor.substr(sep + 1);
      q.text(" AND (il.variant_id > ")
          .param(variant)
          .text(" OR (il.variant_id = ")
          .param(variant)
          .text(" AND il.location_id > ")
          .param(location)
          .text("))");
    }
    q.text(" ORDER BY il.variant_id, il.location_id LIMIT ").param(static_cast<long long>(query.limit) + 1);
    q.into(l.variant_id.value)
        .into(l.sku)
        .into(l.location_id.value)
        .into(l.on_hand)
        .into(l.reserved)
        .into(l.updated_at);
    for (bool row = q.execute(); row; row = q.fetch()) page.items.push_back(l);
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().variant_id.value + "." + page.items.back().location_id.value;
    }
    return page;
  });
}

std::optional<std::vector<Allocation>> InventoryService::reserve(soci::session& sql, const Clock& clock,
                                                                 const VariantId& variant,
                                                                 const std::vector<LocationId>& locations,
                                                                 std::int64_t quantity, const std::string& reference,
                                                                 std::int64_t* available_out) {
  // Read what each location has, in the channel's preference order.
  struct Stock {
    LocationId location;
    long long available;
  };
  std::vector<Stock> stock;
  long long total = 0;
  for (const auto& location : locations) {
    long long on_hand = 0, reserved = 0;
    sql << "SELECT on_hand, reserved FROM inventory_levels WHERE variant_id = :v AND location_id = :l",
        soci::into(on_hand), soci::into(reserved), soci::use(variant.value), soci::use(location.value);
    if (!sql.got_data() || on_hand - reserved <= 0) continue;
    stock.push_back({location, on_hand - reserved});
    total += on_hand - reserved;
  }
  if (available_out) *available_out = total;
  if (total < quantity) return std::nullopt;

  std::vector<Allocation> plan;
  for (const auto& s : stock)
    if (s.available >= quantity) {
      plan.push_back({variant, s.location, quantity});
      break;
    }
  if (plan.empty()) {
    std::int64_t left = quantity;
    for (const auto& s : stock) {
      if (left == 0) break;
      std::int64_t take = std::min<std::int64_t>(left, s.available);
      plan.push_back({variant, s.location, take});
      left -= take;
    }
  }
  // The conditional update is the guard: under concurrency the row may have changed since it
  // was read, and then it matches nothing and the whole reservation is refused.
  long long now = clock.now_ms();
  for (const auto& a : plan) {
    long long q = a.quantity, on_hand_after = 0, reserved_after = 0;
    sql << "UPDATE inventory_levels SET reserved = reserved + :q, updated_at = :u "
           "WHERE variant_id = :v AND location_id = :l AND on_hand - reserved >= :q2 RETURNING on_hand, reserved",
        soci::use(q), soci::use(now), soci::use(a.variant_id.value), soci::use(a.location_id.value), soci::use(q),
        soci::into(on_hand_after), soci::into(reserved_after);
    if (!sql.got_data()) return std::nullopt;
    write_ledger(sql, clock, a.variant_id, a.location_id, "reserve", 0, q, on_hand_after, reserved_after, reference);
  }
  return plan;
}

Status InventoryService::release(soci::session& sql, const Clock& clock, const std::vector<Allocation>& allocations,
                                 const std::string& reference) {
  long long now = clock.now_ms();
  for (const auto& a : allocations) {
    long long q = a.quantity, on_hand_after = 0, reserved_after = 0;
    sql << "UPDATE inventory_levels SET reserved = reserved - :q, updated_at = :u "
           "WHERE variant_id = :v AND location_id = :l AND reserved >= :q2 RETURNING on_hand, reserved",
        soci::use(q), soci::use(now), soci::use(a.variant_id.value), soci::use(a.location_id.value), soci::use(q),
        soci::into(on_hand_after), soci::into(reserved_after);
    if (!sql.got_data())
      return Error::internal("reserved stock of " + a.variant_id.value + " at " + a.location_id.value +
                             " is lower than the order holds");
    write_ledger(sql, clock, a.variant_id, a.location_id, "release", 0, -q, on_hand_after, reserved_after, reference);
  }
  return ok_status();
}

Status InventoryService::ship(soci::session& sql, const Clock& clock, const std::vector<Allocation>& allocations,
                              const std::string& reference) {
  long long now = clock.now_ms();
  for (const auto& a : allocations) {
    long long q = a.quantity, on_hand_after = 0, reserved_after = 0;
    sql << "UPDATE inventory_levels SET reserved = reserved - :q, on_hand = on_hand - :q2, updated_at = :u "
           "WHERE variant_id = :v AND location_id = :l AND reserved >= :q3 AND on_hand >= :q4 RETURNING on_hand, reserved",
        soci::use(q), soci::use(q), soci::use(now), soci::use(a.variant_id.value), soci::use(a.location_id.value),
        soci::use(q), soci::use(q), soci::into(on_hand_after), soci::into(reserved_after);
    if (!sql.got_data())
      return Error::internal("reserved stock of " + a.variant_id.value + " at " + a.location_id.value +
                             " is lower than the order holds");
    write_ledger(sql, clock, a.variant_id, a.location_id, "fulfilment", -q, -q, on_hand_after, reserved_after,
                 reference);
  }
  return ok_status();
}

nlohmann::json InventoryService::changed_event(const std::vector<Allocation>& allocations, const std::string& reason,
                                               const std::string& reference) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& a : allocations)
    levels.push_back({{"variant_id", a.variant_id.value}, {"location_id", a.location_id.value}, {"quantity", a.quantity}});
  return {{"reason", reason}, {"reference", reference}, {"levels", levels}};
}

}  // namespace quanqu::inventory
