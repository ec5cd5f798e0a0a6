// The partner-facing C++ layer over quanqu/sdk/abi.h: Plugin, Host, Request/Response and QUANQU_PLUGIN.
#pragma once

/*
 * Header-only. A plugin derives from quanqu::sdk::Plugin, implements start(Host&), and exports
 * itself with QUANQU_PLUGIN(ClassName) in exactly one .cpp file (the name and version come from
 * plugin.json, through quanqu_add_plugin; see the macro at the end):
 *
 *   class Hello : public quanqu::sdk::Plugin {
 *    public:
 *     void start(quanqu::sdk::Host& host) override {
 *       host.route("GET", "/hello", [](const quanqu::sdk::Request&) {
 *         return quanqu::sdk::Response::json(200, R"({"hello":"world"})");
 *       });
 *     }
 *   };
 *   QUANQU_PLUGIN(Hello)
 *
 * Exceptions are allowed inside the plugin; this layer catches every exception at the boundary
 * and turns it into an error status: from the constructor or start() the plugin is marked failed
 * (with e.what() as the reason), from a route handler the client gets a 502 "plugin_error".
 * Except for refusals (refusal_reply below): a route handler that lets a ServiceError with a 4xx
 * status (a core service refused a Host::call) propagate answers the core's own problem, as the
 * HTTP API would have; one that lets a host Error with status NOT_FOUND, INVALID or STATE
 * propagate answers 404, 400 or 409 problem+json. Nothing ever propagates into the server.
 *
 * The export macro defines a plain `extern "C"` function named quanqu_plugin_entry_v1 with default
 * visibility; the server resolves it with boost::dll::shared_library::get (import_symbol works
 * too). It is deliberately not BOOST_DLL_ALIAS: the SDK then needs no Boost at all, and the
 * symbol is a plain C function whose name never depends on a C++ mangling.
 */

#include "quanqu/sdk/abi.h"
#include "quanqu/sdk/http.hpp"
#include "quanqu/sdk/providers.hpp"

#include <nlohmann/json.hpp>

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
#include <vector>

// quanqu_add_plugin compiles in the manifest's "sdk_abi"; the server refuses a plugin whose
// manifest declares another ABI than the one compiled into the library, so refuse it here first.
#if defined(QUANQU_PLUGIN_SDK_ABI_MAJOR) && defined(QUANQU_PLUGIN_SDK_ABI_MINOR)
#if QUANQU_PLUGIN_SDK_ABI_MAJOR != QUANQU_SDK_ABI_MAJOR || QUANQU_PLUGIN_SDK_ABI_MINOR != QUANQU_SDK_ABI_MINOR
#error "plugin.json's \"sdk_abi\" differs from this SDK's (QUANQU_SDK_ABI_MAJOR/MINOR in abi.h): set it to that"
#endif
#endif

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

// A core service refused a call (Host::call): the HTTP status, stable code and fields the API
// would have answered. Let a 4xx one propagate from a route handler and the client gets that
// refusal (problem_reply(e): the same status, code, detail and fields, as
// application/problem+json); a 5xx one becomes a 502. Catch it to answer something else.
class ServiceError : public Error {
 public:
  ServiceError(quanqu_status status, Json problem)
      : Error(status, problem.value("code", std::string("unknown")) + ": " + problem.value("detail", std::string())),
        problem_(std::move(problem)) {}
  int http_status() const { return problem_.value("status", 500); }
  std::string code() const { return problem_.value("code", std::string()); }
  std::string detail() const { return problem_.value("detail", std::string()); }
  const Json& problem() const noexcept { return problem_; }

 private:
  Json problem_;
};

// The core's refusal as this route's reply: the same status, code, detail and fields.
inline Response problem_reply(const ServiceError& e) {
  Json body = e.problem();
  body["type"] = "about:blank";
  body["title"] = e.code();
  return Response{e.http_status(), "application/problem+json", body.dump(), {}};
}

// What a route handler answers for an exception it lets propagate, when the exception is a
// refusal rather than a failure: a ServiceError with a 4xx status answers the core's problem
// (problem_reply); a host Error answers problem+json by its status, QUANQU_ERR_NOT_FOUND 404
// "plugin.not_found", QUANQU_ERR_INVALID 400 "plugin.invalid", QUANQU_ERR_STATE 409
// "plugin.conflict", with the error's message as detail. Anything else (a core 5xx, UNAVAILABLE,
// INTERNAL, a plain exception) is a failure: nothing here, and the server answers 502
// "plugin_error" and counts it. Catch a host Error yourself where it means a bug of the plugin
// rather than a bad request.
inline std::optional<Response> refusal_reply(const Error& e) {
  if (const auto* service = dynamic_cast<const ServiceError*>(&e)) {
    if (service->http_status() < 400 || service->http_status() > 499) return std::nullopt;
    return problem_reply(*service);
  }
  switch (e.status()) {
    case QUANQU_ERR_NOT_FOUND:
      return Response::problem(404, "plugin.not_found", e.what());
    case QUANQU_ERR_INVALID:
      return Response::problem(400, "plugin.invalid", e.what());
    case QUANQU_ERR_STATE:
      return Response::problem(409, "plugin.conflict", e.what());
    default:
      return std::nullopt;
  }
}

// A domain event delivered to a subscriber (see Host::on).
struct Event {
  std::string id;
  std::string type;
  std::int64_t occurred_at_ms = 0;
  Json data;  // the event's fields (docs/sdk.md, "Events")
};

// One key of Host::kv_list, with its expiry (ms since the Unix epoch) when it has one.
struct KvEntry {
  std::string key;
  std::string value;
  std::optional<std::int64_t> expires_at_ms;
};

// A page of Host::kv_list. next_cursor is set while more keys may match: pass it back as cursor.
struct KvPage {
  std::vector<KvEntry> items;
  std::optional<std::string> next_cursor;
};

// Handles a request to one of the plugin's routes. May throw: a refusal (refusal_reply) is
// answered as such, anything else with a 502.
using RouteHandler = std::function<Response(const Request&)>;
// Handles a domain event. May throw (the host logs it and counts it against the plugin).
using EventHandler = std::function<void(const Event&)>;

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

// A string sink (abi.h) that assigns into the std::string given as sink_user.
inline void assign_sink(void* user, const char* data, std::size_t size) {
  static_cast<std::string*>(user)->assign(data, size);
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

// Who may call a route (Host::route): checked by the server before the handler runs.
enum class Access : int32_t {
  open = QUANQU_ROUTE_OPEN,          // anyone; the handler checks what it needs
  merchant = QUANQU_ROUTE_MERCHANT,  // the admin key, or a key the merchant issued for this plugin
  admin = QUANQU_ROUTE_ADMIN,        // the admin key only
};

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
    quanqu_status s = host_->kv_get(host_->ctx, detail::view(key), &detail::assign_sink, &value, err, sizeof err);
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

  // ---- ABI 1.1 key-value operations. Each checks QUANQU_HOST_HAS first: on a host table without
  // the function it throws Error with status QUANQU_ERR_INTERNAL ("... is not in this server's host
  // table") instead of calling a null pointer; kv_ops_available() asks beforehand. ttl_ms: 0 is
  // "never expires", otherwise 1..QUANQU_KV_MAX_TTL_MS (366 days) from now; an expired key is
  // absent for every read. ----

  // True when the server offers kv_put with a TTL, kv_incr, kv_cas and kv_list (ABI >= 1.1).
  bool kv_ops_available() const noexcept {
    return QUANQU_HOST_HAS(host_, kv_put_ttl) && QUANQU_HOST_HAS(host_, kv_incr) && QUANQU_HOST_HAS(host_, kv_cas) &&
           QUANQU_HOST_HAS(host_, kv_list);
  }

  // Inserts or replaces `key`, expiring ttl_ms from now (0: never).
  void kv_put(std::string_view key, std::string_view value, std::int64_t ttl_ms) const {
    require(QUANQU_HOST_HAS(host_, kv_put_ttl), "kv_put with a TTL");
    char err[512] = {0};
    quanqu_status s = host_->kv_put_ttl(host_->ctx, detail::view(key), detail::view(value), ttl_ms, err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, "kv_put failed", err);
  }

  // Atomically adds `delta` to the decimal integer at `key` and returns the new value. An absent
  // or expired key counts from 0 and is created expiring ttl_ms from now; an existing key keeps
  // its expiry (a fixed window). Throws Error (QUANQU_ERR_INVALID) when the stored value is not an
  // integer or the sum overflows.
  std::int64_t kv_incr(std::string_view key, std::int64_t delta = 1, std::int64_t ttl_ms = 0) const {
    require(QUANQU_HOST_HAS(host_, kv_incr), "kv_incr");
    std::int64_t value = 0;
    char err[512] = {0};
    quanqu_status s = host_->kv_incr(host_->ctx, detail::view(key), delta, ttl_ms, &value, err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, "kv_incr failed", err);
    return value;
  }

  // Atomically sets `key` to `value` (expiring ttl_ms from now) when its current value is
  // *expected, or, with expected = std::nullopt, when it is absent or expired. Returns true when
  // it swapped, false when the current value differs (nothing changed).
  bool kv_cas(std::string_view key, std::optional<std::string_view> expected, std::string_view value,
              std::int64_t ttl_ms = 0) const {
    require(QUANQU_HOST_HAS(host_, kv_cas), "kv_cas");
    quanqu_str want = expected ? detail::view(*expected) : quanqu_str{nullptr, 0};
    char err[512] = {0};
    quanqu_status s = host_->kv_cas(host_->ctx, detail::view(key), expected ? &want : nullptr, detail::view(value),
                                    ttl_ms, err, sizeof err);
    if (s == QUANQU_ERR_STATE) return false;
    if (s != QUANQU_OK) detail::throw_error(s, "kv_cas failed", err);
    return true;
  }

  // One page of the keys starting with `prefix`, in ascending byte order, after `cursor`
  // (exclusive; empty: from the start); `limit` 1..1000. See quanqu_host.kv_list.
  KvPage kv_list(std::string_view prefix, std::string_view cursor = {}, int limit = 100) const {
    require(QUANQU_HOST_HAS(host_, kv_list), "kv_list");
    std::string out;
    char err[512] = {0};
    quanqu_status s = host_->kv_list(host_->ctx, detail::view(prefix), detail::view(cursor), limit,
                                     &detail::assign_sink, &out, err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, "kv_list failed", err);
    Json page = Json::parse(out);
    KvPage result;
    for (const auto& item : page.at("items")) {
      KvEntry e{item.at("key").get<std::string>(), item.at("value").get<std::string>(), std::nullopt};
      if (item.contains("expires_at_ms") && item["expires_at_ms"].is_number_integer())
        e.expires_at_ms = item["expires_at_ms"].get<std::int64_t>();
      result.items.push_back(std::move(e));
    }
    if (page.contains("next_cursor") && page["next_cursor"].is_string())
      result.next_cursor = page["next_cursor"].get<std::string>();
    return result;
  }

  // Registers a route under /v1/plugins/<plugin name><pattern> (call it from start() only).
  // `pattern` starts with "/"; "{id}" segments arrive in Request::params. With Access::merchant
  // or Access::admin the server checks the caller's key before the handler runs (docs/sdk.md,
  // "Protected routes").
  void route(std::string method, std::string pattern, RouteHandler handler, Access access = Access::open) {
    routes_.push_back(Route{this, std::move(handler)});
    Route& r = routes_.back();
    char err[512] = {0};
    quanqu_status s = host_->register_route(host_->ctx, detail::view(method), detail::view(pattern), &Host::trampoline,
                                            &r, err, sizeof err);
    if (s != QUANQU_OK) {
      routes_.pop_back();
      detail::throw_error(s, ("cannot register " + method + " " + pattern).c_str(), err);
    }
    if (access == Access::open) return;
    // A route that cannot be protected must not be served open: fail the start instead.
    if (!QUANQU_HOST_HAS(host_, set_route_access))
      throw Error(QUANQU_ERR_STATE, "cannot protect " + method + " " + pattern + ": the server's SDK ABI is older than 1.1");
    s = host_->set_route_access(host_->ctx, detail::view(method), detail::view(pattern), static_cast<int32_t>(access),
                                err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, ("cannot protect " + method + " " + pattern).c_str(), err);
  }

  // Calls a core service (docs/sdk.md, "Core services"): `operation` such as "carts.create",
  // `args` a JSON object. Returns the result; throws ServiceError when the service refuses.
  Json call(std::string_view operation, const Json& args = Json::object()) const {
    std::string out, text = args.dump();
    char err[512] = {0};
    quanqu_status s = host_->call(host_->ctx, detail::view(operation), detail::view(text), &detail::assign_sink, &out,
                                  err, sizeof err);
    Json reply = out.empty() ? Json::object() : Json::parse(out, nullptr, false);
    if (s == QUANQU_OK) return reply;
    if (!reply.is_object() || !reply.contains("code"))
      reply = Json{{"status", 500}, {"code", "internal"}, {"detail", std::string(err)}};
    throw ServiceError(s, std::move(reply));
  }

  // Subscribes to events (call it from start() only): an exact type ("order.placed"), a prefix
  // ("order.*") or "*". The handler runs on the host's event thread, one event at a time.
  void on(std::string event_type, EventHandler handler) {
    subscriptions_.push_back(std::move(handler));
    char err[512] = {0};
    quanqu_status s = host_->subscribe(host_->ctx, detail::view(event_type), &Host::event_trampoline,
                                       &subscriptions_.back(), err, sizeof err);
    if (s != QUANQU_OK) {
      subscriptions_.pop_back();
      detail::throw_error(s, ("cannot subscribe to " + event_type).c_str(), err);
    }
  }

  // Publishes an event of this plugin; `type` starts with "<plugin name>.".
  void publish(std::string_view type, const Json& data) const {
    std::string text = data.dump();
    char err[512] = {0};
    quanqu_status s = host_->publish(host_->ctx, detail::view(type), detail::view(text), err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, "publish failed", err);
  }

  // This plugin's config for a channel that uses it (defaults filled in), or nothing when the
  // channel is unknown or uses another plugin.
  std::optional<Json> channel_config(std::string_view channel_id) const {
    std::string out;
    char err[512] = {0};
    quanqu_status s =
        host_->channel_config(host_->ctx, detail::view(channel_id), &detail::assign_sink, &out, err, sizeof err);
    if (s == QUANQU_ERR_NOT_FOUND) return std::nullopt;
    if (s != QUANQU_OK) detail::throw_error(s, "channel_config failed", err);
    return Json::parse(out);
  }

  // Makes an HTTP request through the server (http or https; see quanqu_host.http_fetch). Throws
  // quanqu::sdk::Error (status QUANQU_ERR_UNAVAILABLE) when no reply arrived; any HTTP status is a reply.
  HttpReply fetch(const HttpRequest& request) const {
    std::vector<quanqu_pair> headers;
    for (const auto& [name, value] : request.headers) headers.push_back({detail::view(name), detail::view(value)});
    quanqu_http_request in{sizeof(quanqu_http_request), detail::view(request.method), detail::view(request.url),
                           headers.data(), headers.size(), detail::view(request.body), request.timeout_ms};
    HttpReply reply;
    auto on_reply = [](void* user, int32_t status, const quanqu_pair* hs, std::size_t count, quanqu_str body) {
      auto* r = static_cast<HttpReply*>(user);
      r->status = status;
      for (std::size_t i = 0; i < count; ++i) r->headers.emplace_back(detail::copy(hs[i].name), detail::copy(hs[i].value));
      r->body = detail::copy(body);
    };
    char err[512] = {0};
    quanqu_status s = host_->http_fetch(host_->ctx, &in, on_reply, &reply, err, sizeof err);
    if (s != QUANQU_OK) detail::throw_error(s, ("request to " + request.url + " failed").c_str(), err);
    return reply;
  }

  // HMAC-SHA256 of `message` under `key`, as 64 lower-case hex digits.
  std::string hmac_sha256_hex(std::string_view key, std::string_view message) const {
    std::uint8_t mac[32];
    host_->hmac_sha256(host_->ctx, detail::view(key), detail::view(message), mac);
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (std::uint8_t b : mac) {
      hex += digits[b >> 4];
      hex += digits[b & 15];
    }
    return hex;
  }

  // Registers a provider (call it from start() only). The object must outlive the plugin's
  // stop(): keep it as a member of the plugin.
  void provide(PaymentProvider& p, std::string name) { add_provider("payment", std::move(name), &p); }
  void provide(FulfilmentProvider& p, std::string name) { add_provider("fulfilment", std::move(name), &p); }
  void provide(ChannelAdapter& p, std::string name) { add_provider("channel_adapter", std::move(name), &p); }
  void provide(SizeAdvisor& p, std::string name) { add_provider("size_advisor", std::move(name), &p); }

  // The raw C host table, for functions this layer does not wrap yet.
  const quanqu_host* raw() const noexcept { return host_; }

 private:
  struct Route {
    Host* host;
    RouteHandler handler;
  };

  // A function this server's host table lacks: the plugin needs a newer server. INTERNAL, not a
  // refusal: the client gets a 502, the plugin's error count grows.
  void require(bool present, const char* what) const {
    if (present) return;
    throw Error(QUANQU_ERR_INTERNAL, std::string(what) + " is not in this server's host table (it provides SDK ABI " +
                                         std::to_string(host_->abi_major) + "." + std::to_string(host_->abi_minor) +
                                         "; " + what + " needs 1.1 or later)");
  }

  void add_provider(const char* kind, std::string name, ProviderBase* provider) {
    quanqu_provider p{sizeof(quanqu_provider), detail::view(kind), detail::view(name), &Host::provider_trampoline,
                      provider};
    char err[512] = {0};
    quanqu_status s = host_->register_provider(host_->ctx, &p, err, sizeof err);
    if (s != QUANQU_OK)
      detail::throw_error(s, ("cannot register " + std::string(kind) + " provider " + name).c_str(), err);
  }

  static quanqu_status event_trampoline(void* user, const quanqu_event* in, char* err, std::size_t err_cap) noexcept {
    return detail::guarded(err, err_cap, [&]() -> quanqu_status {
      Event event;
      event.id = detail::copy(in->id);
      event.type = detail::copy(in->type);
      event.occurred_at_ms = in->occurred_at_ms;
      event.data = Json::parse(detail::copy(in->data));
      (*static_cast<EventHandler*>(user))(event);
      return QUANQU_OK;
    });
  }

  static quanqu_status provider_trampoline(void* user, quanqu_str operation, quanqu_str input, quanqu_string_sink sink,
                                           void* sink_user, char* err, std::size_t err_cap) noexcept {
    return detail::guarded(err, err_cap, [&]() -> quanqu_status {
      Json reply;
      try {
        auto answer = static_cast<ProviderBase*>(user)->invoke(detail::copy(operation), Json::parse(detail::copy(input)));
        if (!answer) {
          detail::write_error(err, err_cap, "unknown operation " + detail::copy(operation));
          return QUANQU_ERR_NOT_FOUND;
        }
        reply = std::move(*answer);
      } catch (const Refusal& r) {
        reply = Json{{"refusal", {{"code", r.code()}, {"message", r.what()}}}};
      }
      std::string text = reply.dump();
      sink(sink_user, text.data(), text.size());
      return QUANQU_OK;
    });
  }

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
      if (in->size >= offsetof(quanqu_request, customer_id) + sizeof(in->customer_id))
        request.customer_id = detail::copy(in->customer_id);
      for (std::size_t i = 0; i < in->param_count; ++i)
        request.params[detail::copy(in->params[i].name)] = detail::copy(in->params[i].value);
      for (std::size_t i = 0; i < in->query_count; ++i)
        request.query[detail::copy(in->query[i].name)] = detail::copy(in->query[i].value);
      for (std::size_t i = 0; i < in->header_count; ++i)
        request.headers.emplace_back(detail::copy(in->headers[i].name), detail::copy(in->headers[i].value));
      Response response;
      try {
        response = route->handler(request);
      } catch (const Error& e) {
        // A refusal is the client's answer; a failure goes on to become the server's 502.
        std::optional<Response> refused = refusal_reply(e);
        if (!refused) throw;
        response = std::move(*refused);
      }
      const quanqu_host* h = route->host->host_;
      h->response_set(out, response.status, detail::view(response.content_type), detail::view(response.body));
      for (const auto& [name, value] : response.headers)
        h->response_add_header(out, detail::view(name), detail::view(value));
      return QUANQU_OK;
    });
  }

  const quanqu_host* host_;
  std::list<Route> routes_;                // stable addresses: the host holds pointers to them
  std::list<EventHandler> subscriptions_;  // likewise
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
    if (!host || host->size < offsetof(quanqu_host, hmac_sha256) + sizeof(host->hmac_sha256)) {
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

// Exports `ClassName` (default-constructible, derived from quanqu::sdk::Plugin) as the plugin.
// Use once per library, at namespace scope in one .cpp file. The SDK ABI version compiled in is
// this header's. Two forms:
//   QUANQU_PLUGIN(ClassName)                    the name and version from plugin.json:
//                                               quanqu_add_plugin and quanqu_add_plugin_test define
//                                               QUANQU_PLUGIN_NAME and QUANQU_PLUGIN_VERSION from it
//   QUANQU_PLUGIN(ClassName, "name", "1.2.0")   both written here, for a build without those CMake
//                                               functions; they must equal the manifest's, or the
//                                               server refuses the plugin
#define QUANQU_PLUGIN(...)                                                                                          \
  QUANQU_DETAIL_PLUGIN_PICK(__VA_ARGS__, QUANQU_DETAIL_PLUGIN_3, QUANQU_DETAIL_PLUGIN_2, QUANQU_DETAIL_PLUGIN_1, _) \
  (__VA_ARGS__)
#define QUANQU_DETAIL_PLUGIN_PICK(_1, _2, _3, chosen, ...) chosen
#if defined(QUANQU_PLUGIN_NAME) && defined(QUANQU_PLUGIN_VERSION)
#define QUANQU_DETAIL_PLUGIN_1(ClassName) QUANQU_DETAIL_PLUGIN_3(ClassName, QUANQU_PLUGIN_NAME, QUANQU_PLUGIN_VERSION)
#else
#define QUANQU_DETAIL_PLUGIN_1(ClassName)                                                           \
  static_assert(false,                                                                              \
                "QUANQU_PLUGIN(ClassName) takes the name and version from plugin.json, which "      \
                "quanqu_add_plugin (CMake) compiles in; without it write QUANQU_PLUGIN(ClassName, " \
                "\"name\", \"version\")");
#endif
#define QUANQU_DETAIL_PLUGIN_2(ClassName, name)                                            \
  static_assert(false,                                                                     \
                "QUANQU_PLUGIN takes the class alone (name and version from plugin.json) " \
                "or the class, the name and the version");
#define QUANQU_DETAIL_PLUGIN_3(ClassName, name, version)                                         \
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
