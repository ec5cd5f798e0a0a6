// The quanqu executable: wires storage, core services, the API and the HTTP server together.
#include "access/access_service.h"
#include "app/config.h"
#include "app/engine.h"
#include "demo/demo_seed.h"
#include "http/log.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "ops/ops_routes.h"
#include "plugins/plugin_routes.h"
#include "routes/handler_pool.h"
#include "routes/rate_limits.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

namespace {

using namespace quanqu;
using json = nlohmann::json;

// Logs, flushes the log and ends the process at once with status 1, running no destructor: a
// plugin call stuck past its deadline still runs on a thread that nothing may join or pull the
// host from under. Every write is a transaction, so the database is consistent.
[[noreturn]] void exit_now(http::Logger& log, const plugins::PluginHost& host, const char* why) {
  for (const auto& calls : host.running_calls())
    log.log(http::LogLevel::error, "plugin calls still running at exit",
            {{"plugin", calls.plugin}, {"calls", calls.running}, {"past_deadline", calls.stuck}});
  log.log(http::LogLevel::error, "stopped without waiting", {{"reason", why}});
  log.flush();
  std::cout.flush();
  std::_Exit(1);
}

// Ends the process with exit_now() if the rest of the shutdown outlasts `deadline`.
class ShutdownGuard {
 public:
  ShutdownGuard(http::Logger& log, const plugins::PluginHost& host, std::chrono::steady_clock::time_point deadline)
      : thread_([this, &log, &host, deadline] {
          std::unique_lock lock(mutex_);
          if (!changed_.wait_until(lock, deadline, [this] { return done_; }))
            exit_now(log, host, "the shutdown grace period is over");
        }) {}
  ~ShutdownGuard() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  std::thread thread_;
};

int fail(http::Logger& log, const std::string& what, const Error& e) {
  log.log(http::LogLevel::error, what, {{"code", e.code}, {"detail", e.message}});
  return 1;
}

// Opens and migrates the database and builds the services, saying so in the log.
Result<std::unique_ptr<app::Engine>> open_logged(const app::Config& config, http::Logger& log) {
  app::EngineOptions options;
  // parse_config() checked the list already.
  if (auto policy = webhooks::AddressPolicy::parse(config.webhook_allow_hosts)) options.webhook_policy = *policy;
  options.webhook_options.retry_base_ms = config.webhook_retry_base_ms;
  options.webhook_options.retry_max_ms = config.webhook_retry_max_ms;
  options.pickup_hold_hour_ms = config.pickup_hold_hour_ms;
  // The relay, webhook senders and job threads hold a few connections besides the request threads.
  QQ_ASSIGN_OR_RETURN(auto engine, app::open_engine(config.database_url, config.threads + 8, options));
  QQ_ASSIGN_OR_RETURN(long long version, engine->db->schema_version());
  log.log(http::LogLevel::info, "database ready",
          {{"database", engine->db->url().display}, {"schema_version", version}, {"node_id", engine->node_id}});
  return engine;
}

// The hint of the admin key the operator uses when none was configured: on the first start (no
// live admin key in the database) a new one, whose secret is printed once to the terminal
// (stderr), never to the log; afterwards the hint of the newest existing one.
Result<std::string> ensure_admin_key(app::Engine& e, http::Logger& log) {
  QQ_ASSIGN_OR_RETURN(auto existing, e.access->list_admin_keys());
  if (!existing.empty()) return existing.back().hint;
  QQ_ASSIGN_OR_RETURN(auto admin, e.access->create_admin_key("first start"));
  std::cerr << "\nquanqu: a new admin key was created. It is shown this once (only its hash is stored);\n"
               "keep it secret, and send it as 'Authorization: Bearer <key>' to /v1/admin:\n\n    "
            << admin.secret
            << "\n\nLost it? 'quanqu create-admin-key' (same --database) prints a new one.\n"
            << std::endl;
  log.log(http::LogLevel::info, "admin key created", {{"admin_key_hint", admin.key.hint}});
  return admin.key.hint;
}

Result<demo::DemoResult> seed(app::Engine& e) {
  return demo::seed_demo({*e.catalog, *e.channels, *e.inventory, *e.access});
}

int serve(const app::Config& config, http::Logger& log) {
  auto started = std::chrono::steady_clock::now();
  // Every idle keep-alive connection holds a descriptor: the usual soft limit of 1,024 is not enough.
  auto [files_before, files_after] = http::raise_open_files_limit();
  log.log(http::LogLevel::info, "open files limit", {{"soft_limit", files_after}, {"was", files_before}});
  auto opened = open_logged(config, log);
  if (!opened) return fail(log, "cannot start", opened.error());
  app::Engine& e = **opened;

  // Keys are secrets: the log names them by their hint (a short prefix), never in full. The
  // publishable key is public by design (storefront code carries it), so the demo logs it.
  json keys = json::object();
  if (config.admin_key) {
    auto admin = e.access->create_admin_key("configured", *config.admin_key);
    if (!admin) return fail(log, "cannot register the admin key", admin.error());
    // From the secret, not the stored hint: rows written before hints were shortened hold 12 characters.
    keys["admin_key_hint"] = access::key_hint(*config.admin_key);
  } else {
    auto hint = ensure_admin_key(e, log);
    if (!hint) return fail(log, "cannot create an admin key", hint.error());
    keys["admin_key_hint"] = *hint;
  }
  if (config.demo) {
    auto demo = seed(e);
    if (!demo) return fail(log, "cannot load the demo shop", demo.error());
    log.log(http::LogLevel::info, demo->created ? "demo shop loaded" : "demo shop present",
            {{"products", demo->products}, {"variants", demo->variants}});
    keys["publishable_key"] = demo->publishable_key;
    log.log(http::LogLevel::info, "demo keys", keys);
  } else {
    log.log(http::LogLevel::info, "admin key", keys);
  }
  auto services = e.services();
  services.log = &log;
  // Plugins load before the server listens; one that fails is logged and marked failed, never fatal.
  http::HttpClient outgoing;
  e.plugins->set_log(api::plugin_log_sink(log));
  app::connect_plugins(e, services, outgoing);
  plugins::CallOptions calls;
  calls.default_timeout = std::chrono::milliseconds(config.plugin_timeout_ms);
  calls.pool.threads = config.plugin_threads;
  e.plugins->set_call_options(calls);
  plugins::IsolationOptions isolation;
  isolation.default_isolation = *plugins::isolation_from(config.plugin_isolation);
  isolation.trusted = config.trusted_plugins;
  isolation.runner = config.plugin_runner.empty()
                         ? std::filesystem::read_symlink("/proc/self/exe").parent_path() / "quanqu-plugin-runner"
                         : std::filesystem::path(config.plugin_runner);
  isolation.limits.address_space_bytes = static_cast<std::uint64_t>(config.plugin_max_memory_mb) << 20;
  isolation.limits.open_files = static_cast<std::uint64_t>(config.plugin_max_open_files);
  isolation.network = *plugins::plugin_network_from(config.plugin_network);
  isolation.limits.cpu_ms_per_call = static_cast<std::uint64_t>(config.plugin_max_cpu_ms_per_call);
  e.plugins->set_isolation_options(std::move(isolation));
  e.plugins->load_directory(config.plugins_dir);

  http::Metrics metrics;
  metrics.add_counter("quanqu_db_pool_connections", "Database connections in the pool",
                      [&e] { return static_cast<double>(e.db->pool_size()); });
  metrics.add_counter("quanqu_events_published_total", "Domain events written to the outbox by this node",
                      [&e] { return static_cast<double>(e.events->published()); });
  metrics.add_counter("quanqu_events_dispatched_total", "Domain events this node's relay dispatched (to plugins and webhooks)",
                      [&e] { return static_cast<double>(e.events->dispatched()); });
  metrics.add_counter("quanqu_events_dropped_total", "Domain events dropped (always 0: the outbox keeps every event)",
                      [&e] { return static_cast<double>(e.events->dropped()); });
  api::RateLimits limits(config.rate_limits, e.clock);
  limits.register_metrics(metrics);
  services.limits = &limits;
  // Handlers that wait on a provider run here, off the io threads: one thread per plugin thread.
  api::HandlerPool waiting_handlers(config.plugin_threads, 1024);
  services.handlers = &waiting_handlers;
  metrics.add_counter("quanqu_http_requests_waiting_on_plugins",
                      "Requests whose handler waits on a plugin (a provider), running or queued, now",
                      [&waiting_handlers] { return static_cast<double>(waiting_handlers.busy()); });
  http::Router router;
  auto openapi = std::make_shared<api::OpenApiDocument>();
  app::register_all_routes(router, services, {config.catalog_cache_ttl_ms, openapi}, metrics);

  http::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.threads = config.threads;
  options.body_limit = config.body_limit;
  options.cors_origins = config.cors_origins;
  options.max_connections_per_client = config.max_connections_per_client;
  options.max_connections = config.max_connections;
  options.shutdown_grace = std::chrono::milliseconds(config.shutdown_grace_ms);
  http::Server server(
      options, [&router](http::Request& r) { return router.dispatch(r); }, metrics, log);
  metrics.add_counter("quanqu_http_connections_open", "Client connections open now",
                      [&server] { return static_cast<double>(server.connection_stats().open_connections); });
  metrics.add_labeled("quanqu_http_connections_refused_total",
                      "Connections answered 503 too_many_connections, by the limit they hit", "reason", [&server] {
                        auto s = server.connection_stats();
                        return http::Metrics::LabeledSamples{
                            {"per_client", static_cast<double>(s.refused_per_client)},
                            {"server_full", static_cast<double>(s.refused_server_full)}};
                      });
  metrics.add_counter("quanqu_http_accept_errors_total", "Failed accepts (e.g. out of file descriptors)",
                      [&server] { return static_cast<double>(server.connection_stats().accept_errors); });
  try {
    server.start();
  } catch (const std::exception& ex) {
    log.log(http::LogLevel::error, "cannot listen", {{"detail", ex.what()}});
    return 1;
  }
  // Before run(): the served document names the port really bound (--port 0 picks one).
  openapi->set_address(config.host, server.port());
  server.stop_on_signals();
  // After plugins loaded (their subscriptions) and the routes exist; never inside a request.
  if (config.background_work) {
    app::start_background_work(e, outgoing);
    if (!config.webhook_allow_hosts.empty())
      log.log(http::LogLevel::info, "webhooks may reach allow-listed private addresses",
              {{"webhook_allow_hosts", config.webhook_allow_hosts}});
  } else {
    log.log(http::LogLevel::info, "background work is off on this node: events, webhooks and jobs run elsewhere", {});
  }
  double ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log.log(http::LogLevel::info, "listening",
          {{"host", config.host},
           {"port", server.port()},
           {"threads", config.threads},
           {"startup_ms", ready_ms},
           {"max_connections", server.max_connections()},
           {"max_connections_per_client", config.max_connections_per_client}});
  bool clean = server.run();
  if (!clean) exit_now(log, *e.plugins, "the shutdown grace period is over");
  {
    // Queued events and the plugins' stop() get what is left of the grace period.
    ShutdownGuard guard(log, *e.plugins, server.stop_deadline());
    e.events->drain();
    e.events->stop();
    e.webhooks->stop();  // an attempt in flight finishes (its timeout is 10 s)
    e.jobs->stop();
    e.plugins->stop_all();
  }
  if (!e.plugins->running_calls().empty()) exit_now(log, *e.plugins, "plugin calls are stuck past their deadline");
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
