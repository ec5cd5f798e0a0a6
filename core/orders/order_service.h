// Orders: read and list; every lifecycle move, refund and return; checkout creates them through `OrderService::insert`.
#pragma once

#include "common/change_counter.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "orders/lifecycle.h"
#include "orders/order.h"
#include "storage/database.h"

#include <functional>
#include <optional>

namespace quanqu::orders {

struct OrderQuery {
  std::string status;  // empty: any
  std::optional<ChannelId> channel;
  int limit = 20;  // 1..100
  std::string cursor;
};

struct OrderPage {
  std::vector<Order> items;
  std::string next_cursor;
};

// A refund asked for: an amount, or lines (each line's total for the units, rounded down), never both.
struct RefundRequest {
  std::optional<std::int64_t> amount;
  std::vector<LineQuantity> lines;
  std::string reason;  // required, at most 500 bytes
};

// A return of shipped lines. With `restock` the units go back on hand at `location_id` (ledger
// reason "return"); without, they are written off (damaged goods). With `refund` the lines'
// value (as a refund by lines, capped at what is still refundable) is refunded in the same step.
struct ReturnRequest {
  std::vector<LineQuantity> lines;
  bool restock = false;
  std::string location_id;  // required with restock, refused without
  std::string reason;       // at most 500 bytes
  bool refund = false;
};

// Pays pending refunds back through the payment provider (the payment context implements it).
// Called outside any transaction: it may reach a gateway across the network.
class RefundExecutor {
 public:
  virtual ~RefundExecutor() = default;
  // Asks the provider to refund the pending refund `refund_id` of `order` and finishes it
  // (succeeded or failed) in its own transaction. A provider that did not answer (timeout, a
  // broken plugin) leaves it pending: it still counts against what can be refunded and is asked
  // again, with the same idempotency key, by retry_refund. Returns the refund as it stands; a
  // provider without refunds is the error 409 `payment.refund_unsupported` (the refund failed).
  virtual Result<Refund> settle(const OrderId& order, const std::string& refund_id) = 0;
};

class OrderService {
 public:
  OrderService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events);

  // Refunds are paid back through this (the payment service); without one they stay pending.
  void set_refund_executor(RefundExecutor* executor) { refunds_ = executor; }

  Result<Order> get(const OrderId& id);
  // For a storefront: the order must belong to the channel and the token must match its
  // access token; any mismatch is a 404, so the existence of an order is never revealed.
  Result<Order> get_with_token(const ChannelId& channel, const OrderId& id, const std::string& token);
  Result<OrderPage> list(const OrderQuery& query);
  // Every event of the order, oldest first, with who did it.
  Result<std::vector<OrderEvent>> timeline(const OrderId& id);

  // Makes a lifecycle move (lifecycle.h) as `actor`, in one transaction with its side effects and
  // events; a move the table does not allow is a 409 `order.invalid_transition` naming the current
  // status and the allowed moves. Side effects: ship and pickup take the reserved stock off the
  // shelf (ledger reason "fulfilment", inventory.changed); the fulfilment status follows (ship:
  // fulfilled, deliver: delivered, pickup: picked_up). mark_paid goes through mark_paid (the
  // payment service captures first), cancel through cancel, ready_for_pickup through
  // mark_ready_for_pickup and pickup through pick_up (which needs the shopper's code: a 400 here).
  Result<Order> move(const OrderId& id, lifecycle::Move move, const Actor& actor);
  // Cancels the order: releases its reserved stock where it was reserved (ledger reason
  // "release") and, when its payment was taken, records a pending refund of everything still
  // refundable, all in one transaction; then has the refund paid back (RefundExecutor). The order
  // stays cancelled whatever the provider says (the refund shows as failed or pending). Allowed
  // from placed and paid, and from ready_for_pickup for an admin, a job or the system (an
  // uncollected pickup expiring); otherwise 409 `order.invalid_transition`. order.cancelled
  // carries the reason when there is one.
  Result<Order> cancel(const OrderId& id, const std::string& reason, const Actor& actor);
  // Marks the order paid (its payment captured) and publishes order.paid: placed becomes paid;
  // an order whose goods left already keeps its status. Marking a paid order paid again changes
  // nothing and succeeds; a move the table refuses is a 409 `order.invalid_transition`.
  Result<Order> mark_paid(const OrderId& id, const nlohmann::json& details, const Actor& actor);
  // Deprecated alias of move(): "fulfilled" is ship, "delivered" is deliver.
  Result<Order> set_fulfilment(const OrderId& id, const std::string& status, const Actor& actor);

  // Refunds money of an order whose payment is taken: records the refund pending (with the
  // order row locked, so concurrent refunds never exceed the capture), then has it paid back.
  // 400 for a bad request; 409 `order.not_refundable` when no payment was taken; 422
  // `refund.exceeds_refundable` (problem member `refundable`) when it is more than what is left.
  // Returns the order and the new refund's id in `refund_id`.
  Result<Order> refund(const OrderId& id, const RefundRequest& request, const Actor& actor, std::string* refund_id);
  // Asks the provider again about a pending refund (same idempotency key). 409
  // `refund.not_pending` for a finished one.
  Result<Order> retry_refund(const OrderId& id, const std::string& refund_id);
  // Takes back shipped lines (orders shipped, delivered, picked up or completed; otherwise 409
  // `order.not_returnable`), never more units of a line than were bought less those returned.
  Result<Order> create_return(const OrderId& id, const ReturnRequest& request, const Actor& actor,
                              std::string* return_id);

  // --- Pickup in store: the lifecycle's ready_for_pickup and pickup moves, with the store's hold
  // and the desk's code. A move the table does not allow (a ship order, an order not yet paid
  // when it has a payment step, not ready, picked up already) is its 409 `order.invalid_transition`.
  // The table's ready_for_pickup move (from paid, or from placed when the payment is not_required):
  // the hold starts (the store's pickup_hold_hours) and the expiry job is scheduled in the same
  // transaction; publishes order.ready_for_pickup (with pickup_expires_at).
  Result<Order> mark_ready_for_pickup(const OrderId& id, const Actor& actor);
  // The desk: after the table's check, `code` (six digits, else a 400 that counts nothing) is
  // compared in constant time with the stored hash. Right: the table's pickup move,
  // ready_for_pickup -> picked_up, the reserved stock leaves (ledger "fulfilment"), order.picked_up
  // and inventory.changed are published; the order is not completed (complete is its own move,
  // as after a delivery). Wrong: the attempt is counted (committed) and a 422 `pickup.wrong_code`
  // says attempts_left; the kMaxPickupAttempts-th wrong code locks the order. Locked: a 409
  // `pickup.locked` until unlock_pickup().
  Result<Order> pick_up(const OrderId& id, const std::string& code, const Actor& actor);
  // Clears the wrong-code count and the lock of a pickup order (not a move: a ship order is a 409
  // `order.not_pickup`); publishes order.pickup_unlocked.
  Result<Order> unlock_pickup(const OrderId& id, const Actor& actor);
  // The hold is over: an order still ready_for_pickup is cancelled through cancel() with the
  // reason pickup_expired by the job `job_id` (stock released, an authorised payment let go, a
  // settled one refunded). Anything else is left alone: nullopt (picked up, cancelled, not due).
  Result<std::optional<Order>> expire_pickup(const OrderId& id, const std::string& job_id);

  // Schedules the expiry of a ready pickup order at `due_ms`, inside the caller's transaction
  // (the executable wires the job scheduler here; without it nothing is scheduled).
  using ScheduleExpiry = std::function<Status(soci::session&, const OrderId&, std::int64_t due_ms)>;
  void set_pickup_expiry(ScheduleExpiry schedule) { schedule_expiry_ = std::move(schedule); }
  // The length of one hold hour in ms: 3,600,000, or less in tests (--pickup-hold-hour-ms).
  void set_pickup_hold_hour_ms(std::int64_t ms) { hold_hour_ms_ = ms; }

  // Merges `patch` into the order's metadata (keys set; a key given null removed), within the
  // bounds of common/attribution.h, else a 400 `validation_failed` on `metadata` and nothing
  // changes. Records order.updated (timeline and outbox, `changed: ["metadata"]`) when it changed.
  Result<Order> update_metadata(const OrderId& id, const nlohmann::json& patch, const Actor& actor);

  // The facts an order event carries (order.placed, order.paid, ...): the order's ids, statuses,
  // customer, currency, lines and totals, metadata and source (docs/sdk.md, "Events").
  static nlohmann::json event_data(const Order& order);
  // What the lifecycle table looks at for `order` moved by `actor`.
  static lifecycle::Facts facts(const Order& order, const Actor& actor);

  // --- Inside a caller's transaction ---
  // Writes a new order (status placed) with its allocations and an `order.placed` event by `actor`.
  static Result<Order> insert(soci::session& sql, const Clock& clock, Order order, const std::string& access_token,
                              const Actor& actor = Actor::system());
  static Result<Order> load(soci::session& sql, const OrderId& id);
  // The conditional update behind mark_paid; `changed` says whether it moved the order.
  static Result<Order> mark_paid_in(soci::session& sql, const Clock& clock, const OrderId& id,
                                    const nlohmann::json& details, bool& changed,
                                    const Actor& actor = Actor::system());
  // Finishes a pending refund: `status` succeeded (payment_status becomes partially_refunded or
  // refunded; events order.refunded) or failed (order.refund_failed); pending only stores the
  // provider's reference. A refund no longer pending is left alone. Returns the order and sets
  // *finished when it moved. Records the outbox event itself.
  static Result<Order> finish_refund_in(soci::session& sql, const Clock& clock, events::EventBus& events,
                                        const OrderId& id, const std::string& refund_id, const std::string& status,
                                        const std::string& provider_reference, const std::string& failure,
                                        bool* finished);

 private:
  // One lifecycle move of `order` inside the caller's transaction: the table's check, the
  // conditional update, the stock taken off the shelf by ship and pickup, the order event (with
  // `event_facts`) and the outbox events (the order fields plus `outbox_extra`).
  Result<Order> move_in(soci::session& sql, Order order, lifecycle::Move move, const Actor& actor,
                        nlohmann::json event_facts, const nlohmann::json& outbox_extra);
  // Runs the executor on `refund_id` when there is one, then reads the order again.
  Result<Order> settle(const OrderId& id, const std::string& refund_id, Status* provider_error);

  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
  events::EventBus& events_;
  ScheduleExpiry schedule_expiry_;
  std::int64_t hold_hour_ms_ = 3'600'000;
  RefundExecutor* refunds_ = nullptr;
};

}  // namespace quanqu::orders
