// Builds the engine in dependency order and registers the whole route table.
#include "app/engine.h"

#include "admin/admin_routes.h"
#include "ops/ops_routes.h"
#include "plugins/plugin_routes.h"
#include "plugins/plugin_services.h"
#include "store/store_routes.h"

namespace quanqu::app {

api::Services Engine::services() {
  return {*db,      changes,   *access,    *channels, *catalog, *inventory, *carts,
          *checkout, *orders,   *payments, *customers, *shipping, *plugins, *events, *idempotency};
}

Result<std::unique_ptr<Engine>> open_engine(std::string_view database_url, std::size_t pool_size) {
  auto engine = std::make_unique<Engine>();
  auto& e = *engine;
  QQ_ASSIGN_OR_RETURN(e.db, storage::Database::open(database_url, pool_size));
  QQ_TRY(e.db->migrate());
  e.events = std::make_unique<events::EventBus>(e.clock);
  e.plugins = std::make_unique<plugins::PluginHost>(*e.db, e.clock, *e.events, nullptr);
  e.access = std::make_unique<access::AccessService>(*e.db, e.clock);
  e.channels = std::make_unique<channels::ChannelService>(*e.db, e.clock, e.changes);
  e.catalog = std::make_unique<catalog::CatalogService>(*e.db, e.clock, e.changes);
  e.inventory = std::make_unique<inventory::InventoryService>(*e.db, e.clock, e.changes, *e.events);
  e.carts = std::make_unique<cart::CartService>(*e.db, e.clock, *e.events);
  e.orders = std::make_unique<orders::OrderService>(*e.db, e.clock, e.changes, *e.events);
  e.payments = std::make_unique<payments::PaymentService>(*e.db, e.clock, e.changes, *e.events, *e.plugins);
  e.checkout = std::make_unique<checkout::CheckoutService>(*e.db, e.clock, e.changes, *e.events, *e.payments);
  e.customers = std::make_unique<customers::CustomerService>(*e.db, e.clock);
  e.shipping = std::make_unique<fulfilment::ShippingService>(*e.db, *e.carts, *e.plugins);
  e.idempotency = std::make_unique<idempotency::IdempotencyService>(*e.db, e.clock);
  return engine;
}

void connect_plugins(Engine& engine, api::Services& services, const http::HttpClient& client) {
  engine.plugins->set_services(api::plugin_host_services(services, client));
}

void register_all_routes(http::Router& router, api::Services& services, const api::ApiOptions& options,
                         http::Metrics& metrics) {
  api::register_ops_routes(router, services.db, metrics, options.openapi);
  api::register_store_routes(router, services, options);
  api::register_admin_routes(router, services);
  api::register_plugin_routes(router, services, metrics);
}

}  // namespace quanqu::app
