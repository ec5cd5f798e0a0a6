// Merchant webhooks: endpoints, the fan-out of dispatched events into deliveries, signed sends with retries, the attempt log.
#pragma once

#include "common/background_workers.h"
#include "common/clock.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "storage/database.h"
#include "webhooks/address_policy.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::webhooks {

struct Webhook {
  std::string id;  // wh_...
  std::string url;
  std::vector<std::string> event_types;  // types or patterns: "order.placed", "order.*", "*"
  std::string description;
  bool enabled = true;
  std::string secret_hint;  // the first 10 characters of the secret ("whsec_3f2a")
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// A webhook with its secret: only the reply that created it (or rotated the secret) holds one.
struct WebhookWithSecret {
  Webhook webhook;
  std::string secret;  // empty unless just created or rotated
};

// What a create or a patch sets; absent fields keep their value (create needs url and event_types).
struct WebhookInput {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> event_types;
  std::optional<std::string> description;
  std::optional<bool> enabled;
  bool rotate_secret = false;
};

struct Attempt {
  int number = 0;
  std::int64_t started_at = 0;
  std::int64_t duration_ms = 0;
  std::optional<int> status_code;  // none: no HTTP reply (the error says why)
  std::string error;               // empty for a 2xx
};

// One event for one webhook. status: pending (an attempt is due at next_attempt_at), succeeded,
// failed (no 2xx before retry_until).
struct Delivery {
  std::string id;  // whd_...
  std::string webhook_id;
  std::string event_id;
  std::string event_type;
  std::string status;
  int attempts = 0;
  std::optional<std::int64_t> next_attempt_at;
  std::int64_t retry_until = 0;
  std::optional<int> last_status_code;
  std::string last_error;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> completed_at;
  std::vector<Attempt> recent_attempts;  // newest first, at most kRecentAttempts
};

struct DeliveryQuery {
  std::string status;  // empty: any
  int limit = 20;      // 1..100
  std::string cursor;
};

template <class T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;
};

// The request the sender makes, and what the transport (the API's HTTP client) reports.
struct OutgoingWebhook {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int timeout_ms = 10000;
  // Called with every address the URL's host resolved to; the transport connects only to those
  // it allows, and fails the attempt when none is left.
  std::function<bool(const std::string& ip)> allow_address;
};
struct WebhookReply {
  int status = 0;
};
using Transport = std::function<Result<WebhookReply>(const OutgoingWebhook&)>;

struct WebhookOptions {
  std::string node_id = "node";
  // Back-off after the n-th failed attempt of a series: base * 2^(n-1), at most max, of which a
  // random part up to a half is taken off (jitter). Attempts go on until retry_window after the
  // event (or the replay); the last one is made at the end of the window.
  std::int64_t retry_base_ms = 10'000;
  std::int64_t retry_max_ms = 3'600'000;
  std::int64_t retry_window_ms = 86'400'000;
  int timeout_ms = 10'000;  // of one attempt
  std::chrono::milliseconds poll{1000};
  int threads = 4;  // attempts in flight at once on this node
};

class WebhookService {
 public:
  static constexpr std::size_t kMaxWebhooks = 100;
  static constexpr std::size_t kMaxEventTypes = 50;
  static constexpr std::size_t kRecentAttempts = 20;

  WebhookService(storage::Database& db, const Clock& clock, AddressPolicy policy, WebhookOptions options = {});
  ~WebhookService();  // stop()
  WebhookService(const WebhookService&) = delete;
  WebhookService& operator=(const WebhookService&) = delete;

  // Checks the URL (http or https; a private or loopback address is a 400 unless allow-listed),
  // the event types (1..50 distinct types or patterns, as plugins subscribe: "order.placed",
  // "order.*", "*") and the description (at most 500 bytes); 100 webhooks at most (422
  // webhook.limit_reached). The secret ("whsec_" + 64 hex digits) is returned this once.
  Result<WebhookWithSecret> create(const WebhookInput& input);
  Result<Webhook> get(const std::string& id);
  Result<Page<Webhook>> list(int limit, const std::string& cursor);
  // rotate_secret: a new secret, returned this once; the old one stops signing at once.
  Result<WebhookWithSecret> update(const std::string& id, const WebhookInput& input);
  // Deletes the webhook with its deliveries and their attempts.
  Status remove(const std::string& id);

  // Newest first; 404 webhook.not_found for an unknown webhook.
  Result<Page<Delivery>> deliveries(const std::string& webhook_id, const DeliveryQuery& query);
  Result<Delivery> delivery(const std::string& webhook_id, const std::string& delivery_id);
  // Makes the delivery due now, with a new retry window (whatever its status). 409
  // webhook.disabled when its webhook is disabled. The attempt is made by a sender thread.
  Result<Delivery> replay(const std::string& webhook_id, const std::string& delivery_id);

  // The event relay's dispatch hook: one delivery per matching enabled webhook and event, in the
  // transaction that marks the events dispatched.
  Status fan_out(soci::session& sql, const std::vector<events::Event>& events);

  // Starts the sender threads, which send with `transport` (a no-op while they run). Without
  // start() this node sends nothing.
  void start(Transport transport);
  // Stops after the attempts in hand (joins the threads); start() may follow.
  void stop();
  // Wakes the senders (new deliveries were committed).
  void notify();
  // Claims one due delivery and makes one attempt with `transport`, on the calling thread; true
  // when one was made (tests).
  bool send_once(const Transport& transport);

  // Deletes deliveries finished before `before_ms` (and their attempts), at most `limit`.
  Result<std::int64_t> prune(std::int64_t before_ms, std::int64_t limit);

  const AddressPolicy& policy() const { return policy_; }

 private:
  struct Claimed;
  Status validate(const WebhookInput& input, bool creating) const;
  Result<std::optional<Claimed>> claim();
  Status complete(const Claimed& claimed, const Attempt& attempt);

  storage::Database& db_;
  const Clock& clock_;
  const AddressPolicy policy_;
  const WebhookOptions options_;
  BackgroundWorkers senders_;  // last: stopped before the rest goes
};

// The value of the Quanqu-Signature header: "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body).
std::string signature(const std::string& secret, const std::string& timestamp, const std::string& body);

// The body of a delivery: {"id", "type", "occurred_at" (RFC 3339), "data"}.
std::string payload_of(const events::Event& event);

}  // namespace quanqu::webhooks
