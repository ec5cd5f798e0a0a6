// An in-memory host for unit-testing a plugin without a server: kv in a map, a settable clock, routes called directly.
#pragma once

/*
 * Header-only, for tests only. Link the plugin's sources into a test executable and give
 * FakeHost the plugin's entry function:
 *
 *   quanqu::sdk::testing::FakeHost host(&quanqu_plugin_entry_v1);   // checks the ABI, init, start
 *   auto reply = host.call("GET", "/hello");                          // path relative to /v1/plugins/<name>
 *   assert(reply.status == 200);
 *
 * It follows the server's contract (ABI check first, routes only during start, 502 for a failing
 * handler) but none of its storage: kv lives in `kv`, time is `now_ms`, log lines go to `logs`.
 * Not thread-safe.
 */

#include "quanqu/sdk/abi.h"
#include "quanqu/sdk/http.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::sdk::testing {

class FakeHost {
 public:
  struct Reply {
    int status = 0;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  std::map<std::string, std::string> kv;    // the plugin's key-value store
  std::int64_t now_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  std::vector<std::string> logs;            // "info: message", ...

  // Answers Host::call: return the result, or throw FakeHost::Refused to answer a problem.
  std::function<nlohmann::json(const std::string& operation, const nlohmann::json& args)> services;
  struct Refused : std::runtime_error {
    Refused(int s, std::string c, std::string d)
        : std::runtime_error(c + ": " + d), status(s), code(std::move(c)), detail(std::move(d)) {}
    int status;
    std::string code;
    std::string detail;
  };
  std::vector<std::pair<std::string, nlohmann::json>> calls;      // every Host::call, in order
  std::map<std::string, nlohmann::json> channel_configs;         // channel id -> the plugin's config
  std::vector<std::pair<std::string, nlohmann::json>> published;  // events the plugin published
  // Answers Host::fetch (a test points it at a fake service); unset, every fetch is unavailable.
  std::function<HttpReply(const HttpRequest&)> fetch;
  // Computes Host::hmac_sha256_hex's MAC (32 bytes) for plugins that sign; a test supplies one
  // (e.g. OpenSSL's HMAC) so that this header needs no crypto library.
  std::function<std::string(const std::string& key, const std::string& message)> hmac_sha256;

  // Loads the plugin: refuses another ABI major or a newer minor, then init and start. Throws
  // std::runtime_error with the plugin's message when any step fails.
  explicit FakeHost(quanqu_plugin_entry_fn entry) {
    descriptor_ = entry ? entry() : nullptr;
    if (!descriptor_) throw std::runtime_error("the entry function returned no descriptor");
    if (descriptor_->abi_major != QUANQU_SDK_ABI_MAJOR || descriptor_->abi_minor > QUANQU_SDK_ABI_MINOR)
      throw std::runtime_error("plugin built for SDK ABI " + std::to_string(descriptor_->abi_major) + "." +
                               std::to_string(descriptor_->abi_minor) + ", this host provides " +
                               std::to_string(QUANQU_SDK_ABI_MAJOR) + "." + std::to_string(QUANQU_SDK_ABI_MINOR));
    table_.size = sizeof(quanqu_host);
    table_.abi_major = QUANQU_SDK_ABI_MAJOR;
    table_.abi_minor = QUANQU_SDK_ABI_MINOR;
    table_.ctx = this;
    table_.log = &FakeHost::log_fn;
    table_.now_ms = &FakeHost::now_fn;
    table_.kv_get = &FakeHost::kv_get_fn;
    table_.kv_put = &FakeHost::kv_put_fn;
    table_.kv_delete = &FakeHost::kv_delete_fn;
    table_.register_route = &FakeHost::register_route_fn;
    table_.response_set = &FakeHost::response_set_fn;
    table_.response_add_header = &FakeHost::response_add_header_fn;
    table_.call = &FakeHost::call_fn;
    table_.subscribe = &FakeHost::subscribe_fn;
    table_.publish = &FakeHost::publish_fn;
    table_.register_provider = &FakeHost::register_provider_fn;
    table_.channel_config = &FakeHost::channel_config_fn;
    table_.http_fetch = &FakeHost::http_fetch_fn;
    table_.hmac_sha256 = &FakeHost::hmac_fn;
    char err[1024] = {0};
    if (descriptor_->init(&table_, &instance_, err, sizeof err) != QUANQU_OK)
      throw std::runtime_error(std::string("init failed: ") + err);
    starting_ = true;
    quanqu_status s = descriptor_->start(instance_, err, sizeof err);
    starting_ = false;
    if (s != QUANQU_OK) {
      descriptor_->stop(instance_);
      throw std::runtime_error(std::string("start failed: ") + err);
    }
  }
  ~FakeHost() { descriptor_->stop(instance_); }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  // Delivers an event to the plugin's matching subscribers. Throws std::runtime_error with the
  // handler's message when one fails.
  void emit(const std::string& type, const nlohmann::json& data, const std::string& id = "evt_test") {
    std::string text = data.dump();
    for (const auto& sub : subscriptions_) {
      bool match = sub.pattern == "*" || sub.pattern == type ||
                   (sub.pattern.size() > 2 && sub.pattern.compare(sub.pattern.size() - 2, 2, ".*") == 0 &&
                    type.compare(0, sub.pattern.size() - 1, sub.pattern, 0, sub.pattern.size() - 1) == 0);
      if (!match) continue;
      quanqu_event e{sizeof(quanqu_event), str(id), str(type), now_ms, str(text)};
      char err[1024] = {0};
      if (sub.fn(sub.user, &e, err, sizeof err) != QUANQU_OK)
        throw std::runtime_error(std::string("event handler failed: ") + err);
    }
  }

  // Invokes a registered provider's operation, as the server would. Returns its JSON reply
  // (a refusal is {"refusal": {...}}); throws std::runtime_error when the provider fails.
  nlohmann::json invoke(const std::string& kind, const std::string& name, const std::string& operation,
                        const nlohmann::json& input) {
    for (const auto& p : providers_) {
      if (p.kind != kind || p.name != name) continue;
      std::string in = input.dump(), out;
      char err[1024] = {0};
      auto sink = [](void* user, const char* data, size_t size) { static_cast<std::string*>(user)->assign(data, size); };
      quanqu_status s = p.fn(p.user, str(operation), str(in), sink, &out, err, sizeof err);
      if (s != QUANQU_OK) throw std::runtime_error(std::string("provider failed: ") + err);
      return nlohmann::json::parse(out);
    }
    throw std::runtime_error("no " + kind + " provider named " + name);
  }

  // Calls the route matching `method` and `path` (relative to /v1/plugins/<name>, e.g. "/hello").
  // No match is 404; a handler that fails is 502 with its message as body.
  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::map<std::string, std::string>& query = {}, const std::string& channel_id = "",
             const std::vector<std::pair<std::string, std::string>>& headers = {},
             const std::string& customer_id = "") {
    for (const auto& r : routes_) {
      std::vector<std::pair<std::string, std::string>> params;
      if (r.method != method || !match(r.pattern, path, params)) continue;
      std::vector<quanqu_pair> p, q, h;
      for (const auto& [n, v] : params) p.push_back({str(n), str(v)});
      for (const auto& [n, v] : query) q.push_back({str(n), str(v)});
      for (const auto& [n, v] : headers) h.push_back({str(n), str(v)});
      std::string full_path = "/v1/plugins/" + std::string(descriptor_->name) + path;
      quanqu_request in{sizeof(quanqu_request),
                        str(method),
                        str(full_path),
                        str(body),
                        str(channel_id),
                        str("test"),
                        p.data(),
                        p.size(),
                        q.data(),
                        q.size(),
                        h.data(),
                        h.size(),
                        str(customer_id)};
      Reply reply{204, "", "", {}};
      Response out{&reply};
      char err[1024] = {0};
      if (r.fn(r.user, &in, reinterpret_cast<quanqu_response*>(&out), err, sizeof err) != QUANQU_OK)
        return Reply{502, "text/plain", err, {}};
      return reply;
    }
    return Reply{404, "text/plain", "no route " + method + " " + path, {}};
  }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    quanqu_route_fn fn;
    void* user;
  };
  struct Response {
    Reply* reply;
  };

  static quanqu_str str(const std::string& s) { return quanqu_str{s.data(), s.size()}; }
  static std::string copy(quanqu_str s) { return s.size ? std::string(s.data, s.size) : std::string(); }
  static void fill(char* err, std::size_t cap, const std::string& m) {
    if (!err || !cap) return;
    std::size_t n = m.size() < cap - 1 ? m.size() : cap - 1;
    std::memcpy(err, m.data(), n);
    err[n] = '\0';
  }
  static std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
      std::size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      out.push_back(path.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  static bool match(const std::string& pattern, const std::string& path,
                    std::vector<std::pair<std::string, std::string>>& params) {
    if (pattern == "/" || path == "/") return pattern == path;
    auto ps = split(pattern), xs = split(path);
    if (ps.size() != xs.size()) return false;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      if (ps[i].size() > 2 && ps[i].front() == '{' && ps[i].back() == '}') {
        if (xs[i].empty()) return false;
        params.emplace_back(ps[i].substr(1, ps[i].size() - 2), xs[i]);
      } else if (ps[i] != xs[i]) {
        return false;
      }
    }
    return true;
  }

  static FakeHost& self(void* ctx) { return *static_cast<FakeHost*>(ctx); }
  static void log_fn(void* ctx, quanqu_log_level level, quanqu_str message) {
    static const char* names[] = {"debug", "info", "warn", "error"};
    self(ctx).logs.push_back(std::string(names[level >= 0 && level <= 3 ? level : 3]) + ": " + copy(message));
  }
  static int64_t now_fn(void* ctx) { return self(ctx).now_ms; }
  static quanqu_status kv_get_fn(void* ctx, quanqu_str key, quanqu_string_sink sink, void* user, char*, size_t) {
    auto it = self(ctx).kv.find(copy(key));
    if (it == self(ctx).kv.end()) return QUANQU_ERR_NOT_FOUND;
    sink(user, it->second.data(), it->second.size());
    return QUANQU_OK;
  }
  static quanqu_status kv_put_fn(void* ctx, quanqu_str key, quanqu_str value, char* err, size_t cap) {
    if (key.size == 0 || key.size > 256 || value.size > 65536) {
      fill(err, cap, "bad key or value size");
      return QUANQU_ERR_INVALID;
    }
    self(ctx).kv[copy(key)] = copy(value);
    return QUANQU_OK;
  }
  static quanqu_status kv_delete_fn(void* ctx, quanqu_str key, char*, size_t) {
    self(ctx).kv.erase(copy(key));
    return QUANQU_OK;
  }
  static quanqu_status register_route_fn(void* ctx, quanqu_str method, quanqu_str pattern, quanqu_route_fn fn,
                                         void* user, char* err, size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "routes can only be registered during start");
      return QUANQU_ERR_STATE;
    }
    std::string p = copy(pattern);
    if (p.empty() || p[0] != '/') {
      fill(err, cap, "pattern must start with '/'");
      return QUANQU_ERR_INVALID;
    }
    self(ctx).routes_.push_back({copy(method), p, fn, user});
    return QUANQU_OK;
  }
  static void response_set_fn(quanqu_response* r, int32_t status, quanqu_str content_type, quanqu_str body) {
    Reply* reply = reinterpret_cast<Response*>(r)->reply;
    reply->status = status;
    reply->content_type = copy(content_type);
    reply->body = copy(body);
  }
  static void response_add_header_fn(quanqu_response* r, quanqu_str name, quanqu_str value) {
    reinterpret_cast<Response*>(r)->reply->headers.emplace_back(copy(name), copy(value));
  }

  static quanqu_status call_fn(void* ctx, quanqu_str operation, quanqu_str args, quanqu_string_sink sink, void* user,
                               char* err, size_t cap) {
    FakeHost& h = self(ctx);
    std::string op = copy(operation);
    nlohmann::json in = nlohmann::json::parse(copy(args), nullptr, false);
    h.calls.emplace_back(op, in);
    std::string out;
    quanqu_status status = QUANQU_OK;
    try {
      if (!h.services) throw Refused{404, "operation.unknown", "no fake answer for " + op};
      out = h.services(op, in).dump();
    } catch (const Refused& r) {
      out = nlohmann::json{{"status", r.status}, {"code", r.code}, {"detail", r.detail}}.dump();
      fill(err, cap, r.code + ": " + r.detail);
      status = r.status == 404 ? QUANQU_ERR_NOT_FOUND : r.status >= 500 ? QUANQU_ERR_UNAVAILABLE : QUANQU_ERR_INVALID;
    } catch (const std::exception& e) {  // a broken fake: reported like the real host's internal error
      out = nlohmann::json{{"status", 500}, {"code", "internal"}, {"detail", e.what()}}.dump();
      fill(err, cap, e.what());
      status = QUANQU_ERR_INTERNAL;
    }
    if (sink) sink(user, out.data(), out.size());
    return status;
  }
  static quanqu_status subscribe_fn(void* ctx, quanqu_str type, quanqu_event_fn fn, void* user, char* err, size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "subscriptions can only be made during start");
      return QUANQU_ERR_STATE;
    }
    self(ctx).subscriptions_.push_back({copy(type), fn, user});
    return QUANQU_OK;
  }
  static quanqu_status publish_fn(void* ctx, quanqu_str type, quanqu_str data, char* err, size_t cap) {
    std::string t = copy(type);
    std::string prefix = std::string(self(ctx).descriptor_->name) + ".";
    if (t.compare(0, prefix.size(), prefix) != 0) {
      fill(err, cap, "event types of a plugin start with '" + prefix + "'");
      return QUANQU_ERR_INVALID;
    }
    self(ctx).published.emplace_back(t, nlohmann::json::parse(copy(data)));
    return QUANQU_OK;
  }
  static quanqu_status register_provider_fn(void* ctx, const quanqu_provider* p, char* err, size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "providers can only be registered during start");
      return QUANQU_ERR_STATE;
    }
    self(ctx).providers_.push_back({copy(p->kind), copy(p->name), p->invoke, p->user});
    return QUANQU_OK;
  }
  static quanqu_status channel_config_fn(void* ctx, quanqu_str channel, quanqu_string_sink sink, void* user, char*,
                                         size_t) {
    auto it = self(ctx).channel_configs.find(copy(channel));
    if (it == self(ctx).channel_configs.end()) return QUANQU_ERR_NOT_FOUND;
    std::string text = it->second.dump();
    sink(user, text.data(), text.size());
    return QUANQU_OK;
  }

  static quanqu_status http_fetch_fn(void* ctx, const quanqu_http_request* in, quanqu_http_reply_fn reply, void* user,
                                     char* err, size_t cap) {
    FakeHost& h = self(ctx);
    if (!h.fetch) {
      fill(err, cap, "FakeHost.fetch is not set");
      return QUANQU_ERR_UNAVAILABLE;
    }
    HttpRequest request;
    request.method = copy(in->method);
    request.url = copy(in->url);
    for (size_t i = 0; i < in->header_count; ++i)
      request.headers.emplace_back(copy(in->headers[i].name), copy(in->headers[i].value));
    request.body = copy(in->body);
    request.timeout_ms = in->timeout_ms;
    HttpReply r;
    try {
      r = h.fetch(request);
    } catch (const std::exception& e) {
      fill(err, cap, e.what());
      return QUANQU_ERR_UNAVAILABLE;
    }
    std::vector<quanqu_pair> hs;
    for (const auto& [n, v] : r.headers) hs.push_back({str(n), str(v)});
    reply(user, r.status, hs.data(), hs.size(), str(r.body));
    return QUANQU_OK;
  }
  static void hmac_fn(void* ctx, quanqu_str key, quanqu_str message, uint8_t out[32]) {
    FakeHost& h = self(ctx);
    std::memset(out, 0, 32);
    // Loud on purpose: a silent all-zero MAC would let a signature test pass by accident. (A
    // test double only: the real host never throws into a plugin.)
    if (!h.hmac_sha256) throw std::logic_error("FakeHost.hmac_sha256 is not set, but the plugin signs or verifies");
    std::string mac = h.hmac_sha256(copy(key), copy(message));
    std::memcpy(out, mac.data(), mac.size() < 32 ? mac.size() : 32);
  }

  struct Subscription {
    std::string pattern;
    quanqu_event_fn fn;
    void* user;
  };
  struct Provider {
    std::string kind;
    std::string name;
    quanqu_provider_fn fn;
    void* user;
  };
  std::vector<Subscription> subscriptions_;
  std::vector<Provider> providers_;
  const quanqu_plugin_descriptor* descriptor_ = nullptr;
  quanqu_host table_{};
  void* instance_ = nullptr;
  bool starting_ = false;
  std::vector<Route> routes_;
};

// Where the manifest at `path` disagrees with the library's own descriptor (name, version,
// sdk_abi, and a "library" other than "<name>.so"); empty when they agree. The server refuses a
// plugin whose manifest and library disagree, so a plugin's tests should assert this is empty.
inline std::vector<std::string> manifest_mismatches(const std::string& path, quanqu_plugin_entry_fn entry) {
  std::vector<std::string> out;
  std::ifstream in(path);
  nlohmann::json m = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
  if (!m.is_object()) return {"cannot read " + path + " as a JSON object"};
  const quanqu_plugin_descriptor* d = entry ? entry() : nullptr;
  if (!d) return {"the entry function returned no descriptor"};
  auto text = [&](const char* key) { return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : ""; };
  std::string abi = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  if (text("name") != d->name) out.push_back("name: manifest '" + text("name") + "', library '" + d->name + "'");
  if (text("version") != d->version)
    out.push_back("version: manifest '" + text("version") + "', library '" + d->version + "'");
  if (text("sdk_abi") != abi) out.push_back("sdk_abi: manifest '" + text("sdk_abi") + "', library '" + abi + "'");
  std::string library = m.contains("library") ? text("library") : std::string(d->name) + ".so";
  if (library != std::string(d->name) + ".so")
    out.push_back("library: manifest '" + library + "', built as '" + d->name + ".so'");
  return out;
}

}  // namespace quanqu::sdk::testing
