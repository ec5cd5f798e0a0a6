// Command-line and QUANQU_* environment configuration of the quanqu executable.
#pragma once

#include "routes/rate_limits.h"

#include <optional>
#include <string>
#include <vector>

namespace quanqu::app {

struct Config {
  std::string command;  // serve, migrate, seed-demo, create-admin-key
  std::string database_url = "sqlite:quanqu.db";
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  int threads = 0;  // 0: one per core, at least 2
  std::optional<std::string> admin_key;
  std::string plugins_dir = "plugins";
  std::string log_level = "info";
  bool demo = false;
  int catalog_cache_ttl_ms = 1000;
  std::vector<std::string> cors_origins;
  std::size_t body_limit = 1 << 20;
  std::size_t max_connections_per_client = 256;  // 0: no limit
  std::size_t max_connections = 0;               // 0: derived from the open-files limit
  api::RateLimitOptions rate_limits;  // --rate-limit-store, -admin, -open, -auth
  int plugin_timeout_ms = 5000;  // the deadline of every plugin call, unless the plugin has an override
  int plugin_threads = 16;       // the plugin call pool
  std::string plugin_isolation = "process";  // process or in_process, for plugins not trusted
  // Plugins that run in process unless the merchant chose otherwise: the reference plugins shipped here.
  std::vector<std::string> trusted_plugins = {"manual-payment", "card-gateway", "local-delivery"};
  std::string plugin_runner;             // empty: quanqu-plugin-runner beside the executable
  long long plugin_max_memory_mb = 4096;  // address space of each runner, 0 for no limit
  long long plugin_max_open_files = 256;  // open files of each runner
  long long plugin_max_cpu_ms_per_call = 10000;  // CPU time of one call in a runner, 0 for no limit
  std::string plugin_network = "manifest";  // manifest, open or none: the network of plugin runners
  int shutdown_grace_ms = 10000; // how long SIGTERM may take before the process exits anyway
  // Addresses, CIDR blocks and host names webhooks may reach although private or loopback.
  std::vector<std::string> webhook_allow_hosts;
  long long pickup_hold_hour_ms = 3600000;   // one hour of a store's pickup hold; less only in tests
  long long webhook_retry_base_ms = 10000;   // back-off after the first failed attempt
  long long webhook_retry_max_ms = 3600000;  // the longest back-off
  // Off: this node serves requests only; the event relay, webhook senders and jobs run elsewhere.
  bool background_work = true;
};

// Parses argv and the environment (flags win over QUANQU_* variables, which win over defaults).
// Returns nothing after printing help or version, or an error message for bad usage.
struct ParseOutcome {
  std::optional<Config> config;
  std::string error;  // non-empty: print it and exit with status 2
  bool exit_ok = false;  // help or version was printed
};
ParseOutcome parse_config(int argc, char** argv);

}  // namespace quanqu::app
