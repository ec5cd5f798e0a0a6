// The plugin runtime: finds manifests in a directory, loads each library (Boost.DLL), checks its SDK ABI, runs and
// reloads it.
#pragma once

#include "common/clock.h"
#include "common/providers.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "plugins/call_pool.h"
#include "plugins/isolation/elastic_pool.h"
#include "plugins/isolation/runner_process.h"
#include "plugins/kv_store.h"
#include "plugins/manifest.h"
#include "storage/database.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace quanqu::plugins {

struct HostTable;

enum class LogLevel { debug, info, warn, error };

// Receives the runtime's log lines and the plugins' own (fields carry "plugin"). Must be
// thread-safe and must not throw; the executable forwards to its JSON logger.
using LogSink = std::function<void(LogLevel level, std::string_view message, const nlohmann::json& fields)>;

enum class PluginStatus {
  loaded,   // init and start succeeded; its routes, subscriptions and providers are live
  failed,   // refused or broken; `reason` says why; nothing of it runs
  stopped,  // was loaded, stop() has run (server shutting down)
};
std::string_view to_string(PluginStatus status);

// Where a plugin's code runs.
enum class Isolation {
  in_process,  // loaded into the server: the fastest calls; a crash of the plugin is a crash of the server
  process,     // in its own quanqu-plugin-runner process: a crash answers 502 and the runner restarts
};
std::string_view to_string(Isolation isolation);
std::optional<Isolation> isolation_from(std::string_view text);

// A runner that ended without being asked to.
struct CrashInfo {
  std::string signal;  // "SIGSEGV", ..., empty when it exited by itself
  int exit_code = -1;  // when it exited by itself
  std::string reason;  // why the server ended it ("deadline"), empty when it died by itself
  std::int64_t at = 0;  // ms since the epoch
};

// Who may call a plugin route, checked by the host before the plugin sees the request.
enum class RouteAccess {
  open,      // anyone (the plugin checks what it needs)
  merchant,  // the admin key, or a plugin key issued for this plugin
  admin,     // the admin key only
};
std::string_view to_string(RouteAccess access);

// A route as the plugin registered it (pattern relative to /v1/plugins/<name>).
struct PluginRouteInfo {
  std::string method;
  std::string pattern;
  RouteAccess access = RouteAccess::open;
};

// A provider a plugin registered.
struct ProviderInfo {
  std::string kind;  // payment, fulfilment, channel_adapter, size_advisor
  std::string name;
  std::string plugin;
};

// What the runtime knows about one discovered plugin.
struct PluginInfo {
  std::string name;  // from the manifest; the directory or file name when the manifest is unreadable
  std::string version;
  std::string description;
  std::vector<std::string> provides;
  std::optional<AbiVersion> abi;  // compiled into the library; the manifest's when the library was not read
  PluginStatus status = PluginStatus::failed;
  std::string reason;  // empty unless failed
  std::filesystem::path manifest;
  std::filesystem::path library;
  nlohmann::json config_schema = nlohmann::json::object();
  std::vector<PluginRouteInfo> routes;
  std::vector<std::string> subscriptions;  // event type patterns
  std::vector<ProviderInfo> providers;
  std::uint64_t errors = 0;        // failed route, event and provider calls, over every generation
  std::uint64_t event_errors = 0;  // of which event deliveries
  std::uint64_t generation = 0;    // 1 at start-up, +1 per successful reload
  std::int64_t loaded_at = 0;      // ms since the epoch, of the running generation
  std::int64_t timeout_ms = 0;     // the deadline of each of its calls: the override, else the server default
  std::optional<std::int64_t> timeout_override_ms;  // the merchant's setting (set_timeout), if any
  std::uint64_t timeouts = 0;                       // calls that reached their deadline (timed out or abandoned)
  std::uint64_t busy = 0;         // calls refused because the pool or this plugin's share of it was full
  std::uint64_t stuck_calls = 0;  // abandoned calls still running now
  Isolation isolation = Isolation::process;  // how it runs (or will run when it next loads)
  std::optional<Isolation> isolation_override;  // the merchant's choice (set_isolation), if any
  std::optional<std::int64_t> runner_pid;    // process isolation: the running runner's pid
  std::uint64_t crashes = 0;                 // runners that died without being asked to
  std::uint64_t restarts = 0;                // runners started again after a crash
  std::optional<CrashInfo> last_crash;
  std::vector<std::string> outgoing_hosts;        // the manifest's network.outgoing ("host[:port]")
  std::optional<RunnerNetwork> runner_network;    // process isolation: the network its runner has
};

// Which network plugin runners get.
enum class PluginNetwork {
  manifest,  // a runner reaches the hosts its manifest declares, and has no network if it declares none
  open,      // every runner has the server's network
  none,      // no runner has a network (outgoing HTTP through the host's fetch still works)
};
std::string_view to_string(PluginNetwork network);
std::optional<PluginNetwork> plugin_network_from(std::string_view text);
std::string_view to_string(RunnerNetwork network);

// How plugins are isolated: process isolation unless the plugin is trusted (or the merchant chose
// otherwise for it, see PluginHost::set_isolation).
struct IsolationOptions {
  Isolation default_isolation = Isolation::process;
  PluginNetwork network = PluginNetwork::manifest;
  std::vector<std::string> trusted;         // plugins that run in process by default
  std::filesystem::path runner;             // the quanqu-plugin-runner executable
  RunnerLimits limits;                      // for every runner
  std::chrono::milliseconds restart_backoff_min{250};
  std::chrono::milliseconds restart_backoff_max{30000};
};

// How plugin calls run: on a CallPool with these options, each with a deadline.
struct CallOptions {
  std::chrono::milliseconds default_timeout{5000};  // per call, unless the plugin has an override
  CallPoolOptions pool;
};

// A request to a plugin route, free of any HTTP library type (the API adapts its own).
// The merchant credential a request carried, as the server resolved it (the secret itself is
// not passed on to the plugin).
enum class Caller {
  anonymous,   // none (or none the server knows)
  plugin_key,  // a live key issued for the plugin the request is for
  admin,       // a live admin key
};

struct PluginRequest {
  Caller caller = Caller::anonymous;
  std::string method;
  std::string path;  // the full path: "/v1/plugins/<name>/..."
  std::string body;
  std::string channel_id;   // empty when the request named no channel
  std::string customer_id;  // empty when no customer signed in
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
};

struct PluginResponse {
  int status = 204;  // a handler that sets nothing replies 204 No Content
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// An outgoing HTTP request a plugin asks for (Host::fetch), and its reply.
struct FetchRequest {
  std::string plugin;
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int timeout_ms = 0;
};
struct FetchReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// What the host needs from the rest of the engine to serve plugins; set by the composition root
// before load_directory(). Each member may be empty (the matching host function then fails).
struct HostServices {
  // A core-service operation on behalf of `plugin` (quanqu_host.call).
  std::function<Result<nlohmann::json>(const std::string& plugin, const std::string& operation,
                                       const nlohmann::json& args)>
      call;
  // The config map (plugin name -> config) of a channel; not_found for an unknown channel.
  std::function<Result<nlohmann::json>(const std::string& channel_id)> channel_configs;
  // The problem+json body the HTTP API answers for an error: what Host::call hands a plugin
  // with a refusal (status, code, detail, errors, details).
  std::function<nlohmann::json(const Error& error)> problem;
  // An outgoing HTTP request (quanqu_host.http_fetch).
  std::function<Result<FetchReply>(const FetchRequest&)> fetch;
  // Called after a plugin (re)started successfully, outside any lock: e.g. to configure the
  // channels that use it.
  std::function<void(const std::string& plugin)> started;
};

// Owns the plugins. load_directory() once at start-up; then everything is thread-safe, reload()
// included. Each plugin runs as a "generation" (one loaded copy of its library); a call takes a
// reference to the current generation, so a reload swaps in the new one for new calls while calls
// in flight finish on the old, whose stop() runs and library unloads when the last of them ends.
// Never throws after construction: a broken plugin is marked failed with a reason and logged.
class PluginHost final : public Providers {
 public:
  PluginHost(storage::Database& db, const Clock& clock, events::EventBus& events, LogSink log);
  ~PluginHost() override;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  void set_log(LogSink log);
  void set_services(HostServices services);
  // Replaces the call pool (and its options): call before load_directory(), never after.
  void set_call_options(CallOptions options);
  // Call before load_directory(), never after.
  void set_isolation_options(IsolationOptions options);

  // Process isolation: every call of a plugin (init, start, stop, routes, providers, events) goes
  // to its runner process over a socket, and each host function the plugin calls comes back the
  // same way; the plugin sees the same C ABI. A runner that dies (a crash, or killed at a call's
  // deadline) fails the calls in flight with `plugin_error` (details {"plugin", "reason":
  // "plugin_crashed", "signal"}), is counted (PluginInfo::crashes, last_crash) and started again
  // after an exponential back-off; meanwhile the plugin's calls fail the same way.

  // Sets (or clears, back to the default of the server's options) how the plugin runs, stored
  // in the database (plugin_settings), and reloads it in that mode. not_found
  // `plugin.not_found`; unprocessable `plugin.reload_failed` when it cannot start that way (the
  // setting is then not changed).
  Result<PluginInfo> set_isolation(const std::string& name, std::optional<Isolation> isolation);

  // Every call into a plugin (init, start, stop, route handlers, providers, event handlers) runs
  // on the host's CallPool with the plugin's deadline: its timeout override, else
  // CallOptions::default_timeout. A call past it is abandoned (see CallPool): the caller gets
  // `plugin_timeout` (ErrorKind::unavailable, details {"plugin", "timeout_ms"}), counted in
  // PluginInfo::timeouts; a call the pool refuses is `plugin_busy` (unavailable, details
  // {"plugin"}). A plugin with an event handler still running past its deadline gets no events
  // until it returns (each skipped one counts as an event error): event handlers of one plugin
  // never overlap.

  // Sets (a value in 1..kMaxTimeoutMs) or clears (nothing) the plugin's deadline override, stored
  // in the database (table plugin_settings) so that it survives restarts and applies from the
  // next call. not_found `plugin.not_found` for an unknown plugin; invalid_argument
  // `plugin.timeout_invalid` out of range.
  static constexpr std::int64_t kMaxTimeoutMs = 300'000;
  Result<PluginInfo> set_timeout(const std::string& name, std::optional<std::int64_t> timeout_ms);

  // The plugins with calls running now (e.g. to report at exit), and how many of those are
  // abandoned past their deadline.
  struct RunningCalls {
    std::string plugin;
    std::size_t running = 0;
    std::size_t stuck = 0;
  };
  std::vector<RunningCalls> running_calls() const;

  // Discovers manifests in `dir`: each subdirectory holding a plugin.json, and each *.json file
  // directly in `dir` (its library beside it), in name order. A missing directory means no
  // plugins. For each: validate the manifest; refuse an SDK ABI of another major or a newer minor
  // (declared in the manifest, then the one compiled into the library, before calling anything
  // but the entry symbol); resolve quanqu_plugin_entry_v1; init; start.
  void load_directory(const std::filesystem::path& dir);

  // Scans the directory given to load_directory() again and loads the manifests it did not hold
  // before (a plugin added to a running server), as load_directory() does. Returns what was
  // found: each new plugin, loaded or failed (its reason says why). Unprocessable
  // `plugin.discover_failed` once the host is stopping.
  Result<std::vector<PluginInfo>> discover();

  // Unloads a plugin: its routes, subscriptions and providers go at once, its stop() runs and its
  // library (or runner) goes once its last call returns, and it is no longer listed, so that a
  // later discover() may load it (or another build of it) again. Whether a channel still uses it
  // is the caller's to check. not_found `plugin.not_found` for an unknown name.
  Result<Ok> unload(const std::string& name);

  // Loads the plugin's library again from its directory (a new build) beside the running one,
  // starts it, and switches new calls to it. On failure the running generation keeps serving and
  // the error (not_found `plugin.not_found`, unprocessable `plugin.reload_failed` with the reason)
  // says why. A plugin that had failed to load may be reloaded once fixed.
  Result<PluginInfo> reload(const std::string& name);

  // Stops every plugin and unloads the libraries once their last calls return. Idempotent.
  void stop_all();

  std::vector<PluginInfo> plugins() const;
  std::optional<PluginInfo> plugin(const std::string& name) const;

  // Calls the plugin's route matching request.method and request.path. No such plugin or route
  // is not_found `route_not_found`; a path known for other methods is invalid_argument
  // `method_not_allowed` with details {"allow": "GET, POST"}. A failing handler (error, throw,
  // invalid status) is an `internal` error with code "plugin_error", details {"plugin": name},
  // counted against the plugin.
  Result<PluginResponse> handle(const std::string& plugin, const PluginRequest& request);
  // handle() without waiting: routing happens now (a not_found or method_not_allowed reaches
  // `done` before this returns), the handler runs on the call pool, and `done` is called exactly
  // once, from whichever thread finished the call (a pool worker, or the pool's timer with
  // `plugin_timeout`). `done` must not throw and must own what it captures.
  using HandleDone = std::function<void(Result<PluginResponse>)>;
  void handle_async(const std::string& plugin, PluginRequest request, HandleDone done);

  // (plugin name, failed calls) for every plugin that has run, in load order.
  std::vector<std::pair<std::string, std::uint64_t>> error_counts() const;

  // Every live provider, in load order.
  std::vector<ProviderInfo> providers() const;

  // Providers: calls a provider's operation (see quanqu_provider in abi.h).
  bool has(const std::string& kind, const std::string& name) const override;
  Result<nlohmann::json> invoke(const std::string& kind, const std::string& name, const std::string& operation,
                                nlohmann::json input, const nlohmann::json& channel_configs) override;
  void report_invalid(const std::string& kind, const std::string& name, const std::string& detail) override;

  KvStore& kv() { return kv_; }

  struct Generation;  // one loaded copy of a plugin's library (plugin_host.cpp)
  struct RunnerLink;  // what a runner's frames are served for (plugin_host.cpp)
  struct Slot;        // one plugin by name, across its generations

 private:
  friend struct Generation;
  friend struct HostTable;  // the C host functions (plugin_host.cpp)
  std::shared_ptr<Generation> start_generation(Slot& slot, const Manifest& manifest, std::string& reason);
  void fail(Slot& slot, std::string reason);
  void log(LogLevel level, std::string_view message, const nlohmann::json& fields) const;
  void deliver(const events::Event& event);
  std::shared_ptr<Generation> current(const std::string& name, Slot** slot = nullptr) const;
  void publish_info(Slot& slot, const Generation& g);
  std::chrono::milliseconds timeout_of(const Slot& slot) const;
  // Runs `work` on the pool with the slot's deadline and waits for the outcome.
  CallOutcome run_call(const Slot& slot, const std::string& plugin, CallPool::Work work);
  Error call_error(const std::string& plugin, CallOutcome outcome, std::chrono::milliseconds timeout) const;
  void log_outcome(const std::string& plugin, const char* call, CallOutcome outcome, std::chrono::milliseconds timeout,
                   nlohmann::json fields) const;
  void stop_generation(std::unique_ptr<Generation> g);
  struct Setting {
    std::string plugin;
    std::int64_t timeout_ms = 0;  // 0: none
    std::string isolation;        // empty: none
  };
  std::vector<Setting> load_settings();
  Isolation isolation_of(const std::string& plugin, const std::string& chosen) const;
  // Process isolation: the runner's host calls and log lines, and its end.
  void serve_runner_frame(const std::shared_ptr<RunnerLink>& link, wire::Frame frame);
  void runner_ended(const std::shared_ptr<RunnerLink>& link, const RunnerExit& exit);
  void supervise();  // the restart thread
  // Queues a restart of the slot after the next back-off of its series (a new series when
  // `fresh_series`); returns the delay.
  std::chrono::milliseconds schedule_restart(Slot& slot, const Generation* crashed, bool fresh_series);
  void restart(Slot& slot, const Generation* crashed);

  storage::Database& db_;
  const Clock& clock_;
  events::EventBus& events_;
  LogSink log_;
  HostServices services_;
  KvStore kv_;
  std::filesystem::path plugins_dir_;  // what load_directory() scanned, for discover()
  std::mutex discover_mutex_;          // one scan at a time
  std::vector<std::string> load_manifests(const std::filesystem::path& dir, bool only_new, std::size_t* found_count);
  std::filesystem::path shadow_dir_;  // private copies of the libraries, so a file can be replaced safely
  std::atomic<std::uint64_t> shadow_counter_{0};
  mutable std::shared_mutex mutex_;  // guards slots_ and each slot's current generation
  std::vector<std::unique_ptr<Slot>> slots_;
  CallOptions call_options_;
  IsolationOptions isolation_;
  std::unique_ptr<ElasticPool> host_calls_;  // runners' host calls run here
  std::atomic<int> host_calls_running_{0};
  // Restarts due after crashes: (when, slot, the generation that crashed).
  struct Restart {
    std::chrono::steady_clock::time_point due;
    Slot* slot;
    const Generation* crashed;
  };
  std::mutex restarts_mutex_;
  std::condition_variable restarts_wake_;
  std::vector<Restart> restarts_;
  std::thread supervisor_;
  // stop() calls queued or running on the pool (each ends by its deadline); stop_all() waits for them.
  std::mutex stops_mutex_;
  std::condition_variable stops_done_;
  std::size_t stops_pending_ = 0;
  std::unique_ptr<CallPool> pool_;  // declared after slots_: destroyed (joined) before them
  std::atomic<bool> stopped_{false};
  std::atomic<bool> listening_{false};
  std::uint64_t listener_ = 0;  // our id on the event bus
};

}  // namespace quanqu::plugins
