// Loads plugin libraries with Boost.DLL and implements the C host table of quanqu/sdk/abi.h for each.
#include "plugins/plugin_host.h"

#include <quanqu/sdk/abi.h>

#include <dlfcn.h>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>

// The opaque response handle of abi.h: what a route handler fills through the host table.
struct quanqu_response {
  quanqu::plugins::PluginResponse* out;
};

namespace quanqu::plugins {

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

struct PluginHost::Loaded {
  PluginInfo info;
  KvStore* kv = nullptr;
  const Clock* clock = nullptr;
  const LogSink* log = nullptr;

  boost::dll::shared_library library;
  const quanqu_plugin_descriptor* descriptor = nullptr;
  quanqu_host table{};
  void* instance = nullptr;
  bool initialised = false;  // init succeeded and stop has not run yet
  std::atomic<bool> starting{false};

  struct Route {
    std::string method;
    std::string pattern;
    quanqu_route_fn fn = nullptr;
    void* user = nullptr;
  };
  std::vector<Route> routes;
  std::atomic<std::uint64_t> errors{0};
};

namespace {

using Loaded = PluginHost::Loaded;

constexpr std::size_t kErrCap = 1024;
// The descriptor as ABI 1.0 defines it: anything smaller is not a valid plugin.
constexpr std::size_t kDescriptorV1Size =
    offsetof(quanqu_plugin_descriptor, stop) + sizeof(quanqu_plugin_descriptor::stop);

std::string view(quanqu_str s) {
  return s.size && s.data ? std::string(s.data, s.size) : std::string();
}
quanqu_str str(const std::string& s) {
  return quanqu_str{s.data(), s.size()};
}

void write_error(char* err, std::size_t cap, std::string_view message) noexcept {
  if (!err || cap == 0) return;
  std::size_t n = std::min(message.size(), cap - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// The plugin's message from its error buffer, or a stand-in when it wrote none.
std::string message_from(const char* buffer, quanqu_status status) {
  std::size_t n = strnlen(buffer, kErrCap);
  if (n) return std::string(buffer, n);
  return "status " + std::to_string(status) + " without a message";
}

quanqu_status status_of(const Error& e) {
  switch (e.kind) {
    case ErrorKind::invalid_argument:
      return QUANQU_ERR_INVALID;
    case ErrorKind::not_found:
      return QUANQU_ERR_NOT_FOUND;
    case ErrorKind::unavailable:
      return QUANQU_ERR_UNAVAILABLE;
    default:
      return QUANQU_ERR_INTERNAL;
  }
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
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string_view seg(p.data() + start, end - start);
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
    start = end + 1;
  }
  return true;
}

// ---- The host table (abi.h). Each function catches everything: nothing throws into a plugin. ----

void host_log(void* ctx, quanqu_log_level level, quanqu_str message) {
  try {
    auto* p = static_cast<Loaded*>(ctx);
    LogLevel l = level <= QUANQU_LOG_DEBUG  ? LogLevel::debug
                 : level == QUANQU_LOG_INFO ? LogLevel::info
                 : level == QUANQU_LOG_WARN ? LogLevel::warn
                                            : LogLevel::error;
    (*p->log)(l, view(message), nlohmann::json{{"plugin", p->info.name}});
  } catch (...) {
  }
}

int64_t host_now_ms(void* ctx) {
  try {
    return static_cast<Loaded*>(ctx)->clock->now_ms();
  } catch (...) {
    return 0;
  }
}

// Runs the body of a host function that reports a status: an exception becomes
// QUANQU_ERR_INTERNAL with its message, so nothing ever throws into a plugin.
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

// Writes a core error into the plugin's buffer and returns its status.
quanqu_status refuse(char* err, size_t err_cap, const Error& e) {
  write_error(err, err_cap, e.message);
  return status_of(e);
}

quanqu_status host_kv_get(void* ctx, quanqu_str key, quanqu_string_sink sink, void* sink_user, char* err,
                          size_t err_cap) {
  return guarded(err, err_cap, [&] {
    auto* p = static_cast<Loaded*>(ctx);
    auto got = p->kv->get(p->info.name, view(key));
    if (!got) return refuse(err, err_cap, got.error());
    if (!got->has_value()) return QUANQU_ERR_NOT_FOUND;
    if (sink) sink(sink_user, (*got)->data(), (*got)->size());
    return QUANQU_OK;
  });
}

quanqu_status host_kv_put(void* ctx, quanqu_str key, quanqu_str value, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    auto* p = static_cast<Loaded*>(ctx);
    auto put = p->kv->put(p->info.name, view(key), view(value));
    return put ? QUANQU_OK : refuse(err, err_cap, put.error());
  });
}

quanqu_status host_kv_delete(void* ctx, quanqu_str key, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    auto* p = static_cast<Loaded*>(ctx);
    auto removed = p->kv->remove(p->info.name, view(key));
    return removed ? QUANQU_OK : refuse(err, err_cap, removed.error());
  });
}

quanqu_status host_register_route(void* ctx, quanqu_str method, quanqu_str pattern, quanqu_route_fn fn, void* user,
                                  char* err, size_t err_cap) {
  return guarded(err, err_cap, [&]() -> quanqu_status {
    auto* p = static_cast<Loaded*>(ctx);
    if (!p->starting.load()) {
      write_error(err, err_cap, "routes can only be registered during start");
      return QUANQU_ERR_STATE;
    }
    std::string m = view(method), pat = view(pattern);
    if (!valid_method(m)) {
      write_error(err, err_cap, "method must be one of GET, POST, PUT, PATCH, DELETE; got '" + m + "'");
      return QUANQU_ERR_INVALID;
    }
    if (!valid_pattern(pat)) {
      write_error(err, err_cap,
                  "pattern must start with '/' and consist of URL-safe segments or {placeholders}; got '" + pat + "'");
      return QUANQU_ERR_INVALID;
    }
    if (!fn) {
      write_error(err, err_cap, "no handler function");
      return QUANQU_ERR_INVALID;
    }
    for (const auto& r : p->routes)
      if (r.method == m && r.pattern == pat) {
        write_error(err, err_cap, m + " " + pat + " is registered twice");
        return QUANQU_ERR_INVALID;
      }
    p->routes.push_back({std::move(m), std::move(pat), fn, user});
    return QUANQU_OK;
  });
}

void host_response_set(quanqu_response* response, int32_t status, quanqu_str content_type, quanqu_str body) {
  try {
    if (!response || !response->out) return;
    response->out->status = status;
    response->out->content_type = view(content_type);
    response->out->body = view(body);
  } catch (...) {
  }
}

void host_response_add_header(quanqu_response* response, quanqu_str name, quanqu_str value) {
  try {
    if (!response || !response->out) return;
    response->out->headers.emplace_back(view(name), view(value));
  } catch (...) {
  }
}

}  // namespace

PluginHost::PluginHost(storage::Database& db, const Clock& clock, LogSink log)
    : db_(db), clock_(clock), log_(std::move(log)), kv_(db, clock) {
  if (!log_) log_ = [](LogLevel, std::string_view, const nlohmann::json&) {};
}

PluginHost::~PluginHost() {
  stop_all();
}

void PluginHost::log(LogLevel level, std::string_view message, const nlohmann::json& fields) const {
  try {
    log_(level, message, fields);
  } catch (...) {
  }
}

void PluginHost::fail(Loaded& p, std::string reason) {
  p.info.status = PluginStatus::failed;
  p.info.reason = std::move(reason);
  p.info.routes.clear();
  p.routes.clear();
  log(LogLevel::error, "plugin failed to load",
      {{"plugin", p.info.name}, {"reason", p.info.reason}, {"manifest", p.info.manifest.string()}});
}

void PluginHost::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    log(LogLevel::info, "no plugins directory; no plugins loaded", {{"plugins_dir", dir.string()}});
    return;
  }
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
  for (const auto& [manifest, name] : found) {
    try {
      load_one(manifest, name);
    } catch (const std::exception& e) {  // a bug in the runtime itself; still never fatal
      if (!plugins_.empty() && plugins_.back()->info.status != PluginStatus::loaded &&
          plugins_.back()->info.reason.empty())
        fail(*plugins_.back(), std::string("internal error while loading: ") + e.what());
    }
  }
  std::size_t loaded = 0;
  for (const auto& p : plugins_) loaded += p->info.status == PluginStatus::loaded;
  log(LogLevel::info, "plugins loaded",
      {{"plugins_dir", dir.string()},
       {"loaded", loaded},
       {"failed", plugins_.size() - loaded},
       {"sdk_abi", host_abi().text()}});
}

void PluginHost::load_one(const std::filesystem::path& manifest_path, const std::string& fallback_name) {
  plugins_.push_back(std::make_unique<Loaded>());
  Loaded& p = *plugins_.back();
  p.info.name = fallback_name;
  p.info.manifest = manifest_path;
  p.kv = &kv_;
  p.clock = &clock_;
  p.log = &log_;

  auto manifest = read_manifest(manifest_path);
  if (!manifest) return fail(p, manifest.error().message);
  const Manifest& m = *manifest;
  p.info.name = m.name;
  p.info.version = m.version;
  p.info.description = m.description;
  p.info.provides = m.provides;
  p.info.abi = m.sdk_abi;
  p.info.library = manifest_path.parent_path() / m.library;

  for (const auto& other : plugins_)
    if (other.get() != &p && other->info.name == m.name && !other->info.version.empty())
      return fail(p, "another plugin named '" + m.name + "' was found first, in " + other->info.manifest.string());

  if (!abi_compatible(m.sdk_abi, host_abi())) return fail(p, abi_refusal(m.name, m.sdk_abi, true));

  std::error_code fs_ec;
  if (!std::filesystem::is_regular_file(p.info.library, fs_ec))
    return fail(p, "library file not found: " + p.info.library.string());

  // Loading runs the library's static initialisers: the one thing we cannot check beforehand.
  boost::dll::fs::error_code ec;
  dlerror();
  p.library.load(boost::dll::fs::path(p.info.library.string()), ec,
                 boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec || !p.library.is_loaded()) {
    const char* detail = dlerror();
    return fail(p, "cannot load " + p.info.library.string() + ": " + (detail ? detail : ec.message()));
  }
  if (!p.library.has(QUANQU_PLUGIN_ENTRY_SYMBOL))
    return fail(p, "the library " + p.info.library.string() + " exports no " + QUANQU_PLUGIN_ENTRY_SYMBOL +
                       " symbol (export it with QUANQU_PLUGIN, see docs/sdk.md)");

  auto& entry = p.library.get<const quanqu_plugin_descriptor*()>(QUANQU_PLUGIN_ENTRY_SYMBOL);
  try {
    p.descriptor = entry();
  } catch (const std::exception& e) {
    return fail(p, std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " threw: " + e.what());
  } catch (...) {
    return fail(p, std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " threw");
  }
  if (!p.descriptor) return fail(p, std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " returned no descriptor");

  // The ABI check comes before anything else of the plugin is touched.
  AbiVersion built{p.descriptor->abi_major, p.descriptor->abi_minor};
  p.info.abi = built;
  if (!abi_compatible(built, host_abi())) return fail(p, abi_refusal(m.name, built, false));

  const quanqu_plugin_descriptor& d = *p.descriptor;
  if (d.size < kDescriptorV1Size || !d.name || !d.version || !d.init || !d.start || !d.stop)
    return fail(p, "the plugin descriptor is incomplete (size, name, version, init, start and stop are required)");
  if (m.name != d.name)
    return fail(p, "the library calls itself '" + std::string(d.name) + "' but its manifest says '" + m.name + "'");
  if (m.version != d.version)
    return fail(p, "the library has version " + std::string(d.version) + " but its manifest says " + m.version);
  if (!(built == m.sdk_abi))
    return fail(p, "the manifest declares SDK ABI " + m.sdk_abi.text() + " but the library was built for SDK ABI " +
                       built.text());

  quanqu_host& t = p.table;
  t.size = sizeof(quanqu_host);
  t.abi_major = QUANQU_SDK_ABI_MAJOR;
  t.abi_minor = QUANQU_SDK_ABI_MINOR;
  t.ctx = &p;
  t.log = &host_log;
  t.now_ms = &host_now_ms;
  t.kv_get = &host_kv_get;
  t.kv_put = &host_kv_put;
  t.kv_delete = &host_kv_delete;
  t.register_route = &host_register_route;
  t.response_set = &host_response_set;
  t.response_add_header = &host_response_add_header;

  char err[kErrCap] = {0};
  quanqu_status status = QUANQU_ERR_INTERNAL;
  try {
    status = d.init(&p.table, &p.instance, err, sizeof err);
  } catch (const std::exception& e) {
    return fail(p, std::string("init threw: ") + e.what());
  } catch (...) {
    return fail(p, "init threw an unknown exception");
  }
  if (status != QUANQU_OK) return fail(p, "init failed: " + message_from(err, status));
  p.initialised = true;

  std::memset(err, 0, sizeof err);
  std::string start_error;
  p.starting = true;
  try {
    status = d.start(p.instance, err, sizeof err);
    if (status != QUANQU_OK) start_error = "start failed: " + message_from(err, status);
  } catch (const std::exception& e) {
    start_error = std::string("start threw: ") + e.what();
  } catch (...) {
    start_error = "start threw an unknown exception";
  }
  p.starting = false;
  if (!start_error.empty()) {
    p.routes.clear();
    try {
      d.stop(p.instance);
    } catch (...) {
    }
    p.initialised = false;
    p.instance = nullptr;
    return fail(p, start_error);
  }

  p.info.status = PluginStatus::loaded;
  nlohmann::json route_list = nlohmann::json::array();
  for (std::size_t i = 0; i < p.routes.size(); ++i) {
    const auto& r = p.routes[i];
    p.info.routes.push_back({r.method, r.pattern});
    MountedRoute mounted{routes_.size(), p.info.name, r.method, r.pattern,
                         "/v1/plugins/" + p.info.name + (r.pattern == "/" ? "" : r.pattern)};
    route_list.push_back(r.method + " " + mounted.path);
    routes_.push_back(std::move(mounted));
    targets_.emplace_back(&p, i);
  }
  log(LogLevel::info, "plugin loaded",
      {{"plugin", p.info.name}, {"version", p.info.version}, {"sdk_abi", built.text()}, {"routes", route_list}});
}

void PluginHost::stop_all() {
  std::unique_lock lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
    Loaded& p = **it;
    if (!p.initialised) continue;
    try {
      p.descriptor->stop(p.instance);
    } catch (...) {
      log(LogLevel::error, "plugin threw while stopping", {{"plugin", p.info.name}});
    }
    p.initialised = false;
    p.instance = nullptr;
    p.routes.clear();
    if (p.info.status == PluginStatus::loaded) p.info.status = PluginStatus::stopped;
  }
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
    (*it)->descriptor = nullptr;
    (*it)->library.unload();
  }
}

std::vector<PluginInfo> PluginHost::plugins() const {
  std::shared_lock lock(mutex_);
  std::vector<PluginInfo> out;
  out.reserve(plugins_.size());
  for (const auto& p : plugins_) {
    out.push_back(p->info);
    out.back().errors = p->errors.load(std::memory_order_relaxed);
  }
  return out;
}

std::vector<MountedRoute> PluginHost::routes() const {
  std::shared_lock lock(mutex_);
  return routes_;
}

std::vector<std::pair<std::string, std::uint64_t>> PluginHost::error_counts() const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& p : plugins_)
    if (p->info.status != PluginStatus::failed)
      out.emplace_back(p->info.name, p->errors.load(std::memory_order_relaxed));
  return out;
}

Result<PluginResponse> PluginHost::call(std::size_t route_id, const PluginRequest& request) {
  auto plugin_error = [](const std::string& plugin, std::string message) {
    Error e{ErrorKind::internal, "plugin_error", std::move(message), {}, nlohmann::json{{"plugin", plugin}}, {}};
    return e;
  };
  std::shared_lock lock(mutex_);
  if (route_id >= targets_.size()) return Error::not_found("plugin.route_not_found", "no such plugin route");
  auto [p, index] = targets_[route_id];
  const MountedRoute& mounted = routes_[route_id];
  if (stopped_ || !p->initialised || index >= p->routes.size())
    return plugin_error(mounted.plugin, "plugin '" + mounted.plugin + "' is stopped");
  const Loaded::Route& route = p->routes[index];

  auto pairs = [](const std::vector<std::pair<std::string, std::string>>& in) {
    std::vector<quanqu_pair> out;
    out.reserve(in.size());
    for (const auto& [n, v] : in) out.push_back({str(n), str(v)});
    return out;
  };
  auto params = pairs(request.params), query = pairs(request.query), headers = pairs(request.headers);
  quanqu_request in{};
  in.size = sizeof(quanqu_request);
  in.method = str(request.method);
  in.path = str(request.path);
  in.body = str(request.body);
  in.channel_id = str(request.channel_id);
  in.request_id = str(request.request_id);
  in.params = params.data();
  in.param_count = params.size();
  in.query = query.data();
  in.query_count = query.size();
  in.headers = headers.data();
  in.header_count = headers.size();

  PluginResponse response;
  quanqu_response out{&response};
  char err[kErrCap] = {0};
  std::string failure;
  try {
    quanqu_status status = route.fn(route.user, &in, &out, err, sizeof err);
    if (status != QUANQU_OK) failure = message_from(err, status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw an unknown exception";
  }
  if (failure.empty() && (response.status < 100 || response.status > 599))
    failure = "replied with an invalid status " + std::to_string(response.status);
  if (!failure.empty()) {
    p->errors.fetch_add(1, std::memory_order_relaxed);
    std::string message =
        "plugin '" + mounted.plugin + "' failed on " + mounted.method + " " + mounted.pattern + ": " + failure;
    log(LogLevel::error, "plugin route failed",
        {{"plugin", mounted.plugin},
         {"route", mounted.method + " " + mounted.path},
         {"detail", failure},
         {"request_id", request.request_id}});
    return plugin_error(mounted.plugin, std::move(message));
  }
  if (response.status == 204 && response.content_type.empty() && response.body.empty()) return response;
  if (response.content_type.empty()) response.content_type = "application/octet-stream";
  return response;
}

}  // namespace quanqu::plugins
