// The composition root: a migrated database, the core services on it, and every API route.
#pragma once

#include "http/http_client.h"
#include "http/metrics.h"
#include "http/router.h"
#include "plugins/plugin_host.h"
#include "routes/services.h"

#include <memory>
#include <string_view>

namespace quanqu::app {

// What open_engine() is told beyond the database.
struct EngineOptions {
  std::string node_id;  // names this process in leases; empty: "node_" + random hex
  webhooks::AddressPolicy webhook_policy;
  webhooks::WebhookOptions webhook_options;  // its node_id is set from node_id above
  std::int64_t pickup_hold_hour_ms = 3'600'000;  // one hour of a store's pickup hold (less in tests)
};

// Everything a running engine holds, built in dependency order by open_engine().
struct Engine {
  ~Engine();  // stops the background work first: it uses the services below
  SystemClock clock;
  ChangeCounter changes;
  std::string node_id;
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<events::EventBus> events;
  std::unique_ptr<jobs::JobScheduler> jobs;
  std::unique_ptr<webhooks::WebhookService> webhooks;
  // Declared after the bus: destroyed first, so it stops listening before the bus goes.
  std::unique_ptr<plugins::PluginHost> plugins;
  std::unique_ptr<access::AccessService> access;
  std::unique_ptr<channels::ChannelService> channels;
  std::unique_ptr<catalog::CatalogService> catalog;
  std::unique_ptr<inventory::InventoryService> inventory;
  std::unique_ptr<cart::CartService> carts;
  std::unique_ptr<checkout::CheckoutService> checkout;
  std::unique_ptr<orders::OrderService> orders;
  std::unique_ptr<payments::PaymentService> payments;
  std::unique_ptr<customers::CustomerService> customers;
  std::unique_ptr<fulfilment::ShippingService> shipping;
  std::unique_ptr<idempotency::IdempotencyService> idempotency;

  // The services as the API sees them; they refer into this Engine, which must outlive them.
  api::Services services();
};

// Opens the database with `pool_size` connections, applies the migrations and builds the services.
// The plugin host is created empty: load plugins with engine->plugins->load_directory() after
// connect_plugins().
// The outbox relay gives dispatched events to the webhooks; the maintenance job, the plugin
// key-value expiry job (plugins.kv_expiry) and the pickup expiry job (pickup.expire, scheduled
// when an order is ready for pickup) are defined.
Result<std::unique_ptr<Engine>> open_engine(std::string_view database_url, std::size_t pool_size,
                                            EngineOptions options = {});

// Starts this node's background work: the event relay, the webhook senders (over `client`) and
// the job scheduler. Nothing of it runs inside a request.
void start_background_work(Engine& engine, const http::HttpClient& client);

// Gives the plugin host what it serves plugins with: the core-service operations of Host::call,
// channel configs, outgoing HTTP through `client`, and channel adapters configured on start.
void connect_plugins(Engine& engine, api::Services& services, const http::HttpClient& client);

// Registers every route the server answers: operational, store, admin and plugin routes. The
// server and the OpenAPI test both call this, so the document is checked against the real table.
void register_all_routes(http::Router& router, api::Services& services, const api::ApiOptions& options,
                         http::Metrics& metrics);

}  // namespace quanqu::app
