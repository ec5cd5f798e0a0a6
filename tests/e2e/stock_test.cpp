// End to end: stock adjustments with reason codes, transfers between locations, and the ledger of every movement.
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;

const std::string kSku = "TEE-ORGANIC-NAVY-M";
using quanqu::e2e::kAddress;

class StockTest : public E2ETest {
 protected:
  std::string location_id(const std::string& code) {
    auto r = admin().get("/v1/admin/stock-locations/" + code);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("id", "");
  }
  // The level of kSku at a location: {on_hand, reserved}.
  std::pair<std::int64_t, std::int64_t> level(const std::string& location) {
    json items = admin().get("/v1/admin/inventory-levels?sku=" + kSku + "&location_id=" + location).json()["items"];
    if (items.empty()) return {0, 0};
    return {items[0].value("on_hand", std::int64_t{0}), items[0].value("reserved", std::int64_t{0})};
  }
};

TEST_F(StockTest, AnAdjustmentCorrectsOnHandWithItsReasonAndIsInTheLedger) {
  std::string warehouse = location_id("warehouse-shanghai");
  auto [on_hand, reserved] = level(warehouse);
  ASSERT_GT(on_hand, 2);

  auto made = admin().post("/v1/admin/inventory-adjustments", {{"sku", kSku},
                                                               {"location_id", warehouse},
                                                               {"delta", -2},
                                                               {"reason", "damaged"},
                                                               {"note", "water damage in aisle 4"}});
  ASSERT_EQ(made.status, 201u) << made.body;
  json entry = made.json()["entries"][0];
  EXPECT_EQ(entry["reason"], "adjustment");
  EXPECT_EQ(entry["reason_code"], "damaged");
  EXPECT_EQ(entry["delta_on_hand"], -2);
  EXPECT_EQ(entry["on_hand_after"], on_hand - 2);
  EXPECT_EQ(entry["note"], "water damage in aisle 4");
  EXPECT_EQ(made.json()["levels"][0]["on_hand"], on_hand - 2);
  EXPECT_EQ(made.header("Location"), "/v1/admin/inventory-ledger/" + entry.value("id", ""));
  EXPECT_EQ(admin().get(made.header("Location")).json(), entry);
  EXPECT_EQ(level(warehouse).first, on_hand - 2);

  // Newest first in the ledger of that level.
  auto ledger = admin().get("/v1/admin/inventory-ledger?sku=" + kSku + "&location_id=" + warehouse);
  ASSERT_EQ(ledger.status, 200u) << ledger.body;
  EXPECT_EQ(ledger.json()["items"][0], entry);

  // Refused, and nothing changes: zero, an unknown reason, below what is reserved, unknown ids.
  auto attempt = [&](json body) { return admin().post("/v1/admin/inventory-adjustments", body); };
  EXPECT_TRUE(IsProblem(attempt({{"sku", kSku}, {"location_id", warehouse}, {"delta", 0}, {"reason", "counted"}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(IsProblem(attempt({{"sku", kSku}, {"location_id", warehouse}, {"delta", 1}, {"reason", "stolen"}}), 400,
                        "validation_failed"));
  EXPECT_TRUE(
      IsProblem(attempt({{"location_id", warehouse}, {"delta", 1}, {"reason", "found"}}), 400, "validation_failed"));
  EXPECT_TRUE(IsProblem(
      attempt(
          {{"sku", kSku}, {"location_id", warehouse}, {"delta", -(on_hand - 2 - reserved) - 1}, {"reason", "lost"}}),
      422, "inventory.below_reserved"));
  EXPECT_TRUE(IsProblem(attempt({{"sku", kSku}, {"location_id", "loc_nowhere"}, {"delta", 1}, {"reason", "found"}}),
                        404, "location.not_found"));
  EXPECT_TRUE(
      IsProblem(attempt({{"sku", "NO-SUCH-SKU"}, {"location_id", warehouse}, {"delta", 1}, {"reason", "found"}}), 404,
                "variant.not_found"));
  EXPECT_EQ(level(warehouse).first, on_hand - 2);
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/inventory-ledger/ledg_nope"), 404, "inventory.ledger_entry_not_found"));
}

TEST_F(StockTest, ATransferMovesAvailableUnitsInOneTransaction) {
  std::string from = location_id("warehouse-shanghai"), to = location_id("store-shanghai-jingan");
  auto before_from = level(from), before_to = level(to);
  ASSERT_GT(before_from.first - before_from.second, 3);

  json body = {{"sku", kSku}, {"from_location_id", from}, {"to_location_id", to}, {"quantity", 3}, {"note", "restock"}};
  auto made = admin().post("/v1/admin/inventory-transfers", body, {{"Idempotency-Key", "transfer-1"}});
  ASSERT_EQ(made.status, 201u) << made.body;
  json transfer = made.json();
  std::string id = transfer.value("id", "");
  EXPECT_EQ(made.header("Location"), "/v1/admin/inventory-transfers/" + id);
  EXPECT_EQ(transfer["quantity"], 3);
  json entries = transfer["movement"]["entries"];
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["reason"], "transfer_out");
  EXPECT_EQ(entries[0]["delta_on_hand"], -3);
  EXPECT_EQ(entries[1]["reason"], "transfer_in");
  EXPECT_EQ(entries[1]["reference"], id);
  EXPECT_EQ(level(from).first, before_from.first - 3);
  EXPECT_EQ(level(to).first, before_to.first + 3);

  // A retry with the same key replays the reply and moves nothing again.
  auto again = admin().post("/v1/admin/inventory-transfers", body, {{"Idempotency-Key", "transfer-1"}});
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(level(from).first, before_from.first - 3);

  transfer.erase("movement");
  EXPECT_EQ(admin().get("/v1/admin/inventory-transfers/" + id).json(), transfer);
  EXPECT_EQ(admin().get("/v1/admin/inventory-transfers?location_id=" + to).json()["items"][0], transfer);
  EXPECT_EQ(admin().get("/v1/admin/inventory-ledger?reference=" + id).json()["items"].size(), 2u);

  // More than is available, one location twice, and unknown ids are refused; nothing moves.
  auto after_from = level(from);
  json greedy = body;
  greedy["quantity"] = after_from.first - after_from.second + 1;
  auto refused = admin().post("/v1/admin/inventory-transfers", greedy);
  EXPECT_TRUE(IsProblem(refused, 409, "inventory.insufficient_stock"));
  EXPECT_EQ(refused.json()["details"]["available"], after_from.first - after_from.second);
  json same = body;
  same["to_location_id"] = from;
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/inventory-transfers", same), 400, "validation_failed"));
  json zero = body;
  zero["quantity"] = 0;
  EXPECT_TRUE(IsProblem(admin().post("/v1/admin/inventory-transfers", zero), 400, "validation_failed"));
  EXPECT_EQ(level(from), after_from);
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/inventory-transfers/trf_nope"), 404, "inventory.transfer_not_found"));
}

TEST_F(StockTest, TheLedgerRecordsTheReservationsOfAnOrder) {
  auto cart = store().post(
      "/v1/store/carts",
      {{"email", "li.lei@example.cn"}, {"shipping_address", kAddress}, {"items", {{{"sku", kSku}, {"quantity", 2}}}}});
  ASSERT_EQ(cart.status, 201u) << cart.body;
  auto order = store().request("POST", "/v1/store/carts/" + cart.json().value("id", "") + "/checkout",
                               std::string("{}"), {{"Idempotency-Key", "stock-ledger-1"}});
  ASSERT_EQ(order.status, 201u) << order.body;
  auto ledger = admin().get("/v1/admin/inventory-ledger?reference=" + order.json().value("id", ""));
  ASSERT_EQ(ledger.status, 200u) << ledger.body;
  std::int64_t reserved = 0;
  json items = ledger.json()["items"];  // a local: a range over a temporary's member would dangle
  for (const auto& e : items) {
    EXPECT_EQ(e["reason"], "reserve");
    reserved += e.value("delta_reserved", std::int64_t{0});
  }
  EXPECT_EQ(reserved, 2) << ledger.body;
}

TEST_F(StockTest, TheLedgerIsPaginatedNewestFirst) {
  std::string warehouse = location_id("warehouse-shanghai");
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(admin()
                  .post("/v1/admin/inventory-adjustments",
                        {{"sku", kSku}, {"location_id", warehouse}, {"delta", 1}, {"reason", "found"}})
                  .status,
              201u);
  auto first = admin().get("/v1/admin/inventory-ledger?sku=" + kSku + "&limit=2");
  ASSERT_EQ(first.status, 200u) << first.body;
  ASSERT_EQ(first.json()["items"].size(), 2u);
  std::string cursor = first.json().value("next_cursor", "");
  ASSERT_FALSE(cursor.empty());
  auto second = admin().get("/v1/admin/inventory-ledger?sku=" + kSku + "&limit=2&cursor=" + cursor);
  ASSERT_EQ(second.status, 200u) << second.body;
  ASSERT_FALSE(second.json()["items"].empty());
  EXPECT_LT(second.json()["items"][0].value("id", ""), first.json()["items"][1].value("id", ""));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/inventory-ledger?cursor=bogus"), 400, "invalid_query"));
}

}  // namespace
