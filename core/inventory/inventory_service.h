// Stock: locations, levels, and the ledger-backed reserve/release used by checkout and orders.
#pragma once

#include "common/change_counter.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "inventory/allocation.h"
#include "inventory/inventory.h"
#include "storage/database.h"

#include <utility>
#include <vector>

namespace quanqu::inventory {

struct LevelQuery {
  std::optional<VariantId> variant_id;
  std::optional<std::string> sku;
  std::optional<LocationId> location_id;
  int limit = 100;     // 1..1000
  std::string cursor;  // the next_cursor of the previous page
};

struct LevelPage {
  std::vector<InventoryLevel> items;
  std::string next_cursor;
};

struct LedgerQuery {
  std::optional<VariantId> variant_id;
  std::optional<std::string> sku;
  std::optional<LocationId> location_id;
  std::optional<std::string> reference;  // an order or transfer id
  int limit = 100;                       // 1..1000
  std::string cursor;                    // the next_cursor of the previous page
};

struct LedgerPage {
  std::vector<LedgerEntry> items;  // newest first
  std::string next_cursor;
};

struct TransferQuery {
  std::optional<VariantId> variant_id;
  std::optional<LocationId> location_id;  // either end
  int limit = 100;                        // 1..1000
  std::string cursor;
};

struct TransferPage {
  std::vector<Transfer> items;  // newest first
  std::string next_cursor;
};

// What an adjustment or a transfer did: the ledger rows it wrote and the levels after it.
struct Movement {
  std::vector<LedgerEntry> entries;
  std::vector<InventoryLevel> levels;
};

class InventoryService {
 public:
  InventoryService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events);

  Result<StockLocation> create_location(const NewStockLocation& input);
  Result<StockLocation> update_location(const LocationId& id, const StockLocationPatch& patch);
  Result<StockLocation> get_location(const LocationId& id);
  Result<std::vector<StockLocation>> list_locations();

  // Sets on hand for (variant, location), creating the level if needed, and writes a ledger
  // row with the difference. Below what is reserved is a 422 `inventory.below_reserved`.
  Result<InventoryLevel> set_on_hand(const VariantId& variant, const LocationId& location, std::int64_t on_hand);
  // Levels by variant, then location; cursor-paginated.
  Result<LevelPage> list_levels(const LevelQuery& query);

  // The reason codes of adjustments.
  static const std::vector<std::string>& adjustment_reasons();
  // Adds `delta` (not zero) to on hand at the level, creating it for a positive delta, with one
  // ledger row (reason "adjustment", the reason code and note). Below what is reserved is a 422
  // `inventory.below_reserved`; an unknown reason code a 400.
  Result<Movement> adjust(const NewAdjustment& adjustment);
  // Moves `quantity` units from one location to the other in one transaction: available units
  // (on hand less reserved) at the source only, else a 409 `inventory.insufficient_stock` and
  // nothing moves. Writes the transfer and two ledger rows referencing it.
  Result<std::pair<Transfer, Movement>> transfer(const NewTransfer& transfer);
  Result<Transfer> get_transfer(const std::string& id);
  Result<TransferPage> list_transfers(const TransferQuery& query);
  Result<LedgerEntry> get_ledger_entry(const std::string& id);
  // Ledger rows, newest first; cursor-paginated.
  Result<LedgerPage> list_ledger(const LedgerQuery& query);

  // The pickup-enabled stores among `locations` (a channel's, in its order) with what they have of
  // the variant now (read from the levels, never cached). With `from` ({latitude, longitude}),
  // each has its distance and they come nearest first (those without coordinates last).
  Result<std::vector<PickupAvailability>> pickup_availability(const VariantId& variant,
                                                              const std::vector<LocationId>& locations,
                                                              std::optional<std::pair<double, double>> from);

  // --- Inside a caller's transaction ---
  // Reserves `quantity` units of the variant over `locations` (preference order): one location
  // that can supply it all if there is one, else spread in order. Returns what was taken, or
  // nothing when the locations together cannot supply it. Nothing may have been changed or,
  // when a concurrent writer took units between the read and the conditional update, some
  // rows may have been: either way the caller must roll its transaction back on nothing.
  // `available_out` receives the units that were available.
  static std::optional<std::vector<Allocation>> reserve(soci::session& sql, const Clock& clock,
                                                        const VariantId& variant,
                                                        const std::vector<LocationId>& locations, std::int64_t quantity,
                                                        const std::string& reference, std::int64_t* available_out);
  // Reserves an order's lines over `locations` (preference order) by plan_allocations(): the
  // levels concerned are locked first, in (variant, location) order, so concurrent checkouts
  // never deadlock, then planned on and reserved (ledger rows with reason "reserve"). A plan with
  // shortages is returned as is and nothing is reserved; a 409 `inventory.insufficient_stock`
  // only if a guard update failed anyway (the caller rolls back either way on a shortage).
  static Result<AllocationPlan> reserve_order(soci::session& sql, const Clock& clock,
                                              const std::vector<LineDemand>& lines,
                                              const std::vector<LocationId>& locations, const std::string& reference);
  // Gives reserved units back (an order cancelled); writes ledger rows with reason "release".
  static Status release(soci::session& sql, const Clock& clock, const std::vector<Allocation>& allocations,
                        const std::string& reference);
  // The reserved units left the shelf (an order fulfilled): on hand and reserved both drop;
  // ledger rows with reason "fulfilment".
  static Status ship(soci::session& sql, const Clock& clock, const std::vector<Allocation>& allocations,
                     const std::string& reference);

  // After a commit that moved `allocations`: only the store views showing their variants are stale.
  static void stock_changed(ChangeCounter& changes, const std::vector<Allocation>& allocations) {
    for (const auto& a : allocations) changes.bump_stock(a.variant_id.value);
  }

  // Returned units back on hand (an order's return with restock): on hand rises at each
  // allocation's location (the level is created when the variant was never stocked there);
  // ledger rows with reason "return".
  static Status restock(soci::session& sql, const Clock& clock, const std::vector<Allocation>& allocations,
                        const std::string& reference);

  // The facts of an inventory.changed event for allocations moved by `reason` (reserve, release,
  // fulfilment, return), read inside the caller's transaction after the move: each level names
  // what moved (`quantity`) and how it now stands (`sku`, `on_hand`, `reserved`, `available`).
  static nlohmann::json changed_event(soci::session& sql, const std::vector<Allocation>& allocations,
                                      const std::string& reason, const std::string& reference);

 private:
  Result<StockLocation> load_location(soci::session& sql, const LocationId& id);
  // Records an inventory.changed event for `levels` in the caller's transaction (the outbox).
  void record_changed(soci::session& sql, const std::string& reason, const std::string& reference,
                      const std::vector<InventoryLevel>& levels);

  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
  events::EventBus& events_;
};

}  // namespace quanqu::inventory
