// Locations, levels and the conditional updates that make reservations oversell-proof.
#include "inventory/inventory_service.h"
#include "common/geo.h"
#include "common/validation.h"
#include "storage/dynamic_query.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace quanqu::inventory {
namespace {

constexpr std::int64_t kMaxOnHand = 1'000'000'000;

constexpr std::size_t kMaxNoteBytes = 1000;

// Writes one ledger row and returns its id.
std::string write_ledger(soci::session& sql, const Clock& clock, const VariantId& variant, const LocationId& location,
                         const std::string& reason, long long d_on_hand, long long d_reserved, long long on_hand_after,
                         long long reserved_after, const std::string& reference, const std::string& reason_code = "",
                         const std::string& note = "") {
  std::string id = new_id("ledg");
  long long now = clock.now_ms();
  soci::indicator ref_ind = reference.empty() ? soci::i_null : soci::i_ok;
  soci::indicator code_ind = reason_code.empty() ? soci::i_null : soci::i_ok;
  soci::indicator note_ind = note.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO inventory_ledger (id, variant_id, location_id, reason, delta_on_hand, delta_reserved, "
         "on_hand_after, reserved_after, reference, reason_code, note, created_at) "
         "VALUES (:id, :v, :l, :r, :dh, :dr, :ha, :ra, :ref, :code, :note, :t)",
      soci::use(id), soci::use(variant.value), soci::use(location.value), soci::use(reason), soci::use(d_on_hand),
      soci::use(d_reserved), soci::use(on_hand_after), soci::use(reserved_after), soci::use(reference, ref_ind),
      soci::use(reason_code, code_ind), soci::use(note, note_ind), soci::use(now);
  return id;
}

const char* kLedgerColumns =
    "SELECT l.id, l.variant_id, v.sku, l.location_id, l.reason, l.reason_code, l.delta_on_hand, l.delta_reserved, "
    "l.on_hand_after, l.reserved_after, l.reference, l.note, l.created_at FROM inventory_ledger l "
    "JOIN variants v ON v.id = l.variant_id";

// Binds the columns of kLedgerColumns to `e` (reason code, reference and note may be null).
struct LedgerRow {
  LedgerEntry e;
  soci::indicator code_ind = soci::i_ok, ref_ind = soci::i_ok, note_ind = soci::i_ok;
  LedgerEntry take() const {
    LedgerEntry out = e;
    if (code_ind != soci::i_ok) out.reason_code.clear();
    if (ref_ind != soci::i_ok) out.reference.clear();
    if (note_ind != soci::i_ok) out.note.clear();
    return out;
  }
};

void bind_ledger(storage::DynamicQuery& q, LedgerRow& r) {
  q.into(r.e.id)
      .into(r.e.variant_id.value)
      .into(r.e.sku)
      .into(r.e.location_id.value)
      .into(r.e.reason)
      .into(r.e.reason_code, r.code_ind)
      .into(r.e.delta_on_hand)
      .into(r.e.delta_reserved)
      .into(r.e.on_hand_after)
      .into(r.e.reserved_after)
      .into(r.e.reference, r.ref_ind)
      .into(r.e.note, r.note_ind)
      .into(r.e.created_at);
}

// Locks the level (a no-op update returns the current row and, on PostgreSQL, holds its lock)
// and reads it: {on hand, reserved}, or nothing when there is no level yet.
std::optional<std::pair<long long, long long>> lock_level(soci::session& sql, const VariantId& variant,
                                                          const LocationId& location) {
  long long on_hand = 0, reserved = 0;
  sql << "UPDATE inventory_levels SET updated_at = updated_at WHERE variant_id = :v AND location_id = :l "
         "RETURNING on_hand, reserved",
      soci::use(variant.value), soci::use(location.value), soci::into(on_hand), soci::into(reserved);
  if (!sql.got_data()) return std::nullopt;
  return std::make_pair(on_hand, reserved);
}

// Writes on hand for a level locked (or found missing) by lock_level.
void put_on_hand(soci::session& sql, const VariantId& variant, const LocationId& location, long long on_hand,
                 bool exists, long long now) {
  if (exists)
    sql << "UPDATE inventory_levels SET on_hand = :h, updated_at = :u WHERE variant_id = :v AND location_id = :l",
        soci::use(on_hand), soci::use(now), soci::use(variant.value), soci::use(location.value);
  else  // a concurrent insert of the same level fails on the primary key and is retried
    sql << "INSERT INTO inventory_levels (variant_id, location_id, on_hand, reserved, updated_at) "
           "VALUES (:v, :l, :h, 0, :u)",
        soci::use(variant.value), soci::use(location.value), soci::use(on_hand), soci::use(now);
}

Result<std::string> variant_sku(soci::session& sql, const VariantId& variant) {
  std::string sku;
  sql << "SELECT sku FROM variants WHERE id = :id", soci::into(sku), soci::use(variant.value);
  if (!sql.got_data()) return Error::not_found("variant.not_found", "no variant '" + variant.value + "'");
  return sku;
}

Result<LedgerEntry> load_ledger_entry(soci::session& sql, const std::string& id) {
  LedgerRow row;
  storage::DynamicQuery q(sql);
  q.text(kLedgerColumns).text(" WHERE l.id = ").param(id);
  bind_ledger(q, row);
  if (!q.execute()) return Error::not_found("inventory.ledger_entry_not_found", "no ledger entry '" + id + "'");
  return row.take();
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
  sql << "SELECT id, code, name, kind, address, pickup_enabled, created_at, updated_at, pickup_hold_hours "
         "FROM stock_locations WHERE id = :id OR code = :code",
      soci::into(l.id.value), soci::into(l.code), soci::into(l.name), soci::into(l.kind), soci::into(address),
      soci::into(pickup), soci::into(l.created_at), soci::into(l.updated_at), soci::into(l.pickup_hold_hours),
      soci::use(id.value), soci::use(id.value);
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
  v.range("pickup_hold_hours", in.pickup_hold_hours, 1, kMaxPickupHoldHours);
  QQ_TRY(v.status());
  auto created = db_.write<StockLocation>([&](soci::session& sql) -> Result<StockLocation> {
    long long taken = 0;
    sql << "SELECT COUNT(*) FROM stock_locations WHERE code = :c", soci::into(taken), soci::use(in.code);
    if (taken) return Error::conflict("location.code_taken", "a stock location with code '" + in.code + "' exists");
    StockLocation l{LocationId(new_id("loc")), in.code,         in.name,        in.kind, in.address,
                    in.pickup_enabled,         clock_.now_ms(), clock_.now_ms(), in.pickup_hold_hours};
    std::string address = l.address.to_json().dump();
    int pickup = l.pickup_enabled;
    double lat = l.address.latitude.value_or(0), lon = l.address.longitude.value_or(0);
    soci::indicator coord_ind = l.address.latitude ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO stock_locations (id, code, name, kind, address, latitude, longitude, pickup_enabled, "
           "created_at, updated_at, pickup_hold_hours) VALUES (:id, :c, :n, :k, :a, :lat, :lon, :p, :ca, :ua, :h)",
        soci::use(l.id.value), soci::use(l.code), soci::use(l.name), soci::use(l.kind), soci::use(address),
        soci::use(lat, coord_ind), soci::use(lon, coord_ind), soci::use(pickup), soci::use(l.created_at),
        soci::use(l.updated_at), soci::use(l.pickup_hold_hours);
    return l;
  });
  if (created) changes_.bump();
  return created;
}

Result<StockLocation> InventoryService::update_location(const LocationId& id, const StockLocationPatch& patch) {
  Validator v;
  if (patch.name) v.text("name", *patch.name, 200);
  if (patch.address) patch.address->validate(v, "address");
  if (patch.pickup_hold_hours) v.range("pickup_hold_hours", *patch.pickup_hold_hours, 1, kMaxPickupHoldHours);
  QQ_TRY(v.status());
  auto updated = db_.write<StockLocation>([&](soci::session& sql) -> Result<StockLocation> {
    QQ_ASSIGN_OR_RETURN(StockLocation l, load_location(sql, id));
    if (patch.name) l.name = *patch.name;
    if (patch.address) l.address = *patch.address;
    if (patch.pickup_enabled) l.pickup_enabled = *patch.pickup_enabled;
    if (patch.pickup_hold_hours) l.pickup_hold_hours = static_cast<int>(*patch.pickup_hold_hours);
    l.updated_at = clock_.now_ms();
    std::string address = l.address.to_json().dump();
    int pickup = l.pickup_enabled;
    double lat = l.address.latitude.value_or(0), lon = l.address.longitude.value_or(0);
    soci::indicator coord_ind = l.address.latitude ? soci::i_ok : soci::i_null;
    sql << "UPDATE stock_locations SET name = :n, address = :a, latitude = :lat, longitude = :lon, "
           "pickup_enabled = :p, updated_at = :u, pickup_hold_hours = :h WHERE id = :id",
        soci::use(l.name), soci::use(address), soci::use(lat, coord_ind), soci::use(lon, coord_ind), soci::use(pickup),
        soci::use(l.updated_at), soci::use(l.pickup_hold_hours), soci::use(l.id.value);
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
    changes_.bump_stock(level->variant_id.value);
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

Result<AllocationPlan> InventoryService::reserve_order(soci::session& sql, const Clock& clock,
                                                       const std::vector<LineDemand>& lines,
                                                       const std::vector<LocationId>& locations,
                                                       const std::string& reference) {
  // Lock every level the plan may use, in one global order (variant, then location), so that two
  // checkouts over the same levels queue on the first one instead of deadlocking on PostgreSQL,
  // and read them under the lock: the plan is made on numbers nobody else can change meanwhile.
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& line : lines)
    for (const auto& location : locations) keys.emplace_back(line.variant_id.value, location.value);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<LevelStock> levels;
  for (const auto& [variant, location] : keys) {
    auto level = lock_level(sql, VariantId(variant), LocationId(location));
    if (level && level->first - level->second > 0)
      levels.push_back({VariantId(variant), LocationId(location), level->first - level->second});
  }
  AllocationPlan plan = plan_allocations(lines, locations, levels);
  if (!plan.ok()) return plan;
  // The conditional update stays the guard against overselling, whatever the locking did.
  long long now = clock.now_ms();
  for (const auto& a : plan.allocations) {
    long long q = a.quantity, on_hand_after = 0, reserved_after = 0;
    sql << "UPDATE inventory_levels SET reserved = reserved + :q, updated_at = :u "
           "WHERE variant_id = :v AND location_id = :l AND on_hand - reserved >= :q2 RETURNING on_hand, reserved",
        soci::use(q), soci::use(now), soci::use(a.variant_id.value), soci::use(a.location_id.value), soci::use(q),
        soci::into(on_hand_after), soci::into(reserved_after);
    if (!sql.got_data())
      return Error::conflict("inventory.insufficient_stock", "stock changed during checkout; try again");
    write_ledger(sql, clock, a.variant_id, a.location_id, "reserve", 0, q, on_hand_after, reserved_after, reference);
  }
  return plan;
}

Result<std::vector<PickupAvailability>> InventoryService::pickup_availability(
    const VariantId& variant, const std::vector<LocationId>& locations, std::optional<std::pair<double, double>> from) {
  auto found = db_.read<std::vector<PickupAvailability>>(
      [&](soci::session& sql) -> Result<std::vector<PickupAvailability>> {
        std::vector<PickupAvailability> out;
        for (const auto& id : locations) {
          QQ_ASSIGN_OR_RETURN(StockLocation l, load_location(sql, id));
          if (!l.pickup_enabled) continue;
          PickupAvailability a;
          long long on_hand = 0, reserved = 0;
          sql << "SELECT on_hand, reserved FROM inventory_levels WHERE variant_id = :v AND location_id = :l",
              soci::into(on_hand), soci::into(reserved), soci::use(variant.value), soci::use(l.id.value);
          a.available = sql.got_data() ? std::max<long long>(0, on_hand - reserved) : 0;
          if (from && l.address.latitude && l.address.longitude)
            a.distance_metres = haversine_metres(from->first, from->second, *l.address.latitude, *l.address.longitude);
          a.location = std::move(l);
          out.push_back(std::move(a));
        }
        return out;
      });
  if (!found || !from) return found;
  // Nearest first; stores without coordinates last, in the channel's order (a stable sort).
  std::stable_sort(found->begin(), found->end(), [](const PickupAvailability& a, const PickupAvailability& b) {
    if (a.distance_metres.has_value() != b.distance_metres.has_value()) return a.distance_metres.has_value();
    return a.distance_metres.value_or(0) < b.distance_metres.value_or(0);
  });
  return found;
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
           "WHERE variant_id = :v AND location_id = :l AND reserved >= :q3 AND on_hand >= :q4 RETURNING on_hand, "
           "reserved",
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

Status InventoryService::restock(soci::session& sql, const Clock& clock, const std::vector<Allocation>& allocations,
                                 const std::string& reference) {
  long long now = clock.now_ms();
  for (const auto& a : allocations) {
    long long q = a.quantity, on_hand_after = 0, reserved_after = 0;
    sql << "INSERT INTO inventory_levels (variant_id, location_id, on_hand, reserved, updated_at) "
           "VALUES (:v, :l, :q, 0, :u) ON CONFLICT (variant_id, location_id) DO UPDATE SET "
           "on_hand = inventory_levels.on_hand + :q2, updated_at = :u2 RETURNING on_hand, reserved",
        soci::use(a.variant_id.value), soci::use(a.location_id.value), soci::use(q), soci::use(now), soci::use(q),
        soci::use(now), soci::into(on_hand_after), soci::into(reserved_after);
    if (!sql.got_data()) return Error::internal("no stock level for " + a.variant_id.value + " at " + a.location_id.value);
    write_ledger(sql, clock, a.variant_id, a.location_id, "return", q, 0, on_hand_after, reserved_after, reference);
  }
  return ok_status();
}

nlohmann::json InventoryService::changed_event(soci::session& sql, const std::vector<Allocation>& allocations,
                                               const std::string& reason, const std::string& reference) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& a : allocations) {
    std::string sku;
    long long on_hand = 0, reserved = 0;
    soci::indicator sku_ind = soci::i_null, on_hand_ind = soci::i_null, reserved_ind = soci::i_null;
    sql << "SELECT v.sku, l.on_hand, l.reserved FROM variants v LEFT JOIN inventory_levels l "
           "ON l.variant_id = v.id AND l.location_id = :l WHERE v.id = :v",
        soci::into(sku, sku_ind), soci::into(on_hand, on_hand_ind), soci::into(reserved, reserved_ind),
        soci::use(a.location_id.value), soci::use(a.variant_id.value);
    if (on_hand_ind != soci::i_ok) on_hand = 0;
    if (reserved_ind != soci::i_ok) reserved = 0;
    levels.push_back({{"variant_id", a.variant_id.value},
                      {"sku", sku_ind == soci::i_ok ? nlohmann::json(sku) : nlohmann::json(nullptr)},
                      {"location_id", a.location_id.value},
                      {"quantity", a.quantity},
                      {"on_hand", on_hand},
                      {"reserved", reserved},
                      {"available", on_hand - reserved}});
  }
  return {{"reason", reason}, {"reference", reference}, {"levels", levels}};
}

const std::vector<std::string>& InventoryService::adjustment_reasons() {
  static const std::vector<std::string> reasons{"damaged", "lost", "found", "counted", "returned", "correction"};
  return reasons;
}

void InventoryService::record_changed(soci::session& sql, const std::string& reason, const std::string& reference,
                                      const std::vector<InventoryLevel>& levels) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : levels)
    out.push_back({{"variant_id", l.variant_id.value},
                   {"sku", l.sku},
                   {"location_id", l.location_id.value},
                   {"on_hand", l.on_hand},
                   {"reserved", l.reserved},
                   {"available", l.available()}});
  events_.record(sql, "inventory.changed",
                 {{"reason", reason},
                  {"reference", reference.empty() ? nlohmann::json(nullptr) : nlohmann::json(reference)},
                  {"levels", out}});
}

Result<Movement> InventoryService::adjust(const NewAdjustment& in) {
  Validator v;
  if (in.delta == 0) v.fail("delta", "must not be zero");
  v.range("delta", in.delta, -kMaxOnHand, kMaxOnHand);
  const auto& reasons = adjustment_reasons();
  if (std::find(reasons.begin(), reasons.end(), in.reason_code) == reasons.end())
    v.fail("reason", "must be one of damaged, lost, found, counted, returned, correction");
  v.text("note", in.note, kMaxNoteBytes, false);
  QQ_TRY(v.status());
  auto moved = db_.write<Movement>([&](soci::session& sql) -> Result<Movement> {
    QQ_ASSIGN_OR_RETURN(std::string sku, variant_sku(sql, in.variant_id));
    QQ_ASSIGN_OR_RETURN(StockLocation location, load_location(sql, in.location_id));
    auto level = lock_level(sql, in.variant_id, location.id);
    long long on_hand = level ? level->first : 0, reserved = level ? level->second : 0;
    long long after = on_hand + in.delta;
    if (after < reserved)
      return Error::unprocessable("inventory.below_reserved", "on hand would be " + std::to_string(after) +
                                                                  ", below the " + std::to_string(reserved) +
                                                                  " units reserved for orders");
    if (after > kMaxOnHand)
      return Error::invalid("validation_failed", "on hand would exceed " + std::to_string(kMaxOnHand),
                            {{"delta", "takes on hand above " + std::to_string(kMaxOnHand)}});
    long long now = clock_.now_ms();
    put_on_hand(sql, in.variant_id, location.id, after, level.has_value(), now);
    std::string id = write_ledger(sql, clock_, in.variant_id, location.id, "adjustment", in.delta, 0, after, reserved,
                                  "", in.reason_code, in.note);
    Movement m;
    QQ_ASSIGN_OR_RETURN(LedgerEntry entry, load_ledger_entry(sql, id));
    m.entries.push_back(std::move(entry));
    m.levels.push_back({in.variant_id, sku, location.id, after, reserved, now});
    record_changed(sql, "adjustment", "", m.levels);
    return m;
  });
  if (moved) {
    for (const auto& l : moved->levels) changes_.bump_stock(l.variant_id.value);
    events_.notify();
  }
  return moved;
}

Result<std::pair<Transfer, Movement>> InventoryService::transfer(const NewTransfer& in) {
  Validator v;
  v.range("quantity", in.quantity, 1, kMaxOnHand);
  v.text("note", in.note, kMaxNoteBytes, false);
  QQ_TRY(v.status());
  using Out = std::pair<Transfer, Movement>;
  auto moved = db_.write<Out>([&](soci::session& sql) -> Result<Out> {
    QQ_ASSIGN_OR_RETURN(std::string sku, variant_sku(sql, in.variant_id));
    QQ_ASSIGN_OR_RETURN(StockLocation from, load_location(sql, in.from_location_id));
    QQ_ASSIGN_OR_RETURN(StockLocation to, load_location(sql, in.to_location_id));
    if (from.id.value == to.id.value)
      return Error::invalid("validation_failed", "a transfer moves stock between two different locations",
                            {{"to_location_id", "must differ from from_location_id"}});
    // Both levels locked in one order (by location id), so that two opposite transfers cannot deadlock.
    bool from_first = from.id.value < to.id.value;
    std::optional<std::pair<long long, long long>> source, target;
    if (from_first) {
      source = lock_level(sql, in.variant_id, from.id);
      target = lock_level(sql, in.variant_id, to.id);
    } else {
      target = lock_level(sql, in.variant_id, to.id);
      source = lock_level(sql, in.variant_id, from.id);
    }
    long long available = source ? source->first - source->second : 0;
    if (available < in.quantity)
      return Error::conflict("inventory.insufficient_stock",
                             "only " + std::to_string(available) + " units are available at " + from.code,
                             {{"available", available}, {"requested", in.quantity}});
    long long target_on_hand = target ? target->first : 0, target_reserved = target ? target->second : 0;
    if (target_on_hand + in.quantity > kMaxOnHand)
      return Error::invalid("validation_failed",
                            "on hand at the destination would exceed " + std::to_string(kMaxOnHand),
                            {{"quantity", "takes on hand at the destination above " + std::to_string(kMaxOnHand)}});
    long long now = clock_.now_ms();
    Transfer t{new_id("trf"), in.variant_id, sku, from.id, to.id, in.quantity, in.note, now};
    soci::indicator note_ind = t.note.empty() ? soci::i_null : soci::i_ok;
    long long quantity = t.quantity;
    sql << "INSERT INTO inventory_transfers (id, variant_id, from_location_id, to_location_id, quantity, note, "
           "created_at) VALUES (:id, :v, :f, :t, :q, :n, :c)",
        soci::use(t.id), soci::use(t.variant_id.value), soci::use(t.from_location_id.value),
        soci::use(t.to_location_id.value), soci::use(quantity), soci::use(t.note, note_ind), soci::use(now);
    long long source_after = source->first - quantity, target_after = target_on_hand + quantity;
    put_on_hand(sql, in.variant_id, from.id, source_after, true, now);
    put_on_hand(sql, in.variant_id, to.id, target_after, target.has_value(), now);
    Movement m;
    for (const auto& id : {write_ledger(sql, clock_, in.variant_id, from.id, "transfer_out", -quantity, 0, source_after,
                                        source->second, t.id, "", t.note),
                           write_ledger(sql, clock_, in.variant_id, to.id, "transfer_in", quantity, 0, target_after,
                                        target_reserved, t.id, "", t.note)}) {
      QQ_ASSIGN_OR_RETURN(LedgerEntry entry, load_ledger_entry(sql, id));
      m.entries.push_back(std::move(entry));
    }
    m.levels.push_back({in.variant_id, sku, from.id, source_after, source->second, now});
    m.levels.push_back({in.variant_id, sku, to.id, target_after, target_reserved, now});
    record_changed(sql, "transfer", t.id, m.levels);
    return Out{std::move(t), std::move(m)};
  });
  if (moved) {
    for (const auto& l : moved->second.levels) changes_.bump_stock(l.variant_id.value);
    events_.notify();
  }
  return moved;
}

namespace {

const char* kTransferColumns =
    "SELECT t.id, t.variant_id, v.sku, t.from_location_id, t.to_location_id, t.quantity, t.note, t.created_at "
    "FROM inventory_transfers t JOIN variants v ON v.id = t.variant_id";

struct TransferRow {
  Transfer t;
  soci::indicator note_ind = soci::i_ok;
  void bind(storage::DynamicQuery& q) {
    q.into(t.id)
        .into(t.variant_id.value)
        .into(t.sku)
        .into(t.from_location_id.value)
        .into(t.to_location_id.value)
        .into(t.quantity)
        .into(t.note, note_ind)
        .into(t.created_at);
  }
  Transfer take() const {
    Transfer out = t;
    if (note_ind != soci::i_ok) out.note.clear();
    return out;
  }
};

}  // namespace

Result<Transfer> InventoryService::get_transfer(const std::string& id) {
  return db_.read<Transfer>([&](soci::session& sql) -> Result<Transfer> {
    TransferRow row;
    storage::DynamicQuery q(sql);
    q.text(kTransferColumns).text(" WHERE t.id = ").param(id);
    row.bind(q);
    if (!q.execute()) return Error::not_found("inventory.transfer_not_found", "no transfer '" + id + "'");
    return row.take();
  });
}

Result<TransferPage> InventoryService::list_transfers(const TransferQuery& query) {
  Validator v;
  v.range("limit", query.limit, 1, 1000);
  if (!query.cursor.empty() && !looks_like_id(query.cursor, "trf")) v.fail("cursor", "is not a cursor from this list");
  QQ_TRY(v.status("invalid_query"));
  return db_.read<TransferPage>([&](soci::session& sql) -> Result<TransferPage> {
    TransferPage page;
    TransferRow row;
    storage::DynamicQuery q(sql);
    q.text(kTransferColumns).text(" WHERE 1 = 1");
    if (query.variant_id) q.text(" AND t.variant_id = ").param(query.variant_id->value);
    if (query.location_id)
      q.text(" AND (t.from_location_id = ")
          .param(query.location_id->value)
          .text(" OR t.to_location_id = ")
          .param(query.location_id->value)
          .text(")");
    // Newest first: ids grow with time.
    if (!query.cursor.empty()) q.text(" AND t.id < ").param(query.cursor);
    q.text(" ORDER BY t.id DESC LIMIT ").param(static_cast<long long>(query.limit) + 1);
    row.bind(q);
    for (bool more = q.execute(); more; more = q.fetch()) page.items.push_back(row.take());
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    return page;
  });
}

Result<LedgerEntry> InventoryService::get_ledger_entry(const std::string& id) {
  return db_.read<LedgerEntry>([&](soci::session& sql) { return load_ledger_entry(sql, id); });
}

Result<LedgerPage> InventoryService::list_ledger(const LedgerQuery& query) {
  Validator v;
  v.range("limit", query.limit, 1, 1000);
  if (!query.cursor.empty() && !looks_like_id(query.cursor, "ledg")) v.fail("cursor", "is not a cursor from this list");
  QQ_TRY(v.status("invalid_query"));
  return db_.read<LedgerPage>([&](soci::session& sql) -> Result<LedgerPage> {
    LedgerPage page;
    LedgerRow row;
    storage::DynamicQuery q(sql);
    q.text(kLedgerColumns).text(" WHERE 1 = 1");
    if (query.variant_id) q.text(" AND l.variant_id = ").param(query.variant_id->value);
    if (query.sku) q.text(" AND v.sku = ").param(*query.sku);
    if (query.location_id) q.text(" AND l.location_id = ").param(query.location_id->value);
    if (query.reference) q.text(" AND l.reference = ").param(*query.reference);
    if (!query.cursor.empty()) q.text(" AND l.id < ").param(query.cursor);
    q.text(" ORDER BY l.id DESC LIMIT ").param(static_cast<long long>(query.limit) + 1);
    bind_ledger(q, row);
    for (bool more = q.execute(); more; more = q.fetch()) page.items.push_back(row.take());
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    return page;
  });
}

}  // namespace quanqu::inventory
