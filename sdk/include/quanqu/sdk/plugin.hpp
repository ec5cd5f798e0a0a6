// The partner-facing C++ layer over quanqu/sdk/abi.h: Plugin, Host, Request/Response and QUANQU_PLUGIN.
#pragma once

/*
 * Header-only. A plugin derives from quanqu::sdk::Plugin, implements start(Host&), and exports
 * itself with QUANQU_PLUGIN(ClassName, "name", "version") in exactly one .cpp file:
 *
 *   class Hello : public quanqu::sdk::Plugin {
 *    public:
 *     void start(quanqu::sdk::Host& host) override {
 *       host.route("GET", "/hello", [](const quanqu::sdk::Request&) {
 *         return quanqu::sdk::Response::json(200, R"({"hello":"world"})");
 *       });
 *     }
 *   };
 *   QUANQU_PLUGIN(Hello, "hello", "1.0.0")
 *
 * Exceptions are allowed inside the plugin; this layer catches every exception at the boundary
 * and turns it into an error status: from the constructor or start() the plugin is marked failed
 * (with e.what() as the reason), from a route handler the client gets a 502 "plugin_error".
 * Nothing ever propagates into the server.
 *
 * The export macro defines a plain `extern "C"` function named quanqu_plugin_entry_v1 with default
 * visibility; the server resolves it with boost::dll::shared_library::get (import_symbol works
 * too). It is deliberately not BOOST_DLL_ALIAS: the SDK then needs no Boost at all, and the
 * symbol is a plain C function whose name never depends on a C++ mangling.
 */

#include "quanqu/sdk/abi.h"
#include "quanqu/sdk/http.hpp"

#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace quanqu::sdk {

// A failure reported by the host (kv, route registration), thrown inside the plugin by Host.
class Error : public std::runtime_error {
 public:
  Error(quanqu_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  quanqu_status status() const noexcept { return status_; }

 private:
  quanqu_status status_;
};

enum class LogLevel : quanqu_log_level {
  debug = QUANQU_LOG_DEBUG,
  info = QUANQU_LOG_INFO,
  warn = QUANQU_LOG_WARN,
  error = QUANQU_LOG_ERROR,
};

// Handles a request to one of the plugin's routes. May throw (the layer turns it into a 502).
using RouteHandler = std::function<Response(const Request&)>;

namespace detail {

inline quanqu_str view(std::string_view s) noexcept {
  return quanqu_str{s.data(), s.size()};
}
inline std::string copy(quanqu_str s) {
  return s.size ? std::string(s.data, s.size) : std::string();
}

// Writes a NUL-terminated, truncated message into a caller-owned buffer.
inline void write_error(char* err, std::size_t cap, std::string_view message) noexcept {
  if (!err || cap == 0) return;
  std::size_t n = message.size() < cap - 1 ? message.size() : cap - 1;
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// Copies a host error buffer into an exception.
[[noreturn]] inline void throw_error(quanqu_status status, const char* what, const char* buffer) {
  std::string message = what;
  if (buffer && *buffer) message += std::string(": ") + buffer;
  throw Error(status, message);
}

// Runs `body`, a callback the host calls into: an exception becomes QUANQU_ERR_PLUGIN with its
// message in `err`, so that nothing ever throws across the C boundary.
template <class Body>
quanqu_status guarded(char* err, std::size_t err_cap, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    write_error(err, err_cap, e.what());
  } catch (...) {
    write_error(err, err_cap, "unknown exception");
  }
  return QUANQU_ERR_PLUGIN;
}

}  // namespace detail

// The server as the plugin sees it. Valid from start() until stop() has returned; every member
// is thread-safe. Methods throw quanqu::sdk::Error when the host reports a failure.
class Host {
 public:
  explicit Host(const quanqu_host* host) noexcept : host_(host) {}
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // A log line from the plugin (the server adds the plugin's name). Never throws.
  void log(LogLevel level, std::string_view message) const noexcept {
    host_->log(host_->ctx, static_cast<quanqu_log_level>(level), detail::view(message));
  }
  void info(std::string_view message) const noexcept { log(LogLevel::info, message); }
  void warn(std::string_view message) const noexcept { log(LogLevel::warn, message); }
  void error(std::string_view message) const noexcept { log(LogLevel::error, message); }

  // The server's clock, in milliseconds since the Unix epoch.
  std::int64_t now_ms() const noexcept { return host_->now_ms(host_->ctx); }

  // The plugin's own persistent key-value store (keys 1..256 bytes, values up to 64 KiB).
  std::optional<std::string> kv_get(std::string_view key) const {
    std::string value;
    char err[512] = {0};
    auto sink = [](void* user, const char* data, std::size_t size) {
      static_cast<std::string*>(user)->assign(data, size);
    };
    quanqu_status s = host_->kv_get(host_->ctx, detail::view(key), sink, &value, err, sizeof err);
    if (s == QUANQU_ERR_NOT_FOUND) return std::nullopt;
    if (s != QUANQU_OK) detail::throw_error(s, "kv_get failed", err);
    return value;
  }
  void kv_put(std::string_view key, std::string_view value) const {
    char err[512] = {0};
    quanqu_status s = host_->kv_put(host_->ctx, detail::view(key), detail::view(value), err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, "kv_put failed", err);
  }
  void kv_delete(std::string_view key) const {
    char err[512] = {0};
    quanqu_status s = host_->kv_delete(host_->ctx, detail::view(key), err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, "kv_delete failed", err);
  }

  // Registers a route under /v1/plugins/<plugin name><pattern> (call it from start() only).
  // `pattern` starts with "/"; "{id}" segments arrive in Request::params.
  void route(std::string method, std::string pattern, RouteHandler handler) {
    routes_.push_back(Route{this, std::move(handler)});
    Route& r = routes_.back();
    char err[512] = {0};
    quanqu_status s = host_->register_route(host_->ctx, detail::view(method), detail::view(pattern), &Host::trampoline,
                                            &r, err, sizeof err);
    if (s != QUANQU_OK) {
      routes_.pop_back();
      detail::throw_error(s, ("cannot register " + method + " " + pattern).c_str(), err);
    }
  }

  // The raw C host table, for functions this layer does not wrap yet.
  const quanqu_host* raw() const noexcept { return host_; }

 private:
  struct Route {
    Host* host;
    RouteHandler handler;
  };

  static quanqu_status trampoline(void* user, const quanqu_request* in, quanqu_response* out, char* err,
                                  std::size_t err_cap) noexcept {
    return detail::guarded(err, err_cap, [&]() -> quanqu_status {
      auto* route = static_cast<Route*>(user);
      Request request;
      request.method = detail::copy(in->method);
      request.path = detail::copy(in->path);
      request.body = detail::copy(in->body);
      request.channel_id = detail::copy(in->channel_id);
      request.request_id = detail::copy(in->request_id);
      for (std::size_t i = 0; i < in->param_count; ++i)
        request.params[detail::copy(in->params[i].name)] = detail::copy(in->params[i].value);
      for (std::size_t i = 0; i < in->query_count; ++i)
        request.query[detail::copy(in->query[i].name)] = detail::copy(in->query[i].value);
      for (std::size_t i = 0; i < in->header_count; ++i)
        request.headers.emplace_back(detail::copy(in->headers[i].name), detail::copy(in->headers[i].value));
      Response response = route->handler(request);
      const quanqu_host* h = route->host->host_;
      h->response_set(out, response.status, detail::view(response.content_type), detail::view(response.body));
      for (const auto& [name, value] : response.headers)
        h->response_add_header(out, detail::view(name), detail::view(value));
      return QUANQU_OK;
    });
  }

  const quanqu_host* host_;
  std::list<Route> routes_;  // stable addresses: the host holds pointers to them
};

// The base class of a plugin. One instance per loaded library, constructed by the server at
// init (a throwing constructor fails the plugin) and destroyed after stop().
class Plugin {
 public:
  virtual ~Plugin() = default;
  // Register routes and read state here. Throw to refuse to start (the message becomes the reason).
  virtual void start(Host& host) = 0;
  // Called once before destruction, when no request is being handled. Exceptions are swallowed.
  virtual void stop() {}
};

namespace detail {

// One loaded plugin: the partner's object and the Host wrapper it was given.
struct Instance {
  explicit Instance(const quanqu_host* h) : host(h) {}
  Host host;
  std::unique_ptr<Plugin> plugin;
};

template <class P>
quanqu_status init(const quanqu_host* host, void** instance, char* err, std::size_t err_cap) noexcept {
  return guarded(err, err_cap, [&]() -> quanqu_status {
    if (!host || host->size < offsetof(quanqu_host, response_add_header) + sizeof(host->response_add_header)) {
      write_error(err, err_cap, "the host table is smaller than SDK ABI 1.0 requires");
      return QUANQU_ERR_INVALID;
    }
    auto made = std::make_unique<Instance>(host);
    made->plugin = std::make_unique<P>();
    *instance = made.release();
    return QUANQU_OK;
  });
}

inline quanqu_status start(void* instance, char* err, std::size_t err_cap) noexcept {
  return guarded(err, err_cap, [&]() -> quanqu_status {
    auto* i = static_cast<Instance*>(instance);
    i->plugin->start(i->host);
    return QUANQU_OK;
  });
}

inline void stop(void* instance) noexcept {
  auto* i = static_cast<Instance*>(instance);
  try {
    i->plugin->stop();
  } catch (...) {
  }
  try {
    delete i;
  } catch (...) {
  }
}

}  // namespace detail
}  // namespace quanqu::sdk

// Exports `ClassName` (default-constructible, derived from quanqu::sdk::Plugin) as the plugin
// `name` (a string literal equal to the manifest's name) at `version`. Use once per library,
// at namespace scope in one .cpp file. The SDK ABI version compiled in is this header's.
#define QUANQU_PLUGIN(ClassName, name, version)                                                  \
  extern "C" QUANQU_SDK_EXPORT const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void) {    \
    static const quanqu_plugin_descriptor descriptor = {QUANQU_SDK_ABI_MAJOR,                    \
                                                        QUANQU_SDK_ABI_MINOR,                    \
                                                        sizeof(quanqu_plugin_descriptor),        \
                                                        name,                                    \
                                                        version,                                 \
                                                        &::quanqu::sdk::detail::init<ClassName>, \
                                                        &::quanqu::sdk::detail::start,           \
                                                        &::quanqu::sdk::detail::stop};           \
    return &descriptor;                                                                          \
  }
