// The plugin runtime: finds manifests in a directory, loads each library (Boost.DLL), checks its SDK ABI, runs it.
#pragma once

#include "common/clock.h"
#include "common/result.h"
#include "plugins/kv_store.h"
#include "plugins/manifest.h"
#include "storage/database.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::plugins {

enum class LogLevel { debug, info, warn, error };

// Receives the runtime's log lines and the plugins' own (fields carry "plugin"). Must be
// thread-safe and must not throw; the executable forwards to its JSON logger.
using LogSink = std::function<void(LogLevel level, std::string_view message, const nlohmann::json& fields)>;

enum class PluginStatus {
  loaded,   // init and start succeeded; its routes are served
  failed,   // refused or broken; `reason` says why; nothing of it runs
  stopped,  // was loaded, stop() has run (server shutting down)
};
std::string_view to_string(PluginStatus status);

// A route as the plugin registered it (pattern relative to /v1/plugins/<name>).
struct PluginRouteInfo {
  std::string method;
  std::string pattern;
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
  std::vector<PluginRouteInfo> routes;
  std::uint64_t errors = 0;  // route calls that failed (error returned or exception)
};

// A plugin route to mount in the HTTP router: `path` is the full pattern "/v1/plugins/<name><pattern>".
struct MountedRoute {
  std::size_t id = 0;  // give it to PluginHost::call
  std::string plugin;
  std::string method;
  std::string pattern;  // relative, as registered
  std::string path;     // absolute, for the router
};

// A request to a plugin route, free of any HTTP library type (the API adapts its own).
struct PluginRequest {
  std::string method;
  std::string path;
  std::string body;
  std::string channel_id;  // empty when the request named no channel
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
};

struct PluginResponse {
  int status = 204;  // a handler that sets nothing replies 204 No Content
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Owns the loaded plugins. Load once at start-up with load_directory(), before serving; then
// plugins(), routes(), call() and error_counts() are thread-safe. stop_all() (also run by the
// destructor) waits for calls in flight, stops the plugins in reverse load order, and only then
// unloads their libraries. Never throws after construction; a broken plugin is marked failed
// with a reason and logged, and the others carry on.
class PluginHost {
 public:
  PluginHost(storage::Database& db, const Clock& clock, LogSink log);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Discovers manifests in `dir`: each subdirectory holding a plugin.json, and each *.json file
  // directly in `dir` (its library beside it), in name order. A missing directory means no
  // plugins (logged at info). For each: validate the manifest; refuse an SDK ABI of another major
  // or a newer minor (declared in the manifest, then the one compiled into the library, before
  // calling anything but the entry symbol); resolve quanqu_plugin_entry_v1; init; start.
  void load_directory(const std::filesystem::path& dir);

  // Stops every loaded plugin and unloads the libraries. Idempotent.
  void stop_all();

  // Every discovered plugin, in load order.
  std::vector<PluginInfo> plugins() const;
  // The routes of loaded plugins, in registration order.
  std::vector<MountedRoute> routes() const;

  // Calls the route's handler. Any failure — an error returned, an exception, an invalid status,
  // a stopped plugin — is an `internal` error with code "plugin_error", a message naming the
  // plugin and details {"plugin": name}; it is counted in error_counts() (except after stop).
  Result<PluginResponse> call(std::size_t route_id, const PluginRequest& request);

  // (plugin name, failed route calls) for every loaded or stopped plugin, in load order.
  std::vector<std::pair<std::string, std::uint64_t>> error_counts() const;

  KvStore& kv() { return kv_; }

  struct Loaded;  // one discovered plugin (defined in plugin_host.cpp)

 private:
  void load_one(const std::filesystem::path& manifest, const std::string& fallback_name);
  void fail(Loaded& p, std::string reason);
  void log(LogLevel level, std::string_view message, const nlohmann::json& fields) const;

  storage::Database& db_;
  const Clock& clock_;
  LogSink log_;
  KvStore kv_;
  mutable std::shared_mutex mutex_;  // shared by call(); exclusive by stop_all()
  std::vector<std::unique_ptr<Loaded>> plugins_;
  std::vector<MountedRoute> routes_;
  std::vector<std::pair<Loaded*, std::size_t>> targets_;  // per route id: the plugin and its route index
  bool stopped_ = false;
};

}  // namespace quanqu::plugins
