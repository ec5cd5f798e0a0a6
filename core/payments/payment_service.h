// Payments: sessions started by the storefront, authorised at checkout, captured by the merchant or the provider.
#pragma once

#include "cart/cart.h"
#include "channels/channel.h"
#include "common/change_counter.h"
#include "common/clock.h"
#include "common/providers.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "orders/order_service.h"
#include "payments/payment_session.h"
#include "storage/database.h"

#include <string>

namespace quanqu::payments {

// The provider calls happen outside database transactions (they may reach a gateway over the
// network); each state change they report is then written in its own transaction, guarded by
// the session's current status, so a retry or a concurrent webhook cannot apply one twice.
class PaymentService : public orders::RefundExecutor {
 public:
  PaymentService(storage::Database& db, const Clock& clock, ChangeCounter& changes, events::EventBus& events,
                 Providers& providers);

  // Starts a session for the cart's current total with one of the channel's payment providers
  // (400 `payment.provider_not_offered`, field `provider`, otherwise). The cart must be open and have priced items.
  Result<PaymentSession> start(const channels::Channel& channel, const CartId& cart, const std::string& provider);
  // The cart's sessions, newest first.
  Result<std::vector<PaymentSession>> for_cart(const channels::Channel& channel, const CartId& cart);

  // For checkout: the cart's newest session, asked to authorise when it is not yet. Refuses
  // with 422 `checkout.payment_required` (no session), `payment.amount_changed` (the cart's
  // total moved since), `payment.not_authorized` (still pending) or the provider's refusal code.
  Result<PaymentSession> authorize_for_checkout(const channels::Channel& channel, const cart::Cart& cart);

  // The merchant marks an order paid. Without a payment session the order is simply marked
  // paid; otherwise the provider captures: captured marks it paid now, pending leaves it to
  // the provider's later confirmation (the returned order is then unchanged).
  // A move the lifecycle refuses is a 409 `order.invalid_transition`.
  Result<orders::Order> capture(const OrderId& order, const orders::Actor& actor = orders::Actor::system());

  // Pays a pending refund back (orders::RefundExecutor): asks the order's payment provider for
  // "refund" with the refund's id as idempotency key, outside any transaction, then finishes the
  // refund in its own. The provider's answer: succeeded, pending (it confirms later: the refund
  // stays pending), failed (422 `payment.refund_failed`, the refund failed) or unsupported (409
  // `payment.refund_unsupported`, the refund failed; also for a plugin built before refunds).
  // No answer (deadline, broken plugin) leaves it pending for a retry. An order paid without a
  // payment session (marked paid by the merchant) has its refund recorded as succeeded at once:
  // the money went back outside Quanqu, as it came in.
  Result<orders::Refund> settle(const OrderId& order, const std::string& refund_id) override;

  // A provider reports money taken (a verified gateway webhook): the session, found by the
  // provider's reference, becomes captured and its order paid (order.paid). Idempotent. An
  // unknown reference is a 404 `payment.session_not_found`.
  struct Captured {
    PaymentSession session;
    std::optional<orders::Order> order;  // none when checkout has not happened yet
  };
  Result<Captured> record_capture(const std::string& provider, const std::string& reference,
                                  const nlohmann::json& details);

  // After an order was cancelled: asks the provider to release an authorised payment. A failure
  // is returned for the caller to log; the order stays cancelled.
  Status release_for_cancelled(const orders::Order& order);

  // Inside checkout's transaction: the session is still the cart's newest, authorised or
  // captured, for this very amount; links it to the order.
  static Result<PaymentSession> claim_for_order(soci::session& sql, const PaymentSessionId& session,
                                                const cart::Cart& cart, const OrderId& order);
  static Result<PaymentSession> load(soci::session& sql, const PaymentSessionId& id);

 private:
  // The channel as providers are told of it (id, code, type, currency) with its config map.
  Result<channels::Channel> channel_of(const ChannelId& id);
  // Asks the provider `operation` about the session and stores what it says; refusals too.
  Result<PaymentSession> ask(const channels::Channel& channel, PaymentSession session, const std::string& operation);
  Result<Captured> capture_session(const PaymentSessionId& id, const nlohmann::json& details);
  Result<PaymentSession> store_outcome(const PaymentSession& session, const std::string& expected_status,
                                       const nlohmann::json& reply);

  storage::Database& db_;
  const Clock& clock_;
  ChangeCounter& changes_;
  events::EventBus& events_;
  Providers& providers_;
};

}  // namespace quanqu::payments
