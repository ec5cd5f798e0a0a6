// Loads plugin libraries with Boost.DLL, implements the C host table of quanqu/sdk/abi.h for each, and swaps
// generations on reload.
#include "plugins/plugin_host.h"

#include "common/random.h"

#include <quanqu/sdk/abi.h>

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>

// The opaque response handle of abi.h: what a route handler fills through the host table.
struct quanqu_response {
  quanqu::plugins::PluginResponse* out;
};

namespace quanqu::plugins {

std::string_view to_string(Isolation isolation) {
  return isolation == Isolation::in_process ? "in_process" : "process";
}

std::optional<Isolation> isolation_from(std::string_view text) {
  if (text == "in_process") return Isolation::in_process;
  if (text == "process") return Isolation::process;
  return std::nullopt;
}

std::string_view to_string(RouteAccess access) {
  switch (access) {
    case RouteAccess::open:
      return "open";
    case RouteAccess::merchant:
      return "merchant";
    case RouteAccess::admin:
      return "admin";
  }
  return "open";
}

std::string_view to_string(PluginNetwork network) {
  switch (network) {
    case PluginNetwork::manifest:
      return "manifest";
    case PluginNetwork::open:
      return "open";
    case PluginNetwork::none:
      return "none";
  }
  return "manifest";
}

std::optional<PluginNetwork> plugin_network_from(std::string_view text) {
  if (text == "manifest") return PluginNetwork::manifest;
  if (text == "open") return PluginNetwork::open;
  if (text == "none") return PluginNetwork::none;
  return std::nullopt;
}

std::string_view to_string(RunnerNetwork network) {
  switch (network) {
    case RunnerNetwork::open:
      return "open";
    case RunnerNetwork::declared:
      return "declared";
    case RunnerNetwork::none:
      return "none";
  }
  return "open";
}

std::string_view to_string(PluginStatus status) {
  switch (status) {
    case PluginStatus::loaded:
      return "loaded";
    case PluginStatus::failed:
      return "failed";
    case PluginStatus::stopped:
      return "stopped";
  }
  return "failed";
}

namespace {

constexpr std::size_t kErrCap = 1024;
constexpr std::size_t kMaxEventBytes = 65536;
// The descriptor as ABI 1.0 defines it: anything smaller is not a valid plugin.
constexpr std::size_t kDescriptorV1Size =
    offsetof(quanqu_plugin_descriptor, stop) + sizeof(quanqu_plugin_descriptor::stop);

std::string view(quanqu_str s) {
  return s.size && s.data ? std::string(s.data, s.size) : std::string();
}
quanqu_str str(const std::string& s) {
  return quanqu_str{s.data(), s.size()};
}

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path == "/") return out;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

// The generation a runner serves, for its reader thread: a weak reference, which the generation's
// stop re-points at the reference it then owns, so that host calls and log lines the plugin makes
// in its stop() are still served.
struct PluginHost::RunnerLink {
  std::mutex mutex;
  std::weak_ptr<Generation> generation;
  std::shared_ptr<Generation> lock() {
    std::lock_guard guard(mutex);
    return generation.lock();
  }
  void point_at(const std::shared_ptr<Generation>& g) {
    std::lock_guard guard(mutex);
    generation = g;
  }
};

// One loaded copy of a plugin's library, with what it registered during its start.
struct PluginHost::Generation {
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    int placeholders = 0;
    RouteAccess access = RouteAccess::open;
    quanqu_route_fn fn = nullptr;
    void* user = nullptr;
  };
  struct Subscription {
    std::string pattern;
    quanqu_event_fn fn = nullptr;
    void* user = nullptr;
  };
  struct Provider {
    std::string kind;
    std::string name;
    quanqu_provider_fn fn = nullptr;
    void* user = nullptr;
  };

  PluginHost* host = nullptr;
  PluginHost::Slot* slot = nullptr;  // the plugin's slot: slots live as long as the host
  std::string plugin;
  std::vector<std::string> provides;  // from the manifest it was loaded with
  std::vector<OutgoingHost> outgoing_hosts;  // from the manifest: when not empty, fetch reaches only these
  // Shared with a stop() that outlives its deadline: the code must stay mapped while it runs.
  std::shared_ptr<boost::dll::shared_library> library = std::make_shared<boost::dll::shared_library>();
  const quanqu_plugin_descriptor* descriptor = nullptr;  // in process only
  std::shared_ptr<RunnerProcess> runner;                  // process isolation only
  std::shared_ptr<RunnerLink> link;                       // process isolation only
  quanqu_host table{};
  void* instance = nullptr;
  bool initialised = false;  // init succeeded and stop has not run yet
  std::atomic<bool> starting{false};
  AbiVersion abi;
  std::string version;
  std::int64_t loaded_at = 0;
  std::vector<Route> routes;
  std::vector<Subscription> subscriptions;
  std::vector<Provider> providers;

  Generation() = default;
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;
};

struct PluginHost::Slot {
  PluginInfo info;                      // guarded by the host's mutex_
  bool removed = false;                 // unloaded: no longer listed nor found by name (under mutex_)
  std::shared_ptr<Generation> current;  // likewise; null when failed or stopped
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> event_errors{0};
  std::atomic<std::int64_t> timeout_override_ms{0};  // 0: none, the server default applies
  std::atomic<bool> event_running{false};            // an event handler runs (or is stuck) now
  std::string isolation_setting;                     // the merchant's choice, "" for the default (under reload_mutex)
  std::atomic<int> isolation_choice{-1};             // the same, readable without reload_mutex: -1 none, else an Isolation
  std::atomic<std::uint64_t> crashes{0};
  std::atomic<std::uint64_t> restarts{0};
  int crashes_in_a_row = 0;                          // under the host's restarts_mutex_
  std::uint64_t generations = 0;                     // under reload_mutex
  std::mutex reload_mutex;                           // one load or reload of this plugin at a time
};

namespace {

// What the runtime knows of a plugin, with its counters as they are now (under the host's lock).
PluginInfo snapshot(const PluginHost::Slot& s, std::chrono::milliseconds default_timeout, const CallPool& pool) {
  PluginInfo info = s.info;
  info.errors = s.errors.load(std::memory_order_relaxed);
  info.event_errors = s.event_errors.load(std::memory_order_relaxed);
  std::int64_t override_ms = s.timeout_override_ms.load(std::memory_order_relaxed);
  info.timeout_override_ms = override_ms > 0 ? std::optional<std::int64_t>(override_ms) : std::nullopt;
  info.timeout_ms = override_ms > 0 ? override_ms : default_timeout.count();
  int choice = s.isolation_choice.load(std::memory_order_relaxed);
  if (choice >= 0) info.isolation_override = static_cast<Isolation>(choice);
  info.crashes = s.crashes.load(std::memory_order_relaxed);
  info.restarts = s.restarts.load(std::memory_order_relaxed);
  if (s.current && s.current->runner && s.current->runner->alive()) info.runner_pid = s.current->runner->pid();
  for (const auto& stats : pool.stats())
    if (stats.plugin == info.name) {
      info.timeouts = stats.timeouts;
      info.busy = stats.refused;
      info.stuck_calls = stats.stuck;
    }
  return info;
}

}  // namespace

namespace {

using Generation = PluginHost::Generation;

// The plugin's message from its error buffer, or a stand-in when it wrote none.
std::string message_from(const char* buffer, quanqu_status status) {
  std::size_t n = strnlen(buffer, kErrCap);
  if (n) return std::string(buffer, n);
  return "status " + std::to_string(status) + " without a message";
}

void write_error(char* err, std::size_t cap, std::string_view message) noexcept {
  if (!err || cap == 0) return;
  std::size_t n = std::min(message.size(), cap - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

quanqu_status status_of(const Error& e) {
  switch (e.kind) {
    case ErrorKind::invalid_argument:
    case ErrorKind::conflict:
    case ErrorKind::failed_precondition:
    case ErrorKind::unauthenticated:
    case ErrorKind::permission_denied:
      return QUANQU_ERR_INVALID;
    case ErrorKind::not_found:
      return QUANQU_ERR_NOT_FOUND;
    case ErrorKind::unavailable:
      return QUANQU_ERR_UNAVAILABLE;
    default:
      return QUANQU_ERR_INTERNAL;
  }
}

// The network a plugin's runner gets under the server's policy.
RunnerNetwork runner_network(PluginNetwork policy, const Manifest& m) {
  switch (policy) {
    case PluginNetwork::open:
      return RunnerNetwork::open;
    case PluginNetwork::none:
      return RunnerNetwork::none;
    case PluginNetwork::manifest:
      return m.outgoing_hosts.empty() ? RunnerNetwork::none : RunnerNetwork::declared;
  }
  return RunnerNetwork::none;
}

std::string abi_refusal(const std::string& name, AbiVersion plugin, bool from_manifest) {
  AbiVersion host = host_abi();
  return "plugin '" + name + "' " + (from_manifest ? "declares SDK ABI " : "was built for SDK ABI ") + plugin.text() +
         (from_manifest ? " in its manifest" : "") + ", but this server provides SDK ABI " + host.text() +
         "; it needs a plugin built for ABI major " + std::to_string(host.major) + " with a minor of at most " +
         std::to_string(host.minor) + " (rebuild it against this server's SDK)";
}

bool valid_method(const std::string& m) {
  for (const char* known : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    if (m == known) return true;
  return false;
}

// "/", or "/seg/{param}/seg" with unreserved URL characters and {lower_snake} placeholders.
bool valid_pattern(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.size() > 512) return false;
  if (p == "/") return true;
  for (const auto& seg : split(p)) {
    if (seg.empty()) return false;
    if (seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}') return false;
      for (std::size_t i = 1; i + 1 < seg.size(); ++i) {
        char c = seg[i];
        if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 1 && c >= '0' && c <= '9'))) return false;
      }
    } else {
      for (char c : seg)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == '~'))
          return false;
    }
  }
  return true;
}

// "*", "order.placed" or "order.*": lower-case dotted words.
bool valid_event_pattern(const std::string& p) {
  if (p == "*") return true;
  if (p.empty() || p.size() > 128) return false;
  std::string_view body = p;
  if (body.size() > 2 && body.substr(body.size() - 2) == ".*") body.remove_suffix(2);
  if (body.front() == '.' || body.back() == '.') return false;
  for (char c : body)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

// The manifest's "provides" entry that allows registering a provider of `kind`.
std::string extension_point_of(const std::string& kind) {
  if (kind == "payment") return "payment_provider";
  if (kind == "fulfilment") return "fulfilment_provider";
  if (kind == "channel_adapter" || kind == "size_advisor") return kind;
  return "";
}

bool valid_provider_name(const std::string& n) {
  return is_valid_plugin_name(n);
}

Error plugin_error(const std::string& plugin, std::string message) {
  return Error::make(ErrorKind::internal, "plugin_error", std::move(message), nlohmann::json{{"plugin", plugin}});
}

// ---- Process isolation: what stands on the server's side for a runner's registrations. ----

// Registered in place of a runner's handlers: never called, since a call to an isolated plugin goes
// to its runner, with the runner's index of the handler (kept in `user`).
quanqu_status remote_route(void*, const quanqu_request*, quanqu_response*, char* err, size_t err_cap) {
  write_error(err, err_cap, "a runner's route was called in process");
  return QUANQU_ERR_INTERNAL;
}
quanqu_status remote_event(void*, const quanqu_event*, char* err, size_t err_cap) {
  write_error(err, err_cap, "a runner's event handler was called in process");
  return QUANQU_ERR_INTERNAL;
}
quanqu_status remote_provider(void*, quanqu_str, quanqu_str, quanqu_string_sink, void*, char* err, size_t err_cap) {
  write_error(err, err_cap, "a runner's provider was called in process");
  return QUANQU_ERR_INTERNAL;
}
std::uint64_t index_of(void* user) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(user));
}
void* user_of(std::uint64_t index) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(index));
}

// The failure of a call whose runner ended before answering.
constexpr std::string_view kCrashed = "its runner process ended during the call";

Error crash_error(const std::string& plugin, const RunnerProcess* runner, std::string what) {
  nlohmann::json details{{"plugin", plugin}, {"reason", "plugin_crashed"}};
  std::string how;
  if (auto exit = runner ? runner->exit_info() : std::nullopt) {
    if (exit->signal) details["signal"] = signal_name(exit->signal);
    if (!exit->reason.empty()) details["killed_for"] = exit->reason;
    how = exit->reason == "deadline" ? " (killed at its deadline)"
          : exit->signal             ? " (" + signal_name(exit->signal) + ")"
                                     : "";
  }
  return Error::make(ErrorKind::internal, "plugin_error",
                     "plugin '" + plugin + "' crashed" + how + " " + what + "; it is being restarted", details);
}

// ---- The host table (abi.h). Each function catches everything: nothing throws into a plugin. ----

Generation& gen(void* ctx) {
  return *static_cast<Generation*>(ctx);
}

// Runs the body of a host function that reports a status: an exception becomes
// QUANQU_ERR_INTERNAL with its message.
template <class Body>
quanqu_status guarded(char* err, size_t err_cap, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    write_error(err, err_cap, e.what());
  } catch (...) {
    write_error(err, err_cap, "unknown error");
  }
  return QUANQU_ERR_INTERNAL;
}

quanqu_status refuse(char* err, size_t err_cap, const Error& e) {
  write_error(err, err_cap, e.message);
  return status_of(e);
}

quanqu_status refuse(char* err, size_t err_cap, quanqu_status status, std::string_view message) {
  write_error(err, err_cap, message);
  return status;
}

}  // namespace

// The host functions need the host's private members; they are static members of this struct.
struct HostTable {
  static void log(void* ctx, quanqu_log_level level, quanqu_str message) {
    try {
      LogLevel l = level <= QUANQU_LOG_DEBUG  ? LogLevel::debug
                   : level == QUANQU_LOG_INFO ? LogLevel::info
                   : level == QUANQU_LOG_WARN ? LogLevel::warn
                                              : LogLevel::error;
      gen(ctx).host->log(l, view(message), nlohmann::json{{"plugin", gen(ctx).plugin}});
    } catch (...) {
    }
  }

  static int64_t now_ms(void* ctx) {
    try {
      return gen(ctx).host->clock_.now_ms();
    } catch (...) {
      return 0;
    }
  }

  static quanqu_status kv_get(void* ctx, quanqu_str key, quanqu_string_sink sink, void* sink_user, char* err,
                              size_t err_cap) {
    return guarded(err, err_cap, [&] {
      auto got = gen(ctx).host->kv_.get(gen(ctx).plugin, view(key));
      if (!got) return refuse(err, err_cap, got.error());
      if (!got->has_value()) return QUANQU_ERR_NOT_FOUND;
      if (sink) sink(sink_user, (*got)->data(), (*got)->size());
      return QUANQU_OK;
    });
  }

  static quanqu_status kv_put(void* ctx, quanqu_str key, quanqu_str value, char* err, size_t err_cap) {
    return guarded(err, err_cap, [&] {
      auto put = gen(ctx).host->kv_.put(gen(ctx).plugin, view(key), view(value));
      return put ? QUANQU_OK : refuse(err, err_cap, put.error());
    });
  }

  static quanqu_status kv_delete(void* ctx, quanqu_str key, char* err, size_t err_cap) {
    return guarded(err, err_cap, [&] {
      auto removed = gen(ctx).host->kv_.remove(gen(ctx).plugin, view(key));
      return removed ? QUANQU_OK : refuse(err, err_cap, removed.error());
    });
  }

  static quanqu_status register_route(void* ctx, quanqu_str method, quanqu_str pattern, quanqu_route_fn fn, void* user,
                                      char* err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      if (!g.starting.load())
        return refuse(err, err_cap, QUANQU_ERR_STATE, "routes can only be registered during start");
      std::string m = view(method), pat = view(pattern);
      if (!valid_method(m))
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "method must be one of GET, POST, PUT, PATCH, DELETE; got '" + m + "'");
      if (!valid_pattern(pat))
        return refuse(
            err, err_cap, QUANQU_ERR_INVALID,
            "pattern must start with '/' and consist of URL-safe segments or {placeholders}; got '" + pat + "'");
      if (!fn) return refuse(err, err_cap, QUANQU_ERR_INVALID, "no handler function");
      for (const auto& r : g.routes)
        if (r.method == m && r.pattern == pat)
          return refuse(err, err_cap, QUANQU_ERR_INVALID, m + " " + pat + " is registered twice");
      Generation::Route r{m, pat, split(pat), 0, RouteAccess::open, fn, user};
      for (const auto& s : r.segments) r.placeholders += !s.empty() && s.front() == '{';
      g.routes.push_back(std::move(r));
      return QUANQU_OK;
    });
  }

  static quanqu_status set_route_access(void* ctx, quanqu_str method, quanqu_str pattern, int32_t access, char* err,
                                        size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      if (!g.starting.load())
        return refuse(err, err_cap, QUANQU_ERR_STATE, "route access can only be set during start");
      if (access != QUANQU_ROUTE_OPEN && access != QUANQU_ROUTE_MERCHANT && access != QUANQU_ROUTE_ADMIN)
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "access must be QUANQU_ROUTE_OPEN, QUANQU_ROUTE_MERCHANT or QUANQU_ROUTE_ADMIN");
      std::string m = view(method), pat = view(pattern);
      for (auto& r : g.routes)
        if (r.method == m && r.pattern == pat) {
          r.access = access == QUANQU_ROUTE_ADMIN      ? RouteAccess::admin
                     : access == QUANQU_ROUTE_MERCHANT ? RouteAccess::merchant
                                                       : RouteAccess::open;
          return QUANQU_OK;
        }
      return refuse(err, err_cap, QUANQU_ERR_NOT_FOUND, m + " " + pat + " is not a registered route");
    });
  }

  static void response_set(quanqu_response* response, int32_t status, quanqu_str content_type, quanqu_str body) {
    try {
      if (!response || !response->out) return;
      response->out->status = status;
      response->out->content_type = view(content_type);
      response->out->body = view(body);
    } catch (...) {
    }
  }

  static void response_add_header(quanqu_response* response, quanqu_str name, quanqu_str value) {
    try {
      if (!response || !response->out) return;
      response->out->headers.emplace_back(view(name), view(value));
    } catch (...) {
    }
  }

  static quanqu_status call(void* ctx, quanqu_str operation, quanqu_str args, quanqu_string_sink sink, void* sink_user,
                            char* err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      auto answer = [&](const nlohmann::json& j) {
        std::string text = j.dump();
        if (sink) sink(sink_user, text.data(), text.size());
      };
      auto parsed = nlohmann::json::parse(view(args), nullptr, false);
      Result<nlohmann::json> result = Error::invalid("plugin.call_invalid", "the arguments must be a JSON object");
      if (!parsed.is_object() && !(parsed.is_discarded() && args.size == 0)) {
        // keep the error above
      } else if (!g.host->services_.call) {
        result = Error::make(ErrorKind::unavailable, "plugin.call_unavailable", "core services are not available");
      } else {
        result =
            g.host->services_.call(g.plugin, view(operation), parsed.is_object() ? parsed : nlohmann::json::object());
      }
      if (result) {
        answer(*result);
        return QUANQU_OK;
      }
      // The refusal as the HTTP API would answer it (the API's one mapping of errors to problems).
      const Error& e = result.error();
      answer(g.host->services_.problem ? g.host->services_.problem(e)
                                       : nlohmann::json{{"code", e.code}, {"detail", e.message}});
      write_error(err, err_cap, e.code + ": " + e.message);
      return status_of(e);
    });
  }

  static quanqu_status subscribe(void* ctx, quanqu_str event_type, quanqu_event_fn fn, void* user, char* err,
                                 size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      if (!g.starting.load())
        return refuse(err, err_cap, QUANQU_ERR_STATE, "subscriptions can only be made during start");
      std::string pattern = view(event_type);
      if (!valid_event_pattern(pattern))
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "event type must be a type such as 'order.placed', a prefix such as 'order.*', or '*'; got '" +
                          pattern + "'");
      if (!fn) return refuse(err, err_cap, QUANQU_ERR_INVALID, "no handler function");
      g.subscriptions.push_back({pattern, fn, user});
      return QUANQU_OK;
    });
  }

  static quanqu_status publish(void* ctx, quanqu_str event_type, quanqu_str data, char* err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      std::string type = view(event_type), prefix = g.plugin + ".";
      if (type.size() <= prefix.size() || type.compare(0, prefix.size(), prefix) != 0 || !valid_event_pattern(type) ||
          type.back() == '*')
        return refuse(
            err, err_cap, QUANQU_ERR_INVALID,
            "a plugin's event types start with '" + prefix + "' followed by lower-case words; got '" + type + "'");
      if (data.size > kMaxEventBytes)
        return refuse(err, err_cap, QUANQU_ERR_INVALID, "event data is larger than 65536 bytes");
      auto parsed = nlohmann::json::parse(view(data), nullptr, false);
      if (!parsed.is_object()) return refuse(err, err_cap, QUANQU_ERR_INVALID, "event data must be a JSON object");
      auto written = g.host->events_.publish(std::move(type), std::move(parsed));
      if (!written) return refuse(err, err_cap, QUANQU_ERR_UNAVAILABLE, "the event could not be stored: " + written.error().message);
      return QUANQU_OK;
    });
  }

  static quanqu_status register_provider(void* ctx, const quanqu_provider* provider, char* err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      if (!g.starting.load())
        return refuse(err, err_cap, QUANQU_ERR_STATE, "providers can only be registered during start");
      if (!provider || provider->size < offsetof(quanqu_provider, user) + sizeof(provider->user) || !provider->invoke)
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "incomplete provider (size, kind, name and invoke are required)");
      std::string kind = view(provider->kind), name = view(provider->name);
      std::string point = extension_point_of(kind);
      if (point.empty())
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "provider kind must be payment, fulfilment, channel_adapter or size_advisor; got '" + kind + "'");
      if (std::find(g.provides.begin(), g.provides.end(), point) == g.provides.end())
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "the manifest must list '" + point + "' under \"provides\" to register a " + kind + " provider");
      if (!valid_provider_name(name))
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "provider name must be 1 to 63 of a-z, 0-9 and '-'; got '" + name + "'");
      for (const auto& p : g.providers)
        if (p.kind == kind && p.name == name)
          return refuse(err, err_cap, QUANQU_ERR_INVALID, kind + " provider '" + name + "' is registered twice");
      {
        std::shared_lock lock(g.host->mutex_);
        for (const auto& slot : g.host->slots_) {
          if (!slot->current || slot->info.name == g.plugin) continue;
          for (const auto& p : slot->current->providers)
            if (p.kind == kind && p.name == name)
              return refuse(
                  err, err_cap, QUANQU_ERR_INVALID,
                  kind + " provider '" + name + "' is already registered by plugin '" + slot->info.name + "'");
        }
      }
      g.providers.push_back({kind, name, provider->invoke, provider->user});
      return QUANQU_OK;
    });
  }

  static quanqu_status channel_config(void* ctx, quanqu_str channel_id, quanqu_string_sink sink, void* sink_user,
                                      char* err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      if (!g.host->services_.channel_configs)
        return refuse(err, err_cap, QUANQU_ERR_UNAVAILABLE, "channel configs are not available");
      std::string id = view(channel_id);
      if (id.empty() || id.size() > 128) return refuse(err, err_cap, QUANQU_ERR_NOT_FOUND, "no such channel");
      auto configs = g.host->services_.channel_configs(id);
      if (!configs) return refuse(err, err_cap, configs.error());
      if (!configs->is_object() || !configs->contains(g.plugin))
        return refuse(err, err_cap, QUANQU_ERR_NOT_FOUND, "the channel has no config for plugin '" + g.plugin + "'");
      std::string text = (*configs)[g.plugin].dump();
      if (sink) sink(sink_user, text.data(), text.size());
      return QUANQU_OK;
    });
  }

  static quanqu_status http_fetch(void* ctx, const quanqu_http_request* request, quanqu_http_reply_fn reply, void* user,
                                  char* err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> quanqu_status {
      Generation& g = gen(ctx);
      if (!request || request->size < offsetof(quanqu_http_request, timeout_ms) + sizeof(request->timeout_ms) || !reply)
        return refuse(err, err_cap, QUANQU_ERR_INVALID, "incomplete request");
      if (!g.host->services_.fetch)
        return refuse(err, err_cap, QUANQU_ERR_UNAVAILABLE, "outgoing HTTP is not available");
      if (!g.outgoing_hosts.empty() && !outgoing_url_allowed(g.outgoing_hosts, view(request->url)))
        return refuse(err, err_cap, QUANQU_ERR_INVALID,
                      "plugin.outgoing_host_not_declared: the URL's host is not one of the manifest's "
                      "network.outgoing");
      FetchRequest in{g.plugin, view(request->method), view(request->url),
                      {},       view(request->body),   request->timeout_ms};
      for (std::size_t i = 0; i < request->header_count; ++i)
        in.headers.emplace_back(view(request->headers[i].name), view(request->headers[i].value));
      auto got = g.host->services_.fetch(in);
      if (!got) {
        write_error(err, err_cap, got.error().code + ": " + got.error().message);
        return got.error().kind == ErrorKind::invalid_argument ? QUANQU_ERR_INVALID : QUANQU_ERR_UNAVAILABLE;
      }
      std::vector<quanqu_pair> headers;
      headers.reserve(got->headers.size());
      for (const auto& [n, v] : got->headers) headers.push_back({str(n), str(v)});
      reply(user, got->status, headers.data(), headers.size(), str(got->body));
      return QUANQU_OK;
    });
  }

  // A runner's host call: decodes it, runs the host function above that it stands for (with the
  // runner's generation as ctx, so it is scoped and validated exactly as in process), and
  // encodes the reply the runner expects (see runner_main.cpp).
  static std::string serve(Generation& g, const std::string& payload) {
    wire::Reader in(payload);
    auto op = static_cast<wire::HostOp>(in.u8());
    wire::Writer out;
    std::string value;
    bool has_value = false;
    auto sink = [](void* user, const char* data, std::size_t size) {
      auto* target = static_cast<std::pair<std::string*, bool*>*>(user);
      target->first->assign(data, size);
      *target->second = true;
    };
    std::pair<std::string*, bool*> target{&value, &has_value};
    char err[kErrCap] = {0};
    auto common = [&](quanqu_status status) {
      out.i32(status).u8(has_value ? 1 : 0).str(value).str(status == QUANQU_OK ? std::string() : message_from(err, status));
      return out.take();
    };
    auto malformed = [&] {
      write_error(err, sizeof err, "the runner sent a malformed host call");
      return common(QUANQU_ERR_INVALID);
    };
    switch (op) {
      case wire::HostOp::now_ms:
        out.i64(now_ms(&g));
        return out.take();
      case wire::HostOp::kv_get: {
        std::string key = in.str();
        if (in.failed()) return malformed();
        return common(kv_get(&g, str(key), sink, &target, err, sizeof err));
      }
      case wire::HostOp::kv_put: {
        std::string key = in.str(), v = in.str();
        if (in.failed()) return malformed();
        return common(kv_put(&g, str(key), str(v), err, sizeof err));
      }
      case wire::HostOp::kv_delete: {
        std::string key = in.str();
        if (in.failed()) return malformed();
        return common(kv_delete(&g, str(key), err, sizeof err));
      }
      case wire::HostOp::register_route: {
        std::string method = in.str(), pattern = in.str();
        std::uint64_t index = in.u64();
        if (in.failed()) return malformed();
        return common(register_route(&g, str(method), str(pattern), &remote_route, user_of(index), err, sizeof err));
      }
      case wire::HostOp::call: {
        std::string operation = in.str(), args = in.str();
        if (in.failed()) return malformed();
        return common(call(&g, str(operation), str(args), sink, &target, err, sizeof err));
      }
      case wire::HostOp::subscribe: {
        std::string type = in.str();
        std::uint64_t index = in.u64();
        if (in.failed()) return malformed();
        return common(subscribe(&g, str(type), &remote_event, user_of(index), err, sizeof err));
      }
      case wire::HostOp::publish: {
        std::string type = in.str(), data = in.str();
        if (in.failed()) return malformed();
        return common(publish(&g, str(type), str(data), err, sizeof err));
      }
      case wire::HostOp::register_provider: {
        std::string kind = in.str(), name = in.str();
        std::uint64_t index = in.u64();
        if (in.failed()) return malformed();
        quanqu_provider p{sizeof(quanqu_provider), str(kind), str(name), &remote_provider, user_of(index)};
        return common(register_provider(&g, &p, err, sizeof err));
      }
      case wire::HostOp::channel_config: {
        std::string channel = in.str();
        if (in.failed()) return malformed();
        return common(channel_config(&g, str(channel), sink, &target, err, sizeof err));
      }
      case wire::HostOp::http_fetch: {
        std::string method = in.str(), url = in.str();
        std::uint32_t count = in.u32();
        wire::Pairs headers;
        for (std::uint32_t i = 0; i < count && !in.failed() && i < 1024; ++i) {
          std::string n = in.str(), v = in.str();
          headers.emplace_back(std::move(n), std::move(v));
        }
        std::string body = in.str();
        std::int32_t timeout_ms = in.i32();
        if (in.failed() || count > 1024) {
          out.i32(QUANQU_ERR_INVALID).str("the runner sent a malformed host call").i32(0).pairs({}).str("");
          return out.take();
        }
        std::vector<quanqu_pair> pairs;
        for (const auto& [n, v] : headers) pairs.push_back({str(n), str(v)});
        quanqu_http_request request{sizeof(quanqu_http_request), str(method), str(url), pairs.data(), pairs.size(),
                                    str(body), timeout_ms};
        struct Reply {
          std::int32_t status = 0;
          wire::Pairs headers;
          std::string body;
        } reply;
        auto on_reply = [](void* user, int32_t status, const quanqu_pair* h, size_t n, quanqu_str b) {
          auto* r = static_cast<Reply*>(user);
          r->status = status;
          for (size_t i = 0; i < n; ++i) r->headers.emplace_back(view(h[i].name), view(h[i].value));
          r->body = view(b);
        };
        quanqu_status status = http_fetch(&g, &request, on_reply, &reply, err, sizeof err);
        out.i32(status)
            .str(status == QUANQU_OK ? std::string() : message_from(err, status))
            .i32(reply.status)
            .pairs(reply.headers)
            .str(reply.body);
        return out.take();
      }
      case wire::HostOp::kv_put_ttl: {
        std::string key = in.str(), v = in.str();
        std::int64_t ttl_ms = in.i64();
        if (in.failed()) return malformed();
        return common(kv_put_ttl(&g, str(key), str(v), ttl_ms, err, sizeof err));
      }
      case wire::HostOp::kv_incr: {
        std::string key = in.str();
        std::int64_t delta = in.i64(), ttl_ms = in.i64();
        if (in.failed()) return malformed();
        int64_t sum = 0;
        quanqu_status status = kv_incr(&g, str(key), delta, ttl_ms, &sum, err, sizeof err);
        if (status == QUANQU_OK) {
          value = std::to_string(sum);  // the runner parses it back
          has_value = true;
        }
        return common(status);
      }
      case wire::HostOp::kv_cas: {
        std::string key = in.str();
        bool has_expected = in.u8() != 0;
        std::string expected = in.str(), v = in.str();
        std::int64_t ttl_ms = in.i64();
        if (in.failed()) return malformed();
        quanqu_str want = str(expected);
        return common(kv_cas(&g, str(key), has_expected ? &want : nullptr, str(v), ttl_ms, err, sizeof err));
      }
      case wire::HostOp::kv_list: {
        std::string prefix = in.str(), cursor = in.str();
        std::int32_t limit = in.i32();
        if (in.failed()) return malformed();
        return common(kv_list(&g, str(prefix), str(cursor), limit, sink, &target, err, sizeof err));
      }
      case wire::HostOp::set_route_access: {
        std::string method = in.str(), pattern = in.str();
        std::int32_t access = in.i32();
        if (in.failed()) return malformed();
        return common(set_route_access(&g, str(method), str(pattern), access, err, sizeof err));
      }
    }
    write_error(err, sizeof err, "the runner asked for an unknown host function");
    return common(QUANQU_ERR_INVALID);
  }

  static void hmac_sha256(void*, quanqu_str key, quanqu_str message, uint8_t out[32]) {
    unsigned int length = 32;
    static const unsigned char empty = 0;
    const void* key_bytes = key.size ? static_cast<const void*>(key.data) : &empty;
    if (!HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size),
              message.size ? reinterpret_cast<const unsigned char*>(message.data) : &empty, message.size, out, &length))
      std::memset(out, 0, 32);
  }

  // ---- ABI 1.1: key-value expiry, increment, compare-and-set, listing ----

  static quanqu_status kv_put_ttl(void* ctx, quanqu_str key, quanqu_str value, int64_t ttl_ms, char* err,
                                  size_t err_cap) {
    return guarded(err, err_cap, [&] {
      auto put = gen(ctx).host->kv_.put(gen(ctx).plugin, view(key), view(value), ttl_ms);
      return put ? QUANQU_OK : refuse(err, err_cap, put.error());
    });
  }

  static quanqu_status kv_incr(void* ctx, quanqu_str key, int64_t delta, int64_t ttl_ms, int64_t* value_out, char* err,
                               size_t err_cap) {
    return guarded(err, err_cap, [&] {
      if (!value_out) return refuse(err, err_cap, QUANQU_ERR_INVALID, "value_out must not be NULL");
      auto sum = gen(ctx).host->kv_.incr(gen(ctx).plugin, view(key), delta, ttl_ms);
      if (!sum) return refuse(err, err_cap, sum.error());
      *value_out = *sum;
      return QUANQU_OK;
    });
  }

  static quanqu_status kv_cas(void* ctx, quanqu_str key, const quanqu_str* expected, quanqu_str value, int64_t ttl_ms,
                              char* err, size_t err_cap) {
    return guarded(err, err_cap, [&] {
      std::optional<std::string_view> want;
      if (expected) want = std::string_view(expected->size ? expected->data : "", expected->size);
      auto swapped = gen(ctx).host->kv_.cas(gen(ctx).plugin, view(key), want, view(value), ttl_ms);
      if (!swapped) return refuse(err, err_cap, swapped.error());
      return *swapped ? QUANQU_OK : refuse(err, err_cap, QUANQU_ERR_STATE, "no swap: the current value differs");
    });
  }

  static quanqu_status kv_list(void* ctx, quanqu_str prefix, quanqu_str cursor, int32_t limit, quanqu_string_sink sink,
                               void* sink_user, char* err, size_t err_cap) {
    return guarded(err, err_cap, [&] {
      auto page = gen(ctx).host->kv_.list(gen(ctx).plugin, view(prefix), view(cursor), limit);
      if (!page) return refuse(err, err_cap, page.error());
      nlohmann::json items = nlohmann::json::array();
      for (const auto& item : page->items) {
        nlohmann::json at = item.expires_at_ms ? nlohmann::json(*item.expires_at_ms) : nlohmann::json(nullptr);
        items.push_back({{"key", item.key}, {"value", item.value}, {"expires_at_ms", at}});
      }
      nlohmann::json next = page->next_cursor ? nlohmann::json(*page->next_cursor) : nlohmann::json(nullptr);
      std::string text = nlohmann::json{{"items", std::move(items)}, {"next_cursor", std::move(next)}}.dump();
      if (sink) sink(sink_user, text.data(), text.size());
      return QUANQU_OK;
    });
  }
};

PluginHost::PluginHost(storage::Database& db, const Clock& clock, events::EventBus& events, LogSink log)
    : db_(db),
      clock_(clock),
      events_(events),
      log_(std::move(log)),
      kv_(db, clock),
      pool_(std::make_unique<CallPool>(call_options_.pool)) {
  if (!log_) log_ = [](LogLevel, std::string_view, const nlohmann::json&) {};
  host_calls_ = std::make_unique<ElasticPool>(256);
  shadow_dir_ =
      std::filesystem::temp_directory_path() / ("quanqu-plugins-" + std::to_string(::getpid()) + "-" + random_hex(4));
}

PluginHost::~PluginHost() {
  stop_all();
  std::error_code ec;
  std::filesystem::remove_all(shadow_dir_, ec);
}

void PluginHost::set_log(LogSink log) {
  if (log) log_ = std::move(log);
}

void PluginHost::set_services(HostServices services) {
  services_ = std::move(services);
}

void PluginHost::set_call_options(CallOptions options) {
  options.default_timeout = std::max(options.default_timeout, std::chrono::milliseconds(1));
  call_options_ = options;
  pool_ = std::make_unique<CallPool>(options.pool);
}

void PluginHost::set_isolation_options(IsolationOptions options) {
  isolation_ = std::move(options);
}

Isolation PluginHost::isolation_of(const std::string& plugin, const std::string& chosen) const {
  if (auto mode = isolation_from(chosen)) return *mode;
  if (std::find(isolation_.trusted.begin(), isolation_.trusted.end(), plugin) != isolation_.trusted.end())
    return Isolation::in_process;
  return isolation_.default_isolation;
}

// A host call or a log line from a runner, on its reader thread: handed to the host-call threads,
// where it runs the same host function an in-process plugin calls, with the generation as ctx.
void PluginHost::serve_runner_frame(const std::shared_ptr<RunnerLink>& link, wire::Frame frame) {
  auto g = link->lock();
  if (!g || !g->runner) return;
  if (frame.kind == wire::Kind::log) {
    wire::Reader r(frame.payload);
    auto level = static_cast<quanqu_log_level>(r.i32());
    std::string message = r.str();
    if (!r.failed()) HostTable::log(g.get(), level, str(message));
    return;
  }
  host_calls_running_.fetch_add(1);
  host_calls_->submit([this, g = std::move(g), frame = std::move(frame)]() mutable {
    std::string reply = HostTable::serve(*g, frame.payload);
    g->runner->reply(frame.id, reply);
    g.reset();
    host_calls_running_.fetch_sub(1);
  });
}

void PluginHost::runner_ended(const std::shared_ptr<RunnerLink>& link, const RunnerExit& exit) {
  if (exit.expected) return;
  auto g = link->lock();
  if (!g || stopped_) return;
  Slot& slot = *g->slot;
  CrashInfo crash{exit.signal ? signal_name(exit.signal) : std::string(), exit.exit_code, exit.reason, exit.at_ms};
  bool current;
  {
    std::unique_lock lock(mutex_);
    current = slot.current == g;
    if (current) slot.info.last_crash = crash;
  }
  if (!current) return;  // it was still starting (a load failure says why) or already replaced
  slot.crashes.fetch_add(1, std::memory_order_relaxed);
  // A runner that served for a minute starts a new series of back-offs.
  auto delay = schedule_restart(slot, g.get(), clock_.now_ms() - g->loaded_at > 60'000);
  nlohmann::json fields{{"plugin", g->plugin}, {"pid", g->runner ? g->runner->pid() : 0}, {"restart_in_ms", delay.count()}};
  if (exit.signal) fields["signal"] = crash.signal;
  else fields["exit_code"] = exit.exit_code;
  if (!exit.reason.empty()) fields["killed_for"] = exit.reason;
  log(LogLevel::error, "plugin runner crashed; its calls in flight failed and it will be restarted", fields);
}

std::chrono::milliseconds PluginHost::schedule_restart(Slot& slot, const Generation* crashed, bool fresh_series) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(restarts_mutex_);
    if (fresh_series) slot.crashes_in_a_row = 0;
    int n = std::min(slot.crashes_in_a_row++, 16);
    delay = std::min(isolation_.restart_backoff_max,
                     std::chrono::milliseconds(isolation_.restart_backoff_min.count() * (std::int64_t{1} << n)));
    restarts_.push_back({std::chrono::steady_clock::now() + delay, &slot, crashed});
  }
  restarts_wake_.notify_all();
  return delay;
}

void PluginHost::supervise() {
  std::unique_lock lock(restarts_mutex_);
  while (!stopped_) {
    auto next = std::min_element(restarts_.begin(), restarts_.end(),
                                 [](const Restart& a, const Restart& b) { return a.due < b.due; });
    if (next == restarts_.end()) {
      restarts_wake_.wait(lock);
      continue;
    }
    if (next->due > std::chrono::steady_clock::now()) {
      restarts_wake_.wait_until(lock, next->due);
      continue;
    }
    Restart due = *next;
    restarts_.erase(next);
    lock.unlock();
    restart(*due.slot, due.crashed);
    lock.lock();
  }
}

void PluginHost::restart(Slot& slot, const Generation* crashed) {
  std::lock_guard reload_lock(slot.reload_mutex);
  {
    std::shared_lock lock(mutex_);
    if (stopped_ || slot.current.get() != crashed) return;  // reloaded or stopped meanwhile
  }
  std::string reason;
  auto manifest = read_manifest(slot.info.manifest);
  std::shared_ptr<Generation> fresh;
  if (!manifest) reason = manifest.error().message;
  else if (manifest->name != slot.info.name) reason = "its manifest now names it '" + manifest->name + "'";
  else fresh = start_generation(slot, *manifest, reason);
  if (!fresh) {
    // Try again later, with a longer back-off; the crashed generation keeps answering 502.
    auto delay = schedule_restart(slot, crashed, false);
    log(LogLevel::error, "plugin runner could not be restarted; trying again later",
        {{"plugin", slot.info.name}, {"reason", reason}, {"retry_in_ms", delay.count()}});
    return;
  }
  std::shared_ptr<Generation> old;
  {
    std::unique_lock lock(mutex_);
    old = std::move(slot.current);
    slot.current = fresh;
    publish_info(slot, *fresh);
  }
  slot.restarts.fetch_add(1, std::memory_order_relaxed);
  log(LogLevel::info, "plugin runner restarted",
      {{"plugin", slot.info.name}, {"pid", fresh->runner ? fresh->runner->pid() : 0}, {"generation", slot.generations}});
  old.reset();
  if (services_.started) services_.started(slot.info.name);
}

Result<PluginInfo> PluginHost::set_isolation(const std::string& name, std::optional<Isolation> isolation) {
  Slot* slot = nullptr;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_)
      if (!s->removed && s->info.name == name) slot = s.get();
  }
  if (!slot) return Error::not_found("plugin.not_found", "no plugin named '" + name + "' was discovered");
  std::string chosen = isolation ? std::string(to_string(*isolation)) : std::string();
  std::string previous;
  {
    std::lock_guard reload_lock(slot->reload_mutex);
    previous = slot->isolation_setting;
    slot->isolation_setting = chosen;
  }
  auto choice_of = [](const std::string& setting) {
    auto parsed = isolation_from(setting);
    return parsed ? static_cast<int>(*parsed) : -1;
  };
  slot->isolation_choice = choice_of(chosen);
  auto reloaded = reload(name);
  if (!reloaded) {
    std::lock_guard reload_lock(slot->reload_mutex);
    slot->isolation_setting = previous;
    slot->isolation_choice = choice_of(previous);
    return reloaded.error();
  }
  long long now = clock_.now_ms();
  soci::indicator ind = isolation ? soci::i_ok : soci::i_null;
  auto stored = db_.write<Ok>([&](soci::session& sql) -> Status {
    // clang-format off
    sql << "INSERT INTO plugin_settings (plugin, isolation, updated_at) VALUES (:p, :i, :u) "
           "ON CONFLICT (plugin) DO UPDATE SET isolation = excluded.isolation, updated_at = excluded.updated_at",
        soci::use(name), soci::use(chosen, ind), soci::use(now);
    // clang-format on
    return ok_status();
  });
  if (!stored) return stored.error();
  log(LogLevel::info, "plugin isolation set",
      {{"plugin", name}, {"isolation", to_string(reloaded->isolation)}, {"override", isolation.has_value()}});
  return reloaded;
}

std::chrono::milliseconds PluginHost::timeout_of(const Slot& slot) const {
  std::int64_t override_ms = slot.timeout_override_ms.load(std::memory_order_relaxed);
  return override_ms > 0 ? std::chrono::milliseconds(override_ms) : call_options_.default_timeout;
}

CallOutcome PluginHost::run_call(const Slot& slot, const std::string& plugin, CallPool::Work work) {
  return pool_->run(plugin, timeout_of(slot), std::move(work));
}

Error PluginHost::call_error(const std::string& plugin, CallOutcome outcome, std::chrono::milliseconds timeout) const {
  if (outcome == CallOutcome::timed_out)
    return Error::make(
        ErrorKind::unavailable, "plugin_timeout",
        "plugin '" + plugin + "' did not answer within its deadline of " + std::to_string(timeout.count()) + " ms",
        nlohmann::json{{"plugin", plugin}, {"timeout_ms", timeout.count()}});
  return Error::make(ErrorKind::unavailable, "plugin_busy",
                     "plugin '" + plugin +
                         "' cannot take more calls now (too many are waiting or past their deadline); "
                         "retry later",
                     nlohmann::json{{"plugin", plugin}, {"retry_after", 1}});
}

void PluginHost::log_outcome(const std::string& plugin, const char* call, CallOutcome outcome,
                             std::chrono::milliseconds timeout, nlohmann::json fields) const {
  fields["plugin"] = plugin;
  fields["call"] = call;
  if (outcome == CallOutcome::timed_out) {
    fields["timeout_ms"] = timeout.count();
    log(LogLevel::error, "plugin call timed out; it keeps its thread until it returns", fields);
  } else {
    log(LogLevel::warn, "plugin call refused: the plugin call pool is full", fields);
  }
}

void PluginHost::stop_generation(std::unique_ptr<Generation> g) {
  // The last reference is gone: no call runs on this generation and none will again. Its stop()
  // runs on the call pool with the plugin's deadline, and is not waited for here: the last
  // reference may go on any thread, the pool's timer thread included, which must never wait for
  // a call (stop_all() waits for every stop instead). The generation, its library included, is
  // deleted with the work, so after stop() returns, or never while a stop() past its deadline
  // still runs.
  if (g->runner && !g->initialised) return g->runner->kill("not started", true);
  if (!g->initialised || (!g->descriptor && !g->runner)) return;
  Slot* slot = g->slot;
  std::string plugin = g->plugin;
  std::shared_ptr<RunnerProcess> runner = g->runner;
  auto stop = [owned = std::shared_ptr<Generation>(std::move(g)), host = this, plugin] {
    if (owned->runner) {
      // The runner calls stop and exits; an end now is no crash. Its host calls meanwhile are
      // served for this reference.
      if (owned->link) owned->link->point_at(owned);
      owned->runner->expect_exit();
      owned->runner->call(wire::Kind::stop, "");
      owned->runner->kill("stopped", true);
      return;
    }
    try {
      owned->descriptor->stop(owned->instance);
    } catch (...) {
      host->log(LogLevel::error, "plugin threw while stopping", {{"plugin", plugin}});
    }
  };
  if (!slot || !pool_) return stop();
  auto timeout = timeout_of(*slot);
  {
    std::lock_guard lock(stops_mutex_);
    ++stops_pending_;
  }
  pool_->submit(plugin, timeout, std::move(stop), [this, plugin, timeout, runner](CallOutcome outcome) {
    if (outcome != CallOutcome::done && runner) runner->kill("stop deadline", true);
    if (outcome != CallOutcome::done) log_outcome(plugin, "stop", outcome, timeout, nlohmann::json::object());
    {
      std::lock_guard lock(stops_mutex_);
      --stops_pending_;
    }
    stops_done_.notify_all();
  });
}

std::vector<PluginHost::RunningCalls> PluginHost::running_calls() const {
  std::vector<RunningCalls> out;
  for (const auto& stats : pool_->stats())
    if (stats.running > 0) out.push_back({stats.plugin, stats.running, stats.stuck});
  return out;
}

std::vector<PluginHost::Setting> PluginHost::load_settings() {
  using Rows = std::vector<Setting>;
  auto rows = db_.read<Rows>([](soci::session& sql) -> Result<Rows> {
    Rows out;
    std::string plugin, isolation;
    long long timeout_ms = 0;
    soci::indicator timeout_ind = soci::i_null, isolation_ind = soci::i_null;
    soci::statement st = (sql.prepare << "SELECT plugin, timeout_ms, isolation FROM plugin_settings",
                          soci::into(plugin), soci::into(timeout_ms, timeout_ind), soci::into(isolation, isolation_ind));
    st.execute();
    while (st.fetch())
      out.push_back({plugin, timeout_ind == soci::i_ok ? static_cast<std::int64_t>(timeout_ms) : 0,
                     isolation_ind == soci::i_ok ? isolation : std::string()});
    return out;
  });
  if (rows) return *rows;
  log(LogLevel::error, "cannot read the plugins' settings; the default deadline and isolation apply",
      {{"detail", rows.error().message}});
  return {};
}

Result<PluginInfo> PluginHost::set_timeout(const std::string& name, std::optional<std::int64_t> timeout_ms) {
  Slot* slot = nullptr;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_)
      if (!s->removed && s->info.name == name) slot = s.get();
  }
  if (!slot) return Error::not_found("plugin.not_found", "no plugin named '" + name + "' was discovered");
  if (timeout_ms && (*timeout_ms < 1 || *timeout_ms > kMaxTimeoutMs))
    return Error::invalid(
        "plugin.timeout_invalid",
        "timeout_ms must be an integer from 1 to " + std::to_string(kMaxTimeoutMs) + ", or null",
        {{"timeout_ms", "must be an integer from 1 to " + std::to_string(kMaxTimeoutMs) + ", or null"}});
  long long now = clock_.now_ms();
  long long value = timeout_ms.value_or(0);
  soci::indicator ind = timeout_ms ? soci::i_ok : soci::i_null;
  auto stored = db_.write<Ok>([&](soci::session& sql) -> Status {
    // clang-format off
    sql << "INSERT INTO plugin_settings (plugin, timeout_ms, updated_at) VALUES (:p, :t, :u) "
           "ON CONFLICT (plugin) DO UPDATE SET timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at",
        soci::use(name), soci::use(value, ind), soci::use(now);
    // clang-format on
    return ok_status();
  });
  if (!stored) return stored.error();
  slot->timeout_override_ms = timeout_ms.value_or(0);
  log(LogLevel::info, "plugin deadline set",
      {{"plugin", name}, {"timeout_ms", timeout_of(*slot).count()}, {"override", timeout_ms.has_value()}});
  std::shared_lock lock(mutex_);
  return snapshot(*slot, call_options_.default_timeout, *pool_);
}

void PluginHost::log(LogLevel level, std::string_view message, const nlohmann::json& fields) const {
  try {
    log_(level, message, fields);
  } catch (...) {
  }
}

void PluginHost::fail(Slot& slot, std::string reason) {
  {
    std::unique_lock lock(mutex_);
    slot.info.status = PluginStatus::failed;
    slot.info.reason = std::move(reason);
    slot.info.routes.clear();
    slot.info.subscriptions.clear();
    slot.info.providers.clear();
  }
  log(LogLevel::error, "plugin failed to load",
      {{"plugin", slot.info.name}, {"reason", slot.info.reason}, {"manifest", slot.info.manifest.string()}});
}

void PluginHost::publish_info(Slot& slot, const Generation& g) {
  PluginInfo& i = slot.info;
  i.version = g.version;
  i.abi = g.abi;
  i.status = PluginStatus::loaded;
  i.reason.clear();
  i.routes.clear();
  for (const auto& r : g.routes) i.routes.push_back({r.method, r.pattern, r.access});
  i.subscriptions.clear();
  for (const auto& s : g.subscriptions) i.subscriptions.push_back(s.pattern);
  i.providers.clear();
  for (const auto& p : g.providers) i.providers.push_back({p.kind, p.name, g.plugin});
  i.generation = slot.generations;
  i.loaded_at = g.loaded_at;
}

void PluginHost::load_directory(const std::filesystem::path& dir) {
  if (!listening_.exchange(true)) listener_ = events_.listen([this](const events::Event& e) { deliver(e); });
  if (!supervisor_.joinable()) supervisor_ = std::thread([this] { supervise(); });
  std::lock_guard discovering(discover_mutex_);
  plugins_dir_ = dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    log(LogLevel::info, "no plugins directory; no plugins loaded", {{"plugins_dir", dir.string()}});
    return;
  }
  std::size_t found = 0;
  auto started = load_manifests(dir, false, &found);
  log(LogLevel::info, "plugins loaded",
      {{"plugins_dir", dir.string()},
       {"loaded", started.size()},
       {"failed", found - started.size()},
       {"sdk_abi", host_abi().text()}});
  for (const auto& name : started)
    if (services_.started) services_.started(name);
}

Result<std::vector<PluginInfo>> PluginHost::discover() {
  if (stopped_) return Error::unprocessable("plugin.discover_failed", "the server is stopping");
  std::vector<std::string> started;
  std::vector<std::filesystem::path> manifests;
  {
    std::lock_guard discovering(discover_mutex_);
    std::error_code ec;
    if (plugins_dir_.empty() || !std::filesystem::is_directory(plugins_dir_, ec))
      return std::vector<PluginInfo>{};
    std::size_t before = 0;
    {
      std::shared_lock lock(mutex_);
      before = slots_.size();
    }
    std::size_t found = 0;
    started = load_manifests(plugins_dir_, true, &found);
    std::shared_lock lock(mutex_);
    for (std::size_t i = before; i < slots_.size(); ++i) manifests.push_back(slots_[i]->info.manifest);
    log(LogLevel::info, "plugins discovered",
        {{"plugins_dir", plugins_dir_.string()}, {"loaded", started.size()}, {"failed", found - started.size()}});
  }
  for (const auto& name : started)
    if (services_.started) services_.started(name);
  std::vector<PluginInfo> out;
  std::shared_lock lock(mutex_);
  for (const auto& s : slots_)
    if (!s->removed && std::find(manifests.begin(), manifests.end(), s->info.manifest) != manifests.end())
      out.push_back(snapshot(*s, call_options_.default_timeout, *pool_));
  return out;
}

Result<Ok> PluginHost::unload(const std::string& name) {
  Slot* slot = nullptr;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_)
      if (!s->removed && s->info.name == name) slot = s.get();
  }
  if (!slot) return Error::not_found("plugin.not_found", "no plugin named '" + name + "' was discovered");
  std::shared_ptr<Generation> old;
  {
    std::lock_guard reload_lock(slot->reload_mutex);
    std::unique_lock lock(mutex_);
    if (slot->removed) return Error::not_found("plugin.not_found", "no plugin named '" + name + "' was discovered");
    old = std::move(slot->current);
    slot->removed = true;
    slot->info.status = PluginStatus::stopped;
  }
  old.reset();  // its stop() runs, and its library or runner goes, once its last call returns
  log(LogLevel::info, "plugin unloaded", {{"plugin", name}});
  return Ok{};
}

std::vector<std::string> PluginHost::load_manifests(const std::filesystem::path& dir, bool only_new,
                                                    std::size_t* found_count) {
  std::error_code ec;
  // (manifest, fallback name), sorted by path so the load order is stable.
  std::vector<std::pair<std::filesystem::path, std::string>> found;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& entry = *it;
    std::error_code ignored;
    if (entry.is_directory(ignored)) {
      auto manifest = entry.path() / "plugin.json";
      if (std::filesystem::is_regular_file(manifest, ignored))
        found.emplace_back(manifest, entry.path().filename().string());
    } else if (entry.path().extension() == ".json" && entry.is_regular_file(ignored)) {
      found.emplace_back(entry.path(), entry.path().stem().string());
    }
  }
  if (ec)
    log(LogLevel::error, "cannot list the plugins directory",
        {{"plugins_dir", dir.string()}, {"detail", ec.message()}});
  std::sort(found.begin(), found.end());
  if (only_new) {
    std::shared_lock lock(mutex_);
    std::erase_if(found, [&](const auto& entry) {
      for (const auto& s : slots_)
        if (!s->removed && s->info.manifest == entry.first) return true;
      return false;
    });
  }
  *found_count = found.size();
  auto settings = load_settings();
  std::vector<std::string> started;
  for (const auto& [manifest_path, fallback] : found) {
    auto slot = std::make_unique<Slot>();
    Slot& s = *slot;
    s.info.name = fallback;
    s.info.manifest = manifest_path;
    {
      std::unique_lock lock(mutex_);
      slots_.push_back(std::move(slot));
    }
    try {
      auto manifest = read_manifest(manifest_path);
      if (!manifest) {
        fail(s, manifest.error().message);
        continue;
      }
      bool duplicate = false;
      {
        std::unique_lock lock(mutex_);
        for (const auto& other : slots_)
          if (other.get() != &s && !other->removed && other->info.name == manifest->name &&
              !other->info.version.empty())
            duplicate = true;
        s.info.name = manifest->name;
        s.info.version = manifest->version;
        s.info.description = manifest->description;
        s.info.provides = manifest->provides;
        s.info.abi = manifest->sdk_abi;
        s.info.library = manifest_path.parent_path() / manifest->library;
        s.info.config_schema = manifest->config_schema;
        s.info.outgoing_hosts.clear();
        for (const auto& h : manifest->outgoing_hosts) s.info.outgoing_hosts.push_back(h.text());
        s.info.isolation = isolation_of(manifest->name, "");
      }
      for (const auto& setting : settings)
        if (setting.plugin == manifest->name) {
          if (setting.timeout_ms > 0 && setting.timeout_ms <= kMaxTimeoutMs) s.timeout_override_ms = setting.timeout_ms;
          if (auto parsed = isolation_from(setting.isolation)) {
            s.isolation_setting = setting.isolation;
            s.isolation_choice = static_cast<int>(*parsed);
          }
        }
      if (duplicate) {
        fail(s, "another plugin named '" + manifest->name + "' was found first");
        continue;
      }
      std::lock_guard reload(s.reload_mutex);
      std::string reason;
      auto g = start_generation(s, *manifest, reason);
      if (!g) {
        fail(s, reason);
        continue;
      }
      {
        std::unique_lock lock(mutex_);
        s.current = g;
        publish_info(s, *g);
      }
      started.push_back(s.info.name);
      nlohmann::json routes = nlohmann::json::array();
      for (const auto& r : g->routes) routes.push_back(r.method + " /v1/plugins/" + g->plugin + r.pattern);
      log(LogLevel::info, "plugin loaded",
          {{"plugin", s.info.name}, {"version", g->version}, {"sdk_abi", g->abi.text()}, {"routes", routes}});
    } catch (const std::exception& e) {  // a bug in the runtime itself; still never fatal
      fail(s, std::string("internal error while loading: ") + e.what());
    }
  }
  return started;
}

std::shared_ptr<Generation> PluginHost::start_generation(Slot& slot, const Manifest& m, std::string& reason) {
  if (!abi_compatible(m.sdk_abi, host_abi())) {
    reason = abi_refusal(m.name, m.sdk_abi, true);
    return nullptr;
  }
  std::filesystem::path library = slot.info.manifest.parent_path() / m.library;
  std::error_code fs_ec;
  if (!std::filesystem::is_regular_file(library, fs_ec)) {
    reason = "library file not found: " + library.string();
    return nullptr;
  }
  // Load a private copy: the file in the plugins directory can then be replaced by a new build
  // at any time (even while this copy runs), and a reload of the same path gets a new library
  // instead of the one the dynamic loader already has.
  std::filesystem::create_directories(shadow_dir_, fs_ec);
  std::filesystem::path shadow =
      shadow_dir_ / (m.name + "-" + std::to_string(++shadow_counter_) + library.extension().string());
  std::filesystem::copy_file(library, shadow, std::filesystem::copy_options::overwrite_existing, fs_ec);
  if (fs_ec) {
    reason = "cannot copy " + library.string() + " for loading: " + fs_ec.message();
    return nullptr;
  }

  // The last reference hands the generation to stop_generation(), which deletes it only once its
  // stop() has returned: until then the host table and the context the plugin holds stay valid.
  std::shared_ptr<Generation> g(new Generation,
                                [this](Generation* p) { stop_generation(std::unique_ptr<Generation>(p)); });
  g->host = this;
  g->slot = &slot;
  g->plugin = m.name;
  g->provides = m.provides;
  g->outgoing_hosts = m.outgoing_hosts;

  // What the library says of itself, read in process or by its runner.
  struct Facts {
    AbiVersion abi;
    bool complete = false;  // size, name, version, init, start and stop are there
    std::string name, version;
  } facts;
  Isolation isolation = isolation_of(m.name, slot.isolation_setting);
  if (isolation == Isolation::process) {
    // The runner loads the private copy; it is removed once loaded (the mapping stays).
    auto link = std::make_shared<RunnerLink>();
    link->point_at(g);
    g->link = link;
    RunnerLimits limits = isolation_.limits;
    limits.network = runner_network(isolation_.network, m);
    limits.outgoing_hosts = m.outgoing_hosts;
    {
      std::unique_lock lock(mutex_);
      slot.info.runner_network = limits.network;
    }
    g->runner = RunnerProcess::spawn(
        isolation_.runner, m.name, limits,
        [this, link](wire::Frame frame) { serve_runner_frame(link, std::move(frame)); },
        [this, link](const RunnerExit& exit) { runner_ended(link, exit); }, reason);
    if (!g->runner) {
      std::filesystem::remove(shadow, fs_ec);
      return nullptr;
    }
    struct Load {
      std::optional<std::string> reply;
    };
    auto load = std::make_shared<Load>();
    wire::Writer w;
    w.str(shadow.string());
    auto outcome = run_call(slot, m.name, [g, load, payload = w.take()] {
      load->reply = g->runner->call(wire::Kind::load, payload);
    });
    std::filesystem::remove(shadow, fs_ec);
    if (outcome != CallOutcome::done) {
      g->runner->kill("load deadline", true);
      reason = "loading " + library.string() + " in its runner did not end within its deadline";
      return nullptr;
    }
    if (!load->reply) {
      auto exit = g->runner->exit_info();
      reason = "the runner died while loading " + library.string() +
               (exit && exit->signal ? " (" + signal_name(exit->signal) + ")" : "");
      return nullptr;
    }
    wire::Reader r(*load->reply);
    bool loaded = r.u8() != 0;
    std::string why = r.str();
    if (!loaded) {
      reason = why + " (" + library.string() + ")";
      return nullptr;
    }
    facts.abi.major = r.u32();
    facts.abi.minor = r.u32();
    facts.complete = r.u8() != 0;
    facts.name = r.str();
    facts.version = r.str();
    if (r.failed()) {
      reason = "the runner sent a malformed reply while loading " + library.string();
      return nullptr;
    }
  } else {
    // Loading runs the library's static initialisers: the one thing we cannot check beforehand.
    boost::dll::fs::error_code ec;
    dlerror();
    g->library->load(boost::dll::fs::path(shadow.string()), ec,
                     boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    std::filesystem::remove(shadow, fs_ec);  // the mapping stays; nothing is left behind
    if (ec || !g->library->is_loaded()) {
      const char* detail = dlerror();
      reason = "cannot load " + library.string() + ": " + (detail ? detail : ec.message());
      return nullptr;
    }
    if (!g->library->has(QUANQU_PLUGIN_ENTRY_SYMBOL)) {
      reason = "the library " + library.string() + " exports no " + QUANQU_PLUGIN_ENTRY_SYMBOL +
               " symbol (export it with QUANQU_PLUGIN, see docs/sdk.md)";
      return nullptr;
    }
    auto& entry = g->library->get<const quanqu_plugin_descriptor*()>(QUANQU_PLUGIN_ENTRY_SYMBOL);
    try {
      g->descriptor = entry();
    } catch (const std::exception& e) {
      reason = std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " threw: " + e.what();
      return nullptr;
    } catch (...) {
      reason = std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " threw";
      return nullptr;
    }
    if (!g->descriptor) {
      reason = std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " returned no descriptor";
      return nullptr;
    }
    const quanqu_plugin_descriptor& d = *g->descriptor;
    facts.abi = {d.abi_major, d.abi_minor};
    // The first four fields are frozen; the rest is read only when the size says it is there.
    facts.complete = d.size >= kDescriptorV1Size && d.name && d.version && d.init && d.start && d.stop;
    facts.name = d.name ? d.name : "";
    if (facts.complete) facts.version = d.version;
  }

  // The ABI check comes before anything else of the plugin is touched.
  AbiVersion built = facts.abi;
  {
    std::unique_lock lock(mutex_);
    slot.info.abi = built;
    slot.info.isolation = isolation;
    if (isolation == Isolation::in_process) slot.info.runner_network.reset();
  }
  if (!abi_compatible(built, host_abi())) {
    reason = abi_refusal(m.name, built, false);
    g->descriptor = nullptr;
    return nullptr;
  }
  if (!facts.complete) {
    reason = "the plugin descriptor is incomplete (size, name, version, init, start and stop are required)";
    return nullptr;
  }
  if (m.name != facts.name) {
    reason = "the library calls itself '" + facts.name + "' but its manifest says '" + m.name + "'";
    return nullptr;
  }
  if (m.version != facts.version) {
    reason = "the library has version " + facts.version + " but its manifest says " + m.version;
    return nullptr;
  }
  if (!(built == m.sdk_abi)) {
    reason =
        "the manifest declares SDK ABI " + m.sdk_abi.text() + " but the library was built for SDK ABI " + built.text();
    return nullptr;
  }
  g->abi = built;
  g->version = facts.version;

  quanqu_host& t = g->table;
  t.size = sizeof(quanqu_host);
  t.abi_major = QUANQU_SDK_ABI_MAJOR;
  t.abi_minor = QUANQU_SDK_ABI_MINOR;
  t.ctx = g.get();
  t.log = &HostTable::log;
  t.now_ms = &HostTable::now_ms;
  t.kv_get = &HostTable::kv_get;
  t.kv_put = &HostTable::kv_put;
  t.kv_delete = &HostTable::kv_delete;
  t.register_route = &HostTable::register_route;
  t.response_set = &HostTable::response_set;
  t.response_add_header = &HostTable::response_add_header;
  t.call = &HostTable::call;
  t.subscribe = &HostTable::subscribe;
  t.publish = &HostTable::publish;
  t.register_provider = &HostTable::register_provider;
  t.channel_config = &HostTable::channel_config;
  t.http_fetch = &HostTable::http_fetch;
  t.hmac_sha256 = &HostTable::hmac_sha256;
  t.kv_put_ttl = &HostTable::kv_put_ttl;
  t.kv_incr = &HostTable::kv_incr;
  t.kv_cas = &HostTable::kv_cas;
  t.kv_list = &HostTable::kv_list;
  t.set_route_access = &HostTable::set_route_access;

  // init and start run on the call pool like every other call: one that never returns makes the
  // plugin fail to load instead of holding up the server. The work owns `g` (and so the
  // library) until it returns, even past the deadline.
  struct Boot {
    char err[kErrCap] = {0};
    quanqu_status status = QUANQU_ERR_INTERNAL;
    std::string reason;
  };
  auto timeout = timeout_of(slot);
  auto did_not_return = [&](const char* step, CallOutcome outcome) {
    log_outcome(m.name, step, outcome, timeout, nlohmann::json::object());
    return std::string(step) + (outcome == CallOutcome::timed_out
                                    ? " did not return within " + std::to_string(timeout.count()) + " ms"
                                    : " could not run: the plugin call pool is full");
  };
  auto init = std::make_shared<Boot>();
  // A runner answers init and start with the status, the plugin's message and what it threw.
  auto remote_boot = [](Generation& gen, wire::Kind kind, Boot& boot) {
    auto reply = gen.runner->call(kind, "");
    if (!reply) {
      boot.reason = std::string(kind == wire::Kind::init ? "init" : "start") + " crashed the runner";
      if (auto exit = gen.runner->exit_info(); exit && exit->signal) boot.reason += " (" + signal_name(exit->signal) + ")";
      return;
    }
    wire::Reader r(*reply);
    boot.status = r.i32();
    std::string message = r.str(), thrown = r.str();
    if (r.failed()) boot.reason = "the runner sent a malformed reply";
    else if (!thrown.empty())
      boot.reason = std::string(kind == wire::Kind::init ? "init" : "start") + " threw: " + thrown;
    else if (boot.status != QUANQU_OK)
      std::snprintf(boot.err, sizeof boot.err, "%s", message.c_str());
  };
  auto outcome = run_call(slot, m.name, [g, init, remote_boot] {
    if (g->runner) {
      remote_boot(*g, wire::Kind::init, *init);
      if (init->reason.empty() && init->status == QUANQU_OK) g->initialised = true;
      return;
    }
    try {
      init->status = g->descriptor->init(&g->table, &g->instance, init->err, sizeof init->err);
      if (init->status == QUANQU_OK) g->initialised = true;
    } catch (const std::exception& e) {  // a plugin that breaks the ABI's rule; still contained
      init->reason = std::string("init threw: ") + e.what();
    } catch (...) {
      init->reason = "init threw an unknown exception";
    }
  });
  if (outcome != CallOutcome::done) {
    if (g->runner) g->runner->kill("init deadline", true);
    reason = did_not_return("init", outcome);
    return nullptr;
  }
  if (!init->reason.empty()) {
    reason = init->reason;
    return nullptr;
  }
  if (init->status != QUANQU_OK) {
    reason = "init failed: " + message_from(init->err, init->status);
    return nullptr;
  }

  auto start = std::make_shared<Boot>();
  outcome = run_call(slot, m.name, [g, start, remote_boot] {
    g->starting = true;
    if (g->runner) {
      remote_boot(*g, wire::Kind::start, *start);
      if (start->reason.empty() && start->status != QUANQU_OK)
        start->reason = "start failed: " + message_from(start->err, start->status);
      g->starting = false;
      return;
    }
    try {
      start->status = g->descriptor->start(g->instance, start->err, sizeof start->err);
      if (start->status != QUANQU_OK) start->reason = "start failed: " + message_from(start->err, start->status);
    } catch (const std::exception& e) {
      start->reason = std::string("start threw: ") + e.what();
    } catch (...) {
      start->reason = "start threw an unknown exception";
    }
    g->starting = false;
  });
  if (outcome != CallOutcome::done) {
    if (g->runner) g->runner->kill("start deadline", true);
    reason = did_not_return("start", outcome);
    return nullptr;  // stop runs when start returns and the work lets go of the generation
  }
  if (!start->reason.empty()) {
    reason = start->reason;
    g->routes.clear();
    g->subscriptions.clear();
    g->providers.clear();
    return nullptr;  // the destructor calls stop and unloads
  }
  g->loaded_at = clock_.now_ms();
  ++slot.generations;
  return g;
}

Result<PluginInfo> PluginHost::reload(const std::string& name) {
  Slot* slot = nullptr;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_)
      if (!s->removed && s->info.name == name) slot = s.get();
  }
  if (!slot) return Error::not_found("plugin.not_found", "no plugin named '" + name + "' was discovered");
  if (stopped_) return Error::unprocessable("plugin.reload_failed", "the server is stopping");
  std::lock_guard reload_lock(slot->reload_mutex);
  auto refused = [&](std::string reason) -> Error {
    log(LogLevel::error, "plugin reload failed; the running version keeps serving",
        {{"plugin", name}, {"reason", reason}});
    Error e = Error::unprocessable("plugin.reload_failed", "plugin '" + name + "' was not reloaded: " + reason);
    e.details = {{"plugin", name}, {"reason", reason}};
    return e;
  };
  auto manifest = read_manifest(slot->info.manifest);
  if (!manifest) return refused(manifest.error().message);
  if (manifest->name != name) return refused("its manifest now names it '" + manifest->name + "'");
  std::string reason;
  auto fresh = start_generation(*slot, *manifest, reason);
  if (!fresh) return refused(reason);

  std::shared_ptr<Generation> old;
  PluginInfo info;
  {
    std::unique_lock lock(mutex_);
    old = std::move(slot->current);
    slot->current = fresh;
    slot->info.version = manifest->version;
    slot->info.description = manifest->description;
    slot->info.provides = manifest->provides;
    slot->info.library = slot->info.manifest.parent_path() / manifest->library;
    slot->info.config_schema = manifest->config_schema;
    publish_info(*slot, *fresh);
    info = snapshot(*slot, call_options_.default_timeout, *pool_);
  }
  log(LogLevel::info, "plugin reloaded",
      {{"plugin", name},
       {"version", fresh->version},
       {"previous_version", old ? nlohmann::json(old->version) : nlohmann::json(nullptr)},
       {"generation", info.generation}});
  old.reset();  // stops and unloads now, or when the last call still running on it returns
  if (services_.started) services_.started(name);
  return info;
}

void PluginHost::stop_all() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(restarts_mutex_);
    restarts_.clear();
  }
  restarts_wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  if (listening_) events_.unlisten(listener_);
  std::vector<std::shared_ptr<Generation>> running;
  {
    std::unique_lock lock(mutex_);
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
      Slot& s = **it;
      if (!s.current) continue;
      running.push_back(std::move(s.current));
      s.info.status = PluginStatus::stopped;
    }
  }
  // Reverse load order, each stop() waited for until it returns or reaches its deadline; a
  // generation still serving a call stops when that call returns.
  for (auto& g : running) {
    g.reset();
    std::unique_lock lock(stops_mutex_);
    stops_done_.wait(lock, [this] { return stops_pending_ == 0; });
  }
  // Host calls of runners that were stopped end soon (their replies go nowhere); they use this
  // host, so it waits for them, a bounded while.
  for (int i = 0; i < 500 && host_calls_running_.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::vector<PluginInfo> PluginHost::plugins() const {
  std::shared_lock lock(mutex_);
  std::vector<PluginInfo> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_)
    if (!s->removed) out.push_back(snapshot(*s, call_options_.default_timeout, *pool_));
  return out;
}

std::optional<PluginInfo> PluginHost::plugin(const std::string& name) const {
  std::shared_lock lock(mutex_);
  for (const auto& s : slots_)
    if (!s->removed && s->info.name == name) return snapshot(*s, call_options_.default_timeout, *pool_);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::uint64_t>> PluginHost::error_counts() const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& s : slots_)
    if (!s->removed && (s->info.status != PluginStatus::failed || s->errors.load() > 0))
      out.emplace_back(s->info.name, s->errors.load(std::memory_order_relaxed));
  return out;
}

std::vector<ProviderInfo> PluginHost::providers() const {
  std::shared_lock lock(mutex_);
  std::vector<ProviderInfo> out;
  for (const auto& s : slots_)
    if (s->current)
      for (const auto& p : s->current->providers) out.push_back({p.kind, p.name, s->info.name});
  return out;
}

std::shared_ptr<Generation> PluginHost::current(const std::string& name, Slot** slot) const {
  std::shared_lock lock(mutex_);
  for (const auto& s : slots_)
    if (!s->removed && s->info.name == name) {
      if (slot) *slot = s.get();
      return s->current;
    }
  return nullptr;
}

namespace {

// One route call, owned by the pool's work and completion: it may outlive handle_async's caller.
struct RouteCall {
  std::shared_ptr<Generation> g;
  const Generation::Route* route = nullptr;  // into g->routes, fixed once the generation started
  PluginRequest request;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<quanqu_pair> param_pairs, query_pairs, header_pairs;
  quanqu_request in{};
  PluginResponse response;
  char err[kErrCap] = {0};
  std::string failure;
  bool crashed = false;
  // Set once the call was handed to the runner: a deadline passed before that (in the queue) is no
  // reason to kill the runner.
  std::shared_ptr<std::atomic<bool>> sent = std::make_shared<std::atomic<bool>>(false);

  void run() {
    if (g->runner) return run_remote();
    quanqu_response out{&response};
    try {
      quanqu_status status = route->fn(route->user, &in, &out, err, sizeof err);
      if (status != QUANQU_OK) failure = message_from(err, status);
    } catch (const std::exception& e) {
      failure = std::string("threw: ") + e.what();
    } catch (...) {
      failure = "threw an unknown exception";
    }
    if (failure.empty() && (response.status < 200 || response.status > 599))
      failure = "replied with an invalid status " + std::to_string(response.status);
  }

  void run_remote() {
    wire::Writer w;
    w.u64(index_of(route->user))
        .str(request.method)
        .str(request.path)
        .str(request.body)
        .str(request.channel_id)
        .str(request.request_id)
        .str(request.customer_id)
        .pairs(params)
        .pairs(request.query)
        .pairs(request.headers);
    *sent = true;
    auto reply = g->runner->call(wire::Kind::route, w.take());
    if (!reply) {
      crashed = true;
      failure = kCrashed;
      return;
    }
    wire::Reader r(*reply);
    failure = r.str();
    response.status = r.i32();
    response.content_type = r.str();
    response.body = r.str();
    response.headers = r.pairs();
    if (r.failed()) failure = "its runner sent a malformed reply";
    if (failure.empty() && (response.status < 200 || response.status > 599))
      failure = "replied with an invalid status " + std::to_string(response.status);
  }
};

std::vector<quanqu_pair> pairs_of(const std::vector<std::pair<std::string, std::string>>& in) {
  std::vector<quanqu_pair> out;
  out.reserve(in.size());
  for (const auto& [n, v] : in) out.push_back({str(n), str(v)});
  return out;
}

}  // namespace

Result<PluginResponse> PluginHost::handle(const std::string& plugin, const PluginRequest& request) {
  std::promise<Result<PluginResponse>> answer;
  auto future = answer.get_future();
  handle_async(plugin, request, [&answer](Result<PluginResponse> r) { answer.set_value(std::move(r)); });
  return future.get();
}

void PluginHost::handle_async(const std::string& plugin, PluginRequest request, HandleDone done) {
  Slot* slot = nullptr;
  auto g = current(plugin, &slot);
  std::string prefix = "/v1/plugins/" + plugin;
  auto no_route = [&] {
    return Error::not_found("route_not_found", "no route for " + request.method + " " + request.path);
  };
  if (!g || request.path.compare(0, prefix.size(), prefix) != 0) return done(no_route());
  std::string_view rest = std::string_view(request.path).substr(prefix.size());
  if (!rest.empty() && rest.front() != '/') return done(no_route());
  auto segments = split(rest.empty() ? "/" : rest);

  const Generation::Route* found = nullptr;
  std::string allow;
  for (const auto& r : g->routes) {
    if (r.segments.size() != segments.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      const auto& p = r.segments[i];
      match = (!p.empty() && p.front() == '{') ? !segments[i].empty() : p == segments[i];
    }
    if (!match) continue;
    if (r.method != request.method) {
      if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
      continue;
    }
    if (!found || r.placeholders < found->placeholders) found = &r;
  }
  if (!found) {
    if (allow.empty()) return done(no_route());
    Error e = Error::invalid("method_not_allowed", request.method + " is not allowed on " + request.path);
    e.details = {{"allow", allow}};
    return done(std::move(e));
  }

  // A protected route: the host checks the merchant's key; the plugin never sees the refusal.
  if (found->access == RouteAccess::admin && request.caller != Caller::admin)
    return done(Error::unauthenticated("auth.admin_key_required",
                                       "this route of plugin '" + g->plugin +
                                           "' needs the admin key (Authorization: Bearer <admin key>)"));
  if (found->access == RouteAccess::merchant && request.caller == Caller::anonymous)
    return done(Error::unauthenticated("auth.merchant_key_required",
                                       "this route of plugin '" + g->plugin +
                                           "' needs the admin key or a key issued for the plugin "
                                           "(Authorization: Bearer <key>)"));

  // Its runner died and is waiting for its restart: the call would never reach the plugin.
  if (g->runner && !g->runner->alive())
    return done(Error::make(ErrorKind::unavailable, "plugin_restarting",
                            "plugin '" + g->plugin + "' is being restarted after its runner process ended; retry shortly",
                            nlohmann::json{{"plugin", g->plugin}, {"retry_after", 1}}));

  auto call = std::make_shared<RouteCall>();
  for (std::size_t i = 0; i < segments.size(); ++i)
    if (!found->segments[i].empty() && found->segments[i].front() == '{')
      call->params.emplace_back(found->segments[i].substr(1, found->segments[i].size() - 2), segments[i]);
  call->g = std::move(g);
  call->route = found;
  call->request = std::move(request);
  const PluginRequest& req = call->request;
  call->param_pairs = pairs_of(call->params);
  call->query_pairs = pairs_of(req.query);
  call->header_pairs = pairs_of(req.headers);
  quanqu_request& in = call->in;
  in.size = sizeof(quanqu_request);
  in.method = str(req.method);
  in.path = str(req.path);
  in.body = str(req.body);
  in.channel_id = str(req.channel_id);
  in.request_id = str(req.request_id);
  in.params = call->param_pairs.data();
  in.param_count = call->param_pairs.size();
  in.query = call->query_pairs.data();
  in.query_count = call->query_pairs.size();
  in.headers = call->header_pairs.data();
  in.header_count = call->header_pairs.size();
  in.customer_id = str(req.customer_id);

  auto timeout = timeout_of(*slot);
  auto finish = [this, call, slot, timeout, done = std::move(done)](CallOutcome outcome) {
    const std::string& plugin = call->g->plugin;
    std::string route = call->route->method + " /v1/plugins/" + plugin + call->route->pattern;
    if (outcome != CallOutcome::done) {
      if (outcome == CallOutcome::timed_out) slot->errors.fetch_add(1, std::memory_order_relaxed);
      // A runner past its deadline is killed (and restarted): its call ends now, with no thread stuck.
      if (outcome == CallOutcome::timed_out && call->g->runner && *call->sent) call->g->runner->kill("deadline");
      log_outcome(plugin, "route", outcome, timeout, {{"route", route}, {"request_id", call->request.request_id}});
      return done(call_error(plugin, outcome, timeout));
    }
    if (call->crashed) {
      slot->errors.fetch_add(1, std::memory_order_relaxed);
      log(LogLevel::error, "plugin route failed: the plugin crashed",
          {{"plugin", plugin}, {"route", route}, {"request_id", call->request.request_id}});
      return done(crash_error(plugin, call->g->runner.get(), "while handling " + route));
    }
    if (!call->failure.empty()) {
      slot->errors.fetch_add(1, std::memory_order_relaxed);
      log(LogLevel::error, "plugin route failed",
          {{"plugin", plugin}, {"route", route}, {"detail", call->failure}, {"request_id", call->request.request_id}});
      return done(plugin_error(plugin, "plugin '" + plugin + "' failed on " + call->route->method + " " +
                                           call->route->pattern + ": " + call->failure));
    }
    PluginResponse response = std::move(call->response);
    if (!(response.status == 204 && response.content_type.empty() && response.body.empty()) &&
        response.content_type.empty())
      response.content_type = "application/octet-stream";
    done(std::move(response));
  };
  pool_->submit(
      plugin, timeout, [call] { call->run(); }, std::move(finish));
}

bool PluginHost::has(const std::string& kind, const std::string& name) const {
  std::shared_lock lock(mutex_);
  for (const auto& s : slots_)
    if (s->current)
      for (const auto& p : s->current->providers)
        if (p.kind == kind && p.name == name) return true;
  return false;
}

Result<nlohmann::json> PluginHost::invoke(const std::string& kind, const std::string& name,
                                          const std::string& operation, nlohmann::json input,
                                          const nlohmann::json& channel_configs) {
  std::shared_ptr<Generation> g;
  Slot* slot = nullptr;
  Generation::Provider provider;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_) {
      if (!s->current) continue;
      for (const auto& p : s->current->providers)
        if (p.kind == kind && p.name == name) {
          g = s->current;
          slot = s.get();
          provider = p;
        }
    }
  }
  if (!g)
    return Error::make(ErrorKind::unavailable, "provider.unavailable",
                       "no " + kind + " provider '" + name + "' is running", nlohmann::json{{"provider", name}});
  input["config"] = channel_configs.is_object() && channel_configs.contains(g->plugin) ? channel_configs[g->plugin]
                                                                                       : nlohmann::json::object();
  // Owned by the work, which may outlive this call when the provider misses its deadline.
  struct ProviderCall {
    std::shared_ptr<Generation> g;
    Generation::Provider provider;
    std::string operation, text, reply;
    char err[kErrCap] = {0};
    std::string failure;
    bool crashed = false;
    // Set once the call was handed to the runner: a deadline passed before that (in the queue) is no
    // reason to kill the runner.
    std::shared_ptr<std::atomic<bool>> sent = std::make_shared<std::atomic<bool>>(false);
  };
  auto call = std::make_shared<ProviderCall>();
  call->g = g;
  call->provider = provider;
  call->operation = operation;
  call->text = input.dump();
  auto timeout = timeout_of(*slot);
  auto outcome = pool_->run(g->plugin, timeout, [call] {
    if (const auto& runner = call->g->runner) {
      wire::Writer w;
      w.u64(index_of(call->provider.user)).str(call->operation).str(call->text);
      *call->sent = true;
      auto reply = runner->call(wire::Kind::provider, w.take());
      if (!reply) {
        call->crashed = true;
        return;
      }
      wire::Reader r(*reply);
      call->failure = r.str();
      call->reply = r.str();
      if (r.failed()) call->failure = "its runner sent a malformed reply";
      return;
    }
    auto sink = [](void* user, const char* data, std::size_t size) {
      static_cast<std::string*>(user)->assign(data, size);
    };
    try {
      quanqu_status status = call->provider.fn(call->provider.user, str(call->operation), str(call->text), sink,
                                               &call->reply, call->err, sizeof call->err);
      if (status != QUANQU_OK) call->failure = message_from(call->err, status);
    } catch (const std::exception& e) {
      call->failure = std::string("threw: ") + e.what();
    } catch (...) {
      call->failure = "threw an unknown exception";
    }
  });
  if (outcome != CallOutcome::done) {
    if (outcome == CallOutcome::timed_out) slot->errors.fetch_add(1, std::memory_order_relaxed);
    if (outcome == CallOutcome::timed_out && g->runner && *call->sent) g->runner->kill("deadline");
    log_outcome(g->plugin, "provider", outcome, timeout, {{"provider", kind + "/" + name}, {"operation", operation}});
    Error e = call_error(g->plugin, outcome, timeout);
    e.details["provider"] = name;
    return e;
  }
  if (call->crashed) {
    slot->errors.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::error, "plugin provider failed: the plugin crashed",
        {{"plugin", g->plugin}, {"provider", kind + "/" + name}, {"operation", operation}});
    Error e = crash_error(g->plugin, g->runner.get(), "in " + kind + " provider '" + name + "' (" + operation + ")");
    e.details["provider"] = name;
    return e;
  }
  std::string failure = std::move(call->failure);
  const std::string& reply = call->reply;
  nlohmann::json answer;
  if (failure.empty()) {
    answer = nlohmann::json::parse(reply, nullptr, false);
    if (!answer.is_object()) failure = "answered something other than a JSON object";
  }
  if (failure.empty() && answer.contains("refusal")) {
    const auto& r = answer["refusal"];
    auto text = [&](const char* key) {
      return r.is_object() && r.contains(key) && r[key].is_string() ? r[key].get<std::string>() : std::string();
    };
    std::string code = text("code"), message = text("message");
    if (code.empty() || code.size() > 128 || message.size() > 1000)
      failure = "answered a refusal without a code (or too long)";
    else {
      Error e = Error::unprocessable(code, message.empty() ? "refused by " + name : message);
      e.details = {{"provider", name}, {"plugin", g->plugin}};
      return e;
    }
  }
  if (!failure.empty()) {
    slot->errors.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::error, "plugin provider failed",
        {{"plugin", g->plugin}, {"provider", kind + "/" + name}, {"operation", operation}, {"detail", failure}});
    return plugin_error(g->plugin, "plugin '" + g->plugin + "' failed in " + kind + " provider '" + name + "' (" +
                                       operation + "): " + failure);
  }
  return answer;
}

void PluginHost::report_invalid(const std::string& kind, const std::string& name, const std::string& detail) {
  std::string plugin;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_)
      if (s->current)
        for (const auto& p : s->current->providers)
          if (p.kind == kind && p.name == name) {
            s->errors.fetch_add(1, std::memory_order_relaxed);
            plugin = s->info.name;
          }
  }
  log(LogLevel::error, "plugin provider answered something unusable",
      {{"plugin", plugin}, {"provider", kind + "/" + name}, {"detail", detail}});
}

void PluginHost::deliver(const events::Event& event) {
  if (stopped_) return;
  struct Target {
    std::shared_ptr<Generation> g;
    Slot* slot;
    Generation::Subscription sub;
  };
  std::vector<Target> targets;
  {
    std::shared_lock lock(mutex_);
    for (const auto& s : slots_)
      if (s->current)
        for (const auto& sub : s->current->subscriptions)
          if (events::matches(sub.pattern, event.type)) targets.push_back({s->current, s.get(), sub});
  }
  if (targets.empty()) return;
  // Owned by the work of each handler, which may outlive this delivery past its deadline.
  struct EventCopy {
    std::string id, type, data;
    std::int64_t occurred_at = 0;
  };
  auto copy = std::make_shared<const EventCopy>(EventCopy{event.id, event.type, event.data.dump(), event.occurred_at});
  for (const auto& t : targets) {
    std::string failure;
    const std::string& plugin = t.g->plugin;
    // One handler of a plugin at a time: while one runs past its deadline, the plugin gets no events.
    if (t.slot->event_running.exchange(true)) {
      failure = "skipped: an earlier event handler of this plugin is still running past its deadline";
    } else {
      struct EventCall {
        std::shared_ptr<Generation> g;
        Generation::Subscription sub;
        std::shared_ptr<const EventCopy> event;
        // Clears the slot's event_running when the last owner goes: the work once it returned,
        // or dropped without running (refused, or past its deadline while still queued).
        std::shared_ptr<Slot> running;
        char err[kErrCap] = {0};
        std::string failure;
        // Set once the call was handed to the runner: a deadline passed before that (in the queue) is
        // no reason to kill the runner.
        std::shared_ptr<std::atomic<bool>> sent = std::make_shared<std::atomic<bool>>(false);
      };
      std::shared_ptr<Slot> running(t.slot, [](Slot* slot) { slot->event_running = false; });
      auto call = std::make_shared<EventCall>(EventCall{t.g, t.sub, copy, std::move(running), {0}, {}});
      auto timeout = timeout_of(*t.slot);
      auto outcome = pool_->run(plugin, timeout, [call] {
        const EventCopy& ev = *call->event;
        if (const auto& runner = call->g->runner) {
          wire::Writer w;
          w.u64(index_of(call->sub.user)).str(ev.id).str(ev.type).i64(ev.occurred_at).str(ev.data);
          *call->sent = true;
          auto reply = runner->call(wire::Kind::event, w.take());
          if (!reply) {
            call->failure = kCrashed;
            return;
          }
          wire::Reader r(*reply);
          call->failure = r.str();
          if (r.failed()) call->failure = "its runner sent a malformed reply";
          return;
        }
        quanqu_event e{sizeof(quanqu_event), str(ev.id), str(ev.type), ev.occurred_at, str(ev.data)};
        try {
          quanqu_status status = call->sub.fn(call->sub.user, &e, call->err, sizeof call->err);
          if (status != QUANQU_OK) call->failure = message_from(call->err, status);
        } catch (const std::exception& ex) {
          call->failure = std::string("threw: ") + ex.what();
        } catch (...) {
          call->failure = "threw an unknown exception";
        }
      });
      if (outcome != CallOutcome::done) {
        if (outcome == CallOutcome::timed_out && t.g->runner && *call->sent) t.g->runner->kill("deadline");
        log_outcome(plugin, "event", outcome, timeout, {{"event", event.type}, {"event_id", event.id}});
        failure = outcome == CallOutcome::timed_out ? "did not return within " + std::to_string(timeout.count()) + " ms"
                                                    : "could not run: the plugin call pool is full";
      } else {
        failure = std::move(call->failure);
      }
    }
    if (failure.empty()) continue;
    t.slot->errors.fetch_add(1, std::memory_order_relaxed);
    t.slot->event_errors.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::error, "plugin event handler failed",
        {{"plugin", plugin}, {"event", event.type}, {"event_id", event.id}, {"detail", failure}});
  }
}

}  // namespace quanqu::plugins
