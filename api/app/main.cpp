// The quanqu executable: wires storage, core services, the API and the HTTP server together.
#include "admin/admin_routes.h"
#include "app/config.h"
#include "demo/demo_seed.h"
#include "http/log.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "ops/ops_routes.h"
#include "plugins/plugin_routes.h"
#include "routes/services.h"
#include "store/store_routes.h"

#include <chrono>
#include <iostream>

namespace {

using namespace quanqu;
using json = nlohmann::json;

// Everything a running engine holds, built in dependency order.
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

  api::Services services() {
    return {*db, changes, *access, *channels, *catalog, *inventory, *carts, *checkout, *orders};
  }
};

int fail(http::Logger& log, const std::string& what, const Error& e) {
  log.log(http::LogLevel::error, what, {{"code", e.code}, {"detail", e.message}});
  return 1;
}

// Opens and migrates the database and builds the services.
Result<std::unique_ptr<Engine>> open_engine(const app::Config& config, http::Logger& log) {
  auto engine = std::make_unique<Engine>();
  QQ_ASSIGN_OR_RETURN(engine->db, storage::Database::open(config.database_url, config.threads + 2));
  QQ_TRY(engine->db->migrate());
  QQ_ASSIGN_OR_RETURN(long long version, engine->db->schema_version());
  log.log(http::LogLevel::info, "database ready",
          {{"database", engine->db->url().display}, {"schema_version", version}});
  auto& e = *engine;
  e.access = std::make_unique<access::AccessService>(*e.db, e.clock);
  e.channels = std::make_unique<channels::ChannelService>(*e.db, e.clock, e.changes);
  e.catalog = std::make_unique<catalog::CatalogService>(*e.db, e.clock, e.changes);
  e.inventory = std::make_unique<inventory::InventoryService>(*e.db, e.clock, e.changes);
  e.carts = std::make_unique<cart::CartService>(*e.db, e.clock);
  e.checkout = std::make_unique<checkout::CheckoutService>(*e.db, e.clock, e.changes);
  e.orders = std::make_unique<orders::OrderService>(*e.db, e.clock, e.changes);
  return engine;
}

Result<demo::DemoResult> seed(Engine& e) {
  return demo::seed_demo({*e.catalog, *e.channels, *e.inventory, *e.access});
}

int serve(const app::Config& config, http::Logger& log) {
  auto started = std::chrono::steady_clock::now();
  auto opened = open_engine(config, log);
  if (!opened) return fail(log, "cannot start", opened.error());
  Engine& e = **opened;

  json keys = json::object();
  if (config.admin_key) {
    auto admin = e.access->create_admin_key("configured", *config.admin_key);
    if (!admin) return fail(log, "cannot register the admin key", admin.error());
    keys["admin_key"] = *config.admin_key;
  }
  if (config.demo) {
    auto demo = seed(e);
    if (!demo) return fail(log, "cannot load the demo shop", demo.error());
    log.log(http::LogLevel::info, demo->created ? "demo shop loaded" : "demo shop present",
            {{"products", demo->products}, {"variants", demo->variants}});
    keys["publishable_key"] = demo->publishable_key;
    if (!config.admin_key) {
      auto admin = e.access->create_admin_key("demo");
      if (!admin) return fail(log, "cannot create an admin key", admin.error());
      keys["admin_key"] = admin->secret;
    }
  }
  if (!keys.empty()) log.log(http::LogLevel::info, "demo keys", keys);
  // Plugins load before any route exists; one that fails is logged and marked failed, never fatal.
  plugins::PluginHost plugin_host(*e.db, e.clock, api::plugin_log_sink(log));
  plugin_host.load_directory(config.plugins_dir);

  http::Metrics metrics;
  metrics.add_counter("quanqu_db_pool_connections", "Database connections in the pool",
                      [&e] { return static_cast<double>(e.db->pool_size()); });
  http::Router router;
  auto services = e.services();
  services.log = &log;
  api::register_ops_routes(router, *e.db, metrics);
  api::register_store_routes(router, services, {config.catalog_cache_ttl_ms});
  api::register_admin_routes(router, services);
  api::register_plugin_routes(router, services, plugin_host, metrics);

  http::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.threads = config.threads;
  options.body_limit = config.body_limit;
  options.cors_origins = config.cors_origins;
  http::Server server(options, [&router](http::Request& r) { return router.dispatch(r); }, metrics, log);
  try {
    server.start();
  } catch (const std::exception& ex) {
    log.log(http::LogLevel::error, "cannot listen", {{"detail", ex.what()}});
    return 1;
  }
  server.stop_on_signals();
  double ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log.log(http::LogLevel::info, "listening",
          {{"host", config.host}, {"port", server.port()}, {"threads", config.threads}, {"startup_ms", ready_ms}});
  server.run();
  plugin_host.stop_all();
  log.log(http::LogLevel::info, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = app::parse_config(argc, argv);
  if (parsed.exit_ok) return 0;
  if (!parsed.config) {
    std::cerr << parsed.error << std::endl;
    return 2;
  }
  const app::Config& config = *parsed.config;
  std::unique_ptr<http::Logger> log;
  try {
    log = std::make_unique<http::Logger>(http::parse_log_level(config.log_level));
  } catch (const std::exception& ex) {
    std::cerr << "quanqu: " << ex.what() << std::endl;
    return 2;
  }

  if (config.command == "serve") return serve(config, *log);

  auto opened = open_engine(config, *log);
  if (!opened) return fail(*log, "cannot open the database", opened.error());
  Engine& e = **opened;
  if (config.command == "migrate") return 0;
  if (config.command == "seed-demo") {
    auto demo = seed(e);
    if (!demo) return fail(*log, "cannot load the demo shop", demo.error());
    log->log(http::LogLevel::info, demo->created ? "demo shop loaded" : "demo shop present",
             {{"products", demo->products}, {"variants", demo->variants}, {"publishable_key", demo->publishable_key}});
    return 0;
  }
  // create-admin-key
  auto admin = e.access->create_admin_key("cli");
  if (!admin) return fail(*log, "cannot create an admin key", admin.error());
  std::cout << admin->secret << std::endl;
  return 0;
}
