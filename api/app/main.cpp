// The quanqu executable: wires storage, core services, the API and the HTTP server together.
#include "app/config.h"
#include "app/engine.h"
#include "demo/demo_seed.h"
#include "http/log.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "ops/ops_routes.h"
#include "plugins/plugin_routes.h"

#include <chrono>
#include <iostream>

namespace {

using namespace quanqu;
using json = nlohmann::json;

int fail(http::Logger& log, const std::string& what, const Error& e) {
  log.log(http::LogLevel::error, what, {{"code", e.code}, {"detail", e.message}});
  return 1;
}

// Opens and migrates the database and builds the services, saying so in the log.
Result<std::unique_ptr<app::Engine>> open_logged(const app::Config& config, http::Logger& log) {
  QQ_ASSIGN_OR_RETURN(auto engine, app::open_engine(config.database_url, config.threads + 2));
  QQ_ASSIGN_OR_RETURN(long long version, engine->db->schema_version());
  log.log(http::LogLevel::info, "database ready",
          {{"database", engine->db->url().display}, {"schema_version", version}});
  return engine;
}

Result<demo::DemoResult> seed(app::Engine& e) {
  return demo::seed_demo({*e.catalog, *e.channels, *e.inventory, *e.access});
}

int serve(const app::Config& config, http::Logger& log) {
  auto started = std::chrono::steady_clock::now();
  auto opened = open_logged(config, log);
  if (!opened) return fail(log, "cannot start", opened.error());
  app::Engine& e = **opened;

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
  auto services = e.services();
  services.log = &log;
  // Plugins load before the server listens; one that fails is logged and marked failed, never fatal.
  http::HttpClient outgoing;
  e.plugins->set_log(api::plugin_log_sink(log));
  app::connect_plugins(e, services, outgoing);
  e.plugins->load_directory(config.plugins_dir);

  http::Metrics metrics;
  metrics.add_counter("quanqu_db_pool_connections", "Database connections in the pool",
                      [&e] { return static_cast<double>(e.db->pool_size()); });
  metrics.add_counter("quanqu_events_published_total", "Domain events published",
                      [&e] { return static_cast<double>(e.events->published()); });
  metrics.add_counter("quanqu_events_dropped_total", "Domain events dropped because the queue was full",
                      [&e] { return static_cast<double>(e.events->dropped()); });
  http::Router router;
  auto openapi = std::make_shared<api::OpenApiDocument>();
  app::register_all_routes(router, services, {config.catalog_cache_ttl_ms, openapi}, metrics);

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
  // Before run(): the served document names the port really bound (--port 0 picks one).
  openapi->set_address(config.host, server.port());
  server.stop_on_signals();
  double ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log.log(http::LogLevel::info, "listening",
          {{"host", config.host}, {"port", server.port()}, {"threads", config.threads}, {"startup_ms", ready_ms}});
  server.run();
  e.events->drain();
  e.plugins->stop_all();
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

  auto opened = open_logged(config, *log);
  if (!opened) return fail(*log, "cannot open the database", opened.error());
  app::Engine& e = **opened;
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
