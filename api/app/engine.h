// The composition root: a migrated database, the core services on it, and every API route.
#pragma once

#include "http/metrics.h"
#include "http/router.h"
#include "plugins/plugin_host.h"
#include "routes/services.h"

#include <memory>
#include <string_view>

namespace quanqu::app {

// Everything a running engine holds, built in dependency order by open_engine().
struct Engine {
  SystemClock clock;
  ChangeCounter changes;
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<access::AccessService> access;
  std::unique_ptr<channels::ChannelService> channels;
  std::unique_ptr<catalog::CatalogService> catalog;
  std::unique_ptr<inventory::InventoryService> inventory;
  std::unique_ptr<cart::CartService> carts;
  std::unique_ptr<checkout::CheckoutService> checkout;
  std::unique_ptr<orders::OrderService> orders;

  // The services as the API sees them; they refer into this Engine, which must outlive them.
  api::Services services();
};

// Opens the database with `pool_size` connections, applies the migrations and builds the services.
Result<std::unique_ptr<Engine>> open_engine(std::string_view database_url, std::size_t pool_size);

// Registers every route the server answers: operational, store, admin and plugin routes. The
// server and the OpenAPI test both call this, so the document is checked against the real table.
void register_all_routes(http::Router& router, api::Services& services, const api::ApiOptions& options,
                         plugins::PluginHost& plugins, http::Metrics& metrics);

}  // namespace quanqu::app
