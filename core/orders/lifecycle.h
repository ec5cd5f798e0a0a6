// The order lifecycle: its states, the moves between them and who may make them, in one table.
#pragma once

#include "common/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::orders::lifecycle {

// The moves an order can make. Each is one admin route (POST /v1/admin/orders/{id}/<route>):
//   mark_paid         placed -> paid; from shipped, delivered, ready_for_pickup or picked_up the
//                     payment is settled and the status stays (cash on delivery, pay in store)
//   ship              placed|paid -> shipped (the goods left: reserved stock leaves on hand)
//   deliver           shipped -> delivered
//   ready_for_pickup  paid -> ready_for_pickup, or placed -> ready_for_pickup when the payment is
//                     not_required (paid at the desk); pickup orders only. The store's hold starts.
//   pickup            ready_for_pickup -> picked_up (the desk checked the shopper's code; the goods
//                     left with the customer)
//   complete          delivered|picked_up -> completed, once the payment is settled. Neither a
//                     delivery nor a pickup completes the order by itself: complete is its own move
//   cancel            placed|paid -> cancelled (stock released; a settled payment refunded);
//                     ready_for_pickup -> cancelled by an admin, the system or a job (the
//                     pickup.expire job when the hold ran out), not by a plugin or a customer
// completed and cancelled are final. Refunds and returns are not moves: they change the
// payment and the goods, never the status (see OrderService).
enum class Move { mark_paid, ship, deliver, ready_for_pickup, pickup, complete, cancel };

// Every status, in lifecycle order: placed, paid, shipped, delivered, ready_for_pickup,
// picked_up, completed, cancelled.
const std::vector<std::string>& statuses();
bool is_status(std::string_view status);

// The move's name as the API shows it in `allowed_moves` ("mark_paid", "ship", ...).
std::string name(Move move);

// What the table looks at.
struct Facts {
  std::string status;
  // not_required, authorized, captured, partially_refunded, refunded, cancelled.
  std::string payment_status;
  // ship or pickup: which branch after placed/paid is open (orders without one ship).
  std::string fulfilment_type = "ship";
  // Who asks: admin, customer, plugin, job or system.
  std::string actor_type = "admin";
};

// Whether the payment is taken (captured, maybe refunded since): what `complete` needs.
bool payment_settled(std::string_view payment_status);

// The status the order has after `move`, or nothing when the move is not allowed from `facts`.
std::optional<std::string> target(const Facts& facts, Move move);
// The moves allowed from `facts`, in the enum's order.
std::vector<Move> allowed_moves(const Facts& facts);
std::vector<std::string> allowed_move_names(const Facts& facts);

// The 409 `order.invalid_transition` for `move` from `facts`: the message names the current
// status and the allowed moves, and the problem carries `current_status` and `allowed_moves`.
Error invalid_transition(const Facts& facts, Move move);

}  // namespace quanqu::orders::lifecycle
