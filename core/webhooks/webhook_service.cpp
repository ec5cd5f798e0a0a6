// Webhook endpoints in SQL, the fan-out of events into deliveries, and the sender threads that sign, send and retry.
#include "webhooks/webhook_service.h"

#include "common/ids.h"
#include "common/random.h"
#include "common/validation.h"
#include "storage/dynamic_query.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

namespace quanqu::webhooks {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxErrorBytes = 500;
// An attempt is bounded by its timeout; past timeout + this margin its node is taken for dead.
constexpr std::int64_t kLeaseMarginMs = 5'000;

Error webhook_not_found(const std::string& id) {
  return Error::not_found("webhook.not_found", "no webhook '" + id + "'");
}

// A type ("order.placed", "kiosk.greeted") or a pattern ("order.*", "*"): lower-case words.
bool valid_event_pattern(std::string_view p) {
  if (p == "*") return true;
  if (p.empty() || p.size() > 100) return false;
  if (p.size() > 2 && p.substr(p.size() - 2) == ".*") p.remove_suffix(2);
  bool word = false;
  for (char c : p) {
    if (c == '.') {
      if (!word) return false;
      word = false;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      word = true;
    } else {
      return false;
    }
  }
  return word;
}

std::string clip(std::string s) {
  if (s.size() > kMaxErrorBytes) s.resize(kMaxErrorBytes);
  return s;
}

struct WebhookRow {
  std::string id, url, types, description, hint;
  long long enabled = 0, created_at = 0, updated_at = 0;
  void bind(storage::DynamicQuery& q) {
    q.into(id).into(url).into(types).into(description).into(enabled).into(hint).into(created_at).into(updated_at);
  }
  Webhook webhook() const {
    Webhook w{id, url, {}, description, enabled != 0, hint, created_at, updated_at};
    json parsed = json::parse(types, nullptr, false);
    if (parsed.is_array())
      for (const auto& t : parsed)
        if (t.is_string()) w.event_types.push_back(t.get<std::string>());
    return w;
  }
};
constexpr const char* kWebhookColumns = "id, url, event_types, description, enabled, secret_hint, created_at, updated_at";

Result<Webhook> load_webhook(soci::session& sql, const std::string& id) {
  WebhookRow row;
  storage::DynamicQuery q(sql);
  q.text(std::string("SELECT ") + kWebhookColumns + " FROM webhooks WHERE id = ").param(id);
  row.bind(q);
  if (!q.execute()) return webhook_not_found(id);
  return row.webhook();
}

struct DeliveryRow {
  std::string id, webhook_id, event_id, event_type, status, last_error;
  long long attempts = 0, next_attempt_at = 0, retry_until = 0, last_status = 0, created_at = 0, updated_at = 0,
            completed_at = 0;
  soci::indicator next_ind = soci::i_null, status_ind = soci::i_null, error_ind = soci::i_null,
                  completed_ind = soci::i_null;
  void bind(storage::DynamicQuery& q) {
    q.into(id).into(webhook_id).into(event_id).into(event_type).into(status).into(attempts);
    q.into(next_attempt_at, next_ind).into(retry_until).into(last_status, status_ind).into(last_error, error_ind);
    q.into(created_at).into(updated_at).into(completed_at, completed_ind);
  }
  Delivery delivery() const {
    Delivery d;
    d.id = id;
    d.webhook_id = webhook_id;
    d.event_id = event_id;
    d.event_type = event_type;
    d.status = status;
    d.attempts = static_cast<int>(attempts);
    if (next_ind == soci::i_ok) d.next_attempt_at = next_attempt_at;
    d.retry_until = retry_until;
    if (status_ind == soci::i_ok) d.last_status_code = static_cast<int>(last_status);
    d.last_error = storage::or_empty(last_error, error_ind);
    d.created_at = created_at;
    d.updated_at = updated_at;
    if (completed_ind == soci::i_ok) d.completed_at = completed_at;
    return d;
  }
};
constexpr const char* kDeliveryColumns =
    "id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, retry_until, last_status_code, "
    "last_error, created_at, updated_at, completed_at";

Status load_attempts(soci::session& sql, Delivery& d) {
  long long number = 0, started = 0, duration = 0, code = 0;
  std::string error;
  soci::indicator code_ind = soci::i_null, error_ind = soci::i_null;
  storage::DynamicQuery q(sql);
  q.text("SELECT number, started_at, duration_ms, status_code, error FROM webhook_attempts WHERE delivery_id = ")
      .param(d.id);
  q.text(" ORDER BY number DESC LIMIT ").param(static_cast<long long>(WebhookService::kRecentAttempts));
  q.into(number).into(started).into(duration).into(code, code_ind).into(error, error_ind);
  for (bool got = q.execute(); got; got = q.fetch()) {
    Attempt a{static_cast<int>(number), started, duration, std::nullopt, storage::or_empty(error, error_ind)};
    if (code_ind == soci::i_ok) a.status_code = static_cast<int>(code);
    d.recent_attempts.push_back(std::move(a));
  }
  return ok_status();
}

Result<Delivery> load_delivery(soci::session& sql, const std::string& webhook_id, const std::string& id) {
  DeliveryRow row;
  storage::DynamicQuery q(sql);
  q.text(std::string("SELECT ") + kDeliveryColumns + " FROM webhook_deliveries WHERE id = ").param(id);
  q.text(" AND webhook_id = ").param(webhook_id);
  row.bind(q);
  if (!q.execute()) return Error::not_found("webhook.delivery_not_found", "no delivery '" + id + "' of this webhook");
  Delivery d = row.delivery();
  QQ_TRY(load_attempts(sql, d));
  return d;
}

}  // namespace

std::string signature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  std::string message = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "v1=";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::string payload_of(const events::Event& event) {
  return json{{"id", event.id}, {"type", event.type}, {"occurred_at", format_rfc3339(event.occurred_at)},
              {"data", event.data}}
      .dump();
}

struct WebhookService::Claimed {
  std::string delivery_id, webhook_id, event_id, event_type, url, secret, payload;
  int attempts = 0;      // including this one
  int series_start = 0;  // attempts before this series
  std::int64_t retry_until = 0;
};

WebhookService::WebhookService(storage::Database& db, const Clock& clock, AddressPolicy policy,
                               WebhookOptions options)
    : db_(db), clock_(clock), policy_(std::move(policy)), options_(std::move(options)), senders_(options_.poll) {}

WebhookService::~WebhookService() { stop(); }

Status WebhookService::validate(const WebhookInput& in, bool creating) const {
  Validator v;
  if (creating && !in.url) v.fail("url", "is required");
  if (in.url) {
    auto url = parse_webhook_url(*in.url);
    if (!url) {
      for (const auto& f : url.error().fields) v.fail(f.field, f.message);
    } else if (auto why = policy_.refuse_host(*url); !why.empty()) {
      v.fail("url", why);
    }
  }
  if (creating && !in.event_types) v.fail("event_types", "is required");
  if (in.event_types) {
    const auto& types = *in.event_types;
    if (types.empty()) v.fail("event_types", "must list at least one event type");
    if (types.size() > kMaxEventTypes) v.fail("event_types", "must list at most 50 event types");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < types.size() && i < kMaxEventTypes; ++i) {
      if (!valid_event_pattern(types[i]))
        v.fail("event_types/" + std::to_string(i),
               "must be an event type ('order.placed'), a prefix ('order.*') or '*'");
      else if (!seen.insert(types[i]).second)
        v.fail("event_types/" + std::to_string(i), "repeats an earlier event type");
    }
  }
  if (in.description) v.text("description", *in.description, 500, false);
  return v.status();
}

Result<WebhookWithSecret> WebhookService::create(const WebhookInput& input) {
  QQ_TRY(validate(input, true));
  return db_.write<WebhookWithSecret>([&](soci::session& sql) -> Result<WebhookWithSecret> {
    long long count = 0;
    sql << "SELECT COUNT(*) FROM webhooks", soci::into(count);
    if (count >= static_cast<long long>(kMaxWebhooks))
      return Error::unprocessable("webhook.limit_reached", "a shop has at most 100 webhooks; delete one first");
    WebhookWithSecret out;
    Webhook& w = out.webhook;
    w.id = new_id("wh");
    w.url = *input.url;
    w.event_types = *input.event_types;
    w.description = input.description.value_or("");
    w.enabled = input.enabled.value_or(true);
    out.secret = "whsec_" + random_hex(32);
    w.secret_hint = out.secret.substr(0, 10);
    w.created_at = w.updated_at = clock_.now_ms();
    std::string types = json(w.event_types).dump();
    long long enabled = w.enabled ? 1 : 0, created = w.created_at, updated = w.updated_at;
    sql << "INSERT INTO webhooks (id, url, event_types, description, enabled, secret, secret_hint, created_at, "
           "updated_at) VALUES (:id, :u, :t, :d, :e, :s, :h, :c, :m)",
        soci::use(w.id), soci::use(w.url), soci::use(types), soci::use(w.description), soci::use(enabled),
        soci::use(out.secret), soci::use(w.secret_hint), soci::use(created), soci::use(updated);
    return out;
  });
}

Result<Webhook> WebhookService::get(const std::string& id) {
  return db_.read<Webhook>([&](soci::session& sql) { return load_webhook(sql, id); });
}

Result<Page<Webhook>> WebhookService::list(int limit, const std::string& cursor) {
  return db_.read<Page<Webhook>>([&](soci::session& sql) -> Result<Page<Webhook>> {
    WebhookRow row;
    storage::DynamicQuery q(sql);
    q.text(std::string("SELECT ") + kWebhookColumns + " FROM webhooks WHERE 1 = 1");
    if (!cursor.empty()) q.text(" AND id < ").param(cursor);
    q.text(" ORDER BY id DESC LIMIT ").param(static_cast<long long>(limit) + 1);
    row.bind(q);
    Page<Webhook> page;
    for (bool got = q.execute(); got; got = q.fetch()) page.items.push_back(row.webhook());
    if (page.items.size() > static_cast<std::size_t>(limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    return page;
  });
}

Result<WebhookWithSecret> WebhookService::update(const std::string& id, const WebhookInput& input) {
  QQ_TRY(get(id));  // an unknown webhook is a 404 before the body is judged
  QQ_TRY(validate(input, false));
  return db_.write<WebhookWithSecret>([&](soci::session& sql) -> Result<WebhookWithSecret> {
    QQ_ASSIGN_OR_RETURN(Webhook w, load_webhook(sql, id));
    WebhookWithSecret out;
    if (input.url) w.url = *input.url;
    if (input.event_types) w.event_types = *input.event_types;
    if (input.description) w.description = *input.description;
    if (input.enabled) w.enabled = *input.enabled;
    w.updated_at = clock_.now_ms();
    std::string types = json(w.event_types).dump();
    long long enabled = w.enabled ? 1 : 0, updated = w.updated_at;
    sql << "UPDATE webhooks SET url = :u, event_types = :t, description = :d, enabled = :e, updated_at = :m "
           "WHERE id = :id",
        soci::use(w.url), soci::use(types), soci::use(w.description), soci::use(enabled), soci::use(updated),
        soci::use(w.id);
    if (input.rotate_secret) {
      out.secret = "whsec_" + random_hex(32);
      w.secret_hint = out.secret.substr(0, 10);
      sql << "UPDATE webhooks SET secret = :s, secret_hint = :h WHERE id = :id", soci::use(out.secret),
          soci::use(w.secret_hint), soci::use(w.id);
    }
    out.webhook = std::move(w);
    return out;
  });
}

Status WebhookService::remove(const std::string& id) {
  return db_.write<Ok>([&](soci::session& sql) -> Result<Ok> {
    QQ_TRY(load_webhook(sql, id));
    // Explicitly, not by ON DELETE CASCADE alone: SQLite enforces it only with foreign_keys on.
    sql << "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = :w)",
        soci::use(id);
    sql << "DELETE FROM webhook_deliveries WHERE webhook_id = :w", soci::use(id);
    sql << "DELETE FROM webhooks WHERE id = :id", soci::use(id);
    return Ok{};
  });
}

Result<Page<Delivery>> WebhookService::deliveries(const std::string& webhook_id, const DeliveryQuery& query) {
  if (!query.status.empty() && query.status != "pending" && query.status != "succeeded" && query.status != "failed")
    return Error::invalid("validation_failed", "the request has invalid fields",
                          {{"status", "must be pending, succeeded or failed"}});
  return db_.read<Page<Delivery>>([&](soci::session& sql) -> Result<Page<Delivery>> {
    QQ_TRY(load_webhook(sql, webhook_id));
    Page<Delivery> page;
    {
      DeliveryRow row;
      storage::DynamicQuery q(sql);
      q.text(std::string("SELECT ") + kDeliveryColumns + " FROM webhook_deliveries WHERE webhook_id = ")
          .param(webhook_id);
      if (!query.status.empty()) q.text(" AND status = ").param(query.status);
      if (!query.cursor.empty()) q.text(" AND id < ").param(query.cursor);
      q.text(" ORDER BY id DESC LIMIT ").param(static_cast<long long>(query.limit) + 1);
      row.bind(q);
      for (bool got = q.execute(); got; got = q.fetch()) page.items.push_back(row.delivery());
    }
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    for (auto& d : page.items) QQ_TRY(load_attempts(sql, d));
    return page;
  });
}

Result<Delivery> WebhookService::delivery(const std::string& webhook_id, const std::string& delivery_id) {
  return db_.read<Delivery>([&](soci::session& sql) -> Result<Delivery> {
    QQ_TRY(load_webhook(sql, webhook_id));
    return load_delivery(sql, webhook_id, delivery_id);
  });
}

Result<Delivery> WebhookService::replay(const std::string& webhook_id, const std::string& delivery_id) {
  auto replayed = db_.write<Delivery>([&](soci::session& sql) -> Result<Delivery> {
    QQ_ASSIGN_OR_RETURN(Webhook w, load_webhook(sql, webhook_id));
    QQ_TRY(load_delivery(sql, webhook_id, delivery_id));
    if (!w.enabled)
      return Error::conflict("webhook.disabled", "the webhook is disabled; enable it before replaying a delivery");
    long long now = clock_.now_ms(), until = now + options_.retry_window_ms;
    sql << "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = :n, retry_until = :r, "
           "series_start = attempts, completed_at = NULL, updated_at = :u WHERE id = :id",
        soci::use(now), soci::use(until), soci::use(now), soci::use(delivery_id);
    return load_delivery(sql, webhook_id, delivery_id);
  });
  if (replayed) notify();
  return replayed;
}

Status WebhookService::fan_out(soci::session& sql, const std::vector<events::Event>& events) {
  if (events.empty()) return ok_status();
  std::vector<Webhook> hooks;
  {
    WebhookRow row;
    storage::DynamicQuery q(sql);
    q.text(std::string("SELECT ") + kWebhookColumns + " FROM webhooks WHERE enabled = 1");
    row.bind(q);
    for (bool got = q.execute(); got; got = q.fetch()) hooks.push_back(row.webhook());
  }
  if (hooks.empty()) return ok_status();
  long long now = clock_.now_ms(), until = now + options_.retry_window_ms;
  for (const auto& e : events) {
    std::string payload;
    for (const auto& w : hooks) {
      // A webhook hears of what happened after it was made, not of older events still queued.
      if (w.created_at > e.occurred_at) continue;
      if (std::none_of(w.event_types.begin(), w.event_types.end(),
                       [&](const std::string& p) { return events::matches(p, e.type); }))
        continue;
      if (payload.empty()) payload = payload_of(e);
      std::string id = new_id("whd");
      sql << "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, status, attempts, "
             "series_start, next_attempt_at, retry_until, created_at, updated_at) "
             "VALUES (:id, :w, :e, :t, :p, 'pending', 0, 0, :n, :r, :c, :u)",
          soci::use(id), soci::use(w.id), soci::use(e.id), soci::use(e.type), soci::use(payload), soci::use(now),
          soci::use(until), soci::use(now), soci::use(now);
    }
  }
  return ok_status();  // the relay wakes the senders once this has committed (after_dispatch)
}

void WebhookService::notify() { senders_.notify(); }

Result<std::optional<WebhookService::Claimed>> WebhookService::claim() {
  const bool pg = db_.backend() == storage::Backend::postgresql;
  return db_.write<std::optional<Claimed>>([&](soci::session& sql) -> Result<std::optional<Claimed>> {
    long long now = clock_.now_ms();
    std::string id;
    storage::DynamicQuery q(sql);
    // Due, not in flight elsewhere (a lease that ran out means its node stopped), webhook enabled.
    q.text("SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending' "
           "AND w.enabled = 1 AND d.next_attempt_at <= ")
        .param(now);
    q.text(" AND (d.lease_until IS NULL OR d.lease_until < ").param(now);
    q.text(") ORDER BY d.next_attempt_at LIMIT 1");
    if (pg) q.text(" FOR UPDATE OF d SKIP LOCKED");
    q.into(id);
    if (!q.execute()) return std::optional<Claimed>();
    Claimed c;
    long long attempts = 0, series = 0, until = 0;
    sql << "SELECT d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, d.series_start, d.retry_until, "
           "w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = :id",
        soci::use(id), soci::into(c.webhook_id), soci::into(c.event_id), soci::into(c.event_type),
        soci::into(c.payload), soci::into(attempts), soci::into(series), soci::into(until), soci::into(c.url),
        soci::into(c.secret);
    c.delivery_id = id;
    c.attempts = static_cast<int>(attempts) + 1;
    c.series_start = static_cast<int>(series);
    c.retry_until = until;
    long long lease = now + options_.timeout_ms + kLeaseMarginMs, n = c.attempts;
    sql << "UPDATE webhook_deliveries SET attempts = :a, lease_owner = :o, lease_until = :l, updated_at = :u "
           "WHERE id = :id",
        soci::use(n), soci::use(options_.node_id), soci::use(lease), soci::use(now), soci::use(id);
    return std::optional<Claimed>(std::move(c));
  });
}

Status WebhookService::complete(const Claimed& c, const Attempt& attempt) {
  static thread_local std::minstd_rand jitter(std::random_device{}());
  return db_.write<Ok>([&](soci::session& sql) -> Result<Ok> {
    long long now = clock_.now_ms(), n = c.attempts;
    std::string status = "succeeded", error = clip(attempt.error);
    std::optional<long long> next;
    bool ok = attempt.status_code && *attempt.status_code >= 200 && *attempt.status_code < 300;
    if (!ok) {
      std::int64_t delay = std::max<std::int64_t>(options_.retry_base_ms, 1);
      for (int i = 1; i < c.attempts - c.series_start && delay < options_.retry_max_ms; ++i) delay *= 2;
      delay = std::min(delay, options_.retry_max_ms);
      delay -= static_cast<std::int64_t>(jitter() % static_cast<std::uint64_t>(delay / 2 + 1));
      if (now + delay <= c.retry_until) {
        status = "pending", next = now + delay;
      } else if (now < c.retry_until) {
        status = "pending", next = c.retry_until;  // a last attempt at the end of the window
      } else {
        status = "failed";
      }
    }
    soci::indicator next_ind = next ? soci::i_ok : soci::i_null;
    long long next_value = next.value_or(0);
    long long code = attempt.status_code.value_or(0);
    soci::indicator code_ind = attempt.status_code ? soci::i_ok : soci::i_null;
    soci::indicator error_ind = error.empty() ? soci::i_null : soci::i_ok;
    soci::indicator done_ind = status == "pending" ? soci::i_null : soci::i_ok;
    std::string got;
    // Only while the attempt is still ours: a replay in between keeps its own schedule.
    sql << "UPDATE webhook_deliveries SET status = :s, next_attempt_at = :n, last_status_code = :c, last_error = :e, "
           "lease_owner = NULL, lease_until = NULL, updated_at = :u, completed_at = :d "
           "WHERE id = :id AND lease_owner = :o AND attempts = :a RETURNING id",
        soci::use(status), soci::use(next_value, next_ind), soci::use(code, code_ind), soci::use(error, error_ind),
        soci::use(now), soci::use(now, done_ind), soci::use(c.delivery_id), soci::use(options_.node_id), soci::use(n),
        soci::into(got);
    long long exists = 0;
    sql << "SELECT COUNT(*) FROM webhook_deliveries WHERE id = :id", soci::use(c.delivery_id), soci::into(exists);
    if (exists == 0) return Ok{};  // the webhook was deleted meanwhile
    std::string attempt_id = new_id("wha");
    long long started = attempt.started_at, duration = attempt.duration_ms;
    sql << "INSERT INTO webhook_attempts (id, delivery_id, number, started_at, duration_ms, status_code, error, node) "
           "VALUES (:id, :d, :n, :s, :m, :c, :e, :o)",
        soci::use(attempt_id), soci::use(c.delivery_id), soci::use(n), soci::use(started), soci::use(duration),
        soci::use(code, code_ind), soci::use(error, error_ind), soci::use(options_.node_id);
    return Ok{};
  });
}

bool WebhookService::send_once(const Transport& transport) {
  auto claimed = claim();
  if (!claimed || !*claimed) return false;
  const Claimed& c = **claimed;
  OutgoingWebhook out;
  out.url = c.url;
  out.body = c.payload;
  out.timeout_ms = options_.timeout_ms;
  std::string timestamp = std::to_string(clock_.now_ms() / 1000);
  out.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", "Quanqu-Webhooks/1"},
                 {"Quanqu-Event-Id", c.event_id},
                 {"Quanqu-Event-Type", c.event_type},
                 {"Quanqu-Delivery-Id", c.delivery_id},
                 {"Quanqu-Delivery-Attempt", std::to_string(c.attempts)},
                 {"Quanqu-Timestamp", timestamp},
                 {"Quanqu-Signature", signature(c.secret, timestamp, c.payload)}};
  std::string host;
  if (auto url = parse_webhook_url(c.url)) host = url->host;
  const AddressPolicy& policy = policy_;
  out.allow_address = [&policy, host](const std::string& ip) { return policy.allows(host, ip); };

  Attempt attempt;
  attempt.number = c.attempts;
  attempt.started_at = clock_.now_ms();
  auto started = std::chrono::steady_clock::now();
  Result<WebhookReply> reply = Error::internal("not sent");
  try {
    reply = transport(out);
  } catch (const std::exception& e) {
    reply = Error::internal(std::string("the transport threw: ") + e.what());
  }
  attempt.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  if (reply) {
    attempt.status_code = reply->status;
    if (reply->status < 200 || reply->status >= 300)
      attempt.error = "the endpoint answered " + std::to_string(reply->status);
  } else {
    attempt.error = reply.error().code + ": " + reply.error().message;
  }
  for (int i = 0; i < 3 && !complete(c, attempt).ok(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (i + 1)));
  return true;
}

void WebhookService::start(Transport transport) {
  senders_.start(options_.threads, [this, transport = std::move(transport)] {
    return send_once(transport) ? BackgroundWorkers::Pass::again : BackgroundWorkers::Pass::idle;
  });
}

void WebhookService::stop() { senders_.stop(); }

Result<std::int64_t> WebhookService::prune(std::int64_t before_ms, std::int64_t limit) {
  return db_.write<std::int64_t>([&](soci::session& sql) -> Result<std::int64_t> {
    long long before = before_ms, n = limit;
    std::vector<std::string> ids;
    {
      std::string id;
      storage::DynamicQuery q(sql);
      q.text("SELECT id FROM webhook_deliveries WHERE completed_at IS NOT NULL AND completed_at < ").param(before);
      q.text(" LIMIT ").param(n);
      q.into(id);
      for (bool got = q.execute(); got; got = q.fetch()) ids.push_back(id);
    }
    for (std::size_t i = 0; i < ids.size(); i += 500) {
      std::vector<std::string> chunk(ids.begin() + i, ids.begin() + std::min(ids.size(), i + 500));
      storage::DynamicQuery a(sql);
      a.text("DELETE FROM webhook_attempts WHERE delivery_id IN ").in_list(chunk);
      a.execute();
      storage::DynamicQuery d(sql);
      d.text("DELETE FROM webhook_deliveries WHERE id IN ").in_list(chunk);
      d.execute();
    }
    return static_cast<std::int64_t>(ids.size());
  });
}

}  // namespace quanqu::webhooks
