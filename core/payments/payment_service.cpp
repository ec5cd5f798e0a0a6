// Payment sessions: persistence, the provider calls around them, and capture into paid orders.
#include "payments/payment_service.h"

#include "cart/cart_service.h"
#include "orders/order_service.h"
#include "storage/dynamic_query.h"

#include <functional>

namespace quanqu::payments {
namespace {

using nlohmann::json;

const char* kColumns =
    "id, cart_id, channel_id, provider, amount, currency, status, reference, data, order_id, created_at, updated_at";

// The sessions a query selects, in its order: `where` appends the condition (and any ORDER BY
// and LIMIT) with its parameters to "SELECT <columns> FROM payment_sessions WHERE ".
std::vector<PaymentSession> read_rows(soci::session& sql, const std::function<void(storage::DynamicQuery&)>& where) {
  PaymentSession s;
  std::string reference, data, order;
  soci::indicator ref_ind = soci::i_null, order_ind = soci::i_null;
  long long amount = 0;
  storage::DynamicQuery q(sql);
  q.text(std::string("SELECT ") + kColumns + " FROM payment_sessions WHERE ");
  where(q);
  q.into(s.id.value).into(s.cart_id.value).into(s.channel_id.value).into(s.provider).into(amount).into(s.currency);
  q.into(s.status).into(reference, ref_ind).into(data).into(order, order_ind).into(s.created_at).into(s.updated_at);
  std::vector<PaymentSession> out;
  for (bool row = q.execute(); row; row = q.fetch()) {
    PaymentSession copy = s;
    copy.amount = amount;
    copy.reference = ref_ind == soci::i_ok ? reference : std::string();
    if (order_ind == soci::i_ok) copy.order_id = OrderId(order);
    copy.data = json::parse(data);
    out.push_back(std::move(copy));
  }
  return out;
}

// The first session a query selects, or a 404 `payment.session_not_found`.
Result<PaymentSession> read_one(soci::session& sql, const std::function<void(storage::DynamicQuery&)>& where) {
  auto rows = read_rows(sql, where);
  if (rows.empty()) return Error::not_found("payment.session_not_found", "no such payment session");
  return std::move(rows.front());
}

// A cart's sessions, newest first (the order they were started in).
void of_cart(storage::DynamicQuery& q, const CartId& cart) {
  q.text("cart_id = ").param(cart.value).text(" ORDER BY seq DESC, created_at DESC, id DESC");
}

// A cart's newest session only.
void newest_of_cart(storage::DynamicQuery& q, const CartId& cart) {
  of_cart(q, cart);
  q.text(" LIMIT 1");
}

// A status a provider may report, and whether the move from `from` to it goes forward.
bool known_status(const std::string& s) {
  return s == "pending" || s == "authorized" || s == "captured" || s == "cancelled";
}

int rank(const std::string& s) {
  if (s == "pending") return 0;
  if (s == "authorized") return 1;
  if (s == "captured") return 2;
  return 3;  // cancelled, declined, failed: final
}

}  // namespace

json PaymentSession::to_json() const {
  return {{"id", id.value},
          {"cart_id", cart_id.value},
          {"channel_id", channel_id.value},
          {"provider", provider},
          {"amount", {{"amount", amount}, {"currency", currency}}},
          {"status", status},
          {"reference", reference.empty() ? json(nullptr) : json(reference)},
          {"data", data},
          {"order_id", order_id ? json(order_id->value) : json(nullptr)},
          {"created_at", created_at},
          {"updated_at", updated_at}};
}

PaymentService::PaymentService(storage::Database& db, const Clock& clock, ChangeCounter& changes,
                               events::EventBus& events, Providers& providers)
    : db_(db), clock_(clock), changes_(changes), events_(events), providers_(providers) {}

Result<channels::Channel> PaymentService::channel_of(const ChannelId& id) {
  return db_.read<channels::Channel>([&](soci::session& sql) -> Result<channels::Channel> {
    channels::Channel c;
    std::string configs;
    sql << "SELECT id, code, type, currency, config FROM channels WHERE id = :id", soci::into(c.id.value),
        soci::into(c.code), soci::into(c.type), soci::into(c.currency), soci::into(configs), soci::use(id.value);
    if (!sql.got_data()) return Error::not_found("channel.not_found", "no channel '" + id.value + "'");
    c.configs = json::parse(configs);
    return c;
  });
}

Result<PaymentSession> PaymentService::load(soci::session& sql, const PaymentSessionId& id) {
  return read_one(sql, [&](storage::DynamicQuery& q) { q.text("id = ").param(id.value); });
}

Result<PaymentSession> PaymentService::start(const channels::Channel& channel, const CartId& cart_id,
                                             const std::string& provider) {
  QQ_TRY(channels::require_offered(channel.payment_providers, provider, "payment", "payment.provider_not_offered"));
  auto created = db_.write<PaymentSession>([&](soci::session& sql) -> Result<PaymentSession> {
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, cart::CartService::load(sql, channel, cart_id));
    if (cart.status != "open") return Error::conflict("cart.completed", "the cart was checked out already");
    if (cart.items.empty()) return Error::unprocessable("checkout.empty_cart", "the cart has no items");
    PaymentSession s;
    s.id = PaymentSessionId(new_id("pay"));
    s.cart_id = cart.id;
    s.channel_id = channel.id;
    s.provider = provider;
    s.amount = cart.totals.total;
    s.currency = cart.currency;
    s.status = "pending";
    s.created_at = s.updated_at = clock_.now_ms();
    std::string data = s.data.dump();
    long long amount = s.amount, seq = 0;
    // Sessions of one cart are numbered in the order they start: the cart row is locked first
    // (PostgreSQL; SQLite has one writer), so two concurrent starts cannot take the same number.
    sql << "UPDATE carts SET updated_at = updated_at WHERE id = :id", soci::use(cart.id.value);
    sql << "SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_sessions WHERE cart_id = :c", soci::into(seq),
        soci::use(cart.id.value);
    sql << "INSERT INTO payment_sessions (id, cart_id, channel_id, provider, amount, currency, status, data, "
           "created_at, updated_at, seq) VALUES (:id, :c, :ch, :p, :a, :cur, :s, :d, :ca, :ua, :seq)",
        soci::use(s.id.value), soci::use(s.cart_id.value), soci::use(s.channel_id.value), soci::use(s.provider),
        soci::use(amount), soci::use(s.currency), soci::use(s.status), soci::use(data), soci::use(s.created_at),
        soci::use(s.updated_at), soci::use(seq);
    return s;
  });
  if (!created) return created;
  auto initiated = ask(channel, *created, "initiate");
  if (!initiated && initiated.error().kind != ErrorKind::failed_precondition) {
    // The provider broke: the session is dead; the shopper may start another.
    long long now = clock_.now_ms();
    (void)db_.write<Ok>([&](soci::session& sql) -> Status {
      sql << "UPDATE payment_sessions SET status = 'failed', updated_at = :u WHERE id = :id AND status = 'pending'",
          soci::use(now), soci::use(created->id.value);
      return ok_status();
    });
  }
  return initiated;
}

Result<std::vector<PaymentSession>> PaymentService::for_cart(const channels::Channel& channel, const CartId& cart) {
  return db_.read<std::vector<PaymentSession>>([&](soci::session& sql) -> Result<std::vector<PaymentSession>> {
    QQ_TRY(cart::CartService::load(sql, channel, cart));  // a cart of another channel is a 404
    return read_rows(sql, [&](storage::DynamicQuery& q) { of_cart(q, cart); });
  });
}

Result<PaymentSession> PaymentService::ask(const channels::Channel& channel, PaymentSession session,
                                           const std::string& operation) {
  json input{
      {"session", session.to_json()},
      {"channel",
       {{"id", channel.id.value}, {"code", channel.code}, {"type", channel.type}, {"currency", channel.currency}}}};
  auto reply = providers_.invoke("payment", session.provider, operation, std::move(input), channel.configs);
  if (!reply) {
    if (reply.error().kind == ErrorKind::failed_precondition) {  // a refusal: declined
      long long now = clock_.now_ms();
      (void)db_.write<Ok>([&](soci::session& sql) -> Status {
        sql << "UPDATE payment_sessions SET status = 'declined', updated_at = :u "
               "WHERE id = :id AND status IN ('pending', 'authorized')",
            soci::use(now), soci::use(session.id.value);
        return ok_status();
      });
    }
    return reply.error();
  }
  return store_outcome(session, session.status, *reply);
}

Result<PaymentSession> PaymentService::store_outcome(const PaymentSession& session, const std::string& expected,
                                                     const json& reply) {
  std::string status = reply.is_object() && reply.contains("status") && reply["status"].is_string()
                           ? reply["status"].get<std::string>()
                           : "";
  if (!known_status(status)) {
    providers_.report_invalid("payment", session.provider, "unknown status '" + status + "'");
    return Error::make(ErrorKind::internal, "plugin_error",
                       "payment provider '" + session.provider + "' answered an unknown status '" + status + "'",
                       json{{"provider", session.provider}});
  }
  std::string reference = reply.contains("reference") && reply["reference"].is_string()
                              ? reply["reference"].get<std::string>()
                              : session.reference;
  json data = reply.contains("data") && reply["data"].is_object() ? reply["data"] : session.data;
  if (rank(status) < rank(expected)) status = expected;  // never move backwards
  long long now = clock_.now_ms();
  auto stored = db_.write<PaymentSession>([&](soci::session& sql) -> Result<PaymentSession> {
    std::string doc = data.dump(), moved;
    soci::indicator ref_ind = reference.empty() ? soci::i_null : soci::i_ok;
    sql << "UPDATE payment_sessions SET status = :s, reference = :r, data = :d, updated_at = :u "
           "WHERE id = :id AND status = :expected RETURNING id",
        soci::use(status), soci::use(reference, ref_ind), soci::use(doc), soci::use(now), soci::use(session.id.value),
        soci::use(expected), soci::into(moved);
    // Someone else moved it meanwhile (a webhook): what is stored now is the truth.
    return load(sql, session.id);
  });
  return stored;
}

Result<PaymentSession> PaymentService::authorize_for_checkout(const channels::Channel& channel,
                                                              const cart::Cart& cart) {
  auto newest = db_.read<PaymentSession>(
      [&](soci::session& sql) { return read_one(sql, [&](storage::DynamicQuery& q) { newest_of_cart(q, cart.id); }); });
  if (!newest) {
    if (newest.error().kind == ErrorKind::not_found)
      return Error::unprocessable("checkout.payment_required",
                                  "start a payment session for this cart first (POST .../payment-sessions)");
    return newest.error();
  }
  PaymentSession s = std::move(*newest);
  if (s.amount != cart.totals.total || s.currency != cart.currency)
    return Error::unprocessable("payment.amount_changed",
                                "the cart's total changed since the payment session started; start a new one");
  if (s.status == "authorized" || s.status == "captured") return s;
  if (s.status != "pending")
    return Error::unprocessable("payment.not_authorized",
                                "the payment session is " + s.status + "; start a new payment session");
  QQ_ASSIGN_OR_RETURN(s, ask(channel, std::move(s), "authorize"));
  if (s.status == "authorized" || s.status == "captured") return s;
  return Error::unprocessable("payment.not_authorized", "the payment is not authorised yet; complete it, then retry");
}

Result<PaymentSession> PaymentService::claim_for_order(soci::session& sql, const PaymentSessionId& id,
                                                       const cart::Cart& cart, const OrderId& order) {
  // The session as it is now, and still the cart's newest.
  QQ_ASSIGN_OR_RETURN(PaymentSession s, read_one(sql, [&](storage::DynamicQuery& q) { newest_of_cart(q, cart.id); }));
  if (s.id != id || (s.status != "authorized" && s.status != "captured") || s.amount != cart.totals.total ||
      s.currency != cart.currency)
    return Error::conflict("payment.changed", "the payment session changed during checkout; retry");
  sql << "UPDATE payment_sessions SET order_id = :o WHERE id = :id", soci::use(order.value), soci::use(s.id.value);
  s.order_id = order;
  return s;
}

Result<orders::Order> PaymentService::capture(const OrderId& order_id, const orders::Actor& actor) {
  auto order = db_.snapshot<orders::Order>([&](soci::session& sql) { return orders::OrderService::load(sql, order_id); });
  if (!order) return order;
  if (order->payment_session_id.empty() || order->payment_status == "captured") {
    // No provider to ask (the channel takes no payment step), or already taken.
    bool changed = false;
    auto paid = db_.write<orders::Order>([&](soci::session& sql) -> Result<orders::Order> {
      QQ_ASSIGN_OR_RETURN(orders::Order o,
                          orders::OrderService::mark_paid_in(sql, clock_, order_id, {{"source", "merchant"}}, changed, actor));
      if (changed) events_.record(sql, "order.paid", orders::OrderService::event_data(o));
      return o;
    });
    if (paid && changed) events_.notify();  // an order's payment changes no store view
    return paid;
  }
  if (auto f = orders::OrderService::facts(*order, actor); !orders::lifecycle::target(f, orders::lifecycle::Move::mark_paid))
    return orders::lifecycle::invalid_transition(f, orders::lifecycle::Move::mark_paid);
  auto session = db_.read<PaymentSession>(
      [&](soci::session& sql) { return load(sql, PaymentSessionId(order->payment_session_id)); });
  if (!session) return session.error();
  QQ_ASSIGN_OR_RETURN(channels::Channel channel, channel_of(order->channel_id));
  QQ_ASSIGN_OR_RETURN(PaymentSession after, ask(channel, std::move(*session), "capture"));
  if (after.status != "captured") return *order;  // the provider confirms later
  auto captured = capture_session(after.id, {{"source", "merchant"}});
  if (!captured) return captured.error();
  if (captured->order) return *captured->order;
  return *order;
}

Result<PaymentService::Captured> PaymentService::record_capture(const std::string& provider,
                                                                const std::string& reference, const json& details) {
  auto found = db_.read<PaymentSession>([&](soci::session& sql) {
    return read_one(sql, [&](storage::DynamicQuery& q) {
      q.text("provider = ").param(provider).text(" AND reference = ").param(reference);
    });
  });
  if (!found) return found.error();
  return capture_session(found->id, details);
}

Result<PaymentService::Captured> PaymentService::capture_session(const PaymentSessionId& id, const json& details) {
  bool changed = false;
  auto done = db_.write<Captured>([&](soci::session& sql) -> Result<Captured> {
    changed = false;
    QQ_ASSIGN_OR_RETURN(PaymentSession s, load(sql, id));
    if (s.status != "pending" && s.status != "authorized" && s.status != "captured")
      return Error::conflict("payment.not_capturable", "a payment session that is " + s.status + " cannot be captured");
    if (s.status != "captured") {
      long long now = clock_.now_ms();
      sql << "UPDATE payment_sessions SET status = 'captured', updated_at = :u WHERE id = :id", soci::use(now),
          soci::use(s.id.value);
      s.status = "captured";
      s.updated_at = now;
    }
    Captured c{s, std::nullopt};
    if (s.order_id) {
      json facts = details.is_object() ? details : json::object();
      facts["payment_session_id"] = s.id.value;
      facts["provider"] = s.provider;
      QQ_ASSIGN_OR_RETURN(orders::Order o,
                          orders::OrderService::mark_paid_in(sql, clock_, *s.order_id, facts, changed));
      if (changed) events_.record(sql, "order.paid", orders::OrderService::event_data(o));
      c.order = std::move(o);
    }
    return c;
  });
  if (done && changed) events_.notify();  // an order's payment changes no store view
  return done;
}

Status PaymentService::release_for_cancelled(const orders::Order& order) {
  if (order.payment_session_id.empty()) return ok_status();
  auto session = db_.read<PaymentSession>(
      [&](soci::session& sql) { return load(sql, PaymentSessionId(order.payment_session_id)); });
  if (!session) return session.error();
  if (session->status != "authorized") return ok_status();
  QQ_ASSIGN_OR_RETURN(channels::Channel channel, channel_of(order.channel_id));
  auto after = ask(channel, std::move(*session), "cancel");
  if (!after) return after.error();
  return ok_status();
}

namespace {

const orders::Refund* refund_of(const orders::Order& o, const std::string& id) {
  for (const auto& r : o.refunds)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace

Result<orders::Refund> PaymentService::settle(const OrderId& order_id, const std::string& refund_id) {
  QQ_ASSIGN_OR_RETURN(orders::Order order,
                      db_.read<orders::Order>([&](soci::session& sql) { return orders::OrderService::load(sql, order_id); }));
  const orders::Refund* found = refund_of(order, refund_id);
  if (!found) return Error::not_found("refund.not_found", "no refund '" + refund_id + "' of this order");
  orders::Refund refund = *found;
  if (refund.status != "pending") return refund;

  // Writes what the provider said, in its own transaction; only a pending refund moves.
  auto finish = [&](const std::string& status, const std::string& reference,
                    const std::string& failure) -> Result<orders::Refund> {
    bool finished = false;
    auto after = db_.write<orders::Order>([&](soci::session& sql) {
      return orders::OrderService::finish_refund_in(sql, clock_, events_, order_id, refund_id, status, reference,
                                                    failure, &finished);
    });
    if (!after) return after.error();
    if (finished) events_.notify();  // a refund changes no store view
    return *refund_of(*after, refund_id);
  };
  // 1. Paid without a session (the merchant marked it paid): the money goes back the same way.
  if (refund.provider.empty() || order.payment_session_id.empty()) return finish("succeeded", "", "");

  // 2. Ask the provider, outside any transaction, with the refund's id as idempotency key.
  QQ_ASSIGN_OR_RETURN(PaymentSession session, db_.read<PaymentSession>([&](soci::session& sql) {
                        return load(sql, PaymentSessionId(order.payment_session_id));
                      }));
  QQ_ASSIGN_OR_RETURN(channels::Channel channel, channel_of(order.channel_id));
  json input{
      {"session", session.to_json()},
      {"channel",
       {{"id", channel.id.value}, {"code", channel.code}, {"type", channel.type}, {"currency", channel.currency}}},
      {"refund",
       {{"id", refund.id},
        {"amount", {{"amount", refund.amount}, {"currency", refund.currency}}},
        {"reason", refund.reason},
        {"order_id", order.id.value}}},
      {"idempotency_key", refund.id}};
  auto reply = providers_.invoke("payment", session.provider, "refund", std::move(input), channel.configs);
  auto unsupported = [&]() -> Result<orders::Refund> {
    QQ_TRY(finish("failed", "", "payment.refund_unsupported"));
    return Error::conflict("payment.refund_unsupported",
                           "payment provider '" + session.provider +
                               "' does not refund; give the money back outside Quanqu");
  };
  if (!reply) {
    const Error& e = reply.error();
    // 3a. The provider said no: the refund failed and counts no more.
    if (e.kind == ErrorKind::failed_precondition) {
      QQ_TRY(finish("failed", "", e.code + ": " + e.message));
      Error refused = Error::unprocessable("payment.refund_failed", "the payment provider refused the refund: " + e.message);
      refused.extensions = {{"provider_code", e.code}};
      return refused;
    }
    // A plugin built before refunds existed does not know the operation.
    if (e.code == "plugin_error" && e.message.find("unknown operation") != std::string::npos) return unsupported();
    // 3b. No answer (deadline, broken plugin): it may or may not have happened; it stays pending
    // and is asked again with the same key.
    return refund;
  }
  std::string status = reply->is_object() && reply->contains("status") && (*reply)["status"].is_string()
                           ? (*reply)["status"].get<std::string>()
                           : "";
  std::string reference = reply->is_object() && reply->contains("reference") && (*reply)["reference"].is_string()
                              ? (*reply)["reference"].get<std::string>()
                              : "";
  // 3c. The provider's answer.
  if (status == "succeeded" || status == "pending") return finish(status, reference, "");
  if (status == "unsupported") return unsupported();
  if (status == "failed") {
    std::string message = reply->contains("message") && (*reply)["message"].is_string()
                              ? (*reply)["message"].get<std::string>()
                              : "the refund failed";
    QQ_TRY(finish("failed", reference, message));
    return Error::unprocessable("payment.refund_failed", "the payment provider could not refund: " + message);
  }
  providers_.report_invalid("payment", session.provider, "unknown refund status '" + status + "'");
  return refund;  // an answer we cannot read: left pending
}

}  // namespace quanqu::payments
