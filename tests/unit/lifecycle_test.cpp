// Unit tests for the order lifecycle table: every status and move, each guard, and the 409 it explains.
#include "orders/lifecycle.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace quanqu::orders::lifecycle {
namespace {

using Moves = std::vector<std::string>;

Facts facts(std::string status, std::string payment = "authorized", std::string type = "ship",
            std::string actor = "admin") {
  return {std::move(status), std::move(payment), std::move(type), std::move(actor)};
}

TEST(LifecycleTest, EveryStatusIsKnownInOrder) {
  EXPECT_EQ(statuses(), (Moves{"placed", "paid", "shipped", "delivered", "ready_for_pickup", "picked_up", "completed",
                               "cancelled"}));
  for (const auto& s : statuses()) EXPECT_TRUE(is_status(s));
  EXPECT_FALSE(is_status("pending"));
  EXPECT_FALSE(is_status("fulfilled"));
}

// The whole table for an admin, by status, for an unpaid and a paid order of each kind.
TEST(LifecycleTest, AllowedMovesOfEveryStatus) {
  std::map<std::string, Moves> unpaid_ship{
      {"placed", {"mark_paid", "ship", "cancel"}},
      {"paid", {"ship", "cancel"}},
      {"shipped", {"mark_paid", "deliver"}},
      {"delivered", {"mark_paid"}},
      {"ready_for_pickup", {"mark_paid", "pickup", "cancel"}},
      {"picked_up", {"mark_paid"}},
      {"completed", {}},
      {"cancelled", {}},
  };
  for (const auto& [status, moves] : unpaid_ship)
    EXPECT_EQ(allowed_move_names(facts(status)), moves) << status;

  std::map<std::string, Moves> paid_ship{
      {"placed", {"ship", "cancel"}},  // not a real state (placed is unpaid) but the guard holds
      {"paid", {"ship", "cancel"}},
      {"shipped", {"deliver"}},
      {"delivered", {"complete"}},
      {"ready_for_pickup", {"pickup", "cancel"}},
      {"picked_up", {"complete"}},
      {"completed", {}},
      {"cancelled", {}},
  };
  for (const auto& [status, moves] : paid_ship)
    EXPECT_EQ(allowed_move_names(facts(status, "captured")), moves) << status;

  // The pickup branch opens instead of shipping: once paid, or at once when the channel takes no
  // payment step (paid at the desk).
  EXPECT_EQ(allowed_move_names(facts("placed", "authorized", "pickup")), (Moves{"mark_paid", "cancel"}));
  EXPECT_EQ(allowed_move_names(facts("placed", "not_required", "pickup")),
            (Moves{"mark_paid", "ready_for_pickup", "cancel"}));
  EXPECT_EQ(allowed_move_names(facts("paid", "captured", "pickup")), (Moves{"ready_for_pickup", "cancel"}));
  EXPECT_EQ(allowed_move_names(facts("ready_for_pickup", "not_required", "pickup")),
            (Moves{"mark_paid", "pickup", "cancel"}));
  EXPECT_EQ(allowed_move_names(facts("picked_up", "not_required", "pickup")), (Moves{"mark_paid"}));
}

TEST(LifecycleTest, TargetsFollowTheIssue) {
  EXPECT_EQ(target(facts("placed"), Move::mark_paid), "paid");
  EXPECT_EQ(target(facts("paid", "captured"), Move::ship), "shipped");
  EXPECT_EQ(target(facts("shipped", "captured"), Move::deliver), "delivered");
  EXPECT_EQ(target(facts("delivered", "captured"), Move::complete), "completed");
  EXPECT_EQ(target(facts("paid", "captured", "pickup"), Move::ready_for_pickup), "ready_for_pickup");
  EXPECT_EQ(target(facts("ready_for_pickup", "captured", "pickup"), Move::pickup), "picked_up");
  EXPECT_EQ(target(facts("picked_up", "captured", "pickup"), Move::complete), "completed");
  EXPECT_EQ(target(facts("placed"), Move::cancel), "cancelled");
  EXPECT_EQ(target(facts("paid", "captured"), Move::cancel), "cancelled");
  // Paid after the goods left: the status stays.
  EXPECT_EQ(target(facts("shipped"), Move::mark_paid), "shipped");
  EXPECT_EQ(target(facts("picked_up", "authorized", "pickup"), Move::mark_paid), "picked_up");
}

TEST(LifecycleTest, CompletingNeedsTheMoneyAndRefundsCountAsTaken) {
  EXPECT_FALSE(target(facts("delivered", "authorized"), Move::complete));
  EXPECT_FALSE(target(facts("delivered", "not_required"), Move::complete));
  EXPECT_TRUE(target(facts("delivered", "partially_refunded"), Move::complete));
  EXPECT_TRUE(target(facts("delivered", "refunded"), Move::complete));
  EXPECT_TRUE(payment_settled("captured"));
  EXPECT_FALSE(payment_settled("cancelled"));
}

TEST(LifecycleTest, AnAdminAJobOrTheSystemCancelsAnUncollectedPickup) {
  for (const std::string actor : {"customer", "plugin"})
    EXPECT_FALSE(target(facts("ready_for_pickup", "captured", "pickup", actor), Move::cancel)) << actor;
  for (const std::string actor : {"admin", "job", "system"})
    EXPECT_EQ(target(facts("ready_for_pickup", "captured", "pickup", actor), Move::cancel), "cancelled") << actor;
}

TEST(LifecycleTest, FinalStatesAllowNothing) {
  for (const std::string status : {"completed", "cancelled"})
    for (auto m : {Move::mark_paid, Move::ship, Move::deliver, Move::ready_for_pickup, Move::pickup, Move::complete,
                   Move::cancel})
      EXPECT_FALSE(target(facts(status, "captured", "ship", "system"), m)) << status << " " << name(m);
}

TEST(LifecycleTest, AnInvalidTransitionNamesTheStatusAndTheAllowedMoves) {
  Error e = invalid_transition(facts("shipped", "captured"), Move::cancel);
  EXPECT_EQ(e.kind, ErrorKind::conflict);
  EXPECT_EQ(e.code, "order.invalid_transition");
  EXPECT_EQ(e.extensions["current_status"], "shipped");
  EXPECT_EQ(e.extensions["allowed_moves"], (nlohmann::json{"deliver"}));
  EXPECT_NE(e.message.find("shipped"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("deliver"), std::string::npos) << e.message;

  Error final = invalid_transition(facts("cancelled"), Move::ship);
  EXPECT_EQ(final.extensions["allowed_moves"], nlohmann::json::array());
  EXPECT_NE(final.message.find("final"), std::string::npos) << final.message;

  Error unpaid = invalid_transition(facts("delivered"), Move::complete);
  EXPECT_NE(unpaid.message.find("mark it paid"), std::string::npos) << unpaid.message;
}

TEST(LifecycleTest, ThePickupMovesAreRefusedWithTheirReason) {
  // An unpaid pickup order with a payment step is not made ready.
  EXPECT_FALSE(target(facts("placed", "authorized", "pickup"), Move::ready_for_pickup));
  Error unpaid = invalid_transition(facts("placed", "authorized", "pickup"), Move::ready_for_pickup);
  EXPECT_NE(unpaid.message.find("mark it paid"), std::string::npos) << unpaid.message;
  // A ship order has no pickup, a pickup order does not ship.
  for (const std::string payment : {"not_required", "captured"}) {
    EXPECT_FALSE(target(facts("paid", payment), Move::ready_for_pickup)) << payment;
    EXPECT_FALSE(target(facts("placed", payment, "pickup"), Move::ship)) << payment;
  }
  Error ships = invalid_transition(facts("paid", "captured"), Move::ready_for_pickup);
  EXPECT_EQ(ships.extensions["allowed_moves"], (nlohmann::json{"ship", "cancel"}));
  EXPECT_NE(ships.message.find("not picked up in store"), std::string::npos) << ships.message;
  Error picks = invalid_transition(facts("paid", "captured", "pickup"), Move::ship);
  EXPECT_NE(picks.message.find("does not ship"), std::string::npos) << picks.message;
  // Picked up is not completed until the payment is settled and complete is asked for.
  EXPECT_EQ(target(facts("ready_for_pickup", "captured", "pickup"), Move::pickup), "picked_up");
  EXPECT_FALSE(target(facts("picked_up", "not_required", "pickup"), Move::complete));
}

}  // namespace
}  // namespace quanqu::orders::lifecycle
