// Boost.ProgramOptions description of every flag and its QUANQU_* environment variable.
#include "app/config.h"
#include "plugins/plugin_host.h"
#include "webhooks/address_policy.h"

#include <boost/program_options.hpp>

#include <iostream>
#include <sstream>
#include <thread>
#include <tuple>

namespace quanqu::app {
namespace po = boost::program_options;

namespace {

const char* kUsage =
    "Quanqu - headless commerce engine\n\n"
    "Usage: quanqu <command> [options]\n\n"
    "Commands:\n"
    "  serve             run the HTTP API server\n"
    "  migrate           apply database migrations and exit\n"
    "  seed-demo         migrate, load the demo shop (if absent) and print its keys\n"
    "  create-admin-key  issue a new admin API key and print it\n\n"
    "Every option can also be set with the QUANQU_* environment variable named beside it.\n";

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

ParseOutcome parse_config(int argc, char** argv) {
  Config c;
  std::string cors, allow_hosts, background = "on", trusted;
  int port = c.port;
  std::string limit_store = "100:500", limit_admin = "50:500", limit_open = "20:100", limit_auth = "0.2:20";
  po::options_description opts("Options");
  opts.add_options()
      ("help,h", "show this help")
      ("version", "print the version")
      ("database", po::value(&c.database_url), "database URL: sqlite:PATH or postgresql://... [QUANQU_DATABASE_URL] (default sqlite:quanqu.db)")
      ("host", po::value(&c.host), "address to listen on [QUANQU_HOST] (default 127.0.0.1)")
      ("port", po::value(&port), "port to listen on, 0 for any free one [QUANQU_PORT] (default 8080)")
      ("threads", po::value(&c.threads), "worker threads [QUANQU_THREADS] (default: one per core, at least 2)")
      ("admin-key", po::value<std::string>(), "an admin API key to accept (at least 24 characters) [QUANQU_ADMIN_KEY]")
      ("plugins-dir", po::value(&c.plugins_dir), "directory of channel plugins [QUANQU_PLUGINS_DIR] (default plugins)")
      ("log-level", po::value(&c.log_level), "debug, info, warn or error [QUANQU_LOG_LEVEL] (default info)")
      ("demo", po::bool_switch(&c.demo), "serve: load the demo shop into an empty database [QUANQU_DEMO=1]")
      ("catalog-cache-ttl-ms", po::value(&c.catalog_cache_ttl_ms), "store catalog reply cache lifetime, 0 to disable [QUANQU_CATALOG_CACHE_TTL_MS] (default 1000)")
      ("cors-origins", po::value(&cors), "comma-separated origins allowed by CORS, or * [QUANQU_CORS_ORIGINS]")
      ("body-limit", po::value(&c.body_limit), "largest request body in bytes [QUANQU_BODY_LIMIT] (default 1048576)")
      ("max-connections-per-client", po::value(&c.max_connections_per_client), "open connections allowed from one client address, 0 for no limit [QUANQU_MAX_CONNECTIONS_PER_CLIENT] (default 256)")
      ("max-connections", po::value(&c.max_connections), "open connections allowed in all, 0 to derive it from the open-files limit [QUANQU_MAX_CONNECTIONS] (default 0)")
      ("rate-limit-store", po::value(&limit_store), "store API requests per second and burst, per publishable key and client address, as R or R:B, 0 = off [QUANQU_RATE_LIMIT_STORE] (default 100:500)")
      ("rate-limit-admin", po::value(&limit_admin), "admin API requests per second and burst, per admin key [QUANQU_RATE_LIMIT_ADMIN] (default 50:500)")
      ("rate-limit-open", po::value(&limit_open), "requests without credentials and plugin routes, per client address [QUANQU_RATE_LIMIT_OPEN] (default 20:100)")
      ("rate-limit-auth", po::value(&limit_auth), "failed secret attempts (unknown keys per client address, wrong order tokens per order and address) [QUANQU_RATE_LIMIT_AUTH] (default 0.2:20)")
      ("plugin-timeout-ms", po::value(&c.plugin_timeout_ms), "deadline of every plugin call unless the merchant set one for the plugin, 1..300000 [QUANQU_PLUGIN_TIMEOUT_MS] (default 5000)")
      ("plugin-threads", po::value(&c.plugin_threads), "threads running plugin calls, 1..1024 [QUANQU_PLUGIN_THREADS] (default 16)")
      ("plugin-isolation", po::value(&c.plugin_isolation), "where plugins not on the trusted list run: process (each in its own supervised runner) or in_process [QUANQU_PLUGIN_ISOLATION] (default process)")
      ("trusted-plugins", po::value(&trusted), "comma-separated plugins that run in process, or none [QUANQU_TRUSTED_PLUGINS] (default manual-payment,card-gateway,local-delivery)")
      ("plugin-runner", po::value(&c.plugin_runner), "the quanqu-plugin-runner executable [QUANQU_PLUGIN_RUNNER] (default: beside quanqu)")
      ("plugin-max-memory-mb", po::value(&c.plugin_max_memory_mb), "address space of each plugin runner in MiB, 0 for no limit [QUANQU_PLUGIN_MAX_MEMORY_MB] (default 4096)")
      ("plugin-max-open-files", po::value(&c.plugin_max_open_files), "open files of each plugin runner, 16..65536 [QUANQU_PLUGIN_MAX_OPEN_FILES] (default 256)")
      ("plugin-max-cpu-ms-per-call", po::value(&c.plugin_max_cpu_ms_per_call), "CPU time one call may use in a plugin runner before the runner is ended (SIGXCPU) and restarted, 0 for no limit, at most 3600000 [QUANQU_PLUGIN_MAX_CPU_MS_PER_CALL] (default 10000)")
      ("plugin-network", po::value(&c.plugin_network), "the network of plugin runners: manifest (each reaches the hosts its manifest declares under network.outgoing, none if it declares none), open, or none; outgoing HTTP through the server's fetch works in every case [QUANQU_PLUGIN_NETWORK] (default manifest)")
      ("shutdown-grace-ms", po::value(&c.shutdown_grace_ms), "how long a SIGTERM stop may take before the process exits with status 1 [QUANQU_SHUTDOWN_GRACE_MS] (default 10000)")
      ("webhook-allow-hosts", po::value(&allow_hosts), "comma-separated IP addresses, CIDR blocks or host names webhooks may reach although private or loopback (e.g. 127.0.0.1) [QUANQU_WEBHOOK_ALLOW_HOSTS] (default none)")
      ("webhook-retry-base-ms", po::value(&c.webhook_retry_base_ms), "webhook back-off after the first failed attempt, doubling after each, 10..3600000 [QUANQU_WEBHOOK_RETRY_BASE_MS] (default 10000)")
      ("webhook-retry-max-ms", po::value(&c.webhook_retry_max_ms), "the longest webhook back-off, at least the base, at most 86400000 [QUANQU_WEBHOOK_RETRY_MAX_MS] (default 3600000)")
      ("pickup-hold-hour-ms", po::value(&c.pickup_hold_hour_ms), "the length in ms of one hour of a store's pickup hold, 100..3600000, for tests only [QUANQU_PICKUP_HOLD_HOUR_MS] (default 3600000)")
      ("background-work", po::value(&background), "on: this node also relays events, sends webhooks and runs jobs; off: it serves requests only [QUANQU_BACKGROUND_WORK] (default on)");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&c.command));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1);

  ParseOutcome out;
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::store(po::parse_environment(opts, [](const std::string& env) -> std::string {
                static const std::pair<const char*, const char*> kNames[] = {
                    {"QUANQU_DATABASE_URL", "database"}, {"QUANQU_HOST", "host"}, {"QUANQU_PORT", "port"},
                    {"QUANQU_THREADS", "threads"}, {"QUANQU_ADMIN_KEY", "admin-key"},
                    {"QUANQU_PLUGINS_DIR", "plugins-dir"}, {"QUANQU_LOG_LEVEL", "log-level"},
                    {"QUANQU_CATALOG_CACHE_TTL_MS", "catalog-cache-ttl-ms"},
                    {"QUANQU_CORS_ORIGINS", "cors-origins"}, {"QUANQU_BODY_LIMIT", "body-limit"},
                    {"QUANQU_MAX_CONNECTIONS_PER_CLIENT", "max-connections-per-client"},
                    {"QUANQU_MAX_CONNECTIONS", "max-connections"},
                    {"QUANQU_RATE_LIMIT_STORE", "rate-limit-store"}, {"QUANQU_RATE_LIMIT_ADMIN", "rate-limit-admin"},
                    {"QUANQU_RATE_LIMIT_OPEN", "rate-limit-open"}, {"QUANQU_RATE_LIMIT_AUTH", "rate-limit-auth"},
                    {"QUANQU_PLUGIN_TIMEOUT_MS", "plugin-timeout-ms"}, {"QUANQU_PLUGIN_THREADS", "plugin-threads"},
                    {"QUANQU_SHUTDOWN_GRACE_MS", "shutdown-grace-ms"},
                    {"QUANQU_PLUGIN_ISOLATION", "plugin-isolation"}, {"QUANQU_TRUSTED_PLUGINS", "trusted-plugins"},
                    {"QUANQU_PLUGIN_RUNNER", "plugin-runner"}, {"QUANQU_PLUGIN_MAX_MEMORY_MB", "plugin-max-memory-mb"},
                    {"QUANQU_PLUGIN_MAX_OPEN_FILES", "plugin-max-open-files"},
                    {"QUANQU_PLUGIN_MAX_CPU_MS_PER_CALL", "plugin-max-cpu-ms-per-call"},
                    {"QUANQU_PLUGIN_NETWORK", "plugin-network"},
                    {"QUANQU_WEBHOOK_ALLOW_HOSTS", "webhook-allow-hosts"},
                    {"QUANQU_WEBHOOK_RETRY_BASE_MS", "webhook-retry-base-ms"},
                    {"QUANQU_WEBHOOK_RETRY_MAX_MS", "webhook-retry-max-ms"},
                    {"QUANQU_PICKUP_HOLD_HOUR_MS", "pickup-hold-hour-ms"},
                    {"QUANQU_BACKGROUND_WORK", "background-work"}};
                for (const auto& [name, option] : kNames)
                  if (env == name) return option;
                return "";
              }),
              vm);
    po::notify(vm);
    if (vm.count("help") || (c.command.empty() && !vm.count("version"))) {
      std::cout << kUsage << "\n" << opts << std::endl;
      out.exit_ok = true;
      return out;
    }
    if (vm.count("version")) {
      std::cout << "quanqu 0.1.0" << std::endl;
      out.exit_ok = true;
      return out;
    }
    if (const char* demo = std::getenv("QUANQU_DEMO"); demo && std::string(demo) == "1") c.demo = true;
    if (vm.count("admin-key")) c.admin_key = vm["admin-key"].as<std::string>();
    if (port < 0 || port > 65535) throw po::error("--port must be between 0 and 65535");
    c.port = static_cast<unsigned short>(port);
    if (c.threads < 0 || c.threads > 256) throw po::error("--threads must be between 1 and 256");
    if (c.threads == 0) c.threads = std::max(2u, std::thread::hardware_concurrency());
    if (c.catalog_cache_ttl_ms < 0) throw po::error("--catalog-cache-ttl-ms must not be negative");
    // Unsigned options: a negative value wraps around to a huge one, which these bounds refuse.
    if (c.body_limit < 1024 || c.body_limit > (std::size_t{64} << 20))
      throw po::error("--body-limit must be between 1024 and 67108864");
    if (c.max_connections_per_client > 1000000)
      throw po::error("--max-connections-per-client must be between 0 and 1000000");
    if (c.max_connections > 1000000) throw po::error("--max-connections must be between 0 and 1000000");
    if (c.plugin_timeout_ms < 1 || c.plugin_timeout_ms > 300000)
      throw po::error("--plugin-timeout-ms must be between 1 and 300000");
    if (c.plugin_threads < 1 || c.plugin_threads > 1024) throw po::error("--plugin-threads must be between 1 and 1024");
    if (c.plugin_isolation != "process" && c.plugin_isolation != "in_process")
      throw po::error("--plugin-isolation must be process or in_process");
    if (!plugins::plugin_network_from(c.plugin_network))
      throw po::error("--plugin-network must be manifest, open or none");
    if (vm.count("trusted-plugins")) c.trusted_plugins = trusted == "none" ? std::vector<std::string>{} : split_commas(trusted);
    if (c.plugin_max_memory_mb < 0 || c.plugin_max_memory_mb > (1LL << 30))
      throw po::error("--plugin-max-memory-mb must be between 0 and 1073741824");
    if (c.plugin_max_open_files < 16 || c.plugin_max_open_files > 65536)
      throw po::error("--plugin-max-open-files must be between 16 and 65536");
    if (c.plugin_max_cpu_ms_per_call < 0 || c.plugin_max_cpu_ms_per_call > 3600000)
      throw po::error("--plugin-max-cpu-ms-per-call must be between 0 and 3600000");
    if (c.shutdown_grace_ms < 0 || c.shutdown_grace_ms > 3600000)
      throw po::error("--shutdown-grace-ms must be between 0 and 3600000");
    c.cors_origins = split_commas(cors);
    c.webhook_allow_hosts = split_commas(allow_hosts);
    if (auto policy = webhooks::AddressPolicy::parse(c.webhook_allow_hosts); !policy)
      throw po::error("--webhook-allow-hosts: " + policy.error().message);
    if (c.pickup_hold_hour_ms < 100 || c.pickup_hold_hour_ms > 3600000)
      throw po::error("--pickup-hold-hour-ms must be between 100 and 3600000");
    if (c.webhook_retry_base_ms < 10 || c.webhook_retry_base_ms > 3600000)
      throw po::error("--webhook-retry-base-ms must be between 10 and 3600000");
    if (c.webhook_retry_max_ms < c.webhook_retry_base_ms || c.webhook_retry_max_ms > 86400000)
      throw po::error("--webhook-retry-max-ms must be between --webhook-retry-base-ms and 86400000");
    if (background != "on" && background != "off") throw po::error("--background-work must be on or off");
    c.background_work = background == "on";
    for (auto [text, flag, out] : {std::tuple{&limit_store, "--rate-limit-store", &c.rate_limits.store},
                                   std::tuple{&limit_admin, "--rate-limit-admin", &c.rate_limits.admin},
                                   std::tuple{&limit_open, "--rate-limit-open", &c.rate_limits.open},
                                   std::tuple{&limit_auth, "--rate-limit-auth", &c.rate_limits.auth}}) {
      auto parsed = http::RateLimit::parse(*text);
      if (!parsed) throw po::error(std::string(flag) + ": " + parsed.error().message);
      *out = *parsed;
    }
    if (c.command != "serve" && c.command != "migrate" && c.command != "seed-demo" && c.command != "create-admin-key")
      throw po::error("unknown command '" + c.command + "'");
  } catch (const po::error& e) {
    out.error = std::string("quanqu: ") + e.what() + " (see quanqu --help)";
    return out;
  }
  out.config = c;
  return out;
}

}  // namespace quanqu::app
