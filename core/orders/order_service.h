// Orders: read, list and cancel; checkout creates them through `OrderService::insert`.
#pragma once

#include "common/change_counter.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "orders/order.h"
#include "storage/database.h"

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
};

}  // namespace quanqu::orders
