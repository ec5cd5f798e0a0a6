// Builds the engine in dependency order and registers the whole route table.
#include "app/engine.h"

#include "admin/admin_routes.h"
#include "common/random.h"
#include "ops/ops_routes.h"
#include "plugins/plugin_routes.h"
#include "plugins/plugin_services.h"
#include "store/store_routes.h"

namespace quanqu::app {

namespace {

// Finished history is kept this long, then pruned by the maintenance job.
constexpr std::int64_t kKeepOutboxMs = 7LL * 24 * 3600 * 1000;
constexpr std::int64_t kKeepDeliveriesMs = 30LL * 24 * 3600 * 1000;
constexpr std::int64_t kKeepJobsMs = 7LL * 24 * 3600 * 1000;
constexpr std::int64_t kPruneBatch = 10000;

// A ready pickup order not collected within its store's hold is cancelled by the job
// `pickup.expire` ({"order_id"}), scheduled in the transaction that made the order ready: the
// lifecycle's cancel by the job (a settled payment refunded); an authorised payment is then let
// go (a failure there is retried with the job: the order stays cancelled and the release is
// repeated).
void define_pickup_expiry(Engine& e, std::int64_t hold_hour_ms) {
  e.orders->set_pickup_hold_hour_ms(hold_hour_ms);
  auto* jobs = e.jobs.get();
  e.orders->set_pickup_expiry([jobs](soci::session& sql, const OrderId& id, std::int64_t due) -> Status {
    QQ_TRY(jobs->schedule_in(sql, "pickup.expire", {{"order_id", id.value}}, due, "pickup.expire:" + id.value));
    return ok_status();
  });
  jobs::JobKind expire;
  expire.max_attempts = 10;
  expire.run = [&e](const jobs::Job& job) -> Status {
    OrderId id(job.payload.value("order_id", ""));
    QQ_ASSIGN_OR_RETURN(auto expired, e.orders->expire_pickup(id, job.id));
    if (!expired) {
      // Cancelled by an earlier attempt whose payment release failed: try the release again.
      QQ_ASSIGN_OR_RETURN(auto order, e.orders->get(id));
      if (order.status != "cancelled" || order.payment_status != "cancelled") return ok_status();
      return e.payments->release_for_cancelled(order);
    }
    return e.payments->release_for_cancelled(*expired);
  };
  e.jobs->define("pickup.expire", std::move(expire));
}

}  // namespace

Engine::~Engine() {
  if (events) events->stop();
  if (webhooks) webhooks->stop();
  if (jobs) jobs->stop();
}

api::Services Engine::services() {
  return {*db,      changes,   *access,    *channels, *catalog, *inventory, *carts,
          *checkout, *orders,   *payments, *customers, *shipping, *plugins, *events, *idempotency,
          *webhooks, *jobs};
}

Result<std::unique_ptr<Engine>> open_engine(std::string_view database_url, std::size_t pool_size,
                                            EngineOptions options) {
  auto engine = std::make_unique<Engine>();
  auto& e = *engine;
  e.node_id = options.node_id.empty() ? "node_" + random_hex(6) : options.node_id;
  QQ_ASSIGN_OR_RETURN(e.db, storage::Database::open(database_url, pool_size));
  QQ_TRY(e.db->migrate());
  events::RelayOptions relay;
  relay.node_id = e.node_id;
  e.events = std::make_unique<events::EventBus>(*e.db, e.clock, relay);
  jobs::SchedulerOptions scheduling;
  scheduling.node_id = e.node_id;
  e.jobs = std::make_unique<jobs::JobScheduler>(*e.db, e.clock, scheduling);
  options.webhook_options.node_id = e.node_id;
  e.webhooks = std::make_unique<webhooks::WebhookService>(*e.db, e.clock, options.webhook_policy, options.webhook_options);
  auto* hooks = e.webhooks.get();
  e.events->on_dispatch([hooks](soci::session& sql, const std::vector<events::Event>& batch) {
    return hooks->fan_out(sql, batch);
  });
  e.events->after_dispatch([hooks] { hooks->notify(); });
  // One recurring job prunes the history every context keeps: dispatched events, finished
  // deliveries and jobs. Each step is bounded; what is left waits for the next run.
  jobs::JobKind prune;
  prune.every = std::chrono::hours(1);
  prune.max_attempts = 3;
  prune.run = [&e](const jobs::Job&) -> Status {
    std::int64_t now = e.clock.now_ms();
    QQ_TRY(e.events->prune(now - kKeepOutboxMs, kPruneBatch));
    QQ_TRY(e.webhooks->prune(now - kKeepDeliveriesMs, kPruneBatch));
    QQ_TRY(e.jobs->prune(now - kKeepJobsMs, kPruneBatch));
    return ok_status();
  };
  e.jobs->define("maintenance.prune", std::move(prune));
  e.plugins = std::make_unique<plugins::PluginHost>(*e.db, e.clock, *e.events, nullptr);
  // Plugin keys past their expiry are already invisible; this job deletes their rows, a bounded
  // batch a minute, so that a plugin's short-lived keys (webhook replay marks) do not pile up.
  jobs::JobKind kv_expiry;
  kv_expiry.every = std::chrono::minutes(1);
  kv_expiry.max_attempts = 3;
  kv_expiry.run = [&e](const jobs::Job&) -> Status {
    QQ_TRY(e.plugins->kv().prune_expired(kPruneBatch));
    return ok_status();
  };
  e.jobs->define("plugins.kv_expiry", std::move(kv_expiry));
  e.access = std::make_unique<access::AccessService>(*e.db, e.clock);
  e.channels = std::make_unique<channels::ChannelService>(*e.db, e.clock, e.changes);
  e.catalog = std::make_unique<catalog::CatalogService>(*e.db, e.clock, e.changes);
  e.inventory = std::make_unique<inventory::InventoryService>(*e.db, e.clock, e.changes, *e.events);
  e.carts = std::make_unique<cart::CartService>(*e.db, e.clock, *e.events);
  e.orders = std::make_unique<orders::OrderService>(*e.db, e.clock, e.changes, *e.events);
  e.payments = std::make_unique<payments::PaymentService>(*e.db, e.clock, e.changes, *e.events, *e.plugins);
  e.orders->set_refund_executor(e.payments.get());  // refunds are paid back through the payment providers
  e.checkout = std::make_unique<checkout::CheckoutService>(*e.db, e.clock, e.changes, *e.events, *e.payments);
  e.customers = std::make_unique<customers::CustomerService>(*e.db, e.clock);
  e.shipping = std::make_unique<fulfilment::ShippingService>(*e.db, *e.carts, *e.plugins);
  e.idempotency = std::make_unique<idempotency::IdempotencyService>(*e.db, e.clock);
  define_pickup_expiry(e, options.pickup_hold_hour_ms);
  return engine;
}

void start_background_work(Engine& engine, const http::HttpClient& client) {
  engine.events->start();
  engine.webhooks->start([&client](const webhooks::OutgoingWebhook& w) -> Result<webhooks::WebhookReply> {
    http::OutgoingRequest request;
    request.method = "POST";
    request.url = w.url;
    request.headers = w.headers;
    request.body = w.body;
    request.timeout_ms = w.timeout_ms;
    request.allow_address = w.allow_address;
    QQ_ASSIGN_OR_RETURN(http::IncomingReply reply, client.send(request));
    return webhooks::WebhookReply{reply.status};
  });
  engine.jobs->start();
}

void connect_plugins(Engine& engine, api::Services& services, const http::HttpClient& client) {
  engine.plugins->set_services(api::plugin_host_services(services, client));
}

void register_all_routes(http::Router& router, api::Services& services, const api::ApiOptions& options,
                         http::Metrics& metrics) {
  api::register_ops_routes(router, services.db, metrics, options.openapi);
  api::register_store_routes(router, services, options, metrics);
  api::register_admin_routes(router, services);
  api::register_plugin_routes(router, services, metrics);
}

}  // namespace quanqu::app
