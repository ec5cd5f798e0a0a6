// The order lifecycle table and the 409 for a move it does not allow.
#include "orders/lifecycle.h"

#include <algorithm>

namespace quanqu::orders::lifecycle {
namespace {

// One row per allowed move: from, move, to ("" keeps the status) and the guard beyond the status.
enum class Guard { none, unsettled, settled, ship_type, pickup_type, pickup_no_payment_step, staff_or_system };

struct Row {
  const char* from;
  Move move;
  const char* to;
  Guard guard;
};

constexpr Row kTable[] = {
    {"placed", Move::mark_paid, "paid", Guard::unsettled},
    {"placed", Move::ship, "shipped", Guard::ship_type},  // unpaid: cash on delivery
    // A pickup order waits at the store once paid, or at once when its channel takes no payment
    // step (it is paid at the desk: mark_paid from ready_for_pickup or picked_up).
    {"placed", Move::ready_for_pickup, "ready_for_pickup", Guard::pickup_no_payment_step},
    {"placed", Move::cancel, "cancelled", Guard::none},
    {"paid", Move::ship, "shipped", Guard::ship_type},
    {"paid", Move::ready_for_pickup, "ready_for_pickup", Guard::pickup_type},
    {"paid", Move::cancel, "cancelled", Guard::none},
    {"shipped", Move::deliver, "delivered", Guard::none},
    {"shipped", Move::mark_paid, "", Guard::unsettled},
    {"delivered", Move::complete, "completed", Guard::settled},
    {"delivered", Move::mark_paid, "", Guard::unsettled},
    {"ready_for_pickup", Move::pickup, "picked_up", Guard::none},
    {"ready_for_pickup", Move::mark_paid, "", Guard::unsettled},
    // The goods are still only reserved: the merchant may cancel (the shopper will not come) and
    // the pickup.expire job does when the hold ran out; a plugin or a customer may not.
    {"ready_for_pickup", Move::cancel, "cancelled", Guard::staff_or_system},
    {"picked_up", Move::complete, "completed", Guard::settled},
    {"picked_up", Move::mark_paid, "", Guard::unsettled},
};

bool passes(Guard guard, const Facts& f) {
  switch (guard) {
    case Guard::none: return true;
    case Guard::unsettled: return !payment_settled(f.payment_status) && f.payment_status != "cancelled";
    case Guard::settled: return payment_settled(f.payment_status);
    case Guard::ship_type: return f.fulfilment_type != "pickup";
    case Guard::pickup_type: return f.fulfilment_type == "pickup";
    case Guard::pickup_no_payment_step: return f.fulfilment_type == "pickup" && f.payment_status == "not_required";
    case Guard::staff_or_system: return f.actor_type == "admin" || f.actor_type == "system" || f.actor_type == "job";
  }
  return false;
}

}  // namespace

const std::vector<std::string>& statuses() {
  static const std::vector<std::string> all{"placed",           "paid",      "shipped",   "delivered",
                                            "ready_for_pickup", "picked_up", "completed", "cancelled"};
  return all;
}

bool is_status(std::string_view status) {
  const auto& all = statuses();
  return std::find(all.begin(), all.end(), status) != all.end();
}

std::string name(Move move) {
  switch (move) {
    case Move::mark_paid: return "mark_paid";
    case Move::ship: return "ship";
    case Move::deliver: return "deliver";
    case Move::ready_for_pickup: return "ready_for_pickup";
    case Move::pickup: return "pickup";
    case Move::complete: return "complete";
    case Move::cancel: return "cancel";
  }
  return "";
}

bool payment_settled(std::string_view s) {
  return s == "captured" || s == "partially_refunded" || s == "refunded";
}

std::optional<std::string> target(const Facts& facts, Move move) {
  for (const auto& row : kTable)
    if (facts.status == row.from && row.move == move && passes(row.guard, facts))
      return std::string(*row.to ? row.to : row.from);
  return std::nullopt;
}

std::vector<Move> allowed_moves(const Facts& facts) {
  std::vector<Move> out;
  for (Move m : {Move::mark_paid, Move::ship, Move::deliver, Move::ready_for_pickup, Move::pickup, Move::complete,
                 Move::cancel})
    if (target(facts, m)) out.push_back(m);
  return out;
}

std::vector<std::string> allowed_move_names(const Facts& facts) {
  std::vector<std::string> out;
  for (Move m : allowed_moves(facts)) out.push_back(name(m));
  return out;
}

Error invalid_transition(const Facts& facts, Move move) {
  auto allowed = allowed_move_names(facts);
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  std::string message = "an order that is " + facts.status + " cannot " + name(move) + "; allowed: " +
                        (list.empty() ? "none (the order is final)" : list);
  if (move == Move::complete && facts.status != "completed" && facts.status != "cancelled" &&
      !payment_settled(facts.payment_status) && (facts.status == "delivered" || facts.status == "picked_up"))
    message += " (mark it paid first)";
  if (move == Move::ready_for_pickup && facts.status == "placed" && facts.fulfilment_type == "pickup" &&
      facts.payment_status != "not_required")
    message += " (mark it paid first)";
  if ((move == Move::ready_for_pickup || move == Move::pickup) && facts.fulfilment_type != "pickup")
    message += " (the order ships: it is not picked up in store)";
  if (move == Move::ship && facts.fulfilment_type == "pickup")
    message += " (the order is picked up in store: it does not ship)";
  Error e = Error::conflict("order.invalid_transition", message);
  e.extensions = {{"current_status", facts.status}, {"allowed_moves", allowed}};
  return e;
}

}  // namespace quanqu::orders::lifecycle
