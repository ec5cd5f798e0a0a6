// Orders: read, list and cancel; checkout creates them through `OrderService::insert`.
#pragma once

#include "common/change_counter.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
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

class OrderService {
 public:
  OrderService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events);

  Result<Order> get(const OrderId& id);
  // For a storefront: the order must belong to the channel and the token must match its
  // access token; any mismatch is a 404, so the existence of an order is never revealed.
  Result<Order> get_with_token(const ChannelId& channel, const OrderId& id, const std::string& token);
  Result<OrderPage> list(const OrderQuery& query);
  // Cancels a pending, unfulfilled order: releases its reserved stock (ledger rows) and records
  // the event, all in one transaction. Any other order is a 409 `order.not_cancellable`.
  Result<Order> cancel(const OrderId& id, const std::string& reason);
  // Marks a pending order paid (its payment captured) and publishes order.paid. Marking a paid
  // order paid again changes nothing and succeeds; a cancelled one is a 409 `order.not_payable`.
  Result<Order> mark_paid(const OrderId& id, const nlohmann::json& details);
  // Moves the fulfilment state forward: "fulfilled" (the goods left: reserved stock leaves
  // on hand, ledger reason "fulfilment"; a paid order becomes fulfilled) then "delivered" (a
  // fulfilled order becomes completed). Publishes order.fulfilled / order.delivered. Going
  // backwards, repeating a state or touching a cancelled order is a 409 `order.fulfilment_conflict`.
  Result<Order> set_fulfilment(const OrderId& id, const std::string& status);

  // --- Pickup in store. Each move is a conditional UPDATE (see the transition functions in
  // order_service.cpp); a move from the wrong state is a 409 and changes nothing. ---
  // A pickup order that is paid (or pending when the channel takes no payment step: payment
  // not_required) becomes ready_for_pickup: the hold starts (the store's pickup_hold_hours) and
  // the expiry is scheduled in the same transaction; publishes order.ready_for_pickup. A ship order
  // is a 409 `order.not_pickup`; another state a 409 `order.pickup_conflict`.
  Result<Order> mark_ready_for_pickup(const OrderId& id);
  // The desk checks `code` (six digits, compared in constant time with the stored hash). Right:
  // ready_for_pickup -> picked_up -> completed, the reserved stock leaves (ledger "fulfilment"),
  // order.picked_up and order.completed are published. Wrong: the attempt is counted (committed)
  // and a 422 `pickup.wrong_code` says attempts_left; the kMaxPickupAttempts-th wrong code locks
  // the order. Locked: a 409 `pickup.locked` until unlock_pickup(). Not ready: a 409
  // `order.pickup_conflict`.
  Result<Order> complete_pickup(const OrderId& id, const std::string& code);
  // Clears the wrong-code count and the lock of a pickup order; publishes order.pickup_unlocked.
  Result<Order> unlock_pickup(const OrderId& id);
  // The hold is over: an order still ready_for_pickup is cancelled (reason pickup_expired), its
  // stock released where it was reserved, an authorised payment let go; publishes
  // order.cancelled. Anything else is left alone: nullopt (picked up or cancelled meanwhile).
  Result<std::optional<Order>> expire_pickup(const OrderId& id);

  // Schedules the expiry of a ready pickup order at `due_ms`, inside the caller's transaction
  // (the executable wires the job scheduler here; without it nothing is scheduled).
  using ScheduleExpiry = std::function<Status(soci::session&, const OrderId&, std::int64_t due_ms)>;
  void set_pickup_expiry(ScheduleExpiry schedule) { schedule_expiry_ = std::move(schedule); }
  // The length of one hold hour in ms: 3,600,000, or less in tests (--pickup-hold-hour-ms).
  void set_pickup_hold_hour_ms(std::int64_t ms) { hold_hour_ms_ = ms; }

  // The facts an order event carries (order.placed, order.paid, ...).
  static nlohmann::json event_data(const Order& order);

  // --- Inside a caller's transaction ---
  // Writes a new order (status pending) with its allocations and an `order.placed` event.
  static Result<Order> insert(soci::session& sql, const Clock& clock, Order order, const std::string& access_token);
  static Result<Order> load(soci::session& sql, const OrderId& id);
  // The conditional update behind mark_paid; `changed` says whether it moved the order.
  static Result<Order> mark_paid_in(soci::session& sql, const Clock& clock, const OrderId& id,
                                    const nlohmann::json& details, bool& changed);

 private:
  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
  events::EventBus& events_;
  ScheduleExpiry schedule_expiry_;
  std::int64_t hold_hour_ms_ = 3'600'000;
};

}  // namespace quanqu::orders
