// Unit tests for inventory: locations, on-hand levels with their ledger, and reserve/release.
#include "core_test_support.h"

namespace quanqu::inventory {
namespace {

using test_support::CoreEnv;
using test_support::describe;

struct LedgerRow {
  std::string reason;
  long long delta_on_hand = 0, delta_reserved = 0, on_hand_after = 0, reserved_after = 0;
  std::string reference;
};

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a = env.location("loc-a");
    b = env.location("loc-b", "store", true);
    c = env.location("loc-c", "store", true);
    auto p = env.product("thing", {"THING-1"});
    variant = p.variants[0].id;
  }

  // The ledger rows of one level, oldest first, read straight from the table.
  std::vector<LedgerRow> ledger(const LocationId& location) {
    auto rows = env.db().read<std::vector<LedgerRow>>([&](soci::session& sql) -> Result<std::vector<LedgerRow>> {
      std::vector<LedgerRow> out;
      LedgerRow r;
      std::string reference;
      soci::indicator ref_ind;
      soci::statement st =
          (sql.prepare << "SELECT reason, delta_on_hand, delta_reserved, on_hand_after, reserved_after, reference "
                          "FROM inventory_ledger WHERE variant_id = :v AND location_id = :l ORDER BY created_at, id",
           soci::into(r.reason), soci::into(r.delta_on_hand), soci::into(r.delta_reserved), soci::into(r.on_hand_after),
           soci::into(r.reserved_after), soci::into(reference, ref_ind), soci::use(variant.value),
           soci::use(location.value));
      st.execute();
      while (st.fetch()) {
        r.reference = ref_ind == soci::i_ok ? reference : "";
        out.push_back(r);
      }
      return out;
    });
    if (!rows) throw std::runtime_error(describe(rows));
    return *rows;
  }

  // Runs InventoryService::reserve in its own transaction; a refusal rolls it back.
  std::optional<std::vector<Allocation>> reserve(std::int64_t quantity, std::int64_t* available = nullptr,
                                                 const std::string& reference = "order_test") {
    std::vector<LocationId> order{a.id, b.id, c.id};
    auto r = env.db().write<std::vector<Allocation>>([&](soci::session& sql) -> Result<std::vector<Allocation>> {
      auto taken = InventoryService::reserve(sql, env.clock, variant, order, quantity, reference, available);
      if (!taken) return Error::conflict("inventory.insufficient_stock", "short");
      return *taken;
    });
    if (!r) return std::nullopt;
    return *r;
  }

  CoreEnv env;
  StockLocation a, b, c;
  VariantId variant;
};

TEST_F(InventoryTest, LocationsAreCreatedListedAndCodesAreUnique) {
  auto list = env.inventory.list_locations();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].code, "loc-a");
  EXPECT_EQ((*list)[1].kind, "store");
  EXPECT_TRUE((*list)[1].pickup_enabled);
  EXPECT_EQ((*list)[0].address.latitude, std::optional<double>(31.23));

  NewStockLocation dup{"loc-a", "Again", "warehouse", CoreEnv::address(), false};
  auto r = env.inventory.create_location(dup);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "location.code_taken");

  NewStockLocation bad{"Bad Code", "", "shop", CoreEnv::address(), false};
  bad.address.country = "china";
  auto invalid = env.inventory.create_location(bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().kind, ErrorKind::invalid_argument);
  EXPECT_GE(invalid.error().fields.size(), 4u);  // code, name, kind, address/country

  auto by_code = env.inventory.get_location(LocationId("loc-b"));
  ASSERT_TRUE(by_code.ok());
  EXPECT_EQ(by_code->id, b.id);
}

TEST_F(InventoryTest, SetOnHandWritesLedgerRows) {
  auto first = env.inventory.set_on_hand(variant, a.id, 10);
  ASSERT_TRUE(first.ok()) << describe(first);
  EXPECT_EQ(first->on_hand, 10);
  EXPECT_EQ(first->reserved, 0);
  EXPECT_EQ(first->available(), 10);
  EXPECT_EQ(first->sku, "THING-1");
  env.clock.advance(1000);
  ASSERT_TRUE(env.inventory.set_on_hand(variant, a.id, 4).ok());
  env.clock.advance(1000);
  ASSERT_TRUE(env.inventory.set_on_hand(variant, a.id, 4).ok());  // no change, no row

  auto rows = ledger(a.id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].reason, "adjustment");
  EXPECT_EQ(rows[0].delta_on_hand, 10);
  EXPECT_EQ(rows[0].delta_reserved, 0);
  EXPECT_EQ(rows[0].on_hand_after, 10);
  EXPECT_EQ(rows[1].delta_on_hand, -6);
  EXPECT_EQ(rows[1].on_hand_after, 4);
  EXPECT_EQ(rows[1].reserved_after, 0);
  EXPECT_EQ(env.on_hand(variant, a.id), 4);

  // A first level of zero is still recorded, so every level has a ledger history.
  ASSERT_TRUE(env.inventory.set_on_hand(variant, b.id, 0).ok());
  EXPECT_EQ(ledger(b.id).size(), 1u);
}

TEST_F(InventoryTest, SetOnHandRefusesBadInput) {
  auto negative = env.inventory.set_on_hand(variant, a.id, -1);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().kind, ErrorKind::invalid_argument);
  auto unknown_variant = env.inventory.set_on_hand(VariantId("var_nope"), a.id, 1);
  ASSERT_FALSE(unknown_variant.ok());
  EXPECT_EQ(unknown_variant.error().kind, ErrorKind::not_found);
  auto unknown_location = env.inventory.set_on_hand(variant, LocationId("loc_nope"), 1);
  ASSERT_FALSE(unknown_location.ok());
  EXPECT_EQ(unknown_location.error().kind, ErrorKind::not_found);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM inventory_ledger"), 0);
}

TEST_F(InventoryTest, OnHandBelowReservedIsRefused) {
  env.stock(variant, a.id, 10);
  ASSERT_TRUE(reserve(6).has_value());
  auto r = env.inventory.set_on_hand(variant, a.id, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(r.error().code, "inventory.below_reserved");
  EXPECT_EQ(env.on_hand(variant, a.id), 10);
  auto exact = env.inventory.set_on_hand(variant, a.id, 6);
  ASSERT_TRUE(exact.ok()) << describe(exact);
  EXPECT_EQ(exact->available(), 0);
  EXPECT_EQ(exact->reserved, 6);
}

TEST_F(InventoryTest, ReservePrefersOneLocationThatHasItAll) {
  env.stock(variant, a.id, 3);
  env.stock(variant, b.id, 10);
  env.stock(variant, c.id, 10);
  env.clock.advance(1000);  // the ledger is read in time order
  std::int64_t available = 0;
  auto taken = reserve(5, &available);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(available, 23);
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].location_id, b.id);
  EXPECT_EQ((*taken)[0].quantity, 5);
  EXPECT_EQ(env.reserved(variant, b.id), 5);
  EXPECT_EQ(env.reserved(variant, a.id), 0);
  // The first location in preference order wins when it can supply everything.
  auto small = reserve(2);
  ASSERT_TRUE(small.has_value());
  ASSERT_EQ(small->size(), 1u);
  EXPECT_EQ((*small)[0].location_id, a.id);

  auto rows = ledger(b.id);
  ASSERT_EQ(rows.size(), 2u);  // the adjustment, then the reservation
  EXPECT_EQ(rows[1].reason, "reserve");
  EXPECT_EQ(rows[1].delta_on_hand, 0);
  EXPECT_EQ(rows[1].delta_reserved, 5);
  EXPECT_EQ(rows[1].on_hand_after, 10);
  EXPECT_EQ(rows[1].reserved_after, 5);
  EXPECT_EQ(rows[1].reference, "order_test");
}

TEST_F(InventoryTest, ReserveSplitsInPreferenceOrderWhenNoLocationHasItAll) {
  env.stock(variant, a.id, 3);
  env.stock(variant, b.id, 4);
  env.stock(variant, c.id, 2);
  auto taken = reserve(8);
  ASSERT_TRUE(taken.has_value());
  ASSERT_EQ(taken->size(), 3u);
  EXPECT_EQ((*taken)[0].location_id, a.id);
  EXPECT_EQ((*taken)[0].quantity, 3);
  EXPECT_EQ((*taken)[1].location_id, b.id);
  EXPECT_EQ((*taken)[1].quantity, 4);
  EXPECT_EQ((*taken)[2].location_id, c.id);
  EXPECT_EQ((*taken)[2].quantity, 1);
  EXPECT_EQ(env.level(variant, c.id).available(), 1);
}

TEST_F(InventoryTest, ReserveSkipsLocationsWithoutStockOrLevel) {
  env.stock(variant, b.id, 0);
  env.stock(variant, c.id, 5);  // a has no level at all
  auto taken = reserve(4);
  ASSERT_TRUE(taken.has_value());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].location_id, c.id);
}

TEST_F(InventoryTest, ReserveRefusesAndChangesNothingWhenShort) {
  env.stock(variant, a.id, 3);
  env.stock(variant, b.id, 4);
  env.stock(variant, c.id, 2);
  long long ledger_before = env.scalar("SELECT COUNT(*) FROM inventory_ledger");
  std::int64_t available = -1;
  EXPECT_FALSE(reserve(10, &available).has_value());
  EXPECT_EQ(available, 9);
  for (const auto& l : {a.id, b.id, c.id}) EXPECT_EQ(env.reserved(variant, l), 0);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM inventory_ledger"), ledger_before);

  // Refused inside a transaction that goes on to commit, it has still written nothing.
  auto committed = env.db().write<bool>([&](soci::session& sql) -> Result<bool> {
    return InventoryService::reserve(sql, env.clock, variant, {a.id, b.id, c.id}, 10, "order_x", nullptr)
        .has_value();
  });
  ASSERT_TRUE(committed.ok());
  EXPECT_FALSE(*committed);
  for (const auto& l : {a.id, b.id, c.id}) EXPECT_EQ(env.reserved(variant, l), 0);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM inventory_ledger"), ledger_before);
}

TEST_F(InventoryTest, ReleaseGivesUnitsBackWithLedgerRows) {
  env.stock(variant, a.id, 3);
  env.stock(variant, b.id, 4);
  auto taken = reserve(6, nullptr, "order_r");
  ASSERT_TRUE(taken.has_value());
  env.clock.advance(1000);  // the ledger is read in time order
  auto released = env.db().write<Ok>([&](soci::session& sql) -> Status {
    return InventoryService::release(sql, env.clock, *taken, "order_r");
  });
  ASSERT_TRUE(released.ok()) << describe(released);
  EXPECT_EQ(env.reserved(variant, a.id), 0);
  EXPECT_EQ(env.reserved(variant, b.id), 0);
  auto rows = ledger(b.id);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().reason, "release");
  EXPECT_EQ(rows.back().delta_reserved, -3);
  EXPECT_EQ(rows.back().reference, "order_r");

  // Releasing more than is reserved is a bug in the caller, refused.
  auto again = env.db().write<Ok>([&](soci::session& sql) -> Status {
    return InventoryService::release(sql, env.clock, *taken, "order_r");
  });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::internal);
}

}  // namespace
}  // namespace quanqu::inventory

TEST(InventoryLevelsPage, WalksEveryLevelOnceAndRefusesBadCursors) {
  quanqu::test_support::CoreEnv env;
  auto store = env.location("page-store");
  auto depot = env.location("page-depot");
  std::vector<quanqu::VariantId> variants;
  for (int i = 0; i < 5; ++i) {
    auto p = env.product("page-prod-" + std::to_string(i), {"PAGE-" + std::to_string(i)});
    variants.push_back(p.variants.front().id);
    env.stock(variants.back(), store.id, 3);
    env.stock(variants.back(), depot.id, 4);
  }
  quanqu::inventory::LevelQuery q;
  q.limit = 3;
  std::set<std::string> seen;
  int pages = 0;
  while (true) {
    auto page = quanqu::test_support::CoreEnv::must(env.inventory.list_levels(q));
    ++pages;
    for (const auto& l : page.items) EXPECT_TRUE(seen.insert(l.variant_id.value + l.location_id.value).second);
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(pages, 4);
  q.cursor = "not-a-cursor";
  auto bad = env.inventory.list_levels(q);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "invalid_query");
}
